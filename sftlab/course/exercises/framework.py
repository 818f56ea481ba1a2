"""The exercise framework: an Exercise (task, hint, reference, cases, typical mistakes), a registry, and check().

check() runs the learner's function and the reference on every case and stops at the first case where they
differ, saying how (not a tensor, wrong shape, wrong dtype, nan/inf, or the largest error and where it is); if the
learner's output equals a known mistake's output on that case, it also names the mistake. An exception from the
learner's function is shown with the traceback of their own code; only the stub's `raise NotImplementedError`
means "not attempted yet". The chapters'
exercises live next door (ch01_embeddings.py, …); sftlab/course/exercises/__init__.py says how to add one.

Shapes: the package legend (sftlab/__init__.py).
"""

import functools
import importlib
import inspect
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: code that reproduces it and what to tell the learner."""

    reproduce: Callable     # takes the case's inputs, returns what the mistaken code returns (or raises)
    explanation: str        # what went wrong and how to fix it, said to the learner


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: task, hint, reference solution, test cases and typical mistakes."""

    name: str
    task: str               # one line: what to write
    hint: str
    reference: Callable     # the solution; show_solution prints its source
    cases: Callable         # () -> list of input tuples; built on demand so torch is imported late
    mistakes: list = field(default_factory=list)   # Mistake, most specific first
    atol: float = 1e-5      # 0 means the output must equal the reference exactly
    answers_as_tensors: bool = False   # answers are lists of ids or numbers: compare them as tensors
    text_answers: bool = False   # answers are strings: compare them character by character (as code tensors)
    see_also: tuple = ()    # dotted names of library functions the reference calls; show_solution prints them too
    parts: tuple = ()       # names of the answer's parts when it is a tuple, e.g. ("chosen_rewards", "accuracy")


EXERCISES: dict[str, Exercise] = {}


def register(exercise) -> Exercise:
    """Add an exercise so that check(), show_solution() and list_exercises() know it."""
    EXERCISES[exercise.name] = exercise
    return exercise


def get_exercise(name) -> Exercise:
    """The exercise called `name`; ValueError listing the known names otherwise."""
    if name not in EXERCISES:
        raise ValueError(f"no exercise {name!r}; known exercises: {sorted(EXERCISES)}")
    return EXERCISES[name]


def list_exercises() -> dict:
    """Every exercise's name and one-line task."""
    return {name: exercise.task for name, exercise in EXERCISES.items()}


def show_solution(name) -> None:
    """Print the reference solution's source, then that of the library functions it calls (see_also)."""
    exercise = get_exercise(name)
    print(inspect.getsource(exercise.reference))
    for dotted in exercise.see_also:
        module, _, function = dotted.rpartition(".")
        print(f"# {dotted}\n{inspect.getsource(getattr(importlib.import_module(module), function))}")


def check(name, fn, raise_on_failure=False) -> bool | None:
    """Run `fn` on every case of exercise `name`; True (✓), False with a diagnosis, None if not attempted."""
    exercise = get_exercise(name)
    if not callable(fn):
        return _fail(f"✗ {name}: pass your function itself, like check_{name}({name}), "
                     f"not a {type(fn).__name__}", raise_on_failure)
    learners_fn = fn
    fn = _answer(exercise, fn)
    cases = exercise.cases()
    for number, inputs in enumerate(cases, 1):
        try:
            problem = _case_problem(exercise, fn, inputs)
        except NotImplementedError as error:
            if _raised_by(error, learners_fn):         # the stub's own `raise NotImplementedError`
                print(f"{name}: not attempted yet.\n  task: {exercise.task}\n  hint: {exercise.hint}\n"
                      f"  run show_solution('{name}') to see a solution")
                return None
            problem = _raised_problem(exercise, inputs, error)   # one from a library is a real error
        if problem:
            where = f"✗ {name}: case {number} of {len(cases)}, {_describe(exercise, inputs)}"
            return _fail(f"{where}\n{problem}", raise_on_failure)
    print(f"✓ {name}: your function matches the reference on all {len(cases)} cases")
    return True


def _case_problem(exercise, fn, inputs):
    """What is wrong with `fn` on one case (and the known mistake that explains it); None if right."""
    expected = _answer(exercise, exercise.reference)(*_copy(inputs))
    given = _copy(inputs)
    try:
        got = fn(*given)
    except NotImplementedError:
        raise
    except Exception as error:  # the learner's bug: said in words, with the lines of their code it came from
        return _raised_problem(exercise, inputs, error)
    changed = _changed_input(exercise, inputs, given)
    if changed:
        return f"  {changed}"
    problem = _difference(got, expected, exercise.atol, text=exercise.text_answers, parts=exercise.parts)
    if problem is None:
        return None
    diagnosis = _diagnose(exercise, inputs, got, expected)
    return f"  {problem}" + (f"\n  diagnosis: {diagnosis}" if diagnosis else "")


LIBRARY_FOLDERS = ("site-packages", "dist-packages")   # where pip (and Colab) install torch and friends


def _raised_problem(exercise, inputs, error):
    """An exception from the learner's function, in words: its type and message, that it came from their code,
    the traceback of their frames (the check's own are left out), and the known mistake it matches, if any."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename != __file__]
    # Their frames and the library call they made; the library's own frames below that would only add noise.
    theirs = [i for i, frame in enumerate(frames) if not any(p in frame.filename for p in LIBRARY_FOLDERS)]
    shown = frames[:theirs[-1] + 2] if theirs else frames
    where = "".join(traceback.format_list(shown)).rstrip()
    hidden = f"\n    … {len(frames) - len(shown)} more frame(s) inside the library" if len(shown) < len(frames) else ""
    problem = (f"  your function raised {type(error).__name__}: {error}\n"
               f"  The exception came from your code, not from the check; its traceback (most recent call last):\n"
               + "\n".join("  " + line for line in where.splitlines()) + hidden)
    expected = _answer(exercise, exercise.reference)(*_copy(inputs))
    diagnosis = _diagnose(exercise, inputs, error, expected)
    return problem + (f"\n  diagnosis: {diagnosis}" if diagnosis else "")


def _raised_by(error, fn) -> bool:
    """Whether `error` is the stub's own `raise NotImplementedError` in fn's body, not one from a library (a torch
    operation it does not implement raises one too, from C, so the line that raised is what tells them apart)."""
    code = getattr(inspect.unwrap(fn), "__code__", None)
    frames = traceback.extract_tb(error.__traceback__)
    if code is None or not frames:
        return True
    innermost = frames[-1]
    in_fn = (innermost.filename, innermost.name) == (code.co_filename, code.co_name)
    return in_fn and (not innermost.line or "NotImplementedError" in innermost.line)


def _fail(message, raise_on_failure):
    if raise_on_failure:
        raise AssertionError(message)
    print(message)
    return False


def _copy(inputs):
    """Fresh copies of a case's tensors, so no function sees another's in-place changes."""
    return tuple(x.clone() if hasattr(x, "clone") else x for x in inputs)


def _changed_input(exercise, inputs, given):
    """Which input the learner's function modified in place, in words; None if none."""
    import torch

    for name, before, after in zip(_arg_names(exercise), inputs, given, strict=True):
        if isinstance(before, torch.Tensor) and not torch.equal(before, after):
            return f"your function changed its input {name} in place (`{name} -= ...`?); work on a new tensor"
    return None


def _difference(got, expected, atol, text=False, parts=()):
    """How `got` differs from `expected` (a tensor; character codes when text=True; a tuple of them, its parts
    named by `parts`), in words; None when it matches within `atol`."""
    import torch

    if isinstance(expected, tuple):
        return _parts_difference(got, expected, atol, parts)
    if text and not isinstance(got, torch.Tensor):
        return f"expected the answer as one string, got {type(got).__name__} {got!r:.40}"

    if isinstance(expected, int) and not isinstance(expected, bool):  # exercises whose answer is a count
        if isinstance(got, torch.Tensor) and got.numel() == 1 and not got.is_floating_point():
            got = int(got)
        if not isinstance(got, int) or isinstance(got, bool):
            return f"expected an int, got {type(got).__name__} {got!r:.40}"
        return None if got == expected else f"expected {expected:,}, got {got:,} (off by {got - expected:+,})"
    if not isinstance(got, torch.Tensor):
        extra = " (return the tensor itself; drop .item())" if isinstance(got, (int, float)) else ""
        return f"expected a torch.Tensor, got {type(got).__name__} {got!r:.40}{extra}"
    if got.shape != expected.shape:
        return f"wrong shape: expected {tuple(expected.shape)}, got {tuple(got.shape)}"
    if got.dtype != expected.dtype:
        return f"wrong dtype: expected {expected.dtype}, got {got.dtype}"
    broken = ~torch.isfinite(got) & torch.isfinite(expected)
    if broken.any():
        where = _index(broken.int().argmax(), got.shape)
        why = "-inf comes from a mask or from log(0)" if got[where] == float("-inf") else \
            "nan or inf usually means something overflowed"
        return (f"your output has {got[where].item()} at index {where} where the reference has "
                f"{expected[where].item():.4g}: {why}")
    if torch.allclose(got, expected, rtol=0, atol=atol, equal_nan=True):
        return None
    error = (got.double() - expected.double()).abs().nan_to_num(nan=float("inf"), posinf=float("inf"))
    error = error.masked_fill((got == expected) | (got.isnan() & expected.isnan()), 0)   # equal infinities: no error
    where = _index(error.argmax(), got.shape)
    at = f" at index {where}" if where else ""  # a 0-dim tensor has no index
    digits = 6 if error[where] > 1e-4 else 9    # enough digits to see a tiny difference
    exactly = " (this exercise must match exactly)" if atol == 0 else ""
    return (f"numerical mismatch: max abs error {error[where].item():.4g}{at}{exactly} "
            f"(expected {expected[where].item():.{digits}g}, got {got[where].item():.{digits}g})")


def _parts_difference(got, expected, atol, parts=()):
    """How an answer in parts (a tuple of tensors) differs from the reference's, at its first wrong part; a number
    where the reference has a 0-dim tensor counts as that tensor (`.item()` is fine there)."""
    import torch

    names = parts or tuple(f"part {i}" for i in range(len(expected)))
    if not isinstance(got, (tuple, list)) or len(got) != len(expected):
        what = f"{type(got).__name__} of {len(got)}" if isinstance(got, (tuple, list)) else type(got).__name__
        return f"expected a tuple of {len(expected)} ({', '.join(names)}), got {what}"
    for name, mine, theirs in zip(names, got, expected, strict=True):
        if isinstance(mine, (int, float)) and not isinstance(mine, bool) and isinstance(theirs, torch.Tensor) \
                and theirs.dim() == 0:
            mine = torch.tensor(float(mine), dtype=theirs.dtype)
        problem = _difference(mine, theirs, atol)
        if problem:
            return f"{name}: {problem}"
    return None


def _index(flat, shape):
    import torch

    return tuple(int(i) for i in torch.unravel_index(flat, shape))


def _diagnose(exercise, inputs, got, expected):
    """The explanation of the first known mistake that goes wrong here exactly as the learner's did."""
    for mistake in exercise.mistakes:
        try:
            theirs = _answer(exercise, mistake.reproduce)(*_copy(inputs))
        except Exception as error:  # a mistake may be one that raises
            theirs = error
        if _same(got, theirs) and not _same(theirs, expected):
            return mistake.explanation
    return None


def _same(a, b):
    """Both the same error (type and message), or tensors equal within a small tolerance."""
    if isinstance(a, Exception) or isinstance(b, Exception):
        return type(a) is type(b) and str(a) == str(b)
    return _difference(a, b, atol=1e-6) is None


def _arg_names(exercise):
    return list(inspect.signature(exercise.reference).parameters)


def _describe(exercise, inputs):
    """The case's inputs in a line: small tensors in full, larger ones by shape and dtype."""
    import torch

    def one(x):
        if isinstance(x, torch.Tensor) and x.numel() > 8:
            return f"tensor of shape {tuple(x.shape)}, {x.dtype}"
        return " ".join(repr(x).split())

    return ", ".join(f"{name} = {one(x)}" for name, x in zip(_arg_names(exercise), inputs, strict=True))


def _tensor_answer(fn, text: bool = False):
    """fn with its answer as a tensor, so the checks can compare it: a list of label ids becomes a long tensor,
    a number a float32 0-dim tensor; anything else passes unchanged (and the check says what it got). With
    text=True the answer must be a string, compared as the long tensor of its character codes."""
    import torch

    @functools.wraps(fn)
    def wrapped(*args):
        answer = fn(*args)
        if text:    # a string becomes its character codes; anything else stays, and the check names it
            return torch.tensor([ord(c) for c in answer], dtype=torch.long) if isinstance(answer, str) else answer
        if isinstance(answer, (list, tuple)) and all(isinstance(x, int) and not isinstance(x, bool) for x in answer):
            return torch.tensor(list(answer), dtype=torch.long)
        if isinstance(answer, (int, float)) and not isinstance(answer, bool):
            return torch.tensor(float(answer))
        return answer
    return wrapped


def _answer(exercise, fn):
    """fn as check() compares it: with its answer as a tensor if the exercise says so (lists, numbers, text)."""
    if exercise.answers_as_tensors or exercise.text_answers:
        return _tensor_answer(fn, text=exercise.text_answers)
    return fn
