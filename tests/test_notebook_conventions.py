"""The conventions every committed notebook keeps (docs/architecture.md)."""

import json

import pytest
from notebook_status import notebook_params

from sftlab.course.chapters import NOTEBOOK_DIR, existing_notebooks

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


def _outputs_text(cells) -> list[tuple[str, str]]:
    """(kind, text) of every output: kind is the stream name or the output type."""
    found = []
    for cell in cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            data = output.get("data", {})
            plain = data.get("text/plain", "")
            text += "".join(plain) if isinstance(plain, list) else plain
            found.append((output.get("name", output["output_type"]), text))
    return found


NOISE = ("LOAD REPORT", "Warning:", "warnings.warn", "FutureWarning", "UserWarning", "it/s]\r")


@pytest.mark.parametrize("path", notebook_params(NOTEBOOKS), ids=lambda p: p.name)
def test_committed_outputs_are_free_of_noise(path):
    """No library warnings or load reports, no machine's absolute paths, no progress bar frozen at 0%, no
    development targets: what a learner reads on GitHub is what the course means to say."""
    cells = json.loads(path.read_text())["cells"]
    for kind, text in _outputs_text(cells):
        assert kind != "stderr" or not text.strip(), f"{path.name}: stderr output {text[:200]!r}"
        for noise in NOISE:
            assert noise not in text, f"{path.name}: {noise!r} in an output: {text[:200]!r}"
        for machine_path in ("/work/", "/home/", "/root/", "/Users/", "site-packages"):
            assert machine_path not in text, f"{path.name}: a machine's path in an output: {text[:200]!r}"
        assert not ("%|" in text and " 0%|" in text and "100%|" not in text), \
            f"{path.name}: a progress bar frozen at 0%: {text[:120]!r}"
        assert "target ≥" not in text and "target >=" not in text, f"{path.name}: a development target: {text[:120]!r}"


@pytest.mark.parametrize("path", notebook_params(NOTEBOOKS), ids=lambda p: p.name)
def test_every_chapter_ends_with_cards_summary_and_glossary(path):
    chapter = path.name.split("_", 1)[0]   # "03", or "03b" for a companion notebook
    tail = "\n".join("".join(c["source"]) for c in _code_cells(path)[-3:])
    for call in (f'cards(notebook="{chapter}"', f'show_summary("{chapter}"', f'show_glossary("{chapter}"'):
        assert call in tail, f"{path.name}: the last cells should call {call}…)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_checks_are_assertions_not_prints(path):
    """A ✓ printed by hand proves nothing; sftlab.course.checks prints it only when the check holds."""
    for cell in _code_cells(path):
        source = "".join(cell["source"])
        assert "✓" not in source and "✗" not in source, \
            f"{path.name}: a hand-printed ✓/✗ — use sftlab.course.checks (same, at_least, holds): {source[:160]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_tensors_from_a_tokenizer_go_where_the_model_is(path):
    """On a Colab GPU the full profile loads models onto the GPU, and a model called on CPU tensors fails there
    (CI has no GPU to catch it). So a notebook that loads a model on the profile's device moves every tensor it
    tokenizes: `tokenizer(..., return_tensors="pt").to(model.device)`; one that loads only with device="cpu"
    need not."""
    import re

    code = "\n".join("".join(c["source"]) for c in _code_cells(path))
    loads = re.findall(r"load_(?:encoder|causal_lm|chat_lm)\(([^)]*)\)", code)
    if all('device="cpu"' in arguments for arguments in loads):
        return
    unmoved = [line.strip() for line in code.splitlines()
               if 'return_tensors="pt")' in line and not re.search(r'return_tensors="pt"\)(\.input_ids)?\.to\(', line)]
    assert not unmoved, f"{path.name}: tokenized tensors not moved to the model's device: {unmoved}"
