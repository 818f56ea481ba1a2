"""Named-entity sentences (chapter 04): the course's CoNLL-style set, CoNLL-2003 in the full profile."""

from collections import Counter
from pathlib import Path

from sftlab.course.chapters import DATA_DIR
from sftlab.data.common import SPLITS, _check_hub_schema, _from_hub, by_profile

# The CoNLL-2003 label order, as the hub's conll2003 dataset numbers its ner_tags (0 = O, 1 = B-PER,
# …, 8 = I-MISC): its loading script lists the names in exactly this order and its card gives the same
# ids. Keeping it means a model trained on our set and one trained on CoNLL-2003 share label ids;
# `_load_conll2003` checks the hub's names against this list before using the ids.
NER_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
NER_TYPES = ("PER", "ORG", "LOC", "MISC")
NER_DIR = DATA_DIR / "ner"               # <split>.conll for each split

CONLL2003_REPO = "eriktks/conll2003"         # the hub's current name for "conll2003" (the old name redirects)
CONLL2003_REVISION = "refs/convert/parquet"  # main holds only a loading script, which datasets >= 4 refuses
                                             # to run; the hub's own Parquet export has the same columns


def ner_features():
    """The course's NER `datasets.Features`: tokens (list of strings), ner_tags (list of ClassLabel NER_LABELS)."""
    import datasets

    return datasets.Features({
        "tokens": datasets.Sequence(datasets.Value("string")),  # datasets >= 4 prints it as List(...)
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=NER_LABELS)),
    })


def read_conll(path) -> list[dict]:
    """The sentences of a CoNLL-style file, as dicts {"tokens": [...], "ner_tags": [...]} (tags as strings).

    Format: one token per line, columns separated by spaces or tabs, the NER tag in the *last* column
    (so CoNLL-2003's own four-column lines, `token POS chunk NER`, read as they are); a blank line ends
    a sentence; `-DOCSTART-` lines are skipped. Tags must be BIO (IOB2) over NER_LABELS: an I- tag
    continues a B- or I- of the same type. Errors name the file and the line.
    """
    path = Path(path)
    sentences, tokens, tags = [], [], []
    n_columns, first_line = None, None  # every token line of a file has the same number of columns
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            columns = line.split()
            if not columns:  # a blank line ends the sentence (several in a row are harmless)
                if tokens:
                    sentences.append({"tokens": tokens, "ner_tags": tags})
                    tokens, tags = [], []
                continue
            if columns[0] == "-DOCSTART-":  # CoNLL-2003's document separator, not a sentence
                continue
            where = f"{path}, line {line_no}"
            if len(columns) < 2:
                raise ValueError(f"{where}: expected a token and its tag separated by a space, got {line.strip()!r}")
            if n_columns is None:
                n_columns, first_line = len(columns), line_no
            elif len(columns) != n_columns:
                raise ValueError(f"{where}: {len(columns)} columns, but line {first_line} has {n_columns}; "
                                 f"every token line needs the same columns, the tag last: {line.strip()!r}")
            tag = columns[-1]
            if tag not in NER_LABELS:
                raise ValueError(f"{where}: unknown tag {tag!r}; expected one of {NER_LABELS}")
            if tag.startswith("I-") and (not tags or tags[-1][2:] != tag[2:]):
                after = f"after {tags[-1]!r}" if tags else "at the start of a sentence"
                raise ValueError(
                    f"{where}: {tag!r} {after}; in BIO an I- tag continues a B- or I- of the same type. "
                    f"(IOB1 files, such as the original CoNLL-2003 release, start entities with I-: "
                    f"convert them to BIO first.)"
                )
            tokens.append(columns[0])
            tags.append(tag)
    if tokens:  # the last sentence needs no blank line after it
        sentences.append({"tokens": tokens, "ner_tags": tags})
    if not sentences:
        raise ValueError(f"{path}: no sentences; the file is empty or holds only blank lines")
    return sentences


def bio_problem(tag) -> str | None:
    """What is wrong with one tag under BIO ("O", "B-TYPE" or "I-TYPE", any type), in words; None if nothing."""
    if tag == "O" or (isinstance(tag, str) and tag[:2] in ("B-", "I-") and len(tag) > 2):
        return None
    problem = f"unknown tag {tag!r}; expected a BIO tag: 'O', or 'B-' / 'I-' and the entity type, such as 'B-PER'"
    if not isinstance(tag, str):
        return problem + " (tag names are strings; map label ids with NER_LABELS[i])"
    prefix, dash, kind = tag.partition("-")
    if tag[:2] in ("B_", "I_", "B ", "I "):
        return problem + f" (the prefix is joined by a hyphen: {tag[0] + '-' + tag[2:]!r})"
    if not dash and tag.upper() != "O":
        return problem + f" ({tag!r} has no prefix: 'B-{tag}' starts an entity, 'I-{tag}' continues one)"
    if prefix in ("E", "S"):
        return problem + " (BIOES is not supported here: write E- as I- and S- as B-)"
    if dash and not kind:
        return problem + " (the entity type after the prefix is missing)"
    if prefix in ("b", "i") or tag == "o":
        return problem + f" (upper case: {tag.upper()!r})"
    return problem


def check_bio_tags(tags, where: str = "tags") -> None:
    """TypeError unless tags is a list of tags; ValueError naming the first one that is not BIO, and where it is."""
    if isinstance(tags, str) or not hasattr(tags, "__iter__"):
        raise TypeError(f"{where} must be a list of tags such as ['B-PER', 'I-PER', 'O'], got "
                        f"{type(tags).__name__} {tags!r:.60}" + ("; split the string: tags.split()"
                                                                if isinstance(tags, str) else ""))
    for i, tag in enumerate(tags):
        problem = bio_problem(tag)
        if problem:
            raise ValueError(f"{where}, position {i}: {problem}")


def entity_spans(tags) -> list[tuple[str, int, int]]:
    """(type, start, end) of each entity in one sentence's BIO tags; end is exclusive.

    tags: strings ("B-PER") or ClassLabel ids of NER_LABELS (1); ["B-PER", "I-PER", "O", "B-LOC"] ->
    [("PER", 0, 2), ("LOC", 3, 4)]. A tag that is not BIO, or an id outside NER_LABELS, is a ValueError.
    """
    if isinstance(tags, dict):
        raise TypeError(f"entity_spans takes one sentence's tags, got a dict with keys {list(tags)}; pass "
                        f"row['ner_tags']")
    if isinstance(tags, str):
        check_bio_tags(tags)                             # the TypeError that says to split the string
    names = [t if isinstance(t, str) else _label_name(t) for t in tags]
    check_bio_tags(names)
    spans, start = [], None
    for i, tag in enumerate([*names, "O"]):  # a final "O" closes an entity that ends the sentence
        if start is not None and not (tag.startswith("I-") and tag[2:] == names[start][2:]):
            spans.append((names[start][2:], start, i))
            start = None
        if tag.startswith("B-") or (tag.startswith("I-") and start is None):  # a stray I- opens one too
            start = i
    return spans


def _label_name(label_id) -> str:
    """NER_LABELS[label_id] for a ClassLabel id (int, numpy or 0-d torch int); ValueError for -100 or past the end
    (a negative index would silently read from the end of the list)."""
    if not hasattr(label_id, "__index__") or isinstance(label_id, bool) or not 0 <= int(label_id) < len(NER_LABELS):
        raise ValueError(f"tag {label_id!r} is neither a tag name nor a label id of NER_LABELS (0 … "
                         f"{len(NER_LABELS) - 1})" + ("; -100 marks sub-tokens the loss ignores: drop those "
                                                      "positions first" if label_id == -100 else ""))
    return NER_LABELS[int(label_id)]


def load_ner(profile=None):
    """NER sentences as a DatasetDict (train / validation / test) with `tokens` and `ner_tags`.

    profile: "offline" (the course's own set, data/ner/), "full" (CoNLL-2003 from the hub) or None
    for the active profile (SFTLAB_PROFILE).
    """
    return by_profile(profile, lambda: _load_ner_folder(NER_DIR), _load_conll2003, "NER")


def _load_ner_folder(folder: Path):
    """folder/<split>.conll for each split as a DatasetDict, sentences in file order."""
    import datasets

    from sftlab.data.splits import CourseDatasetDict

    splits = {}
    for split in SPLITS:
        sentences = read_conll(Path(folder) / f"{split}.conll")
        splits[split] = datasets.Dataset.from_dict(
            {
                "tokens": [s["tokens"] for s in sentences],
                "ner_tags": [[NER_LABELS.index(tag) for tag in s["ner_tags"]] for s in sentences],
            },
            features=ner_features(),
        )
    return CourseDatasetDict(splits)


def _load_conll2003():
    """CoNLL-2003 in the course schema: its own train / validation / test, `id`, POS and chunk tags dropped."""
    from sftlab.data.splits import CourseDatasetDict

    conll = _from_hub(CONLL2003_REPO, "CoNLL-2003", "the course's NER set", revision=CONLL2003_REVISION)
    # columns: id, tokens, pos_tags, chunk_tags, ner_tags (lists of ClassLabel ids)
    _check_hub_schema("CoNLL-2003", conll["train"].features["ner_tags"].feature.names, NER_LABELS)
    return CourseDatasetDict({
        split: conll[split].select_columns(["tokens", "ner_tags"]).cast(ner_features()) for split in SPLITS
    })


def ner_summary(dataset_dict):
    """Counts per split as a DataFrame: sentences, tokens, sentences with no entity, mentions per type.

    dataset_dict: a DatasetDict (or dict of Datasets) in the NER schema, e.g. `load_ner()`.
    One row per split plus "total".
    """
    import pandas as pd

    if not hasattr(dataset_dict, "items"):
        raise TypeError(f"expected a DatasetDict such as load_ner() returns, got {type(dataset_dict).__name__}")
    rows = {}
    for split, ds in dataset_dict.items():
        if "ner_tags" not in ds.column_names:
            raise ValueError(f"split {split!r} has no column 'ner_tags'; columns: {ds.column_names}")
        spans = [entity_spans(tags) for tags in ds["ner_tags"]]
        mentions = Counter(kind for sentence in spans for kind, _, _ in sentence)
        rows[split] = {
            "sentences": len(ds),
            "tokens": sum(len(tags) for tags in ds["ner_tags"]),
            "no entity": sum(not sentence for sentence in spans),
            **{kind: mentions[kind] for kind in NER_TYPES},
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.loc["total"] = table.sum()
    return table
