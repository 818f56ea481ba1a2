"""Practice copies of the notebooks: the code that builds something from scratch cleared, for you to write.

    sftlab practice 02        writes notebooks/02_attention_practice.ipynb beside the original

Learning by redoing, as fastbook's "clean" notebooks do. Which cells are cleared is marked in the notebook, by
the cell tag `practice`, never guessed. In a marked cell

- a function or class keeps its signature and docstring; its body becomes `raise NotImplementedError`;
- other code is cleared to a prompt that names what to write: each name the rest of the notebook uses, with
  the comment of the line that made it;
- imports, checks (sftlab.course.checks' `same`, `holds`, `at_least`, `at_most`, the exercises' `check_*`, `assert`)
  and plots (`plot_*`) stay, so the checks tell you whether what you wrote is right.

Prose and every other cell stay as they are; every output is removed. The copy is yours: it is never
overwritten unless you ask (`--force`), and git ignores it.
"""

import ast
import io
import json
import tokenize
from pathlib import Path

from sftlab.course.chapters import NOTEBOOK_DIR, existing_notebooks, notebook

TAG = "practice"                                     # the cell tag that marks a cell to clear
SUFFIX = "_practice"                                 # 02_attention.ipynb -> 02_attention_practice.ipynb
CHECKS = ("same", "holds", "at_least", "at_most")    # sftlab.course.checks: they stay in a cleared cell
MARK = "✎"                                           # marks what the learner writes
STUB = f"raise NotImplementedError  # {MARK} your code here"


def practice_path(notebook_id: str) -> Path:
    """Where the practice copy of a course notebook goes: beside it, with _practice in its name."""
    original = NOTEBOOK_DIR / notebook(notebook_id).filename
    return original.with_name(original.stem + SUFFIX + original.suffix)


def is_practice_cell(cell: dict) -> bool:
    """True for a code cell tagged `practice`."""
    return cell["cell_type"] == "code" and TAG in cell.get("metadata", {}).get("tags", [])


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _called_name(statement: ast.stmt) -> str | None:
    """The name a top-level call statement calls (`same(...)` -> "same", `fig = plot_x(...)` -> "plot_x")."""
    value = statement.value if isinstance(statement, ast.Expr | ast.Assign) else None
    if isinstance(value, ast.Call):
        func = value.func
        return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return None


def _kept(statement: ast.stmt) -> bool:
    """Imports, checks and plots stay in a cleared cell."""
    if isinstance(statement, ast.Import | ast.ImportFrom | ast.Assert):
        return True
    name = _called_name(statement) or ""
    return name in CHECKS or name.startswith(("check_", "plot_"))


class _Bound(ast.NodeVisitor):
    """Names a statement binds in the notebook's namespace (not inside functions, lambdas or comprehensions)."""

    def __init__(self):
        self.names = {}   # name -> line of its first binding

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Store):
            self.names.setdefault(node.id, node.lineno)

    def _skip(self, node):
        pass

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = _skip
    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _skip


def _free_names(code: str) -> tuple[set[str], set[str]]:
    """(names `code` reads from earlier cells, names it binds at the top level). A name is read from earlier
    unless the cell bound it before (above that line) or it is local to a function, lambda or comprehension.
    Code that does not parse (an IPython magic) reads every word in it."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        import re

        return set(re.findall(r"[A-Za-z_]\w*", code)), set()
    top = _Bound()
    top.visit(tree)
    local = {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}
    local |= {name.id for node in ast.walk(tree) if isinstance(node, ast.comprehension)
              for name in ast.walk(node.target) if isinstance(name, ast.Name)}
    read = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
            and node.id not in local and not top.names.get(node.id, node.lineno + 1) < node.lineno}
    return read, set(top.names)


def _needed_later(cells: list[str]) -> set[str]:
    """The names these cells, run in order, read from earlier cells; none after a cell has bound it anew."""
    needed, rebound = set(), set()
    for code in cells:
        read, top = _free_names(code)
        needed |= read - rebound
        rebound |= top
    return needed


def _comments(source: str) -> dict[int, str]:
    """The comment at the end of each line, by line number."""
    found = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found[token.start[0]] = token.string.lstrip("#").strip()
    return found


def _stub(definition: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, lines: list[str]) -> list[str]:
    """A function's or class's signature and docstring, its body replaced by `raise NotImplementedError`."""
    body = definition.body
    has_doc = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
        and isinstance(body[0].value.value, str)
    start = min([definition.lineno] + [d.lineno for d in definition.decorator_list])
    if body[0].lineno == definition.lineno:
        raise ValueError(f"a cell tagged {TAG!r} must have one statement per line: def {definition.name}(…): …")
    end = body[0].end_lineno if has_doc else body[0].lineno - 1
    indent = " " * body[0].col_offset
    if isinstance(definition, ast.ClassDef):   # a class keeps the signature of each method
        methods = [s for s in body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]
        stubs = [line for m in methods for line in ["", *_stub(m, lines)]][1:] if methods else [indent + STUB]
        return lines[start - 1:end] + stubs
    return lines[start - 1:end] + [indent + STUB]


def clear_cell(source: str, later_cells: list[str] = (), original_name: str = "the original notebook") -> str:
    """The practice version of one cell's code (see the module docstring); `later_cells`, the code of the cells
    after it, decides which of the cleared names the prompt lists."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ValueError(f"a cell tagged {TAG!r} must be plain Python (no magics): {error}") from None
    lines, comments = source.splitlines(), _comments(source)
    ends = [s.end_lineno for s in tree.body]
    starts = [min([s.lineno] + [d.lineno for d in getattr(s, "decorator_list", [])]) for s in tree.body]
    if any(start <= end for start, end in zip(starts[1:], ends, strict=False)):
        raise ValueError(f"a cell tagged {TAG!r} must have one statement per line: {source[:80]!r}")

    definitions = [s for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
    # A cell that defines functions: you write their bodies, the code that uses them stays. Otherwise the
    # code is cleared, but for imports, checks and plots.
    cleared = [] if definitions else [s for s in tree.body if not _kept(s)]
    kept = [s for s in tree.body if s not in cleared and s not in definitions]
    bound = _Bound()
    for statement in cleared:
        bound.visit(statement)
    needed = _needed_later(["\n".join(ast.get_source_segment(source, s) for s in kept), *later_cells])
    names = [n for n in bound.names if n in needed] or list(bound.names)

    what = [f"`{d.name}`" for d in definitions] + ([f"the code that defines {', '.join(names)}"] if names else [])
    what = ", ".join(what[:-1]) + " and " + what[-1] if len(what) > 1 else what[0]
    header = [f"# {MARK} Practice: write {what}; the checks below say whether it is right",
              f"#   (the solution: this cell in {original_name})"]
    prompt = [f"# {MARK} {name:<{max(map(len, names))}}  {comments.get(bound.names[name], '')}".rstrip()
              for name in names]

    out, prompted, previous_end = list(header), False, 0
    for statement, start in zip(tree.body, starts, strict=True):
        gap = lines[previous_end:start - 1]             # blank lines and comments before the statement
        previous_end = statement.end_lineno
        if statement in cleared:                        # its comments go with it; one prompt for them all
            if not prompted:
                out += [line for line in gap if not line.strip()][:1] + prompt
                prompted = True
            continue
        out += gap + (_stub(statement, lines) if statement in definitions else lines[start - 1:statement.end_lineno])
    return "\n".join(out).rstrip() + "\n"


def practice_notebook(nb: dict, original_name: str) -> dict:
    """The practice copy of a notebook (nbformat JSON as a dict): tagged cells cleared, every output removed."""
    cells = nb["cells"]
    tagged = [i for i, cell in enumerate(cells) if is_practice_cell(cell)]
    if not tagged:
        raise ValueError(f"{original_name} has no cell tagged {TAG!r}: nothing to practise")
    copy = json.loads(json.dumps(nb))
    for i, cell in enumerate(copy["cells"]):
        if cell["cell_type"] != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        if i in tagged:
            later = [_source(c) for c in cells[i + 1:] if c["cell_type"] == "code"]
            cell["source"] = _lines(clear_cell(_source(cell), later, original_name))
    intro = {"cell_type": "markdown", "id": "practice-copy", "metadata": {},
             "source": _lines(f"**Practice copy of `{original_name}`.** The {len(tagged)} cells marked {MARK} are "
                              "cleared: write their code yourself, then run the cell and the checks after it — they "
                              "say whether it is right. Everything else is the original; if you are stuck, the "
                              "solution is the same cell in the original notebook.")}
    copy["cells"].insert(1 if cells and cells[0]["cell_type"] == "markdown" else 0, intro)
    copy["metadata"].pop("widgets", None)       # widget states belong to the removed outputs
    return copy


def _lines(text: str) -> list[str]:
    """A cell source as nbformat stores it: a list of lines, each but the last ending in a newline."""
    return text.rstrip("\n").splitlines(keepends=True)


def write_practice_copy(notebook_id: str, force: bool = False) -> Path:
    """Write the practice copy of a shipped notebook beside it; FileExistsError if one is there (your work),
    unless force=True."""
    entry = notebook(notebook_id)
    if entry not in existing_notebooks():
        raise FileNotFoundError(f"notebook {entry.id} ({entry.title}) is being written and does not ship yet; "
                                f"notebooks: {', '.join(nb.id for nb in existing_notebooks())}")
    original, target = NOTEBOOK_DIR / entry.filename, practice_path(entry.id)
    if target.exists() and not force:
        raise FileExistsError(f"{target.name} exists (your practice work?); to start again from scratch: "
                              f"sftlab practice {entry.id} --force")
    nb = json.loads(original.read_text(encoding="utf-8"))
    target.write_text(json.dumps(practice_notebook(nb, entry.filename), indent=1, sort_keys=True,
                                 ensure_ascii=False) + "\n", encoding="utf-8")
    return target
