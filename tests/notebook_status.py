"""Which committed notebooks are still being rebuilt to the current conventions, and why.

A notebook listed here keeps its previous, working version; the convention tests it does not meet yet are
expected to fail (strict: the moment it meets them, the mark must go). Empty this when the rebuild lands.
"""

import pytest

REBUILDING: dict[str, str] = {}   # notebook id → why it is still being rebuilt


def notebook_params(paths):
    """pytest params for notebook paths, with a strict xfail on those still being rebuilt."""
    return [pytest.param(path, marks=pytest.mark.xfail(strict=True, reason=REBUILDING[path.name.split("_", 1)[0]]))
            if path.name.split("_", 1)[0] in REBUILDING else path for path in paths]
