"""LoRA vs full fine-tuning of the chapter 06 chat LM: seconds per optimizer step, peak memory, trainable parameters.

    python benchmarks/lora_vs_full.py [--steps 6] [--batch-size 8] [--ranks 16]

Each setting runs in a fresh Python process (so that one run's freed memory cannot hide the next one's peak) and
trains the same model on the same batches of data/instructions/ train conversations, answer-only labels, with
the course's training loop (AdamW, fp32 on the CPU, the profile's precision on a GPU). The first step is a
warm-up and is not timed. Peak memory is the rise of the process's resident memory during training on the CPU
(sampled every 5 ms), torch's peak allocation on a GPU; the weights loaded before training are not counted.
CPU seconds per step (the process's user + system time) are less sensitive than wall time to other programs
sharing the machine; alone on n cores, wall ≈ CPU / (0.8 n) for these matrix-heavy steps.
"""

import argparse
import json
import subprocess
import sys
import time


def one_run(setting: str, steps: int, batch_size: int) -> dict:
    """Train `steps` + 1 steps in this process and return the measurements as a dict."""
    import torch

    from sftlab.data import load_instructions
    from sftlab.devices import model_device, peak_memory
    from sftlab.instruct import make_instruction_loader, tokenize_conversations
    from sftlab.models import load_chat_lm
    from sftlab.parameters import trainable_parameters
    from sftlab.training import TrainingConfig, seed_everything, train

    seed_everything(0)
    tokenizer, model = load_chat_lm()
    tokenized = tokenize_conversations(load_instructions()["train"], tokenizer).shuffle(seed=0)
    warmup = make_instruction_loader(tokenized.select(range(batch_size)), tokenizer, batch_size)
    loader = make_instruction_loader(tokenized.select(range(batch_size, batch_size * (steps + 1))), tokenizer,
                                     batch_size)
    if setting == "full":
        learning_rate = 5e-5
    else:
        from peft import LoraConfig, get_peft_model

        rank = int(setting.removeprefix("lora-r"))
        model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear",
                                                 task_type="CAUSAL_LM"))
        learning_rate = 1e-3
    config = TrainingConfig(learning_rate=learning_rate, epochs=1, warmup_ratio=0.0, progress=False)
    train(model, warmup, config=config)                                       # first step: allocations, kernels
    cpu_started = time.process_time()
    with peak_memory(model_device(model)) as meter:
        history = train(model, loader, config=config)
    seconds_per_step, peak_bytes = meter.seconds / len(history.steps), meter.peak_bytes
    cpu_per_step = (time.process_time() - cpu_started) / len(history.steps)
    trainable, total = trainable_parameters(model)
    device = next(model.parameters()).device
    return {"setting": setting, "trainable": trainable, "total": total, "seconds_per_step": seconds_per_step,
            "cpu_seconds_per_step": cpu_per_step,
            "peak_mb": peak_bytes / 2**20, "device": str(device), "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6, help="timed optimizer steps per setting")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--ranks", type=int, nargs="+", default=[16], help="LoRA ranks to measure")
    parser.add_argument("--only", help=argparse.SUPPRESS)                     # internal: run one setting, print JSON
    args = parser.parse_args()
    if args.only:
        print(json.dumps(one_run(args.only, args.steps, args.batch_size)))
        return
    rows = []
    for setting in [*(f"lora-r{r}" for r in args.ranks), "full"]:
        out = subprocess.run([sys.executable, __file__, "--only", setting, "--steps", str(args.steps),
                              "--batch-size", str(args.batch_size)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{args.steps} timed steps of {args.batch_size} conversations each, on {rows[0]['device']} "
          f"({rows[0]['threads']} threads)\n")
    print(f"{'setting':<10} {'trainable':>12} {'share':>7} {'s / step':>9} {'CPU s / step':>13} {'peak MB':>9}")
    for row in rows:
        print(f"{row['setting']:<10} {row['trainable']:>12,} {row['trainable'] / row['total']:>7.1%} "
              f"{row['seconds_per_step']:>9.2f} {row['cpu_seconds_per_step']:>13.2f} {row['peak_mb']:>9.0f}")


if __name__ == "__main__":
    main()
