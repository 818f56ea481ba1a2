"""Named-entity recognition with a fine-tuned encoder, one job per module:

    alignment.py   word labels → sub-word labels, tokenising a data set, batching it
    raw_text.py    predicting entities on raw text, highlighting them
    decoding.py    the BIO rule, argmax and Viterbi (BIO-constrained) decoding of word log-probabilities
    scores.py      entity-level metrics (seqeval), the report, tags from model outputs, error analysis

    tokenized = tokenize_and_align(load_ner(), tokenizer)      # input_ids, attention_mask, labels
    loader = make_loader(tokenized["train"], tokenizer, batch_size=16, shuffle=True)
    history = training.train(model, loader, val_loader, config, compute_metrics=metrics_for(NER_LABELS))
    entities = predict_entities("Angela Merkel visited Paris.", model, tokenizer)
    highlight(text, entities)                                   # coloured in a notebook, [Paris|LOC] in a terminal

Every name is importable from sftlab.ner itself (`from sftlab import ner; ner.bio_viterbi(...)`).
Shapes (sftlab/__init__.py): B batch, T sub-word tokens, W words in a sentence, C labels.
"""

from sftlab.data import NER_LABELS, entity_spans
from sftlab.ner.alignment import IGNORE_INDEX, align_labels, check_fast_tokenizer, make_loader, tokenize_and_align
from sftlab.ner.decoding import (
    allowed_transitions,
    bio_viterbi,
    decode,
    invalid_transitions,
    may_follow,
    predict_word_log_probs,
    viterbi,
)
from sftlab.ner.raw_text import COLOURS, WORD, Entity, highlight, predict_entities, split_words
from sftlab.ner.scores import (
    EntityError,
    entity_confusion,
    entity_errors,
    entity_metrics,
    entity_strings,
    format_entity_report,
    metrics_for,
    predict_tags,
    predictions_to_tags,
    scores_by_novelty,
)

__all__ = [
    "COLOURS", "IGNORE_INDEX", "NER_LABELS", "WORD", "Entity", "EntityError", "align_labels",
    "allowed_transitions", "bio_viterbi", "check_fast_tokenizer", "decode", "entity_confusion", "entity_errors",
    "entity_metrics", "entity_spans", "entity_strings", "format_entity_report", "highlight", "invalid_transitions",
    "make_loader", "may_follow", "metrics_for", "predict_entities", "predict_tags", "predict_word_log_probs",
    "predictions_to_tags", "scores_by_novelty", "split_words", "tokenize_and_align", "viterbi",
]
