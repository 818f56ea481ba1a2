"""Extractive question answering — a simple QA system that retrieves a passage, then reads the answer in it.
One job per module:

    retrieval.py   TF-IDF, dense (sentence embeddings) and hybrid retrievers; recall@k and MRR
    windows.py     windows with offsets and doc_stride, span labels on tokens, batching
    reader.py      a reader trained on a CPU budget: lower layers run once and cached, top layers trained
    spans.py       logits of every window, the n-best span search, the null score, answers per question
    squad.py       SQuAD's exact match and F1, question types
    baselines.py   readers that learn nothing (sentence overlap) and a generated answer mapped onto its passage
    reference.py   transformers' own span decoder, the reference spans.py is checked against
    marks.py       the gold and predicted answers (or the tokens) marked on the passage

    features = prepare_features(data["train"], tokenizer, max_length=256, doc_stride=64)   # one row per window
    cache = cache_lower_layers(qa_model, features, n_top=3)                                # computed once
    history = train(TopReader(qa_model, 3), cache_loader(cache, 16, shuffle=True), …)
    answers = best_answers(*cached_logits(reader, test_cache), test_features, data["test"])
    squad_scores([a.text for a in answers], data["test"])                                  # exact match, F1

Every name is importable from sftlab.qa itself (`from sftlab import qa; qa.best_answers(...)`).
Shapes (sftlab/__init__.py): B windows in a batch, T tokens in a window, D width, N questions, Q queries,
P passages, K candidates.
"""

from sftlab.qa.baselines import closest_span, overlap_answer
from sftlab.qa.marks import (
    COLOURS,
    mark_answer,
    mark_tokens,
)
from sftlab.qa.reader import (
    CachedWindows,
    SpanOutput,
    TopReader,
    cache_loader,
    cache_lower_layers,
    cache_size_mb,
    cached_logits,
    collate_cached,
    extended_mask,
    freeze_lower,
    reset_span_head,
    span_loss,
)
from sftlab.qa.reference import (
    transformers_answers,
)
from sftlab.qa.retrieval import (
    DenseRetriever,
    HybridRetriever,
    Retriever,
    TfidfRetriever,
    check_k,
    check_texts,
    embed,
    gold_indices,
    gold_ranks,
    minmax,
    retrieval_scores,
    top_k,
    unique_passages,
)
from sftlab.qa.spans import (
    Answer,
    best_answers,
    metrics_for,
    null_score,
    predict_answers,
    span_candidates,
    widen_to_words,
    window_logits,
    with_no_answer,
)
from sftlab.qa.squad import (
    ARTICLES,
    PUNCTUATION,
    QUESTION_TYPES,
    WHEN,
    exact_match,
    normalize_answer,
    question_scores,
    question_type,
    squad_scores,
    token_f1,
)
from sftlab.qa.windows import (
    CONTEXT,
    MODEL_INPUTS,
    TARGETS,
    char_span_to_tokens,
    check_answers,
    check_window,
    context_offsets,
    make_loader,
    prepare_features,
    span_labels,
    tokenize_windows,
)

__all__ = [
    "ARTICLES", "COLOURS", "CONTEXT", "MODEL_INPUTS", "PUNCTUATION", "QUESTION_TYPES", "TARGETS", "WHEN", "Answer",
    "CachedWindows", "DenseRetriever", "HybridRetriever", "Retriever", "SpanOutput", "TfidfRetriever", "TopReader",
    "best_answers", "cache_loader", "cache_lower_layers", "cache_size_mb", "cached_logits", "char_span_to_tokens",
    "check_answers", "check_k", "check_texts", "check_window", "closest_span", "collate_cached", "context_offsets",
    "embed", "exact_match", "extended_mask", "freeze_lower", "gold_indices", "gold_ranks", "make_loader",
    "mark_answer", "mark_tokens", "metrics_for", "minmax", "normalize_answer", "null_score", "overlap_answer",
    "predict_answers", "prepare_features", "question_scores", "question_type", "reset_span_head",
    "retrieval_scores", "span_candidates", "span_labels", "span_loss", "squad_scores", "token_f1",
    "tokenize_windows", "top_k", "transformers_answers", "unique_passages", "widen_to_words", "window_logits",
    "with_no_answer",
]
