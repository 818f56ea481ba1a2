"""Devices: where a model runs, moving its inputs there, mixed precision, and timing that waits for the GPU.

    device = resolve_device("auto")          # the fastest device here: CUDA, then MPS, then the CPU
    batch = to_device(batch, model_device(model))
    TrainingArguments(…, **trainer_precision(device))   # Trainer's precision by the same rule as sftlab.training
    with timed(device) as clock: ...; clock.seconds
    with peak_memory(device) as meter: ...; meter.peak_bytes, meter.seconds   # the cost of a training run

Every sftlab helper that runs a model moves its inputs to the model's device with these and returns its
results on the CPU, so the same notebook cell works on a laptop CPU, a Colab GPU and an Apple-Silicon Mac.
"""

import time
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch

DEVICE_TYPES = ("cpu", "cuda", "mps")


def available_devices() -> list[str]:
    """The device types torch can use on this machine, fastest first ("cuda", "mps", "cpu")."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    return [*found, "cpu"]


def resolve_device(device="auto") -> torch.device:
    """A device to put a model on: "auto" is the fastest device here; otherwise a torch device or its name
    ("cpu", "cuda", "cuda:1", "mps"), checked to exist. (The course's loaders pass their profile's choice:
    sftlab.models, `device=None`.)"""
    if device == "auto":
        return torch.device(available_devices()[0])
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device={device!r} is not a device; expected 'auto' or one of "
                         f"{', '.join(DEVICE_TYPES)} (e.g. 'cuda:0')") from error
    if device.type not in available_devices():
        raise ValueError(f"device={str(device)!r} is not available on this machine; available: "
                         f"{', '.join(available_devices())} (or pass device='auto')")
    return device


def model_device(model) -> torch.device:
    """The device of the model's first parameter (where its inputs must go)."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")     # a module without parameters runs wherever its inputs are


def to_device(batch, device):
    """Tensors in a dict (or a transformers BatchEncoding), list or tuple moved to `device`; the rest as is
    (Accelerate's send_to_device; a BatchEncoding comes back as a plain dict, which a model takes as **kwargs)."""
    from accelerate.utils import send_to_device

    return send_to_device(dict(batch) if isinstance(batch, Mapping) else batch, device)


def mixed_precision_for(device) -> str:
    """What Accelerate should use on `device`: "bf16" on a GPU with native bf16 (Ampere and later), else "fp16"
    on a GPU — a Colab T4 *emulates* bf16, far slower than its fp16 tensor cores; "no" (fp32) on the CPU and on
    MPS (where half precision is not reliably faster for training)."""
    device = torch.device(device)
    if device.type != "cuda":
        return "no"
    return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"


def trainer_precision(device) -> dict:
    """The same rule as keyword arguments of transformers' TrainingArguments (and TRL's SFTConfig):
    TrainingArguments(…, **trainer_precision(device)), so Trainer, SFTTrainer and sftlab.training pick one precision
    on every device — never bf16 emulated on a T4."""
    precision = mixed_precision_for(device)
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def synchronize(device) -> None:
    """Wait until the device has finished the work queued on it. GPU calls return at once and run later:
    reading the clock without this times the queueing, not the computation."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@dataclass
class Clock:
    seconds: float = 0.0


@contextmanager
def timed(device="cpu"):
    """Measure the wall time of a block, synchronising `device` before both readings of the clock."""
    clock = Clock()
    synchronize(device)
    started = time.perf_counter()
    try:
        yield clock
    finally:
        synchronize(device)
        clock.seconds = time.perf_counter() - started


def _resident_bytes() -> int:
    """This process's resident memory now (Linux /proc; 0 where it does not exist)."""
    import os

    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@contextmanager
def peak_memory(device="cpu", interval_s: float = 0.005):
    """Measure the peak extra memory of a block in bytes (`meter.peak_bytes`) and its seconds: on a GPU torch's
    peak allocation; on the CPU the process's resident memory, sampled every interval_s in a thread."""
    import threading

    class Meter:
        peak_bytes, seconds = 0, 0.0

    meter, device = Meter(), torch.device(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
    else:
        start, highest, done = _resident_bytes(), [_resident_bytes()], threading.Event()

        def sample():
            while not done.wait(interval_s):
                highest[0] = max(highest[0], _resident_bytes())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    try:
        with timed(device) as clock:      # synchronised before both clock readings
            yield meter
    finally:
        meter.seconds = clock.seconds
        if device.type == "cuda":
            meter.peak_bytes = torch.cuda.max_memory_allocated(device) - start
        else:
            done.set()
            sampler.join()
            meter.peak_bytes = max(highest[0], _resident_bytes()) - start
