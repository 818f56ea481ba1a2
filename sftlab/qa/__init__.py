"""Extractive question answering, one job per module:

    windows.py     windows with offsets and doc_stride, span labels on tokens, batching
    spans.py       logits of every window, the n-best span search, the null score, answers per question
    squad.py       SQuAD's exact match and F1, question types
    reference.py   transformers' own span decoder, the reference spans.py is checked against
    marks.py       the gold and predicted answers (or the tokens) marked on the passage

    features = prepare_features(data["train"], tokenizer, max_length=192, doc_stride=64)   # one row per window
    loader = make_loader(features, tokenizer, batch_size=16, shuffle=True)
    history = train(model, loader, val_loader, config, compute_metrics=metrics_for(val_features, data["validation"]))
    answers = predict_answers(model, tokenizer, data["test"])                               # one Answer a question
    squad_scores([a.text for a in answers], data["test"])                                  # exact match, F1

Every name is importable from sftlab.qa itself (`from sftlab import qa; qa.best_answers(...)`).
Shapes (sftlab/__init__.py): B windows in a batch, T tokens in a window, N questions, K candidates.
"""

from sftlab.qa.marks import (
    COLOURS,
    mark_answer,
    mark_tokens,
)
from sftlab.qa.reference import (
    transformers_answers,
)
from sftlab.qa.spans import (
    Answer,
    best_answers,
    metrics_for,
    null_score,
    predict_answers,
    span_candidates,
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
    "best_answers", "char_span_to_tokens", "check_answers", "check_window", "context_offsets", "exact_match",
    "make_loader", "mark_answer", "mark_tokens", "metrics_for", "normalize_answer", "null_score", "predict_answers",
    "prepare_features", "question_scores", "question_type", "span_candidates", "span_labels", "squad_scores",
    "token_f1", "tokenize_windows", "transformers_answers", "window_logits", "with_no_answer",
]
