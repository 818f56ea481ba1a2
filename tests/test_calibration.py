"""Reliability bins and ECE against scikit-learn and hand-computed cases; temperature scaling against a grid
search and a known temperature."""

import numpy as np
import pytest
import torch

from sftlab import calibration


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, size=500)
    correct = (rng.uniform(size=500) < confidence ** 2).astype(float)    # over-confident on purpose
    return confidence, correct


def test_bins_equal_scikit_learn_calibration_curve(scores):
    from sklearn.calibration import calibration_curve

    confidence, correct = scores
    for num_bins in (5, 10, 15):
        bins = calibration.reliability_bins(confidence, correct, num_bins)
        accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=num_bins, strategy="uniform")
        np.testing.assert_allclose(bins["accuracy"], accuracy, atol=1e-12)
        np.testing.assert_allclose(bins["confidence"], mean_confidence, atol=1e-12)
        assert bins["count"].sum() == len(confidence)


def test_a_value_on_an_edge_goes_to_the_lower_bin_as_in_scikit_learn():
    bins = calibration.reliability_bins([0.5, 0.5, 0.9], [1, 0, 1], num_bins=2)
    np.testing.assert_array_equal(bins["count"], [2, 1])


def test_ece_of_hand_computed_cases():
    # every prediction 80% sure, 60% right: the gap is 0.2 everywhere
    assert calibration.expected_calibration_error([0.8] * 5, [1, 1, 1, 0, 0]) == pytest.approx(0.2)
    # two bins: 4 × 0.95 with 2 right (gap 0.45), 6 × 0.65 with 4 right (gap |0.667 − 0.65|)
    confidence = [0.95] * 4 + [0.65] * 6
    correct = [1, 1, 0, 0] + [1, 1, 1, 1, 0, 0]
    expected = 0.4 * 0.45 + 0.6 * abs(4 / 6 - 0.65)
    assert calibration.expected_calibration_error(confidence, correct) == pytest.approx(expected)


def test_ece_equals_scikit_learns_bins_weighted_by_numpys_counts():
    """The oracle is the libraries': per-bin accuracy and confidence from scikit-learn, bin sizes from
    np.histogram (random scores never sit on an edge, where the two would disagree). Right 70% of the time
    whatever the confidence: under-confident in the low bins, over-confident in the high ones, so the gaps
    differ in sign and the number of bins matters."""
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(4)
    confidence = rng.uniform(0.4, 1.0, size=500)
    correct = (rng.uniform(size=500) < 0.7).astype(float)
    for num_bins in (5, 10, 15):
        accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=num_bins, strategy="uniform")
        counts, _ = np.histogram(confidence, bins=num_bins, range=(0.0, 1.0))
        counts = counts[counts > 0]                                       # calibration_curve drops empty bins
        expected = np.sum(counts / len(confidence) * np.abs(accuracy - mean_confidence))
        assert calibration.expected_calibration_error(confidence, correct, num_bins) == pytest.approx(expected)


def test_a_calibrated_model_has_a_small_ece():
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.5, 1.0, size=200_000)
    correct = (rng.uniform(size=confidence.size) < confidence).astype(float)   # right exactly as often as sure
    assert calibration.expected_calibration_error(confidence, correct) < 0.005


def test_top_label_reads_tensors_on_any_device_and_gives_confidence_and_correct():
    probabilities = torch.tensor([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    confidence, correct = calibration.top_label(probabilities, torch.tensor([0, 0, 0]))
    np.testing.assert_allclose(confidence, [0.9, 0.7, 0.6], atol=1e-7)
    np.testing.assert_array_equal(correct, [1, 0, 1])


def test_fitted_temperature_equals_a_grid_search():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(300, 3)) * 4
    labels = rng.integers(0, 3, size=300)
    fitted = calibration.fit_temperature(logits, labels)
    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 20001))
    best = grid[np.argmin([calibration.negative_log_likelihood(logits, labels, t) for t in grid])]
    assert fitted == pytest.approx(best, rel=1e-3)


def test_temperature_recovers_how_much_the_logits_were_scaled():
    """Labels drawn from softmax(z): z is calibrated, so logits 3·z need T = 3 to be calibrated again."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=(40_000, 2)) * 1.5
    p = calibration.softmax_with_temperature(z)
    labels = (rng.uniform(size=len(z)) < p[:, 1]).astype(int)
    assert calibration.fit_temperature(3 * z, labels) == pytest.approx(3.0, rel=0.05)


def test_temperature_changes_probabilities_not_predictions():
    logits = np.array([[2.0, -1.0], [0.2, 0.1], [-3.0, 1.0]])
    for t in (0.5, 1.0, 4.0):
        p = calibration.softmax_with_temperature(logits, t)
        np.testing.assert_allclose(p.sum(1), 1)
        np.testing.assert_array_equal(p.argmax(1), logits.argmax(1))
    reference = torch.softmax(torch.tensor(logits) / 4.0, dim=1).numpy()
    np.testing.assert_allclose(calibration.softmax_with_temperature(logits, 4.0), reference, atol=1e-12)


def test_nll_equals_torch_cross_entropy():
    logits = torch.randn(20, 4, generator=torch.Generator().manual_seed(5))
    labels = torch.randint(0, 4, (20,), generator=torch.Generator().manual_seed(6))
    expected = torch.nn.functional.cross_entropy(logits.double() / 2.0, labels).item()
    assert calibration.negative_log_likelihood(logits, labels, 2.0) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: calibration.reliability_bins([0.2, 1.5], [1, 0]), "probabilities in"),
    (lambda: calibration.reliability_bins([0.2, 0.5], [1, 0, 1]), "2 entries but correct has 3"),
    (lambda: calibration.reliability_bins([0.2, 0.5], [1, 2]), "0/1"),
    (lambda: calibration.reliability_bins([0.2], [1], num_bins=0), "num_bins"),
    (lambda: calibration.expected_calibration_error([], []), "empty"),
    (lambda: calibration.softmax_with_temperature([[1.0, 2.0]], 0), "temperature must be > 0"),
    (lambda: calibration.fit_temperature([[1.0, 2.0]], [2]), r"labels must lie in 0 … 1"),
    (lambda: calibration.fit_temperature([1.0, 2.0], [1, 0]), "2 dimension"),
    (lambda: calibration.top_label([[0.5, 0.5]], [0, 1]), "1 rows but labels has 2"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call, error, match", [
    (lambda: calibration.reliability_bins([0.2], [1], num_bins=True), ValueError,
     "num_bins must be a positive int, got True"),
    (lambda: calibration.reliability_bins([0.2, float("nan")], [1, 0]), ValueError,
     r"confidence holds nan at index \[1\]"),
    (lambda: calibration.softmax_with_temperature([[1.0, 2.0]], "2"), TypeError,
     "temperature must be a number > 0, got str '2'"),
    (lambda: calibration.softmax_with_temperature([[1.0, 2.0]], None), TypeError, "got NoneType None"),
    (lambda: calibration.negative_log_likelihood([[1.0, 2.0]], [1], 0), ValueError, "temperature must be > 0, got 0"),
    (lambda: calibration.negative_log_likelihood([[1.0, 2.0]], [0.7]), ValueError,
     "labels must be class ids .*got 0.7"),
    (lambda: calibration.fit_temperature([[0.2, 0.8], [0.6, 0.4]], [1, 0]), ValueError,
     r"logits look like probabilities .*np.log\(probabilities\)"),
    (lambda: calibration.fit_temperature([[1.0, 2.0]], [1], bounds=(0, 10)), ValueError,
     r"bounds must be \(low, high\) with 0 < low < high .*got \(0, 10\)"),
])
def test_wrong_types_and_probabilities_for_logits_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
