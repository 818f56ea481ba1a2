"""Evaluating word vectors, exactly as gensim does: nearest neighbours, analogies, word similarity, a 2-D view.

    nearest_neighbours(kv, "king")    -> [(word, cosine), ...]
    analogy(kv, "man", "king", "woman")          -> [(word, cosine), ...]   king − man + woman ≈ ?
    word_similarity(kv, path_or_pairs)           -> WordSimilarity: Spearman ρ against human scores, coverage
    analogy_accuracy(kv, path_or_lines)          -> {"total": ..., "sections": {name: ...}, ...}

Shapes (sftlab/__init__.py): D vector size, B questions in a batch, N pairs or points, R words searched (the
`restrict_vocab` most frequent). The functions give exactly what gensim's evaluate_word_pairs /
evaluate_word_analogies give (tests/test_embeddings.py checks it); they take any gensim KeyedVectors: ours,
gensim's, GloVe. Vectors trained on the course's stemmed corpus need stemmed evaluation words (stem()).
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np

from sftlab.embeddings.skipgram import stem

# ---------------------------------------------------------------- looking words up

class OutOfVocabularyError(KeyError):
    """A word the vectors have no row for; a KeyError (as gensim raises) whose message reads normally."""

    def __str__(self):
        return str(self.args[0])


def _check_kv(kv) -> None:
    """TypeError unless kv looks like gensim KeyedVectors (train_skipgram's result holds them in .kv)."""
    if not hasattr(kv, "key_to_index") or not hasattr(kv, "vectors"):
        hint = "; pass result.kv, the vectors train_skipgram's result holds" if hasattr(kv, "kv") else ""
        raise TypeError(f"expected gensim KeyedVectors (load_word_vectors() or train_skipgram(...).kv), got "
                        f"{type(kv).__name__}{hint}")


def _check_restrict_vocab(restrict_vocab) -> None:
    if restrict_vocab is not None and (isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, int)
                                       or restrict_vocab < 1):
        raise ValueError(f"restrict_vocab must be None (every word) or a positive int (the most frequent words "
                         f"searched), got {restrict_vocab!r}")


def word_index(kv, word: str) -> int:
    """The row of `word` in `kv`; OutOfVocabularyError naming the word and suggesting a spelling that exists."""
    _check_kv(kv)
    if not isinstance(word, str):
        raise TypeError(f"expected a word (str), got {type(word).__name__} {word!r}")
    if word in kv.key_to_index:
        return kv.key_to_index[word]
    message = f"{word!r} is not in the vocabulary ({len(kv):,} words)"
    if word.lower() != word and word.lower() in kv.key_to_index:
        message += f"; the vocabulary is lower-cased: try {word.lower()!r}"
    elif stem(word) != word and stem(word) in kv.key_to_index:
        message += (f"; these vectors were trained on Porter-stemmed text: try stem({word!r}) = {stem(word)!r}")
    else:
        message += ("; a static embedding has no vector for a word it never saw often enough "
                    "(subword models such as fastText or BERT's WordPiece build one from pieces)")
    raise OutOfVocabularyError(message)


def _unit_rows(kv, restrict_vocab: int | None):
    """The first `restrict_vocab` vectors (all if None) scaled to length 1, (R, D) float32."""
    vectors = kv.vectors[:restrict_vocab]
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def nearest_neighbours(kv, word: str, k: int = 10, restrict_vocab: int | None = None) -> list[tuple[str, float]]:
    """The `k` words with the highest cosine similarity to `word` (itself excluded), best first."""
    return _most_similar(kv, [word], [], k, restrict_vocab)


def analogy(kv, a: str, b: str, c: str, k: int = 1, restrict_vocab: int | None = None) -> list[tuple[str, float]]:
    """a is to b as c is to ?: the `k` words closest to b − a + c (3CosAdd on unit vectors), a, b, c excluded."""
    return _most_similar(kv, [b, c], [a], k, restrict_vocab)


def _most_similar(kv, positive, negative, k, restrict_vocab):
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int (how many words to return), got {k!r}")
    _check_restrict_vocab(restrict_vocab)
    rows = [word_index(kv, w) for w in positive + negative]
    units = _unit_rows(kv, restrict_vocab)                                       # (R, D)
    query = sum(kv.vectors[r] / np.linalg.norm(kv.vectors[r]) for r in rows[:len(positive)])
    query = query - sum(kv.vectors[r] / np.linalg.norm(kv.vectors[r]) for r in rows[len(positive):])
    scores = units @ (query / np.linalg.norm(query))                             # (R,) cosines
    scores[[r for r in rows if r < len(scores)]] = -np.inf                       # never answer a question word
    best = np.argsort(-scores)[:k]
    return [(kv.index_to_key[i], float(scores[i])) for i in best]


# ---------------------------------------------------------------- evaluation, exactly as gensim does it

class WordSimilarity(NamedTuple):
    """How well cosine similarities rank word pairs like people do."""

    spearman: float      # Spearman ρ between the model's cosines and the human scores, on the covered pairs
    coverage: float      # share of the pairs whose two words both have a vector
    pairs: int           # pairs evaluated (covered)
    total: int           # pairs in the data set


def read_word_pairs(path: str | Path, stemmed: bool = False) -> list[tuple[str, str, float]]:
    """(word, word, human score) from a tab-separated file such as wordsim353.tsv; '#' lines are comments.
    stemmed=True Porter-stems both words, to evaluate vectors trained on the stemmed corpus."""
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                raise ValueError(f"{path}: expected 'word<TAB>word<TAB>score', got {line.strip()!r}")
            a, b, score = fields
            pairs.append((stem(a), stem(b), float(score)) if stemmed else (a, b, float(score)))
    return pairs


def _vocab_rows(kv, restrict_vocab: int) -> dict[str, int]:
    """UPPER-CASED word → row over the first `restrict_vocab` words; the most frequent spelling wins.
    Upper case, not lower, so that 'ß' and friends map exactly as in gensim's case_insensitive mode."""
    rows = {}
    for i, word in enumerate(kv.index_to_key[:restrict_vocab]):
        rows.setdefault(word.upper(), i)
    return rows


def word_similarity(kv, path_or_pairs, restrict_vocab: int = 300_000) -> WordSimilarity:
    """Spearman ρ between cosine similarity and human similarity scores (gensim's evaluate_word_pairs):
    pairs with a word outside the first `restrict_vocab` words are skipped and reported as lost coverage."""
    from scipy.stats import spearmanr

    _check_kv(kv)
    _check_restrict_vocab(restrict_vocab)
    pairs = read_word_pairs(path_or_pairs) if isinstance(path_or_pairs, (str, Path)) else list(path_or_pairs)
    if not pairs or not all(len(p) == 3 for p in pairs):
        raise ValueError("path_or_pairs must be a file path or a non-empty list of (word, word, score) triples")
    rows = _vocab_rows(kv, restrict_vocab)
    covered = [(rows[a.upper()], rows[b.upper()], s) for a, b, s in pairs if a.upper() in rows and b.upper() in rows]
    if not covered:
        raise ValueError(f"none of the {len(pairs)} pairs has both words in the vocabulary "
                         f"(first pair: {pairs[0][:2]}); stemmed corpus? read_word_pairs(path, stemmed=True)")
    a, b = (kv.vectors[[pair[i] for pair in covered]].astype(np.float64) for i in (0, 1))   # (N, D) each
    cosines = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))      # (N,)
    rho = spearmanr([s for _, _, s in covered], cosines).statistic
    return WordSimilarity(float(rho), len(covered) / len(pairs), len(covered), len(pairs))


def read_analogies(path_or_lines) -> list[tuple[str, tuple[str, str, str, str]]]:
    """(section, (a, b, c, d)) from questions-words.txt format: ': section' headers, then 'a b c d' lines."""
    if isinstance(path_or_lines, (str, Path)):
        with open(path_or_lines, encoding="utf-8") as f:
            lines = f.read().splitlines()
    else:
        lines = list(path_or_lines)
    questions, section = [], None
    for number, line in enumerate(lines, 1):
        if line.startswith(": "):
            section = line.lstrip(": ").strip()
            continue
        words = line.split()
        if len(words) != 4:
            continue  # blank or malformed line: skipped, as gensim does
        if section is None:
            raise ValueError(f"line {number} ({line.strip()!r}) comes before any ': section' header")
        questions.append((section, tuple(words)))
    return questions


def analogy_accuracy(kv, path_or_lines, restrict_vocab: int = 300_000, batch_size: int = 128) -> dict:
    """Accuracy of 3CosAdd on analogy questions "a : b :: c : d", as gensim's evaluate_word_analogies computes it.

    For each question whose four words are all among the first `restrict_vocab` words (the others are
    skipped), predict the word w ≠ a, b, c among those words maximising cos(w, b̂ − â + ĉ) (hats: unit
    length), compared case-insensitively. Returns {"total": accuracy, "sections": {name: accuracy},
    "correct": {name: n}, "evaluated": {name: n}, "skipped": n}; a section with nothing evaluated scores 0.
    """
    _check_kv(kv)
    _check_restrict_vocab(restrict_vocab)
    questions = read_analogies(path_or_lines)
    if not questions:
        raise ValueError("no analogy questions found: expected ': section' lines followed by 'a b c d' lines")
    rows = _vocab_rows(kv, restrict_vocab)
    sections = list(dict.fromkeys(section for section, _ in questions))   # in file order
    correct, evaluated = dict.fromkeys(sections, 0), dict.fromkeys(sections, 0)
    known = [(s, [w.upper() for w in q]) for s, q in questions if all(w.upper() in rows for w in q)]
    vectors = kv.vectors[:restrict_vocab]                                   # (R, D) float32
    norms = np.linalg.norm(vectors, axis=1)                                 # (R,)
    upper = [w.upper() for w in kv.index_to_key[:restrict_vocab]]
    for start in range(0, len(known), batch_size):
        batch = known[start:start + batch_size]
        ids = np.array([[rows[w] for w in q] for _, q in batch])            # (B, 4): a, b, c, d
        unit = vectors[ids[:, :3]] / norms[ids[:, :3], None]                # (B, 3, D)
        # the same float32 operations, in the same order, as gensim's most_similar(positive=[b, c], negative=[a])
        query = ((unit[:, 1] + unit[:, 2]) - unit[:, 0]).astype(np.float64)
        query = (query / np.linalg.norm(query, axis=1, keepdims=True)).astype(np.float32)   # (B, D)
        scores = (query @ vectors.T) / norms                                # (B, R) cosines
        np.put_along_axis(scores, ids[:, :3], -np.inf, axis=1)              # the answer is never a question word
        best = scores.argmax(1)                                             # (B,)
        for (section, q), row, s in zip(batch, best, scores, strict=True):
            if upper[row] in q[:3]:   # another spelling of a question word (e.g. "King" for "king"): skip it too
                row = next(i for i in np.argsort(-s) if upper[i] not in q[:3])
            evaluated[section] += 1
            correct[section] += upper[row] == q[3]
    total = sum(evaluated.values())
    return {"total": sum(correct.values()) / total if total else 0.0,
            "sections": {s: correct[s] / evaluated[s] if evaluated[s] else 0.0 for s in sections},
            "correct": correct, "evaluated": evaluated, "skipped": len(questions) - len(known)}


def project_2d(vectors: np.ndarray) -> np.ndarray:
    """PCA to two dimensions: centre the (N, D) rows, project them on the top two right singular vectors, (N, 2)."""
    if hasattr(vectors, "key_to_index"):
        raise TypeError("project_2d takes an (N, D) array of vectors, got KeyedVectors; pass kv[words] for some "
                        "words (or kv.vectors for all)")
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or len(vectors) < 2:
        raise ValueError(f"expected an (N, D) array with N ≥ 2 rows, got shape {vectors.shape}")
    centred = vectors - vectors.mean(0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)   # rows: principal directions, by variance
    return centred @ directions[:2].T
