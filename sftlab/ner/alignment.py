"""NER inputs: word labels aligned to sub-words, tokenising a data set, and batching it.

    tokenized = tokenize_and_align(load_ner(), tokenizer)      # input_ids, attention_mask, labels
    loader = make_loader(tokenized["train"], tokenizer, batch_size=16, shuffle=True)

Shapes (sftlab/__init__.py): B batch, T sub-word tokens (with [CLS] and [SEP]), W words in a sentence.

Labels are per *word* (CoNLL) but the model sees *sub-words*: "Dlamini" -> dl ##ami ##ni. We label the first
sub-token of each word and give the rest -100, the index cross-entropy ignores, so each word counts once.
"""

from itertools import pairwise

import torch

from sftlab import batching
from sftlab.batching import IGNORE_INDEX, check_fast_tokenizer
from sftlab.data import NER_LABELS
from sftlab.devices import model_device, to_device


def _to_inside(label_names: list[str]) -> list[int]:
    """For each label id, the id of its I- version: B-X -> I-X; I-X and O stay as they are."""
    inside = []
    for i, name in enumerate(label_names):
        if name.startswith("B-"):
            if f"I-{name[2:]}" not in label_names:
                raise ValueError(f"label {name!r} has no I-{name[2:]} among label_names {label_names}")
            inside.append(label_names.index(f"I-{name[2:]}"))
        else:
            inside.append(i)
    return inside


def align_labels(word_ids: list, word_labels: list[int], label_all_subtokens: bool = False,
                 label_names: list[str] = NER_LABELS) -> list[int]:
    """One label per sub-token: the word's label on its first sub-token, -100 on the rest and on special tokens.

    word_ids: encoding.word_ids() of one sentence, e.g. [None, 0, 0, 0, 1, None] for [CLS] dl ##ami ##ni . [SEP]
    word_labels: one label id per word, e.g. [1, 0] (B-PER, O)        -> [-100, 1, -100, -100, 0, -100]
    label_all_subtokens: later sub-tokens get the word's I- label instead (B-PER -> I-PER), so that a
        B- still marks only the first piece of an entity         -> [-100, 1, 2, 2, 0, -100]
    label_names: maps ids to names; used only to find the I- version of a B- label.
    """
    if isinstance(word_ids, str) or not hasattr(word_ids, "__len__"):
        raise TypeError(f"word_ids must be a list such as encoding.word_ids(), got {type(word_ids).__name__}")
    for w, label in enumerate(word_labels):
        if isinstance(label, (str, bool)) or not hasattr(label, "__index__"):   # ints, numpy or 0-d torch ints
            raise TypeError(f"word_labels must be label ids (ints), got {label!r} for word {w}; "
                            f"convert tag names with label_names.index(tag)")
    labels = [int(label) for label in word_labels]
    seen = [w for w in word_ids if w is not None]
    for position, (before, after) in enumerate(pairwise(seen), start=1):
        if after < before:
            raise ValueError(f"word_ids must never decrease (a word's sub-tokens are consecutive), got word {after} "
                             f"after word {before} at sub-token {position}: pass one sentence's encoding.word_ids()")
    if seen and seen[0] < 0:
        raise ValueError(f"word ids count words from 0, got {seen[0]}")
    n_words = seen[-1] + 1 if seen else 0
    if n_words != len(labels):
        raise ValueError(f"word_labels has {len(labels)} entries but word_ids cover {n_words} words; "
                         f"give one label per word (after truncation, only the words that were kept)")
    inside = _to_inside(label_names) if label_all_subtokens else None

    aligned, previous = [], None
    for w in word_ids:
        if w is None:                    # [CLS], [SEP], padding: no word, no label
            aligned.append(IGNORE_INDEX)
        elif w != previous:              # first sub-token of a word carries the word's label
            aligned.append(labels[w])
        elif label_all_subtokens:        # a later sub-token of the same word: its I- label
            aligned.append(inside[labels[w]])
        else:                            # a later sub-token: ignored by the loss
            aligned.append(IGNORE_INDEX)
        previous = w
    return aligned


def _label_names_of(split) -> list[str]:
    feature = split.features["ner_tags"]
    names = getattr(getattr(feature, "feature", None), "names", None)  # Sequence(ClassLabel) keeps its names
    return list(names) if names else NER_LABELS


def tokenize_and_align(dataset, tokenizer, max_length: int = 128, label_all_subtokens: bool = False):
    """Tokenise pre-split words (is_split_into_words=True, truncating to max_length sub-tokens) and align
    ner_tags to sub-tokens as `labels`; keeps only model inputs + labels. Dataset or DatasetDict in, same out."""
    from datasets import DatasetDict

    from sftlab.data.splits import CourseDatasetDict  # a wrong split name lists the splits there are

    check_fast_tokenizer(tokenizer)
    splits = dataset if isinstance(dataset, DatasetDict) else {"data": dataset}
    for name, split in splits.items():
        missing = [c for c in ("tokens", "ner_tags") if c not in split.column_names]
        if missing:
            raise ValueError(f"split {name!r} has no {missing} column(s) (columns: {split.column_names}); "
                             "expected the NER schema of sftlab.data.load_ner")
        if len(split) == 0:
            raise ValueError(f"split {name!r} is empty: nothing to tokenise")
        for i, (words, tags) in enumerate(zip(split["tokens"], split["ner_tags"], strict=True)):
            if len(words) != len(tags):
                raise ValueError(f"split {name!r}, sentence {i}: {len(words)} words but {len(tags)} tags")

    def encode(batch, label_names):
        encoded = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
        labels = []
        for i, word_labels in enumerate(batch["ner_tags"]):
            word_ids = encoded.word_ids(i)
            kept = max((w for w in word_ids if w is not None), default=-1) + 1  # truncation drops the last words
            labels.append(align_labels(word_ids, word_labels[:kept], label_all_subtokens, label_names))
        encoded["labels"] = labels
        return encoded

    def one(split):
        return split.map(encode, batched=True, remove_columns=split.column_names,
                         fn_kwargs={"label_names": _label_names_of(split)})

    if not isinstance(dataset, DatasetDict):
        return one(dataset)
    return CourseDatasetDict({name: one(split) for name, split in splits.items()})


def make_loader(tokenized_split, tokenizer, batch_size: int = 32, shuffle: bool = False, seed: int = 0,
                group_by_length: bool = False):
    """A DataLoader of batches padded to their longest sentence (sftlab.batching.make_loader: seeded, reshuffled
    each epoch); labels are padded with -100, so padding never counts in the loss
    (DataCollatorForTokenClassification: input_ids (B, T), labels (B, T)).

    group_by_length=True puts sentences of similar length in the same batch, so padding adds few tokens: with
    shuffle=True it shuffles, then sorts by length within a few mega-batches (transformers' LengthGroupedSampler,
    as Trainer's group_by_length), so the order still changes every epoch; with shuffle=False (evaluation) it goes
    from the longest sentence to the shortest."""
    from transformers import DataCollatorForTokenClassification

    batching.check_tokenized_split(tokenized_split, ["input_ids", "labels"], "make_loader", "tokenize_and_align")
    collator = DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE_INDEX)
    return batching.make_loader(tokenized_split, collator, batch_size, shuffle, seed, group_by_length)


@torch.no_grad()
def batch_logits(model, loader):
    """(logits, labels) of each batch of a loader from make_loader: the model's (B, T, C) scores as float32 on the
    CPU and the (B, T) word labels; the model runs in eval mode on its own device (inputs go where it is)."""
    model.eval()
    device = model_device(model)
    for batch in loader:
        logits = model(**to_device({k: v for k, v in batch.items() if k != "labels"}, device)).logits
        yield logits.float().cpu(), batch["labels"]
