"""The plot helpers: each returns a matplotlib Figure with a title and labelled axes."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sftlab.course import viz  # noqa: E402


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
    assert (ax.get_title(), ax.get_ylabel(), ax.get_yscale()) == ("t", "y", "linear")
    assert [list(line.get_xdata()) for line in ax.lines] == [[1, 2, 4], [1, 2, 4]]
    assert [list(line.get_ydata()) for line in ax.lines] == [[1, 2, 3], [3, 2, 1]]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


def image_of(ax):
    """The one image an axes shows, as a plain float array."""
    (image,) = ax.images
    return np.asarray(image.get_array(), dtype=float)


def test_plot_masks_shows_each_mask_in_its_own_titled_panel():
    masks = {"causal": torch.ones(4, 4, dtype=torch.bool).tril(), "padding": torch.tensor([[1, 1, 0, 0]] * 4).bool()}
    fig = viz.plot_masks(masks, labels=list("abcd"))
    axes = _labelled(fig)
    assert [ax.get_title() for ax in axes] == ["causal", "padding"]
    for ax, mask in zip(axes, masks.values(), strict=True):
        np.testing.assert_array_equal(image_of(ax), mask.float().numpy())      # 1 = may attend (white)
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("key position (attended to)", "query position")
        assert [t.get_text() for t in ax.get_xticklabels()] == list("abcd")


def test_plot_attention_shows_the_weights_with_tokens_and_a_colour_bar():
    weights = torch.rand(3, 4, 4, generator=torch.Generator().manual_seed(0)).softmax(-1)
    tokens = ["[CLS]", "a", "b", "[SEP]"]
    fig = viz.plot_attention(weights[0], tokens, "one head")
    (ax,) = _labelled(fig)
    np.testing.assert_allclose(image_of(ax), weights[0].numpy(), rtol=1e-6)
    assert [t.get_text() for t in ax.get_xticklabels()] == tokens
    assert [t.get_text() for t in ax.get_yticklabels()] == tokens
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("one head", "attends to (key)", "token (query)")
    assert ax.images[0].colorbar.ax.get_ylabel() == "attention weight"
    assert ax.images[0].get_clim() == (0, 1)                                    # one scale for every head


def test_plot_attention_heads_draws_each_head_in_order():
    weights = torch.rand(3, 4, 4, generator=torch.Generator().manual_seed(0)).softmax(-1)
    tokens = ["[CLS]", "a", "b", "[SEP]"]
    grid = viz.plot_attention_heads(weights, tokens, "layer", columns=2)
    assert sum(ax.axison for ax in grid.axes) == 3  # 3 heads on a 2×2 grid: one panel switched off
    shown = [ax for ax in grid.axes if ax.axison]
    assert [ax.get_title() for ax in shown] == ["head 0", "head 1", "head 2"] and grid._suptitle.get_text() == "layer"
    for h, ax in enumerate(shown):
        np.testing.assert_allclose(image_of(ax), weights[h].numpy(), rtol=1e-6)
    assert [t.get_text() for t in shown[0].get_yticklabels()] == tokens           # first column: token labels
    assert [t.get_text() for t in shown[1].get_yticklabels()] == [""] * 4        # the others: none


def test_plot_matrix_shows_the_matrix_with_a_colour_bar():
    matrix = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))
    fig = viz.plot_matrix(matrix, "table", "position", "dimension", cmap="viridis")
    (ax,) = _labelled(fig)
    np.testing.assert_allclose(image_of(ax), matrix.numpy(), rtol=1e-6)
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("table", "position", "dimension")
    assert ax.images[0].get_cmap().name == "viridis" and ax.images[0].colorbar is not None
    assert len(fig.axes) == 2                                                   # the panel and its colour bar


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
    assert [bar.get_width() for bar in ax.patches] == pytest.approx([0.1, 0.5, 0.9, 0.1, 0.5, 0.8])  # series order
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ours", "gensim"]
    assert [t.get_text() for t in ax.texts] == ["0.10", "0.50", "0.90", "0.10", "0.50", "0.80"]   # value labels
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
    fig = viz.plot_attention(weights, list("abcd"), "grad")
    np.testing.assert_allclose(image_of(fig.axes[0]), weights.detach().numpy(), rtol=1e-6)
    bf16 = torch.rand(3, 5, dtype=torch.bfloat16)
    fig = viz.plot_matrix(bf16, "bf16", "x", "y")
    np.testing.assert_array_equal(image_of(fig.axes[0]), bf16.float().numpy())
    causal = torch.ones(3, 3, dtype=torch.bool).tril()
    np.testing.assert_array_equal(image_of(viz.plot_masks({"causal": causal}).axes[0]), causal.float().numpy())
    fig = viz.plot_lines(torch.arange(3), {"loss": torch.tensor([3.0, 2.0, 1.0], requires_grad=True)}, "t", "x", "y")
    assert list(fig.axes[0].lines[0].get_xdata()) == [0, 1, 2]
    assert list(fig.axes[0].lines[0].get_ydata()) == [3.0, 2.0, 1.0]
    assert viz.as_numpy(torch.ones(2, dtype=torch.bfloat16)).dtype.name == "float32"
    mask = viz.as_numpy(torch.tensor([True, False]))
    assert mask.dtype.name == "float32" and mask.tolist() == [1.0, 0.0]
    assert viz.as_numpy(torch.tensor([3, 4])).dtype.kind == "i"                  # integer ids stay integers


def test_reliability_diagram_from_the_calibration_bins():
    from sftlab.calibration import reliability_bins

    before = reliability_bins([0.55, 0.6, 0.95, 0.88, 0.92], [1, 0, 1, 1, 0])     # bins of 2, 1 and 2 scores
    after = reliability_bins([0.7, 0.75], [1, 0])
    fig = viz.plot_reliability({"before": before, "after": after}, title="Calibration")
    (ax,) = _labelled(fig)
    diagonal, *curves = ax.lines
    assert list(diagonal.get_xdata()) == [0, 1] and list(diagonal.get_ydata()) == [0, 1]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["perfectly calibrated", "before", "after"]
    for curve, points, bins in zip(curves, ax.collections, (before, after), strict=True):
        np.testing.assert_allclose(curve.get_xdata(), bins["confidence"])
        np.testing.assert_allclose(points.get_offsets(), np.column_stack([bins["confidence"], bins["accuracy"]]))
    np.testing.assert_allclose(ax.collections[0].get_sizes(), [400 * 2 / 5 + 10, 400 * 1 / 5 + 10, 400 * 2 / 5 + 10])
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("Calibration", "mean confidence in the bin",
                                                                  "accuracy in the bin")


def test_plots_name_the_container_they_expect():
    from sftlab.calibration import reliability_bins

    plot_attention, plot_attention_heads, plot_bars = viz.plot_attention, viz.plot_attention_heads, viz.plot_bars
    plot_history, plot_lines, plot_masks, plot_reliability = (viz.plot_history, viz.plot_lines, viz.plot_masks,
                                                              viz.plot_reliability)

    with pytest.raises(TypeError, match=r"series must be a non-empty dict \{label: y values\}, got list"):
        plot_lines([1, 2], [3, 4], "t", "x", "y")
    with pytest.raises(TypeError, match="masks must be a non-empty dict"):
        plot_masks(torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(TypeError, match="series must be a non-empty dict"):
        plot_bars(["a"], [1.0], "t", "x")
    with pytest.raises(ValueError, match=r"expects \(T, T\) weights, got shape \(2, 3, 3\); pick one head"):
        plot_attention(torch.rand(2, 3, 3), ["a", "b", "c"], "t")
    with pytest.raises(ValueError, match="2 tokens label the axes but the weights cover 3 positions"):
        plot_attention(torch.rand(3, 3), ["a", "b"], "t")
    with pytest.raises(ValueError, match=r"expects \(H, T, T\) weights, got shape \(3, 3\)"):
        plot_attention_heads(torch.rand(3, 3), ["a", "b", "c"], "t")
    with pytest.raises(TypeError, match="plot_history takes the History"):
        plot_history({"steps": []})
    bins = reliability_bins(np.array([0.9, 0.6, 0.8]), np.array([1, 0, 1]), num_bins=5)
    with pytest.raises(TypeError, match=r"wrap the bins in a dict: plot_reliability\(\{'model': bins\}\)"):
        plot_reliability(bins)
