"""Build notebooks/03_bert_classification.ipynb from the cells below (code + prose)."""
import json, sys
from pathlib import Path

CELLS = []
def md(text): CELLS.append(("markdown", text.strip("\n")))
def code(text): CELLS.append(("code", text.strip("\n")))

exec(open("drafts/03_rebuild/cells.py").read())

old = json.loads(Path("notebooks/03_bert_classification.ipynb").read_text())
colab = "".join(old["cells"][1]["source"])
cells = []
for kind, text in CELLS:
    if text == "@COLAB":
        text = colab
    import hashlib
    cell = {"cell_type": kind, "id": hashlib.sha1(f"{len(cells)}{text[:40]}".encode()).hexdigest()[:8],
            "metadata": {}, "source": text}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    cells.append(cell)
meta = {k: v for k, v in old["metadata"].items() if k != "widgets"}
nb = {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}
Path("notebooks/03_bert_classification.ipynb").write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
print(len(cells), "cells")
