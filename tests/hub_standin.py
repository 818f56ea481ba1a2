"""A local stand-in for the Hugging Face hub and gensim's downloader, for testing the full profile offline.

    env = build(folder)      # then run code with os.environ.update(env): SFTLAB_PROFILE=full works offline

What it writes, all under `folder`, through the libraries' own offline caches (the loading code runs unchanged):
- HF_HOME/hub/models--<name>/: tiny random models with the real architectures under the real names
  (bert-base-uncased with its real WordPiece vocabulary, gpt2 with a byte-level BPE, SmolLM2-360M-Instruct with
  SmolLM2's tokenizer and chat template), as huggingface_hub's cache lays them out (refs/main → snapshot);
- HF_HOME/datasets/<namespace>___<name>/<config>/: GLUE SST-2, CoNLL-2003, SQuAD and TRL's binarized UltraFeedback
  with their exact features,
  filled with sentences from the course's own data, as `datasets` caches a prepared data set;
- GENSIM_DATA_DIR/glove-wiki-gigaword-100/: 100-dimensional vectors for the real model's 400,000 words (GloVe 6B's
  vocabulary, which the offline 50d vectors share), a random projection of the 50d ones;
- HF_HOME/sftlab-hub-standin.json: the marker that makes the profile banner say the numbers are meaningless.
"""

import json
from pathlib import Path

REVISION = "0" * 40                    # the snapshot every stand-in model lives in
TINY = dict(hidden=32, layers=2, heads=2, intermediate=64)
CONLL_POS = ['"', "''", "#", "$", "(", ")", ",", ".", ":", "``", "CC", "CD", "DT", "EX", "FW", "IN", "JJ", "JJR",
             "JJS", "LS", "MD", "NN", "NNP", "NNPS", "NNS", "NN|SYM", "PDT", "POS", "PRP", "PRP$", "RB", "RBR", "RBS",
             "RP", "SYM", "TO", "UH", "VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "WDT", "WP", "WP$", "WRB"]
CONLL_CHUNK = ["O", "B-ADJP", "I-ADJP", "B-ADVP", "I-ADVP", "B-CONJP", "I-CONJP", "B-INTJ", "I-INTJ", "B-LST",
               "I-LST", "B-NP", "I-NP", "B-PP", "I-PP", "B-PRT", "I-PRT", "B-SBAR", "I-SBAR", "B-UCP", "I-UCP",
               "B-VP", "I-VP"]


def _snapshot(hub: Path, repo: str) -> Path:
    """huggingface_hub's cache folder for a model repo: refs/main names the snapshot the files live in."""
    folder = hub / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(REVISION)
    snapshot = folder / "snapshots" / REVISION
    snapshot.mkdir(parents=True, exist_ok=True)
    return snapshot


def _models(hub: Path) -> None:
    import torch
    from transformers import (
        AutoTokenizer,
        BertConfig,
        BertForMaskedLM,
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
    )

    from sftlab import models

    torch.manual_seed(0)
    bert = _snapshot(hub, "bert-base-uncased")     # the offline encoder has bert-base-uncased's vocabulary
    AutoTokenizer.from_pretrained(models.offline_path(models.offline_package("encoder"))).save_pretrained(bert)
    BertForMaskedLM(BertConfig(vocab_size=30522, hidden_size=TINY["hidden"], num_hidden_layers=TINY["layers"],
                               num_attention_heads=TINY["heads"], intermediate_size=TINY["intermediate"])
                    ).save_pretrained(bert)

    gpt2 = _snapshot(hub, "gpt2")
    tokenizer, _ = models._byte_level_bpe("offline")       # GPT-2's algorithm, trained on the course corpus
    tokenizer.bos_token = tokenizer.eos_token
    tokenizer.save_pretrained(gpt2)
    eos = tokenizer.eos_token_id
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=1024, n_embd=TINY["hidden"],
                               n_layer=TINY["layers"], n_head=TINY["heads"], bos_token_id=eos, eos_token_id=eos)
                    ).save_pretrained(gpt2)

    smol = _snapshot(hub, "HuggingFaceTB/SmolLM2-360M-Instruct")
    source, _ = models._causal_lm_source("offline")          # SmolLM2's tokenizer and chat template
    chat_tokenizer = AutoTokenizer.from_pretrained(source)
    chat_tokenizer.save_pretrained(smol)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(chat_tokenizer), hidden_size=TINY["hidden"],
                                 intermediate_size=TINY["intermediate"], num_hidden_layers=TINY["layers"],
                                 num_attention_heads=TINY["heads"], num_key_value_heads=1,
                                 max_position_embeddings=2048, bos_token_id=chat_tokenizer.bos_token_id,
                                 eos_token_id=chat_tokenizer.eos_token_id, tie_word_embeddings=True)
                     ).save_pretrained(smol)


def _prepared(cache: Path, repo: str, config: str, splits: dict) -> None:
    """Write {split: Dataset} where `datasets` keeps a prepared data set, so load_dataset(repo) finds it offline."""
    import datasets
    from datasets.arrow_writer import ArrowWriter
    from datasets.naming import camelcase_to_snakecase

    namespace, name = repo.split("/")
    name = camelcase_to_snakecase(name)
    folder = cache / f"{namespace}___{name}" / config / "0.0.0" / ("0" * 16)
    folder.mkdir(parents=True, exist_ok=True)
    features = next(iter(splits.values())).features
    infos = datasets.SplitDict()
    for split, dataset in splits.items():
        with ArrowWriter(features=features, path=str(folder / f"{name}-{split}.arrow")) as writer:
            writer.write_table(dataset.data.table)
            rows, size = writer.finalize()
        infos.add(datasets.SplitInfo(name=split, num_bytes=size, num_examples=rows, dataset_name=name))
    datasets.DatasetInfo(features=features, config_name=config, dataset_name=name, splits=infos
                         ).write_to_directory(str(folder))


def _datasets(cache: Path) -> None:
    import datasets

    from sftlab import data

    sentiment = data.load_sentiment("offline")
    sst2 = datasets.Features({"sentence": datasets.Value("string"), "idx": datasets.Value("int32"),
                              "label": datasets.ClassLabel(names=["negative", "positive"])})

    def sst2_split(split, n, labelled=True):
        rows = sentiment[split].select(range(n))
        return datasets.Dataset.from_dict({"sentence": [t + " " for t in rows["text"]], "idx": list(range(n)),
                                           "label": rows["label"] if labelled else [-1] * n}, features=sst2)

    _prepared(cache, data.GLUE_REPO, "sst2", {"train": sst2_split("train", 400),
                                              "validation": sst2_split("validation", 60),
                                              "test": sst2_split("test", 40, labelled=False)})

    ner = data.load_ner("offline")
    conll = datasets.Features({
        "id": datasets.Value("string"), "tokens": datasets.Sequence(datasets.Value("string")),
        "pos_tags": datasets.Sequence(datasets.ClassLabel(names=CONLL_POS)),
        "chunk_tags": datasets.Sequence(datasets.ClassLabel(names=CONLL_CHUNK)),
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=data.NER_LABELS))})

    def conll_split(split, n):     # n sentences spread over the lengths, the shortest included, as CoNLL has many
        order = sorted(range(ner[split].num_rows), key=lambda i: len(ner[split][i]["tokens"]))
        rows = ner[split].select(sorted(order[::ner[split].num_rows // n][:n]))
        return datasets.Dataset.from_dict({
            "id": [str(i) for i in range(n)], "tokens": rows["tokens"], "ner_tags": rows["ner_tags"],
            "pos_tags": [[0] * len(t) for t in rows["tokens"]], "chunk_tags": [[0] * len(t) for t in rows["tokens"]],
        }, features=conll)

    _prepared(cache, data.CONLL2003_REPO, "default", {split: conll_split(split, n) for split, n in
                                                      (("train", 200), ("validation", 40), ("test", 40))})

    qa = data.load_qa("offline")
    _prepared(cache, data.SQUAD_REPO, "plain_text", {"train": qa["train"].select(range(200)),
                                                     "validation": qa["test"].select(range(60))})
    _prepared(cache, data.ULTRAFEEDBACK_REPO, "default", ultrafeedback_splits())


def ultrafeedback_splits(n_train=120, n_test=40) -> dict:
    """TRL's binarized UltraFeedback with its features (implicit prompt: chosen and rejected are the user turn and
    an answer), filled with the course's own preference pairs."""
    import datasets

    from sftlab import data

    pairs = data.load_preferences("offline")
    message = datasets.List({"content": datasets.Value("string"), "role": datasets.Value("string")})
    features = datasets.Features({"chosen": message, "rejected": message, "score_chosen": datasets.Value("float64"),
                                  "score_rejected": datasets.Value("float64")})

    def split(rows):
        def turns(row, answer):
            return [{"content": row["prompt"][-1]["content"], "role": "user"},
                    {"content": row[answer][0]["content"], "role": "assistant"}]
        return datasets.Dataset.from_dict({"chosen": [turns(r, "chosen") for r in rows],
                                           "rejected": [turns(r, "rejected") for r in rows],
                                           "score_chosen": [8.0] * len(rows), "score_rejected": [4.5] * len(rows)},
                                          features=features)

    return {"train": split(pairs["train"].select(range(n_train))), "test": split(pairs["test"].select(range(n_test)))}


def _word_vectors(gensim_dir: Path) -> None:
    """gensim's downloader reads information.json and imports <name>/__init__.py's load_data()."""
    import numpy as np

    from sftlab import models

    name = "glove-wiki-gigaword-100"
    glove = models._word_vectors("offline")
    words = glove.index_to_key                     # GloVe 6B: the same 400,000 words at 50 and at 100 dimensions
    projection = np.random.default_rng(0).normal(size=(glove.vector_size, 100)).astype(np.float32)
    folder = gensim_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "vectors.npy", (glove.vectors @ projection).astype(np.float16))   # 80 MB instead of 160
    (folder / "words.json").write_text(json.dumps(words))
    (folder / f"{name}.gz").write_text("")
    (folder / "__init__.py").write_text(
        "import json, os\nimport numpy as np\nfrom gensim.models import KeyedVectors\n\n\n"
        "def load_data():\n    here = os.path.dirname(__file__)\n"
        "    words = json.load(open(os.path.join(here, 'words.json')))\n"
        "    kv = KeyedVectors(vector_size=100)\n"
        "    kv.add_vectors(words, np.load(os.path.join(here, 'vectors.npy')).astype(np.float32))\n    return kv\n")
    (gensim_dir / "information.json").write_text(json.dumps(
        {"corpora": {}, "models": {name: {"file_name": f"{name}.gz", "num_records": len(words), "parts": 1}}}))


def build(folder: Path) -> dict[str, str]:
    """Write the stand-in under `folder`; return the environment variables that point the libraries at it."""
    from sftlab.course.profiles import STANDIN_MARKER

    folder = Path(folder)
    hf_home, gensim_dir = folder / "huggingface", folder / "gensim-data"
    _models(hf_home / "hub")
    _datasets(hf_home / "datasets")
    _word_vectors(gensim_dir)
    (hf_home / STANDIN_MARKER).write_text(json.dumps({"what": "SFT Lab's test stand-in of the hub"}))
    return {"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "GENSIM_DATA_DIR": str(gensim_dir), "SFTLAB_PROFILE": "full"}
