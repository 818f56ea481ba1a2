"""Instruction SFT, step 2: batches of tokenized conversations for training; each answer's loss and log-probability.

    loader = make_instruction_loader(tokenized["train"], tokenizer, batch_size=8, shuffle=True)
    losses = answer_losses(model, make_instruction_loader(tokenized["validation"], tokenizer))   # one per answer
    logprobs = answer_logprobs(model, loader)                         # log p(answer | prompt), summed over tokens
    labels = most_likely_answers(model, tokenizer, test["messages"], [["positive", "negative"]] * len(test))

Shapes: B batch, T padded length (the package legend, sftlab/__init__.py).
"""

import torch

from sftlab import batching
from sftlab.batching import IGNORE_INDEX
from sftlab.devices import model_device, to_device


class InstructionCollator:
    """Pads {"input_ids", "attention_mask", "labels"} features to the longest in the batch (right padding):
    input_ids with the pad id, attention_mask with 0, labels with -100 — so padding never carries loss, whatever
    id pads (SmolLM2 pads with its end-of-turn token, which the answer's labels keep). transformers'
    DataCollatorForTokenClassification would do the same on the tokenizer's padding side; this one always pads on
    the right, so a tokenizer set to pad on the left for batched generation cannot shift a training batch."""

    def __init__(self, tokenizer):
        if tokenizer.pad_token_id is None:
            raise ValueError("the tokenizer has no pad token; set tokenizer.pad_token = tokenizer.eos_token")
        self.pad_token_id = tokenizer.pad_token_id

    def __call__(self, features: list[dict]) -> dict:
        if not features:
            raise ValueError("empty batch: no features to collate")
        missing = {"input_ids", "labels"} - set(features[0])
        if missing:
            raise ValueError(f"features lack {sorted(missing)}; tokenize them with tokenize_conversations first")
        longest = max(len(f["input_ids"]) for f in features)
        input_ids = torch.full((len(features), longest), self.pad_token_id, dtype=torch.long)   # (B, T)
        attention_mask = torch.zeros((len(features), longest), dtype=torch.long)                # (B, T)
        labels = torch.full((len(features), longest), IGNORE_INDEX, dtype=torch.long)          # (B, T)
        for row, feature in enumerate(features):
            n = len(feature["input_ids"])
            input_ids[row, :n] = torch.as_tensor(feature["input_ids"])
            attention_mask[row, :n] = 1
            labels[row, :n] = torch.as_tensor(feature["labels"])
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def make_instruction_loader(dataset, tokenizer, batch_size: int = 8, shuffle: bool = False, seed: int = 0,
                            group_by_length: bool | None = None):
    """A DataLoader of padded (input_ids, attention_mask, labels) batches over a tokenized split
    (sftlab.batching.make_loader: seeded, reshuffled each epoch). group_by_length (default: when shuffling) draws
    batches of conversations of similar lengths, so padding costs little; without shuffling the batches keep the
    split's order (answer_losses returns one loss per conversation in that order)."""
    columns = ["input_ids", "attention_mask", "labels"]
    batching.check_tokenized_split(dataset, columns, "make_instruction_loader", "tokenize_conversations")
    group_by_length = shuffle if group_by_length is None else group_by_length
    if group_by_length and not shuffle:
        raise ValueError("group_by_length reorders the conversations: use it for training (shuffle=True); "
                         "evaluation batches keep the split's order")
    return batching.make_loader(dataset.with_format(columns=columns), InstructionCollator(tokenizer), batch_size,
                                shuffle, seed, group_by_length)


@torch.no_grad()
def _answer_nll(model, loader) -> list[tuple[float, int]]:
    """(summed negative log-likelihood, answer tokens) of each example, in the loader's order."""
    model.eval()
    device, found = model_device(model), []
    for batch in loader:
        batch = to_device(batch, device)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
        targets = batch["labels"][:, 1:]                                     # (B, T-1): position t predicts t + 1
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), targets,
                                                ignore_index=IGNORE_INDEX, reduction="none")   # (B, T-1)
        counted = (targets != IGNORE_INDEX).sum(dim=1)                       # (B,)
        found += list(zip(nll.sum(dim=1).cpu().tolist(), counted.cpu().tolist(), strict=True))
    return found


def answer_losses(model, loader) -> list[float]:
    """Each example's mean negative log-likelihood per answer token (teacher forcing: the model reads the true
    answer so far), in the loader's order; a cheap held-out score that needs no generation."""
    return [total / max(count, 1) for total, count in _answer_nll(model, loader)]


def answer_logprobs(model, loader) -> list[float]:
    """Each example's log-probability of its whole answer given its prompt: log p(answer | prompt), the sum over
    the answer's tokens (its end-of-turn token included), in the loader's order. Sums, not means, compare answers
    of different lengths as the model would rank them as whole texts."""
    return [-total for total, _ in _answer_nll(model, loader)]


def most_likely_answers(model, tokenizer, conversations, candidates, batch_size: int = 16) -> list[str]:
    """For each conversation (its own answer ignored), the candidate answer with the highest log p(answer | prompt):
    a classifier read from the language model's probabilities instead of its generated text.
    candidates[i] lists the answers allowed for conversation i (e.g. ["positive", "negative"])."""
    from datasets import Dataset

    from sftlab.instruct.chat import tokenize_conversation

    conversations = list(conversations)
    if len(candidates) != len(conversations) or any(isinstance(c, str) or len(c) < 2 for c in candidates):
        raise ValueError("candidates must hold, for each conversation, a list of at least two candidate answers; got "
                         f"{len(candidates)} lists for {len(conversations)} conversations")
    pairs = [(i, option) for i, options in enumerate(candidates) for option in options]
    rows = [tokenize_conversation(tokenizer, [*conversations[i][:-1], {"role": "assistant", "content": option}])
            for i, option in pairs]
    loader = make_instruction_loader(Dataset.from_list(rows), tokenizer, batch_size=batch_size)
    best: dict[int, tuple[float, str]] = {}
    for (i, option), score in zip(pairs, answer_logprobs(model, loader), strict=True):
        if i not in best or score > best[i][0]:
            best[i] = (score, option)
    return [best[i][1] for i in range(len(conversations))]
