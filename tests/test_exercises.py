"""Tests for sftlab.exercises: each check accepts the reference and names typical mistakes in words."""

import pytest
import torch
import torch.nn.functional as F

from sftlab import exercises


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


def test_library_implementations_pass_too():
    assert exercises.check_softmax(lambda x: torch.softmax(x, dim=-1))
    assert exercises.check_cosine_similarity(lambda a, b: F.cosine_similarity(a, b, dim=0))
    assert exercises.check_embedding_lookup(lambda weight, ids: weight[ids])


def test_embedding_reference_equals_indexing_exactly():
    weight, ids = torch.randn(7, 3), torch.tensor([[6, 0], [2, 2]])
    assert torch.equal(exercises.embedding_lookup_solution(weight, ids), weight[ids])


# ---------------------------------------------------------------- softmax

def test_softmax_without_max_subtraction_is_diagnosed_as_overflow():
    message = failure(exercises.check_softmax, lambda x: x.exp() / x.exp().sum(dim=-1, keepdim=True))
    assert "case 4 of 4, x = tensor([[ 1000., 1., -1000.], [ 50., 100., 150.]])" in message
    assert "your output has nan at index (0, 0) where the reference has 1" in message
    assert "diagnosis: your output equals softmax without subtracting the max" in message


def test_softmax_over_the_wrong_dim():
    message = failure(exercises.check_softmax, lambda x: torch.softmax(x, dim=0))
    assert "numerical mismatch: max abs error" in message and "at index (" in message
    assert "diagnosis: you normalised over the wrong dimension (dim=0)" in message


def test_softmax_sum_without_keepdim():
    message = failure(exercises.check_softmax, lambda x: x.exp() / x.exp().sum(dim=-1))
    assert "case 2 of 4" in message and "without keepdim=True" in message


def test_softmax_that_modifies_its_input_in_place():
    def softmax(x):
        x -= x.max(dim=-1, keepdim=True).values
        return x.exp() / x.exp().sum(dim=-1, keepdim=True)

    assert "changed its input x in place" in failure(exercises.check_softmax, softmax)


# ---------------------------------------------------------------- cosine similarity

def test_cosine_plain_dot_product():
    message = failure(exercises.check_cosine_similarity, lambda a, b: a @ b)
    assert "a = tensor([1., 2., 3.]), b = tensor([4., 5., 6.])" in message
    assert "numerical mismatch: max abs error 31.03 (expected 0.974632, got 32)" in message
    assert "diagnosis: your output is the plain dot product a @ b" in message


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda a, b: (a / a.norm()) @ b, "you normalised only a"),
    (lambda a, b: a @ (b / b.norm()), "you normalised only b"),
    (lambda a, b: (a @ b) / ((a @ a) * (b @ b)), "you divided by the squared lengths"),
])
def test_cosine_partial_normalisation(fn, diagnosis):
    assert f"diagnosis: {diagnosis}" in failure(exercises.check_cosine_similarity, fn)


def test_cosine_returning_a_python_float_or_wrong_shape():
    def cosine(a, b):
        return a @ b / (a.norm() * b.norm())

    message = failure(exercises.check_cosine_similarity, lambda a, b: cosine(a, b).item())
    assert "expected a torch.Tensor, got float 0.97" in message and "drop .item()" in message
    message = failure(exercises.check_cosine_similarity, lambda a, b: cosine(a, b).reshape(1))
    assert "wrong shape: expected (), got (1,)" in message


# ---------------------------------------------------------------- embedding lookup

def test_embedding_transposed_weight_gives_a_shape_message():
    def lookup(weight, ids):
        return weight.T @ F.one_hot(ids, weight.shape[0]).to(weight.dtype).T

    message = failure(exercises.check_embedding_lookup, lookup)
    assert "wrong shape: expected (3, 4), got (4, 3)" in message
    assert "diagnosis: your result is transposed" in message


@pytest.mark.parametrize("lookup, error, diagnosis", [
    (lambda weight, ids: F.one_hot(ids).float() @ weight,
     "mat1 and mat2 shapes cannot be multiplied (3x8 and 10x4)", "one_hot(ids) without num_classes"),
    (lambda weight, ids: F.one_hot(ids, 4).float() @ weight,
     "Class values must be smaller than num_classes", "you used the embedding size weight.shape[1]"),
    (lambda weight, ids: F.one_hot(ids, weight.shape[0]) @ weight,
     "expected m1 and m2 to have the same dtype", "one_hot returns int64"),
    (lambda weight, ids: F.one_hot(ids, weight.shape[0]).float() @ weight,
     "expected m1 and m2 to have the same dtype, but got: float != double", "you cast the one-hot to float32"),
    (lambda weight, ids: F.one_hot(ids.float(), weight.shape[0]) @ weight,
     "one_hot is only applicable to index tensor", "one_hot needs integer ids"),
])
def test_embedding_one_hot_mistakes_are_named(lookup, error, diagnosis):
    message = failure(exercises.check_embedding_lookup, lookup)
    assert f"your function raised RuntimeError: {error}" in message
    assert f"diagnosis: {diagnosis}" in message


def test_embedding_wrong_dtype_and_inexact_values():
    message = failure(exercises.check_embedding_lookup, lambda weight, ids: weight.double()[ids])
    assert "wrong dtype: expected torch.float32, got torch.float64" in message
    message = failure(exercises.check_embedding_lookup, lambda weight, ids: weight[ids] + 1e-7)
    assert "(this exercise must match exactly)" in message and "diagnosis" not in message


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


# ---------------------------------------------------------------- chapter 02: attention

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
    (_attention(lambda d: d, float("-inf")), "divided the scores by D instead of √D"),
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
