"""The real interview question bank, data/interview/NN.yaml: valid, unique, complete.

Every failure names the offending ids (or the counts that fall short), so a writer knows what to fix.
"""

from collections import Counter

import pytest
import yaml

from sftlab import quiz
from sftlab.course import NOTEBOOK_IDS

MIN_QUESTIONS = 80
MIN_PER_NOTEBOOK = 12          # notebooks 01–05; 00 holds the general questions
MIN_MISCONCEPTIONS = 10


def raw_entries():
    """(file name, entry) for every entry in the bank, read without validation.

    A file that is not a YAML list is left out here; test_the_bank_loads names it.
    """
    pairs = []
    for path in sorted(quiz.BANK_DIR.glob("*.yaml")):
        try:
            entries = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        pairs += [(path.name, entry) for entry in entries] if isinstance(entries, list) else []
    return pairs


def entry_id(entry):
    return entry.get("id", "<no id>") if isinstance(entry, dict) else repr(entry)[:40]


@pytest.fixture(scope="module")
def entries():
    return raw_entries()


def test_bank_files_are_named_after_notebooks():
    names = sorted(path.stem for path in quiz.BANK_DIR.glob("*.yaml"))
    strays = sorted(set(names) - set(NOTEBOOK_IDS))
    assert not strays, f"files not named after a notebook: {strays}"


def test_every_entry_is_valid(entries):
    problems = []
    for source, entry in entries:
        try:
            quiz.validate_entry(entry, source)
        except ValueError as error:
            problems.append(str(error))
    assert not problems, f"{len(problems)} invalid entries:\n" + "\n".join(problems)


def test_ids_are_unique(entries):
    files_of = {}
    for source, entry in entries:
        files_of.setdefault(entry_id(entry), []).append(source)
    duplicates = {qid: files for qid, files in files_of.items() if len(files) > 1}
    assert not duplicates, f"duplicate ids (id: files): {duplicates}"


def test_each_entry_sits_in_its_notebooks_file(entries):
    misplaced = [f"{entry_id(entry)} (notebook {entry.get('notebook')!r}, in {source})"
                 for source, entry in entries
                 if isinstance(entry, dict) and str(entry.get("notebook")) != source.removesuffix(".yaml")]
    assert not misplaced, "entries whose notebook is not their file name: " + ", ".join(misplaced)


def test_the_bank_loads():
    problems = quiz.check_bank()
    assert not problems, "\n".join(problems)
    assert len(quiz.load_bank()) == len(raw_entries())


def test_enough_questions_in_all(entries):
    count = len(entries)
    assert count >= MIN_QUESTIONS, f"the bank has {count} questions, want at least {MIN_QUESTIONS}"


def test_enough_questions_per_notebook(entries):
    counts = Counter(source.removesuffix(".yaml") for source, _ in entries)
    short = {nb: counts[nb] for nb in NOTEBOOK_IDS[1:] if counts[nb] < MIN_PER_NOTEBOOK}
    assert not short, f"notebooks with fewer than {MIN_PER_NOTEBOOK} questions (notebook: count): {short}"


def test_enough_misconception_items(entries):
    tagged = [entry_id(entry) for _, entry in entries
              if isinstance(entry, dict) and "misconception" in (entry.get("tags") or [])]
    assert len(tagged) >= MIN_MISCONCEPTIONS, (
        f"{len(tagged)} entries tagged misconception, want at least {MIN_MISCONCEPTIONS}: {tagged}")


def _unnumbered(heading: str) -> str:
    """'## 2. Tokenisation' → 'Tokenisation'; '6. The Transformer block' → 'The Transformer block'."""
    import re

    return re.sub(r"^#*\s*(\d\d · )?(\d+(\.\d+)*\.?\s+)?", "", heading).strip()


def _section_titles(path) -> list[str]:
    """Every markdown heading of a notebook (the title included), unnumbered."""
    import json

    return [_unnumbered(line) for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "markdown"
            for line in "".join(cell["source"]).splitlines() if line.startswith("#")]


def test_see_also_names_a_real_section_of_an_existing_notebook():
    from sftlab.course import NOTEBOOK_DIR, existing_notebooks

    titles = {nb.id: _section_titles(NOTEBOOK_DIR / nb.filename) for nb in existing_notebooks()}
    wrong = []
    for q in quiz.load_bank():
        if not q.see_also or " § " not in q.see_also:
            continue
        notebook, section = q.see_also.split(" § ", 1)
        section = _unnumbered(section)
        if notebook in titles and not any(t.startswith(section) or section.startswith(t) for t in titles[notebook]):
            wrong.append(f"{q.id}: {q.see_also!r}")
    assert not wrong, "see_also names a section the notebook does not have:\n" + "\n".join(wrong)
