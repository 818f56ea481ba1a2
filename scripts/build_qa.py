"""Build the extractive QA set, data/qa/*.jsonl, from the hand-written sources in data/qa/source/.

Usage:  python scripts/build_qa.py           # check the sources, write the .jsonl files, print statistics
        python scripts/build_qa.py --check   # check only; exit 1 if the written files are out of date

Source format, one file per domain (data/qa/source/<domain>.txt), passages in the order they were written:

    === Lake Bled                          a passage starts with its title
    The passage, one paragraph; it may     the text runs until the first Q:/X: line; lines are
    wrap over several lines.               joined with single spaces
    Q: Which island sits in the lake? | Bled Island
    Q: How many steps ...? | 99 @2         "@2": the answer is the 2nd occurrence of "99" in the passage
    Q: How tall is ...? | 52 m | 52        more answers after further "|": every acceptable span (see below)
    X: Who designed the church?            a question the passage cannot answer (SQuAD 2.0 style)

Lines starting with "#" are comments. Every answer must occur in its passage as whole words; if it
occurs more than once, "@n" must say which occurrence. The script computes `answer_start` (a character
offset) and checks context[start:start + len(text)] == text for every answer.

Several answers: a test question lists every span of its passage that answers it acceptably (a shorter or
longer phrase, the name with or without its title, another mention), as SQuAD's development set has
several references per question; the first is the one answer training and the overlap measure use, and
scoring takes the best over all of them. Train and validation questions have one answer each (as SQuAD's
training set); a second one there is an error.

Splits are by passage, fixed by a passage's position in its domain file (SPLIT_CYCLE), so no passage
is in two splits and every domain is in every split. Unanswerable questions follow their passage.
"""

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
QA_DIR = REPO_ROOT / "data" / "qa"
SOURCE_DIR = QA_DIR / "source"
SPLITS = ("train", "validation", "test")
UNANSWERABLE = "unanswerable"

# position in the domain file modulo 8 -> split: 2/8 test, 1/8 validation, 5/8 train
SPLIT_CYCLE = ("train", "test", "train", "validation", "train", "test", "train", "train")

# Words that carry no content for the overlap measure: function words, question words, auxiliaries.
STOP_WORDS = frozenset("""
a an the and or but nor so yet of in on at to for from by with about as into onto over under than then
that this these those there here it its it's is are was were be been being am do does did done doing
have has had having will would shall should can could may might must not no yes
what which who whom whose when where why how many much long far often
i me my we us our you your he him his she her they them their one ones
if whether while during after before since until up down out off also just only very too more most
any some each every all both either neither other such own same s
""".split())
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')]?\s+(?=[A-Z0-9\"'(])")


def words(text: str) -> list[str]:
    """Lower-cased word tokens: letters and digits, with an inner apostrophe kept (it's, Haldor's)."""
    return WORD.findall(text.lower())


def content_words(text: str) -> set[str]:
    """The words of text that carry content: lower-cased, stop words removed, a possessive 's dropped."""
    return {w.removesuffix("'s") for w in words(text)} - STOP_WORDS


def sentence_spans(context: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each sentence of context; a sentence ends at . ! or ? before a capital."""
    spans, start = [], 0
    for match in SENTENCE_BREAK.finditer(context):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(context)))
    return spans


def answer_sentence(context: str, answer_start: int) -> str:
    """The sentence of context that holds the character at answer_start."""
    for start, end in sentence_spans(context):
        if start <= answer_start < end:
            return context[start:end]
    raise ValueError(f"answer_start {answer_start} is outside the context ({len(context)} characters)")


def question_overlap(question: str, context: str, answer_start: int) -> float:
    """Share of the question's content words that also occur in the sentence holding the answer (0 to 1).

    1.0 means every content word of the question was lifted from that sentence (a question made by
    deleting the answer); SQuAD-style paraphrased questions share the names and a word or two.
    """
    asked = content_words(question)
    if not asked:
        return 0.0
    return len(asked & content_words(answer_sentence(context, answer_start))) / len(asked)


def word_occurrences(context: str, text: str) -> list[int]:
    """Start offsets of text in context where it stands as whole words: no letter or digit either side,
    and not part of a longer number ("200" is not in "1,200" or "2.5" in "12.5")."""
    starts = []
    for match in re.finditer(re.escape(text), context):
        before = context[max(match.start() - 2, 0):match.start()].rjust(2)
        after = context[match.end():match.end() + 2].ljust(2)
        inside_word = before[1].isalnum() or after[0].isalnum()
        inside_number = (before[1] in ",." and before[0].isdigit()) or (after[0] in ",." and after[1].isdigit())
        if not inside_word and not inside_number:
            starts.append(match.start())
    return starts


def parse_source(path: Path) -> list[dict]:
    """The passages of one source file: dicts id, domain, title, context, qas [(question, [(answer, occurrence),
    …], where)], unanswerable [question], where (file:line of the title). Errors name the file and the line."""
    domain = path.stem
    passages, current = [], None
    for line_no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        where = f"{path.name}, line {line_no}"
        if not line or line.startswith("#"):
            continue
        if line.startswith("=== "):
            current = {"domain": domain, "title": line[4:].strip(), "text": [], "qas": [], "unanswerable": [],
                       "where": where}
            passages.append(current)
        elif current is None:
            raise ValueError(f"{where}: text before the first '=== Title' line: {line[:60]!r}")
        elif line.startswith("Q:"):
            question, sep, answers = line[2:].partition("|")
            if not sep or not all(a.strip() for a in answers.split("|")):
                raise ValueError(f"{where}: expected 'Q: question | answer [| another answer …]', got {line!r}")
            current["qas"].append((question.strip(), [parse_answer(a) for a in answers.split("|")], where))
        elif line.startswith("X:"):
            current["unanswerable"].append((line[2:].strip(), where))
        elif current["qas"] or current["unanswerable"]:
            raise ValueError(f"{where}: passage text after its questions: {line[:60]!r}")
        else:
            current["text"].append(line)
    for i, passage in enumerate(passages, start=1):
        passage["id"] = f"{domain}-{i:02d}"
        passage["context"] = " ".join(passage.pop("text"))
        passage["split"] = SPLIT_CYCLE[(i - 1) % len(SPLIT_CYCLE)]
    return passages


def parse_answer(text: str) -> tuple[str, int | None]:
    """("99", 2) for "99 @2"; (answer, None) when no occurrence is given (it must then occur exactly once)."""
    answer, occurrence = text.strip(), None
    if re.search(r" @\d+$", answer):
        answer, _, n = answer.rpartition(" @")
        occurrence = int(n)
    return answer, occurrence


def locate(context: str, answer: str, occurrence, where: str) -> int:
    """answer_start of the occurrence-th whole-word occurrence of answer in context (checked).

    occurrence None: the answer must occur exactly once (an answer found twice must say which it is).
    """
    starts = word_occurrences(context, answer)
    if not starts:
        raise ValueError(f"{where}: answer {answer!r} does not occur in the passage as whole words")
    if occurrence is None and len(starts) > 1:
        raise ValueError(f"{where}: answer {answer!r} occurs {len(starts)} times in the passage; "
                         f"add ' @n' to say which occurrence (or rephrase)")
    occurrence = occurrence or 1
    if occurrence > len(starts):
        raise ValueError(f"{where}: answer {answer!r} occurs {len(starts)} time(s), but @{occurrence} was asked")
    start = starts[occurrence - 1]
    assert context[start:start + len(answer)] == answer
    return start


def build(source_dir: Path = SOURCE_DIR) -> dict[str, list[dict]]:
    """Every record, in SQuAD's flat schema plus domain: {"train": [...], "validation": [...], "test": [...],
    "unanswerable": [... with "split"]}; passages ordered by domain file, then position."""
    files = sorted(Path(source_dir).glob("*.txt"))
    if not files:
        raise ValueError(f"no source files in {source_dir}; expected one <domain>.txt per domain")
    out = {split: [] for split in (*SPLITS, UNANSWERABLE)}
    titles, errors = {}, []
    for path in files:
        for passage in parse_source(path):
            if passage["title"] in titles:
                raise ValueError(f"{passage['where']}: title {passage['title']!r} is also used at "
                                 f"{titles[passage['title']]}")
            titles[passage["title"]] = passage["where"]
            base = {"title": passage["title"], "context": passage["context"]}
            for k, (question, answers, where) in enumerate(passage["qas"], start=1):
                if len(answers) > 1 and passage["split"] != "test":
                    errors.append(f"{where}: {len(answers)} answers for a {passage['split']} question; only test "
                                  f"questions list several (training and validation use one, as SQuAD's train)")
                texts, starts = [], []
                for answer, occurrence in answers:
                    try:
                        start = locate(passage["context"], answer, occurrence, where)
                    except ValueError as err:  # collect them all, so one run lists every answer to fix
                        errors.append(str(err))
                        continue
                    if (answer, start) in zip(texts, starts, strict=True):
                        errors.append(f"{where}: answer {answer!r} at {start} is listed twice")
                    texts.append(answer)
                    starts.append(start)
                if len(texts) < len(answers):
                    continue
                out[passage["split"]].append({
                    "id": f"{passage['id']}-q{k}", **base, "question": question,
                    "answers": {"text": texts, "answer_start": starts}, "domain": passage["domain"],
                })
            for k, (question, _where) in enumerate(passage["unanswerable"], start=1):
                out[UNANSWERABLE].append({
                    "id": f"{passage['id']}-u{k}", **base, "question": question,
                    "answers": {"text": [], "answer_start": []}, "domain": passage["domain"],
                    "split": passage["split"],
                })
    if errors:
        raise ValueError(f"{len(errors)} answer(s) to fix:\n" + "\n".join(errors))
    return out


def to_jsonl(records: list[dict]) -> str:
    """One JSON object per line, UTF-8 as written (no \\u escapes)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def report(built: dict[str, list[dict]]) -> str:
    """Counts per split and domain, passage lengths and question overlap, as printable text."""
    lines = []
    answerable = [r for split in SPLITS for r in built[split]]
    contexts = {r["context"] for r in answerable}
    lengths = sorted(len(c.split()) for c in contexts)
    lines.append(f"passages {len(contexts)}, answerable {len(answerable)}, unanswerable {len(built[UNANSWERABLE])}")
    for split in SPLITS:
        n_passages = len({r["context"] for r in built[split]})
        n_unanswerable = sum(r["split"] == split for r in built[UNANSWERABLE])
        lines.append(f"  {split:<10} passages {n_passages:>3}  answerable {len(built[split]):>4}  "
                     f"unanswerable {n_unanswerable:>3}")
    domains = sorted({r["domain"] for r in answerable})
    for domain in domains:
        counts = [sum(r["domain"] == domain for r in built[split]) for split in SPLITS]
        n_passages = len({r["context"] for r in answerable if r["domain"] == domain})
        lines.append(f"  {domain:<11} passages {n_passages:>3}  questions train/validation/test {counts}")
    lines.append(f"passage words: min {lengths[0]}, median {statistics.median(lengths)}, max {lengths[-1]}, "
                 f"170+ words: {sum(n >= 170 for n in lengths)}")
    overlaps = sorted(question_overlap(r["question"], r["context"], r["answers"]["answer_start"][0])
                      for r in answerable)
    quantiles = statistics.quantiles(overlaps, n=20)
    lines.append(f"question overlap: mean {statistics.mean(overlaps):.3f}, median {statistics.median(overlaps):.3f}, "
                 f"p90 {quantiles[17]:.3f}, p95 {quantiles[18]:.3f}, max {overlaps[-1]:.3f}")
    answer_words = [len(r["answers"]["text"][0].split()) for r in answerable]
    lines.append(f"answer words: mean {statistics.mean(answer_words):.2f}, max {max(answer_words)}, "
                 f"share 1-6 words {sum(n <= 6 for n in answer_words) / len(answer_words):.3f}")
    references = [len(r["answers"]["text"]) for r in built["test"]]
    lines.append(f"test references per question: mean {statistics.mean(references):.2f}, "
                 f"several for {sum(n > 1 for n in references)} of {len(references)}, max {max(references)}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; fail if the .jsonl files are out of date")
    parser.add_argument("--worst", type=int, default=0, help="also print the N questions with the highest overlap")
    args = parser.parse_args(argv)
    built = build()
    stale = []
    for name, records in built.items():
        path = QA_DIR / f"{name}.jsonl"
        text = to_jsonl(records)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    print(report(built))
    if args.worst:
        answerable = [r for split in SPLITS for r in built[split]]
        scored = sorted(answerable, key=lambda r: -question_overlap(r["question"], r["context"],
                                                                     r["answers"]["answer_start"][0]))
        for r in scored[:args.worst]:
            score = question_overlap(r["question"], r["context"], r["answers"]["answer_start"][0])
            print(f"{score:.2f} {r['id']}: {r['question']}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python scripts/build_qa.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
