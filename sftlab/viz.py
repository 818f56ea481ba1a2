"""The plots the notebooks show. Each function draws one idea and returns its matplotlib Figure."""


def sft_pipeline_diagram():
    """Boxes and arrows: pre-training → supervised fine-tuning → evaluation, with what each stage uses."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    stages = [
        ("Pre-training", "#dbe9f6", "self-supervised, raw text\nmasked LM (BERT) or\nnext token (GPT)\n"
         "billions of tokens\nweeks on many GPUs"),
        ("Supervised\nfine-tuning", "#fde7c8", "labelled examples\n(text → label, tags,\nprompt → answer)\n"
         "thousands of examples\nsmall LR, few epochs"),
        ("Evaluation", "#d9f0d3", "held-out test split\nnever seen in training\naccuracy / F1 /\n"
         "perplexity / humans\nin and out of domain"),
    ]
    fig, ax = plt.subplots(figsize=(10, 3.4), dpi=100)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 3.4)
    ax.axis("off")
    for i, (title, colour, body) in enumerate(stages):
        x = 0.2 + i * 3.4
        ax.add_patch(FancyBboxPatch((x, 0.4), 2.6, 2.8, boxstyle="round,pad=0.05", fc=colour, ec="#555"))
        ax.text(x + 1.3, 2.75, title, ha="center", va="center", fontsize=12, weight="bold")
        ax.text(x + 1.3, 1.4, body, ha="center", va="center", fontsize=9.5, linespacing=1.4)
        if i < len(stages) - 1:
            ax.add_patch(FancyArrowPatch((x + 2.7, 1.7), (x + 3.3, 1.7), arrowstyle="-|>",
                                         mutation_scale=20, color="#333"))
    ax.text(5.0, 0.0, "this course: chapters 03–05 fine-tune real pre-trained models and evaluate them "
            "on data they never trained on", ha="center", fontsize=9, style="italic")
    ax.set_title("Where supervised fine-tuning sits", fontsize=13)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- chapter 02: attention

def plot_lines(x, series: dict, title: str, xlabel: str, ylabel: str, logx=False, logy=False, ax=None):
    """One line per entry of `series` ({label: y values}) against x."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    for label, y in series.items():
        ax.plot(x, y, marker="o", markersize=3, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.figure.tight_layout()
    return ax.figure


def plot_masks(masks: dict, labels=None):
    """Boolean attention masks side by side ({title: (T, S) bool}); white = may attend, dark = masked."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(masks), figsize=(3.2 * len(masks), 3.4), dpi=100, squeeze=False)
    for ax, (title, mask) in zip(axes[0], masks.items(), strict=True):
        ax.imshow(mask.float().numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set(title=title, xlabel="key position (attended to)", ylabel="query position")
        if labels is not None:
            ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
            ax.set_yticks(range(len(labels)), labels, fontsize=8)
    fig.tight_layout()
    return fig


def plot_attention(weights, tokens, title: str, ax=None):
    """One head's (T, T) attention weights as a heatmap with the tokens on both axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5), dpi=100)
    image = ax.imshow(weights.numpy(), cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=8)
    ax.set_yticks(range(len(tokens)), tokens, fontsize=8)
    ax.set(title=title, xlabel="attends to (key)", ylabel="token (query)")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    ax.figure.tight_layout()
    return ax.figure


def plot_attention_heads(weights, tokens, title: str, columns: int = 4):
    """Every head of one layer, (H, T, T) weights, as a grid of small heatmaps (token labels on the edges)."""
    import matplotlib.pyplot as plt

    heads = weights.shape[0]
    rows = -(-heads // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3 * rows), dpi=100, squeeze=False)
    for h, ax in enumerate(axes.flat):
        if h >= heads:
            ax.axis("off")
            continue
        ax.imshow(weights[h].numpy(), cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"head {h}", fontsize=9)
        ax.set_xticks(range(len(tokens)), tokens if h // columns == rows - 1 else [], rotation=90, fontsize=6)
        ax.set_yticks(range(len(tokens)), tokens if h % columns == 0 else [], fontsize=6)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_matrix(matrix, title: str, xlabel: str, ylabel: str, cmap: str = "RdBu"):
    """A 2-D tensor as a heatmap with a colour bar (e.g. the sinusoidal position table)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.4), dpi=100)
    image = ax.imshow(matrix.numpy(), cmap=cmap, aspect="auto")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig
