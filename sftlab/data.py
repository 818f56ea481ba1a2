"""The course's data sets, loaded through the active profile, always in the course schema.

    load_sentiment(profile)   -> DatasetDict  train / validation / test
    load_sentiment_ood()      -> Dataset      200 real movie-review sentences, out-of-domain test only
    sentiment_summary(dd)     -> DataFrame    counts per domain × split × label
    load_ner(profile)         -> DatasetDict  train / validation / test, one row per sentence
    read_conll(path)          -> list         the sentences of any CoNLL-style file (bring your own data)
    ner_summary(dd)           -> DataFrame    sentences, tokens and entity mentions per type × split
    load_lm_corpus(name)      -> DatasetDict  train / heldout, one row per entry (title, text), both profiles
    load_instructions(profile)-> DatasetDict  train / validation / test chat conversations (chapter 06), both profiles
    load_qa(profile)          -> DatasetDict  train / validation / test in SQuAD v1.1's schema (chapter 07)
    load_qa_unanswerable()    -> DatasetDict  SQuAD-2-style questions the passage does not answer, by split

Sentiment schema, every loader (one row per sentence):

    text    string                               the sentence
    label   ClassLabel(names=["neg", "pos"])     0 = neg, 1 = pos
    domain  string                               where it comes from: "films", "apps", …

Offline, the sentences come from data/sentiment/<domain>.jsonl, written for this course
(data/README.md); each line is {"text": ..., "label": "pos"|"neg", "split": "train"|"validation"|"test"}.
Full, they come from GLUE SST-2 on the hub, mapped to the same schema.

NER schema, every loader (one row per sentence):

    tokens    Sequence(string)                     the words, tokenised as CoNLL does
    ner_tags  Sequence(ClassLabel(NER_LABELS))     one BIO tag per word: 0 = O, 1 = B-PER, …

Offline, the sentences come from data/ner/<split>.conll, written for this course (data/README.md).
Full, they come from CoNLL-2003 on the hub, with its POS and chunk columns dropped.

LM corpus (one row per entry): title (the heading line) and text (the whole entry, heading first),
from data/lm/<name>/{train,heldout}.jsonl, written for this course; the same in both profiles.

Instructions (chapter 06) and QA (chapter 07): see the schemas in load_instructions and load_qa, and
data/README.md for how each set was written.
"""

import json
from collections import Counter
from pathlib import Path

from sftlab import profiles
from sftlab.course import DATA_DIR

SENTIMENT_LABELS = ["neg", "pos"]                 # ClassLabel names: index = label id
SPLITS = ("train", "validation", "test")
SENTIMENT_DIR = DATA_DIR / "sentiment"            # one <domain>.jsonl per domain
RECORD_KEYS = ("text", "label", "split")          # every line of a .jsonl file has these

GLUE_REPO = "nyu-mll/glue"           # the hub's current name for "glue" (the old name redirects)
SST2_DOMAIN = "movies (SST-2)"
SST2_VALIDATION_FRACTION = 0.02      # held out from GLUE train; GLUE validation becomes our test
SST2_SEED = 0

OOD_FILE = "pang_lee_polarity.cor"   # in gensim's test data
OOD_DOMAIN = "movie reviews (Pang & Lee)"
OOD_ENCODING = "cp1252"              # Windows-1252: Latin-1 plus printable 0x80–0x9F (the file's 0x97 is "—")


def check_texts(texts, where: str) -> None:
    """Raise a TypeError naming the first item of texts that is not a string (and where it was passed)."""
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{where}: text {i} is {type(text).__name__} {text!r:.40}, expected a string")


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
    name = profiles.active().name if profile is None else profile
    if name == "offline":
        return _load_sentiment_folder(SENTIMENT_DIR)
    if name == "full":
        return _load_sst2()
    raise ValueError(f"profile={profile!r} is not a sentiment profile; expected 'offline', 'full' or None (active)")


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


def _jsonl_objects(path: Path, keys, name: str):
    """(line number, object) for every non-blank line of a .jsonl file, each checked to be a JSON object with
    `keys`; errors start with "<name>, line <n>:" so the learner finds the line."""
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue  # a trailing blank line is harmless
            where = f"{name}, line {line_no}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{where}: not valid JSON ({err.msg}): {line.strip()[:80]!r}") from None
            if not isinstance(record, dict):
                raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
            missing = [key for key in keys if key not in record]
            if missing:
                raise ValueError(f"{where}: missing key(s) {missing}; every line needs {list(keys)}")
            yield line_no, record


def _load_sentiment_folder(folder: Path):
    """The offline set: folder/*.jsonl as a DatasetDict, each file's split kept, sorted by domain then line."""
    import datasets

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
    return datasets.DatasetDict(splits)


def _from_hub(repo: str, what: str, offline_alternative: str, *args, **kwargs):
    """datasets.load_dataset(repo, …) for the full profile, turning every hub failure — no network, a 404, a
    gated repository, a wrong revision — into one RuntimeError that names the data set and the way out."""
    import datasets
    from datasets.exceptions import DatasetNotFoundError

    try:
        return datasets.load_dataset(repo, *args, **kwargs)
    except (ConnectionError, DatasetNotFoundError, FileNotFoundError, OSError) as err:
        raise RuntimeError(
            f"the full profile loads {what} from the Hugging Face hub ({repo}"
            + (f", revision {kwargs['revision']}" if kwargs.get("revision") else "")
            + f"), and that failed: {type(err).__name__}: {err}. Offline, the course uses {offline_alternative}: "
            f"set {profiles.ENV_VAR}=offline and restart the kernel."
        ) from err


def _check_hub_schema(what: str, found, expected) -> None:
    """The hub's copy must still have the labels the course maps; say so plainly if it changed."""
    if found != expected:
        raise RuntimeError(f"{what} on the hub has labels {found}, expected {expected}: the data set changed "
                           f"upstream; pin a revision that has the old labels or use the offline profile")


def _load_sst2():
    """GLUE SST-2 in the course schema: test = GLUE validation, validation = a seeded 2% of GLUE train.

    GLUE's own test split has no labels (label -1), so it is never used.
    """
    import datasets

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
    return datasets.DatasetDict({
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


# ---------------------------------------------------------------- named entities (chapter 04)

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


def entity_spans(tags) -> list[tuple[str, int, int]]:
    """(type, start, end) of each entity in one sentence's BIO tags; end is exclusive.

    tags: strings ("B-PER") or ClassLabel ids (1); ["B-PER", "I-PER", "O", "B-LOC"] -> [("PER", 0, 2), ("LOC", 3, 4)].
    """
    names = [t if isinstance(t, str) else NER_LABELS[int(t)] for t in tags]
    spans, start = [], None
    for i, tag in enumerate([*names, "O"]):  # a final "O" closes an entity that ends the sentence
        if start is not None and not (tag.startswith("I-") and tag[2:] == names[start][2:]):
            spans.append((names[start][2:], start, i))
            start = None
        if tag.startswith("B-") or (tag.startswith("I-") and start is None):  # a stray I- opens one too
            start = i
    return spans


def load_ner(profile=None):
    """NER sentences as a DatasetDict (train / validation / test) with `tokens` and `ner_tags`.

    profile: "offline" (the course's own set, data/ner/), "full" (CoNLL-2003 from the hub) or None
    for the active profile (SFTLAB_PROFILE).
    """
    name = profiles.active().name if profile is None else profile
    if name == "offline":
        return _load_ner_folder(NER_DIR)
    if name == "full":
        return _load_conll2003()
    raise ValueError(f"profile={profile!r} is not an NER profile; expected 'offline', 'full' or None (active)")


def _load_ner_folder(folder: Path):
    """folder/<split>.conll for each split as a DatasetDict, sentences in file order."""
    import datasets

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
    return datasets.DatasetDict(splits)


def _load_conll2003():
    """CoNLL-2003 in the course schema: its own train / validation / test, `id`, POS and chunk tags dropped."""
    import datasets

    conll = _from_hub(CONLL2003_REPO, "CoNLL-2003", "the course's NER set", revision=CONLL2003_REVISION)
    # columns: id, tokens, pos_tags, chunk_tags, ner_tags (lists of ClassLabel ids)
    _check_hub_schema("CoNLL-2003", conll["train"].features["ner_tags"].feature.names, NER_LABELS)
    return datasets.DatasetDict({
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


# ---------------------------------------------------------------- causal-LM corpus (chapter 05)

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

    if name not in LM_CORPORA:
        raise ValueError(f"unknown LM corpus {name!r}; known corpora: {list(LM_CORPORA)}")
    return datasets.DatasetDict({
        split: datasets.Dataset.from_list(read_lm_jsonl(LM_DIR / name / f"{split}.jsonl"), features=lm_features())
        for split in LM_SPLITS
    })


# ---------------------------------------------------------------- instruction SFT (chapter 06)

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
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise ValueError(f"{where}: messages must be a list of {{role, content}} objects, got {messages!r:.80}")
        roles = [m.get("role") for m in messages]
        if roles != list(INSTRUCTION_ROLES):
            raise ValueError(f"{where}: message roles {roles}; expected {list(INSTRUCTION_ROLES)}, in that order")
        for m in messages:
            if set(m) != {"role", "content"} or not isinstance(m["content"], str) or not m["content"].strip():
                raise ValueError(f"{where}: each message needs exactly a role and non-empty string content, "
                                 f"got {m!r:.80}")
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
    return datasets.DatasetDict(splits)


# ---------------------------------------------------------------- extractive question answering (chapter 07)

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
    name = profiles.active().name if profile is None else profile
    if name == "offline":
        return _load_qa_folder(QA_DIR)
    if name == "full":
        return _load_squad()
    raise ValueError(f"profile={profile!r} is not a QA profile; expected 'offline', 'full' or None (active)")


def _qa_dataset(records):
    """Records in SQuAD's flat schema as a Dataset with `qa_features` (extra keys such as domain dropped)."""
    import datasets

    return datasets.Dataset.from_list([{key: r[key] for key in QA_RECORD_KEYS} for r in records],
                                      features=qa_features())


def _load_qa_folder(folder: Path):
    """folder/<split>.jsonl for each split as a DatasetDict; ids unique across splits."""
    import datasets

    splits, seen = {}, {}
    for split in SPLITS:
        records = read_qa_jsonl(Path(folder) / f"{split}.jsonl")
        for record in records:
            if record["id"] in seen:
                raise ValueError(f"id {record['id']!r} appears in {seen[record['id']]} and in {split}")
            seen[record["id"]] = split
        splits[split] = _qa_dataset(records)
    return datasets.DatasetDict(splits)


def load_qa_unanswerable():
    """The course's unanswerable questions (SQuAD 2.0 style) as a DatasetDict (train / validation / test).

    Same features as `load_qa`, answers empty: each asks about a passage of data/qa/ something it does
    not say, and sits in that passage's split, so a model tuned to say "no answer" is tested on passages
    it never saw. From data/qa/unanswerable.jsonl, in file order; the same for both profiles.
    """
    import datasets

    records = read_qa_jsonl(QA_DIR / "unanswerable.jsonl", answerable=False)
    for i, record in enumerate(records, start=1):
        if record.get("split") not in SPLITS:
            raise ValueError(f"unanswerable.jsonl, record {i}: split {record.get('split')!r}; expected one of {SPLITS}")
    return datasets.DatasetDict({
        split: _qa_dataset([r for r in records if r["split"] == split]) for split in SPLITS
    })


def _load_squad():
    """SQuAD v1.1 in the course's splits: test = SQuAD validation, validation = a seeded 2% of SQuAD train's
    articles (whole articles, so no passage is in two splits), train = the rest of SQuAD train."""
    import random

    import datasets

    squad = _from_hub(SQUAD_REPO, "SQuAD v1.1", "the course's QA set")  # id, title, context, question, answers

    train = squad["train"].cast(qa_features())
    titles = sorted(set(train["title"]))
    n_held_out = max(1, round(SQUAD_VALIDATION_FRACTION * len(titles)))
    held_out = set(random.Random(SQUAD_SEED).sample(titles, n_held_out))
    return datasets.DatasetDict({
        "train": train.filter(lambda title: title not in held_out, input_columns="title"),
        "validation": train.filter(lambda title: title in held_out, input_columns="title"),
        "test": squad["validation"].cast(qa_features()),
    })
