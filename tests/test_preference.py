"""sftlab.preference: sequence log-probabilities, the reference as the adapter switched off, DPO's loss — equal to
TRL's DPOTrainer on the same batch."""

import math

import pytest
import torch

from sftlab import instruct, preference
from sftlab.models import load_chat_lm


@pytest.fixture(scope="module")
def tokenizer():
    return load_chat_lm()[0]


def tiny_llama(vocab_size, seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                         pad_token_id=2, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(config).eval()


PAIRS = [
    ([{"role": "user", "content": "Is this review positive or negative? Lovely staff, awful room."}],
     "negative", "The review is mostly about the staff, who were lovely, so I would call it positive overall."),
    ([{"role": "user", "content": "用一句话总结：会议推迟到下周三。"}], "会议改到下周三。", "Meeting moved."),
]


def _batch(tokenizer, answers):
    rows = [instruct.tokenize_conversation(tokenizer, [*prompt, {"role": "assistant", "content": answer}])
            for (prompt, *_), answer in zip(PAIRS, answers, strict=True)]
    return instruct.InstructionCollator(tokenizer)(rows)


def test_sequence_logprobs_sum_the_answer_tokens_with_gradients(tokenizer):
    model = tiny_llama(len(tokenizer))
    batch = _batch(tokenizer, [chosen for *_, chosen, _ in PAIRS])
    logps = preference.sequence_logprobs(model, batch)
    assert logps.shape == (2,) and logps.requires_grad
    for row in range(2):
        one = {key: value[row:row + 1] for key, value in batch.items()}
        counted = int((one["labels"][:, 1:] != -100).sum())
        with torch.no_grad():
            assert logps[row].item() == pytest.approx(-model(**one).loss.item() * counted, abs=1e-4)
    with pytest.raises(ValueError, match="lacks"):
        preference.sequence_logprobs(model, {"input_ids": batch["input_ids"]})
    with pytest.raises(ValueError, match="no labelled token"):
        preference.sequence_logprobs(model, {**batch, "labels": torch.full_like(batch["labels"], -100)})


def test_dpo_loss_is_bradley_terry_on_implicit_rewards():
    chosen, rejected = torch.tensor([-5.0, -9.0]), torch.tensor([-7.0, -4.0])
    ref_chosen, ref_rejected = torch.tensor([-6.0, -8.0]), torch.tensor([-6.0, -6.0])
    out = preference.dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=0.5)
    margins = [0.5 * ((-5 + 6) - (-7 + 6)), 0.5 * ((-9 + 8) - (-4 + 6))]      # β·(chosen − rejected log-ratios)
    expected = sum(-math.log(1 / (1 + math.exp(-m))) for m in margins) / 2
    assert out.loss.item() == pytest.approx(expected, abs=1e-6)
    assert out.chosen_rewards.tolist() == pytest.approx([0.5, -0.5])
    assert out.reward_accuracy == 0.5 and out.margin == pytest.approx(sum(margins) / 2)
    equal = preference.dpo_loss(chosen, chosen, ref_chosen, ref_chosen)
    assert equal.loss.item() == pytest.approx(math.log(2)), "no preference yet: −log σ(0)"
    with pytest.raises(ValueError, match="beta must be a positive number"):
        preference.dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=0)
    with pytest.raises(ValueError, match=r"must each be \(B,\)"):
        preference.dpo_loss(chosen, rejected[:1], ref_chosen, ref_rejected)


def test_the_reference_is_the_policy_with_its_adapter_off(tokenizer):
    from peft import LoraConfig, get_peft_model

    base = tiny_llama(len(tokenizer))
    batch = _batch(tokenizer, [chosen for *_, chosen, _ in PAIRS])
    with torch.no_grad():
        before = preference.sequence_logprobs(base, batch)
    policy = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False))
    with torch.no_grad():
        moved = preference.sequence_logprobs(policy, batch)
    with preference.reference_model(policy):
        reference = preference.sequence_logprobs(policy, batch)
    assert not torch.allclose(moved, before) and torch.allclose(reference, before, atol=1e-6)
    assert not reference.requires_grad
    with pytest.raises(TypeError, match="needs a PEFT model"):
        with preference.reference_model(tiny_llama(len(tokenizer))):
            pass


def test_dpo_loss_equals_trls_dpo_trainer_on_the_same_batch(tokenizer, tmp_path):
    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    dataset = Dataset.from_list([{"prompt": prompt, "chosen": [{"role": "assistant", "content": chosen}],
                                  "rejected": [{"role": "assistant", "content": rejected}]}
                                 for prompt, chosen, rejected in PAIRS])
    # a new adapter (peft_config): TRL's reference is then the policy with its adapter disabled, as ours
    trainer = DPOTrainer(model=tiny_llama(len(tokenizer)), processing_class=tokenizer, train_dataset=dataset,
                         peft_config=LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"),
                         args=DPOConfig(output_dir=str(tmp_path), beta=0.2, report_to="none", max_length=None,
                                        per_device_train_batch_size=2, disable_tqdm=True, use_cpu=True))
    policy = trainer.model
    assert "ref" not in policy.peft_config
    with torch.no_grad():                                              # as if trained: B ≠ 0, policy ≠ reference
        for name, weight in policy.named_parameters():
            if "lora_B" in name:
                weight.normal_(0, 0.5, generator=torch.Generator().manual_seed(0))
    inputs = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    with torch.no_grad():
        theirs = trainer.compute_loss(trainer.model, inputs)
    labels = inputs["input_ids"].masked_fill(inputs["completion_mask"] == 0, -100)
    batch = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"], "labels": labels}
    with torch.no_grad():
        policy_logps = preference.sequence_logprobs(policy, batch)
    with preference.reference_model(policy):
        reference_logps = preference.sequence_logprobs(policy, batch)
    out = preference.dpo_loss(*policy_logps.chunk(2), *reference_logps.chunk(2), beta=0.2)
    assert out.loss.item() == pytest.approx(theirs.item(), abs=1e-5)
    assert out.loss.item() != pytest.approx(math.log(2), abs=1e-4), "the adapter must move the policy"


def _tiny_pairs(tokenizer):
    from datasets import Dataset

    return preference.tokenize_pairs(Dataset.from_list(
        [{"prompt": prompt, "chosen": [{"role": "assistant", "content": chosen}],
          "rejected": [{"role": "assistant", "content": rejected}], "rule": "concise"}
         for prompt, chosen, rejected in PAIRS]), tokenizer)


def test_preference_collator_puts_the_chosen_rows_first(tokenizer):
    tokenized = _tiny_pairs(tokenizer)
    batch = preference.PreferenceCollator(tokenizer)([tokenized[0], tokenized[1]])
    assert batch["input_ids"].shape[0] == 4
    for row, (answer, pair) in enumerate([("chosen", 0), ("chosen", 1), ("rejected", 0), ("rejected", 1)]):
        ids = tokenized[pair][f"{answer}_input_ids"]
        assert batch["input_ids"][row, :len(ids)].tolist() == ids
        assert batch["labels"][row, :len(ids)].tolist() == tokenized[pair][f"{answer}_labels"]
        assert int(batch["attention_mask"][row].sum()) == len(ids)
    assert tokenized[0]["rule"] == "concise", "the other columns stay"
    with pytest.raises(ValueError, match="tokenize_pairs"):
        preference.PreferenceCollator(tokenizer)([{"input_ids": [1], "labels": [1]}])
    with pytest.raises(ValueError, match="prompt, chosen and rejected"):
        from datasets import Dataset
        preference.tokenize_pairs(Dataset.from_list([{"messages": []}]), tokenizer)


def two_block_policy(tokenizer):
    """A 2-block Llama with LoRA on its top block only (the frozen-trunk set-up), its adapter moved off zero."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, pad_token_id=2, bos_token_id=1, eos_token_id=2)
    return get_peft_model(LlamaForCausalLM(config).eval(), LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], layers_to_transform=[1],
        init_lora_weights=False))


def test_the_frozen_trunk_gives_the_full_models_log_probabilities(tokenizer):
    policy = two_block_policy(tokenizer)
    tokenized = _tiny_pairs(tokenizer)
    with preference.reference_model(policy):
        chosen, rejected = preference.cache_trunks(policy, tokenized, tokenizer, start=1, batch_size=1,
                                                   progress=False)
    full_batch = preference.PreferenceCollator(tokenizer)([tokenized[0], tokenized[1]])
    with preference.reference_model(policy):
        reference = preference.sequence_logprobs(policy, full_batch)
    assert torch.allclose(torch.cat([chosen.reference, rejected.reference]), reference, atol=1e-5)
    with torch.no_grad():
        full = preference.sequence_logprobs(policy, full_batch)
        with preference.top_blocks(policy, 1):
            top = preference.sequence_logprobs(policy, preference.stack_trunks([chosen, rejected], [0, 1]))
    assert torch.allclose(top, full, atol=1e-5) and not torch.allclose(full, reference, atol=1e-3)
    assert len(preference.decoder_blocks(policy)) == 2, "top_blocks puts every block back"
    assert chosen.batch([1])["inputs_embeds"].shape == (1, len(tokenized[1]["chosen_input_ids"]), 16)
    with pytest.raises(ValueError, match="block index"):
        with preference.top_blocks(policy, 2):
            pass
    with pytest.raises(TypeError, match="decoder-only"):
        preference.decoder_blocks(torch.nn.Linear(2, 2))


def test_token_kl_is_zero_at_the_reference_and_the_exact_kl_after(tokenizer):
    from peft import LoraConfig, get_peft_model

    batch = _batch(tokenizer, [chosen for *_, chosen, _ in PAIRS])
    fresh = get_peft_model(tiny_llama(len(tokenizer)), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    assert preference.token_kl(fresh, batch).abs().max().item() < 1e-6, "B = 0: the policy is the reference"
    policy = two_block_policy(tokenizer)
    kl = preference.token_kl(policy, batch)
    with torch.no_grad():
        p = policy(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.log_softmax(-1)
        with preference.reference_model(policy):
            q = policy(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.log_softmax(-1)
    per_position = (p.exp() * (p - q)).sum(-1)[:, :-1] * (batch["labels"][:, 1:] != -100)
    assert torch.allclose(kl, per_position.sum(1), atol=1e-5) and (kl > 0).all()
