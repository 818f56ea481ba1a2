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

from sftlab import batching
from sftlab.data import check_texts
from sftlab.devices import model_device, to_device
from sftlab.metrics import classification_metrics

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def tokenize(dataset, tokenizer, max_length: int = 64, text_column: str = "text", label_column: str = "label"):
    """Tokenise every split (truncating to max_length tokens, no padding yet) and keep only model inputs + labels."""
    from datasets import DatasetDict

    from sftlab.data.splits import CourseDatasetDict  # a wrong split name lists the splits there are

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

    if not isinstance(dataset, DatasetDict):
        return one(dataset)
    return CourseDatasetDict({name: one(split) for name, split in splits.items()})


def make_loader(tokenized_split, tokenizer, batch_size: int = 32, shuffle: bool = False, seed: int = 0,
                pad_to: int | None = None, group_by_length: bool = False):
    """A DataLoader of padded batches (sftlab.batching.make_loader: seeded, reshuffled each epoch); pad_to=None
    pads each batch to its longest sentence (dynamic padding), an int pads every batch to that fixed length (the
    slow way, for comparison).

    group_by_length=True puts sentences of similar length in the same batch, so dynamic padding adds few [PAD]
    tokens. With shuffle=True (training) it shuffles, then sorts by length within a few mega-batches
    (transformers' LengthGroupedSampler, Trainer's "group_by_length"), so the order still changes every epoch;
    with shuffle=False (evaluation, where order does not matter) it simply goes from longest to shortest."""
    from transformers import DataCollatorWithPadding

    batching.check_tokenized_split(tokenized_split, ["input_ids"], "make_loader", "tokenize(…)")
    collator = DataCollatorWithPadding(tokenizer, padding="max_length" if pad_to else "longest", max_length=pad_to)
    return batching.make_loader(tokenized_split.with_format("torch"), collator, batch_size, shuffle, seed,
                                group_by_length)


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

    def units(batch):        # the weighted mean divides by the labels' weights, not by their count
        return float(weights.to(batch["labels"].device)[batch["labels"]].sum())

    loss_fn.units = units
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

    "pooler": the [CLS] vector after BERT's pooler (dense + tanh), what the stock classification head reads
    (absent for a model without a pooler);
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
        if outputs.pooler_output is not None:          # a MeanPoolingForSequenceClassification has no pooler
            pooled.append(outputs.pooler_output)
    return {name: _in_input_order(torch.cat(rows).float().cpu(), tokenizer, list(texts), max_length).numpy()
            for name, rows in [("pooler", pooled), ("mean", means)] if rows}


# ---------------------------------------------------------------- heads and encoder size

def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, T, D) token vectors → (B, D): their mean over real tokens (attention_mask 1), padding left out."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)                 # (B, T, 1)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)              # (B, D)


class MeanPoolingForSequenceClassification(torch.nn.Module):
    """The encoder and head of a *ForSequenceClassification model, reading the mean of the last layer's token
    vectors instead of the [CLS] vector after BERT's pooler.

    Why: a sentence-embedding encoder such as all-MiniLM-L6-v2 was trained so that the *mean* of its token
    vectors represents the sentence; its [CLS] vector and pooler were never trained by that objective. The
    pooler is dropped (set to None), so its weights neither compute nor train."""

    def __init__(self, model):
        super().__init__()
        for part in ("base_model", "dropout", "classifier"):
            if not hasattr(model, part):
                raise TypeError(f"{type(model).__name__} has no {part!r}: pass a sequence classifier such as "
                                f"load_encoder('sequence-classification', num_labels=2)[1]")
        self.bert = model.base_model           # the same modules, not copies
        self.bert.pooler = None                # BertModel skips a None pooler
        self.dropout, self.classifier, self.config = model.dropout, model.classifier, model.config

    @property
    def base_model(self):
        return self.bert

    @property
    def device(self) -> torch.device:
        """Where the weights are, as on a transformers model: inputs go there (`batch.to(model.device)`)."""
        return self.bert.device

    def forward(self, input_ids, attention_mask, token_type_ids=None, labels=None):
        from transformers.modeling_outputs import SequenceClassifierOutput

        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).last_hidden_state       # (B, T, D)
        logits = self.classifier(self.dropout(mean_pool(hidden, attention_mask)))  # (B, C)
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def truncate_encoder(model, num_layers: int):
    """Keep only the first num_layers Transformer layers of the model's encoder (in place; returns the model):
    a cheaper model for sweeps, which still starts from pre-trained weights."""
    layers = model.base_model.encoder.layer
    if not isinstance(num_layers, int) or not 1 <= num_layers <= len(layers):
        raise ValueError(f"num_layers must be an int in 1 … {len(layers)} (the encoder's layers), got {num_layers!r}")
    model.base_model.encoder.layer = layers[:num_layers]
    model.config.num_hidden_layers = num_layers
    return model


# ---------------------------------------------------------------- text cleaning, shortcut cues, counterfactuals

def clean_text(text: str) -> str:
    """The classic bag-of-words cleaning some tutorials apply before BERT too: lower-case, punctuation out,
    stop words out (scikit-learn's English list, which holds "not", "no", "nor", "never", "nothing" and
    "without"). Shown in notebook 03 to measure what it costs a model that reads word order and negation."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    if not isinstance(text, str):
        raise TypeError(f"clean_text takes one string, got {type(text).__name__}")
    words = re.sub(r"[^\w\s]", " ", text.lower()).split()     # "wasn't" → "wasn", "t"
    return " ".join(w for w in words if w not in ENGLISH_STOP_WORDS and len(w) > 1)


def edit_word(text: str, word: str, replacement: str = "") -> str:
    """A counterfactual edit: every whole-word occurrence of `word` (any case) replaced by `replacement`, or
    removed when replacement is "", with the spacing tidied. Keeps a capital first letter."""
    if not word or not re.fullmatch(r"[\w'-]+", word):
        raise ValueError(f"word must be one word (letters, digits, ' or -), got {word!r}")

    def swap(match):
        if replacement and match.group(0)[0].isupper():
            return replacement[0].upper() + replacement[1:]
        return replacement

    edited = re.sub(rf"\b{re.escape(word)}\b", swap, text, flags=re.IGNORECASE)
    edited = re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r" {2,}", " ", edited)).strip()
    edited = re.sub(r"^[,;:]\s*", "", edited)
    return edited[:1].upper() + edited[1:] if text[:1].isupper() else edited


def label_skewed_words(texts, labels, min_count: int = 8, num_classes: int = 2) -> list[dict]:
    """Words (word_tokens) found in at least min_count texts, with the class they go with most, that class's
    share of their texts ("purity"), and a smoothed log-odds of that class; most skewed first.

    A word that nearly always goes with one label is a feature any classifier will use — a shortcut when the
    word itself carries no sentiment ("dollars", "promised"): true of this data set, not of language."""
    check_texts(texts, "label_skewed_words")
    labels = np.asarray(labels)
    if len(labels) != len(texts):
        raise ValueError(f"labels has {len(labels)} entries but texts has {len(texts)}")
    counts: dict[str, np.ndarray] = {}
    for text, label in zip(texts, labels, strict=True):
        for word in set(word_tokens(text)):
            counts.setdefault(word, np.zeros(num_classes))[label] += 1
    prior = np.bincount(labels, minlength=num_classes) / len(labels)
    rows = []
    for word, per_class in counts.items():
        n = per_class.sum()
        if n < min_count:
            continue
        top = int(per_class.argmax())
        odds = np.log((per_class[top] + 1) / (n - per_class[top] + 1)) - np.log(prior[top] / (1 - prior[top]))
        rows.append({"word": word, "count": int(n), "label": top, "purity": float(per_class[top] / n),
                     "log_odds": float(odds)})
    return sorted(rows, key=lambda r: (-r["log_odds"], r["word"]))
