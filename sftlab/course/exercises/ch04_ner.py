"""Chapter 04, named-entity recognition: sub-word label alignment, entity F1, BIO-constrained decoding.

The references use the package's own BIO code (sftlab.data.entity_spans, sftlab.ner.decoding), so the
exercises grade against exactly what the notebook runs; the mistakes model typical wrong answers.

Shapes (sftlab/__init__.py): W words in a sentence, C labels.
"""

from sftlab.course.exercises.framework import Exercise, Mistake, check, register
from sftlab.data import NER_LABELS, entity_spans


def align_labels_solution(word_ids, word_labels):
    """One label per token: the word's label on its first sub-token, -100 on later sub-tokens and on special
    tokens ([CLS], [SEP], padding: word id None), so that cross-entropy counts every word exactly once."""
    labels, previous = [], None
    for w in word_ids:
        if w is None or w == previous:
            labels.append(-100)              # a special token, or a later piece of the same word
        else:
            labels.append(word_labels[w])    # the first piece of word w
        previous = w
    return labels


def _align_cases():
    # [CLS] no ##m ##vula flew to dl ##ami ##ni [SEP]; B-PER O O B-LOC ("Nomvula flew to Dlamini")
    return [([None, 0, 0, 0, 1, 2, 3, 3, 3, None], [1, 0, 0, 5]),
            ([None, 0, 0, 1, 2, 3, None], [3, 0, 0, 5]),                      # [CLS] hugging ##face is in brooklyn
            ([None, 0, 1, 1, 2, None, None, None], [7, 8, 0])]                # padded to 8 tokens


def _align_every_piece(word_ids, word_labels):
    return [-100 if w is None else word_labels[w] for w in word_ids]


def _align_by_position(word_ids, word_labels):
    return [word_labels[t] if t < len(word_labels) else -100 for t in range(len(word_ids))]


def _align_specials_as_o(word_ids, word_labels):
    return [0 if label == -100 and w is None else label
            for w, label in zip(word_ids, align_labels_solution(word_ids, word_labels), strict=True)]


def _align_last_piece(word_ids, word_labels):
    following = [*word_ids[1:], None]
    return [word_labels[w] if w is not None and w != after else -100 for w, after in zip(word_ids, following,
                                                                                            strict=True)]


register(Exercise(
    name="align_labels",
    task="align_labels(word_ids, word_labels): one label per token — the word's label on its first sub-token, "
         "-100 elsewhere",
    hint="walk word_ids keeping the previous word id: None (special token) or the same id as before → -100; "
         "a new word id w → word_labels[w]",
    reference=align_labels_solution,
    cases=_align_cases,
    mistakes=[
        Mistake(_align_by_position,
                "you gave the t-th word's label to the t-th token: [CLS] takes the first word's label and every "
                "label after the first split word lands on the wrong token. Use word_ids to find each word's "
                "first sub-token"),
        Mistake(_align_every_piece,
                "you copied the word's label onto every sub-token: a B- label then starts an entity in the middle "
                "of a word, and long words weigh more in the loss. Later pieces get -100"),
        Mistake(_align_specials_as_o,
                "the special tokens ([CLS], [SEP], padding: word id None) got label 0 = O, so the model is trained "
                "to tag them; give them -100, the index cross-entropy ignores"),
        Mistake(_align_last_piece,
                "you labelled the *last* sub-token of each word; the convention (and what predict_entities reads) "
                "is the first"),
    ],
    atol=0,
    answers_as_tensors=True,
))


def check_align_labels(fn, raise_on_failure=False):
    """Check your align_labels(word_ids, word_labels) against the reference."""
    return check("align_labels", fn, raise_on_failure)


def entity_f1_solution(true_tags, pred_tags):
    """Micro F1 over entities: an entity counts as found only if its type, first and last word all match.
    true_tags, pred_tags: one list of BIO tags per sentence. entity_spans reads the entities of a sentence (an I-X
    that does not continue an X opens an entity, as conlleval and seqeval read it)."""
    gold = {(sentence, *span) for sentence, tags in enumerate(true_tags) for span in entity_spans(tags)}
    predicted = {(sentence, *span) for sentence, tags in enumerate(pred_tags) for span in entity_spans(tags)}
    if not gold and not predicted:
        return 0.0
    return 2 * len(gold & predicted) / (len(gold) + len(predicted))  # = 2PR / (P + R)


def _entity_f1_cases():
    return [([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "O", "O", "B-LOC"]]),
            ([["B-ORG", "I-ORG", "O", "B-PER"], ["O", "B-LOC", "O"]],
             [["B-LOC", "I-LOC", "O", "B-PER"], ["O", "B-LOC", "O"]]),
            ([["O", "B-MISC", "I-MISC", "O"], ["B-PER", "O"]], [["O", "I-MISC", "I-MISC", "O"], ["I-PER", "O"]]),
            ([["B-LOC", "O", "O"]], [["O", "O", "O"]])]


def _tags_f1(true_tags, pred_tags, same=lambda t, p: t == p):
    """F1 over non-O tags, word by word."""
    true = [t for s in true_tags for t in s]
    pred = [p for s in pred_tags for p in s]
    right = sum(t != "O" and same(t, p) for t, p in zip(true, pred, strict=True))
    total = sum(t != "O" for t in true) + sum(p != "O" for p in pred)
    return 2 * right / total if total else 0.0


def _entity_f1_variant(true_tags, pred_tags, key=lambda e: e, stray_opens=True, overlap=False):
    """Entity F1 gone wrong: matching by `key` (e.g. without the type), by overlap, or dropping entities that a
    stray I-X opens (stray_opens=False)."""
    def entities(sentence, tags):
        return [(sentence, *span) for span in entity_spans(tags) if stray_opens or tags[span[1]].startswith("B-")]

    gold = [e for s, tags in enumerate(true_tags) for e in entities(s, tags)]
    predicted = [e for s, tags in enumerate(pred_tags) for e in entities(s, tags)]
    if overlap:
        right = sum(any(g[:2] == p[:2] and g[2] < p[3] and p[2] < g[3] for g in gold) for p in predicted)
    else:
        right = len({key(e) for e in gold} & {key(e) for e in predicted})
    return 2 * right / (len(gold) + len(predicted)) if gold or predicted else 0.0


register(Exercise(
    name="entity_f1",
    task="entity_f1(true_tags, pred_tags): micro F1 over entities (exact type and boundaries), lists of BIO tags "
         "per sentence in, a float out",
    hint="turn each sentence's tags into (sentence, type, start, end) entities — B-X opens one, I-X continues an "
         "X (or opens one after O or another type) — then F1 = 2·|gold ∩ predicted| / (|gold| + |predicted|)",
    reference=entity_f1_solution,
    see_also=("sftlab.data.entity_spans",),
    answers_as_tensors=True,
    cases=_entity_f1_cases,
    mistakes=[
        Mistake(lambda true_tags, pred_tags: sum(t == p for ts, ps in zip(true_tags, pred_tags, strict=True)
                                                 for t, p in zip(ts, ps, strict=True)) / sum(map(len, true_tags)),
                "that is token accuracy (O tags included); entity F1 scores whole entities, so a half-found name "
                "counts as wrong"),
        Mistake(_tags_f1,
                "you scored tags word by word (F1 over the non-O tags); an entity counts only when all its words "
                "and both boundaries are right"),
        Mistake(lambda true_tags, pred_tags: _entity_f1_variant(true_tags, pred_tags, overlap=True),
                "you counted a prediction that overlaps a gold entity of the same type as right; exact matching "
                "needs the same first and last word"),
        Mistake(lambda true_tags, pred_tags: _entity_f1_variant(true_tags, pred_tags, key=lambda e: (e[0], *e[2:])),
                "you ignored the entity type: the span alone is not enough, LOC for an ORG is an error"),
        Mistake(lambda true_tags, pred_tags: _entity_f1_variant(true_tags, pred_tags, stray_opens=False),
                "an I-X that follows O (or another type) must open an entity, as conlleval and seqeval read it; "
                "you dropped those words"),
    ],
))


def check_entity_f1(fn, raise_on_failure=False):
    """Check your entity_f1(true_tags, pred_tags) against the reference."""
    return check("entity_f1", fn, raise_on_failure)


def constrained_decode_solution(log_probs, label_names):
    """Viterbi: the label ids with the highest total log-probability among sequences where every I-X follows
    a B-X or an I-X (and none opens the sentence). log_probs: (W, C) tensor, one row per word. This is the decoder
    notebook 04 runs, sftlab.ner.bio_viterbi; show_solution prints its code below."""
    from sftlab.ner.decoding import bio_viterbi

    return bio_viterbi(log_probs, label_names)


SMALL_BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _constrained_cases():
    import torch

    g = torch.Generator().manual_seed(5)
    return [(torch.tensor([[0.5, 0.4, 0.01, 0.1, 0.01], [0.02, 0.01, 0.9, 0.05, 0.02]]).log(), SMALL_BIO),
            (torch.tensor([[0.05, 0.3, 0.6, 0.01, 0.04], [0.05, 0.05, 0.8, 0.05, 0.05],
                           [0.15, 0.02, 0.03, 0.3, 0.5]]).log(), SMALL_BIO),
            ((3 * torch.randn(6, 9, generator=g)).log_softmax(-1), NER_LABELS),
            ((3 * torch.randn(8, 9, generator=g)).log_softmax(-1), NER_LABELS)]


def _viterbi_variant(log_probs, label_names, start_rule=True, same_type=True):
    """Viterbi under a wrong BIO rule: I-X may open a sentence (start_rule=False), or follow any label but O
    (same_type=False)."""
    import torch

    from sftlab.ner.decoding import allowed_transitions, viterbi

    allowed = allowed_transitions(label_names)                   # (C + 1, C); the last row is the sentence start
    inside = [j for j, name in enumerate(label_names) if name.startswith("I-")]
    if not same_type:
        not_o = torch.tensor([name != "O" for name in label_names])
        allowed[:-1, inside] = not_o[:, None]
    if not start_rule:
        allowed[-1, inside] = True
    return viterbi(log_probs, allowed)


def _greedy_constrained(log_probs, label_names):
    from sftlab.ner.decoding import may_follow

    path, previous = [], None
    for row in log_probs:
        best = max((i for i, name in enumerate(label_names) if may_follow(previous, name)), key=lambda i: row[i].item())
        path.append(best)
        previous = label_names[best]
    return path


def _repair_argmax(log_probs, label_names):
    from sftlab.ner.decoding import may_follow

    tags, previous = [], None
    for i in log_probs.argmax(-1).tolist():
        tag = label_names[i]
        if not may_follow(previous, tag):
            tag = f"B-{tag[2:]}"
        tags.append(label_names.index(tag))
        previous = tag
    return tags


register(Exercise(
    name="constrained_decode",
    task="constrained_decode(log_probs, label_names): the best valid BIO label ids for one sentence, (W, C) "
         "log-probabilities in, a list of W ids out",
    hint="Viterbi with transition scores 0 (allowed) or -inf (I-X after anything but B-X/I-X, or at the start): "
         "keep the best score of a path ending in each label, word by word, with back-pointers",
    reference=constrained_decode_solution,
    see_also=("sftlab.ner.decoding.bio_viterbi", "sftlab.ner.decoding.viterbi",
              "sftlab.ner.decoding.allowed_transitions", "sftlab.ner.decoding.may_follow"),
    cases=_constrained_cases,
    mistakes=[
        Mistake(lambda log_probs, label_names: log_probs.argmax(-1).tolist(),
                "that is each word's argmax, with no constraint: it can output O I-PER or B-LOC I-PER"),
        Mistake(_greedy_constrained,
                "you chose left to right, each word's best tag allowed after the tag already chosen (greedy); a "
                "choice can never be revised, so O followed by a confident I-PER cannot become B-PER I-PER. "
                "Viterbi keeps the best path into every label and picks at the end"),
        Mistake(_repair_argmax,
                "you repaired the argmax by turning each stray I-X into B-X (what conlleval's reading amounts "
                "to); the best valid sequence can change other words too, so search over all of them (Viterbi)"),
        Mistake(lambda log_probs, label_names: _viterbi_variant(log_probs, label_names, start_rule=False),
                "a sentence cannot start with I-X: give I- labels -inf at the first word"),
        Mistake(lambda log_probs, label_names: _viterbi_variant(log_probs, label_names, same_type=False),
                "I-X must follow B-X or I-X of the *same* type; you only forbade it after O"),
    ],
    atol=0,
    answers_as_tensors=True,
))


def check_constrained_decode(fn, raise_on_failure=False):
    """Check your constrained_decode(log_probs, label_names) against the reference."""
    return check("constrained_decode", fn, raise_on_failure)
