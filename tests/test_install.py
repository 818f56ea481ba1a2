"""A non-editable install finds the course data (or says how to install), from a directory outside the clone.

Builds sftlab from a copy of the package files into a throwaway venv that sees this environment's
libraries through a .pth file (no download, no build isolation); about 15 s on 2 cores.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import time
import venv

from sftlab.course.chapters import REPO_ROOT

BUDGET_S = 60
LOADS = """
import sftlab, sftlab.course.chapters, sftlab.data, sftlab.course.quiz
print("package:", sftlab.__file__)
print("data:", sftlab.course.chapters.data_dir())
ds = sftlab.data.load_sentiment("offline")
print("rows:", ds["train"].num_rows, "questions:", len(sftlab.course.quiz.load_bank()))
"""


def _run(command, *, cwd, env, deadline):
    """Run a command with what is left of the budget; the finished process (output captured)."""
    left = deadline - time.monotonic()
    assert left > 0, f"over the {BUDGET_S} s budget before running {command[:3]}"
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=left)


def test_non_editable_install_finds_the_data_or_says_how_to_install(tmp_path):
    deadline = time.monotonic() + BUDGET_S
    source = tmp_path / "source"  # a copy: the build writes build/ and *.egg-info next to pyproject.toml
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO_ROOT / name, source / name)
    for name in ("sftlab", "data"):
        shutil.copytree(REPO_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))

    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    site_packages = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                   capture_output=True, text=True, check=True).stdout.strip()
    # This environment's libraries, after the venv's own site-packages (a plain path: the editable
    # sftlab finder in ours is not loaded, so `import sftlab` can only find the installed copy).
    with open(os.path.join(site_packages, "course-libraries.pth"), "w") as pth:
        pth.write(sysconfig.get_path("purelib") + "\n")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SFTLAB_", "PYTHON"))}
    env.update(SFTLAB_PROFILE="offline", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    install = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", str(source)], cwd=outside, env=env, deadline=deadline)
    assert install.returncode == 0, install.stderr[-3000:]

    loaded = _run([python, "-c", LOADS], cwd=outside, env=env, deadline=deadline)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert f"package: {site_packages}" in loaded.stdout, loaded.stdout        # the installed copy, not the clone
    assert f"data: {env_dir}" in loaded.stdout and "rows:" in loaded.stdout, loaded.stdout

    shutil.rmtree(env_dir / "share" / "sftlab" / "data")  # no data anywhere: the message says what to do
    missing = _run([python, "-c", LOADS], cwd=outside, env=env, deadline=deadline)
    assert missing.returncode != 0 and "FileNotFoundError" in missing.stderr
    assert "pip install -e ." in missing.stderr and "SFTLAB_DATA_DIR" in missing.stderr, missing.stderr[-2000:]
