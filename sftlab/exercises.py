"""Graded exercises: you fill in a function, `check_<name>(your_function)` says what is wrong.

A check runs your function and the reference solution on every test case and stops at
the first case where they differ, saying how: not a tensor, wrong shape, wrong dtype,
nan/inf, or the largest error and where it is. If your output equals one of the known
typical mistakes' outputs on that case, it also names the mistake. A check prints a ✓
line and returns True, or prints the diagnosis and returns False (raise_on_failure=True
raises AssertionError instead, for tests). A function that still raises
NotImplementedError gets the hint and returns None, so a notebook keeps running.

    check_softmax(softmax)           # your softmax
    show_solution("softmax")         # the reference source
    list_exercises()                 # {name: task}

Adding an exercise (here, under its chapter's heading) takes a reference solution, the
cases, the typical mistakes and a check function:

    def scaled_attention_solution(q, k, v):
        '''softmax(Q Kᵀ / √D) V.'''
        return (q @ k.transpose(-2, -1) / q.size(-1) ** 0.5).softmax(-1) @ v

    register(Exercise(
        name="scaled_attention", task="...", hint="...",
        reference=scaled_attention_solution,
        cases=lambda: [(torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 4))],
        mistakes=[Mistake(lambda q, k, v: (q @ k.transpose(-2, -1)).softmax(-1) @ v,
                          "looks like you forgot to scale the scores by 1/√D")],
    ))

    def check_scaled_attention(fn, raise_on_failure=False):
        '''Check your scaled_attention(q, k, v) against the reference.'''
        return check("scaled_attention", fn, raise_on_failure)

Mistake functions get the same inputs as the learner's; one that raises the same
error as the learner's function (type and message) is matched too.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: code that reproduces it and what to tell the learner."""

    reproduce: Callable     # takes the case's inputs, returns what the mistaken code returns (or raises)
    explanation: str        # what went wrong and how to fix it, said to the learner


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: task, hint, reference solution, test cases and typical mistakes."""

    name: str
    task: str               # one line: what to write
    hint: str
    reference: Callable     # the solution; show_solution prints its source
    cases: Callable         # () -> list of input tuples; built on demand so torch is imported late
    mistakes: list = field(default_factory=list)   # Mistake, most specific first
    atol: float = 1e-5      # 0 means the output must equal the reference exactly


EXERCISES: dict[str, Exercise] = {}


def register(exercise) -> Exercise:
    """Add an exercise so that check(), show_solution() and list_exercises() know it."""
    EXERCISES[exercise.name] = exercise
    return exercise


def get_exercise(name) -> Exercise:
    """The exercise called `name`; ValueError listing the known names otherwise."""
    if name not in EXERCISES:
        raise ValueError(f"no exercise {name!r}; known exercises: {sorted(EXERCISES)}")
    return EXERCISES[name]


def list_exercises() -> dict:
    """Every exercise's name and one-line task."""
    return {name: exercise.task for name, exercise in EXERCISES.items()}


def show_solution(name) -> None:
    """Print the reference solution's source."""
    print(inspect.getsource(get_exercise(name).reference))


def check(name, fn, raise_on_failure=False) -> bool | None:
    """Run `fn` on every case of exercise `name`; True (✓), False with a diagnosis, None if not attempted."""
    exercise = get_exercise(name)
    if not callable(fn):
        return _fail(f"✗ {name}: pass your function itself, like check_{name}({name}), "
                     f"not a {type(fn).__name__}", raise_on_failure)
    cases = exercise.cases()
    for number, inputs in enumerate(cases, 1):
        try:
            problem = _case_problem(exercise, fn, inputs)
        except NotImplementedError:
            print(f"{name}: not attempted yet.\n  task: {exercise.task}\n  hint: {exercise.hint}\n"
                  f"  run show_solution('{name}') to see a solution")
            return None
        if problem:
            where = f"✗ {name}: case {number} of {len(cases)}, {_describe(exercise, inputs)}"
            return _fail(f"{where}\n{problem}", raise_on_failure)
    print(f"✓ {name}: your function matches the reference on all {len(cases)} cases")
    return True


def _case_problem(exercise, fn, inputs):
    """What is wrong with `fn` on one case (and the known mistake that explains it); None if right."""
    expected = exercise.reference(*_copy(inputs))
    given = _copy(inputs)
    try:
        got = fn(*given)
    except NotImplementedError:
        raise
    except Exception as error:  # the learner's bug, reported in words
        got, problem = error, f"your function raised {type(error).__name__}: {error}"
    else:
        changed = _changed_input(exercise, inputs, given)
        if changed:
            return f"  {changed}"
        problem = _difference(got, expected, exercise.atol)
        if problem is None:
            return None
    diagnosis = _diagnose(exercise, inputs, got, expected)
    return f"  {problem}" + (f"\n  diagnosis: {diagnosis}" if diagnosis else "")


def _fail(message, raise_on_failure):
    if raise_on_failure:
        raise AssertionError(message)
    print(message)
    return False


def _copy(inputs):
    """Fresh copies of a case's tensors, so no function sees another's in-place changes."""
    return tuple(x.clone() if hasattr(x, "clone") else x for x in inputs)


def _changed_input(exercise, inputs, given):
    """Which input the learner's function modified in place, in words; None if none."""
    import torch

    for name, before, after in zip(_arg_names(exercise), inputs, given, strict=True):
        if isinstance(before, torch.Tensor) and not torch.equal(before, after):
            return f"your function changed its input {name} in place (`{name} -= ...`?); work on a new tensor"
    return None


def _difference(got, expected, atol):
    """How `got` differs from `expected` (a tensor), in words; None when it matches within `atol`."""
    import torch

    if isinstance(expected, int) and not isinstance(expected, bool):  # exercises whose answer is a count
        if isinstance(got, torch.Tensor) and got.numel() == 1 and not got.is_floating_point():
            got = int(got)
        if not isinstance(got, int) or isinstance(got, bool):
            return f"expected an int, got {type(got).__name__} {got!r:.40}"
        return None if got == expected else f"expected {expected:,}, got {got:,} (off by {got - expected:+,})"
    if not isinstance(got, torch.Tensor):
        extra = " (return the tensor itself; drop .item())" if isinstance(got, (int, float)) else ""
        return f"expected a torch.Tensor, got {type(got).__name__} {got!r:.40}{extra}"
    if got.shape != expected.shape:
        return f"wrong shape: expected {tuple(expected.shape)}, got {tuple(got.shape)}"
    if got.dtype != expected.dtype:
        return f"wrong dtype: expected {expected.dtype}, got {got.dtype}"
    broken = ~torch.isfinite(got) & torch.isfinite(expected)
    if broken.any():
        where = _index(broken.int().argmax(), got.shape)
        why = "-inf comes from a mask or from log(0)" if got[where] == float("-inf") else \
            "nan or inf usually means something overflowed"
        return (f"your output has {got[where].item()} at index {where} where the reference has "
                f"{expected[where].item():.4g}: {why}")
    if torch.allclose(got, expected, rtol=0, atol=atol, equal_nan=True):
        return None
    error = (got.double() - expected.double()).abs().nan_to_num(nan=float("inf"), posinf=float("inf"))
    error = error.masked_fill((got == expected) | (got.isnan() & expected.isnan()), 0)   # equal infinities: no error
    where = _index(error.argmax(), got.shape)
    at = f" at index {where}" if where else ""  # a 0-dim tensor has no index
    digits = 6 if error[where] > 1e-4 else 9    # enough digits to see a tiny difference
    exactly = " (this exercise must match exactly)" if atol == 0 else ""
    return (f"numerical mismatch: max abs error {error[where].item():.4g}{at}{exactly} "
            f"(expected {expected[where].item():.{digits}g}, got {got[where].item():.{digits}g})")


def _index(flat, shape):
    import torch

    return tuple(int(i) for i in torch.unravel_index(flat, shape))


def _diagnose(exercise, inputs, got, expected):
    """The explanation of the first known mistake that goes wrong here exactly as the learner's did."""
    for mistake in exercise.mistakes:
        try:
            theirs = mistake.reproduce(*_copy(inputs))
        except Exception as error:  # a mistake may be one that raises
            theirs = error
        if _same(got, theirs) and not _same(theirs, expected):
            return mistake.explanation
    return None


def _same(a, b):
    """Both the same error (type and message), or tensors equal within a small tolerance."""
    if isinstance(a, Exception) or isinstance(b, Exception):
        return type(a) is type(b) and str(a) == str(b)
    return _difference(a, b, atol=1e-6) is None


def _arg_names(exercise):
    return list(inspect.signature(exercise.reference).parameters)


def _describe(exercise, inputs):
    """The case's inputs in a line: small tensors in full, larger ones by shape and dtype."""
    import torch

    def one(x):
        if isinstance(x, torch.Tensor) and x.numel() > 8:
            return f"tensor of shape {tuple(x.shape)}, {x.dtype}"
        return " ".join(repr(x).split())

    return ", ".join(f"{name} = {one(x)}" for name, x in zip(_arg_names(exercise), inputs, strict=True))


# ---------------------------------------------------------------- notebook 00/01 exercises

def softmax_solution(x):
    """Softmax over the last dimension, stable for large logits: subtract the max first."""
    shifted = x - x.max(dim=-1, keepdim=True).values   # largest entry is now 0, so exp() ≤ 1
    exps = shifted.exp()
    return exps / exps.sum(dim=-1, keepdim=True)


def _softmax_cases():
    import torch

    g = torch.Generator().manual_seed(0)
    return [(torch.tensor([1.0, 2.0, 3.0]),),
            (torch.randn(3, 3, generator=g),),
            (torch.randn(2, 4, 5, generator=g),),
            (torch.tensor([[1000.0, 1.0, -1000.0], [50.0, 100.0, 150.0]]),)]


register(Exercise(
    name="softmax",
    task="softmax(x): softmax over the last dimension of x, numerically stable for large values",
    hint="exp(x_i) / Σ_j exp(x_j) along dim=-1; softmax(x) = softmax(x - c) for any constant c, "
         "so subtract x.max(dim=-1, keepdim=True).values first",
    reference=softmax_solution,
    cases=_softmax_cases,
    mistakes=[
        Mistake(lambda x: x.exp() / x.exp().sum(dim=-1, keepdim=True),
                "your output equals softmax without subtracting the max: exp(1000.) overflows to inf "
                "and inf / inf = nan. Subtract x.max(dim=-1, keepdim=True).values before exp()."),
        Mistake(lambda x: softmax_solution(x.transpose(0, -1)).transpose(0, -1),
                "you normalised over the wrong dimension (dim=0): each row along the last dimension "
                "must sum to 1; use dim=-1."),
        Mistake(lambda x: x.exp() / x.exp().sum(dim=-1),
                "you summed over dim=-1 without keepdim=True, so the sums broadcast along the wrong axis; "
                "use .sum(dim=-1, keepdim=True)."),
    ],
))


def check_softmax(fn, raise_on_failure=False):
    """Check your softmax(x) against the reference."""
    return check("softmax", fn, raise_on_failure)


def cosine_similarity_solution(a, b):
    """cos(a, b) = a·b / (‖a‖ ‖b‖) for two 1-D tensors; a 0-dim tensor."""
    return (a @ b) / (a.norm() * b.norm())


def _cosine_cases():
    import torch

    g = torch.Generator().manual_seed(0)
    return [(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([4.0, 5.0, 6.0])),
            (torch.tensor([3.0, 0.0]), torch.tensor([0.0, -2.0])),
            (torch.randn(50, generator=g) * 4, torch.randn(50, generator=g))]


register(Exercise(
    name="cosine_similarity",
    task="cosine_similarity(a, b): the cosine of the angle between two 1-D tensors, as a 0-dim tensor",
    hint="the dot product a @ b divided by the product of the lengths a.norm() * b.norm()",
    reference=cosine_similarity_solution,
    cases=_cosine_cases,
    mistakes=[
        Mistake(lambda a, b: a @ b,
                "your output is the plain dot product a @ b: divide by a.norm() * b.norm() so that "
                "length does not count, only direction."),
        Mistake(lambda a, b: (a / a.norm()) @ b,
                "you normalised only a: divide by b.norm() too."),
        Mistake(lambda a, b: a @ (b / b.norm()),
                "you normalised only b: divide by a.norm() too."),
        Mistake(lambda a, b: (a @ b) / ((a @ a) * (b @ b)),
                "you divided by the squared lengths: a.norm() is the square root of a @ a."),
    ],
))


def check_cosine_similarity(fn, raise_on_failure=False):
    """Check your cosine_similarity(a, b) against the reference."""
    return check("cosine_similarity", fn, raise_on_failure)


def embedding_lookup_solution(weight, ids):
    """Rows of weight (V, D) picked by ids (any shape, int64) as one_hot(ids) @ weight; equals weight[ids]."""
    import torch.nn.functional as F

    one_hot = F.one_hot(ids, num_classes=weight.shape[0]).to(weight.dtype)  # (..., V)
    return one_hot @ weight                                                  # (..., D)


def _embedding_cases():
    import torch

    g = torch.Generator().manual_seed(0)
    return [(torch.randn(10, 4, generator=g), torch.tensor([3, 0, 7])),
            (torch.randn(10, 4, generator=g), torch.tensor([[1, 2, 2], [5, 0, 3]])),
            (torch.randn(6, 3, generator=g, dtype=torch.float64), torch.tensor([4, 1]))]


def _one_hot(ids, **kwargs):
    import torch.nn.functional as F

    return F.one_hot(ids, **kwargs)


register(Exercise(
    name="embedding_lookup",
    task="embedding_lookup(weight, ids): the rows of weight for ids as one_hot(ids) @ weight (=weight[ids])",
    hint="torch.nn.functional.one_hot(ids, num_classes=weight.shape[0]) gives (..., V) int64; "
         "cast it with .to(weight.dtype), then matrix-multiply by weight (V, D)",
    reference=embedding_lookup_solution,
    cases=_embedding_cases,
    atol=0,  # one 1 and zeros times weight picks a row exactly
    mistakes=[
        Mistake(lambda weight, ids: weight.T @ _one_hot(ids, num_classes=weight.shape[0]).to(weight.dtype).T,
                "your result is transposed, (D, n) instead of (n, D): multiply one_hot(ids) @ weight, "
                "not weight.T @ one_hot(ids).T."),
        Mistake(lambda weight, ids: _one_hot(ids).to(weight.dtype) @ weight,
                "one_hot(ids) without num_classes makes ids.max() + 1 classes, not the vocabulary size: "
                "pass num_classes=weight.shape[0]."),
        Mistake(lambda weight, ids: _one_hot(ids, num_classes=weight.shape[1]).to(weight.dtype) @ weight,
                "you used the embedding size weight.shape[1] as the number of classes; "
                "the vocabulary size is weight.shape[0]."),
        Mistake(lambda weight, ids: _one_hot(ids, num_classes=weight.shape[0]) @ weight,
                "one_hot returns int64 and matmul needs one dtype: cast with .to(weight.dtype) first."),
        Mistake(lambda weight, ids: _one_hot(ids, num_classes=weight.shape[0]).float() @ weight,
                "you cast the one-hot to float32, but this weight is float64: use .to(weight.dtype)."),
        Mistake(lambda weight, ids: _one_hot(ids.float(), num_classes=weight.shape[0]) @ weight,
                "one_hot needs integer ids (int64); keep ids as a LongTensor, do not convert them to float."),
    ],
))


def check_embedding_lookup(fn, raise_on_failure=False):
    """Check your embedding_lookup(weight, ids) against the reference."""
    return check("embedding_lookup", fn, raise_on_failure)


# ---------------------------------------------------------------- chapter 02: attention

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
    """softmax(Q Kᵀ / √D) V for (B, H, T, D) tensors; mask is None or bool (True = may attend)."""
    scores = q @ k.transpose(-2, -1) / q.size(-1) ** 0.5          # (B, H, T, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))          # masked keys get exactly zero weight
    return scores.softmax(dim=-1) @ v                              # (B, H, T, D)


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
    task="scaled_attention(q, k, v, mask): softmax(Q Kᵀ / √D) V for (B, H, T, D) inputs; mask None or bool, "
         "True = may attend",
    hint="scores = q @ k.transpose(-2, -1) / √D; masked_fill(~mask, float('-inf')) before softmax(dim=-1); then @ v",
    reference=scaled_attention_solution,
    cases=_attention_cases,
    mistakes=[
        Mistake(lambda q, k, v, mask: scaled_attention_solution(q * q.size(-1) ** 0.5, k, v, mask),
                "looks like you forgot to scale the scores by 1/√D: without it the dot products grow with D "
                "and softmax saturates."),
        Mistake(lambda q, k, v, mask: scaled_attention_solution(q / q.size(-1) ** 0.5, k, v, mask),
                "you divided the scores by D instead of √D: the variance of q·k is D, so its standard "
                "deviation is √D."),
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
    """Parameters of one post-LN BERT encoder layer of width C = d_model and feed-forward width F = d_ff."""
    C, F = d_model, d_ff
    attention = 4 * (C * C + C)            # Q, K, V and output projections, weights and biases
    feed_forward = (C * F + F) + (F * C + C)
    layer_norms = 2 * (2 * C)              # two LayerNorms, gain and bias each
    return attention + feed_forward + layer_norms


register(Exercise(
    name="bert_layer_parameters",
    task="bert_layer_parameters(d_model, d_ff): how many parameters one BERT encoder layer holds, as an int",
    hint="four C→C projections (Q, K, V, output), a C→F and an F→C linear layer, two LayerNorms; "
         "count the biases (a Linear a→b has a·b + b) and the LayerNorms' gain and bias",
    reference=bert_layer_parameters_solution,
    cases=lambda: [(768, 3072), (384, 1536), (64, 256)],
    mistakes=[
        Mistake(lambda C, F: 4 * C * C + 2 * C * F,
                "you counted only the weight matrices: add the biases (C for each C-wide output, F for the "
                "up-projection) and the two LayerNorms (2C each)."),
        Mistake(lambda C, F: bert_layer_parameters_solution(C, F) - 4 * C,
                "you forgot the two LayerNorms: each has a gain and a bias of size C."),
        Mistake(lambda C, F: 3 * (C * C + C) + (C * F + F) + (F * C + C) + 4 * C,
                "you forgot the attention output projection (another C×C weight and C bias) after the heads "
                "are concatenated."),
    ],
))


def check_bert_layer_parameters(fn, raise_on_failure=False):
    """Check your bert_layer_parameters(d_model, d_ff) against the reference."""
    return check("bert_layer_parameters", fn, raise_on_failure)


# ---------------------------------------------------------------- chapter 01: word embeddings

def sgns_loss_solution(v, u_pos, u_neg):
    """Mean skip-gram negative-sampling loss: v, u_pos (B, D) centre and context vectors, u_neg (B, K, D) noise."""
    import torch.nn.functional as F

    pos = (v * u_pos).sum(-1)                              # (B,) score of the real pair
    neg = (u_neg @ v.unsqueeze(-1)).squeeze(-1)            # (B, K) scores of the noise pairs
    return -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).mean()


def _sgns_cases():
    import torch

    g = torch.Generator().manual_seed(0)
    small = [torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g), torch.randn(4, 2, 3, generator=g)]
    trained = [torch.randn(8, 16, generator=g), torch.randn(8, 16, generator=g), torch.randn(8, 5, 16, generator=g)]
    # large scores, as after training: a real pair scored -120 and a noise pair scored +120
    v = torch.tensor([[10.0, 0.0], [0.0, 1.0]])
    u_pos = torch.tensor([[-12.0, 0.0], [0.0, 2.0]])
    u_neg = torch.tensor([[[12.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, -1.0]]])
    return [tuple(small), tuple(trained), (v, u_pos, u_neg)]


def _sgns(v, u_pos, u_neg, sign=-1.0, reduce_k="sum", reduce_b="mean", log_sigmoid=None):
    import torch.nn.functional as F

    log_sigmoid = log_sigmoid or F.logsigmoid
    pos = (v * u_pos).sum(-1)
    neg = (u_neg @ v.unsqueeze(-1)).squeeze(-1)
    noise = getattr(log_sigmoid(sign * neg), reduce_k)(-1)
    return getattr(-(log_sigmoid(pos) + noise), reduce_b)()


register(Exercise(
    name="sgns_loss",
    task="sgns_loss(v, u_pos, u_neg): the mean over the batch of −log σ(v·u_pos) − Σ_k log σ(−v·u_neg_k), "
         "a 0-dim tensor",
    hint="scores: (v * u_pos).sum(-1) is (B,), (u_neg @ v.unsqueeze(-1)).squeeze(-1) is (B, K); "
         "torch.nn.functional.logsigmoid is log σ without overflow; note the minus sign on the noise scores",
    reference=sgns_loss_solution,
    cases=_sgns_cases,
    mistakes=[
        Mistake(lambda v, u_pos, u_neg: _sgns(v, u_pos, u_neg, sign=1.0),
                "you used log σ(+v·u_k) for the noise words: that rewards scoring noise *high*. Noise pairs "
                "should be pushed apart: log σ(−v·u_k)."),
        Mistake(lambda v, u_pos, u_neg: -_sgns(v, u_pos, u_neg),
                "you returned the log-likelihood, not the loss: negate it (a loss is minimised)."),
        Mistake(lambda v, u_pos, u_neg: _sgns(v, u_pos, u_neg, reduce_k="mean"),
                "you averaged over the K noise words: the objective sums them, Σ_k log σ(−v·u_k)."),
        Mistake(lambda v, u_pos, u_neg: _sgns(v, u_pos, u_neg, reduce_b="sum"),
                "you summed over the batch: this exercise wants the mean over the B pairs."),
        Mistake(lambda v, u_pos, u_neg: _sgns(v, u_pos, u_neg, log_sigmoid=lambda x: x.sigmoid().log()),
                "log(sigmoid(x)) underflows: σ(−120) rounds to 0 in float32 and log(0) = -inf. "
                "Use torch.nn.functional.logsigmoid(x), which computes log σ(x) stably."),
    ],
))


def check_sgns_loss(fn, raise_on_failure=False):
    """Check your sgns_loss(v, u_pos, u_neg) against the reference."""
    return check("sgns_loss", fn, raise_on_failure)


def analogy_3cosadd_solution(vectors, a, b, c):
    """a : b :: c : ?  The row id (int) maximising cos(w, b̂ − â + ĉ) over unit rows of vectors (V, D),
    never a, b or c themselves."""
    import torch

    unit = vectors / vectors.norm(dim=1, keepdim=True)     # (V, D): cosine = dot product of unit rows
    target = unit[b] - unit[a] + unit[c]                    # (D,)
    scores = unit @ target                                  # (V,); ranking by cos(w, target) needs no ‖target‖
    scores[[a, b, c]] = -torch.inf                          # otherwise b or c usually wins
    return int(scores.argmax())


def _analogy_cases():
    import torch

    g = torch.Generator().manual_seed(0)
    # rows: 0 man, 1 king, 2 woman, 3 queen, 4 a long vector near king, 5 unrelated, 6 near man − king + woman
    toy = torch.tensor([[1.0, 0.0, 0.2], [1.0, 1.0, 0.0], [0.0, 0.1, 1.0], [0.6, 1.0, 0.6],
                        [9.0, 9.0, 1.5], [-1.0, 0.3, -0.4], [0.5, -0.5, 1.0]])
    return [(toy, 0, 1, 2), (torch.randn(40, 8, generator=g), 3, 17, 25),
            (torch.randn(200, 16, generator=g) * torch.rand(200, 1, generator=g) * 5, 10, 20, 30)]


def _analogy(vectors, a, b, c, normalise=True, exclude=True, sign=1):
    import torch

    unit = vectors / vectors.norm(dim=1, keepdim=True) if normalise else vectors
    scores = unit @ (sign * (unit[b] - unit[a]) + unit[c])
    if exclude:
        scores[[a, b, c]] = -torch.inf
    return int(scores.argmax())


register(Exercise(
    name="analogy_3cosadd",
    task="analogy_3cosadd(vectors, a, b, c): the row id (int) of the word d with a : b :: c : d by 3CosAdd, "
         "excluding a, b and c",
    hint="normalise the rows to length 1, score every row against unit[b] - unit[a] + unit[c], "
         "set the scores of a, b, c to -inf, and return int(scores.argmax())",
    reference=analogy_3cosadd_solution,
    cases=_analogy_cases,
    mistakes=[
        Mistake(lambda vectors, a, b, c: _analogy(vectors, a, b, c, exclude=False),
                "you did not exclude the question words: b − a + c is usually closest to b or c itself. "
                "Set their scores to -inf before the argmax (gensim and word2vec do the same)."),
        Mistake(lambda vectors, a, b, c: _analogy(vectors, a, b, c, normalise=False),
                "you used raw dot products: long vectors (frequent words) win whatever their direction. "
                "Normalise the rows to length 1 first, so that scores are cosines."),
        Mistake(lambda vectors, a, b, c: _analogy(vectors, a, b, c, sign=-1),
                "you computed a − b + c: the offset goes from a to b, so the target is b − a + c."),
    ],
))


def check_analogy_3cosadd(fn, raise_on_failure=False):
    """Check your analogy_3cosadd(vectors, a, b, c) against the reference."""
    return check("analogy_3cosadd", fn, raise_on_failure)


def keep_probability_solution(counts, sample):
    """P(keep) of each word under frequent-word subsampling: (√(f/t) + 1)·t/f, at most 1, f = count / total."""
    import torch

    f = counts / counts.sum()                               # each word's share of the tokens
    return torch.clamp((torch.sqrt(f / sample) + 1) * sample / f, max=1.0)


def _keep_cases():
    import torch

    g = torch.Generator().manual_seed(0)
    zipf = 1e6 / torch.arange(1, 51, dtype=torch.float64)   # word frequencies fall as 1/rank
    return [(torch.tensor([5000.0, 300.0, 20.0, 1.0]), 1e-3), (zipf, 1e-3), (zipf, 1e-4),
            (torch.randint(1, 10_000, (30,), generator=g).double(), 1e-2)]


def _keep(counts, sample, frequencies=True, cap=True):
    import torch

    f = counts / counts.sum() if frequencies else counts
    p = (torch.sqrt(f / sample) + 1) * sample / f
    return torch.clamp(p, max=1.0) if cap else p


def _keep_as_in_the_paper(counts, sample):
    import torch

    return torch.clamp(torch.sqrt(sample / (counts / counts.sum())), max=1.0)


register(Exercise(
    name="keep_probability",
    task="keep_probability(counts, sample): P(keep) per word for word2vec's subsampling, "
         "(√(f/t) + 1)·t/f capped at 1, with f = count / total count and t = sample",
    hint="f = counts / counts.sum(); then torch.clamp((torch.sqrt(f / sample) + 1) * sample / f, max=1.0)",
    reference=keep_probability_solution,
    cases=_keep_cases,
    mistakes=[
        Mistake(lambda counts, sample: _keep(counts, sample, cap=False),
                "your probabilities go above 1 for rare words: cap them with torch.clamp(..., max=1.0)."),
        Mistake(lambda counts, sample: _keep(counts, sample, frequencies=False),
                "you used raw counts where the formula needs frequencies: divide counts by counts.sum() first."),
        Mistake(_keep_as_in_the_paper,
                "that is √(t/f), the keep probability of the word2vec paper; this exercise follows word2vec's "
                "C code and gensim, (√(f/t) + 1)·t/f, which keeps more of the frequent words."),
        Mistake(lambda counts, sample: 1 - keep_probability_solution(counts, sample),
                "you returned the probability of *discarding* a word: keep = 1 − discard."),
    ],
))


def check_keep_probability(fn, raise_on_failure=False):
    """Check your keep_probability(counts, sample) against the reference."""
    return check("keep_probability", fn, raise_on_failure)


# ---------------------------------------------------------------- notebook 03 exercises

def macro_f1_solution(y_true, y_pred, num_classes):
    """Mean over classes of F1_k = 2·TP_k / (2·TP_k + FP_k + FN_k) — the harmonic mean of precision and recall,
    written so that a class never predicted (precision 0/0) scores 0 instead of nan."""
    import torch

    scores = []
    for k in range(num_classes):
        tp = ((y_pred == k) & (y_true == k)).sum()
        fp = ((y_pred == k) & (y_true != k)).sum()
        fn = ((y_pred != k) & (y_true == k)).sum()
        denominator = 2 * tp + fp + fn
        scores.append(2 * tp / denominator if denominator > 0 else torch.tensor(0.0))
    return torch.stack(scores).float().mean()


def _macro_f1_cases():
    import torch

    g = torch.Generator().manual_seed(3)
    return [(torch.tensor([0, 0, 0, 0, 0, 0, 1, 1]), torch.tensor([0, 0, 0, 0, 1, 1, 1, 0]), 2),
            (torch.randint(0, 3, (40,), generator=g), torch.randint(0, 3, (40,), generator=g), 3),
            (torch.tensor([0, 1, 2, 2, 1, 0]), torch.tensor([0, 0, 0, 0, 0, 0]), 3)]   # classes never predicted


def _per_class(y_true, y_pred, num_classes):
    """(precision, recall, support) per class, with 0/0 left as nan."""
    import torch

    tp = torch.stack([((y_pred == k) & (y_true == k)).sum() for k in range(num_classes)]).double()
    predicted = torch.stack([(y_pred == k).sum() for k in range(num_classes)]).double()
    support = torch.stack([(y_true == k).sum() for k in range(num_classes)]).double()
    return tp / predicted, tp / support, support


def _f1_arithmetic(y_true, y_pred, num_classes):
    precision, recall, _ = _per_class(y_true, y_pred, num_classes)
    return ((precision.nan_to_num(0) + recall.nan_to_num(0)) / 2).float().mean()


def _f1_support_weighted(y_true, y_pred, num_classes):
    import torch

    f1 = torch.stack([2 * ((y_pred == k) & (y_true == k)).sum() /
                      ((y_pred == k).sum() + (y_true == k).sum()).clamp(min=1) for k in range(num_classes)])
    support = torch.stack([(y_true == k).sum() for k in range(num_classes)])
    return ((f1 * support).sum() / len(y_true)).float()


def _f1_nan(y_true, y_pred, num_classes):
    precision, recall, _ = _per_class(y_true, y_pred, num_classes)
    return (2 * precision * recall / (precision + recall)).float().mean()


register(Exercise(
    name="macro_f1",
    task="macro_f1(y_true, y_pred, num_classes): the unweighted mean of the per-class F1 scores, a 0-dim tensor",
    hint="for each class k count TP, FP, FN; F1_k = 2TP / (2TP + FP + FN); average the K values",
    reference=macro_f1_solution,
    cases=_macro_f1_cases,
    mistakes=[
        Mistake(lambda y_true, y_pred, num_classes: (y_true == y_pred).float().mean(),
                "that is accuracy (for single-label data it equals micro-F1); macro-F1 computes F1 per class "
                "and averages those, so a rare class counts as much as a frequent one"),
        Mistake(_f1_support_weighted,
                "you weighted each class's F1 by its support (scikit-learn's average='weighted'); macro gives "
                "every class the same weight"),
        Mistake(_f1_arithmetic,
                "you averaged precision and recall arithmetically; F1 is their harmonic mean 2PR / (P + R), "
                "which is low when either is low"),
        Mistake(_f1_nan,
                "a class that is never predicted has precision 0/0 = nan, and the nan spread into the mean; "
                "count its F1 as 0 (2TP / (2TP + FP + FN) never divides by zero unless the class is absent)"),
    ],
))


def check_macro_f1(fn, raise_on_failure=False):
    """Check your macro_f1(y_true, y_pred, num_classes) against the reference."""
    return check("macro_f1", fn, raise_on_failure)


def class_weights_solution(labels, num_classes):
    """w_k = N / (K · n_k): the rare class weighs more, and the weights average to 1 over the examples."""
    import torch

    counts = torch.bincount(labels, minlength=num_classes).float()
    return len(labels) / (num_classes * counts)


def _class_weight_cases():
    import torch

    return [(torch.tensor([0, 0, 0, 1]), 2), (torch.tensor([0] * 90 + [1] * 10), 2),
            (torch.tensor([2, 0, 1, 1, 2, 2, 2, 2]), 3)]


register(Exercise(
    name="class_weights",
    task="class_weights(labels, num_classes): inverse-frequency weights N / (K · n_k) as a float tensor (K,)",
    hint="torch.bincount(labels, minlength=num_classes) counts each class",
    reference=class_weights_solution,
    cases=_class_weight_cases,
    mistakes=[
        Mistake(lambda labels, num_classes: torch_bincount(labels, num_classes) / len(labels),
                "these are the class frequencies n_k / N; the weights are their inverse, so the rare class "
                "weighs more"),
        Mistake(lambda labels, num_classes: 1 / torch_bincount(labels, num_classes),
                "right direction, wrong scale: 1 / n_k makes the loss tiny; N / (K · n_k) keeps the weighted "
                "loss on the scale of the plain one (the weights average to 1 over the examples)"),
        Mistake(lambda labels, num_classes: len(labels) / torch_bincount(labels, num_classes),
                "almost: divide by K as well, N / (K · n_k), so a balanced set gets weight 1 for every class"),
    ],
))


def torch_bincount(labels, num_classes):
    import torch

    return torch.bincount(labels, minlength=num_classes).float()


def check_class_weights(fn, raise_on_failure=False):
    """Check your class_weights(labels, num_classes) against the reference."""
    return check("class_weights", fn, raise_on_failure)


def mean_pooling_solution(hidden, attention_mask):
    """(B, T, C) token vectors → (B, C) mean over the real tokens (attention_mask 1), padding left out."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)          # (B, T, 1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1)


def _pooling_cases():
    import torch

    g = torch.Generator().manual_seed(4)
    return [(torch.randn(2, 5, 3, generator=g), torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])),
            (torch.randn(3, 7, 8, generator=g), torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5]))]


register(Exercise(
    name="mean_pooling",
    task="mean_pooling(hidden, attention_mask): (B, T, C), (B, T) → (B, C) mean over real tokens only",
    hint="multiply by the mask (unsqueezed to (B, T, 1)), sum over T, divide by each row's number of real tokens",
    reference=mean_pooling_solution,
    cases=_pooling_cases,
    mistakes=[
        Mistake(lambda hidden, attention_mask: hidden.mean(dim=1),
                "you averaged over the [PAD] positions too: multiply by the attention mask and divide by the "
                "number of real tokens"),
        Mistake(lambda hidden, attention_mask: (hidden * attention_mask.unsqueeze(-1)).sum(1) / hidden.size(1),
                "you zeroed the padding but divided by the padded length T; divide by each sentence's own "
                "number of real tokens, attention_mask.sum(1)"),
        Mistake(lambda hidden, attention_mask: (hidden * attention_mask.unsqueeze(-1)).sum(1),
                "that is the sum over real tokens; divide by their number to get the mean"),
        Mistake(lambda hidden, attention_mask: hidden[:, 0],
                "that is the first token's vector ([CLS] pooling), not the mean of the tokens"),
    ],
))


def check_mean_pooling(fn, raise_on_failure=False):
    """Check your mean_pooling(hidden, attention_mask) against the reference."""
    return check("mean_pooling", fn, raise_on_failure)


# ---------------------------------------------------------------- notebook 04 exercises

def _tensor_answer(fn):
    """fn with its answer as a tensor, so the checks can compare it: a list of label ids becomes a long tensor,
    a number a float32 0-dim tensor; anything else passes unchanged (and the check says what it got)."""
    import functools

    import torch

    @functools.wraps(fn)
    def wrapped(*args):
        answer = fn(*args)
        if isinstance(answer, (list, tuple)) and all(isinstance(x, int) and not isinstance(x, bool) for x in answer):
            return torch.tensor(list(answer), dtype=torch.long)
        if isinstance(answer, (int, float)) and not isinstance(answer, bool):
            return torch.tensor(float(answer))
        return answer
    return wrapped


def _register_answer(exercise) -> Exercise:
    """register() for an exercise whose answers are lists of ids or numbers: the reference and the mistakes are
    wrapped like the learner's function, so that all three are compared as tensors."""
    from dataclasses import replace

    mistakes = [Mistake(_tensor_answer(m.reproduce), m.explanation) for m in exercise.mistakes]
    return register(replace(exercise, reference=_tensor_answer(exercise.reference), mistakes=mistakes))


def _check_answer(name, fn, raise_on_failure):
    return check(name, _tensor_answer(fn) if callable(fn) else fn, raise_on_failure)


def align_labels_solution(word_ids, word_labels):
    """One label per token: the word's label on its first sub-token, -100 on later sub-tokens and on special
    tokens ([CLS], [SEP], padding: word id None), so that cross-entropy counts every word exactly once."""
    labels, previous = [], None
    for w in word_ids:
        if w is None or w == previous:
            labels.append(-100)              # a special token, or a later piece of the same word
        else:
            labels.append(word_labels[w])    # the first piece of word w
        previous = w
    return labels


def _align_cases():
    # [CLS] no ##m ##vula flew to dl ##ami ##ni [SEP]; B-PER O O B-LOC ("Nomvula flew to Dlamini")
    return [([None, 0, 0, 0, 1, 2, 3, 3, 3, None], [1, 0, 0, 5]),
            ([None, 0, 0, 1, 2, 3, None], [3, 0, 0, 5]),                      # [CLS] hugging ##face is in brooklyn
            ([None, 0, 1, 1, 2, None, None, None], [7, 8, 0])]                # padded to 8 tokens


def _align_every_piece(word_ids, word_labels):
    return [-100 if w is None else word_labels[w] for w in word_ids]


def _align_by_position(word_ids, word_labels):
    return [word_labels[t] if t < len(word_labels) else -100 for t in range(len(word_ids))]


def _align_specials_as_o(word_ids, word_labels):
    return [0 if label == -100 and w is None else label
            for w, label in zip(word_ids, align_labels_solution(word_ids, word_labels), strict=True)]


def _align_last_piece(word_ids, word_labels):
    following = [*word_ids[1:], None]
    return [word_labels[w] if w is not None and w != after else -100 for w, after in zip(word_ids, following,
                                                                                            strict=True)]


_register_answer(Exercise(
    name="align_labels",
    task="align_labels(word_ids, word_labels): one label per token — the word's label on its first sub-token, "
         "-100 elsewhere",
    hint="walk word_ids keeping the previous word id: None (special token) or the same id as before → -100; "
         "a new word id w → word_labels[w]",
    reference=align_labels_solution,
    cases=_align_cases,
    mistakes=[
        Mistake(_align_by_position,
                "you gave the t-th word's label to the t-th token: [CLS] takes the first word's label and every "
                "label after the first split word lands on the wrong token. Use word_ids to find each word's "
                "first sub-token"),
        Mistake(_align_every_piece,
                "you copied the word's label onto every sub-token: a B- label then starts an entity in the middle "
                "of a word, and long words weigh more in the loss. Later pieces get -100"),
        Mistake(_align_specials_as_o,
                "the special tokens ([CLS], [SEP], padding: word id None) got label 0 = O, so the model is trained "
                "to tag them; give them -100, the index cross-entropy ignores"),
        Mistake(_align_last_piece,
                "you labelled the *last* sub-token of each word; the convention (and what predict_entities reads) "
                "is the first"),
    ],
    atol=0,
))


def check_align_labels(fn, raise_on_failure=False):
    """Check your align_labels(word_ids, word_labels) against the reference."""
    return _check_answer("align_labels", fn, raise_on_failure)


def entity_f1_solution(true_tags, pred_tags):
    """Micro F1 over entities: an entity counts as found only if its type, first and last word all match.
    true_tags, pred_tags: one list of BIO tags per sentence. An I-X that does not continue an X opens an
    entity, as conlleval and seqeval read it."""
    def entities(sentence, tags):
        found, start = set(), None
        for i, tag in enumerate([*tags, "O"]):                  # a final O closes an entity at the end
            if start is not None and tag != f"I-{tags[start][2:]}":
                found.add((sentence, tags[start][2:], start, i))
                start = None
            if tag.startswith("B-") or (tag.startswith("I-") and start is None):
                start = i
        return found

    gold = set().union(*(entities(s, tags) for s, tags in enumerate(true_tags)))
    predicted = set().union(*(entities(s, tags) for s, tags in enumerate(pred_tags)))
    if not gold and not predicted:
        return 0.0
    return 2 * len(gold & predicted) / (len(gold) + len(predicted))  # = 2PR / (P + R)


def _entity_f1_cases():
    return [([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "O", "O", "B-LOC"]]),
            ([["B-ORG", "I-ORG", "O", "B-PER"], ["O", "B-LOC", "O"]],
             [["B-LOC", "I-LOC", "O", "B-PER"], ["O", "B-LOC", "O"]]),
            ([["O", "B-MISC", "I-MISC", "O"], ["B-PER", "O"]], [["O", "I-MISC", "I-MISC", "O"], ["I-PER", "O"]]),
            ([["B-LOC", "O", "O"]], [["O", "O", "O"]])]


def _tags_f1(true_tags, pred_tags, same=lambda t, p: t == p):
    """F1 over non-O tags, word by word."""
    true = [t for s in true_tags for t in s]
    pred = [p for s in pred_tags for p in s]
    right = sum(t != "O" and same(t, p) for t, p in zip(true, pred, strict=True))
    total = sum(t != "O" for t in true) + sum(p != "O" for p in pred)
    return 2 * right / total if total else 0.0


def _entity_f1_variant(true_tags, pred_tags, key=lambda e: e, stray_opens=True, overlap=False):
    def entities(sentence, tags):
        found, start = [], None
        for i, tag in enumerate([*tags, "O"]):
            if start is not None and tag != f"I-{tags[start][2:]}":
                found.append((sentence, tags[start][2:], start, i))
                start = None
            if tag.startswith("B-") or (stray_opens and tag.startswith("I-") and start is None):
                start = i
        return found

    gold = [e for s, tags in enumerate(true_tags) for e in entities(s, tags)]
    predicted = [e for s, tags in enumerate(pred_tags) for e in entities(s, tags)]
    if overlap:
        right = sum(any(g[:2] == p[:2] and g[2] < p[3] and p[2] < g[3] for g in gold) for p in predicted)
    else:
        right = len({key(e) for e in gold} & {key(e) for e in predicted})
    return 2 * right / (len(gold) + len(predicted)) if gold or predicted else 0.0


_register_answer(Exercise(
    name="entity_f1",
    task="entity_f1(true_tags, pred_tags): micro F1 over entities (exact type and boundaries), lists of BIO tags "
         "per sentence in, a float out",
    hint="turn each sentence's tags into (sentence, type, start, end) entities — B-X opens one, I-X continues an "
         "X (or opens one after O or another type) — then F1 = 2·|gold ∩ predicted| / (|gold| + |predicted|)",
    reference=entity_f1_solution,
    cases=_entity_f1_cases,
    mistakes=[
        Mistake(lambda true_tags, pred_tags: sum(t == p for ts, ps in zip(true_tags, pred_tags, strict=True)
                                                 for t, p in zip(ts, ps, strict=True)) / sum(map(len, true_tags)),
                "that is token accuracy (O tags included); entity F1 scores whole entities, so a half-found name "
                "counts as wrong"),
        Mistake(_tags_f1,
                "you scored tags word by word (F1 over the non-O tags); an entity counts only when all its words "
                "and both boundaries are right"),
        Mistake(lambda true_tags, pred_tags: _entity_f1_variant(true_tags, pred_tags, overlap=True),
                "you counted a prediction that overlaps a gold entity of the same type as right; exact matching "
                "needs the same first and last word"),
        Mistake(lambda true_tags, pred_tags: _entity_f1_variant(true_tags, pred_tags, key=lambda e: (e[0], *e[2:])),
                "you ignored the entity type: the span alone is not enough, LOC for an ORG is an error"),
        Mistake(lambda true_tags, pred_tags: _entity_f1_variant(true_tags, pred_tags, stray_opens=False),
                "an I-X that follows O (or another type) must open an entity, as conlleval and seqeval read it; "
                "you dropped those words"),
    ],
))


def check_entity_f1(fn, raise_on_failure=False):
    """Check your entity_f1(true_tags, pred_tags) against the reference."""
    return _check_answer("entity_f1", fn, raise_on_failure)


def constrained_decode_solution(log_probs, label_names):
    """Viterbi: the label ids with the highest total log-probability among sequences where every I-X follows
    a B-X or an I-X (and none opens the sentence). log_probs: (W, K) tensor, one row per word."""
    import torch

    def allowed(previous, current):                        # previous None: the sentence start
        if not current.startswith("I-"):
            return True
        return previous in (f"B-{current[2:]}", f"I-{current[2:]}")

    K = len(label_names)
    start = torch.tensor([0.0 if allowed(None, c) else float("-inf") for c in label_names])
    transition = torch.tensor([[0.0 if allowed(p, c) else float("-inf") for c in label_names] for p in label_names])
    score, backpointers = start + log_probs[0], []            # best valid path ending in each label
    for w in range(1, len(log_probs)):
        score, best_previous = (score[:, None] + transition).max(dim=0)   # over the previous label, (K,)
        score = score + log_probs[w]
        backpointers.append(best_previous)
    path = [int(score.argmax())]
    for best_previous in reversed(backpointers):
        path.append(int(best_previous[path[-1]]))
    assert len(path) == len(log_probs) and all(0 <= i < K for i in path)
    return path[::-1]


SMALL_BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _constrained_cases():
    import torch

    from sftlab.data import NER_LABELS

    g = torch.Generator().manual_seed(5)
    return [(torch.tensor([[0.5, 0.4, 0.01, 0.1, 0.01], [0.02, 0.01, 0.9, 0.05, 0.02]]).log(), SMALL_BIO),
            (torch.tensor([[0.05, 0.3, 0.6, 0.01, 0.04], [0.05, 0.05, 0.8, 0.05, 0.05],
                           [0.15, 0.02, 0.03, 0.3, 0.5]]).log(), SMALL_BIO),
            ((3 * torch.randn(6, 9, generator=g)).log_softmax(-1), NER_LABELS),
            ((3 * torch.randn(8, 9, generator=g)).log_softmax(-1), NER_LABELS)]


def _viterbi_variant(log_probs, label_names, start_rule=True, same_type=True):
    import torch

    def allowed(previous, current):
        if not current.startswith("I-"):
            return True
        if previous is None:
            return not start_rule
        return previous in (f"B-{current[2:]}", f"I-{current[2:]}") if same_type else previous != "O"

    start = torch.tensor([0.0 if allowed(None, c) else float("-inf") for c in label_names])
    transition = torch.tensor([[0.0 if allowed(p, c) else float("-inf") for c in label_names] for p in label_names])
    score, backpointers = start + log_probs[0], []
    for w in range(1, len(log_probs)):
        score, best_previous = (score[:, None] + transition).max(dim=0)
        score = score + log_probs[w]
        backpointers.append(best_previous)
    path = [int(score.argmax())]
    for best_previous in reversed(backpointers):
        path.append(int(best_previous[path[-1]]))
    return path[::-1]


def _greedy_constrained(log_probs, label_names):
    path, previous = [], None
    for row in log_probs:
        ok = [not c.startswith("I-") or previous in (f"B-{c[2:]}", f"I-{c[2:]}") for c in label_names]
        best = max((i for i in range(len(label_names)) if ok[i]), key=lambda i: row[i].item())
        path.append(best)
        previous = label_names[best]
    return path


def _repair_argmax(log_probs, label_names):
    tags, previous = [], "O"
    for i in log_probs.argmax(-1).tolist():
        tag = label_names[i]
        if tag.startswith("I-") and previous not in (f"B-{tag[2:]}", f"I-{tag[2:]}"):
            tag = f"B-{tag[2:]}"
        tags.append(label_names.index(tag))
        previous = tag
    return tags


_register_answer(Exercise(
    name="constrained_decode",
    task="constrained_decode(log_probs, label_names): the best valid BIO label ids for one sentence, (W, K) "
         "log-probabilities in, a list of W ids out",
    hint="Viterbi with transition scores 0 (allowed) or -inf (I-X after anything but B-X/I-X, or at the start): "
         "keep the best score of a path ending in each label, word by word, with back-pointers",
    reference=constrained_decode_solution,
    cases=_constrained_cases,
    mistakes=[
        Mistake(lambda log_probs, label_names: log_probs.argmax(-1).tolist(),
                "that is each word's argmax, with no constraint: it can output O I-PER or B-LOC I-PER"),
        Mistake(_greedy_constrained,
                "you chose left to right, each word's best tag allowed after the tag already chosen (greedy); a "
                "choice can never be revised, so O followed by a confident I-PER cannot become B-PER I-PER. "
                "Viterbi keeps the best path into every label and picks at the end"),
        Mistake(_repair_argmax,
                "you repaired the argmax by turning each stray I-X into B-X (what conlleval's reading amounts "
                "to); the best valid sequence can change other words too, so search over all of them (Viterbi)"),
        Mistake(lambda log_probs, label_names: _viterbi_variant(log_probs, label_names, start_rule=False),
                "a sentence cannot start with I-X: give I- labels -inf at the first word"),
        Mistake(lambda log_probs, label_names: _viterbi_variant(log_probs, label_names, same_type=False),
                "I-X must follow B-X or I-X of the *same* type; you only forbade it after O"),
    ],
    atol=0,
))


def check_constrained_decode(fn, raise_on_failure=False):
    """Check your constrained_decode(log_probs, label_names) against the reference."""
    return _check_answer("constrained_decode", fn, raise_on_failure)


# ---------------------------------------------------------------- chapter 05: causal LMs and text generation

def top_k_filter_solution(scores, k):
    """Keep each row's k highest scores (and any tied with the k-th), set the others to -inf: (B, V) -> (B, V)."""
    import torch

    kth = torch.topk(scores, min(k, scores.size(-1)), dim=-1).values[:, -1:]     # (B, 1): each row's k-th largest
    return scores.masked_fill(scores < kth, float("-inf"))


def _top_k_cases():
    import torch

    g = torch.Generator().manual_seed(6)
    return [(torch.tensor([[2.0, -1.0, 3.0, 0.5, -2.0, 3.0],            # the top 2 are tied
                           [-0.5, -3.0, 1.5, -0.5, -4.0, 0.0],
                           [1.0, 1.0, -1.0, 1.0, 2.0, -3.0]]), 2),      # three tied with the 2nd
            (2 * torch.randn(4, 10, generator=g), 3),
            (torch.tensor([[-1.0, -2.0, -0.5, -3.0, -1.5, -2.5], [0.3, 0.1, 0.2, -0.1, 0.4, 0.0]]), 1),
            (torch.randn(2, 5, generator=g), 8)]                        # k > V keeps everything


def _top_k_fill(scores, k, keep=lambda scores, kth: scores >= kth, fill=float("-inf")):
    import torch

    kth = torch.topk(scores, min(k, scores.size(-1)), dim=-1).values[:, -1:]
    return scores.masked_fill(~keep(scores, kth), fill)


def _top_k_plus_one(scores, k):
    import torch

    kth = torch.sort(scores, dim=-1, descending=True).values[:, k, None]  # index k is the (k+1)-th largest
    return scores.masked_fill(scores < kth, float("-inf"))


def _top_k_exactly_k(scores, k):
    import torch

    top = torch.topk(scores, min(k, scores.size(-1)), dim=-1)
    return torch.full_like(scores, float("-inf")).scatter(1, top.indices, top.values)


def _top_k_over_batch(scores, k):
    import torch

    kth = torch.topk(scores, k, dim=0).values[-1:]                      # (1, V): the k-th largest of each column
    return scores.masked_fill(scores < kth, float("-inf"))


def _top_k_sorted(scores, k):
    import torch

    return torch.sort(top_k_filter_solution(scores, k), dim=-1, descending=True).values


register(Exercise(
    name="top_k_filter",
    task="top_k_filter(scores, k): (B, V) logits → (B, V) with every score below its row's k-th largest set to "
         "-inf (ties with the k-th kept)",
    hint="torch.topk(scores, k, dim=-1).values[:, -1:] is each row's k-th largest, shape (B, 1); masked_fill the "
         "scores below it with float('-inf'). k > V keeps everything",
    reference=top_k_filter_solution,
    cases=_top_k_cases,
    mistakes=[
        Mistake(_top_k_plus_one,
                "off by one: you kept k + 1 tokens. Sorted in descending order, the k-th largest is at index "
                "k - 1 (torch.topk(scores, k).values[:, -1:])"),
        Mistake(lambda scores, k: _top_k_fill(scores, k, keep=lambda scores, kth: scores > kth),
                "off by one: you dropped the k-th largest score itself (scores <= kth); keep every score >= the "
                "k-th, so k tokens survive (more when some tie with the k-th)"),
        Mistake(_top_k_exactly_k,
                "you kept exactly k tokens, so of the scores tied with the k-th only some survive, chosen "
                "arbitrarily; keep every score >= the k-th largest, as transformers' TopKLogitsWarper does"),
        Mistake(lambda scores, k: _top_k_fill(scores, k, fill=0.0),
                "you set the filtered scores to 0, but 0 is an ordinary logit: those tokens keep e^0 = 1 in the "
                "softmax (more than a negative logit kept by top-k). Use float('-inf'), whose probability is 0"),
        Mistake(_top_k_over_batch,
                "you took the top k over the batch dimension (dim=0); each row is one sequence's distribution "
                "over the vocabulary, so take the top k along dim=-1"),
        Mistake(lambda scores, k: top_k_filter_solution(scores, k).softmax(dim=-1),
                "you returned probabilities (softmax); return the filtered logits, -inf included: temperature, "
                "top-p and the sampler still expect logits"),
        Mistake(_top_k_sorted,
                "your scores are sorted, so position i is no longer token i's score; keep the vocabulary order "
                "and mask the scores where they are (masked_fill)"),
    ],
))


def check_top_k_filter(fn, raise_on_failure=False):
    """Check your top_k_filter(scores, k) against the reference."""
    return check("top_k_filter", fn, raise_on_failure)


def repetition_penalty_solution(input_ids, scores, penalty):
    """CTRL's repetition penalty: for every token already in its row of input_ids (B, T), a positive score is
    divided by penalty and a negative one multiplied by it, once however often the token occurred: (B, V)."""
    import torch

    seen = torch.zeros_like(scores, dtype=torch.bool).scatter(1, input_ids, True)   # (B, V): in this row?
    penalised = torch.where(scores < 0, scores * penalty, scores / penalty)          # both make the token less likely
    return torch.where(seen, penalised, scores)


def _repetition_cases():
    import torch

    g = torch.Generator().manual_seed(7)
    return [(torch.tensor([[1, 3, 3, 5], [0, 2, 2, 2]]),
             torch.tensor([[0.5, 2.0, -1.0, -1.5, 3.0, 1.0], [-2.0, 1.0, 4.0, 0.0, -0.5, 2.5]]), 2.0),
            (torch.randint(0, 12, (3, 8), generator=g), 3 * torch.randn(3, 12, generator=g), 1.3),
            (torch.randint(0, 20, (2, 15), generator=g), torch.randn(2, 20, generator=g), 1.2)]


def _seen(input_ids, scores, counts=False):
    """(B, V): whether (or, with counts, how often) each token occurs in its row of input_ids."""
    import torch

    ones = torch.ones_like(input_ids, dtype=scores.dtype)
    occurrences = torch.zeros_like(scores).scatter_add(1, input_ids, ones)
    return occurrences if counts else occurrences > 0


def _where_seen(input_ids, scores, penalised):
    """penalised where the token occurs in its row of input_ids, scores elsewhere."""
    import torch

    return torch.where(_seen(input_ids, scores), penalised, scores)


def _penalise_every_occurrence(input_ids, scores, penalty):
    import torch

    factor = penalty ** _seen(input_ids, scores, counts=True)                  # penalty ** (number of occurrences)
    return torch.where(scores < 0, scores * factor, scores / factor)


def _penalise_whole_batch(input_ids, scores, penalty):
    import torch

    seen = _seen(input_ids, scores).any(dim=0, keepdim=True)                  # seen in any row
    return torch.where(seen, torch.where(scores < 0, scores * penalty, scores / penalty), scores)


register(Exercise(
    name="repetition_penalty",
    task="repetition_penalty(input_ids, scores, penalty): (B, T) ids, (B, V) logits → (B, V) with every token "
         "already in its row made less likely: positive scores / penalty, negative scores × penalty",
    hint="mark the tokens each row has seen (scatter True into a (B, V) bool tensor at input_ids), compute "
         "torch.where(scores < 0, scores * penalty, scores / penalty), and take it only where seen; "
         "build new tensors, leave scores as it is",
    reference=repetition_penalty_solution,
    cases=_repetition_cases,
    mistakes=[
        Mistake(lambda input_ids, scores, penalty: _where_seen(input_ids, scores, scores / penalty),
                "you divided every seen score by penalty; for a negative score that moves it towards 0, making "
                "a disliked repeated token MORE likely. Multiply negative scores by penalty"),
        Mistake(lambda input_ids, scores, penalty: _where_seen(
                    input_ids, scores, (scores / penalty).where(scores < 0, scores * penalty)),
                "the wrong way round: you multiplied positive scores and divided negative ones, which makes "
                "repeats more likely; divide positive scores by penalty, multiply negative ones"),
        Mistake(_penalise_every_occurrence,
                "you penalised a token once per occurrence (penalty ** count); the penalty applies once to every "
                "token seen, however often"),
        Mistake(_penalise_whole_batch,
                "you penalised tokens seen in any row of the batch; each row is a separate sequence, so only its "
                "own input_ids count"),
        Mistake(lambda input_ids, scores, penalty: _where_seen(input_ids, scores, scores - penalty),
                "you subtracted penalty from the seen scores; the penalty is a factor: divide positive scores by "
                "it, multiply negative ones"),
    ],
))


def check_repetition_penalty(fn, raise_on_failure=False):
    """Check your repetition_penalty(input_ids, scores, penalty) against the reference."""
    return check("repetition_penalty", fn, raise_on_failure)


def causal_lm_loss_solution(logits, input_ids, attention_mask):
    """Mean cross-entropy of predicting token t+1 at position t, over the real (non-padding) target tokens: what a
    Hugging Face causal LM returns for labels = input_ids with -100 on the padding."""
    import torch.nn.functional as F

    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), input_ids[:, 1:], reduction="none")   # (B, T-1)
    mask = attention_mask[:, 1:].to(nll.dtype)     # the target's mask: is token t+1 real?
    return (nll * mask).sum() / mask.sum()         # every real target token weighs the same


def _causal_lm_cases():
    import torch

    g = torch.Generator().manual_seed(8)
    right = torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [1] * 2 + [0] * 4])
    left = torch.tensor([[1] * 5, [0] * 2 + [1] * 3, [0] * 3 + [1] * 2])
    return [(2 * torch.randn(3, 6, 7, generator=g), torch.randint(1, 7, (3, 6), generator=g) * right, right),
            (2 * torch.randn(3, 5, 11, generator=g), torch.randint(1, 11, (3, 5), generator=g) * left, left)]


def _masked_nll(logits, targets, mask=None, average="tokens"):
    """Cross-entropy of targets (B, L) under logits (B, L, V) where mask is 1 (everywhere if None), averaged over
    the tokens or the sequences, or summed."""
    import torch
    import torch.nn.functional as F

    mask = torch.ones_like(targets) if mask is None else mask
    nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none") * mask
    if average == "sequences":
        return (nll.sum(1) / mask.sum(1)).mean()
    return nll.sum() / mask.sum() if average == "tokens" else nll.sum()


register(Exercise(
    name="causal_lm_loss",
    task="causal_lm_loss(logits, input_ids, attention_mask): (B, T, V), (B, T), (B, T) → 0-dim mean cross-entropy "
         "of predicting token t+1 at position t, over the targets that are not padding",
    hint="shift: logits[:, :-1] predict input_ids[:, 1:]; F.cross_entropy(..., reduction='none') on "
         "logits.transpose(1, 2) gives (B, T-1); weight by attention_mask[:, 1:] and divide by its sum",
    reference=causal_lm_loss_solution,
    cases=_causal_lm_cases,
    mistakes=[
        Mistake(lambda logits, ids, mask: _masked_nll(logits, ids, mask),
                "no shift: you scored the token at position t with the logits at t, which have already seen it. "
                "Position t predicts token t+1: logits[:, :-1] against input_ids[:, 1:]"),
        Mistake(lambda logits, ids, mask: _masked_nll(logits[:, 1:], ids[:, :-1], mask[:, :-1]),
                "shifted the wrong way: logits[:, 1:] against input_ids[:, :-1] predicts each token from the "
                "position after it. Use logits[:, :-1] against input_ids[:, 1:]"),
        Mistake(lambda logits, ids, mask: _masked_nll(logits[:, :-1], ids[:, 1:]),
                "you averaged over the padding too: weight each target by attention_mask[:, 1:] (or set padded "
                "labels to -100) and divide by the number of real targets"),
        Mistake(lambda logits, ids, mask: _masked_nll(logits[:, :-1], ids[:, 1:], mask[:, :-1]),
                "you masked with the input position's mask (attention_mask[:, :-1]); what counts is whether the "
                "target token t+1 is real: attention_mask[:, 1:]"),
        Mistake(lambda logits, ids, mask: _masked_nll(logits[:, :-1], ids[:, 1:], mask[:, 1:], "sequences"),
                "you averaged each sequence's loss, then the sequences: tokens of short sequences weigh more. "
                "Sum over all real target tokens and divide by their number, as Hugging Face does"),
        Mistake(lambda logits, ids, mask: _masked_nll(logits[:, :-1], ids[:, 1:], mask[:, 1:], "sum"),
                "that is the summed negative log-likelihood; divide by the number of real target tokens for "
                "the mean"),
        Mistake(lambda logits, ids, mask: -causal_lm_loss_solution(logits, ids, mask),
                "the sign is flipped: that is the mean log-probability; the loss is its negative"),
    ],
))


def check_causal_lm_loss(fn, raise_on_failure=False):
    """Check your causal_lm_loss(logits, input_ids, attention_mask) against the reference."""
    return check("causal_lm_loss", fn, raise_on_failure)
