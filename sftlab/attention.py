"""Scaled dot-product attention, masks, multi-head attention and a Transformer block, written to be read.

Shapes (the package legend, sftlab/__init__.py): B batch, H heads, T query length, S key length, Dh head size,
D model width (H·Dh), F feed-forward width.
Masks are bool and mean "True = may attend", shaped (B or 1, H or 1, T or 1, S).
Every piece here is checked against torch's own and against a real BERT layer in tests/test_attention.py.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------- attention and masks


def _check_mask(mask: torch.Tensor, scores_shape: torch.Size) -> None:
    """Refuse masks that would be misread: not bool, or not 4-D and broadcastable to the scores."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        kind = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise TypeError(f"mask must be a bool tensor with True = may attend, got {kind}; "
                        "from a 0/1 attention_mask use padding_mask(attention_mask), "
                        "from an additive 0/-inf mask use (mask == 0)")
    fits = mask.dim() == 4 and all(m in (1, s) for m, s in zip(mask.shape, scores_shape, strict=True))
    if not fits:
        raise ValueError(f"mask has shape {tuple(mask.shape)}; expected 4 dims broadcastable to the scores "
                         f"(B, H, T, S) = {tuple(scores_shape)}, each dim equal or 1 — "
                         "padding_mask() gives (B, 1, 1, S), causal_mask() gives (1, 1, T, T)")


def _check_qkv(q, k, v, dropout_p) -> None:
    """Float tensors of matching shapes and a dropout probability; else a message naming what came in."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            kind = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
            raise TypeError(f"{name} must be a float tensor (batch, heads, seq, head size), got {kind}")
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, (int, float)) or not 0 <= dropout_p < 1:
        raise ValueError(f"dropout_p must be a probability in [0, 1), got {dropout_p!r}")
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(f"q, k, v must be 4-D (batch, heads, seq, head size); got shapes "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if q.size(-1) != k.size(-1) or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"q and k need the same head size and k and v the same (B, H, S); got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")


def scaled_dot_product_attention(q, k, v, mask=None, dropout_p=0.0):
    """softmax(Q Kᵀ / √Dh) V for q (B, H, T, Dh), k and v (B, H, S, Dh); returns (output (B, H, T, Dh),
    weights (B, H, T, S)). mask: bool, True = may attend. dropout_p drops attention weights (training only);
    the weights returned are those before dropout."""
    _check_qkv(q, k, v, dropout_p)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))   # (B, H, T, S)
    if mask is not None:
        _check_mask(mask, scores.shape)
        scores = scores.masked_fill(~mask, float("-inf"))      # exp(-inf) = 0: no weight on masked keys
    weights = scores.softmax(dim=-1)                            # (B, H, T, S), each row sums to 1
    dropped = F.dropout(weights, p=dropout_p) if dropout_p > 0 else weights
    return dropped @ v, weights                                 # (B, H, T, Dh), (B, H, T, S)


def padding_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, S) 0/1 tokenizer attention_mask → (B, 1, 1, S) bool: every query may attend to every real key."""
    if not isinstance(attention_mask, torch.Tensor):
        raise TypeError(f"attention_mask must be a tensor as tokenizer(..., return_tensors='pt') returns it, got "
                        f"{type(attention_mask).__name__}; use torch.tensor(attention_mask)")
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must be (batch, seq) as a tokenizer returns it, "
                         f"got shape {tuple(attention_mask.shape)}")
    zero_one = torch.tensor([0, 1], device=attention_mask.device)
    if attention_mask.dtype != torch.bool and not torch.isin(attention_mask, zero_one).all():   # bool is fine
        raise ValueError("attention_mask must hold only 0 (padding) and 1 (real token)")
    return attention_mask.bool()[:, None, None, :]


def causal_mask(seq_len: int, device=None) -> torch.Tensor:
    """(1, 1, T, T) bool, lower triangle True: position t may attend to positions ≤ t."""
    if not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"seq_len must be a positive int, got {seq_len!r}")
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()[None, None]


# ---------------------------------------------------------------- multi-head attention

class MultiHeadAttention(nn.Module):
    """H heads of scaled dot-product attention on learned projections, then an output projection.

    fused_qkv=True computes Q, K and V with one (D → 3D) matrix, as GPT-2 and torch's
    nn.MultiheadAttention store it; False uses three (D → D) matrices, as BERT does. Same maths.
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 fused_qkv: bool = False):
        super().__init__()
        for name, value in (("d_model", d_model), ("num_heads", num_heads)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if d_model % num_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of num_heads ({num_heads})")
        self.d_model = d_model
        self.num_heads, self.head_size, self.dropout = num_heads, d_model // num_heads, dropout
        self.fused_qkv = fused_qkv
        if fused_qkv:
            self.qkv_proj = nn.Linear(d_model, 3 * d_model, bias=bias)
        else:
            self.q_proj = nn.Linear(d_model, d_model, bias=bias)
            self.k_proj = nn.Linear(d_model, d_model, bias=bias)
            self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _split_heads(self, x):
        B, T, D = x.shape
        return x.view(B, T, self.num_heads, self.head_size).transpose(1, 2)    # (B, H, T, Dh)

    def forward(self, x, mask=None, context=None):
        """x (B, T, D) → (output (B, T, D), weights (B, H, T, S)); keys/values come from `context`
        (B, S, D) for cross-attention, else from x (self-attention)."""
        source = x if context is None else context
        for name, tensor in (("x", x), ("context", source)):
            if tensor.dim() != 3 or tensor.size(-1) != self.d_model:
                raise ValueError(f"{name} must be (batch, seq, d_model={self.d_model}), got shape "
                                 f"{tuple(tensor.shape)}")
        if self.fused_qkv:
            W_q, W_k, W_v = self.qkv_proj.weight.chunk(3)
            b_q, b_k, b_v = self.qkv_proj.bias.chunk(3) if self.qkv_proj.bias is not None else (None,) * 3
            q, k, v = F.linear(x, W_q, b_q), F.linear(source, W_k, b_k), F.linear(source, W_v, b_v)
        else:
            q, k, v = self.q_proj(x), self.k_proj(source), self.v_proj(source)  # (B, T, D), (B, S, D) ×2
        out, weights = scaled_dot_product_attention(
            self._split_heads(q), self._split_heads(k), self._split_heads(v), mask,
            dropout_p=self.dropout if self.training else 0.0)                  # (B, H, T, Dh)
        out = out.transpose(1, 2).reshape(x.shape)                              # (B, T, D): heads side by side
        return self.out_proj(out), weights


def load_torch_mha_weights(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    """Copy torch.nn.MultiheadAttention's weights (fused in_proj, out_proj) into our module."""
    if (ours.d_model, ours.num_heads) != (theirs.embed_dim, theirs.num_heads):
        raise ValueError(f"ours has d_model={ours.d_model}, num_heads={ours.num_heads} but torch's has "
                         f"embed_dim={theirs.embed_dim}, num_heads={theirs.num_heads}; build them the same size")
    if (ours.out_proj.bias is None) != (theirs.in_proj_bias is None):
        raise ValueError(f"one module has biases and the other not (ours bias={ours.out_proj.bias is not None}, "
                         f"torch's bias={theirs.in_proj_bias is not None}); build both with the same bias")
    with torch.no_grad():
        if ours.fused_qkv:
            ours.qkv_proj.weight.copy_(theirs.in_proj_weight)
            ours.qkv_proj.bias.copy_(theirs.in_proj_bias)
        else:
            for proj, w, b in zip((ours.q_proj, ours.k_proj, ours.v_proj), theirs.in_proj_weight.chunk(3),
                                  theirs.in_proj_bias.chunk(3), strict=True):
                proj.weight.copy_(w)
                proj.bias.copy_(b)
        ours.out_proj.weight.copy_(theirs.out_proj.weight)
        ours.out_proj.bias.copy_(theirs.out_proj.bias)


# ---------------------------------------------------------------- positions and the block

def sinusoidal_positions(seq_len: int, dim: int) -> torch.Tensor:
    """(T, dim) table of "Attention Is All You Need": PE[t, 2i] = sin(t / 10000^(2i/dim)), PE[t, 2i+1] = cos(…)."""
    for name, value in (("seq_len", seq_len), ("dim", dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if dim % 2:
        raise ValueError(f"dim must be even (sine and cosine pairs), got {dim}")
    position = torch.arange(seq_len, dtype=torch.float32)[:, None]             # (T, 1)
    frequency = 10000 ** (-torch.arange(0, dim, 2, dtype=torch.float32) / dim)  # (dim/2,)
    table = torch.zeros(seq_len, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table


class TransformerBlock(nn.Module):
    """Self-attention and a GELU feed-forward network, each wrapped in a residual connection and LayerNorm.

    norm_first=False (post-LN, original Transformer and BERT):  x = LN(x + Drop(Attn(x)));  x = LN(x + Drop(FFN(x)))
    norm_first=True  (pre-LN, GPT-2 and most LLMs since):       x = x + Drop(Attn(LN(x)));  x = x + Drop(FFN(LN(x)))
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1,
                 norm_first: bool = False, layer_norm_eps: float = 1e-12):
        super().__init__()
        self.norm_first = norm_first
        self.attention = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        """x (B, T, D) → (B, T, D)."""
        if self.norm_first:
            x = x + self.drop(self.attention(self.norm1(x), mask)[0])
            return x + self.drop(self.feed_forward(self.norm2(x)))
        x = self.norm1(x + self.drop(self.attention(x, mask)[0]))
        return self.norm2(x + self.drop(self.feed_forward(x)))


def load_bert_layer_weights(block: TransformerBlock, hf_layer) -> None:
    """Copy one transformers BertLayer's weights into a post-LN TransformerBlock of the same size."""
    if block.norm_first:
        raise ValueError("BERT is post-LN: load its weights into TransformerBlock(..., norm_first=False)")
    attention = hf_layer.attention
    pairs = [
        (block.attention.q_proj, attention.self.query), (block.attention.k_proj, attention.self.key),
        (block.attention.v_proj, attention.self.value), (block.attention.out_proj, attention.output.dense),
        (block.norm1, attention.output.LayerNorm),
        (block.feed_forward[0], hf_layer.intermediate.dense), (block.feed_forward[2], hf_layer.output.dense),
        (block.norm2, hf_layer.output.LayerNorm),
    ]
    with torch.no_grad():
        for ours, theirs in pairs:
            if ours.weight.shape != theirs.weight.shape:
                raise ValueError(f"shape mismatch: our {tuple(ours.weight.shape)} vs BERT's "
                                 f"{tuple(theirs.weight.shape)}; build the block with the layer's sizes")
            ours.weight.copy_(theirs.weight)
            ours.bias.copy_(theirs.bias)
    block.norm1.eps = attention.output.LayerNorm.eps
    block.norm2.eps = hf_layer.output.LayerNorm.eps


def blocks_from_bert(hf_model) -> nn.ModuleList:
    """Every encoder layer of a transformers BertModel as our TransformerBlocks, weights copied, in eval mode."""
    config = hf_model.config
    blocks = nn.ModuleList()
    for hf_layer in hf_model.encoder.layer:
        block = TransformerBlock(config.hidden_size, config.num_attention_heads, config.intermediate_size,
                                 dropout=config.hidden_dropout_prob, layer_norm_eps=config.layer_norm_eps)
        load_bert_layer_weights(block, hf_layer)
        blocks.append(block)
    return blocks.eval()
