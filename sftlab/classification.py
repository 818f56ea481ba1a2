"""Text classification with a fine-tuned encoder: tokenise, batch with dynamic padding, predict, evaluate.

    tokenized = tokenize(dataset_dict, tokenizer)             # input_ids, attention_mask, labels
    loader = make_loader(tokenized["train"], tokenizer, batch_size=32, shuffle=True)
    predictions, probabilities = predict(model, tokenizer, texts)

Dynamic padding: each batch is padded to its own longest sentence (transformers' DataCollatorWithPadding),
not to one global maximum, so short batches cost less.
"""

import re

import numpy as np
import torch

from sftlab.data import check_texts
from sftlab.devices import model_device, to_device
from sftlab.metrics import classification_metrics

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def tokenize(dataset, tokenizer, max_length: int = 64, text_column: str = "text", label_column: str = "label"):
    """Tokenise every split (truncating to max_length tokens, no padding yet) and keep only model inputs + labels."""
    from datasets import DatasetDict

    splits = dataset if isinstance(dataset, DatasetDict) else {"data": dataset}
    for name, split in splits.items():
        if len(split) == 0:
            raise ValueError(f"split {name!r} is empty: nothing to tokenise")
        if text_column not in split.column_names:
            raise ValueError(f"split {name!r} has no {text_column!r} column (columns: {split.column_names})")
        check_texts(split[text_column], f"split {name!r}")

    def encode(batch):
        encoded = tokenizer(batch[text_column], truncation=True, max_length=max_length)
        if label_column in batch:
            encoded["labels"] = batch[label_column]
        return encoded

    def one(split):
        drop = [c for c in split.column_names if c not in MODEL_INPUTS]
        return split.map(encode, batched=True, remove_columns=drop)

    return DatasetDict({name: one(split) for name, split in splits.items()}) if isinstance(dataset, DatasetDict) \
        else one(dataset)


def make_loader(tokenized_split, tokenizer, batch_size: int = 32, shuffle: bool = False, seed: int = 0,
                pad_to: int | None = None, group_by_length: bool = False):
    """A DataLoader of padded batches; pad_to=None pads each batch to its longest sentence (dynamic padding),
    an int pads every batch to that fixed length (the slow way, for comparison).

    group_by_length=True puts sentences of similar length in the same batch, so dynamic padding adds few [PAD]
    tokens. With shuffle=True (training) it shuffles, then sorts by length within groups of 50 batches
    (transformers' LengthGroupedSampler, Trainer's "group_by_length"), so the order still changes every epoch;
    with shuffle=False (evaluation, where order does not matter) it simply goes from longest to shortest."""
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding

    if len(tokenized_split) == 0:
        raise ValueError("cannot batch an empty dataset")
    collator = DataCollatorWithPadding(tokenizer, padding="max_length" if pad_to else "longest", max_length=pad_to)
    generator = torch.Generator().manual_seed(seed)  # same shuffling order on every run
    if group_by_length:
        from transformers.trainer_pt_utils import LengthGroupedSampler

        lengths = [len(ids) for ids in tokenized_split["input_ids"]]
        sampler = LengthGroupedSampler(batch_size, lengths=lengths, generator=generator) if shuffle \
            else sorted(range(len(lengths)), key=lambda i: -lengths[i])    # evaluation: longest first, fixed
        return DataLoader(tokenized_split.with_format("torch"), batch_size=batch_size, sampler=sampler,
                          collate_fn=collator)
    return DataLoader(tokenized_split.with_format("torch"), batch_size=batch_size, shuffle=shuffle,
                      collate_fn=collator, generator=generator)


def metrics_for(label_names: list[str]):
    """A compute_metrics(logits_list, labels_list) for training.train/evaluate: accuracy and macro-F1."""
    def compute(logits, labels):
        predictions = torch.cat(logits).argmax(-1)
        scores = classification_metrics(torch.cat(labels), predictions, label_names)
        return {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]}
    return compute


@torch.no_grad()
def predict(model, tokenizer, texts: list[str], batch_size: int = 64, max_length: int = 128):
    """(predicted class ids (N,), class probabilities (N, C)) as numpy arrays, model in eval mode."""
    if isinstance(texts, str):
        raise TypeError("predict takes a list of texts; wrap a single text in a list")
    check_texts(texts, "predict")
    if not texts:
        raise ValueError("predict got an empty list of texts")
    model.eval()
    device = model_device(model)
    probabilities = []
    for batch in _batches_by_length(tokenizer, texts, batch_size, max_length):
        probabilities.append(model(**to_device(batch, device)).logits.float().softmax(-1).cpu())
    probabilities = _in_input_order(torch.cat(probabilities), tokenizer, texts, max_length).numpy()
    return probabilities.argmax(-1), probabilities


def _length_order(tokenizer, texts, max_length: int) -> list[int]:
    """Indices of `texts` from longest to shortest in tokens: batching in this order pads almost nothing."""
    lengths = [len(ids) for ids in tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]]
    return sorted(range(len(texts)), key=lambda i: -lengths[i])


def _batches_by_length(tokenizer, texts, batch_size: int, max_length: int):
    """Padded batches of texts in _length_order (for inference, where the order does not matter)."""
    order = _length_order(tokenizer, texts, max_length)
    for start in range(0, len(order), batch_size):
        chunk = [texts[i] for i in order[start:start + batch_size]]
        yield tokenizer(chunk, padding=True, truncation=True, max_length=max_length, return_tensors="pt")


def _in_input_order(rows: torch.Tensor, tokenizer, texts, max_length: int) -> torch.Tensor:
    """Undo _length_order: row i of the result belongs to texts[i]."""
    order = torch.tensor(_length_order(tokenizer, texts, max_length))
    return rows[torch.argsort(order)]


def evaluate_texts(model, tokenizer, dataset, label_names: list[str]) -> dict:
    """classification_metrics of the model on a dataset with text and label columns, plus its predictions."""
    predictions, probabilities = predict(model, tokenizer, dataset["text"])
    scores = classification_metrics(np.asarray(dataset["label"]), predictions, label_names)
    return {**scores, "predictions": predictions, "probabilities": probabilities}


def class_weights(labels, num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights N / (C · n_c): each class contributes equally to the loss in total."""
    labels = torch.as_tensor(labels)
    if labels.numel() == 0:
        raise ValueError("labels is empty: class weights need at least one example")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in 0 … {num_classes - 1} for num_classes={num_classes}, got values "
                         f"{sorted(set(labels.tolist()) - set(range(num_classes)))} outside it")
    counts = torch.bincount(labels, minlength=num_classes).float()
    if (counts == 0).any():
        raise ValueError(f"class(es) {torch.nonzero(counts == 0).flatten().tolist()} never occur: no weight exists")
    return counts.sum() / (num_classes * counts)


def weighted_loss(weights: torch.Tensor):
    """A loss_fn(outputs, batch) for training.train: cross-entropy with per-class weights."""
    def loss_fn(outputs, batch):
        return torch.nn.functional.cross_entropy(outputs.logits, batch["labels"],
                                                 weight=weights.to(outputs.logits.device))
    return loss_fn


HEAD_NAMES = ("classifier", "score", "qa_outputs")   # the task heads of transformers' encoder models


def freeze_encoder(model) -> int:
    """Freeze everything but the task head (classifier, score or qa_outputs); returns how many parameters still
    train. A model without such a head is refused: freezing it would leave nothing to train."""
    names = [name for name, _ in model.named_parameters()]
    if not any(name.startswith(HEAD_NAMES) for name in names):
        raise ValueError(f"found no task head ({', '.join(HEAD_NAMES)}) in {type(model).__name__}, so freezing "
                         f"would leave nothing to train; load the model with a head, e.g. "
                         f"load_encoder('sequence-classification', num_labels=2)")
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith(HEAD_NAMES)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---------------------------------------------------------------- features for baselines (no fine-tuning)

def word_tokens(text: str) -> list[str]:
    """Lower-cased words split the way GloVe's corpus was: "wasn't" → ["was", "n't"], punctuation dropped."""
    return re.findall(r"n't|[a-z0-9]+", text.lower().replace("n't", " n't"))


def average_word_vectors(texts, keyed_vectors) -> tuple[np.ndarray, float]:
    """(N, D) mean of each text's word vectors, and the share of words found in the vocabulary.

    Words missing from the vocabulary are skipped; a text with none found gets the zero vector."""
    check_texts(texts, "average_word_vectors")
    features = np.zeros((len(texts), keyed_vectors.vector_size), dtype=np.float32)
    found = total = 0
    for i, text in enumerate(texts):
        words = word_tokens(text)
        known = [w for w in words if w in keyed_vectors.key_to_index]
        found, total = found + len(known), total + len(words)
        if known:
            features[i] = keyed_vectors[known].mean(axis=0)
    return features, found / max(total, 1)


@torch.no_grad()
def encoder_features(model, tokenizer, texts, batch_size: int = 64, max_length: int = 64) -> dict:
    """Frozen sentence features from an encoder (or a classifier's encoder), as numpy arrays (N, D):

    "pooler": the [CLS] vector after BERT's pooler (dense + tanh), exactly what the classification head reads;
    "mean":   the average of the last layer's token vectors over real tokens (padding excluded)."""
    check_texts(texts, "encoder_features")
    encoder = getattr(model, "base_model", model)      # BertForSequenceClassification → its BertModel
    encoder.eval()
    device = model_device(encoder)
    pooled, means = [], []
    for batch in _batches_by_length(tokenizer, list(texts), batch_size, max_length):
        batch = to_device(batch, device)
        outputs = encoder(**batch)
        mask = batch["attention_mask"].unsqueeze(-1).to(outputs.last_hidden_state.dtype)   # (B, T, 1)
        means.append((outputs.last_hidden_state * mask).sum(1) / mask.sum(1))
        pooled.append(outputs.pooler_output)
    return {name: _in_input_order(torch.cat(rows).float().cpu(), tokenizer, list(texts), max_length).numpy()
            for name, rows in [("pooler", pooled), ("mean", means)]}
