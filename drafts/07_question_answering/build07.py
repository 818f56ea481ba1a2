"""Build notebooks/07_question_answering.ipynb (run: python drafts/07_question_answering/build07.py)."""
from pathlib import Path

import nbformat

from sftlab.course.chapters import colab_cell

cells = []


def md(text):
    cells.append(nbformat.v4.new_markdown_cell(text.strip("\n")))


def code(text, tags=()):
    cell = nbformat.v4.new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    cells.append(cell)


md('''
# 07 · A simple question-answering system: retrieve, then read

A user asks a question; the system finds the passage that answers it and points at the answer inside it. That is
the classic **retrieve-then-read** design behind open-domain question answering (DrQA, Chen et al. 2017; DPR,
Karpukhin et al. 2020), and a small version of what retrieval-augmented generation does today. In this notebook you
will build each part, measure it, and put them together:

1. the data: questions about passages, each answer a **span** of its passage (SQuAD's format) — **extractive
   question answering**;
2. a **retriever**: lexical (TF-IDF), dense (sentence embeddings from the course's encoder, checked against
   sentence-transformers) and a **hybrid**, compared by recall@k and MRR;
3. a **reader**: the encoder with a span head, fine-tuned on a CPU budget by running the frozen lower layers once
   and training only the top layers — how many layers, and how many epochs, chosen on validation;
4. the reader on held-out test questions over three seeds, by question type and answer length, and its mistakes;
5. how much more data would help (a learning curve), and a **second reader**: the chapter-06 chat model;
6. the whole system end to end, with a box to ask your own question;
7. long passages (windows, `doc_stride`), **unanswerable** questions and a no-answer threshold;
8. our span search checked against transformers' own decoder; two classic bugs; three exercises.

Shapes: **B** windows in a batch, **T** tokens in a window, **D** hidden width, **Q** questions, **P** passages.
''')

code(colab_cell())

code('''
import sftlab

sftlab.banner();
''')

md('''
## 1. The data: a span of the passage

The course's QA set (`data/qa/`, written for this course; the full profile loads SQuAD v1.1 in the same schema) has
SQuAD's format: each row is a `question` about a `context` passage, with `answers` = the answer `text` and its
character offset `answer_start` in the context. Splits are **by passage**: a test question is always about a
passage no model here trained on. Each of our questions has **one** gold answer; SQuAD's validation questions have
about three, written by different people, and each prediction is scored against the closest — so the same reader
scores lower here than it would with several references.
''')

code('''
from collections import Counter

from IPython.display import display

from sftlab import qa
from sftlab.course.chapters import sizes
from sftlab.course.checks import at_least, holds, same
from sftlab.data import load_qa

SIZES = sizes("07")                   # how much of the data this profile uses: sftlab.course.chapters.SIZES
data = load_qa()
if SIZES.train_rows or SIZES.eval_rows:   # the full profile: SQuAD, cut to a size a free GPU reads in minutes
    cut = {"train": SIZES.train_rows, "validation": SIZES.eval_rows, "test": SIZES.eval_rows}
    data = type(data)({name: split.shuffle(seed=0).select(range(min(cut[name] or len(split), len(split))))
                       for name, split in data.items()})
for name, split in data.items():
    print(f"{name:>10s}: {len(split):5d} questions on {len(set(split['context'])):4d} passages")
example = data["train"][2]
start, text = example["answers"]["answer_start"][0], example["answers"]["text"][0]
print(f"\\nquestion: {example['question']}\\nanswer:   {text!r}, characters {start}–{start + len(text)}")
display(qa.mark_answer(example["context"], None, (start, start + len(text))))
# load_qa raises on any answer that is not the context's text at its answer_start (sftlab.qa.check_answers),
# so this count is a demonstration, not a check:
found = sum(s["context"][a["answer_start"][0]:a["answer_start"][0] + len(a["text"][0])] == a["text"][0]
            for s in data["train"] for a in [s["answers"]])
print(f"training answers found at their answer_start: {found} of {len(data['train'])}")
golds_per_question = Counter(len(a["text"]) for a in data["test"]["answers"])
print(f"gold answers per test question: {dict(golds_per_question)}")
''')

md('''
**Why a span and not generation?** The answer is, by definition, a stretch of the given passage, so the reader only
has to choose two positions — where the answer starts and where it ends — instead of writing words. Two
classifications over the passage's tokens are cheap (one encoder pass, no decoding loop), need little training data,
cannot invent text that is not in the passage, and can be scored exactly. What a span cannot express — yes/no,
a count that must be computed, an answer combined from two sentences — is the domain of generative QA.
''')

md('''
## 2. The retriever: which passage answers the question?

Every passage of every split goes into one index; each question is searched against all of them, and we ask where
its own passage lands. Three retrievers:

- **TF-IDF** (scikit-learn): a passage scores high when it shares the question's rarer words. Exact words only —
  "canals" and "waterways" do not meet.
- **Dense retrieval**: the course's encoder embeds question and passage into one vector each — the mean of the last hidden
  states over the real tokens, L2-normalised — and the score is their cosine. Offline the encoder is
  all-MiniLM-L6-v2, trained by its authors on about a billion sentence pairs *for exactly this*: finding the text
  that matches a query (its training pairs include SQuAD 2.0's questions and their passages — but not its answer
  spans), on texts cut at 128 tokens; sentence-transformers lets it read 256, so our longest passages are embedded
  beyond the length it was trained on. Passages are embedded once; a question costs one encoder pass.
- **Hybrid retrieval**: a weighted sum of the two, each rescaled to [0, 1] per question; the weight is chosen on validation.
  A second way to fuse needs no weight: **reciprocal-rank fusion** (RRF) adds 1 / (60 + rank) from each.

**Recall@k** is the share of questions whose passage is among the top k; **MRR** the mean of 1 / rank of that
passage. A reader can only answer from what the retriever hands it, so recall@k bounds the whole system (a random
ranking of the 154 passages would score recall@1 = 1/154).
''')

code('''
import numpy as np

from sftlab.devices import timed
from sftlab.models import load_encoder
from sftlab.stats import bootstrap_interval

passages = qa.unique_passages(data)
encoder_tokenizer, encoder = load_encoder("features")
with timed() as clock:
    tfidf = qa.TfidfRetriever(passages)
    dense = qa.DenseRetriever(passages, encoder_tokenizer, encoder)
print(f"{len(passages)} passages indexed in {clock.seconds:.1f} s; embeddings {tuple(dense.embeddings.shape)}")
sftlab.show(qa.embed)
''')

md('''
**Checked against the library.** sentence-transformers' `encode` is what practitioners call for these embeddings;
on the offline model it reads the model's own pooling configuration (mean pooling, 256 tokens at most). Ours must give
the same vectors:
''')

code('''
probe = list(data["test"]["question"])[:8] + passages[:8]
if sftlab.active().name == "offline":     # the full profile's bert-base is not a sentence-transformers model
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    from sftlab.models import offline_package, offline_path

    transformers_logging.disable_progress_bar()              # its per-tensor loading bar is noise here
    library = SentenceTransformer(str(offline_path(offline_package("encoder"))), device="cpu")
    transformers_logging.enable_progress_bar()
    theirs = library.encode(probe, normalize_embeddings=True, convert_to_tensor=True)
    same(qa.embed(probe, encoder_tokenizer, encoder), theirs, atol=1e-5,
         what=f"our embeddings vs sentence-transformers' encode, {len(probe)} questions and passages")
    longest = max(len(encoder_tokenizer(p)["input_ids"]) for p in passages)
    print(f"longest passage: {longest} tokens; sentence-transformers cuts at {library.max_seq_length}")
''')

code('''
from sftlab.course.viz import plot_bars

scores = {name: {"tfidf": tfidf.scores(split["question"]), "dense": dense.scores(split["question"])}
          for name, split in data.items() if name != "train"}
gold = {name: qa.gold_indices(data[name], passages) for name in scores}
hybrid = qa.HybridRetriever(tfidf, dense)
weights = np.round(np.linspace(0, 1, 11), 1)                   # 0: TF-IDF alone … 1: dense alone
val_mrr = [qa.retrieval_scores(qa.HybridRetriever(tfidf, dense, weight=w).fuse(scores["validation"]["tfidf"],
                                                                                 scores["validation"]["dense"]),
                               gold["validation"])["mrr"] for w in weights]
best_weight = float(weights[int(np.argmax(val_mrr))])
hybrid = qa.HybridRetriever(tfidf, dense, weight=best_weight)
print("validation MRR by dense weight:", dict(zip(weights.tolist(), np.round(val_mrr, 3).tolist())))
print(f"chosen on validation: hybrid = {best_weight} × dense + {1 - best_weight:.1f} × TF-IDF")
''')

md('''
Now the **test** questions, read once. Intervals are bootstrap intervals over questions (`confidence=0.95`).
''')

code('''
import pandas as pd

rrf = qa.HybridRetriever(tfidf, dense, method="rrf")
test_scores = dict(scores["test"], hybrid=hybrid.fuse(scores["test"]["tfidf"], scores["test"]["dense"]),
                   rrf=rrf.fuse(scores["test"]["tfidf"], scores["test"]["dense"]))
retrieval = {name: qa.retrieval_scores(s, gold["test"]) for name, s in test_scores.items()}
rows = {}
for name, result in retrieval.items():
    rows[name] = {metric: "{:.3f} [{:.3f}, {:.3f}]".format(*bootstrap_interval(result["per_question"][metric]))
                  for metric in ("recall@1", "recall@5", "mrr")}
display(pd.DataFrame(rows).T)
fig = plot_bars(list(retrieval), {m: [retrieval[n][m] for n in retrieval] for m in ("recall@1", "recall@5", "mrr")},
                f"Retrieval on {len(data['test'])} test questions, {len(passages)} passages", "score")
''')

code('''
from sftlab.stats import mcnemar, paired_bootstrap

for a, b in (("dense", "tfidf"), ("hybrid", "dense")):        # the two comparisons the design asks, fixed in advance
    test = mcnemar(retrieval[a]["per_question"]["recall@1"], retrieval[b]["per_question"]["recall@1"])
    difference = paired_bootstrap(retrieval[a]["per_question"]["mrr"], retrieval[b]["per_question"]["mrr"])
    print(f"{a} vs {b}, same questions: passage first for {a} only {test['only_a']}, for {b} only "
          f"{test['only_b']} (McNemar p = {test['p_value']:.4f}); MRR difference {difference[0]:+.3f} "
          f"[{difference[1]:+.3f}, {difference[2]:+.3f}]")
    holds(difference[1] > 0, finding=True, what=f"{a} ranks the gold passage higher than {b} (paired MRR interval)",
          detail=f"[{difference[1]:+.3f}, {difference[2]:+.3f}]")
''')

code('''
question = data["test"][0]["question"]
print(f"question: {question}\\ngold passage: {passages[gold['test'][0]][:90]}…")
for rank, (index, score) in enumerate(hybrid.top_k([question], k=3)[0], start=1):
    print(f"  {rank}. score {score:.3f}  {'(gold) ' if index == gold['test'][0] else ''}{passages[index][:90]}…")
''')

md('''
PROSE_RETRIEVAL
''')

md('''
## 3. The reader: start and end of the answer

`AutoModelForQuestionAnswering` puts a **question answering head** — one linear layer, `qa_outputs` — on every
token's final vector, with two outputs: a **start logit** and an **end logit**. A softmax over a window's T positions of the start logits says where
the answer starts, one over the end logits where it ends; training minimises the mean of the two cross-entropies.

The model reads `[CLS] question [SEP] context [SEP]`, and its positions are **token** positions; the answer is given
in **characters**. The fast tokenizer's **offset mapping** — each token's (start, end) characters in its own text —
bridges the two, and `sequence_ids` says which tokens belong to the context:
''')

code('''
from sftlab.models import load_encoder
from sftlab.training import seed_everything

seed_everything(0)
tokenizer, reader_model = load_encoder("question-answering")
D, LAYERS = reader_model.config.hidden_size, reader_model.config.num_hidden_layers
print(f"the span head, {reader_model.qa_outputs}: {sum(p.numel() for p in reader_model.qa_outputs.parameters())} "
      f"parameters = 2·D + 2 with D = {D}")
pair = tokenizer([example["question"]], [example["context"]], return_offsets_mapping=True)
offsets = qa.context_offsets(pair, 0)                                   # None off the context
s, e = qa.char_span_to_tokens(offsets, start, start + len(text))
print(f"answer characters {start}–{start + len(text)} → tokens {s}–{e}: {pair.tokens(0)[s:e + 1]}")
same(example["context"][offsets[s][0]:offsets[e][1]], text, what="the labelled tokens' characters = the answer")
kept = [(o, token) for o, token in zip(offsets, pair.tokens(0)) if o is not None]
display(qa.mark_tokens(example["context"][:160], [o for o, _ in kept if o[1] <= 160],
                       [t for o, t in kept if o[1] <= 160]))
''')

md('''
**Windows.** A window holds at most `max_length` tokens; a longer passage is cut into overlapping windows
(`doc_stride` tokens of overlap, section 7). At `max_length` 256 almost every question is one window (the
longest passages, with their question, need two).

**Training on a CPU budget.** Fine-tuning all six layers of the encoder costs a forward and a backward pass through
all of them for every window, every epoch — on a laptop CPU, few steps fit in a notebook's minutes. The bet here:
the lower layers, which encode general features of the text, can stay as they are. So we freeze them, run them **once** over every window and keep their output (`qa.cache_lower_layers`), and train only the
top `n` layers and the span head on those cached hidden states (`qa.TopReader`, which holds the model's own layers:
training it trains the model). Each epoch then costs `n`/6 of a forward pass plus their backward. First, the wrapper
must compute exactly what the full model computes:
''')

code('''
import torch

MAX_LENGTH, DOC_STRIDE = 256, 64
features = {name: qa.prepare_features(split, tokenizer, MAX_LENGTH, DOC_STRIDE) for name, split in data.items()}
for name, f in features.items():
    mean_tokens = np.mean([len(ids) for ids in f["input_ids"]])
    print(f"{name:>10s}: {len(data[name])} questions → {len(f)} windows, mean {mean_tokens:.0f} tokens")
probe = features["validation"].select(range(min(8, len(features["validation"]))))
full_starts, full_ends = qa.window_logits(reader_model, qa.make_loader(probe, tokenizer, batch_size=8))
for n in range(1, min(3, LAYERS) + 1):       # the test stand-in of the hub has only 2 layers
    starts, ends = qa.cached_logits(qa.TopReader(reader_model, n), qa.cache_lower_layers(reader_model, probe, n))
    ours = torch.stack([torch.cat(starts), torch.cat(ends)])                        # (2, tokens of the windows)
    full = torch.stack([torch.cat([s[:len(ids)] for s, ids in zip(full_starts, probe["input_ids"])]),   # real tokens
                        torch.cat([e[:len(ids)] for e, ids in zip(full_ends, probe["input_ids"])])])
    same(ours, full, atol=1e-5, what=f"top {n} layer(s) on cached states vs the full model, start and end logits")
sftlab.show(qa.TopReader.forward)
''')

md('''
The same logits in evaluation. In **training** the two differ in two ways, both deliberate: the cached lower layers
ran once in eval mode, so their dropout (0.1 in every layer) never fires — only the trained top layers drop out; and
`TopReader` keeps padding out of the span softmax, where `BertForQuestionAnswering`'s loss lets padding positions
compete, so there a window's loss depends on how much its batch was padded.
''')

md('''
**The floor.** The reader before training — its span head is freshly initialised — scored on validation with the
post-processing of section 4: what a model gets without learning anything.
''')

code('''
from sftlab.training import TrainingConfig, train

initial = {k: v.clone() for k, v in reader_model.state_dict().items()}      # pre-trained encoder, fresh head


def answers_from(reader, cache, name):
    """The reader's answer to every question of split `name`, from its cached windows (same order)."""
    starts, ends = qa.cached_logits(reader, cache)
    return qa.best_answers(starts, ends, features[name], data[name])


def fit(n_top, learning_rate, epochs, seed=0, train_cache=None, val_cache=None, rows=None):
    """Train the top n_top layers and the head from the pre-trained weights on cached states; the epoch with the
    best validation F1 is kept. rows: the training questions to use (None: all). Returns (history, seconds)."""
    reader_model.load_state_dict(initial)
    qa.reset_span_head(reader_model, seed)
    qa.freeze_lower(reader_model, n_top)
    cache = train_cache
    if rows is not None:                        # the windows of these questions only
        wanted = set(rows)
        keep = [w for w, i in enumerate(features["train"]["example_index"]) if i in wanted]
        cache = {k: [v[w] for w in keep] if isinstance(v, list) else v[keep] for k, v in train_cache.items()}
    config = TrainingConfig(learning_rate=learning_rate, epochs=epochs, warmup_ratio=0.1, metric="f1", seed=seed,
                            progress=False)
    with timed() as clock:
        history = train(qa.TopReader(reader_model, n_top), qa.cache_loader(cache, 16, shuffle=True, seed=seed),
                        qa.cache_loader(val_cache, 64), config,
                        compute_metrics=qa.metrics_for(features["validation"], data["validation"]))
    return history, clock.seconds


with timed() as clock:
    caches = {n: {name: qa.cache_lower_layers(reader_model, features[name], n) for name in ("train", "validation")}
              for n in range(1, min(3, LAYERS) + 1)}
print(f"lower layers run once for n = 1, 2, 3 (train + validation windows): {clock.seconds:.0f} s")
qa.reset_span_head(reader_model, 0)
n_most = max(caches)                                             # 3, or fewer on a smaller encoder
floor_val = qa.squad_scores([a.text for a in answers_from(qa.TopReader(reader_model, n_most),
                                                          caches[n_most]["validation"], "validation")],
                            data["validation"])
print(f"untrained reader, validation: exact match {floor_val['exact_match']:.3f}  F1 {floor_val['f1']:.3f}")


def step_seconds(model, batch):
    """Seconds of one forward + backward pass on `batch` (the optimizer's update costs the same either way)."""
    model.train()
    with timed() as step_clock:
        model(**batch).loss.backward()
    reader_model.zero_grad(set_to_none=True)
    return step_clock.seconds


probe_windows = range(min(16, len(features["train"])))               # the hub stand-in has fewer
full_batch = next(iter(qa.make_loader(features["train"].select(probe_windows), tokenizer, batch_size=16)))
top_batch = next(iter(qa.cache_loader({k: v[:16] for k, v in caches[n_most]["train"].items()}, 16)))
top_reader = qa.TopReader(reader_model, n_most)
step_times = {"full": [], "top": []}
for step in range(11):                 # interleaved, so that a busy moment of the machine hits both; step 0 warms up
    for name, model, batch in (("full", reader_model, full_batch), ("top", top_reader, top_batch)):
        seconds = step_seconds(model, batch)
        if step:
            step_times[name].append(seconds)
full_step, top_step = np.median(step_times["full"]), np.median(step_times["top"])
print(f"one training step on the same 16 windows (median of 10): all {LAYERS} layers {full_step:.2f} s, "
      f"top {n_most} on cached states {top_step:.2f} s ({full_step / top_step:.1f}× cheaper)")
''')

md('''
**How many layers, which learning rate, how many epochs — chosen on validation.** Each setting trains from the
pre-trained weights with seed 0, six epochs, batches of 16 windows, 10% warmup and linear decay; validation F1 is
measured after every epoch and the best epoch's weights are kept (early stopping within one six-epoch schedule: a
run of fewer epochs would decay its learning rate sooner, so "best epoch 4" is not "4 epochs are best"). Three
learning rates are tried on three layers, one on one and two layers. More trained layers adapt more of the
model but cost more per step:
''')

code('''
from sftlab.course.progress import progress_bar

SETTINGS = [(n, lr) for n, lr in [(1, 1e-3), (2, 1e-3), (3, 3e-4), (3, 1e-3), (3, 2e-3)] if n <= LAYERS]
EPOCHS = 6
sweep, bar = {}, progress_bar(len(SETTINGS), desc="settings")
for n, lr in SETTINGS:
    history, seconds = fit(n, lr, EPOCHS, train_cache=caches[n]["train"], val_cache=caches[n]["validation"])
    bar.update(1)
    sweep[(n, lr)] = {"seconds": seconds, "f1 by epoch": [e["f1"] for e in history.epochs],
                      "em by epoch": [e["exact_match"] for e in history.epochs],
                      "state": {k: v.clone() for k, v in reader_model.state_dict().items()}}   # its best epoch
bar.close()
table = pd.DataFrame([{"layers trained": n, "learning rate": f"{lr:g}", "best epoch": int(np.argmax(r["f1 by epoch"])) + 1,
                       "validation F1": max(r["f1 by epoch"]),
                       "validation EM": r["em by epoch"][int(np.argmax(r["f1 by epoch"]))],
                       "training s": round(r["seconds"])} for (n, lr), r in sweep.items()])
display(table.round(3))
''')

code('''
from sftlab.course.viz import plot_lines

fig = plot_lines(list(range(1, EPOCHS + 1)), {f"{n} layer{'s' if n > 1 else ''}, lr {lr:g}": r["f1 by epoch"]
                                             for (n, lr), r in sweep.items()},
                 "Validation F1 after each epoch", "epoch", "validation F1")
N_TOP, LEARNING_RATE = max(sweep, key=lambda key: max(sweep[key]["f1 by epoch"]))
BEST_EPOCHS = int(np.argmax(sweep[(N_TOP, LEARNING_RATE)]["f1 by epoch"])) + 1
print(f"chosen on validation: {N_TOP} layers, learning rate {LEARNING_RATE:g}, best epoch {BEST_EPOCHS} of {EPOCHS}")
''')

md('''
PROSE_SWEEP
''')

md('''
## 4. The reader on the test set

The chosen setting, trained with two more seeds (the seed changes the span head's initialisation and the order of
the batches). The **test** questions are read once, by each of the three readers, and by two that learn nothing:
the untrained model and a **sentence-overlap** baseline (`qa.overlap_answer`: the passage's sentence that shares
the most words with the question, minus those words — the answer usually sits beside the words that ask for it).

Post-processing (`qa.best_answers`) is an **n-best** search: the 20 best start and the 20 best end positions of each
window are paired; a pair is kept if both tokens are in the context, the start is not after the end and the span is
at most 30 tokens (the **max answer length**); the best **start + end logit** wins; a span that begins or ends inside
a word ("millili") is widened to the whole word, as transformers' pipeline did; and the offsets cut it out of the
original context. The **evaluation** follows SQuAD: both answers are **normalised** (lower case, no punctuation, no
articles, single spaces); **exact match** is 1 when they are equal, **F1** the harmonic mean of precision and recall
over the words they share, each the best over the gold answers (`tests/test_qa.py` checks these against the official SQuAD v1.1 logic).
''')

code('''
from sftlab.stats import mean_and_interval

test_cache = qa.cache_lower_layers(reader_model, features["test"], N_TOP)
reader = qa.TopReader(reader_model, N_TOP)          # the model's own top layers: loading a state changes them too
reader_model.load_state_dict(initial)
qa.reset_span_head(reader_model, 0)
floor = qa.squad_scores([a.text for a in answers_from(reader, test_cache, "test")], data["test"])
trained_states, test_runs = {}, {}
bar = progress_bar(3, desc="seeds")
for seed in (0, 1, 2):
    if seed == 0:                                    # the sweep's run of the chosen setting, at its best epoch
        seconds = sweep[(N_TOP, LEARNING_RATE)]["seconds"]
        best_val = max(sweep[(N_TOP, LEARNING_RATE)]["f1 by epoch"])
        reader_model.load_state_dict(sweep[(N_TOP, LEARNING_RATE)]["state"])
    else:
        history, seconds = fit(N_TOP, LEARNING_RATE, EPOCHS, seed, caches[N_TOP]["train"],
                               caches[N_TOP]["validation"])
        best_val = max(e["f1"] for e in history.epochs)
    trained_states[seed] = {k: v.clone() for k, v in reader_model.state_dict().items()}
    found = answers_from(reader, test_cache, "test")
    test_runs[seed] = {"answers": found, "seconds": seconds, "validation f1": best_val,
                       "per question": [qa.question_scores(a.text, g["text"]) for a, g in
                                        zip(found, data["test"]["answers"])]}
    bar.update(1)
bar.close()
f1s = [np.mean([f1 for _, f1 in r["per question"]]) for r in test_runs.values()]
ems = [np.mean([em for em, _ in r["per question"]]) for r in test_runs.values()]
print("test, three seeds: F1 {:.3f} [{:.3f}, {:.3f}], exact match {:.3f} [{:.3f}, {:.3f}] (mean, 95% t-interval)"
      .format(*mean_and_interval(f1s), *mean_and_interval(ems)))
print(f"  per seed: F1 {np.round(f1s, 3).tolist()}, EM {np.round(ems, 3).tolist()}; "
      f"training {np.mean([r['seconds'] for r in test_runs.values()]):.0f} s per seed")
print(f"  validation F1 per seed (best epoch): {[round(r['validation f1'], 3) for r in test_runs.values()]}")
seed_mean_f1 = [np.mean([r["per question"][i][1] for r in test_runs.values()]) for i in range(len(data["test"]))]
print("  F1 of the 3-seed mean, 95% bootstrap interval over the test questions: {:.3f} [{:.3f}, {:.3f}]"
      .format(*bootstrap_interval(seed_mean_f1)))
print(f"untrained reader, test: exact match {floor['exact_match']:.3f}  F1 {floor['f1']:.3f}")
overlap = [qa.question_scores(qa.overlap_answer(q, c), a["text"])
           for q, c, a in zip(data["test"]["question"], data["test"]["context"], data["test"]["answers"])]
print(f"sentence-overlap baseline, test: exact match {np.mean([em for em, _ in overlap]):.3f}  "
      f"F1 {np.mean([f1 for _, f1 in overlap]):.3f}")
at_least(np.mean(f1s) - floor["f1"], 0.30, finding=True, what="test F1 gain over the untrained reader, mean of 3 seeds")
over_overlap = paired_bootstrap(seed_mean_f1, [f1 for _, f1 in overlap])
print(f"reader (mean of 3 seeds) − overlap baseline, per question: F1 {over_overlap[0]:+.3f} "
      f"[{over_overlap[1]:+.3f}, {over_overlap[2]:+.3f}] (paired bootstrap)")
holds(over_overlap[1] > 0, finding=True, what="the trained reader beats the sentence-overlap baseline on test F1",
      detail=f"paired interval [{over_overlap[1]:+.3f}, {over_overlap[2]:+.3f}]");
''')

md('''
PROSE_TEST

**By question type and by answer length** (seed 0's reader, 95% bootstrap intervals over the questions of each group;
`qa.question_type` puts "how many/much" anywhere in the question first and counts "what/which year, century …" as
*when*; otherwise the first question word decides):
''')

code('''
reader_model.load_state_dict(trained_states[0])
per_question = test_runs[0]["per question"]
golds = [a["text"][0] for a in data["test"]["answers"]]
by = pd.DataFrame({"type": [qa.question_type(q) for q in data["test"]["question"]],
                   "answer words": pd.cut([len(g.split()) for g in golds], [0, 1, 3, 99], labels=["1", "2–3", "4+"]),
                   "EM": [em for em, _ in per_question], "F1": [f1 for _, f1 in per_question]})
for column in ("type", "answer words"):
    rows = []
    for group, part in by.groupby(column, observed=True):
        mean, low, high = bootstrap_interval(part["F1"].to_numpy())
        rows.append({column: group, "questions": len(part), "EM": round(part["EM"].mean(), 3), "F1": round(mean, 3),
                     "F1 interval": f"[{low:.3f}, {high:.3f}]"})
    print(pd.DataFrame(rows).sort_values("F1", ascending=False).to_string(index=False), end="\\n\\n")
''')

md('''
**The wrong answers.** Where does each wrong span lie relative to the gold one: **too long** (it contains the gold
answer and more), **too short** (inside it), **shifted** (overlapping on one side) or **elsewhere** (no overlap)?
''')

code('''
def error_kind(answer, gold_span):
    """Where a wrong predicted span lies relative to the gold span (character offsets)."""
    if answer.end <= gold_span[0] or answer.start >= gold_span[1]:
        return "elsewhere"
    if answer.start <= gold_span[0] and answer.end >= gold_span[1]:
        return "too long"
    return "too short" if answer.start >= gold_span[0] and answer.end <= gold_span[1] else "shifted"


test_answers = test_runs[0]["answers"]
gold_spans = [(a["answer_start"][0], a["answer_start"][0] + len(a["text"][0])) for a in data["test"]["answers"]]
wrong = [i for i, (em, _) in enumerate(per_question) if em == 0]
kinds = Counter(error_kind(test_answers[i], gold_spans[i]) for i in wrong)
print(f"{len(wrong)} of {len(test_answers)} test answers are not exact matches: {dict(kinds.most_common())}")
for kind, _ in kinds.most_common():
    i = next(i for i in wrong if error_kind(test_answers[i], gold_spans[i]) == kind)
    print(f"\\n[{kind}] {data['test'][i]['question']}  gold: {golds[i]!r}  predicted: {test_answers[i].text!r}")
    display(qa.mark_answer(data["test"][i]["context"], (test_answers[i].start, test_answers[i].end), gold_spans[i]))
''')

md('''
PROSE_ERRORS
''')

md('''
## 5. More data, or another reader?

**A learning curve.** The same reader trained on a quarter and on half of the training questions (whole passages,
drawn with a fixed seed), scored on validation, each at its best epoch as in the sweep. A curve still climbing at
full size says more questions would help:
''')

code('''
import random

train_passages = sorted(set(data["train"]["context"]))
random.Random(0).shuffle(train_passages)
curve = {}
for share in (0.25, 0.5):
    chosen = set(train_passages[:round(share * len(train_passages))])
    rows = [i for i, c in enumerate(data["train"]["context"]) if c in chosen]
    history, _ = fit(N_TOP, LEARNING_RATE, EPOCHS, 0, caches[N_TOP]["train"], caches[N_TOP]["validation"], rows=rows)
    curve[len(rows)] = max(e["f1"] for e in history.epochs)
curve[len(data["train"])] = max(sweep[(N_TOP, LEARNING_RATE)]["f1 by epoch"])
reader_model.load_state_dict(trained_states[0])                 # seed 0's reader again, for the sections below
for questions, f1 in curve.items():
    print(f"{questions:5d} training questions: validation F1 {f1:.3f}")
fig = plot_lines(list(curve), {"validation F1": list(curve.values())}, "Learning curve of the reader",
                 "training questions", "validation F1")
''')

md('''
PROSE_CURVE

**A second reader: the chat model.** Chapter 06's instruction-tuned SmolLM2 can read a passage and answer in words.
We ask it, zero-shot, for the shortest span copied from the passage, on test questions with their gold passage, and
score its answer with the same SQuAD metrics (after removing a "The answer is" preamble and quotes), and once more
after mapping it onto the passage's closest span (`qa.closest_span`) — beside the span reader and the overlap baseline
on the same questions:
''')

code('''
import re

from sftlab.instruct import generate_answers
from sftlab.models import load_chat_lm

chat_tokenizer, chat_model = load_chat_lm()
step = max(1, len(data["test"]) // SIZES.chat_questions)
chat_rows = list(range(0, len(data["test"]), step))[:SIZES.chat_questions]          # spread over the test passages
prompts = [chat_tokenizer.apply_chat_template(
    [{"role": "system", "content": "Answer with the shortest span copied word for word from the passage."},
     {"role": "user",
      "content": f"Passage: {data['test'][i]['context']}\\n\\nQuestion: {data['test'][i]['question']}"}],
    tokenize=False, add_generation_prompt=True) for i in chat_rows]
with timed() as chat_clock:
    chat_raw = generate_answers(chat_model, chat_tokenizer, prompts, max_new_tokens=24, batch_size=8)
chat_answers = [re.sub(r"^(the answer is:?|answer:)\\s*", "", a.strip(), flags=re.I).strip(" \\"'.") for a in chat_raw]
mapped = [qa.closest_span(a, data["test"][i]["context"]) for a, i in zip(chat_answers, chat_rows)]   # onto the passage
span_f1 = [per_question[i][1] for i in chat_rows]
print(f"{len(chat_rows)} test questions, gold passage given:")
print(f"  span reader (seed 0): F1 {np.mean(span_f1):.3f}; sentence-overlap baseline: F1 "
      f"{np.mean([overlap[i][1] for i in chat_rows]):.3f}")
for label, texts in (("chat model, zero-shot", chat_answers), ("…its answer mapped to a passage span", mapped)):
    chat_scores = [qa.question_scores(a, data["test"][i]["answers"]["text"]) for a, i in zip(texts, chat_rows)]
    diff = paired_bootstrap(span_f1, [f1 for _, f1 in chat_scores])
    print(f"  {label}: F1 {np.mean([f1 for _, f1 in chat_scores]):.3f}, exact match "
          f"{np.mean([em for em, _ in chat_scores]):.3f}; span reader − it: {diff[0]:+.3f} [{diff[1]:+.3f}, "
          f"{diff[2]:+.3f}] (paired bootstrap)")
words = {name: np.mean([len(t.split()) for t in texts]) for name, texts in
         (("gold", [golds[i] for i in chat_rows]), ("chat", chat_answers), ("mapped span", mapped))}
print("  words per answer: " + ", ".join(f"{name} {n:.1f}" for name, n in words.items()))
print(f"  chat model: {1000 * chat_clock.seconds / len(chat_rows):.0f} ms per question")
for a, i in list(zip(chat_raw, chat_rows))[:3]:
    print(f"  {data['test'][i]['question']!r}: chat says {a!r}; gold {data['test'][i]['answers']['text'][0]!r}")
''')

code('''
with timed() as span_clock:
    answers_from(reader, test_cache, "test")
print(f"span reader: {1000 * span_clock.seconds / len(data['test']):.1f} ms per question on cached lower layers "
      f"(the top {N_TOP} layers and the search), {1000 * chat_clock.seconds / len(chat_rows):.0f} ms for the chat "
      f"model")
''')

md('''
PROSE_CHAT
''')

md('''
## 6. The whole system: question → passage → answer

End to end, the reader reads the passage the hybrid retriever ranks first — not the gold one. Compared on the same
test questions with reading the gold passage, the gap is what retrieval costs. (Reading the top 3 passages and keeping the best
span needs span scores that are comparable across passages; nothing in this reader's training asked for that, and
it is not tried here.)
''')

code('''
top1 = [hits[0][0] for hits in hybrid.top_k(data["test"]["question"], k=1)]
no_answer = {"text": [], "answer_start": []}                # the gold offsets belong to the gold passage
retrieved = data["test"].map(lambda row, i: {"context": passages[top1[i]], "answers": no_answer}, with_indices=True)
retrieved_features = qa.prepare_features(retrieved, tokenizer, MAX_LENGTH, DOC_STRIDE)
e2e_cache = qa.cache_lower_layers(reader_model, retrieved_features, N_TOP)
starts, ends = qa.cached_logits(reader, e2e_cache)
e2e_answers = qa.best_answers(starts, ends, retrieved_features, retrieved)
e2e = [qa.question_scores(a.text, g["text"]) for a, g in zip(e2e_answers, data["test"]["answers"])]
hit = np.array(top1) == gold["test"]
gap = paired_bootstrap([f1 for _, f1 in per_question], [f1 for _, f1 in e2e])
print(f"test F1: gold passage {np.mean([f for _, f in per_question]):.3f}, retrieved passage "
      f"{np.mean([f for _, f in e2e]):.3f}; gap {gap[0]:.3f} [{gap[1]:.3f}, {gap[2]:.3f}]")
f1_hit, f1_miss = (np.mean([e2e[i][1] for i in np.flatnonzero(rows)]) for rows in (hit, ~hit))
print(f"right passage retrieved for {hit.mean():.1%} of the questions; F1 there {f1_hit:.3f}, elsewhere {f1_miss:.3f}")
''')

code('''
import ipywidgets as widgets
from datasets import Dataset

from sftlab.course.highlight import Highlighted


def ask(question: str):
    """The system: the hybrid retriever's best passage, then the reader's best span in it, marked on the passage."""
    index = hybrid.top_k([question], k=1)[0][0][0]
    one = Dataset.from_list([{"id": "asked", "title": "", "context": passages[index], "question": question,
                              "answers": no_answer}], features=data["test"].features)
    f = qa.prepare_features(one, tokenizer, MAX_LENGTH, DOC_STRIDE)
    s, e = qa.window_logits(reader_model, qa.make_loader(f, tokenizer, batch_size=8))
    answer = qa.best_answers(s, e, f, one)[0]
    print(f"{question}  →  {answer.text!r}")
    return Highlighted(passages[index], [(answer.start, answer.end, "answer")], {"answer": "#ffe0b2"})


display(ask("How many bridges join the islands of Venice?"))         # a static example for the saved notebook
box = widgets.Text(placeholder="Ask about the passages")
button, output = widgets.Button(description="Ask"), widgets.Output()


def on_click(_):
    with output:
        output.clear_output()
        display(ask(box.value))


button.on_click(on_click)
display(widgets.VBox([widgets.HBox([box, button]), output]))
''')

md('''
PROSE_E2E
''')

md('''
## 7. Long passages and unanswerable questions

**Windows and `doc_stride`.** All but one of the test passages fit in one 256-token window, so to see what windows do we read the test
questions with windows of **128** tokens — about half the test questions then need two — and vary the overlap `doc_stride`.
The last row keeps only the first window of each passage: plain truncation.
''')

code('''
windows_128 = Counter(qa.prepare_features(data["test"], tokenizer, 128, 0)["example_index"])
long_test = data["test"].select([i for i in range(len(data["test"])) if windows_128[i] > 1])
print(f"test questions whose passage needs more than one 128-token window: {len(long_test)} of {len(data['test'])}")


def first_windows(f):
    """Only the first window of each question (a question's windows are consecutive): plain truncation."""
    ex = f["example_index"]
    return f.select([w for w in range(len(ex)) if w == 0 or ex[w - 1] != ex[w]])


def read_long(max_length, doc_stride, first_window_only=False):
    """(windows, F1 per question) of the long-passage test questions, read by the full model (seed 0)."""
    f = qa.prepare_features(long_test, tokenizer, max_length, doc_stride)
    f = first_windows(f) if first_window_only else f
    s, e = qa.window_logits(reader_model, qa.make_loader(f, tokenizer, batch_size=64))
    found = qa.best_answers(s, e, f, long_test)
    return len(f), np.array([qa.question_scores(a.text, g["text"])[1] for a, g in zip(found, long_test["answers"])])


first = first_windows(qa.prepare_features(long_test, tokenizer, 128, 0))
beyond = [i for i, s, c in zip(first["example_index"], first["start_positions"], first["cls_index"]) if s == c]
print(f"of these, answers not (wholly) in the first window: {len(beyond)}")
long_f1 = {}
for name, args in (("doc_stride 0", (128, 0)), ("doc_stride 32", (128, 32)), ("doc_stride 64", (128, 64)),
                   ("first window only", (128, 0, True)), ("one 256-token window", (256, 64))):
    windows, long_f1[name] = read_long(*args)
    print(f"{name:>22s}: {windows:4d} windows, F1 {long_f1[name].mean():.3f}; on the {len(beyond)} beyond the first "
          f"window {long_f1[name][beyond].mean():.3f}")
difference = paired_bootstrap(long_f1["doc_stride 64"], long_f1["first window only"])
print(f"doc_stride 64 − first window only, same {len(long_test)} questions: F1 {difference[0]:+.3f} "
      f"[{difference[1]:+.3f}, {difference[2]:+.3f}] (paired bootstrap)")
''')

md('''
PROSE_STRIDE

**Unanswerable questions.** SQuAD 2.0 added questions whose answer is not in the passage; the system must then say
nothing. The course has one for every passage (`load_qa_unanswerable`), in the passage's split. The span model says
"no answer" through the `[CLS]` position: its **null score** is start[CLS] + end[CLS], and the reader abstains when
null score − best span score > τ, the **no-answer threshold**, chosen on validation and applied once to test.
Our reader never saw an unanswerable question in training.
''')

code('''
from datasets import concatenate_datasets
from sklearn.metrics import roc_auc_score

from sftlab.data import load_qa_unanswerable

unanswerable = load_qa_unanswerable()
mixed, found = {}, {}
for name in ("validation", "test"):
    mixed[name] = concatenate_datasets([data[name], unanswerable[name]])
    f = qa.prepare_features(mixed[name], tokenizer, MAX_LENGTH, DOC_STRIDE)
    s, e = qa.cached_logits(reader, qa.cache_lower_layers(reader_model, f, N_TOP))
    found[name] = qa.best_answers(s, e, f, mixed[name])
    print(f"{name}: {len(data[name])} answerable + {len(unanswerable[name])} unanswerable questions")


def f1_parts(name, tau):
    """(all, has-answer, no-answer) F1 of split `name` when the reader abstains above threshold tau."""
    texts, n = qa.with_no_answer(found[name], tau), len(data[name])
    return (qa.squad_scores(texts, mixed[name])["f1"], qa.squad_scores(texts[:n], data[name])["f1"],
            qa.squad_scores(texts[n:], unanswerable[name])["f1"])


margins = [a.null_score - a.score for a in found["validation"]]
grid = sorted(set(np.quantile(margins, np.linspace(0, 1, 101)).round(2)))
tau = max([float("inf"), *grid[::-1]], key=lambda t: f1_parts("validation", t)[0])
print(f"no-answer threshold chosen on validation: τ = {tau:.2f}")
n_test = len(data["test"])
for label, t in (("always answer", float("inf")), (f"τ = {tau:.2f}", tau), ("always abstain", float("-inf"))):
    f1_all, f1_has, f1_no = f1_parts("test", t)
    abstained = [text == "" for text in qa.with_no_answer(found["test"], t)]
    print(f"test, {label:>14s}: F1 overall {f1_all:.3f}  HasAns {f1_has:.3f}  NoAns {f1_no:.3f}; abstains on "
          f"{sum(abstained[:n_test])} answerable, {sum(abstained[n_test:])} unanswerable")


def per_question_f1(tau):
    return [qa.question_scores(text, g["text"])[1]
            for text, g in zip(qa.with_no_answer(found["test"], tau), mixed["test"]["answers"])]


change = paired_bootstrap(per_question_f1(tau), per_question_f1(float("inf")))
print(f"τ − always answer, overall test F1: {change[0]:+.3f} [{change[1]:+.3f}, {change[2]:+.3f}] (paired bootstrap)")
test_margins = [a.null_score - a.score for a in found["test"]]
print(f"how well null − best span score separates unanswerable from answerable test questions: AUROC "
      f"{roc_auc_score([0] * n_test + [1] * (len(test_margins) - n_test), test_margins):.3f} (0.5: not at all)")
''')

md('''
PROSE_UNANSWERABLE
''')

md('''
## 8. Checked against transformers' span decoder

Until version 5, transformers shipped `pipeline("question-answering")`, which did the windows and the span search for
you; version 5 removed that task. Its span decoder lives on, as `select_starts_ends` in the document-QA pipeline.
`qa.transformers_answers` runs it as the removed pipeline did (with our maximum answer length): in each window a
softmax over the context's start and end logits, the span with the highest start × end **probability** among all
valid pairs (at most 30 tokens), the window whose best span has the highest probability, and the span widened to
whole words. Ours keeps the highest start + end **logit** among the 20 best starts × 20 best ends — within one window
the same ranking, as long as the best pair is among those — and widens to whole words too. Across windows the two
differ: probabilities are normalised within each window, logits are not. The course aimed at 99% of all test
questions answered alike; on every test question, with the full model (trained, seed 0):
''')

code('''
ours = [a.text for a in qa.predict_answers(reader_model, tokenizer, data["test"], MAX_LENGTH, DOC_STRIDE)]
library = qa.transformers_answers(reader_model, tokenizer, data["test"], MAX_LENGTH, DOC_STRIDE)
windows_of = Counter(features["test"]["example_index"])
differ = [i for i, (a, b) in enumerate(zip(ours, library)) if a != b]
for i in differ:
    print(f"{data['test'][i]['question']!r} ({windows_of[i]} window{'s' if windows_of[i] > 1 else ''}): "
          f"ours {ours[i]!r}, transformers {library[i]!r}")
one_window = [i for i in range(len(ours)) if windows_of[i] == 1]
at_least(np.mean([ours[i] == library[i] for i in one_window]), 0.99, finding=True,
         what=f"share of the {len(one_window)} one-window test questions answered as transformers' decoder does")
print(f"all {len(ours)} test questions: {1 - len(differ) / len(ours):.1%} answered as transformers' decoder does; "
      f"{sum(windows_of[i] > 1 for i in differ)} of the {len(differ)} differences on questions of several windows")
''')

md('''
PROSE_PIPELINE
''')

md('''
## 9. Spot the bug

**Labels from token positions, without offsets.** A tempting shortcut: the start label is the number of tokens in
the context before the answer, the end label that plus the answer's length in tokens. Nothing crashes — any number
below the window length is a legal label, and training runs:
''', )

code('''
def labels_slip(row):
    """The bug: token positions counted in the context alone, as if it started the window."""
    start, text = row["answers"]["answer_start"][0], row["answers"]["text"][0]
    s = len(tokenizer.tokenize(row["context"][:start]))
    return [s, s + len(tokenizer.tokenize(text)) - 1]


train_windows = features["train"]
right = list(zip(train_windows["start_positions"], train_windows["end_positions"]))
slipped = [tuple(labels_slip(data["train"][i])) for i in train_windows["example_index"]]
moved = sum(r != s for r, s in zip(right, slipped))
print(f"training windows whose label moves: {moved} of {len(right)}")
ids = train_windows[0]["input_ids"]
print(f"right: {tokenizer.decode(ids[right[0][0]:right[0][1] + 1])!r}   slip: "
      f"{tokenizer.decode(ids[slipped[0][0]:slipped[0][1] + 1])!r}")
''')

md('''
The slip forgets that `[CLS]`, the question and `[SEP]` come first: every label lands the question's length plus
two tokens too early, on the wrong words. The offsets (`qa.char_span_to_tokens`) count in the window itself.

**A retriever scored on a small index.** Index only the test passages and recall looks far better — each question
then competes with 44 passages, not 154. The system a user meets searches everything:
''')

code('''
small = qa.TfidfRetriever(sorted(set(data["test"]["context"])))
small_gold = qa.gold_indices(data["test"], small.passages)
small_recall = qa.retrieval_scores(small.scores(data["test"]["question"]), small_gold)["recall@1"]
print(f"TF-IDF recall@1 on the test questions: {small_recall:.3f} over the {len(small.passages)} test passages, "
      f"{retrieval['tfidf']['recall@1']:.3f} over all {len(passages)}")
''')

md('''
## 10. Exercises

Three exercises; each `check_…` runs your function on several cases and explains what is wrong. Replace
`raise NotImplementedError` with your code.

**10.1** Characters to tokens: given one window's `offsets` ((start, end) per token), its `sequence_ids` and the
answer's characters `[start_char, end_char)`, return the answer's (start token, end token) — or (0, 0), the `[CLS]`
position, when the window's context does not hold the whole answer.
''')

code('''
from sftlab.course.exercises import check_best_span, check_char_to_token_span, check_squad_f1, show_solution


def char_to_token_span(offsets, sequence_ids, start_char, end_char):
    raise NotImplementedError  # your code here


check_char_to_token_span(char_to_token_span);
''', tags=("practice",))

md('''
**10.2** SQuAD's F1 for one prediction against a list of gold answers: normalise, count shared words with
multiplicity, take the best over the gold answers.
''')

code('''
def squad_f1(prediction, truths):
    raise NotImplementedError  # your code here


check_squad_f1(squad_f1);
''', tags=("practice",))

md('''
**10.3** The best span in one window: given (T,) start and end logits, a (T,) boolean `context_mask` and
`max_answer_length`, return the (start, end) token of the valid span with the highest start + end logit.
''')

code('''
def best_span(start_logits, end_logits, context_mask, max_answer_length):
    raise NotImplementedError  # your code here


check_best_span(best_span);
''', tags=("practice",))

md('''
`show_solution("best_span")` prints a reference solution. A typical wrong answer: the best start and the best end
taken separately. The check names it:
''')

code('''
def best_span(start_logits, end_logits, context_mask, max_answer_length):
    return int(start_logits.argmax()), int(end_logits.argmax())


check_best_span(best_span);
''')

md('''
## 11. Interview questions

Retrieval (lexical, dense, hybrid; recall@k), why spans, the QA head, offsets and labels, windows and `doc_stride`,
post-processing, EM vs F1 and SQuAD's normalisation, SQuAD 2.0 and the no-answer threshold, and when a span reader
beats an LLM. Answer aloud, then reveal; `lang="zh"` shows the cards in Chinese, `lang="both"` in both languages.
''')

code('''
from sftlab.course.quiz import cards

cards(notebook="07", lang="en")
''')

code('''
from sftlab.course.glossary import show_glossary, show_summary

show_summary("07")
''')

code('''
show_glossary("07")
''')

nb = nbformat.v4.new_notebook()
nb.cells = cells
nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
               "language_info": {"name": "python"}}
nbformat.write(nb, str(Path(__file__).resolve().parents[2] / "notebooks" / "07_question_answering.ipynb"))
print(f"{len(cells)} cells written")
