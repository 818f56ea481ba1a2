"""One short fine-tuning loop for chapters 03–05: AdamW, warmup then linear decay, clipping, early stopping.

    history = train(model, train_loader, val_loader, TrainingConfig(learning_rate=5e-5, epochs=3))

Batches are dicts of tensors that the model takes as keyword arguments (input_ids, attention_mask,
labels …), as transformers' collators produce them. The loop runs through Hugging Face Accelerate, so
the same code runs on a CPU, a GPU, or several processes under `accelerate launch` (DDP) unchanged;
`accelerator.backward(loss)` is `loss.backward()` plus what DDP and mixed precision need.
"""

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

import torch

NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")  # names that skip weight decay


@dataclass
class TrainingConfig:
    learning_rate: float = 5e-5            # peak learning rate, reached at the end of warmup
    epochs: int = 3
    weight_decay: float = 0.01             # AdamW's decoupled decay; never on biases or LayerNorm weights
    warmup_ratio: float = 0.1              # share of optimizer steps that ramp the LR linearly from 0
    max_grad_norm: float | None = 1.0      # clip the global gradient norm to this (None: no clipping)
    gradient_accumulation_steps: int = 1   # optimizer step every k batches: effective batch = k × batch size
    early_stopping_patience: int | None = None  # stop after this many epochs without a better `metric`
    metric: str = "loss"                   # validation metric that picks the best epoch ("loss": lower is better)
    restore_best: bool = True              # end with the weights of the best validation epoch
    seed: int = 0                          # seeds python, numpy and torch: same run, same numbers
    mixed_precision: str = "no"            # "fp16"/"bf16" on a GPU; fixed per process by Accelerate
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


@dataclass
class History:
    """What happened during training: one entry per optimizer step and one per epoch."""

    steps: list = field(default_factory=list)    # {"step", "epoch", "loss", "lr"}
    epochs: list = field(default_factory=list)   # {"epoch", "train_loss", "val_loss", other val metrics}
    best_epoch: int | None = None
    stopped_early: bool = False
    samples_per_second: float = 0.0

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


def parameter_groups(model, weight_decay: float) -> list[dict]:
    """AdamW groups: decay on weight matrices, none on biases and normalisation weights (they are not
    'sizes' to shrink: decaying a LayerNorm gain towards 0 just rescales the activations)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if any(key in name for key in NO_DECAY) else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _adamw(groups: list[dict], learning_rate: float):
    """AdamW with the fused kernel where the device has one (CPU and CUDA do): one pass over all parameters
    instead of a Python loop over ~100 tensors — what Trainer uses by default too."""
    try:
        return torch.optim.AdamW(groups, lr=learning_rate, fused=True)
    except RuntimeError:        # a device without a fused AdamW kernel
        return torch.optim.AdamW(groups, lr=learning_rate)


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
        labels = batch["labels"][batch["labels"] != -100]
        num_labels = model.config.num_labels
        if labels.numel() and (labels.min() < 0 or labels.max() >= num_labels):
            raise ValueError(f"labels must lie in 0 … {num_labels - 1} for this model (num_labels={num_labels}), "
                             f"got values {sorted(labels.unique().tolist())}; load the model with the right num_labels")


def _loss(model, batch, loss_fn):
    outputs = model(**batch)
    loss = loss_fn(outputs, batch) if loss_fn is not None else outputs.loss
    if loss is None:
        raise ValueError("the model returned no loss: it computes one only when the batch has 'labels'")
    return loss, outputs


@torch.no_grad()
def evaluate(model, loader, compute_metrics: Callable | None = None, loss_fn=None, accelerator=None) -> dict:
    """Mean loss over `loader` (weighted by batch size) plus compute_metrics(logits_list, labels_list),
    with the model in eval mode (dropout off) and no gradients."""
    model.eval()
    total_loss, count, logits, labels = 0.0, 0, [], []
    for batch in loader:
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


def _better(value, best, metric) -> bool:
    return best is None or (value < best if metric == "loss" else value > best)


def train(model, train_loader, val_loader=None, config: TrainingConfig | None = None,
          compute_metrics: Callable | None = None,   # (logits_list, labels_list) -> {"accuracy": …}
          loss_fn: Callable | None = None,            # (outputs, batch) -> loss; default outputs.loss
          ) -> History:
    """Fine-tune `model` in place and return its History; evaluates on val_loader after every epoch."""
    from accelerate import Accelerator
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    config = config or TrainingConfig()
    if len(train_loader) == 0:
        raise ValueError("the training loader is empty: no batches to train on")
    if (config.early_stopping_patience or config.metric != "loss") and val_loader is None:
        raise ValueError("early stopping and a validation metric need a val_loader")
    seed_everything(config.seed)
    _check_batch(next(iter(train_loader)), model, loss_fn)

    accelerator = Accelerator(gradient_accumulation_steps=config.gradient_accumulation_steps,
                              mixed_precision=config.mixed_precision)
    optimizer = _adamw(parameter_groups(model, config.weight_decay), config.learning_rate)
    model, optimizer, train_loader = accelerator.prepare(model, optimizer, train_loader)
    if val_loader is not None:
        val_loader = accelerator.prepare(val_loader)
    steps_per_epoch = math.ceil(len(train_loader) / config.gradient_accumulation_steps)
    total_steps = steps_per_epoch * config.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * total_steps), total_steps)

    history = History(_metric=config.metric)
    best_value, best_state, epochs_without_gain, samples, seconds = None, None, 0, 0, 0.0
    bar = tqdm(total=total_steps, desc="training", disable=not (config.progress and accelerator.is_main_process))
    for epoch in range(1, config.epochs + 1):
        model.train()                                          # dropout on
        epoch_loss, epoch_batches = 0.0, 0
        started = time.perf_counter()
        for batch in train_loader:
            with accelerator.accumulate(model):
                loss, _ = _loss(model, batch, loss_fn)
                accelerator.backward(loss)                     # gradients of this (micro-)batch
                if accelerator.sync_gradients:                 # every k-th batch: a real optimizer step
                    if config.max_grad_norm:
                        accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                optimizer.zero_grad()
            epoch_loss += loss.item()
            epoch_batches += 1
            samples += len(batch["input_ids"]) * accelerator.num_processes
            if accelerator.sync_gradients:
                history.steps.append({"step": len(history.steps) + 1, "epoch": epoch, "loss": loss.item(),
                                      "lr": scheduler.get_last_lr()[0]})
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{loss.item():.4f}")
        seconds += time.perf_counter() - started
        record = {"epoch": epoch, "train_loss": epoch_loss / epoch_batches}
        if val_loader is not None:
            results = evaluate(model, val_loader, compute_metrics, loss_fn, accelerator)
            record.update({("val_loss" if k == "loss" else k): v for k, v in results.items()})
            value = results[config.metric] if config.metric in results else None
            if value is None:
                raise ValueError(f"metric {config.metric!r} is not among the validation results {sorted(results)}")
            if _better(value, best_value, config.metric):
                best_value, history.best_epoch, epochs_without_gain = value, epoch, 0
                if config.restore_best:
                    best_state = {k: v.detach().cpu().clone() for k, v in
                                  accelerator.unwrap_model(model).state_dict().items()}
            else:
                epochs_without_gain += 1
        history.epochs.append(record)
        if config.early_stopping_patience and epochs_without_gain >= config.early_stopping_patience:
            history.stopped_early = True
            break
    bar.close()
    history.samples_per_second = samples / seconds
    if best_state is not None and history.best_epoch != history.epochs[-1]["epoch"]:
        accelerator.unwrap_model(model).load_state_dict(best_state)
    accelerator.unwrap_model(model).eval()
    return history


def history_as_dict(history: History) -> dict:
    """The history as plain data (for JSON or a DataFrame)."""
    return asdict(history)
