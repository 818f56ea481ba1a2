"""Greedy decoding speed: sftlab.generation.generate with and without its KV cache vs model.generate.

    python benchmarks/generation_speed.py [--new-tokens 128] [--rounds 2] [--prompt "..."]

Same model (the active profile's causal LM), same prompt, same number of new tokens (EOS disabled, so every run
produces exactly that many), greedy. The three alternate within each round so a noisy machine penalises all alike;
the table reports each one's best round. A warm-up run comes first (first calls allocate and load kernels).
Also printed: the time of one step at a few positions, with and without the cache — the cause of the gap.
"""

import argparse
import time

import torch
from rounds import alternate_rounds, print_table

from sftlab.generation import generate, generate_with_transformers, time_per_token
from sftlab.models import load_causal_lm


def tokens_per_second(run, prompt_len: int, new_tokens: int) -> float:
    started = time.perf_counter()
    out = run()
    elapsed = time.perf_counter() - started
    assert out.shape[1] - prompt_len == new_tokens, f"expected {new_tokens} new tokens, got {out.shape[1] - prompt_len}"
    return new_tokens / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of each; the best counts")
    parser.add_argument("--prompt", default="The history of the printing press begins")
    args = parser.parse_args()

    tokenizer, model = load_causal_lm()
    input_ids = tokenizer(args.prompt, return_tensors="pt").input_ids       # (1, T)
    n = args.new_tokens

    runs = {
        "ours, KV cache": lambda: generate(model, input_ids, max_new_tokens=n, eos_token_id=[]),
        "ours, no cache": lambda: generate(model, input_ids, max_new_tokens=n, eos_token_id=[], use_cache=False),
        "model.generate": lambda: generate_with_transformers(model, input_ids, max_new_tokens=n, eos_token_id=[]),
    }
    same = torch.equal(runs["ours, KV cache"](), runs["model.generate"]())      # also the warm-up
    print(f"ours and model.generate produce the same {n} tokens: {same}")
    prompt_len = input_ids.shape[1]
    speeds = alternate_rounds({name: lambda run=run: tokens_per_second(run, prompt_len, n)
                               for name, run in runs.items()}, args.rounds, "tokens/s")
    best = {name: max(values) for name, values in speeds.items()}
    print(f"\n{type(model).__name__}, prompt of {prompt_len} tokens, {n} new tokens, greedy, "
          f"{torch.get_num_threads()} threads, best of {args.rounds} rounds")
    print_table(speeds, "decoder", "tokens/s")
    ratio = best["ours, KV cache"] / best["model.generate"]
    print(f"\nours (cache) / model.generate = {ratio:.2f} (target ≥ 0.8: {'met' if ratio >= 0.8 else 'NOT met'})")
    print(f"ours: cache / no cache = {best['ours, KV cache'] / best['ours, no cache']:.2f}")

    with_cache = time_per_token(model, input_ids, n, use_cache=True)
    without = time_per_token(model, input_ids, n, use_cache=False)
    print("\nms per step at position (prompt + step): with cache / without")
    for step in (1, n // 4, n // 2, n - 1):
        print(f"  {input_ids.shape[1] + step:4d}: {1e3 * with_cache[step]:6.1f} / {1e3 * without[step]:6.1f}")


if __name__ == "__main__":
    main()
