"""NER scores: entity-level metrics (seqeval), the report, tags from model outputs, error analysis.

    history = training.train(model, loader, val_loader, config, compute_metrics=metrics_for(NER_LABELS))
    true_tags, pred_tags = predict_tags(model, test_loader, NER_LABELS)
    print(format_entity_report(entity_metrics(true_tags, pred_tags)))
    entity_errors(true_tags, pred_tags), entity_confusion(...), scores_by_novelty(...)

Shapes (sftlab/__init__.py): B batch, T sub-word tokens, C labels.

Scores are entity-level (seqeval): an entity counts only if its type and both boundaries are right. Entities are
read from BIO tags by sftlab.data.entity_spans, the course's one BIO reader.
"""

import warnings
from typing import NamedTuple

import torch

from sftlab.data import bio_problem, check_bio_tags, entity_spans
from sftlab.ner.alignment import IGNORE_INDEX, batch_logits


def _check_tag_seqs(true_tag_seqs, pred_tag_seqs) -> None:
    """Both lists of BIO tag lists, one per sentence, sentence for sentence of equal length; else a message that
    names the sentence. seqeval would score a tag that is not BIO without a word: X-ORG and E-ORG as an ORG
    entity, ORG or b-org as none."""
    for name, seqs in (("true_tag_seqs", true_tag_seqs), ("pred_tag_seqs", pred_tag_seqs)):
        if isinstance(seqs, (str, dict)) or not hasattr(seqs, "__len__"):
            raise TypeError(f"{name} must be a list of tag lists, one per sentence, got {type(seqs).__name__}")
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
            if bio_problem(tag):
                raise ValueError(f"sentence {i}: {bio_problem(tag)}")


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
    missing = [key for key in ("precision", "recall", "f1", "per_type", "token_accuracy") if key not in metrics]
    if missing:
        raise ValueError(f"format_entity_report takes what entity_metrics returns; this dict lacks {missing} "
                         f"(its keys: {list(metrics)})")
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

    logits: (B, T, C), labels: (B, T) — one batch, tensors or arrays. With first-sub-token labels this gives
    exactly one tag per word, so the scores are per word, as CoNLL defines them.
    """
    check_bio_tags(label_names, "label_names")
    logits, labels = torch.as_tensor(logits), torch.as_tensor(labels)
    if logits.dim() != 3 or labels.shape != logits.shape[:2]:
        raise ValueError(f"expected logits (B, T, C) and labels (B, T) of one batch, got {tuple(logits.shape)} and "
                         f"{tuple(labels.shape)}")
    if logits.shape[-1] != len(label_names):
        raise ValueError(f"logits score {logits.shape[-1]} labels but label_names has {len(label_names)}")
    outside = labels[(labels != IGNORE_INDEX) & ((labels < 0) | (labels >= len(label_names)))]
    if len(outside):
        raise ValueError(f"labels holds id {int(outside[0])}, but label_names has {len(label_names)} labels "
                         f"(ids 0 … {len(label_names) - 1}, and {IGNORE_INDEX} for positions to skip)")
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
    check_bio_tags(label_names, "label_names")       # here, not at the first evaluation after an epoch of training
    def compute(logits, labels):
        true_tags, pred_tags = [], []
        for scores_of_batch, labels_of_batch in zip(logits, labels, strict=True):
            batch_true, batch_pred = predictions_to_tags(scores_of_batch, labels_of_batch, label_names)
            true_tags += batch_true
            pred_tags += batch_pred
        scores = entity_metrics(true_tags, pred_tags)
        return {"entity_f1": scores["f1"], "entity_precision": scores["precision"],
                "entity_recall": scores["recall"], "token_accuracy": scores["token_accuracy"]}
    return compute


@torch.no_grad()
def predict_tags(model, loader, label_names: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """(true tag lists, predicted tag lists) for every sentence of a loader (from make_loader), model in eval mode."""
    check_bio_tags(label_names, "label_names")
    true_tags, pred_tags = [], []
    for logits, labels in batch_logits(model, loader):                        # (B, T, C), (B, T)
        batch_true, batch_pred = predictions_to_tags(logits, labels, label_names)
        true_tags += batch_true
        pred_tags += batch_pred
    return true_tags, pred_tags


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
    """(E + 1, E + 1) counts over exact spans, E = len(types); rows: gold type, columns: predicted type, last
    row/column "none".

    A gold entity whose exact span was predicted lands in (gold type, predicted type); one whose span was not
    predicted at all in (gold type, none); a predicted span that is no gold entity in (none, predicted type)."""
    import numpy as np

    _check_tag_seqs(true_tag_seqs, pred_tag_seqs)
    if isinstance(types, str):
        raise TypeError(f"types must be a list of entity types such as ['PER', 'ORG'], got the string {types!r}")
    found = {kind for seqs in (true_tag_seqs, pred_tag_seqs) for tags in seqs for kind, _, _ in entity_spans(tags)}
    if found - set(types):
        raise ValueError(f"the tags hold entity type(s) {sorted(found - set(types))} that types={list(types)} "
                         f"lacks; pass every type, e.g. types={sorted(found | set(types))}")
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

def _check_tokens(token_seqs, tag_seqs) -> None:
    """One token list per tag list, sentence for sentence of the same length."""
    if len(token_seqs) != len(tag_seqs):
        raise ValueError(f"{len(token_seqs)} token lists but {len(tag_seqs)} tag lists; one of each per sentence")
    for i, (tokens, tags) in enumerate(zip(token_seqs, tag_seqs, strict=True)):
        if isinstance(tokens, str):
            raise TypeError(f"sentence {i}: tokens must be a list of words, got the string {tokens!r:.40}")
        if len(tokens) != len(tags):
            raise ValueError(f"sentence {i}: {len(tokens)} tokens but {len(tags)} tags")


def entity_strings(token_seqs, tag_seqs) -> set[str]:
    """The lower-cased strings of every entity in the sentences ("new york"); lower-cased because the
    uncased encoders cannot tell "Apple" from "apple" anyway."""
    _check_tokens(token_seqs, tag_seqs)
    strings = set()
    for tokens, tags in zip(token_seqs, tag_seqs, strict=True):
        strings.update(" ".join(tokens[start:end]).lower() for _, start, end in entity_spans(tags))  # names or ids
    return strings


def _novelty(tokens, span, seen) -> str:
    return "seen" if " ".join(tokens[span[1]:span[2]]).lower() in seen else "unseen"


def scores_by_novelty(token_seqs, true_tag_seqs, pred_tag_seqs, seen: set[str]) -> dict:
    """Exact-match precision/recall/F1 split by whether an entity's string was seen as an entity in training.

    "unseen" recall: share of gold entities whose string is not in `seen` that were predicted exactly (span and
    type); "unseen" precision: share of predicted entities whose string is not in `seen` that are right. Each
    entity is judged by its own string, so a wrong boundary can move a prediction between the groups."""
    _check_tag_seqs(true_tag_seqs, pred_tag_seqs)
    _check_tokens(token_seqs, true_tag_seqs)
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
