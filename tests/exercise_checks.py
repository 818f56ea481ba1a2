"""Helpers shared by the exercise tests (tests/test_exercises_ch*.py)."""

import pytest


def failure(check, fn):
    """The message a failing check gives (raise_on_failure=True turns it into an AssertionError)."""
    with pytest.raises(AssertionError) as info:
        check(fn, raise_on_failure=True)
    return str(info.value)
