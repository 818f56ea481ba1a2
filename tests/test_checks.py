"""sftlab.course.checks: a ✓ is printed only when the check holds; otherwise an AssertionError names both values."""

import numpy as np
import pytest
import torch

from sftlab import stats
from sftlab.course import checks


def test_same_prints_the_difference_and_returns_it(capsys):
    assert checks.same(torch.ones(2, 3), torch.ones(2, 3) + 1e-6, atol=1e-5, what="ours vs torch") < 1e-5
    assert "✓ ours vs torch: max |difference|" in capsys.readouterr().out


def test_same_fails_with_both_values_and_the_place():
    with pytest.raises(AssertionError, match=r"ours vs torch: max \|difference\| 0.5 > 1e-06 at index \(1, 2\) "
                                             r"\(actual 1.5, expected 1\)"):
        checks.same(torch.tensor([[1.0, 1, 1], [1, 1, 1.5]]), torch.ones(2, 3), atol=1e-6, what="ours vs torch")
    with pytest.raises(AssertionError, match=r"shapes differ, \(3,\) vs \(2,\)"):
        checks.same([1, 2, 3], [1, 2])
    with pytest.raises(AssertionError, match="difference nan"):
        checks.same([float("nan")], [1.0], atol=1)


def test_same_compares_tokens_and_text_exactly(capsys):
    checks.same(["a", "b"], ["a", "b"], what="tokens")
    assert "✓ tokens: identical" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="tokens: not the same"):
        checks.same(["a", "b"], ["a", "c"], what="tokens")
    assert checks.same(torch.tensor([1, 2]), np.array([1, 2]), what="ids") == 0.0   # a tensor and an array
    assert "✓ ids: identical" in capsys.readouterr().out
    with pytest.raises(AssertionError, match=r"ids: max \|difference\| 1 > 0 at index \(1,\)"):
        checks.same(torch.tensor([1, 2]), np.array([1, 3]), what="ids")


def test_bounds_and_claims(capsys):
    assert checks.at_least(0.86, 0.85, what="accuracy") == 0.86
    assert checks.at_most(3, 5, what="seconds") == 3
    checks.holds(True, "LoRA trains fewer parameters", "0.5% of the model")
    out = capsys.readouterr().out
    assert "✓ accuracy: 0.86 ≥ 0.85" in out and "✓ seconds: 3 ≤ 5" in out and "(0.5% of the model)" in out
    with pytest.raises(AssertionError, match="accuracy: 0.84 is below 0.85"):
        checks.at_least(0.84, 0.85, what="accuracy")
    with pytest.raises(AssertionError, match="seconds: 6 is above 5"):
        checks.at_most(6, 5, what="seconds")
    with pytest.raises(AssertionError, match=r"warmup helps: does not hold \(0.80 vs 0.81\)"):
        checks.holds(False, "warmup helps", "0.80 vs 0.81")


def test_a_failed_check_prints_no_tick(capsys):
    with pytest.raises(AssertionError):
        checks.at_least(0.1, 0.5)
    assert "✓" not in capsys.readouterr().out


def test_intervals():
    mean, low, high = stats.mean_and_interval([0.80, 0.82, 0.84])
    assert mean == pytest.approx(0.82) and low < 0.80 and high > 0.84
    with pytest.raises(ValueError, match="at least 2 runs"):
        stats.mean_and_interval([0.8])
    mean, low, high = stats.bootstrap_interval([1] * 80 + [0] * 20)
    assert mean == pytest.approx(0.8) and 0.7 < low < 0.8 < high < 0.9


def test_detectable_difference_shrinks_with_more_examples_and_names_bad_input():
    rng = np.random.default_rng(0)
    a, b = rng.random(400) < 0.8, rng.random(400) < 0.7
    mde = stats.detectable_difference(a, b)
    # (1.96 + 0.84) · sd(a − b) / √n, written out
    assert mde == pytest.approx(2.8016 * (a.astype(float) - b).std(ddof=1) / 20, rel=1e-3)
    assert stats.detectable_difference(np.tile(a, 4), np.tile(b, 4)) == pytest.approx(mde / 2, rel=0.01)
    with pytest.raises(ValueError, match="one value per example"):
        stats.detectable_difference(a, b[:10])
    with pytest.raises(ValueError, match="alpha and power"):
        stats.detectable_difference(a, b, power=80)


def _on_the_standin(monkeypatch, tmp_path, on: bool, profile: str = "full"):
    from sftlab.course import profiles

    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(profiles.ENV_VAR, profile)
    profiles._resolve.cache_clear()
    if on:
        (tmp_path / profiles.STANDIN_MARKER).write_text("{}")


def test_a_finding_is_reported_not_raised_only_on_the_hub_standin(monkeypatch, tmp_path, capsys):
    _on_the_standin(monkeypatch, tmp_path, on=True)
    assert checks.at_least(0.1, 0.5, what="F1", finding=True) == 0.1
    assert checks.at_most(9, 5, what="seconds", finding=True) == 9
    assert checks.holds(False, "SFT beats prompting", "0.1 vs 0.2", finding=True) is False
    out = capsys.readouterr().out
    assert "✓" not in out and out.count("· not asserted on the hub stand-in") == 3
    assert "F1: 0.1 is below 0.5" in out and "SFT beats prompting: does not hold (0.1 vs 0.2)" in out
    with pytest.raises(AssertionError, match="mask"):          # a verification of code raises even there
        checks.holds(False, "the mask removes the prompt")
    with pytest.raises(AssertionError):
        checks.same([1.0], [2.0], atol=0.1)


@pytest.mark.parametrize("on, profile", [(False, "full"), (True, "offline")],
                         ids=["a filled cache of real models", "offline beside the stand-in"])
def test_a_finding_raises_everywhere_else(monkeypatch, tmp_path, on, profile):
    _on_the_standin(monkeypatch, tmp_path, on=on, profile=profile)
    for check in (lambda: checks.at_least(0.1, 0.5, finding=True), lambda: checks.at_most(9, 5, finding=True),
                  lambda: checks.holds(False, "x", finding=True)):
        with pytest.raises(AssertionError):
            check()
