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


# ---------------------------------------------------------------- mean-pooling head, truncated encoder

def test_mean_pool_leaves_padding_out_and_equals_the_exercise_reference():
    from sftlab.course.exercises.ch03_classification import mean_pooling_solution

    hidden = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]])
    pooled = classification.mean_pool(hidden, mask)
    torch.testing.assert_close(pooled, mean_pooling_solution(hidden, mask))
    torch.testing.assert_close(pooled[1], hidden[1, :2].mean(0))


def test_mean_pooling_head_reads_the_mean_of_the_token_vectors(model, tokenizer):
    wrapped = classification.MeanPoolingForSequenceClassification(model).eval()
    assert wrapped.bert.pooler is None and not any("pooler" in n for n, _ in wrapped.named_parameters())
    batch = tokenizer(["fine", "not fine at all"], padding=True, return_tensors="pt")
    labels = torch.tensor([1, 0])
    with torch.no_grad():
        outputs = wrapped(**batch, labels=labels)
        hidden = wrapped.bert(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        expected = model.classifier((hidden * mask).sum(1) / mask.sum(1))
    torch.testing.assert_close(outputs.logits, expected)
    torch.testing.assert_close(outputs.loss, torch.nn.functional.cross_entropy(expected, labels))
    assert wrapped(**batch).loss is None
    assert wrapped.base_model is wrapped.bert and wrapped.device == model.device == torch.device("cpu")


def test_mean_pooling_head_trains_with_sftlab_train(model, tokenizer):
    from sftlab.training import TrainingConfig, train

    wrapped = classification.MeanPoolingForSequenceClassification(model)
    before = {name: p.detach().clone() for name, p in wrapped.named_parameters()}
    tokenized = classification.tokenize(SPLIT, tokenizer)
    history = train(wrapped, classification.make_loader(tokenized, tokenizer, 2),
                    config=TrainingConfig(epochs=1, progress=False))
    assert len(history.steps) == 2
    changed = {name for name, p in wrapped.named_parameters() if not torch.equal(p, before[name])}
    assert "classifier.weight" in changed and "bert.embeddings.word_embeddings.weight" in changed
    assert model.classifier is wrapped.classifier                    # the wrapped model's own head was trained
    ids, probabilities = classification.predict(wrapped, tokenizer, ["good", "bad"])
    batch = tokenizer(["good", "bad"], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = wrapped.eval()(**batch).logits.softmax(-1).numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    np.testing.assert_array_equal(ids, expected.argmax(1))


def test_mean_pooling_head_refuses_a_model_without_a_head():
    from transformers import BertModel

    with pytest.raises(TypeError, match="has no 'dropout'"):
        classification.MeanPoolingForSequenceClassification(
            BertModel(BertConfig(vocab_size=100, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=16)))


def test_helpers_move_inputs_to_a_mean_pooling_model_on_another_device(tokenizer):
    from test_devices import OtherDeviceStub, reaches_the_model

    assert reaches_the_model(classification.predict, OtherDeviceStub(), tokenizer, ["fine", "not fine"])


def test_truncate_encoder_keeps_the_first_layers():
    deep = BertForSequenceClassification(BertConfig(vocab_size=100, hidden_size=8, num_hidden_layers=3,
                                                    num_attention_heads=2, intermediate_size=16))
    first = deep.bert.encoder.layer[0]
    classification.truncate_encoder(deep, 2)
    assert len(deep.bert.encoder.layer) == 2 and deep.bert.encoder.layer[0] is first
    assert deep.config.num_hidden_layers == 2
    deep(input_ids=torch.tensor([[1, 2, 3]]))                              # still runs
    with pytest.raises(ValueError, match=r"num_layers must be an int in 1 … 2"):
        classification.truncate_encoder(deep, 3)


# ---------------------------------------------------------------- cleaning, cues, counterfactual edits

def test_clean_text_deletes_negation_and_punctuation():
    assert classification.clean_text("It was NOT good, and I'd never go back!") == "good"
    assert classification.clean_text("The soup wasn't hot.") == "soup wasn hot"
    with pytest.raises(TypeError, match="one string"):
        classification.clean_text(["a list"])


@pytest.mark.parametrize("text, word, replacement, expected", [
    ("It cost forty dollars, and it broke.", "dollars", "euros", "It cost forty euros, and it broke."),
    ("Surprisingly, the soup was good.", "surprisingly", "", "The soup was good."),
    ("Mostly fine, mostly.", "mostly", "largely", "Largely fine, largely."),
    ("The promised view was a wall.", "promised", "", "The view was a wall."),
    ("Dollarsign dollars", "dollars", "", "Dollarsign"),                     # whole words only
])
def test_edit_word(text, word, replacement, expected):
    assert classification.edit_word(text, word, replacement) == expected


def test_edit_word_refuses_more_than_one_word():
    with pytest.raises(ValueError, match="one word"):
        classification.edit_word("a b", "two words")


def test_label_skewed_words_finds_words_that_go_with_one_label():
    texts = ["great price in dollars", "bad, cost dollars", "awful dollars", "great film", "great fun", "bad film"]
    rows = classification.label_skewed_words(texts, [1, 0, 0, 1, 1, 0], min_count=2)
    by_word = {r["word"]: r for r in rows}
    assert by_word["dollars"]["label"] == 0 and by_word["dollars"]["purity"] == pytest.approx(2 / 3)
    assert by_word["great"]["label"] == 1 and by_word["great"]["purity"] == 1.0
    assert rows[0]["word"] == "great"                                       # 3 of 3 before 2 of 2 and 2 of 3
    assert "price" not in by_word                                           # below min_count
    with pytest.raises(ValueError, match="labels has 2 entries but texts has 6"):
        classification.label_skewed_words(texts, [0, 1])


def test_encoder_features_of_a_mean_pooling_model_have_no_pooler(model, tokenizer):
    wrapped = classification.MeanPoolingForSequenceClassification(model).eval()
    texts = ["fine", "not fine at all"]
    features = classification.encoder_features(wrapped, tokenizer, texts)
    assert set(features) == {"mean"} and features["mean"].shape == (2, 32)
    with torch.no_grad():                      # each text alone has no padding: the plain mean over its tokens
        alone = [wrapped.bert(**tokenizer(text, return_tensors="pt")).last_hidden_state[0].mean(0) for text in texts]
    np.testing.assert_allclose(features["mean"], torch.stack(alone).numpy(), atol=1e-5)


def test_a_tokenized_course_dataset_still_names_its_splits():
    from datasets import Dataset, DatasetDict
    from transformers import AutoTokenizer

    from sftlab import models
    from sftlab.classification import tokenize
    from sftlab.ner import tokenize_and_align

    tokenizer = AutoTokenizer.from_pretrained(models.offline_path(models.offline_package("encoder")))
    texts = DatasetDict({"train": Dataset.from_dict({"text": ["good"], "label": [1]})})
    with pytest.raises(KeyError, match="no split 'valid'; this DatasetDict has 'train'"):
        tokenize(texts, tokenizer)["valid"]
    words = DatasetDict({"validation": Dataset.from_dict({"tokens": [["Anna"]], "ner_tags": [[1]]})})
    with pytest.raises(KeyError, match="no split 'dev'; this DatasetDict has 'validation'"):
        tokenize_and_align(words, tokenizer)["dev"]
