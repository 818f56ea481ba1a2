"""Skip-gram with negative sampling (word2vec) from scratch: the corpus, the vocabulary, subsampling, the
noise distribution, the model and its training loop.

    load_corpus()                     -> list of chunks (lists of tokens) from the Wikipedia excerpt
    Vocabulary.build(chunks, 5)       -> words in frequency order, their counts, word → id
    SkipGramNS(V, D)                  -> the model: two embedding tables, v (centre) and u (context)
    train_skipgram(chunks, cfg)       -> SkipGramResult: the model, its vectors as gensim KeyedVectors, losses

Shapes (sftlab/__init__.py): V vocabulary, D vector size, B (centre, context) pairs in a batch, K negatives per
pair, N pairs in an epoch. The corpus ships with gensim's test data and was already lower-cased, stripped of stop
words and Porter-stemmed ("philosophy" appears as "philosophi"): stem() spells a word as the corpus does.
"""

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CORPUS_FILE = "head500.noblanks.cor"  # 250 Wikipedia articles, one per line, 331k tokens, in gensim's test data


def test_data_path(name: str) -> str:
    """Full path of a file in gensim's test data (corpus, questions-words.txt, wordsim353.tsv, simlex999.txt)."""
    from gensim.test.utils import datapath

    return datapath(name)


test_data_path.__test__ = False  # a helper, not a test, although pytest would collect it by its name


def load_corpus(chunk_size: int = 1000, path: str | None = None) -> list[list[str]]:
    """The Wikipedia excerpt as chunks of at most `chunk_size` tokens; a chunk never spans two articles."""
    if not isinstance(chunk_size, int) or chunk_size < 2:
        raise ValueError(f"chunk_size must be an int ≥ 2 (tokens per chunk), got {chunk_size!r}")
    with open(path or test_data_path(CORPUS_FILE), encoding="utf-8") as f:
        articles = [line.split() for line in f]
    return [article[i:i + chunk_size] for article in articles for i in range(0, len(article), chunk_size)]


@cache
def _stemmer():
    from gensim.parsing.porter import PorterStemmer

    return PorterStemmer()


def stem(word: str) -> str:
    """The Porter stem of a lower-cased word, as the corpus spells it: stem("Philosophy") == "philosophi"."""
    if not isinstance(word, str):
        raise TypeError(f"stem() takes a word (str), got {type(word).__name__} {word!r}")
    return _stemmer().stem(word.lower())


# ---------------------------------------------------------------- vocabulary, subsampling, noise

def _check_chunks(chunks) -> None:
    """Token lists, not strings: a string would be counted letter by letter, silently."""
    whole = isinstance(chunks, str) or not hasattr(chunks, "__len__") or len(chunks) == 0
    bad = chunks if whole else next((chunk for chunk in chunks if not isinstance(chunk, list)), None)
    if bad is not None:
        raise TypeError(f"chunks must be a non-empty list of token lists, like load_corpus() returns; got "
                        f"{type(bad).__name__} {bad!r:.40}{'' if whole else ' among the chunks'}: split each "
                        f"text into tokens first, [text.split() for text in texts]")


@dataclass
class Vocabulary:
    """The words kept for training, most frequent first, with their counts in the corpus."""

    words: list[str]                          # id → word
    counts: np.ndarray                        # id → occurrences in the corpus, (V,) int64
    index: dict = field(repr=False)           # word → id

    @classmethod
    def build(cls, chunks, min_count: int = 5) -> "Vocabulary":
        """Every word that occurs at least `min_count` times in `chunks`, most frequent first."""
        _check_chunks(chunks)
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be a positive int, got {min_count!r}")
        counter = Counter(token for chunk in chunks for token in chunk)
        kept = [(w, c) for w, c in counter.most_common() if c >= min_count]
        if not kept:
            raise ValueError(f"no word occurs {min_count} times or more in {len(chunks)} chunks; lower min_count")
        words = [w for w, _ in kept]
        return cls(words, np.array([c for _, c in kept], dtype=np.int64), {w: i for i, w in enumerate(words)})

    def __len__(self):
        return len(self.words)

    def encode(self, chunks) -> list[np.ndarray]:
        """Each chunk as an array of word ids, dropping words outside the vocabulary (as word2vec does)."""
        return [np.array([self.index[t] for t in chunk if t in self.index], dtype=np.int64) for chunk in chunks]


def keep_probabilities(counts: np.ndarray, sample: float = 1e-3) -> np.ndarray:
    """P(keep) per word for frequent-word subsampling, (√(f/t) + 1)·t/f capped at 1 (word2vec's C code and
    gensim), with f the word's share of all tokens and t = sample; sample=0 keeps everything. (V,) float64."""
    if isinstance(sample, bool) or not isinstance(sample, (int, float)) or sample < 0:
        raise ValueError(f"sample must be a number ≥ 0 (0 turns subsampling off), got {sample!r}")
    counts = np.asarray(counts, dtype=np.float64)
    if sample == 0:
        return np.ones(len(counts))
    f = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(f / sample) + 1) * sample / f)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> torch.Tensor:
    """P_n(w) ∝ count(w)^0.75, the distribution negatives are drawn from: flatter than the unigram one. (V,)"""
    weights = torch.as_tensor(np.asarray(counts), dtype=torch.float64) ** power
    return weights / weights.sum()


def skipgram_pairs(ids: list[np.ndarray], window: int, keep: np.ndarray, rng: np.random.Generator):
    """One epoch of (centre, context) id pairs, shuffled: subsample tokens, then give each centre a random
    window of 1..`window` words on each side (so near words count more), never crossing a chunk boundary.
    Returns two (N,) int64 arrays."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int (the largest centre–context distance), got {window!r}")
    kept = [chunk[rng.random(len(chunk)) < keep[chunk]] for chunk in ids]   # subsampling, fresh each epoch
    tokens = np.concatenate(kept)                                            # (T,) all chunks end to end
    chunk_of = np.repeat(np.arange(len(kept)), [len(c) for c in kept])       # (T,) which chunk a token is in
    reach = rng.integers(1, window + 1, size=len(tokens))                    # (T,) each centre's own window
    centres, contexts = [], []
    for offset in range(1, window + 1):
        left, right = np.arange(len(tokens) - offset), np.arange(offset, len(tokens))
        same_chunk = chunk_of[left] == chunk_of[right]
        forward = same_chunk & (reach[left] >= offset)     # centre on the left, context `offset` words later
        backward = same_chunk & (reach[right] >= offset)   # centre on the right, context `offset` words earlier
        centres += [tokens[left[forward]], tokens[right[backward]]]
        contexts += [tokens[right[forward]], tokens[left[backward]]]
    order = rng.permutation(sum(len(c) for c in centres))  # SGD wants pairs in random order, not by offset
    return np.concatenate(centres)[order], np.concatenate(contexts)[order]


# ---------------------------------------------------------------- the model

class SkipGramNS(nn.Module):
    """Skip-gram with negative sampling: score(c, o) = v_c · u_o, trained to tell real contexts from noise."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("dim", dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        # sparse=True: a batch touches a few thousand of the V rows, so only those get a gradient
        self.centre = nn.Embedding(vocab_size, dim, sparse=True)   # v_w: the word vectors we keep
        self.context = nn.Embedding(vocab_size, dim, sparse=True)  # u_w: used only to score contexts
        # word2vec's initialisation: small random centre vectors, zero context vectors
        nn.init.uniform_(self.centre.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.context.weight)

    def forward(self, centre, context, negatives):
        """Each pair's loss −log σ(v_c·u_o) − Σ_k log σ(−v_c·u_k), (B,); centre, context (B,), negatives (B, K)."""
        v = self.centre(centre)                                    # (B, D)
        u_pos = self.context(context)                              # (B, D)
        u_neg = self.context(negatives)                            # (B, K, D)
        pos = (v * u_pos).sum(-1)                                  # (B,)
        neg = (u_neg * v.unsqueeze(1)).sum(-1)                     # (B, K)
        # logsigmoid, not log(sigmoid(x)): the latter underflows to log(0) = -inf for x ≲ -90
        return -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1))  # (B,)


# ---------------------------------------------------------------- training

@dataclass
class SkipGramConfig:
    """Everything train_skipgram needs; the defaults match gensim's Word2Vec(sg=1, negative=5, vector_size=100)."""

    dim: int = 100           # D: size of each word vector
    window: int = 5          # largest distance between centre and context; each centre draws 1..window
    min_count: int = 5       # words rarer than this are dropped before training
    negative: int = 5        # K: noise words per (centre, context) pair
    sample: float = 1e-3     # subsampling threshold t; 0 keeps every token
    epochs: int = 5          # passes over the corpus
    batch_size: int = 2048   # (centre, context) pairs per optimizer step; larger is faster on a CPU
    lr: float = 0.025        # learning rate at the start (word2vec's); decays linearly to 0
    optimizer: str = "sgd"   # "sgd" (word2vec's update: summed loss) or "sparse_adam" (mean loss)
    seed: int = 0            # same seed, same corpus → same vectors


@dataclass
class SkipGramResult:
    """What train_skipgram returns: the model, its vectors, and how training went."""

    model: SkipGramNS
    vocab: Vocabulary
    kv: object               # gensim KeyedVectors of the centre vectors
    losses: list[float]      # mean loss per pair of every batch, in order
    pairs: int               # (centre, context) pairs seen over all epochs
    seconds: float           # wall time of train_skipgram: vocabulary, pairs, negatives, updates

    @property
    def pairs_per_s(self) -> float:
        """Training throughput: positive pairs per second (each comes with K negatives)."""
        return self.pairs / self.seconds


OPTIMIZERS = ("sgd", "sparse_adam")


def train_skipgram(chunks, config: SkipGramConfig | None = None, progress: bool = True) -> SkipGramResult:
    """Train SkipGramNS on `chunks` (lists of tokens) with SGD or SparseAdam and a linearly decaying learning rate."""
    from sftlab.course.progress import progress_bar

    config = config or SkipGramConfig()
    if not isinstance(config, SkipGramConfig):
        raise TypeError(f"config must be a SkipGramConfig, got {type(config).__name__} {config!r:.60}; "
                        f"for a dict of settings use SkipGramConfig(**settings)")
    for name in ("dim", "window", "negative", "epochs", "batch_size"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"config.{name} must be a positive int, got {value!r}")
    if isinstance(config.lr, bool) or not isinstance(config.lr, (int, float)) or not config.lr > 0:
        raise ValueError(f"config.lr must be a number > 0 (the starting learning rate), got {config.lr!r}")
    if isinstance(config.seed, bool) or not isinstance(config.seed, int):
        raise ValueError(f"config.seed must be an int, got {config.seed!r}")
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(f"config.optimizer must be one of {OPTIMIZERS}, got {config.optimizer!r}")
    _check_chunks(chunks)
    keep_probabilities([1], config.sample)                  # checks config.sample before any work

    started = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    vocab = Vocabulary.build(chunks, config.min_count)
    ids, keep = vocab.encode(chunks), keep_probabilities(vocab.counts, config.sample)
    noise = noise_distribution(vocab.counts)
    model = SkipGramNS(len(vocab), config.dim)
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    else:
        optimizer = torch.optim.SparseAdam(model.parameters(), lr=config.lr)

    epochs = [skipgram_pairs(ids, config.window, keep, rng) for _ in range(config.epochs)]
    total_steps = sum(math.ceil(len(c) / config.batch_size) for c, _ in epochs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / total_steps)
    losses = []
    bar = progress_bar(total_steps, desc="skip-gram", unit="batch", disable=not progress)
    for epoch, (centres, contexts) in enumerate(epochs, 1):
        centres, contexts = torch.from_numpy(centres), torch.from_numpy(contexts)
        for start in range(0, len(centres), config.batch_size):
            centre = centres[start:start + config.batch_size]                     # (B,)
            context = contexts[start:start + config.batch_size]                   # (B,)
            negatives = torch.multinomial(noise, len(centre) * config.negative, replacement=True,
                                          generator=generator).view(len(centre), -1)   # (B, K)
            loss = model(centre, context, negatives)                              # (B,)
            optimizer.zero_grad()
            # word2vec moves each pair's vectors by lr·gradient of that pair's loss: with SGD that is the
            # summed loss; Adam rescales gradients itself and wants the mean
            (loss.sum() if config.optimizer == "sgd" else loss.mean()).backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.mean().item())
            bar.update()
        bar.set_postfix(epoch=epoch, loss=f"{np.mean(losses[-200:]):.3f}")
    bar.close()
    kv = to_keyed_vectors(model, vocab)
    seconds = time.perf_counter() - started
    return SkipGramResult(model, vocab, kv, losses, sum(len(c) for c, _ in epochs), seconds)


def to_keyed_vectors(model: SkipGramNS, vocab: Vocabulary):
    """The centre vectors as gensim KeyedVectors (most frequent word first), so every gensim tool works on them."""
    from gensim.models import KeyedVectors

    weight = model.centre.weight.detach().cpu().numpy()
    if weight.shape[0] != len(vocab):
        raise ValueError(f"the model has {weight.shape[0]} rows but the vocabulary {len(vocab)} words")
    kv = KeyedVectors(vector_size=weight.shape[1], count=0, dtype=np.float32)
    kv.add_vectors(vocab.words, weight.astype(np.float32))
    return kv
