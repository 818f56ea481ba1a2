"""sftlab.instruct: answer-only labels (equal to TRL's on the whole training split), batching, generation, scores."""

import json

import pytest
import torch

from sftlab import instruct
from sftlab.data import first_per_group, load_instructions, source_text
from sftlab.devices import peak_memory
from sftlab.models import load_chat_lm
from sftlab.parameters import trainable_parameters

CONVERSATION = [{"role": "system", "content": "Answer in one word."},
                {"role": "user", "content": "Positive or negative? Lovely staff, awful room."},
                {"role": "assistant", "content": "negative"}]


@pytest.fixture(scope="module")
def chat_lm():
    return load_chat_lm()


@pytest.fixture(scope="module")
def tokenizer(chat_lm):
    return chat_lm[0]


@pytest.fixture(scope="module")
def data():
    return load_instructions()


def tiny_llama(vocab_size):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                         pad_token_id=2, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(config).eval()


# ---------------------------------------------------------------- labels


def test_labels_mask_the_prompt_and_keep_the_answer_and_its_end_token(tokenizer):
    prompt, answer = instruct.split_conversation(tokenizer, CONVERSATION)
    assert prompt.endswith("<|im_start|>assistant\n") and answer == "negative<|im_end|>\n"
    features = instruct.tokenize_conversation(tokenizer, CONVERSATION)
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert features["labels"][:n_prompt] == [-100] * n_prompt
    assert features["labels"][n_prompt:] == features["input_ids"][n_prompt:]
    assert tokenizer.eos_token_id in features["labels"], "the answer's <|im_end|> carries a label"
    assert features["input_ids"] == tokenizer.apply_chat_template(CONVERSATION, tokenize=True,
                                                                  return_dict=True)["input_ids"]
    unmasked = instruct.tokenize_conversation(tokenizer, CONVERSATION, mask_prompt=False)
    assert unmasked["labels"] == unmasked["input_ids"]
    cut = instruct.tokenize_conversation(tokenizer, CONVERSATION, max_length=10)
    assert len(cut["input_ids"]) == len(cut["labels"]) == len(cut["attention_mask"]) == 10


def test_labels_equal_trls_completion_only_labels_on_the_whole_training_split(tokenizer, data, tmp_path):
    from trl import SFTConfig, SFTTrainer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    train = data["train"]
    ours = instruct.tokenize_conversations(train, tokenizer)
    pairs = train.map(instruct.to_prompt_completion, remove_columns=train.column_names)
    args = SFTConfig(output_dir=str(tmp_path), report_to="none", completion_only_loss=True, max_length=None,
                     bf16=False, save_strategy="no", logging_strategy="no", disable_tqdm=True)
    theirs = SFTTrainer(model=tiny_llama(len(tokenizer)), args=args, train_dataset=pairs,
                        processing_class=tokenizer).train_dataset
    assert len(ours) == len(theirs) == len(train)
    for i in range(len(ours)):
        assert ours[i]["input_ids"] == theirs[i]["input_ids"], f"conversation {i}: input ids differ"
        assert ours[i]["labels"] == theirs[i]["labels"], f"conversation {i}: labels differ"
    collated = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)(
        [{k: theirs[i][k] for k in ("input_ids", "labels")} for i in range(16)])
    batch = instruct.InstructionCollator(tokenizer)([ours[i] for i in range(16)])
    for key in ("input_ids", "attention_mask", "labels"):
        assert torch.equal(batch[key], collated[key]), key


def test_bad_conversations_are_named(tokenizer):
    with pytest.raises(ValueError, match="last message must be the assistant's answer"):
        instruct.split_conversation(tokenizer, CONVERSATION[:2])
    with pytest.raises(TypeError, match="list of"):
        instruct.tokenize_conversation(tokenizer, "hello")
    with pytest.raises(ValueError, match="max_length must be None or an int"):
        instruct.tokenize_conversation(tokenizer, CONVERSATION, max_length=1)
    with pytest.raises(ValueError, match="needs a 'messages' column"):
        from datasets import Dataset

        instruct.tokenize_conversations(Dataset.from_dict({"text": ["x"]}), tokenizer)
    human = [{"role": "human", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    with pytest.raises(ValueError, match="message 0 has role 'human'; expected one of"):
        instruct.split_conversation(tokenizer, human)
    empty = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None}]
    with pytest.raises(TypeError, match=r"message 1 \(assistant\) has content None; expected a string"):
        instruct.tokenize_conversation(tokenizer, empty)


# ---------------------------------------------------------------- batching


def test_collator_pads_labels_with_minus_100_and_keeps_a_labelled_pad_id():
    class Tokenizer:
        pad_token_id = 2

    batch = instruct.InstructionCollator(Tokenizer())([{"input_ids": [5, 6, 2], "labels": [-100, 6, 2]},
                                                        {"input_ids": [5], "labels": [-100]}])
    assert batch["input_ids"].tolist() == [[5, 6, 2], [5, 2, 2]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 2], [-100, -100, -100]]
    with pytest.raises(ValueError, match="tokenize them with tokenize_conversations"):
        instruct.InstructionCollator(Tokenizer())([{"input_ids": [1]}])
    Tokenizer.pad_token_id = None
    with pytest.raises(ValueError, match="no pad token"):
        instruct.InstructionCollator(Tokenizer())


def test_the_training_loader_groups_lengths_and_reshuffles_every_epoch_in_a_seeded_order(tokenizer, data):
    tokenized = instruct.tokenize_conversations(data["train"].select(range(64)), tokenizer)
    lengths = [len(ids) for ids in tokenized["input_ids"]]

    def epochs(seed, n=2):             # the conversations (unpadded) in the order each epoch sees them
        loader = instruct.make_instruction_loader(tokenized, tokenizer, batch_size=4, shuffle=True, seed=seed)
        return [[tuple(ids[mask == 1].tolist()) for batch in loader
                 for ids, mask in zip(batch["input_ids"], batch["attention_mask"], strict=True)] for _ in range(n)]

    first, second = epochs(0)
    assert first != second, "a new order every epoch"
    assert sorted(first) == sorted(second) == sorted(tuple(ids) for ids in tokenized["input_ids"])
    assert epochs(0) == epochs(0) and epochs(0) != epochs(1), "seeded"
    grouped = instruct.make_instruction_loader(tokenized, tokenizer, 4, shuffle=True)
    plain = instruct.make_instruction_loader(tokenized, tokenizer, 4, shuffle=True, group_by_length=False)
    pads = [sum(int((b["attention_mask"] == 0).sum()) for b in loader) for loader in (grouped, plain)]
    assert pads[0] < pads[1] / 2, f"grouping by length pads less: {pads}"
    assert max(lengths) > min(lengths)
    with pytest.raises(ValueError, match="group_by_length reorders"):
        instruct.make_instruction_loader(tokenized, tokenizer, 4, group_by_length=True)
    with pytest.raises(TypeError, match="one tokenized split"):
        instruct.make_instruction_loader({"train": tokenized}, tokenizer)


def test_answer_losses_equal_the_models_own_loss_one_conversation_at_a_time(tokenizer, data):
    model = tiny_llama(len(tokenizer))
    tokenized = instruct.tokenize_conversations(data["validation"].select(range(5)), tokenizer)
    losses = instruct.answer_losses(model, instruct.make_instruction_loader(tokenized, tokenizer, batch_size=3))
    for i, loss in enumerate(losses):
        one = instruct.InstructionCollator(tokenizer)([tokenized[i]])
        with torch.no_grad():
            assert loss == pytest.approx(model(**one).loss.item(), abs=1e-5)


def test_answer_logprobs_sum_the_answer_tokens_and_pick_the_likelier_candidate(tokenizer, data):
    model = tiny_llama(len(tokenizer))
    rows = data["validation"].select(range(4))
    tokenized = instruct.tokenize_conversations(rows, tokenizer)
    logprobs = instruct.answer_logprobs(model, instruct.make_instruction_loader(tokenized, tokenizer, batch_size=3))
    for i, logprob in enumerate(logprobs):
        one = instruct.InstructionCollator(tokenizer)([tokenized[i]])
        with torch.no_grad():
            counted = (one["labels"][:, 1:] != -100).sum().item()
            assert logprob == pytest.approx(-model(**one).loss.item() * counted, abs=1e-4)   # mean × count = sum
    candidates = [["yes", "no", "a much longer answer than either"]] * 2
    picked = instruct.most_likely_answers(model, tokenizer, rows["messages"][:2], candidates, batch_size=2)
    for messages, choice in zip(rows["messages"][:2], picked, strict=True):
        scores = {c: instruct.answer_logprobs(model, instruct.make_instruction_loader(instruct.tokenize_conversations(
            _one_row([*messages[:-1], {"role": "assistant", "content": c}]), tokenizer), tokenizer))[0]
            for c in candidates[0]}
        assert choice == max(scores, key=scores.get)
    with pytest.raises(ValueError, match="at least two candidate answers"):
        instruct.most_likely_answers(model, tokenizer, rows["messages"][:2], ["yes", "no"])


def _one_row(messages):
    from datasets import Dataset

    return Dataset.from_list([{"messages": messages}])


# ---------------------------------------------------------------- generation


def test_json_by_construction_is_valid_json_whatever_the_model_writes(chat_lm, data):
    tokenizer, model = chat_lm
    rows = data["validation"].filter(lambda row: row["family"] == "entities").select(range(2))
    prompts = instruct.generation_prompts(tokenizer, rows["messages"])
    answers = instruct.json_by_construction(model, tokenizer, prompts, max_new_tokens=6)
    for answer in answers:
        parsed = json.loads(answer)
        assert list(parsed) == list(instruct.ENTITY_TYPES)
        assert all(isinstance(item, str) for items in parsed.values() for item in items)
    assert instruct.list_items('"Ann", "Bo\\"b", 3, "Ann", "cut off') == ["Ann", 'Bo"b']
    assert instruct.list_items(' "Oslo"], "ORG": ["x"]') == ["Oslo"]
    assert instruct.list_items("") == []
    with pytest.raises(TypeError, match="list of strings"):
        instruct.json_by_construction(model, tokenizer, prompts[0])


def test_generation_stops_at_a_stop_string(chat_lm, data):
    tokenizer, model = chat_lm
    prompts = instruct.generation_prompts(tokenizer, data["validation"].filter(
        lambda row: row["family"] == "entities")["messages"][:2])
    free = instruct.generate_answers(model, tokenizer, prompts, max_new_tokens=12)
    stop = free[0][2]
    cut = instruct.generate_answers(model, tokenizer, prompts, max_new_tokens=12, stop_strings=[stop])
    assert stop in cut[0] and free[0].startswith(cut[0]) and len(cut[0]) < len(free[0])
    with pytest.raises(TypeError, match="stop_strings must be a list"):
        instruct.generate_answers(model, tokenizer, prompts, stop_strings="]")


def test_batched_left_padded_greedy_answers_equal_one_at_a_time(chat_lm, data):
    tokenizer, model = chat_lm
    conversations = data["validation"].filter(lambda row: row["family"] == "sentiment")["messages"][:3]
    prompts = instruct.generation_prompts(tokenizer, conversations)
    batched = instruct.generate_answers(model, tokenizer, prompts, max_new_tokens=4, batch_size=3)
    single = [instruct.generate_answers(model, tokenizer, [p], max_new_tokens=4)[0] for p in prompts]
    assert batched == single
    with pytest.raises(TypeError, match="prompts must be a list of strings"):
        instruct.generate_answers(model, tokenizer, prompts[0])


def test_few_shot_prompts_put_solved_examples_of_the_same_family_and_language_first(tokenizer, data):
    test = first_per_group(data["test"], {"entities": 1, "sentiment": 1})
    groups = sorted(zip(test["family"], test["language"], strict=True))
    assert groups == [("entities", "en"), ("entities", "zh"), ("sentiment", "en"), ("sentiment", "zh")]
    shots_for = instruct.few_shot_picker(data["train"], test, k=2, seed=0)
    train_answers = set(data["train"]["reference"])
    for i, messages in enumerate(test["messages"]):
        shown = instruct.few_shot_messages(messages, shots_for(i))
        assert [m["role"] for m in shown] == ["system", "user", "assistant", "user", "assistant", "user"]
        assert shown[2]["content"] in train_answers and shown[-1] == messages[1]
    prompt = instruct.generation_prompts(tokenizer, test["messages"][:1], shots_for)[0]
    assert prompt.count("<|im_start|>assistant\n") == 3 and prompt.endswith("<|im_start|>assistant\n")
    with pytest.raises(ValueError, match="no conversation of"):
        instruct.few_shot_picker(data["train"].filter(lambda r: r["family"] == "open"), test)


def test_helpers_that_run_a_model_move_inputs_to_its_device(tokenizer, data):
    from test_devices import OtherDeviceStub, reaches_the_model

    class GeneratingStub(OtherDeviceStub):
        def generate(self, generation_config=None, **inputs):
            return self(**inputs)

    tokenized = instruct.tokenize_conversations(data["validation"].select(range(2)), tokenizer)
    assert reaches_the_model(instruct.answer_losses, GeneratingStub(),
                             instruct.make_instruction_loader(tokenized, tokenizer, 2))
    assert reaches_the_model(instruct.generate_answers, GeneratingStub(), tokenizer, ["<|im_start|>user\nhi"])
    assert reaches_the_model(instruct.answer_logprobs, GeneratingStub(),
                             instruct.make_instruction_loader(tokenized, tokenizer, 2))


# ---------------------------------------------------------------- scores


def test_entity_scores_parse_json_and_score_invalid_answers_as_nothing():
    reference = json.dumps({"PER": ["Ada Lovelace"], "ORG": [], "LOC": ["London", "Paris"], "MISC": []})
    perfect = instruct.entity_scores([reference], [reference])
    assert perfect == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "valid_json": 1.0}
    partial = json.dumps({"PER": ["Ada  Lovelace"], "LOC": ["London", "Rome"], "DATE": ["1843"]})
    scores = instruct.entity_scores([partial, "PER: Ada"], [reference, reference])
    assert scores["valid_json"] == 0.5
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == pytest.approx(2 / 6)
    assert instruct.parse_entities('```json\n{"PER": []}\n```') is None
    fenced = 'Sure! ```json\n{"PER": ["A}"], "LOC": []}\n``` and {"ORG": ["later"]}'
    assert instruct.first_json_object(fenced) == '{"PER": ["A}"], "LOC": []}'
    assert instruct.parse_entities(fenced, lenient=True)["PER"] == ["A}"]
    assert instruct.first_json_object('{"PER": ["cut at the cap') is None
    lenient = instruct.entity_scores([fenced, "PER: Ada"], [reference, reference], lenient=True)
    assert lenient["valid_json"] == 0.5 and instruct.entity_scores([fenced], [reference])["valid_json"] == 0.0
    with pytest.raises(TypeError, match="lenient must be True or False"):
        instruct.parse_entities("{}", lenient="yes")
    assert instruct.parse_entities("[1, 2]") is None
    assert instruct.entity_set(instruct.parse_entities('{"LOC": ["Ghana \'s"], "PER": "x"}')) == {("LOC", "Ghana's")}
    with pytest.raises(ValueError, match="as many predictions as references"):
        instruct.entity_scores(["{}"], [])


def test_entity_f1_difference_resamples_items_and_recomputes_both_micro_f1s():
    refs = [json.dumps({"PER": [name], "ORG": [], "LOC": [], "MISC": []}) for name in ("Ada", "Bo", "Cy", "Di")]
    empty = json.dumps({"PER": [], "ORG": [], "LOC": [], "MISC": []})
    assert instruct.entity_f1_difference(refs, refs, refs, resamples=50) == (0.0, 0.0, 0.0)
    gap, low, high = instruct.entity_f1_difference(refs, [empty] * 4, refs, resamples=200)
    assert gap == 1.0 and low == high == 1.0, "perfect against empty on every resample"
    half = refs[:2] + [empty] * 2
    gap, low, high = instruct.entity_f1_difference(refs, half, refs, resamples=200)
    assert gap == pytest.approx(1 - instruct.entity_scores(half, refs)["f1"]) and low < gap <= high
    with pytest.raises(ValueError, match="one per reference"):
        instruct.entity_f1_difference(refs, refs[:3], refs)


def test_sentiment_exact_match_and_the_language_report(data):
    assert instruct.sentiment_correct(["Positive.", "负面。", "positive, clearly"], ["positive", "负面", "positive"]) \
        == [True, True, False]
    test = first_per_group(data["test"], {"entities": 2, "sentiment": 2, "open": 2})
    report = instruct.language_report(test, list(test["reference"]))
    assert list(report.index) == ["en", "zh", "all"]
    assert (report[["entity F1", "valid JSON", "entity F1 (lenient)", "valid JSON (lenient)", "sentiment accuracy",
                    "ROUGE-L"]] == 1.0).all().all()
    assert (report["chrF"] == 100.0).all()
    with pytest.raises(ValueError, match="3 answers for 12 conversations"):
        instruct.language_report(test, ["x"] * 3)


def test_encoder_entities_are_written_as_the_same_json_and_sources_are_found():
    from collections import namedtuple

    Entity = namedtuple("Entity", "text type")
    answer = instruct.entities_answer([Entity("Ada", "PER"), Entity("Ada", "PER"), Entity("London", "LOC")])
    assert json.loads(answer) == {"PER": ["Ada"], "ORG": [], "LOC": ["London"], "MISC": []}
    assert source_text("ner/test.conll#3").startswith("Epeli Naulivou said the Fijian navy")
    assert source_text("sentiment/apps.jsonl#94").startswith("Scrolling through the store")
    with pytest.raises(ValueError, match="is not a derived item's"):
        source_text("open_en.txt#3")


def test_peak_memory_sees_an_allocation_and_counts_parameters():
    with peak_memory("cpu") as meter:
        block = torch.ones(64, 2**20 // 4 * 4)          # 256 MB of float32
        del block
    assert meter.peak_bytes > 100 * 2**20 and meter.seconds > 0
    layer = torch.nn.Linear(4, 3)
    layer.bias.requires_grad_(False)
    assert trainable_parameters(layer) == (12, 15)


def test_chat_lm_is_smollm2_135m_offline_and_360m_in_the_full_profile(monkeypatch, chat_lm):
    from sftlab import models
    from sftlab.course import profiles

    tokenizer, model = chat_lm
    assert type(model).__name__ == "LlamaForCausalLM" and not model.training
    assert "SmolLM2-135M-Instruct" in profiles.MODELS["chat_lm"]["offline"].about
    asked = []
    monkeypatch.setenv(profiles.ENV_VAR, "full")
    monkeypatch.setattr(profiles, "hub_reachable", lambda timeout=profiles.HUB_TIMEOUT_S: True)
    monkeypatch.setattr(models, "_from_hub", lambda loader, name, **kwargs: asked.append(name) or tiny_llama(64))
    _, full_model = models.load_chat_lm(device="cpu")
    assert asked == ["HuggingFaceTB/SmolLM2-360M-Instruct"] * 2 and not full_model.training
    assert profiles.active().chat_lm == "HuggingFaceTB/SmolLM2-360M-Instruct"
