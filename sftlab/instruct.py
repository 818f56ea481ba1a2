"""Instruction SFT (chapter 06): chat templates, labels on the answer only, batching, generation, task scores.

    prompt, answer = split_conversation(tokenizer, messages)             # the chat template's text, cut in two
    tokenized = tokenize_conversations(load_instructions(), tokenizer)    # input_ids, attention_mask, labels
    loader = make_instruction_loader(tokenized["train"], tokenizer, batch_size=8, shuffle=True)
    answers = answer_conversations(model, tokenizer, load_instructions()["test"])   # batched greedy decoding
    language_report(load_instructions()["test"], answers)                # scores per family × language

Shapes: B batch, T padded length (the package legend, sftlab/__init__.py).

The rule of instruction SFT: the model reads the whole conversation but is scored only on the assistant's
answer. Labels are -100 (no loss) on every token of the system and user turns, on the template's own tokens up
to the generation prompt `<|im_start|>assistant\\n`, and on padding; they equal the input ids on everything the
template writes after that prompt — the answer, its end-of-turn token `<|im_end|>` (without it the model never
learns to stop) and the template's newline after it. That is the completion of TRL's prompt–completion format;
tests/test_instruct.py checks our labels equal TRL's, example by example.
"""

import json
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from sftlab import batching
from sftlab.batching import IGNORE_INDEX
from sftlab.devices import model_device, timed, to_device
from sftlab.progress import progress_bar

ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")          # the keys of every entities answer, in this order
MAX_NEW_TOKENS = {"entities": 72, "sentiment": 6, "open": 48}   # ≥ the longest answer + 1; open answers cut at 48


# ---------------------------------------------------------------- chat template and labels


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


def first_per_group(dataset, sizes: dict):
    """The first sizes[family] conversations of each family in each language, in the split's order (None: all):
    a fixed, stratified sample, e.g. to evaluate generation on a CPU budget."""
    unknown = set(sizes) - set(dataset["family"])
    if unknown:
        raise ValueError(f"sizes names families {sorted(unknown)} that the split does not have")
    taken, rows = {}, []
    for i, (family, language) in enumerate(zip(dataset["family"], dataset["language"], strict=True)):
        limit = sizes.get(family, 0)
        if limit is None or taken.get((family, language), 0) < limit:
            taken[(family, language)] = taken.get((family, language), 0) + 1
            rows.append(i)
    return dataset.select(rows)


def to_prompt_completion(row) -> dict:
    """A conversation in TRL's conversational prompt–completion format: every message but the last is the
    prompt, the assistant's answer is the completion (TRL then masks the prompt: completion_only_loss)."""
    _check_messages(row["messages"])
    return {"prompt": row["messages"][:-1], "completion": row["messages"][-1:]}


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
def answer_losses(model, loader) -> list[float]:
    """Each example's mean negative log-likelihood per answer token (teacher forcing: the model reads the true
    answer so far), in the loader's order; a cheap held-out score that needs no generation."""
    model.eval()
    device, losses = model_device(model), []
    for batch in loader:
        batch = to_device(batch, device)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
        targets = batch["labels"][:, 1:]                                     # (B, T-1): position t predicts t + 1
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), targets,
                                                ignore_index=IGNORE_INDEX, reduction="none")   # (B, T-1)
        counted = (targets != IGNORE_INDEX).sum(dim=1).clamp(min=1)
        losses += (nll.sum(dim=1) / counted).cpu().tolist()
    return losses


# ---------------------------------------------------------------- prompts and generation


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
                     progress: bool = False) -> list[str]:
    """Greedy answers (prompt excluded, special tokens dropped, stripped) to already-templated prompts.

    Batches of similar lengths are padded on the LEFT, so every prompt ends where generation starts; inputs go
    to the model's device and the answers come back as Python strings. Stops at the tokenizer's EOS."""
    from transformers import GenerationConfig

    if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
        raise TypeError("prompts must be a list of strings (templated with generation_prompts)")
    model.eval()
    device = model_device(model)
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))       # similar lengths, less padding
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=tokenizer.eos_token_id,
                              pad_token_id=tokenizer.pad_token_id)
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
                             generation_config=config).cpu()                 # (B, T + new tokens)
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


# ---------------------------------------------------------------- scores


def parse_entities(text: str) -> dict | None:
    """The answer as {type: [strings]} if it is a JSON object, else None (invalid JSON scores zero). Keys other
    than ENTITY_TYPES are ignored, a missing type counts as no entity, non-string items are dropped."""
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    if not isinstance(parsed, dict):
        return None
    return {t: [s for s in parsed.get(t, []) if isinstance(s, str)] if isinstance(parsed.get(t), list) else []
            for t in ENTITY_TYPES}


def entity_set(parsed: dict | None) -> set[tuple[str, str]]:
    """{(type, text)} of a parsed answer, whitespace ignored ("Ghana 's" = "Ghana's"); empty for None."""
    if parsed is None:
        return set()
    return {(t, "".join(s.split())) for t in ENTITY_TYPES for s in parsed.get(t, []) if s.strip()}


def entity_scores(predictions: list[str], references: list[str]) -> dict:
    """Micro precision, recall and F1 over the (type, text) pairs of every sentence, from the answers' JSON
    (an invalid answer predicts nothing), and valid_json, the share of answers that parse."""
    if len(predictions) != len(references) or not references:
        raise ValueError(f"need as many predictions as references (≥ 1), got {len(predictions)} and {len(references)}")
    parsed = [parse_entities(p) for p in predictions]
    true_positives = predicted = gold = 0
    for guess, reference in zip(parsed, references, strict=True):
        wanted = entity_set(parse_entities(reference))
        found = entity_set(guess)
        true_positives += len(found & wanted)
        predicted, gold = predicted + len(found), gold + len(wanted)
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    valid = sum(p is not None for p in parsed) / len(parsed)
    return {"precision": precision, "recall": recall, "f1": f1, "valid_json": valid}


def normalise_label(text: str) -> str:
    """A one-word answer as compared: stripped, lower case, without closing punctuation ("Positive." → "positive")."""
    return text.strip().lower().rstrip(".。!！ ")


def sentiment_correct(predictions: list[str], references: list[str]) -> list[bool]:
    """Exact match of each normalised answer with its reference label ("positive", "负面" …)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    return [normalise_label(p) == normalise_label(r) for p, r in zip(predictions, references, strict=True)]


def family_scores(family: str, predictions: list[str], references: list[str]) -> dict:
    """The scores of one family: entities → F1 and valid JSON; sentiment → accuracy; open → ROUGE-L and chrF."""
    from sftlab.text_metrics import chrf, mean_rouge_l

    if family == "entities":
        scores = entity_scores(predictions, references)
        return {"entity F1": scores["f1"], "valid JSON": scores["valid_json"]}
    if family == "sentiment":
        correct = sentiment_correct(predictions, references)
        return {"sentiment accuracy": sum(correct) / len(correct)}
    if family == "open":
        return {"ROUGE-L": mean_rouge_l(predictions, references), "chrF": chrf(predictions, references)}
    raise ValueError(f"unknown family {family!r}; expected entities, sentiment or open")


def language_report(dataset, answers: list[str]):
    """A DataFrame of every family's scores, one row per language and one for all: the per-language report."""
    import pandas as pd

    if len(answers) != len(dataset):
        raise ValueError(f"{len(answers)} answers for {len(dataset)} conversations")
    rows = {}
    for language in [*sorted(set(dataset["language"])), "all"]:
        row = {}
        for family in ("entities", "sentiment", "open"):
            picked = [i for i, (f, lang) in enumerate(zip(dataset["family"], dataset["language"], strict=True))
                      if f == family and language in (lang, "all")]
            if picked:
                references = [dataset["reference"][i] for i in picked]
                row.update(family_scores(family, [answers[i] for i in picked], references))
        rows[language] = row
    return pd.DataFrame(rows).T


# ---------------------------------------------------------------- cost


def trainable_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts; tied weights count once (model.parameters() yields a shared tensor
    once)."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def _resident_bytes() -> int:
    """This process's resident memory now (Linux /proc; 0 where it does not exist)."""
    import os

    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@contextmanager
def peak_memory(device="cpu", interval_s: float = 0.005):
    """Measure the peak extra memory of a block in bytes (`meter.peak_bytes`) and its seconds: on a GPU torch's
    peak allocation; on the CPU the process's resident memory, sampled every interval_s in a thread."""
    import threading

    class Meter:
        peak_bytes, seconds = 0, 0.0

    meter, device = Meter(), torch.device(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
    else:
        start, highest, done = _resident_bytes(), [_resident_bytes()], threading.Event()

        def sample():
            while not done.wait(interval_s):
                highest[0] = max(highest[0], _resident_bytes())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    try:
        with timed(device) as clock:      # synchronised before both clock readings
            yield meter
    finally:
        meter.seconds = clock.seconds
        if device.type == "cuda":
            meter.peak_bytes = torch.cuda.max_memory_allocated(device) - start
        else:
            done.set()
            sampler.join()
            meter.peak_bytes = max(highest[0], _resident_bytes()) - start


def train_and_measure(model, loader, config):
    """sftlab.training.train(model, loader, config=config) with its cost: (history, seconds per optimizer step,
    peak extra memory in bytes — see peak_memory)."""
    from sftlab.training import train

    with peak_memory(model_device(model)) as meter:
        history = train(model, loader, config=config)
    return history, meter.seconds / max(len(history.steps), 1), meter.peak_bytes


# ---------------------------------------------------------------- runs and baselines


@dataclass
class Run:
    """One fine-tuning run of the chat LM and what it cost."""

    name: str
    trainable: int                 # parameters trained
    total: int                     # parameters in the model (adapters included)
    seconds_per_step: float
    peak_bytes: int                # peak extra memory while training (peak_memory)
    val_losses: list               # answer-token NLL of each validation conversation (answer_losses)
    history: object                # sftlab.training.History


def fine_tune_run(name: str, conversations, tokenizer, val_loader, rank: int | None = 16, mask_prompt: bool = True,
                  learning_rate: float = 1e-3, epochs: int = 1, batch_size: int = 4, seed: int = 0) -> Run:
    """Fine-tune a fresh copy of the profile's chat LM on `conversations` — LoRA of this rank (alpha = 2·rank) on
    every linear layer, or every weight when rank is None — then score val_loader's answers (answer_losses)."""
    import contextlib
    import io

    from peft import LoraConfig, get_peft_model

    from sftlab.models import load_chat_lm
    from sftlab.training import TrainingConfig, seed_everything

    seed_everything(seed)
    with contextlib.redirect_stdout(io.StringIO()):          # the load report, once per run, is noise here
        _, model = load_chat_lm()
    if rank is not None:
        model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0,
                                                 target_modules="all-linear", task_type="CAUSAL_LM"))
    tokenized = tokenize_conversations(conversations, tokenizer, mask_prompt=mask_prompt)
    loader = make_instruction_loader(tokenized, tokenizer, batch_size, shuffle=True, seed=seed)
    config = TrainingConfig(learning_rate=learning_rate, epochs=epochs, warmup_ratio=0.1, seed=seed, progress=False)
    history, seconds_per_step, peak_bytes = train_and_measure(model, loader, config)
    return Run(name, *trainable_parameters(model), seconds_per_step, peak_bytes, answer_losses(model, val_loader),
               history)


_CONLL_CACHE: dict = {}


def source_text(source: str) -> str:
    """The sentence an English derived item was made from ("ner/test.conll#3", "sentiment/apps.jsonl#94": file
    and 1-based sentence or line in data/): CoNLL tokens joined by spaces, or the review's text."""
    from sftlab.course import data_dir
    from sftlab.data import read_conll

    path, _, number = source.partition("#")
    if not number.isdigit() or not path.startswith(("ner/", "sentiment/")):
        raise ValueError(f"source {source!r} is not a derived item's ('ner/<split>.conll#N' or "
                         f"'sentiment/<domain>.jsonl#N')")
    if path.startswith("ner/"):
        if path not in _CONLL_CACHE:
            _CONLL_CACHE[path] = read_conll(data_dir() / path)
        return " ".join(_CONLL_CACHE[path][int(number) - 1]["tokens"])
    line = (data_dir() / path).read_text(encoding="utf-8").splitlines()[int(number) - 1]
    return json.loads(line)["text"]


def entities_answer(entities) -> str:
    """An encoder's predicted entities (objects with .type and .text, as sftlab.ner.predict_entities gives) written
    as the entities family's JSON answer, so the same entity_scores judge both models."""
    answer = {t: [] for t in ENTITY_TYPES}
    for entity in entities:
        if entity.type in answer and entity.text not in answer[entity.type]:
            answer[entity.type].append(entity.text)
    return json.dumps(answer, ensure_ascii=False)
