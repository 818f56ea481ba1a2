"""sftlab.course.exercises.ch02_attention: causal mask, scaled attention, BERT layer parameters."""

import pytest
import torch
import torch.nn.functional as F
from exercise_checks import failure

from sftlab.course import exercises


def test_library_attention_passes():
    assert exercises.check_scaled_attention(
        lambda q, k, v, mask: F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


@pytest.mark.parametrize("mask_fn, diagnosis", [
    (lambda T: torch.ones(T, T, dtype=torch.bool).triu(), "upper triangle"),
    (lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1), "leaves out the diagonal"),
    (lambda T: ~torch.ones(T, T, dtype=torch.bool).tril(), "inverted"),
])
def test_causal_mask_mistakes_are_named(mask_fn, diagnosis):
    assert diagnosis in failure(exercises.check_causal_mask, mask_fn)


def test_causal_mask_as_floats_is_a_dtype_message():
    message = failure(exercises.check_causal_mask, lambda T: torch.ones(T, T).tril())
    assert "wrong dtype: expected torch.bool, got torch.float32" in message


def _attention(scale, fill, dim=-1, use_mask=True):
    def attention(q, k, v, mask):
        scores = q @ k.transpose(-2, -1) / scale(q.size(-1))
        if mask is not None and use_mask:
            scores = scores.masked_fill(~mask, fill)
        return scores.softmax(dim) @ v
    return attention


@pytest.mark.parametrize("fn, diagnosis", [
    (_attention(lambda d: 1, float("-inf")), "forgot to scale the scores by 1/√D"),
    (_attention(lambda d: d, float("-inf")), "divided the scores by Dh instead of √Dh"),
    (_attention(lambda d: d ** 0.5, float("-inf"), use_mask=False), "you ignored the mask"),
    (_attention(lambda d: d ** 0.5, 0.0), "filled masked scores with 0"),
    (_attention(lambda d: d ** 0.5, float("-inf"), dim=-2), "softmax over the queries"),
])
def test_attention_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_scaled_attention, fn)


@pytest.mark.parametrize("fn, message", [
    (lambda C, F: 4 * C * C + 2 * C * F, "you counted only the weight matrices"),
    (lambda C, F: 4 * (C * C + C) + (C * F + F) + (F * C + C), "you forgot the two LayerNorms"),
    (lambda C, F: 3 * (C * C + C) + (C * F + F) + (F * C + C) + 4 * C, "attention output projection"),
    (lambda C, F: 7, "expected 7,087,872, got 7 (off by -7,087,865)"),
    (lambda C, F: 7087872.0, "expected an int, got float"),
])
def test_bert_layer_parameter_mistakes(fn, message):
    assert message in failure(exercises.check_bert_layer_parameters, fn)
