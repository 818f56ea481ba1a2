"""SFT Lab: the helper package of a hands-on course on supervised fine-tuning.

The top level is the syllabus — the machine learning the chapters teach; sftlab.course is the course's own
machinery (docs/architecture.md). Notebooks import from here; nothing here imports a notebook. Heavy libraries
(torch, transformers, gensim) are imported inside the functions that need them,
so `import sftlab` is instant.

Shape legend, one letter per meaning across the whole package (docstrings and `# (B, T, D)` comments):

    B   batch: sequences (or pairs, questions) processed together
    T   sequence length in tokens; in attention the query (target) length
    S   source / key length in attention (S = T in self-attention)
    W   words in a sentence (NER labels words, the model sees T sub-word tokens)
    H   attention heads
    D   model width: hidden size, embedding / word-vector size
    Dh  head size (D = H·Dh)
    F   feed-forward (intermediate) width
    L   layers
    P   positions: the longest sequence a model reads (max_position_embeddings)
    V   vocabulary size
    C   classes or labels (a classifier's or a token tagger's outputs)
    K   candidates kept or drawn: beams, negatives per pair, the top k
    N   examples: rows of a data set, pairs in an epoch, points to plot
    R   rows searched: the `restrict_vocab` most frequent words
"""

from sftlab.course.profiles import active, banner
from sftlab.course.source import show

__all__ = ["active", "banner", "show"]
__version__ = "0.1.0"
