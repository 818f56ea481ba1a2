"""Interview question cards: the question bank, self-check cards in notebooks, a terminal quiz.

The bank is one YAML file per notebook, data/interview/NN.yaml ("00" also holds the
general SFT questions). Each file is a list of entries:

    - id: 02-why-scale-sqrt-dk     # unique across the bank
      notebook: "02"               # one of sftlab.course.chapters.NOTEBOOK_IDS, the file's own name
      topic: Scaled dot-product attention
      difficulty: 2                # 1 warm-up, 2 solid, 3 hard
      tags: [attention, softmax]   # lower case; `misconception` marks misconception items
      question: {en: ..., zh: ...}
      answer: {en: ..., zh: ...}
      code: ...                    # optional, shown with the answer
      see_also: "02 § Why divide by √d_k"   # optional

Three ways in: `cards(notebook="02")` at the end of a notebook (ipywidgets in Jupyter,
a printed list elsewhere), `sftlab quiz` in a terminal and `sftlab quiz --export md` for a
printable workshop sheet (both in sftlab/course/quiz_cli.py). Each shows English, Chinese or both
(lang="en" | "zh" | "both"; the cards also have a switch). What you mark is kept in
~/.sftlab/quiz_progress.json (or $SFTLAB_QUIZ_FILE, or `path=`), as
{question_id: {"status": "known" | "review", "updated": ISO time}}.
"""

import difflib
import html
import json
import os
import random
import re
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sftlab.course.chapters import DATA_DIR, NOTEBOOK_IDS
from sftlab.course.chapters import notebook as course_notebook

BANK_DIR = DATA_DIR / "interview"
LANGS = ("en", "zh")                 # the languages every question and answer is written in
VIEWS = ("en", "zh", "both")         # what cards, the terminal quiz and the export can show
VIEW_LABELS = {"en": "English", "zh": "中文", "both": "English + 中文"}  # the card switch's buttons
STATUSES = ("known", "review")
REQUIRED = ("id", "notebook", "topic", "difficulty", "tags", "question", "answer")
OPTIONAL = ("code", "see_also")


@dataclass(frozen=True)
class Question:
    """One validated entry of the bank."""

    id: str
    notebook: str                         # "00" … "05"
    topic: str
    difficulty: int                       # 1 … 3
    tags: tuple[str, ...]
    question: dict = field(hash=False)    # {"en": ..., "zh": ...}
    answer: dict = field(hash=False)      # {"en": ..., "zh": ...}
    code: str | None = None               # shown with the answer
    see_also: str | None = None           # where the course explains it


# ---------------------------------------------------------------- the bank

def validate_entry(entry, source) -> Question:
    """One bank entry as a Question; ValueError naming the file (`source`), the id and what is wrong."""
    if not isinstance(entry, dict):
        raise ValueError(f"{source}: each entry must be a mapping with keys {list(REQUIRED)}, "
                         f"got {type(entry).__name__} {entry!r:.60}")
    problem = _entry_problem(entry)
    if problem:
        raise ValueError(f"{source}: entry {entry.get('id', '<no id>')!r}: {problem}")
    fields = {key: entry.get(key) for key in REQUIRED + OPTIONAL}
    return Question(**{**fields, "tags": tuple(entry["tags"])})


def _entry_problem(entry) -> str | None:
    """What is wrong with one entry, in words; None when it is valid."""
    unknown = sorted(set(entry) - set(REQUIRED + OPTIONAL), key=str)
    if unknown:
        return f"unknown key(s) {unknown}; allowed keys are {list(REQUIRED + OPTIONAL)}"
    missing = [key for key in REQUIRED if key not in entry]
    if missing:
        return f"missing field(s) {missing}"
    for key in ("id", "topic", *OPTIONAL):
        if key in entry and not (isinstance(entry[key], str) and entry[key].strip()):
            return f"{key} must be a non-empty string, got {entry[key]!r}"
    if entry["notebook"] not in NOTEBOOK_IDS:
        quote = ' (write it quoted, like notebook: "02")' if isinstance(entry["notebook"], int) else ""
        return f"unknown notebook {entry['notebook']!r}{quote}; expected one of {NOTEBOOK_IDS}"
    if type(entry["difficulty"]) is not int or not 1 <= entry["difficulty"] <= 3:
        return f"difficulty must be an integer from 1 to 3, got {entry['difficulty']!r}"
    tags = entry["tags"]
    if not isinstance(tags, list) or not all(isinstance(t, str) and t and t == t.lower() for t in tags):
        return f"tags must be a list of lower-case strings, got {tags!r}"
    for key in ("question", "answer"):
        texts = entry[key]
        if not isinstance(texts, dict) or set(texts) != set(LANGS):
            return f"{key} must have exactly the keys {list(LANGS)}, got {texts!r:.80}"
        for lang in LANGS:
            if not (isinstance(texts[lang], str) and texts[lang].strip()):
                return f"{key}.{lang} is empty (every {key} needs both {' and '.join(LANGS)})"
    return None


def check_bank(directory=None) -> list[str]:
    """Every problem in the bank, one line each naming the file and the id; [] when all is well."""
    return _read_bank(directory)[1]


def load_bank(directory=None) -> list[Question]:
    """Every question in data/interview/*.yaml (or `directory`), validated; ValueError lists all problems."""
    questions, problems = _read_bank(directory)
    if problems:
        raise ValueError(f"the question bank has {len(problems)} problem(s):\n- " + "\n- ".join(problems))
    return questions


def _read_bank(directory):
    """(valid questions, problems) for every NN.yaml file in `directory`."""
    import yaml

    directory = Path(directory) if directory is not None else BANK_DIR
    if not directory.is_dir():
        raise ValueError(f"no question bank at {directory}: expected a folder of NN.yaml files")
    questions, problems, first_seen = [], [], {}  # first_seen: id -> file name
    for path in sorted(directory.glob("*.yaml")):
        try:
            entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except yaml.YAMLError as error:
            problems.append(f"{path.name}: not valid YAML: {error}")
            continue
        if not isinstance(entries, list):
            problems.append(f"{path.name}: expected a list of entries, got {type(entries).__name__}")
            continue
        for entry in entries:
            try:
                question = validate_entry(entry, path.name)
            except ValueError as error:
                problems.append(str(error))
                continue
            if question.notebook != path.stem:
                problems.append(f"{path.name}: entry {question.id!r}: notebook is {question.notebook!r} "
                                f"but the entry is in {path.name}; move it to {question.notebook}.yaml")
            elif question.id in first_seen:
                problems.append(f"duplicate id {question.id!r}: in {first_seen[question.id]} "
                                f"and in {path.name}")
            else:
                first_seen[question.id] = path.name
                questions.append(question)
    return questions, problems


def did_you_mean(value, choices) -> str:
    """" (did you mean '03'?)" naming the choices closest to a mistyped value ("ch3" → '03'), or "" if none is."""
    text = str(value).strip().lower()
    digits = "".join(c for c in text if c.isdigit())
    if text in choices:                                   # only the case was wrong: "Attention"
        close = [text]
    elif digits and f"{int(digits):02d}" in choices:
        close = [f"{int(digits):02d}"]
    else:
        close = difflib.get_close_matches(text, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def _tag_set(tags) -> set:
    """tags as a set: one tag ("attention") or a list of them."""
    if isinstance(tags, str):
        return {tags}
    if not isinstance(tags, (list, tuple, set)) or not all(isinstance(tag, str) for tag in tags):
        raise TypeError(f"tags must be a tag or a list of tags (strings such as 'attention'), got {tags!r:.60}")
    return set(tags)


def check_tags(tags, questions) -> None:
    """ValueError naming a tag that none of `questions` (the bank) has, with the closest tags they do have."""
    known = {tag for q in questions for tag in q.tags}
    unknown = sorted(_tag_set(tags) - known)
    if unknown:
        raise ValueError(f"no question has the tag {unknown[0]!r}{did_you_mean(unknown[0], known)}; tags are "
                         f"lower case, like 'attention' or 'misconception'")


def select(questions, notebook=None, tags=None, shuffle=False, seed=0) -> list[Question]:
    """The questions of one notebook (or all) having any of `tags`, in bank order or shuffled by `seed`.
    A notebook that does not exist is a ValueError listing the ids and suggesting the closest."""
    if notebook is not None:
        try:
            notebook_id = course_notebook(notebook).id  # ValueError listing the valid ids
        except ValueError as error:
            raise ValueError(f"{error}{did_you_mean(notebook, NOTEBOOK_IDS)}") from None
        questions = [q for q in questions if q.notebook == notebook_id]
    if tags:
        wanted = _tag_set(tags)
        questions = [q for q in questions if wanted & set(q.tags)]
    questions = list(questions)
    if shuffle:
        random.Random(seed).shuffle(questions)
    return questions


LANG_ALIASES = {"english": "en", "cn": "zh", "zh-cn": "zh", "chinese": "zh", "中文": "zh", "bilingual": "both"}


def check_lang(lang):
    """ValueError unless `lang` is one of VIEWS: "en", "zh" or "both" (the one check, for the glossary too)."""
    if lang not in VIEWS:
        meant = LANG_ALIASES.get(str(lang).lower(), str(lang).lower())
        hint = f" (did you mean {meant!r}?)" if meant in VIEWS else ""
        raise ValueError(f"lang must be one of {list(VIEWS)}, got {lang!r}{hint}")


def localized(texts, lang, sep="\n") -> str:
    """One {"en": ..., "zh": ...} text in `lang`; "both" gives the English, `sep`, then the Chinese."""
    check_lang(lang)
    if lang == "both":
        return texts["en"].strip() + sep + texts["zh"].strip()
    return texts[lang].strip()


# ---------------------------------------------------------------- progress file

def progress_file(path=None) -> Path:
    """Where results are kept: `path`, else $SFTLAB_QUIZ_FILE, else ~/.sftlab/quiz_progress.json."""
    default = Path.home() / ".sftlab" / "quiz_progress.json"
    return Path(path or os.environ.get("SFTLAB_QUIZ_FILE") or default).expanduser()


def load_progress(path=None) -> dict:
    """The saved results, {question_id: {"status": ..., "updated": ...}}; {} before the first mark."""
    file = progress_file(path)
    if not file.exists():
        return {}
    try:
        results = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{file} is not valid JSON ({error}); delete it to start afresh") from None
    if not isinstance(results, dict):
        raise ValueError(f"{file} should hold a JSON object of results, got {type(results).__name__}")
    return results


def record(question_id, status, path=None) -> None:
    """Save one result ("known" or "review") for `question_id`, replacing the file atomically."""
    if not isinstance(question_id, str) or not question_id.strip():
        error = TypeError if not isinstance(question_id, str) else ValueError
        raise error(f"question_id must be a question's id (a non-empty string such as '02-mask-value'), "
                    f"got {type(question_id).__name__} {question_id!r:.60}")
    if status not in STATUSES:
        raise ValueError(f"status must be one of {list(STATUSES)}, got {status!r}")
    file = progress_file(path)
    results = load_progress(file)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    results[question_id] = {"status": status, "updated": now}
    file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=file.parent, prefix=f".{file.name}.",
                                     suffix=".tmp", delete=False) as tmp:
        json.dump(results, tmp, ensure_ascii=False, indent=1, sort_keys=True)
    os.replace(tmp.name, file)  # readers see the old file or the new one, never half of one


def progress(path=None) -> dict:
    """How many questions you have marked, e.g. {"known": 12, "review": 3}."""
    counts = dict.fromkeys(STATUSES, 0)
    for result in load_progress(path).values():
        if isinstance(result, dict) and result.get("status") in counts:
            counts[result["status"]] += 1
    return counts


def marked_for_review(questions, path=None) -> list:
    """The questions whose saved status is "review"."""
    marked = {qid for qid, result in load_progress(path).items()
              if isinstance(result, dict) and result.get("status") == "review"}
    return [q for q in questions if q.id in marked]


# ---------------------------------------------------------------- cards

def format_questions(questions, lang="en", show_answers=False) -> str:
    """The questions as a numbered plain-text list; answers only with show_answers=True."""
    check_lang(lang)
    lines = []
    for number, q in enumerate(questions, 1):
        first, *rest = localized(q.question, lang).splitlines()  # "both": the Chinese on its own line
        lines.append(f"{number}. [{q.notebook} · {q.topic} · difficulty {q.difficulty}] {first}")
        lines += [_indent(line) for line in rest]
        if show_answers:
            lines.append(_indent(f"Answer: {localized(q.answer, lang)}" + (f"\n{q.code}" if q.code else "")))
    return "\n".join(lines)


def _indent(text, prefix="   "):
    return "\n".join(prefix + line for line in text.strip().splitlines())


def _html(text):
    """Escaped text with `code` spans and line breaks, for an HTML widget."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text.strip())).replace("\n", "<br>")


class CardDeck:
    """Question cards one at a time: show the answer, mark it known or for review, move on.

    The button handlers are plain methods, so tests click them: `deck.known_button.click()`;
    the language switch is a ToggleButtons, so tests set `deck.lang_switch.value = "zh"`.
    """

    def __init__(self, questions, lang="en", path=None, text=None):
        import ipywidgets as widgets

        check_lang(lang)
        if not questions:
            raise ValueError("a CardDeck needs at least one question")
        load_progress(path)  # a broken results file fails here, not later inside a button handler
        self.questions, self.lang, self.path = list(questions), lang, path
        self.text = text or format_questions(self.questions, lang)  # what viewers without widgets show
        self.index = 0      # the card shown; len(questions) once done
        self.results = {}   # question id -> "known" | "review", this session
        self.card = widgets.HTML()
        self.answer = widgets.HTML(layout=widgets.Layout(display="none"))
        self.show_button = widgets.Button(description="Show answer")
        self.known_button = widgets.Button(description="I knew it", button_style="success")
        self.review_button = widgets.Button(description="Review later", button_style="warning")
        self.status = widgets.Label()
        self.lang_switch = widgets.ToggleButtons(options=[(VIEW_LABELS[v], v) for v in VIEWS], value=lang,
                                                 style={"button_width": "auto"})
        self.lang_switch.observe(lambda change: self.set_lang(change["new"]), names="value")
        self.show_button.on_click(lambda _: self.show_answer())
        self.known_button.on_click(lambda _: self.mark("known"))
        self.review_button.on_click(lambda _: self.mark("review"))
        buttons = widgets.HBox([self.show_button, self.known_button, self.review_button])
        self.widget = widgets.VBox([self.lang_switch, self.card, self.answer, buttons, self.status])
        self._render()

    @property
    def done(self) -> bool:
        """True once every card has been marked."""
        return self.index >= len(self.questions)

    def progress_text(self) -> str:
        """Like "7 of 14 — 5 known": the card shown, how many cards, how many you knew."""
        known = sum(status == "known" for status in self.results.values())
        return f"{min(self.index + 1, len(self.questions))} of {len(self.questions)} — {known} known"

    def show_answer(self) -> None:
        """Reveal the answer (and code) of the card shown."""
        if not self.done:
            self.answer.layout.display = None

    def set_lang(self, lang) -> None:
        """Show the cards in "en", "zh" or "both"; the card and its answer stay where they are."""
        check_lang(lang)
        self.lang = lang
        if self.lang_switch.value != lang:
            self.lang_switch.value = lang  # calls set_lang again, which then finds nothing to change
        self._fill()

    def mark(self, status) -> None:
        """Record the card shown as "known" or "review", save it, and show the next card."""
        if self.done:
            return
        question = self.questions[self.index]
        record(question.id, status, self.path)
        self.results[question.id] = status
        self.index += 1
        self._render()

    def _render(self):
        """Show the current card with its answer hidden (or the closing line once done)."""
        self.status.value = self.progress_text()
        self.answer.layout.display = "none"
        self._fill()

    def _fill(self):
        """Write the current card's question and answer in self.lang into the HTML widgets."""
        if self.done:
            review = sum(status == "review" for status in self.results.values())
            self.card.value = (f"<b>Done.</b> {len(self.results) - review} known, {review} to review — "
                               "<code>sftlab.course.quiz.review()</code> shows the ones to review.")
            for button in (self.show_button, self.known_button, self.review_button):
                button.disabled = True
            return
        q = self.questions[self.index]
        shown = LANGS if self.lang == "both" else (self.lang,)  # "both": English, then Chinese
        question = "".join(f"<p lang='{lang}'><b>{_html(q.question[lang])}</b></p>" for lang in shown)
        answer = "".join(f"<p lang='{lang}'>{_html(q.answer[lang])}</p>" for lang in shown)
        self.card.value = f"<small>{html.escape(q.topic)} · difficulty {q.difficulty}</small>{question}"
        code = f"<pre>{html.escape(q.code)}</pre>" if q.code else ""
        see_also = f"<p><small>See {html.escape(q.see_also)}</small></p>" if q.see_also else ""
        self.answer.value = f"{answer}{code}{see_also}"

    def _repr_mimebundle_(self, **kwargs):
        """The widget, plus the question list as text/plain for viewers without widgets."""
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = self.text
        return bundle


def cards(notebook=None, lang="en", shuffle=False, seed=0, tags=None, path=None,
          show_answers=False,   # plain-text list only: print the answers too
          directory=None):      # question bank folder; default data/interview
    """Interview question cards for one notebook (or all): widgets in Jupyter, a printed list elsewhere.

    lang: "en", "zh" or "both" (English, then Chinese); the cards also have a switch.
    """
    check_lang(lang)
    bank = load_bank(directory)
    if tags:
        check_tags(tags, bank)    # a mistyped tag is named, not shown as "no questions tagged … yet"
    questions = select(bank, notebook, tags, shuffle, seed)
    where = f"notebook {course_notebook(notebook).id}" if notebook is not None else "the course"
    with_tags = f" tagged {sorted({tags} if isinstance(tags, str) else set(tags))}" if tags else ""
    _show(questions, lang, path, show_answers, title=f"Interview questions for {where}{with_tags}",
          empty=f"No interview questions for {where}{with_tags} yet.")


def review(lang="en", path=None, directory=None):
    """Cards for every question you marked "review later", across notebooks and sessions."""
    check_lang(lang)
    questions = marked_for_review(load_bank(directory), path)
    _show(questions, lang, path, False, title="Questions you marked for review",
          empty=f"Nothing marked for review in {progress_file(path)}.")


def _show(questions, lang, path, show_answers, title, empty):
    """Display a CardDeck inside a Jupyter kernel; print the numbered list anywhere else."""
    if not questions:
        print(empty)
        return
    hidden = "" if show_answers else " (answers hidden)"
    text = f"{title}: {len(questions)}{hidden}\n" + format_questions(questions, lang, show_answers)
    if not _in_kernel():
        print(text)
        return
    from IPython.display import display

    display(CardDeck(questions, lang, path, text=text))


def _in_kernel() -> bool:
    """True inside a Jupyter or Colab kernel, where widgets can be shown."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None
