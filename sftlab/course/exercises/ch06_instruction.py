"""Chapter 06, instruction SFT: labels on the answer only, a chat template by hand, ROUGE-L's LCS, LoRA's
forward pass and merge.

Shapes (sftlab/__init__.py): B batch, T sequence length.
"""

from sftlab.batching import IGNORE_INDEX
from sftlab.course.exercises.framework import Exercise, Mistake, check, register

PAD_ID = 2            # SmolLM2 pads with its end-of-turn token <|im_end|> (id 2), which also ends every answer


# ---------------------------------------------------------------- mask_prompt_labels


def mask_prompt_labels_solution(input_ids, attention_mask, prompt_lengths):
    """Labels for answer-only SFT: the input ids, with -100 on each row's first prompt_lengths[b] tokens and on
    padding (attention_mask 0): (B, T), (B, T), (B,) -> (B, T)."""
    import torch

    positions = torch.arange(input_ids.size(1))                         # (T,)
    in_prompt = positions[None, :] < prompt_lengths[:, None]            # (B, T)
    return input_ids.masked_fill(in_prompt | (attention_mask == 0), IGNORE_INDEX)


def _mask_cases():
    import torch

    g = torch.Generator().manual_seed(6)
    lengths, prompts = torch.tensor([9, 6, 7]), torch.tensor([4, 3, 5])
    input_ids = torch.randint(10, 99, (3, 9), generator=g)
    input_ids[torch.arange(3), lengths - 1] = PAD_ID                   # every answer ends with <|im_end|> = pad id
    attention_mask = (torch.arange(9)[None, :] < lengths[:, None]).long()
    input_ids = input_ids.masked_fill(attention_mask == 0, PAD_ID)     # right padding with the same id
    return [(input_ids, attention_mask, prompts),
            (torch.tensor([[5, 6, 7, 8, PAD_ID]]), torch.ones(1, 5, dtype=torch.long), torch.tensor([2])),
            (torch.tensor([[5, 6, 7, PAD_ID, PAD_ID], [5, 6, 7, 8, PAD_ID]]),
             torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]), torch.tensor([1, 3]))]


def _mask_prompt_only(input_ids, attention_mask, prompt_lengths):
    import torch

    in_prompt = torch.arange(input_ids.size(1))[None, :] < prompt_lengths[:, None]
    return input_ids.masked_fill(in_prompt, IGNORE_INDEX)


def _mask_padding_only(input_ids, attention_mask, prompt_lengths):
    return input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)


def _mask_by_pad_id(input_ids, attention_mask, prompt_lengths):
    import torch

    in_prompt = torch.arange(input_ids.size(1))[None, :] < prompt_lengths[:, None]
    return input_ids.masked_fill(in_prompt | (input_ids == PAD_ID), IGNORE_INDEX)


def _mask_off_by_one(shift):
    def mistaken(input_ids, attention_mask, prompt_lengths):
        return mask_prompt_labels_solution(input_ids, attention_mask, prompt_lengths + shift)
    return mistaken


def _mask_shifted(input_ids, attention_mask, prompt_lengths):
    import torch

    labels = mask_prompt_labels_solution(input_ids, attention_mask, prompt_lengths)
    return torch.cat([labels[:, 1:], torch.full_like(labels[:, :1], IGNORE_INDEX)], dim=1)


register(Exercise(
    name="mask_prompt_labels",
    task="mask_prompt_labels(input_ids, attention_mask, prompt_lengths): (B, T), (B, T), (B,) → (B, T) labels: the "
         "input ids, with -100 on each row's first prompt_lengths[b] tokens and wherever attention_mask is 0",
    hint="one (B, T) boolean mask, True where a position lies in its row's prompt (its index is below that row's "
         "prompt length: broadcast a row of positions against a column of lengths) or in the padding; the labels "
         "are the input ids with -100 where the mask is True. The model shifts labels itself",
    reference=mask_prompt_labels_solution,
    cases=_mask_cases,
    atol=0,
    mistakes=[
        Mistake(_mask_by_pad_id, "you masked every token equal to the pad id; SmolLM2 pads with <|im_end|>, which also "
                                 "ends each answer, so the model never learns to stop. Mask padding by attention_mask"),
        Mistake(_mask_prompt_only, "the padding still has labels: mask where attention_mask == 0 as well"),
        Mistake(_mask_padding_only, "the prompt still has labels, so the loss also trains the model to write the "
                                    "system and user turns: mask each row's first prompt_lengths[b] tokens"),
        Mistake(_mask_off_by_one(1), "off by one: you masked the first answer token too (use <, not <=)"),
        Mistake(_mask_off_by_one(-1), "off by one: the prompt's last token still has a label (use <, not < length-1)"),
        Mistake(_mask_shifted, "you shifted the labels by one; transformers' causal-LM loss shifts them itself"),
    ],
))


def check_mask_prompt_labels(fn, raise_on_failure=False):
    """Check your mask_prompt_labels(input_ids, attention_mask, prompt_lengths) against the reference."""
    return check("mask_prompt_labels", fn, raise_on_failure)


# ---------------------------------------------------------------- chatml

DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def chatml_solution(messages, add_generation_prompt):
    """SmolLM2's chat template written out: each message as <|im_start|>role\\ncontent<|im_end|>\\n, a default
    system message first when there is none, and <|im_start|>assistant\\n at the end on request."""
    if messages[0]["role"] != "system":
        messages = [{"role": "system", "content": DEFAULT_SYSTEM}, *messages]
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def _chat_cases():
    system = {"role": "system", "content": "Answer in one word."}
    user = {"role": "user", "content": "Is this review positive or negative?\nGreat food, slow service."}
    answer = {"role": "assistant", "content": "positive"}
    chinese = {"role": "user", "content": "把“机器学习”翻译成英文。"}
    return [([system, user], True), ([system, user, answer], False), ([user], True), ([chinese], False),
            ([system, user, answer, chinese], True)]


def _without(transform):
    def mistaken(messages, add_generation_prompt):
        return transform(chatml_solution(messages, add_generation_prompt), messages, add_generation_prompt)
    return mistaken


def _no_default_system(messages, add_generation_prompt):
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


register(Exercise(
    name="chatml",
    task="chatml(messages, add_generation_prompt) → str: SmolLM2's chat template by hand — every message as "
         "<|im_start|>ROLE\\nCONTENT<|im_end|>\\n, a default system message first when there is none, and "
         "<|im_start|>assistant\\n at the end when add_generation_prompt is True",
    hint="three steps: a system message first when the first message is not one (its text is the constant "
         "DEFAULT_SYSTEM); every message in the same three-part frame (start marker with the role and a newline, the "
         "content, end marker and a newline); the opening of an assistant turn last, only when asked",
    reference=chatml_solution,
    cases=_chat_cases,
    atol=0,
    text_answers=True,
    mistakes=[
        Mistake(_without(lambda text, m, g: text.removesuffix("<|im_start|>assistant\n")),
                "the generation prompt is missing: with add_generation_prompt=True the text must end with "
                "<|im_start|>assistant\\n, or the model continues the user's turn instead of answering"),
        Mistake(_without(lambda text, m, g: text + ("" if g else "<|im_start|>assistant\n")),
                "you added the generation prompt although add_generation_prompt is False"),
        Mistake(_no_default_system,
                "SmolLM2's template puts its default system message first when the conversation has none"),
        Mistake(_without(lambda text, m, g: text.replace("<|im_end|>\n", "<|im_end|>")),
                "each turn ends with <|im_end|> and a newline"),
        Mistake(_without(lambda text, m, g: text + "<|im_end|>"),
                "a doubled end: the template already closes each turn with <|im_end|>; appending eos_token again "
                "teaches the model to emit it twice"),
        Mistake(_without(lambda text, m, g: "<|im_start|>" + text),
                "a doubled BOS: the template writes <|im_start|> itself; do not add another one in front"),
    ],
))


def check_chatml(fn, raise_on_failure=False):
    """Check your chatml(messages, add_generation_prompt) against SmolLM2's template; on a mismatch, also shows
    the first character where your text differs."""
    if callable(fn):
        for messages, add_generation_prompt in _chat_cases():
            try:
                got, expected = fn(messages, add_generation_prompt), chatml_solution(messages, add_generation_prompt)
            except Exception:  # noqa: BLE001 — check() below reports it (or the hint, if not attempted)
                break
            if not isinstance(got, str):           # check() below says what it expected
                break
            if got != expected:
                pairs = enumerate(zip(got, expected, strict=False))
                at = next((i for i, (a, b) in pairs if a != b), min(len(got), len(expected)))   # or where one ends
                print(f"first difference at character {at}: expected {expected[max(0, at - 12):at + 24]!r}, "
                      f"got {got[max(0, at - 12):at + 24]!r}")
                break
    return check("chatml", fn, raise_on_failure)


# ---------------------------------------------------------------- lcs_length


def lcs_length_solution(a, b):
    """Length of the longest common subsequence of two token lists (ROUGE-L's core), by dynamic programming."""
    from sftlab.text_metrics import lcs_length

    return lcs_length(a, b)


def _lcs_cases():
    return [(list("ABCBDAB"), list("BDCABA")),
            ("the cat sat on the mat".split(), "the cat is on the mat".split()),
            ("a b c d".split(), "d c b a".split()),
            ([], "x y".split()),
            ("北 京 是 中 国 的 首 都".split(), "中 国 的 首 都 是 北 京".split()),
            ("x y x y x".split(), "y x y".split())]


def _longest_common_substring(a, b):
    best = 0
    for i in range(len(a)):
        for j in range(len(b)):
            k = 0
            while i + k < len(a) and j + k < len(b) and a[i + k] == b[j + k]:
                k += 1
            best = max(best, k)
    return best


def _common_tokens(a, b):
    from collections import Counter

    return sum((Counter(a) & Counter(b)).values())


def _greedy_match(a, b):
    count, j = 0, 0
    for x in a:
        if x in b[j:]:
            j = b.index(x, j) + 1
            count += 1
    return count


register(Exercise(
    name="lcs_length",
    task="lcs_length(a, b) → int: the length of the longest common subsequence of two token lists (in order, "
         "gaps allowed) — the heart of ROUGE-L",
    hint="dynamic programming over prefixes: the LCS of a[:i] and b[:j] follows from smaller prefixes — what "
         "happens when their last tokens match, and when they do not? A table of (len(a)+1) × (len(b)+1) is enough",
    reference=lcs_length_solution,
    cases=_lcs_cases,
    mistakes=[
        Mistake(_longest_common_substring, "that is the longest common SUBSTRING (contiguous); a subsequence may "
                                           "skip tokens in between"),
        Mistake(_common_tokens, "you counted shared tokens regardless of order (a bag of words); the LCS keeps "
                                "their order"),
        Mistake(_greedy_match, "matching each token of a greedily to its first occurrence in b is not optimal: "
                               "use dynamic programming"),
    ],
    see_also=("sftlab.text_metrics.lcs_length",),
))


def check_lcs_length(fn, raise_on_failure=False):
    """Check your lcs_length(a, b) against the reference."""
    return check("lcs_length", fn, raise_on_failure)


# ---------------------------------------------------------------- lora_forward and lora_merge


def lora_forward_solution(x, weight, lora_A, lora_B, alpha, rank):
    """A LoRA linear layer (no bias): the frozen x Wᵀ plus the low-rank update (α/r) · x Aᵀ Bᵀ.
    x (N, d_in), weight W (d_out, d_in), lora_A (r, d_in), lora_B (d_out, r) -> (N, d_out)."""
    return x @ weight.T + (alpha / rank) * (x @ lora_A.T) @ lora_B.T


def lora_merge_solution(weight, lora_A, lora_B, alpha, rank):
    """The merged weight W + (α/r) · B A (d_out, d_in): one matrix whose x Wᵀ equals the adapter's forward pass."""
    return weight + (alpha / rank) * lora_B @ lora_A


def _lora_cases():
    import torch

    g = torch.Generator().manual_seed(6)
    cases = []
    for n, d_in, d_out, rank, alpha in [(3, 8, 6, 2, 4), (5, 12, 12, 4, 8), (2, 6, 10, 1, 16)]:
        cases.append((torch.randn(n, d_in, generator=g), torch.randn(d_out, d_in, generator=g),
                      torch.randn(rank, d_in, generator=g), torch.randn(d_out, rank, generator=g), alpha, rank))
    return cases


def _merge_cases():
    return [case[1:] for case in _lora_cases()]


register(Exercise(
    name="lora_forward",
    task="lora_forward(x, weight, lora_A, lora_B, alpha, rank): a LoRA linear layer without bias, (N, d_in) → "
         "(N, d_out): the frozen layer's output plus the low-rank path scaled by α/r; weight (d_out, d_in), lora_A "
         "(r, d_in), lora_B (d_out, r)",
    hint="nn.Linear computes x Wᵀ; the adapter's path goes through A first (down to r dimensions), then B (up to "
         "d_out), and is scaled before it is added",
    reference=lora_forward_solution,
    cases=_lora_cases,
    mistakes=[
        Mistake(lambda x, w, a, b, alpha, rank: x @ w.T + (x @ a.T) @ b.T,
                "the update is not scaled: PEFT multiplies the low-rank path by alpha / rank"),
        Mistake(lambda x, w, a, b, alpha, rank: x @ w.T + (alpha / rank ** 0.5) * (x @ a.T) @ b.T,
                "alpha / sqrt(rank) is rsLoRA's scale (use_rslora=True); plain LoRA scales by alpha / rank"),
        Mistake(lambda x, w, a, b, alpha, rank: x @ w.T + (rank / alpha) * (x @ a.T) @ b.T,
                "the scale is upside down: alpha / rank, not rank / alpha"),
        Mistake(lambda x, w, a, b, alpha, rank: (alpha / rank) * (x @ a.T) @ b.T,
                "the frozen weight's output is missing: LoRA adds its update to x Wᵀ, it does not replace it"),
    ],
))


register(Exercise(
    name="lora_merge",
    task="lora_merge(weight, lora_A, lora_B, alpha, rank) → the merged weight (d_out, d_in) whose plain linear "
         "layer gives the same output as lora_forward: what merge_and_unload writes into each adapted layer",
    hint="write lora_forward's output as x times one matrix transposed and read that matrix off; mind which of A "
         "and B comes first in a (d_out, d_in) product",
    reference=lora_merge_solution,
    cases=_merge_cases,
    mistakes=[
        Mistake(lambda w, a, b, alpha, rank: w + b @ a,
                "the update is not scaled: the merged weight is W + (alpha / rank) · B A"),
        Mistake(lambda w, a, b, alpha, rank: w + (alpha / rank ** 0.5) * b @ a,
                "alpha / sqrt(rank) is rsLoRA's scale; plain LoRA merges with alpha / rank"),
        Mistake(lambda w, a, b, alpha, rank: (alpha / rank) * b @ a,
                "that is only ΔW: the merged weight keeps the frozen W and adds ΔW to it"),
    ],
))


def check_lora_forward(fn, raise_on_failure=False):
    """Check your lora_forward(x, weight, lora_A, lora_B, alpha, rank) against the reference."""
    return check("lora_forward", fn, raise_on_failure)


def check_lora_merge(fn, raise_on_failure=False):
    """Check your lora_merge(weight, lora_A, lora_B, alpha, rank) against the reference."""
    return check("lora_merge", fn, raise_on_failure)
