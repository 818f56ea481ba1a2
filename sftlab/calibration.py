"""Calibration: does a classifier's confidence match how often it is right?

    bins = reliability_bins(confidence, correct, num_bins=10)    # per bin: mean confidence, accuracy, count
    ece = expected_calibration_error(confidence, correct)         # Σ_b (n_b / N) · |accuracy_b − confidence_b|
    temperature = fit_temperature(val_logits, val_labels)         # one scalar T > 0, fitted on VALIDATION
    probabilities = softmax_with_temperature(test_logits, temperature)

Shapes (sftlab/__init__.py): N examples, C classes. `confidence` is the probability of the predicted class
(the top-label confidence), `correct` 1 where the prediction is right. Bins split [0, 1] into equal widths,
each bin (low, high] (the first also holds 0), as scikit-learn's calibration_curve does, so the two agree
(tests/test_calibration.py).

Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks") divides the logits by T
before the softmax: T > 1 softens over-confident probabilities, T < 1 sharpens them, and the predicted class
never changes, so accuracy stays the same. Log-probabilities work as logits (softmax(log p / T) = softmax(z / T)).
"""

import numbers

import numpy as np


def _array(values, name: str, dims: int) -> np.ndarray:
    """A tensor (any device), array or list as a float64 numpy array of `dims` dimensions."""
    try:
        import torch

        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().double().numpy()
    except ImportError:   # torch is a dependency; this only keeps the module importable without it
        pass
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != dims:
        raise ValueError(f"{name} must have {dims} dimension(s), got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if np.isnan(array).any():     # every comparison with nan is False: it would slip through the checks below
        raise ValueError(f"{name} holds nan at index {np.argwhere(np.isnan(array))[0].tolist()}")
    return array


def _logits(values) -> np.ndarray:
    """(N, C) logits (or log-probabilities); probabilities, whose rows sum to 1, are refused: softmax(p / T) of
    probabilities is no calibrated probability."""
    logits = _array(values, "logits", 2)
    if logits.min() >= 0 and logits.max() <= 1 and np.allclose(logits.sum(1), 1):
        raise ValueError("logits look like probabilities (every row in [0, 1], summing to 1); pass the model's "
                         "logits, or np.log(probabilities)")
    return logits


def _check_temperature(temperature) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"temperature must be a number > 0, got {type(temperature).__name__} {temperature!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")


def _confidence_and_correct(confidence, correct) -> tuple[np.ndarray, np.ndarray]:
    confidence, correct = _array(confidence, "confidence", 1), _array(correct, "correct", 1)
    if confidence.shape != correct.shape:
        raise ValueError(f"confidence has {len(confidence)} entries but correct has {len(correct)}")
    if confidence.min() < 0 or confidence.max() > 1:
        raise ValueError(f"confidence must be probabilities in [0, 1], got values from {confidence.min():.3g} "
                         f"to {confidence.max():.3g} (logits? apply a softmax first)")
    if not np.isin(correct, (0, 1)).all():
        raise ValueError("correct must hold 0/1 (or False/True): 1 where the prediction is right")
    return confidence, correct


def reliability_bins(confidence, correct, num_bins: int = 10) -> dict:
    """Per non-empty bin of confidence: "confidence" (mean), "accuracy" (share correct), "count"; plus the
    bin "edges". A calibrated model has accuracy ≈ confidence in every bin."""
    confidence, correct = _confidence_and_correct(confidence, correct)
    if not isinstance(num_bins, int) or isinstance(num_bins, bool) or num_bins < 1:
        raise ValueError(f"num_bins must be a positive int, got {num_bins!r}")
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    which = np.searchsorted(edges[1:-1], confidence)          # bin b holds (edges[b], edges[b + 1]]
    counts = np.bincount(which, minlength=num_bins)
    filled = counts > 0
    mean_confidence = np.bincount(which, weights=confidence, minlength=num_bins)[filled] / counts[filled]
    accuracy = np.bincount(which, weights=correct, minlength=num_bins)[filled] / counts[filled]
    return {"confidence": mean_confidence, "accuracy": accuracy, "count": counts[filled], "edges": edges}


def expected_calibration_error(confidence, correct, num_bins: int = 10) -> float:
    """ECE = Σ_b (n_b / N) · |accuracy_b − confidence_b|: the average gap between how sure the model is and how
    often it is right, weighted by how many predictions fall in each bin. 0 is perfectly calibrated."""
    bins = reliability_bins(confidence, correct, num_bins)
    weights = bins["count"] / bins["count"].sum()
    return float(np.sum(weights * np.abs(bins["accuracy"] - bins["confidence"])))


def top_label(probabilities, labels) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct) from (N, C) probabilities and (N,) labels: the probability of the predicted class
    and whether that prediction is right."""
    probabilities, labels = _array(probabilities, "probabilities", 2), _array(labels, "labels", 1)
    if len(probabilities) != len(labels):
        raise ValueError(f"probabilities has {len(probabilities)} rows but labels has {len(labels)} entries")
    predicted = probabilities.argmax(1)
    return probabilities.max(1), (predicted == labels).astype(np.float64)


def softmax_with_temperature(logits, temperature: float = 1.0) -> np.ndarray:
    """(N, C) logits → (N, C) probabilities softmax(logits / T)."""
    logits = _logits(logits)
    _check_temperature(temperature)
    scaled = logits / temperature
    scaled = scaled - scaled.max(1, keepdims=True)            # the same softmax, without overflow
    exp = np.exp(scaled)
    return exp / exp.sum(1, keepdims=True)


def negative_log_likelihood(logits, labels, temperature: float = 1.0) -> float:
    """Mean −log softmax(logits / T)[label]: the cross-entropy that temperature scaling minimises."""
    logits, labels = _logits(logits), _array(labels, "labels", 1)
    _check_temperature(temperature)
    if len(logits) != len(labels):
        raise ValueError(f"logits has {len(logits)} rows but labels has {len(labels)} entries")
    if (labels != labels.round()).any():
        raise ValueError(f"labels must be class ids (integers), got {labels[labels != labels.round()][0]}")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(f"labels must lie in 0 … {logits.shape[1] - 1} for {logits.shape[1]} classes")
    labels = labels.astype(int)
    scaled = logits / temperature
    log_z = np.logaddexp.reduce(scaled, axis=1)               # log Σ_c exp(z_c / T)
    return float(np.mean(log_z - scaled[np.arange(len(labels)), labels]))


def fit_temperature(logits, labels, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature T that minimises the negative log-likelihood of (logits, labels) — fit it on
    validation, never on test. One parameter, found by a bounded search on log T (the NLL is smooth in it)."""
    from scipy.optimize import minimize_scalar

    low, high = bounds
    if not 0 < low < high:
        raise ValueError(f"bounds must be (low, high) with 0 < low < high (temperatures), got {bounds!r}")
    logits, labels = _logits(logits), _array(labels, "labels", 1)
    negative_log_likelihood(logits, labels)                   # checks the shapes and labels once
    result = minimize_scalar(lambda log_t: negative_log_likelihood(logits, labels, float(np.exp(log_t))),
                             bounds=tuple(np.log(bounds)), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(result.x))
