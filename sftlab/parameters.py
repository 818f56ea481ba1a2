"""Counting a Transformer's parameters from its config alone — no weights, no download.

D model width, F feed-forward width, V vocabulary, P positions, L layers (the package legend). A Linear layer
a → b holds a·b weights plus b biases; a LayerNorm over D holds 2D (gain and bias), an
RMSNorm D (gain only). tests/test_parameters.py checks every formula against real models.
"""


def _linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def bert_parameters(config) -> int:
    """transformers BertModel with its pooler (what bert-base-uncased's 109,482,240 counts)."""
    D, F = config.hidden_size, config.intermediate_size
    embeddings = (config.vocab_size + config.max_position_embeddings + config.type_vocab_size) * D + 2 * D
    attention = 4 * _linear(D, D) + 2 * D                 # Q, K, V, output projection; LayerNorm
    feed_forward = _linear(D, F) + _linear(F, D) + 2 * D  # up, down; LayerNorm
    pooler = _linear(D, D)                                # tanh(W h_[CLS] + b)
    return embeddings + config.num_hidden_layers * (attention + feed_forward) + pooler


def gpt2_parameters(config) -> int:
    """transformers GPT2LMHeadModel: the LM head is tied to the token embeddings, so it adds nothing."""
    D = config.n_embd
    F = config.n_inner if config.n_inner is not None else 4 * D
    embeddings = (config.vocab_size + config.n_positions) * D
    layer = 2 * D + _linear(D, 3 * D) + _linear(D, D) + 2 * D + _linear(D, F) + _linear(F, D)
    return embeddings + config.n_layer * layer + 2 * D    # final LayerNorm


def llama_parameters(config) -> int:
    """transformers LlamaForCausalLM (SmolLM2 is one): grouped-query attention, SwiGLU MLP, RMSNorm."""
    D, F = config.hidden_size, config.intermediate_size
    head_size = getattr(config, "head_dim", None) or D // config.num_attention_heads
    q_width, kv_width = config.num_attention_heads * head_size, config.num_key_value_heads * head_size
    bias = config.attention_bias
    attention = (_linear(D, q_width, bias) + 2 * _linear(D, kv_width, bias)   # Q; K and V (fewer heads)
                 + _linear(q_width, D, bias))                                 # output projection
    mlp = 3 * D * F + (2 * F + D if config.mlp_bias else 0)                   # gate, up, down
    layer = attention + mlp + 2 * D                                           # two RMSNorms
    head = 0 if config.tie_word_embeddings else config.vocab_size * D
    return config.vocab_size * D + config.num_hidden_layers * layer + D + head


COUNTERS = {"bert": bert_parameters, "gpt2": gpt2_parameters, "llama": llama_parameters}


def count_parameters(config) -> int:
    """Parameter count of the model a transformers config describes (BertConfig, GPT2Config, LlamaConfig)."""
    model_type = getattr(config, "model_type", None)
    if model_type not in COUNTERS:
        raise TypeError(f"count_parameters knows configs of type {sorted(COUNTERS)}, "
                        f"got {type(config).__name__} (model_type={model_type!r})")
    return COUNTERS[model_type](config)


def trainable_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts; tied weights count once (model.parameters() yields a shared tensor
    once)."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
