"""Build the instruction-tuning set of chapter 06 from its sources, deterministically, and check it.

    python scripts/build_instructions.py           # writes data/instructions/{train,validation,test}.jsonl
    python scripts/build_instructions.py --check   # rebuilds in memory; fails if the files differ

Three families of chat conversations (system, user, assistant), each with an answer that can be checked:

    entities   entity extraction; the answer is one line of JSON: {"PER": [...], "ORG": [...], "LOC": [...],
               "MISC": [...]}
    sentiment  a one-word label: positive / negative (English), 正面 / 负面 (Chinese)
    open       short written instructions (rewrite, summarise, explain, format, grammar, translate) with a reference

English `entities` and `sentiment` items are derived from the course's NER and sentiment sets, each from the
same split as the item itself (test from test only). Everything else is written in data/instructions/source/:

    phrasings.yaml      the user phrasings of the derived families and the system prompts ({text} = the sentence)
    entities_zh.txt     Chinese sentences with their entities marked up: [PER 陈思远]在[LOC 绍兴市]…
    reviews_zh.jsonl    Chinese reviews: {"text": ..., "label": "pos" | "neg"}
    open_en.txt         open instructions and reference answers; "[kind]" headings, "> " user lines, "= " answer lines
    open_zh.txt         the same in Chinese

The split of a written item is fixed by its position (split_for_position): of every eight items, in file order
(per label for reviews, per kind for open instructions), the 4th and 8th go to test and the 6th to validation.
The phrasing and the system prompt of each conversation are drawn with a generator seeded by its id.
"""

import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from sftlab.data import entity_spans, read_conll  # noqa: E402 (after the path is set)

sys.path.insert(0, str(Path(__file__).resolve().parent))   # scripts/split_files.py
import split_files  # noqa: E402
from split_files import entities_answer, split_for_position  # noqa: E402

DATA_DIR = REPO_ROOT / "data"
OUT_DIR = DATA_DIR / "instructions"
SOURCE_DIR = OUT_DIR / "source"
NER_SOURCE_DIR = DATA_DIR / "ner" / "source"   # the NER sentences as written (plain text + markup)
SPLITS = ("train", "validation", "test")
TYPES = split_files.ENTITY_TYPES                # the keys of an entities answer, in this order
SEED = 6                                       # chapter 06
KINDS = ("rewrite", "summarise", "explain", "format", "grammar", "translate")
SENTIMENT_WORDS = {"en": {"pos": "positive", "neg": "negative"}, "zh": {"pos": "正面", "neg": "负面"}}
MIN_PHRASINGS = {"en": 25, "zh": 15}           # distinct user phrasings per derived family and language
NEAR_DUPLICATE_JACCARD = 0.6                   # n-gram Jaccard at or above this: two prompts are the same

# How many English items each split draws from the course's sets (the Chinese ones are all used).
ENGLISH_ENTITIES = {"train": 320, "validation": 40, "test": 50}   # of 888 / 162 / 235 NER sentences
ENGLISH_SENTIMENT = {"train": 120, "validation": 30, "test": 50}  # half positive, half negative

RECORD_KEYS = ("id", "family", "language", "split", "source", "messages", "reference")
ENTITY = re.compile(r"\[(PER|ORG|LOC|MISC) ([^\[\]]+?)\]")




def strip_markup(line: str) -> tuple[str, list[tuple[str, str]]]:
    """(plain text, [(type, string), ...] in order) of one marked-up sentence."""
    entities = [(m.group(1), m.group(2)) for m in ENTITY.finditer(line)]
    plain = ENTITY.sub(lambda m: m.group(2), line)
    if "[" in plain or "]" in plain:
        raise ValueError(f"markup not understood (types: {TYPES}) in {line!r}")
    return plain, entities


def marked_lines(path: Path) -> list[str]:
    """The non-blank, non-comment lines of a source file, stripped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def token_offsets(sentence: str, tokens) -> list[tuple[int, int]]:
    """(start, end) character offsets of each token in the sentence; the tokens must appear in order."""
    offsets, position = [], 0
    for token in tokens:
        start = sentence.find(token, position)
        if start < 0 or sentence[position:start].strip():
            raise ValueError(f"token {token!r} not found where expected in {sentence!r}")
        offsets.append((start, start + len(token)))
        position = start + len(token)
    return offsets


def ner_entities(sentence: str, tags, tokens) -> list[tuple[str, str]]:
    """(type, string as written in the sentence) for each entity the BIO tags give."""
    offsets = token_offsets(sentence, tokens)
    return [(kind, sentence[offsets[start][0]:offsets[end - 1][1]]) for kind, start, end in entity_spans(tags)]


# ---------------------------------------------------------------- reading the sources


def load_phrasings() -> dict:
    """phrasings.yaml, checked: enough distinct phrasings, each with one {text}."""
    phrasings = yaml.safe_load((SOURCE_DIR / "phrasings.yaml").read_text(encoding="utf-8"))
    for family in ("entities", "sentiment"):
        for language, minimum in MIN_PHRASINGS.items():
            pool = phrasings[family][language]
            if len(set(pool)) != len(pool) or len(pool) < minimum:
                raise ValueError(f"{family}/{language}: {len(set(pool))} distinct phrasings, need {minimum}")
            bad = [p for p in pool if p.count("{text}") != 1]
            if bad:
                raise ValueError(f"{family}/{language}: phrasings without exactly one {{text}}: {bad}")
    for language in MIN_PHRASINGS:
        if not phrasings["system"][language]:
            raise ValueError(f"no system prompts for {language}")
    return phrasings


def english_entity_items() -> list[dict]:
    """Every NER sentence as (split, number, sentence, entities), entities taken from the .conll tags."""
    items = []
    for split in SPLITS:
        conll = read_conll(DATA_DIR / "ner" / f"{split}.conll")
        written = marked_lines(NER_SOURCE_DIR / f"{split}.txt")
        if len(conll) != len(written):
            raise ValueError(f"ner/{split}: {len(conll)} sentences in .conll but {len(written)} in source/")
        for number, (sentence, line) in enumerate(zip(conll, written, strict=True), start=1):
            plain, marked = strip_markup(line)
            entities = ner_entities(plain, sentence["ner_tags"], sentence["tokens"])
            if entities != marked:  # the tags and the markup agree, so the source text is the sentence
                raise ValueError(f"ner/{split}.conll#{number}: tags give {entities}, markup {marked}")
            items.append({"split": split, "source": f"ner/{split}.conll#{number}", "text": plain,
                          "entities": entities})
    return items


def english_sentiment_items() -> list[dict]:
    """Every sentence of data/sentiment/*.jsonl as (split, source, text, label)."""
    items = []
    for path in sorted((DATA_DIR / "sentiment").glob("*.jsonl")):
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                record = json.loads(line)
                items.append({"split": record["split"], "source": f"sentiment/{path.name}#{line_no}",
                              "text": record["text"], "label": record["label"]})
    return items


def chinese_entity_items() -> list[dict]:
    """entities_zh.txt: each sentence, its entities (substrings of it) and its split."""
    items = []
    for i, line in enumerate(marked_lines(SOURCE_DIR / "entities_zh.txt")):
        plain, entities = strip_markup(line)
        for kind, text in entities:
            if text != text.strip() or text not in plain:
                raise ValueError(f"entities_zh.txt, sentence {i + 1}: bad entity {kind} {text!r}")
        items.append({"split": split_for_position(i), "number": i + 1, "text": plain, "entities": entities})
    return items


def chinese_review_items() -> list[dict]:
    """reviews_zh.jsonl: each review with its label and split (positions counted per label)."""
    items, seen = [], Counter()
    path = SOURCE_DIR / "reviews_zh.jsonl"
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        if record.get("label") not in ("pos", "neg") or not record.get("text", "").strip():
            raise ValueError(f"reviews_zh.jsonl, line {line_no}: need a text and a label pos/neg, got {record}")
        items.append({"split": split_for_position(seen[record["label"]]), "line": line_no,
                      "text": record["text"], "label": record["label"]})
        seen[record["label"]] += 1
    if seen["pos"] != seen["neg"]:
        raise ValueError(f"reviews_zh.jsonl: {seen['pos']} positive and {seen['neg']} negative; keep them equal")
    return items


def open_items(language: str) -> list[dict]:
    """open_<language>.txt: each instruction with its reference, kind, split and item number."""
    path = SOURCE_DIR / f"open_{language}.txt"
    items, kind, current, seen = [], None, None, Counter()

    def close(line_no):
        nonlocal current
        if current is not None:
            if not current["user"] or not current["answer"]:
                raise ValueError(f"{path.name}, item ending at line {line_no}: needs '> ' and '= ' lines")
            current["split"] = split_for_position(seen[current["kind"]])
            seen[current["kind"]] += 1
            items.append(current | {"user": "\n".join(current["user"]), "answer": "\n".join(current["answer"])})
            current = None

    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("#"):
            continue
        if not line.strip():
            close(line_no)
        elif re.fullmatch(r"\[(\w+)\]", line.strip()):
            close(line_no)
            kind = line.strip()[1:-1]
            if kind not in KINDS:
                raise ValueError(f"{path.name}, line {line_no}: unknown kind {kind!r}; expected one of {KINDS}")
        elif line.startswith(("> ", "= ")):
            if kind is None:
                raise ValueError(f"{path.name}, line {line_no}: an item before any [kind] heading")
            if current is None:
                current = {"kind": kind, "number": seen[kind] + 1, "line": line_no, "user": [], "answer": []}
            field = "user" if line.startswith("> ") else "answer"
            if field == "user" and current["answer"]:
                raise ValueError(f"{path.name}, line {line_no}: a '> ' line after the answer; add a blank line")
            current[field].append(line[2:].rstrip())
        else:
            raise ValueError(f"{path.name}, line {line_no}: expected '[kind]', '> ', '= ' or a blank line: {line!r}")
    close(line_no + 1)
    return items


# ---------------------------------------------------------------- assembling the conversations


def conversation(phrasings, id_, family, language, split, source, user, answer, text=None) -> dict:
    """One record; the system prompt is drawn with a generator seeded by the id. text: the sentence of a
    derived item (kept as "_text" while building, so that its phrasing can be drawn again)."""
    system = random.Random(f"{SEED}/{id_}/system").choice(phrasings["system"][language])
    return {
        "id": id_, "family": family, "language": language, "split": split, "source": source,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user},
                     {"role": "assistant", "content": answer}],
        "reference": answer, "_text": text,
    }


def phrase(phrasings, family, language, id_, text, attempt=0) -> str:
    """The user message: a phrasing drawn with a generator seeded by the id, the sentence in its {text}.

    attempt > 0 draws again (avoid_near_duplicates does, when a short sentence in a long phrasing makes a
    prompt look like one of another split)."""
    seed = f"{SEED}/{id_}/user" + (f"/{attempt}" if attempt else "")
    template = random.Random(seed).choice(phrasings[family][language])
    return template.replace("{text}", text)


def prompt_ngrams(text: str, language: str) -> set:
    """Word 3-grams (English, lower-cased) or character 4-grams (Chinese, white space removed) of a prompt."""
    if language == "zh":
        chars = re.sub(r"\s+", "", text)
        return {chars[i:i + 4] for i in range(len(chars) - 3)}
    words = re.findall(r"\w+(?:'\w+)?", text.lower())
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def avoid_near_duplicates(records, phrasings) -> None:
    """Re-draw the phrasing of a validation or test prompt that is a near-duplicate (n-gram Jaccard >=
    NEAR_DUPLICATE_JACCARD) of a prompt in another split; an open instruction cannot be re-drawn, so it fails.

    The sentences themselves never repeat across splits; what can collide is a long phrasing shared by two
    short sentences, which would make a prompt look like a training prompt to a similarity check."""
    index, grams = {}, {}  # n-gram -> positions of the records holding it; position -> its n-grams

    def worst(i):
        split, language = records[i]["split"], records[i]["language"]
        shared = Counter(j for gram in grams[i] for j in index.get(gram, ())
                         if records[j]["split"] != split and records[j]["language"] == language)
        return max((n / (len(grams[i]) + len(grams[j]) - n) for j, n in shared.items()), default=0.0)

    for split in SPLITS:
        for i, r in enumerate(records):
            if r["split"] != split:
                continue
            for attempt in range(50):
                grams[i] = prompt_ngrams(r["messages"][1]["content"], r["language"])
                if split == "train" or worst(i) < NEAR_DUPLICATE_JACCARD:
                    break
                if r["_text"] is None:
                    raise ValueError(f"{r['id']}: near-duplicate of a prompt in another split; rewrite it")
                r["messages"][1]["content"] = phrase(phrasings, r["family"], r["language"], r["id"], r["_text"],
                                                     attempt + 1)
            else:
                raise ValueError(f"{r['id']}: no phrasing avoids a near-duplicate in another split")
            for gram in grams[i]:
                index.setdefault(gram, []).append(i)


def sample(items, n, key, seed):
    """n items drawn with a seeded generator, in their original order."""
    if n > len(items):
        raise ValueError(f"{key}: asked for {n} items, only {len(items)} available")
    chosen = random.Random(f"{SEED}/{key}/{seed}").sample(range(len(items)), n)
    return [items[i] for i in sorted(chosen)]


def build() -> dict[str, list[dict]]:
    """All conversations, by split, in a fixed order (family, language, source order)."""
    phrasings = load_phrasings()
    records = []

    ner = english_entity_items()
    for split in SPLITS:
        pool = [item for item in ner if item["split"] == split]
        for item in sample(pool, ENGLISH_ENTITIES[split], "entities", split):
            id_ = f"entities-en-{split}-{item['source'].rpartition('#')[2]:0>3}"
            user = phrase(phrasings, "entities", "en", id_, item["text"])
            records.append(conversation(phrasings, id_, "entities", "en", split, item["source"], user,
                                        entities_answer(item["entities"]), item["text"]))
    for item in chinese_entity_items():
        id_ = f"entities-zh-{item['number']:03d}"
        user = phrase(phrasings, "entities", "zh", id_, item["text"])
        records.append(conversation(phrasings, id_, "entities", "zh", item["split"],
                                    f"instructions/source/entities_zh.txt#{item['number']}", user,
                                    entities_answer(item["entities"]), item["text"]))

    reviews = english_sentiment_items()
    for split in SPLITS:
        chosen = []
        for label in ("pos", "neg"):
            pool = [item for item in reviews if item["split"] == split and item["label"] == label]
            chosen += sample(pool, ENGLISH_SENTIMENT[split] // 2, f"sentiment-{label}", split)
        for item in sorted(chosen, key=lambda item: reviews.index(item)):
            domain, _, line = item["source"].removeprefix("sentiment/").partition(".jsonl#")
            id_ = f"sentiment-en-{domain}-{line:0>3}"
            user = phrase(phrasings, "sentiment", "en", id_, item["text"])
            records.append(conversation(phrasings, id_, "sentiment", "en", split, item["source"], user,
                                        SENTIMENT_WORDS["en"][item["label"]], item["text"]))
    for item in chinese_review_items():
        id_ = f"sentiment-zh-{item['line']:03d}"
        user = phrase(phrasings, "sentiment", "zh", id_, item["text"])
        records.append(conversation(phrasings, id_, "sentiment", "zh", item["split"],
                                    f"instructions/source/reviews_zh.jsonl#{item['line']}", user,
                                    SENTIMENT_WORDS["zh"][item["label"]], item["text"]))

    for language in ("en", "zh"):
        for item in open_items(language):
            id_ = f"open-{language}-{item['kind']}-{item['number']:02d}"
            records.append(conversation(phrasings, id_, "open", language, item["split"],
                                        f"instructions/source/open_{language}.txt#{item['line']}",
                                        item["user"], item["answer"]))

    avoid_near_duplicates(records, phrasings)
    validate(records)
    return {split: [r for r in records if r["split"] == split] for split in SPLITS}


def validate(records) -> None:
    """The guarantees the build promises (tests/test_instruction_data.py checks them again, independently)."""
    ids = Counter(r["id"] for r in records)
    if max(ids.values()) > 1:
        raise ValueError(f"duplicate ids: {[i for i, n in ids.items() if n > 1]}")
    prompts = Counter(r["messages"][1]["content"] for r in records)
    if max(prompts.values()) > 1:
        raise ValueError(f"duplicate user prompts: {[p for p, n in prompts.items() if n > 1][:3]}")
    for r in records:
        if r["family"] == "entities":
            answer = json.loads(r["reference"])
            if list(answer) != list(TYPES):
                raise ValueError(f"{r['id']}: keys {list(answer)}")
            for text in (t for kind in TYPES for t in answer[kind]):
                if text not in r["messages"][1]["content"]:
                    raise ValueError(f"{r['id']}: entity {text!r} not in the prompt")
        if any(not m["content"].strip() for m in r["messages"]):
            raise ValueError(f"{r['id']}: an empty message")


def jsonl(records) -> str:
    """One record per line, keys in RECORD_KEYS order, UTF-8 as written (no \\u escapes)."""
    return split_files.jsonl(records, RECORD_KEYS)


def main(argv=None) -> int:
    return split_files.write_or_check(build(), OUT_DIR, RECORD_KEYS, ("family", "language"), "build_instructions.py",
                                      __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
