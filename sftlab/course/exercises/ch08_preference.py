"""Chapter 08, preference tuning with DPO: an answer's log-probability from the logits, DPO's loss, the implicit
rewards and their accuracy.

The references are written out — each is the lesson — and tests/test_exercises_ch08_preference.py checks them
against the package's own sftlab.preference (sequence_logprobs on a tiny model, dpo_loss on every case).

Shapes (sftlab/__init__.py): B batch (pairs, or answers), T padded length, V vocabulary.
"""

from sftlab.batching import IGNORE_INDEX
from sftlab.course.exercises.framework import Exercise, Mistake, check, register

# ---------------------------------------------------------------- sequence_logprobs


def sequence_logprobs_solution(logits, labels):
    """Each row's log p(answer | prompt): the log-probabilities of its labelled tokens, summed. logits (B, T, V) from
    a causal LM; labels (B, T), the input ids with -100 on the prompt and the padding, so that only the answer's
    tokens count. The logits at position t predict the token at t + 1. Returns (B,)."""
    import torch

    targets = labels[:, 1:]                                                 # (B, T-1): position t predicts t + 1
    counted = targets != IGNORE_INDEX                                       # (B, T-1): True on the answer's tokens
    logps = torch.log_softmax(logits[:, :-1], dim=-1)                       # (B, T-1, V)
    # -100 is no token id: gather at id 0 there (any valid id), then the mask zeroes those positions
    picked = logps.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)   # (B, T-1)
    return (picked * counted).sum(dim=1)                                    # (B,)


def _labelled(input_ids, prompt_lengths, attention_mask):
    """The labels sftlab.instruct makes: input ids, -100 on each row's prompt and on the padding."""
    import torch

    positions = torch.arange(input_ids.size(1))                             # (T,)
    in_prompt = positions[None, :] < prompt_lengths[:, None]                # (B, T) with right padding
    return input_ids.masked_fill(in_prompt | (attention_mask == 0), IGNORE_INDEX)


def _logprob_cases():
    import torch

    g = torch.Generator().manual_seed(8)
    right = (torch.arange(8)[None, :] < torch.tensor([8, 6, 5])[:, None]).long()     # answers of 5, 4 and 1 tokens
    ids = torch.randint(1, 11, (3, 8), generator=g)
    right_labels = _labelled(ids, torch.tensor([3, 2, 4]), right)
    left = (torch.arange(7)[None, :] >= torch.tensor([0, 3])[:, None]).long()        # left padding: 3 pads in row 1
    ids = torch.randint(1, 13, (2, 7), generator=g)
    left_labels = ids.masked_fill(left.cumsum(1) <= 2, IGNORE_INDEX)    # the padding and a 2-token prompt after it
    no_padding = torch.tensor([[IGNORE_INDEX, 4, 9, 2]])                              # a one-token prompt
    return [(2 * torch.randn(3, 8, 11, generator=g), right_labels),
            (2 * torch.randn(2, 7, 13, generator=g), left_labels),
            (2 * torch.randn(1, 4, 10, generator=g), no_padding)]


def _summed(logits, labels, shift=1, mask=True, score="log_softmax", reduce="sum"):
    """The labelled tokens' scores with some of the rules changed: shift 1 (right), 0 (none) or -1 (the wrong
    way); mask False sums every position; score log_softmax, softmax or logits; reduce sum or mean."""
    import torch

    if shift == 1:
        logits, targets = logits[:, :-1], labels[:, 1:]
    elif shift == -1:
        logits, targets = logits[:, 1:], labels[:, :-1]
    else:
        targets = labels
    scores = {"log_softmax": logits.log_softmax(-1), "softmax": logits.softmax(-1), "logits": logits}[score]
    picked = scores.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    counted = (targets != IGNORE_INDEX) if mask else torch.ones_like(targets, dtype=torch.bool)
    total = (picked * counted).sum(dim=1)
    return total / counted.sum(dim=1) if reduce == "mean" else total


def _gather_at_minus_100(logits, labels):
    """Gathers at the raw labels, -100 included: torch raises."""
    return logits[:, :-1].log_softmax(-1).gather(-1, labels[:, 1:].unsqueeze(-1)).squeeze(-1).sum(dim=1)


register(Exercise(
    name="sequence_logprobs",
    task="sequence_logprobs(logits, labels): (B, T, V), (B, T) with -100 on the prompt and the padding → (B,) "
         "log p(answer | prompt): the log-probabilities of the labelled tokens, summed; position t predicts token "
         "t+1",
    hint="shift: logits[:, :-1] predict labels[:, 1:]; log_softmax over V, then gather each target's entry (-100 "
         "is not an id: clamp it to 0 first); multiply by the mask labels[:, 1:] != -100 and sum over T",
    reference=sequence_logprobs_solution,
    cases=_logprob_cases,
    mistakes=[
        Mistake(_gather_at_minus_100,
                "you gathered at the labels as they are: -100 is no token id, so gather fails. Replace it by any "
                "valid id (labels.clamp(min=0)) before gathering, then zero those positions with the mask"),
        Mistake(lambda logits, labels: _summed(logits, labels, shift=0),
                "no shift: you scored the token at position t with the logits at t, which have already seen it. "
                "Position t predicts token t+1: logits[:, :-1] against labels[:, 1:]"),
        Mistake(lambda logits, labels: _summed(logits, labels, shift=-1),
                "shifted the wrong way: logits[:, 1:] against labels[:, :-1] predicts each token from the position "
                "after it. Use logits[:, :-1] against labels[:, 1:]"),
        Mistake(lambda logits, labels: _summed(logits, labels, mask=False),
                "you summed over every position, prompt and padding included (their -100 became some id): the "
                "answer's log-probability counts only the labelled tokens. Multiply by labels[:, 1:] != -100"),
        Mistake(lambda logits, labels: _summed(logits, labels, reduce="mean"),
                "you averaged over the answer's tokens; log p(answer | prompt) is their sum (the chain rule "
                "multiplies the tokens' probabilities). DPO compares sums; the mean is another method's choice"),
        Mistake(lambda logits, labels: _summed(logits, labels, score="softmax"),
                "you summed probabilities (softmax); a sequence's log-probability sums log-probabilities: use "
                "log_softmax"),
        Mistake(lambda logits, labels: _summed(logits, labels, score="logits"),
                "you summed the raw logits; normalise them over the vocabulary first with log_softmax"),
        Mistake(lambda logits, labels: -sequence_logprobs_solution(logits, labels),
                "the sign is flipped: that is the negative log-likelihood (a loss, ≥ 0); a log-probability is ≤ 0"),
    ],
))


def check_sequence_logprobs(fn, raise_on_failure=False):
    """Check your sequence_logprobs(logits, labels) against the reference."""
    return check("sequence_logprobs", fn, raise_on_failure)


# ---------------------------------------------------------------- dpo_loss


def dpo_loss_solution(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
    """DPO's loss, the mean of −log σ(β·((π_c − ref_c) − (π_r − ref_r))): each argument (B,) is a summed answer
    log-probability (sequence_logprobs), the policy's or the frozen reference's, for the chosen or the rejected
    answer to the same B prompts. A 0-dim tensor."""
    import torch.nn.functional as F

    chosen_logratios = policy_chosen - reference_chosen            # (B,) log π(chosen) / π_ref(chosen)
    rejected_logratios = policy_rejected - reference_rejected      # (B,)
    return -F.logsigmoid(beta * (chosen_logratios - rejected_logratios)).mean()


def _pair_cases():
    """(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta) as sequence_logprobs gives them:
    sums over an answer's tokens, tens of nats below zero."""
    import torch

    g = torch.Generator().manual_seed(8)
    reference_chosen, reference_rejected = -40 + 8 * torch.randn(6, generator=g), -40 + 8 * torch.randn(6, generator=g)
    policy_chosen = reference_chosen + 2 * torch.randn(6, generator=g)       # a policy some steps away
    policy_rejected = reference_rejected + 2 * torch.randn(6, generator=g)
    start = -30 + 5 * torch.randn(4, generator=g)                            # step 0: the policy is the reference
    ends = -30 + 5 * torch.randn(4, generator=g)
    return [(policy_chosen, policy_rejected, reference_chosen, reference_rejected, 0.1),
            (torch.tensor([-5.0, -9.0]), torch.tensor([-7.0, -4.0]), torch.tensor([-6.0, -8.0]),
             torch.tensor([-6.0, -6.0]), 0.5),
            (start, ends, start.clone(), ends.clone(), 0.1),
            # longer chosen answers: less likely than the rejected ones under both models, yet the policy raised them
            # more than the reference; the last pair is a tie in reward
            (torch.tensor([-30.0, -12.0, -8.0, -20.0]), torch.tensor([-10.0, -15.0, -9.0, -20.0]),
             torch.tensor([-34.0, -12.0, -9.0, -21.0]), torch.tensor([-9.0, -14.0, -9.0, -21.0]), 0.25)]


def _dpo(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta, swap=False, scale="inside",
         reference=True, link="logsigmoid", reduce="mean"):
    """DPO's loss with some of the rules changed."""
    import torch.nn.functional as F

    if not reference:
        reference_chosen, reference_rejected = 0 * reference_chosen, 0 * reference_rejected
    margin = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    margin = -margin if swap else margin
    inside = beta * margin if scale == "inside" else margin
    losses = -F.logsigmoid(inside) if link == "logsigmoid" else -inside.sigmoid() if link == "sigmoid" else \
        1 - inside.sigmoid()
    losses = beta * losses if scale == "outside" else losses
    return losses.sum() if reduce == "sum" else losses if reduce == "none" else losses.mean()


register(Exercise(
    name="dpo_loss",
    task="dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta): four (B,) summed "
         "log-probabilities and β → the 0-dim mean of −log σ(β·((π_c − ref_c) − (π_r − ref_r)))",
    hint="the log-ratio of each answer is policy − reference; the margin is chosen log-ratio − rejected log-ratio; "
         "β multiplies the margin inside the sigmoid; torch.nn.functional.logsigmoid is log σ without overflow; "
         "negate and take the mean over the B pairs",
    reference=dpo_loss_solution,
    cases=_pair_cases,
    mistakes=[
        Mistake(lambda *args: _dpo(*args, swap=True),
                "chosen and rejected are swapped (or each log-ratio is reference − policy): the loss falls when the "
                "policy prefers the rejected answer. The margin is (π_c − ref_c) − (π_r − ref_r)"),
        Mistake(lambda *args: _dpo(*args, reference=False),
                "no reference: you used the policy's log-probabilities alone. DPO's reward is the log-ratio "
                "policy − reference of each answer; without it nothing holds the policy near where it started"),
        Mistake(lambda *args: _dpo(*args, scale="outside"),
                "β is outside the log-sigmoid: it scales the margin inside it, −log σ(β·margin), which sets how far "
                "the policy may drift from the reference"),
        Mistake(lambda *args: _dpo(*args, scale="none"),
                "β is missing: the loss is −log σ(β·margin), with β multiplying the margin"),
        Mistake(lambda *args: _dpo(*args, link="sigmoid"),
                "no log: −σ(β·margin) is not the loss; DPO minimises the negative log-likelihood −log σ(β·margin) "
                "of the preference (torch.nn.functional.logsigmoid)"),
        Mistake(lambda *args: _dpo(*args, link="one_minus_sigmoid"),
                "no log: 1 − σ(β·margin) is not the loss; DPO minimises −log σ(β·margin) "
                "(torch.nn.functional.logsigmoid)"),
        Mistake(lambda *args: -_dpo(*args),
                "the sign is flipped: that is the log-likelihood log σ(β·margin); the loss is its negative"),
        Mistake(lambda *args: _dpo(*args, reduce="sum"),
                "you summed over the batch: the loss is the mean over the B pairs"),
        Mistake(lambda *args: _dpo(*args, reduce="none"),
                "you returned one loss per pair: the loss is their mean over the B pairs, a 0-dim tensor"),
    ],
))


def check_dpo_loss(fn, raise_on_failure=False):
    """Check your dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta) against the
    reference."""
    return check("dpo_loss", fn, raise_on_failure)


# ---------------------------------------------------------------- implicit_rewards


def implicit_rewards_solution(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
    """DPO's implicit rewards β·(policy − reference), (B,) for the chosen and for the rejected answers, and the
    reward accuracy (0-dim): the share of pairs whose chosen reward is higher — a tie counts as wrong. The four
    inputs are summed answer log-probabilities, each (B,)."""
    chosen_rewards = beta * (policy_chosen - reference_chosen)            # (B,)
    rejected_rewards = beta * (policy_rejected - reference_rejected)      # (B,)
    accuracy = (chosen_rewards > rejected_rewards).float().mean()         # 0-dim; at step 0 every pair ties: 0
    return chosen_rewards, rejected_rewards, accuracy


def _rewards(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta, reference=True, scale=True,
             ties=False, from_policy=False, reduce="mean"):
    """The rewards and their accuracy with some of the rules changed."""
    if not reference:
        reference_chosen, reference_rejected = 0 * reference_chosen, 0 * reference_rejected
    factor = beta if scale else 1
    chosen, rejected = factor * (policy_chosen - reference_chosen), factor * (policy_rejected - reference_rejected)
    a, b = (policy_chosen, policy_rejected) if from_policy else (chosen, rejected)
    right = (a >= b) if ties else (a > b)
    if reduce == "none":
        return chosen, rejected, right
    return chosen, rejected, right.float().sum() if reduce == "sum" else right.float().mean()


register(Exercise(
    name="implicit_rewards",
    task="implicit_rewards(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta): four (B,) "
         "summed log-probabilities and β → (chosen_rewards, rejected_rewards, accuracy): rewards β·(policy − "
         "reference), each (B,), and the 0-dim share of pairs whose chosen reward is higher (a tie is not a win)",
    hint="each reward is β times the answer's log-ratio policy − reference; compare the two rewards pair by pair "
         "with a strict >, then the share of True is .float().mean()",
    reference=implicit_rewards_solution,
    cases=_pair_cases,
    parts=("chosen_rewards", "rejected_rewards", "accuracy"),
    mistakes=[
        Mistake(lambda *args: _rewards(*args, reference=False),
                "your rewards leave out the reference: DPO's implicit reward is β·(policy − reference), how much "
                "more likely the policy finds the answer than it did at the start, not how likely it is"),
        Mistake(lambda *args: _rewards(*args, scale=False),
                "the rewards are not scaled: DPO's implicit reward is β·(policy − reference)"),
        Mistake(lambda *args: _rewards(*args, ties=True),
                "you counted ties as correct (>=): at step 0 the policy is the reference, every reward is 0, and "
                ">= reports 100% accuracy before any training. Use a strict >, as TRL and sftlab.preference do"),
        Mistake(lambda *args: _rewards(*args, from_policy=True),
                "your accuracy compares the policy's log-probabilities alone; it compares the rewards, which "
                "subtract the reference's: a longer chosen answer is less likely than a short rejected one even "
                "when the policy has learned to prefer it"),
        Mistake(lambda *args: _rewards(*args, reduce="none"),
                "your accuracy says which pairs are right, one per pair; the accuracy is their share, "
                ".float().mean()"),
        Mistake(lambda *args: _rewards(*args, reduce="sum"),
                "your accuracy counts the pairs that are right; it is their share: divide by B (.float().mean())"),
    ],
))


def check_implicit_rewards(fn, raise_on_failure=False):
    """Check your implicit_rewards(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta)
    against the reference."""
    return check("implicit_rewards", fn, raise_on_failure)
