"""Intervals: how sure a measured score is, over runs (seeds) or over the examples of a test set.

    mean, low, high = mean_and_interval([0.84, 0.85, 0.83])        # t-interval over a few seeds
    mean, low, high = bootstrap_interval(correct)                  # percentile bootstrap over examples (1/0)
    difference, low, high = paired_bootstrap(ours, baseline)       # the same examples scored by two systems
    mcnemar(ours_correct, baseline_correct)                        # exact test on the examples where they disagree
    detectable_difference(ours_correct, baseline_correct)          # the smallest gap that test would likely see
    value, low, high = resampled_interval(micro_f1_gap, n)         # a statistic that is not a mean over examples

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


def paired_bootstrap(a, b, confidence: float = 0.95, resamples: int = 2000, seed: int = 0):
    """(mean difference a − b, low, high): the same examples scored by two systems, resampled together, so the
    interval reflects the difference on each example, not the spread of each system's scores."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired scores need one value per example in both: got {a.shape} and {b.shape}")
    return bootstrap_interval(a - b, confidence, resamples, seed)


def mcnemar(a, b) -> dict:
    """Exact McNemar test on paired 0/1 outcomes (e.g. correct or not on the same questions): only the examples
    where the two disagree count. {"only_a", "only_b", "p_value"} (two-sided binomial test)."""
    from scipy.stats import binomtest

    a, b = np.asarray(a).astype(bool), np.asarray(b).astype(bool)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes need one value per example in both: got {a.shape} and {b.shape}")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    p = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return {"only_a": only_a, "only_b": only_b, "p_value": float(p)}


def detectable_difference(a, b, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest difference in mean score between two systems on these paired examples that a two-sided test
    at level alpha would detect with the given power, from the spread of the per-example differences a − b
    (normal approximation: (z_{1-alpha/2} + z_power) · SE). When a comparison is not established, this is what
    the experiment could have seen: "no difference larger than this", not "no difference"."""
    from scipy.stats import norm

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"paired scores need one value per example in both, at least 2 examples: got {a.shape} "
                         f"and {b.shape}")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"alpha and power must lie in (0, 1), got alpha={alpha}, power={power}")
    standard_error = (a - b).std(ddof=1) / math.sqrt(a.size)
    return float((norm.ppf(1 - alpha / 2) + norm.ppf(power)) * standard_error)


def resampled_interval(statistic, n: int, confidence: float = 0.95, resamples: int = 2000, seed: int = 0):
    """(statistic(all n examples), low, high) for a statistic of n examples that is not a mean over them (micro F1,
    or a difference of two micro F1s on the same examples): statistic(indices) is recomputed on each resample of
    the example indices, drawn with replacement."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be the number of examples, a positive int, got {n!r}")
    rng = np.random.default_rng(seed)
    values = [statistic(rng.integers(0, n, n)) for _ in range(resamples)]
    alpha = (1 - confidence) / 2
    return float(statistic(np.arange(n))), float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))
