"""Preference tuning (chapter 08): DPO from the log-probabilities of a chosen and a rejected answer.

    logps = sequence_logprobs(model, batch)                  # (B,) log p(answer | prompt), gradients kept
    with reference_model(model):                             # a LoRA policy with its adapter off = the reference
        ref = sequence_logprobs(model, batch).detach()
    out = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=0.1)
    out.loss.backward(); out.reward_accuracy, out.margin

DPO (Rafailov et al., 2023): the policy that maximises reward − β·KL(policy ‖ reference) is
π*(y|x) ∝ π_ref(y|x)·exp(r(x, y)/β), so the reward it implies is r(x, y) = β·log π(y|x)/π_ref(y|x) (+ a term of
x alone, which cancels between two answers to the same prompt). Under the Bradley–Terry model the chosen answer
wins with probability σ(r_chosen − r_rejected); DPO minimises its negative log-likelihood.

Shapes (sftlab/__init__.py): B batch, T padded length.
"""

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sftlab.batching import IGNORE_INDEX
from sftlab.devices import model_device, to_device


def sequence_logprobs(model, batch: dict) -> torch.Tensor:
    """Each row's log p(answer | prompt): the log-probabilities of its labelled tokens (labels ≠ -100: the answer
    and its end-of-turn token, as sftlab.instruct labels them), summed. batch: input_ids, attention_mask, labels,
    each (B, T), moved to the model's device. Returns (B,), with gradients when the model has them."""
    missing = {"input_ids", "attention_mask", "labels"} - set(batch)
    if missing:
        raise ValueError(f"the batch lacks {sorted(missing)}: pad tokenized conversations with InstructionCollator")
    batch = to_device(batch, model_device(model))
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
    targets = batch["labels"][:, 1:]                                       # (B, T-1): position t predicts t + 1
    counted = targets != IGNORE_INDEX                                      # (B, T-1)
    if not counted.any(dim=1).all():
        raise ValueError("a row has no labelled token: its answer was cut off or masked")
    logps = torch.log_softmax(logits[:, :-1].float(), dim=-1)              # (B, T-1, V)
    picked = logps.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)   # (B, T-1)
    return (picked * counted).sum(dim=1)


@contextlib.contextmanager
def reference_model(model):
    """The reference policy of DPO without a second copy of the weights: inside this block a PEFT model runs with
    its adapter disabled — the frozen base, the starting point — as TRL's DPOTrainer does with a PEFT policy."""
    if not hasattr(model, "disable_adapter"):
        raise TypeError(f"reference_model needs a PEFT model (get_peft_model), got a {type(model).__name__}; with a "
                        "fully fine-tuned policy, keep a frozen copy of the starting model as the reference instead")
    with model.disable_adapter(), torch.no_grad():
        yield model


@dataclass
class DPOOutput:
    """The DPO loss of a batch and what to watch while training (means over the batch, except the rewards)."""

    loss: torch.Tensor              # scalar: mean of −log σ(β·(chosen log-ratio − rejected log-ratio))
    chosen_rewards: torch.Tensor    # (B,) β·log π(chosen)/π_ref(chosen), detached
    rejected_rewards: torch.Tensor  # (B,) β·log π(rejected)/π_ref(rejected), detached
    reward_accuracy: float          # share of pairs whose chosen reward is higher
    margin: float                   # mean chosen reward − rejected reward


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, reference_chosen: torch.Tensor,
             reference_rejected: torch.Tensor, beta: float = 0.1) -> DPOOutput:
    """DPO's sigmoid loss from summed answer log-probabilities, each (B,): the policy's and the reference's, for
    the chosen and the rejected answer of the same B prompts. beta (> 0) sets how far the policy may drift from the
    reference: small β lets the log-ratios grow large before the loss is satisfied."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
        raise ValueError(f"beta must be a positive number (typically 0.05–0.5), got {beta!r}")
    shapes = {t.shape for t in (policy_chosen, policy_rejected, reference_chosen, reference_rejected)}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise ValueError(f"the four log-probabilities must each be (B,), one per pair; got shapes {sorted(shapes)}")
    chosen_logratios = policy_chosen - reference_chosen.detach()
    rejected_logratios = policy_rejected - reference_rejected.detach()
    loss = -F.logsigmoid(beta * (chosen_logratios - rejected_logratios)).mean()
    chosen_rewards, rejected_rewards = beta * chosen_logratios.detach(), beta * rejected_logratios.detach()
    return DPOOutput(loss=loss, chosen_rewards=chosen_rewards, rejected_rewards=rejected_rewards,
                     reward_accuracy=float((chosen_rewards > rejected_rewards).float().mean()),
                     margin=float((chosen_rewards - rejected_rewards).mean()))
