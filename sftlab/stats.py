"""Intervals: how sure a measured score is, over runs (seeds) or over the examples of a test set.

    mean, low, high = mean_and_interval([0.84, 0.85, 0.83])        # t-interval over a few seeds
    mean, low, high = bootstrap_interval(correct)                  # percentile bootstrap over examples (1/0)

A notebook compares two settings beyond noise only when their intervals say so (docs/architecture.md,
"How a notebook concludes").
"""

import math

import numpy as np


def mean_and_interval(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): a t-interval for the mean of a few runs (seeds), so a comparison can say whether two
    settings differ beyond run-to-run noise."""
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        raise ValueError(f"an interval needs at least 2 runs, got {values.size}")
    mean = float(values.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return mean, mean - half, mean + half


def bootstrap_interval(correct, confidence: float = 0.95, resamples: int = 2000, seed: int = 0):
    """(mean, low, high) of a per-example score (e.g. 1/0 correct) by the percentile bootstrap over examples."""
    correct = np.asarray(correct, dtype=np.float64)
    if correct.size == 0:
        raise ValueError("no examples to bootstrap")
    rng = np.random.default_rng(seed)
    means = rng.choice(correct, size=(resamples, correct.size), replace=True).mean(axis=1)
    alpha = (1 - confidence) / 2
    return float(correct.mean()), float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))
