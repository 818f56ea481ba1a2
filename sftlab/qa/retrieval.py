"""Question answering, step 0: retrieval — find the passage that answers a question, lexically (TF-IDF), densely
(sentence embeddings) or both (a hybrid).

    passages = unique_passages(data)                          # every passage of every split, in a fixed order
    dense = DenseRetriever(passages, tokenizer, model)        # load_encoder(task="features")
    hits = dense.top_k(["Who built the canal?"], k=5)         # [[(passage index, score), …]] best first
    scores = retrieval_scores(dense.scores(questions), gold)  # recall@1, recall@5, MRR (+ per-question arrays)

Every retriever has `scores(queries) -> (Q, P)` float array (higher = better) and `top_k(queries, k)`.
tests/test_qa_retrieval.py checks `embed` against sentence-transformers' `encode` on the same model.
Shapes: Q queries, P passages, D embedding width (384 for all-MiniLM-L6-v2), T tokens.
"""

import numpy as np
import torch

from sftlab.devices import model_device, to_device

# ---------------------------------------------------------------- checks on what comes in


def check_texts(texts, what: str) -> list[str]:
    """The texts as a list: a non-empty sequence of non-empty strings (a list, a tuple, a data set's column); a bare
    string is refused — it would be read one character at a time."""
    if isinstance(texts, str) or not hasattr(texts, "__len__") or not hasattr(texts, "__iter__"):
        raise TypeError(f"{what} must be a list of strings, got {type(texts).__name__}"
                        + (": wrap a single text in a list" if isinstance(texts, str) else ""))
    texts = list(texts)
    if not texts:
        raise ValueError(f"{what} is empty: nothing to index or search")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{what}[{i}] is a {type(text).__name__}, not a string")
        if not text.strip():
            raise ValueError(f"{what}[{i}] is empty or blank")
    return texts


def check_k(k, n_passages: int) -> int:
    """k must be an int in 1 … P (asking for more passages than exist is an error, not a silent cut)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int, got {k!r}")
    if not 1 <= k <= n_passages:
        raise ValueError(f"k must be between 1 and the number of passages ({n_passages}), got {k}")
    return int(k)


def unique_passages(splits) -> list[str]:
    """Every distinct context of the given splits (a DatasetDict or a dict of Datasets), in first-seen order, so
    the questions of one split are searched against the whole collection and an index is stable across runs."""
    seen = {}
    for split in splits.values():
        for context in split["context"]:
            seen.setdefault(context, len(seen))
    return check_texts(list(seen), "passages")


def gold_indices(split, passages: list[str]) -> np.ndarray:
    """(Q,) index in `passages` of each question's own context."""
    where = {p: i for i, p in enumerate(passages)}
    missing = [c for c in split["context"] if c not in where]
    if missing:
        raise ValueError(f"{len(missing)} contexts are not in the index, e.g. {missing[0][:60]!r}…")
    return np.array([where[c] for c in split["context"]])


# ---------------------------------------------------------------- retrievers


class Retriever:
    """Base class: subclasses set self.passages and implement scores(queries) -> (Q, P)."""

    passages: list[str]

    def scores(self, queries) -> np.ndarray:
        raise NotImplementedError

    def top_k(self, queries, k: int = 5) -> list[list[tuple[int, float]]]:
        """For each query, the k best (passage index, score), best first."""
        k = check_k(k, len(self.passages))
        return top_k(self.scores(queries), k)


def top_k(scores: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    """(Q, P) scores -> per query the k best (passage index, score); ties broken by the lower index (stable sort),
    so results do not depend on the sort algorithm."""
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be (queries, passages), got shape {scores.shape}")
    k = check_k(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]                     # (Q, k)
    return [[(int(i), float(row[i])) for i in idx] for row, idx in zip(scores, order, strict=True)]


class TfidfRetriever(Retriever):
    """TF-IDF (scikit-learn) with cosine similarity. Sublinear tf and English stop words: a question repeats few
    words, and "the/of/what" would otherwise dominate short queries."""

    def __init__(self, passages):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.passages = check_texts(passages, "passages")
        self.vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english")
        self.matrix = self.vectorizer.fit_transform(self.passages)                # (P, V), rows L2-normalised

    def scores(self, queries) -> np.ndarray:
        queries = check_texts(queries, "queries")
        return (self.vectorizer.transform(queries) @ self.matrix.T).toarray()   # (Q, P) cosine: rows are unit


@torch.no_grad()
def embed(texts, tokenizer, model, batch_size: int = 64, max_length: int = 256) -> torch.Tensor:
    """(N, D) sentence embeddings: the last hidden states (B, T, D) averaged over the real tokens (attention mask),
    then L2-normalised, so a dot product is a cosine. max_length=256 is what sentence-transformers uses for
    all-MiniLM-L6-v2 (sentence_bert_config.json): longer texts are cut, and words past the cut cannot be found."""
    texts = check_texts(texts, "texts")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    model.eval()
    device = model_device(model)
    out = []
    # longest first: batches of similar length waste less padding; the order is restored at the end
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for start in range(0, len(texts), batch_size):
        batch = [texts[i] for i in order[start:start + batch_size]]
        inputs = tokenizer(batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        inputs = to_device(inputs, device)
        hidden = model(**inputs).last_hidden_state                                 # (B, T, D)
        mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)             # (B, T, 1): 0 on padding
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)                # (B, D)
        out.append(torch.nn.functional.normalize(mean, p=2, dim=1).float().cpu())
    embeddings = torch.cat(out)                                                    # (N, D) in sorted order
    return embeddings[torch.argsort(torch.tensor(order))]                          # back to the input order


class DenseRetriever(Retriever):
    """Cosine similarity of mean-pooled, L2-normalised sentence embeddings (bi-encoder: passages embedded once)."""

    def __init__(self, passages, tokenizer, model, batch_size: int = 64, max_length: int = 256):
        self.passages = check_texts(passages, "passages")
        self.tokenizer, self.model, self.batch_size, self.max_length = tokenizer, model, batch_size, max_length
        self.embeddings = embed(self.passages, tokenizer, model, batch_size, max_length)   # (P, D)

    def scores(self, queries) -> np.ndarray:
        q = embed(queries, self.tokenizer, self.model, self.batch_size, self.max_length)   # (Q, D)
        return (q @ self.embeddings.T).numpy().astype(np.float64)                           # (Q, P)


def minmax(scores: np.ndarray) -> np.ndarray:
    """Each row rescaled to [0, 1]: TF-IDF and embedding cosines live on different scales, so raw scores cannot be
    added."""
    low, high = scores.min(1, keepdims=True), scores.max(1, keepdims=True)
    return (scores - low) / np.where(high > low, high - low, 1.0)


class HybridRetriever(Retriever):
    """Fusion of a lexical and a dense retriever.

    method="weighted": weight × minmax(dense) + (1 − weight) × minmax(lexical); choose weight on validation.
    method="rrf": reciprocal-rank fusion, Σ 1 / (rrf_k + rank), rank from 1; needs no weight (rrf_k=60 as in
    Cormack et al. 2009)."""

    def __init__(self, lexical: Retriever, dense: Retriever, method: str = "weighted", weight: float = 0.5,
                 rrf_k: int = 60):
        if lexical.passages != dense.passages:
            raise ValueError("the two retrievers must index the same passages in the same order")
        if method not in ("weighted", "rrf"):
            raise ValueError(f"method must be 'weighted' or 'rrf', got {method!r}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
            raise ValueError(f"weight must be a number in [0, 1], got {weight!r}")
        self.lexical, self.dense, self.method, self.weight, self.rrf_k = lexical, dense, method, float(weight), rrf_k
        self.passages = dense.passages

    def fuse(self, lexical_scores: np.ndarray, dense_scores: np.ndarray) -> np.ndarray:
        """(Q, P) fused scores from the two (Q, P) score arrays (lets a caller compute each once and try weights)."""
        if self.method == "weighted":
            return self.weight * minmax(dense_scores) + (1 - self.weight) * minmax(lexical_scores)
        fused = np.zeros_like(dense_scores)
        for s in (lexical_scores, dense_scores):
            ranks = np.argsort(np.argsort(-s, axis=1, kind="stable"), axis=1) + 1   # (Q, P), 1 = best
            fused += 1.0 / (self.rrf_k + ranks)
        return fused

    def scores(self, queries) -> np.ndarray:
        return self.fuse(self.lexical.scores(queries), self.dense.scores(queries))


# ---------------------------------------------------------------- metrics


def gold_ranks(scores: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """(Q,) rank (1 = first) of each question's gold passage; ties count against the gold (pessimistic)."""
    scores, gold = np.asarray(scores), np.asarray(gold)
    if scores.shape[0] != len(gold):
        raise ValueError(f"{scores.shape[0]} rows of scores but {len(gold)} gold passages")
    gold_score = scores[np.arange(len(gold)), gold][:, None]
    return (scores >= gold_score).sum(1)          # passages scoring ≥ the gold one, the gold included


def retrieval_scores(scores: np.ndarray, gold: np.ndarray, ks=(1, 5)) -> dict:
    """{"recall@k": mean, "mrr": mean} plus "per_question": {name: (Q,) array} for bootstrap intervals."""
    ranks = gold_ranks(scores, gold)
    per = {f"recall@{k}": (ranks <= k).astype(float) for k in ks}
    per["mrr"] = 1.0 / ranks
    return {**{name: float(v.mean()) for name, v in per.items()}, "per_question": per}
