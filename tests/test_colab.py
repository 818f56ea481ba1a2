"""The Colab cell: the same in every notebook, installs a fixed release, and can run twice in one runtime.

The simulation: a fake `google.colab` module, a temporary folder standing in for /content, a local clone
standing in for GitHub (tagged with the release), and a throwaway venv that sees this environment's libraries
through a .pth file, so pip resolves everything locally. The cell runs twice in one process, then
`import sftlab` must find the course it installed.
"""

import json
import os
import subprocess
import sys
import sysconfig
import time
import venv

from sftlab.course import COLAB_HOME, COURSE_REF, GITHUB_REPO, REPO_ROOT, colab_cell, existing_notebooks

BUDGET_S = 120
SIMULATION = """
import sys
sys.path.insert(0, {fake!r})
import google.colab                      # the fake one: the cell only checks that it is imported
cell = open({cell!r}).read()
for attempt in (1, 2):                   # a second run, as from a second notebook in the same runtime
    exec(compile(cell, "colab-cell", "exec"), {{}})
    print("run", attempt, "ok")
import sftlab, sftlab.data
print("sftlab from", sftlab.__file__)
print("rows", sftlab.data.load_sentiment("offline")["test"].num_rows)
"""


def test_every_notebook_starts_with_the_one_colab_cell():
    for nb in existing_notebooks():
        cells = json.loads((REPO_ROOT / "notebooks" / nb.filename).read_text())["cells"]
        first = next(c for c in cells if c["cell_type"] == "code")
        assert "".join(first["source"]) == colab_cell(), f"{nb.filename}: run scripts/update_colab_cells.py"


def test_the_cell_installs_a_release_not_main():
    cell = colab_cell()
    assert f'"https://github.com/{GITHUB_REPO}", "{COURSE_REF}"' in cell and '"--branch", REF' in cell
    assert 'extras = "colab,offline" if offline else "colab"' in cell and '[{extras}]' in cell
    assert "jupyterlab" not in cell and "nbval" not in cell


def test_the_cell_runs_twice_on_a_simulated_colab(tmp_path):
    deadline = time.monotonic() + BUDGET_S
    remote = tmp_path / "github" / "sft-lab"        # stands in for GitHub: a clone of this repository's HEAD
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(remote)], check=True)
    subprocess.run(["git", "-C", str(remote), "tag", COURSE_REF], check=True)

    fake = tmp_path / "fake"
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "__init__.py").write_text("")
    (fake / "google" / "colab" / "__init__.py").write_text("")
    home = tmp_path / "content" / "sft-lab"
    cell = tmp_path / "cell.py"
    cell.write_text(colab_cell().replace(f"https://github.com/{GITHUB_REPO}", str(remote))
                    .replace(COLAB_HOME, str(home)))

    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(site, "course-libraries.pth"), "w") as pth:   # this environment's libraries, after
        pth.write(sysconfig.get_path("purelib") + "\n")                 # the venv's own (no editable sftlab)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SFTLAB_", "PYTHON"))}
    env.update(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1",
               HF_HUB_OFFLINE="1", SFTLAB_PROFILE="offline")
    script = SIMULATION.format(fake=str(fake), cell=str(cell))
    run = subprocess.run([python, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=max(1.0, deadline - time.monotonic()))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "run 1 ok" in run.stdout and "run 2 ok" in run.stdout, run.stdout
    assert f"sftlab from {home}" in run.stdout, run.stdout                # the clone the cell made
    assert "rows " in run.stdout
    assert sys.executable != str(python)


def test_make_lab_starts_as_root_with_a_note():
    """Workshop machines in containers run as root; JupyterLab then needs --allow-root."""
    command = subprocess.run(["make", "-n", "-W", "pyproject.toml", "lab"], cwd=REPO_ROOT, capture_output=True,
                             text=True, check=True).stdout
    lab_line = [line for line in command.splitlines() if "jupyter lab" in line and "echo" not in line][-1]
    if os.geteuid() == 0:
        assert "--allow-root" in lab_line and "note: running as root" in command
    else:
        assert "--allow-root" not in lab_line
