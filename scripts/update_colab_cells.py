"""Write sftlab.course.colab_cell() into the first code cell of every notebook (outputs untouched).

    python scripts/update_colab_cells.py          # after changing COURSE_REF or the cell in sftlab/course.py
"""

import nbformat

from sftlab.course import NOTEBOOK_DIR, colab_cell, existing_notebooks


def main() -> None:
    for nb in existing_notebooks():
        path = NOTEBOOK_DIR / nb.filename
        notebook = nbformat.read(path, as_version=4)
        first = next(cell for cell in notebook.cells if cell.cell_type == "code")
        if first.source != colab_cell():
            first.source = colab_cell()
            nbformat.write(notebook, path)
            print(f"updated {nb.filename}")


if __name__ == "__main__":
    main()
