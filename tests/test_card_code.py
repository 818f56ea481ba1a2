"""Every `code` field of the interview bank runs as it stands.

A card's snippet is what a learner copies into a fresh cell, so it must bring its own imports and its own small
inputs (a tiny random model, a handful of tensors) and finish without an error. Each snippet runs here in a fresh
namespace, with its printed output captured; a failure names the card and the line of the snippet.
"""

import contextlib
import io
import traceback

import pytest

from sftlab.course import quiz

CARDS_WITH_CODE = [q for q in quiz.load_bank() if q.code]


def run_snippet(card):
    """Execute the card's code in a fresh namespace; (printed output, None) or (output, formatted error)."""
    printed = io.StringIO()
    namespace = {"__name__": f"card_{card.id.replace('-', '_')}"}
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(card.code, f"<card {card.id}>", "exec"), namespace)
    except Exception:
        return printed.getvalue(), traceback.format_exc(limit=-3)
    return printed.getvalue(), None


def test_there_are_snippets_to_run():
    assert len(CARDS_WITH_CODE) >= 20, f"only {len(CARDS_WITH_CODE)} cards carry code"


@pytest.mark.parametrize("card", CARDS_WITH_CODE, ids=[q.id for q in CARDS_WITH_CODE])
def test_card_code_runs_as_it_stands(card, offline):
    printed, error = run_snippet(card)
    assert error is None, f"{card.id}: its code fails when run on its own:\n{error}"


def test_the_runner_reports_a_snippet_that_needs_outside_names():
    """The check can fail: a snippet that uses a name it never defines (the old calibration card's `softmax`)."""
    broken = quiz.Question("x-broken", "00", "t", 1, (), {"en": "q", "zh": "问"}, {"en": "a", "zh": "答"},
                           code="import numpy as np\nprint(softmax(np.zeros(2)))\n")
    _, error = run_snippet(broken)
    assert error is not None and "NameError: name 'softmax' is not defined" in error
    fine = quiz.Question("x-fine", "00", "t", 1, (), {"en": "q", "zh": "问"}, {"en": "a", "zh": "答"},
                         code="print(1 + 1)\n")
    assert run_snippet(fine) == ("2\n", None)
