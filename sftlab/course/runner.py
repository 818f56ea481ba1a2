"""Run course notebooks headless, as a learner's "Run all" would, and measure them.

    run_notebook(path, save=False)  -> RunResult   execute in a fresh kernel (cwd = notebooks/)
    measure_notebook(path)          -> RunResult   the same in a child process, adding the kernel's peak RSS

`sftlab run` and benchmarks/run_notebooks.py use these; `save=True` writes the outputs
back into the notebook, which is how the committed outputs are produced. The README's runtime column, its
budgets and how long the tests take are written from the stored measurements here (readme_with_runtimes),
never by hand.
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sftlab.course.chapters import COURSE_BUDGET_S, MEMORY_BUDGET_MB, NOTEBOOK_DIR, existing_notebooks, notebook


@dataclass
class RunResult:
    notebook: str              # file name
    ok: bool                   # every cell ran without an error
    wall_s: float              # seconds from kernel start to last cell
    peak_rss_mb: float | None  # the kernel's peak resident memory (measure_notebook only)
    error: str = ""            # the first error, one line


def resolve(name: str) -> Path:
    """A notebook path from a course id ("03"), a file name or a path; FileNotFoundError in one line naming the
    notebooks there are when it does not exist (or is in the course map but does not ship yet)."""
    path = Path(name)
    if path.suffix == ".ipynb":
        path = path if path.exists() else NOTEBOOK_DIR / path.name
    else:
        entry = notebook(name)                      # ValueError for an id the course does not have
        path = NOTEBOOK_DIR / entry.filename
        if not path.exists():
            raise FileNotFoundError(f"notebook {entry.id} ({entry.title}) is being written and does not ship yet; "
                                    f"notebooks: {', '.join(nb.id for nb in existing_notebooks())}")
    if not path.exists():
        raise FileNotFoundError(f"notebook {name!r} not found (looked for {path})")
    return path


def all_notebooks() -> list[Path]:
    """Every notebook of the course that exists, in course order."""
    return [NOTEBOOK_DIR / nb.filename for nb in existing_notebooks()]


def run_notebook(path: Path, save: bool = False, timeout_s: int = 900) -> RunResult:
    """Execute every cell in a fresh kernel; with save=True write the outputs into the file.

    The kernel runs with SFTLAB_STATIC_PROGRESS=1, so sftlab's progress bars print their final state as text
    instead of a widget that a saved file shows frozen at 0% (sftlab.course.progress)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from sftlab.course.progress import STATIC_ENV_VAR

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    error = ""
    previous = os.environ.get(STATIC_ENV_VAR)
    os.environ[STATIC_ENV_VAR] = "1"          # the kernel inherits this process's environment
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    finally:
        if previous is None:
            os.environ.pop(STATIC_ENV_VAR, None)
        else:
            os.environ[STATIC_ENV_VAR] = previous
    wall_s = time.perf_counter() - started
    if save and not error:
        nbformat.write(nb, path)
    return RunResult(path.name, not error, wall_s, None, error)


def measure_notebook(path: Path, timeout_s: int = 900) -> RunResult:
    """run_notebook in a child process, so the kernel's peak RSS can be read from its rusage."""
    code = (
        "import json, resource, sys\n"
        "from dataclasses import asdict\n"
        "from sftlab.course.runner import run_notebook\n"
        f"r = run_notebook({str(path)!r}, timeout_s={timeout_s})\n"
        "kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "r.peak_rss_mb = kb / 1024 if sys.platform != 'darwin' else kb / 2**20\n"
        "print('RESULT ' + json.dumps(asdict(r)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return RunResult(**json.loads(line[len("RESULT "):]))
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return RunResult(Path(path).name, False, 0.0, None, f"runner crashed: {tail[0]}")


def format_table(results: list[RunResult], budgets: dict[str, int] | None = None) -> str:
    """A plain-text table: notebook, wall time, budget, peak RSS, pass/fail."""
    budgets = budgets or {}
    rows = [("notebook", "wall s", "budget s", "peak RSS MB", "result")]
    for r in results:
        budget = budgets.get(r.notebook)
        verdict = "pass" if r.ok else f"FAIL: {r.error[:60]}"
        if r.ok and budget and r.wall_s > budget:
            verdict = "over budget"
        rss = f"{r.peak_rss_mb:.0f}" if r.peak_rss_mb is not None else "-"
        rows.append((r.notebook, f"{r.wall_s:.1f}", str(budget or "-"), rss, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def results_json(results: list[RunResult]) -> str:
    """The results as JSON, for machines."""
    return json.dumps([asdict(r) for r in results], indent=2)


# ---------------------------------------------------------------- the README's runtime column, from the benchmark

REPO_README = Path(__file__).resolve().parents[2] / "README.md"
RESULTS_FILE = REPO_README.parent / "benchmarks" / "results" / "notebooks.json"


def runtime_label(wall_s: float) -> str:
    """How the README writes a measured runtime: whole seconds."""
    return f"{round(wall_s)} s"


def save_results(results: list[RunResult], machine: str, path: Path = RESULTS_FILE) -> None:
    """Merge these runs into the results file (one entry per notebook): the one source of the README's runtimes."""
    stored = json.loads(path.read_text()) if path.exists() else {"notebooks": {}}
    stored["machine"] = machine
    for r in results:
        if r.ok:
            peak = None if r.peak_rss_mb is None else round(r.peak_rss_mb)          # None: not measured (run_notebook)
            stored["notebooks"][r.notebook] = {"wall_s": round(r.wall_s, 1), "peak_rss_mb": peak}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")


TEST_TIMES_FILE = RESULTS_FILE.parent / "tests.json"   # scripts/time_tests.py: how long `make test…` takes
NUMBER_WORDS = {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven", 8: "Eight"}


def _minutes(seconds: float) -> str:
    return f"{max(1, round(seconds / 60))} min"


def budgets_text() -> str:
    """The budgets of the notebooks that ship, as the README states them (sftlab.course.chapters)."""
    by_budget = {}
    for nb in existing_notebooks():
        by_budget.setdefault(nb.budget_s, []).append(nb.id)
    usual = max(by_budget, key=lambda budget: len(by_budget[budget]))
    parts = [f"{_minutes(usual)} per notebook"] + [
        f"{_minutes(budget)} for {' and '.join([', '.join(ids[:-1]), ids[-1]] if len(ids) > 1 else ids)}"
        for budget, ids in sorted(by_budget.items()) if budget != usual]
    parts += [f"{_minutes(COURSE_BUDGET_S)} for the whole course", f"peak memory under {MEMORY_BUDGET_MB // 1024} GB"]
    return "; ".join(parts)


def runtime_summary(path: Path = RESULTS_FILE) -> str:
    """The README paragraph under the notebook table: how it is measured, the budgets, the total, what is over."""
    measured = {name: r["wall_s"] for name, r in json.loads(path.read_text())["notebooks"].items()}
    shipped = {nb.filename: nb for nb in existing_notebooks() if nb.filename in measured}
    over = [(nb.id, measured[name] - nb.budget_s) for name, nb in shipped.items() if measured[name] > nb.budget_s]
    total = sum(measured[name] for name in shipped)
    if not over:
        verdict = "Every notebook runs within its budget."
    else:
        listed = [f"{id} by {runtime_label(excess)}" for id, excess in over]
        listed = " and ".join([", ".join(listed[:-1]), listed[-1]]) if len(listed) > 1 else listed[0]
        verdict = (f"{NUMBER_WORDS.get(len(over), len(over))} notebook{'s run' if len(over) > 1 else ' runs'} over "
                   f"{'their budgets' if len(over) > 1 else 'its budget'} — {listed}.")
    return ("The runtime column is written by `python benchmarks/run_notebooks.py --save` from "
            "`benchmarks/results/notebooks.json`: each notebook timed alone on an idle 2-core machine, the whole "
            f"course in about {round(total / 60)} minutes. Budgets (`sftlab.course.chapters`): {budgets_text()}. "
            f"{verdict}")


def test_times_summary(path: Path = TEST_TIMES_FILE, runtimes: Path = RESULTS_FILE) -> str:
    """The README sentence on how long the tests take here, from scripts/time_tests.py's measurements."""
    timed = json.loads(path.read_text())["targets"]
    fast = timed["test-fast"]["wall_s"]
    offline = sum(r["wall_s"] for name, r in json.loads(runtimes.read_text())["notebooks"].items()
                  if name in {nb.filename for nb in existing_notebooks()})
    whole = (f"about {round(timed['test']['wall_s'] / 60)} minutes" if "test" in timed
             else f"at least {round((fast + offline) / 60)} minutes")
    return (f"`make test` takes {whole} here: ruff and the unit tests (about {round(fast / 60)} minutes: "
            "`make test-fast` runs just these, for development), every notebook offline (about "
            f"{round(offline / 60)} minutes, the runtime column's total), then every notebook again in the full "
            "profile on the hub stand-in.")


def _with_paragraph(text: str, start: str, paragraph: str) -> str:
    """`text` with the paragraph that begins with `start` (up to the next blank line) replaced."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(start):
            end = next((j for j in range(i, len(lines)) if not lines[j].strip()), len(lines))
            return "\n".join(lines[:i] + [paragraph] + lines[end:])
    return text


def _wrap(paragraph: str, width: int = 115) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(paragraph, width=width, break_on_hyphens=False, break_long_words=False))


def readme_with_runtimes(readme: str, path: Path = RESULTS_FILE, test_times: Path = TEST_TIMES_FILE) -> str:
    """The README text with each notebook row's runtime column, the paragraph under the table and the sentence
    on how long the tests take set from the stored measurements."""
    measured = json.loads(path.read_text())["notebooks"]
    lines = []
    for line in readme.splitlines():
        for filename, result in measured.items():
            if f"(notebooks/{filename})" in line and line.startswith("|"):
                cells = line.split(" | ")
                cells[3] = runtime_label(result["wall_s"])   # | # | notebook | what you build | runtime | Colab |
                line = " | ".join(cells)
        lines.append(line)
    text = "\n".join(lines) + ("\n" if readme.endswith("\n") else "")
    text = _with_paragraph(text, "The runtime column is written by", _wrap(runtime_summary(path)))
    if test_times.exists():
        text = _with_paragraph(text, "`make test` takes", _wrap(test_times_summary(test_times, path)))
    return text
