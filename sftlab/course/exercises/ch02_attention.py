"""Chapter 02, attention: the causal mask, scaled dot-product attention, a BERT layer's parameter count.

Shapes (sftlab/__init__.py): B batch, H heads, T query length, S key length, Dh head size, D model width,
F feed-forward width.
"""

from sftlab.course.exercises.framework import Exercise, Mistake, check, register


def causal_mask_solution(seq_len):
    """(T, T) bool, True where query t may attend to key s, i.e. s ≤ t: the lower triangle with the diagonal."""
    import torch

    return torch.ones(seq_len, seq_len, dtype=torch.bool).tril()


register(Exercise(
    name="causal_mask",
    task="causal_mask(seq_len): a (seq_len, seq_len) bool tensor, True where position t may attend to position s",
    hint="a decoder may look at itself and the past, never the future: torch.ones(T, T, dtype=torch.bool).tril()",
    reference=causal_mask_solution,
    cases=lambda: [(4,), (1,), (7,)],
    atol=0,
    mistakes=[
        Mistake(lambda T: causal_mask_solution(T).T,
                "your mask is the upper triangle: it lets every position attend to the future and hides the past. "
                "Use .tril(), not .triu()."),
        Mistake(lambda T: causal_mask_solution(T).tril(-1),
                "your mask leaves out the diagonal: a position must be allowed to attend to itself "
                "(the first row would otherwise have no key at all and softmax would give nan)."),
        Mistake(lambda T: ~causal_mask_solution(T),
                "your mask is inverted: in this course True means 'may attend' (torch's nn.MultiheadAttention "
                "masks use the opposite convention)."),
    ],
))


def check_causal_mask(fn, raise_on_failure=False):
    """Check your causal_mask(seq_len) against the reference."""
    return check("causal_mask", fn, raise_on_failure)


def scaled_attention_solution(q, k, v, mask):
    """softmax(Q Kᵀ / √Dh) V for (B, H, T, Dh) tensors; mask is None or bool (True = may attend)."""
    scores = q @ k.transpose(-2, -1) / q.size(-1) ** 0.5          # (B, H, T, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))          # masked keys get exactly zero weight
    return scores.softmax(dim=-1) @ v                              # (B, H, T, Dh)


def _attention_cases():
    import torch

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 2, 5, 8, generator=g) for _ in range(3))
    padding = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]).bool()[:, None, None, :]
    causal = torch.ones(5, 5, dtype=torch.bool).tril()
    return [(q, k, v, None), (q, k, v, padding), (q, k, v, causal)]


def _unmasked(q, k, v, mask):
    return scaled_attention_solution(q, k, v, None)


def _softmax_over_queries(q, k, v, mask):
    scores = q @ k.transpose(-2, -1) / q.size(-1) ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-2) @ v


register(Exercise(
    name="scaled_attention",
    task="scaled_attention(q, k, v, mask): softmax(Q Kᵀ / √Dh) V for (B, H, T, Dh) inputs; mask None or bool, "
         "True = may attend",
    hint="scores = q @ k.transpose(-2, -1) / √Dh; masked_fill(~mask, float('-inf')) before softmax(dim=-1); then @ v",
    reference=scaled_attention_solution,
    cases=_attention_cases,
    mistakes=[
        Mistake(lambda q, k, v, mask: scaled_attention_solution(q * q.size(-1) ** 0.5, k, v, mask),
                "looks like you forgot to scale the scores by 1/√Dh: without it the dot products grow with Dh "
                "and softmax saturates."),
        Mistake(lambda q, k, v, mask: scaled_attention_solution(q / q.size(-1) ** 0.5, k, v, mask),
                "you divided the scores by Dh instead of √Dh: the variance of q·k is Dh, so its standard "
                "deviation is √Dh."),
        Mistake(_unmasked,
                "you ignored the mask: padded (or future) keys still get attention weight. Fill the masked "
                "scores with -inf before the softmax."),
        Mistake(lambda q, k, v, mask: (
            (q @ k.transpose(-2, -1) / q.size(-1) ** 0.5).masked_fill(~mask, 0.0).softmax(-1) @ v
            if mask is not None else scaled_attention_solution(q, k, v, None)),
                "you filled masked scores with 0, but exp(0) = 1: masked keys still get weight. Use float('-inf')."),
        Mistake(_softmax_over_queries,
                "you took the softmax over the queries (dim=-2): each query's weights over the keys must sum "
                "to 1, so use softmax(dim=-1)."),
    ],
))


def check_scaled_attention(fn, raise_on_failure=False):
    """Check your scaled_attention(q, k, v, mask) against the reference."""
    return check("scaled_attention", fn, raise_on_failure)


def bert_layer_parameters_solution(d_model, d_ff):
    """Parameters of one post-LN BERT encoder layer of width D = d_model and feed-forward width F = d_ff."""
    D, F = d_model, d_ff
    attention = 4 * (D * D + D)            # Q, K, V and output projections, weights and biases
    feed_forward = (D * F + F) + (F * D + D)
    layer_norms = 2 * (2 * D)              # two LayerNorms, gain and bias each
    return attention + feed_forward + layer_norms


register(Exercise(
    name="bert_layer_parameters",
    task="bert_layer_parameters(d_model, d_ff): how many parameters one BERT encoder layer holds, as an int",
    hint="four D→D projections (Q, K, V, output), a D→F and an F→D linear layer, two LayerNorms; "
         "count the biases (a Linear a→b has a·b + b) and the LayerNorms' gain and bias",
    reference=bert_layer_parameters_solution,
    cases=lambda: [(768, 3072), (384, 1536), (64, 256)],
    mistakes=[
        Mistake(lambda D, F: 4 * D * D + 2 * D * F,
                "you counted only the weight matrices: add the biases (D for each D-wide output, F for the "
                "up-projection) and the two LayerNorms (2D each)."),
        Mistake(lambda D, F: bert_layer_parameters_solution(D, F) - 4 * D,
                "you forgot the two LayerNorms: each has a gain and a bias of size D."),
        Mistake(lambda D, F: 3 * (D * D + D) + (D * F + F) + (F * D + D) + 4 * D,
                "you forgot the attention output projection (another D×D weight and D bias) after the heads "
                "are concatenated."),
    ],
))


def check_bert_layer_parameters(fn, raise_on_failure=False):
    """Check your bert_layer_parameters(d_model, d_ff) against the reference."""
    return check("bert_layer_parameters", fn, raise_on_failure)
