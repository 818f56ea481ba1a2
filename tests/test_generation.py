"""Decoding from scratch vs model.generate, token for token: the offline SmolLM2 and a tiny random GPT-2."""

import math

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.generation.logits_process import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from sftlab.generation import (
    apply_repetition_penalty,
    apply_temperature,
    apply_top_k,
    apply_top_p,
    generate,
    generate_with_transformers,
    next_token_logits,
    perplexity,
    process_logits,
    time_per_token,
)

PROMPTS = ["The capital of France is", "Once upon a time", "def fibonacci(n):", "The best way to learn",
           "In 1969, astronauts"]
NEW_TOKENS = 12


@pytest.fixture
def smollm2(offline_causal_lm):
    return offline_causal_lm


@pytest.fixture(scope="module")
def tiny_gpt2():
    """A randomly initialised 2-layer GPT-2; a wide init so its next-token distributions are not flat."""
    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_embd=64, n_head=2, vocab_size=1000, n_positions=64, initializer_range=0.3,
                        bos_token_id=0, eos_token_id=7, pad_token_id=7)
    return GPT2LMHeadModel(config).eval()


def gpt2_prompts(n=5, length=6):
    generator = torch.Generator().manual_seed(1)
    return [torch.randint(8, 1000, (1, length), generator=generator) for _ in range(n)]


def reference(model, input_ids, eos, max_new_tokens=NEW_TOKENS, **settings):
    """model.generate with every setting spelled out, so no generation_config default sneaks in."""
    return generate_with_transformers(model, input_ids, max_new_tokens, eos_token_id=eos, **settings)


def assert_same_tokens(ours, ref, what):
    assert torch.equal(ours, ref), f"{what}:\n ours {ours.tolist()}\n ref  {ref.tolist()}"


# ---------------------------------------------------------------- greedy and beam search, token for token

BEAM_SETTINGS = [dict(num_beams=3, length_penalty=1.0, early_stopping=False),
                 dict(num_beams=4, length_penalty=0.5, early_stopping=True, repetition_penalty=1.2),
                 dict(num_beams=3, length_penalty=2.0, early_stopping="never")]


def test_greedy_matches_generate_on_smollm2(smollm2):
    tokenizer, model = smollm2
    period = tokenizer(".").input_ids[0]    # a frequent EOS, so some prompts stop early
    lengths = set()
    for prompt in PROMPTS:
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        ours = generate(model, ids, max_new_tokens=NEW_TOKENS, eos_token_id=period)
        assert_same_tokens(ours, reference(model, ids, period), f"greedy {prompt!r}")
        lengths.add(ours.shape[1] - ids.shape[1])
    assert min(lengths) < NEW_TOKENS, "no prompt stopped at EOS: the EOS path went untested"


@pytest.mark.parametrize("settings, prompts", [(BEAM_SETTINGS[0], PROMPTS), (BEAM_SETTINGS[1], PROMPTS[3:4]),
                                              (BEAM_SETTINGS[2], PROMPTS[4:])],
                         ids=["beams3-5-prompts", "beams4-early-stopping", "beams3-never"])
def test_beam_search_matches_generate_on_smollm2(smollm2, settings, prompts):
    """All prompts with generate's defaults; one each for the other settings (the tiny GPT-2 covers them too)."""
    tokenizer, model = smollm2
    eos = [tokenizer(".").input_ids[0], tokenizer(",").input_ids[0]]   # hypotheses finish at different steps
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        ours = generate(model, ids, max_new_tokens=10, eos_token_id=eos, **settings)
        ref = reference(model, ids, eos, max_new_tokens=10, **settings)
        assert_same_tokens(ours, ref, f"beam {settings} {prompt!r}")


@pytest.mark.parametrize("settings", [dict(num_beams=1), *BEAM_SETTINGS], ids=["greedy", "beams3", "beams4", "never"])
def test_greedy_and_beam_search_match_generate_on_tiny_gpt2(tiny_gpt2, settings):
    for ids in gpt2_prompts():
        ours = generate(tiny_gpt2, ids, max_new_tokens=20, eos_token_id=7, **settings)
        ref = reference(tiny_gpt2, ids, 7, max_new_tokens=20, **settings)
        assert_same_tokens(ours, ref, f"gpt2 {settings} {ids.tolist()}")


def test_with_no_eos_both_run_to_max_new_tokens_even_past_the_configs_eos(tiny_gpt2):
    ids = gpt2_prompts(1)[0]
    free_run = generate(tiny_gpt2, ids, max_new_tokens=20, eos_token_id=[])
    config_eos = tiny_gpt2.generation_config.eos_token_id
    tiny_gpt2.generation_config.eos_token_id = int(free_run[0, 6 + 3])      # would stop at step 4 if used
    try:
        ref = generate_with_transformers(tiny_gpt2, ids, max_new_tokens=20, eos_token_id=[])
    finally:
        tiny_gpt2.generation_config.eos_token_id = config_eos
    assert ref.shape[1] == 6 + 20
    assert_same_tokens(free_run, ref, "no EOS")


def test_batched_greedy_matches_generate_and_pads_finished_rows(tiny_gpt2):
    ids = torch.cat(gpt2_prompts(4))                                          # (4, 6), equal lengths
    free_run = generate(tiny_gpt2, ids, max_new_tokens=20, eos_token_id=[])
    eos = int(free_run[0, 6 + 3])              # a token row 0 produces at step 4: it must stop there
    ours = generate(tiny_gpt2, ids, max_new_tokens=20, eos_token_id=eos)
    assert_same_tokens(ours, reference(tiny_gpt2, ids, eos, max_new_tokens=20), "batched greedy")
    assert (ours[0, 6 + 4:] == eos).all(), "a finished row must be filled with EOS, as generate pads it"


# ---------------------------------------------------------------- sampling

SAMPLING = [dict(temperature=0.7), dict(top_k=20), dict(top_p=0.9), dict(repetition_penalty=1.3),
            dict(temperature=1.3, top_k=50, top_p=0.95, repetition_penalty=1.2)]


@pytest.mark.parametrize("seed, prompt", list(enumerate(PROMPTS[:2])))
def test_sampling_matches_generate_under_the_same_seed_on_smollm2(smollm2, seed, prompt):
    tokenizer, model = smollm2
    settings = SAMPLING[-1]                    # all four processors at once
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    ours = generate(model, ids, max_new_tokens=NEW_TOKENS, do_sample=True, seed=seed, **settings)
    torch.manual_seed(seed)
    ref = reference(model, ids, model.generation_config.eos_token_id, do_sample=True, **settings)
    assert_same_tokens(ours, ref, f"sampling {settings} seed {seed}")


@pytest.mark.parametrize("settings", SAMPLING, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_sampling_matches_generate_under_the_same_seed_on_tiny_gpt2(tiny_gpt2, settings):
    ids = torch.cat(gpt2_prompts(3))                                          # a batch samples row by row
    ours = generate(tiny_gpt2, ids, max_new_tokens=20, do_sample=True, seed=0, **settings)
    torch.manual_seed(0)
    assert_same_tokens(ours, reference(tiny_gpt2, ids, 7, max_new_tokens=20, do_sample=True, **settings),
                       f"gpt2 sampling {settings}")


def test_seed_makes_sampling_reproducible(tiny_gpt2):
    ids = gpt2_prompts(1)[0]
    first = generate(tiny_gpt2, ids, max_new_tokens=20, do_sample=True, seed=3)
    assert torch.equal(first, generate(tiny_gpt2, ids, max_new_tokens=20, do_sample=True, seed=3))
    assert not torch.equal(first, generate(tiny_gpt2, ids, max_new_tokens=20, do_sample=True, seed=4))


def test_each_processor_equals_transformers():
    torch.manual_seed(0)
    scores = torch.randn(4, 1000) * 3                                         # (B, V)
    input_ids = torch.randint(0, 1000, (4, 12))
    pairs = [(apply_repetition_penalty(input_ids, scores, 1.3), RepetitionPenaltyLogitsProcessor(1.3)),
             (apply_repetition_penalty(input_ids, scores, 0.8), RepetitionPenaltyLogitsProcessor(0.8)),
             (apply_temperature(scores, 0.7), TemperatureLogitsWarper(0.7)),
             (apply_top_k(scores, 40), TopKLogitsWarper(40)),
             (apply_top_p(scores, 0.9), TopPLogitsWarper(0.9)),
             (apply_top_p(scores, 0.01), TopPLogitsWarper(0.01))]                # keeps the top token only
    for ours, processor in pairs:
        ref = processor(input_ids, scores.clone())
        torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0, msg=lambda m, p=processor: f"{type(p).__name__}: {m}")
    chain = LogitsProcessorList([RepetitionPenaltyLogitsProcessor(1.2), TemperatureLogitsWarper(1.3),
                                 TopKLogitsWarper(50), TopPLogitsWarper(0.95)])
    ours = process_logits(input_ids, scores, do_sample=True, temperature=1.3, top_k=50, top_p=0.95,
                          repetition_penalty=1.2)
    torch.testing.assert_close(ours.softmax(-1), chain(input_ids, scores.clone()).softmax(-1), atol=1e-6, rtol=0)
    assert torch.equal(process_logits(input_ids, scores, do_sample=False, temperature=0.5, top_k=3), scores), \
        "greedy must ignore temperature and top-k, as generate does"


# ---------------------------------------------------------------- KV cache


@pytest.mark.parametrize("which", ["smollm2", "tiny_gpt2"])
def test_kv_cache_gives_the_logits_of_recomputing_the_sequence(request, which):
    model = request.getfixturevalue(which)
    model = model[1] if isinstance(model, tuple) else model
    sequences = gpt2_prompts(1)[0] if which == "tiny_gpt2" else torch.tensor([[504, 3575, 282, 4649, 314]])
    cache = None
    for step in range(6):
        cached, cache = next_token_logits(model, sequences, cache, use_cache=True)
        full, _ = next_token_logits(model, sequences, use_cache=False)
        torch.testing.assert_close(cached, full, atol=1e-4, rtol=0, msg=lambda m, s=step: f"{which} step {s}: {m}")
        sequences = torch.cat([sequences, full.argmax(-1, keepdim=True)], dim=-1)
    assert cache.get_seq_length() == sequences.shape[1] - 1
    ids = sequences[:, :5]
    assert torch.equal(generate(model, ids, max_new_tokens=5, use_cache=False, eos_token_id=[]),
                       generate(model, ids, max_new_tokens=5, use_cache=True, eos_token_id=[]))


@pytest.mark.parametrize("use_cache, fed", [(False, [6, 7, 8]), (True, [6, 1, 1])])
def test_time_per_token_times_each_greedy_step_on_its_own(tiny_gpt2, monkeypatch, use_cache, fed):
    """A fake clock (start, end of each step) and a spy on the forward pass: one reading pair and one forward
    per new token; without a cache each step feeds the whole, growing sequence, with one only the new token."""
    from types import SimpleNamespace

    from sftlab import devices, generation

    readings = iter([0.0, 1.0, 10.0, 12.0, 20.0, 23.0])
    monkeypatch.setattr(devices, "time", SimpleNamespace(perf_counter=lambda: next(readings)))
    seen, real = [], generation.next_token_logits

    def spy(model, sequences, past_key_values=None, use_cache=True):
        seen.append(sequences.shape[1] - (past_key_values.get_seq_length() if past_key_values else 0))
        return real(model, sequences, past_key_values, use_cache)

    monkeypatch.setattr(generation, "next_token_logits", spy)
    ids = gpt2_prompts(1)[0]
    assert time_per_token(tiny_gpt2, ids, max_new_tokens=3, use_cache=use_cache) == [1.0, 2.0, 3.0]
    assert seen == fed


# ---------------------------------------------------------------- perplexity

SHORT = "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France."
LONG = (SHORT + " It is named after the engineer Gustave Eiffel, whose company designed and built the tower "
        "from 1887 to 1889.")


def model_loss(model, ids, labels=None):
    """The model's own mean cross-entropy over the (shifted) labels, and how many tokens it averaged."""
    labels = ids if labels is None else labels
    loss = model(input_ids=ids, labels=labels).loss
    return loss.item(), int((labels[:, 1:] != -100).sum())


@torch.no_grad()
def test_perplexity_is_exp_of_the_models_loss_when_the_window_covers_the_text(smollm2):
    tokenizer, model = smollm2
    loss, _ = model_loss(model, tokenizer(SHORT, return_tensors="pt").input_ids)
    assert perplexity(model, tokenizer, [SHORT]) == pytest.approx(math.exp(loss), rel=1e-5)


@torch.no_grad()
def test_perplexity_weights_every_token_not_every_text(smollm2):
    tokenizer, model = smollm2
    texts = [SHORT, "Hello there, friend."]
    losses = [model_loss(model, tokenizer(text, return_tensors="pt").input_ids) for text in texts]
    pooled = sum(loss * n for loss, n in losses) / sum(n for _, n in losses)
    assert perplexity(model, tokenizer, texts) == pytest.approx(math.exp(pooled), rel=1e-5)
    mean_of_ppl = sum(math.exp(loss) for loss, _ in losses) / len(losses)
    assert abs(perplexity(model, tokenizer, texts) - mean_of_ppl) > 1e-3


@torch.no_grad()
def test_sliding_window_agrees_with_a_manual_computation(smollm2):
    tokenizer, model = smollm2
    ids = tokenizer(LONG, return_tensors="pt").input_ids                      # (1, T), T ≈ 45
    max_length, stride = 16, 8
    total, count, previous_end = 0.0, 0, 0
    for begin in range(0, ids.shape[1], stride):       # the recipe from transformers' perplexity guide
        end = min(begin + max_length, ids.shape[1])
        window = ids[:, begin:end]
        labels = window.clone()
        labels[:, :-(end - previous_end)] = -100       # score only what the previous window did not
        loss, n = model_loss(model, window, labels)
        total, count, previous_end = total + loss * n, count + n, end
        if end == ids.shape[1]:
            break
    assert count == ids.shape[1] - 1
    windowed = perplexity(model, tokenizer, [LONG], stride=stride, max_length=max_length)
    assert windowed == pytest.approx(math.exp(total / count), rel=1e-5)
    full = perplexity(model, tokenizer, [LONG])
    assert windowed > full, "less context should make the text harder to predict"


# ---------------------------------------------------------------- bad input

BAD_GENERATE = [
    (dict(input_ids=torch.zeros(1, 0, dtype=torch.long)), "empty prompt"),
    (dict(input_ids=torch.tensor([5, 6, 7])), "2-D LongTensor"),
    (dict(input_ids=torch.tensor([[5.0, 6.0]])), "torch.long"),
    (dict(max_new_tokens=0), "max_new_tokens must be a positive int"),
    (dict(max_new_tokens=60), "exceeds the model's context of 64"),
    (dict(temperature=0.0), "temperature must be > 0"),
    (dict(temperature=-1.0), "temperature must be > 0"),
    (dict(top_p=0.0), r"top_p must be in \(0, 1\]"),
    (dict(top_p=1.5), r"top_p must be in \(0, 1\]"),
    (dict(top_k=-1), "top_k must be an int ≥ 0"),
    (dict(repetition_penalty=0.0), "repetition_penalty must be > 0"),
    (dict(num_beams=0), "num_beams must be an int ≥ 1"),
    (dict(num_beams=2, do_sample=True), "beam-search sampling"),
    (dict(num_beams=2, input_ids=torch.tensor([[5, 6], [7, 8]])), "one prompt at a time"),
    (dict(input_ids=torch.tensor([[5, 6, 1000]])), r"token id 1000, but the model's vocabulary has 1,000 tokens"),
    (dict(input_ids=torch.tensor([[5, -100, 7]])), "token id -100.*the loss ignores"),
    (dict(top_k=50), "top_k=50 has no effect without do_sample=True.*drop top_k"),
    (dict(temperature=0.7, top_p=0.9, num_beams=2), "temperature=0.7, top_p=0.9 has no effect without do_sample"),
    (dict(eos_token_id="</s>"), "eos_token_id must be a token id.*'</s>'"),
]


@pytest.mark.parametrize("bad, message", BAD_GENERATE, ids=[m for _, m in BAD_GENERATE])
def test_generate_rejects_bad_input(tiny_gpt2, bad, message):
    arguments = {"input_ids": torch.tensor([[5, 6, 7, 8, 9]]), "max_new_tokens": 4, **bad}
    with pytest.raises(ValueError, match=message):
        generate(tiny_gpt2, **arguments)


BAD_GENERATE_TYPES = [
    (dict(max_new_tokens=10.0), "max_new_tokens must be a positive int, got float 10.0"),
    (dict(max_new_tokens=True), "max_new_tokens must be a positive int, got bool True"),
    (dict(num_beams="4"), "num_beams must be an int ≥ 1 .*got str '4'"),
    (dict(do_sample=True, temperature="0.7"), "temperature must be a number .*got str '0.7'"),
    (dict(do_sample=True, top_p=None), "top_p must be a number .*got NoneType None"),
    (dict(do_sample=True, top_k=None), r"top_k must be an int ≥ 0 \(0 = no top-k filtering\), got NoneType"),
    (dict(num_beams=2, length_penalty="1"), "length_penalty must be a number"),
    (dict(do_sample="False"), "do_sample must be True or False, got str 'False'"),
    (dict(do_sample=True, seed="0"), "seed must be an int or None"),
]


@pytest.mark.parametrize("bad, message", BAD_GENERATE_TYPES, ids=[m for _, m in BAD_GENERATE_TYPES])
def test_generate_rejects_wrong_types_before_decoding(tiny_gpt2, bad, message):
    arguments = {"input_ids": torch.tensor([[5, 6, 7, 8, 9]]), "max_new_tokens": 4, **bad}
    with pytest.raises(TypeError, match=message):
        generate(tiny_gpt2, **arguments)


def test_the_reference_refuses_sampling_settings_without_sampling_too(tiny_gpt2):
    with pytest.raises(ValueError, match="top_p=0.9 has no effect without do_sample=True"):
        generate_with_transformers(tiny_gpt2, torch.tensor([[5, 6]]), max_new_tokens=2, top_p=0.9)


BAD_PERPLEXITY = [
    (dict(texts=[]), ValueError, "texts is empty"),
    (dict(texts=[SHORT, None]), TypeError, "text 1 is NoneType"),
    (dict(texts=[""]), ValueError, "no token to score"),
    (dict(stride=0), ValueError, "stride must be an int in"),
    (dict(stride=32, max_length=16), ValueError, "stride must be an int in"),
    (dict(max_length=1), ValueError, "max_length must be an int ≥ 2"),
    (dict(max_length=0), ValueError, "max_length must be an int ≥ 2 .*got 0"),
    (dict(max_length=10_000), ValueError, "exceeds the model's context of 8192"),
]


def test_perplexity_wants_the_model_before_the_tokenizer(tiny_gpt2):
    def tokenizer(text, return_tensors=None):       # never called: the arguments are checked first
        raise AssertionError("tokenized")

    with pytest.raises(TypeError, match="takes the model, then its tokenizer; got a function and a GPT2LMHeadModel"):
        perplexity(tokenizer, tiny_gpt2, ["a text"])


@pytest.mark.parametrize("bad, error, message", BAD_PERPLEXITY, ids=[m for _, _, m in BAD_PERPLEXITY])
def test_perplexity_rejects_bad_input(smollm2, bad, error, message):
    tokenizer, model = smollm2
    with pytest.raises(error, match=message):
        perplexity(model, tokenizer, **{"texts": [SHORT], **bad})


def test_standalone_logit_processors_refuse_bad_settings():
    from sftlab.generation import apply_repetition_penalty, apply_temperature, apply_top_k, apply_top_p

    scores = torch.randn(1, 10)
    for top_k in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="top_k must be an int ≥ 1"):
            apply_top_k(scores, top_k)
    for top_p in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
            apply_top_p(scores, top_p)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        apply_temperature(scores, 0)
    with pytest.raises(ValueError, match="repetition penalty must be > 0"):
        apply_repetition_penalty(torch.tensor([[1, 2]]), scores, 0)
    assert torch.equal(apply_top_p(scores, 1.0), scores) and torch.equal(apply_top_k(scores, 10), scores)  # keep all


def test_an_unknown_early_stopping_value_is_refused():
    from sftlab.generation import generate

    model = torch.nn.Linear(1, 1)       # never called: the arguments are checked first
    model.config = type("Config", (), {"max_position_embeddings": 64})()
    with pytest.raises(ValueError, match=r"early_stopping must be one of \(False, True, 'never'\).*'sometimes'"):
        generate(model, torch.tensor([[1, 2]]), num_beams=2, early_stopping="sometimes")
