"""The course glossary in English and Chinese, and a short summary of each chapter.

Both live in data/glossary.yaml, next to the question bank:

    terms:
      - en: learning rate                 # as the notebooks write it; unique, like the Chinese term
        zh: 学习率
        chapters: ["00", "03"]            # every chapter that uses it, "00" … "07"
        definition: {en: ..., zh: ...}    # one line each
    summaries:
      "03": {en: ..., zh: ...}            # what the chapter teaches, 3–6 sentences

`show_glossary("03")` and `show_summary("03")` at the end of a notebook render an HTML table or
paragraph in Jupyter and print plain text anywhere else; `glossary("03")` returns the rows.
"""

import html
import re
from dataclasses import dataclass

from sftlab.course.chapters import NOTEBOOK_IDS
from sftlab.course.quiz import BANK_DIR, _in_kernel, check_lang, did_you_mean

GLOSSARY_FILE = BANK_DIR.parent / "glossary.yaml"  # the data folder is found as the question bank's is
CHAPTERS = tuple(NOTEBOOK_IDS)   # every chapter of the course map (chapters.NOTEBOOKS)


@dataclass(frozen=True)
class Term:
    """One glossary row."""

    en: str
    zh: str
    chapters: tuple[str, ...]
    definition: dict  # {"en": ..., "zh": ...}


# ---------------------------------------------------------------- reading and checking

def chapter_id(chapter) -> str:
    """"03" for 3, "3" or "03"; ValueError naming the chapters there are."""
    key = f"{int(chapter):02d}" if str(chapter).isdigit() else str(chapter)
    if key not in CHAPTERS:
        raise ValueError(f"no chapter {chapter!r}; expected one of {list(CHAPTERS)}{did_you_mean(chapter, CHAPTERS)}")
    return key


def _bilingual_problem(texts) -> str | None:
    """What is wrong with an {"en": ..., "zh": ...} pair; None when both are non-empty strings."""
    if not isinstance(texts, dict) or set(texts) != {"en", "zh"}:
        return f"must have exactly the keys ['en', 'zh'], got {texts!r:.80}"
    empty = [lang for lang in ("en", "zh") if not (isinstance(texts[lang], str) and texts[lang].strip())]
    return f"{' and '.join(empty)} is empty" if empty else None


def _term_problem(entry) -> str | None:
    """What is wrong with one entry of `terms`, in words; None when it is valid."""
    if not isinstance(entry, dict):
        return f"each term must be a mapping, got {entry!r:.60}"
    if set(entry) != {"en", "zh", "chapters", "definition"}:
        return f"keys must be en, zh, chapters, definition; got {sorted(entry, key=str)}"
    for lang in ("en", "zh"):
        if not (isinstance(entry[lang], str) and entry[lang].strip()):
            return f"the {lang} term is empty"
    chapters = entry["chapters"]
    if not isinstance(chapters, list) or not chapters or not set(chapters) <= set(CHAPTERS):
        return f"chapters must be a non-empty list drawn from {list(CHAPTERS)} (quoted), got {chapters!r}"
    if len(set(chapters)) != len(chapters):
        return f"chapters lists a chapter twice: {chapters}"
    problem = _bilingual_problem(entry["definition"])
    return f"definition {problem}" if problem else None


def _read(path=None):
    """(terms, summaries, problems) from the glossary file."""
    import yaml

    path = GLOSSARY_FILE if path is None else path
    if not path.exists():
        raise ValueError(f"no glossary at {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or set(data) != {"terms", "summaries"}:
        raise ValueError(f"{path.name} must hold a mapping with the keys 'terms' and 'summaries'")
    terms, problems, seen = [], [], {"en": {}, "zh": {}}  # seen: lang -> lower-cased term -> index
    for index, entry in enumerate(data["terms"] or []):
        name = entry.get("en", f"#{index}") if isinstance(entry, dict) else f"#{index}"
        problem = _term_problem(entry)
        if problem:
            problems.append(f"term {name!r}: {problem}")
            continue
        for lang in ("en", "zh"):
            key = entry[lang].strip().lower()
            if key in seen[lang]:
                problems.append(f"term {name!r}: the {lang} term {entry[lang]!r} is already listed "
                                f"(entry #{seen[lang][key]}); list each term once, with all its chapters")
            seen[lang].setdefault(key, index)
        terms.append(Term(entry["en"], entry["zh"], tuple(entry["chapters"]), dict(entry["definition"])))
    summaries = data["summaries"] or {}
    for key, texts in summaries.items():
        problem = f"unknown chapter {key!r}" if key not in CHAPTERS else _bilingual_problem(texts)
        if problem:
            problems.append(f"summary {key!r}: {problem}")
    return terms, summaries, problems


def check_glossary(path=None) -> list[str]:
    """Every problem in the glossary file, one line each; [] when all is well."""
    return _read(path)[2]


def glossary(chapter=None, path=None) -> list[Term]:
    """The terms of one chapter (or all), in file order; ValueError lists the file's problems."""
    terms, _, problems = _read(path)
    if problems:
        raise ValueError(f"the glossary has {len(problems)} problem(s):\n- " + "\n- ".join(problems))
    if chapter is None:
        return terms
    key = chapter_id(chapter)
    return [term for term in terms if key in term.chapters]


def summary(chapter, lang="zh", path=None) -> str:
    """What a chapter teaches, in "en", "zh" or "both" (English, then Chinese)."""
    check_lang(lang)
    key = chapter_id(chapter)
    summaries = _read(path)[1]
    if key not in summaries:
        raise ValueError(f"chapter {key} has no summary yet in the glossary file")
    texts = {lang_: " ".join(summaries[key][lang_].split()) for lang_ in ("en", "zh")}
    texts["zh"] = re.sub(r"(?<=[。！？])\s+", "", texts["zh"])  # no space between Chinese sentences
    return f"{texts['en']}\n\n{texts['zh']}" if lang == "both" else texts[lang]


# ---------------------------------------------------------------- showing

def format_glossary(terms, lang="both") -> str:
    """The terms as plain text: "english · 中文" and the definition(s), indented, under each."""
    check_lang(lang)
    lines = []
    for term in terms:
        lines.append(f"{term.en} · {term.zh}")
        lines += [f"    {term.definition[each]}" for each in ("en", "zh") if lang in (each, "both")]
    return "\n".join(lines)


def glossary_html(terms, lang="both") -> str:
    """The terms as an HTML table: English, 中文, then the definition column(s)."""
    check_lang(lang)
    shown = [each for each in ("en", "zh") if lang in (each, "both")]
    headers = ["English", "中文"] + [{"en": "Definition", "zh": "释义"}[each] for each in shown]
    head = "".join(f"<th style='text-align:left'>{h}</th>" for h in headers)
    rows = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(cell)}</td>"
                         for cell in [term.en, term.zh] + [term.definition[each] for each in shown]) + "</tr>"
        for term in terms)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def show_glossary(chapter=None, lang="both", path=None) -> None:
    """The chapter's glossary: an HTML table in Jupyter, plain text anywhere else."""
    check_lang(lang)
    terms = glossary(chapter, path)
    where = f"chapter {chapter_id(chapter)}" if chapter is not None else "the course"
    title = f"Glossary for {where} · 术语表: {len(terms)} terms"
    _show(f"<p><b>{html.escape(title)}</b></p>" + glossary_html(terms, lang),
          f"{title}\n" + format_glossary(terms, lang))


def show_summary(chapter, lang="zh", path=None) -> None:
    """The chapter's summary (Chinese by default): HTML in Jupyter, plain text anywhere else."""
    text = summary(chapter, lang, path)
    title = f"Chapter {chapter_id(chapter)} summary · 本章小结"
    paragraphs = "".join(f"<p>{html.escape(part)}</p>" for part in text.split("\n\n"))
    _show(f"<p><b>{title}</b></p>{paragraphs}", f"{title}\n{text}")


def _show(html_text, plain_text) -> None:
    """Display HTML (with a text/plain fallback) inside a Jupyter kernel; print the text anywhere else."""
    if not _in_kernel():
        print(plain_text)
        return
    from IPython.display import display

    display({"text/html": html_text, "text/plain": plain_text}, raw=True)
