"""The bilingual glossary (data/glossary.yaml) and sftlab.course.glossary: schema, completeness against the
notebooks, and how tables and summaries are rendered as text and as HTML.
"""

import json
import re

import pytest
from notebook_status import REBUILDING

from sftlab.course import glossary as gl
from sftlab.course.chapters import NOTEBOOK_DIR

# Terms a learner meets in bold or in a heading of each notebook; every one must be in the
# glossary under that chapter. Chapters 06 and 07 have no notebook yet, so no list.
KEY_TERMS = {
    "00": ["supervised fine-tuning", "pre-training", "evaluation", "profile", "causal LM", "classification head",
           "word vectors"],
    "01": ["one-hot", "dense vector", "skip-gram", "negative sampling", "subsampling", "dynamic window", "GloVe",
           "cosine similarity", "analogy", "WordSim-353", "SimLex-999", "polysemy", "out-of-vocabulary"],
    "02": ["query", "key", "value", "scaled dot-product attention", "padding mask", "causal mask",
           "multi-head attention", "sinusoids", "RoPE", "LayerNorm", "BatchNorm", "residual connections",
           "pre-LN", "post-LN", "saturates"],
    "03": ["WordPiece", "attention mask", "dynamic padding", "baseline", "frozen", "full fine-tuning", "AdamW",
           "weight decay", "warmup", "linear decay", "gradient clipping", "validation", "cross-entropy",
           "McNemar's test", "calibration", "expected calibration error"],
    "03b": ["Trainer", "[CLS]", "pooler", "mean pooling", "warmup", "shortcut word", "counterfactual edit",
            "control edit", "control prefix", "over-fitting", "early stopping", "validation"],
    "04": ["BIO", "BIOES", "sub-word", "label alignment", "token classification", "entity-level", "seqeval",
           "CRF", "Viterbi", "boundary error", "spurious"],
    "05": ["causal language modelling", "byte-level BPE", "perplexity", "greedy search", "beam search",
           "length penalty", "temperature", "top-k", "top-p", "repetition penalty", "KV cache", "sliding window",
           "LoRA", "chat template", "RMSNorm", "SwiGLU", "grouped-query attention"],
}
TERMS_PER_CHAPTER = (15, 30)


def notebook_markdown(chapter):
    """The markdown of notebooks/NN_*.ipynb, lower-cased, hyphens dropped, whitespace collapsed; None if absent."""
    paths = sorted(NOTEBOOK_DIR.glob(f"{chapter}_*.ipynb"))
    if not paths:
        return None
    cells = json.loads(paths[0].read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
    return normalise(text)


def normalise(text):
    """Lower case, no hyphens ("sub-word" = "subword"), one space for any run of whitespace."""
    return re.sub(r"\s+", " ", text.lower().replace("-", ""))


@pytest.fixture(scope="module")
def terms():
    return gl.glossary()


# ---------------------------------------------------------------- the course glossary

def test_the_glossary_file_has_no_problems():
    assert gl.check_glossary() == []


def test_every_chapter_has_15_to_30_terms(terms):
    counts = {chapter: sum(chapter in term.chapters for term in terms) for chapter in gl.CHAPTERS}
    low, high = TERMS_PER_CHAPTER
    wrong = {chapter: count for chapter, count in counts.items() if not low <= count <= high}
    assert not wrong, f"chapters outside {low}–{high} terms (chapter: count): {wrong}"


@pytest.mark.parametrize("chapter", [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=REBUILDING[c]))
                                     if c in REBUILDING else c for c in gl.CHAPTERS])
def test_chapter_terms_occur_in_its_notebook(chapter):
    markdown = notebook_markdown(chapter)
    if markdown is None:
        pytest.skip(f"no notebook {chapter} yet: only the schema is checked")
    missing = [term.en for term in gl.glossary(chapter) if normalise(term.en) not in markdown]
    assert not missing, f"glossary terms of chapter {chapter} that its notebook's markdown never uses: {missing}"


@pytest.mark.parametrize("chapter", sorted(KEY_TERMS))
def test_key_terms_of_each_notebook_are_in_the_glossary(chapter):
    listed = {term.en.lower() for term in gl.glossary(chapter)}
    missing = [term for term in KEY_TERMS[chapter] if term.lower() not in listed]
    assert not missing, f"key terms of notebook {chapter} missing from its glossary: {missing}"


def test_key_terms_are_really_in_their_notebooks():
    for chapter, key_terms in KEY_TERMS.items():
        markdown = notebook_markdown(chapter)
        if markdown is not None:
            assert all(normalise(term) in markdown for term in key_terms), chapter


def test_every_chapter_has_a_summary_of_3_to_6_sentences():
    for chapter in gl.CHAPTERS:
        english, chinese = gl.summary(chapter, "en"), gl.summary(chapter, "zh")
        english_sentences = len(re.findall(r"[.!?](?:\s|$)", english))
        chinese_sentences = chinese.count("。")
        assert 3 <= english_sentences <= 6 and 3 <= chinese_sentences <= 6, (
            f"chapter {chapter}: {english_sentences} English and {chinese_sentences} Chinese sentences")


# ---------------------------------------------------------------- the checks catch mistakes

def write(tmp_path, text):
    path = tmp_path / "glossary.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD_TERM = """
  - en: learning rate
    zh: 学习率
    chapters: ["00", "03"]
    definition: {en: The step size., zh: 步长。}
"""


def test_check_glossary_names_each_problem(tmp_path):
    text = ("terms:" + GOOD_TERM + GOOD_TERM.replace("学习率", "步长")
            + '  - {en: attention, zh: "", chapters: ["02"], definition: {en: x, zh: y}}\n'
            + '  - {en: head, zh: 头, chapters: ["09"], definition: {en: x, zh: y}}\n'
            + '  - {en: key, zh: 键, chapters: [2], definition: {en: x, zh: y}}\n'
            + '  - {en: value, zh: 值, chapters: ["02"], definition: {en: x}}\n'
            + 'summaries:\n  "00": {en: One., zh: 一。}\n  "09": {en: One., zh: 一。}\n')
    problems = gl.check_glossary(write(tmp_path, text))
    assert problems == [
        "term 'learning rate': the en term 'learning rate' is already listed (entry #0); "
        "list each term once, with all its chapters",
        "term 'attention': the zh term is empty",
        f"term 'head': chapters must be a non-empty list drawn from {list(gl.CHAPTERS)} (quoted), got ['09']",
        f"term 'key': chapters must be a non-empty list drawn from {list(gl.CHAPTERS)} (quoted), got [2]",
        "term 'value': definition must have exactly the keys ['en', 'zh'], got {'en': 'x'}",
        "summary '09': unknown chapter '09'",
    ]
    with pytest.raises(ValueError, match=r"the glossary has 6 problem\(s\)"):
        gl.glossary(path=tmp_path / "glossary.yaml")


def test_bad_chapter_and_lang_are_named():
    with pytest.raises(ValueError, match=r"no chapter '09'; expected one of \['00', '01'"):
        gl.glossary("09")
    with pytest.raises(ValueError, match=r"lang must be one of \['en', 'zh', 'both'\], got 'fr'"):
        gl.show_glossary("01", lang="fr")
    with pytest.raises(ValueError, match=r"lang must be one of \['en', 'zh', 'both'\], got 'de'"):
        gl.show_summary(1, lang="de")
    assert gl.glossary(3) == gl.glossary("3") == gl.glossary("03")
    chapter_03 = gl.glossary("03")
    assert chapter_03 and all("03" in term.chapters for term in chapter_03)          # that chapter's terms …
    assert len(chapter_03) < len(gl.glossary()) and chapter_03 != gl.glossary("02")   # … and only those


def test_a_near_miss_chapter_or_lang_gets_a_suggestion_and_one_check_lang_serves_both():
    from sftlab.course import quiz

    with pytest.raises(ValueError, match=r"no chapter 'ch4'; expected one of \[.*\] \(did you mean '04'\?\)"):
        gl.glossary("ch4")
    with pytest.raises(ValueError, match=r"got 'CN' \(did you mean 'zh'\?\)"):
        gl.summary("03", lang="CN")
    assert gl.check_lang is quiz.check_lang


# ---------------------------------------------------------------- rendering

def test_show_glossary_prints_text_outside_jupyter(capsys):
    gl.show_glossary("03")
    out = capsys.readouterr().out
    count = len(gl.glossary("03"))
    assert out.startswith(f"Glossary for chapter 03 · 术语表: {count} terms\n")
    assert "learning rate · 学习率\n    The step size of the optimiser" in out
    assert "    优化器每一步的步长" in out

    gl.show_glossary("03", lang="zh")
    out = capsys.readouterr().out
    assert "learning rate · 学习率\n    优化器每一步的步长" in out and "The step size" not in out


def test_glossary_html_has_one_row_per_term_and_the_chosen_columns():
    terms = gl.glossary("02")
    both = gl.glossary_html(terms)
    assert both.count("<tr>") == len(terms) + 1 and "<th style='text-align:left'>释义</th>" in both
    english = gl.glossary_html(terms, "en")
    assert "Definition" in english and "释义" not in english and "注意力" in english, "both terms always shown"
    assert "&lt;" not in both and gl.glossary_html([gl.Term("a<b", "甲", ("02",), {"en": "x", "zh": "y"})]) \
        .count("a&lt;b") == 1


def test_show_in_a_kernel_displays_html_with_a_text_fallback(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(gl, "_in_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw: shown.append((obj, raw)))
    gl.show_glossary("01", lang="en")
    gl.show_summary("01")
    (table, raw_table), (summary, raw_summary) = shown
    assert raw_table and raw_summary
    assert table["text/html"].startswith("<p><b>Glossary for chapter 01") and "<table>" in table["text/html"]
    assert "skip-gram · 跳字模型（skip-gram）" in table["text/plain"]
    assert summary["text/html"].startswith("<p><b>Chapter 01 summary · 本章小结</b></p><p>嵌入层就是查表")


def test_show_summary_in_each_language(capsys):
    gl.show_summary("05")
    out = capsys.readouterr().out
    assert out.startswith("Chapter 05 summary · 本章小结\n仅解码器模型") and "decoder-only model" not in out
    gl.show_summary("05", lang="both")
    out = capsys.readouterr().out
    assert "A decoder-only model is trained" in out and "\n\n仅解码器模型" in out
    assert "\n" not in gl.summary("05", "en"), "the YAML's line breaks are joined into one paragraph"
    assert "。 " not in gl.summary("05", "zh") and "。我们" in gl.summary("05", "zh"), "no space after 。"
