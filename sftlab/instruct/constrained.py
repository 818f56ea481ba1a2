"""Instruction SFT without training the format: entity answers that are valid JSON by construction.

    answers = json_by_construction(model, tokenizer, generation_prompts(tokenizer, test["messages"]))

The code writes the skeleton {"PER": [ … ], "ORG": [ … ], "LOC": [ … ], "MISC": [ … ]}; the model only fills each
list, one key at a time, reading the keys and lists filled so far — the simplest form of constrained decoding
(libraries such as Outlines or XGrammar mask the logits with a grammar instead, token by token).
"""

import json
import re

from sftlab.instruct.generate import generate_answers
from sftlab.instruct.scores import ENTITY_TYPES

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')      # one complete JSON string, escapes allowed


def list_items(text: str) -> list[str]:
    """The strings of a JSON list's body as the model wrote it (the text before its closing "]"): the complete
    quoted strings, in order, without duplicates; anything else (numbers, a string cut off by the token cap) is
    dropped."""
    body = text.split("]", 1)[0]
    items = []
    for match in _QUOTED.finditer(body):
        try:
            item = json.loads(f'"{match.group(1)}"').strip()
        except json.JSONDecodeError:
            continue
        if item and item not in items:
            items.append(item)
    return items


def json_by_construction(model, tokenizer, prompts: list[str], keys=ENTITY_TYPES, max_new_tokens: int = 24,
                         batch_size: int = 32) -> list[str]:
    """An answer {key: [strings], …} for each templated prompt (it ends with the generation prompt), valid JSON
    whatever the model writes: for each key in turn the answer so far — '{"PER": ["Ann"], "ORG": [' — is
    appended to the prompt and the model writes the list's items, up to "]" or max_new_tokens (greedy)."""
    if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
        raise TypeError("prompts must be a list of strings (templated with generation_prompts)")
    if isinstance(keys, str) or not keys:
        raise ValueError(f"keys must be a non-empty sequence of key names, got {keys!r}")
    filled = [{} for _ in prompts]
    for key in keys:
        openings = [prompt + _opening(answer, key) for prompt, answer in zip(prompts, filled, strict=True)]
        lists = generate_answers(model, tokenizer, openings, max_new_tokens, batch_size, stop_strings=["]"])
        for answer, text in zip(filled, lists, strict=True):
            answer[key] = list_items(text)
    return [json.dumps(answer, ensure_ascii=False) for answer in filled]


def _opening(answer: dict, key: str) -> str:
    """The JSON text of the answer so far, ending with the opening of key's list: '{"PER": ["Ann"], "ORG": ['."""
    so_far = json.dumps(answer, ensure_ascii=False)[:-1]             # without the closing brace
    return so_far + (", " if answer else "") + json.dumps(key, ensure_ascii=False) + ": ["
