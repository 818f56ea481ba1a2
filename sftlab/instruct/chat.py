"""Instruction SFT, step 1: the chat template and labels on the answer only.

    prompt, answer = split_conversation(tokenizer, messages)             # the chat template's text, cut in two
    tokenized = tokenize_conversations(load_instructions(), tokenizer)    # input_ids, attention_mask, labels

The rule of instruction SFT: the model reads the whole conversation but is scored only on the assistant's
answer. Labels are -100 (no loss) on every token of the system and user turns, on the template's own tokens up
to the generation prompt `<|im_start|>assistant\\n`, and on padding; they equal the input ids on everything the
template writes after that prompt — the answer, its end-of-turn token `<|im_end|>` (without it the model never
learns to stop) and the template's newline after it. That is the completion of TRL's prompt–completion format;
tests/test_instruct.py checks our labels equal TRL's, example by example.

Shapes: T tokens of one conversation (the package legend, sftlab/__init__.py).
"""

from sftlab.batching import IGNORE_INDEX

ROLES = ("system", "user", "assistant")           # the roles of SmolLM2's (ChatML) template


def _check_messages(messages) -> None:
    if not isinstance(messages, list) or not all(isinstance(m, dict) and {"role", "content"} <= set(m)
                                                 for m in messages):
        raise TypeError(f"messages must be a list of {{'role', 'content'}} dicts, got {messages!r:.80}")
    for i, message in enumerate(messages):
        if message["role"] not in ROLES:
            raise ValueError(f"message {i} has role {message['role']!r}; expected one of {ROLES} "
                             "(the chat template's names: 'user', not 'human'; 'assistant', not 'bot' or 'gpt')")
        if not isinstance(message["content"], str):
            raise TypeError(f"message {i} ({message['role']}) has content {message['content']!r:.60}; expected a "
                            "string (an empty answer is \"\", not None)")
    if not messages or messages[-1]["role"] != "assistant":
        roles = [m["role"] for m in messages]
        raise ValueError(f"the last message must be the assistant's answer (the labels are its tokens); roles {roles}")


def split_conversation(tokenizer, messages) -> tuple[str, str]:
    """(prompt, answer): the chat template's text up to and including the generation prompt, and the rest.

    The prompt is what the model sees at inference (every message but the last, add_generation_prompt=True);
    the answer is what the template writes after it for the assistant's message."""
    _check_messages(messages)
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("the chat template does not render the prompt as a prefix of the whole conversation, so "
                         f"the answer cannot be cut from it; prompt ends {prompt[-40:]!r}, conversation {full!r:.80}")
    return prompt, full[len(prompt):]


def tokenize_conversation(tokenizer, messages, max_length: int | None = None, mask_prompt: bool = True) -> dict:
    """input_ids, attention_mask and labels (lists of length T ≤ max_length) of one conversation.

    labels: -100 on the prompt (mask_prompt=True), the input ids on the answer. Prompt and answer are tokenised
    apart, with no special tokens added (the template writes its own), so no token straddles the cut; the
    sequence is cut at max_length tokens from the start, as TRL's truncation_mode="keep_start" does."""
    if max_length is not None and (not isinstance(max_length, int) or max_length < 2):
        raise ValueError(f"max_length must be None or an int ≥ 2, got {max_length!r}")
    prompt, answer = split_conversation(tokenizer, messages)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    input_ids = (prompt_ids + answer_ids)[:max_length]
    labels = ([IGNORE_INDEX] * len(prompt_ids) if mask_prompt else prompt_ids) + answer_ids
    return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels[:max_length]}


def tokenize_conversations(dataset, tokenizer, max_length: int | None = None, mask_prompt: bool = True):
    """tokenize_conversation over the `messages` column of a Dataset (or every split of a DatasetDict); the other
    columns stay (id, family, language …), so scores can be grouped by them later."""
    columns = dataset.column_names
    columns = next(iter(columns.values())) if isinstance(columns, dict) else columns
    if "messages" not in columns:
        raise ValueError(f"the dataset needs a 'messages' column (load_instructions' schema), got {columns}")
    return dataset.map(lambda row: tokenize_conversation(tokenizer, row["messages"], max_length, mask_prompt))


def to_prompt_completion(row) -> dict:
    """A conversation in TRL's conversational prompt–completion format: every message but the last is the
    prompt, the assistant's answer is the completion (TRL then masks the prompt: completion_only_loss)."""
    _check_messages(row["messages"])
    return {"prompt": row["messages"][:-1], "completion": row["messages"][-1:]}
