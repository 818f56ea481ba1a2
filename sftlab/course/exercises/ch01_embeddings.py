"""Chapter 01, word embeddings: cosine similarity, embedding lookup as one-hot × matrix, the skip-gram
negative-sampling loss, 3CosAdd analogies and word2vec's subsampling keep probability.

Shapes (sftlab/__init__.py): V vocabulary, D vector size, B pairs in a batch, K negatives per pair.
"""

from sftlab.course.exercises.framework import Exercise, Mistake, check, register


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
