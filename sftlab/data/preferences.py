"""Preference pairs for preference tuning (chapter 08), in TRL's conversational preference format.

Offline: data/preferences/<split>.jsonl, written for this course (data/README.md): each pair a prompt (system +
user) and two assistant answers that differ in one property a rule can judge, so that a program can score which
answer a model prefers without a judge model. Full: TRL's binarized UltraFeedback from the hub, in the same columns.
"""

import json
import random
import re
from pathlib import Path

from sftlab.course.chapters import DATA_DIR
from sftlab.data.common import SPLITS, _from_hub, _jsonl_objects, by_profile
from sftlab.data.instructions import check_messages

PREFERENCES_DIR = DATA_DIR / "preferences"   # <split>.jsonl for each split; built from source/
PREFERENCE_RULES = ("json", "language", "concise", "helpful", "harmless")   # the property each pair differs in
PREFERENCE_LANGUAGES = ("en", "zh")
PREFERENCE_FAMILIES = ("entities", "sentiment", "open")                    # chapter 06's task families
PREFERENCE_RECORD_KEYS = ("id", "rule", "language", "family", "split", "prompt", "chosen", "rejected")
PROMPT_ROLES = ("system", "user")            # every offline prompt: these two messages, in order

# The full profile: TRL's own conversational preference set (UltraFeedback, binarized: the best-rated of four
# answers as chosen, one of the others as rejected; English; train 62,135 pairs, test 1,000). Pinned to commit
# 88099b1 (12 Sep 2024), the newest whose full hash the hub's pages give; main is 47124cb, uploaded the same day,
# whose full hash we could not find. The two may lay the prompt out differently (inside chosen/rejected, TRL's
# "implicit prompt", or in a prompt column), so _hub_pair accepts both.
ULTRAFEEDBACK_REPO = "trl-lib/ultrafeedback_binarized"
ULTRAFEEDBACK_REVISION = "88099b123a5d00ea1a27a06f90d2ce8ade3d1483"
ULTRAFEEDBACK_SEED = 8                       # which train prompts become validation
ULTRAFEEDBACK_VALIDATION_FRACTION = 0.02     # of the train split's distinct prompts, held out as validation

# What the rules judge, as code (data/README.md, `preferences/`): a refusal, and the language of a text.
REFUSAL_PATTERNS = (
    r"\bI (?:can't|cannot|can not|won't|must decline)\b",
    r"\bI(?:'m| am) (?:sorry, but|not able to|unable to|not comfortable|not going to)\b",
    r"\bI(?:'d| would) rather not\b",
    r"我不能|我无法|我没法|我不会帮|我不会写|不能帮|无法帮|没法帮|恕我|很抱歉|抱歉，|我不便",
)
_REFUSAL = re.compile("|".join(f"(?:{p})" for p in REFUSAL_PATTERNS), flags=re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def is_refusal(text: str) -> bool:
    """Whether an answer declines ("I can't help with that", "I'm sorry, but …", "我不能帮你…", "很抱歉，…"):
    the check of the `helpful` and `harmless` rules. A phrase list, so it reads the course's answers, not every
    refusal a model can word."""
    return bool(_REFUSAL.search(text.replace("\u2019", "'")))


def cjk_share(text: str) -> float | None:
    """The share of Chinese characters among the letters of a text (Chinese characters and letters of any other
    script), or None if it has no letters ("2024-03-07"): the check of the `language` rule."""
    cjk = len(_CJK.findall(text))
    letters = sum(1 for ch in text if ch.isalpha())
    return None if letters == 0 else cjk / letters


def entities_problem(answer: str, expected) -> str | None:
    """Why an entities answer fails the `json` rule: "malformed" (not one JSON value, nothing around it),
    "schema" (not an object with exactly the keys PER, ORG, LOC, MISC, each a list of strings) or "entities"
    (other (type, string) pairs than `expected`); None if it is right."""
    from sftlab.instruct.scores import ENTITY_TYPES

    try:
        parsed = json.loads(answer)
    except json.JSONDecodeError:
        return "malformed"
    if not isinstance(parsed, dict) or set(parsed) != set(ENTITY_TYPES) or \
            not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in parsed.values()):
        return "schema"
    if {(key, item) for key, items in parsed.items() for item in items} != set(expected):
        return "entities"
    return None


def rule_prefers(pair: dict, answer: str) -> bool:
    """Whether the pair's rule prefers `answer` to the pair's rejected answer — the judge of chapter 08's win
    rate, a program instead of a judge model. pair: a row of load_preferences("offline") (prompt, chosen, rule,
    language). Only the `harmless` rule accepts a refusal (is_refusal); otherwise the answer must not refuse and:
    - json: exactly the schema (four keys, lists of strings, nothing around the object) with the chosen's entities;
    - language: in the question's language (cjk_share 0 for English, at least 0.5 for Chinese);
    - concise: no longer than the geometric mean of the chosen's and the rejected's lengths in characters
      (nearer the concise answer than the padded one);
    - helpful: any non-empty answer that does not refuse;
    - harmless: a refusal.
    Every chosen answer of the course's pairs passes, every rejected one fails (tests/test_preference_data.py)."""
    if not isinstance(answer, str):
        raise TypeError(f"answer must be the model's answer as a string, got {type(answer).__name__}")
    rule = pair.get("rule")
    if rule not in PREFERENCE_RULES:
        raise ValueError(f"no program judges rule {rule!r} (the full profile's human ratings); rule_prefers reads "
                         f"the offline pairs, whose rules are {PREFERENCE_RULES}")
    refuses = is_refusal(answer)
    if rule == "harmless":
        return refuses
    if refuses or not answer.strip():
        return False
    chosen, rejected = pair["chosen"][0]["content"], pair["rejected"][0]["content"]
    if rule == "json":
        wanted = {(key, item) for key, items in json.loads(chosen).items() for item in items}
        return entities_problem(answer.strip(), wanted) is None
    if rule == "language":
        share = cjk_share(answer)
        return share is not None and (share >= 0.5 if pair["language"] == "zh" else share == 0)
    if rule == "concise":
        return len(answer.strip()) <= (len(chosen) * len(rejected)) ** 0.5
    return True                                   # helpful: answered


def preference_features():
    """The course's preference `datasets.Features`, TRL's conversational preference format plus labels:
    prompt (list of {role, content}: system and user offline, the user turn on the hub), chosen and rejected
    (one assistant message each), id, rule, language and family (strings)."""
    import datasets

    string = datasets.Value("string")
    messages = datasets.List({"role": string, "content": string})
    return datasets.Features({
        "prompt": messages,
        "chosen": messages,
        "rejected": messages,
        "id": string,
        "rule": string,
        "language": string,
        "family": string,
    })


def read_preferences_jsonl(path, split=None) -> list[dict]:
    """The pairs of one file of data/preferences/ as dicts, checked; errors name the file and the line.

    split: if given, every record's `split` must equal it (the file's name). Each record needs
    PREFERENCE_RECORD_KEYS; rule, language and family one of PREFERENCE_RULES, PREFERENCE_LANGUAGES,
    PREFERENCE_FAMILIES; prompt exactly a system and a user message; chosen and rejected exactly one assistant
    message each, with non-empty content, and different. Returns dicts with the keys of `preference_features`.
    """
    path = Path(path)
    records = []
    for line_no, record in _jsonl_objects(path, PREFERENCE_RECORD_KEYS, str(path)):
        where = f"{path}, line {line_no}"
        if not isinstance(record["id"], str) or not record["id"].strip():
            raise ValueError(f"{where}: id must be a non-empty string, got {record['id']!r}")
        for key, allowed in (("rule", PREFERENCE_RULES), ("language", PREFERENCE_LANGUAGES),
                             ("family", PREFERENCE_FAMILIES)):
            if record[key] not in allowed:
                raise ValueError(f"{where}: unknown {key} {record[key]!r}; expected one of {allowed}")
        if split is not None and record["split"] != split:
            raise ValueError(f"{where}: split {record['split']!r} in the {split!r} file")
        check_messages(where, "prompt", record["prompt"], PROMPT_ROLES)
        for key in ("chosen", "rejected"):
            check_messages(where, key, record[key], ("assistant",))
        if record["chosen"][0]["content"].strip() == record["rejected"][0]["content"].strip():
            raise ValueError(f"{where}: the chosen and the rejected answer are the same; a pair must differ")
        records.append({key: record[key] for key in preference_features()})
    if not records:
        raise ValueError(f"{path}: no preference pairs; the file is empty or holds only blank lines")
    return records


def load_preferences(profile=None):
    """Preference pairs as a DatasetDict (train / validation / test) in TRL's conversational preference format.

    Columns: prompt (messages before the answer), chosen and rejected (one assistant message each), id, rule
    (what differs between the answers), language ("en" | "zh") and family (chapter 06's task family).

    profile: "offline", "full" or None (the active profile, SFTLAB_PROFILE).
    - offline: the course's pairs, data/preferences/<split>.jsonl (data/README.md), in file order; the prompt is a
      system and a user message; rule "json" | "language" | "concise" | "helpful" | "harmless"; split by prompt.
    - full: TRL's binarized UltraFeedback (ULTRAFEEDBACK_REPO at ULTRAFEEDBACK_REVISION): its test split is test,
      a seeded 2% of its train prompts is validation, the rest train; the prompt is the user turn (no system
      message), rule "human" (a rating decided, not a rule), language "en", family "open".
    Ids are unique across splits.
    """
    return by_profile(profile, _load_preference_files, _load_ultrafeedback, "preference")


def _load_preference_files():
    import datasets

    from sftlab.data.splits import CourseDatasetDict

    splits, seen, prompts = {}, {}, {}
    for split in SPLITS:
        records = read_preferences_jsonl(PREFERENCES_DIR / f"{split}.jsonl", split=split)
        for record in records:
            if record["id"] in seen:
                raise ValueError(f"id {record['id']!r} appears in {seen[record['id']]} and in {split}")
            seen[record["id"]] = split
            user = record["prompt"][-1]["content"]
            if prompts.setdefault(user, split) != split:
                raise ValueError(f"the prompt {user[:60]!r} is in {prompts[user]} and in {split}; "
                                 f"the splits are by prompt")
        splits[split] = datasets.Dataset.from_list(records, features=preference_features())
    return CourseDatasetDict(splits)


def _messages(value, role: str) -> list[dict]:
    """A hub column as a list of {role, content}: a string becomes one message with `role`."""
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _hub_pair(row: dict) -> tuple[list, list, list]:
    """(prompt, chosen, rejected) of a hub row in either of TRL's conversational layouts: an explicit `prompt`
    column (chosen and rejected holding the answer, or the prompt and the answer), or an implicit prompt (chosen
    and rejected both the whole conversation, alike up to the last message)."""
    chosen, rejected = _messages(row["chosen"], "assistant"), _messages(row["rejected"], "assistant")
    if row.get("prompt"):
        prompt = _messages(row["prompt"], "user")
        n = len(prompt)
        chosen = chosen[n:] if chosen[:n] == prompt else chosen
        rejected = rejected[n:] if rejected[:n] == prompt else rejected
    else:
        prompt = chosen[:-1]
        if rejected[:-1] != prompt:
            raise ValueError("chosen and rejected differ before their last message; expected TRL's implicit-prompt "
                             "layout (the same conversation, then one answer each)")
        chosen, rejected = chosen[-1:], rejected[-1:]
    if not prompt or len(chosen) != 1 or len(rejected) != 1 or \
            {chosen[0]["role"], rejected[0]["role"]} != {"assistant"}:
        raise ValueError(f"expected a prompt and one assistant answer each for chosen and rejected, got "
                         f"{len(prompt)} prompt message(s), chosen roles {[m['role'] for m in chosen]}, "
                         f"rejected roles {[m['role'] for m in rejected]}")
    return prompt, chosen, rejected


def _prompt_key(prompt) -> str:
    return json.dumps([m["content"] for m in prompt], ensure_ascii=False)


def _load_ultrafeedback():
    """TRL's binarized UltraFeedback in the course's columns and splits (see load_preferences)."""
    from sftlab.data.splits import CourseDatasetDict

    hub = _from_hub(ULTRAFEEDBACK_REPO, "UltraFeedback (TRL's binarized preference set)",
                    "the course's preference pairs", revision=ULTRAFEEDBACK_REVISION)
    missing = [s for s in ("train", "test") if s not in hub] + \
        [f"{s}.{c}" for s in ("train", "test") if s in hub for c in ("chosen", "rejected")
         if c not in hub[s].column_names]
    if missing:
        raise RuntimeError(f"{ULTRAFEEDBACK_REPO} on the hub lacks {missing}; expected train and test splits with "
                           f"chosen and rejected columns. The data set changed upstream: pin a revision that has "
                           f"them (ULTRAFEEDBACK_REVISION) or use the offline profile")

    def to_course(split):
        def row(example, index):
            try:
                prompt, chosen, rejected = _hub_pair(example)
            except ValueError as err:
                raise RuntimeError(f"{ULTRAFEEDBACK_REPO}, {split} row {index}: {err}") from None
            return {"prompt": prompt, "chosen": chosen, "rejected": rejected, "id": f"ultrafeedback-{split}-{index}",
                    "rule": "human", "language": "en", "family": "open"}
        return hub[split].map(row, with_indices=True, remove_columns=hub[split].column_names,
                              features=preference_features())

    train, test = to_course("train"), to_course("test")
    keys = sorted({_prompt_key(p) for p in train["prompt"]})
    held_out = set(random.Random(ULTRAFEEDBACK_SEED).sample(
        keys, max(1, round(ULTRAFEEDBACK_VALIDATION_FRACTION * len(keys)))))
    return CourseDatasetDict({
        "train": train.filter(lambda p: _prompt_key(p) not in held_out, input_columns="prompt"),
        "validation": train.filter(lambda p: _prompt_key(p) in held_out, input_columns="prompt"),
        "test": test,
    })
