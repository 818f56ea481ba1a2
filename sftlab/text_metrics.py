"""Scores for open-ended answers: ROUGE-L written from scratch, chrF through sacrebleu.

    rouge_l("The cat sat on the mat.", "the cat is on the mat")     # 0.8333…: LCS 5 of 6 and 6 tokens
    mean_rouge_l(predictions, references)                         # the mean of rouge_l over pairs
    chrf(predictions, references)                                 # sacrebleu's corpus chrF, 0–100

ROUGE-L scores the longest common subsequence (LCS) of the two token lists: precision = LCS / prediction
tokens, recall = LCS / reference tokens, F1 = their harmonic mean. Tokens are what Google's `rouge-score`
package makes of a text (lower case; every run of characters other than a–z and 0–9 is a separator; no
stemming) with one addition: each Chinese character is a token of its own. rouge-score's tokenizer deletes
every character outside a–z0–9, so on Chinese text it finds no token at all and scores 0; splitting Chinese
into characters is the usual choice, since the text has no spaces between words. On text without Chinese,
`rouge_tokens` is exactly rouge-score's tokenizer (tests/test_text_metrics.py checks both, and the LCS,
against `rouge_score.rouge_scorer` on many pairs).

chrF (Popović 2015) is the F-score (β = 2: recall weighs twice) of character n-grams, n = 1 … 6, spaces
ignored, so it needs no word segmentation and suits Chinese as is; we call sacrebleu, the library that
defines the standard implementation, rather than writing it again.
"""

import re

# CJK unified ideographs, extension A and the compatibility block: the characters written as one token each.
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SEPARATORS = re.compile(f"[^a-z0-9{CJK}]+")
_CJK_CHARACTER = re.compile(f"([{CJK}])")


def rouge_tokens(text: str) -> list[str]:
    """Lower-cased a–z0–9 words (rouge-score's rule, no stemming) with every Chinese character as its own token."""
    if not isinstance(text, str):
        raise TypeError(f"rouge_tokens needs a string, got {type(text).__name__} {text!r:.40}")
    text = _SEPARATORS.sub(" ", text.lower())            # anything else separates tokens
    text = _CJK_CHARACTER.sub(r" \1 ", text)             # 北京大学 → 北 京 大 学
    return text.split()


def lcs_length(a: list, b: list) -> int:
    """Length of the longest common subsequence of two sequences (dynamic programming, O(len(a)·len(b)))."""
    previous = [0] * (len(b) + 1)                         # row i - 1 of the table: LCS of a[:i-1] and b[:j]
    for x in a:
        current = [0]
        for j, y in enumerate(b, 1):
            # a match extends the diagonal; otherwise keep the better of dropping x or dropping y
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 of one prediction against one reference, in [0, 1]; 0 when either has no token."""
    predicted, wanted = rouge_tokens(prediction), rouge_tokens(reference)
    if not predicted or not wanted:
        return 0.0
    common = lcs_length(wanted, predicted)
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(wanted)
    return 2 * precision * recall / (precision + recall)


def _check_pairs(predictions, references, where: str) -> None:
    for name, texts in (("predictions", predictions), ("references", references)):
        listed = not isinstance(texts, (str, dict)) and hasattr(texts, "__len__")   # a generator has no len()
        if not listed or not all(isinstance(t, str) for t in texts):
            raise TypeError(f"{where}: {name} must be a list of strings, got {type(texts).__name__} {texts!r:.60}")
    if len(predictions) != len(references):
        raise ValueError(f"{where}: {len(predictions)} predictions but {len(references)} references; "
                         f"one prediction per reference")
    if not predictions:
        raise ValueError(f"{where}: no pairs to score")


def mean_rouge_l(predictions: list[str], references: list[str]) -> float:
    """The mean ROUGE-L F1 over (prediction, reference) pairs, in [0, 1]."""
    _check_pairs(predictions, references, "mean_rouge_l")
    return sum(rouge_l(p, r) for p, r in zip(predictions, references, strict=True)) / len(predictions)


def chrf(predictions: list[str], references: list[str]) -> float:
    """sacrebleu's corpus-level chrF (character n-grams up to 6, β = 2), from 0 to 100."""
    from sacrebleu.metrics import CHRF

    _check_pairs(predictions, references, "chrf")
    return CHRF().corpus_score(list(predictions), [list(references)]).score


def sentence_chrf(prediction: str, reference: str) -> float:
    """sacrebleu's chrF of one prediction against one reference, from 0 to 100."""
    from sacrebleu.metrics import CHRF

    _check_pairs([prediction], [reference], "sentence_chrf")
    return CHRF().sentence_score(prediction, [reference]).score
