"""`sftlab quiz`: the interview questions as a terminal quiz, and as a printable markdown sheet.

    sftlab quiz --notebook 03 --lang zh      Enter reveals the answer; k knew it, r review later, s skip, q quit
    sftlab quiz --lang both                  each question and answer in English, then in Chinese
    sftlab quiz --review                     only the questions you marked "review later"
    sftlab quiz --export md --output q.md    a workshop sheet, answers in a last section

Results go to the same progress file as the notebook cards (sftlab.course.quiz).
"""

import sys
from functools import partial
from pathlib import Path

from sftlab.course.chapters import NOTEBOOK_IDS, existing_notebooks
from sftlab.course.chapters import notebook as course_notebook
from sftlab.course.quiz import (
    STATUSES,
    VIEWS,
    check_lang,
    load_bank,
    localized,
    marked_for_review,
    progress_file,
    record,
    select,
)


def add_cli_arguments(parser) -> None:
    """Add the `sftlab quiz` options to an argparse parser."""
    parser.add_argument("--notebook", metavar="ID", help="only this notebook's questions, e.g. 03")
    parser.add_argument("--lang", choices=VIEWS, default="en",
                        help="language of questions and answers: en, zh or both (English, then Chinese)")
    parser.add_argument("--tag", action="append", dest="tags", metavar="TAG",
                        help="only questions with this tag (repeatable)")
    parser.add_argument("--shuffle", action="store_true", help="ask in random order")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed for --shuffle (default 0)")
    parser.add_argument("--review", action="store_true", help='only questions you marked "review later"')
    parser.add_argument("--export", choices=["md"], help="write a printable markdown sheet instead")
    parser.add_argument("--output", metavar="FILE", help="file for --export (default: standard output)")
    parser.add_argument("--with-answers", action="store_true", help="--export: answers under each question")
    parser.add_argument("--progress-file", metavar="PATH", help="results file (default $SFTLAB_QUIZ_FILE or "
                                                "~/.sftlab/quiz_progress.json)")
    parser.add_argument("--bank", metavar="DIR", help="question bank folder (default data/interview)")


def run_cli(args, stdin=None, stdout=None) -> int:
    """Run `sftlab quiz` with the parsed `args`: the interactive quiz, or --export; returns the exit code."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    if not args.export and (args.output or args.with_answers):
        print("sftlab quiz: --output and --with-answers go with --export md", file=sys.stderr)
        return 2
    try:
        questions = shipped_only(load_bank(args.bank), args.notebook)
        if args.review:
            questions = marked_for_review(questions, args.progress_file)
        questions = select(questions, args.notebook, args.tags, args.shuffle, args.seed)
    except ValueError as error:
        print(f"sftlab quiz: {error}", file=sys.stderr)
        return 2
    if args.export:
        sheet = export_markdown(questions, args.lang, args.with_answers)
        if not args.output:
            stdout.write(sheet)
            return 0
        Path(args.output).write_text(sheet, encoding="utf-8")
        print(f"wrote {len(questions)} questions to {args.output}", file=stdout)
        return 0
    if not questions:
        print(TEXTS[args.lang]["none"], file=stdout)
        return 0
    return _quiz_loop(questions, args.lang, args.progress_file, stdin, stdout)


def shipped_only(questions, notebook_id=None) -> list:
    """The questions of notebooks that ship (present in notebooks/); ValueError when `notebook_id` names one that
    is still being written. An install without a notebooks/ folder (pip install, no clone) keeps them all."""
    shipped = {nb.id for nb in existing_notebooks()} or set(NOTEBOOK_IDS)
    if notebook_id is not None:
        entry = course_notebook(notebook_id)          # ValueError for an id the course does not have
        if entry.id not in shipped:
            raise ValueError(f"notebook {entry.id} ({entry.title}) is being written; its questions come with it")
    return [q for q in questions if q.notebook in shipped]


# What the terminal quiz says, in the language of --lang (the keys stay k, r, s, q and Enter).
TEXTS = {
    "en": dict(question="Enter = show answer, s = skip, q = quit: ",
               answer="k = I knew it, r = review later, s = skip, q = quit: ",
               difficulty="difficulty", not_a_choice="{reply!r} is not a choice here. {prompt}",
               summary="{known} known, {review} to review, {skip} skipped, {unseen} not seen; results in {path}",
               none="No questions match (see --notebook, --tag, --review)."),
    "zh": dict(question="回车 = 显示答案，s = 跳过，q = 退出：",
               answer="k = 我会，r = 稍后复习，s = 跳过，q = 退出：",
               difficulty="难度", not_a_choice="{reply!r} 不是可选项。{prompt}",
               summary="会 {known} 题，待复习 {review} 题，跳过 {skip} 题，未看 {unseen} 题；结果保存在 {path}",
               none="没有符合条件的题目（见 --notebook、--tag、--review）。"),
}
TEXTS["both"] = {key: text if key in ("not_a_choice", "summary") else f"{text.rstrip(': ')} · {TEXTS['zh'][key]}"
                 for key, text in TEXTS["en"].items()}
QUESTION_KEYS = {"": "show", "s": "skip", "q": "quit"}
ANSWER_KEYS = {"k": "known", "r": "review", "s": "skip", "q": "quit"}


def _quiz_loop(questions, lang, path, stdin, stdout) -> int:
    """Ask each question, reveal the answer on Enter, record k/r; a summary line at the end."""
    say = partial(print, file=stdout, flush=True)
    texts = TEXTS[lang]
    counts = {"known": 0, "review": 0, "skip": 0}
    try:
        for number, q in enumerate(questions, 1):
            say(f"\n[{number}/{len(questions)}] {q.notebook} · {q.topic} · {texts['difficulty']} {q.difficulty}")
            say(localized(q.question, lang))
            choice = _ask(texts["question"], QUESTION_KEYS, stdin, stdout, texts)
            if choice == "show":
                answer = localized(q.answer, lang, sep="\n\n")
                say(f"\n{answer}" + (f"\n\n{q.code.rstrip()}" if q.code else ""))
                choice = _ask(texts["answer"], ANSWER_KEYS, stdin, stdout, texts)
            if choice == "quit":
                break
            if choice in STATUSES:
                record(q.id, choice, path)
            counts[choice] += 1
    except KeyboardInterrupt:
        say()
    unseen = len(questions) - sum(counts.values())
    say("\n" + texts["summary"].format(**counts, unseen=unseen, path=progress_file(path)))
    return 0


def _ask(prompt, choices, stdin, stdout, texts=TEXTS["en"]) -> str:
    """Prompt until the reply is one of `choices` (a key -> action map); end of input means quit."""
    while True:
        stdout.write(prompt)
        stdout.flush()
        line = stdin.readline()
        if not line:
            return "quit"
        if line.strip().lower() in choices:
            return choices[line.strip().lower()]
        print(texts["not_a_choice"].format(reply=line.strip(), prompt=prompt.rstrip(": ：")), file=stdout)


def export_markdown(questions, lang="en", with_answers=False) -> str:
    """A printable sheet: questions grouped by notebook then topic; answers in a last section or inline.

    lang="both" puts each Chinese question and answer in its own paragraph under the English one.
    """
    check_lang(lang)
    groups = {}  # (notebook, topic) -> questions, in first-seen order
    for q in questions:
        groups.setdefault((q.notebook, q.topic), []).append(q)
    lines, answers, number, notebook_shown = ["# SFT Lab — interview questions", ""], [], 0, None
    for notebook_id, topic in sorted(groups, key=lambda key: NOTEBOOK_IDS.index(key[0])):
        if notebook_id != notebook_shown:
            lines += [f"## {notebook_id} · {course_notebook(notebook_id).title}", ""]
            notebook_shown = notebook_id
        lines += [f"### {topic}", ""]
        for q in groups[notebook_id, topic]:
            number += 1
            first, *rest = _parts(q.question, lang)
            lines += [f"**{number}.** {first} *(difficulty {q.difficulty})*", ""]
            lines += [line for chinese in rest for line in (chinese, "")]
            code = [f"```python\n{q.code.rstrip()}\n```", ""] if q.code else []
            answer = [line for part in _parts(q.answer, lang) for line in (part, "")] + code  # para, "", …
            if with_answers:
                lines += ["*Answer.* " + answer[0], *answer[1:]]
            else:
                answers += [f"**{number}.** " + answer[0], *answer[1:]]
    if not number:
        lines += ["_No questions match._", ""]
    if answers:
        lines += ['<div style="page-break-before: always"></div>', "", "## Answers", "", *answers]
    return "\n".join(lines).rstrip() + "\n"


def _parts(texts, lang) -> list[str]:
    """The paragraphs to print for one question or answer: [English], [Chinese] or [English, Chinese]."""
    check_lang(lang)
    return [texts[each].strip() for each in ("en", "zh") if lang in (each, "both")]
