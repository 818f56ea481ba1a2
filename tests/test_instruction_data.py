"""Tests for data/instructions (the instruction-SFT set of chapter 06) and `sftlab.data.load_instructions`.

The files are read here without the loader, and every guarantee is checked again from the sources
(the NER and sentiment sets, data/instructions/source/) rather than trusted from the build script.
"""

import importlib.util
import json
import re
from collections import Counter, defaultdict

import datasets
import pytest
import yaml

from sftlab import data

SPLITS = ["train", "validation", "test"]
TYPES = ["PER", "ORG", "LOC", "MISC"]
LABELS = {"en": {"positive": "pos", "negative": "neg"}, "zh": {"正面": "pos", "负面": "neg"}}
NEAR_DUPLICATE_JACCARD = 0.6  # word 3-gram (English) or character 4-gram (Chinese) Jaccard: the same prompt
SOURCE_DIR = data.INSTRUCTIONS_DIR / "source"
ENTITY = re.compile(r"\[(PER|ORG|LOC|MISC) ([^\[\]]+?)\]")


# ---------------------------------------------------------------- helpers


def read_records():
    """Every line of data/instructions/<split>.jsonl as a dict, with the file it is in ("_file")."""
    records = []
    for split in SPLITS:
        path = data.INSTRUCTIONS_DIR / f"{split}.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append(json.loads(line) | {"_file": split})
    return records


def user(record):
    return record["messages"][1]["content"]


def strip_markup(line):
    """The plain sentence of a marked-up line: [PER Ana] -> Ana."""
    return ENTITY.sub(lambda m: m.group(2), line)


def marked_lines(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def source_line(source, lines_by_file):
    """The text a `source` such as "ner/test.conll#17" or "instructions/source/reviews_zh.jsonl#3" points at."""
    name, _, number = source.partition("#")
    return lines_by_file[name][int(number) - 1]


def ngrams(text, language):
    """Word 3-grams (English, lower-cased) or character 4-grams (Chinese, white space removed)."""
    if language == "zh":
        chars = re.sub(r"\s+", "", text)
        return {chars[i:i + 4] for i in range(len(chars) - 3)}
    words = re.findall(r"\w+(?:'\w+)?", text.lower())
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def cross_split_near_duplicates(items):
    """(jaccard, id, id) for pairs of (id, split, language, text) items in different splits, same language,
    whose n-gram Jaccard is at least NEAR_DUPLICATE_JACCARD; an inverted index compares only pairs that share
    an n-gram."""
    grams = [ngrams(text, language) for _, _, language, text in items]
    index = defaultdict(list)
    pairs = []
    for i, (id_, split, language, _) in enumerate(items):
        shared = Counter(j for gram in grams[i] for j in index[gram]
                         if items[j][1] != split and items[j][2] == language)
        for j, n in shared.items():
            jaccard = n / (len(grams[i]) + len(grams[j]) - n)
            if jaccard >= NEAR_DUPLICATE_JACCARD:
                pairs.append((round(jaccard, 2), items[j][0], id_))
        for gram in grams[i]:
            index[gram].append(i)
    return pairs


def show(records, limit=10):
    rows = [f"  {r['id']} [{r['_file']}] {user(r)[:100]!r} -> {r['reference'][:60]!r}" for r in records[:limit]]
    more = f"\n  … and {len(records) - limit} more" if len(records) > limit else ""
    return "\n" + "\n".join(rows) + more


@pytest.fixture(scope="module")
def records():
    return read_records()


@pytest.fixture(scope="module")
def sources():
    """The lines every `source` can point at, by file name as `source` writes it: NER sentences without
    their markup, JSON Lines as dicts (None for a blank line), other files as text lines."""
    lines = {}
    for split in SPLITS:
        ner_source = marked_lines(data.NER_DIR / "source" / f"{split}.txt")
        lines[f"ner/{split}.conll"] = [strip_markup(line) for line in ner_source]
    jsonl_files = [*sorted(data.SENTIMENT_DIR.glob("*.jsonl")), SOURCE_DIR / "reviews_zh.jsonl"]
    for path in jsonl_files:
        name = f"sentiment/{path.name}" if path.parent == data.SENTIMENT_DIR else f"instructions/source/{path.name}"
        text_lines = path.read_text(encoding="utf-8").splitlines()
        lines[name] = [json.loads(line) if line.strip() else None for line in text_lines]
    lines["instructions/source/entities_zh.txt"] = marked_lines(SOURCE_DIR / "entities_zh.txt")
    for name in ("open_en.txt", "open_zh.txt"):
        lines[f"instructions/source/{name}"] = (SOURCE_DIR / name).read_text(encoding="utf-8").splitlines()
    return lines


def sentence_of(record, sources):
    """The sentence a derived item (entities, sentiment) asks about, read from its source."""
    line = source_line(record["source"], sources)
    return line["text"] if isinstance(line, dict) else strip_markup(line)


# ---------------------------------------------------------------- the files


def test_files_are_what_the_build_script_makes():
    """data/instructions/<split>.jsonl == scripts/build_instructions.py applied to the sources."""
    path = data.INSTRUCTIONS_DIR.parents[1] / "scripts" / "build_instructions.py"
    spec = importlib.util.spec_from_file_location("build_instructions", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for split, built in script.build().items():
        on_disk = (data.INSTRUCTIONS_DIR / f"{split}.jsonl").read_text(encoding="utf-8")
        assert on_disk == script.jsonl(built), f"{split}.jsonl differs from its sources; run: python {path}"


def test_counts_and_mix(records):
    by = Counter((r["_file"], r["family"], r["language"]) for r in records)
    split_sizes = Counter(r["_file"] for r in records)
    chinese = sum(r["language"] == "zh" for r in records)
    table = "\n".join(f"  {key}: {n}" for key, n in sorted(by.items()))
    assert len(records) >= 800, f"{len(records)} conversations, need 800"
    assert chinese / len(records) >= 0.25, f"{chinese} of {len(records)} in Chinese, need 25%"
    assert split_sizes["test"] >= 200 and split_sizes["validation"] >= 80, f"split sizes {dict(split_sizes)}"

    def family(split, name, language=None):
        return sum(n for (s, f, lang), n in by.items() if s == split and f == name and language in (None, lang))

    assert family("test", "entities") >= 60 and family("test", "entities", "en") >= 40, table
    assert family("test", "sentiment") >= 60 and family("test", "open") >= 60, table
    assert family("train", "entities") >= 400, table
    open_items = [r for r in records if r["family"] == "open"]
    assert len(open_items) >= 250, f"{len(open_items)} open instructions, need 250"
    assert sum(r["language"] == "zh" for r in open_items) / len(open_items) >= 0.3, "too few Chinese open items"
    for split in SPLITS:  # every family in both languages in every split
        for name in ("entities", "sentiment", "open"):
            for language in ("en", "zh"):
                assert family(split, name, language) > 0, f"no {name}/{language} in {split}\n{table}"


def test_schema_and_roles(records):
    bad = []
    for r in records:
        keys_ok = set(r) - {"_file"} == {"id", "family", "language", "split", "source", "messages", "reference"}
        messages = r.get("messages", [])
        ok = (keys_ok and r["split"] == r["_file"] and r["family"] in ("entities", "sentiment", "open")
              and r["language"] in ("en", "zh") and isinstance(r["source"], str) and r["source"]
              and [m.get("role") for m in messages] == ["system", "user", "assistant"]
              and all(set(m) == {"role", "content"} and isinstance(m["content"], str) and m["content"].strip()
                      for m in messages)
              and r["reference"] == messages[2]["content"])
        if not ok:
            bad.append(r)
    assert not bad, f"records off the schema (keys, split, family, language, roles, reference):{show(bad)}"


def test_ids_unique(records):
    counts = Counter(r["id"] for r in records)
    assert not [i for i, n in counts.items() if n > 1], f"ids more than once: {[i for i, n in counts.items() if n > 1]}"


def test_system_prompts_match_the_language(records):
    phrasings = yaml.safe_load((SOURCE_DIR / "phrasings.yaml").read_text(encoding="utf-8"))
    bad = [r for r in records if r["messages"][0]["content"] not in phrasings["system"][r["language"]]]
    assert not bad, f"system prompt not from the pool of its language:{show(bad)}"
    assert len({r["messages"][0]["content"] for r in records}) >= 6, "too few system prompts in use"


# ---------------------------------------------------------------- entities


def test_entity_answers_are_json_with_four_keys_in_order(records, sources):
    bad = []
    for r in (r for r in records if r["family"] == "entities"):
        try:
            answer = json.loads(r["reference"])
        except json.JSONDecodeError:
            bad.append((r, "not JSON"))
            continue
        sentence = sentence_of(r, sources)
        problems = []
        if list(answer) != TYPES or not all(isinstance(v, list) for v in answer.values()):
            problems.append(f"keys {list(answer)}")
        elif r["reference"] != json.dumps(answer, ensure_ascii=False):
            problems.append("not one-line JSON in the canonical form")
        else:
            for kind in TYPES:
                strings = answer[kind]
                if len(set(strings)) != len(strings):
                    problems.append(f"{kind} repeats a string")
                missing = [s for s in strings if not isinstance(s, str) or s not in sentence]
                if missing:
                    problems.append(f"{kind} {missing} not in the sentence")
                elif [sentence.find(s) for s in strings] != sorted(sentence.find(s) for s in strings):
                    problems.append(f"{kind} not in order of appearance")
        if sentence not in user(r):
            problems.append("the sentence is not in the prompt")
        if problems:
            bad.append((r, "; ".join(problems)))
    assert not bad, "entity answers:\n" + "\n".join(f"  {r['id']}: {why}" for r, why in bad[:10])


def test_english_entity_answers_equal_the_ner_tags(records, sources):
    """Each English answer is what data/ner/<split>.conll's BIO tags give for that sentence, entity strings
    as the sentence writes them; and the sentence comes from the NER split of the item's own split."""
    conll = {split: data.read_conll(data.NER_DIR / f"{split}.conll") for split in SPLITS}
    wrong = []
    english = [r for r in records if r["family"] == "entities" and r["language"] == "en"]
    for r in english:
        match = re.fullmatch(r"ner/(\w+)\.conll#(\d+)", r["source"])
        assert match and match.group(1) == r["_file"], f"{r['id']}: source {r['source']} in the {r['_file']} split"
        sentence = conll[match.group(1)][int(match.group(2)) - 1]
        text, position, offsets = sentence_of(r, sources), 0, []
        for token in sentence["tokens"]:  # where each token sits in the sentence as written
            start = text.index(token, position)
            offsets.append((start, start + len(token)))
            position = start + len(token)
        expected = {kind: [] for kind in TYPES}
        for kind, start, end in data.entity_spans(sentence["ner_tags"]):
            string = text[offsets[start][0]:offsets[end - 1][1]]
            if string not in expected[kind]:
                expected[kind].append(string)
        if json.loads(r["reference"]) != expected:
            wrong.append(f"  {r['id']}: {r['reference']} but the tags give {expected}")
    assert english and not wrong, "English entity answers differ from the NER tags:\n" + "\n".join(wrong[:10])


def test_chinese_entities_cover_every_type(records):
    for split in ("train", "test"):
        answers = [json.loads(r["reference"]) for r in records
                   if r["family"] == "entities" and r["language"] == "zh" and r["_file"] == split]
        counts = Counter(kind for a in answers for kind in TYPES for _ in a[kind])
        assert all(counts[kind] >= 5 for kind in TYPES), f"Chinese {split}: mentions per type {dict(counts)}"
        empty = sum(not any(a.values()) for a in answers)
        assert 0 < empty < len(answers) / 4, f"Chinese {split}: {empty} of {len(answers)} sentences without entities"


# A Chinese place name runs to the end of its name, the category word that closes it included (data/README.md,
# instructions/): a LOC entity that stops right before one of these words was cut short. Words of position
# (北部, 沿海) and nouns the name modifies (市场, 市民, 游客) are outside and are not matched here.
CATEGORY_AFTER_PLACE = re.compile(r"\[LOC ([^\[\]]+)\](省|市(?![场民])|县|区(?!域)|地区|古城|老城|古镇|草原|天池|地铁)")


def cut_short_places(lines):
    """'江苏+省' for each LOC of the marked-up lines that stops before the category word of its own name."""
    return [f"{m.group(1)}+{m.group(2)}" for line in lines for m in CATEGORY_AFTER_PLACE.finditer(line)]


def test_chinese_place_names_run_to_the_end_of_the_name():
    lines = marked_lines(SOURCE_DIR / "entities_zh.txt")
    assert not cut_short_places(lines), f"LOC entities cut before their category word: {cut_short_places(lines)}"
    text = "\n".join(lines)
    for whole in ("江苏省", "绍兴市", "丽江古城", "喀什老城", "呼伦贝尔草原", "长白山天池", "西安地铁五号线"):
        assert f"[LOC {whole}]" in text, f"{whole} should be one LOC entity"


def test_place_name_check_catches_the_old_markup():
    """The markup before the rule was written down, and what stays outside a name under it."""
    old = ["打破了[LOC 江苏]省纪录。", "我们在[LOC 丽江]古城住了三晚", "[LOC 呼伦贝尔]草原的夏天很短", "[LOC 喀什]老城"]
    assert cut_short_places(old) == ["江苏+省", "丽江+古城", "呼伦贝尔+草原", "喀什+老城"]
    assert cut_short_places(["[LOC 东南亚]市场", "[LOC 大兴安岭]北部", "[LOC 广西]沿海地区", "[LOC 日本]游客"]) == []


# ---------------------------------------------------------------- sentiment


def test_sentiment_labels_valid_and_balanced(records, sources):
    for split in SPLITS:
        for language in ("en", "zh"):
            items = [r for r in records if r["family"] == "sentiment" and r["_file"] == split
                     and r["language"] == language]
            bad = [r for r in items if r["reference"] not in LABELS[language]]
            assert not bad, f"labels other than {list(LABELS[language])}:{show(bad)}"
            counts = Counter(r["reference"] for r in items)
            assert len(set(counts.values())) == 1 and len(counts) == 2, f"{split}/{language} unbalanced: {counts}"
    for r in (r for r in records if r["family"] == "sentiment"):
        source = source_line(r["source"], sources)
        assert LABELS[r["language"]][r["reference"]] == source["label"], f"{r['id']}: label differs from {r['source']}"
        assert source["text"] in user(r), f"{r['id']}: the prompt does not hold the sentence of {r['source']}"


# ---------------------------------------------------------------- leakage and duplicates


def test_english_derived_items_come_from_their_own_split(records, sources):
    """Test items only from the NER / sentiment test splits, validation from validation, train from train."""
    wrong = []
    for r in records:
        if r["source"].startswith("ner/"):
            source_split = r["source"].removeprefix("ner/").partition(".conll")[0]
        elif r["source"].startswith("sentiment/"):
            source_split = source_line(r["source"], sources)["split"]
        else:
            assert r["language"] == "zh" or r["family"] == "open", f"{r['id']}: English derived item without a source"
            continue
        if source_split != r["_file"]:
            wrong.append(f"  {r['id']} ({r['_file']}) from {r['source']} ({source_split})")
    assert not wrong, "items from another split of their source set:\n" + "\n".join(wrong)


def test_sources_used_once(records):
    counts = Counter(r["source"] for r in records)
    assert not [s for s, n in counts.items() if n > 1], f"sources used twice: {[s for s, n in counts.items() if n > 1]}"


def test_no_duplicate_prompts(records):
    normalised = Counter(" ".join(user(r).lower().split()) for r in records)
    repeated = [p for p, n in normalised.items() if n > 1]
    assert not repeated, f"user prompts more than once: {repeated[:3]}"


def test_no_near_duplicate_prompts_across_splits(records):
    """No user prompt of one split is a near-duplicate of a prompt of another split (Jaccard ≥ 0.6 on word
    3-grams, or character 4-grams for Chinese)."""
    pairs = cross_split_near_duplicates([(r["id"], r["_file"], r["language"], user(r)) for r in records])
    assert not pairs, f"near-duplicate prompts across splits: {sorted(pairs, reverse=True)[:10]}"


def test_no_near_duplicate_sentences_across_splits(records, sources):
    """The same on what the prompts ask about: the sentence of a derived item, without its phrasing, and the
    whole instruction of an open item. A short sentence cannot hide behind a long shared phrasing here."""
    items = [(r["id"], r["_file"], r["language"], user(r) if r["family"] == "open" else sentence_of(r, sources))
             for r in records]
    pairs = cross_split_near_duplicates(items)
    assert not pairs, f"near-duplicate sentences or instructions across splits: {sorted(pairs, reverse=True)[:10]}"


def test_near_duplicate_check_catches_a_reworded_prompt():
    """The check itself: a prompt with one word changed is caught, an unrelated one is not."""
    a = "Summarise in one sentence: the council voted to close the old swimming pool in spring."
    b = "Summarise in one sentence: the council voted to close the old swimming pool in summer."
    c = "把下面的列表转成 JSON 数组：苹果、香蕉、橙子、葡萄"
    d = "把下面的列表转成 JSON 数组：苹果、香蕉、橙子、西瓜"
    assert cross_split_near_duplicates([("a", "train", "en", a), ("b", "test", "en", b)])
    assert cross_split_near_duplicates([("c", "train", "zh", c), ("d", "test", "zh", d)])
    assert not cross_split_near_duplicates([("a", "train", "en", a), ("c", "test", "en", c)])


# ---------------------------------------------------------------- phrasings and open instructions


def test_phrasings_vary(records, sources):
    """At least 25 English and 15 Chinese phrasings per derived family, and the data uses most of them."""
    phrasings = yaml.safe_load((SOURCE_DIR / "phrasings.yaml").read_text(encoding="utf-8"))
    for family in ("entities", "sentiment"):
        for language, minimum in (("en", 25), ("zh", 15)):
            pool = phrasings[family][language]
            assert len(set(pool)) >= minimum, f"{family}/{language}: {len(set(pool))} distinct phrasings"
            items = [r for r in records if r["family"] == family and r["language"] == language]
            used = Counter(user(r).replace(sentence_of(r, sources), "{text}", 1) for r in items)
            assert set(used) <= set(pool), f"{family}/{language}: prompts not from the pool: {set(used) - set(pool)}"
            assert len(used) >= 0.8 * len(pool), f"{family}/{language}: only {len(used)} of {len(pool)} phrasings used"
            assert max(used.values()) <= 3 * len(items) / len(pool), f"{family}/{language}: one phrasing dominates"


def test_open_references_are_short(records):
    """1–3 sentences, so that ROUGE-L and chrF compare like with like."""
    long = []
    for r in (r for r in records if r["family"] == "open"):
        sentences = [s for s in re.split(r"(?<=[.!?。！？])\s*", r["reference"]) if s.strip()]
        too_long = len(r["reference"].split()) > 45 if r["language"] == "en" else len(r["reference"]) > 90
        if (len(sentences) > 3 and "\n" not in r["reference"]) or too_long:
            long.append(r)
    assert not long, f"open references longer than 1–3 short sentences:{show(long)}"


def test_open_kinds_in_every_split(records):
    kinds = ("rewrite", "summarise", "explain", "format", "grammar", "translate")
    for language in ("en", "zh"):
        for split in ("train", "test"):
            present = {r["id"].split("-")[2] for r in records
                       if r["family"] == "open" and r["language"] == language and r["_file"] == split}
            assert present == set(kinds), f"open/{language}/{split}: kinds {sorted(present)}"


# ---------------------------------------------------------------- the loader


def test_load_instructions_schema(records):
    dd = data.load_instructions("offline")
    assert isinstance(dd, datasets.DatasetDict) and list(dd) == SPLITS
    assert dd["train"].features == data.instruction_features()
    assert list(dd["train"].features) == ["id", "family", "language", "messages", "reference", "source"]
    for split in SPLITS:
        on_disk = [r for r in records if r["_file"] == split]
        assert dd[split]["id"] == [r["id"] for r in on_disk], f"{split}: rows differ from the file"
    row = dd["test"][0]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert row["reference"] == row["messages"][-1]["content"]


def test_load_instructions_same_set_in_both_profiles(offline):
    full, active = data.load_instructions("full"), data.load_instructions()
    for split in SPLITS:
        assert full[split]["id"] == active[split]["id"]


def test_load_instructions_rejects_an_unknown_profile():
    with pytest.raises(ValueError, match="profile"):
        data.load_instructions("colab")


GOOD = {"id": "x-1", "family": "open", "language": "en", "split": "train", "source": "here",
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                     {"role": "assistant", "content": "a"}], "reference": "a"}


@pytest.mark.parametrize("change, message", [
    ({"family": "chat"}, "unknown family"),
    ({"language": "fr"}, "unknown language"),
    ({"split": "test"}, "split 'test' in the 'train' file"),
    ({"reference": "b"}, "differs from the assistant"),
    ({"messages": GOOD["messages"][1:]}, "roles"),
    ({"messages": [GOOD["messages"][0], GOOD["messages"][2], GOOD["messages"][1]]}, "in that order"),
    ({"messages": [*GOOD["messages"][:2], {"role": "assistant", "content": " "}]}, "non-empty string content"),
    ({"id": ""}, "id must be"),
])
def test_read_instructions_jsonl_names_the_problem(tmp_path, change, message):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps(GOOD | change) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message) as err:
        data.read_instructions_jsonl(path, split="train")
    assert "line 2" in str(err.value)


def test_read_instructions_jsonl_missing_key_and_bad_json(tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_text(json.dumps({k: v for k, v in GOOD.items() if k != "reference"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing key"):
        data.read_instructions_jsonl(path)
    path.write_text('{"id": "x-1",\n', encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        data.read_instructions_jsonl(path)
    path.write_text(json.dumps(GOOD) + "\n\n", encoding="utf-8")  # a trailing blank line is harmless
    assert data.read_instructions_jsonl(path) == [{k: GOOD[k] for k in data.instruction_features()}]
