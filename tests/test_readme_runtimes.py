"""The README's runtime column comes from the benchmark's stored results: one source, never typed by hand."""

import json

import pytest

from sftlab import runner
from sftlab.course import existing_notebooks


def test_readme_runtimes_equal_the_measured_ones():
    if not runner.RESULTS_FILE.exists():
        pytest.fail("no benchmarks/results/notebooks.json: run `python benchmarks/run_notebooks.py --save`")
    readme = runner.REPO_README.read_text()
    assert runner.readme_with_runtimes(readme) == readme, \
        "README runtimes differ from benchmarks/results/notebooks.json: run benchmarks/run_notebooks.py --save"
    measured = json.loads(runner.RESULTS_FILE.read_text())["notebooks"]
    missing = [nb.filename for nb in existing_notebooks() if nb.filename not in measured]
    assert not missing, f"notebooks never benchmarked: {missing}"


def test_the_runtime_column_is_rewritten(tmp_path):
    results = tmp_path / "notebooks.json"
    results.write_text(json.dumps({"notebooks": {"03_x.ipynb": {"wall_s": 251.6, "peak_rss_mb": 2000}}}))
    row = "| 03 | [X](notebooks/03_x.ipynb) | builds | 90 s | [Open in Colab](url) |"
    assert runner.readme_with_runtimes(row + "\n", results) == row.replace("90 s", "252 s") + "\n"


def test_readme_t4_minutes_equal_the_estimate_script():
    import importlib.util

    from sftlab.course import REPO_ROOT

    spec = importlib.util.spec_from_file_location("t4_estimate", REPO_ROOT / "benchmarks" / "t4_estimate.py")
    estimate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(estimate)
    assert sorted(estimate.NOTEBOOKS) == [nb.id for nb in existing_notebooks()], "a notebook without a T4 estimate"
    assert estimate.readme_row() in runner.REPO_README.read_text(), \
        "README's T4 minutes differ from benchmarks/t4_estimate.py: copy its README row"
