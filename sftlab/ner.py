"""Named-entity recognition with a fine-tuned encoder: align word labels to sub-words, batch, predict
entities on raw text, highlight them, and score them entity by entity.

    tokenized = tokenize_and_align(load_ner(), tokenizer)      # input_ids, attention_mask, labels
    loader = make_loader(tokenized["train"], tokenizer, batch_size=16, shuffle=True)
    history = training.train(model, loader, val_loader, config, compute_metrics=metrics_for(NER_LABELS))
    entities = predict_entities("Angela Merkel visited Paris.", model, tokenizer)
    highlight(text, entities)                                   # coloured in a notebook, [Paris|LOC] in a terminal

Shapes: B batch, T sub-word tokens (with [CLS] and [SEP]), K labels, W words in a sentence.

Labels are per *word* (CoNLL) but the model sees *sub-words*: "Dlamini" -> dl ##ami ##ni. We label the first
sub-token of each word and give the rest -100, the index cross-entropy ignores, so each word counts once.
Scores are entity-level (seqeval): an entity counts only if its type and both boundaries are right.

The offline encoder (MiniLM-L6-H384) and the full one (bert-base-uncased) are *uncased*: "Apple" and "apple"
reach the model as the same tokens, so capitalisation, one of the strongest NER cues, is invisible to them.
(Production English NER usually starts from a cased model such as bert-base-cased.)
"""

import html
import re
import warnings
from itertools import pairwise
from typing import NamedTuple

import torch

from sftlab.data import NER_LABELS, entity_spans

IGNORE_INDEX = -100  # labels with this value are skipped by cross-entropy and by the metrics


# ---------------------------------------------------------------- label alignment

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


def _check_fast(tokenizer) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError(f"{type(tokenizer).__name__} is a slow (Python) tokenizer; word_ids() and offsets need a "
                        "fast one: AutoTokenizer.from_pretrained(..., use_fast=True)")


def _label_names_of(split) -> list[str]:
    feature = split.features["ner_tags"]
    names = getattr(getattr(feature, "feature", None), "names", None)  # Sequence(ClassLabel) keeps its names
    return list(names) if names else NER_LABELS


def tokenize_and_align(dataset, tokenizer, max_length: int = 128, label_all_subtokens: bool = False):
    """Tokenise pre-split words (is_split_into_words=True, truncating to max_length sub-tokens) and align
    ner_tags to sub-tokens as `labels`; keeps only model inputs + labels. Dataset or DatasetDict in, same out."""
    from datasets import DatasetDict

    _check_fast(tokenizer)
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

    return DatasetDict({name: one(split) for name, split in splits.items()}) if isinstance(dataset, DatasetDict) \
        else one(dataset)


def make_loader(tokenized_split, tokenizer, batch_size: int = 32, shuffle: bool = False, seed: int = 0,
                group_by_length: bool = False):
    """A DataLoader of batches padded to their longest sentence; labels are padded with -100, so padding
    never counts in the loss (DataCollatorForTokenClassification: input_ids (B, T), labels (B, T)).

    group_by_length=True puts sentences of similar length in the same batch, so padding adds few tokens: with
    shuffle=True it shuffles, then sorts by length within groups of 50 batches (transformers'
    LengthGroupedSampler, as Trainer's group_by_length), so the order still changes every epoch; with
    shuffle=False (evaluation) it goes from the longest sentence to the shortest."""
    from torch.utils.data import DataLoader
    from transformers import DataCollatorForTokenClassification

    if len(tokenized_split) == 0:
        raise ValueError("cannot batch an empty dataset")
    if "labels" not in tokenized_split.column_names:
        raise ValueError(f"the dataset has no 'labels' column (columns: {tokenized_split.column_names}); "
                         "run tokenize_and_align first")
    collator = DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE_INDEX)
    generator = torch.Generator().manual_seed(seed)  # same shuffling order on every run
    if group_by_length:
        from transformers.trainer_pt_utils import LengthGroupedSampler

        lengths = [len(ids) for ids in tokenized_split["input_ids"]]
        sampler = LengthGroupedSampler(batch_size, lengths=lengths, generator=generator) if shuffle \
            else sorted(range(len(lengths)), key=lambda i: -lengths[i])    # evaluation: longest first, fixed
        return DataLoader(tokenized_split, batch_size=batch_size, sampler=sampler, collate_fn=collator)
    return DataLoader(tokenized_split, batch_size=batch_size, shuffle=shuffle, collate_fn=collator,
                      generator=generator)


# ---------------------------------------------------------------- inference on raw text

class Entity(NamedTuple):
    text: str      # exactly text[start:end] of the input
    type: str      # "PER", "ORG", "LOC", "MISC"
    start: int     # character offsets into the input; end is exclusive
    end: int
    score: float   # mean probability of the predicted labels of the entity's words (see predict_entities)


# Words as CoNLL splits them: letters/digits joined by inner hyphens, dots, commas or apostrophes stay one word
# ("Dlamini-Hayes", "O'Connor", "10,000"), a possessive 's is its own word, any other punctuation mark is a word.
# BERT's own pre-tokenizer splits at every punctuation mark ("Dlamini", "-", "Hayes"), which would ask the model
# about pieces it was never trained to label. This rule re-splits 1,270 of the course's 1,285 sentences exactly
# as written (the rest are abbreviations such as "Dr.").
WORD = re.compile(r"\w+(?:[-.,]\w+|['’](?!s\b)\w+)*|['’]s\b|\S")


def split_words(text: str) -> list[tuple[str, int, int]]:
    """(word, char start, char end) of each word of a raw text, CoNLL-style; text[start:end] == word."""
    return [(m.group(), m.start(), m.end()) for m in WORD.finditer(text)]


def _bio_label_names(model, label_names) -> list[str]:
    num_labels = model.config.num_labels
    if label_names is None:
        label_names = [model.config.id2label[i] for i in range(num_labels)]
        if all(name == f"LABEL_{i}" for i, name in enumerate(label_names)):
            raise ValueError("the model's config has no label names (id2label is LABEL_0, LABEL_1, …); pass "
                             "label_names=NER_LABELS or load the model with id2label=dict(enumerate(NER_LABELS))")
    label_names = list(label_names)
    if len(label_names) != num_labels:
        raise ValueError(f"label_names has {len(label_names)} names but the model predicts {num_labels} labels")
    not_bio = [name for name in label_names if name != "O" and not name.startswith(("B-", "I-"))]
    if not_bio:
        raise ValueError(f"predict_entities decodes BIO tags (O, B-X, I-X); these labels are not: {not_bio}")
    return label_names


@torch.no_grad()
def predict_entities(text: str, model, tokenizer, label_names: list[str] | None = None) -> list[Entity]:
    """The entities in a raw text as Entity(text, type, start, end, score), text[start:end] == entity text.

    1. split the text into words (split_words) and tokenise them as in training (is_split_into_words=True);
    2. each word's label is the argmax at its *first* sub-token, the one that was trained (later ones were -100);
    3. runs of B-/I- words become entities (entity_spans: an I- with no B- before it opens an entity, as
       seqeval does); the entity's characters run from its first word's start to its last word's end.
    score: the mean, over the entity's words, of the softmax probability of the label predicted for the word
    (at its first sub-token) — a rough confidence, not a calibrated probability that the entity is right.
    label_names: default model.config.id2label.
    """
    if not isinstance(text, str):
        raise TypeError(f"predict_entities takes one raw string, got {type(text).__name__}")
    _check_fast(tokenizer)
    label_names = _bio_label_names(model, label_names)
    words = split_words(text)
    if not words:
        return []
    encoding = tokenizer([w for w, _, _ in words], is_split_into_words=True, return_tensors="pt")
    limit = getattr(model.config, "max_position_embeddings", tokenizer.model_max_length)
    if encoding["input_ids"].shape[1] > limit:
        raise ValueError(f"the text is {encoding['input_ids'].shape[1]} sub-tokens long but the model reads at most "
                         f"{limit}; split it into sentences and predict each")

    model.eval()                                                             # dropout off
    device = next(model.parameters()).device
    logits = model(**encoding.to(device)).logits[0]                          # (T, K)
    probabilities = logits.float().softmax(-1).cpu()                         # (T, K)
    confidence, predicted = probabilities.max(-1)                            # (T,), (T,)

    tags, scores = ["O"] * len(words), [1.0] * len(words)   # a word the tokenizer drops (no tokens) stays O
    previous = None
    for t, w in enumerate(encoding.word_ids(0)):
        if w is not None and w != previous:                                  # first sub-token of word w
            tags[w], scores[w] = label_names[predicted[t].item()], confidence[t].item()
        previous = w

    entities = []
    for kind, first, last in entity_spans(tags):                             # words first … last-1
        start, end = words[first][1], words[last - 1][2]
        score = sum(scores[first:last]) / (last - first)
        entities.append(Entity(text[start:end], kind, start, end, score))
    return entities


# ---------------------------------------------------------------- showing entities

COLOURS = {"PER": "#fde2a4", "ORG": "#b9e3f9", "LOC": "#c8f2c2", "MISC": "#e3d1f7"}  # any other type: grey


class Highlighted:
    """A text with its entities marked: coloured HTML in Jupyter (_repr_html_), [text|TYPE] brackets elsewhere."""

    def __init__(self, text: str, entities):
        self.text = text
        for e in entities:
            if isinstance(e, str) or len(e) not in (4, 5):
                raise TypeError(f"each entity is (text, type, start, end[, score]) as predict_entities gives, "
                                f"got {e!r}")
        self.entities = sorted((Entity(*e) if len(e) == 5 else Entity(*e, float("nan")) for e in entities),
                               key=lambda e: e.start)
        for e in self.entities:
            if not 0 <= e.start < e.end <= len(text):
                raise ValueError(f"entity {e.text!r} spans characters {e.start}–{e.end}, outside the text "
                                 f"(length {len(text)})")
            if text[e.start:e.end] != e.text:
                raise ValueError(f"entity {e.text!r} says characters {e.start}–{e.end}, but there the text reads "
                                 f"{text[e.start:e.end]!r}: were the entities predicted on another text?")
        for a, b in pairwise(self.entities):
            if b.start < a.end:
                raise ValueError(f"entities {a.text!r} and {b.text!r} overlap; highlight shows flat entities only")

    def _pieces(self):
        """(plain text, None) and (entity text, Entity) pieces that together make up the text."""
        position = 0
        for e in self.entities:
            yield self.text[position:e.start], None
            yield e.text, e
            position = e.end
        yield self.text[position:], None

    def __str__(self) -> str:
        return "".join(piece if e is None else f"[{piece}|{e.type}]" for piece, e in self._pieces())

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        parts = []
        for piece, e in self._pieces():
            if e is None:
                parts.append(html.escape(piece))   # the text may hold <, > or &: never let it become markup
                continue
            colour = COLOURS.get(e.type, "#e0e0e0")
            parts.append(f'<mark style="background:{colour}; padding:1px 4px; border-radius:4px" '
                         f'title="score {e.score:.2f}">{html.escape(piece)} '
                         f'<b style="font-size:0.7em">{html.escape(e.type)}</b></mark>')
        return f'<div style="line-height:2">{"".join(parts)}</div>'


def highlight(text: str, entities) -> Highlighted:
    """Entities marked on the text: coloured spans in a notebook, "[Angela Merkel|PER] met …" in a terminal.
    entities: Entity tuples (text, type, start, end[, score]) as predict_entities returns them."""
    if not isinstance(text, str):
        raise TypeError(f"highlight takes the raw text as a string, got {type(text).__name__}")
    return Highlighted(text, entities)


# ---------------------------------------------------------------- entity-level evaluation

def _check_tag_seqs(true_tag_seqs, pred_tag_seqs) -> None:
    if len(true_tag_seqs) != len(pred_tag_seqs):
        raise ValueError(f"{len(true_tag_seqs)} true tag sequences but {len(pred_tag_seqs)} predicted ones")
    if not true_tag_seqs:
        raise ValueError("no sentences to score")
    for i, (true, pred) in enumerate(zip(true_tag_seqs, pred_tag_seqs, strict=True)):
        if isinstance(true, str) or isinstance(pred, str):
            raise TypeError(f"sentence {i}: expected a list of tags per sentence, got a string")
        if len(true) != len(pred):
            raise ValueError(f"sentence {i}: {len(true)} true tags but {len(pred)} predicted tags")
        for tag in (*true, *pred):
            if not isinstance(tag, str):
                raise TypeError(f"sentence {i}: tags must be strings such as 'B-PER', got {tag!r}; "
                                f"convert ids with [NER_LABELS[i] for i in ids]")


def entity_metrics(true_tag_seqs: list[list[str]], pred_tag_seqs: list[list[str]]) -> dict:
    """Entity-level micro precision/recall/F1 and per type (seqeval, default conlleval mode), token accuracy.

    An entity is right only if its type, first and last word all match. Token accuracy counts every tag,
    O included; since most tokens are O, it stays high even for a model that finds few entities
    ("o_share" = the token accuracy of predicting O everywhere).
    """
    from seqeval.metrics import accuracy_score, classification_report

    _check_tag_seqs(true_tag_seqs, pred_tag_seqs)
    true, pred = [list(s) for s in true_tag_seqs], [list(s) for s in pred_tag_seqs]
    with warnings.catch_warnings():   # seqeval's macro average of no types at all is 0/0: we do not report it
        warnings.simplefilter("ignore", RuntimeWarning)
        report = classification_report(true, pred, output_dict=True, zero_division=0)
    per_type = {kind: {"precision": float(s["precision"]), "recall": float(s["recall"]),
                       "f1": float(s["f1-score"]), "support": int(s["support"])}
                for kind, s in report.items() if not kind.endswith(" avg")}
    micro = report["micro avg"]
    n_tokens = sum(len(s) for s in true)
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "support": int(micro["support"]),                      # entities in the truth
        "predicted": sum(len(entity_spans(s)) for s in pred),  # entities the model found
        "per_type": per_type,
        "token_accuracy": float(accuracy_score(true, pred)),
        "o_share": sum(tag == "O" for s in true for tag in s) / n_tokens,
    }


def format_entity_report(metrics: dict, title: str = "entity-level scores") -> str:
    """Readable lines: micro P/R/F1, one line per entity type, then token accuracy beside the O share."""
    lines = [f"{title}: precision {metrics['precision']:.3f}  recall {metrics['recall']:.3f}  "
             f"F1 {metrics['f1']:.3f}  ({metrics['support']} entities, {metrics['predicted']} predicted)"]
    for kind, s in metrics["per_type"].items():
        lines.append(f"  {kind:>6s}: precision {s['precision']:.3f}  recall {s['recall']:.3f}  "
                     f"F1 {s['f1']:.3f}  (n = {s['support']})")
    lines.append(f"token accuracy {metrics['token_accuracy']:.3f} — but {metrics['o_share']:.0%} of tokens are O, "
                 f"so tagging everything O already scores {metrics['o_share']:.3f}")
    return "\n".join(lines)


def predictions_to_tags(logits, labels, label_names: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """(true tag lists, predicted tag lists), one per sentence of a batch, at positions whose label is not -100.

    logits: (B, T, K), labels: (B, T) — one batch, tensors or arrays. With first-sub-token labels this gives
    exactly one tag per word, so the scores are per word, as CoNLL defines them.
    """
    logits, labels = torch.as_tensor(logits), torch.as_tensor(labels)
    if logits.dim() != 3 or labels.shape != logits.shape[:2]:
        raise ValueError(f"expected logits (B, T, K) and labels (B, T) of one batch, got {tuple(logits.shape)} and "
                         f"{tuple(labels.shape)}")
    if logits.shape[-1] != len(label_names):
        raise ValueError(f"logits score {logits.shape[-1]} labels but label_names has {len(label_names)}")
    predicted = logits.argmax(-1)                                            # (B, T)
    true_tags, pred_tags = [], []
    for row_labels, row_predicted in zip(labels.tolist(), predicted.tolist(), strict=True):
        kept = [(t, p) for t, p in zip(row_labels, row_predicted, strict=True) if t != IGNORE_INDEX]
        true_tags.append([label_names[t] for t, _ in kept])
        pred_tags.append([label_names[p] for _, p in kept])
    return true_tags, pred_tags


def metrics_for(label_names: list[str]):
    """A compute_metrics(logits_list, labels_list) for training.train/evaluate: entity F1/P/R, token accuracy.
    Batches are padded to different lengths, so each batch is decoded on its own before scoring."""
    def compute(logits, labels):
        true_tags, pred_tags = [], []
        for batch_logits, batch_labels in zip(logits, labels, strict=True):
            batch_true, batch_pred = predictions_to_tags(batch_logits, batch_labels, label_names)
            true_tags += batch_true
            pred_tags += batch_pred
        scores = entity_metrics(true_tags, pred_tags)
        return {"entity_f1": scores["f1"], "entity_precision": scores["precision"],
                "entity_recall": scores["recall"], "token_accuracy": scores["token_accuracy"]}
    return compute


@torch.no_grad()
def predict_tags(model, loader, label_names: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """(true tag lists, predicted tag lists) for every sentence of a loader (from make_loader), model in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    true_tags, pred_tags = [], []
    for batch in loader:
        logits = model(**{k: v.to(device) for k, v in batch.items() if k != "labels"}).logits  # (B, T, K)
        batch_true, batch_pred = predictions_to_tags(logits.cpu(), batch["labels"], label_names)
        true_tags += batch_true
        pred_tags += batch_pred
    return true_tags, pred_tags


@torch.no_grad()
def predict_word_log_probs(model, loader, label_names: list[str]) -> tuple[list[list[str]], list[torch.Tensor]]:
    """(true tag lists, word log-probabilities) for every sentence of a loader, in the loader's order.

    The scores of each word are the log-softmax at its first sub-token (the position that was trained), one
    (W, K) tensor per sentence: what argmax decoding and bio_viterbi read."""
    model.eval()
    device = next(model.parameters()).device
    true_tags, log_probs = [], []
    for batch in loader:
        logits = model(**{k: v.to(device) for k, v in batch.items() if k != "labels"}).logits  # (B, T, K)
        if logits.shape[-1] != len(label_names):
            raise ValueError(f"the model scores {logits.shape[-1]} labels but label_names has {len(label_names)}")
        for row_log_probs, row_labels in zip(logits.float().log_softmax(-1).cpu(), batch["labels"], strict=True):
            kept = row_labels != IGNORE_INDEX                                   # first sub-tokens of words
            true_tags.append([label_names[t] for t in row_labels[kept].tolist()])
            log_probs.append(row_log_probs[kept])                               # (W, K)
    return true_tags, log_probs


# ---------------------------------------------------------------- BIO-constrained decoding

def allowed_transitions(label_names: list[str] = NER_LABELS) -> torch.Tensor:
    """(K + 1, K) bool: allowed[i, j] says label j may follow label i; the last row is the sentence start.

    The BIO rule: I-X may only follow B-X or I-X (so never open a sentence); O and B-X may follow anything."""
    k = len(label_names)
    allowed = torch.ones(k + 1, k, dtype=torch.bool)
    for j, name in enumerate(label_names):
        if name.startswith("I-"):
            allowed[:, j] = False
            for i, previous in enumerate(label_names):
                allowed[i, j] = previous in (f"B-{name[2:]}", f"I-{name[2:]}")
    return allowed


def bio_viterbi(log_probs: torch.Tensor, label_names: list[str] = NER_LABELS) -> list[int]:
    """The label ids y that maximise Σ_w log_probs[w, y_w] among sequences that obey the BIO rule.

    log_probs: (W, K), one row per word. A CRF decoder with fixed transition scores: 0 where allowed, -inf
    where not (allowed_transitions). Viterbi keeps, for every label, the best score of a valid sequence ending
    in it, so it costs O(W·K²) instead of trying all K^W sequences."""
    log_probs = torch.as_tensor(log_probs, dtype=torch.float32)
    if log_probs.dim() != 2 or log_probs.shape[1] != len(label_names):
        raise ValueError(f"log_probs must be (W, K) with K = {len(label_names)} labels, got {tuple(log_probs.shape)}")
    if len(log_probs) == 0:
        return []
    k = len(label_names)
    transition = torch.zeros(k + 1, k).masked_fill(~allowed_transitions(label_names), float("-inf"))
    score = transition[k] + log_probs[0]                   # (K,) best valid path ending in each label, word 0
    backpointers = []
    for w in range(1, len(log_probs)):
        candidates = score[:, None] + transition[:k]       # (K previous, K current)
        score, best_previous = candidates.max(dim=0)       # (K,), (K,)
        score = score + log_probs[w]
        backpointers.append(best_previous)
    path = [int(score.argmax())]                           # best last label, then follow the pointers back
    for best_previous in reversed(backpointers):
        path.append(int(best_previous[path[-1]]))
    return path[::-1]


def invalid_transitions(tags: list[str]) -> int:
    """How many tags break the BIO rule: an I-X whose previous tag is neither B-X nor I-X (or that opens)."""
    previous, count = "O", 0
    for tag in tags:
        if tag.startswith("I-") and previous not in (f"B-{tag[2:]}", f"I-{tag[2:]}"):
            count += 1
        previous = tag
    return count


def decode(log_probs: list[torch.Tensor], label_names: list[str] = NER_LABELS,
           constrained: bool = False) -> list[list[str]]:
    """Tag lists from word log-probabilities: each word's argmax, or with constrained=True the best valid
    BIO sequence of each sentence (bio_viterbi)."""
    if constrained:
        return [[label_names[i] for i in bio_viterbi(s, label_names)] for s in log_probs]
    return [[label_names[i] for i in s.argmax(-1).tolist()] for s in log_probs]


# ---------------------------------------------------------------- error analysis

def _overlapping(span, others) -> list:
    """The (type, start, end) spans among `others` that share at least one word with `span`."""
    return [o for o in others if o[1] < span[2] and span[1] < o[2]]


class EntityError(NamedTuple):
    kind: str                            # "type", "boundary", "boundary+type", "missed" or "spurious"
    sentence: int                        # index of the sentence
    gold: tuple[str, int, int] | None    # (type, first word, end word) of the gold entity; None if spurious
    predicted: tuple | None              # the predicted entity it is compared with; None if missed


def entity_errors(true_tag_seqs: list[list[str]], pred_tag_seqs: list[list[str]]) -> list[EntityError]:
    """Every entity-level mistake, one per gold entity that is not predicted exactly, plus spurious ones.

    For a gold entity: same span, other type → "type"; no predicted entity with the same span but one that
    overlaps it → "boundary" if one of those has the gold type, else "boundary+type"; nothing overlapping →
    "missed". A predicted entity that overlaps no gold entity → "spurious". Under exact matching a type or
    boundary error costs a false positive *and* a false negative; a missed entity only a false negative."""
    _check_tag_seqs(true_tag_seqs, pred_tag_seqs)
    errors = []
    for i, (true, pred) in enumerate(zip(true_tag_seqs, pred_tag_seqs, strict=True)):
        gold, predicted = entity_spans(true), entity_spans(pred)
        for g in gold:
            if g in predicted:
                continue
            same_span = [p for p in predicted if p[1:] == g[1:]]
            near = _overlapping(g, predicted)
            if same_span:
                errors.append(EntityError("type", i, g, same_span[0]))
            elif near:
                right_type = [p for p in near if p[0] == g[0]]
                errors.append(EntityError("boundary" if right_type else "boundary+type", i, g,
                                          (right_type or near)[0]))
            else:
                errors.append(EntityError("missed", i, g, None))
        errors += [EntityError("spurious", i, None, p) for p in predicted if not _overlapping(p, gold)]
    return errors


def entity_confusion(true_tag_seqs: list[list[str]], pred_tag_seqs: list[list[str]],
                     types: list[str] | tuple = ("PER", "ORG", "LOC", "MISC")):
    """(T + 1, T + 1) counts over exact spans; rows: gold type, columns: predicted type, last row/column "none".

    A gold entity whose exact span was predicted lands in (gold type, predicted type); one whose span was not
    predicted at all in (gold type, none); a predicted span that is no gold entity in (none, predicted type)."""
    import numpy as np

    _check_tag_seqs(true_tag_seqs, pred_tag_seqs)
    index = {kind: n for n, kind in enumerate(types)}
    none = len(types)
    matrix = np.zeros((none + 1, none + 1), dtype=int)
    for true, pred in zip(true_tag_seqs, pred_tag_seqs, strict=True):
        gold = {(start, end): kind for kind, start, end in entity_spans(true)}
        predicted = {(start, end): kind for kind, start, end in entity_spans(pred)}
        for span, kind in gold.items():
            matrix[index[kind], index[predicted[span]] if span in predicted else none] += 1
        for span, kind in predicted.items():
            if span not in gold:
                matrix[none, index[kind]] += 1
    return matrix


# ---------------------------------------------------------------- entities never seen in training

def entity_strings(token_seqs, tag_seqs) -> set[str]:
    """The lower-cased strings of every entity in the sentences ("new york"); lower-cased because the
    uncased encoders cannot tell "Apple" from "apple" anyway."""
    strings = set()
    for tokens, tags in zip(token_seqs, tag_seqs, strict=True):
        names = [t if isinstance(t, str) else NER_LABELS[int(t)] for t in tags]
        strings.update(" ".join(tokens[start:end]).lower() for _, start, end in entity_spans(names))
    return strings


def _novelty(tokens, span, seen) -> str:
    return "seen" if " ".join(tokens[span[1]:span[2]]).lower() in seen else "unseen"


def scores_by_novelty(token_seqs, true_tag_seqs, pred_tag_seqs, seen: set[str]) -> dict:
    """Exact-match precision/recall/F1 split by whether an entity's string was seen as an entity in training.

    "unseen" recall: share of gold entities whose string is not in `seen` that were predicted exactly (span and
    type); "unseen" precision: share of predicted entities whose string is not in `seen` that are right. Each
    entity is judged by its own string, so a wrong boundary can move a prediction between the groups."""
    _check_tag_seqs(true_tag_seqs, pred_tag_seqs)
    counts = {group: {"gold": 0, "predicted": 0, "gold_found": 0, "predicted_right": 0} for group in ("unseen", "seen")}
    for tokens, true, pred in zip(token_seqs, true_tag_seqs, pred_tag_seqs, strict=True):
        gold, predicted = set(entity_spans(true)), set(entity_spans(pred))
        for g in gold:
            group = counts[_novelty(tokens, g, seen)]
            group["gold"] += 1
            group["gold_found"] += g in predicted
        for p in predicted:
            group = counts[_novelty(tokens, p, seen)]
            group["predicted"] += 1
            group["predicted_right"] += p in gold
    scores = {}
    for name, c in counts.items():
        precision = c["predicted_right"] / c["predicted"] if c["predicted"] else 0.0
        recall = c["gold_found"] / c["gold"] if c["gold"] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[name] = {"precision": precision, "recall": recall, "f1": f1, "gold": c["gold"],
                        "predicted": c["predicted"]}
    return scores
