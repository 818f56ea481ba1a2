md('''
# 07 · Extractive question answering

Give a model a passage and a question; it points at the **span** of the passage that answers it. This is
**extractive question answering**, the task of SQuAD, and the reader at the heart of a "simple QA system". In this
notebook you will:

1. see the data format and why the answer is predicted as a span, with a **question answering head** that gives
   **start and end logits** for every token;
2. use the fast tokenizer's **offset mapping** to turn character offsets into token labels and back, and cut long
   passages into overlapping windows (`max_length`, `doc_stride`);
3. fine-tune the encoder with the course's training loop, scoring **exact match** and **F1** on validation after
   every epoch;
4. evaluate on held-out test questions, by question type and answer length, with the untuned model as the floor,
   and read the wrong answers;
5. measure what windows and `doc_stride` buy on long contexts;
6. add **unanswerable questions** (SQuAD 2.0) and choose a **no-answer threshold** on validation;
7. check our post-processing against transformers' own span decoder; spot two classic bugs; do three exercises.

Shapes: **B** windows in a batch, **T** tokens in a window, **N** questions, **K** candidates (the n best).
''')

code(COLAB)

code('''
import sftlab

sftlab.banner();
''')

md('''
## 1. The task: a span of the passage

The course's QA set (`data/qa/`, written for this course; the full profile loads SQuAD v1.1 in the same schema) has
SQuAD's format: each row is a question about a `context` passage, with `answers` = the answer `text` and its
character offset `answer_start` in the context. Splits are by passage, so a test question is always about a
passage the model never saw in training.
''')

code('''
from IPython.display import display

from sftlab import qa
from sftlab.checks import at_least, holds, same
from sftlab.data import load_qa

data = load_qa()
for name, split in data.items():
    print(f"{name:>10s}: {len(split):4d} questions on {len(set(split['context'])):3d} passages")
example = data["train"][2]
start, text = example["answers"]["answer_start"][0], example["answers"]["text"][0]
print(f"\\nquestion: {example['question']}\\nanswer:   {text!r}, characters {start}–{start + len(text)}")
display(qa.mark_answer(example["context"], None, (start, start + len(text))))
holds(example["context"][start:start + len(text)] == text, what="the answer is the context's text at answer_start");
''')

md('''
**Why a span and not generation?** The answer is, by definition, a stretch of the given passage, so the model only
has to choose two positions — where the answer starts and where it ends — instead of writing words from a vocabulary
of 30,522 tokens. Two classifications over the passage's tokens are cheap (one encoder pass, no decoding loop),
need little training data, cannot invent text that is not in the passage, and can be scored exactly. What a span
cannot express — yes/no answers, counts that must be computed, answers combined from two sentences — is the domain
of generative QA (chapter 06's kind of model).

**The head.** `AutoModelForQuestionAnswering` puts one linear layer, `qa_outputs`, on every token's final vector,
with two outputs: a **start logit** and an **end logit**. A softmax over a window's T positions of the start logits
says where the answer starts, one over the end logits where it ends; training minimises the mean of the two
cross-entropies. The seed makes the new head the same on every run.
''')

code('''
from sftlab.models import load_encoder
from sftlab.training import seed_everything

seed_everything(0)
tokenizer, model = load_encoder("question-answering")
D = model.config.hidden_size
head = sum(p.numel() for p in model.qa_outputs.parameters())
print(f"{type(model).__name__}: {sum(p.numel() for p in model.parameters()):,} parameters; head {model.qa_outputs}")
same(head, 2 * D + 2, what=f"the head's parameters = 2·D + 2 with D = {D}");
''')

md('''
PROSE_HEAD
''')

md('''
## 2. Offsets up close

The model reads one sequence, `[CLS] question [SEP] context [SEP]`, and its positions are **token** positions in
that sequence; the answer is given in **characters** of the context. A fast tokenizer bridges the two: with
`return_offsets_mapping=True` it returns, for every token, the (start, end) characters it covers in its own text,
and `sequence_ids` says whether the token belongs to the question (0), the context (1) or neither (`None`).
''')

code('''
pair = tokenizer([example["question"]], [example["context"]], return_offsets_mapping=True)
tokens, sequence_ids, offsets = pair.tokens(0), pair.sequence_ids(0), pair["offset_mapping"][0]
print(f"{'t':>3s} {'token':>12s} {'sequence':>8s} {'characters':>10s}  text[start:end]")
for t in [*range(0, 14), *range(len(tokens) - 3, len(tokens))]:
    source = {0: example["question"], 1: example["context"]}.get(sequence_ids[t], "")
    a, b = offsets[t]
    print(f"{t:3d} {tokens[t]:>12s} {str(sequence_ids[t]):>8s} {a:4d} – {b:<4d}  {source[a:b]!r}")
''')

md('''
Every context token, its characters highlighted in turn (hover for the token); sub-word pieces such as `##…` cover
part of a word:
''')

code('''
context_offsets = qa.context_offsets(pair, 0)                    # None off the context
kept = [(o, tok) for o, tok in zip(context_offsets, tokens) if o is not None]
display(qa.mark_tokens(example["context"], [o for o, _ in kept], [tok for _, tok in kept]))
s, e = qa.char_span_to_tokens(context_offsets, start, start + len(text))
print(f"answer characters {start}–{start + len(text)} → tokens {s}–{e}: {tokens[s:e + 1]}")
same(example["context"][context_offsets[s][0]:context_offsets[e][1]], text,
     what="the labelled tokens' characters = the answer");
''')

md('''
The rule, `qa.char_span_to_tokens`: among **context** tokens only, the start token is the first one that ends after
the answer's first character, the end token the last one that begins before its end. Counting words, or counting
tokens as if the context began the sequence, lands elsewhere (section 8 shows how far).

**Long contexts: windows.** A window holds at most `max_length` tokens. A longer context is cut into several windows,
each with the whole question (`truncation="only_second"`); consecutive windows overlap by `doc_stride` tokens
(`return_overflowing_tokens=True, stride=doc_stride`), so an answer cut by one window's edge lies whole in the next.
A window that does not hold the whole answer is labelled with the `[CLS]` position, 0: "not here". The longest
training passage, cut into small windows of 96 tokens to show several:
''')

code('''
index = max(range(len(data["train"])), key=lambda i: len(data["train"][i]["context"]))
long_example = data["train"][index]
windows = qa.prepare_features(data["train"].select([index]), tokenizer, max_length=96, doc_stride=32)
for w, window in enumerate(windows):
    chars = [o for o in window["offset_mapping"] if o is not None]
    s, e = window["labels"]
    label = "[CLS]: not (wholly) in this window" if s == 0 else \\
        repr(long_example["context"][window["offset_mapping"][s][0]:window["offset_mapping"][e][1]])
    print(f"window {w}: characters {chars[0][0]:4d}–{chars[-1][1]:<4d} label tokens {s:2d}–{e:<2d} → {label}")
answer = long_example["answers"]
print(f"\\nquestion: {long_example['question']}  gold: {answer['text'][0]!r}")
gold = (answer["answer_start"][0], answer["answer_start"][0] + len(answer["text"][0]))
display(qa.Marked(long_example["context"], [*[(min(o[0] for o in f["offset_mapping"] if o),
        max(o[1] for o in f["offset_mapping"] if o), f"window {w}") for w, f in enumerate(windows)], (*gold, "gold")]))
''')

md('''
PROSE_WINDOWS

Now every split, with windows of `max_length` 192 tokens overlapping by `doc_stride` 64 (the ratio of Hugging Face's
SQuAD defaults, 384 and 128, at half the size: our passages are short). A check walks every training window: its
label is `[CLS]` or decodes to exactly the gold answer, and every answer lies whole in at least one window.
''')

code('''
from collections import Counter

MAX_LENGTH, DOC_STRIDE = 192, 64
features = {name: qa.prepare_features(split, tokenizer, MAX_LENGTH, DOC_STRIDE) for name, split in data.items()}
for name, f in features.items():
    several = sum(n > 1 for n in Counter(f["example_index"]).values())
    print(f"{name:>10s}: {len(data[name])} questions → {len(f)} windows; {several} questions need several windows; "
          f"mean window {sum(map(len, f['input_ids'])) / len(f):.0f} tokens")
train_windows = features["train"]
found = Counter()
for i, labels, o in zip(train_windows["example_index"], train_windows["labels"], train_windows["offset_mapping"]):
    if labels != [0, 0]:
        found[i] += data["train"][i]["context"][o[labels[0]][0]:o[labels[1]][1]] == data["train"][i]["answers"]["text"][0]
holds(len(found) == len(data["train"]) and all(found.values()), what="every training answer is labelled exactly in a window");
''')

md('''
## 3. Fine-tuning with the course loop

The course's loop, `sftlab.training.train`, expects batches with `labels` and a model output with `.loss` and
`.logits`. A question answering model takes `start_positions` and `end_positions` and returns `start_logits` and
`end_logits`, so `qa.ForTraining` adapts one to the other in a few lines — it wraps the model, it does not copy
it. `qa.metrics_for` turns the validation logits into **exact match** and **F1 per question** after every epoch
(all windows of a question searched together, as in section 4); the epoch with the best validation F1 is kept.
''')

code('''
sftlab.show(qa.ForTraining)
''')

md('''
First the floor: the same model **before** fine-tuning (its head is random), scored on the test questions with the
post-processing of section 4 (the only other look at test, and no choice depends on it).
''')

code('''
def answers(split_name, which=None):
    """The model's Answer for each question of data[split_name] (or of `which`)."""
    split = data[split_name] if which is None else which
    return qa.predict_answers(model, tokenizer, split, MAX_LENGTH, DOC_STRIDE)


floor = qa.squad_scores([a.text for a in answers("test")], data["test"])
print(f"untuned model, test: exact match {floor['exact_match']:.3f}  F1 {floor['f1']:.3f}")
''')

md('''
PROSE_SETTINGS
''')

code('''
import time

from sftlab.training import TrainingConfig, train

BATCH_SIZE, LEARNING_RATE, EPOCHS = 16, 3e-4, 2
model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
train_loader = qa.make_loader(features["train"], tokenizer, batch_size=BATCH_SIZE, shuffle=True, group_by_length=True)
val_loader = qa.make_loader(features["validation"], tokenizer, batch_size=64)
config = TrainingConfig(learning_rate=LEARNING_RATE, epochs=EPOCHS, metric="f1", seed=0)
started = time.perf_counter()
history = train(qa.ForTraining(model), train_loader, val_loader, config,
                compute_metrics=qa.metrics_for(features["validation"], data["validation"]))
print(f"training took {time.perf_counter() - started:.0f} s ({history.samples_per_second:.1f} windows/s)")
print(history.summary())
''')

code('''
val_answers = answers("validation")
print(f"validation after fine-tuning: {qa.squad_scores([a.text for a in val_answers], data['validation'])}")
''')

code('''
from sftlab.viz import plot_history

fig = plot_history(history, f"Fine-tuning for extractive QA (validation: {len(data['validation'])} questions)")
''')

md('''
PROSE_TRAINING
''')

md('''
## 4. Evaluation on the test set

The held-out **test** questions, read once. Post-processing (`qa.best_answers`) is an **n-best** search: in every
window, the n best start and the n best end positions (n = 20) are paired; a pair is kept if both tokens are context
tokens, the start is not after the end, and the span is at most `max_answer_length` tokens (the **max answer
length**, 30); the best **start + end logit** over all windows of the question wins, and the offsets cut it out of
the original context. Scores follow SQuAD. Its **normalisation** of both answers: lower case, no punctuation, no
articles a/an/the, single spaces; **exact match** is 1 when they are
equal, **F1** is the harmonic mean of **precision** and **recall** over the words they share; each takes the best
over the gold answers. `tests/test_qa.py` checks these against the official SQuAD v1.1 evaluation logic.
''')

code('''
from sftlab.checks import bootstrap_interval

test_answers = answers("test")
predictions = [a.text for a in test_answers]
scores = qa.squad_scores(predictions, data["test"])
per_question = [qa.question_scores(p, a["text"]) for p, a in zip(predictions, data["test"]["answers"])]
_, f1_low, f1_high = bootstrap_interval([f1 for _, f1 in per_question])
_, em_low, em_high = bootstrap_interval([em for em, _ in per_question])
print(f"test ({len(predictions)} held-out questions): exact match {scores['exact_match']:.3f} "
      f"[{em_low:.3f}, {em_high:.3f}]  F1 {scores['f1']:.3f} [{f1_low:.3f}, {f1_high:.3f}] (95% bootstrap)")
print(f"untuned model, test:                exact match {floor['exact_match']:.3f}          "
      f"F1 {floor['f1']:.3f}")
at_least(scores["f1"], 0.60, what="test F1 after fine-tuning")
at_least(scores["exact_match"], 0.45, what="test exact match after fine-tuning")
at_least(scores["f1"] - floor["f1"], 0.40, what="test F1 gain over the untuned model");
''')

md('''
PROSE_TEST

**By question type and by answer length.** The type comes from the question's wording (`qa.question_type`: the
first question word; "which year" counts as when):
''')

code('''
import pandas as pd

golds = [a["text"][0] for a in data["test"]["answers"]]
table = pd.DataFrame({"type": [qa.question_type(q) for q in data["test"]["question"]],
                      "gold words": pd.cut([len(g.split()) for g in golds], [0, 1, 2, 4, 99],
                                           labels=["1", "2", "3–4", "5+"]),
                      "EM": [em for em, _ in per_question], "F1": [f1 for _, f1 in per_question]})
for column in ("type", "gold words"):
    summary = table.groupby(column, observed=True).agg(questions=("F1", "size"), EM=("EM", "mean"), F1=("F1", "mean"))
    print(summary.round(3).to_string(), end="\\n\\n")
''')

code('''
from sftlab.viz import plot_bars

by_type = table.groupby("type").agg(EM=("EM", "mean"), F1=("F1", "mean")).sort_values("F1", ascending=False)
fig = plot_bars([f"{t} ({(table['type'] == t).sum()})" for t in by_type.index],
                {"exact match": by_type["EM"].tolist(), "F1": by_type["F1"].tolist()},
                "Test scores by question type (questions in brackets)", "score")
''')

md('''
PROSE_TYPES

**The wrong answers.** For every test question the prediction is not an exact match for, where is the predicted span
relative to the gold one: **too long** (it contains the gold answer and more), **too short** (inside it), **shifted**
(overlapping on one side) or **elsewhere** (no overlap: the wrong thing)?
''')

code('''
def error_kind(answer, gold):
    """Where a wrong predicted span lies relative to the gold span (character offsets)."""
    if answer.end <= gold[0] or answer.start >= gold[1]:
        return "elsewhere"
    if answer.start <= gold[0] and answer.end >= gold[1]:
        return "too long"
    return "too short" if answer.start >= gold[0] and answer.end <= gold[1] else "shifted"


gold_spans = [(a["answer_start"][0], a["answer_start"][0] + len(a["text"][0])) for a in data["test"]["answers"]]
wrong = [i for i, (em, _) in enumerate(per_question) if em == 0]
kinds = Counter(error_kind(test_answers[i], gold_spans[i]) for i in wrong)
print(f"{len(wrong)} of {len(predictions)} test answers are not exact matches: {dict(kinds.most_common())}")
''')

code('''
shown = [next(i for i in wrong if error_kind(test_answers[i], gold_spans[i]) == kind) for kind, _ in kinds.most_common()]
for i in shown:
    q, a = data["test"][i], test_answers[i]
    print(f"[{error_kind(a, gold_spans[i])}] {q['question']}  gold: {golds[i]!r}  predicted: {a.text!r}  "
          f"F1 {per_question[i][1]:.2f}")
    display(qa.mark_answer(q["context"], (a.start, a.end), gold_spans[i]))
''')

md('''
PROSE_ERRORS
''')

md('''
## 5. Long contexts: windows and doc_stride

Most of our passages fit in one 192-token window, so to see what windows do we read the test set with windows of
**128** tokens and vary `doc_stride` (the overlap). Only questions whose passage needs more than one 128-token window
can change, so we read those (a passage that fits in one window gives the same tokens, and the same answer, in every
setting). The model is the same; nothing here is chosen, it is measured. The last row keeps only the first window of
each passage — plain truncation, no windows.
''')

code('''
windows_128 = Counter(qa.prepare_features(data["test"], tokenizer, 128, 0)["example_index"])
long_test = data["test"].select([i for i in range(len(data["test"])) if windows_128[i] > 1])
print(f"test questions whose passage needs more than one 128-token window: {len(long_test)} of {len(data['test'])}")


def read_long(max_length, doc_stride, first_window_only=False):
    """The long-passage test questions read with these windows: windows, logits, answers and SQuAD scores."""
    f = qa.prepare_features(long_test, tokenizer, max_length, doc_stride)
    if first_window_only:
        ex = f["example_index"]                                  # a question's windows are consecutive
        f = f.select([w for w in range(len(ex)) if w == 0 or ex[w - 1] != ex[w]])
    starts, ends = qa.window_logits(model, qa.make_loader(f, tokenizer, batch_size=64))
    found = qa.best_answers(starts, ends, f, long_test)
    return {"features": f, "logits": (starts, ends), "answers": found,
            "scores": qa.squad_scores([a.text for a in found], long_test)}


sweep = {f"doc_stride {stride}": read_long(128, stride) for stride in (0, 32, 64)}
sweep["no windows (truncated)"] = read_long(128, 0, first_window_only=True)
for name, run in sweep.items():
    print(f"max_length 128, {name:>22s}: {len(run['features']):4d} windows, "
          f"test F1 {run['scores']['f1']:.3f}  exact match {run['scores']['exact_match']:.3f}")
''')

code('''
truncated, windowed = sweep["no windows (truncated)"], sweep["doc_stride 64"]
cut_off = [i for i, labels in enumerate(truncated["features"]["labels"]) if labels == [0, 0]]
def f1_of(run, i):
    return qa.question_scores(run["answers"][i].text, long_test[i]["answers"]["text"])[1]


print(f"answers not (wholly) inside the first 128-token window: {len(cut_off)} of these {len(long_test)} questions")
print(f"their mean F1: {sum(f1_of(truncated, i) for i in cut_off) / len(cut_off):.3f} without windows, "
      f"{sum(f1_of(windowed, i) for i in cut_off) / len(cut_off):.3f} with windows (doc_stride 64)")
i = cut_off[0]
print(f"e.g. {long_test[i]['question']!r}: gold {long_test[i]['answers']['text'][0]!r}; "
      f"without windows: {truncated['answers'][i].text!r}")
''')

md('''
PROSE_STRIDE
''')

md('''
## 6. Unanswerable questions

SQuAD 2.0 added questions whose answer is not in the passage; the system must then answer nothing. The course has
such a question for every passage (`load_qa_unanswerable`), in the passage's split. The span model says "no answer"
through the `[CLS]` position: its **null score** is start[CLS] + end[CLS] (the lowest over the question's windows),
and it answers nothing when null score − best span score > τ, the **no-answer threshold**. Our model was trained on
answerable questions only (SQuAD 1.1 style): the `[CLS]` label only ever meant "not in this window". τ is chosen on
**validation** (answerable + unanswerable questions), then applied once to **test**.
''')

code('''
from datasets import concatenate_datasets

from sftlab.data import load_qa_unanswerable

unanswerable = load_qa_unanswerable()
mixed, found = {}, {}
for name in ("validation", "test"):
    mixed[name] = concatenate_datasets([data[name], unanswerable[name]])
    found[name] = (val_answers if name == "validation" else test_answers) + answers(name, unanswerable[name])
    print(f"{name}: {len(data[name])} answerable + {len(unanswerable[name])} unanswerable questions")
''')

code('''
def f1_parts(name, tau):
    """(all, answerable, unanswerable) F1 of split `name` with threshold tau."""
    texts = qa.with_no_answer(found[name], tau)
    n = len(data[name])
    return (qa.squad_scores(texts, mixed[name])["f1"], qa.squad_scores(texts[:n], data[name])["f1"],
            qa.squad_scores(texts[n:], unanswerable[name])["f1"])


import numpy as np

margins = [a.null_score - a.score for a in found["validation"]]
grid = sorted(set(np.quantile(margins, np.linspace(0, 1, 101)).round(2)))    # candidate thresholds
best_tau = max([float("inf"), *grid[::-1]], key=lambda tau: f1_parts("validation", tau)[0])
print(f"no-answer threshold chosen on validation: τ = {best_tau:.2f}")
''')

code('''
from sftlab.viz import plot_lines

curves = [f1_parts("validation", tau) for tau in grid]
fig = plot_lines(grid, {"all questions": [c[0] for c in curves], "answerable": [c[1] for c in curves],
                        "unanswerable (F1 = share left unanswered)": [c[2] for c in curves]},
                 "No-answer threshold on validation", "τ (answer nothing when null − span score > τ)", "F1")
fig.axes[0].axvline(best_tau, color="grey", ls="--", lw=1)
for name in ("validation", "test"):
    for label, tau in (("always answer", float("inf")), (f"τ = {best_tau:.2f}", best_tau)):
        f1_all, f1_has, f1_no = f1_parts(name, tau)
        print(f"{name:>10s}, {label:>13s}: F1 all {f1_all:.3f}  answerable {f1_has:.3f}  unanswerable {f1_no:.3f}")
''')

md('''
PROSE_UNANSWERABLE
''')

md('''
## 7. Checked against transformers' span decoder

Until version 5, transformers shipped `pipeline("question-answering")`, which did the windows and the span search for
you. Version 5 removed the task:
''')

code('''
import transformers

try:
    transformers.pipeline("question-answering", model=model, tokenizer=tokenizer)
except KeyError as error:
    print(f"transformers {transformers.__version__}: KeyError: {error}")
''')

md('''
Its span decoder lives on, as `select_starts_ends` in the document-QA pipeline. `qa.transformers_answers` runs it the
way the removed pipeline did: the same windows; in each, a softmax over the start and the end logits of the context
(and `[CLS]`), the span with the highest start × end **probability** (end not before start, at most
`max_answer_length` tokens); the best window by that probability; the span widened to whole words. Within one window
the highest start × end probability is the highest start + end logit; across windows the two can disagree, because
the pipeline normalises each window on its own. The check, on every test question:
''')

code('''
library = qa.transformers_answers(model, tokenizer, data["test"], MAX_LENGTH, DOC_STRIDE)
differ = [i for i, (ours, theirs) in enumerate(zip(predictions, library)) if ours != theirs]
for i in differ:
    print(f"{data['test'][i]['question']!r}: ours {predictions[i]!r}, transformers {library[i]!r}")
at_least(1 - len(differ) / len(predictions), 0.99, what="share of test answers equal to transformers' decoder's");
''')

md('''
PROSE_PIPELINE
''')

md('''
## 8. Spot the bug

**Labels from token positions, without offsets.** A tempting shortcut: the start label is the number of tokens in
the context before the answer, the end label that plus the answer's length in tokens. Nothing crashes — any number
below the window length is a legal label, and the loss goes down. Compared with the labels built from the offsets:
''')

code('''
def labels_slip(example):
    """The bug: token positions counted in the context alone, as if it started the window."""
    start, text = example["answers"]["answer_start"][0], example["answers"]["text"][0]
    s = len(tokenizer.tokenize(example["context"][:start]))
    return [s, s + len(tokenizer.tokenize(text)) - 1]


ex = train_windows["example_index"]
first = [w for w in range(len(ex)) if w == 0 or ex[w - 1] != ex[w]]          # each question's first window
right = [train_windows[w]["labels"] for w in first if train_windows[w]["labels"] != [0, 0]]
slipped = [labels_slip(data["train"][train_windows[w]["example_index"]]) for w in first if train_windows[w]["labels"] != [0, 0]]
print(f"training questions whose label moves: {sum(r != s for r, s in zip(right, slipped))} of {len(right)}")
w = first[0]
print(f"right: {tokenizer.decode(train_windows[w]['input_ids'][right[0][0]:right[0][1] + 1])!r}   "
      f"slip: {tokenizer.decode(train_windows[w]['input_ids'][slipped[0][0]:slipped[0][1] + 1])!r}")
''')

md('''
PROSE_BUG1

**Evaluating windows instead of questions.** With 128-token windows (section 5's long-passage questions, doc_stride
32), score every window
on its own: correct when the argmax start and argmax end equal its labels. Windows without the answer are labelled
`[CLS]`, and a question counts once per window:
''')

code('''
run = sweep["doc_stride 32"]
f, (starts, ends) = run["features"], run["logits"]
window_right = [int(s.argmax()) == labels[0] and int(e.argmax()) == labels[1]
                for s, e, labels in zip(starts, ends, f["labels"])]
cls_windows = [labels == [0, 0] for labels in f["labels"]]
print(f"windows: {len(f)} for {len(long_test)} questions; {sum(cls_windows)} labelled [CLS]")
print(f"'accuracy' per window:    {sum(window_right) / len(f):.3f}")
print(f"exact match per question: {run['scores']['exact_match']:.3f}")
''')

md('''
PROSE_BUG2
''')

md('''
## 9. Exercises

Three exercises; each `check_…` runs your function on several cases and explains what is wrong. Replace
`raise NotImplementedError` with your code.

**9.1** Characters to tokens: given one window's `offsets` ((start, end) per token), its `sequence_ids` and the
answer's characters `[start_char, end_char)`, return the answer's (start token, end token) — or (0, 0), the `[CLS]`
position, when the window's context does not hold the whole answer.
''')

code('''
from sftlab.exercises import check_best_span, check_char_to_token_span, check_squad_f1, show_solution


def char_to_token_span(offsets, sequence_ids, start_char, end_char):
    raise NotImplementedError  # your code here


check_char_to_token_span(char_to_token_span);
''')

md('''
**9.2** SQuAD's F1 for one prediction against a list of gold answers: normalise, count shared words with
multiplicity, take the best over the gold answers.
''')

code('''
def squad_f1(prediction, truths):
    raise NotImplementedError  # your code here


check_squad_f1(squad_f1);
''')

md('''
**9.3** The best span in one window: given (T,) start and end logits, a (T,) boolean `context_mask` and
`max_answer_length`, return the (start, end) token of the valid span with the highest start + end logit.
''')

code('''
def best_span(start_logits, end_logits, context_mask, max_answer_length):
    raise NotImplementedError  # your code here


check_best_span(best_span);
''')

md('''
`show_solution("best_span")` prints a reference solution. A typical wrong answer, for the record: the best start and
the best end taken separately. The check names it:
''')

code('''
def best_span(start_logits, end_logits, context_mask, max_answer_length):
    return int(start_logits.argmax()), int(end_logits.argmax())


check_best_span(best_span);
''')

md('''
## 10. Interview questions

Why spans, the QA head, offsets and labels, windows and `doc_stride`, post-processing, EM vs F1 and SQuAD's
normalisation, SQuAD 1.1 vs 2.0 and the no-answer threshold, evaluation pitfalls, and when a reader beats an LLM.
How to build the whole system around the reader is card `00-qa-system` in notebook 00's deck. Answer aloud, then
reveal; `lang="zh"` shows the cards in Chinese, `lang="both"` in both languages.
''')

code('''
from sftlab.quiz import cards

cards(notebook="07", lang="en")
''')

code('''
from sftlab.glossary import show_glossary, show_summary

show_summary("07")
''')

code('''
show_glossary("07")
''')
