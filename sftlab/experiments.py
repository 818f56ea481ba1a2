"""Repeated fine-tuning runs for chapter 03: the same setting over several seeds, so a comparison can tell an
effect from run-to-run noise.

    runs = fine_tune_seeds(tokenized, tokenizer, TrainingConfig(learning_rate=1e-4, epochs=2), seeds=(0, 1, 2))
    print(describe([r.val_accuracy for r in runs]))          # "0.861 ± 0.006 (95% CI 0.846–0.876, 3 runs)"

Each run starts from the pre-trained weights with a new head whose initial weights, like the shuffling and
dropout, depend on its seed. `num_layers` keeps only the first layers of the encoder (truncate_encoder): a
cheaper model for sweeps, still pre-trained.
"""

import contextlib
import io
from dataclasses import dataclass, replace

import numpy as np

from sftlab.classification import MeanPoolingForSequenceClassification, make_loader, metrics_for, truncate_encoder
from sftlab.course.progress import progress_bar
from sftlab.stats import mean_and_interval
from sftlab.training import History, TrainingConfig, seed_everything, train

POOLINGS = ("mean", "cls")


def load_classifier(num_labels: int, pooling: str = "mean", num_layers: int | None = None, seed: int = 0,
                    device=None, quiet: bool = True):
    """The profile's encoder with a new classification head: pooling="mean" reads the mean of the token vectors
    (MeanPoolingForSequenceClassification), "cls" the [CLS] vector after BERT's pooler (the stock
    BertForSequenceClassification). seed fixes the head's random initial weights."""
    from sftlab.models import load_encoder

    if pooling not in POOLINGS:
        raise ValueError(f"pooling={pooling!r}; expected one of {POOLINGS}")
    seed_everything(seed)
    with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
        _, model = load_encoder("sequence-classification", num_labels=num_labels, device=device)
    if num_layers is not None:
        truncate_encoder(model, num_layers)
    return MeanPoolingForSequenceClassification(model) if pooling == "mean" else model


@dataclass
class Run:
    """One fine-tuning run: its seed, history, the validation scores of the epoch it kept, and the model."""

    seed: int
    history: History
    val_loss: float
    val_accuracy: float
    model: object = None          # kept only with keep_models=True (memory)


def fine_tune_seeds(tokenized, tokenizer, config: TrainingConfig, seeds=(0, 1, 2), label_names=("neg", "pos"),
                    pooling: str = "mean", num_layers: int | None = None, batch_size: int = 32,
                    train_split=None, loss_fn=None, keep_models: bool = False, desc: str = "runs") -> list[Run]:
    """Fine-tune a fresh classifier once per seed on tokenized["train"] (or train_split), scoring
    tokenized["validation"] after every epoch; a progress bar counts the runs."""
    missing = [split for split in ("train", "validation") if split not in tokenized]
    if missing:
        raise ValueError(f"tokenized needs the splits 'train' and 'validation' (tokenize(load_sentiment(), ...)); "
                         f"it has {list(tokenized)}")
    if not isinstance(config, TrainingConfig):
        raise TypeError(f"config must be a TrainingConfig, got {type(config).__name__}; for a dict of settings "
                        f"use TrainingConfig(**settings)")
    if isinstance(seeds, (int, str)) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise TypeError(f"seeds must be a list of ints, one run each, got {seeds!r}; for three runs pass "
                        f"seeds=(0, 1, 2)")
    if isinstance(label_names, str):
        raise TypeError(f"label_names must be a list of class names such as ('neg', 'pos'), got the string "
                        f"{label_names!r}")
    train_split = tokenized["train"] if train_split is None else train_split
    val_loader = make_loader(tokenized["validation"], tokenizer, batch_size=64, group_by_length=True)
    runs, bar = [], progress_bar(len(seeds), desc=desc)
    for seed in seeds:
        model = load_classifier(len(label_names), pooling, num_layers, seed)
        loader = make_loader(train_split, tokenizer, batch_size, shuffle=True, seed=seed, group_by_length=True)
        run_config = replace(config, seed=seed, progress=False)
        history = train(model, loader, val_loader, run_config, compute_metrics=metrics_for(list(label_names)),
                        loss_fn=loss_fn)
        kept = history.epochs[(history.best_epoch or len(history.epochs)) - 1] \
            if run_config.restore_best else history.epochs[-1]
        runs.append(Run(seed, history, kept["val_loss"], kept["accuracy"], model if keep_models else None))
        bar.update(1)
    bar.close()
    return runs


def describe(values, digits: int = 3) -> str:
    """"mean ± std (95% CI low–high, n runs)" of a score over seeds."""
    if any(isinstance(value, Run) for value in values):
        raise TypeError("describe takes one number per run, got Run objects; pick a score: "
                        "describe([r.val_loss for r in runs])")
    values = np.asarray(values, dtype=float)
    mean, low, high = mean_and_interval(values)
    return (f"{mean:.{digits}f} ± {values.std(ddof=1):.{digits}f} "
            f"(95% CI {low:.{digits}f}–{high:.{digits}f}, {len(values)} runs)")


def intervals_apart(first, second) -> bool:
    """True when the 95% t-intervals of two sets of runs do not overlap: a difference beyond run-to-run noise."""
    _, low_a, high_a = mean_and_interval(first)
    _, low_b, high_b = mean_and_interval(second)
    return high_a < low_b or high_b < low_a


def verdict(first, second, names: tuple[str, str], what: str = "validation loss") -> str:
    """One sentence from the 95% intervals of two sets of runs: which ends lower beyond run-to-run noise, or
    that there is no measurable difference (the intervals overlap)."""
    if isinstance(names, str) or len(names) != 2:
        raise ValueError(f"names must be two names, one per set of runs, such as ('lr 1e-4', 'lr 1e-3'), "
                         f"got {names!r}")
    if not intervals_apart(first, second):
        return f"no measurable difference in {what} between {names[0]} and {names[1]} (the 95% intervals overlap)"
    low, high = (0, 1) if np.mean(first) < np.mean(second) else (1, 0)
    return f"{names[low]} ends with a lower {what} than {names[high]}, beyond seed noise (the intervals do not overlap)"
