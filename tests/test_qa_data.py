"""Tests for the extractive QA set, data/qa/: its guarantees, load_qa and load_qa_unanswerable, bad files.

Chapter 07 fine-tunes an encoder to point at answer spans, so the checks are about that: every answer
sits exactly at its offset, splits are by passage (a test score measures reading, not memory), the
questions are paraphrased rather than lifted from the passage (or a model learns to match words, not
to read), and the unanswerable questions belong to real passages. The full profile never touches the
hub here: `datasets.load_dataset` is replaced by a local stand-in with SQuAD's columns and features.
"""

import importlib.util
import json
import re
import statistics
from collections import Counter

import datasets
import pytest
from test_data import near_duplicates  # the sentiment set's 3-gram check, reused

from sftlab import data
from sftlab.course.chapters import REPO_ROOT

SPLITS = ["train", "validation", "test"]
MIN_PASSAGES, MIN_ANSWERABLE, MIN_TEST, MIN_VALIDATION = 150, 900, 200, 100
MIN_UNANSWERABLE_SHARE = 0.10           # of the answerable questions, as SQuAD 2.0 adds them
MIN_WORDS, MAX_WORDS = 40, 200          # a passage; MiniLM's 192-token windows hold most whole
LONG_WORDS, MIN_LONG = 170, 10          # passages this long make the tokenizer stride over windows
MIN_DOMAINS = 6
MAX_ANSWER_WORDS, SHORT_ANSWER_WORDS, MIN_SHORT_SHARE = 10, 6, 0.85
PASSAGE_NEAR_DUPLICATE = 0.3            # word 3-gram Jaccard of two passages (the LM corpus's bound for entries)
MAX_OVERLAP, MAX_MEAN_OVERLAP = 0.8, 0.35   # question vs. answer sentence; see data/README.md, "qa/"
MIN_PER_QUESTION_WORD = 20              # questions of each kind: who, when, where, why, how many/much, ...
MIN_SEVERAL_REFERENCES, MAX_REFERENCES = 100, 5   # test questions with more than one acceptable span; the most


def load_script():
    """scripts/build_qa.py as a module: the overlap measure and the builder live there, used once."""
    path = REPO_ROOT / "scripts" / "build_qa.py"
    spec = importlib.util.spec_from_file_location("build_qa", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


build_qa = load_script()


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def files():
    """{"train": [...], "validation": [...], "test": [...], "unanswerable": [...]} read straight from data/qa/."""
    out = {}
    for name in [*SPLITS, "unanswerable"]:
        path = data.QA_DIR / f"{name}.jsonl"
        out[name] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


@pytest.fixture(scope="module")
def answerable(files):
    return [r | {"split": split} for split in SPLITS for r in files[split]]


def passages(records):
    """{passage id: record} for the first question of each passage; the passage id is the question id's stem."""
    out = {}
    for r in records:
        out.setdefault(passage_id(r["id"]), r)
    return out


def passage_id(question_id):
    """"travel-03-q2" -> "travel-03"."""
    return question_id.rsplit("-", 1)[0]


def overlap(record):
    start = record["answers"]["answer_start"][0]
    return build_qa.question_overlap(record["question"], record["context"], start)


def show(rows, limit=10):
    lines = [f"  {r['id']}: {r['question']!r} -> {r['answers']['text']!r}" for r in rows[:limit]]
    more = f"\n  … and {len(rows) - limit} more" if len(rows) > limit else ""
    return "\n" + "\n".join(lines) + more


# ---------------------------------------------------------------- data/qa: the set's guarantees


def test_files_are_what_the_script_builds_from_the_sources(files):
    built = build_qa.build()
    for name, records in built.items():
        assert files[name] == records, f"data/qa/{name}.jsonl is out of date: run python scripts/build_qa.py"


def test_counts(files, answerable):
    n_passages = len(passages(answerable))
    assert n_passages >= MIN_PASSAGES, f"{n_passages} passages"
    assert len(answerable) >= MIN_ANSWERABLE, f"{len(answerable)} answerable questions"
    assert len(files["test"]) >= MIN_TEST, f"{len(files['test'])} test questions"
    assert len(files["validation"]) >= MIN_VALIDATION, f"{len(files['validation'])} validation questions"
    share = len(files["unanswerable"]) / len(answerable)
    assert share >= MIN_UNANSWERABLE_SHARE, f"{len(files['unanswerable'])} unanswerable = {share:.1%} of answerable"
    assert len(files["train"]) > len(files["test"]) > len(files["validation"])


def test_schema_of_every_record(files):
    keys = ["id", "title", "context", "question", "answers", "domain"]
    for name, records in files.items():
        expected = keys + ["split"] if name == "unanswerable" else keys
        bad = [r["id"] for r in records if list(r) != expected]
        assert not bad, f"{name}: records without exactly the keys {expected}: {bad[:10]}"


def test_passage_lengths(answerable):
    lengths = {pid: len(r["context"].split()) for pid, r in passages(answerable).items()}
    outside = {pid: n for pid, n in lengths.items() if not MIN_WORDS <= n <= MAX_WORDS}
    assert not outside, f"passages outside {MIN_WORDS}-{MAX_WORDS} words: {outside}"
    long = [pid for pid, n in lengths.items() if n >= LONG_WORDS]
    assert len(long) >= MIN_LONG, f"only {len(long)} passages of {LONG_WORDS}+ words: {long}"
    long_splits = {r["split"] for pid, r in passages(answerable).items() if pid in long}
    assert long_splits == set(SPLITS), f"long passages only in {long_splits}"


def test_every_answer_is_at_its_offset_as_whole_words(answerable):
    """Every reference of every question; train and validation questions have exactly one (test: one or more)."""
    wrong = []
    for r in answerable:
        texts, starts = r["answers"]["text"], r["answers"]["answer_start"]
        count_ok = len(texts) == len(starts) and (len(texts) >= 1 if r["split"] == "test" else len(texts) == 1)
        ok = count_ok and all(r["context"][s:s + len(t)] == t and s in build_qa.word_occurrences(r["context"], t)
                              for t, s in zip(texts, starts, strict=True))
        if not ok:
            wrong.append(r)
    assert not wrong, f"answers not at their offset (or cut through a word), or too many for train:{show(wrong)}"


def test_test_questions_list_every_acceptable_span(files):
    """As SQuAD's development set: several references where the passage supports several spans or wordings,
    each listed once; the first is the answer the overlap measure and the error analysis read."""
    references = [len(r["answers"]["text"]) for r in files["test"]]
    several = sum(n > 1 for n in references)
    assert several >= MIN_SEVERAL_REFERENCES, f"only {several} test questions have more than one reference"
    repeated = [r for r in files["test"] if len(set(zip(r["answers"]["text"], r["answers"]["answer_start"],
                                                         strict=True))) < len(r["answers"]["text"])]
    assert not repeated, f"a reference listed twice:{show(repeated)}"
    assert max(references) <= MAX_REFERENCES, f"a question with {max(references)} references"


def test_scoring_takes_the_best_over_the_references(files):
    """Each reference of a real test question is an exact match; an answer matching none is scored by the
    closest, so several references can only raise a score (sftlab.qa.question_scores, as SQuAD's script)."""
    from sftlab import qa

    several = [r for r in files["test"] if len(r["answers"]["text"]) > 1]
    for r in several:
        golds = r["answers"]["text"]
        assert all(qa.question_scores(g, golds) == (1.0, 1.0) for g in golds), r["id"]
        for prediction in (r["context"][:20], golds[0] + " and more"):     # near misses: the best reference counts
            singles = [qa.question_scores(prediction, [g]) for g in golds]
            best = (max(em for em, _ in singles), max(f1 for _, f1 in singles))
            assert qa.question_scores(prediction, golds) == best, r["id"]
    (bosphorus,) = [r for r in several if r["id"] == "cities-06-q1"]
    assert qa.question_scores("Bosphorus", bosphorus["answers"]["text"]) == (1.0, 1.0)
    assert qa.question_scores("Bosphorus", bosphorus["answers"]["text"][:1])[0] == 0.0   # one reference: no match
    split = data.load_qa("offline")["test"]
    assert [a["text"] for a in split["answers"]] == [r["answers"]["text"] for r in files["test"]], \
        "load_qa must keep every reference"


def test_no_passage_in_two_splits(answerable):
    where = {}
    for r in answerable:
        where.setdefault(r["context"], set()).add(r["split"])
        where.setdefault(r["title"], set()).add(r["split"])
    shared = {text[:50]: splits for text, splits in where.items() if len(splits) > 1}
    assert not shared, f"passages or titles in more than one split: {shared}"


def test_no_near_duplicate_passages_across_splits(answerable):
    by_split = {split: [{"text": r["context"], "id": pid} for pid, r in passages(answerable).items()
                        if r["split"] == split] for split in SPLITS}
    for query, reference in [("validation", "train"), ("test", "train"), ("test", "validation")]:
        pairs = near_duplicates(by_split[query], by_split[reference], threshold=PASSAGE_NEAR_DUPLICATE)
        assert not pairs, f"{query} passages near-duplicating {reference}: " + \
            ", ".join(f"{q['id']} ~ {r['id']} ({j:.2f})" for q, r, j in pairs[:10])


def test_ids_are_unique_and_name_their_passage(files):
    ids = [r["id"] for records in files.values() for r in records]
    repeated = [i for i, n in Counter(ids).items() if n > 1]
    assert not repeated, f"ids used twice: {repeated[:10]}"
    pattern = re.compile(r"^[a-z]+-\d\d-[qu]\d+$")  # <domain>-<passage>-q<n> or -u<n> (unanswerable)
    bad = [i for i in ids if not pattern.match(i)]
    assert not bad, f"ids not of the form travel-03-q2 / travel-03-u1: {bad[:10]}"


def test_questions_are_not_repeated(files):
    questions = Counter(r["question"].lower() for records in files.values() for r in records)
    repeated = [q for q, n in questions.items() if n > 1]
    assert not repeated, f"questions asked twice: {repeated}"


def test_questions_paraphrase_their_answer_sentence(answerable):
    """Share of a question's content words found in the sentence holding its answer: bounded, per question
    and on average, so the questions cannot be answered by word matching alone."""
    scores = [overlap(r) for r in answerable]
    too_close = [r for r, s in zip(answerable, scores, strict=True) if s > MAX_OVERLAP]
    assert not too_close, f"questions sharing more than {MAX_OVERLAP:.0%} of their words with the answer sentence:" \
        f"{show(too_close)}"
    assert statistics.mean(scores) <= MAX_MEAN_OVERLAP, f"mean overlap {statistics.mean(scores):.3f}"


def test_the_overlap_measure_catches_lifted_questions(answerable):
    """The wrong way, shown failing: questions made by replacing the answer in its sentence with "what"."""
    lifted = []
    for r in answerable:
        start, text = r["answers"]["answer_start"][0], r["answers"]["text"][0]
        sentence = build_qa.answer_sentence(r["context"], start)
        lifted.append(r | {"question": sentence.replace(text, "what", 1)})
    caught = sum(overlap(r) > MAX_OVERLAP for r in lifted) / len(lifted)
    assert caught >= 0.95, f"only {caught:.1%} of lifted questions exceed the bound {MAX_OVERLAP}"


def test_question_sentences_are_found():
    """The sentence splitter the overlap measure relies on: ends at . ! ? before a capital or digit only."""
    context = "It weighs 2.9 kilograms. Bled lies in Slovenia! Why? Ask the 99 steps."
    spans = build_qa.sentence_spans(context)
    assert [context[s:e] for s, e in spans] == ["It weighs 2.9 kilograms.", "Bled lies in Slovenia!", "Why?",
                                                 "Ask the 99 steps."]
    assert build_qa.answer_sentence(context, context.index("Slovenia")) == "Bled lies in Slovenia!"
    assert build_qa.content_words("What is the Castle's height?") == {"castle", "height"}


def test_answers_are_short_spans_not_in_their_question(answerable):
    lengths = [len(r["answers"]["text"][0].split()) for r in answerable]
    too_long = [r for r in answerable if max(len(t.split()) for t in r["answers"]["text"]) > MAX_ANSWER_WORDS]
    assert not too_long, f"answers (any reference) over {MAX_ANSWER_WORDS} words:{show(too_long)}"
    short = sum(n <= SHORT_ANSWER_WORDS for n in lengths) / len(lengths)
    assert short >= MIN_SHORT_SHARE, f"only {short:.1%} of answers have at most {SHORT_ANSWER_WORDS} words"
    given_away = [r for r in answerable if any(t.lower() in r["question"].lower() for t in r["answers"]["text"])]
    assert not given_away, f"answers (any reference) written in their own question:{show(given_away)}"


def test_question_kinds_are_mixed(answerable):
    kinds = {"who": r"\bwho(m|se)?\b", "when": r"\bwhen\b|\bwhat year\b|\bwhich year\b", "where": r"\bwhere\b",
             "why": r"\bwhy\b", "how many/much": r"\bhow (many|much)\b", "which": r"\bwhich\b", "what": r"\bwhat\b"}
    counts = {kind: sum(bool(re.search(pattern, r["question"].lower())) for r in answerable)
              for kind, pattern in kinds.items()}
    few = {kind: n for kind, n in counts.items() if n < MIN_PER_QUESTION_WORD}
    assert not few, f"too few questions of some kinds: {few} (all: {counts})"


def test_domains_in_every_split(answerable):
    domains = {split: {r["domain"] for r in answerable if r["split"] == split} for split in SPLITS}
    assert len(domains["train"]) >= MIN_DOMAINS, f"domains: {sorted(domains['train'])}"
    assert domains["train"] == domains["validation"] == domains["test"], f"domains per split: {domains}"
    for r in answerable:
        assert r["id"].startswith(r["domain"] + "-"), f"{r['id']}: domain {r['domain']!r}"


def test_unanswerable_questions_belong_to_real_passages(files, answerable):
    by_passage = passages(answerable)
    for r in files["unanswerable"]:
        assert r["answers"] == {"text": [], "answer_start": []}, f"{r['id']}: answers {r['answers']}"
        pid = passage_id(r["id"])
        assert pid in by_passage, f"{r['id']}: no passage {pid!r} among the answerable questions"
        passage = by_passage[pid]
        assert (r["context"], r["title"], r["domain"], r["split"]) == \
            (passage["context"], passage["title"], passage["domain"], passage["split"]), \
            f"{r['id']}: context, title, domain or split differ from its passage {pid}"
    per_split = Counter(r["split"] for r in files["unanswerable"])
    assert set(per_split) == set(SPLITS), f"unanswerable questions per split: {dict(per_split)}"


def test_unanswerable_questions_are_on_topic(files):
    """They look answerable: each shares a content word with its passage or title (a name, a thing)."""
    off_topic = [r for r in files["unanswerable"]
                 if not build_qa.content_words(r["question"])
                 & build_qa.content_words(r["title"] + " " + r["context"])]
    assert not off_topic, "unanswerable questions sharing no word with their passage:" + "".join(
        f"\n  {r['id']}: {r['question']!r}" for r in off_topic)


# ---------------------------------------------------------------- the builder on bad sources


def write_source(tmp_path, text):
    folder = tmp_path / "source"
    folder.mkdir()
    (folder / "travel.txt").write_text(text, encoding="utf-8")
    return folder


PASSAGE = "=== Somewhere\nThe ferry leaves at nine and returns at nine in the evening. It costs 200 crowns.\n"


def test_builder_computes_offsets(tmp_path):
    folder = write_source(tmp_path, PASSAGE + "Q: When does the boat come back? | nine @2\n"
                                              "Q: What is the fare? | 200 crowns\nX: Who owns the ferry?\n")
    built = build_qa.build(folder)
    first, second = built["train"]
    assert first["answers"] == {"text": ["nine"], "answer_start": [first["context"].index("nine in the")]}
    assert second["answers"]["answer_start"] == [first["context"].index("200")]
    assert built["unanswerable"][0]["split"] == "train"
    assert built["unanswerable"][0]["id"] == "travel-01-u1"


def test_builder_keeps_every_reference_of_a_test_question(tmp_path):
    """The second passage of a file is a test passage (SPLIT_CYCLE): its answers are all kept, in order."""
    second = PASSAGE.replace("Somewhere", "Elsewhere").replace("200 crowns", "300 crowns")
    folder = write_source(tmp_path, PASSAGE + "Q: What is the fare? | 200 crowns\n" + second
                          + "Q: What is the fare? | 300 crowns | 300\n")
    (record,) = build_qa.build(folder)["test"]
    start = record["context"].index("300")
    assert record["answers"] == {"text": ["300 crowns", "300"], "answer_start": [start, start]}
    (tmp_path / "again").mkdir()
    twice = write_source(tmp_path / "again", PASSAGE + "Q: What is the fare? | 200 crowns\n" + second
                         + "Q: What is the fare? | 300 crowns | 300 crowns\n")
    with pytest.raises(ValueError, match="listed twice"):
        build_qa.build(twice)


@pytest.mark.parametrize("qa, message", [
    ("Q: When does it leave? | nine", "occurs 2 times"),          # ambiguous: which nine?
    ("Q: When does it leave? | ten", "does not occur"),
    ("Q: What is the fare? | 20", "does not occur"),              # inside "200": not whole words
    ("Q: When does it leave? | nine @3", "@3 was asked"),
    ("Q: When does it leave? nine", "expected 'Q: question | answer [| another answer …]'"),
    ("Q: When does it leave? | nine @1 | nine @2", "answers for a train question"),   # several: test only
    ("Q: When does it leave? | nine @1 |", "expected 'Q: question | answer"),
])
def test_builder_rejects_bad_answers(tmp_path, qa, message):
    folder = write_source(tmp_path, PASSAGE + qa + "\n")
    with pytest.raises(ValueError, match=re.escape(message)):
        build_qa.build(folder)


# ---------------------------------------------------------------- load_qa, load_qa_unanswerable, read_qa_jsonl


def squad_features():
    """SQuAD v1.1's features, as the hub's rajpurkar/squad declares them."""
    string = datasets.Value("string")
    return datasets.Features({
        "id": string, "title": string, "context": string, "question": string,
        "answers": datasets.Sequence({"text": string, "answer_start": datasets.Value("int32")}),
    })


def test_load_qa_offline_has_squads_features(files):
    dd = data.load_qa("offline")
    assert list(dd) == SPLITS
    for split in SPLITS:
        assert dd[split].features == squad_features(), f"{split}: {dd[split].features}"
        assert list(dd[split]["id"]) == [r["id"] for r in files[split]], f"{split}: rows differ from the file"
    row = dd["test"][0]
    start, text = row["answers"]["answer_start"][0], row["answers"]["text"][0]
    assert row["context"][start:start + len(text)] == text


def test_load_qa_follows_the_active_profile(monkeypatch):
    monkeypatch.setenv("SFTLAB_PROFILE", "offline")
    assert list(data.load_qa()["train"]["id"]) == [r["id"] for r in data.read_qa_jsonl(data.QA_DIR / "train.jsonl")]


@pytest.mark.parametrize("profile", ["auto", "squad", 3])
def test_load_qa_unknown_profile(profile):
    with pytest.raises(ValueError, match="not a QA profile"):
        data.load_qa(profile)


def test_load_qa_unanswerable(files):
    dd = data.load_qa_unanswerable()
    assert list(dd) == SPLITS
    for split in SPLITS:
        assert dd[split].features == squad_features()
        assert all(a == {"text": [], "answer_start": []} for a in dd[split]["answers"])
    assert sum(len(dd[split]) for split in SPLITS) == len(files["unanswerable"])
    answerable_contexts = {split: set(data.load_qa("offline")[split]["context"]) for split in SPLITS}
    for split in SPLITS:
        assert set(dd[split]["context"]) <= answerable_contexts[split], f"{split}: a passage from another split"


def squad_standin():
    """A tiny SQuAD v1.1 with the hub's columns and features: 50 train articles, 2 validation articles."""
    def rows(prefix, n_titles):
        out = {key: [] for key in squad_features()}
        for t in range(n_titles):
            for q in range(2):
                context = f"{prefix} article {t} says the answer is blue{q}."
                out["id"].append(f"{prefix}{t}-{q}")
                out["title"].append(f"{prefix}_{t}")
                out["context"].append(context)
                out["question"].append(f"What does article {t} say?")
                out["answers"].append({"text": [f"blue{q}"], "answer_start": [context.index("blue")]})
        return datasets.Dataset.from_dict(out, features=squad_features())
    return datasets.DatasetDict({"train": rows("train", 50), "validation": rows("dev", 2)})


def test_full_profile_maps_squad_by_article(full_profile_with_hub, monkeypatch):
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda path, *args, **kwargs: calls.append(path) or squad_standin())
    dd = data.load_qa()  # None = the active profile, full here
    assert calls == [data.SQUAD_REPO]
    squad = squad_standin()
    assert list(dd) == SPLITS
    assert all(dd[split].features == squad_features() for split in SPLITS)
    assert list(dd["test"]["id"]) == list(squad["validation"]["id"])  # test := SQuAD validation, all of it, in order
    train_titles, validation_titles = set(dd["train"]["title"]), set(dd["validation"]["title"])
    assert validation_titles and not train_titles & validation_titles, "an article in both train and validation"
    assert sorted([*dd["train"]["id"], *dd["validation"]["id"]]) == sorted(squad["train"]["id"])


def write_jsonl(tmp_path, record):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


GOOD = {"id": "x-01-q1", "title": "T", "context": "The ferry leaves at nine.", "question": "When?",
        "answers": {"text": ["nine"], "answer_start": [20]}}


@pytest.mark.parametrize("change, answerable, message", [
    ({"answers": {"text": ["nine"], "answer_start": [19]}}, True, "is not at answer_start 19"),
    ({"answers": {"text": ["nine"], "answer_start": []}}, True, "lists of equal length"),
    ({"answers": {"text": [], "answer_start": []}}, True, "no answer"),
    ({}, False, "an unanswerable question has answers"),
    ({"question": " "}, True, "question must be a non-empty string"),
    ({"answers": ["nine"]}, True, "answers must be"),
])
def test_read_qa_jsonl_names_the_problem(tmp_path, change, answerable, message):
    path = write_jsonl(tmp_path, GOOD | change)
    with pytest.raises(ValueError, match=re.escape(message)):
        data.read_qa_jsonl(path, answerable=answerable)


def test_read_qa_jsonl_names_a_missing_key(tmp_path):
    path = write_jsonl(tmp_path, {k: v for k, v in GOOD.items() if k != "context"})
    with pytest.raises(ValueError, match=r"bad\.jsonl, line 1: missing key\(s\) \['context'\]"):
        data.read_qa_jsonl(path)
    assert data.read_qa_jsonl(write_jsonl(tmp_path, GOOD)) == [GOOD]
