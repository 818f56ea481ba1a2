"""Tests for sftlab.data: the schema of every loader, the guarantees of data/sentiment, bad input.

The full profile never touches the hub here: `datasets.load_dataset` is replaced by a
local stand-in with SST-2's exact columns and features.
"""

import json
import re
from collections import Counter, defaultdict

import datasets
import pytest

from sftlab import data

SPLITS = ["train", "validation", "test"]
NEAR_DUPLICATE_JACCARD = 0.6  # word 3-gram Jaccard at or above this = the same sentence, reworded


# ---------------------------------------------------------------- helpers


def assert_course_schema(ds, name):
    """A Dataset in the course schema: text / label (ClassLabel neg, pos) / domain, no empty text."""
    assert ds.features == data.sentiment_features(), f"{name}: features {ds.features}"
    assert ds.features["label"].names == ["neg", "pos"], f"{name}: label names {ds.features['label'].names}"
    assert len(ds) > 0, f"{name} is empty"
    empty = [i for i, text in enumerate(ds["text"]) if not text.strip()]
    assert not empty, f"{name}: empty text in rows {empty[:10]}"
    assert set(ds["label"]) <= {0, 1}, f"{name}: label ids {sorted(set(ds['label']))}"


def raw_lines():
    """Every line of data/sentiment/*.jsonl as a dict, plus where it is ("films.jsonl:12"), read without the loader."""
    lines = []
    for path in sorted(data.SENTIMENT_DIR.glob("*.jsonl")):
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                lines.append(json.loads(line) | {"where": f"{path.name}:{line_no}", "domain": path.stem})
    return lines


def show(records, limit=15):
    """Offending lines, one per row, for a failure message."""
    rows = [f"  {r['where']} [{r.get('split')}/{r.get('label')}] {r.get('text')!r}" for r in records[:limit]]
    more = f"\n  … and {len(records) - limit} more" if len(records) > limit else ""
    return "\n" + "\n".join(rows) + more


def word_trigrams(text):
    """The set of word 3-grams of a sentence, on lower-cased word tokens."""
    words = re.findall(r"\w+(?:'\w+)?", text.lower())
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def near_duplicates(queries, references, threshold=NEAR_DUPLICATE_JACCARD):
    """Pairs (query, reference, jaccard) whose word 3-gram Jaccard ≥ threshold.

    An inverted index from 3-gram to the references holding it means only pairs that share
    a 3-gram are ever compared (a few thousand, instead of every query × reference).
    """
    ref_grams = [word_trigrams(r["text"]) for r in references]
    index = defaultdict(list)
    for j, grams in enumerate(ref_grams):
        for gram in grams:
            index[gram].append(j)
    pairs = []
    for query in queries:
        grams = word_trigrams(query["text"])
        shared = Counter(j for gram in grams for j in index[gram])  # reference id -> shared 3-grams
        for j, n in shared.items():
            jaccard = n / (len(grams) + len(ref_grams[j]) - n)
            if jaccard >= threshold:
                pairs.append((query, references[j], jaccard))
    return pairs


@pytest.fixture(scope="module")
def lines():
    return raw_lines()


# ---------------------------------------------------------------- schema, offline


def test_offline_schema_from_the_real_files(offline):
    dd = data.load_sentiment()  # None = the active profile, offline here
    assert list(dd) == SPLITS
    for split in SPLITS:
        assert_course_schema(dd[split], split)
    domains = sorted(p.stem for p in data.SENTIMENT_DIR.glob("*.jsonl"))
    assert sorted(set(dd["train"]["domain"])) == domains


def test_offline_keeps_the_files_splits_and_order(lines):
    dd = data.load_sentiment("offline")
    for split in SPLITS:
        expected = [r["text"] for r in sorted(lines, key=lambda r: r["domain"]) if r["split"] == split]
        assert dd[split]["text"] == expected, f"{split}: not the files' sentences in (domain, line) order"
        labels = [data.SENTIMENT_LABELS[i] for i in dd[split]["label"]]
        assert labels == [r["label"] for r in sorted(lines, key=lambda r: r["domain"]) if r["split"] == split]


def test_summary_counts_every_sentence():
    dd = data.load_sentiment("offline")
    table = data.sentiment_summary(dd)
    assert list(table.columns) == [(s, label) for s in SPLITS for label in ["neg", "pos"]]
    assert table.index[-1] == "total"
    for split in SPLITS:
        assert table.loc["total", split].sum() == len(dd[split])
        assert table.loc["total", (split, "pos")] == sum(dd[split]["label"])
    films = sum(d == "films" for d in dd["test"]["domain"])
    assert table.loc["films", "test"].sum() == films


def test_summary_rejects_a_list():
    with pytest.raises(TypeError, match="DatasetDict"):
        data.sentiment_summary([1, 2])


# ---------------------------------------------------------------- schema, full (SST-2 stand-in)


def sst2_standin(n_train=500, n_validation=40, n_test=30):
    """A small DatasetDict with GLUE SST-2's exact columns and features; its test split is unlabelled (-1)."""
    features = datasets.Features({
        "sentence": datasets.Value("string"),
        "label": datasets.ClassLabel(names=["negative", "positive"]),
        "idx": datasets.Value("int32"),
    })

    def split(name, n, labelled=True):
        return datasets.Dataset.from_dict(
            {
                "sentence": [f"{name} sentence number {i} " for i in range(n)],  # SST-2 keeps a trailing space
                "label": [i % 2 if labelled else -1 for i in range(n)],
                "idx": list(range(n)),
            },
            features=features,
        )

    return datasets.DatasetDict({
        "train": split("train", n_train),
        "validation": split("validation", n_validation),
        "test": split("test", n_test, labelled=False),
    })


@pytest.fixture
def sst2_hub(monkeypatch):
    """Replace datasets.load_dataset by the SST-2 stand-in; records the arguments it was called with."""
    calls = []

    def fake_load_dataset(path, name=None, **kwargs):
        calls.append((path, name))
        return sst2_standin()

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    return calls


def test_full_maps_sst2_to_the_course_schema(full_profile_with_hub, sst2_hub):
    dd = data.load_sentiment()  # None = the active profile, full here
    assert sst2_hub == [(data.GLUE_REPO, "sst2")]
    assert list(dd) == SPLITS
    for split in SPLITS:
        assert_course_schema(dd[split], split)
        assert set(dd[split]["domain"]) == {"movies (SST-2)"}
    glue = sst2_standin()
    # test := GLUE validation, all of it, in order; GLUE's unlabelled test split is never used
    assert dd["test"]["text"] == glue["validation"]["sentence"]
    assert dd["test"]["label"] == glue["validation"]["label"]
    assert not any(text.startswith("test") for split in SPLITS for text in dd[split]["text"])
    # validation := a 2% of GLUE train; train := the rest; together exactly GLUE train, no overlap
    assert len(dd["validation"]) == 10
    train, validation = set(dd["train"]["text"]), set(dd["validation"]["text"])
    assert not train & validation
    assert train | validation == set(glue["train"]["sentence"])
    assert sorted(dd["validation"]["label"]) == [0] * 5 + [1] * 5  # stratified by label
    original = dict(zip(glue["train"]["sentence"], glue["train"]["label"], strict=True))
    for split in ("train", "validation"):
        assert all(original[t] == y for t, y in zip(dd[split]["text"], dd[split]["label"], strict=True))


def test_full_drops_unlabelled_examples(monkeypatch):
    standin = sst2_standin()
    standin["validation"] = standin["validation"].map(lambda row, i: {"label": -1 if i < 4 else row["label"]},
                                                      with_indices=True)
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, **kwargs: standin)
    dd = data.load_sentiment("full")
    assert len(dd["test"]) == 40 - 4
    for split in SPLITS:
        assert min(dd[split]["label"]) >= 0, f"{split} kept an unlabelled example"


def test_full_validation_split_is_seeded(monkeypatch):
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, **kwargs: sst2_standin())
    first, second = data.load_sentiment("full"), data.load_sentiment("full")
    assert first["validation"]["text"] == second["validation"]["text"]


def test_full_without_network_says_how_to_switch(monkeypatch):
    def no_network(path, name=None, **kwargs):
        raise ConnectionError(f"Couldn't reach '{path}' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", no_network)
    with pytest.raises(RuntimeError, match="SFTLAB_PROFILE=offline") as err:
        data.load_sentiment("full")
    assert "hub" in str(err.value)


# ---------------------------------------------------------------- out-of-domain: Pang & Lee


@pytest.fixture(scope="module")
def ood():
    return data.load_sentiment_ood()


def test_ood_schema_and_balance(ood):
    assert_course_schema(ood, "ood")
    assert len(ood) == 200
    assert Counter(ood["label"]) == {0: 100, 1: 100}
    assert set(ood["domain"]) == {"movie reviews (Pang & Lee)"}
    assert ood[0]["text"] == "simplistic , silly and tedious ."  # prefix and trailing space gone, rest as is


def test_ood_has_no_label_prefix_left(ood):
    leftover = [text for text in ood["text"] if "__label__" in text]
    assert not leftover, f"label prefix left in: {leftover[:5]}"
    assert all(text == text.strip() for text in ood["text"])


def test_ood_decodes_the_files_non_ascii_characters(ood):
    from gensim.test.utils import datapath

    raw = open(datapath(data.OOD_FILE), "rb").read()
    assert any(byte >= 0x80 for byte in raw), "the file has no non-ASCII byte any more: drop this test"
    non_ascii = {ch for text in ood["text"] for ch in text if ord(ch) > 127}
    assert {"é", "—"} <= non_ascii, f"non-ASCII characters after decoding: {non_ascii}"  # amélie; 0x97 = em dash
    control = [text for text in ood["text"] if any(0x80 <= ord(ch) <= 0x9F for ch in text)]
    assert not control, f"C1 control characters (bytes decoded as Latin-1, not Windows-1252): {control}"


# ---------------------------------------------------------------- bad input


def write_jsonl(folder, name, lines):
    folder.mkdir(exist_ok=True)
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


GOOD = '{"text": "The soup was lovely and hot.", "label": "pos", "split": "train"}'


def test_folder_loader_reads_a_small_folder(tmp_path):
    write_jsonl(tmp_path, "soup.jsonl", [GOOD, GOOD.replace("train", "test").replace("pos", "neg")])
    dd = data._load_sentiment_folder(tmp_path)
    assert [len(dd[s]) for s in SPLITS] == [1, 0, 1]
    assert dd["test"][0] == {"text": "The soup was lovely and hot.", "label": 0, "domain": "soup"}
    assert dd["validation"].features == data.sentiment_features()


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ('{"text": "The soup was lovely", "label": "pos", ', "not valid JSON"),
        ('{"text": "The soup was lovely", "split": "train"}', "missing key"),
        ('{"text": "The soup was lovely", "label": "positive", "split": "train"}', "unknown label 'positive'"),
        ('{"text": "The soup was lovely", "label": "pos", "split": "dev"}', "unknown split 'dev'"),
        ('{"text": "  ", "label": "pos", "split": "train"}', "non-empty string"),
        ('["The soup was lovely", "pos", "train"]', "JSON object"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path, bad_line, message):
    write_jsonl(tmp_path, "soup.jsonl", [GOOD, GOOD, bad_line])
    with pytest.raises(ValueError, match=rf"soup\.jsonl, line 3: .*{message}"):
        data._load_sentiment_folder(tmp_path)


def test_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="no .jsonl files"):
        data._load_sentiment_folder(tmp_path)


@pytest.mark.parametrize("profile", ["auto", "Offline", "sst2", 3])
def test_unknown_profile(profile):
    with pytest.raises(ValueError, match="expected 'offline', 'full'"):
        data.load_sentiment(profile)


# ---------------------------------------------------------------- data/sentiment: the data set's guarantees


def test_at_least_2000_sentences(lines):
    assert len(lines) >= 2000, f"{len(lines)} sentences in data/sentiment; the course promises at least 2,000"


def test_at_least_5_domains(lines):
    domains = Counter(r["domain"] for r in lines)
    assert len(domains) >= 5, f"domains: {dict(domains)}; the course promises at least 5"


def test_test_split_has_at_least_400(lines):
    n_test = sum(r["split"] == "test" for r in lines)
    assert n_test >= 400, f"{n_test} test sentences; the course promises at least 400"


def test_only_valid_keys_labels_and_splits(lines):
    bad = [r for r in lines
           if r.get("label") not in ("neg", "pos") or r.get("split") not in SPLITS
           or not isinstance(r.get("text"), str) or set(r) - {"where", "domain"} != {"text", "label", "split"}]
    assert not bad, f"{len(bad)} lines with a wrong key, label or split:{show(bad)}"


@pytest.mark.parametrize("split", [None, *SPLITS])
def test_labels_balanced(lines, split):
    rows = [r for r in lines if split is None or r["split"] == split]
    counts = Counter(r["label"] for r in rows)
    gap = abs(counts["pos"] - counts["neg"])
    assert gap <= 0.02 * len(rows), f"{split or 'all splits'}: {dict(counts)}, |pos − neg| = {gap} > 2% of {len(rows)}"


def test_word_counts_between_4_and_40(lines):
    bad = [r for r in lines if not 4 <= len(r["text"].split()) <= 40]
    assert not bad, f"{len(bad)} sentences outside 4–40 words:{show(bad)}"


def normalised(text):
    return " ".join(text.lower().split())


def test_no_exact_duplicates(lines):
    by_text = defaultdict(list)
    for r in lines:
        by_text[normalised(r["text"])].append(r)
    repeated = [r for group in by_text.values() if len(group) > 1 for r in group]
    assert not repeated, f"{len(repeated)} lines repeat another (case-insensitive):{show(repeated, limit=30)}"


def test_splits_do_not_overlap(lines):
    splits_of = defaultdict(set)
    for r in lines:
        splits_of[normalised(r["text"])].add(r["split"])
    shared = [r for r in lines if len(splits_of[normalised(r["text"])]) > 1]
    assert not shared, f"{len(shared)} lines are in more than one split:{show(shared)}"


def test_jaccard_helper():
    a = {"text": "The soup was lovely and hot today"}
    b = {"text": "the soup was LOVELY and hot"}       # 4 shared 3-grams of 5 and 4: 4 / 5
    c = {"text": "A completely different sentence here"}
    pairs = near_duplicates([a], [b, c])
    assert [(q is a, r is b, round(j, 3)) for q, r, j in pairs] == [(True, True, 0.8)]
    assert near_duplicates([c], [b]) == []


@pytest.mark.parametrize("split", ["validation", "test"])
def test_no_near_duplicate_of_a_training_sentence(lines, split):
    train = [r for r in lines if r["split"] == "train"]
    held_out = [r for r in lines if r["split"] == split]
    pairs = near_duplicates(held_out, train)
    report = "\n".join(
        f"  {q['where']} {q['text']!r}\n    ~ {t['where']} {t['text']!r} (3-gram Jaccard {j:.2f})"
        for q, t, j in pairs[:20]
    )
    assert not pairs, f"{len(pairs)} {split} sentences nearly repeat a training sentence:\n{report}"


# The label-skewed cue words data/README.md documents (sentiment/, "A known property"): word -> (positive,
# negative) sentences holding it, over the whole set and in train. Chapter 03 studies them; they are kept.
DOCUMENTED_CUES = {"surprisingly": ((18, 0), (13, 0)), "dollars": ((1, 17), (1, 12)),
                   "mostly": ((1, 17), (1, 11)), "promised": ((0, 12), (0, 8))}


def label_counts(records, word):
    """(positive, negative) sentences of records that hold word as a whole word (any case)."""
    holding = [r["label"] for r in records if re.search(rf"\b{word}\b", r["text"], re.I)]
    return holding.count("pos"), holding.count("neg")


def test_the_documented_cue_words_are_as_skewed_as_the_readme_says(lines):
    train = [r for r in lines if r["split"] == "train"]
    measured = {word: (label_counts(lines, word), label_counts(train, word)) for word in DOCUMENTED_CUES}
    assert measured == DOCUMENTED_CUES, f"cue counts changed; update data/README.md (sentiment/): {measured}"
    readme = (data.SENTIMENT_DIR.parent / "README.md").read_text(encoding="utf-8")
    assert all(f'"{word}"' in readme for word in DOCUMENTED_CUES), "a cue word is missing from data/README.md"


@pytest.mark.parametrize("failure", ["404", "gated", "revision"])
def test_every_hub_failure_names_the_data_set_and_the_offline_set(monkeypatch, failure):
    from datasets.exceptions import DatasetNotFoundError

    messages = {"404": "Dataset 'eriktks/conll2003' doesn't exist on the Hub or cannot be accessed.",
                "gated": "Dataset 'eriktks/conll2003' is a gated dataset on the Hub.",
                "revision": "Revision 'refs/convert/parquet' doesn't exist for dataset 'eriktks/conll2003'."}

    def refuse(path, name=None, **kwargs):
        raise DatasetNotFoundError(messages[failure])

    monkeypatch.setattr(datasets, "load_dataset", refuse)
    with pytest.raises(RuntimeError, match=r"CoNLL-2003 from the Hugging Face hub \(eriktks/conll2003, revision "
                                           r"refs/convert/parquet\).*pin one it does.*in sftlab.data.*"
                                           r"the course's NER set.*SFTLAB_PROFILE=offline"):
        data.load_ner("full")


def test_a_changed_label_set_on_the_hub_is_a_clear_error(monkeypatch):
    standin = sst2_standin()
    renamed = standin.cast_column("label", datasets.ClassLabel(names=["bad", "good"]))
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, **kwargs: renamed)
    with pytest.raises(RuntimeError, match=r"SST-2 on the hub has labels \['bad', 'good'\], expected"):
        data.load_sentiment("full")


def test_stratified_subset_keeps_each_labels_share_and_refuses_impossible_sizes(offline):
    from collections import Counter

    from sftlab.data import load_sentiment, stratified_subset

    train = load_sentiment()["train"]
    subset = stratified_subset(train, 300, seed=0)
    assert len(subset) == 300 and Counter(subset["label"]) == {0: 150, 1: 150}
    assert stratified_subset(train, 300, seed=0)["text"] == subset["text"]          # seeded
    assert stratified_subset(train, None) is train and stratified_subset(train, len(train)) is train
    for rows in (0, len(train) + 1, 2.5, "300", True):
        with pytest.raises(ValueError, match="rows must be None or an int from 1 to the data set's 1,512 rows"):
            stratified_subset(train, rows)
    with pytest.raises(TypeError, match=r"takes one split \(a Dataset\), got a CourseDatasetDict of splits "
                                        r"\['train', 'validation', 'test'\]; pick one"):
        stratified_subset(load_sentiment(), 300)
    with pytest.raises(ValueError, match=r"needs a 'label' column; got Dataset with columns \['text'\]"):
        stratified_subset(train.select_columns(["text"]), 300)


# ---------------------------------------------------------------- a wrong split name


@pytest.mark.parametrize("load, wrong, message", [
    (data.load_sentiment, "valid", "no split 'valid'; this DatasetDict has 'train', 'validation', 'test' "
                                   r"\(did you mean 'validation'\?\)"),
    (data.load_ner, "dev", r"no split 'dev'; .* \(did you mean 'validation'\?\)"),
    (data.load_qa, "Train", r"no split 'Train'; .* \(did you mean 'train'\?\)"),
    (data.load_qa_unanswerable, "tests", r"no split 'tests'; .* \(did you mean 'test'\?\)"),
    (data.load_instructions, "eval", r"no split 'eval'; .* \(did you mean 'validation'\?\)"),
    (data.load_lm_corpus, "test", r"no split 'test'; this DatasetDict has 'train', 'heldout' "
                                  r"\(did you mean 'heldout'\?\)"),
], ids=lambda value: getattr(value, "__name__", None))
def test_a_wrong_split_name_lists_the_splits_there_are(offline, load, wrong, message):
    with pytest.raises(KeyError, match=message):
        load()[wrong]


def test_the_split_check_survives_map_filter_and_with_format_and_pickles(offline):
    import pickle

    from datasets.fingerprint import Hasher

    dd = data.load_sentiment()
    for derived in (dd.map(lambda row: {"n": len(row["text"])}), dd.filter(lambda row: row["label"] == 1),
                    dd.with_format("torch"), dd.select_columns(["text"]), dd.shuffle(seed=0),
                    pickle.loads(pickle.dumps(dd))):
        assert isinstance(derived, datasets.DatasetDict) and list(derived) == SPLITS
        with pytest.raises(KeyError, match="no split 'valid'"):
            derived["valid"]
    assert Hasher.hash(dd) == Hasher.hash(pickle.loads(pickle.dumps(dd)))   # datasets' cache fingerprint


def test_the_full_profile_names_the_splits_too(full_profile_with_hub, sst2_hub):
    with pytest.raises(KeyError, match=r"no split 'val'; .* \(did you mean 'validation'\?\)"):
        data.load_sentiment()["val"]


def test_check_texts_refuses_one_string_which_would_pass_letter_by_letter():
    with pytest.raises(TypeError, match=r"perplexity: expected a list of texts, got str 'a review'; wrap one text"):
        data.check_texts("a review", "perplexity")
    with pytest.raises(TypeError, match="expected a list of texts, got NoneType"):
        data.check_texts(None, "predict")
