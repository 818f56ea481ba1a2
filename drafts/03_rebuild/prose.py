PROSE = {
"PROSE_PADDING": r"""
Only 2 of the 1,512 training sentences are longer than 48 tokens, so `MAX_LENGTH = 48` cuts almost nothing.
Padding everything to 48 makes the encoder process 2.26× the real tokens; dynamic padding 1.96×; grouping by
length brings it down to 1.10×, and the time follows the tokens (one forward pass: 3.73 s fixed vs 3.12 s
dynamic on this shared machine). Every run below trains on length-grouped batches.
""",
"PROSE_BASELINE": r"""
0.669 on test and 0.655 out of domain, each ± about 4–6 points (the bootstrap intervals): averaged word
vectors see which words occur but not their order, so "not bad" and "bad" look alike, and negation and
contrast — which this data set is full of — are lost. That is the bar to beat.
""",
"PROSE_FROZEN": r"""
Frozen sentence vectors barely beat GloVe: the pooled `[CLS]` vector reaches 0.669 on test, the mean of the
token vectors 0.736 (intervals about ±4 points). The encoder was trained to make *mean-pooled* vectors of
similar sentences close — similar in topic, not in sentiment — and its `[CLS]` vector and pooler were never
trained by that objective, so mean pooling is the better frozen feature. Frozen features carry what the
pre-training objective put into them; the task needs more: **full fine-tuning** (section 8) updates the
encoder itself.
""",
"PROSE_LR": r"""
The sweep model (2 layers, 512 sentences, 2 epochs) is *weak*: its best validation loss, 0.641 at 2e-4, is not
far below log 2 ≈ 0.693. 1e-5 barely moves it (0.690, beyond seed noise above 2e-4). 3e-3 is **not** clearly too
large for this shallow model: its validation loss is higher (0.721 ± 0.048) but its validation accuracy is the
best of the four (0.694) — it learns faster and becomes over-confident; the check that it ends with a higher
validation loss than 2e-4 *beyond seed noise* fails (the intervals overlap).
""",
"PROSE_WARMUP": r"""
With and without warmup the validation loss is the same (0.641 vs 0.640): no measurable difference at this
rate and this scale. Warmup protects against the large, noisy first updates of a random head at high rates;
at 2e-4 on a 2-layer model there is nothing to protect against.
""",
"PROSE_POOLING": r"""
The `[CLS]`-pooler head does not learn at all on the 2-layer model in 32 steps (validation loss 0.694,
accuracy 0.500 for every seed), while the mean-pooling head does (0.641, accuracy 0.650): beyond seed noise,
the mean of the token vectors is the better head for this encoder, as its training objective predicts.
""",
"PROSE_MAIN": r"""
Validation accuracy of the kept epoch: 0.838 ± 0.029 over the three seeds. The per-batch loss is noisy (32
sentences a batch) but its trend is clear; the learning rate rises for the first 10% of the steps and then
decays linearly to zero.
""",
"PROSE_TRAINER": r"""
Same data, same schedule, same seeds: validation loss 0.641 ± 0.009 with `sftlab.training`, 0.625 ± 0.014 with
`Trainer` — the intervals overlap, no measurable difference. (Not bit-identical: Trainer draws its shuffling
and dropout from other generators.)

What `Trainer` does for you, all of which `sftlab.training` does by hand: the optimizer (AdamW, no decay on
biases and LayerNorm), the warmup + linear schedule, clipping, gradient accumulation, moving batches to the
device, mixed precision, the train/eval mode switch and `no_grad` for evaluation, dropping dataset columns the
model does not take, logging, checkpointing, early stopping (a callback), and multi-GPU or multi-process
training through Accelerate. What it does *not* do: choose your metric, your validation split or your
hyper-parameters, or stop you from evaluating on the training set.
""",
"PROSE_EVAL": r"""
Test accuracy 0.844 ± 0.011 over three seeds (seed 0: 0.838, with recalls 0.824 and 0.852 — the two classes are
handled about equally). By domain, restaurants are the hardest (0.782) and travel the easiest (0.898); with
72 test sentences per domain, a few sentences move a bar by several points, so read the spread, not the order
of close bars.
""",
"PROSE_OOD": r"""
**The targets are not met.** In domain, the fine-tuned model reaches 0.844 ± 0.011 — below 0.85 — and is
well above GloVe (0.669). Out of domain it reaches 0.732 ± 0.008 — below 0.76 — and its margin over GloVe
(0.655) is less than 10 points. Every model drops out of domain: the real
reviews are tokenised with a space around every punctuation mark, longer and more allusive than our
sentences, and about films only.
""",
"PROSE_ERRORS": r"""
Patterns in these errors, most of them shared by both sets:

* **Negation and understatement**: "Not once has this password manager failed…", "tastes like actual coffee
  and not like a melted candy bar", "nobody's cutting through it" — the negated words carry the opposite
  sentiment, and a small model weighs the words more than their scope.
* **Sarcasm and faint praise**: "this is your spot!", "which is secure, I guess", "it passes the time, if you
  have absolutely nothing else to do" — a cheerful surface over a negative meaning.
* **Positive words in a negative frame** (and the reverse): "anything but cozy", "almost makes this movie worth
  seeing . almost ."; "the blackout curtains actually blacked out" is praise built from a negative-sounding verb.
* The model is **confidently** wrong (0.93 and more): section 13 measures how far its confidence can be trusted.
""",
"PROSE_CUES": r"""
Removing or swapping a cue lowers the probability of its label: by 0.151 for "surprisingly", 0.034 for
"mostly", with wider intervals for "promised" and "dollars" (few sentences); on average 0.071, with a 95%
interval over seeds of 0.024–0.117 — above 0: the models use the cues, beyond seed noise. Only a few
predictions flip (1, 1 and 2 of 20), because most of these sentences also carry real sentiment.
""",
"PROSE_CUES_OOD": r"""
The shortcut travels: put "Surprisingly," in front of the 100 negative real reviews and the share called
positive rises from 0.417 to 0.517 (for every seed). A rule true of our training set — "surprisingly" means
praise — is false of other writers, and each such rule is a way the in-domain score overstates what the
model learned: one reason for the drop out of domain.
""",
"PROSE_CALIBRATION": r"""
The fine-tuned models are over-confident: test ECE 0.063 ± 0.007. The temperature fitted on validation,
1.37 ± 0.05 (above 1: soften), brings it to 0.033 ± 0.004 on test, without changing a single prediction —
**calibration** is a separate property from accuracy, and cheap to fix.
""",
"PROSE_OVERFIT": r"""
The classic picture, measured: validation loss falls to its lowest at epoch 4 (0.665) and rises to 0.896 by
epoch 12, while the training loss falls every epoch, to 0.044 — the model memorises its 96 sentences.
"More epochs prevent over-fitting" is backwards: more epochs *are* the over-fitting. Early stopping
(`early_stopping_patience=2`) stops after epoch 6, keeps epoch 4 — the lowest validation loss — and puts its
weights back.
""",
"PROSE_IMBALANCE": r"""
With the plain loss the model predicts "negative" for every validation sentence (recall of "pos" 0.000 for
every seed, macro-F1 0.333). With class weights the recall of "pos" is 0.191 ± 0.181 — higher on average, but
the spread over seeds is so wide that the check *beyond seed noise* fails: on this weak 2-layer model and 330
sentences, the measurement cannot separate the two.
""",
"PROSE_CLEANING": r"""
Cleaning lowered test accuracy here (0.644 → 0.630), more on the 118 sentences with a negation
(0.647 → 0.624), but on this weak sweep model the intervals overlap: the check fails — not measurable at
this scale. The negation errors are plain to read: "It's not the most feature-packed editor, but…" becomes
"feature packed editor actually enjoy writing".
""",
"PROSE_SLIP3": r"""
On the sentences it trained on the model looks perfect (1.000); on validation it scores 0.620. Report scores
on data the model never saw — and choose hyper-parameters on validation, not test, or the test score becomes
optimistic too.
""",
"PROSE_SUMMARY": r"""
* **Recipe**: WordPiece with dynamic padding and length grouping; a mean pooling head for a sentence-embedding
  encoder; AdamW with weight decay (not on biases and LayerNorm), warmup then linear decay, gradient clipping;
  early stopping on validation. The loop is twenty lines, and `train` is exactly those lines.
* **Measure, don't claim**: a baseline first, three seeds and intervals for every comparison, choices on
  validation, test read once, an out-of-domain set, and checks that fail the notebook when a claim stops
  holding.
* **Read the model**: errors, shortcut cues with counterfactual edits, calibration with temperature scaling.
""",
}
PROSE["A clearly too-small rate, two usual ones, and a clearly too-large one:"] = (
    "Too small, and the pre-trained model hardly moves in the steps it gets; too large, and the updates overwrite "
    "what pre-training learned (**catastrophic forgetting**) or stop converging. A clearly too-small rate, two usual "
    "ones, and a large one:")
