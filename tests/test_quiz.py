"""Tests for sftlab.course.quiz: entry validation, the progress file, cards (clicked through their handlers).

The questions come from tests/fixtures/interview/; tests/test_question_bank.py checks the course bank.
"""

import json
import re
from pathlib import Path

import pytest

from sftlab.course import quiz
from sftlab.course.chapters import NOTEBOOK_IDS

FIXTURES = Path(__file__).parent / "fixtures" / "interview"


def good_entry(**changes):
    entry = {
        "id": "02-toy", "notebook": "02", "topic": "Masks", "difficulty": 2, "tags": ["attention"],
        "question": {"en": "Why -inf?", "zh": "为什么是 -inf？"},
        "answer": {"en": "exp(-inf) = 0.", "zh": "exp(-inf) = 0。"},
    }
    entry.update(changes)
    return {key: value for key, value in entry.items() if value is not None}


@pytest.fixture
def bank():
    return quiz.load_bank(FIXTURES)


@pytest.fixture(autouse=True)
def no_home_progress(tmp_path, monkeypatch):
    """Never touch ~/.sftlab: results go to a temporary file unless a test says otherwise."""
    monkeypatch.setenv("SFTLAB_QUIZ_FILE", str(tmp_path / "env_progress.json"))


# ---------------------------------------------------------------- validation

def test_validate_entry_accepts_a_good_entry():
    question = quiz.validate_entry(good_entry(code="x = 1", see_also="02 § Masks"), "02.yaml")
    assert question == quiz.Question("02-toy", "02", "Masks", 2, ("attention",), good_entry()["question"],
                                     good_entry()["answer"], code="x = 1", see_also="02 § Masks")


@pytest.mark.parametrize("changes, message", [
    ({"answer": None}, r"02\.yaml: entry '02-toy': missing field\(s\) \['answer'\]"),
    ({"answer": {"en": "yes", "zh": ""}}, r"02\.yaml: entry '02-toy': answer\.zh is empty"),
    ({"answer": {"en": "yes", "zh": None}}, r"answer\.zh is empty"),
    ({"question": {"en": "Why?"}}, r"question must have exactly the keys \['en', 'zh'\]"),
    ({"notebook": "09"}, r"unknown notebook '09'; expected one of " + re.escape(str(NOTEBOOK_IDS))),
    ({"notebook": 2}, r"unknown notebook 2 \(write it quoted"),
    ({"difficulty": 4}, r"difficulty must be an integer from 1 to 3, got 4"),
    ({"difficulty": "2"}, r"difficulty must be an integer from 1 to 3, got '2'"),
    ({"anwser": "typo"}, r"unknown key\(s\) \['anwser'\]; allowed keys are \['id', 'notebook'"),
    ({"tags": ["Attention"]}, r"tags must be a list of lower-case strings, got \['Attention'\]"),
    ({"tags": "attention"}, r"tags must be a list"),
    ({"topic": ""}, r"topic must be a non-empty string"),
    ({"id": None}, r"02\.yaml: entry '<no id>': missing field\(s\) \['id'\]"),
])
def test_validate_entry_names_file_id_and_problem(changes, message):
    with pytest.raises(ValueError, match=message):
        quiz.validate_entry(good_entry(**changes), "02.yaml")


def test_validate_entry_rejects_a_non_mapping():
    with pytest.raises(ValueError, match=r"01\.yaml: each entry must be a mapping.*got str"):
        quiz.validate_entry("id: oops", "01.yaml")


def write_bank(directory, files):
    import yaml

    directory.mkdir()
    for name, entries in files.items():
        (directory / name).write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    return directory


def test_load_bank_reads_the_fixture_bank(bank):
    assert [q.id for q in bank] == ["00-what-is-sft", "00-eval-mode", "00-held-out",
                                    "02-why-scale-sqrt-dk", "02-mask-value"]
    assert bank[1].code.startswith("model.eval()") and bank[1].tags == ("pitfall", "misconception")


def test_load_bank_reports_duplicate_ids_with_both_files(tmp_path):
    entry01 = good_entry(id="dup", notebook="01")
    directory = write_bank(tmp_path / "bank", {"01.yaml": [entry01], "02.yaml": [good_entry(id="dup")]})
    with pytest.raises(ValueError, match=r"duplicate id 'dup': in 01\.yaml and in 02\.yaml"):
        quiz.load_bank(directory)


def test_load_bank_lists_every_problem_at_once(tmp_path):
    entries = [good_entry(id="a", difficulty=9), good_entry(id="b", notebook="03"), good_entry(id="c")]
    directory = write_bank(tmp_path / "bank", {"02.yaml": entries})
    problems = quiz.check_bank(directory)
    assert problems == [
        "02.yaml: entry 'a': difficulty must be an integer from 1 to 3, got 9",
        "02.yaml: entry 'b': notebook is '03' but the entry is in 02.yaml; move it to 03.yaml",
    ]
    with pytest.raises(ValueError, match=r"2 problem\(s\)"):
        quiz.load_bank(directory)


def test_load_bank_names_a_missing_folder_and_bad_files(tmp_path):
    with pytest.raises(ValueError, match="no question bank at .*nowhere"):
        quiz.load_bank(tmp_path / "nowhere")
    directory = tmp_path / "bank"
    directory.mkdir()
    (directory / "01.yaml").write_text("id: not-a-list\n")
    (directory / "02.yaml").write_text("- [unclosed\n")
    assert quiz.check_bank(directory)[0] == "01.yaml: expected a list of entries, got dict"
    assert quiz.check_bank(directory)[1].startswith("02.yaml: not valid YAML")


def test_select_filters_and_shuffles_reproducibly(bank):
    assert [q.id for q in quiz.select(bank, notebook=2)] == ["02-why-scale-sqrt-dk", "02-mask-value"]
    assert [q.id for q in quiz.select(bank, tags="misconception")] == ["00-eval-mode", "02-mask-value"]
    shuffled = quiz.select(bank, shuffle=True, seed=3)
    assert shuffled == quiz.select(bank, shuffle=True, seed=3) and sorted(shuffled, key=bank.index) == bank
    assert shuffled != bank and quiz.select(bank, shuffle=True, seed=4) != shuffled   # shuffled, by the seed
    assert quiz.select(bank) == bank                                                   # bank order by default
    with pytest.raises(ValueError, match=r"no notebook '09'.*\['00', '01'"):
        quiz.select(bank, notebook="09")


# ---------------------------------------------------------------- cards and progress

def test_card_deck_clicks_record_and_persist(bank, tmp_path):
    path = tmp_path / "progress.json"
    deck = quiz.CardDeck(bank[:3], path=path)
    assert deck.progress_text() == "1 of 3 — 0 known"
    assert deck.answer.layout.display == "none" and "supervised fine-tuning" in deck.card.value

    deck.show_button.click()
    assert deck.answer.layout.display is None and "labelled examples" in deck.answer.value
    deck.known_button.click()
    assert deck.progress_text() == "2 of 3 — 1 known" and deck.status.value == "2 of 3 — 1 known"
    assert deck.answer.layout.display == "none", "the next card starts with its answer hidden"
    assert "<code>model.eval()</code>" in deck.card.value
    deck.review_button.click()
    deck.known_button.click()

    assert deck.done and deck.status.value == "3 of 3 — 2 known" and deck.known_button.disabled
    assert deck.results == {"00-what-is-sft": "known", "00-eval-mode": "review", "00-held-out": "known"}
    saved = json.loads(path.read_text())
    assert {qid: result["status"] for qid, result in saved.items()} == deck.results
    assert all(result["updated"].startswith("20") for result in saved.values())
    assert quiz.progress(path) == {"known": 2, "review": 1}
    assert not list(tmp_path.glob("*.tmp")), "the atomic write leaves no temporary file behind"


def test_progress_file_comes_from_path_then_env_then_home(tmp_path, monkeypatch):
    assert quiz.progress_file(tmp_path / "a.json") == tmp_path / "a.json"
    assert quiz.progress_file() == tmp_path / "env_progress.json"
    monkeypatch.delenv("SFTLAB_QUIZ_FILE")
    assert quiz.progress_file() == Path.home() / ".sftlab" / "quiz_progress.json"


def test_progress_keeps_earlier_results_and_names_a_corrupt_file(tmp_path):
    path = tmp_path / "deep" / "progress.json"
    quiz.record("a", "review", path)
    quiz.record("b", "known", path)
    quiz.record("a", "known", path)
    assert quiz.progress(path) == {"known": 2, "review": 0}
    with pytest.raises(ValueError, match="status must be one of"):
        quiz.record("a", "maybe", path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="progress.json is not valid JSON"):
        quiz.progress(path)


def test_cards_print_questions_without_answers_outside_jupyter(capsys):
    quiz.cards(notebook="02", directory=FIXTURES)
    out = capsys.readouterr().out
    assert out.startswith("Interview questions for notebook 02: 2 (answers hidden)\n")
    assert "1. [02 · Scaled dot-product attention · difficulty 2] Why divide the scores by √d_k?" in out
    assert "saturates" not in out and "Answer" not in out

    quiz.cards(notebook="02", lang="zh", show_answers=True, directory=FIXTURES)
    out = capsys.readouterr().out
    assert "为什么要把分数除以 √d_k？" in out and "Answer: 点积随 d_k 增大" in out


def test_cards_bad_arguments_and_empty_selection(capsys):
    with pytest.raises(ValueError, match=r"lang must be one of \['en', 'zh', 'both'\], got 'fr'"):
        quiz.cards(lang="fr", directory=FIXTURES)
    with pytest.raises(ValueError, match=r"lang must be one of \['en', 'zh', 'both'\], got 'EN'"):
        quiz.review(lang="EN", directory=FIXTURES)
    with pytest.raises(ValueError, match=r"expected one of " + re.escape(str(NOTEBOOK_IDS))):
        quiz.cards(notebook="9", directory=FIXTURES)
    quiz.cards(notebook="05", directory=FIXTURES)
    assert capsys.readouterr().out == "No interview questions for notebook 05 yet.\n"


def test_a_mistyped_tag_or_notebook_is_named_with_the_closest_ones(capsys):
    with pytest.raises(ValueError, match=r"no question has the tag 'misconcepton' \(did you mean 'misconception'\?\)"):
        quiz.cards(tags="misconcepton", directory=FIXTURES)
    with pytest.raises(ValueError, match=r"no question has the tag 'Pitfall' \(did you mean 'pitfall'\?\)"):
        quiz.cards(tags=["Pitfall"], directory=FIXTURES)
    with pytest.raises(TypeError, match="tags must be a tag or a list of tags"):
        quiz.cards(tags=3, directory=FIXTURES)
    with pytest.raises(ValueError, match=r"no notebook 'ch2' in the course; expected one of .*\(did you mean '02'\?\)"):
        quiz.cards(notebook="ch2", directory=FIXTURES)
    quiz.cards(notebook="05", tags="pitfall", directory=FIXTURES)   # a real tag this notebook lacks: no error
    assert capsys.readouterr().out == "No interview questions for notebook 05 tagged ['pitfall'] yet.\n"


def test_record_wants_a_question_id(tmp_path):
    with pytest.raises(TypeError, match=r"question_id must be a question's id .*got Question"):
        quiz.record(quiz.load_bank(FIXTURES)[0], "known", tmp_path / "progress.json")


def test_cards_in_a_kernel_display_a_deck_with_a_plain_text_view(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(quiz, "_in_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", shown.append)
    quiz.cards(notebook="00", directory=FIXTURES)
    (deck,) = shown
    bundle = deck._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("Interview questions for notebook 00: 3 (answers hidden)\n1. [00")
    assert "labelled examples" not in bundle["text/plain"]


def test_review_shows_only_questions_marked_review(tmp_path, capsys):
    path = tmp_path / "progress.json"
    quiz.review(path=path, directory=FIXTURES)
    assert capsys.readouterr().out.startswith("Nothing marked for review")
    quiz.record("02-mask-value", "review", path)
    quiz.record("00-what-is-sft", "known", path)
    quiz.record("00-eval-mode", "review", path)
    quiz.review(path=path, directory=FIXTURES)
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Questions you marked for review: 2 (answers hidden)"
    assert "model.eval()" in out and "masked scores" in out and "supervised fine-tuning" not in out


# ---------------------------------------------------------------- languages: en, zh, both

def test_localized_picks_a_language_or_both_and_names_bad_values():
    texts = {"en": "Why -inf? ", "zh": "为什么是 -inf？"}
    assert quiz.localized(texts, "en") == "Why -inf?" and quiz.localized(texts, "zh") == "为什么是 -inf？"
    assert quiz.localized(texts, "both") == "Why -inf?\n为什么是 -inf？"
    assert quiz.localized(texts, "both", sep=" / ") == "Why -inf? / 为什么是 -inf？"
    with pytest.raises(ValueError, match=r"lang must be one of \['en', 'zh', 'both'\], got 'cn'"):
        quiz.localized(texts, "cn")


def test_format_questions_in_both_languages_puts_chinese_under_english(bank):
    text = quiz.format_questions(bank[3:4], lang="both", show_answers=True)
    assert text.splitlines() == [
        "1. [02 · Scaled dot-product attention · difficulty 2] Why divide the scores by √d_k?",
        "   为什么要把分数除以 √d_k？",
        "   Answer: Dot products grow with d_k; unscaled, softmax saturates and gradients vanish.",
        "   点积随 d_k 增大；不缩放时 softmax 饱和，梯度消失。",
    ]


def test_card_deck_language_switch_changes_what_is_rendered(bank, tmp_path):
    deck = quiz.CardDeck(bank[3:], path=tmp_path / "progress.json")
    assert deck.lang_switch.options == (("English", "en"), ("中文", "zh"), ("English + 中文", "both"))
    assert deck.lang_switch.value == "en" and deck.lang_switch in deck.widget.children
    assert "Why divide the scores" in deck.card.value and "为什么" not in deck.card.value
    deck.show_button.click()

    deck.lang_switch.value = "zh"  # what a click on 中文 does
    assert deck.lang == "zh"
    assert "为什么要把分数除以 √d_k？" in deck.card.value and "Why divide" not in deck.card.value
    assert "点积随 d_k 增大" in deck.answer.value and "Dot products" not in deck.answer.value
    assert deck.answer.layout.display is None, "switching language keeps a revealed answer revealed"
    assert "02 § Why divide by √d_k" in deck.answer.value

    deck.lang_switch.value = "both"
    card = deck.card.value
    assert card.index("<p lang='en'><b>Why divide") < card.index("<p lang='zh'><b>为什么要把分数")
    assert deck.answer.value.index("Dot products grow") < deck.answer.value.index("点积随 d_k 增大")

    deck.known_button.click()  # the next card keeps the chosen language, its answer hidden
    assert "What value do masked scores get" in deck.card.value and "被遮挡的分数" in deck.card.value
    assert deck.answer.layout.display == "none"

    deck.set_lang("en")  # from code, the switch follows
    assert deck.lang_switch.value == "en" and "被遮挡" not in deck.card.value
    with pytest.raises(ValueError, match=r"got 'fr'"):
        deck.set_lang("fr")
    with pytest.raises(ValueError, match=r"lang must be one of \['en', 'zh', 'both'\]"):
        quiz.CardDeck(bank, lang="english")


def test_cards_lang_both_in_a_kernel_and_outside(monkeypatch, capsys):
    import IPython.display

    quiz.cards(notebook="02", lang="both", directory=FIXTURES)
    out = capsys.readouterr().out
    assert "Why divide the scores by √d_k?\n   为什么要把分数除以 √d_k？" in out

    shown = []
    monkeypatch.setattr(quiz, "_in_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", shown.append)
    quiz.cards(notebook="02", lang="zh", directory=FIXTURES)
    (deck,) = shown
    assert deck.lang_switch.value == "zh" and "为什么要把分数除以" in deck.card.value
    assert "为什么要把分数除以" in deck._repr_mimebundle_()["text/plain"]
