"""Instruction SFT (chapter 06), one job per module:

    chat.py       the chat template, cut into prompt and answer; labels on the answer only (equal to TRL's)
    batches.py    padded batches of conversations (padding never carries loss); each answer's loss and
                  log-probability; the most likely of several candidate answers
    generate.py   greedy answers, zero-shot or few-shot, batched with left padding
    constrained.py  entity answers that are valid JSON by construction (the code writes the skeleton)
    scores.py     entity F1 from JSON answers (strict or lenient parse), sentiment accuracy, ROUGE-L and chrF,
                  per family and language

    tokenized = tokenize_conversations(load_instructions(), tokenizer)    # input_ids, attention_mask, labels
    loader = make_instruction_loader(tokenized["train"], tokenizer, batch_size=8, shuffle=True)
    answers = answer_conversations(model, tokenizer, load_instructions()["test"])
    language_report(load_instructions()["test"], answers)                # scores per family × language

The fine-tuning recipe itself (model, LoRA adapter, config, loop) is written out in notebook 06.
Every name is importable from sftlab.instruct itself. Shapes (sftlab/__init__.py): B batch, T padded length.
"""

from sftlab.instruct.batches import (
    InstructionCollator,
    answer_logprobs,
    answer_losses,
    make_instruction_loader,
    most_likely_answers,
)
from sftlab.instruct.chat import (
    ROLES,
    split_conversation,
    to_prompt_completion,
    tokenize_conversation,
    tokenize_conversations,
)
from sftlab.instruct.constrained import json_by_construction, list_items
from sftlab.instruct.generate import (
    MAX_NEW_TOKENS,
    Answers,
    answer_conversations,
    few_shot_messages,
    few_shot_picker,
    generate_answers,
    generation_prompts,
)
from sftlab.instruct.scores import (
    ENTITY_TYPES,
    entities_answer,
    entity_f1_difference,
    entity_scores,
    entity_set,
    family_scores,
    first_json_object,
    language_report,
    normalise_label,
    parse_entities,
    sentiment_correct,
)

__all__ = [
    "ENTITY_TYPES", "MAX_NEW_TOKENS", "ROLES", "Answers", "InstructionCollator", "answer_conversations",
    "answer_logprobs", "answer_losses", "entities_answer", "entity_f1_difference", "entity_scores", "entity_set",
    "family_scores", "few_shot_messages", "few_shot_picker", "first_json_object", "generate_answers",
    "generation_prompts", "json_by_construction", "language_report", "list_items", "make_instruction_loader",
    "most_likely_answers", "normalise_label", "parse_entities", "sentiment_correct", "split_conversation",
    "to_prompt_completion", "tokenize_conversation", "tokenize_conversations",
]
