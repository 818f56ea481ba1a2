"""Question answering without a trained reader: the lexical baseline a reader must beat, and a generated answer
mapped back onto its passage, so that a chat model can be scored as a span reader is.

    overlap_answer("When was the cake first sold?", context)     # the question's best sentence, its words removed
    closest_span("The answer is: in 1953.", context)             # "1953." — the passage's closest word span

Both compare words after SQuAD's normalisation (sftlab.qa.squad), so what they pick is what the metric sees.
"""

import re

from sftlab.qa.squad import normalize_answer, token_f1

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _check_text(value, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} is empty: nothing to search")
    return value


def _words(text: str) -> set[str]:
    return set(normalize_answer(text).split())


def overlap_answer(question: str, context: str) -> str:
    """A reader that learns nothing: the context sentence that shares the most normalised words with the question
    (the first on ties), minus the question's own words — an answer is usually next to the words that ask for it."""
    asked = _words(_check_text(question, "question"))
    sentences = SENTENCE_END.split(_check_text(context, "context").strip())
    best = max(sentences, key=lambda sentence: len(asked & _words(sentence)))
    return " ".join(w for w in best.split() if normalize_answer(w) and normalize_answer(w) not in asked)


def closest_span(generated: str, context: str, max_words: int = 30) -> str:
    """The span of whole words of `context` (at most max_words) with the highest SQuAD F1 against `generated`,
    the shortest on ties; "" when they share no word. It turns a sentence such as "The population is about 90,000
    people" into the passage's "about 90,000 people", so that a generative reader is scored on a span."""
    if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1:
        raise ValueError(f"max_words must be a positive int, got {max_words!r}")
    words = _check_text(context, "context").split()
    if not isinstance(generated, str):
        raise TypeError(f"generated must be a string, got {type(generated).__name__}")
    best, best_f1 = "", 0.0
    for length in range(1, min(max_words, len(words)) + 1):          # shorter spans first: they win ties
        for start in range(len(words) - length + 1):
            span = " ".join(words[start:start + length])
            f1 = token_f1(span, generated)
            if f1 > best_f1:
                best, best_f1 = span, f1
    return best
