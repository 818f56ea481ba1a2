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


# ---------------------------------------------------------------- chapter 03

def test_macro_f1_reference_equals_scikit_learn():
    from sklearn.metrics import f1_score

    for y_true, y_pred, k in exercises.EXERCISES["macro_f1"].cases():
        expected = f1_score(y_true, y_pred, average="macro", labels=list(range(k)), zero_division=0)
        assert float(exercises.macro_f1_solution(y_true, y_pred, k)) == pytest.approx(expected, abs=1e-6)


def test_library_versions_of_the_chapter_03_exercises_pass():
    from sftlab.classification import class_weights
    from sftlab.metrics import classification_metrics

    def macro_f1(y_true, y_pred, num_classes):
        names = [str(k) for k in range(num_classes)]
        return torch.tensor(classification_metrics(y_true, y_pred, names)["macro_f1"], dtype=torch.float32)

    assert exercises.check_macro_f1(macro_f1)
    assert exercises.check_class_weights(class_weights)


def _macro_f1_weighted(y_true, y_pred, num_classes):
    from sklearn.metrics import f1_score

    return torch.tensor(f1_score(y_true, y_pred, average="weighted", zero_division=0), dtype=torch.float32)


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda y_true, y_pred, k: (y_true == y_pred).float().mean(), "that is accuracy"),
    (_macro_f1_weighted, "weighted each class's F1 by its support"),
    (lambda y_true, y_pred, k: exercises._f1_arithmetic(y_true, y_pred, k), "harmonic mean"),
    (lambda y_true, y_pred, k: exercises._f1_nan(y_true, y_pred, k), "precision 0/0 = nan"),
])
def test_macro_f1_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_macro_f1, fn)


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda labels, k: torch.bincount(labels, minlength=k).float() / len(labels), "class frequencies"),
    (lambda labels, k: 1 / torch.bincount(labels, minlength=k).float(), "wrong scale"),
    (lambda labels, k: len(labels) / torch.bincount(labels, minlength=k).float(), "divide by K as well"),
])
def test_class_weight_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_class_weights, fn)


def test_class_weights_as_integers_is_a_dtype_message():
    message = failure(exercises.check_class_weights, lambda labels, k: len(labels) // (k * torch.bincount(labels)))
    assert "wrong dtype: expected torch.float32, got torch.int64" in message


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda hidden, mask: hidden.mean(dim=1), "averaged over the [PAD] positions"),
    (lambda hidden, mask: (hidden * mask.unsqueeze(-1)).sum(1) / hidden.size(1), "divided by the padded length"),
    (lambda hidden, mask: (hidden * mask.unsqueeze(-1)).sum(1), "that is the sum"),
    (lambda hidden, mask: hidden[:, 0], "[CLS] pooling"),
])
def test_mean_pooling_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_mean_pooling, fn)


def test_mean_pooling_over_the_wrong_axis_is_a_shape_message():
    message = failure(exercises.check_mean_pooling, lambda hidden, mask: hidden.mean(dim=2))
    assert "wrong shape: expected (2, 3), got (2, 5)" in message


# ---------------------------------------------------------------- chapter 04

def test_align_labels_reference_equals_sftlab_ner():
    from sftlab.ner import align_labels

    for word_ids, word_labels in exercises.get_exercise("align_labels").cases():
        assert exercises.align_labels_solution(word_ids, word_labels) == align_labels(word_ids, word_labels)
    assert exercises.check_align_labels(lambda word_ids, word_labels: align_labels(word_ids, word_labels))


@pytest.mark.parametrize("fn, diagnosis", [
    (exercises._align_by_position, "the t-th word's label to the t-th token"),
    (exercises._align_every_piece, "copied the word's label onto every sub-token"),
    (exercises._align_specials_as_o, "special tokens ([CLS], [SEP], padding: word id None) got label 0"),
    (exercises._align_last_piece, "*last* sub-token"),
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
    (exercises._tags_f1, "you scored tags word by word"),
    (lambda t, p: exercises._entity_f1_variant(t, p, overlap=True), "overlaps a gold entity"),
    (lambda t, p: exercises._entity_f1_variant(t, p, key=lambda e: (e[0], *e[2:])), "you ignored the entity type"),
    (lambda t, p: exercises._entity_f1_variant(t, p, stray_opens=False), "must open an entity"),
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
    (exercises._greedy_constrained, "(greedy)"),
    (exercises._repair_argmax, "turning each stray I-X into B-X"),
    (lambda lp, names: exercises._viterbi_variant(lp, names, start_rule=False), "cannot start with I-X"),
    (lambda lp, names: exercises._viterbi_variant(lp, names, same_type=False), "of the *same* type"),
])
def test_constrained_decode_mistakes_are_named(fn, diagnosis):
    assert diagnosis in failure(exercises.check_constrained_decode, fn)


def test_constrained_decode_returning_a_tensor_passes():
    def as_tensor(log_probs, names):
        return torch.tensor(exercises.constrained_decode_solution(log_probs, names))

    assert exercises.check_constrained_decode(as_tensor)


# ---------------------------------------------------------------- chapter 05: causal LMs and text generation

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
