"""sftlab.metrics against scikit-learn on random and edge-case labelings."""

import numpy as np
import pytest
import torch
from sklearn import metrics as sk

from sftlab import metrics


@pytest.fixture(params=[0, 1, 2])
def labels(request):
    rng = np.random.default_rng(request.param)
    K = [2, 3, 5][request.param]
    y_true = rng.integers(0, K, 200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, K, 200))
    return y_true, y_pred, K


def test_confusion_matrix_matches_sklearn(labels):
    y_true, y_pred, K = labels
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred, K),
                                  sk.confusion_matrix(y_true, y_pred, labels=range(K)))


def test_scores_match_sklearn(labels):
    y_true, y_pred, K = labels
    ours = metrics.precision_recall_f1(y_true, y_pred, K)
    p, r, f, s = sk.precision_recall_fscore_support(y_true, y_pred, labels=range(K), zero_division=0)
    for got, ref in [(ours["precision"], p), (ours["recall"], r), (ours["f1"], f), (ours["support"], s)]:
        np.testing.assert_allclose(got, ref, atol=1e-12)
    report = metrics.classification_metrics(y_true, y_pred, [f"c{k}" for k in range(K)])
    assert report["accuracy"] == pytest.approx(sk.accuracy_score(y_true, y_pred), abs=1e-12)
    assert report["macro_f1"] == pytest.approx(sk.f1_score(y_true, y_pred, average="macro"), abs=1e-12)
    assert report["macro_precision"] == pytest.approx(sk.precision_score(y_true, y_pred, average="macro"), abs=1e-12)


def test_a_class_never_predicted_scores_zero_like_sklearn():
    y_true, y_pred = [0, 0, 1, 1, 2], [0, 0, 0, 0, 0]
    ours = metrics.precision_recall_f1(y_true, y_pred, 3)
    ref = sk.precision_recall_fscore_support(y_true, y_pred, labels=[0, 1, 2], zero_division=0)
    np.testing.assert_allclose(ours["f1"], ref[2])


def test_tensors_are_accepted():
    assert metrics.accuracy(torch.tensor([1, 0, 1]), torch.tensor([1, 1, 1])) == pytest.approx(2 / 3)


def test_format_metrics_names_every_class():
    text = metrics.format_metrics(metrics.classification_metrics([0, 1, 1], [0, 1, 0], ["neg", "pos"]), "test")
    assert text.startswith("test: accuracy 0.667, macro-F1 0.667") and "neg:" in text and "pos:" in text


@pytest.mark.parametrize("y_true, y_pred, error, match", [
    ([0, 1], [0], ValueError, "2 entries but y_pred has 1"),
    ([], [], ValueError, "empty"),
    ([0.2, 0.8], [0, 1], TypeError, "argmax"),
    ([[0, 1]], [[0, 1]], ValueError, "1-D"),
])
def test_bad_input(y_true, y_pred, error, match):
    with pytest.raises(error, match=match):
        metrics.accuracy(y_true, y_pred)


def test_ids_out_of_range():
    with pytest.raises(ValueError, match="0 … 1"):
        metrics.confusion_matrix([0, 2], [0, 1], num_classes=2)


def test_wrong_types_for_num_classes_label_names_and_format_metrics_are_named():
    with pytest.raises(TypeError, match="num_classes must be a positive int or None .*got '2'"):
        metrics.confusion_matrix([0, 1], [0, 1], num_classes="2")
    with pytest.raises(TypeError, match=r"label_names must be a list of class names .*got 'neg pos'"):
        metrics.classification_metrics([0, 1], [0, 1], "neg pos")      # would score 7 "classes", one per letter
    with pytest.raises(ValueError, match=r"takes what classification_metrics returns; this dict lacks "
                                         r"\['macro_f1', 'per_class'\]"):
        metrics.format_metrics({"accuracy": 0.5}, "test")
