"""Word vectors: skip-gram with negative sampling (word2vec) from scratch, and how to evaluate any vectors.

    skipgram.py     the corpus, vocabulary, subsampling, noise distribution, SkipGramNS and train_skipgram
    evaluation.py   nearest neighbours, analogies, word similarity and analogy accuracy equal to gensim's,
                    a 2-D projection

    chunks = load_corpus()
    result = train_skipgram(chunks, SkipGramConfig(dim=50, epochs=1))
    nearest_neighbours(result.kv, "king"), analogy(glove, "man", "king", "woman")

Every name is importable from sftlab.embeddings itself (`from sftlab.embeddings import analogy`).
Shapes (sftlab/__init__.py): V vocabulary, D vector size, B batch, K negatives per pair, N pairs or points.
"""

from sftlab.embeddings.evaluation import (
    OutOfVocabularyError,
    WordSimilarity,
    analogy,
    analogy_accuracy,
    nearest_neighbours,
    project_2d,
    read_analogies,
    read_word_pairs,
    word_index,
    word_similarity,
)
from sftlab.embeddings.skipgram import (
    CORPUS_FILE,
    OPTIMIZERS,
    SkipGramConfig,
    SkipGramNS,
    SkipGramResult,
    Vocabulary,
    keep_probabilities,
    load_corpus,
    noise_distribution,
    skipgram_pairs,
    stem,
    test_data_path,
    to_keyed_vectors,
    train_skipgram,
)

__all__ = [
    "CORPUS_FILE", "OPTIMIZERS", "OutOfVocabularyError", "SkipGramConfig", "SkipGramNS", "SkipGramResult",
    "Vocabulary", "WordSimilarity", "analogy", "analogy_accuracy", "keep_probabilities", "load_corpus",
    "nearest_neighbours", "noise_distribution", "project_2d", "read_analogies", "read_word_pairs", "skipgram_pairs",
    "stem", "test_data_path", "to_keyed_vectors", "train_skipgram", "word_index", "word_similarity",
]
