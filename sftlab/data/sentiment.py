"""Sentiment sentences (chapter 03): the course set, GLUE SST-2 in the full profile, Pang & Lee out of domain."""

from pathlib import Path

from sftlab.course.chapters import DATA_DIR
from sftlab.data.common import SPLITS, _check_hub_schema, _from_hub, _jsonl_objects, by_profile

SENTIMENT_LABELS = ["neg", "pos"]                 # ClassLabel names: index = label id
SENTIMENT_DIR = DATA_DIR / "sentiment"            # one <domain>.jsonl per domain
RECORD_KEYS = ("text", "label", "split")          # every line of a .jsonl file has these

GLUE_REPO = "nyu-mll/glue"           # the hub's current name for "glue" (the old name redirects)
SST2_DOMAIN = "movies (SST-2)"
SST2_VALIDATION_FRACTION = 0.02      # held out from GLUE train; GLUE validation becomes our test
SST2_SEED = 0

OOD_FILE = "pang_lee_polarity.cor"   # in gensim's test data
OOD_DOMAIN = "movie reviews (Pang & Lee)"
OOD_ENCODING = "cp1252"              # Windows-1252: Latin-1 plus printable 0x80–0x9F (the file's 0x97 is "—")


def sentiment_features():
    """The course's sentiment `datasets.Features`: text (string), label (ClassLabel neg/pos), domain (string)."""
    import datasets

    return datasets.Features({
        "text": datasets.Value("string"),
        "label": datasets.ClassLabel(names=SENTIMENT_LABELS),
        "domain": datasets.Value("string"),
    })


def load_sentiment(profile=None):
    """Sentiment sentences as a DatasetDict (train / validation / test) in the course schema.

    profile: "offline" (the course's own set), "full" (GLUE SST-2 from the hub) or None for
    the active profile (SFTLAB_PROFILE).
    """
    return by_profile(profile, lambda: _load_sentiment_folder(SENTIMENT_DIR), _load_sst2, "sentiment")


def _read_records(folder: Path) -> list[dict]:
    """Every line of folder/*.jsonl, checked, as dicts text/label/split/domain/file/line (domains sorted)."""
    files = sorted(Path(folder).glob("*.jsonl"))
    if not files:
        raise ValueError(f"no .jsonl files in {folder}; expected one <domain>.jsonl per domain")
    records = []
    for path in files:
        for line_no, record in _jsonl_objects(path, RECORD_KEYS, path.name):
            where = f"{path.name}, line {line_no}"
            if not isinstance(record["text"], str) or not record["text"].strip():
                raise ValueError(f"{where}: text must be a non-empty string, got {record['text']!r}")
            if record["label"] not in SENTIMENT_LABELS:
                raise ValueError(f"{where}: unknown label {record['label']!r}; expected one of {SENTIMENT_LABELS}")
            if record["split"] not in SPLITS:
                raise ValueError(f"{where}: unknown split {record['split']!r}; expected one of {list(SPLITS)}")
            records.append({key: record[key] for key in RECORD_KEYS}
                           | {"domain": path.stem, "file": path.name, "line": line_no})
    return records


def _load_sentiment_folder(folder: Path):
    """The offline set: folder/*.jsonl as a DatasetDict, each file's split kept, sorted by domain then line."""
    import datasets

    from sftlab.data.splits import CourseDatasetDict

    records = _read_records(folder)
    splits = {}
    for split in SPLITS:
        rows = [r for r in records if r["split"] == split]
        splits[split] = datasets.Dataset.from_dict(
            {
                "text": [r["text"] for r in rows],
                "label": [SENTIMENT_LABELS.index(r["label"]) for r in rows],
                "domain": [r["domain"] for r in rows],
            },
            features=sentiment_features(),
        )
    return CourseDatasetDict(splits)


def _load_sst2():
    """GLUE SST-2 in the course schema: test = GLUE validation, validation = a seeded 2% of GLUE train.

    GLUE's own test split has no labels (label -1), so it is never used.
    """
    import datasets

    from sftlab.data.splits import CourseDatasetDict

    glue = _from_hub(GLUE_REPO, "GLUE SST-2", "the course's sentiment set", "sst2")  # sentence, label, idx
    _check_hub_schema("SST-2", glue["train"].features["label"].names, ["negative", "positive"])

    def to_course_schema(split):
        ds = glue[split].filter(lambda label: label >= 0, input_columns="label")  # drop unlabelled rows
        ds = ds.rename_column("sentence", "text").select_columns(["text", "label"])
        ds = ds.add_column("domain", [SST2_DOMAIN] * len(ds))
        ds = ds.cast_column("label", datasets.Value("int64"))  # same ids, our names, next line
        return ds.cast(sentiment_features())

    held_out = to_course_schema("train").train_test_split(
        test_size=SST2_VALIDATION_FRACTION, seed=SST2_SEED, stratify_by_column="label"
    )
    return CourseDatasetDict({
        "train": held_out["train"],
        "validation": held_out["test"],
        "test": to_course_schema("validation"),  # 872 labelled sentences
    })


def load_sentiment_ood():
    """The 200 real movie-review sentences of Pang & Lee's polarity sample (gensim's test data), as a Dataset.

    Used only as an out-of-domain test set: never for training or model selection.
    Same features as `load_sentiment`; domain is "movie reviews (Pang & Lee)". The text is
    kept as the file has it (lower-cased and tokenised: "it's so laddish and juvenile , only ...").
    """
    import datasets
    from gensim.test.utils import datapath

    path = datapath(OOD_FILE)
    texts, labels = [], []
    with open(path, encoding=OOD_ENCODING) as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            prefix, _, text = line.strip().partition(" ")
            label = prefix.removeprefix("__label__")
            if not prefix.startswith("__label__") or label not in SENTIMENT_LABELS:
                raise ValueError(f"{path}, line {line_no}: expected '__label__pos' or '__label__neg' first, "
                                 f"got {prefix!r}")
            texts.append(text.strip())
            labels.append(SENTIMENT_LABELS.index(label))
    return datasets.Dataset.from_dict(
        {"text": texts, "label": labels, "domain": [OOD_DOMAIN] * len(texts)},
        features=sentiment_features(),
    )


def sentiment_summary(dataset_dict):
    """Sentence counts as a DataFrame: one row per domain plus "total", columns (split, label).

    dataset_dict: a DatasetDict (or dict of Datasets) in the course schema, e.g. `load_sentiment()`.
    """
    import pandas as pd

    if not hasattr(dataset_dict, "items"):
        raise TypeError(f"expected a DatasetDict such as load_sentiment() returns, got {type(dataset_dict).__name__}")
    frames = []
    for split, ds in dataset_dict.items():
        missing = {"label", "domain"} - set(ds.column_names)
        if missing:
            raise ValueError(f"split {split!r} has no column(s) {sorted(missing)}; columns: {ds.column_names}")
        frame = ds.select_columns(["label", "domain"]).to_pandas()
        frame["label"] = [ds.features["label"].int2str(int(i)) for i in frame["label"]]
        frame["split"] = split
        frames.append(frame)
    counts = pd.concat(frames).pivot_table(index="domain", columns=["split", "label"], aggfunc="size", fill_value=0)
    order = [(s, label) for s in dataset_dict for label in SENTIMENT_LABELS]  # splits in the dict's order
    counts = counts.reindex(columns=pd.MultiIndex.from_tuples(order, names=["split", "label"]), fill_value=0)
    counts.loc["total"] = counts.sum()
    return counts
