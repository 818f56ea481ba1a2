"""The training loop on a tiny BERT: it learns, it is deterministic, and it explains the classic mistakes."""

import pytest
import torch
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from sftlab import models
from sftlab.classification import make_loader, metrics_for, tokenize
from sftlab.training import TrainingConfig, evaluate, parameter_groups, train

TEXTS = ["good fun", "a delight", "truly great", "lovely work", "so good", "great fun",
         "dull mess", "a bore", "truly awful", "bad work", "so dull", "awful mess"]
LABELS = [1] * 6 + [0] * 6


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(models.offline_path(models.offline_package("encoder")))


def tiny_model(seed=0, dropout=0.1):
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, hidden_dropout_prob=dropout,
                        attention_probs_dropout_prob=dropout)
    return BertForSequenceClassification(config)


@pytest.fixture(scope="module")
def data(tokenizer):
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    split = Dataset.from_dict({"text": TEXTS, "label": LABELS}, features=features)
    return tokenize(DatasetDict({"train": split, "validation": split}), tokenizer)


def loaders(data, tokenizer, batch_size=4):
    return (make_loader(data["train"], tokenizer, batch_size, shuffle=True),
            make_loader(data["validation"], tokenizer, 12))


def quiet(**kwargs):
    return TrainingConfig(progress=False, **kwargs)


def test_it_learns_a_separable_toy_task(data, tokenizer):
    model = tiny_model()
    history = train(model, *loaders(data, tokenizer), quiet(learning_rate=5e-3, epochs=8, warmup_ratio=0.1),
                    compute_metrics=metrics_for(["neg", "pos"]))
    assert history.epochs[-1]["accuracy"] == 1.0
    assert history.epochs[-1]["train_loss"] < history.epochs[0]["train_loss"]
    assert not model.training, "train() leaves the model in eval mode"


def test_same_seed_same_numbers(data, tokenizer):
    runs = [train(tiny_model(), *loaders(data, tokenizer), quiet(learning_rate=1e-3, epochs=2)) for _ in range(2)]
    assert [s["loss"] for s in runs[0].steps] == [s["loss"] for s in runs[1].steps]


def test_warmup_then_linear_decay(data, tokenizer):
    history = train(tiny_model(), *loaders(data, tokenizer), quiet(learning_rate=1e-3, epochs=4, warmup_ratio=0.25))
    lrs = [s["lr"] for s in history.steps]                      # 3 steps per epoch, 12 in all, 3 of warmup
    assert len(lrs) == 12 and lrs[2] == pytest.approx(1e-3) and lrs[0] == pytest.approx(1e-3 / 3)
    assert lrs[3:] == sorted(lrs[3:], reverse=True) and lrs[-1] == pytest.approx(0.0)


def test_gradient_accumulation_equals_a_bigger_batch(data, tokenizer):
    """Two micro-batches of 4 with accumulation = one batch of 8 (no dropout, same order, same data)."""
    from torch.utils.data import DataLoader, Subset
    from transformers import DataCollatorWithPadding

    collate = DataCollatorWithPadding(tokenizer, padding="max_length", max_length=8)
    subset = Subset(data["train"].with_format("torch"), range(8))
    big, small = tiny_model(dropout=0.0), tiny_model(dropout=0.0)
    train(big, DataLoader(subset, batch_size=8, collate_fn=collate), None, quiet(learning_rate=1e-3, epochs=1))
    history = train(small, DataLoader(subset, batch_size=4, collate_fn=collate), None,
                    quiet(learning_rate=1e-3, epochs=1, gradient_accumulation_steps=2))
    assert len(history.steps) == 1
    for (name, a), b in zip(big.named_parameters(), small.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0, msg=name)


def test_no_weight_decay_on_biases_and_layer_norm():
    model = tiny_model()
    decay, no_decay = parameter_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert all(n.endswith("bias") or "LayerNorm" in n for n in (names[id(p)] for p in no_decay["params"]))
    assert all("LayerNorm" not in names[id(p)] and not names[id(p)].endswith("bias") for p in decay["params"])


def test_early_stopping_restores_the_best_epoch(data, tokenizer):
    scores = iter([0.9, 0.5, 0.4, 0.3])
    model = tiny_model()
    history = train(model, *loaders(data, tokenizer),
                    quiet(learning_rate=1e-3, epochs=4, early_stopping_patience=1, metric="accuracy"),
                    compute_metrics=lambda logits, labels: {"accuracy": next(scores)})
    assert history.stopped_early and history.best_epoch == 1 and len(history.epochs) == 2
    assert "← best" in history.summary().splitlines()[0]


def test_evaluate_runs_in_eval_mode_without_gradients(data, tokenizer):
    model = tiny_model()
    model.train()
    first = evaluate(model, loaders(data, tokenizer)[1])
    second = evaluate(model, loaders(data, tokenizer)[1])
    assert first == second and not model.training  # dropout off: repeatable


def test_missing_labels_is_explained(data, tokenizer):
    no_labels = data["train"].remove_columns("labels")
    with pytest.raises(ValueError, match="'NoneType' object has no attribute 'backward'"):
        train(tiny_model(), make_loader(no_labels, tokenizer, 4), None, quiet())


def test_labels_out_of_range(tokenizer):
    split = Dataset.from_dict({"text": ["a", "b"], "label": [0, 3]})
    with pytest.raises(ValueError, match=r"0 … 1 for this model \(num_labels=2\), got values \[0, 3\]"):
        train(tiny_model(), make_loader(tokenize(split, tokenizer), tokenizer, 2), None, quiet())


def test_bad_configs_and_empty_data(data, tokenizer):
    with pytest.raises(ValueError, match="learning_rate"):
        TrainingConfig(learning_rate=0)
    with pytest.raises(ValueError, match="warmup_ratio"):
        TrainingConfig(warmup_ratio=1.5)
    with pytest.raises(ValueError, match="val_loader"):
        train(tiny_model(), loaders(data, tokenizer)[0], None, quiet(early_stopping_patience=2))
    with pytest.raises(ValueError, match="empty"):
        make_loader(data["train"].select([]), tokenizer)
