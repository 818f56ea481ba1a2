"""What the data builders (build_instructions.py, build_preferences.py) share: the split of a written item by its
position, the JSON entities answer, one record per JSON line, and writing the split files — or, with --check,
failing when they differ from a fresh build."""

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")    # the keys of every entities answer, in this order


def split_for_position(i: int) -> str:
    """The split of the i-th written item (0-based) of a source group: 2 of 8 to test, 1 of 8 to validation."""
    return {3: "test", 7: "test", 5: "validation"}.get(i % 8, "train")


def entities_answer(entities) -> str:
    """The answer for (type, string) pairs: one line of JSON, all four keys, each string once."""
    answer = {kind: [] for kind in ENTITY_TYPES}
    for kind, text in entities:
        if text not in answer[kind]:
            answer[kind].append(text)
    return json.dumps(answer, ensure_ascii=False)


def jsonl(records, keys) -> str:
    """One record per line, keys in this order, UTF-8 as written (no \\u escapes)."""
    return "".join(json.dumps({key: r[key] for key in keys}, ensure_ascii=False) + "\n" for r in records)


def write_or_check(splits: dict, out_dir: Path, keys, count_by: tuple[str, str], script: str, description: str,
                   argv=None) -> int:
    """Write <split>.jsonl for every split (or, with --check, list the stale ones and return 1); print the counts
    of each split by the two record fields in count_by."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="fail if the files differ from a fresh build")
    args = parser.parse_args(argv)
    stale = []
    for split, records in splits.items():
        path = out_dir / f"{split}.jsonl"
        text = jsonl(records, keys)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
        counts = Counter((r[count_by[0]], r[count_by[1]]) for r in records)
        print(f"{split:>10}: {len(records):4d}  " + "  ".join(f"{a}/{b} {n}" for (a, b), n in counts.items()))
    if stale:
        print(f"out of date: {stale}; run python scripts/{script}", file=sys.stderr)
        return 1
    return 0
