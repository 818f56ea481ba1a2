"""Checks a notebook shows: each prints one ✓ line when it holds and raises AssertionError when it does not.

    same(ours, torch_reference, atol=1e-6, what="our attention vs F.scaled_dot_product_attention")
    at_least(test_accuracy, 0.85, what="test accuracy, mean of 3 seeds")
    at_most(seconds, 60, what="training time (s)")
    holds(predictions_flip > 0, what="removing 'not' flips predictions", detail=f"{predictions_flip} flipped")

A ✓ that is only printed proves nothing: CI would pass with a ✗. These raise instead, so a notebook run (and
nbval in CI) fails the moment a verification or a stated target stops holding, and the message names both
values.

Two kinds of check. A verification of code (ours equals the library's; a mask removes what it should) holds
whatever the weights. A finding (finding=True: a fine-tuned model beats a baseline, a speed-up, a pre-trained
model's behaviour) depends on real pre-trained weights. On the test stand-in of the hub (profiles.on_standin():
the full profile on tiny random models under the real names) a finding that does not hold is reported on a "·"
line instead of raised: there the numbers are meaningless and only the code paths are under test. Everywhere
else both kinds raise.
"""

import numpy as np

MARK = "✓"


def _as_array(value) -> np.ndarray:
    """A tensor (any device, dtype or autograd state), array, list or number as a float64 numpy array."""
    try:
        import torch

        if isinstance(value, torch.Tensor):
            value = value.detach().cpu()
            value = value.double() if value.is_floating_point() or value.dtype == torch.bool else value
            value = value.numpy()
    except ImportError:   # torch is a dependency; this only keeps the module importable without it
        pass
    return np.asarray(value, dtype=np.float64) if not isinstance(value, str) else np.asarray(value)


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def same(actual, expected, atol: float = 0.0, what: str = "values") -> float:
    """Assert that actual equals expected (same shape; |difference| ≤ atol everywhere; exact when atol=0);
    print the ✓ line with the largest difference and return it. Works on tensors, arrays, lists, numbers and
    (with atol=0) any values == can compare, such as token lists or strings."""
    if atol == 0 and not _numeric(actual, expected):
        if actual != expected:
            raise AssertionError(f"{what}: not the same\n  actual:   {actual!r}\n  expected: {expected!r}")
        print(f"{MARK} {what}: identical")
        return 0.0
    a, e = _as_array(actual), _as_array(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{what}: shapes differ, {a.shape} vs {e.shape}")
    if a.size == 0:
        print(f"{MARK} {what}: identical (both empty)")
        return 0.0
    difference = np.abs(a - e)
    if np.isnan(difference).any():          # a nan (or inf - inf) anywhere: say where the first one is
        where = np.unravel_index(int(np.flatnonzero(np.isnan(difference))[0]), a.shape) if a.ndim else ()
        raise AssertionError(f"{what}: difference nan at index {tuple(map(int, where))} "
                             f"(actual {a[where]:.6g}, expected {e[where]:.6g})")
    largest = float(difference.max())
    if largest > atol:
        where = np.unravel_index(int(difference.argmax()), a.shape) if a.ndim else ()
        raise AssertionError(f"{what}: max |difference| {largest:.3g} > {atol:g} at index {tuple(map(int, where))} "
                             f"(actual {a[where]:.6g}, expected {e[where]:.6g})")
    print(f"{MARK} {what}: " + ("identical" if largest == 0 else f"max |difference| {largest:.1e} ≤ {atol:g}"))
    return largest


def _numeric(*values) -> bool:
    try:
        return all(_as_array(v).dtype.kind in "biuf" for v in values)
    except (TypeError, ValueError):
        return False


STANDIN_MARK = "·"


def _fail(message: str, finding: bool) -> None:
    """Raise AssertionError(message) — unless this is a finding on the hub stand-in, where it is reported."""
    from sftlab.course.profiles import on_standin

    if finding and on_standin():
        print(f"{STANDIN_MARK} not asserted on the hub stand-in (tiny random weights): {message}")
        return
    raise AssertionError(message)


def at_least(value, bound, what: str = "value", finding: bool = False):
    """Assert value ≥ bound (a stated target or a floor) and print the ✓ line; returns value.
    finding=True: a result of real pre-trained weights (module docstring)."""
    if not value >= bound:
        _fail(f"{what}: {_number(value)} is below {_number(bound)}", finding)
        return value
    print(f"{MARK} {what}: {_number(value)} ≥ {_number(bound)}")
    return value


def at_most(value, bound, what: str = "value", finding: bool = False):
    """Assert value ≤ bound (a budget or a ceiling) and print the ✓ line; returns value.
    finding=True: a result of real pre-trained weights or of this machine (module docstring)."""
    if not value <= bound:
        _fail(f"{what}: {_number(value)} is above {_number(bound)}", finding)
        return value
    print(f"{MARK} {what}: {_number(value)} ≤ {_number(bound)}")
    return value


def holds(condition, what: str, detail: str = "", finding: bool = False) -> bool:
    """Assert a claim the prose makes (a comparison, an ordering, an interval that excludes another) and print
    the ✓ line; `detail` says what was measured, in the message either way. Returns whether it held.
    finding=True: a result of real pre-trained weights (module docstring)."""
    if not bool(condition):
        _fail(f"{what}: does not hold" + (f" ({detail})" if detail else ""), finding)
        return False
    print(f"{MARK} {what}" + (f" ({detail})" if detail else ""))
    return True
