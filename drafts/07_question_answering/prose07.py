"""Fill the PROSE_ placeholders of the executed notebook 07 with text written from its outputs (run from the
repository root after the notebook ran: python drafts/07_question_answering/prose07.py)."""
import json
import sys

path = 'notebooks/07_question_answering.ipynb'
nb = json.load(open(path))
P = {
"PROSE_RETRIEVAL": """Dense retrieval ranks the gold passage higher than TF-IDF (MRR 0.673 against 0.536; first for 65 questions where
TF-IDF is not, against 33 the other way, McNemar p = 0.0016), and the hybrid higher still (MRR 0.729; 24 against 6,
p = 0.0014) — the two comparisons fixed before the test set was read. Reciprocal-rank fusion, with no weight to
choose, scores below dense alone (MRR 0.616): it gives TF-IDF, the weaker retriever, an equal say. The system below
reads only the passage the hybrid ranks first, so its recall@1, 0.619, bounds it: for about two questions in five no
reader can succeed. Reading the top five would lift that bound to 0.856, at five times the reading cost and with
span scores that must compare across passages. The example shows one way retrieval fails: "How large is the
population?" names no city, so nothing in it points at the gold passage, and three other passages rank above it.
Not tried here: BM25, TF-IDF's usual successor (it saturates repeated words and normalises by passage length), and a
reranker — a cross-encoder reading question and passage together — over the top k.""",
"PROSE_SWEEP": """On validation, three trained layers at 10⁻³ are best (F1 0.461). The learning rate sits inside its grid, above
3·10⁻⁴ (0.424, still rising at its last epoch) and 2·10⁻³ (0.376); two layers reach 0.340 and one 0.236. The layer
count sits at the grid's edge — three is the most tried, and it won — so four to six may do better; and the
learning rate was tuned with three layers only, so one and two layers may be held back by a rate that suits three.
Each setting ran once (seed 0); the three seeds of the chosen setting span validation F1 0.431 to 0.467 (section
4), less than the gaps between the learning rates. Cost grows with the layers trained (the training-seconds
column): one step that trains three layers on cached states took 0.70 s against 1.45 s for all six layers.""",
"PROSE_TEST": """Over three seeds the reader scores test F1 0.439 (95% interval 0.392 to 0.486 across the seeds; 0.394 to 0.483
over the test questions) and exact match 0.278, from 0.064 and 0.004 untrained: 0.375 F1 points learnt from 537
questions on a laptop CPU. It also beats a reader that learns nothing but word overlap (F1 0.166, exact match
0.000) by 0.273 F1 per question (paired interval 0.219 to 0.326). The seeds span test F1 0.418 to 0.453. The sections
below use seed 0's reader, fixed in advance; it happens to have the highest test F1 of the three (not the highest
exact match), so their numbers sit a little above the three-seed mean.""",
"PROSE_ERRORS": """Most wrong answers (114 of 191) are **elsewhere**: the span does not touch the gold one — asked what is odd about
the clock, the reader names the clock. The **too long** and **too short** ones (48 and 24) are boundary errors,
often harmless to a user ("the river Ashe" for "Ashe") but costly for exact match, which is why F1 is reported
beside it. By type and by length the groups are small and their intervals wide; only the extremes separate: "when"
questions (F1 0.754, interval 0.523 to 0.969) against "why" (0.249, 0.113 to 0.410) and "who" (0.329, 0.155 to
0.520), and one-word answers (0.588) against answers of four words or more (0.373). "Who" is often called an easy
type; on these 17 questions it is not, and this notebook does not show why.""",
"PROSE_CURVE": """Validation F1 is 0.296 with a quarter of the questions, 0.348 with half and 0.461 with all of them, each at the best
epoch of one seed. Read it with care: every subset trains for six epochs, so fewer questions also means fewer steps;
and the setting was chosen on the full data (the full-size point is the sweep's winner). The curve suggests the
reader is short of data; it does not establish it. Doubling the training questions (new passages, written the same
way) and measuring again over seeds is the next step.""",
"PROSE_CHAT": """On these 20 questions the span reader scores F1 0.716 (above its mean over all test questions), the word-overlap
baseline 0.139 and the zero-shot chat model 0.052 — below the reader that learns nothing. The chat model answers in
sentences (14.1 words on average, against 2.5 in the gold answers: "The population of Calloway Harbour is
approximately 90,000 people.") that SQuAD's metrics punish, and sometimes answers what the passage does not say ("18
months" for "sixty years"). Mapping each answer onto the passage's closest span does not rescue it (F1 0.076): the
span closest to a sentence is long (8.1 words). The arms differ in everything — a reader fine-tuned on 537 in-domain
questions against a 135M chat model, zero-shot, quantised — so this shows what extractive scoring expects, not which
model reads better; a fair contest would fine-tune the chat model briefly on the training questions (LoRA, as in
chapter 06), which is not done here. The times are not comparable either (17.6 ms against 626 ms per question): the
span reader's leave out the three cached lower layers and tokenisation.""",
"PROSE_E2E": """End to end, test F1 falls from 0.453 with the gold passage to 0.288 with the retrieved one: retrieval costs 0.165 F1
(paired interval 0.126 to 0.205). Where the hybrid ranked the right passage first (61.9% of the questions) the
reader reads exactly what it reads with the gold passage, so the whole gap comes from the other questions, where it
scores 0.029. Closing the gap needs a better retriever first.""",
"PROSE_STRIDE": """With 128-token windows, 27 of the 141 questions have their answer beyond the first window. There, plain truncation
scores F1 0.011 — it cannot see the answer — against 0.314 to 0.340 with overlapping windows, and 0.446 when one
256-token window holds the whole passage, the condition the reader was trained in. Over all 141 questions, the
gain of doc_stride 64 over truncation is 0.045 F1 (paired interval -0.006 to +0.099): not established at this size,
because only 27 questions can gain. The three strides (0, 32, 64) do not rank in the order of their overlap; one
seed and 27 questions cannot separate them. This reader never saw a window without its answer in training, so it
cannot have learnt to point at [CLS] there; a reader trained on long passages would be the right test of
`doc_stride`.""",
"PROSE_UNANSWERABLE": """The threshold chosen on validation (from only 22 unanswerable questions), τ = -7.86, abstains on 2 of the 44
unanswerable test questions and on none of the answerable ones: NoAns F1 0.045, HasAns F1 unchanged at 0.453, overall
0.390 → 0.396 (paired interval +0.000 to +0.016), too small a change to call a gain; always abstaining scores
0.140. The margin the threshold reads, null score − best span score, does not separate the two kinds at all (AUROC
0.434): a reader trained only on answerable questions has never learnt what "no answer" looks like. SQuAD 2.0
systems train on unanswerable questions labelled [CLS] — the next step here.""",
"PROSE_PIPELINE": """On every one of the 263 test questions read in one window, the two decoders give the same answer. The course's
target, 99% of all 270 questions alike, is missed: 98.5%. The 4 differences are all on the one passage read in two
windows, where the decoders rank windows differently — the pipeline by probabilities normalised within each window,
ours by raw start + end logits, as BERT's `run_squad.py` and transformers' example `utils_qa.py` do. Neither is
wrong. We pass a maximum answer length of 30 tokens; the pipeline's default was 15.""",
}
for c in nb['cells']:
    if c['cell_type'] == 'markdown':
        s = ''.join(c['source'])
        for k, v in P.items():
            s = s.replace(k, v)
        lines = s.split('\n')
        c['source'] = [line + '\n' for line in lines[:-1]] + [lines[-1]]
text = '\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')
left = [k for k in P if k in text]
print("left:", left)
with open(path, 'w') as f:
    json.dump(nb, f, indent=1, sort_keys=True, ensure_ascii=False)
    f.write('\n')
sys.exit(1 if left else 0)
