"""Chat conversations for instruction SFT (chapter 06), the same in both profiles."""

import json
from pathlib import Path

from sftlab.course import profiles
from sftlab.course.chapters import DATA_DIR, data_dir
from sftlab.data.common import SPLITS, _jsonl_objects

INSTRUCTIONS_DIR = DATA_DIR / "instructions"   # <split>.jsonl for each split; built from source/
INSTRUCTION_FAMILIES = ("entities", "sentiment", "open")
INSTRUCTION_LANGUAGES = ("en", "zh")
INSTRUCTION_ROLES = ("system", "user", "assistant")      # every conversation: these three messages, in order
INSTRUCTION_RECORD_KEYS = ("id", "family", "language", "split", "source", "messages", "reference")


def instruction_features():
    """The course's instruction `datasets.Features`: id, family, language, messages (list of {role, content}),
    reference (the assistant's answer, for scoring) and source (where the item comes from), all strings."""
    import datasets

    string = datasets.Value("string")
    return datasets.Features({
        "id": string,
        "family": string,
        "language": string,
        "messages": datasets.List({"role": string, "content": string}),
        "reference": string,
        "source": string,
    })


def check_messages(where: str, name: str, messages, roles) -> None:
    """ValueError naming `where` unless messages is a list of {role, content} objects with exactly these roles, in
    order, and non-empty string contents (name: what the messages are, in the error: "message", "prompt" …)."""
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ValueError(f"{where}: {name} must be a list of {{role, content}} objects, got {messages!r:.80}")
    found = [m.get("role") for m in messages]
    if found != list(roles):
        raise ValueError(f"{where}: {name} roles {found}; expected {list(roles)}, in that order")
    for m in messages:
        if set(m) != {"role", "content"} or not isinstance(m["content"], str) or not m["content"].strip():
            raise ValueError(f"{where}: each message of {name} needs exactly a role and non-empty string content, "
                             f"got {m!r:.80}")


def read_instructions_jsonl(path, split=None) -> list[dict]:
    """The conversations of one file of data/instructions/ as dicts, checked; errors name the file and the line.

    split: if given, every record's `split` must equal it (the file's name). Each record needs
    INSTRUCTION_RECORD_KEYS; messages are exactly system, user, assistant, each with non-empty string
    content; reference equals the assistant's content. Returns dicts with the keys of `instruction_features`.
    """
    path = Path(path)
    records = []
    for line_no, record in _jsonl_objects(path, INSTRUCTION_RECORD_KEYS, str(path)):
        where = f"{path}, line {line_no}"
        for key in ("id", "source", "reference"):
            if not isinstance(record[key], str) or not record[key].strip():
                raise ValueError(f"{where}: {key} must be a non-empty string, got {record[key]!r}")
        if record["family"] not in INSTRUCTION_FAMILIES:
            raise ValueError(f"{where}: unknown family {record['family']!r}; expected one of {INSTRUCTION_FAMILIES}")
        if record["language"] not in INSTRUCTION_LANGUAGES:
            raise ValueError(f"{where}: unknown language {record['language']!r}; "
                             f"expected one of {INSTRUCTION_LANGUAGES}")
        if split is not None and record["split"] != split:
            raise ValueError(f"{where}: split {record['split']!r} in the {split!r} file")
        messages = record["messages"]
        check_messages(where, "message", messages, INSTRUCTION_ROLES)
        if record["reference"] != messages[-1]["content"]:
            raise ValueError(f"{where}: reference {record['reference']!r:.40} differs from the assistant's answer "
                             f"{messages[-1]['content']!r:.40}")
        records.append({key: record[key] for key in instruction_features()})
    if not records:
        raise ValueError(f"{path}: no conversations; the file is empty or holds only blank lines")
    return records


def load_instructions(profile=None):
    """Chat conversations for instruction SFT as a DatasetDict (train / validation / test).

    Columns: id, family ("entities" | "sentiment" | "open"), language ("en" | "zh"), messages (system, user,
    assistant, each {role, content}), reference (the assistant's answer) and source (where it comes from:
    "ner/test.conll#17", "sentiment/films.jsonl#42" for English items derived from the course's sets, a line of
    data/instructions/source/ for written ones). Read from data/instructions/<split>.jsonl, written for this
    course (data/README.md), in file order.

    profile: "offline", "full" or None (the active profile). Both profiles use this same set: the full
    profile trains a larger model on it, there is no hub version. Ids are unique across splits.
    """
    import datasets

    from sftlab.data.splits import CourseDatasetDict

    name = profiles.active().name if profile is None else profile
    if name not in ("offline", "full"):
        raise ValueError(f"profile={profile!r} is not a profile; expected 'offline', 'full' or None (active)")
    splits, seen = {}, {}
    for split in SPLITS:
        records = read_instructions_jsonl(INSTRUCTIONS_DIR / f"{split}.jsonl", split=split)
        for record in records:
            if record["id"] in seen:
                raise ValueError(f"id {record['id']!r} appears in {seen[record['id']]} and in {split}")
            seen[record["id"]] = split
        splits[split] = datasets.Dataset.from_list(records, features=instruction_features())
    return CourseDatasetDict(splits)


def first_per_group(dataset, sizes: dict):
    """The first sizes[family] conversations of each family in each language, in the split's order (None: all):
    a fixed, stratified sample, e.g. to evaluate generation on a CPU budget."""
    unknown = set(sizes) - set(dataset["family"])
    if unknown:
        raise ValueError(f"sizes names families {sorted(unknown)} that the split does not have")
    taken, rows = {}, []
    for i, (family, language) in enumerate(zip(dataset["family"], dataset["language"], strict=True)):
        limit = sizes.get(family, 0)
        if limit is None or taken.get((family, language), 0) < limit:
            taken[(family, language)] = taken.get((family, language), 0) + 1
            rows.append(i)
    return dataset.select(rows)


_CONLL_CACHE: dict = {}


def source_text(source: str) -> str:
    """The sentence an English derived item was made from ("ner/test.conll#3", "sentiment/apps.jsonl#94": file
    and 1-based sentence or line in data/): CoNLL tokens joined by spaces, or the review's text."""
    from sftlab.data.ner import read_conll  # here: data.ner imports the hub helpers this module never needs

    path, _, number = source.partition("#")
    if not number.isdigit() or not path.startswith(("ner/", "sentiment/")):
        raise ValueError(f"source {source!r} is not a derived item's ('ner/<split>.conll#N' or "
                         f"'sentiment/<domain>.jsonl#N')")
    if path.startswith("ner/"):
        if path not in _CONLL_CACHE:
            _CONLL_CACHE[path] = read_conll(data_dir() / path)
        return " ".join(_CONLL_CACHE[path][int(number) - 1]["tokens"])
    line = (data_dir() / path).read_text(encoding="utf-8").splitlines()[int(number) - 1]
    return json.loads(line)["text"]
