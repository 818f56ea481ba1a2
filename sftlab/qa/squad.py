"""Question answering, step 3: SQuAD's scores — exact match and token F1 after SQuAD's normalisation (lower case,
no punctuation, no articles, single spaces), the best over a question's gold answers — and the question types the
notebook reads results by.

    squad_scores([a.text for a in answers], data["test"])     # {"exact_match": …, "f1": …}, means over questions

tests/test_qa.py checks these equal the official SQuAD v1.1 evaluation script's logic.
"""

import re
import string
from collections import Counter

# ---------------------------------------------------------------- SQuAD scores

ARTICLES = re.compile(r"\b(a|an|the)\b")
PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation, in its order: lower-case, drop ASCII punctuation, drop the articles a/an/the,
    collapse whitespace. Punctuation goes before articles: "the-end" → "theend" keeps no article to drop."""
    text = text.lower().translate(PUNCTUATION)
    return " ".join(ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, truth: str) -> float:
    """1.0 when the two are equal after normalisation, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(truth))


def token_f1(prediction: str, truth: str) -> float:
    """F1 over the normalised words the two share, counted with multiplicity (a bag of words, order ignored);
    0 when they share none (an empty answer scores 0 against any gold answer, as in SQuAD v1.1)."""
    predicted, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    shared = sum((Counter(predicted) & Counter(gold)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(predicted), shared / len(gold)
    return 2 * precision * recall / (precision + recall)


def question_scores(prediction: str, truths: list[str]) -> tuple[float, float]:
    """(exact match, F1) of one prediction: the best over the gold answers. No gold answer (SQuAD 2.0's unanswerable
    question): 1.0 for an empty prediction, else 0.0."""
    if isinstance(truths, str):
        raise TypeError(f"truths must be a list of gold answers, got the string {truths!r}; wrap it in a list")
    if not truths:
        score = float(normalize_answer(prediction) == "")
        return score, score
    return max(exact_match(prediction, t) for t in truths), max(token_f1(prediction, t) for t in truths)


def squad_scores(predictions, split) -> dict:
    """{"exact_match", "f1"}: means over the questions of `split` (0–1; the official script prints ×100).
    predictions: one answer text per question, in the split's order, or a dict {id: text}."""
    ids, golds = split["id"], [a["text"] for a in split["answers"]]
    if not ids:
        raise ValueError("the split has no questions: nothing to score")
    if isinstance(predictions, dict):
        missing = [i for i in ids if i not in predictions]
        if missing:
            raise ValueError(f"{len(missing)} questions have no prediction, e.g. {missing[:3]}")
        predictions = [predictions[i] for i in ids]
    if len(predictions) != len(ids):
        raise ValueError(f"got {len(predictions)} predictions for {len(ids)} questions")
    scores = [question_scores(p, g) for p, g in zip(predictions, golds, strict=True)]
    return {"exact_match": sum(s[0] for s in scores) / len(scores), "f1": sum(s[1] for s in scores) / len(scores)}


# ---------------------------------------------------------------- reading the results


QUESTION_TYPES = ("who", "when", "where", "why", "how many/much", "how", "what/which", "other")
WHEN = re.compile(r"\b(when|(what|which) (year|century|decade|month|day|date|age))\b")


def question_type(question: str) -> str:
    """who / when / where / why / how many/much / how / what/which / other, from the question's wording (the first
    question word decides; "which year" counts as when)."""
    q = question.lower()
    if re.search(r"\bhow (many|much)\b", q):
        return "how many/much"
    if WHEN.search(q):
        return "when"
    words = re.findall(r"[a-z]+", q)
    for word in words:
        for kind, starts in (("who", ("who", "whom", "whose")), ("where", ("where",)), ("why", ("why",)),
                             ("when", ("when",)), ("how", ("how",)), ("what/which", ("what", "which"))):
            if word in starts:
                return kind
    return "other"
