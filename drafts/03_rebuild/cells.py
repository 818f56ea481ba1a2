md(r"""
# 03 · Fine-tuning BERT for text classification

The whole supervised fine-tuning recipe on a real pre-trained encoder, measured honestly — every score is a
mean over three seeds with its spread, and every claim below is a check that fails the notebook if it stops
holding:

1. the data, WordPiece tokenisation and what padding costs;
2. a **baseline first** (averaged GloVe vectors + logistic regression), so the gain is measured, not claimed;
3. a classification head on the encoder — `[CLS]` or mean pooling — and the loss it is trained with;
4. the training loop written out in twenty lines, checked weight for weight against `sftlab.training.train`;
5. choosing the recipe on **validation** (learning rate, warmup, pooling), then full fine-tuning and
   `transformers.Trainer`;
6. the test split and **200 real movie-review sentences** from another source, the errors, the shortcuts
   the model learned, and whether its probabilities can be trusted;
7. over-fitting and early stopping, class imbalance, the cost of "cleaning" text, three classic bugs.

The offline encoder is **all-MiniLM-L6-v2**: a 6-layer BERT (hidden size 384, about 23 million parameters, the
`bert-base-uncased` WordPiece vocabulary) that its authors trained *contrastively* from a MiniLM checkpoint
to be a **sentence-embedding** model — the mean of its token vectors is a sentence vector, and sentences that
mean similar things get similar vectors. It was never trained on sentiment. The full profile uses
`bert-base-uncased` itself.
""")

code("@COLAB")

code(r"""
import sftlab

sftlab.banner();
""")

code(r"""
SEEDS = (0, 1, 2)              # every fine-tuning score below is a mean over these seeds, with its spread
MAX_LENGTH = 48                # tokens per sentence; longer ones are cut (section 2 shows how few that is)
EPOCHS = 2                     # the full fine-tune of section 8
SWEEP_LAYERS, SWEEP_ROWS = 2, 512   # the cheap model of the sweeps: the first 2 of 6 layers, 512 sentences
""")

md(r"""
## 1. The data

The course's sentiment set: sentences written for this course in six domains (films, apps, restaurants,
travel, products, books and music), balanced, with fixed splits. **Train** is for fitting,
**validation** for every choice we make (learning rate, epochs, temperature, the regularisation of the
baselines), **test** is read only to report. The out-of-domain set is 200 real sentences from movie reviews
(Pang & Lee's polarity data, shipped with gensim): written by other people, in another style — used only as a
second test set, never for training or for choosing anything.
""")

code(r"""
from sftlab.data import SENTIMENT_LABELS, load_sentiment, load_sentiment_ood, sentiment_summary

data = load_sentiment()
ood = load_sentiment_ood()
print({split: len(rows) for split, rows in data.items()}, "out-of-domain:", len(ood))
sentiment_summary(data)
""")

code(r"""
for split, dataset in [("train", data["train"]), ("out-of-domain", ood)]:
    print(f"--- {split}")
    for row in dataset.shuffle(seed=1).select(range(4)):
        print(f"{SENTIMENT_LABELS[row['label']]:>3} | {row['text']}")
""")

md(r"""
## 2. Tokenisation

BERT reads **WordPiece** tokens: frequent words are one token, rarer words are split into pieces, and a
piece that continues a word is written with `##`. The tokenizer adds `[CLS]` at the start and `[SEP]` at the
end (BERT was pre-trained on sentence pairs, separated by `[SEP]`).
""")

code(r"""
import torch
from sftlab.models import load_encoder

tokenizer, model = load_encoder("sequence-classification", num_labels=len(SENTIMENT_LABELS))
sentence = "The soundtrack was unforgettable; the screenplay wasn't."
print(tokenizer.convert_ids_to_tokens(tokenizer(sentence)["input_ids"]))
""")

md(r"""
A batch must be a rectangle, so shorter sentences are **padded** with `[PAD]` (id 0), and the
**attention mask** (1 = real token, 0 = padding) keeps attention away from the padding (notebook 02 showed
what happens without it). `token_type_ids` say which sentence of a pair a token belongs to; with one
sentence they are all 0.
""")

code(r"""
batch = tokenizer(["Not bad at all.", "Great cast, dull plot, far too long."], padding=True, return_tensors="pt")
for name in ("input_ids", "attention_mask", "token_type_ids"):
    print(f"{name:>15}:", batch[name].tolist())
print(f"{'tokens':>15}:", [tokenizer.convert_ids_to_tokens(ids) for ids in batch["input_ids"]])
""")

md(r"""
**Fixed vs dynamic padding.** Padding every sentence to one maximum length is simple, and wasteful: the
encoder computes a vector for every `[PAD]`. **Dynamic padding** pads each batch only to its own longest
sentence (`DataCollatorWithPadding`); **grouping by length** (Trainer's `group_by_length`) also puts sentences
of similar length in the same batch, so little is padded. First how many sentences `MAX_LENGTH` cuts, then
the tokens one epoch feeds the encoder (batches of 32), then the time of one forward pass over 64 sentences:
""")

code(r"""
import time

from sftlab.classification import make_loader, tokenize

tokenized = tokenize(data, tokenizer, max_length=MAX_LENGTH)
full_lengths = [len(ids) for ids in tokenizer(list(data["train"]["text"]))["input_ids"]]
print(f"training sentences longer than {MAX_LENGTH} tokens: {sum(n > MAX_LENGTH for n in full_lengths)} "
      f"of {len(full_lengths):,}")
real = sum(len(ids) for ids in tokenized["train"]["input_ids"])
loaders = {f"fixed (pad to {MAX_LENGTH})": make_loader(tokenized["train"], tokenizer, 32, pad_to=MAX_LENGTH),
           "dynamic": make_loader(tokenized["train"], tokenizer, 32, shuffle=True),
           "dynamic, grouped by length": make_loader(tokenized["train"], tokenizer, 32, shuffle=True,
                                                     group_by_length=True)}
for name, loader in loaders.items():
    tokens = sum(batch["input_ids"].numel() for batch in loader)       # collating only, no model
    print(f"{name:<28} {tokens:7,d} tokens per epoch ({tokens / real:.2f}× the {real:,} real ones)")
""")

code(r"""
from sftlab.devices import timed

model.eval()
sample = tokenized["train"].select(range(64))
for name, pad_to in [(f"fixed (pad to {MAX_LENGTH})", MAX_LENGTH), ("dynamic", None)]:
    with torch.no_grad(), timed() as clock:
        for batch in make_loader(sample, tokenizer, 32, pad_to=pad_to):
            model(**{k: v for k, v in batch.items() if k != "labels"})
    print(f"forward pass over 64 sentences, {name:<18} {clock.seconds:.2f} s")
""")

md(r"""
PROSE_PADDING
""")

md(r"""
## 3. Baseline first

Before fine-tuning anything, how far does a cheap model get? Represent each sentence by the **average of
its GloVe vectors** (notebook 01) and fit a **logistic regression** on the training split. Its one
hyper-parameter, the inverse regularisation strength `C`, is chosen on validation. The baseline is
deterministic, so its spread is a bootstrap interval over the test sentences (resampling which sentences were
tested).
""")

code(r"""
import numpy as np
from sklearn.linear_model import LogisticRegression

from sftlab.checks import bootstrap_interval
from sftlab.classification import average_word_vectors
from sftlab.models import load_word_vectors

glove = load_word_vectors()
texts = {split: list(data[split]["text"]) for split in data} | {"ood": list(ood["text"])}
labels = {split: np.array(data[split]["label"]) for split in data} | {"ood": np.array(ood["label"])}
glove_features = {split: average_word_vectors(split_texts, glove)[0] for split, split_texts in texts.items()}


def interval(correct):
    mean, low, high = bootstrap_interval(correct)
    return f"{mean:.3f} (95% CI {low:.3f}–{high:.3f})"
""")

code(r"""
def fit_logistic_regression(features, grid=(0.01, 0.1, 1, 10, 100)):
    # Fit on train for every C; keep the C with the best validation accuracy.
    fits = {C: LogisticRegression(C=C, max_iter=5000).fit(features["train"], labels["train"]) for C in grid}
    best = max(fits, key=lambda C: fits[C].score(features["validation"], labels["validation"]))
    return fits[best], best


def correct_of(fit, features):
    return {split: fit.predict(features[split]) == labels[split] for split in ("test", "ood")}


glove_fit, C = fit_logistic_regression(glove_features)
correct = {"GloVe average + logistic regression": correct_of(glove_fit, glove_features)}
print(f"C = {C} (chosen on validation)")
for split, right in correct["GloVe average + logistic regression"].items():
    print(f"{split:>5} accuracy: {interval(right)}")
""")

md(r"""
PROSE_BASELINE
""")

md(r"""
## 4. Model with a classification head, and its loss

`AutoModelForSequenceClassification` is the pre-trained encoder plus a small, **newly initialised** head.
Transformers' BERT head reads the **`[CLS]` vector** after BERT's *pooler* (a dense layer with tanh that
original BERT pre-trained on next-sentence prediction), then dropout and one linear layer to `num_labels`
logits. `classifier.weight` and `classifier.bias` are missing from the checkpoint — they are exactly what
fine-tuning must learn.

Our encoder was trained differently: all-MiniLM-L6-v2 learned to make the **mean of its token vectors** a
good sentence vector; its `[CLS]` vector and pooler were not part of that objective. So `sftlab` also has a
**mean-pooling head**: the same dropout and linear layer, reading the mean of the last layer's token vectors
over the real tokens (padding excluded). Both are measured below.
""")

code(r"""
from sftlab.classification import MeanPoolingForSequenceClassification

print(model.bert.pooler, model.dropout, model.classifier, sep="\n")
head = sum(p.numel() for p in model.classifier.parameters())
print(f"\nclassifier head: {head:,} parameters; whole model: {sum(p.numel() for p in model.parameters()):,}")
sftlab.show(MeanPoolingForSequenceClassification.forward)
""")

md(r"""
Called with `labels`, the model returns the **cross-entropy** loss with its logits; without them, only logits
— `loss` is `None`, the root of a classic bug (section 15).
""")

code(r"""
batch = tokenizer(["Not bad at all.", "A total waste of an evening."], padding=True, return_tensors="pt")
with torch.no_grad():
    with_labels = model(**batch, labels=torch.tensor([1, 0]))
    without = model(**batch)
print("with labels:   ", f"loss {with_labels.loss:.4f}", "logits", [[f"{v:.4f}" for v in row] for row in with_labels.logits.tolist()])
print("without labels:", "loss", without.loss, "— logits only")
""")

md(r"""
**Cross-entropy, written out.** With one-hot targets $y$ and predicted probabilities
$p = \mathrm{softmax}(z)$, the loss is $-\sum_k y_k \log p_k = -\log p_{\text{correct}}$, averaged over the
batch. One source of this course describes it with predicted probabilities "taking values 0 or 1". That cannot
be: a softmax is never exactly 0 or 1, and a 0/1 "probability" gives either a loss of 0 (right) or
$-\log 0 = \infty$ (wrong), with no gradient to learn from in between.
""")

code(r"""
from sftlab.checks import holds, same

logits = torch.tensor([[2.0, -1.0], [0.5, 0.3], [-1.0, 3.0]])
targets = torch.tensor([0, 1, 0])                      # the correct class of each example
p = logits.softmax(-1)                                 # strictly between 0 and 1
ours = -p[torch.arange(3), targets].log().mean()       # −log p(correct), averaged
same(ours, torch.nn.functional.cross_entropy(logits, targets), atol=1e-6, what="−log p(correct) vs F.cross_entropy")
zero_one = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])   # "probabilities" that are 0 or 1
per_example = 0 - zero_one[torch.arange(3), targets].log()
print("0/1 'probabilities' → losses per example:", per_example.tolist())
holds(torch.isinf(per_example).any(), what="a wrong 0/1 prediction costs −log 0 = ∞");
""")

md(r"""
## 5. Frozen encoder + head

The cheapest way to use the encoder: keep every pre-trained weight fixed, compute each sentence's vector
once, and fit only a linear head (logistic regression) on those cached vectors. Two vectors come out of one
forward pass: the pooled `[CLS]` vector and the mean of the token vectors.
""")

code(r"""
from sftlab.classification import encoder_features

frozen = {split: encoder_features(model, tokenizer, split_texts, max_length=64)
          for split, split_texts in texts.items()}
for pooling, name in [("pooler", "frozen encoder, [CLS] + pooler"), ("mean", "frozen encoder, mean of tokens")]:
    features = {split: frozen[split][pooling] for split in frozen}
    correct[name] = correct_of(fit_logistic_regression(features)[0], features)
    print(f"{name}: test accuracy {interval(correct[name]['test'])}")
""")

md(r"""
PROSE_FROZEN
""")

md(r"""
## 6. Training loop, written out

Fine-tuning updates every weight. Its heart is a short loop; here it is in full — forward, loss, backward,
clipping, optimizer step, schedule step, zero the gradients — the same recipe `sftlab.training.train` runs:

* **AdamW** with **weight decay** 0.01, decoupled from the gradient and **not** applied to biases and
  LayerNorm weights (shrinking a LayerNorm gain towards 0 switches features off instead of regularising);
* **linear warmup** over the first 10% of steps, then **linear decay** to 0: the new head starts random and
  its first gradients are large and noisy, so the first updates are kept small;
* **gradient clipping** of the global gradient norm to 1, so one bad batch cannot throw the weights far.

To check it, it trains a copy of one model on 64 sentences, and `train` trains another copy with the same
seed and the same data.
""")

code(r"""
import copy

from sftlab.experiments import load_classifier
from sftlab.training import TrainingConfig, parameter_groups

start = load_classifier(len(SENTIMENT_LABELS), pooling="mean", seed=0)   # one starting point for both loops
small = tokenized["train"].select(range(64))
config = TrainingConfig(learning_rate=1e-4, epochs=2, warmup_ratio=0.1, weight_decay=0.01, max_grad_norm=1.0,
                        seed=0, progress=False)
for group in parameter_groups(start, config.weight_decay):
    print(f"weight decay {group['weight_decay']}: {len(group['params'])} tensors, "
          f"{sum(p.numel() for p in group['params']):,} parameters")
""")

code(r"""
from transformers import get_linear_schedule_with_warmup

from sftlab.devices import model_device, to_device
from sftlab.training import make_optimizer, seed_everything

ours = copy.deepcopy(start)
loader = make_loader(small, tokenizer, batch_size=16, shuffle=True, seed=0)
seed_everything(config.seed)                                    # dropout draws the same numbers as in train()
optimizer, _ = make_optimizer(parameter_groups(ours, config.weight_decay), config.learning_rate)   # AdamW
total = len(loader) * config.epochs
scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * total), total)
for epoch in range(config.epochs):
    ours.train()                                                # dropout on
    for batch in loader:
        batch = to_device(batch, model_device(ours))
        loss = ours(**batch).loss                               # forward: cross-entropy against the labels
        loss.backward()                                         # gradient of the loss for every weight
        torch.nn.utils.clip_grad_norm_(ours.parameters(), config.max_grad_norm)
        optimizer.step()                                        # AdamW update
        scheduler.step()                                        # warmup, then linear decay
        optimizer.zero_grad()                                   # the next batch starts from zero
print(f"our loop: {total} optimizer steps, final batch loss {loss.item():.6f}")
""")

code(r"""
from sftlab.training import train

theirs = copy.deepcopy(start)
history = train(theirs, make_loader(small, tokenizer, batch_size=16, shuffle=True, seed=0), None, config)
same(loss.item(), history.steps[-1]["loss"], atol=1e-6, what="final loss, our loop vs sftlab.training.train")
same(torch.cat([p.detach().flatten() for p in ours.parameters()]),
     torch.cat([p.detach().flatten() for p in theirs.parameters()]), atol=1e-6,
     what=f"all {sum(p.numel() for p in ours.parameters()):,} weights after training");
""")

md(r"""
The same loss and the same weights: `train` *is* this loop, plus what a course needs around it — checks of the
first batch, a progress bar, evaluation after every epoch, early stopping, gradient accumulation, and
Accelerate for GPUs and several processes. Read it (and the accumulation step it calls); from here on the
chapter uses it.
""")

code(r"""
from sftlab.training import accumulate_gradients

sftlab.show(train)
""")

code(r"""
sftlab.show(accumulate_gradients)
""")

md(r"""
## 7. Choosing the recipe on validation

Three choices — learning rate, warmup, pooling — each made on the **validation** split, over three seeds, so
a difference counts only when it is larger than run-to-run noise (95% t-intervals over the seeds that do not
overlap). Twenty-odd full fine-tunes would not fit this notebook's time budget on a laptop CPU, so the sweeps
use a cheaper model: **the first 2 of the encoder's 6 layers** (still pre-trained), trained for 2 epochs on
512 training sentences, every sentence at most 48 tokens. Absolute scores are lower than the full model's;
the comparisons are the point, and the chosen learning rate is then used for the full model.

### Learning-rate sensitivity

A clearly too-small rate, two usual ones, and a clearly too-large one:
""")

code(r"""
from sftlab.experiments import describe, fine_tune_seeds, verdict

sweep_train = tokenized["train"].shuffle(seed=0).select(range(SWEEP_ROWS))
sweep_config = dict(epochs=2, warmup_ratio=0.1, weight_decay=0.01, restore_best=False)
LEARNING_RATES = (1e-5, 5e-5, 2e-4, 3e-2)
sweep = {lr: fine_tune_seeds(tokenized, tokenizer, TrainingConfig(learning_rate=lr, **sweep_config), SEEDS,
                             num_layers=SWEEP_LAYERS, train_split=sweep_train, keep_models=True,
                             desc=f"lr {lr:.0e}")
         for lr in LEARNING_RATES}
for lr, runs in sweep.items():
    print(f"lr {lr:.0e}: validation loss {describe([r.val_loss for r in runs])}\n"
          f"          validation accuracy {describe([r.val_accuracy for r in runs])}")
""")

code(r"""
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), dpi=100)
for lr, runs in sweep.items():
    steps = runs[0].history.steps
    axes[0].plot([s["step"] for s in steps], [s["loss"] for s in steps], label=f"lr {lr:.0e}", lw=1)
axes[0].axhline(np.log(2), color="grey", ls=":", label="log 2 (chance)")
axes[0].set(title="Training loss per step (seed 0)", xlabel="optimizer step", ylabel="cross-entropy")
means = [np.mean([r.val_loss for r in sweep[lr]]) for lr in LEARNING_RATES]
axes[1].errorbar(LEARNING_RATES, means, yerr=[np.std([r.val_loss for r in sweep[lr]], ddof=1) for lr in LEARNING_RATES],
                 marker="o", capsize=4)
axes[1].set(xscale="log", title="Validation loss vs peak learning rate (mean ± std, 3 seeds)",
            xlabel="peak learning rate", ylabel="validation cross-entropy")
for ax in axes:
    ax.grid(alpha=0.3)
axes[0].legend(fontsize=8); fig.tight_layout()
""")

code(r"""
from sftlab.checks import mean_and_interval
from sftlab.classification import predict
from sftlab.experiments import intervals_apart, verdict

val_loss = {lr: [r.val_loss for r in runs] for lr, runs in sweep.items()}
LEARNING_RATE = min(val_loss, key=lambda lr: np.mean(val_loss[lr]))
print(f"chosen on validation: peak learning rate {LEARNING_RATE:.0e}")
too_small, too_large = LEARNING_RATES[0], LEARNING_RATES[-1]
holds(intervals_apart(val_loss[too_small], val_loss[LEARNING_RATE])
      and np.mean(val_loss[too_small]) > np.mean(val_loss[LEARNING_RATE]),
      what=f"lr {too_small:.0e} ends with a higher validation loss than {LEARNING_RATE:.0e}, beyond seed noise")
print(verdict(val_loss[too_large], val_loss[LEARNING_RATE], (f"lr {too_large:.0e}", f"lr {LEARNING_RATE:.0e}")))
share_pos = [predict(r.model, tokenizer, texts["validation"])[0].mean() for r in sweep[too_large]]
print(f"lr {too_large:.0e}: share of validation sentences predicted positive, per seed:",
      [f"{s:.2f}" for s in share_pos])
""")

md(r"""
PROSE_LR
""")

code(r"""
final_train = {lr: [r.history.epochs[-1]["train_loss"] for r in runs] for lr, runs in sweep.items()}
for lr in LEARNING_RATES:
    print(f"lr {lr:.0e}: training loss in the last epoch {describe(final_train[lr])}")
print(verdict(final_train[too_large], final_train[LEARNING_RATE], (f"lr {too_large:.0e}", f"lr {LEARNING_RATE:.0e}"),
              what="training loss in the last epoch"));
""")

md(r"""
### Warmup

The same chosen rate, with 10% warmup and without:
""")

code(r"""
no_warmup = fine_tune_seeds(tokenized, tokenizer,
                            TrainingConfig(learning_rate=LEARNING_RATE, **{**sweep_config, "warmup_ratio": 0.0}),
                            SEEDS, num_layers=SWEEP_LAYERS, train_split=sweep_train, desc="no warmup")
warmup_loss, no_warmup_loss = val_loss[LEARNING_RATE], [r.val_loss for r in no_warmup]
print(f"with warmup:    validation loss {describe(warmup_loss)}")
print(f"without warmup: validation loss {describe(no_warmup_loss)}")
print(verdict(warmup_loss, no_warmup_loss, ("warmup", "no warmup")))
""")

md(r"""
PROSE_WARMUP
""")

md(r"""
### Pooling: [CLS] or mean

The stock `[CLS]`-pooler head against the mean-pooling head, same rate, same seeds:
""")

code(r"""
cls_runs = fine_tune_seeds(tokenized, tokenizer, TrainingConfig(learning_rate=LEARNING_RATE, **sweep_config),
                           SEEDS, pooling="cls", num_layers=SWEEP_LAYERS, train_split=sweep_train, desc="[CLS]")
mean_runs = sweep[LEARNING_RATE]
for name, runs in [("[CLS] + pooler", cls_runs), ("mean pooling", mean_runs)]:
    print(f"{name:<15} validation loss {describe([r.val_loss for r in runs])}, "
          f"accuracy {describe([r.val_accuracy for r in runs])}")
print(verdict([r.val_loss for r in mean_runs], [r.val_loss for r in cls_runs], ("mean pooling", "[CLS] + pooler")))
""")

md(r"""
PROSE_POOLING
""")

md(r"""
## 8. Full fine-tuning

The recipe chosen on validation — mean-pooling head, the learning rate of section 7, warmup, weight decay,
clipping — on the full 6-layer model, every training sentence, batches of 32 grouped by length, three seeds.
After every epoch the model is scored on validation; the best epoch's weights are kept.
""")

code(r"""
from sftlab.viz import plot_history

main_config = TrainingConfig(learning_rate=LEARNING_RATE, epochs=EPOCHS, warmup_ratio=0.1, weight_decay=0.01,
                             max_grad_norm=1.0)
finetuned = fine_tune_seeds(tokenized, tokenizer, main_config, SEEDS, keep_models=True, desc="fine-tuning")
print(finetuned[0].history.summary())
print(f"validation accuracy of the kept epoch: {describe([r.val_accuracy for r in finetuned])}")
fig = plot_history(finetuned[0].history, "Full fine-tuning of MiniLM (seed 0)")
""")

md(r"""
PROSE_MAIN
""")

md(r"""
## 9. The same training with Trainer

`transformers.Trainer` runs this loop for you. Here it trains the sweep model of section 7 (2 layers, 512
sentences, 2 epochs, the chosen rate) with the same settings and seeds, and both are scored on validation:
""")

code(r"""
import tempfile

from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments


def trainer_run(seed):
    with tempfile.TemporaryDirectory() as output_dir:
        args = TrainingArguments(output_dir=output_dir, per_device_train_batch_size=32, num_train_epochs=2,
                                 learning_rate=LEARNING_RATE, warmup_steps=0.1, weight_decay=0.01, max_grad_norm=1.0,
                                 lr_scheduler_type="linear", train_sampling_strategy="group_by_length", seed=seed,
                                 save_strategy="no", logging_strategy="no", report_to="none", disable_tqdm=True,
                                 dataloader_pin_memory=False, use_cpu=True)
        trainer = Trainer(model=load_classifier(2, num_layers=SWEEP_LAYERS, seed=seed), args=args,
                          train_dataset=sweep_train, eval_dataset=tokenized["validation"],
                          data_collator=DataCollatorWithPadding(tokenizer),
                          compute_metrics=lambda p: {"accuracy": float((p.predictions.argmax(-1) == p.label_ids).mean())})
        trainer.remove_callback(PrinterCallback)               # no log dicts in the output
        trainer.train()
        return trainer.evaluate()
""")

code(r"""
from sftlab.progress import progress_bar

bar, trainer_scores = progress_bar(len(SEEDS), desc="Trainer"), []
for seed in SEEDS:
    trainer_scores.append(trainer_run(seed))
    bar.update(1)
bar.close()
trainer_loss = [s["eval_loss"] for s in trainer_scores]
print(f"sftlab.training: validation loss {describe(val_loss[LEARNING_RATE])}")
print(f"Trainer:         validation loss {describe(trainer_loss)}")
print(f"                 validation accuracy {describe([s['eval_accuracy'] for s in trainer_scores])}")
holds(not intervals_apart(val_loss[LEARNING_RATE], trainer_loss),
      what="no measurable difference between sftlab.training and Trainer (the intervals overlap)");
""")

md(r"""
PROSE_TRAINER
""")

md(r"""
## 10. Evaluation

The three fine-tuned models on the **test split**, read once: accuracy, macro precision/recall/F1 (each
class counts equally — the honest summary when classes are imbalanced; here they are balanced, so accuracy
and macro-F1 agree), the confusion matrix, and accuracy per domain.
""")

code(r"""
from sftlab.classification import evaluate_texts
from sftlab.metrics import confusion_matrix, format_metrics
from sftlab.viz import plot_bars, plot_confusion

evaluations = [{split: evaluate_texts(run.model, tokenizer, dataset, SENTIMENT_LABELS)
                for split, dataset in [("test", data["test"]), ("ood", ood), ("validation", data["validation"])]}
               for run in finetuned]
accuracy = {split: [e[split]["accuracy"] for e in evaluations] for split in ("test", "ood")}
print(format_metrics(evaluations[0]["test"], "fine-tuned MiniLM (seed 0), test split"))
print(f"test accuracy over 3 seeds: {describe(accuracy['test'])}")
fig = plot_confusion(confusion_matrix(labels["test"], evaluations[0]["test"]["predictions"], 2),
                     SENTIMENT_LABELS, "Test split (seed 0)")
""")

code(r"""
domains = np.array(data["test"]["domain"])
names = sorted(set(domains))
per_domain = {d: [float((e["test"]["predictions"] == labels["test"])[domains == d].mean()) for e in evaluations]
              for d in names}
fig = plot_bars(names, {"test accuracy (mean of 3 seeds)": [np.mean(per_domain[d]) for d in names]},
                "Fine-tuned encoder: accuracy per domain", "accuracy")
for d in names:
    print(f"{d:<12} {np.mean(per_domain[d]):.3f} ± {np.std(per_domain[d], ddof=1):.3f}  (72 sentences)")
""")

md(r"""
PROSE_EVAL
""")

md(r"""
## 11. Out-of-domain test, and the targets

The real question for a deployed model: does it work on text it was not written for? Every model on the test
split and on the 200 real movie-review sentences (spreads: the bootstrap interval over sentences for the
deterministic models, mean ± std over seeds for the fine-tuned one).
""")

code(r"""
for name, right in correct.items():
    print(f"{name:<38} test {interval(right['test'])}   OOD {interval(right['ood'])}")
print(f"{'fine-tuned MiniLM, mean pooling':<38} test {describe(accuracy['test'])}\n{'':<38} OOD  {describe(accuracy['ood'])}")
glove_test, glove_ood = (correct["GloVe average + logistic regression"][s].mean() for s in ("test", "ood"))
""")

md(r"""
The targets this chapter sets itself, for the offline profile (MiniLM-L6 on two CPU cores; the full profile's
bert-base on SST-2 reaches 0.91 and more on GLUE validation): in-domain test accuracy at least 0.85 and
out-of-domain accuracy at least 0.76, each the mean of three seeds, and at least 10 points above the GloVe
baseline on both.
""")

code(r"""
from sftlab.checks import at_least

from sftlab.checks import mean_and_interval

targets = {"test accuracy": (np.mean(accuracy["test"]), 0.85), "out-of-domain accuracy": (np.mean(accuracy["ood"]), 0.76),
           "test gain over GloVe": (np.mean(accuracy["test"]) - glove_test, 0.10),
           "out-of-domain gain over GloVe": (np.mean(accuracy["ood"]) - glove_ood, 0.10)}
for name, (value, target) in targets.items():   # measured against the chapter's targets: reached or how far
    print(f"{name:<30} {value:.3f}  target {target:.2f}  " + ("reached" if value >= target else f"missed by {target - value:.3f}"))
at_least(np.mean(accuracy["test"]) - glove_test, 0.10, what="fine-tuning beats GloVe in domain by at least 10 points")
at_least(np.mean(accuracy["ood"]) - glove_ood, 0.0, what="fine-tuning beats GloVe out of domain");
""")

md(r"""
PROSE_OOD
""")

md(r"""
### Error analysis

Numbers say *how often*; the misclassified sentences say *why*. The test and out-of-domain sentences the
seed-0 model gets wrong, most confident first:
""")

code(r"""
def show_errors(dataset, evaluation, limit):
    wrong = np.flatnonzero(evaluation["predictions"] != np.array(dataset["label"]))
    confidence = evaluation["probabilities"].max(-1)
    print(f"{len(wrong)} of {len(dataset)} wrong")
    for i in wrong[np.argsort(-confidence[wrong])][:limit]:
        true, said = SENTIMENT_LABELS[dataset[int(i)]["label"]], SENTIMENT_LABELS[evaluation["predictions"][i]]
        print(f"  true {true}, said {said} ({confidence[i]:.2f}) | {dataset[int(i)]['text']}")


show_errors(data["test"], evaluations[0]["test"], limit=10)
print()
show_errors(ood, evaluations[0]["ood"], limit=10)
""")

md(r"""
PROSE_ERRORS
""")

md(r"""
## 12. Shortcuts: words that predict the label without meaning it

A data set written by a few people has habits. Some words nearly always go with one label in the training
split without carrying sentiment themselves — a classifier rewarded for being right will use them. First,
find them: every word in at least 8 training sentences, ranked by how strongly it goes with one label.
""")

code(r"""
from sftlab.classification import label_skewed_words

skewed = label_skewed_words(texts["train"], labels["train"], min_count=8)
print("most label-skewed words in the training split (word: sentences, share with its label):")
print(", ".join(f"{r['word']} {SENTIMENT_LABELS[r['label']]} {r['count']}/{r['purity']:.2f}" for r in skewed[:30]))
""")

md(r"""
Among sentiment words ("perfect", "worse", "overpriced", "broken") sit words that describe no feeling at all.
Four of them, with a neutral replacement for each:
""")

code(r"""
from sftlab.classification import edit_word

CUES = {"surprisingly": "", "promised": "said", "dollars": "euros", "mostly": "largely"}   # word → replacement
cue_rows = {r["word"]: r for r in skewed}
for word in CUES:
    row = cue_rows[word]
    print(f"{word:<13} {row['count']:>3} training sentences, {row['purity']:.0%} of them {SENTIMENT_LABELS[row['label']]}")
example = next(t for t in texts["test"] + texts["validation"] if "dollars" in t.lower())
print("\nexample edit:", example, "\n          →", edit_word(example, "dollars", "euros"))
""")

md(r"""
**Counterfactual edits.** Take every validation and test sentence that contains a cue, swap the cue for its
neutral replacement (or delete it), and see how the fine-tuned models' probability of the cue's label moves.
A model that read only the sentiment would not care.
""")

code(r"""
import re

held_out = texts["validation"] + texts["test"]
shift, flips, count = {}, [], 0
for word, replacement in CUES.items():
    side = cue_rows[word]["label"]
    originals = [t for t in held_out if re.search(rf"\b{word}\b", t, re.I)]
    edited = [edit_word(t, word, replacement) for t in originals]
    before = [predict(r.model, tokenizer, originals)[1] for r in finetuned]
    after = [predict(r.model, tokenizer, edited)[1] for r in finetuned]
    shift[word] = [float((b[:, side] - a[:, side]).mean()) for b, a in zip(before, after)]
    flips.append([int((b.argmax(1) != a.argmax(1)).sum()) for b, a in zip(before, after)])
    count += len(originals)
    print(f"{word:<13} {len(originals):>2} sentences: P({SENTIMENT_LABELS[side]}) drops by {describe(shift[word])}")
print(f"predictions flipped by the edit, per seed: {np.sum(flips, axis=0).tolist()} of {count} sentences")
""")

code(r"""
per_seed = np.mean(list(shift.values()), axis=0)       # the average drop over the four cues, one per seed
mean, low, high = mean_and_interval(per_seed)
print(f"average drop over the four cues: {mean:.3f} (95% CI {low:.3f}–{high:.3f} over seeds):",
      "the models use the cues, beyond seed noise" if low > 0 else "no measurable use of the cues")
""")

md(r"""
PROSE_CUES
""")

code(r"""
def with_cue(text):
    return "Surprisingly, " + text[0].lower() + text[1:]


negatives = [t for t, y in zip(texts["ood"], labels["ood"]) if y == 0]
said_pos = {name: [predict(r.model, tokenizer, [f(t) for t in negatives])[0].mean() for r in finetuned]
            for name, f in [("as written", lambda t: t), ('with "Surprisingly," in front', with_cue)]}
for name, shares in said_pos.items():
    print(f"{len(negatives)} negative real reviews, {name:<30} called positive: {describe(shares)}")
holds(all(b > a for a, b in zip(*said_pos.values())),
      what='one word that carries no sentiment turns more negative real reviews positive, for every seed');
""")

md(r"""
PROSE_CUES_OOD
""")

md(r"""
## 13. Calibration: can its probabilities be trusted?

A model is **calibrated** when, of the predictions it makes with 90% confidence, about 90% are right. The
**reliability diagram** bins the test predictions by confidence and plots each bin's accuracy against its mean
confidence; the **expected calibration error** (ECE) is the average gap, weighted by how many predictions fall
in each bin. **Temperature scaling** divides the logits by one number $T$ before the softmax, fitted to
minimise the cross-entropy on **validation**; it changes no prediction, only how sure they are.
""")

code(r"""
from sftlab.calibration import expected_calibration_error, fit_temperature, softmax_with_temperature, top_label

ece_before, ece_after, temperatures = [], [], []
for e in evaluations:
    val_logits, test_logits = np.log(e["validation"]["probabilities"]), np.log(e["test"]["probabilities"])
    temperatures.append(fit_temperature(val_logits, labels["validation"]))      # fitted on validation only
    calibrated = softmax_with_temperature(test_logits, temperatures[-1])
    ece_before.append(expected_calibration_error(*top_label(e["test"]["probabilities"], labels["test"])))
    ece_after.append(expected_calibration_error(*top_label(calibrated, labels["test"])))
    unchanged = np.array_equal(calibrated.argmax(1), e["test"]["predictions"])
print(f"temperature fitted on validation: {describe(temperatures, 2)}")
print(f"test ECE before: {describe(ece_before)}\ntest ECE after:  {describe(ece_after)}")
holds(unchanged, what="temperature scaling changed no prediction");
""")

code(r"""
from sftlab.calibration import reliability_bins
from sftlab.viz import plot_reliability

e = evaluations[0]
bins = {"as trained": reliability_bins(*top_label(e["test"]["probabilities"], labels["test"])),
        f"temperature {temperatures[0]:.2f}": reliability_bins(*top_label(
            softmax_with_temperature(np.log(e["test"]["probabilities"]), temperatures[0]), labels["test"]))}
fig = plot_reliability(bins, "Reliability on the test split (seed 0)")
""")

md(r"""
PROSE_CALIBRATION
""")

md(r"""
## 14. Over-fitting and early stopping

Give a model few examples and many epochs and it memorises them. The sweep model (2 layers) on 96 training
sentences for 12 epochs at the chosen rate (warmup off, linear decay over the 12 epochs), scored on all 216 validation sentences after every
epoch:
""")

code(r"""
from sftlab.viz import plot_lines

overfit_train = tokenized["train"].shuffle(seed=2).select(range(96))
overfit_config = TrainingConfig(learning_rate=LEARNING_RATE, epochs=12, warmup_ratio=0.0, restore_best=False)
overfit = fine_tune_seeds(tokenized, tokenizer, overfit_config, SEEDS[:1], num_layers=SWEEP_LAYERS,
                          train_split=overfit_train, keep_models=True, desc="12 epochs")[0]
epochs = [e["epoch"] for e in overfit.history.epochs]
val_curve = [e["val_loss"] for e in overfit.history.epochs]
fig = plot_lines(epochs, {"train loss": [e["train_loss"] for e in overfit.history.epochs],
                          "validation loss": val_curve}, "96 training sentences, 12 epochs", "epoch", "cross-entropy")
print(overfit.history.summary())
""")

code(r"""
lowest = int(np.argmin(val_curve)) + 1
holds(1 < lowest < epochs[-1] and val_curve[-1] > min(val_curve) + 0.05,
      what="validation loss falls, then rises",
      detail=f"lowest {min(val_curve):.3f} at epoch {lowest}, {val_curve[-1]:.3f} at epoch {epochs[-1]}")
train_curve = [e["train_loss"] for e in overfit.history.epochs]
holds(train_curve[-1] < train_curve[lowest - 1], what="while the training loss keeps falling")
holds(val_curve[-1] > min(val_curve),
      what="'more epochs prevent over-fitting' fails: the last epoch is worse on validation than the best one");
""")

code(r"""
from sftlab.classification import metrics_for
from sftlab.training import evaluate

stopped = fine_tune_seeds(tokenized, tokenizer,
                          TrainingConfig(**{**overfit_config.__dict__, "early_stopping_patience": 2, "restore_best": True}),
                          SEEDS[:1], num_layers=SWEEP_LAYERS, train_split=overfit_train, keep_models=True,
                          desc="early stopping")[0]
print(stopped.history.summary())
same(stopped.history.best_epoch, lowest, what="the epoch early stopping keeps is the lowest validation loss")
kept = evaluate(stopped.model, make_loader(tokenized["validation"], tokenizer, 64), metrics_for(SENTIMENT_LABELS))
same(kept["loss"], min(val_curve), atol=1e-5, what="the restored weights give that validation loss");
""")

md(r"""
PROSE_OVERFIT
""")

md(r"""
## 15. Class imbalance and class weights

Real data is rarely balanced. Take an imbalanced training subset — 300 negative and 30 positive sentences —
and fine-tune the sweep model on it twice, three seeds each: with the plain cross-entropy, and with the loss
**weighted by inverse class frequency**, $w_k = N / (C\,n_k)$, so that each class contributes equally in
total. Both are scored on the balanced validation split.
""")

code(r"""
from sklearn.utils.class_weight import compute_class_weight

from sftlab.classification import class_weights, weighted_loss

rng = np.random.default_rng(0)
rows = np.concatenate([rng.choice(np.flatnonzero(labels["train"] == k), n, replace=False) for k, n in [(0, 300), (1, 30)]])
weights = class_weights(labels["train"][rows], len(SENTIMENT_LABELS))
same(weights, compute_class_weight("balanced", classes=np.arange(2), y=labels["train"][rows]), atol=1e-6,
     what="our class weights vs scikit-learn's 'balanced'");
imbalanced = tokenized["train"].select(rows)
""")

code(r"""
imbalance_config = TrainingConfig(learning_rate=LEARNING_RATE, **{**sweep_config, "epochs": 3})
recall_pos, macro_f1 = {}, {}
for name, loss_fn in [("plain loss", None), ("class-weighted loss", weighted_loss(weights))]:
    runs = fine_tune_seeds(tokenized, tokenizer, imbalance_config, SEEDS, num_layers=SWEEP_LAYERS,
                           train_split=imbalanced, loss_fn=loss_fn, keep_models=True, desc=name)
    scores = [evaluate_texts(r.model, tokenizer, data["validation"], SENTIMENT_LABELS) for r in runs]
    recall_pos[name] = [s["per_class"]["pos"]["recall"] for s in scores]
    macro_f1[name] = [s["macro_f1"] for s in scores]
    print(f"{name:<20} recall of 'pos' {describe(recall_pos[name])}\n{'':<20} macro-F1       {describe(macro_f1[name])}")
print(verdict(recall_pos["plain loss"], recall_pos["class-weighted loss"], ("the plain loss", "the class-weighted loss"),
              what="recall of 'pos'"))
""")

md(r"""
PROSE_IMBALANCE
""")

md(r"""
## 16. "Clean the text first"? What it costs

A classic preprocessing step of bag-of-words models — lower-case, strip punctuation, drop stop words — still
appears in BERT tutorials. Standard stop-word lists contain "not", "no", "never", "nothing" and "without".
Measure it: the sweep model trained and tested on cleaned text, against the same model on the text as
written (section 7's runs at the chosen rate).
""")

code(r"""
from datasets import DatasetDict

from sftlab.classification import clean_text

print("as written:", texts["test"][3], "\ncleaned:   ", clean_text(texts["test"][3]))
cleaned = DatasetDict({split: data[split].map(lambda row: {"text": clean_text(row["text"])}) for split in data})
cleaned_tokenized = tokenize(cleaned, tokenizer, max_length=MAX_LENGTH)
cleaned_runs = fine_tune_seeds(cleaned_tokenized, tokenizer, TrainingConfig(learning_rate=LEARNING_RATE, **sweep_config),
                               SEEDS, num_layers=SWEEP_LAYERS, train_split=cleaned_tokenized["train"].shuffle(seed=0).select(range(SWEEP_ROWS)),
                               keep_models=True, desc="cleaned text")
""")

code(r"""
raw_test = [evaluate_texts(r.model, tokenizer, data["test"], SENTIMENT_LABELS) for r in sweep[LEARNING_RATE]]
clean_test = [evaluate_texts(r.model, tokenizer, cleaned["test"], SENTIMENT_LABELS) for r in cleaned_runs]
negated = np.array([bool(re.search(r"\b(not|no|never|nothing|without)\b|n't", t, re.I)) for t in texts["test"]])
for name, scores in [("as written", raw_test), ("cleaned", clean_test)]:
    print(f"{name:<11} test accuracy {describe([s['accuracy'] for s in scores])}; on the {negated.sum()} sentences "
          f"with a negation {describe([(s['predictions'] == labels['test'])[negated].mean() for s in scores])}")
print(verdict([1 - s["accuracy"] for s in raw_test], [1 - s["accuracy"] for s in clean_test],
              ("text as written", "cleaned text"), what="test error rate"))
""")

code(r"""
raw_right = np.mean([s["predictions"] == labels["test"] for s in raw_test], axis=0) == 1      # right for every seed
clean_wrong = np.mean([s["predictions"] != labels["test"] for s in clean_test], axis=0) == 1  # wrong for every seed
examples = np.flatnonzero(raw_right & clean_wrong & negated)
print(f"{len(examples)} negated test sentences right as written and wrong once cleaned (all seeds); some:")
for i in examples[:6]:
    print(f"  {SENTIMENT_LABELS[labels['test'][i]]} | {texts['test'][i]}\n      | {cleaned['test'][int(i)]['text']}")
""")

md(r"""
PROSE_CLEANING
""")

md(r"""
## 17. Spot the bug

Three mistakes from real fine-tuning code. Each cell runs the buggy version; read the output before the
explanation.

**17.1 — No labels passed.** The batches below were built from the texts only:
""")

code(r"""
from datasets import Dataset

unlabelled = tokenize(Dataset.from_dict({"text": texts["train"][:64]}), tokenizer, max_length=MAX_LENGTH)
try:
    train(load_classifier(2, num_layers=SWEEP_LAYERS), make_loader(unlabelled, tokenizer, 32),
          config=TrainingConfig(progress=False))
except ValueError as error:
    print("ValueError:", error)
""")

md(r"""
Without `labels` the model computes no loss (`outputs.loss is None`, section 4); plain PyTorch code then
crashes on `None.backward()` — or, worse, code that computes its own loss from the wrong column trains on
nothing meaningful. `sftlab.training` checks the first batch and says what is missing.

**17.2 — Evaluating in train mode, with gradients on.** Dropout is active in train mode, so predictions
change from one pass to the next:
""")

code(r"""
slip_model = finetuned[0].model
probe = tokenizer(texts["validation"][:64], padding=True, return_tensors="pt")
slip_model.train()                                   # the bug: evaluation without model.eval()
first, second = slip_model(**probe).logits, slip_model(**probe).logits
print(f"train mode: two passes differ by up to {(first - second).abs().max():.3f} in the logits; "
      f"{int((first.argmax(-1) != second.argmax(-1)).sum())} of 64 predictions flip; "
      f"graph kept for backward: {first.requires_grad}")
slip_model.eval()
with torch.no_grad():
    first, second = slip_model(**probe).logits, slip_model(**probe).logits
print(f"eval mode + no_grad: they differ by {(first - second).abs().max():.1e}; graph kept: {first.requires_grad}")
""")

md(r"""
In train mode dropout randomly zeroes activations (p = 0.1 in BERT), so a score depends on luck; with gradients on,
every evaluation batch also keeps its activation graph in memory for a backward pass that never comes.
`model.eval()` switches dropout off (and would put BatchNorm in inference mode); `torch.no_grad()` stops
recording the graph.

**17.3 — Accuracy reported on the training set.** The over-fitted model of section 14, scored where it
trained and where it did not:
""")

code(r"""
on_train = evaluate_texts(overfit.model, tokenizer, data["train"].shuffle(seed=2).select(range(96)), SENTIMENT_LABELS)
print(f"accuracy on its 96 training sentences: {on_train['accuracy']:.3f}; "
      f"on the 216 validation sentences: {overfit.history.epochs[-1]['accuracy']:.3f}")
""")

md(r"""
PROSE_SLIP3

## 18. Exercises

Each `check_…` runs your function on several cases and explains what is wrong. Replace
`raise NotImplementedError` with your code.

**18.1** Macro-F1 from scratch: `y_true` and `y_pred` are 1-D integer tensors of class ids `0 … C-1`;
return a float. (A class that is never predicted has precision 0, not NaN.)
""")

code(r"""
from sftlab.exercises import check_class_weights, check_macro_f1, check_mean_pooling, show_solution


def macro_f1(y_true, y_pred, num_classes):
    raise NotImplementedError  # your code here


check_macro_f1(macro_f1);
""")

md(r"""
**18.2** Inverse-frequency class weights $w_k = N / (C\,n_k)$ for a 1-D tensor of labels; return a float
tensor of length `num_classes`.
""")

code(r"""
def class_weights_exercise(labels, num_classes):
    raise NotImplementedError  # your code here


check_class_weights(class_weights_exercise);
""")

md(r"""
**18.3** Mean pooling, the head of section 4: `hidden` is `(B, T, D)`, `attention_mask` is `(B, T)` with 1
for real tokens; return the `(B, D)` mean over real tokens only.
""")

code(r"""
def mean_pooling(hidden, attention_mask):
    raise NotImplementedError  # your code here


check_mean_pooling(mean_pooling);
""")

md(r"""
`show_solution("mean_pooling")` prints a reference solution. A typical slip — averaging over the padding
too — under its own name, so your solution above stays as it is, and what the check says about it:
""")

code(r"""
def mean_pooling_slip(hidden, attention_mask):
    return hidden.mean(dim=1)                    # includes the [PAD] positions


check_mean_pooling(mean_pooling_slip);
""")

md(r"""
## 19. Interview questions

[CLS] vs mean pooling, why small learning rates, warmup, weight decay, catastrophic forgetting, metrics for
imbalanced data, calibration, shortcuts, what happens without labels, Trainer — answer aloud, then reveal.
The cards are in English here; `lang="zh"` shows them in Chinese, `lang="both"` in both.
""")

code(r"""
from sftlab.quiz import cards

cards(notebook="03", lang="en")
""")

md(r"""
## Summary

PROSE_SUMMARY

本章小结（中文）与术语表：
""")

code(r"""
from sftlab.glossary import show_glossary, show_summary

show_summary("03")
""")

code(r"""
show_glossary("03")
""")
