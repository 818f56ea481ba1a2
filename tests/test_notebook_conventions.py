"""The conventions every committed notebook keeps (DESIGN.md, "Notebooks")."""

import json

import pytest

from sftlab.course import NOTEBOOK_DIR, existing_notebooks

NOTEBOOKS = [NOTEBOOK_DIR / nb.filename for nb in existing_notebooks()]


def _code_cells(path):
    cells = json.loads(path.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_there_is_a_notebook_to_check():
    assert NOTEBOOKS, "no course notebook found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_installs_only_on_colab(path):
    first = "".join(_code_cells(path)[0]["source"])
    assert 'if "google.colab" in sys.modules:' in first and "--no-deps" in first


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_second_code_cell_prints_the_profile_banner(path):
    assert "sftlab.banner()" in "".join(_code_cells(path)[1]["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_committed_from_one_clean_run(path):
    cells = _code_cells(path)[1:]  # the Colab cell prints nothing off Colab
    counts = [c["execution_count"] for c in cells]
    assert all(counts), f"{path.name}: cells without an execution count — run it top to bottom and save"
    assert counts == list(range(counts[0], counts[0] + len(counts))), f"{path.name}: execution counts {counts}"
    errors = [o for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{path.name}: committed error output {errors[0]['ename']}"
    assert any(c["outputs"] for c in cells), f"{path.name}: no outputs committed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_placeholder_cells(path):
    source = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
    assert "TODO" not in source and "FIXME" not in source
