"""The chapter-03 training loop runs unchanged in two processes under `accelerate launch` (DDP over gloo)."""

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_make_target_launches_the_script_with_two_processes():
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "accelerate-demo:" in makefile
    assert "--num_processes 2" in makefile and "scripts/accelerate_sentiment.py" in makefile


def test_two_cpu_processes_train_together(offline):
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29517",
               str(REPO_ROOT / "scripts" / "accelerate_sentiment.py"), "--train-size", "64", "--batch-size", "8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "processes: 2 (DistributedType.MULTI_CPU, backend gloo)" in run.stdout
    # 64 sentences, 8 per batch, 2 processes → each optimizer step sees 16 sentences: 4 steps, not 8
    assert "optimizer steps: 4" in run.stdout
    assert run.stdout.count("processes:") == 1, "only the main process should print the summary"
