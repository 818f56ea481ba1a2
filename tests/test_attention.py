"""sftlab.attention against torch's attention, torch's MultiheadAttention and a real BERT encoder."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sftlab import models
from sftlab.attention import (
    MultiHeadAttention,
    TransformerBlock,
    blocks_from_bert,
    causal_mask,
    load_bert_layer_weights,
    load_torch_mha_weights,
    padding_mask,
    scaled_dot_product_attention,
    sinusoidal_positions,
)


def assert_close(ours, ref, atol, what):
    diff = (ours - ref).abs()
    assert diff.max() <= atol, f"{what}: max_diff={diff.max():.3g}, mean_diff={diff.mean():.3g} (atol {atol})"


@pytest.fixture
def qkv():
    torch.manual_seed(0)
    return torch.randn(3, 2, 4, 7, 16).unbind(0)  # q, k, v: (B=2, H=4, T=7, D=16)


ATTENTION_MASK = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]])


@pytest.mark.parametrize("mask_name", ["none", "padding", "causal", "padding+causal"])
def test_attention_matches_torch_sdpa(qkv, mask_name):
    q, k, v = qkv
    mask = {"none": None, "padding": padding_mask(ATTENTION_MASK), "causal": causal_mask(7),
            "padding+causal": padding_mask(ATTENTION_MASK) & causal_mask(7)}[mask_name]
    ours, weights = scaled_dot_product_attention(q, k, v, mask)
    assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), 1e-6, mask_name)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4, 7))
    if mask is not None:
        assert (weights.masked_select(~mask.expand_as(weights)) == 0).all(), "masked keys got weight"


def test_attention_dropout_only_when_asked(qkv):
    q, k, v = qkv
    plain, _ = scaled_dot_product_attention(q, k, v)
    torch.manual_seed(1)
    dropped, weights = scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert not torch.allclose(plain, dropped)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4, 7)), "returned weights are before dropout"


@pytest.mark.parametrize("mask, error, match", [
    (torch.ones(2, 7, dtype=torch.bool), ValueError, r"shape \(2, 7\).*padding_mask"),
    (torch.ones(2, 1, 1, 7).long(), TypeError, "bool"),
    (torch.zeros(2, 1, 1, 7), TypeError, "mask == 0"),
    (torch.ones(3, 1, 1, 7, dtype=torch.bool), ValueError, r"\(B, H, T, S\) = \(2, 4, 7, 7\)"),
])
def test_bad_masks_are_clear_errors(qkv, mask, error, match):
    with pytest.raises(error, match=match):
        scaled_dot_product_attention(*qkv, mask=mask)


def test_bad_shapes_are_clear_errors(qkv):
    q, k, v = qkv
    with pytest.raises(ValueError, match="4-D"):
        scaled_dot_product_attention(q[0], k[0], v[0])
    with pytest.raises(ValueError, match="same head size"):
        scaled_dot_product_attention(q, k[..., :8], v)
    with pytest.raises(ValueError, match="only 0"):
        padding_mask(torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="positive int"):
        causal_mask(0)


def test_wrong_types_are_named_before_any_arithmetic(qkv):
    q, k, v = qkv
    with pytest.raises(TypeError, match="q must be a float tensor .*got list"):
        scaled_dot_product_attention(q.tolist(), k, v)
    with pytest.raises(TypeError, match="k must be a float tensor .*got torch.int64"):
        scaled_dot_product_attention(q, k.long(), v)
    with pytest.raises(ValueError, match=r"dropout_p must be a probability in \[0, 1\), got 1.5"):
        scaled_dot_product_attention(q, k, v, dropout_p=1.5)
    with pytest.raises(TypeError, match=r"attention_mask must be a tensor .*got list; use torch.tensor"):
        padding_mask([[1, 1, 0]])
    assert padding_mask(torch.tensor([[True, False]])).tolist() == [[[[True, False]]]]   # a bool mask is fine
    with pytest.raises(ValueError, match="seq_len must be a positive int, got -1"):
        sinusoidal_positions(-1, 4)
    with pytest.raises(ValueError, match="dim must be a positive int, got 4.0"):
        sinusoidal_positions(4, 4.0)


def test_masks_shapes_and_values():
    assert causal_mask(3)[0, 0].tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    mask = padding_mask(ATTENTION_MASK)
    assert mask.shape == (2, 1, 1, 7) and mask.dtype == torch.bool
    assert mask[1, 0, 0].tolist() == [True, True, True, True, False, False, False] and mask[0].all()
    assert causal_mask(4).shape == (1, 1, 4, 4)


@pytest.mark.parametrize("fused", [False, True])
def test_multi_head_attention_matches_torch(fused):
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(32, 4, batch_first=True).eval()
    ours = MultiHeadAttention(32, 4, fused_qkv=fused).eval()
    load_torch_mha_weights(ours, theirs)
    x = torch.randn(2, 7, 32)
    out, weights = ours(x, mask=padding_mask(ATTENTION_MASK))
    # torch's key_padding_mask has the opposite convention: True = ignore this key
    ref, ref_weights = theirs(x, x, x, key_padding_mask=ATTENTION_MASK == 0, average_attn_weights=False)
    assert_close(out, ref, 1e-5, "multi-head output")
    assert_close(weights, ref_weights, 1e-5, "multi-head weights")


@pytest.mark.parametrize("fused", [False, True])
def test_cross_attention_takes_keys_from_the_context(fused):
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(16, 2, batch_first=True).eval()
    mha = MultiHeadAttention(16, 2, fused_qkv=fused).eval()
    load_torch_mha_weights(mha, theirs)
    x, context = torch.randn(2, 3, 16), torch.randn(2, 5, 16)
    context_mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    out, weights = mha(x, mask=padding_mask(context_mask), context=context)
    ref, ref_weights = theirs(x, context, context, key_padding_mask=context_mask == 0, average_attn_weights=False)
    assert out.shape == (2, 3, 16) and weights.shape == (2, 2, 3, 5)
    assert_close(out, ref, 1e-5, "cross-attention output")
    assert_close(weights, ref_weights, 1e-5, "cross-attention weights")
    with pytest.raises(ValueError, match="multiple of num_heads"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="ours has d_model=16, num_heads=2 but torch's has embed_dim=8"):
        load_torch_mha_weights(MultiHeadAttention(16, 2), nn.MultiheadAttention(8, 2))
    with pytest.raises(ValueError, match="one module has biases and the other not"):
        load_torch_mha_weights(MultiHeadAttention(8, 2, bias=False), nn.MultiheadAttention(8, 2))


def test_sinusoidal_positions():
    table = sinusoidal_positions(50, 16)
    assert table.shape == (50, 16)
    assert torch.allclose(table[0, 0::2], torch.zeros(8)) and torch.allclose(table[0, 1::2], torch.ones(8))
    assert torch.isclose(table[3, 2], torch.sin(torch.tensor(3 / 10000 ** (2 / 16))))
    with pytest.raises(ValueError, match="even"):
        sinusoidal_positions(5, 7)


def test_pre_ln_block_matches_torch_encoder_layer():
    torch.manual_seed(0)
    for norm_first in (False, True):
        theirs = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, activation="gelu", batch_first=True,
                                            norm_first=norm_first, layer_norm_eps=1e-5).eval()
        ours = TransformerBlock(32, 4, 64, dropout=0.0, norm_first=norm_first, layer_norm_eps=1e-5).eval()
        load_torch_mha_weights(ours.attention, theirs.self_attn)
        with torch.no_grad():
            for mine, ref in [(ours.feed_forward[0], theirs.linear1), (ours.feed_forward[2], theirs.linear2),
                              (ours.norm1, theirs.norm1), (ours.norm2, theirs.norm2)]:
                mine.weight.copy_(ref.weight)
                mine.bias.copy_(ref.bias)
        x = torch.randn(2, 7, 32)
        ref = theirs(x, src_key_padding_mask=ATTENTION_MASK == 0)
        out = ours(x, padding_mask(ATTENTION_MASK))
        real = ATTENTION_MASK.bool()
        assert_close(out[real], ref[real], 1e-5, f"norm_first={norm_first}")


@pytest.fixture(scope="module")
def bert_batch():
    tokenizer, model = models.load_encoder()
    model.eval()
    batch = tokenizer(["The bank raised its interest rates again.", "We sat on the river bank."],
                      padding=True, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any(), "the batch should contain padding"
    with torch.no_grad():
        outputs = model(**batch, output_hidden_states=True)
    return model, batch, outputs


def test_our_block_reproduces_real_bert_layer_0(bert_batch):
    model, batch, outputs = bert_batch
    config = model.config
    block = TransformerBlock(config.hidden_size, config.num_attention_heads, config.intermediate_size).eval()
    load_bert_layer_weights(block, model.encoder.layer[0])
    with torch.no_grad():
        ours = block(outputs.hidden_states[0], padding_mask(batch["attention_mask"]))
    assert_close(ours, outputs.hidden_states[1], 1e-5, "layer 0")


def test_our_stack_reproduces_the_whole_encoder(bert_batch):
    model, batch, outputs = bert_batch
    hidden = outputs.hidden_states[0]
    with torch.no_grad():
        for block in blocks_from_bert(model):
            hidden = block(hidden, padding_mask(batch["attention_mask"]))
    assert_close(hidden, outputs.last_hidden_state, 1e-5, "6 layers")


def test_loading_bert_into_a_wrong_block_is_refused(bert_batch):
    model = bert_batch[0]
    with pytest.raises(ValueError, match="post-LN"):
        load_bert_layer_weights(TransformerBlock(384, 12, 1536, norm_first=True), model.encoder.layer[0])
    with pytest.raises(ValueError, match="shape mismatch"):
        load_bert_layer_weights(TransformerBlock(384, 12, 1024), model.encoder.layer[0])


def test_multi_head_attention_refuses_bad_sizes_and_inputs():
    from sftlab.attention import MultiHeadAttention

    with pytest.raises(ValueError, match="num_heads must be a positive int, got 0"):
        MultiHeadAttention(8, 0)
    with pytest.raises(ValueError, match="multiple of num_heads"):
        MultiHeadAttention(10, 4)
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"x must be \(batch, seq, d_model=8\), got shape \(2, 5, 6\)"):
        mha(torch.randn(2, 5, 6))
    with pytest.raises(ValueError, match=r"context must be \(batch, seq, d_model=8\)"):
        mha(torch.randn(2, 5, 8), context=torch.randn(2, 3, 4))
