"""Chapter 03, fine-tuning BERT for classification: macro-F1, class weights, mean pooling.

Shapes (sftlab/__init__.py): N examples, C classes, B batch, T tokens, D model width.
"""

from sftlab.course.exercises.framework import Exercise, Mistake, check, register


def macro_f1_solution(y_true, y_pred, num_classes):
    """Mean over classes of F1_k = 2·TP_k / (2·TP_k + FP_k + FN_k) — the harmonic mean of precision and recall,
    written so that a class never predicted (precision 0/0) scores 0 instead of nan."""
    import torch

    scores = []
    for k in range(num_classes):
        tp = ((y_pred == k) & (y_true == k)).sum()
        fp = ((y_pred == k) & (y_true != k)).sum()
        fn = ((y_pred != k) & (y_true == k)).sum()
        denominator = 2 * tp + fp + fn
        scores.append(2 * tp / denominator if denominator > 0 else torch.tensor(0.0))
    return torch.stack(scores).float().mean()


def _macro_f1_cases():
    import torch

    g = torch.Generator().manual_seed(3)
    return [(torch.tensor([0, 0, 0, 0, 0, 0, 1, 1]), torch.tensor([0, 0, 0, 0, 1, 1, 1, 0]), 2),
            (torch.randint(0, 3, (40,), generator=g), torch.randint(0, 3, (40,), generator=g), 3),
            (torch.tensor([0, 1, 2, 2, 1, 0]), torch.tensor([0, 0, 0, 0, 0, 0]), 3)]   # classes never predicted


def _per_class(y_true, y_pred, num_classes):
    """(precision, recall, support) per class, with 0/0 left as nan."""
    import torch

    tp = torch.stack([((y_pred == k) & (y_true == k)).sum() for k in range(num_classes)]).double()
    predicted = torch.stack([(y_pred == k).sum() for k in range(num_classes)]).double()
    support = torch.stack([(y_true == k).sum() for k in range(num_classes)]).double()
    return tp / predicted, tp / support, support


def _f1_arithmetic(y_true, y_pred, num_classes):
    precision, recall, _ = _per_class(y_true, y_pred, num_classes)
    return ((precision.nan_to_num(0) + recall.nan_to_num(0)) / 2).float().mean()


def _f1_support_weighted(y_true, y_pred, num_classes):
    import torch

    f1 = torch.stack([2 * ((y_pred == k) & (y_true == k)).sum() /
                      ((y_pred == k).sum() + (y_true == k).sum()).clamp(min=1) for k in range(num_classes)])
    support = torch.stack([(y_true == k).sum() for k in range(num_classes)])
    return ((f1 * support).sum() / len(y_true)).float()


def _f1_nan(y_true, y_pred, num_classes):
    precision, recall, _ = _per_class(y_true, y_pred, num_classes)
    return (2 * precision * recall / (precision + recall)).float().mean()


register(Exercise(
    name="macro_f1",
    task="macro_f1(y_true, y_pred, num_classes): the unweighted mean of the per-class F1 scores, a 0-dim tensor",
    hint="for each class k count TP, FP, FN; F1_k = 2TP / (2TP + FP + FN); average the C values",
    reference=macro_f1_solution,
    cases=_macro_f1_cases,
    mistakes=[
        Mistake(lambda y_true, y_pred, num_classes: (y_true == y_pred).float().mean(),
                "that is accuracy (for single-label data it equals micro-F1); macro-F1 computes F1 per class "
                "and averages those, so a rare class counts as much as a frequent one"),
        Mistake(_f1_support_weighted,
                "you weighted each class's F1 by its support (scikit-learn's average='weighted'); macro gives "
                "every class the same weight"),
        Mistake(_f1_arithmetic,
                "you averaged precision and recall arithmetically; F1 is their harmonic mean 2PR / (P + R), "
                "which is low when either is low"),
        Mistake(_f1_nan,
                "a class that is never predicted has precision 0/0 = nan, and the nan spread into the mean; "
                "count its F1 as 0 (2TP / (2TP + FP + FN) never divides by zero unless the class is absent)"),
    ],
))


def check_macro_f1(fn, raise_on_failure=False):
    """Check your macro_f1(y_true, y_pred, num_classes) against the reference."""
    return check("macro_f1", fn, raise_on_failure)


def class_weights_solution(labels, num_classes):
    """w_k = N / (C · n_k): the rare class weighs more, and the weights average to 1 over the examples."""
    import torch

    counts = torch.bincount(labels, minlength=num_classes).float()
    return len(labels) / (num_classes * counts)


def _class_weight_cases():
    import torch

    return [(torch.tensor([0, 0, 0, 1]), 2), (torch.tensor([0] * 90 + [1] * 10), 2),
            (torch.tensor([2, 0, 1, 1, 2, 2, 2, 2]), 3)]


register(Exercise(
    name="class_weights",
    task="class_weights(labels, num_classes): inverse-frequency weights N / (C · n_k) as a float tensor (C,)",
    hint="torch.bincount(labels, minlength=num_classes) counts each class",
    reference=class_weights_solution,
    cases=_class_weight_cases,
    mistakes=[
        Mistake(lambda labels, num_classes: torch_bincount(labels, num_classes) / len(labels),
                "these are the class frequencies n_k / N; the weights are their inverse, so the rare class "
                "weighs more"),
        Mistake(lambda labels, num_classes: 1 / torch_bincount(labels, num_classes),
                "right direction, wrong scale: 1 / n_k makes the loss tiny; N / (C · n_k) keeps the weighted "
                "loss on the scale of the plain one (the weights average to 1 over the examples)"),
        Mistake(lambda labels, num_classes: len(labels) / torch_bincount(labels, num_classes),
                "almost: divide by C as well, N / (C · n_k), so a balanced set gets weight 1 for every class"),
    ],
))


def torch_bincount(labels, num_classes):
    import torch

    return torch.bincount(labels, minlength=num_classes).float()


def check_class_weights(fn, raise_on_failure=False):
    """Check your class_weights(labels, num_classes) against the reference."""
    return check("class_weights", fn, raise_on_failure)


def mean_pooling_solution(hidden, attention_mask):
    """(B, T, D) token vectors → (B, D) mean over the real tokens (attention_mask 1), padding left out."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)          # (B, T, 1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1)


def _pooling_cases():
    import torch

    g = torch.Generator().manual_seed(4)
    return [(torch.randn(2, 5, 3, generator=g), torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])),
            (torch.randn(3, 7, 8, generator=g), torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5]))]


register(Exercise(
    name="mean_pooling",
    task="mean_pooling(hidden, attention_mask): (B, T, D), (B, T) → (B, D) mean over real tokens only",
    hint="multiply by the mask (unsqueezed to (B, T, 1)), sum over T, divide by each row's number of real tokens",
    reference=mean_pooling_solution,
    cases=_pooling_cases,
    mistakes=[
        Mistake(lambda hidden, attention_mask: hidden.mean(dim=1),
                "you averaged over the [PAD] positions too: multiply by the attention mask and divide by the "
                "number of real tokens"),
        Mistake(lambda hidden, attention_mask: (hidden * attention_mask.unsqueeze(-1)).sum(1) / hidden.size(1),
                "you zeroed the padding but divided by the padded length T; divide by each sentence's own "
                "number of real tokens, attention_mask.sum(1)"),
        Mistake(lambda hidden, attention_mask: (hidden * attention_mask.unsqueeze(-1)).sum(1),
                "that is the sum over real tokens; divide by their number to get the mean"),
        Mistake(lambda hidden, attention_mask: hidden[:, 0],
                "that is the first token's vector ([CLS] pooling), not the mean of the tokens"),
    ],
))


def check_mean_pooling(fn, raise_on_failure=False):
    """Check your mean_pooling(hidden, attention_mask) against the reference."""
    return check("mean_pooling", fn, raise_on_failure)
