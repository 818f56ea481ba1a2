"""sftlab.qa.retrieval: sentence embeddings as sentence-transformers computes them, TF-IDF, hybrid fusion, top-k,
recall@k and MRR, clear errors, devices; and sftlab.stats' paired comparisons (paired_bootstrap, mcnemar), which
the retrieval notebook uses to compare two retrievers on the same questions.

The dense tests run the offline profile's all-MiniLM-L6-v2 (6 layers, 384 wide) on a handful of texts.
"""

import math

import numpy as np
import pytest
import torch
from conftest import load_offline
from datasets import Dataset, DatasetDict
from test_devices import OtherDeviceStub, reaches_the_model

from sftlab import models, qa, stats

PASSAGES = [
    "Venice is built on more than a hundred small islands in a shallow lagoon; its canals are crossed by "
    "some 400 bridges and there are no cars.",
    "Mount Etna on Sicily is one of the most active volcanoes in the world, and its lava flows reach the "
    "vineyards on its slopes.",
    "The kremsnita, a cream cake from Bled, was first sold in 1953 and is still baked by the same hotel.",
    "Penguins cannot fly, but they swim fast under water and raise their chicks on the Antarctic ice.",
]


@pytest.fixture(scope="module")
def encoder():
    """(tokenizer, AutoModel) of the offline encoder, loaded once for the module; treat as read-only."""
    tokenizer, model = load_offline(models.load_encoder, task="features")
    return tokenizer, model.eval()


@pytest.fixture(scope="module")
def dense(encoder):
    return qa.DenseRetriever(PASSAGES, *encoder)


# ---------------------------------------------------------------- embed: as sentence-transformers encodes


def long_text(words: int) -> str:
    return " ".join(f"item{i}, then more;" for i in range(words))


def test_embed_equals_sentence_transformers_encode(encoder):
    """Mean pooling over the real tokens (not the padding), L2 norm, and sentence-transformers' 256-token cut: a
    different pooling, a missing mask or another max_length each moves some row by far more than 1e-5."""
    from sentence_transformers import SentenceTransformer

    tokenizer, model = encoder
    texts = ["Hi!", "Who built the Grand Canal, and when -- in 1590?", PASSAGES[1], long_text(150),
             "Ünïcödé, punctuation... (and brackets) [really]?!", "a " * 3 + "b"]
    assert len(tokenizer(texts[3])["input_ids"]) > 256, "the long text must be cut"
    reference = SentenceTransformer(str(models.offline_path(models.offline_package("encoder"))), device="cpu",
                                    local_files_only=True)
    expected = torch.from_numpy(reference.encode(texts, normalize_embeddings=True, batch_size=4))
    ours = qa.embed(texts, tokenizer, model, batch_size=4)
    assert ours.shape == (len(texts), 384) and ours.dtype == torch.float32 and ours.device.type == "cpu"
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.norm(dim=1), torch.ones(len(texts)), atol=1e-5, rtol=0)


def test_words_past_the_cut_change_nothing(encoder):
    """max_length=256 truncates: text appended after the cut cannot change the embedding."""
    text = long_text(150)
    a, b = qa.embed([text, text + " volcano lava penguin cake"], *encoder)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    short = qa.embed([text], *encoder, max_length=32)
    assert (short - a).abs().max() > 1e-3, "max_length is passed on to the tokenizer"


def test_embed_keeps_the_input_order(encoder):
    """Texts are sorted by length internally (less padding); the rows must come back in the input order, and a
    text's embedding must not depend on the batch it was padded in."""
    texts = ["tiny", PASSAGES[0], "a question of medium length?", PASSAGES[2], "ok"]
    forward = qa.embed(texts, *encoder, batch_size=2)
    backward = qa.embed(texts[::-1], *encoder, batch_size=2)
    torch.testing.assert_close(backward, forward.flip(0), atol=1e-5, rtol=0)
    alone = torch.cat([qa.embed([t], *encoder) for t in texts])
    torch.testing.assert_close(forward, alone, atol=1e-5, rtol=0)
    assert (forward[0] - forward[1]).abs().max() > 1e-2, "different texts, different rows"


def test_embed_refuses_bad_arguments(encoder):
    """A bare string would be embedded character by character; a bad batch_size must not loop forever."""
    with pytest.raises(TypeError, match="wrap a single text in a list"):
        qa.embed("one text", *encoder)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        qa.embed(["a"], *encoder, batch_size=0)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got True"):
        qa.embed(["a"], *encoder, batch_size=True)


def test_dense_scores_are_cosines_and_find_the_paraphrase(dense, encoder):
    """scores() are query·passage cosines (Q, P) in float64, and a paraphrase finds its passage."""
    scores = dense.scores(["Which city has canals and no cars?", "Can penguins fly?"])
    assert scores.shape == (2, len(PASSAGES)) and scores.dtype == np.float64
    q = qa.embed(["Which city has canals and no cars?"], *encoder)
    np.testing.assert_allclose(scores[0], (q @ qa.embed(PASSAGES, *encoder).T)[0].numpy(), atol=1e-6)
    assert [hits[0][0] for hits in dense.top_k(["Which city has canals and no cars?", "Can penguins fly?"], 1)] \
        == [0, 3]


# ---------------------------------------------------------------- TF-IDF


def test_tfidf_ranks_the_passage_with_the_rare_words_first():
    """A query of one passage's rare words ranks that passage first; scores are (Q, P) cosines."""
    tfidf = qa.TfidfRetriever(PASSAGES)
    scores = tfidf.scores(["kremsnita 1953 hotel", "lava vineyards Etna", "lagoon bridges"])
    assert scores.shape == (3, len(PASSAGES))
    assert scores.argmax(1).tolist() == [2, 1, 0]
    assert scores.max() <= 1 + 1e-9 and scores.min() >= 0, "cosines of non-negative tf-idf vectors"
    assert [hits[0][0] for hits in tfidf.top_k(["penguins swim"], k=2)] == [3]


def test_tfidf_ignores_stop_words():
    """A query of only English stop words matches nothing: "the/of/what" must not decide a ranking."""
    assert not qa.TfidfRetriever(PASSAGES).scores(["what is the of and"]).any()


# ---------------------------------------------------------------- top_k and the checks on what comes in


def test_top_k_is_best_first_with_ties_to_the_lower_index():
    """Best first; equal scores keep the lower index first (stable), so results never depend on the sort."""
    scores = np.array([[0.1, 0.5, 0.5, 0.2, 0.5], [3.0, 2.0, 1.0, 0.0, -1.0]])
    assert qa.top_k(scores, 3) == [[(1, 0.5), (2, 0.5), (4, 0.5)], [(0, 3.0), (1, 2.0), (2, 1.0)]]
    assert qa.top_k(scores, np.int64(1)) == [[(1, 0.5)], [(0, 3.0)]]
    hits = qa.top_k(scores, 5)
    assert all(isinstance(i, int) and isinstance(s, float) for row in hits for i, s in row)


def test_top_k_refuses_a_bad_k_and_bad_scores():
    """k outside 1 … P is an error (not a silent cut), and k must be an int (not a bool or a float)."""
    scores = np.zeros((1, 4))
    for k in (0, 5, -1):
        with pytest.raises(ValueError, match=rf"k must be between 1 and the number of passages \(4\), got {k}"):
            qa.top_k(scores, k)
    for k in (2.0, True, "2", None):
        with pytest.raises(TypeError, match="k must be an int"):
            qa.top_k(scores, k)
    with pytest.raises(ValueError, match=r"scores must be \(queries, passages\), got shape \(4,\)"):
        qa.top_k(np.zeros(4), 1)
    with pytest.raises(ValueError, match="number of passages"):
        qa.TfidfRetriever(PASSAGES).top_k(["lava"], k=len(PASSAGES) + 1)


def test_texts_are_checked():
    """Queries and passages: a list of non-blank strings, or an error that says what to do."""
    tfidf = qa.TfidfRetriever(PASSAGES)
    with pytest.raises(TypeError, match="queries must be a list of strings, got str: wrap a single text in a list"):
        tfidf.top_k("Which volcano?", k=1)
    with pytest.raises(ValueError, match="passages is empty"):
        qa.TfidfRetriever([])
    with pytest.raises(ValueError, match=r"passages\[1\] is empty or blank"):
        qa.TfidfRetriever(["fine", "  "])
    with pytest.raises(TypeError, match=r"queries\[0\] is a int, not a string"):
        tfidf.scores([3])
    with pytest.raises(TypeError, match="passages must be a list of strings, got generator"):
        qa.TfidfRetriever(p for p in PASSAGES)
    assert qa.check_texts(("a", "b"), "texts") == ["a", "b"]


# ---------------------------------------------------------------- metrics


def test_gold_ranks_count_ties_against_the_gold():
    """Two passages tie with the gold one and one beats it: the gold ranks fourth (pessimistic), not second."""
    scores = np.array([[0.5, 0.9, 0.5, 0.5, 0.1]])
    assert qa.gold_ranks(scores, np.array([2])).tolist() == [4]
    assert qa.gold_ranks(scores, np.array([0])).tolist() == [4], "the lower index does not win a tie either"
    assert qa.gold_ranks(scores, np.array([1])).tolist() == [1]
    assert qa.gold_ranks(scores, np.array([4])).tolist() == [5]
    with pytest.raises(ValueError, match="1 rows of scores but 2 gold passages"):
        qa.gold_ranks(scores, np.array([0, 1]))


def test_retrieval_scores_on_known_ranks():
    """Gold ranks 1, 3 and 6: recall@1 = 1/3, recall@5 = 2/3, MRR = (1 + 1/3 + 1/6) / 3 = 0.5."""
    scores = np.array([[9, 1, 2, 3, 4, 5, 6],       # gold 0 (9): first
                       [5, 1, 7, 6, 0, 0, 0],       # gold 0 (5): beaten by 7 and 6
                       [1, 8, 3, 4, 5, 6, 7]])      # gold 2 (3): beaten by 8, 4, 5, 6, 7
    result = qa.retrieval_scores(scores, np.array([0, 0, 2]))
    assert qa.gold_ranks(scores, np.array([0, 0, 2])).tolist() == [1, 3, 6]
    assert result["recall@1"] == pytest.approx(1 / 3) and result["recall@5"] == pytest.approx(2 / 3)
    assert result["mrr"] == pytest.approx(0.5)
    np.testing.assert_allclose(result["per_question"]["mrr"], [1, 1 / 3, 1 / 6])
    np.testing.assert_array_equal(result["per_question"]["recall@5"], [1, 1, 0])
    assert set(qa.retrieval_scores(scores, np.array([0, 0, 2]), ks=(2, 10))) == \
        {"recall@2", "recall@10", "mrr", "per_question"}


# ---------------------------------------------------------------- hybrid


class FixedScores(qa.Retriever):
    """A retriever that answers every query with the same score row."""

    def __init__(self, passages, row):
        self.passages, self.row = passages, np.asarray(row, dtype=float)

    def scores(self, queries):
        return np.tile(self.row, (len(qa.check_texts(queries, "queries")), 1))


def test_hybrid_weight_one_is_dense_and_zero_is_lexical(dense):
    """The weighted fusion's ends are the two retrievers themselves; in between, the min-max mix."""
    tfidf = qa.TfidfRetriever(PASSAGES)
    queries = ["Which city has canals and no cars?", "cream cake", "lava flows reach vineyards", "ice chicks"]
    k = len(PASSAGES)

    def ranking(retriever):
        return [[i for i, _ in hits] for hits in retriever.top_k(queries, k)]

    assert ranking(qa.HybridRetriever(tfidf, dense, weight=1.0)) == ranking(dense)
    assert ranking(qa.HybridRetriever(tfidf, dense, weight=0)) == ranking(tfidf)
    assert ranking(dense) != ranking(tfidf), "the two must disagree somewhere, or this test proves nothing"
    half = qa.HybridRetriever(tfidf, dense, weight=0.5).scores(queries)
    np.testing.assert_allclose(half, 0.5 * qa.minmax(dense.scores(queries)) + 0.5 * qa.minmax(tfidf.scores(queries)))


def test_rrf_sums_reciprocal_ranks():
    """Lexical ranks p0, p2, p1; dense ranks p1, p2, p0: p0 and p1 get 1/61 + 1/63, p2 gets 2/62."""
    passages = ["a", "b", "c"]
    hybrid = qa.HybridRetriever(FixedScores(passages, [3, 1, 2]), FixedScores(passages, [0.1, 0.9, 0.5]),
                                method="rrf")
    fused = hybrid.scores(["q"])
    np.testing.assert_allclose(fused, [[1 / 61 + 1 / 63, 1 / 63 + 1 / 61, 2 / 62]], rtol=1e-12)
    assert [i for i, _ in hybrid.top_k(["q"], 3)[0]] == [0, 1, 2], "1/61 + 1/63 > 2/62; p0 and p1 tie"
    other_k = qa.HybridRetriever(FixedScores(passages, [3, 1, 2]), FixedScores(passages, [0.1, 0.9, 0.5]),
                                 method="rrf", rrf_k=0)
    np.testing.assert_allclose(other_k.scores(["q"]), [[1 + 1 / 3, 1 / 3 + 1, 1]])


def test_minmax_rescales_each_row_and_survives_a_constant_row():
    """Each row to [0, 1]; a constant row gives zeros, not a division by zero."""
    np.testing.assert_allclose(qa.minmax(np.array([[2.0, 4.0, 3.0], [5.0, 5.0, 5.0]])), [[0, 1, 0.5], [0, 0, 0]])


def test_hybrid_refuses_what_cannot_be_fused():
    """Two indexes in different orders, an unknown method or a weight outside [0, 1] are refused."""
    a, b = FixedScores(["x", "y"], [1, 0]), FixedScores(["y", "x"], [1, 0])
    with pytest.raises(ValueError, match="same passages in the same order"):
        qa.HybridRetriever(a, b)
    for method in ("max", "RRF", None):
        with pytest.raises(ValueError, match="method must be 'weighted' or 'rrf'"):
            qa.HybridRetriever(a, a, method=method)
    for weight in (1.5, -0.1, True, "0.5", None):
        with pytest.raises(ValueError, match=r"weight must be a number in \[0, 1\]"):
            qa.HybridRetriever(a, a, weight=weight)


# ---------------------------------------------------------------- the passage index


def splits():
    def split(contexts):
        return Dataset.from_dict({"context": contexts, "question": [f"q{i}" for i in range(len(contexts))]})

    return DatasetDict({"train": split(["A", "B", "A"]), "validation": split(["C", "B"]), "test": split(["D"])})


def test_unique_passages_in_first_seen_order_and_gold_indices():
    """One entry per distinct context over all splits, in first-seen order; each question's gold index."""
    data = splits()
    passages = qa.unique_passages(data)
    assert passages == ["A", "B", "C", "D"]
    assert qa.gold_indices(data["train"], passages).tolist() == [0, 1, 0]
    assert qa.gold_indices(data["validation"], passages).tolist() == [2, 1]
    with pytest.raises(ValueError, match="1 contexts are not in the index, e.g. 'C'"):
        qa.gold_indices(data["validation"], ["A", "B", "D"])
    with pytest.raises(ValueError, match=r"passages\[0\] is empty or blank"):
        qa.unique_passages({"train": Dataset.from_dict({"context": [" "]})})


# ---------------------------------------------------------------- devices


def test_dense_retrieval_moves_inputs_to_the_model_device(dense, encoder):
    """A forgotten `.to(device)` in embed fails here on the CPU: the stub's parameter lives on `meta`."""
    tokenizer, _ = encoder
    assert reaches_the_model(qa.embed, ["a short text", "another"], tokenizer, OtherDeviceStub())
    assert reaches_the_model(qa.DenseRetriever, PASSAGES, tokenizer, OtherDeviceStub())
    stubbed = qa.DenseRetriever(PASSAGES, *encoder)
    stubbed.model = OtherDeviceStub()
    assert reaches_the_model(stubbed.scores, ["Which volcano?"])


def test_the_device_check_catches_a_missing_move(encoder, monkeypatch):
    """The stub really tells a moved batch from one left on the CPU: with the move patched out, embed fails."""
    from sftlab.qa import retrieval

    monkeypatch.setattr(retrieval, "to_device", lambda batch, device: batch)
    with pytest.raises(RuntimeError, match="same device"):
        qa.embed(["a short text"], encoder[0], OtherDeviceStub())


# ---------------------------------------------------------------- stats: paired comparisons


def test_paired_bootstrap_is_the_bootstrap_of_the_differences():
    """The difference is the mean of the per-example differences, inside its interval, seeded."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 200).astype(float)
    b = np.where(rng.random(200) < 0.2, 1 - a, a)                    # b flips 20 % of a's outcomes
    difference, low, high = stats.paired_bootstrap(a, b, resamples=500, seed=1)
    assert difference == pytest.approx(np.mean(a - b))
    assert low <= difference <= high and low < high
    assert (difference, low, high) == stats.bootstrap_interval(a - b, resamples=500, seed=1)
    assert stats.paired_bootstrap(a, b, resamples=500, seed=1) == (difference, low, high), "seeded"


def test_paired_bootstrap_resamples_the_pairs_together():
    """b is a minus 0.1 on every example: every resample has the same difference, so the interval has no width —
    resampling a and b separately would give a wide one (their own spread is large)."""
    a = np.random.default_rng(0).random(100)
    difference, low, high = stats.paired_bootstrap(a, a - 0.1)
    assert difference == pytest.approx(0.1) and low == pytest.approx(0.1) and high == pytest.approx(0.1)
    with pytest.raises(ValueError, match=r"one value per example in both: got \(3,\) and \(2,\)"):
        stats.paired_bootstrap([1, 0, 1], [1, 0])


def test_mcnemar_counts_the_discordant_pairs():
    """only_a = 3, only_b = 1: two-sided exact binomial p = P(X ≤ 1) + P(X ≥ 3) for X ~ Bin(4, ½) = 10/16."""
    from scipy.stats import binomtest

    a = [1, 1, 1, 0, 0, 1, 1, 1]
    b = [0, 0, 1, 1, 0, 1, 0, 1]
    result = stats.mcnemar(a, b)
    assert (result["only_a"], result["only_b"]) == (3, 1)
    by_hand = sum(math.comb(4, i) for i in (0, 1, 3, 4)) / 2**4
    assert result["p_value"] == pytest.approx(by_hand) == pytest.approx(binomtest(3, 4, 0.5).pvalue)
    assert stats.mcnemar(b, a)["only_a"] == 1 and stats.mcnemar(b, a)["p_value"] == pytest.approx(by_hand)
    many = stats.mcnemar([1] * 12 + [0] * 20, [0] * 12 + [0] * 20)
    assert many["p_value"] == pytest.approx(2 / 2**12), "12 discordant pairs, all one way"


def test_resampled_interval_recomputes_the_statistic_on_each_resample_of_the_indices():
    """For a mean, it agrees with a by-hand resampling loop on the same seed; the point estimate uses every example."""
    values = np.array([0.0, 1, 1, 0, 1, 1, 1, 0, 1, 1])
    value, low, high = stats.resampled_interval(lambda picked: values[picked].mean(), len(values), resamples=300)
    rng = np.random.default_rng(0)
    by_hand = [values[rng.integers(0, 10, 10)].mean() for _ in range(300)]
    assert value == pytest.approx(0.7)
    assert (low, high) == (pytest.approx(np.quantile(by_hand, 0.025)), pytest.approx(np.quantile(by_hand, 0.975)))
    assert low < value < high
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="n must be the number of examples"):
            stats.resampled_interval(lambda picked: 0.0, bad)


def test_mcnemar_without_discordant_pairs_and_with_bad_shapes():
    """No disagreement: p = 1 (no binomial test on 0 trials); unpaired lengths are refused."""
    assert stats.mcnemar([1, 0, 1], [1, 0, 1]) == {"only_a": 0, "only_b": 0, "p_value": 1.0}
    assert stats.mcnemar(np.array([True, False]), np.array([1, 0]))["p_value"] == 1.0
    with pytest.raises(ValueError, match=r"one value per example in both: got \(2,\) and \(3,\)"):
        stats.mcnemar([1, 0], [1, 0, 0])
