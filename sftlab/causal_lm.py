"""Fine-tuning a causal LM on a text corpus: tokenise whole entries, pad, and keep the loss off the padding.

    tokenized = tokenize_corpus(load_lm_corpus(), tokenizer, max_length=192)
    loader = make_lm_loader(tokenized["train"], tokenizer, batch_size=8, shuffle=True)
    history = train(model, loader, config=TrainingConfig(learning_rate=1e-3, epochs=1))   # sftlab.training
    samples(model, tokenizer, prompts, seed=0)                                            # before/after texts

Shapes: B batch, T padded length. Labels are the input ids themselves — the model shifts them by one inside
(logits at t are scored against token t + 1) — with -100 wherever attention_mask is 0.
"""

import torch

from sftlab import batching
from sftlab.batching import IGNORE_INDEX
from sftlab.data import check_texts


def tokenize_corpus(corpus, tokenizer, max_length: int = 192, add_eos: bool = True):
    """The `text` column of a Dataset (or of every split of a DatasetDict) as input_ids and attention_mask;
    the other columns are dropped.

    Each entry is one sequence, cut at max_length tokens; add_eos appends the tokenizer's EOS so the model also
    learns where an entry ends (otherwise a fine-tuned model never stops on its own)."""
    if tokenizer.eos_token_id is None and add_eos:
        raise ValueError("the tokenizer has no eos_token: pass add_eos=False or set tokenizer.eos_token")
    if not isinstance(max_length, int) or max_length < 2:
        raise ValueError(f"max_length must be an int ≥ 2 (a sequence needs a token to predict), got {max_length!r}")

    def encode(batch):
        check_texts(batch["text"], "tokenize_corpus")
        ids = tokenizer(batch["text"], add_special_tokens=True)["input_ids"]
        if add_eos:
            ids = [x + [tokenizer.eos_token_id] for x in ids]
        ids = [x[:max_length] for x in ids]
        return {"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids]}

    columns = corpus.column_names      # a list for a Dataset, {split: list} for a DatasetDict
    columns = next(iter(columns.values())) if isinstance(columns, dict) else columns
    if "text" not in columns:
        raise ValueError(f"the corpus needs a 'text' column, got columns {columns}")
    return corpus.map(encode, batched=True, remove_columns=columns)


class CausalLMCollator:
    """Pads a list of {"input_ids", "attention_mask"} to the longest (right padding) and adds labels:
    the input ids, with IGNORE_INDEX where attention_mask is 0.

    Masking by attention_mask and not by token id matters when pad_token == eos_token (GPT-2 and SmolLM2
    both): masking every pad id would also drop the real EOS at the end of each entry from the loss.
    (transformers' DataCollatorForLanguageModeling masks by id.)"""

    def __init__(self, tokenizer):
        if tokenizer.pad_token_id is None:
            raise ValueError("the tokenizer has no pad token; set tokenizer.pad_token = tokenizer.eos_token "
                             "(padded positions get no loss, so which id pads does not matter)")
        self.pad_token_id = tokenizer.pad_token_id

    def __call__(self, features: list[dict]) -> dict:
        if not features:
            raise ValueError("empty batch: no features to collate")
        longest = max(len(f["input_ids"]) for f in features)
        input_ids = torch.full((len(features), longest), self.pad_token_id, dtype=torch.long)   # (B, T)
        attention_mask = torch.zeros((len(features), longest), dtype=torch.long)                # (B, T)
        for row, feature in enumerate(features):
            n = len(feature["input_ids"])
            input_ids[row, :n] = torch.as_tensor(feature["input_ids"])
            attention_mask[row, :n] = 1
        labels = input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def make_lm_loader(dataset, tokenizer, batch_size: int = 8, shuffle: bool = False, seed: int = 0,
                   group_by_length: bool = False):
    """A DataLoader of padded causal-LM batches (input_ids, attention_mask, labels) over a tokenized split
    (sftlab.batching.make_loader: seeded, reshuffled each epoch, optionally grouped by length)."""
    batching.check_tokenized_split(dataset, ["input_ids", "attention_mask"], "make_lm_loader", "tokenize_corpus")
    return batching.make_loader(dataset.with_format(columns=["input_ids", "attention_mask"]),
                                CausalLMCollator(tokenizer), batch_size, shuffle, seed, group_by_length)


def samples(model, tokenizer, prompts: list[str], seed: int = 0, max_new_tokens: int = 40, **decoding) -> list[str]:
    """One continuation per prompt (prompt excluded), decoded; prompt i is sampled after manual_seed(seed + i),
    so the same model gives the same texts and two models are compared on the same random draws."""
    from sftlab.generation import generate

    check_texts(prompts, "samples (prompts)")
    decoding = {"do_sample": True, "temperature": 0.8, "top_p": 0.9, "eos_token_id": tokenizer.eos_token_id,
                **decoding}
    texts = []
    for i, prompt in enumerate(prompts):
        ids = tokenizer(prompt, return_tensors="pt").input_ids.to(next(model.parameters()).device)
        out = generate(model, ids, max_new_tokens=max_new_tokens, seed=seed + i, **decoding)
        texts.append(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True))
    return texts
