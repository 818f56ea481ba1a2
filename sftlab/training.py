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

import math
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from sftlab.devices import mixed_precision_for, model_device, synchronize, to_device
from sftlab.progress import progress_bar

IGNORE_INDEX = -100                                       # label positions that carry no loss
MIXED_PRECISION = ("auto", "no", "fp16", "bf16")
# Modules whose weights are gains or shifts, not sizes to shrink; matched by type, plus any class whose name ends
# in "Norm" (LlamaRMSNorm, T5LayerNorm … are custom classes in transformers).
NORM_TYPES = (nn.LayerNorm, nn.GroupNorm, nn.RMSNorm, nn.modules.batchnorm._BatchNorm)


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
    metric: str = "loss"                   # validation metric that picks the best epoch ("loss": lower is better)
    restore_best: bool = True              # end with the weights of the best validation epoch
    seed: int = 0                          # seeds python, numpy and torch: same run, same numbers
    mixed_precision: str = "auto"          # "auto": bf16 (else fp16) on a CUDA GPU, fp32 elsewhere; or no/fp16/bf16
    progress: bool = True                  # show a tqdm bar

    def __post_init__(self):
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {self.epochs!r}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not isinstance(self.gradient_accumulation_steps, int) or self.gradient_accumulation_steps < 1:
            raise ValueError(f"gradient_accumulation_steps must be a positive int, got "
                             f"{self.gradient_accumulation_steps!r}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"mixed_precision={self.mixed_precision!r}; expected one of {MIXED_PRECISION}")
        if self.early_stopping_patience is not None and (not isinstance(self.early_stopping_patience, int)
                                                         or self.early_stopping_patience < 1):
            raise ValueError(f"early_stopping_patience must be None or a positive int, "
                             f"got {self.early_stopping_patience!r}")


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


def _check_batch(batch, model, loss_fn) -> None:
    """Catch the classic mistakes on the first batch, before a cryptic error deep inside transformers."""
    if not isinstance(batch, Mapping):
        raise TypeError(f"batches must be dicts of tensors (input_ids, attention_mask, labels …), "
                        f"got {type(batch).__name__}; use a transformers collator")
    if loss_fn is None and "labels" not in batch:
        raise ValueError(
            f"the batch has no 'labels' (keys: {sorted(batch)}). A transformers model only computes a loss "
            "when you pass labels; without them outputs.loss is None and loss.backward() fails with "
            "\"'NoneType' object has no attribute 'backward'\". Keep the label column in the dataset "
            "(named 'labels' or 'label') or pass loss_fn.")
    name = type(model).__name__
    if "labels" in batch and name.endswith(("ForSequenceClassification", "ForTokenClassification")):
        labels = batch["labels"][batch["labels"] != IGNORE_INDEX]
        num_labels = model.config.num_labels
        if labels.numel() and (labels.min() < 0 or labels.max() >= num_labels):
            raise ValueError(f"labels must lie in 0 … {num_labels - 1} for this model (num_labels={num_labels}), "
                             f"got values {sorted(labels.unique().tolist())}; load the model with the right num_labels")


def _first_batch(loader):
    """A batch to check before training, built without iterating the loader: each iteration of a shuffling
    loader advances its random generator, and the first epoch would then see another order than a hand-written
    loop over the same loader."""
    dataset, collate = getattr(loader, "dataset", None), getattr(loader, "collate_fn", None)
    if collate is not None and hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__"):
        return collate([dataset[i] for i in range(min(len(dataset), loader.batch_size or 1))])
    return next(iter(loader))


def _loss(model, batch, loss_fn):
    outputs = model(**batch)
    loss = loss_fn(outputs, batch) if loss_fn is not None else outputs.loss
    if loss is None:
        raise ValueError("the model returned no loss: it computes one only when the batch has 'labels'")
    return loss, outputs


def _predicts_next_token(model) -> bool:
    """True for a causal LM (its loss scores labels shifted by one position), also inside PEFT or DDP."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    inner = getattr(model, "module", model)                             # DDP wraps the model in .module
    inner = inner.get_base_model() if hasattr(inner, "get_base_model") else inner   # PEFT
    return type(inner).__name__ in set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())


def loss_units(model, batch) -> int:
    """How many terms the batch's mean loss averages: labelled examples (classification), labelled tokens
    (token classification), or predicted tokens (causal LM: every label but the first of each row, which
    nothing predicts). Accumulation weights each micro-batch by this, so k micro-batches give the same gradient
    as one batch of their union even when their lengths differ."""
    labels = batch.get("labels") if isinstance(batch, Mapping) else None
    if labels is None:
        return len(batch["input_ids"])
    if labels.dim() > 1 and _predicts_next_token(model):
        labels = labels[:, 1:]
    return int((labels != IGNORE_INDEX).sum())


# ---------------------------------------------------------------- evaluate


@torch.no_grad()
def evaluate(model, loader, compute_metrics: Callable | None = None, loss_fn=None, accelerator=None) -> dict:
    """Mean loss over `loader` (weighted by batch size) plus compute_metrics(logits_list, labels_list), with the
    model in eval mode (dropout off) and no gradients. Batches go to the model's device; logits and labels are
    handed to compute_metrics on the CPU."""
    model.eval()
    device = model_device(model)
    total_loss, count, logits, labels = 0.0, 0, [], []
    for batch in loader:
        batch = to_device(batch, device)
        loss, outputs = _loss(model, batch, loss_fn)
        n = len(batch["input_ids"])
        total_loss += loss.item() * n
        count += n
        if compute_metrics is not None:
            batch_logits, batch_labels = outputs.logits, batch["labels"]
            if accelerator is not None:   # under DDP each process saw a shard: gather them all
                batch_logits, batch_labels = accelerator.gather_for_metrics((batch_logits, batch_labels))
            logits.append(batch_logits.float().cpu())
            labels.append(batch_labels.cpu())
    if accelerator is not None and accelerator.num_processes > 1:
        # every process must see the same loss, or early stopping would stop some processes and not others
        totals = accelerator.reduce(torch.tensor([total_loss, float(count)], device=accelerator.device), "sum")
        total_loss, count = totals[0].item(), int(totals[1].item())
    if count == 0:
        raise ValueError("the evaluation loader is empty")
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
    outputs = model(**batch)
    names = sorted(compute_metrics([outputs.logits.float().cpu()], [batch["labels"].cpu()]))
    model.train(was_training)
    if metric not in names:
        raise ValueError(f"metric={metric!r} is not computed: compute_metrics returns {names}, plus 'loss'")


def _better(value, best, metric) -> bool:
    return best is None or (value < best if metric == "loss" else value > best)


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


def accumulate_gradients(model, window: list, loss_fn: Callable | None = None, accelerator=None) -> float:
    """Backward over a window of micro-batches (already on the model's device) so that the gradients add up to
    those of one batch of their union; returns the window's mean loss.

    Each micro-batch's mean loss is weighted by its share of the window's loss units (loss_units): with equal
    weights 1/k, a micro-batch of 10 labelled tokens would count as much as one of 100."""
    units = [loss_units(model, batch) for batch in window]
    device = model_device(model)
    total_units = torch.tensor(float(max(sum(units), 1)), device=device)
    processes = accelerator.num_processes if accelerator is not None else 1
    if processes > 1:                                  # DDP averages gradients over processes: undo that
        total_units = accelerator.reduce(total_units, "sum") / processes
    window_loss = 0.0
    for i, batch in enumerate(window):
        last = i == len(window) - 1                    # DDP syncs gradients on the last micro-batch only
        with accelerator.no_sync(model) if processes > 1 and not last else nullcontext():
            loss, _ = _loss(model, batch, loss_fn)     # mean over this micro-batch's units
            share = units[i] / total_units             # its share of the whole window's units
            if accelerator is not None:
                accelerator.backward(loss * share)     # = loss.backward(), plus mixed-precision scaling
            else:
                (loss * share).backward()
        window_loss += loss.item() * share.item()
    return window_loss


def train(model, train_loader, val_loader=None, config: TrainingConfig | None = None,
          compute_metrics: Callable | None = None,   # (logits_list, labels_list) -> {"accuracy": …}
          loss_fn: Callable | None = None,            # (outputs, batch) -> loss; default outputs.loss
          ) -> History:
    """Fine-tune `model` in place, on the device it is on, and return its History; evaluates on val_loader
    after every epoch."""
    from accelerate import Accelerator
    from transformers import get_linear_schedule_with_warmup

    config = config or TrainingConfig()
    if len(train_loader) == 0:
        raise ValueError("the training loader is empty: no batches to train on")
    if (config.early_stopping_patience or config.metric != "loss") and val_loader is None:
        raise ValueError("early stopping and a validation metric need a val_loader")
    device = model_device(model)
    _check_batch(_first_batch(train_loader), model, loss_fn)
    if val_loader is not None:
        _check_metric(model, val_loader, compute_metrics, config.metric)

    precision = mixed_precision_for(device) if config.mixed_precision == "auto" else config.mixed_precision
    accelerator = Accelerator(cpu=device.type == "cpu", mixed_precision=precision)
    seed_everything(config.seed)                 # after the checks above, so only training draws random numbers
    optimizer, optimizer_name = make_optimizer(
        parameter_groups(model, config.weight_decay, config.decay_embeddings), config.learning_rate)
    model, optimizer = accelerator.prepare(model, optimizer)
    if accelerator.num_processes > 1:            # each process takes its own shard of the batches
        train_loader = accelerator.prepare(train_loader)
        val_loader = accelerator.prepare(val_loader) if val_loader is not None else None
    k = config.gradient_accumulation_steps
    steps_per_epoch = math.ceil(len(train_loader) / k)
    total_steps = steps_per_epoch * config.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * total_steps), total_steps)

    history = History(_metric=config.metric, device=str(accelerator.device), mixed_precision=precision,
                      optimizer=optimizer_name)
    best_value, best_state, epochs_without_gain, samples, seconds = None, None, 0, 0, 0.0
    bar = progress_bar(total_steps, desc="training", disable=not (config.progress and accelerator.is_main_process))
    for epoch in range(1, config.epochs + 1):
        model.train()                                          # dropout on
        epoch_loss, epoch_steps = 0.0, 0
        synchronize(accelerator.device)
        started = time.perf_counter()
        for window in _windows(train_loader, k):
            window = [to_device(batch, accelerator.device) for batch in window]
            step_loss = accumulate_gradients(model, window, loss_fn, accelerator)
            if config.max_grad_norm:
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
        record = {"epoch": epoch, "train_loss": epoch_loss / epoch_steps}
        if val_loader is not None:
            results = evaluate(model, val_loader, compute_metrics, loss_fn, accelerator)
            record.update({("val_loss" if name == "loss" else name): v for name, v in results.items()})
            value = results[config.metric]
            if _better(value, best_value, config.metric):
                best_value, history.best_epoch, epochs_without_gain = value, epoch, 0
                if config.restore_best:
                    best_state = {name: v.detach().cpu().clone() for name, v in
                                  accelerator.unwrap_model(model).state_dict().items()}
            else:
                epochs_without_gain += 1
        history.epochs.append(record)
        if config.early_stopping_patience and epochs_without_gain >= config.early_stopping_patience:
            history.stopped_early = True
            break
    bar.close()
    history.samples_per_second = samples / seconds
    model = accelerator.unwrap_model(model, keep_fp32_wrapper=False)   # the learner's model, autocast removed
    if best_state is not None and history.best_epoch != history.epochs[-1]["epoch"]:
        model.load_state_dict(best_state)
    model.eval()
    return history


def history_as_dict(history: History) -> dict:
    """The history as plain data (for JSON or a DataFrame)."""
    return asdict(history)
