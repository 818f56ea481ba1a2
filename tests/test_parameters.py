"""count_parameters from configs alone, against real models' counts."""

import pytest
from transformers import (
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
)

from sftlab import models
from sftlab.parameters import count_parameters


def real_count(model):
    return sum(p.numel() for p in model.parameters())  # tied weights are one Parameter, counted once


def test_the_classics_without_downloading():
    assert count_parameters(BertConfig()) == 109_482_240   # bert-base-uncased
    assert count_parameters(GPT2Config()) == 124_439_808   # gpt2


@pytest.mark.parametrize("config, build", [
    (BertConfig(vocab_size=97, hidden_size=24, num_hidden_layers=3, num_attention_heads=4, intermediate_size=40,
                max_position_embeddings=33, type_vocab_size=3), BertModel),
    (GPT2Config(vocab_size=97, n_embd=24, n_layer=3, n_head=4, n_positions=33), GPT2LMHeadModel),
    (GPT2Config(vocab_size=97, n_embd=24, n_layer=2, n_head=4, n_positions=33, n_inner=50), GPT2LMHeadModel),
    (LlamaConfig(vocab_size=97, hidden_size=24, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=40, tie_word_embeddings=True), LlamaForCausalLM),
    (LlamaConfig(vocab_size=97, hidden_size=24, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                 intermediate_size=40, tie_word_embeddings=False, attention_bias=True, mlp_bias=True),
     LlamaForCausalLM),
], ids=["bert", "gpt2", "gpt2-n_inner", "llama-gqa-tied", "llama-untied-bias"])
def test_formula_equals_an_instantiated_model(config, build):
    assert count_parameters(config) == real_count(build(config))


def test_offline_models(offline, offline_causal_lm):
    _, encoder = models.load_encoder()
    _, lm = offline_causal_lm
    assert count_parameters(encoder.config) == real_count(encoder) == 22_713_216
    assert count_parameters(lm.config) == real_count(lm) == 134_515_008


def test_unknown_config_type():
    from transformers import T5Config

    with pytest.raises(TypeError, match="bert.*gpt2.*llama"):
        count_parameters(T5Config())
