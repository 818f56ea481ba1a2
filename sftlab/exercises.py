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
        return (f"your output has {got[where].item()} at index {where} where the reference has "
                f"{expected[where].item():.4g}: nan or inf usually means something overflowed")
    if torch.allclose(got, expected, rtol=0, atol=atol, equal_nan=True):
        return None
    error = (got.double() - expected.double()).abs().nan_to_num(nan=float("inf"))
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
