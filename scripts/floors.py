"""Print pip constraints that pin every package pyproject declares to its lower bound (its "floor").

    python scripts/floors.py > floors.txt && pip install -c floors.txt -e ".[dev,lab,offline]"

`make test-floors` does this in a fresh .venv-floors and runs the unit tests: the oldest versions pyproject
claims to support, tested. torch is left out (the Makefile installs TORCH_SPEC: the course machines have only
one CPU build of torch on disk), so its floor is the one bound not tested there.
"""

import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
UNTESTED = {"torch"}


def floors(groups=("dev", "offline")) -> dict[str, str]:
    """{package: floor} for the runtime dependencies and the named extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + [r for g in groups for r in project["optional-dependencies"][g]]
    found = {}
    for requirement in map(Requirement, lines):
        lower = [s.version for s in requirement.specifier if s.operator == ">="]
        if requirement.name not in UNTESTED and lower:
            found[requirement.name] = lower[0]
    return found


if __name__ == "__main__":
    sys.stdout.write("".join(f"{name}=={version}\n" for name, version in floors().items()))
