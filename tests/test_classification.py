"""Tokenising with dynamic padding, predicting, class weights, freezing the encoder."""

import numpy as np
import pytest
import torch
from datasets import Dataset, DatasetDict
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from sftlab import classification, models


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(models.offline_path(models.offline_package("encoder")))


@pytest.fixture
def model():
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1,
                                                    num_attention_heads=2, intermediate_size=64, num_labels=2))


SPLIT = Dataset.from_dict({"text": ["short", "a somewhat longer sentence than the first one", "mid length one"],
                           "label": [0, 1, 0], "domain": ["x", "y", "z"]})


def test_tokenize_keeps_only_model_inputs_and_labels(tokenizer):
    tokenized = classification.tokenize(DatasetDict({"train": SPLIT}), tokenizer, max_length=6)
    assert set(tokenized["train"].column_names) == {"input_ids", "attention_mask", "token_type_ids", "labels"}
    assert max(len(ids) for ids in tokenized["train"]["input_ids"]) == 6   # truncated


def test_dynamic_padding_pads_each_batch_to_its_longest(tokenizer):
    tokenized = classification.tokenize(SPLIT, tokenizer)
    lengths = [len(ids) for ids in tokenized["input_ids"]]
    dynamic = [b["input_ids"].shape[1] for b in classification.make_loader(tokenized, tokenizer, batch_size=1)]
    fixed = [b["input_ids"].shape[1] for b in classification.make_loader(tokenized, tokenizer, 1, pad_to=32)]
    assert dynamic == lengths and fixed == [32, 32, 32]


@pytest.mark.parametrize("texts, error, match", [
    (["fine", 3], TypeError, "text 1 is int"),
    ("one text", TypeError, "list of texts"),
    ([], ValueError, "empty"),
])
def test_predict_bad_input(model, tokenizer, texts, error, match):
    with pytest.raises(error, match=match):
        classification.predict(model, tokenizer, texts)


def test_predict_sorts_by_length_inside_but_answers_in_input_order(model, tokenizer):
    texts = ["short", "a somewhat longer sentence than the first one", "mid length one", "tiny"]
    _, together = classification.predict(model, tokenizer, texts, batch_size=2)
    one_by_one = np.concatenate([classification.predict(model, tokenizer, [t])[1] for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_predict_gives_ids_and_probabilities(model, tokenizer):
    ids, probabilities = classification.predict(model, tokenizer, ["good", "bad", "fine"], batch_size=2)
    assert ids.shape == (3,) and probabilities.shape == (3, 2)
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-6)
    np.testing.assert_array_equal(ids, probabilities.argmax(1))


def test_tokenize_rejects_non_strings_and_empty_splits(tokenizer):
    with pytest.raises(TypeError, match="text 1 is NoneType"):
        classification.tokenize(Dataset.from_dict({"text": ["ok", None], "label": [0, 1]}), tokenizer)
    with pytest.raises(ValueError, match="empty"):
        classification.tokenize(DatasetDict({"train": SPLIT.select([])}), tokenizer)
    with pytest.raises(ValueError, match="no 'sentence' column"):
        classification.tokenize(SPLIT, tokenizer, text_column="sentence")


def test_class_weights_are_inverse_frequency():
    weights = classification.class_weights([0, 0, 0, 1], 2)
    torch.testing.assert_close(weights, torch.tensor([4 / 6, 4 / 2]))
    with pytest.raises(ValueError, match=r"class\(es\) \[2\] never occur"):
        classification.class_weights([0, 1], 3)


def test_weighted_loss_is_weighted_cross_entropy():
    logits, labels, weights = torch.randn(5, 2), torch.tensor([0, 1, 1, 0, 1]), torch.tensor([3.0, 1.0])
    outputs = type("Outputs", (), {"logits": logits})()
    loss = classification.weighted_loss(weights)(outputs, {"labels": labels})
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(logits, labels, weight=weights))


def test_freeze_encoder_leaves_only_the_head(model):
    trainable = classification.freeze_encoder(model)
    assert trainable == 32 * 2 + 2
    assert all(p.requires_grad == n.startswith("classifier") for n, p in model.named_parameters())


def test_metrics_for_concatenates_batches():
    compute = classification.metrics_for(["neg", "pos"])
    scores = compute([torch.tensor([[2.0, 1.0]]), torch.tensor([[0.0, 1.0], [1.0, 0.0]])],
                     [torch.tensor([0]), torch.tensor([1, 1])])
    assert scores["accuracy"] == pytest.approx(2 / 3)


def test_group_by_length_batches_similar_lengths_and_still_shuffles(tokenizer):
    texts = [" ".join(["word"] * n) for n in range(1, 65)]
    tokenized = classification.tokenize(Dataset.from_dict({"text": texts, "label": [0, 1] * 32}), tokenizer)
    grouped = list(classification.make_loader(tokenized, tokenizer, 4, shuffle=True, group_by_length=True))
    plain = list(classification.make_loader(tokenized, tokenizer, 4, shuffle=True))
    padding = {name: sum(int((b["attention_mask"] == 0).sum()) for b in loader)
               for name, loader in [("grouped", grouped), ("plain", plain)]}
    assert padding["grouped"] < padding["plain"] / 3
    assert sorted(int(n) for b in grouped for n in b["attention_mask"].sum(1)) == sorted(
        len(ids) for ids in tokenized["input_ids"])                                # every sentence, once
    sorted_loader = classification.make_loader(tokenized, tokenizer, 4, group_by_length=True)
    widths = [b["input_ids"].shape[1] for b in sorted_loader]
    assert widths == sorted(widths, reverse=True)                       # evaluation: longest first
    assert sum(int((b["attention_mask"] == 0).sum()) for b in sorted_loader) <= padding["grouped"]


def test_word_tokens_split_like_glove():
    assert classification.word_tokens("It wasn't BAD, at all!") == ["it", "was", "n't", "bad", "at", "all"]


def test_average_word_vectors_skips_unknown_words():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["good", "film"], np.array([[1.0, 0.0], [0.0, 3.0]]))
    features, coverage = classification.average_word_vectors(["Good film", "good zzzz", "qqq"], kv)
    np.testing.assert_allclose(features, [[0.5, 1.5], [1.0, 0.0], [0.0, 0.0]])
    assert coverage == pytest.approx(3 / 5)
    with pytest.raises(TypeError, match="expected a string"):
        classification.average_word_vectors(["fine", 3], kv)


def test_encoder_features_ignore_padding(model, tokenizer):
    texts = ["short", "a somewhat longer sentence than the first one"]
    together = classification.encoder_features(model, tokenizer, texts)
    alone = classification.encoder_features(model, tokenizer, texts[:1])
    assert together["mean"].shape == together["pooler"].shape == (2, 32)
    np.testing.assert_allclose(together["mean"][0], alone["mean"][0], atol=1e-5)   # padding left out
    np.testing.assert_allclose(together["pooler"][0], alone["pooler"][0], atol=1e-5)


def test_freeze_encoder_refuses_a_model_without_a_head():
    from transformers import BertModel

    bare = BertModel(BertConfig(vocab_size=100, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=16))
    with pytest.raises(ValueError, match="found no task head .* nothing to train"):
        classification.freeze_encoder(bare)
    assert all(p.requires_grad for p in bare.parameters()), "a refused call changes nothing"


def test_class_weights_refuse_labels_outside_the_classes():
    with pytest.raises(ValueError, match=r"labels must lie in 0 … 1 for num_classes=2, got values \[2\] outside"):
        classification.class_weights([0, 1, 2, 1], num_classes=2)
    with pytest.raises(ValueError, match=r"got values \[-1\]"):
        classification.class_weights([0, 1, -1], num_classes=2)
