"""Launch scripts/accelerate_sentiment.py with as many processes as this machine supports (`make accelerate-demo`).

    no GPU     2 CPU processes, DDP over gloo (the path CI tests)
    1 GPU      1 process on the GPU (a free Colab): DDP needs two, so there is nothing to distribute
    N GPUs     one process per GPU, DDP over NCCL

Extra arguments go to the training script, e.g. `python scripts/accelerate_demo.py --train-size 64`.
"""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("accelerate_sentiment.py")


def launch_command(gpus: int, script_args: list[str] = ()) -> list[str]:
    """The `accelerate launch` command line for a machine with `gpus` CUDA devices."""
    accelerate = str(Path(sys.executable).with_name("accelerate"))
    common = ["--num_machines", "1", "--dynamo_backend", "no"]
    if gpus == 1:
        processes = ["--num_processes", "1"]
    else:   # --multi_gpu selects the torchrun launcher; with no GPU the script asks for the CPU (gloo)
        processes = ["--multi_gpu", "--num_processes", str(gpus or 2)]
    return [accelerate, "launch", *processes, *common, str(SCRIPT), *script_args]


def main() -> int:
    import torch

    gpus = torch.cuda.device_count()
    command = launch_command(gpus, sys.argv[1:])
    where = f"{gpus} GPU(s)" if gpus else "no GPU: 2 CPU processes over gloo"
    print(f"{where} → {' '.join(command[1:])}", flush=True)
    return subprocess.call(command, env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})


if __name__ == "__main__":
    sys.exit(main())
