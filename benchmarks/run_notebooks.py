"""Execute every course notebook headless, each in a fresh kernel, and print a table of wall
time, budget, peak memory and pass/fail. Budgets (per notebook in sftlab.course.chapters.NOTEBOOKS): 3 min per
notebook, 5 min for the training chapters 04, 05 and 07, 7 min for 03, 10 min for 06, 32 min for the whole
course, peak memory under 6 GB.

    python benchmarks/run_notebooks.py [00 03 ...] [--json] [--save]

--save merges the measured times into benchmarks/results/notebooks.json and rewrites the README's runtime
column from it (one source: tests/test_readme_runtimes.py keeps them equal). Measure on an idle machine.
"""

import argparse
import os
import platform
import sys

import torch

from sftlab.course import runner
from sftlab.course.chapters import NOTEBOOKS

COURSE_BUDGET_S = 32 * 60
MEMORY_BUDGET_MB = 6 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="course ids or paths (default: all)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--save", action="store_true", help="store the times and update the README's table")
    args = parser.parse_args()
    paths = [runner.resolve(n) for n in args.notebooks] or runner.all_notebooks()
    budgets = {nb.filename: nb.budget_s for nb in NOTEBOOKS}

    results = []
    for path in paths:
        print(f"running {path.name} …", flush=True)
        results.append(runner.measure_notebook(path))
    print()
    print(runner.format_table(results, budgets))
    total = sum(r.wall_s for r in results)
    peak = max((r.peak_rss_mb or 0) for r in results)
    print(f"\ntotal {total:.0f} s (budget {COURSE_BUDGET_S} s), highest peak RSS {peak:.0f} MB "
          f"(budget {MEMORY_BUDGET_MB} MB)")
    if args.json:
        print(runner.results_json(results))
    if args.save:
        machine = f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, torch threads " \
                  f"{torch.get_num_threads()}"
        runner.save_results(results, machine)
        readme = runner.REPO_README
        readme.write_text(runner.readme_with_runtimes(readme.read_text()))
        print(f"saved to {runner.RESULTS_FILE.relative_to(readme.parent)} and the README's runtime column")
    within = (all(r.ok and r.wall_s <= budgets.get(r.notebook, 300) for r in results)
              and total <= COURSE_BUDGET_S and peak <= MEMORY_BUDGET_MB)
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
