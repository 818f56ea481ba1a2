"""Turn the NER sentences as written (inline markup) into the CoNLL files the course loads.

    python scripts/ner_markup_to_conll.py        # data/ner/source/<split>.txt -> data/ner/<split>.conll

The sources hold one sentence per line, written in plain text with entities in brackets:

    [PER Amara Nwosu] flew from [LOC Lagos] to [LOC Rio de Janeiro] for the [MISC World Cup] .

Lines starting with "#" are comments (batch headings); blank lines are skipped. Text is
tokenised the CoNLL way: punctuation apart, "U.S." and "well-known" one token, "Smith's" ->
"Smith" "'s", "don't" -> "do" "n't". Quotes are written as double quotes (a single quote
before s, re, ve, ll, d or m is read as a clitic). The .conll files are the artefact; tests/test_ner_data.py
checks that they are exactly what this script makes from the sources.
"""

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
NER_DIR = REPO_ROOT / "data" / "ner"
SPLITS = ("train", "validation", "test")
TYPES = ("PER", "ORG", "LOC", "MISC")

ENTITY = re.compile(r"\[(PER|ORG|LOC|MISC) ([^\[\]]+?)\]")
# Abbreviations that keep their full stop (never written at the end of a sentence).
ABBREVIATIONS = ("Dr", "Mr", "Mrs", "Ms", "St", "Mt", "Jr", "Prof", "Gen", "Col", "Capt", "Sgt", "Lt", "Rev",
                 "Inc", "Ltd", "Co", "Corp", "No", "vs", "Ave", "Rd", "Fr", "Sen", "Gov", "approx")
TOKEN = re.compile(
    r"\b(?:" + "|".join(ABBREVIATIONS) + r")\."      # Dr. Inc. St. — one token with the stop
    r"|(?:[A-Za-z]\.){2,}"                          # U.S. a.m. U.K.
    r"|\d+(?:[.,:/]\d+)*\w*(?:-\w+)*"                # 1,200  3.5  7:30  1990s  21st  5G  2-1  10-year-old
    r"|\w+(?:['’&.-]\w+)*"                           # words: well-known, O'Brien, AT&T, Amazon.com
    r"|'(?:s|re|ve|ll|d|m)\b"                        # a clitic after an entity: [PER Smith]'s
    r"|\.\.\."                                       # an ellipsis
    r"|[^\w\s]"                                      # any other single character: , . ; : ( ) " ' ? ! $ %
)
CLITIC = re.compile(r"^(\w.*?)(n't|'s|'re|'ve|'ll|'d|'m)$")  # split as PTB does: "do" "n't", "Smith" "'s"


def tokenize(text):
    """CoNLL-style tokens of plain text (no markup)."""
    tokens = []
    for match in TOKEN.finditer(text.replace("’", "'")):
        token = match.group()
        clitic = CLITIC.match(token)
        tokens.extend(clitic.groups() if clitic else [token])
    return tokens


def parse(line):
    """(tokens, tags) of one marked-up sentence; BIO tags."""
    if line.count("[") != line.count("]"):
        raise ValueError(f"unbalanced brackets in {line!r}")
    tokens, tags, position = [], [], 0
    for match in ENTITY.finditer(line):
        outside = tokenize(line[position:match.start()])
        tokens += outside
        tags += ["O"] * len(outside)
        kind, words = match.group(1), tokenize(match.group(2))
        assert words, f"empty entity in {line!r}"
        tokens += words
        tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
        position = match.end()
    rest = tokenize(line[position:])
    tokens += rest
    tags += ["O"] * len(rest)
    leftover = [t for t in tokens if t in "[]"]
    if leftover:
        raise ValueError(f"markup not understood (type must be one of {TYPES}) in {line!r}")
    return tokens, tags


def source_sentences(split, folder=NER_DIR / "source"):
    """The marked-up sentences of one split, in file order."""
    lines = (folder / f"{split}.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def to_conll(sentences):
    """The text of a .conll file: `token TAG` per line, a blank line after each sentence."""
    blocks = []
    for line in sentences:
        tokens, tags = parse(line)
        blocks.append("\n".join(f"{token} {tag}" for token, tag in zip(tokens, tags, strict=True)))
    return "\n\n".join(blocks) + "\n"


def main():
    for split in SPLITS:
        sentences = source_sentences(split)
        (NER_DIR / f"{split}.conll").write_text(to_conll(sentences), encoding="utf-8")
        print(f"{split}: {len(sentences)} sentences -> {NER_DIR / f'{split}.conll'}")


if __name__ == "__main__":
    main()
