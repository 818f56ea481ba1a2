"""The full profile's real loading code, run offline against a local stand-in of the hub (tests/hub_standin.py).

The stand-in holds tiny random models under the real names and small data sets with the real features, in
the libraries' own caches; with HF_HUB_OFFLINE=1 every full-profile loader must work unchanged and return
the course schema, and every notebook must run top to bottom under nbval, as a workshop's Colab runs it.
The numbers are meaningless (findings are reported, not asserted: sftlab.course.checks); what this proves is that
each code path runs.
"""

import json
import os
import subprocess
import sys

import pytest
from hub_standin import build

from sftlab.course.chapters import REPO_ROOT, SIZES, existing_notebooks, notebook

LOADS = r"""
import json
import sftlab
from sftlab import data, models
from sftlab.course import profiles
line = sftlab.banner()
report = {"banner": line, "profile": profiles.active().name}
tokenizer, encoder = models.load_encoder("sequence-classification", num_labels=2)
report["encoder"] = [type(encoder).__name__, encoder.config.hidden_size, tokenizer.tokenize("Unbelievable!")]
_, tagger = models.load_encoder("token-classification", num_labels=9)
report["tagger"] = type(tagger).__name__
lm_tokenizer, lm = models.load_causal_lm()
report["lm"] = [type(lm).__name__, lm_tokenizer.pad_token == lm_tokenizer.eos_token]
from sftlab.generation import generate
ids = lm_tokenizer("The old town", return_tensors="pt").input_ids
report["generated"] = generate(lm, ids, max_new_tokens=3, eos_token_id=[]).shape[1] - ids.shape[1]
bpe, about = models.load_byte_level_bpe()
report["bpe"] = about
kv = models.load_word_vectors()
report["vectors"] = [kv.vector_size, len(kv) > 1000]
for name, loader in (("sentiment", data.load_sentiment), ("ner", data.load_ner), ("qa", data.load_qa)):
    splits = loader()
    report[name] = {split: [splits[split].num_rows, sorted(splits[split].column_names)] for split in splits}
print("REPORT " + json.dumps(report))
"""


@pytest.fixture(scope="module")
def standin_env(tmp_path_factory):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SFTLAB_", "HF_", "GENSIM"))}
    env.update(build(tmp_path_factory.mktemp("hub")))
    return env


def test_every_full_profile_loader_runs_against_the_standin(standin_env):
    run = subprocess.run([sys.executable, "-c", LOADS], env=standin_env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-4000:]
    report = json.loads(run.stdout.split("REPORT ", 1)[1])
    assert report["profile"] == "full" and "stand-in" in report["banner"] and "meaningless" in report["banner"]
    assert report["encoder"][:2] == ["BertForSequenceClassification", 32]
    assert report["encoder"][2] == ["unbelievable", "!"]                 # bert-base-uncased's real WordPiece
    assert report["tagger"] == "BertForTokenClassification"
    assert report["lm"] == ["GPT2LMHeadModel", True] and report["generated"] == 3
    assert report["bpe"].startswith("gpt2's own byte-level BPE")
    assert report["vectors"] == [100, True]
    assert report["sentiment"]["test"] == [60, ["domain", "label", "text"]]       # GLUE validation → test
    assert report["ner"]["train"] == [200, ["ner_tags", "tokens"]]
    assert report["qa"]["test"][1] == ["answers", "context", "id", "question", "title"]


def test_full_profile_from_a_filled_cache_is_allowed_offline(standin_env, monkeypatch):
    from sftlab.course import profiles

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(profiles.ENV_VAR, "full")
    monkeypatch.setenv("HF_HOME", "/nonexistent-cache")       # no stand-in marker: a workshop's own cache
    profiles._resolve.cache_clear()
    assert "local Hugging Face cache" in profiles.active().reason


@pytest.mark.parametrize("nb", existing_notebooks(), ids=lambda nb: nb.id)
def test_every_notebook_runs_top_to_bottom_in_the_full_profile(standin_env, nb):
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-current-env", "--nbval-cell-timeout=900", f"notebooks/{nb.filename}"],
        env={**standin_env, "SFTLAB_STATIC_PROGRESS": "1"}, cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=1800)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]


def test_each_notebook_with_data_sizes_has_a_row_for_every_profile_and_the_standin():
    for key, rows in SIZES.items():
        notebook(key)                                            # a notebook of the course map
        assert set(rows) == {"offline", "full", "standin"}, key
        assert len({tuple(sorted(row)) for row in rows.values()}) == 1, f"{key}: the profiles name other sizes"


def test_the_sizes_fit_the_data_they_subsample():
    from sftlab.data import load_sentiment

    offline = load_sentiment("offline")["train"]
    sst2_train = 67_349 - round(0.02 * 67_349)       # GLUE SST-2 train (Wang et al., 2018) minus our 2% validation
    for profile, available in (("offline", len(offline)), ("full", sst2_train)):
        row = SIZES["03"][profile]
        rows = row["train_rows"] or available
        assert rows <= available and row["sweep_rows"] <= rows and row["overfit_rows"] <= rows, profile
        assert max(row["imbalanced"]) <= 0.4 * rows, f"{profile}: not enough sentences of one label"
