"""sftlab.course.exercises.ch03_classification: macro-F1, class weights, mean pooling."""

import pytest
import torch
from exercise_checks import failure

from sftlab.course import exercises
from sftlab.course.exercises import ch03_classification


def test_macro_f1_reference_equals_scikit_learn():
    from sklearn.metrics import f1_score

    for y_true, y_pred, k in exercises.EXERCISES["macro_f1"].cases():
        expected = f1_score(y_true, y_pred, average="macro", labels=list(range(k)), zero_division=0)
        assert float(exercises.macro_f1_solution(y_true, y_pred, k)) == pytest.approx(expected, abs=1e-6)


def test_library_versions_of_the_chapter_03_exercises_pass():
    from sftlab.classification import class_weights
    from sftlab.metrics import classification_metrics

    def macro_f1(y_true, y_pred, num_classes):
        names = [str(k) for k in range(num_classes)]
        return torch.tensor(classification_metrics(y_true, y_pred, names)["macro_f1"], dtype=torch.float32)

    assert exercises.check_macro_f1(macro_f1)
    assert exercises.check_class_weights(class_weights)


def _macro_f1_weighted(y_true, y_pred, num_classes):
    from sklearn.metrics import f1_score

    return torch.tensor(f1_score(y_true, y_pred, average="weighted", zero_division=0), dtype=torch.float32)


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda y_true, y_pred, k: (y_true == y_pred).float().mean(), "that is accuracy"),
    (_macro_f1_weighted, "weighted each class's F1 by its support"),
    (lambda y_true, y_pred, k: ch03_classification._f1_arithmetic(y_true, y_pred, k), "harmonic mean"),
    (lambda y_true, y_pred, k: ch03_classification._f1_nan(y_true, y_pred, k), "precision 0/0 = nan"),
])
def test_macro_f1_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_macro_f1, fn)


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda labels, k: torch.bincount(labels, minlength=k).float() / len(labels), "class frequencies"),
    (lambda labels, k: 1 / torch.bincount(labels, minlength=k).float(), "wrong scale"),
    (lambda labels, k: len(labels) / torch.bincount(labels, minlength=k).float(), "divide by C as well"),
])
def test_class_weight_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_class_weights, fn)


def test_class_weights_as_integers_is_a_dtype_message():
    message = failure(exercises.check_class_weights, lambda labels, k: len(labels) // (k * torch.bincount(labels)))
    assert "wrong dtype: expected torch.float32, got torch.int64" in message


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda hidden, mask: hidden.mean(dim=1), "averaged over the [PAD] positions"),
    (lambda hidden, mask: (hidden * mask.unsqueeze(-1)).sum(1) / hidden.size(1), "divided by the padded length"),
    (lambda hidden, mask: (hidden * mask.unsqueeze(-1)).sum(1), "that is the sum"),
    (lambda hidden, mask: hidden[:, 0], "[CLS] pooling"),
])
def test_mean_pooling_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_mean_pooling, fn)


def test_mean_pooling_over_the_wrong_axis_is_a_shape_message():
    message = failure(exercises.check_mean_pooling, lambda hidden, mask: hidden.mean(dim=2))
    assert "wrong shape: expected (2, 3), got (2, 5)" in message
