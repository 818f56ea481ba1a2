"""Every number a notebook's prose states is printed by a cell next to it (or set in its code).

A measured number written into the text by hand goes stale the moment a rerun changes it. So each decimal,
percentage or thousands-separated number in a markdown cell must appear — at the precision the prose gives —
in the outputs or the source of a code cell within NEIGHBOURS code cells before or after it. Facts that
come from elsewhere (a data set's size, a paper's number) are listed in ALLOWED with their reason.
"""

import json
import re
from pathlib import Path

import pytest
from notebook_status import notebook_params

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
NEIGHBOURS = 3
NUMBER = re.compile(r"(?<![\w.\-/])(\d{1,3}(?:,\d{3})+|\d+\.\d+|\d+(?=\s?%))(?![\w.]\d)")
ALLOWED = {   # number: why it may stand in prose without a cell printing it
    "50,000": "IMDb's size, Maas et al. 2011 (a cited fact)",
    "25,000": "IMDb's train/test halves, Maas et al. 2011",
    "124,439,808": "gpt2's parameter count, derived in notebook 02 and in the interview bank",
    "0.5": "a probability or weight used as an example value in a formula",
    "1.0": "clipping norm / example value",
    "0.1": "dropout / warmup ratio, set in the code",
    "0.01": "weight decay, set in the code",
    "2.0": "the Apache licence version",
}


def _text(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _outputs(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        text = output.get("text", "")
        parts.append("".join(text) if isinstance(text, list) else text)
        for key in ("text/plain", "text/html", "text/markdown"):
            value = output.get("data", {}).get(key, "")
            parts.append("".join(value) if isinstance(value, list) else value)
    return "\n".join(parts)


def _values(text: str) -> list[float]:
    found = []
    for token in re.findall(r"\d[\d,]*\.?\d*(?:e-?\d+)?", text):
        try:
            found.append(float(token.replace(",", "")))
        except ValueError:
            continue
    return found


def _matches(number: str, values: list[float]) -> bool:
    """Stated with k decimals, the number matches a printed value that rounds to it; a percentage also matches
    a printed fraction (91% ↔ 0.912)."""
    value = float(number.replace(",", ""))
    decimals = len(number.split(".")[1]) if "." in number else 0
    for printed in values:
        for scale in (1, 100):
            if round(printed * scale, decimals) == value:
                return True
    return False


def unbacked_numbers(path: Path) -> list[str]:
    """'cell N: number' for every prose number no neighbouring code cell prints or sets."""
    cells = json.loads(path.read_text())["cells"]
    code_positions = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    problems = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        prose = re.sub(r"`[^`]*`|\$[^$]*\$|\]\([^)]*\)", " ", _text(cell))    # code, formulas, link targets
        prose = re.sub(r"^#.*$|\*\*\d+(\.\d+)*|§\s?\d+(\.\d+)*|(section|exercise)s?\s\d+(\.\d+)*", " ", prose,
                       flags=re.M | re.I)                              # headings and section numbers
        before = [p for p in code_positions if p < i][-NEIGHBOURS:]
        after = [p for p in code_positions if p > i][:NEIGHBOURS]
        nearby = "\n".join(_outputs(cells[p]) + "\n" + _text(cells[p]) for p in before + after)
        values = _values(nearby)
        for number in NUMBER.findall(prose):
            if number not in ALLOWED and not _matches(number, values):
                problems.append(f"cell {i}: {number}")
    return problems


@pytest.mark.parametrize("path", notebook_params(NOTEBOOKS), ids=lambda p: p.stem)
def test_prose_numbers_are_printed_next_to_them(path):
    problems = unbacked_numbers(path)
    assert not problems, f"{path.name}: numbers in the prose that no neighbouring cell prints: {problems}"


def test_the_scan_finds_a_stale_number(tmp_path):
    notebook = {"cells": [
        {"cell_type": "code", "source": "print(acc)", "outputs": [{"output_type": "stream", "text": "0.812\n"}]},
        {"cell_type": "markdown", "source": "Accuracy 0.81 (rounded), 81% of sentences, but 0.85 was claimed."},
    ]}
    path = tmp_path / "stale.ipynb"
    path.write_text(json.dumps(notebook))
    assert unbacked_numbers(path) == ["cell 1: 0.85"]
