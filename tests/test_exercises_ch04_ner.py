"""sftlab.course.exercises.ch04_ner: label alignment, entity F1, constrained decoding."""

import pytest
import torch
from exercise_checks import failure

from sftlab.course import exercises
from sftlab.course.exercises import ch04_ner


def test_align_labels_reference_equals_sftlab_ner():
    from sftlab.ner import align_labels

    for word_ids, word_labels in exercises.get_exercise("align_labels").cases():
        assert exercises.align_labels_solution(word_ids, word_labels) == align_labels(word_ids, word_labels)
    assert exercises.check_align_labels(lambda word_ids, word_labels: align_labels(word_ids, word_labels))


@pytest.mark.parametrize("fn, diagnosis", [
    (ch04_ner._align_by_position, "the t-th word's label to the t-th token"),
    (ch04_ner._align_every_piece, "copied the word's label onto every sub-token"),
    (ch04_ner._align_specials_as_o, "special tokens ([CLS], [SEP], padding: word id None) got label 0"),
    (ch04_ner._align_last_piece, "*last* sub-token"),
])
def test_align_labels_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_align_labels, fn)


def test_align_labels_answers_as_tensors_and_wrong_lengths():
    assert exercises.check_align_labels(lambda w, labels: torch.tensor(exercises.align_labels_solution(w, labels)))
    message = failure(exercises.check_align_labels, lambda w, labels: exercises.align_labels_solution(w, labels)[1:])
    assert "wrong shape: expected (10,), got (9,)" in message


def test_entity_f1_reference_equals_seqeval():
    from seqeval.metrics import f1_score

    for true, pred in exercises.get_exercise("entity_f1").cases():
        assert exercises.entity_f1_solution(true, pred) == pytest.approx(f1_score(true, pred, zero_division=0))
    assert exercises.check_entity_f1(lambda true, pred: __import__("seqeval.metrics").metrics.f1_score(true, pred))


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda t, p: sum(a == b for x, y in zip(t, p, strict=True) for a, b in zip(x, y, strict=True))
     / sum(map(len, t)), "token accuracy"),
    (ch04_ner._tags_f1, "you scored tags word by word"),
    (lambda t, p: ch04_ner._entity_f1_variant(t, p, overlap=True), "overlaps a gold entity"),
    (lambda t, p: ch04_ner._entity_f1_variant(t, p, key=lambda e: (e[0], *e[2:])), "you ignored the entity type"),
    (lambda t, p: ch04_ner._entity_f1_variant(t, p, stray_opens=False), "must open an entity"),
])
def test_entity_f1_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_entity_f1, fn)


def test_entity_f1_as_a_tensor_or_an_int_is_accepted_or_explained():
    assert exercises.check_entity_f1(lambda t, p: torch.tensor(exercises.entity_f1_solution(t, p)))
    assert "expected a torch.Tensor, got str" in failure(exercises.check_entity_f1, lambda t, p: "0.5")


def test_constrained_decode_reference_equals_sftlab_ner():
    from sftlab.ner import bio_viterbi

    for log_probs, names in exercises.get_exercise("constrained_decode").cases():
        assert exercises.constrained_decode_solution(log_probs, names) == bio_viterbi(log_probs, names)
    assert exercises.check_constrained_decode(bio_viterbi)


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda lp, names: lp.argmax(-1).tolist(), "each word's argmax"),
    (ch04_ner._greedy_constrained, "(greedy)"),
    (ch04_ner._repair_argmax, "turning each stray I-X into B-X"),
    (lambda lp, names: ch04_ner._viterbi_variant(lp, names, start_rule=False), "cannot start with I-X"),
    (lambda lp, names: ch04_ner._viterbi_variant(lp, names, same_type=False), "of the *same* type"),
])
def test_constrained_decode_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_constrained_decode, fn)


def test_constrained_decode_returning_a_tensor_passes():
    def as_tensor(log_probs, names):
        return torch.tensor(exercises.constrained_decode_solution(log_probs, names))

    assert exercises.check_constrained_decode(as_tensor)


# ---------------------------------------------------------------- one copy of Viterbi and of BIO parsing

def _random_tags(rng, n):
    """n random tag sequences over NER_LABELS, stray I- tags and type changes included."""
    from sftlab.data import NER_LABELS

    return [[NER_LABELS[rng.randrange(len(NER_LABELS))] for _ in range(rng.randrange(0, 9))] for _ in range(n)]


def test_the_references_use_the_shared_bio_code(monkeypatch):
    import sftlab.data
    import sftlab.ner
    import sftlab.ner.decoding

    assert ch04_ner.entity_spans is sftlab.data.entity_spans is sftlab.ner.entity_spans
    assert "sftlab.data.entity_spans" in exercises.get_exercise("entity_f1").see_also
    assert "sftlab.ner.decoding.bio_viterbi" in exercises.get_exercise("constrained_decode").see_also
    monkeypatch.setattr(sftlab.ner.decoding, "bio_viterbi", lambda log_probs, label_names: ["shared"])
    assert exercises.constrained_decode_solution(torch.zeros(2, 5), ch04_ner.SMALL_BIO) == ["shared"]


def test_the_references_equal_the_shared_code_and_seqeval_on_random_cases():
    import random

    from seqeval.metrics import f1_score

    from sftlab.data import NER_LABELS, entity_spans
    from sftlab.ner import bio_viterbi

    rng, g = random.Random(0), torch.Generator().manual_seed(0)
    for _ in range(200):
        true = _random_tags(rng, 3)
        pred = [[NER_LABELS[rng.randrange(len(NER_LABELS))] for _ in s] for s in true]
        assert exercises.entity_f1_solution(true, pred) == pytest.approx(f1_score(true, pred, zero_division=0))
        spans = [span for tags in true for span in entity_spans(tags)]
        assert spans == [span for tags in true for span in ch04_ner.entity_spans(tags)]
    for _ in range(200):
        log_probs = (3 * torch.randn(rng.randrange(1, 9), len(NER_LABELS), generator=g)).log_softmax(-1)
        assert exercises.constrained_decode_solution(log_probs, NER_LABELS) == bio_viterbi(log_probs, NER_LABELS)


def test_mistake_variants_still_differ_from_the_reference():
    """The wrong-rule Viterbis and the entity-F1 variants reuse the shared code but keep modelling mistakes."""
    for log_probs, names in exercises.get_exercise("constrained_decode").cases():
        right = exercises.constrained_decode_solution(log_probs, names)
        assert ch04_ner._viterbi_variant(log_probs, names) == right
    wrong = [any(variant(lp, names) != exercises.constrained_decode_solution(lp, names)
                 for lp, names in exercises.get_exercise("constrained_decode").cases())
             for variant in (lambda lp, n: ch04_ner._viterbi_variant(lp, n, start_rule=False),
                             lambda lp, n: ch04_ner._viterbi_variant(lp, n, same_type=False),
                             ch04_ner._greedy_constrained, ch04_ner._repair_argmax)]
    assert all(wrong), wrong
    for true, pred in exercises.get_exercise("entity_f1").cases():
        assert ch04_ner._entity_f1_variant(true, pred) == exercises.entity_f1_solution(true, pred)
