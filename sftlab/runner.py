"""Run course notebooks headless, as a learner's "Run all" would, and measure them.

    run_notebook(path, save=False)  -> RunResult   execute in a fresh kernel (cwd = notebooks/)
    measure_notebook(path)          -> RunResult   the same in a child process, adding the kernel's peak RSS

`sftlab run` and benchmarks/run_notebooks.py use these; `save=True` writes the outputs
back into the notebook, which is how the committed outputs are produced.
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sftlab.course import NOTEBOOK_DIR, existing_notebooks, notebook


@dataclass
class RunResult:
    notebook: str              # file name
    ok: bool                   # every cell ran without an error
    wall_s: float              # seconds from kernel start to last cell
    peak_rss_mb: float | None  # the kernel's peak resident memory (measure_notebook only)
    error: str = ""            # the first error, one line


def resolve(name: str) -> Path:
    """A notebook path from a course id ("03"), a file name or a path."""
    path = Path(name)
    if path.suffix == ".ipynb":
        path = path if path.exists() else NOTEBOOK_DIR / path.name
    else:
        path = NOTEBOOK_DIR / notebook(name).filename
    if not path.exists():
        raise FileNotFoundError(f"notebook {name!r} not found (looked for {path})")
    return path


def all_notebooks() -> list[Path]:
    """Every notebook of the course that exists, in course order."""
    return [NOTEBOOK_DIR / nb.filename for nb in existing_notebooks()]


def run_notebook(path: Path, save: bool = False, timeout_s: int = 900) -> RunResult:
    """Execute every cell in a fresh kernel; with save=True write the outputs into the file.

    The kernel runs with SFTLAB_STATIC_PROGRESS=1, so sftlab's progress bars print their final state as text
    instead of a widget that a saved file shows frozen at 0% (sftlab.progress)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from sftlab.progress import STATIC_ENV_VAR

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
        "from sftlab.runner import run_notebook\n"
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

REPO_README = Path(__file__).resolve().parent.parent / "README.md"
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
            stored["notebooks"][r.notebook] = {"wall_s": round(r.wall_s, 1), "peak_rss_mb": round(r.peak_rss_mb or 0)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")


def readme_with_runtimes(readme: str, path: Path = RESULTS_FILE) -> str:
    """The README text with each notebook row's runtime column set from the results file."""
    measured = json.loads(path.read_text())["notebooks"]
    lines = []
    for line in readme.splitlines():
        for filename, result in measured.items():
            if f"(notebooks/{filename})" in line and line.startswith("|"):
                cells = line.split(" | ")
                cells[3] = runtime_label(result["wall_s"])   # | # | notebook | what you build | runtime | Colab |
                line = " | ".join(cells)
        lines.append(line)
    return "\n".join(lines) + ("\n" if readme.endswith("\n") else "")
