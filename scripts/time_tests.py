"""Time `make test-fast` and/or `make test` on this machine; with --save, store the times and rewrite the README's
sentence on how long the tests take (tests/test_readme_runtimes.py keeps the two equal).

    python scripts/time_tests.py test-fast --save      # the unit tests: a few minutes
    python scripts/time_tests.py test --save           # everything CI runs: run it when the machine is idle

Measure with the environment already set up (`make setup`), so the times are the tests' and not pip's.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date

from sftlab.course import runner

TARGETS = ("test-fast", "test")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="+", choices=TARGETS, help="the make targets to time")
    parser.add_argument("--save", action="store_true", help="store the times and update the README")
    args = parser.parse_args()
    path = runner.TEST_TIMES_FILE
    stored = json.loads(path.read_text()) if path.exists() else {"targets": {}}
    for target in args.targets:
        started = time.perf_counter()
        done = subprocess.run(["make", target], cwd=runner.REPO_README.parent)
        seconds = time.perf_counter() - started
        print(f"make {target}: {seconds:.0f} s, exit status {done.returncode}")
        if done.returncode != 0:
            print("not stored: the tests failed", file=sys.stderr)
            return done.returncode
        stored["targets"][target] = {"wall_s": round(seconds), "date": date.today().isoformat()}
    if args.save:
        stored["machine"] = f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}"
        path.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")
        readme = runner.REPO_README
        readme.write_text(runner.readme_with_runtimes(readme.read_text()))
        print(f"saved to {path.relative_to(readme.parent)} and the README")
    return 0


if __name__ == "__main__":
    sys.exit(main())
