"""Extractive question answering: windows with offsets, span labels, n-best post-processing, SQuAD scores.

    features = prepare_features(data["train"], tokenizer, max_length=192, doc_stride=64)   # one row per window
    loader = make_loader(features, tokenizer, batch_size=16, shuffle=True)
    history = train(model, loader, val_loader, config, compute_metrics=metrics_for(val_features, …))
    answers = predict_answers(model, tokenizer, data["test"])                               # one Answer a question
    squad_scores([a.text for a in answers], data["test"])                                  # exact match, F1

A window is `[CLS] question [SEP] a stretch of the context [SEP]`: a context too long for one window is cut into
several that overlap by `doc_stride` tokens, so an answer cut by one window's edge lies whole in the next. The fast
tokenizer's offset mapping gives each token's (start, end) characters; it carries the labels from characters to
tokens and the predicted span from tokens back to the original text. The model scores every token as the
answer's start and as its end; post-processing searches the best valid span over all windows of a question.

Shapes (sftlab/__init__.py): B windows in a batch, T tokens in a window, N questions, K candidates (the n best
starts and ends). tests/test_qa.py checks the scores against the official SQuAD v1.1 logic, the span search
against brute force, and the decoding against transformers' own span decoder.
"""

import html
import re
import string
from collections import Counter
from dataclasses import dataclass

import torch

from sftlab import batching
from sftlab.batching import check_fast_tokenizer
from sftlab.devices import model_device, to_device

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
    question's row in `split`) and offset_mapping (None off the context)."""
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


# ---------------------------------------------------------------- logits of every window


@torch.no_grad()
def window_logits(model, loader) -> tuple[list, list]:
    """(start logits, end logits): one 1-D CPU tensor per window, in loader order, padding included (offsets of
    None keep it out of every answer). The model runs in eval mode on its own device."""
    model.eval()
    device = model_device(model)
    starts, ends = [], []
    for batch in loader:
        batch = to_device({k: v for k, v in batch.items() if k in MODEL_INPUTS}, device)
        outputs = model(**batch)
        starts += list(outputs.start_logits.float().cpu())                            # B × (T,)
        ends += list(outputs.end_logits.float().cpu())
    return starts, ends


# ---------------------------------------------------------------- post-processing: logits -> answer text


def span_candidates(start_logits, end_logits, offsets, n_best: int = 20, max_answer_length: int = 30) -> list:
    """(score, start token, end token) of every valid span among the n_best highest starts × n_best highest ends of
    one window, best first; score = start logit + end logit (the log of the product of the two softmaxes, up to a
    constant per window). Valid: both tokens in the context, start ≤ end, at most max_answer_length tokens."""
    length = len(offsets)                                         # the window's real tokens (no padding)
    start_logits, end_logits = start_logits[:length], end_logits[:length]
    k = min(n_best, length)
    best_starts = torch.topk(start_logits, k).indices.tolist()    # (K,)
    best_ends = torch.topk(end_logits, k).indices.tolist()        # (K,)
    found = []
    for s in best_starts:
        for e in best_ends:
            if offsets[s] is None or offsets[e] is None:          # [CLS], question, [SEP]
                continue
            if e < s or e - s + 1 > max_answer_length:
                continue
            found.append((float(start_logits[s] + end_logits[e]), s, e))
    return sorted(found, key=lambda c: -c[0])


def null_score(start_logits, end_logits, cls_index: int) -> float:
    """The no-answer score of a window: its [CLS] start logit + [CLS] end logit (SQuAD 2.0)."""
    return float(start_logits[cls_index] + end_logits[cls_index])


@dataclass
class Answer:
    """The best span of a question over all its windows, in the original characters."""
    text: str              # context[start:end]; "" when no valid span exists
    start: int             # character offsets in the context
    end: int
    score: float           # start + end logit of the best span (-inf when none)
    null_score: float      # the lowest [CLS] score over the question's windows (SQuAD 2.0's choice)


def best_answers(start_logits, end_logits, features, split, n_best: int = 20, max_answer_length: int = 30) -> list:
    """One Answer per question of `split`: the best valid span over *all* its windows, cut from the original
    context with the offsets. start_logits, end_logits: one tensor per row of `features` (window_logits)."""
    if len(start_logits) != len(features):
        raise ValueError(f"got logits for {len(start_logits)} windows but there are {len(features)}: were the "
                         f"features shuffled or filtered after the logits were computed?")
    best = [Answer("", 0, 0, float("-inf"), float("inf")) for _ in range(len(split))]
    contexts = split["context"]
    for w, (i, offsets, cls) in enumerate(zip(features["example_index"], features["offset_mapping"],
                                              features["cls_index"], strict=True)):
        best[i].null_score = min(best[i].null_score, null_score(start_logits[w], end_logits[w], cls))
        candidates = span_candidates(start_logits[w], end_logits[w], offsets, n_best, max_answer_length)
        if candidates and candidates[0][0] > best[i].score:
            score, s, e = candidates[0]
            start, end = offsets[s][0], offsets[e][1]
            best[i] = Answer(contexts[i][start:end], start, end, score, best[i].null_score)
    return best


def with_no_answer(answers, threshold: float) -> list[str]:
    """The answer texts, "" where the no-answer score beats the best span's by more than threshold (SQuAD 2.0)."""
    return ["" if a.null_score - a.score > threshold else a.text for a in answers]


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


def metrics_for(features, split, n_best: int = 20, max_answer_length: int = 30):
    """A compute_metrics(logits_list, labels_list) for training.train/evaluate: exact match and F1 per *question*
    (every window of a question searched together), from a loader over `features` in their order.

    train() first calls it on a single batch, only to learn the metric names: then it scores the questions whose
    windows all came, and says how many in "questions" (absent when every question was scored; NaN scores when that
    batch holds no whole question)."""
    def compute(logits, labels):
        rows = [row for batch in logits for row in batch]                         # one (T, 2) per window
        windows, covered = features, split
        if len(rows) < len(features):                                             # a prefix of the windows
            windows = features.select(range(len(rows)))
            whole = [i for i in set(windows["example_index"]) if i + 1 in windows["example_index"]]
            windows = windows.filter(lambda i: i in set(whole), input_columns="example_index")
            covered = split.select(range(len(whole)))
            rows = rows[:len(windows)]
            if not whole:
                return {"exact_match": float("nan"), "f1": float("nan"), "questions": 0}
        answers = best_answers([r[:, 0] for r in rows], [r[:, 1] for r in rows], windows, covered, n_best,
                               max_answer_length)
        scores = squad_scores([a.text for a in answers], covered)
        return scores if covered is split else {**scores, "questions": len(covered)}
    return compute


def predict_answers(model, tokenizer, split, max_length: int = 192, doc_stride: int = 64, n_best: int = 20,
                    max_answer_length: int = 30, batch_size: int = 64) -> list:
    """One Answer per question of `split` (id, question, context, answers): windows, logits on the model's device,
    best span over all windows, mapped back to the context's characters (on the CPU)."""
    features = prepare_features(split, tokenizer, max_length, doc_stride)
    starts, ends = window_logits(model, make_loader(features, tokenizer, batch_size))
    return best_answers(starts, ends, features, split, n_best, max_answer_length)


# ---------------------------------------------------------------- transformers' decoding, as the reference


@torch.no_grad()
def transformers_answers(model, tokenizer, split, max_length: int = 192, doc_stride: int = 64,
                         max_answer_length: int = 30) -> list[str]:
    """The answers pipeline("question-answering") gave, rebuilt on transformers' own span decoder.

    transformers 5 removed that pipeline; its decoder, select_starts_ends, lives on in the document-QA pipeline.
    As the pipeline did: mask everything but the context (and [CLS]), softmax start and end over each window,
    take the span with the highest start × end probability (end ≥ start, at most max_answer_length tokens), keep
    the best window by that probability, and widen the span to whole words (align_to_words)."""
    import numpy as np
    from transformers.pipelines.document_question_answering import select_starts_ends

    model.eval()
    device = model_device(model)
    encoding = tokenize_windows(tokenizer, split["question"], split["context"], max_length, doc_stride)
    best = [(-1.0, "") for _ in range(len(split))]
    for w, i in enumerate(encoding["overflow_to_sample_mapping"]):
        ids = torch.tensor([encoding["input_ids"][w]])                                # (1, T)
        inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        if "token_type_ids" in encoding:
            inputs["token_type_ids"] = torch.tensor([encoding["token_type_ids"][w]])
        outputs = model(**to_device(inputs, device))
        p_mask = np.array([s != CONTEXT and t != tokenizer.cls_token_id             # 1 = cannot be in the answer
                           for s, t in zip(encoding.sequence_ids(w), encoding["input_ids"][w], strict=True)])
        starts, ends, scores, _ = select_starts_ends(outputs.start_logits.float().cpu().numpy(),
                                                     outputs.end_logits.float().cpu().numpy(), p_mask,
                                                     np.ones(ids.shape, dtype=int), max_answer_len=max_answer_length)
        if len(scores) and scores[0] > best[i][0]:
            first = encoding.word_to_chars(w, encoding.token_to_word(w, int(starts[0])), sequence_index=CONTEXT)
            last = encoding.word_to_chars(w, encoding.token_to_word(w, int(ends[0])), sequence_index=CONTEXT)
            best[i] = (float(scores[0]), split[i]["context"][first.start:last.end])
    return [text for _, text in best]


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


COLOURS = {"gold": "#c8e6c9", "predicted": "#ffe0b2", "gold+predicted": "#aed581"}
TOKEN_COLOURS = ("#e3f2fd", "#fff3e0")


class Marked:
    """Text with marked character spans: coloured in a notebook, "[span|label]" in a terminal."""

    def __init__(self, text: str, spans):                          # spans: (start, end, label) triples
        self.text, self.spans = text, sorted(spans)
        for start, end, label in self.spans:
            if not 0 <= start <= end <= len(text):
                raise ValueError(f"span {label!r} covers characters {start}–{end}, outside the text "
                                 f"(length {len(text)})")

    def _pieces(self):
        """(text, label or None) pieces that make up the text; overlapping marks join their labels with '+'."""
        cuts = sorted({0, len(self.text), *(s for s, _, _ in self.spans), *(e for _, e, _ in self.spans)})
        for a, b in zip(cuts, cuts[1:], strict=False):
            labels = [label for s, e, label in self.spans if s <= a and b <= e]
            yield self.text[a:b], "+".join(sorted(set(labels))) or None

    def __str__(self) -> str:
        return "".join(p if label is None else f"[{p}|{label}]" for p, label in self._pieces())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        parts, marked = [], 0
        for piece, label in self._pieces():
            if label is None:
                parts.append(html.escape(piece))
                continue
            colour = COLOURS.get(label, TOKEN_COLOURS[marked % 2])      # tokens: alternate two colours
            marked += 1
            parts.append(f'<mark style="background:{colour}; padding:1px 2px; border-radius:3px" '
                         f'title="{html.escape(label)}">{html.escape(piece)}</mark>')
        return f'<div style="line-height:1.9">{"".join(parts)}</div>'


def mark_answer(context: str, predicted: tuple[int, int] | None, gold: tuple[int, int]) -> Marked:
    """The context with the gold answer (green), the predicted one (orange) and their overlap marked."""
    spans = [(*gold, "gold")] + ([(*predicted, "predicted")] if predicted is not None else [])
    return Marked(context, spans)


def mark_tokens(text: str, offsets, tokens) -> Marked:
    """Each token's characters marked in turn (alternating colours; the label is the token): what offsets are."""
    return Marked(text, [(s, e, token) for (s, e), token in zip(offsets, tokens, strict=True) if e > s])
