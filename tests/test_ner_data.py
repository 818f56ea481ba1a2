"""Tests for the NER data: the guarantees of data/ner/, read_conll on good and bad files, load_ner's schema.

The full profile never touches the hub here: `datasets.load_dataset` is replaced by a local
stand-in with CoNLL-2003's exact columns and features.
"""

import importlib.util
from collections import Counter

import datasets
import pytest
from test_data import NEAR_DUPLICATE_JACCARD, near_duplicates  # the sentiment set's 3-gram check, reused

from sftlab import data
from sftlab.course.chapters import REPO_ROOT

SPLITS = ["train", "validation", "test"]
MIN_SENTENCES, MIN_TEST, MIN_MENTIONS, MIN_UNSEEN_SHARE = 1000, 200, 300, 0.5


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def sentences():
    """{split: [{"tokens", "ner_tags", "where"}]} read straight from data/ner/<split>.conll."""
    out = {}
    for split in SPLITS:
        rows = data.read_conll(data.NER_DIR / f"{split}.conll")
        out[split] = [row | {"where": f"{split}.conll #{i}", "text": " ".join(row["tokens"])}
                      for i, row in enumerate(rows, start=1)]
    return out


def show(rows, limit=10):
    """Offending sentences, one per row, for a failure message."""
    lines = [f"  {r['where']}: {r['text']!r}" for r in rows[:limit]]
    more = f"\n  … and {len(rows) - limit} more" if len(rows) > limit else ""
    return "\n" + "\n".join(lines) + more


def entity_strings(rows):
    """The distinct entity strings of some sentences, e.g. {"Rio de Janeiro", "Kenyan", …}."""
    return {" ".join(r["tokens"][start:end]) for r in rows for _, start, end in data.entity_spans(r["ner_tags"])}


def mentions(rows):
    """Entity mentions per type."""
    return Counter(kind for r in rows for kind, _, _ in data.entity_spans(r["ner_tags"]))


def write(tmp_path, text, name="mine.conll"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- data/ner: the data set's guarantees


def test_every_file_parses_and_is_not_empty(sentences):
    for split in SPLITS:
        assert sentences[split], f"{split}.conll has no sentences"


def test_tags_are_valid_bio(sentences):
    """Checked here independently of read_conll: known tags, and every I- continues its own type."""
    bad = []
    for rows in sentences.values():
        for r in rows:
            previous = "O"
            for tag in r["ner_tags"]:
                if tag not in data.NER_LABELS or (tag.startswith("I-") and previous[2:] != tag[2:]):
                    bad.append(r)
                    break
                previous = tag
    assert not bad, f"{len(bad)} sentences with invalid BIO tags:{show(bad)}"


def test_tokens_are_single_words(sentences):
    bad = [r for rows in sentences.values() for r in rows
           if any(not t or t != t.strip() or " " in t for t in r["tokens"]) or len(r["tokens"]) != len(r["ner_tags"])]
    assert not bad, f"{len(bad)} sentences with an empty or spaced token, or tags not matching tokens:{show(bad)}"


def test_sentence_lengths_between_5_and_40_tokens(sentences):
    bad = [r for rows in sentences.values() for r in rows if not 5 <= len(r["tokens"]) <= 40]
    assert not bad, f"{len(bad)} sentences outside 5–40 tokens:{show(bad)}"


def test_sizes(sentences):
    total = sum(len(rows) for rows in sentences.values())
    assert total >= MIN_SENTENCES, f"{total} sentences; the course promises at least {MIN_SENTENCES}"
    assert len(sentences["test"]) >= MIN_TEST, f"{len(sentences['test'])} test sentences; at least {MIN_TEST}"
    assert len(sentences["validation"]) >= 100, f"{len(sentences['validation'])} validation sentences"


def test_each_type_has_at_least_300_mentions(sentences):
    counts = mentions([r for rows in sentences.values() for r in rows])
    short = {kind: counts[kind] for kind in data.NER_TYPES if counts[kind] < MIN_MENTIONS}
    assert not short, f"mentions per type {dict(counts)}; each type needs at least {MIN_MENTIONS}: {short}"


@pytest.mark.parametrize("split", SPLITS)
def test_every_type_in_every_split(sentences, split):
    counts = mentions(sentences[split])
    assert all(counts[kind] >= 25 for kind in data.NER_TYPES), f"{split}: mentions per type {dict(counts)}"


def test_multi_word_entities_of_every_type(sentences):
    rows = [r for split in SPLITS for r in sentences[split]]
    long = Counter(kind for r in rows for kind, start, end in data.entity_spans(r["ner_tags"]) if end - start >= 2)
    assert all(long[kind] >= 20 for kind in data.NER_TYPES), f"multi-word mentions per type: {dict(long)}"
    three = sum(end - start >= 3 for r in rows for _, start, end in data.entity_spans(r["ner_tags"]))
    assert three >= 50, f"only {three} entities of three or more words (Bank of New Zealand, Rio de Janeiro)"


@pytest.mark.parametrize("split", SPLITS)
def test_some_sentences_have_no_entity(sentences, split):
    share = sum(all(t == "O" for t in r["ner_tags"]) for r in sentences[split]) / len(sentences[split])
    assert 0.08 <= share <= 0.25, f"{split}: {share:.0%} of sentences have no entity; expected about 15%"


def test_entities_at_sentence_start_and_end(sentences):
    rows = [r for split in SPLITS for r in sentences[split]]
    at_start = [r for r in rows if r["ner_tags"][0] != "O"]
    # the last word, or the last before the closing full stop
    at_end = [r for r in rows if r["ner_tags"][-1] != "O" or (r["tokens"][-1] == "." and r["ner_tags"][-2] != "O")]
    assert len(at_start) >= 100, f"only {len(at_start)} sentences start with an entity"
    assert len(at_end) >= 100, f"only {len(at_end)} sentences end with an entity"


def test_no_sentence_repeats(sentences):
    seen = Counter(tuple(r["tokens"]) for rows in sentences.values() for r in rows)
    repeated = [r for rows in sentences.values() for r in rows if seen[tuple(r["tokens"])] > 1]
    assert not repeated, f"{len(repeated)} sentences appear more than once (within or across splits):{show(repeated)}"


@pytest.mark.parametrize("split", ["validation", "test"])
def test_no_near_duplicate_of_a_training_sentence(sentences, split):
    pairs = near_duplicates(sentences[split], sentences["train"], threshold=NEAR_DUPLICATE_JACCARD)
    report = "\n".join(f"  {q['where']} {q['text']!r}\n    ~ {t['where']} {t['text']!r} (3-gram Jaccard {j:.2f})"
                       for q, t, j in pairs[:20])
    assert not pairs, f"{len(pairs)} {split} sentences nearly repeat a training sentence:\n{report}"


def test_most_test_entities_are_unseen_in_training(sentences):
    test, train = entity_strings(sentences["test"]), entity_strings(sentences["train"])
    unseen = len(test - train) / len(test)
    assert unseen >= MIN_UNSEEN_SHARE, (
        f"only {unseen:.0%} of the {len(test)} distinct test entity strings are unseen in training "
        f"(need {MIN_UNSEEN_SHARE:.0%}); seen: {sorted(test & train)[:30]}"
    )


def test_conll_files_are_what_the_sources_make():
    """data/ner/<split>.conll == scripts/ner_markup_to_conll.py applied to data/ner/source/<split>.txt."""
    path = REPO_ROOT / "scripts" / "ner_markup_to_conll.py"
    spec = importlib.util.spec_from_file_location("ner_markup_to_conll", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for split in SPLITS:
        made = script.to_conll(script.source_sentences(split))
        assert made == (data.NER_DIR / f"{split}.conll").read_text(encoding="utf-8"), (
            f"{split}.conll differs from its source; run: python scripts/ner_markup_to_conll.py"
        )
    tokens, tags = script.parse("[ORG Bank of New Zealand]'s chief, Dr. [PER Mary Ann Okafor], met U.S. officials.")
    assert tokens == ["Bank", "of", "New", "Zealand", "'s", "chief", ",", "Dr.", "Mary", "Ann", "Okafor", ",",
                      "met", "U.S.", "officials", "."]
    assert tags == ["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "O", "O", "O", "B-PER", "I-PER", "I-PER", "O",
                    "O", "O", "O", "O"]


# ---------------------------------------------------------------- entity_spans


@pytest.mark.parametrize(
    "tags, spans",
    [
        (["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 2), ("LOC", 3, 4)]),
        (["B-ORG", "B-ORG", "I-ORG"], [("ORG", 0, 1), ("ORG", 1, 3)]),   # two entities side by side
        (["O", "O"], []),
        ([7, 8, 8, 0, 5], [("MISC", 0, 3), ("LOC", 4, 5)]),              # ClassLabel ids
        (["B-PER", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 2)]),           # a stray I- still opens an entity
    ],
)
def test_entity_spans(tags, spans):
    assert data.entity_spans(tags) == spans


@pytest.mark.parametrize("tags, error, message", [
    (["B-PER", "X-PER"], ValueError, r"tags, position 1: unknown tag 'X-PER'; expected a BIO tag: 'O', or 'B-' / 'I-'"),
    (["O", "LOC"], ValueError, r"position 1: unknown tag 'LOC'.*'B-LOC' starts an entity"),
    (["S-LOC"], ValueError, r"position 0: unknown tag 'S-LOC'.*BIOES is not supported here"),
    ([1, 2, -100], ValueError, r"tag -100 is neither a tag name nor a label id of NER_LABELS \(0 … 8\)"),
    ([1, -1], ValueError, r"tag -1 is neither a tag name nor a label id"),        # not NER_LABELS[-1] = I-MISC
    ([9], ValueError, r"tag 9 is neither a tag name nor a label id"),
    ("B-PER I-PER", TypeError, r"tags must be a list of tags .*got str 'B-PER I-PER'; split the string"),
    ({"tokens": ["Paris"], "ner_tags": [5]}, TypeError, r"got a dict with keys \['tokens', 'ner_tags'\]; pass "
                                                       r"row\['ner_tags'\]"),
])
def test_entity_spans_names_a_tag_that_is_not_bio(tags, error, message):
    with pytest.raises(error, match=message):
        data.entity_spans(tags)


# ---------------------------------------------------------------- read_conll: good and bad files


def test_read_conll_reads_two_sentences(tmp_path):
    path = write(tmp_path, "Amara B-PER\nOkafor I-PER\nspoke O\n\n\nIn O\nLagos B-LOC\n")  # no final blank line
    assert data.read_conll(path) == [
        {"tokens": ["Amara", "Okafor", "spoke"], "ner_tags": ["B-PER", "I-PER", "O"]},
        {"tokens": ["In", "Lagos"], "ner_tags": ["O", "B-LOC"]},
    ]


def test_read_conll_takes_the_last_column_and_skips_docstart(tmp_path):
    conll2003 = ("-DOCSTART- -X- -X- O\n\n"
                 "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\ncall NN I-NP O\n\n"
                 "Peter\tNNP\tB-NP\tB-PER\nBlackburn\tNNP\tI-NP\tI-PER\n")  # tabs work too
    path = write(tmp_path, conll2003)
    assert data.read_conll(str(path)) == [  # a str path works as well as a Path
        {"tokens": ["EU", "rejects", "German", "call"], "ner_tags": ["B-ORG", "O", "B-MISC", "O"]},
        {"tokens": ["Peter", "Blackburn"], "ner_tags": ["B-PER", "I-PER"]},
    ]


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("Lagos", "expected a token and its tag"),
        ("Lagos NNP B-LOC", "3 columns, but line 1 has 2"),
        ("Lagos B-LOCATION", "unknown tag 'B-LOCATION'"),
        ("Lagos b-loc", "unknown tag 'b-loc'"),
        ("Lagos I-LOC", "'I-LOC' after 'O'"),
        ("Lagos I-PER", "'I-PER' after 'O'"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path, bad_line, message):
    path = write(tmp_path, f"Amara B-PER\nOkafor I-PER\nvisited O\n{bad_line}\n")
    with pytest.raises(ValueError, match=rf"mine\.conll, line 4: .*{message}"):
        data.read_conll(path)


def test_i_tag_of_another_type(tmp_path):
    path = write(tmp_path, "Bank B-ORG\nof I-ORG\nLagos I-LOC\n")
    with pytest.raises(ValueError, match=r"mine\.conll, line 3: 'I-LOC' after 'I-ORG'.*same type"):
        data.read_conll(path)


def test_i_tag_opening_a_sentence_mentions_iob1(tmp_path):
    path = write(tmp_path, "Hello O\n\nLagos I-LOC\nis O\n")
    with pytest.raises(ValueError, match=r"line 3: 'I-LOC' at the start of a sentence.*IOB1"):
        data.read_conll(path)


@pytest.mark.parametrize("text", ["", "\n\n  \n", "-DOCSTART- -X- -X- O\n\n"])
def test_empty_file(tmp_path, text):
    with pytest.raises(ValueError, match=r"mine\.conll: no sentences"):
        data.read_conll(write(tmp_path, text))


# ---------------------------------------------------------------- load_ner, offline


def test_offline_schema_and_content(offline, sentences):
    dd = data.load_ner()  # None = the active profile, offline here
    assert list(dd) == SPLITS
    for split in SPLITS:
        ds = dd[split]
        assert ds.features == data.ner_features(), f"{split}: features {ds.features}"
        assert ds.features["ner_tags"].feature.names == data.NER_LABELS
        assert ds["tokens"] == [r["tokens"] for r in sentences[split]], f"{split}: not the file's sentences in order"
        names = [[data.NER_LABELS[i] for i in tags] for tags in ds["ner_tags"]]
        assert names == [r["ner_tags"] for r in sentences[split]], f"{split}: tags changed on the way in"


def test_label_order_is_conll2003s():
    assert data.NER_LABELS == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def test_summary_counts(sentences):
    dd = data.load_ner("offline")
    table = data.ner_summary(dd)
    assert list(table.index) == [*SPLITS, "total"]
    assert list(table.columns) == ["sentences", "tokens", "no entity", "PER", "ORG", "LOC", "MISC"]
    for split in SPLITS:
        assert table.loc[split, "sentences"] == len(sentences[split])
        assert table.loc[split, "tokens"] == sum(len(r["tokens"]) for r in sentences[split])
        counts = mentions(sentences[split])
        assert [table.loc[split, kind] for kind in data.NER_TYPES] == [counts[kind] for kind in data.NER_TYPES]
    assert table.loc["total", "sentences"] == sum(len(sentences[s]) for s in SPLITS)


def test_summary_rejects_a_list():
    with pytest.raises(TypeError, match="DatasetDict"):
        data.ner_summary([1, 2])


@pytest.mark.parametrize("profile", ["auto", "Offline", "conll2003", 4])
def test_unknown_profile(profile):
    with pytest.raises(ValueError, match="expected 'offline', 'full'"):
        data.load_ner(profile)


# ---------------------------------------------------------------- load_ner, full (CoNLL-2003 stand-in)


def conll2003_standin(ner_names=tuple(data.NER_LABELS)):
    """A small DatasetDict with the hub's CoNLL-2003 columns and features (POS/chunk label lists shortened)."""
    features = datasets.Features({
        "id": datasets.Value("string"),
        "tokens": datasets.Sequence(datasets.Value("string")),
        "pos_tags": datasets.Sequence(datasets.ClassLabel(names=['"', "''", "#", "NNP", "VBZ", "JJ", "NN", "."])),
        "chunk_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-NP", "I-NP", "B-VP"])),
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=list(ner_names))),
    })

    def split(name, n):
        return datasets.Dataset.from_dict(
            {
                "id": [str(i) for i in range(n)],
                "tokens": [["EU", "rejects", "German", "call", name, "."] for _ in range(n)],
                "pos_tags": [[3, 4, 5, 6, 3, 7] for _ in range(n)],
                "chunk_tags": [[1, 3, 1, 2, 1, 0] for _ in range(n)],
                "ner_tags": [[3, 0, 7, 0, 5 if i % 2 else 0, 0] for i in range(n)],  # ORG, MISC, LOC
            },
            features=features,
        )

    return datasets.DatasetDict({"train": split("train", 12), "validation": split("validation", 5),
                                 "test": split("test", 4)})


@pytest.fixture
def conll_hub(monkeypatch):
    """Replace datasets.load_dataset by the CoNLL-2003 stand-in; records the arguments it was called with."""
    calls = []

    def fake_load_dataset(path, name=None, **kwargs):
        calls.append((path, kwargs.get("revision")))
        return conll2003_standin()

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    return calls


def test_full_maps_conll2003_to_the_course_schema(full_profile_with_hub, conll_hub):
    dd = data.load_ner()  # None = the active profile, full here
    assert conll_hub == [(data.CONLL2003_REPO, data.CONLL2003_REVISION)]
    assert list(dd) == SPLITS
    hub = conll2003_standin()
    for split in SPLITS:
        assert dd[split].features == data.ner_features(), f"{split}: features {dd[split].features}"
        assert dd[split].column_names == ["tokens", "ner_tags"]  # id, pos_tags, chunk_tags dropped
        assert dd[split]["tokens"] == hub[split]["tokens"]
        assert dd[split]["ner_tags"] == hub[split]["ner_tags"]  # same ids: the label order is CoNLL-2003's
    assert data.entity_spans(dd["train"][0]["ner_tags"]) == [("ORG", 0, 1), ("MISC", 2, 3)]


def test_full_refuses_a_different_label_order(monkeypatch):
    shuffled = ["O", "B-ORG", "I-ORG", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, **kw: conll2003_standin(shuffled))
    with pytest.raises(RuntimeError, match=r"CoNLL-2003 on the hub has labels \['O', 'B-ORG'.*the data set changed"):
        data.load_ner("full")


def test_full_without_network_says_how_to_switch(monkeypatch):
    def no_network(path, name=None, **kwargs):
        raise ConnectionError(f"Couldn't reach '{path}' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", no_network)
    with pytest.raises(RuntimeError, match="SFTLAB_PROFILE=offline") as err:
        data.load_ner("full")
    assert "CoNLL-2003" in str(err.value)
