"""Notebook 00 (start here): a numerically stable softmax."""

from sftlab.course.exercises.framework import Exercise, Mistake, check, register


def softmax_solution(x):
    """Softmax over the last dimension, stable for large logits: subtract the max first."""
    shifted = x - x.max(dim=-1, keepdim=True).values   # largest entry is now 0, so exp() ≤ 1
    exps = shifted.exp()
    return exps / exps.sum(dim=-1, keepdim=True)


def _softmax_cases():
    import torch

    g = torch.Generator().manual_seed(0)
    return [(torch.tensor([1.0, 2.0, 3.0]),),
            (torch.randn(3, 3, generator=g),),
            (torch.randn(2, 4, 5, generator=g),),
            (torch.tensor([[1000.0, 1.0, -1000.0], [50.0, 100.0, 150.0]]),)]


register(Exercise(
    name="softmax",
    task="softmax(x): softmax over the last dimension of x, numerically stable for large values",
    hint="exp(x_i) / Σ_j exp(x_j) along dim=-1; softmax(x) = softmax(x - c) for any constant c, "
         "so subtract x.max(dim=-1, keepdim=True).values first",
    reference=softmax_solution,
    cases=_softmax_cases,
    mistakes=[
        Mistake(lambda x: x.exp() / x.exp().sum(dim=-1, keepdim=True),
                "your output equals softmax without subtracting the max: exp(1000.) overflows to inf "
                "and inf / inf = nan. Subtract x.max(dim=-1, keepdim=True).values before exp()."),
        Mistake(lambda x: softmax_solution(x.transpose(0, -1)).transpose(0, -1),
                "you normalised over the wrong dimension (dim=0): each row along the last dimension "
                "must sum to 1; use dim=-1."),
        Mistake(lambda x: x.exp() / x.exp().sum(dim=-1),
                "you summed over dim=-1 without keepdim=True, so the sums broadcast along the wrong axis; "
                "use .sum(dim=-1, keepdim=True)."),
    ],
))


def check_softmax(fn, raise_on_failure=False):
    """Check your softmax(x) against the reference."""
    return check("softmax", fn, raise_on_failure)
