"""Chapter 07, extractive question answering: characters to a token span, SQuAD's F1, the best-span search.

The references use the package's own QA code (sftlab.qa), so the exercises grade against exactly what the
notebook runs; the mistakes model typical wrong answers.

Shapes (sftlab/__init__.py): T tokens in a window.
"""

from sftlab.course.exercises.framework import Exercise, Mistake, check, register

# ---------------------------------------------------------------- characters -> token span


def char_to_token_span_solution(offsets, sequence_ids, start_char, end_char):
    """(start token, end token) of the answer's characters [start_char, end_char) in one window, or (0, 0) — the
    [CLS] position — when the window's context does not hold the whole answer. offsets: (start, end) characters per
    token; sequence_ids: None for special tokens, 0 for the question, 1 for the context (only those count)."""
    from sftlab.qa import char_span_to_tokens

    context_offsets = [o if s == 1 else None for o, s in zip(offsets, sequence_ids, strict=True)]
    span = char_span_to_tokens(context_offsets, start_char, end_char)
    return (0, 0) if span is None else span


# "[CLS] where is it ? [SEP] it lies in the julian alps . [SEP]": question offsets count from the question's start
_WINDOW = ([(0, 0), (0, 5), (6, 8), (9, 11), (11, 12), (0, 0), (0, 2), (3, 7), (8, 10), (11, 14), (15, 21),
            (22, 26), (26, 27), (0, 0)],
           [None, 0, 0, 0, 0, None, 1, 1, 1, 1, 1, 1, 1, None])
# a later window of a longer context: "[CLS] when ? [SEP] ##ded in 1953 by ... [SEP]", context offsets from 40
_LATER = ([(0, 0), (0, 4), (4, 5), (0, 0), (40, 43), (44, 46), (47, 51), (52, 54), (55, 60), (0, 0)],
          [None, 0, 0, None, 1, 1, 1, 1, 1, None])


def _char_cases():
    return [(*_WINDOW, 15, 26),        # "julian alps": tokens 10–11
            (*_WINDOW, 0, 2),          # "it" at the context's start: token 6, not the question's "where" (0–5)
            (*_WINDOW, 22, 26),        # "alps": one token
            (*_LATER, 47, 51),         # "1953" in a later window
            (*_LATER, 30, 43),         # the answer starts before this window: (0, 0)
            (*_LATER, 55, 70)]         # and one that runs past its end: (0, 0)


def _char_any_sequence(offsets, sequence_ids, start_char, end_char):
    """Searches every token, question and special tokens included."""
    start = next((t for t, (s, e) in enumerate(offsets) if e > start_char), 0)
    end = next((t for t in reversed(range(len(offsets))) if offsets[t][0] < end_char), 0)
    return start, end


def _char_end_token_after(offsets, sequence_ids, start_char, end_char):
    """Takes as end the token that starts at end_char (the token after the answer)."""
    start, end = char_to_token_span_solution(offsets, sequence_ids, start_char, end_char)
    if (start, end) == (0, 0):
        return start, end
    return start, min(end + 1, len(offsets) - 1)


def _char_clipped(offsets, sequence_ids, start_char, end_char):
    """Keeps the part of an answer that lies in the window instead of pointing at [CLS]."""
    context = [t for t, s in enumerate(sequence_ids) if s == 1]
    inside = [t for t in context if offsets[t][1] > start_char and offsets[t][0] < end_char]
    return (inside[0], inside[-1]) if inside else (0, 0)


register(Exercise(
    name="char_to_token_span",
    task="char_to_token_span(offsets, sequence_ids, start_char, end_char): the answer's (start token, end token) "
         "in one window, or (0, 0) when the window's context does not hold it whole",
    hint="only tokens with sequence id 1 are context; if start_char is before the first context token's start or "
         "end_char after the last one's end, return (0, 0); else start = first context token ending after "
         "start_char, end = last context token beginning before end_char",
    reference=char_to_token_span_solution,
    see_also=("sftlab.qa.char_span_to_tokens",),
    cases=_char_cases,
    mistakes=[
        Mistake(_char_clipped,
                "the window holds only part of this answer, and you labelled that part; the label must be (0, 0), "
                "the [CLS] position, so the model learns 'not (wholly) here' — another window holds it whole"),
        Mistake(_char_any_sequence,
                "you searched every token; the question's offsets count from the question's own start, so its "
                "tokens (and [CLS], [SEP] at (0, 0)) can match the answer's characters. Keep to sequence id 1"),
        Mistake(_char_end_token_after,
                "your end token is the one *after* the answer: end_char is exclusive, so the end token is the last "
                "one that begins before end_char"),
    ],
    atol=0,
    answers_as_tensors=True,
))


def check_char_to_token_span(fn, raise_on_failure=False):
    """Check your char_to_token_span(offsets, sequence_ids, start_char, end_char) against the reference."""
    return check("char_to_token_span", fn, raise_on_failure)


# ---------------------------------------------------------------- SQuAD F1


def squad_f1_solution(prediction, truths):
    """SQuAD's F1 of one prediction: normalise both sides (lower-case, drop punctuation, then the articles a/an/the,
    collapse whitespace), F1 over the words they share counted with multiplicity, the best over the gold answers."""
    from sftlab.qa import token_f1

    return max(token_f1(prediction, truth) for truth in truths)


def _f1_cases():
    return [("the Denver Broncos", ["Denver Broncos"]),
            ("Broncos", ["the Denver Broncos"]),
            ("Carolina", ["Denver Broncos", "Carolina Panthers"]),
            ("Paris, France.", ["paris"]),
            ("paris paris", ["Paris"]),
            ("in the 1950s", ["1950s", "the 1950s"]),
            ("", ["Lake Bled"])]


def _plain_f1(prediction, truth, normalise=True, multiset=True):
    from collections import Counter

    from sftlab.qa import normalize_answer

    p = (normalize_answer(prediction) if normalise else prediction).split()
    t = (normalize_answer(truth) if normalise else truth).split()
    shared = sum((Counter(p) & Counter(t)).values()) if multiset else len(set(p) & set(t))
    if not shared:
        return 0.0
    precision, recall = shared / (len(p) if multiset else len(set(p))), shared / (len(t) if multiset else len(set(t)))
    return 2 * precision * recall / (precision + recall)


register(Exercise(
    name="squad_f1",
    task="squad_f1(prediction, truths): SQuAD's token F1 of one predicted answer against a list of gold answers",
    hint="normalise: lower(), remove string.punctuation, remove the words a/an/the, ' '.join(split()); then "
         "shared = sum((Counter(pred_words) & Counter(gold_words)).values()); F1 = 2PR/(P+R), 0 if nothing is "
         "shared; return the max over the gold answers",
    reference=squad_f1_solution,
    see_also=("sftlab.qa.token_f1", "sftlab.qa.normalize_answer"),
    cases=_f1_cases,
    mistakes=[
        Mistake(lambda prediction, truths: max(_plain_f1(prediction, t, normalise=False) for t in truths),
                "you compared the raw words; SQuAD normalises first (lower case, no punctuation, no a/an/the), so "
                "'the Denver Broncos' and 'Denver Broncos' are an exact match"),
        Mistake(lambda prediction, truths: _plain_f1(prediction, truths[0]),
                "you scored against the first gold answer only; SQuAD takes the best score over all gold answers"),
        Mistake(lambda prediction, truths: max(_plain_f1(prediction, t, multiset=False) for t in truths),
                "you counted shared words as a set; SQuAD counts them with multiplicity (Counter &), so 'paris "
                "paris' against 'Paris' has precision 1/2"),
        Mistake(lambda prediction, truths: max(float(prediction.lower() in t.lower() or t.lower() in
                                                     prediction.lower()) for t in truths),
                "that is containment (one string inside the other), not F1; F1 gives partial credit for the share "
                "of words in common"),
    ],
    answers_as_tensors=True,
))


def check_squad_f1(fn, raise_on_failure=False):
    """Check your squad_f1(prediction, truths) against the reference."""
    return check("squad_f1", fn, raise_on_failure)


# ---------------------------------------------------------------- the best span


def best_span_solution(start_logits, end_logits, context_mask, max_answer_length):
    """(start, end) token of the highest start + end logit among valid spans: both tokens in the context
    (context_mask True), start ≤ end, at most max_answer_length tokens. start_logits, end_logits: (T,)."""
    from sftlab.qa import span_candidates

    offsets = [(t, t + 1) if inside else None for t, inside in enumerate(context_mask.tolist())]
    n = len(offsets)
    _, start, end = span_candidates(start_logits, end_logits, offsets, n_best=n, max_answer_length=max_answer_length)[0]
    return start, end


def _logits(values: dict, length: int = 13):
    """A (T,) tensor of zeros with the given {position: value}."""
    import torch

    out = torch.zeros(length)
    for position, value in values.items():
        out[position] = value
    return out


def _span_cases():
    import torch

    g = torch.Generator().manual_seed(7)
    mask = torch.tensor([False, False, False, False] + [True] * 8 + [False])      # [CLS] q q [SEP] context [SEP]
    return [(_logits({0: 6, 7: 2}), _logits({8: 5}), mask, 4),                 # best start on [CLS], a far end
            (_logits({0: 5, 6: 3}), _logits({0: 5, 7: 2}), mask, 4),           # [CLS] tempts both
            (_logits({8: 4}), _logits({5: 3, 9: 1}), mask, 4),                 # the best end before the best start
            (_logits({4: 4}), _logits({5: 0.5, 10: 3}), mask, 3),              # the best end too far
            (_logits({4: 4}), _logits({6: 0.5, 7: 3}), mask, 3),               # one token too far
            (torch.randn(13, generator=g), torch.randn(13, generator=g), mask, 5),
            (3 * torch.randn(13, generator=g), 3 * torch.randn(13, generator=g), mask, 2)]


def _span_search(start_logits, end_logits, context_mask, max_answer_length, order=True, length=True, context=True):
    """Brute force with some of the rules left out."""
    best, where = float("-inf"), (0, 0)
    for s in range(len(start_logits)):
        for e in range(len(end_logits)):
            if (order and e < s) or (length and e - s + 1 > max_answer_length):
                continue
            if context and not (context_mask[s] and context_mask[e]):
                continue
            if start_logits[s] + end_logits[e] > best:
                best, where = float(start_logits[s] + end_logits[e]), (s, e)
    return where


register(Exercise(
    name="best_span",
    task="best_span(start_logits, end_logits, context_mask, max_answer_length): the (start, end) token of the best "
         "valid answer span in one window",
    hint="score every pair s ≤ e < s + max_answer_length with both tokens in the context by start_logits[s] + "
         "end_logits[e], and keep the best (two loops are fine; the package searches the n best of each)",
    reference=best_span_solution,
    see_also=("sftlab.qa.span_candidates",),
    cases=_span_cases,
    mistakes=[
        Mistake(lambda s, e, mask, n: _span_search(s, e, mask, n + 1),
                "off by one in the length rule: a span of tokens s … e has e - s + 1 tokens, at most "
                "max_answer_length"),
        Mistake(lambda s, e, mask, n: _span_search(s, e, mask, n, context=False),
                "your span uses tokens outside the context ([CLS], the question or [SEP]); only context tokens "
                "can be part of an answer"),
        Mistake(lambda s, e, mask, n: _span_search(s, e, mask, n, order=False),
                "your span ends before it starts; require start ≤ end"),
        Mistake(lambda s, e, mask, n: _span_search(s, e, mask, n, length=False),
                "your span is longer than max_answer_length tokens (end - start + 1 must be ≤ max_answer_length)"),
        Mistake(lambda s, e, mask, n: (int(s.argmax()), int(e.argmax())),
                "you took the best start and the best end separately; they may land on [CLS] or the question, put "
                "the end before the start, or be too far apart. Search over valid pairs"),
    ],
    atol=0,
    answers_as_tensors=True,
))


def check_best_span(fn, raise_on_failure=False):
    """Check your best_span(start_logits, end_logits, context_mask, max_answer_length) against the reference."""
    return check("best_span", fn, raise_on_failure)
