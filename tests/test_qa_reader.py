"""sftlab.qa.reader: the lower layers run once and cached, the top layers and the span head trained on the cache.

The reader is only right if it is the full model cut in two: for every n_top, TopReader on cache_lower_layers'
states must give the full model's logits and loss on the real tokens of padded batches. These tests run the
offline profile's all-MiniLM-L6-v2 with a question-answering head on a few windows of the course's own QA data.
"""

import pytest
import torch
from conftest import load_offline
from torch import nn
from transformers import BertConfig

from sftlab import data, models, qa
from sftlab.course import profiles

ROWS = [0, 6, 164, 165]          # questions on passages of different lengths: the windows need padding in a batch


def load_offline_qa_model():
    """(tokenizer, BertForQuestionAnswering) of the offline profile, span head seeded; a fresh model per call."""
    tokenizer, model = load_offline(models.load_encoder, task="question-answering")
    qa.reset_span_head(model, seed=0)          # not in the checkpoint: randomly initialised on every load
    return tokenizer, model.eval()


@pytest.fixture(scope="module")
def offline_qa():
    """Loaded once for the read-only tests; a test that trains loads its own."""
    return load_offline_qa_model()


@pytest.fixture(scope="module")
def features(offline_qa):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(profiles.ENV_VAR, "offline")
        split = data.load_qa()["train"].select(ROWS)
    found = qa.prepare_features(split, offline_qa[0], max_length=256, doc_stride=64)
    assert len({len(ids) for ids in found["input_ids"]}) > 1, "windows of different lengths, so batches are padded"
    return found


def full_model_logits(qa_model, tokenizer, features, batch_size=4):
    """The full model's (start, end) logits per window, cut to the window's real tokens."""
    starts, ends = qa.window_logits(qa_model, qa.make_loader(features, tokenizer, batch_size))
    lengths = [len(ids) for ids in features["input_ids"]]
    return [s[:n] for s, n in zip(starts, lengths, strict=True)], [e[:n] for e, n in zip(ends, lengths, strict=True)]


def assert_all_close(ours, theirs, atol=1e-5):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, atol=atol, rtol=0)


# ---------------------------------------------------------------- the reader is the full model cut in two


@pytest.mark.parametrize("n_top", [1, 2, 3, 6])
def test_top_reader_on_the_cache_gives_the_full_models_logits(offline_qa, features, n_top):
    """Cache batches of 3 and reader batches of 2 pad differently from the full model's batches of 4: the logits on
    the real tokens must not notice (n_top=6: only the embeddings are cached)."""
    tokenizer, qa_model = offline_qa
    cache = qa.cache_lower_layers(qa_model, features, n_top, batch_size=3)
    lengths = [len(ids) for ids in features["input_ids"]]
    assert [tuple(h.shape) for h in cache["hidden_states"]] == [(n, 384) for n in lengths], "padding dropped"
    assert [ids.tolist() for ids in cache["input_ids"]] == features["input_ids"]
    assert all(mask.all() for mask in cache["attention_mask"])
    assert cache["start_positions"].tolist() == features["start_positions"]
    starts, ends = qa.cached_logits(qa.TopReader(qa_model, n_top), cache, batch_size=2)
    full_starts, full_ends = full_model_logits(qa_model, tokenizer, features)
    assert [len(s) for s in starts] == lengths and all(s.device.type == "cpu" for s in starts + ends)
    assert_all_close(starts, full_starts)
    assert_all_close(ends, full_ends)


def test_the_cache_does_not_depend_on_its_batch_size(offline_qa, features):
    """A padding token that leaked into the real tokens' states would make the cache depend on its neighbours."""
    _, qa_model = offline_qa
    alone = qa.cache_lower_layers(qa_model, features, 2, batch_size=1)["hidden_states"]
    together = qa.cache_lower_layers(qa_model, features, 2, batch_size=len(features))["hidden_states"]
    assert_all_close(alone, together)


def test_top_reader_loss_equals_the_full_models_loss(offline_qa, features):
    """Same window, same targets: BertForQuestionAnswering's loss. Compared window by window: on a padded batch
    the two differ slightly (0.017 on these four windows), because neither masks the padding positions out of the
    softmax (transformers does not) and those positions hold different states — [PAD] tokens run through the lower
    layers in the full model, zeros in the cache. The logits on the real tokens agree either way (test above)."""
    tokenizer, qa_model = offline_qa
    cache = qa.cache_lower_layers(qa_model, features, 2)
    reader = qa.TopReader(qa_model, 2).eval()
    pairs = list(zip(qa.make_loader(features, tokenizer, 1), qa.cache_loader(cache, 1), strict=True))
    with torch.no_grad():
        for full_batch, cached_batch in pairs:
            assert torch.equal(full_batch["start_positions"], cached_batch["start_positions"])
            ours, theirs = reader(**cached_batch), qa_model(**full_batch)
            assert ours.loss is not None and ours.loss > 0
            torch.testing.assert_close(ours.loss, theirs.loss, atol=1e-5, rtol=0)
        _, cached_batch = pairs[0]
        assert reader(cached_batch["hidden_states"], cached_batch["attention_mask"]).loss is None, "no targets"


def test_span_loss_is_the_mean_of_start_and_end_cross_entropy():
    """transformers' rule: mean of the two cross-entropies; a target past the window (clamped to T) is ignored."""
    generator = torch.Generator().manual_seed(0)
    start, end = torch.randn(2, 5, generator=generator), torch.randn(2, 5, generator=generator)      # (B=2, T=5)
    cross_entropy = nn.functional.cross_entropy
    expected = (cross_entropy(start[:1], torch.tensor([1])) + cross_entropy(end[:1], torch.tensor([3]))) / 2
    torch.testing.assert_close(qa.span_loss(start[:1], end[:1], torch.tensor([1]), torch.tensor([3])), expected)
    outside = qa.span_loss(start, end, torch.tensor([1, 10_000]), torch.tensor([3, 5]))
    torch.testing.assert_close(outside, expected, msg="the second window's targets are both ignored")
    assert qa.span_loss(start, end, torch.tensor([1, 4]), torch.tensor([3, 4])) != expected, "in range: counted"


def test_extended_mask_blocks_padding_keys():
    """0 on real tokens, the dtype's lowest value on padding keys, shaped to broadcast over heads and queries."""
    mask = qa.extended_mask(torch.tensor([[1, 1, 0]]), torch.float32)
    assert mask.shape == (1, 1, 1, 3)
    assert mask[0, 0, 0, :2].tolist() == [0.0, 0.0] and mask[0, 0, 0, 2] == torch.finfo(torch.float32).min
    assert qa.extended_mask(torch.tensor([[1, 0]]), torch.float16)[0, 0, 0, 1] == torch.finfo(torch.float16).min
    with pytest.raises(ValueError, match=r"attention_mask must be \(batch, tokens\), got shape \(3,\)"):
        qa.extended_mask(torch.tensor([1, 1, 0]), torch.float32)


# ---------------------------------------------------------------- training the reader trains the model


def test_freeze_lower_leaves_the_top_layers_and_the_head_trainable():
    """Exactly the top n layers and qa_outputs keep requires_grad; nothing else."""
    _, qa_model = load_offline_qa_model()
    for n_top in (1, 3):
        qa.freeze_lower(qa_model, n_top)
        trainable = {name.split(".weight")[0].split(".bias")[0] for name, p in qa_model.named_parameters()
                     if p.requires_grad}
        top = {f"bert.encoder.layer.{i}." for i in range(6 - n_top, 6)}
        assert {name for name in trainable if not any(name.startswith(t) for t in top)} == {"qa_outputs"}
        expected = sum(p.numel() for i in range(6 - n_top, 6) for p in qa_model.bert.encoder.layer[i].parameters())
        assert sum(p.numel() for p in qa_model.parameters() if p.requires_grad) == expected + 2 * 384 + 2


def test_training_the_reader_trains_the_full_model(offline_qa, features):
    """The reader shares the model's modules: one optimizer step on the cache changes the top layers and the head
    of the full model, which then reads raw text exactly as the reader reads the (still valid) cache."""
    tokenizer, qa_model = load_offline_qa_model()
    reader = qa.TopReader(qa_model, 2)
    assert all(reader.layers[i] is qa_model.bert.encoder.layer[-2 + i] for i in range(2))
    assert reader.qa_outputs is qa_model.qa_outputs and len(reader.layers) == reader.n_top == 2
    qa.freeze_lower(qa_model, 2)
    cache = qa.cache_lower_layers(qa_model, features, 2)
    before = {name: p.detach().clone() for name, p in qa_model.named_parameters()}

    torch.manual_seed(0)
    optimizer = torch.optim.AdamW([p for p in qa_model.parameters() if p.requires_grad], lr=1e-3)
    reader.train()
    for batch in qa.cache_loader(cache, batch_size=2, shuffle=True):          # two optimizer steps
        reader(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    changed = {name for name, p in qa_model.named_parameters() if not torch.equal(p, before[name])}
    assert changed and all(name.startswith(("bert.encoder.layer.4.", "bert.encoder.layer.5.", "qa_outputs"))
                           for name in changed)
    assert "qa_outputs.weight" in changed and any(name.startswith("bert.encoder.layer.4.") for name in changed)
    starts, ends = qa.cached_logits(reader, cache)
    full_starts, full_ends = full_model_logits(qa_model, tokenizer, features)
    assert_all_close(starts, full_starts)
    assert_all_close(ends, full_ends)


def test_the_reader_trains_with_the_course_loop(offline_qa, features):
    """training.train takes TopReader and cache_loader as they are (SpanOutput's loss, input_ids riding along)."""
    from sftlab.training import TrainingConfig, train

    _, qa_model = load_offline_qa_model()
    cache = qa.cache_lower_layers(qa_model, features, 1)
    reader = qa.TopReader(qa_model, 1)
    head = qa_model.qa_outputs.weight.detach().clone()
    history = train(reader, qa.cache_loader(cache, len(features), shuffle=True), qa.cache_loader(cache, 4),
                    TrainingConfig(epochs=1, progress=False))
    assert len(history.epochs) == 1 and history.epochs[0]["val_loss"] > 0
    assert not torch.equal(qa_model.qa_outputs.weight, head), "the full model's head was trained"


# ---------------------------------------------------------------- batches of cached windows


def synthetic_cache(n=120, width=2, seed=0):
    """n windows of 3 … 20 tokens (many equal lengths); every state of window i holds the value i."""
    lengths = torch.randint(3, 21, (n,), generator=torch.Generator().manual_seed(seed)).tolist()
    return {"hidden_states": [torch.full((t, width), float(i)) for i, t in enumerate(lengths)],
            "attention_mask": [torch.ones(t, dtype=torch.long) for t in lengths],
            "input_ids": [torch.arange(t) + 100 for t in lengths],
            "start_positions": torch.arange(n) % 3, "end_positions": torch.arange(n) % 3 + 1}


def window_order(loader):
    """The window indices in the order the loader yields them (read back from the states)."""
    return [int(h[0, 0]) for batch in loader for h in batch["hidden_states"]]


def test_cache_loader_keeps_the_order_without_shuffling():
    """Evaluation batches keep the features' order (best_answers and metrics_for rely on it)."""
    cache = synthetic_cache()
    loader = qa.cache_loader(cache, batch_size=7)
    assert window_order(loader) == list(range(120)) == window_order(loader), "the features' order, every pass"
    batch = next(iter(loader))
    assert torch.equal(batch["start_positions"], cache["start_positions"][:7])


def test_cache_loader_shuffles_with_its_seed():
    """Training batches: a seeded permutation of every window, reshuffled each epoch."""
    cache = synthetic_cache()
    one, same, other = (qa.cache_loader(cache, 4, shuffle=True, seed=s) for s in (0, 0, 1))
    first = window_order(one)
    assert sorted(first) == list(range(120)) and first != list(range(120))
    assert first == window_order(same), "the same seed gives the same order"
    assert first != window_order(other), "another seed gives another order"
    assert window_order(one) != first, "a new order every epoch"


def test_shuffled_batches_are_grouped_by_length():
    """Length-grouped batches pad far less than batches drawn at random."""
    cache = synthetic_cache()

    def padding(loader):
        return sum(int((1 - batch["attention_mask"]).sum()) for batch in loader)

    grouped = padding(qa.cache_loader(cache, 8, shuffle=True))
    assert grouped < padding(qa.cache_loader(cache, 8)) / 3


def test_collate_cached_pads_states_masks_and_ids_with_zeros():
    """Padding to the longest window with zeros (mask 0 on padding); targets only when the cache has them."""
    cache = synthetic_cache(n=3)
    items = [qa.CachedWindows(cache)[i] for i in range(3)]
    batch = qa.collate_cached(items)
    width = max(len(m) for m in cache["attention_mask"])
    assert batch["hidden_states"].shape == (3, width, 2) and batch["attention_mask"].shape == (3, width)
    for i, item in enumerate(items):
        n = len(item["attention_mask"])
        assert torch.equal(batch["hidden_states"][i, :n], item["hidden_states"])
        assert not batch["hidden_states"][i, n:].any() and not batch["attention_mask"][i, n:].any()
        assert torch.equal(batch["input_ids"][i, :n], item["input_ids"]) and not batch["input_ids"][i, n:].any()
    assert batch["start_positions"].tolist() == [0, 1, 2] and batch["end_positions"].tolist() == [1, 2, 3]
    unlabelled = {k: v for k, v in cache.items() if "positions" not in k}
    assert "start_positions" not in qa.collate_cached([qa.CachedWindows(unlabelled)[0]])


def test_cache_size_counts_the_bytes_of_the_states():
    """Two 256 × 1024 float32 windows take exactly 2 MB."""
    cache = {"hidden_states": [torch.zeros(256, 1024), torch.zeros(256, 1024)]}
    assert qa.cache_size_mb(cache) == 2.0


# ---------------------------------------------------------------- the span head's seeded reset


def test_reset_span_head_is_seeded():
    """The same seed gives the same head (bias zero), another seed another; std is initializer_range."""
    _, qa_model = load_offline_qa_model()
    head = qa_model.qa_outputs
    qa.reset_span_head(qa_model, seed=3)
    first = head.weight.detach().clone()
    with torch.no_grad():
        head.bias.fill_(1.0)
    qa.reset_span_head(qa_model, seed=3)
    assert torch.equal(head.weight, first) and not head.bias.any()
    qa.reset_span_head(qa_model, seed=4)
    assert not torch.equal(head.weight, first)
    assert abs(float(first.std()) - qa_model.config.initializer_range) < 0.004 and abs(float(first.mean())) < 0.004


# ---------------------------------------------------------------- clear errors


@pytest.mark.parametrize("n_top, error, message", [
    (0, ValueError, "n_top must be between 1 and the model's 6 layers, got 0"),
    (7, ValueError, "n_top must be between 1 and the model's 6 layers, got 7"),
    (True, TypeError, "n_top must be an int .layers to train., got True"),
    ("2", TypeError, "n_top must be an int .layers to train., got '2'"),
    (2.0, TypeError, "n_top must be an int"),
])
def test_bad_n_top_is_refused_everywhere(offline_qa, features, n_top, error, message):
    """n_top must be an int in 1 … 6 in TopReader, cache_lower_layers and freeze_lower alike."""
    _, qa_model = offline_qa
    with pytest.raises(error, match=message):
        qa.TopReader(qa_model, n_top)
    with pytest.raises(error, match=message):
        qa.cache_lower_layers(qa_model, features, n_top)
    with pytest.raises(error, match=message):
        qa.freeze_lower(qa_model, n_top)


def test_features_must_be_the_windows_dataset(offline_qa, features):
    """Not a list, not a DatasetDict, not a Dataset without input_ids: a TypeError naming prepare_features."""
    from datasets import DatasetDict

    _, qa_model = offline_qa
    with pytest.raises(TypeError, match="features must be the Dataset of sftlab.qa.prepare_features, got list"):
        qa.cache_lower_layers(qa_model, [{"input_ids": [101, 102]}], 2)
    with pytest.raises(TypeError, match="got DatasetDict"):
        qa.cache_lower_layers(qa_model, DatasetDict({"train": features}), 2)
    with pytest.raises(TypeError, match="got Dataset"):
        qa.cache_lower_layers(qa_model, features.remove_columns("input_ids"), 2)


def test_states_and_mask_must_agree(offline_qa):
    """States (B, T, D) and a mask (B, T) of another T, or 2-D states, are refused before any layer runs."""
    reader = qa.TopReader(offline_qa[1], 1)
    with pytest.raises(ValueError, match=r"disagree: \(2, 5, 384\) vs \(2, 4\)"):
        reader(torch.zeros(2, 5, 384), torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"disagree: \(5, 384\) vs \(5, 384\)"):
        reader(torch.zeros(5, 384), torch.ones(5, 384))


# ---------------------------------------------------------------- devices


class ReachedTheLayer(Exception):
    """Raised by a stub layer that saw its inputs on its own device."""


class MetaModule(nn.Module):
    """A layer on another device (meta): refuses inputs elsewhere, as a forgotten `.to(device)` fails on a GPU."""

    def __init__(self):
        super().__init__()
        self.marker = nn.Parameter(torch.zeros(1, device="meta"))

    def forward(self, *args, **kwargs):
        for value in (*args, *kwargs.values()):
            if isinstance(value, torch.Tensor) and value.device.type != "meta":
                raise RuntimeError(f"Expected all tensors to be on the same device, but found {value.device} "
                                   f"and meta")
        raise ReachedTheLayer


class MetaQAModel(nn.Module):
    """The shape of a BertForQuestionAnswering (bert.embeddings, bert.encoder.layer × 6, qa_outputs) on meta."""

    def __init__(self):
        super().__init__()
        self.bert = nn.Module()
        self.bert.embeddings = MetaModule()
        self.bert.encoder = nn.Module()
        self.bert.encoder.layer = nn.ModuleList(MetaModule() for _ in range(6))
        self.qa_outputs = MetaModule()
        self.config = BertConfig()


def test_reader_helpers_move_inputs_to_the_model_device(features):
    """cache_lower_layers and cached_logits must put their tensors where the model is: here the meta stand-in."""
    with pytest.raises(ReachedTheLayer):
        qa.cache_lower_layers(MetaQAModel(), features, 2)
    with pytest.raises(ReachedTheLayer):
        qa.cached_logits(qa.TopReader(MetaQAModel(), 2), synthetic_cache(n=3))


def test_the_device_check_catches_a_missing_move(monkeypatch):
    """With the move patched out, cached_logits fails on the stand-in: the check above can fail."""
    from sftlab.qa import reader

    monkeypatch.setattr(reader, "to_device", lambda batch, device: batch)
    with pytest.raises(RuntimeError, match="same device"):
        qa.cached_logits(qa.TopReader(MetaQAModel(), 2), synthetic_cache(n=3))
