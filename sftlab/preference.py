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
from sftlab.training import unwrap


def _decoder_output(model, batch: dict, **kwargs):
    """The decoder's output (no output layer) for a batch on the model's device: input_ids (B, T), or
    inputs_embeds (B, T, d) inside top_blocks, with attention_mask; kwargs go to the decoder."""
    inputs = "inputs_embeds" if "inputs_embeds" in batch else "input_ids"
    missing = {inputs, "attention_mask", "labels"} - set(batch)
    if missing:
        raise ValueError(f"the batch lacks {sorted(missing)}: pad tokenized conversations with InstructionCollator "
                         f"or PreferenceCollator")
    batch = to_device(batch, model_device(model))
    return unwrap(model).model(**{inputs: batch[inputs]}, attention_mask=batch["attention_mask"], use_cache=False,
                               **kwargs)


def _answer_log_softmax(model, last_hidden: torch.Tensor, labels: torch.Tensor):
    """(log-probabilities (N, V), counted (B, T-1)): the next-token distribution at the N positions whose next
    token is labelled; the output layer runs only there."""
    counted = labels[:, 1:] != IGNORE_INDEX                                        # (B, T-1)
    logits = unwrap(model).get_output_embeddings()(last_hidden[:, :-1][counted])   # (N, V)
    return logits.float().log_softmax(dim=-1), counted


def _per_row(values: torch.Tensor, counted: torch.Tensor) -> torch.Tensor:
    """(N,) per-token values summed into their rows: (B,)."""
    rows = counted.nonzero()[:, 0]                                                 # (N,) the row of each token
    return torch.zeros(counted.shape[0], dtype=values.dtype, device=values.device).index_add(0, rows, values)


def answer_logprobs(model, last_hidden: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each row's summed log-probability of its labelled tokens from the decoder's last hidden states (B, T, d)
    and labels (B, T) (-100: not counted); position t predicts token t + 1. The output layer and the log-softmax
    run only at the N labelled positions — not at all B·T, where the logits alone would take B·T·V floats (V,
    the vocabulary, is 49,152 for SmolLM2) — so time and memory grow with the answers, not the prompts.
    Returns (B,)."""
    if not (labels[:, 1:] != IGNORE_INDEX).any(dim=1).all():
        raise ValueError("a row has no labelled token: its answer was cut off or masked")
    logps, counted = _answer_log_softmax(model, last_hidden, labels)
    return _per_row(logps.gather(-1, labels[:, 1:][counted].unsqueeze(-1)).squeeze(-1), counted)


def sequence_logprobs(model, batch: dict) -> torch.Tensor:
    """Each row's log p(answer | prompt): the log-probabilities of its labelled tokens (labels ≠ -100: the answer
    and its end-of-turn token, as sftlab.instruct labels them), summed. batch: attention_mask, labels (B, T) and
    either input_ids (B, T) or inputs_embeds (B, T, d) (hidden states entering the blocks, see top_blocks), moved
    to the model's device. Returns (B,), with gradients when the model has them."""
    hidden = _decoder_output(model, batch).last_hidden_state                       # (B, T, d)
    return answer_logprobs(model, hidden, batch["labels"].to(hidden.device))


def decoder_blocks(model) -> torch.nn.ModuleList:
    """The Transformer blocks of a decoder-only model (Llama-style `model.model.layers`), PEFT-wrapped or not."""
    inner = unwrap(model)
    decoder = getattr(inner, "model", None)
    if not isinstance(getattr(decoder, "layers", None), torch.nn.ModuleList):
        raise TypeError(f"expected a decoder-only model with its blocks in .model.layers (Llama, SmolLM2, Qwen2), "
                        f"got a {type(inner).__name__}")
    return decoder.layers


def _check_start(model, start) -> None:
    blocks = len(decoder_blocks(model))
    if isinstance(start, bool) or not isinstance(start, int) or not 0 < start < blocks:
        raise ValueError(f"start must be a block index in 1…{blocks - 1}, got {start!r}")


@contextlib.contextmanager
def top_blocks(model, start: int):
    """Inside this block the model runs only its blocks start, start+1, …: it takes inputs_embeds = the hidden
    states entering block `start` (from trunk_states) instead of token ids. With LoRA on those blocks alone, the
    blocks below never change, so their output is computed once (a frozen trunk) and each step runs the top."""
    _check_start(model, start)
    blocks = decoder_blocks(model)
    decoder = unwrap(model).model
    decoder.layers = blocks[start:]
    try:
        yield model
    finally:
        decoder.layers = blocks


@torch.no_grad()
def trunk_states(model, batch: dict, start: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(hidden, logps): the hidden states entering block `start`, (B, T, d), and each row's log p(answer | prompt)
    from the same forward pass of the whole model, (B,). Run it on the model the trunk belongs to (with a LoRA
    policy: inside reference_model, so logps are the reference's)."""
    _check_start(model, start)
    out = _decoder_output(model, batch, output_hidden_states=True)
    labels = batch["labels"].to(out.last_hidden_state.device)
    return out.hidden_states[start], answer_logprobs(model, out.last_hidden_state, labels)


@dataclass
class Trunk:
    """The frozen trunk's output for N tokenized sequences, kept on the CPU: what block `start` receives, and the
    reference model's log p(answer | prompt) of each sequence. batch(rows) pads some of them for top_blocks."""

    start: int
    hidden: list[torch.Tensor]   # N tensors (T_i, d): the states entering block `start`, padding cut off
    labels: list[torch.Tensor]   # N tensors (T_i,)
    reference: torch.Tensor      # (N,) the reference's summed answer log-probabilities

    def batch(self, rows) -> dict:
        """inputs_embeds (B, T, d), attention_mask and labels (B, T) of these rows, right-padded."""
        return stack_trunks([self], rows)


def stack_trunks(trunks: list[Trunk], rows) -> dict:
    """One padded batch of the same rows of several trunks, trunk after trunk (chosen rows, then rejected rows:
    one forward pass scores both answers of B pairs). Returns inputs_embeds (len(trunks)·B, T, d), attention_mask
    and labels (len(trunks)·B, T)."""
    rows = [int(r) for r in rows]
    hidden = [t.hidden[r] for t in trunks for r in rows]
    labels = [t.labels[r] for t in trunks for r in rows]
    longest = max(len(h) for h in hidden)
    embeds = hidden[0].new_zeros((len(hidden), longest, hidden[0].shape[-1]))       # (2B, T, d)
    mask = torch.zeros((len(hidden), longest), dtype=torch.long)                      # (2B, T)
    padded = torch.full((len(hidden), longest), IGNORE_INDEX, dtype=torch.long)      # (2B, T)
    for i, (h, y) in enumerate(zip(hidden, labels, strict=True)):
        embeds[i, :len(h)], mask[i, :len(h)], padded[i, :len(h)] = h, 1, y
    return {"inputs_embeds": embeds, "attention_mask": mask, "labels": padded}


def cache_trunks(model, tokenized, tokenizer, start: int, batch_size: int = 8, progress: bool = True
                 ) -> tuple[Trunk, Trunk]:
    """(chosen, rejected): the frozen trunk over every pair of a tokenized split (tokenize_pairs), one forward pass
    each. Run it on the reference (a LoRA policy inside reference_model, or the model before LoRA)."""
    from sftlab.course.progress import progress_bar

    collate = PreferenceCollator(tokenizer)
    n = len(tokenized)
    lengths = [max(len(c), len(r)) for c, r in zip(tokenized["chosen_input_ids"], tokenized["rejected_input_ids"],
                                                     strict=True)]
    order = sorted(range(n), key=lambda i: -lengths[i])          # pairs of similar length share a batch
    found = {answer: ([None] * n, [None] * n, [None] * n) for answer in ("chosen", "rejected")}
    bar = progress_bar(n, desc="frozen trunk", disable=not progress)
    for begin in range(0, n, batch_size):
        rows = order[begin:begin + batch_size]
        batch = collate([tokenized[i] for i in rows])
        hidden, logps = trunk_states(model, batch, start)
        for i, length in enumerate(batch["attention_mask"].sum(dim=1).tolist()):
            hiddens, labels, refs = found["chosen" if i < len(rows) else "rejected"]
            row = rows[i % len(rows)]
            hiddens[row], labels[row] = hidden[i, :length].cpu(), batch["labels"][i, :length].cpu()
            refs[row] = logps[i].cpu()
        bar.update(len(rows))
    bar.close()
    return tuple(Trunk(start, h, y, torch.stack(r)) for h, y, r in found.values())


def tokenize_pairs(dataset, tokenizer, max_length: int | None = None):
    """Each preference pair (TRL's conversational format: prompt, chosen, rejected) as two tokenized
    conversations, prompt + chosen and prompt + rejected: chosen_input_ids, chosen_labels, rejected_input_ids,
    rejected_labels (labels -100 on the prompt, as in chapter 06). The other columns stay (rule, language …)."""
    from sftlab.instruct.chat import tokenize_conversation

    columns = dataset.column_names
    missing = {"prompt", "chosen", "rejected"} - set(columns)
    if missing:
        raise ValueError(f"the dataset needs prompt, chosen and rejected columns (load_preferences), "
                         f"lacks {sorted(missing)}")

    def tokenize(row):
        out = {}
        for answer in ("chosen", "rejected"):
            conversation = tokenize_conversation(tokenizer, row["prompt"] + row[answer], max_length)
            out[f"{answer}_input_ids"], out[f"{answer}_labels"] = conversation["input_ids"], conversation["labels"]
        return out

    return dataset.map(tokenize)


class PreferenceCollator:
    """B tokenized pairs → one batch of 2B rows, the B chosen conversations first, then the B rejected ones (as
    TRL's DPOTrainer concatenates them): input_ids, attention_mask, labels (2B, T), right-padded like
    InstructionCollator. Rows i and B + i are the two answers to the same prompt."""

    def __init__(self, tokenizer):
        from sftlab.instruct.batches import InstructionCollator

        self.pad = InstructionCollator(tokenizer)

    def __call__(self, features: list[dict]) -> dict:
        if not features:
            raise ValueError("empty batch: no pairs to collate")
        missing = {"chosen_input_ids", "chosen_labels", "rejected_input_ids", "rejected_labels"} - set(features[0])
        if missing:
            raise ValueError(f"the pairs lack {sorted(missing)}; tokenize them with tokenize_pairs first")
        return self.pad([{"input_ids": f[f"{answer}_input_ids"], "labels": f[f"{answer}_labels"]}
                         for answer in ("chosen", "rejected") for f in features])


@torch.no_grad()
def token_kl(model, batch: dict) -> torch.Tensor:
    """How far a LoRA policy has drifted from its reference on these answers: at every labelled position the
    exact KL(π(·|context) ‖ π_ref(·|context)) over the whole vocabulary, summed over the answer. batch as for
    sequence_logprobs (input_ids, or inputs_embeds inside top_blocks). Returns (B,), in nats."""
    def logps():
        hidden = _decoder_output(model, batch).last_hidden_state                   # (B, T, d)
        return _answer_log_softmax(model, hidden, batch["labels"].to(hidden.device))   # (N, V), (B, T-1)

    policy, counted = logps()
    with reference_model(model):
        reference, _ = logps()
    return _per_row((policy.exp() * (policy - reference)).sum(dim=-1), counted)


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
