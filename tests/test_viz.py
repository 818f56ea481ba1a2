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


def test_plot_projection_labels_every_point_and_draws_arrows():
    points = [[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]]
    fig = viz.plot_projection(points, ["france", "paris", "walked"], ["country", "capital", "verb"],
                              "projection", arrows=[(0, 1)])
    ax = _labelled(fig)[0]
    texts = [t.get_text() for t in ax.texts]
    assert {"france", "paris", "walked"} <= set(texts) and len(ax.collections) == 3
    assert ax.get_xlabel() == "PC 1" and ax.get_legend() is not None
    with pytest.raises(ValueError, match="expected \\(N, 2\\) points and N labels"):
        viz.plot_projection([[0.0, 0.0, 1.0]], ["a"])


def test_plot_bars_one_bar_per_category_and_series():
    fig = viz.plot_bars(["a", "b", "c"], {"ours": [0.1, 0.5, 0.9], "gensim": [0.1, 0.5, 0.8]}, "accuracy",
                        "accuracy")
    ax = _labelled(fig)[0]
    assert len(ax.patches) == 6 and [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="series 'x' has 2 values for 3 categories"):
        viz.plot_bars(["a", "b", "c"], {"x": [1, 2]}, "t", "x")


def test_plot_history_draws_loss_schedule_and_validation_metrics():
    from sftlab.training import History

    history = History(steps=[{"step": s, "epoch": 1 + (s > 2), "loss": 1.0 / s, "lr": 1e-4 * s} for s in (1, 2, 3, 4)],
                      epochs=[{"epoch": 1, "train_loss": 0.7, "val_loss": 0.6, "accuracy": 0.7},
                              {"epoch": 2, "train_loss": 0.4, "val_loss": 0.5, "accuracy": 0.8}], best_epoch=2)
    fig = viz.plot_history(history)
    loss_ax, lr_ax, val_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["train loss (one batch)", "train loss (epoch mean)",
                                                             "validation loss"]
    assert list(loss_ax.lines[1].get_xdata()) == [2, 4]          # epoch means sit at each epoch's last step
    assert list(lr_ax.lines[0].get_ydata()) == pytest.approx([1e-4, 2e-4, 3e-4, 4e-4])
    assert [line.get_label() for line in val_ax.lines] == ["validation accuracy", "best epoch (kept)"]
    with pytest.raises(ValueError, match="no optimizer steps"):
        viz.plot_history(History())


def test_plot_confusion_writes_every_count():
    fig = viz.plot_confusion([[50, 3], [7, 40]], ["neg", "pos"])
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["3", "40", "50", "7"]
    with pytest.raises(ValueError, match="expected a 2 × 2 matrix"):
        viz.plot_confusion([[1, 2, 3]], ["neg", "pos"])


def test_plots_take_tensors_from_any_device_dtype_and_autograd_state():
    """A GPU tensor, a bf16 tensor or one that requires grad cannot go to numpy directly; plots convert them."""
    weights = torch.rand(4, 4, requires_grad=True)
    assert viz.plot_attention(weights, list("abcd"), "grad") is not None
    assert viz.plot_matrix(torch.rand(3, 5, dtype=torch.bfloat16), "bf16", "x", "y") is not None
    assert viz.plot_masks({"causal": torch.ones(3, 3, dtype=torch.bool).tril()}) is not None
    assert viz.plot_lines(torch.arange(3), {"loss": torch.tensor([3.0, 2.0, 1.0], requires_grad=True)},
                          "t", "x", "y") is not None
    assert viz.as_numpy(torch.ones(2, dtype=torch.bfloat16)).dtype.name == "float32"


def test_reliability_diagram_from_the_calibration_bins():
    import numpy as np

    from sftlab.calibration import reliability_bins

    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, size=200)
    correct = rng.uniform(size=200) < confidence
    assert viz.plot_reliability({"before": reliability_bins(confidence, correct)}) is not None
