"""sftlab.course.exercises.ch07_qa: characters to a token span, SQuAD F1, the best-span search."""

import pytest
import torch
from exercise_checks import failure

from sftlab import qa
from sftlab.course import exercises
from sftlab.course.exercises import ch07_qa

# ---------------------------------------------------------------- char_to_token_span


def test_char_to_token_span_reference_uses_sftlab_qa(monkeypatch):
    assert "sftlab.qa.char_span_to_tokens" in exercises.get_exercise("char_to_token_span").see_also
    monkeypatch.setattr(qa, "char_span_to_tokens", lambda offsets, start, end: (7, 8))
    offsets, sequence_ids = ch07_qa._WINDOW
    assert exercises.char_to_token_span_solution(offsets, sequence_ids, 15, 26) == (7, 8)


def test_char_to_token_span_cases_read_as_the_window_says():
    answers = [exercises.char_to_token_span_solution(*case) for case in exercises.get_exercise(
        "char_to_token_span").cases()]
    assert answers == [(10, 11), (6, 6), (11, 11), (6, 6), (0, 0), (0, 0)]


@pytest.mark.parametrize("fn, diagnosis", [
    (ch07_qa._char_clipped, "you labelled that part"),
    (ch07_qa._char_any_sequence, "Keep to sequence id 1"),
    (ch07_qa._char_end_token_after, "end_char is exclusive"),
])
def test_char_to_token_span_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_char_to_token_span, fn)


def test_char_to_token_span_as_a_list_or_tensor_passes():
    assert exercises.check_char_to_token_span(lambda *a: list(exercises.char_to_token_span_solution(*a)))
    assert exercises.check_char_to_token_span(lambda *a: torch.tensor(exercises.char_to_token_span_solution(*a)))


# ---------------------------------------------------------------- squad_f1


def test_squad_f1_reference_equals_the_official_logic():
    from test_qa import official_f1_score, official_metric_max_over_ground_truths

    for prediction, truths in exercises.get_exercise("squad_f1").cases():
        assert exercises.squad_f1_solution(prediction, truths) == pytest.approx(
            official_metric_max_over_ground_truths(official_f1_score, prediction, truths))


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda p, truths: max(ch07_qa._plain_f1(p, t, normalise=False) for t in truths), "compared the raw words"),
    (lambda p, truths: ch07_qa._plain_f1(p, truths[0]), "first gold answer only"),
    (lambda p, truths: max(ch07_qa._plain_f1(p, t, multiset=False) for t in truths), "with multiplicity"),
    (lambda p, truths: max(float(p.lower() in t.lower() or t.lower() in p.lower()) for t in truths), "containment"),
])
def test_squad_f1_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_squad_f1, fn)


def test_squad_f1_returning_an_int_zero_is_fine():
    def f1(prediction, truths):
        score = exercises.squad_f1_solution(prediction, truths)
        return 0 if score == 0 else score

    assert exercises.check_squad_f1(f1)


# ---------------------------------------------------------------- best_span


def test_best_span_reference_equals_brute_force():
    for start, end, mask, n in exercises.get_exercise("best_span").cases():
        assert exercises.best_span_solution(start, end, mask, n) == ch07_qa._span_search(start, end, mask, n)


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda s, e, mask, n: (int(s.argmax()), int(e.argmax())), "the best start and the best end separately"),
    (lambda s, e, mask, n: ch07_qa._span_search(s, e, mask, n, context=False), "outside the context"),
    (lambda s, e, mask, n: ch07_qa._span_search(s, e, mask, n, order=False), "ends before it starts"),
    (lambda s, e, mask, n: ch07_qa._span_search(s, e, mask, n, length=False), "longer than max_answer_length"),
    (lambda s, e, mask, n: ch07_qa._span_search(s, e, mask, n + 1), "off by one in the length rule"),
])
def test_best_span_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_best_span, fn)


def test_every_mistake_differs_from_the_reference_on_some_case():
    for name in ("char_to_token_span", "squad_f1", "best_span"):
        exercise = exercises.get_exercise(name)
        for mistake in exercise.mistakes:
            assert any(mistake.reproduce(*case) != exercise.reference(*case) for case in exercise.cases()), \
                (name, mistake.explanation[:40])
