"""BIO-constrained decoding: the tagging rule, Viterbi under it, and word log-probabilities to decode.

    _, log_probs = predict_word_log_probs(model, loader, NER_LABELS)     # one (W, C) tensor per sentence
    decode(log_probs)                                  # each word's argmax: may break the BIO rule
    decode(log_probs, constrained=True)                # the best sequence that obeys it (bio_viterbi)

Shapes (sftlab/__init__.py): B batch, T sub-word tokens, W words in a sentence, C labels.

The BIO rule: I-X continues an entity of type X, so it may only follow B-X or I-X (never open a sentence);
O and B-X may follow anything. Argmax decoding picks each word's label alone and can break the rule
("O I-PER"); Viterbi finds the best sequence that keeps it, with back-pointers, in O(W·C²) instead of trying
all C^W sequences. The one other BIO reader, sftlab.data.entity_spans, turns tags into entities.
"""

import torch

from sftlab.data import NER_LABELS, bio_problem, check_bio_tags
from sftlab.ner.alignment import IGNORE_INDEX, batch_logits


def may_follow(previous: str | None, tag: str) -> bool:
    """Whether `tag` may come right after `previous` (None: at the start of a sentence) under the BIO rule."""
    problem = bio_problem(tag) or (previous is not None and bio_problem(previous))
    if problem:
        raise ValueError(f"may_follow({previous!r}, {tag!r}): {problem}")
    if not tag.startswith("I-"):
        return True                                        # O and B-X may follow anything
    return previous in (f"B-{tag[2:]}", f"I-{tag[2:]}")    # I-X only continues an X


def allowed_transitions(label_names: list[str] = NER_LABELS) -> torch.Tensor:
    """(C + 1, C) bool: allowed[i, j] says label j may follow label i; the last row is the sentence start."""
    check_bio_tags(label_names, "label_names")
    previous = [*label_names, None]
    return torch.tensor([[may_follow(p, name) for name in label_names] for p in previous])


def viterbi(log_probs: torch.Tensor, allowed: torch.Tensor) -> list[int]:
    """The label ids y maximising Σ_w log_probs[w, y_w] among sequences whose every step is allowed.

    log_probs: (W, C), one row per word; allowed: (C + 1, C) bool as allowed_transitions gives (last row: the
    start). A CRF decoder with fixed transition scores, 0 where allowed and -inf where not."""
    C = log_probs.shape[1]
    if allowed.shape != (C + 1, C) or allowed.dtype != torch.bool:
        raise ValueError(f"allowed must be a ({C + 1}, {C}) bool tensor for {C} labels (allowed_transitions gives "
                         f"it, the last row for the start), got {allowed.dtype} of shape {tuple(allowed.shape)}")
    transition = torch.zeros(C + 1, C).masked_fill(~allowed, float("-inf"))   # (C + 1, C)
    score = transition[C] + log_probs[0]                   # (C,) best valid path ending in each label, word 0
    backpointers = []
    for w in range(1, len(log_probs)):
        candidates = score[:, None] + transition[:C]       # (C previous, C current)
        score, best_previous = candidates.max(dim=0)       # (C,), (C,)
        score = score + log_probs[w]
        backpointers.append(best_previous)
    path = [int(score.argmax())]                           # best last label, then follow the pointers back
    for best_previous in reversed(backpointers):
        path.append(int(best_previous[path[-1]]))
    return path[::-1]


def bio_viterbi(log_probs: torch.Tensor, label_names: list[str] = NER_LABELS) -> list[int]:
    """The label ids y that maximise Σ_w log_probs[w, y_w] among sequences that obey the BIO rule.

    log_probs: (W, C), one row per word. Viterbi keeps, for every label, the best score of a valid sequence
    ending in it, so it costs O(W·C²) instead of trying all C^W sequences."""
    log_probs = torch.as_tensor(log_probs, dtype=torch.float32)
    if log_probs.dim() != 2 or log_probs.shape[1] != len(label_names):
        raise ValueError(f"log_probs must be (W, C) with C = {len(label_names)} labels, got {tuple(log_probs.shape)}")
    if len(log_probs) == 0:
        return []
    return viterbi(log_probs, allowed_transitions(label_names))


def invalid_transitions(tags: list[str]) -> int:
    """How many tags break the BIO rule: an I-X whose previous tag is neither B-X nor I-X (or that opens)."""
    check_bio_tags(tags)
    return sum(not may_follow(previous, tag) for previous, tag in zip([None, *tags], tags, strict=False))


def decode(log_probs: list[torch.Tensor], label_names: list[str] = NER_LABELS,
           constrained: bool = False) -> list[list[str]]:
    """Tag lists from word log-probabilities: each word's argmax, or with constrained=True the best valid
    BIO sequence of each sentence (bio_viterbi)."""
    if isinstance(log_probs, torch.Tensor):
        raise TypeError(f"log_probs must be a list of (W, C) tensors, one per sentence, got one tensor of shape "
                        f"{tuple(log_probs.shape)}; for a single sentence pass [log_probs]")
    check_bio_tags(label_names, "label_names")
    for i, sentence in enumerate(log_probs):
        if not isinstance(sentence, torch.Tensor) or sentence.dim() != 2 or sentence.shape[1] != len(label_names):
            got = f"shape {tuple(sentence.shape)}" if isinstance(sentence, torch.Tensor) else type(sentence).__name__
            raise ValueError(f"log_probs[{i}] must be a (W, C) tensor with C = {len(label_names)} labels, got {got}")
    if constrained:
        return [[label_names[i] for i in bio_viterbi(s, label_names)] for s in log_probs]
    return [[label_names[i] for i in s.argmax(-1).tolist()] for s in log_probs]


@torch.no_grad()
def predict_word_log_probs(model, loader, label_names: list[str]) -> tuple[list[list[str]], list[torch.Tensor]]:
    """(true tag lists, word log-probabilities) for every sentence of a loader, in the loader's order.

    The scores of each word are the log-softmax at its first sub-token (the position that was trained), one
    (W, C) tensor per sentence: what argmax decoding and bio_viterbi read."""
    check_bio_tags(label_names, "label_names")
    true_tags, log_probs = [], []
    for logits, labels in batch_logits(model, loader):                        # (B, T, C), (B, T)
        if logits.shape[-1] != len(label_names):
            raise ValueError(f"the model scores {logits.shape[-1]} labels but label_names has {len(label_names)}")
        for row_log_probs, row_labels in zip(logits.log_softmax(-1), labels, strict=True):
            kept = row_labels != IGNORE_INDEX                                   # first sub-tokens of words
            true_tags.append([label_names[t] for t in row_labels[kept].tolist()])
            log_probs.append(row_log_probs[kept])                               # (W, C)
    return true_tags, log_probs
