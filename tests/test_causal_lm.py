"""Fine-tuning a causal LM: tokenising the corpus, the padding-aware collator, samples, the byte-level BPE."""

import pytest
import torch
from datasets import Dataset, DatasetDict
from transformers import DataCollatorForLanguageModeling, GPT2Config, GPT2LMHeadModel

from sftlab import models
from sftlab.causal_lm import IGNORE_INDEX, CausalLMCollator, make_lm_loader, samples, tokenize_corpus
from sftlab.course import profiles
from sftlab.data import load_lm_corpus
from sftlab.training import TrainingConfig, train


@pytest.fixture
def tokenizer(offline_causal_lm):
    """The offline profile's SmolLM2 tokenizer: pad_token == eos_token, as for GPT-2."""
    return offline_causal_lm[0]


@pytest.fixture
def tiny_gpt2():
    torch.manual_seed(0)
    config = GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=49152, n_positions=256, bos_token_id=0,
                        eos_token_id=2, pad_token_id=2)
    return GPT2LMHeadModel(config).eval()   # dropout off: losses are exact


def corpus(*texts):
    return DatasetDict({"train": Dataset.from_dict({"title": [t[:5] for t in texts], "text": list(texts)})})


def test_tokenize_corpus_appends_eos_cuts_and_drops_other_columns(tokenizer):
    tokenized = tokenize_corpus(corpus("A short walk.", "A much longer walk along the harbour wall " * 20),
                                tokenizer, max_length=32)["train"]
    assert tokenized.column_names == ["input_ids", "attention_mask"]
    short, long = tokenized["input_ids"]
    assert short == tokenizer("A short walk.").input_ids + [tokenizer.eos_token_id]
    assert len(long) == 32 and tokenized["attention_mask"][0] == [1] * len(short)
    no_eos = tokenize_corpus(corpus("A short walk."), tokenizer, add_eos=False)["train"]["input_ids"][0]
    assert no_eos == short[:-1]


def test_tokenize_corpus_schema_on_the_course_corpus(tokenizer):
    tokenized = tokenize_corpus(load_lm_corpus(), tokenizer, max_length=192)
    assert set(tokenized) == {"train", "heldout"}
    assert all(ids[-1] == tokenizer.eos_token_id or len(ids) == 192 for ids in tokenized["heldout"]["input_ids"])


def test_tokenize_corpus_errors(tokenizer):
    with pytest.raises(ValueError, match="needs a 'text' column"):
        tokenize_corpus(Dataset.from_dict({"sentence": ["a"]}), tokenizer)
    with pytest.raises(TypeError, match="text 1 is int"):
        tokenize_corpus(corpus_of_objects(), tokenizer)
    with pytest.raises(ValueError, match="max_length must be an int ≥ 2"):
        tokenize_corpus(corpus("a"), tokenizer, max_length=1)


def corpus_of_objects():
    """A stand-in for a Dataset whose text column holds a non-string (Arrow would refuse to build one)."""

    class Rows:
        column_names = ["text"]

        def map(self, fn, batched, remove_columns):
            return fn({"text": ["fine", 7]})

    return Rows()


def test_collator_pads_right_and_masks_padding_by_attention_mask_not_by_id(tokenizer):
    eos = tokenizer.eos_token_id
    assert tokenizer.pad_token_id == eos                        # the case that makes masking by id wrong
    features = [{"input_ids": [5, 6, 7, eos]}, {"input_ids": [8, eos]}]
    batch = CausalLMCollator(tokenizer)(features)
    assert batch["input_ids"].tolist() == [[5, 6, 7, eos], [8, eos, eos, eos]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert batch["labels"].tolist() == [[5, 6, 7, eos], [8, eos, IGNORE_INDEX, IGNORE_INDEX]]
    # transformers' LM collator masks every pad id, so the real EOS of each entry gets no loss
    by_id = DataCollatorForLanguageModeling(tokenizer, mlm=False)(features)["labels"]
    assert by_id[0, -1] == IGNORE_INDEX and batch["labels"][0, -1] == eos


def test_collator_errors(tokenizer):
    class NoPad:
        pad_token_id = None

    with pytest.raises(ValueError, match="no pad token; set tokenizer.pad_token = tokenizer.eos_token"):
        CausalLMCollator(NoPad())
    with pytest.raises(ValueError, match="empty batch"):
        CausalLMCollator(tokenizer)([])


def test_padding_does_not_change_the_loss(tokenizer, tiny_gpt2):
    """The mean loss over a padded batch equals the token-weighted mean over the entries alone."""
    tokenized = tokenize_corpus(corpus("The ferry left at noon.", "Rain again in Bergen, and the fish market "
                                       "closed early."), tokenizer)["train"]
    batch = next(iter(make_lm_loader(tokenized, tokenizer, batch_size=2)))
    padded = tiny_gpt2(**batch).loss
    total, count = 0.0, 0
    for ids in tokenized["input_ids"]:
        ids = torch.tensor([ids])
        total += tiny_gpt2(input_ids=ids, labels=ids).loss.item() * (ids.shape[1] - 1)
        count += ids.shape[1] - 1
    assert padded.item() == pytest.approx(total / count, rel=1e-5)


def test_make_lm_loader_errors(tokenizer):
    with pytest.raises(ValueError, match="empty"):
        make_lm_loader(Dataset.from_dict({"input_ids": [], "attention_mask": []}), tokenizer)
    with pytest.raises(ValueError, match="tokenize it first with tokenize_corpus"):
        make_lm_loader(Dataset.from_dict({"text": ["a"]}), tokenizer)


def test_training_on_the_loader_lowers_the_loss_and_samples_are_reproducible(tokenizer, tiny_gpt2):
    tokenized = tokenize_corpus(load_lm_corpus()["train"].select(range(16)), tokenizer, max_length=48)
    loader = make_lm_loader(tokenized, tokenizer, batch_size=8, shuffle=True)
    history = train(tiny_gpt2, loader, config=TrainingConfig(learning_rate=1e-2, epochs=5, warmup_ratio=0.0,
                                                              progress=False))
    assert history.epochs[-1]["train_loss"] < history.epochs[0]["train_loss"] - 1.0
    prompts = ["The market", "At dawn the"]
    first = samples(tiny_gpt2, tokenizer, prompts, seed=3, max_new_tokens=8)
    assert first == samples(tiny_gpt2, tokenizer, prompts, seed=3, max_new_tokens=8)
    assert len(first) == 2 and all(isinstance(text, str) and text for text in first)
    with pytest.raises(TypeError, match="text 0 is int"):
        samples(tiny_gpt2, tokenizer, [3])


def test_offline_byte_level_bpe_is_gpt2_style_and_encodes_any_text(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "offline")
    profiles._resolve.cache_clear()
    bpe, about = models.load_byte_level_bpe()
    profiles._resolve.cache_clear()
    assert len(bpe) == models.BPE_VOCAB_SIZE and "trained here" in about
    text = "Kraków at dawn. 我喜欢在京都散步。 🚂✨"
    ids = bpe(text).input_ids
    assert bpe.decode(ids) == text                                # lossless: no unknown token
    tokens = bpe.convert_ids_to_tokens(ids)
    assert "Ġat" in tokens                                        # GPT-2's marker for a leading space
    assert len(ids) > len(text.encode("utf-8")) / 2               # unseen scripts fall back to bytes
