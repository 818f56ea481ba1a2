"""sftlab.embeddings: the lookup, the corpus helpers, skip-gram training, and evaluation equal to gensim's."""

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sftlab import embeddings as E


@pytest.fixture(scope="module")
def chunks():
    return E.load_corpus()


@pytest.fixture(scope="module")
def glove(offline_word_vectors):
    """The offline GloVe 6B 50d vectors: conftest's one load for the whole run."""
    return offline_word_vectors


@pytest.fixture(scope="module")
def tiny_run(chunks):
    """A skip-gram trained in about two seconds: enough to learn, and to test what training returns."""
    config = E.SkipGramConfig(dim=16, epochs=2, batch_size=1024, min_count=20, seed=0)
    return E.train_skipgram(chunks[:60], config, progress=False)


# ---------------------------------------------------------------- the lookup

def test_embedding_lookup_is_one_hot_times_the_weight_matrix_exactly():
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(50, 8)
    ids = torch.tensor([[3, 0, 49], [7, 7, 12]])
    one_hot = F.one_hot(ids, num_classes=50).float()          # (2, 3, 50)
    assert torch.equal(embedding(ids), one_hot @ embedding.weight)
    model = E.SkipGramNS(50, 8)
    assert torch.equal(model.centre(ids), one_hot @ model.centre.weight)


# ---------------------------------------------------------------- corpus, vocabulary, subsampling, noise

def test_corpus_is_the_stemmed_wikipedia_excerpt(chunks):
    tokens = [t for chunk in chunks for t in chunk]
    assert len(tokens) == 331_339 and max(map(len, chunks)) == 1000
    assert "philosophi" in tokens and "philosophy" not in tokens and "the" not in tokens
    assert E.stem("Philosophy") == "philosophi"
    with pytest.raises(ValueError, match="chunk_size must be an int ≥ 2"):
        E.load_corpus(chunk_size=1)


def test_vocabulary_and_subsampling_match_gensims(chunks):
    from gensim.models import Word2Vec

    vocab = E.Vocabulary.build(chunks, min_count=5)
    model = Word2Vec(vector_size=8, min_count=5, sample=1e-3)
    model.build_vocab(chunks)
    assert sorted(vocab.words) == sorted(model.wv.index_to_key)
    assert all(vocab.counts[vocab.index[w]] == model.wv.get_vecattr(w, "count") for w in vocab.words[:500])
    assert list(vocab.counts) == sorted(vocab.counts, reverse=True) and vocab.counts.min() >= 5
    keep = E.keep_probabilities(vocab.counts, 1e-3)
    theirs = np.array([model.wv.get_vecattr(w, "sample_int") for w in vocab.words]) / 2**32
    np.testing.assert_allclose(keep, theirs, rtol=0, atol=1e-9)
    assert np.all(np.diff(keep) >= 0) and keep[-1] == 1.0 and keep[0] < 0.7   # frequent words dropped most
    assert np.all(E.keep_probabilities(vocab.counts, 0) == 1)
    with pytest.raises(ValueError, match="min_count must be a positive int"):
        E.Vocabulary.build(chunks, min_count=0)


def test_encode_drops_words_outside_the_vocabulary():
    vocab = E.Vocabulary.build([["a", "b", "a", "c", "a", "b"]], min_count=2)
    assert vocab.words == ["a", "b"] and list(vocab.counts) == [3, 2]
    assert vocab.encode([["c", "b", "zzz", "a"]])[0].tolist() == [1, 0]


def test_noise_distribution_is_unigram_to_the_three_quarters():
    counts = np.array([1000, 100, 10, 1])
    noise = E.noise_distribution(counts)
    assert torch.isclose(noise.sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(noise[0] / noise[1], torch.tensor(10 ** 0.75, dtype=torch.float64))
    unigram = counts / counts.sum()
    assert noise[0] < unigram[0] and noise[3] > unigram[3]   # flatter: rare words drawn more often


def test_skipgram_pairs_stay_in_the_window_and_in_their_chunk():
    ids = [np.arange(0, 50), np.arange(100, 130)]               # two chunks with disjoint word ids
    centres, contexts = E.skipgram_pairs(ids, window=3, keep=np.ones(200), rng=np.random.default_rng(0))
    assert np.all(np.abs(centres - contexts) <= 3) and np.all(centres != contexts)
    assert np.all((centres < 100) == (contexts < 100))          # no pair crosses the chunk boundary
    full, _ = E.skipgram_pairs(ids, window=1, keep=np.ones(200), rng=np.random.default_rng(0))
    assert len(full) == 2 * (49 + 29)                            # window 1: each neighbour, both directions


# ---------------------------------------------------------------- training

def test_training_lowers_the_loss_and_returns_gensim_vectors(tiny_run):
    first, last = np.mean(tiny_run.losses[:20]), np.mean(tiny_run.losses[-20:])
    assert first > 4.0 and last < first - 0.8, f"loss {first:.3f} → {last:.3f}"
    assert len(tiny_run.kv) == len(tiny_run.vocab) and tiny_run.kv.vector_size == 16
    assert tiny_run.kv.index_to_key[:5] == tiny_run.vocab.words[:5]
    np.testing.assert_array_equal(tiny_run.kv["state"],
                                  tiny_run.model.centre.weight[tiny_run.vocab.index["state"]].detach().numpy())
    batches, batch_size = len(tiny_run.losses), 1024          # one loss per batch; the last of each epoch partial
    assert (batches - 2) * batch_size < tiny_run.pairs <= batches * batch_size
    assert tiny_run.pairs_per_s == pytest.approx(tiny_run.pairs / tiny_run.seconds)


def test_training_is_reproducible_and_sparse_adam_learns_too(chunks, tiny_run):
    config = E.SkipGramConfig(dim=16, epochs=2, batch_size=1024, min_count=20, seed=0)
    started = time.perf_counter()
    again = E.train_skipgram(chunks[:60], config, progress=False)
    assert 0 < again.seconds <= time.perf_counter() - started      # the wall time of the call, not more
    np.testing.assert_array_equal(again.kv.vectors, tiny_run.kv.vectors)
    assert again.pairs == tiny_run.pairs
    adam = E.train_skipgram(chunks[:30], E.SkipGramConfig(dim=16, epochs=1, batch_size=512, min_count=20,
                                                          optimizer="sparse_adam", lr=0.01), progress=False)
    assert np.mean(adam.losses[-10:]) < np.mean(adam.losses[:10]) - 0.5


def test_bad_training_settings_are_named(chunks):
    with pytest.raises(ValueError, match="config.optimizer must be one of"):
        E.train_skipgram(chunks, E.SkipGramConfig(optimizer="adam"))
    with pytest.raises(ValueError, match="config.window must be a positive int, got 0"):
        E.train_skipgram(chunks, E.SkipGramConfig(window=0))
    with pytest.raises(TypeError, match="list of token lists"):
        E.train_skipgram(["a b c"])
    with pytest.raises(TypeError, match=r"config must be a SkipGramConfig, got dict .*SkipGramConfig\(\*\*settings\)"):
        E.train_skipgram(chunks, {"dim": 16})
    for field, value in (("dim", True), ("lr", "0.025"), ("seed", "0"), ("sample", -1e-3)):
        with pytest.raises(ValueError, match=f"{field} must be .*got {value!r}"):
            E.train_skipgram(chunks, E.SkipGramConfig(**{field: value}))
    with pytest.raises(TypeError, match="got str 'the cat sat' among the chunks: split each text into tokens"):
        E.Vocabulary.build(["the cat sat", "on the mat"], min_count=1)   # would count letters


# ---------------------------------------------------------------- evaluation against gensim, on GloVe

@pytest.fixture(scope="module")
def analogy_sample(tmp_path_factory):
    """The first 15 questions of every section of questions-words.txt (gensim takes ~1 ms a question)."""
    lines, taken = [], 0
    for line in open(E.test_data_path("questions-words.txt"), encoding="utf-8"):
        if line.startswith(": "):
            taken = 0
        elif taken >= 15:
            continue
        else:
            taken += 1
        lines.append(line.rstrip("\n"))
    path = tmp_path_factory.mktemp("analogies") / "sample.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines, str(path)


@pytest.mark.parametrize("restrict_vocab", [30_000, 300_000])
def test_analogy_accuracy_equals_gensims_per_section(glove, analogy_sample, restrict_vocab):
    lines, path = analogy_sample
    ours = E.analogy_accuracy(glove, lines, restrict_vocab=restrict_vocab)
    total, sections = glove.evaluate_word_analogies(path, restrict_vocab=restrict_vocab)
    theirs = {s["section"]: s for s in sections[:-1]}
    assert list(ours["sections"]) == list(theirs) and len(theirs) == 14
    for name, s in theirs.items():
        n = len(s["correct"]) + len(s["incorrect"])
        assert ours["sections"][name] == pytest.approx(len(s["correct"]) / n if n else 0.0, abs=1e-9), name
        assert (ours["correct"][name], ours["evaluated"][name]) == (len(s["correct"]), n), name
    assert ours["total"] == pytest.approx(total, abs=1e-9)
    assert ours["skipped"] == 14 * 15 - sum(ours["evaluated"].values())


@pytest.mark.parametrize("name", ["wordsim353.tsv", "simlex999.txt"])
def test_word_similarity_equals_gensims_evaluate_word_pairs(glove, name):
    path = E.test_data_path(name)
    ours = E.word_similarity(glove, path)
    _, spearman, oov_percent = glove.evaluate_word_pairs(path)
    assert ours.spearman == pytest.approx(spearman.statistic, abs=1e-12)
    assert ours.coverage == pytest.approx(1 - oov_percent / 100, abs=1e-12)
    assert E.word_similarity(glove, E.read_word_pairs(path)) == ours   # a list of pairs works the same


def test_stemmed_pairs_match_the_corpus_spelling(tiny_run):
    pairs = E.read_word_pairs(E.test_data_path("wordsim353.tsv"), stemmed=True)
    assert len(pairs) == 353 and ("stock", "phone", 1.62) in pairs
    assert ("televis", "radio", 6.77) in pairs          # "television" as the stemmed corpus spells it
    plain = E.word_similarity(tiny_run.kv, E.test_data_path("wordsim353.tsv"))
    assert E.word_similarity(tiny_run.kv, pairs).pairs > plain.pairs


def test_neighbours_and_analogies_on_glove(glove):
    ours = E.nearest_neighbours(glove, "frog", k=5)
    theirs = glove.most_similar("frog", topn=5)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)
    assert E.analogy(glove, "man", "king", "woman")[0][0] == "queen"
    assert [w for w, _ in E.analogy(glove, "man", "king", "woman", k=3)] == \
        [w for w, _ in glove.most_similar(positive=["king", "woman"], negative=["man"], topn=3)]


def test_out_of_vocabulary_words_are_named_with_a_suggestion(glove, tiny_run):
    with pytest.raises(KeyError, match="'Paris' is not in the vocabulary .*lower-cased: try 'paris'"):
        E.nearest_neighbours(glove, "Paris")
    with pytest.raises(E.OutOfVocabularyError, match=r"Porter-stemmed text: try stem\('government'\) = 'govern'"):
        E.analogy(tiny_run.kv, "government", "state", "war")
    with pytest.raises(KeyError, match="'qwxzvb' is not in the vocabulary .*subword models"):
        E.nearest_neighbours(glove, "qwxzvb")


def test_evaluation_input_errors(glove):
    with pytest.raises(ValueError, match="before any ': section' header"):
        E.analogy_accuracy(glove, ["king queen man woman"])
    with pytest.raises(ValueError, match="none of the 1 pairs"):
        E.word_similarity(glove, [("qwxzvb", "zzqqxx", 1.0)])



def test_the_result_of_training_is_not_the_vectors_and_other_wrong_arguments(tiny_run):
    with pytest.raises(TypeError, match=r"expected gensim KeyedVectors .*got SkipGramResult; pass result.kv"):
        E.nearest_neighbours(tiny_run, "war")
    with pytest.raises(ValueError, match="restrict_vocab must be None .*got 0"):
        E.nearest_neighbours(tiny_run.kv, "war", restrict_vocab=0)      # would answer []
    with pytest.raises(TypeError, match=r"project_2d takes an \(N, D\) array of vectors, got KeyedVectors"):
        E.project_2d(tiny_run.kv)


def test_project_2d_keeps_the_largest_variance_first():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(100, 5)) * np.array([10.0, 3.0, 1.0, 0.1, 0.1])
    projected = E.project_2d(points)
    assert projected.shape == (100, 2) and projected[:, 0].var() > projected[:, 1].var() > 1.0
    np.testing.assert_allclose(projected.mean(0), 0, atol=1e-9)
