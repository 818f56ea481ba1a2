"""Question answering on a CPU budget: freeze the lower layers, cache their output once, train only the top layers
and the span head.

    tokenizer, qa_model = load_encoder(task="question-answering")
    features = prepare_features(data["train"], tokenizer, max_length=256, doc_stride=64)      # sftlab.qa
    cache = cache_lower_layers(qa_model, features, n_top=2)             # (N, T, D) states + masks, computed once
    reader = TopReader(qa_model, n_top=2)                               # wraps encoder.layer[-2:] + qa_outputs
    history = train(reader, cache_loader(cache, 16, shuffle=True), cache_loader(val_cache, 64), config,
                    compute_metrics=metrics_for(val_features, data["validation"]))           # sftlab.training
    starts, ends = cached_logits(reader, val_cache)                     # one (T,) tensor per window
    answers = best_answers(starts, ends, val_features, data["validation"])                   # sftlab.qa

Why: a 6-layer encoder on 2 CPU cores cannot be fully fine-tuned in minutes, but the lower layers change little
in fine-tuning. Running them once (no grad) and training the top n layers on the cached states cuts every epoch
to n/6 of the forward cost and removes the lower layers' backward pass entirely.

Shapes: N windows, B windows in a batch, T tokens (padded to the longest window in the batch), D hidden width.
"""

from dataclasses import dataclass

import torch
from torch import nn

from sftlab import batching
from sftlab.devices import model_device, to_device
from sftlab.qa.windows import MODEL_INPUTS


def _check_n_top(qa_model, n_top) -> int:
    layers = len(qa_model.bert.encoder.layer)
    if isinstance(n_top, bool) or not isinstance(n_top, int):
        raise TypeError(f"n_top must be an int (layers to train), got {n_top!r}")
    if not 1 <= n_top <= layers:
        raise ValueError(f"n_top must be between 1 and the model's {layers} layers, got {n_top}")
    return n_top


def extended_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, T) 1/0 mask -> (B, 1, 1, T) additive mask: 0 on real tokens, the dtype's lowest value on padding, so that
    after adding it to the attention scores (B, heads, T, T) no query attends to a padding key."""
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must be (batch, tokens), got shape {tuple(attention_mask.shape)}")
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


@dataclass
class SpanOutput:
    """What training.train and sftlab.qa read: loss (None without targets), start and end logits (B, T)."""
    loss: torch.Tensor | None
    start_logits: torch.Tensor
    end_logits: torch.Tensor


def span_loss(start_logits, end_logits, start_positions, end_positions) -> torch.Tensor:
    """BertForQuestionAnswering's loss: mean of the start and end cross-entropies; a position outside the window
    (clamped to T) is ignored, as in transformers."""
    ignored = start_logits.size(1)
    start_positions, end_positions = start_positions.clamp(0, ignored), end_positions.clamp(0, ignored)
    loss = nn.CrossEntropyLoss(ignore_index=ignored)
    return (loss(start_logits, start_positions) + loss(end_logits, end_positions)) / 2


@torch.no_grad()
def cache_lower_layers(qa_model, features, n_top: int, batch_size: int = 64) -> dict:
    """Run the frozen embeddings + the first L − n_top layers ONCE over every window of `features` (a Dataset from
    sftlab.qa.prepare_features, in its order). Returns {"hidden_states": list of (T_i, D) float32 tensors,
    "attention_mask": list of (T_i,), "input_ids": list of (T_i,), and start_positions/end_positions (N,) when the
    features have them}. Windows keep their own length T_i (no padding stored); cache_loader pads per batch."""
    n_top = _check_n_top(qa_model, n_top)
    if not hasattr(features, "column_names") or "input_ids" not in features.column_names:
        raise TypeError(f"features must be the Dataset of sftlab.qa.prepare_features, got {type(features).__name__}")
    qa_model.eval()                                                 # dropout off: the cache must be deterministic
    device = model_device(qa_model)
    bert = qa_model.bert
    lower = bert.encoder.layer[:len(bert.encoder.layer) - n_top]
    cache = {"hidden_states": [], "attention_mask": [], "input_ids": []}
    rows = features.select_columns([c for c in MODEL_INPUTS if c in features.column_names])
    for start in range(0, len(rows), batch_size):
        batch = rows[start:start + batch_size]
        lengths = [len(ids) for ids in batch["input_ids"]]
        width = max(lengths)
        padded = {k: torch.tensor([v + [0] * (width - len(v)) for v in batch[k]], device=device) for k in batch}
        mask = padded["attention_mask"]                                             # (B, T)
        hidden = bert.embeddings(input_ids=padded["input_ids"], token_type_ids=padded.get("token_type_ids"))
        additive = extended_mask(mask, hidden.dtype)                                # (B, 1, 1, T)
        for layer in lower:
            hidden = layer(hidden, additive)                                        # (B, T, D)
        for row, length in enumerate(lengths):                                      # drop the padding again
            cache["hidden_states"].append(hidden[row, :length].float().cpu())
            cache["attention_mask"].append(mask[row, :length].cpu())
            cache["input_ids"].append(padded["input_ids"][row, :length].cpu())
    for name in ("start_positions", "end_positions"):
        if name in features.column_names:
            cache[name] = torch.tensor(features[name])
    return cache


def cache_size_mb(cache: dict) -> float:
    """Memory the cached hidden states take, in MB."""
    return sum(h.numel() * h.element_size() for h in cache["hidden_states"]) / 2**20


class CachedWindows(torch.utils.data.Dataset):
    """One cached window per item: a dict of tensors (hidden_states (T_i, D), attention_mask, input_ids, targets)."""

    def __init__(self, cache: dict):
        self.cache = cache

    def __len__(self):
        return len(self.cache["hidden_states"])

    def __getitem__(self, i):
        item = {k: self.cache[k][i] for k in ("hidden_states", "attention_mask", "input_ids")}
        for name in ("start_positions", "end_positions"):
            if name in self.cache:
                item[name] = self.cache[name][i]
        return item


def collate_cached(items: list[dict]) -> dict:
    """Pad a list of cached windows to the longest: hidden_states (B, T, D), attention_mask and input_ids (B, T)
    (input_ids only ride along: training.train checks them, the reader ignores them), targets (B,)."""
    width = max(len(it["attention_mask"]) for it in items)
    pad = nn.functional.pad
    batch = {"hidden_states": torch.stack([pad(it["hidden_states"], (0, 0, 0, width - len(it["hidden_states"])))
                                           for it in items])}                  # (B, T, D)
    for k in ("attention_mask", "input_ids"):
        batch[k] = torch.stack([nn.functional.pad(it[k], (0, width - len(it[k]))) for it in items])
    for name in ("start_positions", "end_positions"):
        if name in items[0]:
            batch[name] = torch.stack([it[name] for it in items])
    return batch


def cache_loader(cache: dict, batch_size: int = 16, shuffle: bool = False, seed: int = 0):
    """Batches of cached windows (sftlab.batching.make_loader: seeded, reshuffled each epoch). Training batches
    (shuffle=True) are grouped by length, so little time goes into [PAD] tokens; without shuffling the batches
    keep the features' order, which sftlab.qa.metrics_for and best_answers rely on."""
    lengths = [len(m) for m in cache["attention_mask"]] if shuffle else None
    return batching.make_loader(CachedWindows(cache), collate_cached, batch_size, shuffle, seed,
                                group_by_length=shuffle, lengths=lengths)


class TopReader(nn.Module):
    """The top n_top encoder layers and the qa_outputs span head of a …ForQuestionAnswering BERT, run on cached
    hidden states. The layers are the model's own modules (shared, not copied): training the reader trains the
    model, so the full model afterwards answers from raw text with the new weights."""

    def __init__(self, qa_model, n_top: int):
        super().__init__()
        n_top = _check_n_top(qa_model, n_top)
        self.layers = nn.ModuleList(qa_model.bert.encoder.layer[-n_top:])
        self.qa_outputs = qa_model.qa_outputs                           # Linear(D, 2): start and end score
        self.n_top = n_top

    def forward(self, hidden_states, attention_mask, start_positions=None, end_positions=None, **ignored):
        """hidden_states (B, T, D) from cache_lower_layers, attention_mask (B, T) -> SpanOutput with (B, T) logits.
        Extra keys (input_ids, which the loaders carry for training.train's checks) are ignored."""
        if hidden_states.dim() != 3 or hidden_states.shape[:2] != attention_mask.shape:
            raise ValueError(f"hidden_states (B, T, D) and attention_mask (B, T) disagree: "
                             f"{tuple(hidden_states.shape)} vs {tuple(attention_mask.shape)}")
        additive = extended_mask(attention_mask, hidden_states.dtype)           # (B, 1, 1, T)
        for layer in self.layers:
            hidden_states = layer(hidden_states, additive)                      # (B, T, D)
        start_logits, end_logits = self.qa_outputs(hidden_states).split(1, dim=-1)   # (B, T, 1) each
        start_logits, end_logits = start_logits.squeeze(-1), end_logits.squeeze(-1)  # (B, T)
        padding = attention_mask == 0        # no answer there: keep padding out of the softmax, so a window's loss
        lowest = torch.finfo(start_logits.dtype).min       # does not depend on how much its batch was padded
        start_logits, end_logits = start_logits.masked_fill(padding, lowest), end_logits.masked_fill(padding, lowest)
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = span_loss(start_logits, end_logits, start_positions, end_positions)
        return SpanOutput(loss, start_logits, end_logits)


def freeze_lower(qa_model, n_top: int) -> None:
    """requires_grad False everywhere but the top n_top layers and the span head (the cache is fixed anyway; this
    keeps optimizers and parameter counts honest when the full model is handed around)."""
    n_top = _check_n_top(qa_model, n_top)
    for p in qa_model.parameters():
        p.requires_grad_(False)
    for module in (*qa_model.bert.encoder.layer[-n_top:], qa_model.qa_outputs):
        for p in module.parameters():
            p.requires_grad_(True)


@torch.no_grad()
def cached_logits(reader: TopReader, cache: dict, batch_size: int = 64) -> tuple[list, list]:
    """(start logits, end logits): one (T_i,) CPU tensor per window, in the cache's order (as sftlab.qa's
    window_logits, so best_answers takes them as they are)."""
    reader.eval()
    device = model_device(reader)
    starts, ends = [], []
    for batch in cache_loader(cache, batch_size):
        batch = to_device(batch, device)
        out = reader(batch["hidden_states"], batch["attention_mask"])
        for row, mask in enumerate(batch["attention_mask"]):
            length = int(mask.sum())
            starts.append(out.start_logits[row, :length].float().cpu())
            ends.append(out.end_logits[row, :length].float().cpu())
    return starts, ends


def reset_span_head(qa_model, seed: int = 0) -> None:
    """A freshly initialised qa_outputs (BERT's init: normal(0, initializer_range), zero bias), seeded: the floor
    a reader starts from, and a clean start for each seed."""
    generator = torch.Generator().manual_seed(seed)
    std = qa_model.config.initializer_range
    with torch.no_grad():
        weight = qa_model.qa_outputs.weight
        weight.copy_(torch.randn(weight.shape, generator=generator) * std)
        qa_model.qa_outputs.bias.zero_()
