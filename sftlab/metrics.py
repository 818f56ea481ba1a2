"""Classification metrics, written out so the formulas are visible, and checked against scikit-learn.

    y_true, y_pred: sequences (or 1-D tensors/arrays) of class ids 0 … C-1, one per example (N examples, C classes).

precision_k = TP_k / (TP_k + FP_k), recall_k = TP_k / (TP_k + FN_k), F1_k = 2 P R / (P + R);
macro averages weigh every class equally, so a rare class counts as much as a frequent one.
tests/test_metrics.py checks each function against sklearn.metrics. (No `evaluate.load`: it needs the hub.)
"""

import numpy as np


def _as_ids(values, name: str) -> np.ndarray:
    array = np.asarray(values.cpu() if hasattr(values, "cpu") else values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one class id per example), got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class ids, got dtype {array.dtype} "
                        "(for logits take .argmax(-1) first)")
    return array.astype(np.int64)


def _checked(y_true, y_pred, num_classes: int | None):
    y_true, y_pred = _as_ids(y_true, "y_true"), _as_ids(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} entries but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("no examples to score: y_true and y_pred are empty")
    if num_classes is not None and (not isinstance(num_classes, int) or isinstance(num_classes, bool)):
        raise TypeError(f"num_classes must be a positive int or None (the largest id + 1), got {num_classes!r}")
    if num_classes is not None and num_classes < 1:
        raise ValueError(f"num_classes must be a positive int or None (the largest id + 1), got {num_classes!r}")
    num_classes = num_classes or int(max(y_true.max(), y_pred.max())) + 1
    if min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= num_classes:
        raise ValueError(f"class ids must lie in 0 … {num_classes - 1}; got {sorted(set(y_true) | set(y_pred))}")
    return y_true, y_pred, num_classes


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    y_true, y_pred, C = _checked(y_true, y_pred, num_classes)
    matrix = np.zeros((C, C), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def accuracy(y_true, y_pred) -> float:
    """Share of examples whose predicted class is the true class."""
    y_true, y_pred, _ = _checked(y_true, y_pred, None)
    return float((y_true == y_pred).mean())


def precision_recall_f1(y_true, y_pred, num_classes: int | None = None) -> dict:
    """Per-class arrays {"precision", "recall", "f1", "support"} of length C; 0 where a ratio is 0/0."""
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(matrix).astype(float)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)         # column sums, row sums
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(tp), where=both > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": actual}


def classification_metrics(y_true, y_pred, label_names: list[str]) -> dict:
    """Accuracy, macro precision/recall/F1 and a per-class breakdown keyed by label name."""
    if isinstance(label_names, str) or not all(isinstance(name, str) for name in label_names):
        raise TypeError(f"label_names must be a list of class names such as ['neg', 'pos'], one per class id, "
                        f"got {label_names!r:.60}")
    scores = precision_recall_f1(y_true, y_pred, len(label_names))
    per_class = {name: {key: float(scores[key][k]) if key != "support" else int(scores[key][k])
                        for key in scores} for k, name in enumerate(label_names)}
    return {
        "accuracy": accuracy(y_true, y_pred),
        "macro_precision": float(scores["precision"].mean()),
        "macro_recall": float(scores["recall"].mean()),
        "macro_f1": float(scores["f1"].mean()),
        "per_class": per_class,
    }


def format_metrics(metrics: dict, title: str) -> str:
    """A few readable lines: the title, accuracy and macro-F1, then one line per class."""
    missing = [key for key in ("accuracy", "macro_f1", "per_class") if key not in metrics]
    if missing:
        raise ValueError(f"format_metrics takes what classification_metrics returns; this dict lacks {missing} "
                         f"(its keys: {list(metrics)})")
    lines = [f"{title}: accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f}"]
    for name, s in metrics["per_class"].items():
        lines.append(f"  {name:>8s}: precision {s['precision']:.3f}  recall {s['recall']:.3f}  "
                     f"F1 {s['f1']:.3f}  (n = {s['support']})")
    return "\n".join(lines)
