"""SFT Lab: the helper package of a hands-on course on supervised fine-tuning.

Notebooks import from here; nothing here imports a notebook. Heavy libraries
(torch, transformers, gensim) are imported inside the functions that need them,
so `import sftlab` is instant.
"""

from sftlab.profiles import active, banner

__all__ = ["active", "banner"]
__version__ = "0.1.0"
