"""Training throughput of the sftlab loop and of transformers.Trainer on the same model, data and batches.

    python benchmarks/training_throughput.py [--train-size 256] [--batch-size 32] [--rounds 2]

Both fine-tune the offline encoder for one epoch on the same subset of the course's sentiment set, with the same
collator (dynamic padding), batch size, learning-rate schedule, weight decay and clipping, and the same batches:
the subset is shuffled once and both read it in that order (a different shuffle per loop would pad differently
and change the work by several percent). Each round starts from
the same freshly loaded weights, and the two alternate (ours, Trainer, ours, Trainer, …) so that a noisy
machine penalises both alike; the table reports the best round of each and the ratio (> 1: ours is faster).
Samples per second counts training only: no evaluation, no checkpointing, no logging to the outside.
"""

import argparse
import tempfile
import time

import torch
from rounds import alternate_rounds, print_table

from sftlab.classification import make_loader, tokenize
from sftlab.data import load_sentiment
from sftlab.models import load_encoder
from sftlab.training import TrainingConfig, seed_everything, train


def fresh_model():
    seed_everything(0)                                  # the same classifier head every round
    return load_encoder("sequence-classification", num_labels=2)


def ours(train_split, batch_size: int, learning_rate: float) -> float:
    tokenizer, model = fresh_model()
    loader = make_loader(train_split, tokenizer, batch_size)             # the split's order, as Trainer below
    started = time.perf_counter()
    train(model, loader, config=TrainingConfig(learning_rate=learning_rate, epochs=1, progress=False))
    return len(train_split) / (time.perf_counter() - started)


def trainers(train_split, batch_size: int, learning_rate: float) -> float:
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    tokenizer, model = fresh_model()
    with tempfile.TemporaryDirectory() as output_dir:
        args = TrainingArguments(output_dir=output_dir, per_device_train_batch_size=batch_size, num_train_epochs=1,
                                 learning_rate=learning_rate, weight_decay=0.01, warmup_steps=0.1,
                                 max_grad_norm=1.0, lr_scheduler_type="linear", save_strategy="no",
                                 eval_strategy="no", logging_strategy="no", report_to="none",
                                 disable_tqdm=True, seed=0, use_cpu=not torch.cuda.is_available(),
                                 train_sampling_strategy="sequential")
        trainer = Trainer(model=model, args=args, train_dataset=train_split,
                          data_collator=DataCollatorWithPadding(tokenizer))
        started = time.perf_counter()
        trainer.train()
        return len(train_split) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-size", type=int, default=256, help="training sentences per round")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of each; the best counts")
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    args = parser.parse_args()

    data = load_sentiment("offline")
    tokenizer, _ = load_encoder()
    split = tokenize(data["train"].shuffle(seed=0).select(range(args.train_size)), tokenizer, max_length=64)
    speeds = alternate_rounds({"sftlab.training.train": lambda: ours(split, args.batch_size, args.learning_rate),
                               "transformers.Trainer": lambda: trainers(split, args.batch_size, args.learning_rate)},
                              args.rounds, "samples/s")
    print(f"\n{args.train_size} sentences, batch {args.batch_size}, 1 epoch, {torch.get_num_threads()} threads, "
          f"best of {args.rounds} rounds")
    print_table(speeds, "loop", "samples/s")
    ratio = max(speeds["sftlab.training.train"]) / max(speeds["transformers.Trainer"])
    print(f"\nratio sftlab / Trainer = {ratio:.2f} ({'at least as fast' if ratio >= 1 else 'SLOWER'})")


if __name__ == "__main__":
    main()
