"""Estimated minutes per notebook in the full profile on a free Colab T4: work ÷ throughput, per notebook.

    python benchmarks/t4_estimate.py

No T4 was lent to measure on, so this is an estimate, and every input is printed so that it can be checked
and replaced by a measurement:

- the work: each notebook's training steps, forward passes and generated tokens in the full profile, counted
  from its own constants, sftlab.course.chapters.SIZES and the data sets' published sizes (SST-2 67,349 training
  sentences, CoNLL-2003 14,041; tokens per sentence are rough averages);
- the T4's throughput (ASSUMED, from its datasheet peaks: 65 TFLOP/s fp16 with tensor cores, 8.1 TFLOP/s
  fp32): training in fp16 mixed precision at 20% of peak (13 TFLOP/s on 6 × parameters × tokens), inference
  in fp32 (the course's evaluation helpers do not autocast) at 40% (3.2 TFLOP/s on 2 × parameters × tokens);
  but never faster than a floor per step or per generated token, because batches of 32 short sentences leave
  a T4 waiting on kernel launches, not arithmetic;
- CPU work a GPU does not speed up (skip-gram from scratch, tokenising, scikit-learn, parsing GloVe's 400,000-
  line text file, plots, model loading): ASSUMED per notebook, read off the offline runs' cell times on this
  machine's 2 cores (a Colab runtime has 2 vCPUs too), plus about a minute wherever GloVe 100d is parsed.

What is not in the table: the first code cell's install (about a minute, once per runtime) and the first
download of each model (bert-base 440 MB, gpt2 550 MB, SmolLM2-360M 720 MB, GloVe 100d 130 MB: about a
minute in all on Colab's network, once per runtime).
"""

from dataclasses import dataclass

TRAIN_FLOPS = 13e12      # fp16 mixed precision, 20% of the T4's tensor-core peak (assumed)
INFER_FLOPS = 3.2e12     # fp32 inference, 40% of the T4's fp32 peak (assumed)


@dataclass(frozen=True)
class Model:
    name: str
    params: float          # parameters that cost arithmetic per token (embeddings excluded)
    step_floor_s: float    # fastest training step on short batches (assumed)
    token_floor_s: float   # fastest forward pass of one batch, or one generated token of a batch (assumed)


BERT = Model("bert-base-uncased", 85e6, 0.050, 0.012)
BERT_2 = Model("bert-base, first 2 layers", 14e6, 0.015, 0.004)
GPT2 = Model("gpt2", 85e6, 0.055, 0.012)
SMOL = Model("SmolLM2-360M-Instruct", 315e6, 0.150, 0.035)
BERT_LAYER = Model("bert-base, one top layer on cached states", 7.1e6, 0.010, 0.003)   # 07 trains 1–3 of 12
SMOL_TOP = Model("SmolLM2-360M, top 6 of 32 blocks on cached states", 59e6, 0.040, 0.010)   # 08's DPO steps


@dataclass(frozen=True)
class Work:
    what: str
    model: Model
    kind: str              # "train", "forward" or "generate"
    rows: int              # sentences per pass (train, forward) or sequences (generate)
    tokens: int            # tokens per row (prompt + answer), or new tokens per sequence for "generate"
    passes: int = 1        # epochs × seeds × runs
    batch: int = 32

    def seconds(self) -> float:
        batches = -(-self.rows // self.batch) * self.passes
        if self.kind == "generate":    # one step per new token and batch, each at least the floor
            return batches * self.tokens * self.model.token_floor_s
        tokens = self.rows * self.tokens * self.passes
        if self.kind == "train":
            return max(6 * self.model.params * tokens / TRAIN_FLOPS, batches * self.model.step_floor_s)
        return max(2 * self.model.params * tokens / INFER_FLOPS, batches * self.model.token_floor_s)


SST2_TRAIN, SST2_EVAL = 13, 27   # WordPiece tokens: SST-2's training phrases are short, its test sentences whole
CONLL = 21                       # WordPiece tokens per CoNLL-2003 sentence (14.5 words, ~1.3 pieces each, 2 special)
SQUAD = 180                      # tokens per 256-token window: a SQuAD paragraph (~140 words) and its question

# Per notebook: the assumed CPU seconds (parts a GPU does not speed up, module docstring) and the GPU work.
NOTEBOOKS = {
    "00": (40, [Work("one prediction per model", BERT, "forward", 8, 16),
                Work("gpt2 continues a prompt", GPT2, "generate", 1, 30, batch=1)]),
    "01": (120, [Work("contextual 'bank' vectors", BERT, "forward", 4, 16)]),   # skip-gram (CPU) + GloVe parse
    "02": (25, [Work("attention maps, layer checks", BERT, "forward", 40, 16, batch=1)]),
    "03": (120, [   # GloVe parse, tokenising 67k sentences, logistic regressions, plots
        Work("frozen features for the probe", BERT, "forward", 8_000 + 2_400, SST2_TRAIN, batch=64),
        Work("learning-rate grid: 4 rates × 1 seed × 2 epochs", BERT, "train", 8_000, SST2_TRAIN, 8),
        Work("the grid on the 2-layer proxy: 4 rates × 2 epochs", BERT_2, "train", 1_024, SST2_TRAIN, 8),
        Work("main fine-tune: 2 more seeds × 2 epochs", BERT, "train", 8_000, SST2_TRAIN, 4),
        Work("validation per epoch, test, out of domain", BERT, "forward", 2_400, SST2_EVAL, 16, 64),
    ]),
    "03b": (60, [
        Work("our loop and Trainer: 2 × 3 seeds × 2 epochs", BERT_2, "train", 1_024, SST2_TRAIN, 12),
        Work("pooling × rate and warmup: 10 runs × 2 epochs", BERT, "train", 1_024, SST2_TRAIN, 20),
        Work("03's recipe for the shortcut tests: 2 epochs", BERT, "train", 8_000, SST2_TRAIN, 2),
        Work("over-fitting and early stopping: 2 × 12 epochs", BERT_2, "train", 96, SST2_TRAIN, 24),
        Work("validation after every epoch, test, edits", BERT, "forward", 2_400, SST2_EVAL, 30, 64),
    ]),
    "04": (40, [
        Work("fine-tune: 5 epochs", BERT, "train", 14_041, CONLL, 5, 16),
        Work("validation per epoch, test", BERT, "forward", 3_250, CONLL, 6, 64),
    ]),
    "05": (40, [
        Work("our decoding loops vs generate (greedy, beams, sampling)", GPT2, "generate", 30, 12, batch=1),
        Work("decoding settings and samples", GPT2, "generate", 20, 32, batch=1),
        Work("perplexity, sliding windows, KV-cache timing", GPT2, "forward", 60, 256, batch=1),
        Work("LoRA fine-tune and before/after samples", GPT2, "train", 20, 256, 1, 4),
    ]),
    "06": (60, [
        Work("zero-shot, 2-shot and SFT answers (106 test items, batches of 16)", SMOL, "generate", 16, 132, 3 * 2),
        Work("label, mask, LoRA-vs-full, rank, half-data and TRL runs (~12 × 3 steps of 4)", SMOL, "train", 12,
             220, 12, 4),
        Work("headline LoRA run: 60 steps of 4", SMOL, "train", 240, 220, 1, 4),
        Work("validation losses of every run", SMOL, "forward", 16, 220, 14, 8),
        Work("sentiment encoder beside it: 2 epochs", BERT, "train", 1_024, SST2_TRAIN, 2),
        Work("NER encoder beside it: 1 epoch of CoNLL-2003", BERT, "train", 14_041, CONLL, 1, 16),
    ]),
    "07": (90, [   # SIZES["07"]["full"]: 2,000 training questions (~2,100 windows), 500 validation and test
        Work("dense retrieval: embed every passage and question", BERT, "forward", 2_000, 160, 1, 64),
        Work("lower layers cached for 1, 2 and 3 top layers (train + validation)", BERT, "forward", 2_650, SQUAD, 3,
             64),
        Work("sweep: (1 + 2 + 3 + 3) layers × 6 epochs, as one-layer epochs", BERT_LAYER, "train", 2_100, SQUAD, 54,
             16),
        Work("two more seeds: 3 layers × 6 epochs each", BERT_LAYER, "train", 2_100, SQUAD, 36, 16),
        Work("learning curve: a quarter and a half, 3 layers × 6 epochs", BERT_LAYER, "train", 1_575, SQUAD, 18, 16),
        Work("validation after every epoch (8 runs × 6, ~2.5 layers)", BERT_LAYER, "forward", 525, SQUAD, 120, 64),
        Work("test: caches, end to end, windows, unanswerable, both decoders", BERT, "forward", 525, SQUAD, 8, 64),
        Work("transformers' decoder: one window per forward pass", BERT, "forward", 525, SQUAD, 1, 1),
        Work("chat model: 100 test questions, 24 new tokens", SMOL, "generate", 100, 24, batch=8),
    ]),
    "08": (60, [   # SIZES["08"]["full"]: 1,000 UltraFeedback training pairs, 200 validation and test pairs
        Work("TRL's DPOTrainer check: 4 pairs", SMOL, "train", 8, 600, 1, 8),
        Work("frozen trunk: every train and validation answer, once", SMOL, "forward", 2_400, 600, 1, 16),
        Work("DPO at 3 β and SFT on chosen: 1 epoch each (chosen + rejected)", SMOL_TOP, "train", 2_000, 600, 4,
             16),
        Work("answers: validation × 5 models, test × 3, 64 new tokens", SMOL, "generate", 200, 64, 8, 28),
        Work("KL along the answers (policy and reference, 4 runs)", SMOL, "forward", 200, 600, 8, 16),
    ]),
}


def minutes() -> dict[str, int]:
    """The estimate per notebook in whole minutes (at least 1), as the README's Colab table shows it."""
    return {nb: max(1, round((cpu_s + sum(item.seconds() for item in work)) / 60))
            for nb, (cpu_s, work) in NOTEBOOKS.items()}


def readme_row() -> str:
    """The README's row of T4 minutes (tests/test_readme_runtimes.py keeps them equal)."""
    return "| minutes on a T4 (estimate) | " + " | ".join(str(m) for m in minutes().values()) + " |"


def main() -> None:
    print(f"{'nb':<4}{'work':<76}{'model':<28}{'seconds':>8}")
    totals = {}
    for nb, (cpu_s, work) in NOTEBOOKS.items():
        print(f"{nb:<4}{'CPU: loading, tokenising, plots, scikit-learn … (assumed)':<76}{'—':<28}{cpu_s:>8.0f}")
        seconds = cpu_s
        for item in work:
            s = item.seconds()
            seconds += s
            print(f"{'':<4}{item.what[:74]:<76}{item.model.name:<28}{s:>8.1f}")
        totals[nb] = seconds
    print("\nestimated minutes on a T4 (full profile, models already downloaded):")
    print(" | ".join(f"{nb}: {s / 60:.1f}" for nb, s in totals.items()))
    print(f"whole course: {sum(totals.values()) / 60:.0f} min\n\nREADME row:\n{readme_row()}")


if __name__ == "__main__":
    main()
