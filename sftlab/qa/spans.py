"""Question answering, step 2: from start and end logits to an answer — the n-best span search over every
window of a question, the null (no-answer) score, and scores per question for training.

    starts, ends = window_logits(model, make_loader(features, tokenizer))   # one (T,) pair per window
    answers = best_answers(starts, ends, features, split)                   # one Answer a question
    answers = predict_answers(model, tokenizer, data["test"])               # the same in one call

Shapes (sftlab/__init__.py): T tokens in a window, N questions, K candidates (the n best starts and ends).
tests/test_qa.py checks the span search against brute force and against transformers' decoder (sftlab.qa.reference).
"""

from dataclasses import dataclass

import torch

from sftlab.devices import model_device, to_device
from sftlab.qa.squad import squad_scores
from sftlab.qa.windows import MODEL_INPUTS, make_loader, prepare_features

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


def widen_to_words(start: int, end: int, word_ids) -> tuple[int, int]:
    """(start token, end token) widened to whole words: a span that begins or ends inside a word ("##s") takes the
    rest of that word's tokens in the window, as transformers' question-answering pipeline did (align_to_words).
    word_ids: the word of each token, None off the context (prepare_features)."""
    while start > 0 and word_ids[start - 1] is not None and word_ids[start - 1] == word_ids[start]:
        start -= 1
    while end + 1 < len(word_ids) and word_ids[end + 1] is not None and word_ids[end + 1] == word_ids[end]:
        end += 1
    return start, end


@dataclass
class Answer:
    """The best span of a question over all its windows, in the original characters."""
    text: str              # context[start:end]; "" when no valid span exists
    start: int             # character offsets in the context
    end: int
    score: float           # start + end logit of the best span (-inf when none)
    null_score: float      # the lowest [CLS] score over the question's windows (SQuAD 2.0's choice)


def best_answers(start_logits, end_logits, features, split, n_best: int = 20, max_answer_length: int = 30) -> list:
    """One Answer per question of `split`: the best valid span over *all* its windows, widened to whole words when
    the features carry word_ids (prepare_features' do), cut from the original context with the offsets.
    start_logits, end_logits: one tensor per row of `features` (window_logits)."""
    if len(start_logits) != len(features):
        raise ValueError(f"got logits for {len(start_logits)} windows but there are {len(features)}: were the "
                         f"features shuffled or filtered after the logits were computed?")
    best = [Answer("", 0, 0, float("-inf"), float("inf")) for _ in range(len(split))]
    contexts = split["context"]
    words = features["word_ids"] if "word_ids" in features.column_names else None
    for w, (i, offsets, cls) in enumerate(zip(features["example_index"], features["offset_mapping"],
                                              features["cls_index"], strict=True)):
        best[i].null_score = min(best[i].null_score, null_score(start_logits[w], end_logits[w], cls))
        candidates = span_candidates(start_logits[w], end_logits[w], offsets, n_best, max_answer_length)
        if candidates and candidates[0][0] > best[i].score:
            score, s, e = candidates[0]
            if words is not None:
                s, e = widen_to_words(s, e, words[w])
            start, end = offsets[s][0], offsets[e][1]
            best[i] = Answer(contexts[i][start:end], start, end, score, best[i].null_score)
    return best


def with_no_answer(answers, threshold: float) -> list[str]:
    """The answer texts, "" where the no-answer score beats the best span's by more than threshold (SQuAD 2.0)."""
    return ["" if a.null_score - a.score > threshold else a.text for a in answers]


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
