"""The chapter-03 training loop runs unchanged in two processes under `accelerate launch` (DDP over gloo)."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_make_target_adapts_to_the_machine():
    """2 CPU processes without a GPU; a 1-GPU Colab gets one process (DDP with one would fail); N GPUs get N."""
    spec = importlib.util.spec_from_file_location("demo", REPO_ROOT / "scripts" / "accelerate_demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    launch_command = demo.launch_command

    assert "scripts/accelerate_demo.py" in (REPO_ROOT / "Makefile").read_text()
    no_gpu, one, four = launch_command(0), launch_command(1), launch_command(4, ["--epochs", "2"])
    assert no_gpu[2:5] == ["--multi_gpu", "--num_processes", "2"]
    assert one[2:4] == ["--num_processes", "1"] and "--multi_gpu" not in one
    assert four[2:5] == ["--multi_gpu", "--num_processes", "4"] and four[-2:] == ["--epochs", "2"]
    assert all(c[-1].endswith("accelerate_sentiment.py") for c in (no_gpu, one))


def test_two_cpu_processes_train_together(offline):
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29517",
               str(REPO_ROOT / "scripts" / "accelerate_sentiment.py"), "--train-size", "64", "--batch-size", "8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r"processes: 2 \(DistributedType.MULTI_CPU, backend gloo\) on cpu(:0)?, mixed precision: no",
                     run.stdout), run.stdout
    # 64 sentences, 8 per batch, 2 processes → each optimizer step sees 16 sentences: 4 steps, not 8
    assert "optimizer steps: 4" in run.stdout
    assert run.stdout.count("processes:") == 1, "only the main process should print the summary"
