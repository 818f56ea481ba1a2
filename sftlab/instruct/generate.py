"""Instruction SFT, step 3: answers by greedy generation — zero-shot, few-shot or after fine-tuning.

    answers = answer_conversations(model, tokenizer, load_instructions()["test"])     # batched, left-padded
    shots = few_shot_picker(data["train"], test, k=2)                                  # for a few-shot baseline

Shapes: B batch, T padded prompt length (the package legend, sftlab/__init__.py).
"""

import torch

from sftlab.course.progress import progress_bar
from sftlab.devices import model_device, timed, to_device
from sftlab.instruct.chat import _check_messages

MAX_NEW_TOKENS = {"entities": 72, "sentiment": 6, "open": 48}   # ≥ the longest answer + 1; open answers cut at 48


def few_shot_messages(messages, shots) -> list[dict]:
    """The conversation's system message, then each shot's user question and assistant answer as earlier turns,
    then its own user message: the model sees solved examples in its own chat format (no final answer)."""
    _check_messages(messages)
    turns = [m for shot in shots for m in shot[1:]]               # each shot: system, user, assistant
    return [messages[0], *turns, *messages[1:-1]]


def generation_prompts(tokenizer, conversations, shots_for=None) -> list[str]:
    """The chat-template prompt (ending in the generation prompt) of each conversation, without its answer;
    shots_for(i) gives the solved conversations to show before conversation i (few-shot), None for zero-shot."""
    prompts = []
    for i, messages in enumerate(conversations):
        messages = few_shot_messages(messages, shots_for(i)) if shots_for else list(messages[:-1])
        prompts.append(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    return prompts


def few_shot_picker(pool, dataset, k: int = 2, seed: int = 0):
    """shots_for(i) for generation_prompts: k conversations of `pool` (the training split) drawn at random, once,
    for each conversation i of `dataset`, of the same family and language — solved examples of the same task."""
    import random

    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int (shots per prompt), got {k!r}")
    rng = random.Random(seed)
    groups = {}
    for messages, family, language in zip(pool["messages"], pool["family"], pool["language"], strict=True):
        groups.setdefault((family, language), []).append(messages)
    keys = list(zip(dataset["family"], dataset["language"], strict=True))
    missing = sorted(set(keys) - set(groups))
    if missing:
        raise ValueError(f"the pool has no conversation of (family, language) {missing}; use the training split")
    shots = [rng.sample(groups[key], k) for key in keys]
    return lambda i: shots[i]


@torch.no_grad()
def generate_answers(model, tokenizer, prompts: list[str], max_new_tokens: int = 64, batch_size: int = 16,
                     progress: bool = False, stop_strings: list[str] | None = None) -> list[str]:
    """Greedy answers (prompt excluded, special tokens dropped, stripped) to already-templated prompts.

    Batches of similar lengths are padded on the LEFT, so every prompt ends where generation starts; inputs go
    to the model's device and the answers come back as Python strings. Stops at the tokenizer's EOS, or once the
    text generated so far contains one of stop_strings (the token that completes it is kept in the answer)."""
    from transformers import GenerationConfig

    if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
        raise TypeError("prompts must be a list of strings (templated with generation_prompts)")
    if stop_strings is not None and (isinstance(stop_strings, str) or not all(isinstance(x, str) and x
                                                                              for x in stop_strings)):
        raise TypeError(f"stop_strings must be a list of non-empty strings, got {stop_strings!r}")
    model.eval()
    device = model_device(model)
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))       # similar lengths, less padding
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=tokenizer.eos_token_id,
                              pad_token_id=tokenizer.pad_token_id, stop_strings=stop_strings)
    answers = [""] * len(prompts)
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    bar = progress_bar(len(prompts), desc="generating", disable=not progress)
    for batch in batches:
        longest = max(len(encoded[i]) for i in batch)
        input_ids = torch.full((len(batch), longest), tokenizer.pad_token_id, dtype=torch.long)   # (B, T)
        attention_mask = torch.zeros_like(input_ids)                                               # (B, T)
        for row, i in enumerate(batch):
            input_ids[row, longest - len(encoded[i]):] = torch.tensor(encoded[i])                  # left padding
            attention_mask[row, longest - len(encoded[i]):] = 1
        out = model.generate(**to_device({"input_ids": input_ids, "attention_mask": attention_mask}, device),
                             generation_config=config, tokenizer=tokenizer if stop_strings else None
                             ).cpu()                                         # (B, T + new tokens)
        for row, i in enumerate(batch):
            answers[i] = tokenizer.decode(out[row, longest:], skip_special_tokens=True).strip()
        bar.update(len(batch))
    bar.close()
    return answers


class Answers(list):
    """The answers (a list of strings, in the data set's order) with `seconds`: generation time per family."""

    seconds: dict


def answer_conversations(model, tokenizer, dataset, shots_for=None, batch_size: int = 16,
                         progress: bool = True) -> Answers:
    """Greedy answers to every conversation of an instruction split (its answers withheld), in its order; each
    family gets its own max_new_tokens (MAX_NEW_TOKENS), and its generation time is kept in answers.seconds."""
    answers, families = Answers([""] * len(dataset)), dataset["family"]
    answers.seconds = {}
    prompts = generation_prompts(tokenizer, dataset["messages"], shots_for)
    bar = progress_bar(len(dataset), desc="answering", disable=not progress)
    for family, limit in MAX_NEW_TOKENS.items():
        rows = [i for i, f in enumerate(families) if f == family]
        if not rows:
            continue
        with timed(model_device(model)) as clock:
            texts = generate_answers(model, tokenizer, [prompts[i] for i in rows], limit, batch_size)
        answers.seconds[family] = clock.seconds
        for i, text in zip(rows, texts, strict=True):
            answers[i] = text
        bar.update(len(rows))
    bar.close()
    return answers
