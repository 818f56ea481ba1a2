"""sftlab.course.exercises.ch06_instruction: answer-only labels, a chat template by hand, ROUGE-L's LCS, LoRA's
forward pass and merge."""

import torch
from exercise_checks import failure

from sftlab.course import exercises
from sftlab.course.exercises.ch06_instruction import _chat_cases


def test_references_pass_their_own_checks():
    assert exercises.check_mask_prompt_labels(exercises.mask_prompt_labels_solution)
    assert exercises.check_chatml(exercises.chatml_solution)
    assert exercises.check_lcs_length(exercises.lcs_length_solution)
    assert exercises.check_lora_forward(exercises.lora_forward_solution)
    assert exercises.check_lora_merge(exercises.lora_merge_solution)


def test_lora_references_equal_peft_unmerged_and_merged():
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(12, 10, bias=False))
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["0"]))
    layer = peft_model.base_model.model[0]
    torch.nn.init.normal_(layer.lora_B["default"].weight)          # B starts at zero: make the update visible
    A, B, W = layer.lora_A["default"].weight, layer.lora_B["default"].weight, layer.base_layer.weight
    x = torch.randn(5, 12)
    with torch.no_grad():
        assert torch.allclose(exercises.lora_forward_solution(x, W, A, B, 8, 4), peft_model(x), atol=1e-5)
        merged = exercises.lora_merge_solution(W, A, B, 8, 4)
        assert torch.allclose(merged, peft_model.merge_and_unload()[0].weight, atol=1e-6)


def test_typical_lora_mistakes_are_named():
    def unscaled(x, w, a, b, alpha, rank):
        return x @ w.T + x @ a.T @ b.T

    def rslora(w, a, b, alpha, rank):
        return w + alpha / rank ** 0.5 * b @ a

    def delta_only(w, a, b, alpha, rank):
        return alpha / rank * b @ a

    def wrong_order(w, a, b, alpha, rank):
        return w + alpha / rank * a.T @ b.T

    assert "not scaled" in failure(exercises.check_lora_forward, unscaled)
    assert "rsLoRA" in failure(exercises.check_lora_merge, rslora)
    assert "only ΔW" in failure(exercises.check_lora_merge, delta_only)
    assert failure(exercises.check_lora_merge, wrong_order)


def test_chatml_reference_is_smollm2s_template():
    from sftlab.models import load_causal_lm

    tokenizer, _ = load_causal_lm()
    for messages, add_generation_prompt in _chat_cases():
        expected = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
        assert exercises.chatml_solution(messages, add_generation_prompt) == expected


def test_mask_prompt_labels_reference_equals_the_labels_of_sftlab_instruct():
    from sftlab.instruct import InstructionCollator

    class Tokenizer:
        pad_token_id = 2

    features = [{"input_ids": [7, 8, 9, 10, 2], "labels": [-100, -100, 9, 10, 2]},
                {"input_ids": [7, 8, 11, 2], "labels": [-100, -100, -100, 2]}]
    batch = InstructionCollator(Tokenizer())(features)
    ours = exercises.mask_prompt_labels_solution(batch["input_ids"], batch["attention_mask"], torch.tensor([2, 3]))
    assert torch.equal(ours, batch["labels"])


def test_typical_mask_mistakes_are_named():
    def by_pad_id(input_ids, attention_mask, prompt_lengths):
        prompt = torch.arange(input_ids.size(1))[None] < prompt_lengths[:, None]
        return input_ids.masked_fill(prompt | (input_ids == 2), -100)

    def padding_kept(input_ids, attention_mask, prompt_lengths):
        return input_ids.masked_fill(torch.arange(input_ids.size(1))[None] < prompt_lengths[:, None], -100)

    def prompt_kept(input_ids, attention_mask, prompt_lengths):
        return input_ids.masked_fill(attention_mask == 0, -100)

    def one_too_many(input_ids, attention_mask, prompt_lengths):
        prompt = torch.arange(input_ids.size(1))[None] <= prompt_lengths[:, None]
        return input_ids.masked_fill(prompt | (attention_mask == 0), -100)

    check = exercises.check_mask_prompt_labels
    assert "never learns to stop" in failure(check, by_pad_id)
    assert "padding still has labels" in failure(check, padding_kept)
    assert "prompt still has labels" in failure(check, prompt_kept)
    assert "first answer token too" in failure(check, one_too_many)


def test_typical_template_mistakes_are_named(capsys):
    def no_generation_prompt(messages, add_generation_prompt):
        return exercises.chatml_solution(messages, False)

    def no_default_system(messages, add_generation_prompt):
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")

    def doubled_end(messages, add_generation_prompt):
        return exercises.chatml_solution(messages, add_generation_prompt) + "<|im_end|>"

    def token_list(messages, add_generation_prompt):
        return [1, 2, 3]

    check = exercises.check_chatml
    assert "generation prompt is missing" in failure(check, no_generation_prompt)
    assert "default system message" in failure(check, no_default_system)
    assert "doubled end" in failure(check, doubled_end)
    assert "expected the answer as one string, got list" in failure(check, token_list)
    assert "first difference at character" in capsys.readouterr().out


def test_typical_lcs_mistakes_are_named():
    def substring(a, b):
        best = 0
        for i in range(len(a)):
            for j in range(len(b)):
                k = 0
                while i + k < len(a) and j + k < len(b) and a[i + k] == b[j + k]:
                    k += 1
                best = max(best, k)
        return best

    def shared(a, b):
        return len(set(a) & set(b)) if len(set(a)) == len(a) and len(set(b)) == len(b) else \
            sum(min(a.count(x), b.count(x)) for x in set(a))

    check = exercises.check_lcs_length
    assert "SUBSTRING" in failure(check, substring)
    assert "bag of words" in failure(check, shared)


def test_unattempted_exercises_give_the_hint(capsys):
    def not_yet(*args):
        raise NotImplementedError

    for check in (exercises.check_mask_prompt_labels, exercises.check_chatml, exercises.check_lcs_length):
        assert check(not_yet) is None
    assert capsys.readouterr().out.count("not attempted yet") == 3
