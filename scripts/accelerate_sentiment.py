"""A short chapter-03 fine-tune through sftlab.training, unchanged, under `accelerate launch`.

    make accelerate-demo        # scripts/accelerate_demo.py: 2 CPU processes without a GPU, one per GPU with them

`--multi_gpu` picks accelerate's torchrun launcher; on a machine without a GPU the script asks for the CPU,
and the processes talk over gloo. Each process puts its model on its own device (state.device), where
sftlab.training trains it — with mixed precision on a GPU. (accelerate's own `--cpu` launcher needs `mpirun`
for more than one process.) Each process takes its own batches; DDP averages the gradients before every
optimizer step, so one step sees num_processes × batch-size sentences and the run needs 1/num_processes of the steps.
"""

import argparse

import torch
from accelerate import PartialState

from sftlab.classification import make_loader, metrics_for, tokenize
from sftlab.data import SENTIMENT_LABELS, load_sentiment
from sftlab.models import load_encoder
from sftlab.training import TrainingConfig, seed_everything, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=256, help="training sentences (a subset, for speed)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16, help="per process")
    args = parser.parse_args()

    state = PartialState(cpu=not torch.cuda.is_available())
    seed_everything(0)
    data = load_sentiment("offline")
    data["train"] = data["train"].shuffle(seed=0).select(range(args.train_size))
    data["validation"] = data["validation"].select(range(64))
    tokenizer, model = load_encoder("sequence-classification", num_labels=2, device=state.device)
    tokenized = tokenize(data, tokenizer, max_length=48)
    history = train(model, make_loader(tokenized["train"], tokenizer, args.batch_size, shuffle=True),
                    make_loader(tokenized["validation"], tokenizer, 32),
                    TrainingConfig(learning_rate=5e-5, epochs=args.epochs, progress=False),
                    compute_metrics=metrics_for(SENTIMENT_LABELS))
    if state.is_main_process:
        backend = torch.distributed.get_backend() if torch.distributed.is_initialized() else "none"
        print(f"processes: {state.num_processes} ({state.distributed_type}, backend {backend}) on {history.device}, "
              f"mixed precision: {history.mixed_precision}")
        print(f"optimizer steps: {len(history.steps)}")
        print(history.summary())


if __name__ == "__main__":
    main()
