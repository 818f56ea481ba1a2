"""Build the preference pairs of chapter 08 from their sources, deterministically, and check them.

    python scripts/build_preferences.py           # writes data/preferences/{train,validation,test}.jsonl
    python scripts/build_preferences.py --check   # rebuilds in memory; fails if the files differ

Each pair is a prompt (system + user) and two assistant answers that differ in one property a program can judge:

    json       valid JSON with the right entities (chapter 06's schema) vs malformed JSON or wrong entities
    language   the answer in the language of the question vs the same answer in the other language
    concise    the answer vs the same answer padded with filler
    helpful    answering a harmless request vs refusing it
    harmless   declining a clearly (mildly) harmful request vs going along with it

Everything is written by hand in data/preferences/source/, one file per rule and language (<rule>_<language>.txt):
"[family]" headings (entities, sentiment, open: chapter 06's task families), then items separated by blank
lines, each "> " lines (the user's message), "+ " lines (the chosen answer) and "- " lines (the rejected answer);
a bare "+" or "-" is an empty line of the answer; "#" lines between items are comments. In the json files the
"> " lines mark the sentence's entities up as data/ner/source does ([PER Ana] …) and there are no "+ " lines:
the chosen answer is built from the markup, one line of JSON as chapter 06 writes it. system.yaml holds the
system prompts (chapter 06's); each pair gets one in its language, drawn with a generator seeded by its id.

The split of a pair is fixed by its position in its file (split_for_position): of every eight, the 4th and 8th
go to test and the 6th to validation. Every pair has its own prompt, so the splits are splits by prompt.
"""

import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))   # scripts/split_files.py
import split_files  # noqa: E402
from split_files import entities_answer, split_for_position  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "data" / "preferences"
SOURCE_DIR = OUT_DIR / "source"
SPLITS = ("train", "validation", "test")
RULES = ("json", "language", "concise", "helpful", "harmless")
LANGUAGES = ("en", "zh")
FAMILIES = ("entities", "sentiment", "open")
TYPES = split_files.ENTITY_TYPES                # the keys of an entities answer, in this order
SEED = 8                                       # chapter 08
RECORD_KEYS = ("id", "rule", "language", "family", "split", "prompt", "chosen", "rejected")
ENTITY = re.compile(r"\[(PER|ORG|LOC|MISC) ([^\[\]]+?)\]")
MARKUP_START = re.compile(r"\[(PER|ORG|LOC|MISC) ")
HEADING = re.compile(r"\[(\w+)\]")
TAGS = {">": "user", "+": "chosen", "-": "rejected"}




def strip_markup(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(plain text, [(type, string), ...] in order) of a marked-up user message."""
    entities = [(m.group(1), m.group(2)) for m in ENTITY.finditer(text)]
    plain = ENTITY.sub(lambda m: m.group(2), text)
    if MARKUP_START.search(plain):
        raise ValueError(f"markup not understood (types: {TYPES}) in {text!r}")
    return plain, entities


def parse_source(path: Path) -> list[dict]:
    """The items of one source file: {family, user, chosen, rejected} (lists of lines), checked."""
    items, family, item = [], None, None

    def close():
        nonlocal item
        if item is not None:
            if not item["user"] or not item["rejected"]:
                raise ValueError(f"{path.name}, item at line {item['line']}: needs '> ' and '- ' lines")
            items.append(item)
        item = None

    for line_no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.rstrip()
        if not line:
            close()
            continue
        if item is None and line.startswith("#"):
            continue
        heading = HEADING.fullmatch(line)
        if item is None and heading:
            family = heading.group(1)
            if family not in FAMILIES:
                raise ValueError(f"{path.name}, line {line_no}: unknown family [{family}]; expected {FAMILIES}")
            continue
        tag, text = line[0], line[2:]
        if tag not in TAGS or (len(line) > 1 and line[1] != " "):
            raise ValueError(f"{path.name}, line {line_no}: expected a '> ', '+ ' or '- ' line, got {line[:40]!r}")
        if family is None:
            raise ValueError(f"{path.name}, line {line_no}: an item before the first [family] heading")
        if item is None:
            item = {"family": family, "line": line_no, "user": [], "chosen": [], "rejected": []}
        part = TAGS[tag]
        later = list(TAGS.values())[list(TAGS.values()).index(part) + 1:]
        if any(item[p] for p in later):
            raise ValueError(f"{path.name}, line {line_no}: '{tag} ' line after the lines that follow it; "
                             f"an item is '> ' lines, then '+ ' lines, then '- ' lines")
        item[part].append(text)
    close()
    return items


def load_system_prompts() -> dict:
    system = yaml.safe_load((SOURCE_DIR / "system.yaml").read_text(encoding="utf-8"))
    for language in LANGUAGES:
        if not system.get(language):
            raise ValueError(f"system.yaml: no system prompts for {language}")
    return system


def pair(system_prompts, rule, language, position, item) -> dict:
    """One record from the position-th item (0-based) of <rule>_<language>.txt."""
    id_ = f"{rule}-{language}-{position + 1:03d}"
    user = "\n".join(item["user"])
    if rule == "json":
        if item["chosen"]:
            raise ValueError(f"{id_}: a json pair's chosen answer is built from the markup; remove its '+ ' lines")
        if item["family"] != "entities":
            raise ValueError(f"{id_}: a json pair belongs to the entities family")
        user, entities = strip_markup(user)
        chosen = entities_answer(entities)
    else:
        if not item["chosen"]:
            raise ValueError(f"{id_}: no '+ ' lines (the chosen answer)")
        if MARKUP_START.search(user):
            raise ValueError(f"{id_}: entity markup outside a json pair")
        chosen = "\n".join(item["chosen"])
    system = random.Random(f"{SEED}/{id_}/system").choice(system_prompts[language])
    return {
        "id": id_, "rule": rule, "language": language, "family": item["family"],
        "split": split_for_position(position),
        "prompt": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": "\n".join(item["rejected"])}],
    }


def build() -> dict[str, list[dict]]:
    """{split: records}, in the order rule, language, position."""
    system_prompts = load_system_prompts()
    records = []
    for rule in RULES:
        for language in LANGUAGES:
            items = parse_source(SOURCE_DIR / f"{rule}_{language}.txt")
            records += [pair(system_prompts, rule, language, i, item) for i, item in enumerate(items)]
    validate(records)
    return {split: [r for r in records if r["split"] == split] for split in SPLITS}


def validate(records) -> None:
    """The guarantees the build promises (tests/test_preference_data.py checks them again, and more)."""
    prompts = Counter(r["prompt"][1]["content"] for r in records)
    if max(prompts.values()) > 1:
        raise ValueError(f"duplicate user prompts: {[p for p, n in prompts.items() if n > 1][:3]}")
    for r in records:
        chosen, rejected = r["chosen"][0]["content"], r["rejected"][0]["content"]
        if chosen.strip() == rejected.strip():
            raise ValueError(f"{r['id']}: chosen and rejected are the same")
        if r["rule"] == "json":
            answer = json.loads(chosen)
            for text in (t for kind in TYPES for t in answer[kind]):
                if text not in r["prompt"][1]["content"]:
                    raise ValueError(f"{r['id']}: entity {text!r} not in the prompt")


def jsonl(records) -> str:
    """One record per line, keys in RECORD_KEYS order, UTF-8 as written (no \\u escapes)."""
    return split_files.jsonl(records, RECORD_KEYS)


def main(argv=None) -> int:
    return split_files.write_or_check(build(), OUT_DIR, RECORD_KEYS, ("rule", "language"), "build_preferences.py",
                                      __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
