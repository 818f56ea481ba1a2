"""Repeated fine-tuning runs over seeds: loading the classifier, one run per seed, intervals."""

import pytest
import torch
from datasets import Dataset, DatasetDict
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from sftlab import classification, experiments, models
from sftlab.training import TrainingConfig, evaluate


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(models.offline_path(models.offline_package("encoder")))


@pytest.fixture
def tiny_encoder(monkeypatch):
    """load_encoder replaced by a 2-layer random BERT, so the runs take a second."""
    def load_encoder(task=None, num_labels=None, device=None):
        print("encoder loaded")                          # what the real one prints; load_classifier hides it
        config = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=32, num_labels=num_labels)
        return None, BertForSequenceClassification(config)
    monkeypatch.setattr(models, "load_encoder", load_encoder)


def test_load_classifier_builds_the_head_asked_for(tiny_encoder, capsys):
    mean = experiments.load_classifier(2, pooling="mean", num_layers=1, seed=0)
    assert isinstance(mean, classification.MeanPoolingForSequenceClassification)
    assert len(mean.bert.encoder.layer) == 1
    assert isinstance(experiments.load_classifier(2, pooling="cls"), BertForSequenceClassification)
    assert capsys.readouterr().out == ""                                  # quiet by default
    same_seed = experiments.load_classifier(2, seed=3).classifier.weight
    torch.testing.assert_close(same_seed, experiments.load_classifier(2, seed=3).classifier.weight)
    with pytest.raises(ValueError, match="pooling='max'; expected one of"):
        experiments.load_classifier(2, pooling="max")


def test_fine_tune_seeds_gives_one_reproducible_run_per_seed(tiny_encoder, tokenizer):
    split = Dataset.from_dict({"text": ["good", "bad film", "great fun", "awful"] * 4, "label": [1, 0, 1, 0] * 4})
    tokenized = classification.tokenize(DatasetDict({"train": split, "validation": split}), tokenizer)
    config = TrainingConfig(learning_rate=1e-3, epochs=2)
    runs = experiments.fine_tune_seeds(tokenized, tokenizer, config, seeds=(0, 1), batch_size=8, keep_models=True)
    again = experiments.fine_tune_seeds(tokenized, tokenizer, config, seeds=(0,), batch_size=8)
    assert [r.seed for r in runs] == [0, 1] and len(runs[0].history.epochs) == 2
    assert runs[0].val_loss == pytest.approx(again[0].val_loss, abs=1e-6)   # same seed, same run
    assert isinstance(runs[0].model, classification.MeanPoolingForSequenceClassification) and again[0].model is None
    assert runs[0].model is not runs[1].model                               # a fresh classifier per seed
    val_loader = classification.make_loader(tokenized["validation"], tokenizer, batch_size=64)
    for run in runs:                          # the kept model is the trained one, at its kept (best) epoch
        assert evaluate(run.model, val_loader)["loss"] == pytest.approx(run.val_loss, abs=1e-5)
    assert runs[0].val_loss == min(e["val_loss"] for e in runs[0].history.epochs)   # the kept (best) epoch


def test_describe_and_intervals():
    text = experiments.describe([0.80, 0.82, 0.84])
    assert text.startswith("0.820 ± 0.020 (95% CI 0.770–0.870, 3 runs)")
    assert experiments.intervals_apart([0.80, 0.81, 0.82], [0.90, 0.91, 0.92])
    assert not experiments.intervals_apart([0.80, 0.85, 0.90], [0.84, 0.86, 0.88])
    with pytest.raises(ValueError, match="at least 2 runs"):
        experiments.describe([0.8])


def test_verdict_reads_the_intervals():
    assert experiments.verdict([0.4, 0.41, 0.42], [0.5, 0.51, 0.52], ("mean", "[CLS]")).startswith(
        "mean ends with a lower validation loss than [CLS], beyond seed noise")
    assert experiments.verdict([0.5, 0.51, 0.52], [0.4, 0.41, 0.42], ("mean", "[CLS]")).startswith("[CLS] ends")
    assert experiments.verdict([0.4, 0.5, 0.45], [0.44, 0.46, 0.45], ("a", "b")).startswith("no measurable difference")


def test_wrong_arguments_are_named_before_any_run(tokenizer):
    split = Dataset.from_dict({"input_ids": [[101, 102]], "attention_mask": [[1, 1]], "label": [0]})
    tokenized = DatasetDict({"train": split, "validation": split})
    config = TrainingConfig(epochs=1)
    with pytest.raises(TypeError, match=r"seeds must be a list of ints, one run each, got 3; .*seeds=\(0, 1, 2\)"):
        experiments.fine_tune_seeds(tokenized, tokenizer, config, seeds=3)
    with pytest.raises(ValueError, match=r"needs the splits 'train' and 'validation' .*it has \['train'\]"):
        experiments.fine_tune_seeds(DatasetDict({"train": split}), tokenizer, config)
    with pytest.raises(TypeError, match=r"config must be a TrainingConfig, got dict"):
        experiments.fine_tune_seeds(tokenized, tokenizer, {"learning_rate": 1e-4})
    with pytest.raises(TypeError, match="label_names must be a list of class names .*got the string 'neg pos'"):
        experiments.fine_tune_seeds(tokenized, tokenizer, config, label_names="neg pos")
    runs = [experiments.Run(seed, None, 0.5, 0.8) for seed in range(3)]
    with pytest.raises(TypeError, match=r"one number per run, got Run objects; .*r.val_loss for r in runs"):
        experiments.describe(runs)
    with pytest.raises(ValueError, match="names must be two names, one per set of runs"):
        experiments.verdict([0.1, 0.2, 0.3], [0.5, 0.6, 0.7], "ab")
