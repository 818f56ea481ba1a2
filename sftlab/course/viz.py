"""The plots the notebooks show. Each function draws one idea and returns its matplotlib Figure.

Tensors may come from any device, in any float type and with gradients: every plot reads them through
`as_numpy` (detached, float32, on the CPU).
"""


def as_numpy(values):
    """A tensor (any device, dtype or autograd state), array or list as a numpy array for matplotlib."""
    import numpy as np
    import torch

    if isinstance(values, torch.Tensor):
        values = values.detach()
        values = values.float() if values.is_floating_point() or values.dtype == torch.bool else values
        return values.cpu().numpy()
    return np.asarray(values)


def _check_dict(name: str, value, of: str) -> None:
    """The plots that draw one line, mask or bar group per entry take a dict {label: …}."""
    from collections.abc import Mapping

    if not isinstance(value, Mapping) or not value:
        raise TypeError(f"{name} must be a non-empty dict {{label: {of}}}, got {type(value).__name__} "
                        f"{value!r:.60}; e.g. {{'train': values}}")


def _check_square(name: str, weights, tokens, dims: int) -> None:
    """Attention weights (…, T, T) whose T matches the tokens that label the axes."""
    shape = tuple(getattr(weights, "shape", ()))
    expected = "(T, T)" if dims == 2 else "(H, T, T)"
    if len(shape) != dims or shape[-1] != shape[-2]:
        hint = "; pick one head, e.g. weights[0], or use plot_attention_heads" if dims == 2 and len(shape) == 3 else ""
        raise ValueError(f"{name} expects {expected} weights, got shape {shape}{hint}")
    if len(tokens) != shape[-1]:
        raise ValueError(f"{len(tokens)} tokens label the axes but the weights cover {shape[-1]} positions")


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

    _check_dict("series", series, "y values")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    for label, y in series.items():
        ax.plot(as_numpy(x), as_numpy(y), marker="o", markersize=3, label=label)
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

    _check_dict("masks", masks, "(T, S) bool mask")
    fig, axes = plt.subplots(1, len(masks), figsize=(3.2 * len(masks), 3.4), dpi=100, squeeze=False)
    for ax, (title, mask) in zip(axes[0], masks.items(), strict=True):
        ax.imshow(as_numpy(mask), cmap="gray", vmin=0, vmax=1)
        ax.set(title=title, xlabel="key position (attended to)", ylabel="query position")
        if labels is not None:
            ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
            ax.set_yticks(range(len(labels)), labels, fontsize=8)
    fig.tight_layout()
    return fig


def plot_attention(weights, tokens, title: str, ax=None):
    """One head's (T, T) attention weights as a heatmap with the tokens on both axes."""
    import matplotlib.pyplot as plt

    _check_square("plot_attention", weights, tokens, dims=2)
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5), dpi=100)
    image = ax.imshow(as_numpy(weights), cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=8)
    ax.set_yticks(range(len(tokens)), tokens, fontsize=8)
    ax.set(title=title, xlabel="attends to (key)", ylabel="token (query)")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    ax.figure.tight_layout()
    return ax.figure


def plot_attention_heads(weights, tokens, title: str, columns: int = 4):
    """Every head of one layer, (H, T, T) weights, as a grid of small heatmaps (token labels on the edges)."""
    import matplotlib.pyplot as plt

    _check_square("plot_attention_heads", weights, tokens, dims=3)
    heads = weights.shape[0]
    rows = -(-heads // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3 * rows), dpi=100, squeeze=False)
    for h, ax in enumerate(axes.flat):
        if h >= heads:
            ax.axis("off")
            continue
        ax.imshow(as_numpy(weights[h]), cmap="viridis", vmin=0, vmax=1)
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
    image = ax.imshow(as_numpy(matrix), cmap=cmap, aspect="auto")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- chapter 01: word embeddings

def plot_projection(points, labels, groups=None, title: str = "", xlabel: str = "PC 1", ylabel: str = "PC 2",
                    arrows=()):
    """A 2-D scatter of (N, 2) points with a text label each; `groups` (N names) colours them, `arrows`
    are (from, to) index pairs drawn as arrows (e.g. country → capital)."""
    import matplotlib.pyplot as plt

    points = as_numpy(points)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(labels):
        raise ValueError(f"expected (N, 2) points and N labels, got points {points.shape} and {len(labels)} labels")
    groups = list(groups) if groups is not None else [""] * len(points)
    fig, ax = plt.subplots(figsize=(7, 5.5), dpi=100)
    for group in dict.fromkeys(groups):
        rows = [i for i, g in enumerate(groups) if g == group]
        ax.scatter(points[rows, 0], points[rows, 1], s=25, label=group or None)
    for (x, y), label in zip(points, labels, strict=True):
        ax.annotate(label, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=8)
    for start, end in arrows:
        ax.annotate("", xy=points[end], xytext=points[start],
                    arrowprops={"arrowstyle": "->", "color": "grey", "alpha": 0.6})
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if any(groups):
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_bars(categories, series: dict, title: str, xlabel: str, ylabel: str = ""):
    """Horizontal bars, one group per category and one bar per entry of `series` ({label: values})."""
    import matplotlib.pyplot as plt
    import numpy as np

    _check_dict("series", series, "one value per category")
    for label, values in series.items():
        if len(values) != len(categories):
            raise ValueError(f"series {label!r} has {len(values)} values for {len(categories)} categories")
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(categories) * max(1, len(series)) + 1.2), dpi=100)
    height = 0.8 / len(series)
    y = np.arange(len(categories))
    for i, (label, values) in enumerate(series.items()):
        bars = ax.barh(y + i * height, as_numpy(values), height=height, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    ax.set_yticks(y + height * (len(series) - 1) / 2, categories, fontsize=8)
    ax.invert_yaxis()   # first category on top, as in a table
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if len(series) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- chapter 03: fine-tuning a classifier

def plot_history(history, title: str = "Training history"):
    """sftlab.training.History in three panels: loss per optimizer step (with the per-epoch means), the
    learning-rate schedule, and every validation metric per epoch."""
    import matplotlib.pyplot as plt

    if not hasattr(history, "steps") or not hasattr(history, "epochs"):
        raise TypeError(f"plot_history takes the History that sftlab.training.train returns, got "
                        f"{type(history).__name__}")
    if not history.steps:
        raise ValueError("the history holds no optimizer steps: was the model trained?")
    steps = [s["step"] for s in history.steps]
    fig, (loss_ax, lr_ax, val_ax) = plt.subplots(1, 3, figsize=(13, 3.4), dpi=100)
    loss_ax.plot(steps, [s["loss"] for s in history.steps], lw=0.8, alpha=0.6, label="train loss (one batch)")
    ends = [max(s["step"] for s in history.steps if s["epoch"] == e["epoch"]) for e in history.epochs]
    loss_ax.plot(ends, [e["train_loss"] for e in history.epochs], "o-", label="train loss (epoch mean)")
    if all("val_loss" in e for e in history.epochs):
        loss_ax.plot(ends, [e["val_loss"] for e in history.epochs], "s-", label="validation loss")
    loss_ax.set(title="Loss", xlabel="optimizer step")
    loss_ax.legend(fontsize=8)
    lr_ax.plot(steps, [s["lr"] for s in history.steps])
    lr_ax.set(title="Learning rate (warmup, then linear decay)", xlabel="optimizer step")
    lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    epochs = [e["epoch"] for e in history.epochs]
    for key in [k for k in history.epochs[0] if k not in ("epoch", "train_loss", "val_loss")]:
        val_ax.plot(epochs, [e[key] for e in history.epochs], "o-", label=f"validation {key}")
    if history.best_epoch is not None:
        val_ax.axvline(history.best_epoch, color="grey", ls="--", lw=1, label="best epoch (kept)")
    val_ax.set(title="Validation metrics", xlabel="epoch", xticks=epochs)
    val_ax.legend(fontsize=8)
    for ax in (loss_ax, lr_ax, val_ax):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion(matrix, label_names, title: str = "Confusion matrix", ax=None):
    """A K × K confusion matrix (rows: true class, columns: predicted) with the count in every cell."""
    import matplotlib.pyplot as plt
    import numpy as np

    matrix = as_numpy(matrix)
    if matrix.shape != (len(label_names), len(label_names)):
        raise ValueError(f"expected a {len(label_names)} × {len(label_names)} matrix for labels {label_names}, "
                         f"got shape {matrix.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.2), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center",
                color="white" if count > matrix.max() / 2 else "black", fontsize=11)
    ax.set_xticks(range(len(label_names)), label_names)
    ax.set_yticks(range(len(label_names)), label_names)
    ax.set(title=title, xlabel="predicted", ylabel="true")
    ax.figure.tight_layout()
    return ax.figure


def plot_reliability(bins: dict, title: str = "Reliability diagram"):
    """Reliability diagram: accuracy against mean confidence per bin ({label: calibration.reliability_bins(…)}),
    marker area ∝ the bin's count; the diagonal is perfect calibration."""
    import matplotlib.pyplot as plt

    _check_dict("bins", bins, "calibration.reliability_bins(…)")
    if {"confidence", "accuracy", "count"} <= set(bins):
        raise TypeError("plot_reliability takes {label: reliability_bins(…)}, one entry per model; wrap the bins "
                        "in a dict: plot_reliability({'model': bins})")
    fig, ax = plt.subplots(figsize=(4.6, 4.2), dpi=100)
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="perfectly calibrated")
    for label, b in bins.items():
        sizes = 400 * as_numpy(b["count"]) / max(float(as_numpy(b["count"]).sum()), 1)
        ax.plot(as_numpy(b["confidence"]), as_numpy(b["accuracy"]), "-", lw=1)
        ax.scatter(as_numpy(b["confidence"]), as_numpy(b["accuracy"]), s=sizes + 10, label=label, alpha=0.7)
    ax.set(title=title, xlabel="mean confidence in the bin", ylabel="accuracy in the bin", xlim=(0.45, 1.02),
           ylim=(0.0, 1.02))
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
