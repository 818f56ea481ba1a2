"""Write the Colab settings of sftlab.course.chapters (GITHUB_REPO, COURSE_REF) everywhere they appear: the first
code cell of every notebook becomes colab_cell() (outputs untouched), and the README's "Open in Colab" links become
colab_url().

    python scripts/update_colab_cells.py          # after changing GITHUB_REPO, COURSE_REF or the cell
"""

import re

import nbformat

from sftlab.course.chapters import NOTEBOOK_DIR, REPO_ROOT, colab_cell, colab_url, existing_notebooks

COLAB_LINK = r"https://colab\.research\.google\.com/github/[^)\s]+/notebooks/{filename}"


def update_notebooks() -> list[str]:
    """Set the first code cell of every notebook to colab_cell(); the names of the notebooks changed."""
    changed = []
    for nb in existing_notebooks():
        path = NOTEBOOK_DIR / nb.filename
        notebook = nbformat.read(path, as_version=4)
        first = next(cell for cell in notebook.cells if cell.cell_type == "code")
        if first.source != colab_cell():
            first.source = colab_cell()
            nbformat.write(notebook, path)
            changed.append(nb.filename)
    return changed


def readme_with_colab_links(readme: str) -> str:
    """The README with every notebook's "Open in Colab" link set to colab_url()."""
    for nb in existing_notebooks():
        readme = re.sub(COLAB_LINK.format(filename=re.escape(nb.filename)), colab_url(nb), readme)
    return readme


def main() -> None:
    for name in update_notebooks():
        print(f"updated {name}")
    readme = REPO_ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    if readme_with_colab_links(text) != text:
        readme.write_text(readme_with_colab_links(text), encoding="utf-8")
        print("updated the README's Colab links")


if __name__ == "__main__":
    main()
