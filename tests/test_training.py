"""The training loop on a tiny BERT: it learns, it is deterministic, and it explains the classic mistakes."""

import math

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


def test_evaluate_runs_in_eval_mode_without_gradients(data, tokenizer):
    model = tiny_model()
    model.train()
    seen = []
    model.register_forward_hook(lambda module, args, output: seen.append((module.training, torch.is_grad_enabled(),
                                                                           output.logits.requires_grad)))
    first = evaluate(model, loaders(data, tokenizer)[1])
    second = evaluate(model, loaders(data, tokenizer)[1])
    assert first == second and not model.training  # dropout off: repeatable
    assert seen and all(s == (False, False, False) for s in seen), "eval mode, no autograd graph"
    assert all(p.grad is None for p in model.parameters())


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


# ---------------------------------------------------------------- one process, many runs


def _batches(n=3, seed=0, vocab=30522):
    generator = torch.Generator().manual_seed(seed)
    return [{"input_ids": torch.randint(0, vocab, (4, 6), generator=generator),
             "labels": torch.randint(0, 2, (4,), generator=generator)} for _ in range(n)]


def test_trainer_then_train_then_sfttrainer_then_train_in_one_process(tmp_path, tokenizer):
    """Accelerate's state is process-wide: a Trainer in bf16 used to make every later train() fail with
    'AcceleratorState has already been initialized and cannot be changed, restart your runtime'."""
    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments
    from trl import SFTConfig, SFTTrainer

    Trainer(model=tiny_model(), args=TrainingArguments(output_dir=str(tmp_path / "a"), bf16=True, use_cpu=True,
                                                       report_to="none"))
    assert train(tiny_model(), _batches(), config=quiet(epochs=1)).mixed_precision == "no"
    assert train(tiny_model(), _batches(), config=quiet(epochs=1, mixed_precision="bf16")).mixed_precision == "bf16"
    torch.manual_seed(0)
    lm = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1))
    SFTTrainer(model=lm, processing_class=tokenizer, train_dataset=Dataset.from_dict({"text": TEXTS}),
               args=SFTConfig(output_dir=str(tmp_path / "b"), bf16=True, use_cpu=True, report_to="none",
                                   eos_token=tokenizer.sep_token))
    model = tiny_model()
    history = train(model, _batches(), config=quiet(epochs=1, mixed_precision="bf16"))
    assert history.mixed_precision == "bf16" and len(history.steps) == 3
    assert model.forward.__func__ is type(model).forward, "the learner's model runs in fp32 again"


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("was_training", [True, False])
def test_an_exception_inside_an_epoch_leaves_forward_and_mode_as_before(was_training):
    """bf16 autocast wraps forward while training; Ctrl-C (or any error) half-way must not leave it there."""
    model = tiny_model()
    model.train(was_training)
    calls = []

    def failing_loss(outputs, batch):
        calls.append(1)
        if len(calls) == 2:
            raise Interrupt("stopped by the learner")
        return outputs.loss

    with pytest.raises(Interrupt):
        train(model, _batches(), config=quiet(epochs=1, mixed_precision="bf16"), loss_fn=failing_loss)
    assert model.training is was_training
    assert model.forward.__func__ is type(model).forward, "no autocast wrapper left on forward"
    assert model(**_batches(1)[0]).logits.dtype == torch.float32


# ---------------------------------------------------------------- no silent wrong results


def test_settings_that_would_train_wrongly_are_refused():
    with pytest.raises(ValueError, match=r"max_grad_norm must be > 0, or None for no clipping; got -1"):
        TrainingConfig(max_grad_norm=-1)
    with pytest.raises(ValueError, match="max_grad_norm must be > 0"):
        TrainingConfig(max_grad_norm=0)
    assert TrainingConfig(max_grad_norm=None).max_grad_norm is None
    with pytest.raises(ValueError, match=r"weight_decay must be ≥ 0 .* got -0.01"):
        TrainingConfig(weight_decay=-0.01)
    with pytest.raises(ValueError, match="mixed_precision='fp16' needs a GPU"):
        train(tiny_model(), _batches(), config=quiet(mixed_precision="fp16"))


def test_config_mistakes_name_the_value_and_what_is_expected(data, tokenizer):
    with pytest.raises(TypeError, match=r"learning_rate must be a number, got '1e-3' \(str\); write learning_rate="):
        TrainingConfig(learning_rate="1e-3")
    with pytest.raises(TypeError, match="epochs must be an int, got 2.5"):
        TrainingConfig(epochs=2.5)
    with pytest.raises(TypeError, match="TrainingConfig has no field 'num_epochs'; did you mean 'epochs'"):
        TrainingConfig(num_epochs=3)
    with pytest.raises(TypeError, match="TrainingConfig has no field 'lr'; fields: learning_rate, epochs"):
        TrainingConfig(lr=1e-3)
    with pytest.raises(TypeError, match=r"config must be a TrainingConfig, got a dict: write TrainingConfig\(\*\*"):
        train(tiny_model(), _batches(), config={"learning_rate": 1e-3})
    with pytest.raises(ValueError, match="metric='bleu': say whether higher is better with greater_is_better"):
        TrainingConfig(metric="bleu")
    with pytest.raises(ValueError, match="greater_is_better=True contradicts metric='perplexity'"):
        TrainingConfig(metric="perplexity", greater_is_better=True)
    assert TrainingConfig(metric="bleu", greater_is_better=True).greater_is_better


def test_loader_mistakes_are_caught_before_training(data, tokenizer):
    from torch.utils.data import DataLoader

    with pytest.raises(TypeError, match="train_loader must give batches .* got a Dataset: batch it with make_loader"):
        train(tiny_model(), data["train"], config=quiet())
    uneven = tokenize(Dataset.from_dict({"text": ["good", "a truly great and lovely film"], "label": [1, 1]}),
                      tokenizer)
    with pytest.raises(TypeError, match="could not build a batch .* need a collator that pads them"):
        train(tiny_model(), DataLoader(uneven.with_format("torch"), batch_size=2), config=quiet())
    with pytest.raises(TypeError, match=r"batch\['input_ids'\] is a list, not a tensor"):
        train(tiny_model(), DataLoader(data["train"], batch_size=1), config=quiet())
    too_big = [{"input_ids": torch.tensor([[101, 40000, 102]]), "labels": torch.tensor([1])}]
    vocabulary = r"token id 40000, but the model's vocabulary has 30,522 tokens \(ids 0 … 30,521\)"
    with pytest.raises(ValueError, match=vocabulary):
        train(tiny_model(), too_big, config=quiet())


@pytest.mark.parametrize("metric, greater_is_better, scripted, best", [
    ("accuracy", True, [0.5, 0.9, 0.7], 2),
    ("perplexity", False, [9.0, 3.0, 5.0], 2),
    ("ece", False, [0.3, 0.2, 0.1], 3),
])
def test_restore_best_keeps_the_weights_of_the_best_epoch_in_the_metrics_direction(
        data, tokenizer, metric, greater_is_better, scripted, best):
    model = tiny_model()
    snapshots, values = [], iter([0.0, *scripted])        # the first call is train()'s check that the metric exists

    def compute(logits, labels):                          # called after each epoch, with that epoch's weights
        snapshots.append({n: p.detach().clone() for n, p in model.named_parameters()})
        return {metric: next(values)}

    history = train(model, *loaders(data, tokenizer), quiet(learning_rate=1e-3, epochs=3, metric=metric),
                    compute_metrics=compute)
    assert history.best_epoch == best
    for name, param in model.named_parameters():
        torch.testing.assert_close(param, snapshots[best][name], rtol=0, atol=0, msg=name)
    if best != 3:
        assert any(not torch.equal(p, snapshots[3][n]) for n, p in model.named_parameters()), "not the last epoch"


def test_early_stopping_stops_and_restores_the_best_weights(data, tokenizer):
    model = tiny_model()
    snapshots, values = [], iter([0.0, 0.9, 0.5, 0.4, 0.3])

    def compute(logits, labels):
        snapshots.append({n: p.detach().clone() for n, p in model.named_parameters()})
        return {"accuracy": next(values)}

    history = train(model, *loaders(data, tokenizer), quiet(learning_rate=1e-3, epochs=4, early_stopping_patience=1,
                                                            metric="accuracy"), compute_metrics=compute)
    assert history.stopped_early and len(history.epochs) == 2 and history.best_epoch == 1
    assert all(torch.equal(p, snapshots[1][n]) for n, p in model.named_parameters())


def test_under_lora_restore_best_copies_the_adapter_not_the_frozen_base(data, tokenizer, monkeypatch):
    from peft import LoraConfig, get_peft_model

    from sftlab import training

    model = get_peft_model(tiny_model(), LoraConfig(r=2, target_modules=["query", "value"]))
    copied, values = [], iter([0.0, 0.9, 0.1])
    real_copy = training._trainable_copy
    monkeypatch.setattr(training, "_trainable_copy", lambda m: copied.append(real_copy(m)) or copied[-1])
    snapshots = []

    def compute(logits, labels):
        snapshots.append({n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad})
        return {"accuracy": next(values)}

    train(model, *loaders(data, tokenizer), quiet(learning_rate=1e-2, epochs=2, metric="accuracy"),
          compute_metrics=compute)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(copied[0]) == trainable and all("lora_" in n or "classifier" in n for n in trainable)
    assert all(torch.equal(p, snapshots[1][n]) for n, p in model.named_parameters() if p.requires_grad)


def test_validation_loss_is_averaged_over_tokens_like_the_training_loss():
    """Rows of 3 and 12 tokens: the mean over rows would weigh each of the 3 tokens 4× as much as the 12."""
    from sftlab.causal_lm import CausalLMCollator

    class Tokenizer:
        pad_token_id = 0

    collate = CausalLMCollator(Tokenizer())
    rows = _lm_rows([3, 12, 5, 9])
    model = _tiny_causal_lm("gpt2").eval()
    union = model(**collate(rows)).loss.item()
    assert evaluate(model, [collate(rows[:1]), collate(rows[1:2]), collate(rows[2:])])["loss"] == \
        pytest.approx(union, rel=1e-5)


def test_a_micro_batch_without_labelled_tokens_is_skipped_not_nan(data, tokenizer):
    from sftlab.training import accumulate_gradients

    batches = _batches(2)
    empty = {**batches[1], "labels": torch.full((4,), -100)}
    alone, with_empty = tiny_model(dropout=0.0), tiny_model(dropout=0.0)
    loss = accumulate_gradients(alone, [batches[0]])
    assert accumulate_gradients(with_empty, [batches[0], empty]) == pytest.approx(loss)
    for a, b in zip(alone.parameters(), with_empty.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad)
    history = train(tiny_model(), [batches[0], empty], config=quiet(epochs=1))
    assert history.skipped_steps == 1 and len(history.steps) == 1 and not math.isnan(history.steps[0]["loss"])


def test_a_class_weighted_loss_accumulates_and_evaluates_in_its_own_units(data, tokenizer):
    """Weighted cross-entropy divides by the labels' weights: micro-batches must weigh by those, not by rows."""
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding

    from sftlab.classification import weighted_loss

    loss_fn = weighted_loss(torch.tensor([1.0, 5.0]))
    collate = DataCollatorWithPadding(tokenizer)
    rows = [data["train"][i] for i in (0, 6, 7, 8, 1, 9, 10)]       # 2 positives in 7: unequal weight per batch
    micro = [collate(rows[:3]), collate(rows[3:])]
    big, small = tiny_model(dropout=0.0), tiny_model(dropout=0.0)
    from sftlab.training import accumulate_gradients
    accumulate_gradients(big, [collate(rows)], loss_fn)
    accumulate_gradients(small, micro, loss_fn)
    for (name, a), b in zip(big.named_parameters(), small.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-6, rtol=0, msg=name)
    model = tiny_model(dropout=0.0).eval()
    union = loss_fn(model(**collate(rows)), collate(rows)).item()
    assert evaluate(model, DataLoader(rows, batch_size=3, collate_fn=collate), loss_fn=loss_fn)["loss"] == \
        pytest.approx(union, rel=1e-5)


def test_regression_with_float_labels_trains():
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=32, num_labels=1))
    batches = [{"input_ids": torch.randint(0, 100, (4, 5)), "labels": torch.rand(4)} for _ in range(3)]
    history = train(model, batches, config=quiet(epochs=2, learning_rate=1e-3))
    assert len(history.steps) == 6 and all(s["loss"] == s["loss"] for s in history.steps)
