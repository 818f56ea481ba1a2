"""sftlab.course.exercises.framework: every check accepts its reference; failures are reported in words."""

import pytest
import torch

from sftlab.course import exercises


def failure(check, fn):
    """The message a failing check gives (raise_on_failure=True turns it into an AssertionError)."""
    with pytest.raises(AssertionError) as info:
        check(fn, raise_on_failure=True)
    return str(info.value)


@pytest.mark.parametrize("name", sorted(exercises.EXERCISES))
def test_each_check_accepts_the_reference(name, capsys):
    check = getattr(exercises, f"check_{name}")
    reference = exercises.get_exercise(name).reference
    assert check(reference) is True
    assert capsys.readouterr().out.startswith(f"✓ {name}: your function matches the reference on all")


# ---------------------------------------------------------------- the framework

def test_failure_prints_and_returns_false_without_raising(capsys):
    assert exercises.check_softmax(lambda x: torch.softmax(x, dim=0)) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ softmax: case 2 of 4, x = tensor of shape (3, 3), torch.float32\n")


def test_not_attempted_prints_the_hint_and_returns_none(capsys):
    def softmax(x):
        raise NotImplementedError("your code here")

    assert exercises.check_softmax(softmax, raise_on_failure=True) is None
    out = capsys.readouterr().out
    assert out.startswith("softmax: not attempted yet.")
    assert "hint: exp(x_i) / Σ_j exp(x_j)" in out and "run show_solution('softmax') to see a solution" in out


def test_an_exception_in_the_learners_function_is_reported_with_its_case(capsys):
    def cosine_similarity(a, b):
        return a @ b.unsqueeze(0)

    assert exercises.check_cosine_similarity(cosine_similarity) is False
    out = capsys.readouterr().out
    assert "case 1 of 3, a = tensor([1., 2., 3.]), b = tensor([4., 5., 6.])" in out
    assert "your function raised RuntimeError: " in out


def test_an_exception_in_the_learners_function_shows_their_traceback_not_the_checks(capsys):
    def normalise(v):
        return v / v.norm(dim=1)                     # the bug: dim=1 on a 1-D tensor

    def cosine_similarity(a, b):
        return (normalise(a) * normalise(b)).sum()

    assert exercises.check_cosine_similarity(cosine_similarity) is False
    out = capsys.readouterr().out
    assert "your function raised IndexError: " in out
    assert "The exception came from your code, not from the check; its traceback (most recent call last):" in out
    assert "in cosine_similarity\n      return (normalise(a) * normalise(b)).sum()" in out
    assert "in normalise\n      return v / v.norm(dim=1)" in out
    assert "sftlab/course/exercises/framework.py" not in out      # the check's own frames are left out


def test_a_not_implemented_error_from_deeper_down_is_a_failure_not_an_unattempted_exercise(capsys):
    def library_call(x):
        raise NotImplementedError("this operation has no kernel for this dtype")

    def softmax(x):
        return library_call(x)

    assert exercises.check_softmax(softmax) is False
    out = capsys.readouterr().out
    assert "your function raised NotImplementedError: this operation has no kernel" in out
    assert "not attempted" not in out and "in library_call" in out


def test_check_wants_the_function_itself():
    message = failure(exercises.check_softmax, torch.ones(3))
    assert "pass your function itself, like check_softmax(softmax), not a Tensor" in message


def test_show_solution_and_list_exercises(capsys):
    exercises.show_solution("softmax")
    assert capsys.readouterr().out.startswith("def softmax_solution(x):")
    assert {"softmax", "cosine_similarity", "embedding_lookup"} <= set(exercises.list_exercises())
    with pytest.raises(ValueError, match=r"no exercise 'softmx'; known exercises: \[.*'cosine_similarity'"):
        exercises.show_solution("softmx")


def test_a_new_exercise_takes_a_few_lines(capsys):
    def double_solution(x):
        return 2 * x

    exercises.register(exercises.Exercise(
        name="double", task="double(x): 2x", hint="multiply by 2", reference=double_solution,
        cases=lambda: [(torch.arange(4.0),)],
        mistakes=[exercises.Mistake(lambda x: x + 1, "off by one: you added 1 instead of doubling")],
    ))
    try:
        message = failure(lambda fn, **kw: exercises.check("double", fn, **kw), lambda x: x + 1)
        assert "max abs error 2 at index (3,) (expected 6, got 4)" in message
        assert "diagnosis: off by one" in message
    finally:
        del exercises.EXERCISES["double"]


def test_an_answer_in_parts_is_compared_part_by_part(capsys):
    def split_solution(x):
        return x.min(), x.max()

    exercises.register(exercises.Exercise(
        name="split", task="split(x): (min, max)", hint="x.min(), x.max()", reference=split_solution,
        cases=lambda: [(torch.arange(4.0),)], parts=("low", "high"),
        mistakes=[exercises.Mistake(lambda x: (x.min(), x.sum()), "the high part is the max, not the sum")],
    ))
    def check(fn, **kw):
        return exercises.check("split", fn, **kw)

    try:
        assert check(lambda x: (x.min().item(), x.max())) is True, "a number stands for a 0-dim tensor"
        message = failure(check, lambda x: (x.min(), x.sum()))
        assert "high: numerical mismatch: max abs error 3 (expected 3, got 6)" in message
        assert "diagnosis: the high part is the max, not the sum" in message
        assert "expected a tuple of 2 (low, high), got Tensor" in failure(check, lambda x: x.max())
    finally:
        del exercises.EXERCISES["split"]
