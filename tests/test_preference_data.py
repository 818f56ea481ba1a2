"""Tests for data/preferences (the preference pairs of chapter 08) and `sftlab.data.load_preferences`.

The files are read here without the loader, and every pair's rule is checked on its answers: the chosen JSON
against the entities marked up in the sources, the language of each answer by its share of Chinese characters,
refusals with `sftlab.data.is_refusal`, lengths for `concise`. Leakage is checked against chapter 06's test split.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict

import datasets
import pytest
import yaml

from sftlab import data
from sftlab.course.chapters import REPO_ROOT

SPLITS = ["train", "validation", "test"]
RULES = list(data.PREFERENCE_RULES)
TYPES = ["PER", "ORG", "LOC", "MISC"]
LABELS = {"en": ("positive", "negative"), "zh": ("正面", "负面")}   # the same label at the same index
OTHER = {"en": "zh", "zh": "en"}
FAMILIES = {"json": {"entities"}, "language": {"sentiment", "open"}, "concise": {"sentiment", "open"},
            "helpful": {"open"}, "harmless": {"open"}}
NEAR_DUPLICATE_JACCARD = 0.6   # word 3-gram (English) or character 4-gram (Chinese) Jaccard: the same prompt
SOURCE_DIR = data.PREFERENCES_DIR / "source"
ENTITY = re.compile(r"\[(PER|ORG|LOC|MISC) ([^\[\]]+?)\]")


# ---------------------------------------------------------------- helpers


def read_records(folder=data.PREFERENCES_DIR):
    """Every line of <folder>/<split>.jsonl as a dict, with the file it is in ("_file")."""
    records = []
    for split in SPLITS:
        for line in (folder / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append(json.loads(line) | {"_file": split})
    return records


def user(record):
    return record["prompt"][-1]["content"]


def chosen(record):
    return record["chosen"][0]["content"]


def rejected(record):
    return record["rejected"][0]["content"]


def language_of(text):
    """"zh" if most letters are Chinese characters, "en" if none is, None if no letters; "mixed" otherwise."""
    share = data.cjk_share(text)
    if share is None:
        return None
    return "zh" if share >= 0.5 else "en" if share == 0 else "mixed"


def ngrams(text, language):
    """Word 3-grams (English, lower-cased) or character 4-grams (Chinese, white space removed)."""
    if language == "zh":
        chars = re.sub(r"\s+", "", text)
        return {chars[i:i + 4] for i in range(len(chars) - 3)}
    words = re.findall(r"\w+(?:'\w+)?", text.lower())
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def near_duplicates(items, others):
    """(jaccard, id, other id) for each (id, language, text) of items whose n-gram Jaccard with an item of others
    in the same language is at least NEAR_DUPLICATE_JACCARD; an inverted index compares only pairs that share one."""
    index = defaultdict(list)
    other_grams = [ngrams(text, language) for _, language, text in others]
    for j, grams in enumerate(other_grams):
        for gram in grams:
            index[gram].append(j)
    found = []
    for id_, language, text in items:
        grams = ngrams(text, language)
        shared = Counter(j for gram in grams for j in index[gram] if others[j][1] == language)
        for j, n in shared.items():
            jaccard = n / (len(grams) + len(other_grams[j]) - n)
            if jaccard >= NEAR_DUPLICATE_JACCARD:
                found.append((round(jaccard, 2), id_, others[j][0]))
    return found


def source_entities():
    """{id of a json pair: [(type, string), ...]} read from the markup of the source files, not from the build."""
    entities = {}
    for language in ("en", "zh"):
        blocks = (SOURCE_DIR / f"json_{language}.txt").read_text(encoding="utf-8").split("\n\n")
        items = [b for b in blocks if any(line.startswith("> ") for line in b.splitlines())]
        for n, block in enumerate(items, start=1):
            text = "\n".join(line[2:] for line in block.splitlines() if line.startswith("> "))
            entities[f"json-{language}-{n:03d}"] = [(m.group(1), m.group(2)) for m in ENTITY.finditer(text)]
    return entities


def json_problem(answer, expected):
    """The package's judge of the `json` rule (sftlab.data.entities_problem), with the course data's stricter
    requirement on top: the four keys in chapter 06's order."""
    problem = data.entities_problem(answer, expected)
    if problem is None and list(json.loads(answer)) != TYPES:
        return "schema"
    return problem


def show(records, limit=8):
    rows = [f"  {r['id']} [{r['_file']}] {user(r)[:70]!r} -> {chosen(r)[:40]!r} / {rejected(r)[:40]!r}"
            for r in records[:limit]]
    more = f"\n  … and {len(records) - limit} more" if len(records) > limit else ""
    return "\n" + "\n".join(rows) + more


@pytest.fixture(scope="module")
def records():
    return read_records()


@pytest.fixture(scope="module")
def instruction_test():
    """Chapter 06's test split, read from its file."""
    path = data.INSTRUCTIONS_DIR / "test.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------- the files


def test_files_are_what_the_build_script_makes():
    spec = importlib.util.spec_from_file_location("build_preferences", REPO_ROOT / "scripts" / "build_preferences.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    for split, built in builder.build().items():
        text = (data.PREFERENCES_DIR / f"{split}.jsonl").read_text(encoding="utf-8")
        assert text == builder.jsonl(built), f"{split}.jsonl is stale: run python scripts/build_preferences.py"


def test_counts(records):
    assert len(records) >= 400
    chinese = sum(r["language"] == "zh" for r in records)
    assert chinese >= 0.25 * len(records), f"{chinese} of {len(records)} pairs in Chinese"
    by_split = Counter(r["_file"] for r in records)
    assert len({user(r) for r in records if r["_file"] == "test"}) >= 100, by_split
    assert by_split["validation"] >= 40, by_split


def test_rules_are_balanced_and_in_every_split_and_language(records):
    counts = Counter(r["rule"] for r in records)
    assert set(counts) == set(RULES)
    for rule, n in counts.items():
        assert n >= 0.10 * len(records), f"rule {rule!r} has {n} of {len(records)} pairs (< 10%)"
    cells = Counter((r["rule"], r["language"], r["_file"]) for r in records)
    missing = [(rule, lang, split) for rule in RULES for lang in ("en", "zh") for split in SPLITS
               if cells[(rule, lang, split)] < 4]
    assert not missing, f"fewer than 4 pairs in {missing}"


def test_schema_of_every_record(records):
    system = {lang: set(prompts) for lang, prompts in
              yaml.safe_load((SOURCE_DIR / "system.yaml").read_text(encoding="utf-8")).items()}
    for r in records:
        assert list(r)[:-1] == list(data.PREFERENCE_RECORD_KEYS), f"{r['id']}: keys {list(r)[:-1]}"
        assert r["split"] == r["_file"], f"{r['id']}: split {r['split']!r} in {r['_file']}.jsonl"
        assert r["language"] in ("en", "zh") and r["rule"] in RULES
        assert r["family"] in FAMILIES[r["rule"]], f"{r['id']}: family {r['family']!r} for rule {r['rule']!r}"
        assert [m["role"] for m in r["prompt"]] == ["system", "user"], r["id"]
        assert r["prompt"][0]["content"] in system[r["language"]], f"{r['id']}: system prompt not in its language"
        for key in ("chosen", "rejected"):
            assert [m["role"] for m in r[key]] == ["assistant"], f"{r['id']}: {key} is not one assistant message"
        for message in r["prompt"] + r["chosen"] + r["rejected"]:
            assert set(message) == {"role", "content"} and message["content"].strip() == message["content"] != ""
        assert chosen(r) != rejected(r), r["id"]


def test_ids_are_unique_and_name_rule_and_language(records):
    ids = Counter(r["id"] for r in records)
    assert max(ids.values()) == 1, [i for i, n in ids.items() if n > 1]
    for r in records:
        assert re.fullmatch(rf"{r['rule']}-{r['language']}-\d{{3}}", r["id"]), r["id"]


# ---------------------------------------------------------------- splits and leakage


def test_no_duplicate_prompts(records):
    normalised = Counter(" ".join(user(r).lower().split()) for r in records)
    repeated = [p for p, n in normalised.items() if n > 1]
    assert not repeated, f"user prompts more than once: {repeated[:3]}"


def test_splits_are_by_prompt(records):
    splits_of = defaultdict(set)
    for r in records:
        splits_of[user(r)].add(r["_file"])
    assert not [p for p, s in splits_of.items() if len(s) > 1], "a prompt in two splits"


def test_no_test_prompt_near_duplicates_a_training_prompt(records):
    test = [(r["id"], r["language"], user(r)) for r in records if r["_file"] == "test"]
    train = [(r["id"], r["language"], user(r)) for r in records if r["_file"] == "train"]
    found = near_duplicates(test, train)
    assert not found, f"test prompts that near-duplicate training prompts: {sorted(found, reverse=True)[:10]}"


def test_no_prompt_near_duplicates_a_chapter_06_test_prompt(records, instruction_test):
    ch06 = [(r["id"], r["language"], r["messages"][1]["content"]) for r in instruction_test]
    ch06_prompts = {" ".join(text.lower().split()) for _, _, text in ch06}
    same = [r["id"] for r in records if " ".join(user(r).lower().split()) in ch06_prompts]
    assert not same, f"prompts that are chapter 06 test prompts: {same}"
    found = near_duplicates([(r["id"], r["language"], user(r)) for r in records], ch06)
    assert not found, f"prompts that near-duplicate chapter 06 test prompts: {sorted(found, reverse=True)[:10]}"


def chapter_06_test_sentences(instruction_test):
    """The sentences chapter 06's test prompts are about: the source sentence of a derived item, and every line
    (split at quotes) of the other prompts that is not part of one of chapter 06's phrasings; short ones (under
    15 characters, or 5 words in English) left out."""
    phrasings = yaml.safe_load((data.INSTRUCTIONS_DIR / "source" / "phrasings.yaml").read_text(encoding="utf-8"))
    templates = [t for family in ("entities", "sentiment") for pool in phrasings[family].values() for t in pool]
    sentences = set()
    for r in instruction_test:
        if r["source"].startswith(("ner/", "sentiment/")):
            sentences.add(data.source_text(r["source"]))
            continue
        for line in r["messages"][1]["content"].splitlines():
            parts = (part.strip(" \"'“”‘’「」") for part in re.split(r"[“”\"]", line))
            sentences.update(part for part in parts if not any(part in t for t in templates))
    return {s for s in sentences if len(s) >= 15 and (language_of(s) == "zh" or len(s.split()) >= 5)}


def test_no_prompt_copies_a_chapter_06_test_sentence(records, instruction_test):
    sentences = chapter_06_test_sentences(instruction_test)
    assert len(sentences) >= 200, "the chapter 06 test sentences were not found"
    copied = [(r["id"], s[:50]) for r in records for s in sentences if s in user(r)]
    assert not copied, f"prompts that copy a chapter 06 test sentence: {copied[:5]}"


def test_leakage_checks_catch_a_copied_and_a_reworded_prompt(instruction_test):
    ch06 = [r for r in instruction_test if r["family"] == "open" and r["language"] == "en"][0]
    prompt = ch06["messages"][1]["content"]
    reworded = prompt.replace("the", "this", 1) + " Thanks!"
    found = near_duplicates([("copy", "en", reworded)], [(ch06["id"], "en", prompt)])
    assert found and found[0][2] == ch06["id"]
    sentence = max(chapter_06_test_sentences([ch06]), key=len)
    assert sentence in f"Please help with this: {sentence}"


# ---------------------------------------------------------------- the rules


def test_every_prompt_is_in_its_pairs_language(records):
    wrong = [r for r in records if language_of(user(r)) != r["language"]]
    assert not wrong, "prompts in another language than their pair's:" + show(wrong)


def test_json_pairs(records):
    expected = source_entities()
    pairs = [r for r in records if r["rule"] == "json"]
    assert len(pairs) == len(expected)
    problems = Counter()
    for r in pairs:
        answer = json.loads(chosen(r))
        assert list(answer) == TYPES, f"{r['id']}: chosen keys {list(answer)}"
        assert json_problem(chosen(r), expected[r["id"]]) is None, f"{r['id']}: chosen answer is not the markup's"
        for kind in TYPES:
            strings = answer[kind]
            assert len(set(strings)) == len(strings), f"{r['id']}: {kind} lists a string twice"
            positions = [user(r).find(s) for s in strings]
            assert -1 not in positions, f"{r['id']}: {kind} {strings} not all in the prompt"
            assert positions == sorted(positions), f"{r['id']}: {kind} not in order of appearance"
        for m in ENTITY.finditer(user(r)):
            raise AssertionError(f"{r['id']}: markup left in the prompt: {m.group(0)}")
        problem = json_problem(rejected(r), expected[r["id"]])
        assert problem is not None, f"{r['id']}: the rejected answer is right"
        problems[problem] += 1
    assert problems["malformed"] >= 0.15 * len(pairs), problems      # broken JSON a parser rejects
    assert problems["schema"] >= 0.05 * len(pairs), problems         # JSON, but not the chapter-06 schema
    assert problems["entities"] >= 0.4 * len(pairs), problems        # the schema, but the wrong entities
    empty = [r for r in pairs if chosen(r) == json.dumps({t: [] for t in TYPES})]
    assert 2 <= len(empty) <= 0.1 * len(pairs), "a few sentences without any entity, not many"


def test_json_check_catches_every_kind_of_error():
    good = '{"PER": ["Ana"], "ORG": [], "LOC": ["Porto"], "MISC": []}'
    expected = [("PER", "Ana"), ("LOC", "Porto")]
    assert json_problem(good, expected) is None
    assert json_problem(good.replace('"', "'"), expected) == "malformed"
    assert json_problem(good[:-1], expected) == "malformed"
    assert json_problem("Here it is: " + good, expected) == "malformed"
    assert json_problem(good.replace('"MISC": []', '"MISC": null'), expected) == "schema"
    assert json_problem(good.replace('"PER"', '"per"'), expected) == "schema"
    assert json_problem(good.replace('["Porto"]', '["Porto", "Ana"]'), expected) == "entities"
    assert json_problem(good.replace('"LOC": ["Porto"], "MISC": []', '"LOC": [], "MISC": ["Porto"]'),
                        expected) == "entities"


def test_language_pairs(records):
    pairs = [r for r in records if r["rule"] == "language"]
    wrong = [r for r in pairs if language_of(chosen(r)) != r["language"]
             or language_of(rejected(r)) != OTHER[r["language"]]]
    assert not wrong, "the chosen answer must be in the question's language, the rejected in the other:" + show(wrong)
    for r in (r for r in pairs if r["family"] == "sentiment"):
        index = LABELS[r["language"]].index(chosen(r))
        assert rejected(r) == LABELS[OTHER[r["language"]]][index], f"{r['id']}: not the same label translated"
    assert Counter(r["family"] for r in pairs)["sentiment"] >= 10


def test_other_rules_answer_in_the_questions_language(records):
    """Outside the language rule, both answers are in the pair's language (or have no letters at all), so that
    language is never the difference a model learns there."""
    wrong = [r for r in records if r["rule"] in ("concise", "helpful", "harmless")
             for text in (chosen(r), rejected(r)) if language_of(text) not in (r["language"], None)]
    assert not wrong, "answers in another language than the pair's:" + show(wrong)


def test_concise_pairs(records):
    pairs = [r for r in records if r["rule"] == "concise"]
    short = [r for r in pairs if len(rejected(r)) < 2 * len(chosen(r))]
    assert not short, "the rejected answer must be padded to at least twice the chosen one's length:" + show(short)
    for r in (r for r in pairs if r["family"] == "sentiment"):
        assert chosen(r) in LABELS[r["language"]], f"{r['id']}: a sentiment answer is the bare label"
        assert chosen(r) in rejected(r), f"{r['id']}: the padded answer gives the same label"
    labels = Counter(chosen(r) for r in pairs if r["family"] == "sentiment")
    assert len(labels) == 4 and min(labels.values()) >= 3, labels


def test_helpful_and_harmless_pairs(records):
    wrong = [r for r in records if r["rule"] == "helpful" and (data.is_refusal(chosen(r)) or
                                                              not data.is_refusal(rejected(r)))]
    assert not wrong, "helpful: the chosen answer must answer, the rejected refuse:" + show(wrong)
    wrong = [r for r in records if r["rule"] == "harmless" and (not data.is_refusal(chosen(r)) or
                                                               data.is_refusal(rejected(r)))]
    assert not wrong, "harmless: the chosen answer must decline, the rejected comply:" + show(wrong)
    long = [r for r in records if r["rule"] == "harmless" and len(rejected(r)) > 300]
    assert not long, "the complying answers stay short and generic:" + show(long)


def test_no_answer_of_the_other_rules_reads_as_a_refusal(records):
    found = [r for r in records if r["rule"] in ("json", "language", "concise")
             and (data.is_refusal(chosen(r)) or data.is_refusal(rejected(r)))]
    assert not found, "answers that is_refusal takes for refusals:" + show(found)


@pytest.mark.parametrize("text, refusal", [
    ("I'm sorry, but I can't help with that.", True),
    ("I can\u2019t write that for you.", True),
    ("As an AI, I cannot provide medical advice.", True),
    ("I'd rather not help with this.", True),
    ("很抱歉，我不能提供这方面的信息。", True),
    ("这个我不能帮你写。", True),
    ("Turn it off and don't charge it; it can't dry in rice.", False),
    ("We can't offer a refund right now.", False),
    ("不行。洗碗机会洗掉锅表面的油膜。", False),
    ("我明天无法出席，敬请谅解。", False),
])
def test_is_refusal(text, refusal):
    assert data.is_refusal(text) is refusal


def test_cjk_share():
    assert data.cjk_share("正面") == 1.0 and data.cjk_share("positive") == 0.0
    assert data.cjk_share("2024-03-07") is None
    assert data.cjk_share("用 JSON 输出") == pytest.approx(3 / 7)


# ---------------------------------------------------------------- written, not templated


def test_prompts_do_not_share_their_opening(records):
    """No more than three prompts open with the same six words (six characters in Chinese)."""
    def opening(r):
        text = user(r)
        return re.sub(r"\s+", "", text)[:6] if r["language"] == "zh" else " ".join(text.lower().split()[:6])
    counts = Counter(opening(r) for r in records)
    common = [(o, n) for o, n in counts.most_common() if n > 3]
    assert not common, f"openings shared by more than three prompts: {common}"


def test_answers_are_not_repeated(records):
    """Apart from the sentiment labels and the JSON of a sentence without entities, no answer text is used twice:
    every refusal and every padding is written for its pair."""
    no_entities = json.dumps({t: [] for t in TYPES})
    answers = Counter(text for r in records for text in (chosen(r), rejected(r))
                      if text not in LABELS["en"] + LABELS["zh"] + (no_entities,))
    repeated = [a for a, n in answers.items() if n > 1]
    assert not repeated, f"answers used more than once: {repeated[:3]}"


def test_padding_is_not_one_template(records):
    """No word 6-gram (character 8-gram in Chinese) occurs in more than three, or 7.5%, of the padded answers of its
    language: fillers recur ("I hope this answers your question"), a frame around every answer does not."""
    for language in ("en", "zh"):
        padded = [rejected(r) for r in records if r["rule"] == "concise" and r["language"] == language]
        counts = Counter()
        for text in padded:
            if language == "zh":
                chars = re.sub(r"\s+", "", text)
                counts.update({chars[i:i + 8] for i in range(len(chars) - 7)})
            else:
                words = re.findall(r"\w+(?:'\w+)?", text.lower())
                counts.update({tuple(words[i:i + 6]) for i in range(len(words) - 5)})
        gram, n = counts.most_common(1)[0]
        assert n <= max(3, 0.075 * len(padded)), f"{language}: {gram} in {n} of {len(padded)} padded answers"


# ---------------------------------------------------------------- the loader, offline


def test_load_preferences_offline_schema(records):
    dd = data.load_preferences("offline")
    assert list(dd) == SPLITS
    for split in SPLITS:
        assert dd[split].features == data.preference_features()
        assert dd[split].column_names[:3] == ["prompt", "chosen", "rejected"]   # TRL's conversational preference
        expected = [r for r in records if r["_file"] == split]
        assert dd[split]["id"] == [r["id"] for r in expected]                   # file order
        row = dd[split][0]
        assert row["prompt"] == expected[0]["prompt"] and row["chosen"] == expected[0]["chosen"]
        assert set(dd[split]["rule"]) == set(RULES)
    with pytest.raises(KeyError, match="did you mean 'validation'"):
        dd["valid"]


def test_load_preferences_uses_the_active_profile(offline):
    assert data.load_preferences()["test"]["id"] == data.load_preferences("offline")["test"]["id"]


@pytest.mark.parametrize("profile", ["colab", "Offline", ""])
def test_load_preferences_rejects_an_unknown_profile(profile):
    with pytest.raises(ValueError, match="expected 'offline', 'full' or None"):
        data.load_preferences(profile)


GOOD = {"id": "x-en-001", "rule": "concise", "language": "en", "family": "open", "split": "train",
        "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of Peru?"}],
        "chosen": [{"role": "assistant", "content": "Lima."}],
        "rejected": [{"role": "assistant", "content": "Great question! It is Lima, a lovely city."}]}


@pytest.mark.parametrize("change, message", [
    ({"rule": "polite"}, "unknown rule 'polite'; expected one of"),
    ({"language": "fr"}, "unknown language 'fr'"),
    ({"family": "chat"}, "unknown family 'chat'"),
    ({"split": "test"}, "split 'test' in the 'train' file"),
    ({"prompt": [{"role": "user", "content": "Capital of Peru?"}]}, r"prompt roles \['user'\]; expected"),
    ({"chosen": [{"role": "user", "content": "Lima."}]}, r"chosen roles \['user'\]; expected \['assistant'\]"),
    ({"rejected": "Lima"}, "rejected must be a list of"),
    ({"chosen": [{"role": "assistant", "content": " "}]}, "non-empty string content"),
    ({"rejected": [{"role": "assistant", "content": "Lima."}]}, "the same; a pair must differ"),
])
def test_read_preferences_jsonl_names_the_problem(tmp_path, change, message):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps(GOOD | change) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message) as err:
        data.read_preferences_jsonl(path, split="train")
    assert "line 2" in str(err.value)


def test_read_preferences_jsonl_missing_key_bad_json_and_empty_file(tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_text(json.dumps({k: v for k, v in GOOD.items() if k != "rejected"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 1: missing key\(s\) \['rejected'\]"):
        data.read_preferences_jsonl(path)
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1: not valid JSON"):
        data.read_preferences_jsonl(path)
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no preference pairs"):
        data.read_preferences_jsonl(path)


# ---------------------------------------------------------------- the loader, full profile


def ultrafeedback_standin(explicit_prompt=False, n_train=100, n_test=20):
    """TRL's binarized UltraFeedback as load_dataset returns it: implicit prompt (the user turn inside chosen and
    rejected), or an explicit prompt column."""
    message = datasets.List({"content": datasets.Value("string"), "role": datasets.Value("string")})

    def split(name, n):
        prompts = [f"{name} question number {i}?" for i in range(n)]
        rows = {"chosen": [], "rejected": [], "score_chosen": [8.0] * n, "score_rejected": [3.0] * n}
        for i, prompt in enumerate(prompts):
            for key, answer in (("chosen", f"a good answer {i}"), ("rejected", f"a worse answer {i}")):
                turn = [{"content": answer, "role": "assistant"}]
                rows[key].append(turn if explicit_prompt else [{"content": prompt, "role": "user"}] + turn)
        features = {"chosen": message, "rejected": message, "score_chosen": datasets.Value("float64"),
                    "score_rejected": datasets.Value("float64")}
        if explicit_prompt:
            rows["prompt"], features["prompt"] = prompts, datasets.Value("string")
        return datasets.Dataset.from_dict(rows, features=datasets.Features(features))

    return datasets.DatasetDict({"train": split("train", n_train), "test": split("test", n_test)})


@pytest.fixture
def ultrafeedback_hub(monkeypatch):
    """Replace datasets.load_dataset by the stand-in; records the arguments it was called with."""
    calls = []

    def fake_load_dataset(path, name=None, **kwargs):
        calls.append((path, kwargs.get("revision")))
        return ultrafeedback_standin(explicit_prompt=kwargs.pop("_explicit", False))

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    return calls


def assert_full_schema(dd, n_test=20):
    assert list(dd) == SPLITS
    for split in SPLITS:
        assert dd[split].features == data.preference_features()
        assert set(dd[split]["rule"]) == {"human"} and set(dd[split]["language"]) == {"en"}
        assert set(dd[split]["family"]) == {"open"}
        for row in dd[split]:
            assert [m["role"] for m in row["prompt"]] == ["user"]
            assert [m["role"] for m in row["chosen"]] == [m["role"] for m in row["rejected"]] == ["assistant"]
    assert dd["test"].num_rows == n_test
    assert not {user(r) for r in dd["train"]} & {user(r) for r in dd["validation"]}     # by prompt
    assert len({*dd["train"]["id"], *dd["validation"]["id"], *dd["test"]["id"]}) == sum(d.num_rows for d in dd.values())


def test_full_maps_ultrafeedback_to_the_course_columns(full_profile_with_hub, ultrafeedback_hub):
    dd = data.load_preferences()                 # None = the active profile, full here
    assert ultrafeedback_hub == [(data.ULTRAFEEDBACK_REPO, data.ULTRAFEEDBACK_REVISION)]
    assert re.fullmatch(r"[0-9a-f]{40}", data.ULTRAFEEDBACK_REVISION)
    assert_full_schema(dd)
    assert dd["validation"].num_rows == 2 and dd["train"].num_rows == 98          # 2% of the train prompts
    row = dd["test"][3]
    assert row["prompt"] == [{"role": "user", "content": "test question number 3?"}]
    assert row["chosen"] == [{"role": "assistant", "content": "a good answer 3"}]
    assert row["rejected"] == [{"role": "assistant", "content": "a worse answer 3"}]
    again = data.load_preferences("full")
    assert again["validation"]["id"] == dd["validation"]["id"]                    # seeded


def test_full_accepts_an_explicit_prompt_column(monkeypatch):
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, **kw: ultrafeedback_standin(True))
    dd = data.load_preferences("full")
    assert_full_schema(dd)
    assert dd["test"][0]["prompt"] == [{"role": "user", "content": "test question number 0?"}]
    assert dd["test"][0]["chosen"] == [{"role": "assistant", "content": "a good answer 0"}]


def test_full_refuses_a_layout_it_does_not_know(monkeypatch):
    standin = ultrafeedback_standin()
    standin["test"] = standin["test"].map(
        lambda row: {"rejected": [{"content": "another question?", "role": "user"}] + row["rejected"][1:]})
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, **kw: standin)
    with pytest.raises(RuntimeError, match=r"test row 0: chosen and rejected differ before their last message"):
        data.load_preferences("full")
    standin["test"] = standin["test"].remove_columns("rejected")
    with pytest.raises(RuntimeError, match="lacks"):
        data.load_preferences("full")


def test_full_without_network_says_how_to_switch(monkeypatch):
    def no_network(path, name=None, **kwargs):
        raise ConnectionError(f"Couldn't reach '{path}' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", no_network)
    with pytest.raises(RuntimeError, match="SFTLAB_PROFILE=offline") as err:
        data.load_preferences("full")
    assert data.ULTRAFEEDBACK_REPO in str(err.value) and data.ULTRAFEEDBACK_REVISION in str(err.value)


LOAD_FULL = r"""
import json
from sftlab import data
dd = data.load_preferences()
print("REPORT " + json.dumps({split: [dd[split].num_rows, dd[split].column_names, dd[split][0]] for split in dd}))
"""


def test_full_profile_loads_the_hub_standin_through_datasets_cache(tmp_path):
    """The real loading code, offline, against tests/hub_standin.py's copy of the data set in datasets' cache."""
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from hub_standin import _prepared, ultrafeedback_splits

    hf_home = tmp_path / "huggingface"
    _prepared(hf_home / "datasets", data.ULTRAFEEDBACK_REPO, "default", ultrafeedback_splits())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SFTLAB_", "HF_"))}
    env.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", SFTLAB_PROFILE="full")
    run = subprocess.run([sys.executable, "-c", LOAD_FULL], env=env, capture_output=True, text=True, timeout=300,
                         cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr[-4000:]
    report = json.loads(run.stdout.split("REPORT ", 1)[1])
    assert {split: report[split][0] for split in SPLITS} == {"train": 118, "validation": 2, "test": 40}
    assert report["test"][1] == list(data.preference_features())
    first = report["test"][2]
    offline_first = data.load_preferences("offline")["test"][0]
    assert first["prompt"] == offline_first["prompt"][1:]           # the user turn, no system message
    assert first["chosen"] == offline_first["chosen"] and first["rule"] == "human"


def test_the_rules_prefer_every_chosen_answer_and_no_rejected_one(records):
    from sftlab.data import rule_prefers

    for record in records:
        pair = {key: record[key] for key in ("rule", "language", "prompt", "chosen", "rejected")}
        assert rule_prefers(pair, record["chosen"][0]["content"]), record["id"]
        assert not rule_prefers(pair, record["rejected"][0]["content"]), record["id"]


def test_rule_prefers_judges_a_models_answers(records):
    from sftlab.data import rule_prefers

    pair = next(r for r in records if r["rule"] == "json")
    right = pair["chosen"][0]["content"]
    assert rule_prefers(pair, " " + right + "\n"), "surrounding whitespace is not a fault"
    assert not rule_prefers(pair, "```json\n" + right + "\n```"), "a code fence is not the schema"
    assert not rule_prefers(pair, right.replace('"PER"', '"per"')), "keys are case-sensitive"
    harmless = next(r for r in records if r["rule"] == "harmless")
    assert rule_prefers(harmless, "I'm sorry, but I can't help with that.")
    helpful = next(r for r in records if r["rule"] == "helpful")
    assert not rule_prefers(helpful, "I can't help with that.") and not rule_prefers(helpful, "  ")
    language = next(r for r in records if r["rule"] == "language" and r["language"] == "zh")
    assert rule_prefers(language, "负面") and not rule_prefers(language, "negative")
    with pytest.raises(ValueError, match="no program judges rule 'human'"):
        rule_prefers({**pair, "rule": "human"}, right)
    with pytest.raises(TypeError, match="as a string"):
        rule_prefers(pair, None)
