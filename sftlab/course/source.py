"""Show the source of a package function or class in a notebook: the very code the tests check, no copy.

    show(train)                   # syntax-highlighted in Jupyter, plain text elsewhere, with file and lines
    show(MultiHeadAttention.forward)
"""

import inspect
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Source:
    """A piece of source code and where it lives; renders highlighted in Jupyter and as text elsewhere."""

    code: str
    where: str           # "sftlab/training.py, lines 120–160"

    def __str__(self) -> str:
        return f"# {self.where}\n{self.code}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer

        formatter = HtmlFormatter(noclasses=True, style="friendly")
        body = highlight(self.code, PythonLexer(), formatter)
        return (f'<div style="font-size:0.85em;color:#555;margin-bottom:2px">{self.where}</div>'
                f'<div style="max-height:32em;overflow:auto">{body}</div>')


def _relative(path: str) -> str:
    """The file's path from the repository root (sftlab/…), not one machine's absolute path."""
    parts = Path(path).resolve().parts
    if "sftlab" in parts:
        index = len(parts) - 1 - parts[::-1].index("sftlab")
        return "/".join(parts[index:])
    return Path(path).name


def show(obj) -> Source:
    """The source of a function, class or method (of sftlab or any Python library), with its file and lines."""
    target = inspect.unwrap(obj)
    target = getattr(target, "__func__", target)          # bound methods → their function
    try:
        lines, first = inspect.getsourcelines(target)
        path = inspect.getsourcefile(target)
    except (TypeError, OSError) as error:
        raise TypeError(f"show() needs a Python function, class or method defined in a source file, got "
                        f"{type(obj).__name__} {obj!r} ({error})") from error
    code = "".join(lines).rstrip("\n")
    last = first + len(lines) - 1
    return Source(code, f"{_relative(path)}, lines {first}–{last}")
