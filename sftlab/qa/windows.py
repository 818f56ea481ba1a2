"""Question answering, step 1: windows with offsets, and span labels on tokens.

    features = prepare_features(data["train"], tokenizer, max_length=192, doc_stride=64)   # one row per window
    loader = make_loader(features, tokenizer, batch_size=16, shuffle=True)

A window is `[CLS] question [SEP] a stretch of the context [SEP]`: a context too long for one window is cut into
several that overlap by `doc_stride` tokens, so an answer cut by one window's edge lies whole in the next. The fast
tokenizer's offset mapping gives each token's (start, end) characters; it carries the labels from characters to
tokens (here) and the predicted span from tokens back to the original text (sftlab.qa.spans).

Shapes (sftlab/__init__.py): B windows in a batch, T tokens in a window.
"""

from sftlab import batching
from sftlab.batching import check_fast_tokenizer

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
TARGETS = ("start_positions", "end_positions")   # what a …ForQuestionAnswering model learns from, one token each
CONTEXT = 1                                   # sequence id of the context in a (question, context) pair

# ---------------------------------------------------------------- checks on what comes in


def check_answers(example) -> None:
    """SQuAD's answers: {"text": [...], "answer_start": [...]}, lists of equal length, and every gold answer sits at
    its answer_start: context[start:start + len(text)] == text."""
    context, answers, where = example["context"], example["answers"], f"question {example.get('id', '?')!r}"
    if not isinstance(answers, dict) or set(answers) != {"text", "answer_start"}:
        raise ValueError(f"{where}: answers must be {{'text': [...], 'answer_start': [...]}} (SQuAD's schema), got "
                         f"{answers!r:.80}")
    texts, starts = answers["text"], answers["answer_start"]
    if not isinstance(texts, list) or not isinstance(starts, list):
        raise TypeError(f"{where}: answers['text'] and answers['answer_start'] must be lists (one entry per gold "
                        f"answer), got {texts!r:.40} and {starts!r:.40}; wrap a single answer in a list")
    if len(texts) != len(starts):
        raise ValueError(f"{where}: {len(texts)} answer texts but {len(starts)} answer_start values; give one "
                         "start per text")
    for text, start in zip(texts, starts, strict=True):
        found = context[start:start + len(text)] if start >= 0 else ""
        if found != text:
            raise ValueError(f"question {example.get('id', '?')!r}: answer {text!r} is not at answer_start {start}; "
                             f"the context has {found!r} there. Fix answer_start (character offset in the context)")


def check_window(tokenizer, questions, max_length: int, doc_stride: int) -> None:
    """A window holds [CLS] question [SEP] context [SEP] (BERT's special tokens; another tokenizer has its own):
    the longest question plus the special tokens must leave room for context, and more room than the overlap, or
    the windows could not move along the context."""
    for name, value in (("max_length", max_length), ("doc_stride", doc_stride)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int (tokens), got {value!r}")
    if not 0 <= doc_stride < max_length:
        raise ValueError(f"doc_stride={doc_stride} must be ≥ 0 and smaller than max_length={max_length}")
    if isinstance(questions, str) or not len(questions):
        raise ValueError(f"expected a non-empty list of questions, got {questions!r:.60}")
    lengths = [len(ids) for ids in tokenizer(list(questions), add_special_tokens=False)["input_ids"]]
    longest = max(range(len(lengths)), key=lengths.__getitem__)
    special = tokenizer.num_special_tokens_to_add(pair=True)
    room = max_length - lengths[longest] - special
    if room <= doc_stride:
        raise ValueError(f"a window of max_length={max_length} tokens is too small for the question "
                         f"{questions[longest]!r} ({lengths[longest]} tokens + {special} special): {room} tokens are "
                         f"left for "
                         f"the context, and they must exceed doc_stride={doc_stride}. Raise max_length or lower "
                         f"doc_stride")


# ---------------------------------------------------------------- characters <-> tokens


def context_offsets(encoding, window: int) -> list:
    """The window's offset mapping with None on every token that is not context ([CLS], question, [SEP], padding):
    post-processing may only pick context tokens."""
    sequence_ids = encoding.sequence_ids(window)
    return [tuple(o) if s == CONTEXT else None for o, s in zip(encoding["offset_mapping"][window], sequence_ids,
                                                                 strict=True)]


def char_span_to_tokens(offsets, start_char: int, end_char: int):
    """(start token, end token) of the characters [start_char, end_char) in one window, or None when the answer is
    not wholly inside the window's context. offsets: (start, end) per token, None off the context.

    The start token is the first context token that ends after start_char, the end token the last one that begins
    before end_char: both found from the offsets, never from counting words, since the question, [CLS], [SEP] and
    the window's position all shift where the context's tokens sit."""
    context = [t for t, o in enumerate(offsets) if o is not None]
    if not context or start_char < offsets[context[0]][0] or end_char > offsets[context[-1]][1]:
        return None                                               # (partly) outside this window
    start = next(t for t in context if offsets[t][1] > start_char)
    end = next(t for t in reversed(context) if offsets[t][0] < end_char)
    return start, end


def span_labels(offsets, answers, cls_index: int) -> list[int]:
    """[start token, end token] of the first gold answer in this window, or [cls_index, cls_index] when the window
    does not hold it whole (SQuAD 2.0's "no answer here"; the question has another window that does)."""
    if not answers["text"]:
        return [cls_index, cls_index]
    start_char = answers["answer_start"][0]
    span = char_span_to_tokens(offsets, start_char, start_char + len(answers["text"][0]))
    return list(span) if span is not None else [cls_index, cls_index]


def tokenize_windows(tokenizer, questions, contexts, max_length: int = 192, doc_stride: int = 64):
    """Question + context pairs cut into windows: only the context is truncated ("only_second"), consecutive windows
    of one context overlap by doc_stride tokens, and each window knows its example (overflow_to_sample_mapping) and
    its characters (offset_mapping)."""
    check_fast_tokenizer(tokenizer, "extractive QA's character offsets")
    check_window(tokenizer, questions, max_length, doc_stride)
    return tokenizer(list(questions), list(contexts), truncation="only_second", max_length=max_length,
                     stride=doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True)


def prepare_features(split, tokenizer, max_length: int = 192, doc_stride: int = 64):
    """A Dataset with one row per window: model inputs, start_positions and end_positions (the answer's first and
    last token; the [CLS] position when the window does not hold the answer), cls_index, example_index (the
    question's row in `split`), offset_mapping (None off the context) and word_ids (the context word each token belongs
    to, None off the context: post-processing widens a span that cuts a word to the whole word)."""
    from datasets import Dataset

    missing = {"id", "question", "context", "answers"} - set(getattr(split, "column_names", []))
    if missing:
        raise ValueError(f"prepare_features needs a split in SQuAD's schema (id, question, context, answers); "
                         f"missing {sorted(missing)}")
    if len(split) == 0:
        raise ValueError("the split is empty: no questions to prepare")
    for example in split:
        check_answers(example)
    encoding = tokenize_windows(tokenizer, split["question"], split["context"], max_length, doc_stride)
    rows = {name: encoding[name] for name in MODEL_INPUTS if name in encoding}
    rows["example_index"] = list(encoding["overflow_to_sample_mapping"])
    rows["offset_mapping"] = [context_offsets(encoding, w) for w in range(len(encoding["input_ids"]))]
    rows["word_ids"] = [[word if s == CONTEXT else None
                         for word, s in zip(encoding.word_ids(w), encoding.sequence_ids(w), strict=True)]
                        for w in range(len(encoding["input_ids"]))]
    rows["cls_index"] = [ids.index(tokenizer.cls_token_id) for ids in encoding["input_ids"]]
    answers = split["answers"]
    spans = [span_labels(offsets, answers[i], cls)
             for i, offsets, cls in zip(rows["example_index"], rows["offset_mapping"], rows["cls_index"], strict=True)]
    rows["start_positions"], rows["end_positions"] = [s for s, _ in spans], [e for _, e in spans]
    return Dataset.from_dict(rows)


def make_loader(features, tokenizer, batch_size: int = 16, shuffle: bool = False, seed: int = 0,
                group_by_length: bool = False):
    """Padded batches of model inputs, start_positions and end_positions (B,) (sftlab.batching.make_loader: seeded,
    reshuffled each epoch); example_index and offsets stay in `features`. Without shuffling, batches keep the
    features' order, which metrics_for relies on. group_by_length (training only): shuffle, then sort by length
    within a few mega-batches (transformers' LengthGroupedSampler), so that dynamic padding adds few [PAD] tokens.

    A …ForQuestionAnswering model computes its loss from start_positions and end_positions, so sftlab.training's
    train and evaluate take it as it is."""
    from transformers import DataCollatorWithPadding

    if not hasattr(features, "column_names") or "input_ids" not in features.column_names:
        raise TypeError(f"make_loader takes the windows of prepare_features(split, tokenizer), got "
                        f"{type(features).__name__}")
    if group_by_length and not shuffle:
        raise ValueError("group_by_length is for training (shuffle=True); evaluation batches must keep the "
                         "features' order")
    keep = [c for c in (*MODEL_INPUTS, *TARGETS) if c in features.column_names]
    return batching.make_loader(features.select_columns(keep).with_format("torch"), DataCollatorWithPadding(tokenizer),
                                batch_size, shuffle, seed, group_by_length,
                                lengths=[len(ids) for ids in features["input_ids"]] if group_by_length else None)
