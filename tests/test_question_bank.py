"""The real interview question bank, data/interview/NN.yaml: valid, unique, complete.

Every failure names the offending ids (or the counts that fall short), so a writer knows what to fix.
"""

from collections import Counter

import pytest
import yaml

from sftlab.course import quiz
from sftlab.course.chapters import NOTEBOOK_IDS

MIN_QUESTIONS = 80
MIN_PER_NOTEBOOK = 12          # notebooks 01–05; 00 holds the general questions
MIN_MISCONCEPTIONS = 10


def raw_entries():
    """(file name, entry) for every entry in the bank, read without validation.

    A file that is not a YAML list is left out here; test_the_bank_loads names it.
    """
    pairs = []
    for path in sorted(quiz.BANK_DIR.glob("*.yaml")):
        try:
            entries = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        pairs += [(path.name, entry) for entry in entries] if isinstance(entries, list) else []
    return pairs


def entry_id(entry):
    return entry.get("id", "<no id>") if isinstance(entry, dict) else repr(entry)[:40]


@pytest.fixture(scope="module")
def entries():
    return raw_entries()


def test_bank_files_are_named_after_notebooks():
    names = sorted(path.stem for path in quiz.BANK_DIR.glob("*.yaml"))
    strays = sorted(set(names) - set(NOTEBOOK_IDS))
    assert not strays, f"files not named after a notebook: {strays}"


def test_every_entry_is_valid(entries):
    problems = []
    for source, entry in entries:
        try:
            quiz.validate_entry(entry, source)
        except ValueError as error:
            problems.append(str(error))
    assert not problems, f"{len(problems)} invalid entries:\n" + "\n".join(problems)


def test_ids_are_unique(entries):
    files_of = {}
    for source, entry in entries:
        files_of.setdefault(entry_id(entry), []).append(source)
    duplicates = {qid: files for qid, files in files_of.items() if len(files) > 1}
    assert not duplicates, f"duplicate ids (id: files): {duplicates}"


def test_each_entry_sits_in_its_notebooks_file(entries):
    misplaced = [f"{entry_id(entry)} (notebook {entry.get('notebook')!r}, in {source})"
                 for source, entry in entries
                 if isinstance(entry, dict) and str(entry.get("notebook")) != source.removesuffix(".yaml")]
    assert not misplaced, "entries whose notebook is not their file name: " + ", ".join(misplaced)


def test_the_bank_loads():
    problems = quiz.check_bank()
    assert not problems, "\n".join(problems)
    assert len(quiz.load_bank()) == len(raw_entries())


def test_enough_questions_in_all(entries):
    count = len(entries)
    assert count >= MIN_QUESTIONS, f"the bank has {count} questions, want at least {MIN_QUESTIONS}"


def test_enough_questions_per_notebook(entries):
    counts = Counter(source.removesuffix(".yaml") for source, _ in entries)
    short = {nb: counts[nb] for nb in NOTEBOOK_IDS[1:] if counts[nb] < MIN_PER_NOTEBOOK}
    assert not short, f"notebooks with fewer than {MIN_PER_NOTEBOOK} questions (notebook: count): {short}"


def test_enough_misconception_items(entries):
    tagged = [entry_id(entry) for _, entry in entries
              if isinstance(entry, dict) and "misconception" in (entry.get("tags") or [])]
    assert len(tagged) >= MIN_MISCONCEPTIONS, (
        f"{len(tagged)} entries tagged misconception, want at least {MIN_MISCONCEPTIONS}: {tagged}")


def _unnumbered(heading: str) -> str:
    """'## 2. Tokenisation' → 'Tokenisation'; '6. The Transformer block' → 'The Transformer block'."""
    import re

    return re.sub(r"^#*\s*(\d\d · )?(\d+(\.\d+)*\.?\s+)?", "", heading).strip()


def _section_titles(path) -> list[str]:
    """Every markdown heading of a notebook (the title included), unnumbered."""
    import json

    return [_unnumbered(line) for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "markdown"
            for line in "".join(cell["source"]).splitlines() if line.startswith("#")]


def test_see_also_names_a_real_section_of_an_existing_notebook():
    from sftlab.course.chapters import NOTEBOOK_DIR, existing_notebooks

    titles = {nb.id: _section_titles(NOTEBOOK_DIR / nb.filename) for nb in existing_notebooks()}
    wrong = []
    for q in quiz.load_bank():
        if not q.see_also or " § " not in q.see_also:
            continue
        notebook, section = q.see_also.split(" § ", 1)
        section = _unnumbered(section)
        if notebook in titles and not any(t.startswith(section) or section.startswith(t) for t in titles[notebook]):
            wrong.append(f"{q.id}: {q.see_also!r}")
    assert not wrong, "see_also names a section the notebook does not have:\n" + "\n".join(wrong)


# ---------------------------------------------------------------- coverage, duplicates, style

# Interview questions the source articles pose (CURRICULUM.md) and the issue adds, each answered by a card.
SOURCE_QUESTIONS = {
    "what NLP is and how it developed": "00-nlp-history",
    "how an LLM works": "00-llm-components",
    "why pre-training": "00-why-pretraining",
    "the SFT pipeline": "00-sft-pipeline",
    "evaluation and metrics": "00-metrics-by-task",
    "where LLMs are useful": "00-llm-use-cases",
    "data selection and quality": "00-data-selection-quality",
    "learning rate": "00-learning-rate-warmup",
    "batch size": "00-batch-size",
    "epochs": "00-epochs",
    "over-fitting and remedies": "00-overfitting-remedies",
    "supervised vs self-supervised fine-tuning": "00-supervised-vs-self-supervised",
    "pre-trained vs fine-tuned model": "00-pretrained-vs-finetuned",
    "optimisers for SFT": "00-adamw",
    "which tasks SFT suits": "00-tasks-sft-suits",
    "training cost and compute": "00-training-compute-estimate",
    "speeding up training": "00-speed-up-training",
    "privacy of training data": "00-training-data-privacy",
    "SFT's pros and cons": "00-sft-pros-cons",
    "choosing a pre-trained model": "00-choosing-pretrained-model",
    "how much labelled data": "00-how-much-labelled-data",
    "class imbalance": "00-class-imbalance",
    "multi-task learning": "00-multi-task-learning",
    "distributed training": "00-distributed-training",
    "mixed precision": "00-mixed-precision",
    "compression, quantisation, distillation": "00-model-compression",
    "online learning": "00-online-learning",
    "a question-answering system": "00-qa-system",
    "text classification with BERT": "03-num-labels-head",
    "a travel article from GPT-2": "05-domain-fine-tune",
    "text generation with GPT-3": "05-misconception-gpt3-weights",
}
MAX_QUESTION_OVERLAP = 0.4  # Jaccard similarity of two questions' content words
STOP_WORDS = set("the a an and of to in is what how why do does you it with for on or when which this that are be its "
                 "from by your would each".split())


def test_every_source_question_has_a_card():
    ids = {q.id for q in quiz.load_bank()}
    missing = {topic: qid for topic, qid in SOURCE_QUESTIONS.items() if qid not in ids}
    assert not missing, f"source-article questions without their card (topic: id): {missing}"


def test_no_two_questions_are_near_duplicates():
    import itertools
    import re

    def content_words(text):
        return set(re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", text.lower())) - STOP_WORDS

    words = {q.id: content_words(q.question["en"]) for q in quiz.load_bank()}
    similar = [f"{a} ~ {b} ({len(words[a] & words[b]) / len(words[a] | words[b]):.2f})"
               for a, b in itertools.combinations(words, 2)
               if len(words[a] & words[b]) / len(words[a] | words[b]) > MAX_QUESTION_OVERLAP]
    assert not similar, "near-duplicate questions; merge them into one card:\n" + "\n".join(similar)


def _chinese_quote_problems(source, text):
    """Chinese text quotes with “ ” only (ASCII quotes are allowed inside `code`), opened and closed in turn."""
    import re

    prose = re.sub(r"`[^`]*`", "", text)
    problems = [f"{source}: uses {mark!r}" for mark in '"「」『』' if mark in prose]
    marks = "".join(ch for ch in prose if ch in "“”")
    if marks != "“”" * (len(marks) // 2):
        problems.append(f"{source}: “ and ” do not alternate ({marks})")
    return problems


def test_chinese_text_uses_one_quote_style():
    from sftlab.course import glossary

    problems = []
    for q in quiz.load_bank():
        for key in ("question", "answer"):
            problems += _chinese_quote_problems(f"{q.id} {key}.zh", q.question["zh"] if key == "question"
                                                else q.answer["zh"])
    for term in glossary.glossary():
        problems += _chinese_quote_problems(f"glossary {term.en!r}", term.zh + term.definition["zh"])
    for chapter in glossary.CHAPTERS:
        problems += _chinese_quote_problems(f"summary {chapter}", glossary.summary(chapter, "zh"))
    assert not problems, "Chinese text must quote with “…” (code in backticks):\n" + "\n".join(problems)


def test_quote_style_check_catches_mixed_quotes():
    assert _chinese_quote_problems("x", "“对”和“错”，`f(\"a\")`") == []
    assert _chinese_quote_problems("x", '他说"对"') == ["x: uses '\"'"]
    assert _chinese_quote_problems("x", "「对」") == ["x: uses '「'", "x: uses '」'"]
    assert _chinese_quote_problems("x", "”对“") == ["x: “ and ” do not alternate (”“)"]


def test_glove_card_quotes_the_source_and_gives_the_real_objective():
    (card,) = [q for q in quiz.load_bank() if q.id == "01-misconception-glove-objective"]
    for lang in ("en", "zh"):
        assert "Σ_{i,j} d_ij / f(d_ij) · ‖vec(w_i) − vec(w_j)‖²" in card.question[lang]
        assert "f(X_ij) · (w_iᵀw̃_j + b_i + b̃_j − log X_ij)²" in card.answer[lang]
    assert "collapse" in card.answer["en"] and "坍缩" in card.answer["zh"]


def test_each_topic_belongs_to_one_notebook():
    """Cards on one topic in two files are usually the same question asked twice: merge them."""
    notebooks_of = {}
    for q in quiz.load_bank():
        notebooks_of.setdefault(q.topic.lower(), set()).add(q.notebook)
    shared = {topic: sorted(notebooks) for topic, notebooks in notebooks_of.items() if len(notebooks) > 1}
    assert not shared, f"topics with cards in several notebooks (merge or rename): {shared}"
