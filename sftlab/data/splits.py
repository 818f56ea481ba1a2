"""The DatasetDict every course loader returns: a `datasets.DatasetDict` that names its splits when asked for one
it lacks.

    load_sentiment()["valid"]   # UnknownSplitError: no split 'valid'; this DatasetDict has 'train', 'validation',
                                #   'test' (did you mean 'validation'?)

datasets' own DatasetDict says only `KeyError: 'valid'`. Its transforms (map, filter, cast, …) build a plain
DatasetDict; here they return a CourseDatasetDict again, so the check survives them; with_format and
with_transform copy the object and keep it too. What builds a new DatasetDict from the splits by hand
(`datasets.DatasetDict({...})`, `load_from_disk`, `dict.copy`) gets a plain one, with datasets' plain KeyError.
It pickles and hashes like a DatasetDict (datasets' cache fingerprints are unchanged in kind).
Imported by the loaders only, since it imports datasets (a second).
"""

import difflib
import functools

import datasets


class UnknownSplitError(KeyError):
    """A split name the DatasetDict does not have; a KeyError (as a dict raises) whose message reads normally."""

    def __str__(self):
        return str(self.args[0])


# Other names for a split, suggested when the DatasetDict has the split they point to ("dev" is nothing like
# "validation" to difflib; the LM corpus holds out "heldout", not "test").
SYNONYMS = {"dev": "validation", "val": "validation", "valid": "validation", "eval": "validation",
            "training": "train", "testing": "test", "test": "heldout", "validation": "heldout",
            "held_out": "heldout", "holdout": "heldout"}


class CourseDatasetDict(datasets.DatasetDict):
    """A DatasetDict whose missing split is an UnknownSplitError listing the splits it has."""

    def __getitem__(self, split):
        if isinstance(split, str) and split not in self:
            close = [SYNONYMS[split.lower()]] if SYNONYMS.get(split.lower()) in self else \
                difflib.get_close_matches(split, list(self), n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UnknownSplitError(f"no split {split!r}; this DatasetDict has "
                                    f"{', '.join(repr(s) for s in self)}{hint}")
        return super().__getitem__(split)


# The DatasetDict methods that return a new DatasetDict: wrapped so that the result is a CourseDatasetDict.
TRANSFORMS = ("map", "filter", "cast", "cast_column", "remove_columns", "rename_column", "rename_columns",
              "select_columns", "class_encode_column", "flatten", "flatten_indices", "sort", "shuffle",
              "align_labels_with_mapping")


def _keeping_the_class(name):
    method = getattr(datasets.DatasetDict, name)

    @functools.wraps(method)
    def transform(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        return CourseDatasetDict(result) if isinstance(result, datasets.DatasetDict) else result
    return transform


for _name in TRANSFORMS:
    setattr(CourseDatasetDict, _name, _keeping_the_class(_name))
