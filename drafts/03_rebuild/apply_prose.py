"""Replace PROSE_* placeholders in the executed notebook (markdown only; outputs untouched) and in cells.py."""
import json, sys
from pathlib import Path
exec(open("drafts/03_rebuild/prose.py").read())          # defines PROSE = {"PROSE_X": "text", ...}
path = Path("notebooks/03_bert_classification.ipynb")
nb = json.loads(path.read_text())
done = set()
for cell in nb["cells"]:
    if cell["cell_type"] != "markdown":
        continue
    src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    for key, text in sorted(PROSE.items(), key=lambda kv: -len(kv[0])):
        if key in src:
            src = src.replace(key, text.strip("\n")); done.add(key)
    cell["source"] = src
missing = [k for k in PROSE if k not in done]
left = [c["source"][:40] for c in nb["cells"] if c["cell_type"] == "markdown" and "PROSE_" in c["source"]]
print("not found:", missing, "still placeholders:", left)
path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
cells = Path("drafts/03_rebuild/cells.py").read_text()
for key, text in sorted(PROSE.items(), key=lambda kv: -len(kv[0])):
    cells = cells.replace(key, text.strip("\n"))
Path("drafts/03_rebuild/cells_final.py").write_text(cells)
