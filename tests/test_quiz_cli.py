"""Tests for sftlab.course.quiz_cli: the terminal quiz driven by scripted stdin, and the markdown export."""

import argparse
import io
import json
from pathlib import Path

import pytest

from sftlab.course import quiz, quiz_cli

FIXTURES = Path(__file__).parent / "fixtures" / "interview"


@pytest.fixture(autouse=True)
def no_home_progress(tmp_path, monkeypatch):
    """Never touch ~/.sftlab: results go to a temporary file unless a test says otherwise."""
    monkeypatch.setenv("SFTLAB_QUIZ_FILE", str(tmp_path / "env_progress.json"))



def cli_args(*argv):
    parser = argparse.ArgumentParser(prog="sftlab quiz")
    quiz_cli.add_cli_arguments(parser)
    return parser.parse_args(["--bank", str(FIXTURES), *argv])


def run(*argv, keys=""):
    stdout = io.StringIO()
    code = quiz_cli.run_cli(cli_args(*argv), stdin=io.StringIO(keys), stdout=stdout)
    return code, stdout.getvalue()


def test_terminal_quiz_records_known_review_and_skip(tmp_path):
    path = tmp_path / "progress.json"
    # q1: Enter, k   q2: Enter, x (invalid), r   q3: s at the question
    code, out = run("--notebook", "00", "--progress-file", str(path), keys="\nk\n\nx\nr\ns\n")
    assert code == 0
    assert "[1/3] 00 · The SFT recipe · difficulty 1\nWhat is supervised fine-tuning?" in out
    assert "Training a pre-trained model further" in out and "logits = model(**batch).logits" in out
    assert "'x' is not a choice here. k = I knew it, r = review later, s = skip, q = quit" in out
    assert out.rstrip().endswith(f"1 known, 1 to review, 1 skipped, 0 not seen; results in {path}")
    saved = json.loads(path.read_text())
    assert {qid: result["status"] for qid, result in saved.items()} == {
        "00-what-is-sft": "known", "00-eval-mode": "review"}


def test_terminal_quiz_quits_and_ends_on_end_of_input(tmp_path):
    path = tmp_path / "progress.json"
    code, out = run("--progress-file", str(path), keys="\nk\nq\n")
    assert code == 0 and "1 known, 0 to review, 0 skipped, 4 not seen" in out
    code, out = run("--progress-file", str(path), keys="?\n")
    assert "'?' is not a choice here. Enter = show answer, s = skip, q = quit" in out
    assert "0 known, 0 to review, 0 skipped, 5 not seen" in out


def test_terminal_review_asks_only_marked_questions(tmp_path):
    path = tmp_path / "progress.json"
    quiz.record("02-mask-value", "review", path)
    code, out = run("--review", "--progress-file", str(path), "--lang", "zh", keys="\nk\n")
    assert "[1/1] 02 · Masks" in out and "被遮挡的分数设为什么值" in out and "设为 -inf" in out
    assert quiz.progress(path) == {"known": 1, "review": 0}


def test_terminal_quiz_reports_bad_arguments(capsys):
    assert run("--notebook", "42")[0] == 2
    assert "sftlab quiz: no notebook '42'" in capsys.readouterr().err
    assert run("--with-answers")[0] == 2
    assert "--with-answers go with --export md" in capsys.readouterr().err
    assert run("--notebook", "05")[1] == "No questions match (see --notebook, --tag, --review).\n"


def test_export_markdown_puts_answers_in_a_last_section(tmp_path):
    code, sheet = run("--export", "md")
    assert code == 0
    questions, answers = sheet.split("## Answers")
    assert questions.index("## 00 · Start here") < questions.index("### The SFT recipe") \
        < questions.index("### Pitfalls") < questions.index("## 02 · Attention")
    assert "**1.** What is supervised fine-tuning? *(difficulty 1)*" in questions
    assert "**2.** Why report metrics on a held-out split?" in questions, "grouped by topic"
    assert "labelled examples" not in questions and "**1.** Training a pre-trained model" in answers
    assert "```python\nmodel.eval()" in answers


def test_export_markdown_with_answers_inline_to_a_file(tmp_path):
    output = tmp_path / "sheet.md"
    code, out = run("--export", "md", "--with-answers", "--notebook", "02", "--output", str(output))
    assert code == 0 and out == f"wrote 2 questions to {output}\n"
    sheet = output.read_text()
    assert "## Answers" not in sheet and "## 00" not in sheet
    assert sheet.index("Why divide the scores") < sheet.index("*Answer.* Dot products grow") \
        < sheet.index("What value do masked")


def test_terminal_quiz_in_both_languages(tmp_path):
    code, out = run("--notebook", "02", "--lang", "both", "--progress-file", str(tmp_path / "p.json"),
                    keys="\nk\nq\n")
    assert code == 0
    assert "Why divide the scores by √d_k?\n为什么要把分数除以 √d_k？\n" in out
    assert "saturates and gradients vanish.\n\n点积随 d_k 增大" in out


def test_lang_option_rejects_other_values(capsys):
    with pytest.raises(SystemExit):
        cli_args("--lang", "fr")
    err = capsys.readouterr().err
    assert "invalid choice: 'fr'" in err and all(lang in err for lang in ("en", "zh", "both"))
    with pytest.raises(ValueError, match=r"lang must be one of \['en', 'zh', 'both'\], got 'de'"):
        quiz_cli.export_markdown([], lang="de")


def test_export_markdown_in_chinese_and_in_both_languages():
    code, sheet = run("--export", "md", "--lang", "zh", "--notebook", "02")
    assert "**1.** 为什么要把分数除以 √d_k？ *(difficulty 2)*" in sheet and "Why divide" not in sheet
    assert "**1.** 点积随 d_k 增大" in sheet.split("## Answers")[1]

    code, sheet = run("--export", "md", "--lang", "both", "--notebook", "02", "--with-answers")
    assert code == 0
    assert ("**1.** Why divide the scores by √d_k? *(difficulty 2)*\n\n为什么要把分数除以 √d_k？\n\n"
            "*Answer.* Dot products grow with d_k; unscaled, softmax saturates and gradients vanish.\n\n"
            "点积随 d_k 增大；不缩放时 softmax 饱和，梯度消失。\n\n### Masks") in sheet


def test_terminal_quiz_speaks_the_language_of_its_questions(tmp_path):
    code, out = run("--notebook", "02", "--lang", "zh", "--progress-file", str(tmp_path / "p.json"), keys="\n?\nk\n")
    assert code == 0
    assert "回车 = 显示答案，s = 跳过，q = 退出：" in out and "k = 我会，r = 稍后复习，s = 跳过，q = 退出：" in out
    assert "'?' 不是可选项。k = 我会，r = 稍后复习，s = 跳过，q = 退出" in out
    assert "· 难度 2" in out and "会 1 题，待复习 0 题，跳过 0 题，未看 1 题" in out
    assert "Enter = show answer" not in out and "known" not in out
    code, out = run("--notebook", "02", "--lang", "both", "--progress-file", str(tmp_path / "p.json"), keys="q\n")
    assert "Enter = show answer, s = skip, q = quit · 回车 = 显示答案，s = 跳过，q = 退出：" in out
    assert run("--notebook", "05", "--lang", "zh")[1] == "没有符合条件的题目（见 --notebook、--tag、--review）。\n"


def test_only_the_questions_of_notebooks_that_ship(monkeypatch, capsys):
    """A chapter still being written keeps its questions out of the quiz and the printed sheet."""
    from sftlab.course.chapters import notebook

    monkeypatch.setattr(quiz_cli, "existing_notebooks", lambda: [notebook("00")])
    code, sheet = run("--export", "md")
    assert code == 0 and "## 00 · Start here" in sheet and "## 02" not in sheet
    assert run("--notebook", "02")[0] == 2
    assert "notebook 02 (Attention and the Transformer block) is being written" in capsys.readouterr().err
    monkeypatch.setattr(quiz_cli, "existing_notebooks", lambda: [])      # a pip install without notebooks/: all
    assert "## 02 · Attention" in run("--export", "md")[1]
