"""The real interview question bank, data/interview/NN.yaml: valid, unique, complete.

Every failure names the offending ids (or the counts that fall short), so a writer knows what to fix.
"""

from collections import Counter
from pathlib import Path

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
    # the source articles' questions issue 30 found without a card
    "transfer vs self-supervised learning: difference and link": "00-transfer-vs-self-supervised",
    "transfer vs multi-task learning: difference and link": "00-transfer-vs-multi-task",
    "dependencies between tasks in multi-task learning": "00-multi-task-dependencies",
    "how multi-task learning uses model capacity": "00-multi-task-capacity",
    "challenges of self-supervised learning and how it reduces compute": "00-self-supervised-challenges",
    "balancing data quality against compute": "00-data-quality-vs-compute",
    "future directions of self-supervised learning": "00-self-supervised-future",
    "cross-validation for fine-tuning": "00-cross-validation",
    "methods of hyper-parameter search": "00-hyperparameter-search",
    "an outlook on the field: summary and trends": "00-field-outlook",
    "speech recognition with LSTMs (outside this course: why, and where to learn it)": "00-speech-recognition-scope",
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


# ---------------------------------------------------------------- duplicates by meaning

# Cards whose meaning overlaps this much ask the same thing; merge them, or make each ask what the other does not
# (see test_no_two_cards_overlap_in_meaning for how the number was chosen).
MEANING_THRESHOLD = 0.81
BEFORE = Path(__file__).parent / "fixtures" / "near_duplicate_cards_before.yaml"
# Pairs on one subject that ask different things: the check must leave them alone.
RELATED_PAIRS = [
    ("00-pretrained-vs-finetuned", "00-choosing-pretrained-model"), ("01-two-embedding-matrices", "01-word2vec-pmi"),
    ("01-negative-sampling", "01-subsampling"), ("03-num-labels-head", "04-bert-token-classification"),
    ("04-bert-token-classification", "07-qa-head"), ("05-perplexity-definition", "05-perplexity-across-tokenizers"),
    ("04-seqeval-entity-f1", "04-micro-vs-macro-f1"), ("06-instruction-data-format", "06-completion-only-loss"),
    ("06-chat-template-mismatch", "06-doubled-special-tokens"), ("03-wordpiece-special-tokens", "04-words-vs-subwords"),
    ("05-lora", "06-lora-rank-alpha"), ("07-em-vs-f1", "07-answer-normalisation"),
    ("00-sft-pros-cons", "00-tasks-sft-suits"),
    ("03-small-lr-few-epochs", "03-fine-tuning-instability"), ("00-speed-up-training", "00-distributed-training"),
    ("00-qa-system", "07-why-span-extraction"), ("00-mixed-precision", "00-speed-up-training"),
    ("01-two-embedding-matrices", "01-window-and-dimension"), ("00-sft-pros-cons", "00-how-much-labelled-data"),
    ("06-instruction-data-format", "06-data-quality-quantity"),
]


def _sentences(question: str, answer: str) -> list[str]:
    """The question and each sentence of the answer (four words or more): the units a card's meaning is made of."""
    import re

    units = [question]
    for line in answer.splitlines():
        units += [s for s in re.split(r"(?<=[.!?;:])\s+(?=[A-Z(])", line.strip()) if len(s.split()) >= 4]
    return units


@pytest.fixture(scope="module")
def card_meanings():
    """{card id: unit vector}: the mean of the course encoder's sentence embeddings of the card's English question
    and answer sentences, for the bank and (keys "before:<id>") for the pairs of the fixture. Sentences rather than
    the whole card, because the encoder (all-MiniLM-L6-v2, offline) reads at most 256 tokens and is trained on
    sentence pairs. Everything is encoded in one call."""
    import numpy as np
    from conftest import load_offline

    from sftlab import models
    from sftlab.qa import embed

    before = yaml.safe_load(BEFORE.read_text(encoding="utf-8"))
    cards = {q.id: (q.question["en"], q.answer["en"]) for q in quiz.load_bank()}
    cards |= {f"before:{cid}": (c["question"], c["answer"]) for cid, c in before["cards"].items()}
    units = {cid: _sentences(*texts) for cid, texts in cards.items()}
    tokenizer, encoder = load_offline(models.load_encoder)
    vectors = embed([u for us in units.values() for u in us], tokenizer, encoder).numpy()
    meanings, start = {}, 0
    for cid, us in units.items():
        mean = vectors[start:start + len(us)].mean(0)
        meanings[cid], start = mean / np.linalg.norm(mean), start + len(us)
    return meanings, before["pairs"]


def _similarity(meanings, a, b) -> float:
    return float(meanings[a] @ meanings[b])


def test_no_two_cards_overlap_in_meaning(card_meanings):
    """No two cards of the bank mean nearly the same (cosine of their meanings ≥ MEANING_THRESHOLD).

    Calibration, measured with this encoder on the bank as it was before issue 30 (its seven near-duplicate pairs are
    in tests/fixtures/near_duplicate_cards_before.yaml) and on pairs that are merely related (RELATED_PAIRS):
    - the related pairs reach at most 0.797 (03-num-labels-head ~ 04-bert-token-classification);
    - of the seven near-duplicates, two score above that and are caught at 0.81: 00-learning-rate-warmup ~
      03-small-lr-few-epochs 0.817 and 00-adamw ~ 03-adamw-no-decay-bias-layernorm 0.812; so did 01-oov-subwords ~
      03-wordpiece-special-tokens (0.828) and 03-small-lr-few-epochs ~ 03-lr-warmup-misconception (0.821), which
      repeated each other too and were rewritten;
    - the other five (0.57 to 0.72: 00-how-much-labelled-data ~ 06-data-quality-quantity 0.57, 03-catastrophic-
      forgetting ~ 06-forgetting-after-sft 0.68, 00-class-imbalance ~ 03-metrics-imbalanced-data 0.69, 00-epochs ~
      03-early-stopping-validation 0.71, 03-out-of-domain-evaluation ~ 03-shortcut-cues 0.72) sit among the related
      pairs: a sentence encoder measures topic as much as question, and no threshold that spares the related pairs
      catches them. They were found by reading; test_the_meaning_check_on_the_pairs_as_they_were pins these numbers.
    """
    import itertools

    meanings, _ = card_meanings
    bank = [cid for cid in meanings if not cid.startswith("before:")]
    close = sorted(((_similarity(meanings, a, b), a, b) for a, b in itertools.combinations(bank, 2)
                    if _similarity(meanings, a, b) >= MEANING_THRESHOLD), reverse=True)
    assert not close, ("cards that mean nearly the same; merge them, or make each ask what the other does not:\n"
                       + "\n".join(f"  {a} ~ {b} ({s:.3f})" for s, a, b in close))


def test_the_meaning_check_on_the_pairs_as_they_were(card_meanings):
    """What the check catches: the reviewer's pairs as they were, and the related pairs it must leave alone."""
    meanings, pairs = card_meanings
    measured = {f"{a} ~ {b}": _similarity(meanings, f"before:{a}", f"before:{b}") for a, b in pairs}
    caught = sorted(pair for pair, s in measured.items() if s >= MEANING_THRESHOLD)
    expected = ["00-adamw ~ 03-adamw-no-decay-bias-layernorm", "00-learning-rate-warmup ~ 03-small-lr-few-epochs"]
    assert caught == expected, measured
    assert all(0.55 <= s < 0.74 for pair, s in measured.items() if pair not in caught), measured
    related = {f"{a} ~ {b}": round(_similarity(meanings, a, b), 3) for a, b in RELATED_PAIRS}
    assert max(related.values()) < MEANING_THRESHOLD, related
    for a, b in pairs:   # and today each of the seven asks something the other does not
        assert _similarity(meanings, a, b) < MEANING_THRESHOLD, (a, b)


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
