"""One way to batch: every task's DataLoader (classification, NER, QA, instructions, causal LM) is built here.

    loader = make_loader(tokenized_split, collator, batch_size=32, shuffle=True, seed=0, group_by_length=True)

- seeded: the same seed gives the same batches on every run;
- reshuffled each epoch: the sampler draws a new order from its generator at every pass over the loader;
- grouped by length (group_by_length=True): sentences of similar length share a batch, so dynamic padding adds
  few pad tokens. Training uses transformers' LengthGroupedSampler, the sampler of Trainer's group_by_length:
  shuffle, cut into a few mega-batches, sort each by length. Evaluation (shuffle=False) goes from the longest
  example to the shortest, always in the same order.

The collator pads each batch to its longest example (transformers' DataCollatorWithPadding,
DataCollatorForTokenClassification, or the course's causal-LM and instruction collators).
"""

import torch

IGNORE_INDEX = -100          # cross-entropy's ignore_index in torch and transformers: no loss at these positions


def check_fast_tokenizer(tokenizer, needs: str = "word_ids() and character offsets") -> None:
    """TypeError unless the tokenizer is a Rust-backed "fast" one: word ids and offsets exist only there."""
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError(f"{type(tokenizer).__name__} is a slow (Python) tokenizer; {needs} need a fast one: "
                        "AutoTokenizer.from_pretrained(name, use_fast=True)")


def check_tokenized_split(split, columns, caller: str, tokenize_with: str) -> None:
    """A loader takes one tokenized split: not a DatasetDict (pick a split), not raw texts (tokenize first)."""
    if not hasattr(split, "column_names") or isinstance(split.column_names, dict):
        raise TypeError(f"{caller} takes one tokenized split (e.g. tokenized['train']), got {type(split).__name__}")
    missing = sorted(set(columns) - set(split.column_names))
    if missing:
        raise ValueError(f"the split lacks {missing} (columns: {split.column_names}); tokenize it first with "
                         f"{tokenize_with}")


def check_token_ids(model, input_ids) -> None:
    """Every id must be a row of the model's embedding table: an id past it (another tokenizer's ids, a -100 label)
    fails deep inside the model, as an index error on the CPU or a device-side assert on a GPU."""
    inner = getattr(model, "module", model)                       # DDP
    embeddings = inner.get_input_embeddings() if hasattr(inner, "get_input_embeddings") else None
    vocab_size = getattr(embeddings, "num_embeddings", None) or getattr(getattr(inner, "config", None),
                                                                        "vocab_size", None)
    if vocab_size is None or input_ids.is_meta or not input_ids.numel():   # a meta tensor has no values
        return
    low, high = int(input_ids.min()), int(input_ids.max())
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        why = ("-100 marks labels the loss ignores; it is no token" if bad == IGNORE_INDEX else
               "were the ids made by another model's tokenizer?")
        raise ValueError(f"input_ids holds token id {bad}, but the model's vocabulary has {vocab_size:,} tokens "
                         f"(ids 0 … {vocab_size - 1:,}): {why}")


def check_batch_size(batch_size) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")


def make_loader(dataset, collator, batch_size: int = 32, shuffle: bool = False, seed: int = 0,
                group_by_length: bool = False, lengths: list[int] | None = None):
    """A DataLoader over `dataset` (any sized, indexable data set: a datasets.Dataset, a list of dicts …) whose
    batches `collator` pads. shuffle=True draws a new seeded order every epoch; group_by_length batches examples
    of similar length (lengths: one per example, default the length of each input_ids)."""
    from torch.utils.data import DataLoader, RandomSampler

    check_batch_size(batch_size)
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise TypeError(f"make_loader needs a data set with a length and rows (a datasets.Dataset), "
                        f"got {type(dataset).__name__}")
    if len(dataset) == 0:
        raise ValueError("cannot batch an empty dataset")
    if not callable(collator):
        raise TypeError(f"collator must turn a list of examples into a batch of tensors, got {collator!r}")
    generator = torch.Generator().manual_seed(seed)       # the same orders on every run, a new one every epoch
    if group_by_length:
        from transformers.trainer_pt_utils import LengthGroupedSampler

        lengths = lengths if lengths is not None else [len(row["input_ids"]) for row in _rows(dataset)]
        if len(lengths) != len(dataset):
            raise ValueError(f"got {len(lengths)} lengths for {len(dataset)} examples")
        sampler = LengthGroupedSampler(batch_size, lengths=lengths, generator=generator) if shuffle \
            else sorted(range(len(lengths)), key=lambda i: -lengths[i])    # evaluation: longest first, fixed
        # As in Trainer, the sampler owns the generator; the DataLoader seeds its workers from torch's global one.
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collator)
    # Each pass over a DataLoader draws a seed for its workers from its generator: give it ours, so that iterating
    # a loader does not advance torch's global generator (the one dropout draws from).
    sampler = RandomSampler(dataset, generator=generator) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collator, generator=generator)


def _rows(dataset):
    """The rows' input ids, read as one column where the data set has columns (fast), else row by row."""
    if hasattr(dataset, "column_names") and "input_ids" in dataset.column_names:
        return ({"input_ids": ids} for ids in dataset.with_format(None)["input_ids"])
    return (dataset[i] for i in range(len(dataset)))
