"""Text generation from scratch: one decoding loop with a KV cache, and perplexity with a sliding window.

    new_ids = generate(model, input_ids, max_new_tokens=20)                              # greedy
    new_ids = generate(model, input_ids, do_sample=True, temperature=0.7, top_p=0.9, seed=0)
    new_ids = generate(model, input_ids, num_beams=4, length_penalty=1.0)                 # beam search
    ppl = perplexity(model, tokenizer, texts, stride=512)

Shapes: B batch, K beams, T sequence length so far, V vocabulary size.
Works for any transformers causal LM (GPT-2, Llama-style SmolLM2 …); tests/test_generation.py checks greedy, beam
search and sampling token for token against `model.generate`, and the cache against recomputing the sequence.

Logit processing is a chain of small functions, in the order transformers applies them:
repetition penalty (every strategy), then — only when sampling — temperature, top-k, top-p.
"""

import math
import numbers

import torch

from sftlab.batching import check_token_ids
from sftlab.data import check_texts
from sftlab.devices import model_device, timed

# ---------------------------------------------------------------- logit processors: (B, V) scores -> (B, V)


def apply_repetition_penalty(input_ids, scores, penalty: float):
    """Make every token already in input_ids (B, T) less likely: divide its positive scores by penalty, multiply
    its negative ones (dividing a negative score would *raise* it). penalty > 1 discourages repeats (CTRL paper)."""
    if not penalty > 0:
        raise ValueError(f"repetition penalty must be > 0 (1.0 = none, > 1 discourages repeats), got {penalty}")
    seen = torch.gather(scores, 1, input_ids)                                  # (B, T) scores of tokens seen
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return scores.scatter(1, input_ids, seen)


def apply_temperature(scores, temperature: float):
    """Divide the logits by temperature: < 1 sharpens the softmax towards the top token, > 1 flattens it."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature} (greedy decoding is the limit T → 0)")
    return scores / temperature


def apply_top_k(scores, top_k: int):
    """Keep the top_k highest scores (ties with the k-th included), set the rest to -inf."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be an int ≥ 1 (the number of tokens kept), got {top_k!r}; "
                         f"to switch top-k off, do not apply it (generate's top_k=0)")
    top_k = min(top_k, scores.size(-1))
    kth_best = torch.topk(scores, top_k).values[..., -1, None]                 # (B, 1)
    return scores.masked_fill(scores < kth_best, float("-inf"))


def apply_top_p(scores, top_p: float):
    """Nucleus filtering: keep the smallest set of most likely tokens whose probabilities sum to ≥ top_p."""
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (the probability mass kept; 1 keeps everything), got {top_p}")
    sorted_scores, sorted_ids = torch.sort(scores, descending=False)          # least likely first
    cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)                  # (B, V)
    remove = cumulative <= (1 - top_p)         # the tail whose mass fits in 1 - top_p goes
    remove[..., -1:] = False                   # always keep the most likely token
    remove = remove.scatter(1, sorted_ids, remove)                            # back to vocabulary order
    return scores.masked_fill(remove, float("-inf"))


def process_logits(input_ids, scores, do_sample=False, temperature=1.0, top_k=0, top_p=1.0, repetition_penalty=1.0):
    """The chain in transformers' order: repetition penalty; then, only when sampling, temperature → top-k → top-p.
    Greedy and beam search ignore temperature/top-k/top-p, as generate does (they cannot change the argmax)."""
    if repetition_penalty != 1.0:
        scores = apply_repetition_penalty(input_ids, scores, repetition_penalty)
    if do_sample:
        if temperature != 1.0:
            scores = apply_temperature(scores, temperature)
        if top_k != 0:
            scores = apply_top_k(scores, top_k)
        if top_p < 1.0:
            scores = apply_top_p(scores, top_p)
    return scores


# ---------------------------------------------------------------- one forward step


def next_token_logits(model, sequences, past_key_values=None, use_cache=True):
    """Logits for the next token after sequences (B, T) -> ((B, V) float32, cache).

    With a cache, only the tokens the cache has not seen go through the model (the whole prompt on the first
    call, then one token): their keys and values for earlier positions are reused, so a step costs O(T), not
    O(T²). Without one, the whole sequence is recomputed every step."""
    if use_cache:
        seen = 0 if past_key_values is None else past_key_values.get_seq_length()
        outputs = model(input_ids=sequences[:, seen:], past_key_values=past_key_values, use_cache=True,
                        logits_to_keep=1)
        return outputs.logits[:, -1].float(), outputs.past_key_values
    outputs = model(input_ids=sequences, use_cache=False, logits_to_keep=1)
    return outputs.logits[:, -1].float(), None


# ---------------------------------------------------------------- generate


def _eos_ids(model, eos_token_id) -> list[int]:
    """EOS ids as a list; None -> the model's generation_config (what generate uses); [] -> never stop early."""
    if eos_token_id is None:
        eos_token_id = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos_token_id is None:
        return []
    eos = list(eos_token_id) if isinstance(eos_token_id, (list, tuple)) else [eos_token_id]
    bad = [token for token in eos if not _is_int(token) or token < 0]
    if bad:
        raise ValueError(f"eos_token_id must be a token id (an int ≥ 0) or a list of them, got {eos_token_id!r}; "
                         f"use tokenizer.eos_token_id, or tokenizer.convert_tokens_to_ids(token) for another token")
    return eos


EARLY_STOPPING = (False, True, "never")


def _is_int(value) -> bool:
    """An int that is not a bool (True is an int to Python, but not a count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(name, value, minimum, what):
    """TypeError unless value is an int (a float, a string or a bool is not); ValueError unless ≥ minimum."""
    if not _is_int(value):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be {what}, got {value!r}")


def _check_number(name, value, what):
    """TypeError unless value is a real number: "0.7" or None would otherwise fail inside a comparison."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number ({what}), got {type(value).__name__} {value!r}")


def _check_sampling_only(do_sample, temperature, top_k, top_p):
    """temperature, top-k and top-p reshape the distribution that sampling draws from; greedy decoding and beam
    search take the most likely tokens, which they never change. transformers warns and ignores them; we stop."""
    if do_sample:
        return
    given = [(name, value) for name, value, off in (("temperature", temperature, 1.0), ("top_k", top_k, 0),
                                                   ("top_p", top_p, 1.0)) if value != off]
    if given:
        settings = ", ".join(f"{name}={value!r}" for name, value in given)
        raise ValueError(f"{settings} has no effect without do_sample=True: greedy decoding and beam search pick "
                         f"the most likely tokens, which temperature, top-k and top-p never change. Pass "
                         f"do_sample=True to sample, or drop {' and '.join(name for name, _ in given)}")


def _check_arguments(model, input_ids, max_new_tokens, temperature, top_k, top_p, repetition_penalty, num_beams,
                     do_sample, early_stopping=False, length_penalty=1.0, seed=None):
    """Every argument of generate, checked before the first forward pass: a message naming the value, not an
    error from deep inside the model (or, for a sampling setting without do_sample=True, no error at all)."""
    if not hasattr(model, "config"):
        raise TypeError(f"model must be a transformers model (with a .config), got {type(model).__name__}; "
                        f"the model comes first: generate(model, input_ids, ...)")
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
        got = f"a tensor of shape {tuple(input_ids.shape)}" if isinstance(input_ids, torch.Tensor) \
            else type(input_ids).__name__
        raise ValueError(f"input_ids must be a 2-D LongTensor (batch, prompt length), got {got}; "
                         f"for one prompt use tokenizer(text, return_tensors='pt').input_ids")
    if input_ids.shape[0] == 0 or input_ids.shape[1] == 0:
        raise ValueError(f"empty prompt: input_ids has shape {tuple(input_ids.shape)}; the model needs at least "
                         f"one token to condition on (e.g. the BOS token)")
    if input_ids.dtype != torch.long:
        raise ValueError(f"input_ids must hold token ids (torch.long), got {input_ids.dtype}")
    check_token_ids(model, input_ids)
    _check_int("max_new_tokens", max_new_tokens, 1, "a positive int")
    context = getattr(model.config, "max_position_embeddings", None)
    if context is not None and input_ids.shape[1] + max_new_tokens > context:
        raise ValueError(f"prompt ({input_ids.shape[1]} tokens) + max_new_tokens ({max_new_tokens}) = "
                         f"{input_ids.shape[1] + max_new_tokens} exceeds the model's context of {context} "
                         f"positions (config.max_position_embeddings)")
    if not isinstance(do_sample, bool):
        raise TypeError(f"do_sample must be True or False, got {type(do_sample).__name__} {do_sample!r}")
    for name, value, what in (("temperature", temperature, "> 0; 1 = unchanged"),
                              ("top_p", top_p, "in (0, 1]; 1 = no nucleus filtering"),
                              ("repetition_penalty", repetition_penalty, "> 0; 1 = none"),
                              ("length_penalty", length_penalty, "the exponent of the length in beam scores")):
        _check_number(name, value, what)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature} (for deterministic output use "
                         f"do_sample=False instead of temperature 0)")
    _check_int("top_k", top_k, 0, "an int ≥ 0 (0 = no top-k filtering)")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (1 = no nucleus filtering), got {top_p}")
    if not repetition_penalty > 0:
        raise ValueError(f"repetition_penalty must be > 0 (1.0 = none), got {repetition_penalty}")
    _check_int("num_beams", num_beams, 1, "an int ≥ 1 (1 = no beam search)")
    if early_stopping not in EARLY_STOPPING:
        raise ValueError(f"early_stopping must be one of {EARLY_STOPPING} (generate's meanings), "
                         f"got {early_stopping!r}")
    if seed is not None and not _is_int(seed):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__} {seed!r}")
    _check_sampling_only(do_sample, temperature, top_k, top_p)
    if num_beams > 1 and do_sample:
        raise ValueError("beam-search sampling (num_beams > 1 with do_sample=True) is not implemented here; "
                         "use num_beams=1 to sample or do_sample=False for beam search")
    if num_beams > 1 and input_ids.shape[0] != 1:
        raise ValueError(f"beam search here takes one prompt at a time, got a batch of {input_ids.shape[0]}; "
                         f"loop over the prompts")


@torch.no_grad()
def generate(model, input_ids, max_new_tokens: int = 50, do_sample: bool = False, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, repetition_penalty: float = 1.0, num_beams: int = 1,
             length_penalty: float = 1.0, early_stopping: bool | str = False, eos_token_id=None,
             seed: int | None = None, use_cache: bool = True):
    """Prompt + generated tokens (B, T + new) as a LongTensor, like model.generate with the same settings.

    input_ids (B, T): prompts of equal length (no padding, so no attention mask is needed: every token attends to
    the whole prompt before it). Greedy and sampling take a batch; beam search takes one prompt (B = 1).
    eos_token_id: int or list; None takes the model's generation_config.eos_token_id; [] never stops early.
    Rows that finish early are filled with the (first) EOS id, as generate fills them with pad = EOS.
    seed: torch.manual_seed(seed) before sampling — generate called right after the same seed samples the same.
    early_stopping (beam search): False, True or "never", with generate's meaning (default False).
    temperature, top_k and top_p act only when sampling: without do_sample=True they are a ValueError (generate
    warns and ignores them)."""
    _check_arguments(model, input_ids, max_new_tokens, temperature, top_k, top_p, repetition_penalty, num_beams,
                     do_sample, early_stopping, length_penalty, seed)
    model.eval()
    input_ids = input_ids.to(model_device(model))                             # the prompt goes where the model is
    eos = _eos_ids(model, eos_token_id)
    if num_beams > 1:
        return _beam_search(model, input_ids, max_new_tokens, num_beams, length_penalty, early_stopping, eos,
                            repetition_penalty, use_cache).cpu()
    if seed is not None:
        torch.manual_seed(seed)
    eos_tensor = torch.tensor(eos, dtype=torch.long, device=input_ids.device)
    sequences = input_ids                                                      # (B, T)
    unfinished = torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
    cache = None
    for _ in range(max_new_tokens):
        logits, cache = next_token_logits(model, sequences, cache, use_cache)  # (B, V)
        scores = process_logits(sequences, logits, do_sample, temperature, top_k, top_p, repetition_penalty)
        if do_sample:
            next_tokens = torch.multinomial(scores.softmax(dim=-1), num_samples=1).squeeze(1)   # (B,)
        else:
            next_tokens = scores.argmax(dim=-1)                                                   # (B,)
        if eos:   # a finished row keeps receiving EOS (generate's pad) so the batch stays rectangular
            next_tokens = torch.where(unfinished, next_tokens, eos_tensor[0])
            unfinished &= ~torch.isin(next_tokens, eos_tensor)
        sequences = torch.cat([sequences, next_tokens[:, None]], dim=-1)
        if not unfinished.any():
            break
    return sequences.cpu()


def _beam_search(model, input_ids, max_new_tokens, num_beams, length_penalty, early_stopping, eos,
                 repetition_penalty, use_cache):
    """Beam search for one prompt (1, T), following transformers' rules step for step.

    Each step scores every (beam, next token) pair by its summed log-probability and keeps the best 2·K: those
    that end (EOS or the length limit) among the top K become finished hypotheses, scored sum / length**length_penalty
    (length counts new tokens); the best K that do not end run on. It stops when K hypotheses are finished and
    (early_stopping=False) the best running beam, at its current length, can no longer beat the worst of them."""
    prompt_len = input_ids.shape[1]
    max_length = prompt_len + max_new_tokens
    n_candidates = max(2, 1 + len(eos)) * num_beams   # enough that K beams survive even if many end here
    eos_tensor = torch.tensor(eos, dtype=torch.long, device=input_ids.device)
    running = input_ids.repeat(num_beams, 1)                                 # (K, T): K copies of the prompt
    running_scores = torch.full((num_beams,), -1e9, device=input_ids.device)
    running_scores[0] = 0.0                    # identical copies: only the first one may expand at step 1
    finished = []                              # (score, sequence), best first, at most K
    improvement_possible = True
    cache = None
    for _ in range(max_new_tokens):
        cur_len = running.shape[1]
        logits, cache = next_token_logits(model, running, cache, use_cache)   # (K, V)
        log_probs = torch.log_softmax(logits, dim=-1)
        log_probs = process_logits(running, log_probs, repetition_penalty=repetition_penalty)
        vocab_size = log_probs.shape[-1]
        totals = (log_probs + running_scores[:, None]).view(-1)               # (K·V) summed log-probs
        top_scores, top_ids = torch.topk(totals, n_candidates)
        origin, tokens = top_ids // vocab_size, top_ids % vocab_size
        candidates = torch.cat([running[origin], tokens[:, None]], dim=-1)    # (2K, T + 1)
        ends = torch.isin(tokens, eos_tensor) | (cur_len + 1 >= max_length)   # (2K,)

        # Finished hypotheses: only among the top K candidates, and only while they can still matter.
        full = len(finished) == num_beams
        if improvement_possible and not (full and early_stopping is True):
            new_len = cur_len + 1 - prompt_len
            for i in range(num_beams):
                if ends[i]:
                    finished.append((float(top_scores[i] / new_len**length_penalty), candidates[i]))
            finished = sorted(finished, key=lambda hypothesis: -hypothesis[0])[:num_beams]

        # Running beams: the best K candidates that did not end; the cache follows the beams they came from.
        running_candidate_scores = top_scores + ends.float() * -1e9
        keep = torch.topk(running_candidate_scores, num_beams).indices
        running, running_scores = candidates[keep], running_candidate_scores[keep]
        if cache is not None:
            cache.reorder_cache(origin[keep])

        # Stop when nothing can improve on K finished hypotheses, or nothing is left to extend.
        full = len(finished) == num_beams
        if full:
            if early_stopping == "never" and length_penalty > 0:
                best_len = max_new_tokens      # a longer beam may still win: assume the longest one
            else:
                best_len = cur_len + 1 - prompt_len
            best_running = running_scores[0] / best_len**length_penalty
            improvement_possible = improvement_possible and bool(best_running > finished[-1][0])
        if not improvement_possible or (full and early_stopping is True) or bool(ends.all()):
            break
    best = finished[0][1] if finished else running[0]
    return best[None, :]


@torch.no_grad()
def generate_with_transformers(model, input_ids, max_new_tokens: int = 50, eos_token_id=None, seed=None, **settings):
    """model.generate with our defaults spelled out, for side-by-side checks: same arguments as generate.

    Every decoding setting is passed explicitly, because model.generate otherwise takes its defaults from the
    model's generation_config (a checkpoint may ship top_k=50 or temperature=0.6). eos_token_id=[] never stops,
    as in ours. seed: torch.manual_seed(seed) first, as ours does."""
    defaults = dict(do_sample=False, num_beams=1, length_penalty=1.0, early_stopping=False, temperature=1.0,
                    top_k=0, top_p=1.0, repetition_penalty=1.0)
    settings = {**defaults, **settings}
    _check_sampling_only(settings["do_sample"], settings["temperature"], settings["top_k"], settings["top_p"])
    if not settings["do_sample"]:       # greedy and beam search ignore these; generate warns when it gets them
        for key in ("temperature", "top_k", "top_p"):
            settings.pop(key)
    eos = _eos_ids(model, eos_token_id)
    pad = eos[0] if eos else (model.generation_config.pad_token_id or 0)   # [] overrides the config's EOS too
    if seed is not None:
        torch.manual_seed(seed)
    input_ids = input_ids.to(model_device(model))
    return model.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=max_new_tokens,
                          eos_token_id=eos, pad_token_id=pad, **settings).cpu()


# ---------------------------------------------------------------- timing


@torch.no_grad()
def time_per_token(model, input_ids, max_new_tokens: int = 128, use_cache: bool = True) -> list[float]:
    """Seconds spent on each greedy step (one forward pass + argmax), for a plot of time vs position.
    With a cache a step costs about the same at any position; without, it grows with the sequence length.
    The device is synchronised around every step, so GPU times are the computation's, not the queueing's."""
    _check_arguments(model, input_ids, max_new_tokens, 1.0, 0, 1.0, 1.0, 1, False)
    model.eval()
    device = model_device(model)
    sequences, cache, times = input_ids.to(device), None, []
    for _ in range(max_new_tokens):
        with timed(device) as clock:
            logits, cache = next_token_logits(model, sequences, cache, use_cache)
            sequences = torch.cat([sequences, logits.argmax(dim=-1, keepdim=True)], dim=-1)
        times.append(clock.seconds)
    return times


# ---------------------------------------------------------------- perplexity


@torch.no_grad()
def perplexity(model, tokenizer, texts, stride: int = 512, max_length: int | None = None) -> float:
    """exp(mean negative log-likelihood per predicted token), over all tokens of all texts (token-weighted).

    Texts longer than max_length tokens (default: the model's context) are read in windows of max_length that
    start every `stride` tokens; each window scores only the tokens the previous one did not, so every scored
    token sees up to max_length - stride tokens of context. The first token of a text has no context and is not
    scored, as in the model's own loss."""
    if not hasattr(model, "config") or not callable(tokenizer):
        raise TypeError(f"perplexity(model, tokenizer, texts) takes the model, then its tokenizer; got a "
                        f"{type(model).__name__} and a {type(tokenizer).__name__}")
    if isinstance(texts, str):
        texts = [texts]
    if len(texts) == 0:
        raise ValueError("texts is empty: nothing to score")
    check_texts(texts, "perplexity")
    context = getattr(model.config, "max_position_embeddings", None)
    max_length = context if max_length is None else max_length      # 0 is a mistake to name, not "the default"
    if not _is_int(max_length) or max_length < 2:
        raise ValueError(f"max_length must be an int ≥ 2 (a window needs a token to predict from), got {max_length!r}")
    if context is not None and max_length > context:
        raise ValueError(f"max_length={max_length} exceeds the model's context of {context} positions")
    if not _is_int(stride) or not 1 <= stride <= max_length:
        raise ValueError(f"stride must be an int in [1, max_length={max_length}], got {stride!r}")

    model.eval()
    device = model_device(model)
    total_nll, total_tokens = 0.0, 0
    for text in texts:
        ids = tokenizer(text, return_tensors="pt").input_ids[0].to(device)    # (T,)
        scored_up_to = 1                        # tokens before this index are scored (or unscorable: index 0)
        for begin in range(0, len(ids), stride):
            end = min(begin + max_length, len(ids))
            window = ids[begin:end]
            logits = model(input_ids=window[None], use_cache=False).logits[0].float()   # (T, V), T ≤ max_length
            log_probs = torch.log_softmax(logits[:-1], dim=-1)                # position j predicts token j + 1
            first = max(scored_up_to, begin + 1) - begin                      # first new target, window index
            targets = window[first:]
            nll = -log_probs[first - 1:].gather(1, targets[:, None]).sum()
            total_nll, total_tokens = total_nll + nll.item(), total_tokens + len(targets)
            scored_up_to = end
            if end == len(ids):
                break
    if total_tokens == 0:
        raise ValueError("no token to score: every text is shorter than 2 tokens")
    return math.exp(total_nll / total_tokens)
