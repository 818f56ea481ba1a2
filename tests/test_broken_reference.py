"""A notebook's verification is an assertion: break the reference it checks against and the run fails.

Takes notebook 02 up to its first check of our attention against torch's, perturbs torch's
scaled_dot_product_attention by 1% in a cell after the banner, and runs it as a learner's "Run all" would.
"""

import json

import nbformat

from sftlab.course import runner
from sftlab.course.chapters import NOTEBOOK_DIR, notebook

BREAK = """import torch.nn.functional as F
_reference = F.scaled_dot_product_attention
F.scaled_dot_product_attention = lambda *args, **kwargs: _reference(*args, **kwargs) * 1.01   # broken on purpose
"""


def _first_check_against_torch(cells) -> int:
    for i, cell in enumerate(cells):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "same(" in source and "F.scaled_dot_product_attention" in source:
            return i
    raise AssertionError("notebook 02 no longer checks our attention against F.scaled_dot_product_attention")


def test_a_broken_reference_fails_the_notebook_run(tmp_path):
    source = NOTEBOOK_DIR / notebook("02").filename
    cells = json.loads(source.read_text())["cells"]
    last = _first_check_against_torch(cells)
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    banner = code[1]
    kept = [nbformat.from_dict(c) for c in cells[banner:last + 1] if c["cell_type"] == "code"]
    kept.insert(1, nbformat.v4.new_code_cell(BREAK))
    path = tmp_path / "02_broken.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=kept), path)
    result = runner.run_notebook(path, timeout_s=300)
    assert not result.ok, "the notebook ran green although its reference was broken"
    assert "AssertionError" in result.error and "max |difference|" in result.error, result.error

    path.write_text(path.read_text().replace("* 1.01", "* 1.0"))          # the same cells, reference intact
    assert runner.run_notebook(path, timeout_s=300).ok
