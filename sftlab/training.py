"""One short fine-tuning loop for chapters 03–07: AdamW, warmup then linear decay, clipping, accumulation,
early stopping.

    history = train(model, train_loader, val_loader, TrainingConfig(learning_rate=5e-5, epochs=3))

Batches are dicts of tensors that the model takes as keyword arguments (input_ids, attention_mask,
labels …), as transformers' collators produce them. The model trains on the device it is on (load it with
`device=`); batches are moved there. The loop runs through Hugging Face Accelerate, so the same code runs on
a CPU, a GPU with mixed precision, or several processes under `accelerate launch` (DDP) unchanged:
`accelerator.backward(loss)` is `loss.backward()` plus what DDP and mixed precision need.

Its heart, for one optimizer step (notebook 03 writes it out and checks it gives the same weights):

    loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step(); scheduler.step(); optimizer.zero_grad()
"""

import functools
import math
import os
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn

from sftlab.batching import IGNORE_INDEX, check_token_ids
from sftlab.course.progress import progress_bar
from sftlab.devices import mixed_precision_for, model_device, synchronize, to_device

MIXED_PRECISION = ("auto", "no", "fp16", "bf16")
# Modules whose weights are gains or shifts, not sizes to shrink; matched by type, plus any class whose name ends
# in "Norm" (LlamaRMSNorm, T5LayerNorm … are custom classes in transformers).
NORM_TYPES = (nn.LayerNorm, nn.GroupNorm, nn.RMSNorm, nn.modules.batchnorm._BatchNorm)
# Which way is better for the validation metrics the course computes; any other needs greater_is_better.
LOWER_IS_BETTER = ("loss", "perplexity", "ece", "nll", "brier")
HIGHER_IS_BETTER = ("accuracy", "macro_f1", "f1", "micro_f1", "entity_f1", "precision", "recall", "exact_match",
                    "rouge_l", "chrf")


def _number(name, value, integer=False):
    """A learner's "1e-3" (a string) or True (a bool) is not a number: say so before any arithmetic fails."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise TypeError(f"{name} must be {'an int' if integer else 'a number'}, got {value!r} "
                        f"({type(value).__name__})" + (f"; write {name}={value.strip()}" if isinstance(value, str)
                                                        else ""))
    return value


@dataclass
class TrainingConfig:
    learning_rate: float = 5e-5            # peak learning rate, reached at the end of warmup
    epochs: int = 3
    weight_decay: float = 0.01             # AdamW's decoupled decay; never on biases or normalisation weights
    decay_embeddings: bool = True          # False: no weight decay on nn.Embedding tables either
    warmup_ratio: float = 0.1              # share of optimizer steps that ramp the LR linearly from 0
    max_grad_norm: float | None = 1.0      # clip the global gradient norm to this (None: no clipping)
    gradient_accumulation_steps: int = 1   # optimizer step every k batches: effective batch = k × batch size
    early_stopping_patience: int | None = None  # stop after this many epochs without a better `metric`
    metric: str = "loss"                   # validation metric that picks the best epoch
    greater_is_better: bool | None = None  # its direction; None: known for the course's metrics (LOWER/HIGHER_…)
    restore_best: bool = True              # end with the weights of the best validation epoch
    seed: int = 0                          # seeds python, numpy and torch: same run, same numbers
    mixed_precision: str = "auto"          # "auto": devices.mixed_precision_for (bf16/fp16 on CUDA, else fp32)
    progress: bool = True                  # show a tqdm bar

    def __post_init__(self):
        for name in ("learning_rate", "weight_decay", "warmup_ratio"):
            _number(name, getattr(self, name))
        for name in ("epochs", "gradient_accumulation_steps", "seed"):
            _number(name, getattr(self, name), integer=True)
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {self.epochs!r}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be ≥ 0 (0: no decay), got {self.weight_decay}: a negative decay "
                             "pushes every weight away from zero")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.max_grad_norm is not None and not _number("max_grad_norm", self.max_grad_norm) > 0:
            raise ValueError(f"max_grad_norm must be > 0, or None for no clipping; got {self.max_grad_norm} (a norm "
                             "≤ 0 would flip or zero every gradient)")
        if self.gradient_accumulation_steps < 1:
            raise ValueError(f"gradient_accumulation_steps must be a positive int, got "
                             f"{self.gradient_accumulation_steps!r}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"mixed_precision={self.mixed_precision!r}; expected one of {MIXED_PRECISION}")
        if self.early_stopping_patience is not None and (isinstance(self.early_stopping_patience, bool)
                                                         or not isinstance(self.early_stopping_patience, int)
                                                         or self.early_stopping_patience < 1):
            raise ValueError(f"early_stopping_patience must be None or a positive int, "
                             f"got {self.early_stopping_patience!r}")
        if not isinstance(self.metric, str):
            raise TypeError(f"metric must be the name of a validation metric, got {self.metric!r}")
        known = True if self.metric in HIGHER_IS_BETTER else False if self.metric in LOWER_IS_BETTER else None
        if self.greater_is_better is None and known is None:
            raise ValueError(f"metric={self.metric!r}: say whether higher is better with greater_is_better=True or "
                             f"False (known: higher {HIGHER_IS_BETTER}, lower {LOWER_IS_BETTER})")
        if known is not None and self.greater_is_better not in (None, known):
            raise ValueError(f"greater_is_better={self.greater_is_better} contradicts metric={self.metric!r}, for "
                             f"which {'higher' if known else 'lower'} is better")
        if self.greater_is_better is None:
            self.greater_is_better = known


_dataclass_init = TrainingConfig.__init__


@functools.wraps(_dataclass_init)
def _init_naming_unknown_fields(self, *args, **kwargs):
    """The dataclass's __init__, but an unknown keyword (lr=…, num_epochs=…) names the fields that exist."""
    import difflib

    names = [f.name for f in fields(TrainingConfig)]
    for key in kwargs:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise TypeError(f"TrainingConfig has no field {key!r}; {hint}fields: {', '.join(names)}")
    _dataclass_init(self, *args, **kwargs)


TrainingConfig.__init__ = _init_naming_unknown_fields


@dataclass
class History:
    """What happened during training: one entry per optimizer step and one per epoch."""

    steps: list = field(default_factory=list)    # {"step", "epoch", "loss", "lr"}
    epochs: list = field(default_factory=list)   # {"epoch", "train_loss", "val_loss", other val metrics}
    best_epoch: int | None = None
    stopped_early: bool = False
    samples_per_second: float = 0.0
    device: str = "cpu"                          # where it trained, and in which precision
    mixed_precision: str = "no"
    optimizer: str = ""                          # "AdamW (fused)" or "AdamW"
    skipped_steps: int = 0                       # windows with no labelled token: nothing to learn, no step

    def summary(self) -> str:
        """One line per epoch."""
        lines = []
        for e in self.epochs:
            val = "  ".join(f"val {k.removeprefix('val_')} {v:.4f}"
                            for k, v in e.items() if k not in ("epoch", "train_loss"))
            mark = "  ← best" if e["epoch"] == self.best_epoch else ""
            lines.append(f"epoch {e['epoch']}: train loss {e['train_loss']:.4f}  {val}{mark}")
        if self.stopped_early:
            lines.append(f"stopped early: no better validation {self._metric} for the last epochs")
        return "\n".join(lines)

    _metric: str = "loss"


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices) so a rerun gives the same numbers."""
    from accelerate.utils import set_seed

    set_seed(seed)


# ---------------------------------------------------------------- optimizer


def _is_norm(module) -> bool:
    return isinstance(module, NORM_TYPES) or type(module).__name__.endswith("Norm")


def parameter_groups(model, weight_decay: float, decay_embeddings: bool = True) -> list[dict]:
    """AdamW groups: decay on weight matrices; none on biases and normalisation weights, decided by the module
    that owns each parameter (LayerNorm, RMSNorm …), not by its name. A normalisation gain is not a 'size' to
    shrink: decaying it towards 0 just rescales the activations. decay_embeddings=False spares nn.Embedding too."""
    decay, no_decay, seen = [], [], set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:    # tied weights (GPT-2's lm_head = wte) count once
                continue
            seen.add(id(param))
            spared = (name == "bias" or _is_norm(module)
                      or (not decay_embeddings and isinstance(module, nn.Embedding)))
            (no_decay if spared else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


FUSED_ADAMW_DEVICES = ("cuda", "cpu")   # where torch's fused AdamW kernel is established (MPS's is newer)


def make_optimizer(groups: list[dict], learning_rate: float) -> tuple[torch.optim.Optimizer, str]:
    """(AdamW, its name): the fused kernel — one pass over all parameters instead of a Python loop over ~100
    tensors, Trainer's default too — when every parameter is a float tensor on a device that has it, otherwise
    the standard implementation. torch only checks this at the first step, so decide here, after the model is
    on its device."""
    params = [p for group in groups for p in group["params"]]
    fused = bool(params) and all(p.device.type in FUSED_ADAMW_DEVICES and p.is_floating_point() for p in params)
    return torch.optim.AdamW(groups, lr=learning_rate, fused=fused or None), "AdamW (fused)" if fused else "AdamW"


# ---------------------------------------------------------------- one batch


def unwrap(model):
    """The transformers model inside DDP (.module) and PEFT (get_base_model) wrappers (LoRA lives inside its
    modules, so calling the unwrapped model keeps LoRA)."""
    inner = getattr(model, "module", model)
    return inner.get_base_model() if hasattr(inner, "get_base_model") else inner


def _has_targets(batch) -> bool:
    """A transformers model computes a loss when the batch has labels, or start and end positions (extractive QA)."""
    return "labels" in batch or {"start_positions", "end_positions"} <= set(batch)


def _check_loader(loader, name: str) -> None:
    """A datasets.Dataset is not a loader: iterating it yields rows of lists, not padded batches of tensors."""
    if hasattr(loader, "column_names") or isinstance(loader, Mapping):
        raise TypeError(f"{name} must give batches (a DataLoader), got a {type(loader).__name__}: batch it with "
                        "make_loader(tokenized_split, tokenizer, batch_size) from the task's module "
                        "(sftlab.classification, sftlab.ner, sftlab.qa …)")
    if not hasattr(loader, "__iter__") or not hasattr(loader, "__len__"):
        raise TypeError(f"{name} must be a DataLoader (or a list of batch dicts), got {type(loader).__name__}")


def _check_batch(batch, model, loss_fn) -> None:
    """Catch the classic mistakes on the first batch, before a cryptic error deep inside transformers."""
    if not isinstance(batch, Mapping):
        raise TypeError(f"batches must be dicts of tensors (input_ids, attention_mask, labels …), "
                        f"got {type(batch).__name__}; use a transformers collator")
    if "input_ids" not in batch:
        raise ValueError(f"the batch has no 'input_ids' (keys: {sorted(batch)}); tokenize the texts first")
    for key, value in batch.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"batch[{key!r}] is a {type(value).__name__}, not a tensor: the DataLoader has no "
                            "collator that pads and stacks the rows. Pass collate_fn=… (e.g. DataCollatorWithPadding"
                            "(tokenizer)) or build the loader with the task's make_loader")
    if loss_fn is None and not _has_targets(batch):
        raise ValueError(
            f"the batch has no 'labels' (keys: {sorted(batch)}). A transformers model only computes a loss "
            "when you pass labels; without them outputs.loss is None and loss.backward() fails with "
            "\"'NoneType' object has no attribute 'backward'\". Keep the label column in the dataset "
            "(named 'labels' or 'label') or pass loss_fn.")
    inner = unwrap(model)
    check_token_ids(inner, batch["input_ids"])
    labels = batch.get("labels")
    if labels is not None and not labels.is_floating_point() and \
            type(inner).__name__.endswith(("ForSequenceClassification", "ForTokenClassification")):
        labels = labels[labels != IGNORE_INDEX]                   # float labels: regression (num_labels=1)
        num_labels = inner.config.num_labels
        if labels.numel() and (labels.min() < 0 or labels.max() >= num_labels):
            raise ValueError(f"labels must lie in 0 … {num_labels - 1} for this model (num_labels={num_labels}), "
                             f"got values {sorted(labels.unique().tolist())}; load the model with the right num_labels")


def _first_batch(loader):
    """A batch to check before training, built without iterating the loader: each iteration of a shuffling
    loader advances its random generator, and the first epoch would then see another order than a hand-written
    loop over the same loader."""
    dataset, collate = getattr(loader, "dataset", None), getattr(loader, "collate_fn", None)
    try:
        if collate is not None and hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__"):
            return collate([dataset[i] for i in range(min(len(dataset), loader.batch_size or 1))])
        return next(iter(loader))
    except (RuntimeError, TypeError, ValueError) as error:
        raise TypeError(f"the loader could not build a batch ({type(error).__name__}: {error}). Rows of different "
                        "lengths need a collator that pads them: DataLoader(…, collate_fn=DataCollatorWithPadding"
                        "(tokenizer)), or the task's make_loader") from error


def _loss(model, batch, loss_fn):
    outputs = model(**batch)
    loss = loss_fn(outputs, batch) if loss_fn is not None else outputs.loss
    if loss is None:
        raise ValueError("the model returned no loss: it computes one only when the batch has 'labels'")
    return loss, outputs


def _predicts_next_token(model) -> bool:
    """True for a causal LM (its loss scores labels shifted by one position), also inside PEFT or DDP."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return type(unwrap(model)).__name__ in set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())


def loss_units(model, batch, loss_fn=None) -> float:
    """How many terms the batch's mean loss averages: labelled examples (classification, regression), labelled
    tokens (token classification), predicted tokens (causal LM: every label but the first of each row, which
    nothing predicts), or windows (extractive QA). A custom loss_fn that averages something else says so with a
    `units(batch)` attribute (a class-weighted loss averages over the weights of its labels).

    Accumulation weights each micro-batch by this, so k micro-batches give the same gradient as one batch of their
    union even when their lengths differ, and evaluate averages the validation loss in the same units as the
    training loss."""
    if loss_fn is not None and hasattr(loss_fn, "units"):
        return float(loss_fn.units(batch))
    labels = batch.get("labels") if isinstance(batch, Mapping) else None
    if labels is None:
        return len(batch["input_ids"])
    if labels.dim() > 1 and _predicts_next_token(model):
        labels = labels[:, 1:]
    return int((labels != IGNORE_INDEX).sum())


def _logits_and_targets(outputs, batch):
    """What compute_metrics receives: (logits, labels), or for extractive QA (start and end logits stacked (B, T, 2),
    start and end positions stacked (B, 2))."""
    if "start_positions" in batch:
        return (torch.stack([outputs.start_logits, outputs.end_logits], dim=-1),
                torch.stack([batch["start_positions"], batch["end_positions"]], dim=-1))
    return outputs.logits, batch["labels"]


# ---------------------------------------------------------------- evaluate


@torch.no_grad()
def evaluate(model, loader, compute_metrics: Callable | None = None, loss_fn=None, accelerator=None) -> dict:
    """Mean loss over `loader` in the training loss's units (per labelled example, token or window: loss_units)
    plus compute_metrics(logits_list, labels_list), with the model in eval mode (dropout off) and no gradients.
    Batches go to the model's device; logits and labels are handed to compute_metrics on the CPU."""
    _check_loader(loader, "the evaluation loader")
    model.eval()
    device = model_device(model)
    total_loss, count, logits, labels = 0.0, 0.0, [], []
    for batch in loader:
        batch = to_device(batch, device)
        loss, outputs = _loss(model, batch, loss_fn)
        units = loss_units(model, batch, loss_fn)
        if units:                                     # a batch with no labelled token has no loss (NaN): skip it
            total_loss += loss.item() * units
            count += units
        if compute_metrics is not None:
            batch_logits, batch_labels = _logits_and_targets(outputs, batch)
            if accelerator is not None:   # under DDP each process saw a shard: gather them all
                batch_logits, batch_labels = accelerator.gather_for_metrics((batch_logits, batch_labels))
            logits.append(batch_logits.float().cpu())
            labels.append(batch_labels.cpu())
    if accelerator is not None and accelerator.num_processes > 1:
        # every process must see the same loss, or early stopping would stop some processes and not others
        totals = accelerator.reduce(torch.tensor([total_loss, float(count)], device=accelerator.device), "sum")
        total_loss, count = totals[0].item(), totals[1].item()
    if count == 0:
        raise ValueError("the evaluation loader is empty, or none of its labels counts (all are -100)")
    results = {"loss": total_loss / count}
    if compute_metrics is not None:
        results.update(compute_metrics(logits, labels))
    return results


@torch.no_grad()
def _check_metric(model, val_loader, compute_metrics, metric: str) -> None:
    """Before the first step: the metric that picks the best epoch must be one compute_metrics returns."""
    if metric == "loss":
        return
    if compute_metrics is None:
        raise ValueError(f"metric={metric!r} needs compute_metrics (only 'loss' is computed without it)")
    was_training = model.training
    model.eval()
    batch = to_device(next(iter(val_loader)), model_device(model))
    batch_logits, batch_labels = _logits_and_targets(model(**batch), batch)
    names = sorted(compute_metrics([batch_logits.float().cpu()], [batch_labels.cpu()]))
    model.train(was_training)
    if metric not in names:
        raise ValueError(f"metric={metric!r} is not computed: compute_metrics returns {names}, plus 'loss'")


def _better(value, best, greater_is_better: bool) -> bool:
    return best is None or (value > best if greater_is_better else value < best)


def _trainable_copy(model) -> dict:
    """A CPU copy of the parameters being trained: under LoRA the adapter, not the frozen base it sits on."""
    return {name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters() if p.requires_grad}


@torch.no_grad()
def _load_trainable(model, saved: dict) -> None:
    for name, p in model.named_parameters():
        if name in saved:
            p.copy_(saved[name])


# ---------------------------------------------------------------- precision and Accelerate


def _check_precision(precision: str, device: torch.device) -> None:
    if precision == "fp16" and device.type == "cpu":
        raise ValueError("mixed_precision='fp16' needs a GPU (CUDA or MPS): the CPU has no fast float16 kernels "
                         "and no gradient scaler. Use 'bf16' (the CPU has bfloat16 autocast) or 'no'")


def _launched_processes() -> int:
    """How many processes `accelerate launch` / torchrun started (1 in a notebook or a plain `python`)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def _fresh_accelerator(device: torch.device, precision: str):
    """An Accelerator for this run. Accelerate keeps one process-wide state, fixed by the first Accelerator (or
    Trainer) of the process; in a single process, reset it first, as transformers' TrainingArguments does, so that
    runs with another precision or device — a Trainer with bf16, then train() in fp32 — work one after another.
    Under `accelerate launch` the launcher owns that state: keep it."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    if _launched_processes() == 1 and not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        AcceleratorState._reset_state(reset_partial_state=True)
    return Accelerator(cpu=device.type == "cpu", mixed_precision=precision)


def _restore_forward(model, own_forward) -> None:
    """Take mixed precision's autocast wrapper off model.forward. (Accelerate's unwrap_model(keep_fp32_wrapper=False)
    unwraps every functools.wraps layer, transformers' own decorators on forward included.)"""
    model.__dict__.pop("_original_forward", None)
    if own_forward is None:
        model.__dict__.pop("forward", None)                        # back to the class's forward
    else:
        model.forward = own_forward


# ---------------------------------------------------------------- train


def _windows(loader, k: int):
    """The loader's batches in groups of k (the last group may be shorter): one group per optimizer step."""
    window = []
    for batch in loader:
        window.append(batch)
        if len(window) == k:
            yield window
            window = []
    if window:
        yield window


def accumulate_gradients(model, window: list, loss_fn: Callable | None = None, accelerator=None) -> float | None:
    """Backward over a window of micro-batches (already on the model's device) so that the gradients add up to
    those of one batch of their union; returns the window's mean loss, or None when no micro-batch has a labelled
    token (nothing to learn: no gradient).

    Each micro-batch's mean loss is weighted by its share of the window's loss units (loss_units): with equal
    weights 1/k, a micro-batch of 10 labelled tokens would count as much as one of 100. A micro-batch without
    labelled tokens is skipped: its mean loss is 0/0 = NaN, and NaN × 0 would still poison every gradient."""
    units = [loss_units(model, batch, loss_fn) for batch in window]
    device = model_device(model)
    total_units = torch.tensor(float(sum(units)), device=device)
    processes = accelerator.num_processes if accelerator is not None else 1
    if processes > 1:                                  # DDP averages gradients over processes: undo that
        total_units = accelerator.reduce(total_units, "sum") / processes
    if not total_units.item():
        return None
    window_loss = 0.0
    for i, batch in enumerate(window):
        last = i == len(window) - 1                    # DDP syncs gradients on the last micro-batch only
        if not units[i] and not (processes > 1 and last):
            continue
        with accelerator.no_sync(model) if processes > 1 and not last else nullcontext():
            loss, _ = _loss(model, batch, loss_fn)     # mean over this micro-batch's units
            share = units[i] / total_units             # its share of the whole window's units
            if not units[i]:                           # DDP's last micro-batch must still run backward to sync
                loss = torch.nan_to_num(loss, nan=0.0)  # its share is 0; nan_to_num passes a zero gradient
            if accelerator is not None:
                accelerator.backward(loss * share)     # = loss.backward(), plus mixed-precision scaling
            else:
                (loss * share).backward()
        window_loss += loss.item() * share.item()
    return window_loss


def train(model, train_loader, val_loader=None, config: TrainingConfig | None = None,
          compute_metrics: Callable | None = None,   # (logits_list, labels_list) -> {"accuracy": …}
          loss_fn: Callable | None = None,            # (outputs, batch) -> mean loss; see loss_units for .units
          ) -> History:
    """Fine-tune `model` in place, on the device it is on, and return its History; evaluates on val_loader
    after every epoch. Ends with the model in eval mode. Interrupted (an exception, Ctrl-C, the notebook's stop
    button), it leaves the model as it found it — training mode, forward without autocast — with its weights as
    far as training got."""
    from transformers import get_linear_schedule_with_warmup

    config = TrainingConfig() if config is None else config
    if not isinstance(config, TrainingConfig):
        raise TypeError(f"config must be a TrainingConfig, got a {type(config).__name__}"
                        + (": write TrainingConfig(**your_dict)" if isinstance(config, Mapping) else ""))
    _check_loader(train_loader, "train_loader")
    if val_loader is not None:
        _check_loader(val_loader, "val_loader")
    if len(train_loader) == 0:
        raise ValueError("the training loader is empty: no batches to train on")
    if (config.early_stopping_patience or config.metric != "loss") and val_loader is None:
        raise ValueError("early stopping and a validation metric need a val_loader")
    device = model_device(model)
    precision = mixed_precision_for(device) if config.mixed_precision == "auto" else config.mixed_precision
    _check_precision(precision, device)
    _check_batch(_first_batch(train_loader), model, loss_fn)
    if val_loader is not None:
        _check_metric(model, val_loader, compute_metrics, config.metric)

    accelerator = _fresh_accelerator(device, precision)
    seed_everything(config.seed)                 # after the checks above, so only training draws random numbers
    optimizer, optimizer_name = make_optimizer(
        parameter_groups(model, config.weight_decay, config.decay_embeddings), config.learning_rate)
    k = config.gradient_accumulation_steps
    steps_per_epoch = math.ceil(len(train_loader) / k)
    total_steps = steps_per_epoch * config.epochs
    history = History(_metric=config.metric, device=str(accelerator.device), mixed_precision=precision,
                      optimizer=optimizer_name)
    best_value, best_state, epochs_without_gain, samples, seconds = None, None, 0, 0, 0.0
    was_training, finished, own_forward = model.training, False, model.__dict__.get("forward")
    bar = progress_bar(total_steps, desc="training", disable=not (config.progress and accelerator.is_main_process))
    try:
        model, optimizer = accelerator.prepare(model, optimizer)    # mixed precision wraps forward in autocast
        if accelerator.num_processes > 1:            # each process takes its own shard of the batches
            train_loader = accelerator.prepare(train_loader)
            val_loader = accelerator.prepare(val_loader) if val_loader is not None else None
        scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * total_steps), total_steps)
        for epoch in range(1, config.epochs + 1):
            model.train()                                          # dropout on
            epoch_loss, epoch_steps = 0.0, 0
            synchronize(accelerator.device)
            started = time.perf_counter()
            for window in _windows(train_loader, k):
                window = [to_device(batch, accelerator.device) for batch in window]
                step_loss = accumulate_gradients(model, window, loss_fn, accelerator)
                if step_loss is None:                              # no labelled token in the window: no step
                    history.skipped_steps += 1
                    scheduler.step()                               # the schedule keeps its length in steps
                    bar.update(1)
                    continue
                if config.max_grad_norm is not None:
                    accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()                              # the next window starts from zero gradients
                epoch_loss += step_loss
                epoch_steps += 1
                samples += sum(len(batch["input_ids"]) for batch in window) * accelerator.num_processes
                history.steps.append({"step": len(history.steps) + 1, "epoch": epoch, "loss": step_loss,
                                      "lr": scheduler.get_last_lr()[0]})
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{step_loss:.4f}")
            synchronize(accelerator.device)                        # GPU work is queued: wait before reading the clock
            seconds += time.perf_counter() - started
            record = {"epoch": epoch, "train_loss": epoch_loss / epoch_steps if epoch_steps else float("nan")}
            if val_loader is not None:
                results = evaluate(model, val_loader, compute_metrics, loss_fn, accelerator)
                record.update({("val_loss" if name == "loss" else name): v for name, v in results.items()})
                value = results[config.metric]
                if _better(value, best_value, config.greater_is_better):
                    best_value, history.best_epoch, epochs_without_gain = value, epoch, 0
                    if config.restore_best:
                        best_state = _trainable_copy(accelerator.unwrap_model(model))
                else:
                    epochs_without_gain += 1
            history.epochs.append(record)
            if config.early_stopping_patience and epochs_without_gain >= config.early_stopping_patience:
                history.stopped_early = True
                break
        finished = True
    finally:                                                       # also on Ctrl-C: the learner's model, as it was
        bar.close()
        model = accelerator.unwrap_model(model)                    # out of DDP
        _restore_forward(model, own_forward)
        if not finished:
            model.train(was_training)
    history.samples_per_second = samples / seconds if seconds else 0.0
    if best_state is not None and history.best_epoch != history.epochs[-1]["epoch"]:
        _load_trainable(model, best_state)
    model.eval()
    return history


def history_as_dict(history: History) -> dict:
    """The history as plain data (for JSON or a DataFrame)."""
    return asdict(history)
