"""Chapter 05, causal LMs and text generation: top-k filtering, the repetition penalty, the causal-LM loss.

Shapes (sftlab/__init__.py): B batch, T sequence length, V vocabulary.
"""

from sftlab.course.exercises.framework import Exercise, Mistake, check, register


def top_k_filter_solution(scores, k):
    """Keep each row's k highest scores (and any tied with the k-th), set the others to -inf: (B, V) -> (B, V)."""
    import torch

    kth = torch.topk(scores, min(k, scores.size(-1)), dim=-1).values[:, -1:]     # (B, 1): each row's k-th largest
    return scores.masked_fill(scores < kth, float("-inf"))


def _top_k_cases():
    import torch

    g = torch.Generator().manual_seed(6)
    return [(torch.tensor([[2.0, -1.0, 3.0, 0.5, -2.0, 3.0],            # the top 2 are tied
                           [-0.5, -3.0, 1.5, -0.5, -4.0, 0.0],
                           [1.0, 1.0, -1.0, 1.0, 2.0, -3.0]]), 2),      # three tied with the 2nd
            (2 * torch.randn(4, 10, generator=g), 3),
            (torch.tensor([[-1.0, -2.0, -0.5, -3.0, -1.5, -2.5], [0.3, 0.1, 0.2, -0.1, 0.4, 0.0]]), 1),
            (torch.randn(2, 5, generator=g), 8)]                        # k > V keeps everything


def _top_k_fill(scores, k, keep=lambda scores, kth: scores >= kth, fill=float("-inf")):
    import torch

    kth = torch.topk(scores, min(k, scores.size(-1)), dim=-1).values[:, -1:]
    return scores.masked_fill(~keep(scores, kth), fill)


def _top_k_plus_one(scores, k):
    import torch

    kth = torch.sort(scores, dim=-1, descending=True).values[:, k, None]  # index k is the (k+1)-th largest
    return scores.masked_fill(scores < kth, float("-inf"))


def _top_k_exactly_k(scores, k):
    import torch

    top = torch.topk(scores, min(k, scores.size(-1)), dim=-1)
    return torch.full_like(scores, float("-inf")).scatter(1, top.indices, top.values)


def _top_k_over_batch(scores, k):
    import torch

    kth = torch.topk(scores, k, dim=0).values[-1:]                      # (1, V): the k-th largest of each column
    return scores.masked_fill(scores < kth, float("-inf"))


def _top_k_sorted(scores, k):
    import torch

    return torch.sort(top_k_filter_solution(scores, k), dim=-1, descending=True).values


register(Exercise(
    name="top_k_filter",
    task="top_k_filter(scores, k): (B, V) logits → (B, V) with every score below its row's k-th largest set to "
         "-inf (ties with the k-th kept)",
    hint="torch.topk(scores, k, dim=-1).values[:, -1:] is each row's k-th largest, shape (B, 1); masked_fill the "
         "scores below it with float('-inf'). k > V keeps everything",
    reference=top_k_filter_solution,
    cases=_top_k_cases,
    mistakes=[
        Mistake(_top_k_plus_one,
                "off by one: you kept k + 1 tokens. Sorted in descending order, the k-th largest is at index "
                "k - 1 (torch.topk(scores, k).values[:, -1:])"),
        Mistake(lambda scores, k: _top_k_fill(scores, k, keep=lambda scores, kth: scores > kth),
                "off by one: you dropped the k-th largest score itself (scores <= kth); keep every score >= the "
                "k-th, so k tokens survive (more when some tie with the k-th)"),
        Mistake(_top_k_exactly_k,
                "you kept exactly k tokens, so of the scores tied with the k-th only some survive, chosen "
                "arbitrarily; keep every score >= the k-th largest, as transformers' TopKLogitsWarper does"),
        Mistake(lambda scores, k: _top_k_fill(scores, k, fill=0.0),
                "you set the filtered scores to 0, but 0 is an ordinary logit: those tokens keep e^0 = 1 in the "
                "softmax (more than a negative logit kept by top-k). Use float('-inf'), whose probability is 0"),
        Mistake(_top_k_over_batch,
                "you took the top k over the batch dimension (dim=0); each row is one sequence's distribution "
                "over the vocabulary, so take the top k along dim=-1"),
        Mistake(lambda scores, k: top_k_filter_solution(scores, k).softmax(dim=-1),
                "you returned probabilities (softmax); return the filtered logits, -inf included: temperature, "
                "top-p and the sampler still expect logits"),
        Mistake(_top_k_sorted,
                "your scores are sorted, so position i is no longer token i's score; keep the vocabulary order "
                "and mask the scores where they are (masked_fill)"),
    ],
))


def check_top_k_filter(fn, raise_on_failure=False):
    """Check your top_k_filter(scores, k) against the reference."""
    return check("top_k_filter", fn, raise_on_failure)


def repetition_penalty_solution(input_ids, scores, penalty):
    """CTRL's repetition penalty: for every token already in its row of input_ids (B, T), a positive score is
    divided by penalty and a negative one multiplied by it, once however often the token occurred: (B, V)."""
    import torch

    seen = torch.zeros_like(scores, dtype=torch.bool).scatter(1, input_ids, True)   # (B, V): in this row?
    penalised = torch.where(scores < 0, scores * penalty, scores / penalty)          # both make the token less likely
    return torch.where(seen, penalised, scores)


def _repetition_cases():
    import torch

    g = torch.Generator().manual_seed(7)
    return [(torch.tensor([[1, 3, 3, 5], [0, 2, 2, 2]]),
             torch.tensor([[0.5, 2.0, -1.0, -1.5, 3.0, 1.0], [-2.0, 1.0, 4.0, 0.0, -0.5, 2.5]]), 2.0),
            (torch.randint(0, 12, (3, 8), generator=g), 3 * torch.randn(3, 12, generator=g), 1.3),
            (torch.randint(0, 20, (2, 15), generator=g), torch.randn(2, 20, generator=g), 1.2)]


def _seen(input_ids, scores, counts=False):
    """(B, V): whether (or, with counts, how often) each token occurs in its row of input_ids."""
    import torch

    ones = torch.ones_like(input_ids, dtype=scores.dtype)
    occurrences = torch.zeros_like(scores).scatter_add(1, input_ids, ones)
    return occurrences if counts else occurrences > 0


def _where_seen(input_ids, scores, penalised):
    """penalised where the token occurs in its row of input_ids, scores elsewhere."""
    import torch

    return torch.where(_seen(input_ids, scores), penalised, scores)


def _penalise_every_occurrence(input_ids, scores, penalty):
    import torch

    factor = penalty ** _seen(input_ids, scores, counts=True)                  # penalty ** (number of occurrences)
    return torch.where(scores < 0, scores * factor, scores / factor)


def _penalise_whole_batch(input_ids, scores, penalty):
    import torch

    seen = _seen(input_ids, scores).any(dim=0, keepdim=True)                  # seen in any row
    return torch.where(seen, torch.where(scores < 0, scores * penalty, scores / penalty), scores)


register(Exercise(
    name="repetition_penalty",
    task="repetition_penalty(input_ids, scores, penalty): (B, T) ids, (B, V) logits → (B, V) with every token "
         "already in its row made less likely: positive scores / penalty, negative scores × penalty",
    hint="mark the tokens each row has seen (scatter True into a (B, V) bool tensor at input_ids), compute "
         "torch.where(scores < 0, scores * penalty, scores / penalty), and take it only where seen; "
         "build new tensors, leave scores as it is",
    reference=repetition_penalty_solution,
    cases=_repetition_cases,
    mistakes=[
        Mistake(lambda input_ids, scores, penalty: _where_seen(input_ids, scores, scores / penalty),
                "you divided every seen score by penalty; for a negative score that moves it towards 0, making "
                "a disliked repeated token MORE likely. Multiply negative scores by penalty"),
        Mistake(lambda input_ids, scores, penalty: _where_seen(
                    input_ids, scores, (scores / penalty).where(scores < 0, scores * penalty)),
                "the wrong way round: you multiplied positive scores and divided negative ones, which makes "
                "repeats more likely; divide positive scores by penalty, multiply negative ones"),
        Mistake(_penalise_every_occurrence,
                "you penalised a token once per occurrence (penalty ** count); the penalty applies once to every "
                "token seen, however often"),
        Mistake(_penalise_whole_batch,
                "you penalised tokens seen in any row of the batch; each row is a separate sequence, so only its "
                "own input_ids count"),
        Mistake(lambda input_ids, scores, penalty: _where_seen(input_ids, scores, scores - penalty),
                "you subtracted penalty from the seen scores; the penalty is a factor: divide positive scores by "
                "it, multiply negative ones"),
    ],
))


def check_repetition_penalty(fn, raise_on_failure=False):
    """Check your repetition_penalty(input_ids, scores, penalty) against the reference."""
    return check("repetition_penalty", fn, raise_on_failure)


def causal_lm_loss_solution(logits, input_ids, attention_mask):
    """Mean cross-entropy of predicting token t+1 at position t, over the real (non-padding) target tokens: what a
    Hugging Face causal LM returns for labels = input_ids with -100 on the padding."""
    import torch.nn.functional as F

    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), input_ids[:, 1:], reduction="none")   # (B, T-1)
    mask = attention_mask[:, 1:].to(nll.dtype)     # the target's mask: is token t+1 real?
    return (nll * mask).sum() / mask.sum()         # every real target token weighs the same


def _causal_lm_cases():
    import torch

    g = torch.Generator().manual_seed(8)
    right = torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [1] * 2 + [0] * 4])
    left = torch.tensor([[1] * 5, [0] * 2 + [1] * 3, [0] * 3 + [1] * 2])
    return [(2 * torch.randn(3, 6, 7, generator=g), torch.randint(1, 7, (3, 6), generator=g) * right, right),
            (2 * torch.randn(3, 5, 11, generator=g), torch.randint(1, 11, (3, 5), generator=g) * left, left)]


def _masked_nll(logits, targets, mask=None, average="tokens"):
    """Cross-entropy of targets (B, T) under logits (B, T, V) where mask is 1 (everywhere if None), averaged over
    the tokens or the sequences, or summed."""
    import torch
    import torch.nn.functional as F

    mask = torch.ones_like(targets) if mask is None else mask
    nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none") * mask
    if average == "sequences":
        return (nll.sum(1) / mask.sum(1)).mean()
    return nll.sum() / mask.sum() if average == "tokens" else nll.sum()


register(Exercise(
    name="causal_lm_loss",
    task="causal_lm_loss(logits, input_ids, attention_mask): (B, T, V), (B, T), (B, T) → 0-dim mean cross-entropy "
         "of predicting token t+1 at position t, over the targets that are not padding",
    hint="shift: logits[:, :-1] predict input_ids[:, 1:]; F.cross_entropy(..., reduction='none') on "
         "logits.transpose(1, 2) gives (B, T-1); weight by attention_mask[:, 1:] and divide by its sum",
    reference=causal_lm_loss_solution,
    cases=_causal_lm_cases,
    mistakes=[
        Mistake(lambda logits, ids, mask: _masked_nll(logits, ids, mask),
                "no shift: you scored the token at position t with the logits at t, which have already seen it. "
                "Position t predicts token t+1: logits[:, :-1] against input_ids[:, 1:]"),
        Mistake(lambda logits, ids, mask: _masked_nll(logits[:, 1:], ids[:, :-1], mask[:, :-1]),
                "shifted the wrong way: logits[:, 1:] against input_ids[:, :-1] predicts each token from the "
                "position after it. Use logits[:, :-1] against input_ids[:, 1:]"),
        Mistake(lambda logits, ids, mask: _masked_nll(logits[:, :-1], ids[:, 1:]),
                "you averaged over the padding too: weight each target by attention_mask[:, 1:] (or set padded "
                "labels to -100) and divide by the number of real targets"),
        Mistake(lambda logits, ids, mask: _masked_nll(logits[:, :-1], ids[:, 1:], mask[:, :-1]),
                "you masked with the input position's mask (attention_mask[:, :-1]); what counts is whether the "
                "target token t+1 is real: attention_mask[:, 1:]"),
        Mistake(lambda logits, ids, mask: _masked_nll(logits[:, :-1], ids[:, 1:], mask[:, 1:], "sequences"),
                "you averaged each sequence's loss, then the sequences: tokens of short sequences weigh more. "
                "Sum over all real target tokens and divide by their number, as Hugging Face does"),
        Mistake(lambda logits, ids, mask: _masked_nll(logits[:, :-1], ids[:, 1:], mask[:, 1:], "sum"),
                "that is the summed negative log-likelihood; divide by the number of real target tokens for "
                "the mean"),
        Mistake(lambda logits, ids, mask: -causal_lm_loss_solution(logits, ids, mask),
                "the sign is flipped: that is the mean log-probability; the loss is its negative"),
    ],
))


def check_causal_lm_loss(fn, raise_on_failure=False):
    """Check your causal_lm_loss(logits, input_ids, attention_mask) against the reference."""
    return check("causal_lm_loss", fn, raise_on_failure)
