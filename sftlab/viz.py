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
