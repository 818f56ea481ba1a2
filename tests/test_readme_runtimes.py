"""The README's runtime column comes from the benchmark's stored results: one source, never typed by hand."""

import json

import pytest

from sftlab.course import runner
from sftlab.course.chapters import existing_notebooks


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

    from sftlab.course.chapters import REPO_ROOT

    spec = importlib.util.spec_from_file_location("t4_estimate", REPO_ROOT / "benchmarks" / "t4_estimate.py")
    estimate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(estimate)
    assert sorted(estimate.NOTEBOOKS) == [nb.id for nb in existing_notebooks()], "a notebook without a T4 estimate"
    assert estimate.readme_row() in runner.REPO_README.read_text(), \
        "README's T4 minutes differ from benchmarks/t4_estimate.py: copy its README row"


def test_the_budgets_sentence_names_only_notebooks_that_ship(monkeypatch):
    from sftlab.course.chapters import notebook

    monkeypatch.setattr(runner, "existing_notebooks", lambda: [notebook(i) for i in ("00", "01", "03", "04")])
    assert runner.budgets_text() == ("3 min per notebook; 5 min for 04; 6 min for 03; 32 min for the whole course; "
                                     "peak memory under 6 GB")
    assert "07" not in runner.budgets_text()


def test_the_summary_says_what_runs_over_its_budget(tmp_path, monkeypatch):
    from sftlab.course.chapters import notebook

    monkeypatch.setattr(runner, "existing_notebooks", lambda: [notebook("00"), notebook("03")])
    results = tmp_path / "notebooks.json"
    results.write_text(json.dumps({"notebooks": {"00_start_here.ipynb": {"wall_s": 20.0},
                                                 "03_bert_classification.ipynb": {"wall_s": 440.4}}}))
    summary = runner.runtime_summary(results)
    assert "the whole course in about 8 minutes" in summary
    assert "One notebook runs over its budget — 03 by 80 s." in summary
    results.write_text(json.dumps({"notebooks": {"00_start_here.ipynb": {"wall_s": 20.0}}}))
    assert runner.runtime_summary(results).endswith("Every notebook runs within its budget.")


def test_the_test_times_say_at_least_until_make_test_is_timed(tmp_path, monkeypatch):
    from sftlab.course.chapters import notebook

    monkeypatch.setattr(runner, "existing_notebooks", lambda: [notebook("00")])
    results, times = tmp_path / "notebooks.json", tmp_path / "tests.json"
    results.write_text(json.dumps({"notebooks": {"00_start_here.ipynb": {"wall_s": 600}}}))
    times.write_text(json.dumps({"targets": {"test-fast": {"wall_s": 300}}}))
    assert runner.test_times_summary(times, results).startswith("`make test` takes at least 15 minutes here")
    times.write_text(json.dumps({"targets": {"test-fast": {"wall_s": 300}, "test": {"wall_s": 2400}}}))
    assert runner.test_times_summary(times, results).startswith("`make test` takes about 40 minutes here")
