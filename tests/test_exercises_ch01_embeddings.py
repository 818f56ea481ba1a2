"""sftlab.course.exercises.ch01_embeddings: cosine similarity, embedding lookup, SGNS loss, analogies, subsampling."""

import pytest
import torch
import torch.nn.functional as F
from exercise_checks import failure

from sftlab.course import exercises


def test_library_cosine_similarity_and_embedding_lookup_pass():
    assert exercises.check_cosine_similarity(lambda a, b: F.cosine_similarity(a, b, dim=0))
    assert exercises.check_embedding_lookup(lambda weight, ids: weight[ids])


def test_embedding_reference_equals_indexing_exactly():
    weight, ids = torch.randn(7, 3), torch.tensor([[6, 0], [2, 2]])
    assert torch.equal(exercises.embedding_lookup_solution(weight, ids), weight[ids])


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


# ---------------------------------------------------------------- chapter 01: word embeddings

def test_library_versions_of_the_chapter_01_exercises_pass():
    def sgns_loss(v, u_pos, u_neg):   # as binary cross-entropy: real pair label 1, noise label 0
        scores = torch.cat([(v * u_pos).sum(-1, keepdim=True), (u_neg @ v.unsqueeze(-1)).squeeze(-1)], dim=1)
        labels = torch.zeros_like(scores)
        labels[:, 0] = 1
        return F.binary_cross_entropy_with_logits(scores, labels, reduction="sum") / len(v)

    assert exercises.check_sgns_loss(sgns_loss)


def _scores(v, u_pos, u_neg):
    return (v * u_pos).sum(-1), (u_neg @ v.unsqueeze(-1)).squeeze(-1)       # (B,), (B, K)


def _noise_sign_flipped(v, u_pos, u_neg):
    pos, neg = _scores(v, u_pos, u_neg)
    return -(F.logsigmoid(pos) + F.logsigmoid(neg).sum(-1)).mean()


def _log_likelihood(v, u_pos, u_neg):
    pos, neg = _scores(v, u_pos, u_neg)
    return (F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).mean()


def _mean_over_noise(v, u_pos, u_neg):
    pos, neg = _scores(v, u_pos, u_neg)
    return -(F.logsigmoid(pos) + F.logsigmoid(-neg).mean(-1)).mean()


def _sum_over_batch(v, u_pos, u_neg):
    pos, neg = _scores(v, u_pos, u_neg)
    return -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).sum()


@pytest.mark.parametrize("fn, diagnosis", [
    (_noise_sign_flipped, "you used log σ(+v·u_k) for the noise words"),
    (_log_likelihood, "you returned the log-likelihood, not the loss"),
    (_mean_over_noise, "you averaged over the K noise words"),
    (_sum_over_batch, "you summed over the batch"),
])
def test_sgns_loss_mistakes_are_named(fn, diagnosis):
    assert f"diagnosis: {diagnosis}" in failure(exercises.check_sgns_loss, fn)


def test_sgns_loss_with_log_of_sigmoid_overflows_on_large_scores():
    def sgns_loss(v, u_pos, u_neg):
        pos = (v * u_pos).sum(-1).sigmoid().log()
        neg = (-(u_neg @ v.unsqueeze(-1)).squeeze(-1)).sigmoid().log().sum(-1)
        return -(pos + neg).mean()

    message = failure(exercises.check_sgns_loss, sgns_loss)
    assert "case 3 of 3" in message and "your output has inf" in message
    assert "diagnosis: log(sigmoid(x)) underflows" in message


def test_analogy_reference_matches_gensim_on_the_toy_case():
    from gensim.models import KeyedVectors

    vectors, a, b, c = exercises.get_exercise("analogy_3cosadd").cases()[1]
    kv = KeyedVectors(vector_size=vectors.shape[1])
    kv.add_vectors([f"w{i}" for i in range(len(vectors))], vectors.numpy())
    (best, _), = kv.most_similar(positive=[f"w{b}", f"w{c}"], negative=[f"w{a}"], topn=1)
    assert best == f"w{exercises.analogy_3cosadd_solution(vectors, a, b, c)}"


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda V, a, b, c: int((V / V.norm(dim=1, keepdim=True) @ (V[b] / V[b].norm() - V[a] / V[a].norm()
                                                                + V[c] / V[c].norm())).argmax()),
     "you did not exclude the question words"),
    (lambda V, a, b, c: int(torch.cat([V @ (V[b] - V[a] + V[c])]).index_fill(0, torch.tensor([a, b, c]),
                                                                            -float("inf")).argmax()),
     "you used raw dot products"),
])
def test_analogy_mistakes_are_named(fn, diagnosis):
    message = failure(exercises.check_analogy_3cosadd, fn)
    assert "case 1 of 3" in message and f"diagnosis: {diagnosis}" in message


def test_analogy_with_the_offset_reversed():
    def analogy(V, a, b, c):
        unit = V / V.norm(dim=1, keepdim=True)
        scores = unit @ (unit[a] - unit[b] + unit[c])
        scores[[a, b, c]] = -float("inf")
        return int(scores.argmax())

    assert "diagnosis: you computed a − b + c" in failure(exercises.check_analogy_3cosadd, analogy)


def test_analogy_returning_a_tensor_index_is_accepted_but_a_word_is_not():
    def as_tensor(V, a, b, c):
        return torch.tensor(exercises.analogy_3cosadd_solution(V, a, b, c))

    assert exercises.check_analogy_3cosadd(as_tensor)
    assert "expected an int, got str" in failure(exercises.check_analogy_3cosadd, lambda V, a, b, c: "queen")


def test_keep_probability_agrees_with_sftlab_embeddings():
    from sftlab.embeddings import keep_probabilities

    counts, sample = exercises.get_exercise("keep_probability").cases()[1]
    torch.testing.assert_close(exercises.keep_probability_solution(counts, sample),
                               torch.from_numpy(keep_probabilities(counts.numpy(), sample)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda n, t: (torch.sqrt(n / n.sum() / t) + 1) * t / (n / n.sum()), "go above 1 for rare words"),
    (lambda n, t: torch.clamp((torch.sqrt(n / t) + 1) * t / n, max=1.0), "you used raw counts"),
    (lambda n, t: torch.clamp(torch.sqrt(t / (n / n.sum())), max=1.0), "the keep probability of the word2vec paper"),
    (lambda n, t: 1 - torch.clamp((torch.sqrt(n / n.sum() / t) + 1) * t / (n / n.sum()), max=1.0),
     "probability of *discarding*"),
])
def test_keep_probability_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_keep_probability, fn)
