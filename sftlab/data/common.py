"""What every data module shares: the split names, text checks, a checked JSON Lines reader, hub loading."""

import json
from pathlib import Path

from sftlab.course import profiles

SPLITS = ("train", "validation", "test")


def check_texts(texts, where: str) -> None:
    """Raise a TypeError naming the first item of texts that is not a string (and where it was passed)."""
    if isinstance(texts, str) or not hasattr(texts, "__iter__"):     # a string would pass, one letter at a time
        raise TypeError(f"{where}: expected a list of texts, got {type(texts).__name__} {texts!r:.40}"
                        + ("; wrap one text in a list: [text]" if isinstance(texts, str) else ""))
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{where}: text {i} is {type(text).__name__} {text!r:.40}, expected a string")


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
            + f"), and that failed: {type(err).__name__}: {err}. "
            + (f"If the hub no longer serves revision {kwargs['revision']}, pin one it does (a commit of the data "
               f"set's Parquet export, listed on https://huggingface.co/datasets/{repo} under 'refs/convert/parquet') "
               f"in sftlab.data. " if kwargs.get("revision") else "")
            + f"Offline, the course uses {offline_alternative}: set {profiles.ENV_VAR}=offline and restart the kernel."
        ) from err


def _check_hub_schema(what: str, found, expected) -> None:
    """The hub's copy must still have the labels the course maps; say so plainly if it changed."""
    if found != expected:
        raise RuntimeError(f"{what} on the hub has labels {found}, expected {expected}: the data set changed "
                           f"upstream; pin a revision that has the old labels or use the offline profile")


def by_profile(profile, offline, full, what: str):
    """Call `offline()` or `full()` for profile "offline", "full" or None (the active profile, SFTLAB_PROFILE);
    any other value is a ValueError naming what was expected."""
    name = profiles.active().name if profile is None else profile
    if name == "offline":
        return offline()
    if name == "full":
        return full()
    raise ValueError(f"profile={profile!r} is not a {what} profile; expected 'offline', 'full' or None (active)")


def stratified_subset(dataset, rows: int | None, seed: int = 0):
    """`rows` rows of a labelled Dataset, drawn so that each label keeps its share (seeded); None: all of it."""
    if hasattr(dataset, "keys"):     # a DatasetDict: its len() counts splits, so the row check below would mislead
        raise TypeError(f"stratified_subset takes one split (a Dataset), got a {type(dataset).__name__} of splits "
                        f"{list(dataset)}; pick one, e.g. stratified_subset(data['train'], {rows!r})")
    if "label" not in getattr(dataset, "column_names", ()):
        raise ValueError(f"stratified_subset keeps each label's share, so it needs a 'label' column; got "
                         f"{type(dataset).__name__} with columns {getattr(dataset, 'column_names', None)}")
    if rows is None:
        return dataset
    if not isinstance(rows, int) or isinstance(rows, bool) or not 0 < rows <= len(dataset):
        raise ValueError(f"rows must be None or an int from 1 to the data set's {len(dataset):,} rows, got {rows!r}")
    if rows == len(dataset):
        return dataset
    return dataset.train_test_split(train_size=rows, seed=seed, stratify_by_column="label")["train"]
