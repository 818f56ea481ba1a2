"""The plot helpers: each returns a matplotlib Figure with a title and labelled axes."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from sftlab import viz  # noqa: E402


def _labelled(fig):
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert axes and all(ax.get_title() or fig._suptitle for ax in axes)
    return axes


def test_sft_pipeline_diagram_names_the_three_stages():
    fig = viz.sft_pipeline_diagram()
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "Pre-training" in texts and "fine-tuning" in texts and "Evaluation" in texts


def test_plot_lines_draws_one_line_per_series():
    fig = viz.plot_lines([1, 2, 4], {"a": [1, 2, 3], "b": [3, 2, 1]}, "t", "x", "y", logx=True)
    ax = _labelled(fig)[0]
    assert len(ax.lines) == 2 and ax.get_xlabel() == "x" and ax.get_xscale() == "log"


def test_mask_and_attention_plots():
    mask = torch.ones(4, 4, dtype=torch.bool).tril()
    assert len(_labelled(viz.plot_masks({"causal": mask, "full": torch.ones(4, 4, dtype=torch.bool)}))) == 2
    weights = torch.rand(3, 4, 4).softmax(-1)
    tokens = ["[CLS]", "a", "b", "[SEP]"]
    fig = viz.plot_attention(weights[0], tokens, "one head")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == tokens
    grid = viz.plot_attention_heads(weights, tokens, "layer", columns=2)
    assert sum(ax.axison for ax in grid.axes) == 3  # 3 heads on a 2×2 grid: one panel switched off


@pytest.mark.parametrize("matrix", [torch.randn(5, 8)])
def test_plot_matrix(matrix):
    fig = viz.plot_matrix(matrix, "table", "position", "dimension")
    assert fig.axes[0].get_xlabel() == "position"
