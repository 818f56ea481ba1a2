"""sftlab.show renders the very code the tests check, with its file and lines, and no machine's paths."""

import pytest

import sftlab
from sftlab.attention import MultiHeadAttention
from sftlab.training import train


def test_show_gives_the_source_with_its_place():
    shown = sftlab.show(train)
    assert shown.code.startswith("def train(") and "optimizer.step()" in shown.code
    assert shown.where.startswith("sftlab/training.py, lines ") and "/work" not in shown.where
    first, last = map(int, shown.where.split("lines ")[1].split("–"))
    assert last - first + 1 == len(shown.code.splitlines())


def test_show_renders_html_and_text():
    shown = sftlab.show(MultiHeadAttention.forward)
    assert "def forward" in str(shown) and str(shown).startswith("# sftlab/attention.py")
    html = shown._repr_html_()
    assert "sftlab/attention.py" in html and "<span" in html        # highlighted by pygments


def test_show_explains_what_it_cannot_show():
    with pytest.raises(TypeError, match="show\\(\\) needs a Python function, class or method"):
        sftlab.show(42)
