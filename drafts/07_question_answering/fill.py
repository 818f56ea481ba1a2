import json, sys
path, prose_file = sys.argv[1], sys.argv[2]
prose = {}
exec(open(prose_file).read(), {"prose": prose})
nb = json.load(open(path))
for c in nb["cells"]:
    if c["cell_type"] != "markdown": continue
    src = "".join(c["source"])
    for key, text in prose.items():
        if key in src:
            src = src.replace(key, text.strip("\n"))
    c["source"] = src.splitlines(keepends=True)
left = [k for c in nb["cells"] for k in ["PROSE_"] if k in "".join(c["source"])]
assert not left, "placeholders left"
json.dump(nb, open(path, "w"), indent=1, ensure_ascii=False); open(path, "a").write("\n")
print("filled")
