"""The travel corpus for fine-tuning a causal LM (chapter 05), the same in both profiles."""

from pathlib import Path

from sftlab.course.chapters import DATA_DIR
from sftlab.data.common import _jsonl_objects

LM_DIR = DATA_DIR / "lm"                        # one folder per corpus: <name>/train.jsonl, <name>/heldout.jsonl
LM_CORPORA = ("travel",)                        # the corpora the course ships
LM_SPLITS = ("train", "heldout")
LM_RECORD_KEYS = ("title", "text")              # every line of a corpus file has these


def lm_features():
    """The course's LM-corpus `datasets.Features`: title (string, the heading line), text (string, the whole entry)."""
    import datasets

    return datasets.Features({"title": datasets.Value("string"), "text": datasets.Value("string")})


def read_lm_jsonl(path) -> list[dict]:
    """The entries of one corpus file as dicts {"title", "text"}, checked; errors name the file and the line."""
    path = Path(path)
    entries = []
    for line_no, record in _jsonl_objects(path, LM_RECORD_KEYS, str(path)):
        for key in LM_RECORD_KEYS:
            if not isinstance(record[key], str) or not record[key].strip():
                raise ValueError(f"{path}, line {line_no}: {key} must be a non-empty string, got {record[key]!r}")
        entries.append({key: record[key] for key in LM_RECORD_KEYS})
    if not entries:
        raise ValueError(f"{path}: no entries; the file is empty or holds only blank lines")
    return entries


def load_lm_corpus(name="travel"):
    """A small domain corpus for fine-tuning the causal LM, as a DatasetDict (train / heldout): title, text.

    name: the corpus, a folder of data/lm/ ("travel": short travel-journal entries written for this
    course, data/README.md). Each row is one whole entry: `text` starts with its heading line, which is
    also `title`. No entry is split across train and heldout, and no heldout entry is a near-duplicate
    of a train entry, so held-out perplexity measures the domain, not memory.

    The same for both profiles: the full profile fine-tunes its larger model on this corpus too.
    """
    import datasets

    from sftlab.data.splits import CourseDatasetDict

    if name not in LM_CORPORA:
        raise ValueError(f"unknown LM corpus {name!r}; known corpora: {list(LM_CORPORA)}")
    return CourseDatasetDict({
        split: datasets.Dataset.from_list(read_lm_jsonl(LM_DIR / name / f"{split}.jsonl"), features=lm_features())
        for split in LM_SPLITS
    })
