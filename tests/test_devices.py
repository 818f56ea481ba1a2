"""Every helper that runs a model moves its inputs to the model's device and returns results on the CPU.

CI has no GPU, so a stub stands in for "a model on another device": its only parameter lives on the `meta`
device, and its forward refuses inputs that are not there — exactly the error a forgotten `.to(device)` gives
on a GPU ("Expected all tensors to be on the same device"). Its outputs are zeros of the right shape on the CPU.
Tests that need a real GPU are at the end and skip cleanly without one.
"""

from types import SimpleNamespace

import pytest
import torch
from torch import nn
from transformers import AutoTokenizer, BertConfig

from sftlab import models
from sftlab.devices import mixed_precision_for, model_device, resolve_device, timed, to_device, trainer_precision

NUM_LABELS, VOCAB = 2, 30522


class ReachedTheModel(Exception):
    """Raised by the stub once it has seen its inputs on its own device: the helper did its job."""


class OtherDeviceStub(nn.Module):
    """Looks like a transformers model on another device (meta): its forward checks where the inputs are and
    stops the helper there — raising "same device" if they were left behind, ReachedTheModel otherwise."""

    def __init__(self, num_labels: int = NUM_LABELS):
        super().__init__()
        self.marker = nn.Parameter(torch.zeros(1, device="meta"))
        self.config = BertConfig(vocab_size=VOCAB, hidden_size=8, num_labels=num_labels,
                                 max_position_embeddings=512)

    def forward(self, **inputs):
        for name, value in inputs.items():
            if isinstance(value, torch.Tensor) and value.device.type != "meta":
                raise RuntimeError(f"Expected all tensors to be on the same device, but {name} is on "
                                   f"{value.device} and the model on meta")
        raise ReachedTheModel


def reaches_the_model(helper, *args, **kwargs):
    """Call a helper with the stub somewhere in its arguments; True if its inputs reached the stub's device."""
    with pytest.raises(ReachedTheModel):
        helper(*args, **kwargs)
    return True


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(models.offline_path(models.offline_package("encoder")))


def test_the_stub_catches_a_forgotten_move():
    with pytest.raises(RuntimeError, match="same device"):
        OtherDeviceStub()(input_ids=torch.ones(1, 3, dtype=torch.long))


def test_evaluate_moves_batches(tokenizer):
    from datasets import Dataset

    from sftlab.classification import make_loader, tokenize
    from sftlab.training import evaluate

    split = tokenize(Dataset.from_dict({"text": ["good", "bad film"], "label": [1, 0]}), tokenizer)
    assert reaches_the_model(evaluate, OtherDeviceStub(), make_loader(split, tokenizer, 2))


def test_classification_helpers_move_inputs(tokenizer):
    from sftlab.classification import encoder_features, predict

    assert reaches_the_model(predict, OtherDeviceStub(), tokenizer, ["fine", "not fine at all"])
    assert reaches_the_model(encoder_features, OtherDeviceStub(), tokenizer, ["fine", "not fine at all"])


def test_ner_helpers_move_inputs(tokenizer):
    from datasets import Dataset

    from sftlab.data import NER_LABELS
    from sftlab.ner import make_loader, predict_entities, predict_tags, tokenize_and_align

    stub = OtherDeviceStub(num_labels=len(NER_LABELS))
    assert reaches_the_model(predict_entities, "Ada Lovelace lived in London.", stub, tokenizer, NER_LABELS)
    split = Dataset.from_dict({"tokens": [["Ada", "lived", "in", "London"]], "ner_tags": [[1, 0, 0, 5]]})
    loader = make_loader(tokenize_and_align(split, tokenizer), tokenizer, 1)
    assert reaches_the_model(predict_tags, stub, loader, NER_LABELS)


def test_generation_helpers_move_inputs(tokenizer):
    from sftlab.causal_lm import samples
    from sftlab.generation import generate, generate_with_transformers, perplexity, time_per_token

    prompt = torch.tensor([[5, 6, 7]])
    for use_cache in (True, False):
        assert reaches_the_model(generate, OtherDeviceStub(), prompt, max_new_tokens=3, use_cache=use_cache)
    assert reaches_the_model(generate, OtherDeviceStub(), prompt, max_new_tokens=3, num_beams=2)
    assert reaches_the_model(time_per_token, OtherDeviceStub(), prompt, max_new_tokens=2)
    assert reaches_the_model(perplexity, OtherDeviceStub(), tokenizer, ["a short text to score"])
    assert reaches_the_model(samples, OtherDeviceStub(), tokenizer, ["Once upon a time"])
    stub = OtherDeviceStub()
    stub.generate = lambda input_ids, **kwargs: stub(input_ids=input_ids, **kwargs)   # generate's first forward
    assert reaches_the_model(generate_with_transformers, stub, prompt, max_new_tokens=2, eos_token_id=2)


# ---------------------------------------------------------------- the device helpers themselves


def test_to_device_handles_nested_batches():
    batch = {"input_ids": torch.ones(2, 3), "extra": [torch.zeros(1), "text"], "n": 4}
    moved = to_device(batch, "meta")
    assert moved["input_ids"].device.type == "meta" and moved["extra"][0].device.type == "meta"
    assert moved["extra"][1] == "text" and moved["n"] == 4


def test_model_device_and_precision_choice():
    assert model_device(nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(nn.ReLU()) == torch.device("cpu")            # no parameters: runs where its inputs are
    assert mixed_precision_for("cpu") == "no" and mixed_precision_for("mps") == "no"


def test_a_gpu_that_only_emulates_bf16_trains_in_fp16(monkeypatch):
    """A T4 (Colab's free GPU) answers is_bf16_supported() with True by emulation, far slower than its fp16."""
    for native in (False, True):
        def answer(including_emulation=True, native=native):
            return including_emulation or native

        monkeypatch.setattr(torch.cuda, "is_bf16_supported", answer)
        assert mixed_precision_for("cuda") == ("bf16" if native else "fp16")
        assert trainer_precision("cuda") == {"bf16": native, "fp16": not native}, "Trainer by the same rule"
    assert trainer_precision("cpu") == {"bf16": False, "fp16": False}


def test_resolve_device_takes_auto_or_a_device_and_refuses_what_is_missing():
    from sftlab.devices import available_devices

    assert resolve_device("auto").type == available_devices()[0] == resolve_device().type
    assert resolve_device("cpu") == resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="None is not a device; expected 'auto' or one of cpu, cuda, mps"):
        resolve_device(None)
    with pytest.raises(ValueError, match="'gpu' is not a device"):
        resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda' is not available on this machine; available: .*cpu"):
            resolve_device("cuda")


def test_loaders_put_models_on_the_requested_device(offline, monkeypatch):
    """CI has only the CPU, so "meta" stands in for another device the machine offers."""
    from sftlab import devices

    monkeypatch.setattr(devices, "available_devices", lambda: ["meta", "cpu"])
    _, model = models.load_encoder("sequence-classification", num_labels=2, device="meta")
    assert model_device(model).type == "meta" and all(p.device.type == "meta" for p in model.parameters())
    _, model = models.load_encoder("sequence-classification", num_labels=2, device="cpu")
    assert model_device(model).type == "cpu"
    with pytest.raises(ValueError, match="not a device"):
        models.load_encoder(device="gpu")


def test_the_banner_names_the_device(offline, capsys):
    from sftlab.course import profiles

    assert "device: cpu" in profiles.banner()


def fake_clock(monkeypatch, readings, log):
    """perf_counter answers `readings` in turn and synchronize only logs: every event lands in `log`, in order."""
    from sftlab import devices

    readings = iter(readings)

    def perf_counter():
        value = next(readings)
        log.append(("clock", value))
        return value

    monkeypatch.setattr(devices, "time", SimpleNamespace(perf_counter=perf_counter))   # devices' clock only
    monkeypatch.setattr(devices, "synchronize", lambda device: log.append(("synchronize", device)))


def test_timed_measures_the_block_between_two_synchronised_readings(monkeypatch):
    log = []
    fake_clock(monkeypatch, [10.0, 12.5], log)
    with timed("cuda:1") as clock:
        log.append(("block", None))
        assert clock.seconds == 0.0                       # nothing is read before the block ends
    assert clock.seconds == 2.5                           # second reading minus the first
    assert log == [("synchronize", "cuda:1"), ("clock", 10.0), ("block", None),
                   ("synchronize", "cuda:1"), ("clock", 12.5)]


def test_timed_sets_seconds_even_when_the_block_raises(monkeypatch):
    log = []
    fake_clock(monkeypatch, [3.0, 4.25], log)
    with pytest.raises(KeyError), timed("cpu") as clock:
        raise KeyError("inside the block")
    assert clock.seconds == 1.25
    assert [event for event, _ in log] == ["synchronize", "clock", "synchronize", "clock"]


def test_timed_measures_a_real_sleep():
    import time

    with timed("cpu") as clock:
        time.sleep(0.05)
    assert 0.05 <= clock.seconds < 1.0


# ---------------------------------------------------------------- on a real GPU (skipped without one)

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@gpu
def test_training_and_evaluation_on_cuda_with_mixed_precision(tokenizer):
    from datasets import Dataset
    from transformers import BertForSequenceClassification

    from sftlab.classification import make_loader, metrics_for, predict, tokenize
    from sftlab.training import TrainingConfig, evaluate, train

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
                                                     num_attention_heads=2, intermediate_size=64)).to("cuda")
    split = tokenize(Dataset.from_dict({"text": ["good", "bad", "great", "awful"], "label": [1, 0, 1, 0]}),
                     tokenizer)
    history = train(model, make_loader(split, tokenizer, 2), make_loader(split, tokenizer, 4),
                    TrainingConfig(epochs=1, progress=False), compute_metrics=metrics_for(["neg", "pos"]))
    assert history.device.startswith("cuda") and history.mixed_precision in ("bf16", "fp16")
    assert history.optimizer == "AdamW (fused)"
    assert set(evaluate(model, make_loader(split, tokenizer, 4))) == {"loss"}
    assert predict(model, tokenizer, ["good"])[1].shape == (1, 2)
