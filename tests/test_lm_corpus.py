"""Tests for the causal-LM corpus: data/lm/travel/'s guarantees, read_lm_jsonl on bad files, load_lm_corpus.

The corpus is what chapter 05 fine-tunes on and measures held-out perplexity with, so the checks
are about that: enough text, whole entries in each split, no held-out entry the model could have
memorised from train, one house style (a heading line, then a few sentences), and no templates.
"""

import json
import re
from collections import Counter

import datasets
import pytest
from test_data import near_duplicates  # the sentiment set's 3-gram check, reused

from sftlab import data

CORPUS_DIR = data.LM_DIR / "travel"
SPLITS = ["train", "heldout"]
MIN_ENTRIES, MIN_WORDS, MIN_HELDOUT_SHARE = 250, 25_000, 0.12
MIN_ENTRY_WORDS, MAX_ENTRY_WORDS, MIN_SENTENCES = 40, 250, 3
HELDOUT_NEAR_DUPLICATE = 0.3   # word 3-gram Jaccard at or above this = a reworded train entry (stricter than 0.6:
                               # whole entries share far fewer 3-grams than two short sentences do)
TEMPLATE_NGRAM, TEMPLATE_MIN_ENTRIES = 6, 5   # a word 6-gram in 5+ entries is a template's fixed text
MAX_TEMPLATE_SHARE = 0.05      # at most this share of entries may hold such a 6-gram (the corpus: 0)

MONTHS = ("January February March April May June July August September October November December").split()
HEADING = re.compile(rf"^(Day \d+ — (?P<day_place>.+)|(?P<place>.+), (?:{'|'.join(MONTHS)}))$")
SENTENCE_END = re.compile(r"[.!?][\"”’)]*(?=\s|$)")


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def entries():
    """{split: [{"title", "text", "where"}]} read straight from data/lm/travel/<split>.jsonl."""
    out = {}
    for split in SPLITS:
        path = CORPUS_DIR / f"{split}.jsonl"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        out[split] = [row | {"where": f"{split}.jsonl:{i}"} for i, row in enumerate(rows, start=1)]
    return out


def show(rows, limit=10):
    """Offending entries, one per row (title and the start of the text), for a failure message."""
    lines = [f"  {r['where']}: {r['title']!r} {r['text'][:70]!r}" for r in rows[:limit]]
    more = f"\n  … and {len(rows) - limit} more" if len(rows) > limit else ""
    return "\n" + "\n".join(lines) + more


def words(text):
    return re.findall(r"\w+(?:'\w+)?", text.lower())


def heading_place(title):
    """The place of a heading: "Day 3 — Kyoto" -> "kyoto", "Bruges, November" -> "bruges"."""
    match = HEADING.match(title)
    return (match["day_place"] or match["place"]).strip().lower() if match else None


def body(text):
    """The entry without its heading line."""
    return text.split("\n", 1)[1] if "\n" in text else ""


def template_share(texts, n=TEMPLATE_NGRAM, min_entries=TEMPLATE_MIN_ENTRIES):
    """The share of texts holding a word n-gram that min_entries or more texts hold.

    Real writing repeats short phrases ("at the end of"), rarely six words in a row across five
    entries; a slot-filled template repeats its fixed text in every entry it makes.
    """
    grams = [{tuple(w[i:i + n]) for i in range(len(w) - n + 1)} for w in map(words, texts)]
    counts = Counter(g for entry in grams for g in entry)
    frequent = {g for g, c in counts.items() if c >= min_entries}
    return sum(bool(entry & frequent) for entry in grams) / len(texts)


# ---------------------------------------------------------------- data/lm/travel: the corpus's guarantees


def test_files_parse_with_the_schema(entries):
    for split in SPLITS:
        for row in entries[split]:
            assert set(row) == {"title", "text", "where"}, f"{row['where']}: keys {sorted(row)}"
            assert isinstance(row["title"], str) and row["title"].strip(), f"{row['where']}: empty title"
            assert isinstance(row["text"], str) and row["text"].strip(), f"{row['where']}: empty text"


def test_size(entries):
    n_entries = sum(len(rows) for rows in entries.values())
    n_words = sum(len(r["text"].split()) for rows in entries.values() for r in rows)
    assert n_entries >= MIN_ENTRIES, f"{n_entries} entries, expected ≥ {MIN_ENTRIES}"
    assert n_words >= MIN_WORDS, f"{n_words} words, expected ≥ {MIN_WORDS}"


def test_heldout_share(entries):
    share = len(entries["heldout"]) / (len(entries["train"]) + len(entries["heldout"]))
    assert share >= MIN_HELDOUT_SHARE, f"heldout is {share:.1%} of the entries, expected ≥ {MIN_HELDOUT_SHARE:.0%}"
    assert len(entries["train"]) > len(entries["heldout"]), "train should be the larger split"


def test_every_entry_starts_with_its_heading_and_has_sentences(entries):
    bad_heading, few_sentences = [], []
    for row in [r for rows in entries.values() for r in rows]:
        first_line = row["text"].split("\n", 1)[0]
        if first_line != row["title"] or not HEADING.match(row["title"]):
            bad_heading.append(row)
        if len(SENTENCE_END.findall(body(row["text"]))) < MIN_SENTENCES:
            few_sentences.append(row)
    assert not bad_heading, ("text must start with the title, a heading \"Day N — Place\" or \"Place, Month\":"
                             + show(bad_heading))
    assert not few_sentences, f"fewer than {MIN_SENTENCES} sentences after the heading:" + show(few_sentences)


def test_both_heading_styles_in_both_splits(entries):
    for split in SPLITS:
        styles = Counter("day" if HEADING.match(r["title"])["day_place"] else "month" for r in entries[split])
        assert styles["day"] and styles["month"], f"{split}: heading styles {dict(styles)}"


def test_entry_length(entries):
    rows = [r for rows in entries.values() for r in rows]
    out = [r for r in rows if not MIN_ENTRY_WORDS <= len(r["text"].split()) <= MAX_ENTRY_WORDS]
    assert not out, f"entries outside {MIN_ENTRY_WORDS}–{MAX_ENTRY_WORDS} words:" + show(out)


def test_no_entry_twice(entries):
    rows = [r for rows in entries.values() for r in rows]
    texts = Counter(" ".join(words(r["text"])) for r in rows)
    twice = [r for r in rows if texts[" ".join(words(r["text"]))] > 1]
    assert not twice, "the same entry more than once:" + show(twice)


def test_no_heldout_entry_near_a_train_entry(entries):
    pairs = near_duplicates(entries["heldout"], entries["train"], threshold=HELDOUT_NEAR_DUPLICATE)
    detail = "\n".join(f"  {q['where']} ~ {r['where']} (Jaccard {j:.2f}): {q['title']!r} / {r['title']!r}"
                       for q, r, j in pairs[:10])
    assert not pairs, (f"heldout entries that reword a train entry (3-gram Jaccard ≥ {HELDOUT_NEAR_DUPLICATE}):\n"
                       f"{detail}")


def test_heldout_places_not_in_train(entries):
    train_places = {heading_place(r["title"]) for r in entries["train"]}
    shared = [r for r in entries["heldout"] if heading_place(r["title"]) in train_places]
    assert not shared, "heldout entries whose heading place is also a train heading:" + show(shared)


def test_no_templates(entries):
    texts = [r["text"] for rows in entries.values() for r in rows]
    share = template_share(texts)
    assert share <= MAX_TEMPLATE_SHARE, (
        f"{share:.1%} of entries hold a word {TEMPLATE_NGRAM}-gram found in ≥ {TEMPLATE_MIN_ENTRIES} entries; "
        f"expected ≤ {MAX_TEMPLATE_SHARE:.0%} (slot-filled templates?)"
    )


def test_template_check_catches_a_template_set():
    places = ["Lima", "Oslo", "Hanoi", "Accra", "Quito", "Perth", "Turin", "Cork", "Riga", "Fez"]
    things = ["spices", "fish", "lanterns", "bread", "hats", "tea", "rugs", "fruit", "shoes", "kites"]
    template = ("Day {i} — {p}\nThe market in {p} is full of {t} and noise. I walk slowly between the stalls "
                "and buy more {t} than I need. The sellers smile at me. I will never forget my day in {p}.")
    texts = [template.format(i=i, p=p, t=t) for i, (p, t) in enumerate(zip(places, things, strict=True), start=1)]
    assert template_share(texts) > MAX_TEMPLATE_SHARE, "the check misses an obvious template set"
    assert template_share(texts) == 1.0
    # five entries written separately share no six words in a row, however alike their topic
    varied = [
        "Lima, May\nThe market smells of limes and smoke. A seller shouts prices. I buy too much fruit.",
        "Oslo, June\nAt the market a boy sells fish from a bucket. Gulls wait. I buy nothing and feel watched.",
        "Day 2 — Hanoi\nStalls crowd the pavement. Noodles, herbs, a radio. I eat standing up, happily.",
        "Day 5 — Accra\nEvery market stall plays different music. The tomatoes are enormous. So is my bag.",
        "Quito, March\nIn the covered market, women sell juice by the jug. I try four. My teeth regret it.",
    ]
    assert template_share(varied) == 0.0


# ---------------------------------------------------------------- load_lm_corpus and read_lm_jsonl


def test_load_lm_corpus_schema(entries):
    dd = data.load_lm_corpus()
    assert isinstance(dd, datasets.DatasetDict)
    assert list(dd) == SPLITS
    for split in SPLITS:
        assert dd[split].features == data.lm_features(), f"{split}: features {dd[split].features}"
        assert dd[split].column_names == ["title", "text"]
        assert len(dd[split]) == len(entries[split]), f"{split}: {len(dd[split])} rows, file has {len(entries[split])}"
        assert dd[split][0]["title"] == entries[split][0]["title"]  # file order kept
    assert data.load_lm_corpus("travel")["heldout"]["text"] == dd["heldout"]["text"]


def test_load_lm_corpus_unknown_name():
    with pytest.raises(ValueError, match=r"unknown LM corpus 'poetry'.*known corpora: \['travel'\]"):
        data.load_lm_corpus("poetry")


def write(tmp_path, text, name="mine.jsonl"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_lm_jsonl_good_file(tmp_path):
    path = write(tmp_path, '{"title": "Oslo, May", "text": "Oslo, May\\nIt rains."}\n\n')
    assert data.read_lm_jsonl(path) == [{"title": "Oslo, May", "text": "Oslo, May\nIt rains."}]


@pytest.mark.parametrize("text, message", [
    ('{"title": "Oslo, May"\n', r"line 1: not valid JSON"),
    ('["Oslo", "text"]\n', r"line 1: expected a JSON object, got list"),
    ('{"title": "Oslo, May", "text": "ok"}\n{"title": "Rome, May"}\n', r"line 2: missing key\(s\) \['text'\]"),
    ('{"title": "Oslo, May", "text": "  "}\n', r"line 1: text must be a non-empty string"),
    ('{"title": 3, "text": "Oslo"}\n', r"line 1: title must be a non-empty string"),
    ("\n\n", r"no entries"),
])
def test_read_lm_jsonl_bad_files(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        data.read_lm_jsonl(write(tmp_path, text))
