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


def test_early_stopping_restores_the_best_epoch(data, tokenizer):
    scores = iter([0.0, 0.9, 0.5, 0.4, 0.3])     # the first call is train()'s check that "accuracy" exists
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


# ---------------------------------------------------------------- gradient accumulation


def _union_equals_accumulated(model_fn, micro_batches, union_batch, atol=1e-6):
    """Gradients of one batch vs k accumulated micro-batches of the same examples, on identical models."""
    from sftlab.training import accumulate_gradients

    big, small = model_fn(), model_fn()
    accumulate_gradients(big, [union_batch])
    accumulate_gradients(small, micro_batches)
    for (name, a), b in zip(big.named_parameters(), small.parameters(), strict=True):
        if a.grad is not None:
            torch.testing.assert_close(b.grad, a.grad, atol=atol, rtol=0, msg=lambda m, n=name: f"{n}: {m}")


def _tiny_causal_lm(kind):
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    if kind == "gpt2":
        return GPT2LMHeadModel(GPT2Config(vocab_size=50, n_positions=32, n_embd=16, n_layer=2, n_head=2,
                                          resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0))
    return LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32))


def _lm_rows(lengths, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [{"input_ids": torch.randint(1, 50, (n,), generator=generator).tolist()} for n in lengths]


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_accumulation_equals_one_batch_for_a_causal_lm_with_uneven_lengths(kind):
    """Token-level loss: micro-batches of 3, 12 and 7 tokens per row must weigh by tokens, not 1/3 each."""
    from sftlab.causal_lm import CausalLMCollator

    class Tokenizer:
        pad_token_id = 0

    collate = CausalLMCollator(Tokenizer())
    rows = _lm_rows([3, 4, 12, 11, 7])
    micro = [collate(rows[:2]), collate(rows[2:4]), collate(rows[4:])]       # the last window part is partial
    _union_equals_accumulated(lambda: _tiny_causal_lm(kind), micro, collate(rows))


def test_equal_weights_would_be_wrong_for_uneven_lengths():
    """The naive rule (each micro-batch's mean loss / k) differs from the union batch: the test above has teeth."""
    from sftlab.causal_lm import CausalLMCollator

    class Tokenizer:
        pad_token_id = 0

    collate = CausalLMCollator(Tokenizer())
    rows = _lm_rows([3, 4, 12, 11])
    big, naive = _tiny_causal_lm("gpt2"), _tiny_causal_lm("gpt2")
    big(**collate(rows)).loss.backward()
    for part in (rows[:2], rows[2:]):
        (naive(**collate(part)).loss / 2).backward()
    differences = [(a.grad - b.grad).abs().max().item() for a, b in zip(big.parameters(), naive.parameters(),
                                                                         strict=True)]
    assert max(differences) > 1e-4


def test_accumulation_equals_one_batch_for_token_classification(tokenizer):
    from transformers import BertForTokenClassification, DataCollatorForTokenClassification

    def model():
        torch.manual_seed(0)
        return BertForTokenClassification(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                                                     num_attention_heads=2, intermediate_size=64, num_labels=3,
                                                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))

    texts = ["a", "the cat sat on the mat today", "dogs bark", "one two three four five six seven", "hi there"]
    generator = torch.Generator().manual_seed(1)
    rows = []
    for text in texts:
        ids = tokenizer(text)["input_ids"]
        labels = torch.randint(0, 3, (len(ids),), generator=generator)
        labels[0] = labels[-1] = -100                                       # [CLS] and [SEP] carry no label
        rows.append({"input_ids": ids, "labels": labels.tolist()})
    collate = DataCollatorForTokenClassification(tokenizer)
    micro = [collate(rows[:2]), collate(rows[2:4]), collate(rows[4:])]
    _union_equals_accumulated(model, micro, collate(rows), atol=1e-6)


def test_accumulation_equals_one_batch_for_sequence_classification(data, tokenizer):
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding

    collate = DataCollatorWithPadding(tokenizer)
    rows = [data["train"][i] for i in range(7)]
    micro = [collate(rows[:3]), collate(rows[3:6]), collate(rows[6:])]
    _union_equals_accumulated(lambda: tiny_model(dropout=0.0), micro, collate(rows))
    assert len(DataLoader(rows, batch_size=3)) == 3


def test_a_partial_last_window_is_one_more_optimizer_step(data, tokenizer):
    """5 batches with k = 2: windows of 2, 2 and 1 → 3 optimizer steps per epoch."""
    train_loader = make_loader(data["train"].select(range(10)), tokenizer, 2)
    history = train(tiny_model(), train_loader, None, quiet(epochs=2, gradient_accumulation_steps=2))
    assert [s["epoch"] for s in history.steps] == [1, 1, 1, 2, 2, 2]


def test_zero_grad_after_every_step(data, tokenizer):
    model = tiny_model()
    train(model, make_loader(data["train"], tokenizer, 4), None, quiet(epochs=1))
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())


# ---------------------------------------------------------------- weight decay and the optimizer


def _groups_by_name(model, **kwargs):
    decay, no_decay = parameter_groups(model, 0.01, **kwargs)
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)] for p in decay["params"]}, {names[id(p)] for p in no_decay["params"]}


def test_no_weight_decay_on_biases_and_layer_norm_in_bert():
    decay, no_decay = _groups_by_name(tiny_model())
    assert "bert.embeddings.LayerNorm.weight" in no_decay and "bert.encoder.layer.0.output.LayerNorm.weight" in no_decay
    assert all(n.endswith("bias") or "LayerNorm" in n for n in no_decay)
    assert "bert.encoder.layer.0.attention.self.query.weight" in decay and "classifier.weight" in decay


def test_no_weight_decay_on_gpt2s_ln_1_ln_2_ln_f():
    """GPT-2 names its LayerNorms ln_1, ln_2, ln_f: a rule on names ("LayerNorm.weight") missed them."""
    decay, no_decay = _groups_by_name(_tiny_causal_lm("gpt2"))
    for name in ("transformer.h.0.ln_1.weight", "transformer.h.1.ln_2.weight", "transformer.ln_f.weight",
                 "transformer.h.0.attn.c_attn.bias"):
        assert name in no_decay, name
    assert "transformer.h.0.attn.c_attn.weight" in decay and "transformer.wte.weight" in decay
    assert not any(".ln_" in n for n in decay)


def test_no_weight_decay_on_llama_rms_norm_and_optionally_embeddings():
    model = _tiny_causal_lm("llama")
    decay, no_decay = _groups_by_name(model)
    norms = {n for n, _ in model.named_parameters() if "norm" in n}
    assert norms and norms <= no_decay and not norms & decay
    assert "model.embed_tokens.weight" in decay
    decay, no_decay = _groups_by_name(model, decay_embeddings=False)
    assert "model.embed_tokens.weight" in no_decay and "lm_head.weight" in decay


def test_fused_adamw_where_the_device_has_it_and_a_clean_fallback():
    from sftlab.training import make_optimizer

    cpu = torch.nn.Linear(4, 4)
    assert make_optimizer([{"params": list(cpu.parameters())}], 1e-3)[1] == "AdamW (fused)"
    meta = torch.nn.Linear(4, 4, device="meta")      # no fused kernel for this device: the standard AdamW
    optimizer, name = make_optimizer([{"params": list(meta.parameters())}], 1e-3)
    assert name == "AdamW" and not optimizer.defaults["fused"]


# ---------------------------------------------------------------- configuration mistakes


def test_an_unknown_metric_is_refused_before_the_first_step(data, tokenizer):
    model = tiny_model()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"metric='f1' is not computed: compute_metrics returns "
                                         r"\['accuracy', 'macro_f1'\], plus 'loss'"):
        train(model, *loaders(data, tokenizer), quiet(metric="f1"), compute_metrics=metrics_for(["neg", "pos"]))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_bad_mixed_precision_and_patience():
    with pytest.raises(ValueError, match="mixed_precision='fp8'"):
        TrainingConfig(mixed_precision="fp8")
    with pytest.raises(ValueError, match="early_stopping_patience"):
        TrainingConfig(early_stopping_patience=0)


def test_full_precision_on_the_cpu(data, tokenizer):
    history = train(tiny_model(), make_loader(data["train"], tokenizer, 4), None, quiet(epochs=1))
    assert history.device == "cpu" and history.mixed_precision == "no" and history.optimizer.startswith("AdamW")
