"""NER on raw text: split it into words, predict its entities with a fine-tuned encoder, highlight them.

    entities = predict_entities("Angela Merkel visited Paris.", model, tokenizer)
    highlight(text, entities)                                   # coloured in a notebook, [Paris|LOC] in a terminal

Shapes (sftlab/__init__.py): T sub-word tokens, C labels.

The offline encoder (MiniLM-L6-H384) and the full one (bert-base-uncased) are *uncased*: "Apple" and "apple"
reach the model as the same tokens, so capitalisation, one of the strongest NER cues, is invisible to them.
(Production English NER usually starts from a cased model such as bert-base-cased.)
"""

import re
from itertools import pairwise
from typing import NamedTuple

import torch

from sftlab.course.highlight import Highlighted
from sftlab.data import check_bio_tags, entity_spans
from sftlab.devices import model_device, to_device
from sftlab.ner.alignment import check_fast_tokenizer


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
    if not isinstance(text, str):
        raise TypeError(f"split_words takes one raw string, got {type(text).__name__} {text!r:.40}")
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
    check_bio_tags(label_names, "label_names (predict_entities decodes BIO tags)")
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
    check_fast_tokenizer(tokenizer)
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
    logits = model(**to_device(dict(encoding), model_device(model))).logits[0]   # (T, C), inputs where the model is
    probabilities = logits.float().softmax(-1).cpu()                         # (T, C)
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

COLOURS = {"PER": "#fde2a4", "ORG": "#b9e3f9", "LOC": "#c8f2c2", "MISC": "#e3d1f7"}  # other types: pale


def highlight(text: str, entities) -> Highlighted:
    """Entities marked on the text: coloured spans in a notebook, "[Angela Merkel|PER] met …" in a terminal.
    entities: Entity tuples (text, type, start, end[, score]) as predict_entities returns them."""
    if not isinstance(text, str):
        raise TypeError(f"highlight takes the raw text as a string, got {type(text).__name__}")
    one_entity = isinstance(entities, tuple) and entities and isinstance(entities[0], str)   # an Entity too
    if one_entity or isinstance(entities, str) or not hasattr(entities, "__iter__"):
        raise TypeError(f"entities must be a list of (text, type, start, end[, score]) as predict_entities "
                        f"returns, got {type(entities).__name__} {entities!r:.60}; for one entity pass [entity]")
    entities = list(entities)                    # a generator would be empty the second time round
    for e in entities:
        if isinstance(e, str) or len(e) not in (4, 5):
            raise TypeError(f"each entity is (text, type, start, end[, score]) as predict_entities gives, "
                            f"got {e!r}")
        if not all(hasattr(offset, "__index__") and not isinstance(offset, bool) for offset in e[2:4]):
            raise TypeError(f"entity {e[0]!r}: start and end must be character offsets (ints), got {e[2]!r} "
                            f"and {e[3]!r}")
        if e[3] <= e[2]:
            how = "is empty" if e[3] == e[2] else "ends before it starts"
            raise ValueError(f"entity {e[0]!r} {how}: start={e[2]}, end={e[3]}; end is the offset just after "
                             f"its last character, so start < end (text[start:end])")
    entities = sorted((Entity(*e) if len(e) == 5 else Entity(*e, float("nan")) for e in entities),
                           key=lambda e: e.start)
    for e in entities:
        if not 0 <= e.start < e.end <= len(text):
            raise ValueError(f"entity {e.text!r} spans characters {e.start}–{e.end}, outside the text "
                             f"(length {len(text)})")
        if text[e.start:e.end] != e.text:
            raise ValueError(f"entity {e.text!r} says characters {e.start}–{e.end}, but there the text reads "
                             f"{text[e.start:e.end]!r}: were the entities predicted on another text?")
    for a, b in pairwise(entities):
        if b.start < a.end:
            raise ValueError(f"entities {a.text!r} and {b.text!r} overlap; highlight shows flat entities only")
    return Highlighted(text, [(e.start, e.end, e.type, f"score {e.score:.2f}") for e in entities], COLOURS,
                       labels_inside=True)
