import sys, time, nbformat, os, resource
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
os.environ["SFTLAB_STATIC_PROGRESS"] = "1"
client = NotebookClient(nb, timeout=6000, kernel_name="python3", allow_errors=True,
                        resources={"metadata": {"path": os.path.dirname(path)}})
t = time.perf_counter()
client.execute()
wall = time.perf_counter() - t
ch = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"done wall {wall:.0f} s, children user {ch.ru_utime:.0f} s sys {ch.ru_stime:.0f} s")
for i, c in enumerate(nb.cells):
    for o in c.get("outputs", []):
        if o.get("output_type") == "error":
            print("ERROR in cell", i, o.get("ename"), o.get("evalue")[:300])
nbformat.write(nb, path)
