"""sftlab.course.exercises.ch05_generation: top-k, repetition penalty, causal-LM loss."""

import pytest
import torch
import torch.nn.functional as F
from exercise_checks import failure

from sftlab.course import exercises


def test_top_k_and_repetition_penalty_references_equal_sftlab_generation_and_transformers():
    from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor, TopKLogitsWarper

    from sftlab.generation import apply_repetition_penalty, apply_top_k

    for scores, k in exercises.get_exercise("top_k_filter").cases():
        expected = exercises.top_k_filter_solution(scores, k)
        assert torch.equal(apply_top_k(scores, k), expected)
        assert torch.equal(TopKLogitsWarper(top_k=k)(None, scores), expected)
    for input_ids, scores, penalty in exercises.get_exercise("repetition_penalty").cases():
        expected = exercises.repetition_penalty_solution(input_ids, scores, penalty)
        assert torch.equal(apply_repetition_penalty(input_ids, scores, penalty), expected)
        assert torch.equal(RepetitionPenaltyLogitsProcessor(penalty)(input_ids, scores), expected)


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_causal_lm_loss_reference_equals_a_tiny_gpt2s_loss(padding_side):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=50, n_positions=16)).eval()
    lengths = torch.tensor([9, 5, 3])
    attention_mask = (torch.arange(9) < lengths[:, None]).long()               # right padding
    if padding_side == "left":
        attention_mask = attention_mask.flip(1)
    input_ids = torch.randint(1, 50, (3, 9)) * attention_mask                  # pad id 0
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    with torch.no_grad():
        outputs = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    ours = exercises.causal_lm_loss_solution(outputs.logits, input_ids, attention_mask)
    torch.testing.assert_close(ours, outputs.loss, rtol=0, atol=1e-5)


def test_library_versions_of_the_chapter_05_exercises_pass():
    from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor, TopKLogitsWarper

    def causal_lm_loss(logits, input_ids, attention_mask):          # labels = input_ids, -100 on the padding
        labels = input_ids.masked_fill(attention_mask == 0, -100)
        return F.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100)

    assert exercises.check_top_k_filter(lambda scores, k: TopKLogitsWarper(k)(None, scores))
    assert exercises.check_repetition_penalty(
        lambda input_ids, scores, penalty: RepetitionPenaltyLogitsProcessor(penalty)(input_ids, scores))
    assert exercises.check_causal_lm_loss(causal_lm_loss)


def _top_k_mask(keep, fill=float("-inf")):
    def top_k_filter(scores, k):
        kth = torch.topk(scores, min(k, scores.size(-1)), dim=-1).values[:, -1:]
        return scores.masked_fill(~keep(scores, kth), fill)
    return top_k_filter


def _top_k_exactly_k(scores, k):
    values, indices = torch.topk(scores, min(k, scores.size(-1)))
    return torch.full_like(scores, float("-inf")).scatter(1, indices, values)


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda s, k: s.masked_fill(s < s.sort(descending=True).values[:, k, None], float("-inf")), "you kept k + 1"),
    (_top_k_mask(lambda s, kth: s > kth), "you dropped the k-th largest score itself"),
    (_top_k_exactly_k, "you kept exactly k tokens"),
    (_top_k_mask(lambda s, kth: s >= kth, fill=0.0), "you set the filtered scores to 0"),
    (lambda s, k: s.masked_fill(s < s.topk(k, dim=0).values[-1:], float("-inf")), "over the batch dimension"),
    (lambda s, k: _top_k_mask(lambda s, kth: s >= kth)(s, k).softmax(-1), "you returned probabilities"),
    (lambda s, k: _top_k_mask(lambda s, kth: s >= kth)(s, k).sort(descending=True).values, "your scores are sorted"),
])
def test_top_k_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_top_k_filter, fn)


def test_top_k_messages_point_at_the_filtered_scores():
    message = failure(exercises.check_top_k_filter, _top_k_mask(lambda s, kth: s > kth))
    assert "your output has -inf at index (0, 2) where the reference has 3: -inf comes from a mask" in message
    message = failure(exercises.check_top_k_filter, _top_k_mask(lambda s, kth: s >= kth, fill=0.0))
    assert "max abs error inf at index (0, 0) (expected -inf, got 0)" in message


def _penalty(positive, negative, seen_in=lambda seen: seen):
    def repetition_penalty(input_ids, scores, penalty):
        seen = seen_in(torch.zeros_like(scores, dtype=torch.bool).scatter(1, input_ids, True))
        return torch.where(seen, torch.where(scores < 0, negative(scores, penalty), positive(scores, penalty)), scores)
    return repetition_penalty


def _penalty_per_occurrence(input_ids, scores, penalty):
    scores = scores.clone()
    for row, ids in enumerate(input_ids):
        for i in ids:
            scores[row, i] = scores[row, i] * penalty if scores[row, i] < 0 else scores[row, i] / penalty
    return scores


def _penalty_in_place(input_ids, scores, penalty):
    seen = torch.gather(scores, 1, input_ids)
    return scores.scatter_(1, input_ids, torch.where(seen < 0, seen * penalty, seen / penalty))


@pytest.mark.parametrize("fn, diagnosis", [
    (_penalty(lambda s, p: s / p, lambda s, p: s / p), "you divided every seen score by penalty"),
    (_penalty(lambda s, p: s * p, lambda s, p: s / p), "the wrong way round"),
    (_penalty_per_occurrence, "once per occurrence (penalty ** count)"),
    (_penalty(lambda s, p: s / p, lambda s, p: s * p, seen_in=lambda seen: seen.any(0)), "seen in any row"),
    (_penalty(lambda s, p: s - p, lambda s, p: s - p), "you subtracted penalty"),
])
def test_repetition_penalty_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_repetition_penalty, fn)


def test_repetition_penalty_in_place_is_reported():
    message = failure(exercises.check_repetition_penalty, _penalty_in_place)
    assert "your function changed its input scores in place" in message


def _lm_loss(shift="next", mask="target", reduce="tokens"):
    def causal_lm_loss(logits, input_ids, attention_mask):
        if shift == "next":
            logits, targets, m = logits[:, :-1], input_ids[:, 1:], attention_mask[:, 1:]
            m = {"target": m, "input": attention_mask[:, :-1], "none": torch.ones_like(m)}[mask]
        elif shift == "none":
            targets, m = input_ids, attention_mask
        else:
            logits, targets, m = logits[:, 1:], input_ids[:, :-1], attention_mask[:, :-1]
        nll = -logits.log_softmax(-1).gather(-1, targets[..., None]).squeeze(-1) * m
        if reduce == "sequences":
            return (nll.sum(1) / m.sum(1)).mean()
        return nll.sum() / m.sum() if reduce == "tokens" else nll.sum()
    return causal_lm_loss


@pytest.mark.parametrize("fn, diagnosis", [
    (_lm_loss(shift="none"), "no shift"),
    (_lm_loss(shift="back"), "shifted the wrong way"),
    (_lm_loss(mask="none"), "you averaged over the padding too"),
    (_lm_loss(mask="input"), "you masked with the input position's mask"),
    (_lm_loss(reduce="sequences"), "you averaged each sequence's loss, then the sequences"),
    (_lm_loss(reduce="sum"), "summed negative log-likelihood"),
    (lambda logits, ids, mask: -_lm_loss()(logits, ids, mask), "the sign is flipped"),
])
def test_causal_lm_loss_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_causal_lm_loss, fn)


def test_causal_lm_loss_mistakes_are_caught_with_right_and_left_padding_alike():
    exercise = exercises.get_exercise("causal_lm_loss")
    right, left = exercise.cases()
    assert right[2][:, -1].min() == 0 and left[2][:, 0].min() == 0
    for logits, input_ids, attention_mask in (right, left):
        expected = exercise.reference(logits, input_ids, attention_mask)
        for mistake in exercise.mistakes:
            assert (mistake.reproduce(logits, input_ids, attention_mask) - expected).abs() > 1e-3, mistake.explanation
