"""Extractive QA in SQuAD's schema (chapter 07): the course's passages, SQuAD v1.1 in the full profile."""

from pathlib import Path

from sftlab.course.chapters import DATA_DIR
from sftlab.data.common import SPLITS, _from_hub, _jsonl_objects, by_profile

QA_DIR = DATA_DIR / "qa"    # <split>.jsonl and unanswerable.jsonl, built from source/ by scripts/build_qa.py
QA_RECORD_KEYS = ("id", "title", "context", "question", "answers")   # SQuAD's flat schema; our files add domain

SQUAD_REPO = "rajpurkar/squad"        # SQuAD v1.1: train (87,599 questions) and validation (10,570), no test
SQUAD_VALIDATION_FRACTION = 0.02      # of SQuAD train's articles, held out whole; SQuAD validation becomes our test
SQUAD_SEED = 0


def qa_features():
    """SQuAD v1.1's `datasets.Features`: id, title, context, question (strings) and answers, a list of
    {text, answer_start}: the answer as it appears in the context and its character offset (int32)."""
    import datasets

    string = datasets.Value("string")
    return datasets.Features({
        "id": string,
        "title": string,
        "context": string,
        "question": string,
        "answers": datasets.Sequence({"text": string, "answer_start": datasets.Value("int32")}),
    })


def read_qa_jsonl(path, answerable=True) -> list[dict]:
    """The questions of one file of data/qa/ as dicts, checked; errors name the file and the line.

    Each record has QA_RECORD_KEYS (plus `domain`, and `split` in unanswerable.jsonl, kept as they are);
    answers is {"text": [...], "answer_start": [...]}, lists of equal length, and every answer must sit
    at its offset: context[start:start + len(text)] == text. answerable: True = at least one answer
    each, False = none (SQuAD 2.0's unanswerable questions).
    """
    path = Path(path)
    records = []
    for line_no, record in _jsonl_objects(path, QA_RECORD_KEYS, str(path)):
        where = f"{path}, line {line_no}"
        for key in ("id", "title", "context", "question"):
            if not isinstance(record[key], str) or not record[key].strip():
                raise ValueError(f"{where}: {key} must be a non-empty string, got {record[key]!r:.60}")
        answers = record["answers"]
        if not isinstance(answers, dict) or set(answers) != {"text", "answer_start"}:
            raise ValueError(f"{where}: answers must be {{'text': [...], 'answer_start': [...]}}, got {answers!r:.80}")
        texts, starts = answers["text"], answers["answer_start"]
        if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
            raise ValueError(f"{where}: answers text and answer_start must be lists of equal length, "
                             f"got {texts!r:.60} and {starts!r:.60}")
        if answerable and not texts:
            raise ValueError(f"{where}: no answer; every question of this file needs at least one")
        if not answerable and texts:
            raise ValueError(f"{where}: an unanswerable question has answers {texts!r:.60}; expected none")
        context = record["context"]
        for text, start in zip(texts, starts, strict=True):
            if not isinstance(text, str) or not text or type(start) is not int:
                raise ValueError(f"{where}: each answer needs a non-empty text and an integer answer_start, "
                                 f"got {text!r:.40} at {start!r}")
            found = context[start:start + len(text)] if start >= 0 else ""
            if found != text:
                raise ValueError(f"{where}: answer {text!r} is not at answer_start {start}: the context has "
                                 f"{found!r} there")
        records.append(record)
    if not records:
        raise ValueError(f"{path}: no questions; the file is empty or holds only blank lines")
    return records


def load_qa(profile=None):
    """Extractive QA (SQuAD-style spans) as a DatasetDict (train / validation / test) with SQuAD v1.1's features.

    profile: "offline" (the course's own set, data/qa/, written for this course: data/README.md), "full"
    (SQuAD v1.1 from the hub) or None for the active profile (SFTLAB_PROFILE). Both are split by passage:
    no context appears in two splits. Offline rows keep file order; their domain is in the files
    (`read_qa_jsonl`), not in the Dataset, so both profiles have exactly SQuAD's columns.
    """
    return by_profile(profile, lambda: _load_qa_folder(QA_DIR), _load_squad, "QA")


def _qa_dataset(records):
    """Records in SQuAD's flat schema as a Dataset with `qa_features` (extra keys such as domain dropped)."""
    import datasets

    return datasets.Dataset.from_list([{key: r[key] for key in QA_RECORD_KEYS} for r in records],
                                      features=qa_features())


def _load_qa_folder(folder: Path):
    """folder/<split>.jsonl for each split as a DatasetDict; ids unique across splits."""
    from sftlab.data.splits import CourseDatasetDict

    splits, seen = {}, {}
    for split in SPLITS:
        records = read_qa_jsonl(Path(folder) / f"{split}.jsonl")
        for record in records:
            if record["id"] in seen:
                raise ValueError(f"id {record['id']!r} appears in {seen[record['id']]} and in {split}")
            seen[record["id"]] = split
        splits[split] = _qa_dataset(records)
    return CourseDatasetDict(splits)


def load_qa_unanswerable():
    """The course's unanswerable questions (SQuAD 2.0 style) as a DatasetDict (train / validation / test).

    Same features as `load_qa`, answers empty: each asks about a passage of data/qa/ something it does
    not say, and sits in that passage's split, so a model tuned to say "no answer" is tested on passages
    it never saw. From data/qa/unanswerable.jsonl, in file order; the same for both profiles.
    """
    from sftlab.data.splits import CourseDatasetDict

    records = read_qa_jsonl(QA_DIR / "unanswerable.jsonl", answerable=False)
    for i, record in enumerate(records, start=1):
        if record.get("split") not in SPLITS:
            raise ValueError(f"unanswerable.jsonl, record {i}: split {record.get('split')!r}; expected one of {SPLITS}")
    return CourseDatasetDict({
        split: _qa_dataset([r for r in records if r["split"] == split]) for split in SPLITS
    })


def _load_squad():
    """SQuAD v1.1 in the course's splits: test = SQuAD validation, validation = a seeded 2% of SQuAD train's
    articles (whole articles, so no passage is in two splits), train = the rest of SQuAD train."""
    import random

    from sftlab.data.splits import CourseDatasetDict

    squad = _from_hub(SQUAD_REPO, "SQuAD v1.1", "the course's QA set")  # id, title, context, question, answers

    train = squad["train"].cast(qa_features())
    titles = sorted(set(train["title"]))
    n_held_out = max(1, round(SQUAD_VALIDATION_FRACTION * len(titles)))
    held_out = set(random.Random(SQUAD_SEED).sample(titles, n_held_out))
    return CourseDatasetDict({
        "train": train.filter(lambda title: title not in held_out, input_columns="title"),
        "validation": train.filter(lambda title: title in held_out, input_columns="title"),
        "test": squad["validation"].cast(qa_features()),
    })
