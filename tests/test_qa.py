"""sftlab.qa: windows and span labels from offsets, n-best post-processing, SQuAD scores, clear errors, devices.

The scores are checked against a small re-implementation of the official SQuAD v1.1 evaluation script's logic
(`evaluate-v1.1.py`, Rajpurkar et al. 2016): normalise (lower-case, strip punctuation, drop a/an/the, collapse
whitespace), exact match and bag-of-words F1 per gold answer, the maximum over the gold answers, the mean ×100
over all questions, an unanswered question scoring 0. Each subtle rule also has a case of its own that only the
right way scores correctly.
"""

import re
import string
from collections import Counter

import pytest
import torch
from datasets import Dataset
from test_devices import OtherDeviceStub, reaches_the_model
from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

from sftlab import models, qa

# ---------------------------------------------------------------- the official v1.1 logic, as the reference


def official_normalize_answer(s):
    """evaluate-v1.1.py's normalize_answer: lower → remove punctuation → remove articles → fix whitespace."""
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def official_f1_score(prediction, ground_truth):
    prediction_tokens = official_normalize_answer(prediction).split()
    ground_truth_tokens = official_normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def official_exact_match_score(prediction, ground_truth):
    return official_normalize_answer(prediction) == official_normalize_answer(ground_truth)


def official_metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    return max(metric_fn(prediction, ground_truth) for ground_truth in ground_truths)


def official_evaluate(dataset, predictions):
    """The script's evaluate() on its JSON layout: articles → paragraphs → qas; missing predictions score 0."""
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa_item in paragraph["qas"]:
                total += 1
                if qa_item["id"] not in predictions:
                    continue
                ground_truths = [x["text"] for x in qa_item["answers"]]
                prediction = predictions[qa_item["id"]]
                exact_match += official_metric_max_over_ground_truths(official_exact_match_score, prediction,
                                                                      ground_truths)
                f1 += official_metric_max_over_ground_truths(official_f1_score, prediction, ground_truths)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


# Hand-made (prediction, gold answers) cases, each aimed at one rule of the script.
CASES = [
    ("Denver Broncos", ["Denver Broncos", "Broncos"]),                        # exact
    ("the Denver Broncos", ["Denver Broncos"]),                               # article dropped
    ("DENVER broncos!", ["Denver Broncos"]),                                  # case, punctuation
    ("  Denver\n\tBroncos ", ["Denver Broncos"]),                             # whitespace
    ("Broncos", ["the Denver Broncos", "Carolina Panthers"]),                 # partial: F1 2/3
    ("Carolina", ["the Denver Broncos", "Carolina Panthers"]),                # max over golds
    ("in 1066", ["1066"]),
    ("1,000 people", ["1000 people"]),                                        # the comma goes: "1000"
    ("paris paris", ["Paris"]),                                               # multiset: F1 2/3, not 1
    ("the the the", ["a"]),                                                   # only articles: empty vs empty
    ("", ["Santa Clara"]),                                                    # no answer: 0
    ("the-end", ["end"]),                                                     # punctuation before articles
    ("Anne's theatre", ["Annes theatre"]),                                    # apostrophe removed
    ("an apple a day", ["apple day"]),
    ("theory of the atom", ["Atom theory"]),                                  # word order ignored
    ("north–south axis", ["north south axis"]),                               # the en dash is not ASCII: kept
    ("Calloway Harbour", ["Calloway harbour.", "the harbour"]),
    ("over 400 bridges", ["some 400 bridges"]),
    ("A", ["an"]),
]


def as_official_dataset(cases):
    return [{"paragraphs": [{"qas": [{"id": f"q{i}", "answers": [{"text": t} for t in truths]}
                                     for i, (_, truths) in enumerate(cases)]}]}]


def as_split(cases):
    return Dataset.from_dict({"id": [f"q{i}" for i in range(len(cases))],
                              "answers": [{"text": truths, "answer_start": [0] * len(truths)} for _, truths in cases]})


@pytest.mark.parametrize("prediction, truths", CASES)
def test_each_case_scores_as_the_official_script(prediction, truths):
    assert qa.normalize_answer(prediction) == official_normalize_answer(prediction)
    em, f1 = qa.question_scores(prediction, truths)
    assert em == float(official_metric_max_over_ground_truths(official_exact_match_score, prediction, truths))
    assert f1 == pytest.approx(official_metric_max_over_ground_truths(official_f1_score, prediction, truths))


def test_the_means_equal_the_official_evaluate():
    predictions = {f"q{i}": p for i, (p, _) in enumerate(CASES)}
    official = official_evaluate(as_official_dataset(CASES), predictions)
    ours = qa.squad_scores(predictions, as_split(CASES))
    assert ours["exact_match"] * 100 == pytest.approx(official["exact_match"])
    assert ours["f1"] * 100 == pytest.approx(official["f1"])
    assert 0 < ours["exact_match"] < ours["f1"] < 1
    same_in_order = qa.squad_scores([p for p, _ in CASES], as_split(CASES))
    assert same_in_order == ours


def test_the_official_examples_give_the_documented_numbers():
    """Worked examples: a partial answer, and the multiset rule."""
    assert official_f1_score("Broncos", "the Denver Broncos") == pytest.approx(2 / 3)
    assert qa.token_f1("Broncos", "the Denver Broncos") == pytest.approx(2 / 3)     # P 1, R 1/2
    assert qa.token_f1("paris paris", "Paris") == pytest.approx(2 / 3)              # P 1/2, R 1
    assert qa.exact_match("The  Eiffel Tower.", "eiffel tower") == 1.0


def test_punctuation_goes_before_articles():
    """The hyphen goes first, so "the-end" keeps no article to drop (articles first would give "end")."""
    assert qa.normalize_answer("the-end") == "theend" and qa.normalize_answer("A-Team") == "ateam"
    assert qa.exact_match("the-end", "theend") == 1.0 and qa.exact_match("the-end", "end") == 0.0
    assert qa.token_f1("A-Team", "team") == 0.0


def test_f1_counts_repeated_words():
    """A bag of words, not a set: each repeat must be matched by a repeat (over sets all three would score 1)."""
    assert qa.token_f1("paris paris", "Paris") == pytest.approx(2 / 3)                  # P 1/2, R 1
    assert qa.token_f1("Paris", "paris paris") == pytest.approx(2 / 3)                  # P 1, R 1/2
    assert qa.token_f1("paris paris london", "paris london london") == pytest.approx(2 / 3)   # 2 of 3 matched
    assert qa.token_f1("paris london paris", "paris paris london") == 1.0               # order ignored


def test_unanswerable_questions_score_an_empty_prediction():
    assert qa.question_scores("", []) == (1.0, 1.0)
    assert qa.question_scores("the", []) == (1.0, 1.0)                              # normalises to ""
    assert qa.question_scores("Bled Castle", []) == (0.0, 0.0)
    assert qa.question_scores("", ["Bled"]) == (0.0, 0.0)


def test_score_errors_name_the_problem():
    with pytest.raises(TypeError, match="list of gold answers"):
        qa.question_scores("x", "x")
    with pytest.raises(ValueError, match="no prediction, e.g."):
        qa.squad_scores({"q0": "a"}, as_split(CASES[:2]))
    with pytest.raises(ValueError, match="got 1 predictions for 2 questions"):
        qa.squad_scores(["a"], as_split(CASES[:2]))


# ---------------------------------------------------------------- windows and labels

CONTEXT = ("Lake Bled lies in the Julian Alps of north-western Slovenia. A small church stands on the island, "
           "reached by pletna boats. Bled Castle sits on a cliff above the lake, and the town is famous for its "
           "cream cake, the kremšnita, first sold in 1953.")


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(models.offline_path(models.offline_package("encoder")))


def split_of(questions, answers, context=CONTEXT):
    """A SQuAD-schema split: each (question, answer text) with the answer's first occurrence as its offset."""
    return Dataset.from_dict({
        "id": [f"q{i}" for i in range(len(questions))], "title": ["t"] * len(questions),
        "context": [context] * len(questions), "question": list(questions),
        "answers": [{"text": [a], "answer_start": [context.index(a)]} for a in answers]})


def test_char_span_to_tokens_uses_the_offsets(tokenizer):
    encoding = tokenizer(["When was the cake first sold?"], [CONTEXT], return_offsets_mapping=True)
    offsets = qa.context_offsets(encoding, 0)
    start = CONTEXT.index("1953")
    s, e = qa.char_span_to_tokens(offsets, start, start + 4)
    assert tokenizer.decode(encoding["input_ids"][0][s:e + 1]) == "1953"
    s, e = qa.char_span_to_tokens(offsets, CONTEXT.index("kremšnita"), CONTEXT.index("kremšnita") + 9)
    assert tokenizer.decode(encoding["input_ids"][0][s:e + 1]) == "kremsnita"           # uncased, accents stripped
    # the start token sits after [CLS], the question and [SEP], not at the count of context tokens before the answer
    s, e = qa.char_span_to_tokens(offsets, start, start + 4)
    before = len(tokenizer.tokenize("When was the cake first sold?")) + 2 + len(tokenizer.tokenize(CONTEXT[:start]))
    assert (s, e) == (before, before)


def test_an_answer_outside_the_window_has_no_token_span(tokenizer):
    encoding = qa.tokenize_windows(tokenizer, ["When was the cake first sold?"], [CONTEXT], max_length=40,
                                   doc_stride=10)
    assert len(encoding["input_ids"]) > 2
    start = CONTEXT.index("1953")
    spans = [qa.char_span_to_tokens(qa.context_offsets(encoding, w), start, start + 4)
             for w in range(len(encoding["input_ids"]))]
    assert spans[0] is None and spans[-1] is not None


def test_windows_overlap_by_doc_stride_and_every_answer_is_whole_in_one(tokenizer):
    questions, answers = ["Which mountains?", "When was the cake first sold?", "What sits on the cliff?"], \
        ["Julian Alps", "1953", "Bled Castle"]
    split = split_of(questions, answers)
    features = qa.prepare_features(split, tokenizer, max_length=40, doc_stride=12)
    assert len(features) > len(split)
    for w in range(len(features) - 1):
        a, b = features[w], features[w + 1]
        if a["example_index"] != b["example_index"]:
            continue
        tokens_a = [t for t, o in zip(a["input_ids"], a["offset_mapping"], strict=True) if o is not None]
        tokens_b = [t for t, o in zip(b["input_ids"], b["offset_mapping"], strict=True) if o is not None]
        assert tokens_a[-12:] == tokens_b[:12]                                       # the overlap
    for i, answer in enumerate(answers):
        holding = features.filter(lambda row, i=i: row["example_index"] == i and row["start_positions"] != 0)
        assert len(holding), f"no window holds {answer!r}"
        for f in holding:
            s, e = f["start_positions"], f["end_positions"]
            assert CONTEXT[f["offset_mapping"][s][0]:f["offset_mapping"][e][1]] == answer


def test_labels_point_at_cls_when_the_answer_is_cut(tokenizer):
    split = split_of(["When was the cake first sold?"], ["1953"])
    features = qa.prepare_features(split, tokenizer, max_length=40, doc_stride=10)
    first, last = features[0], features[-1]
    assert (first["start_positions"], first["end_positions"]) == (first["cls_index"], first["cls_index"]) == (0, 0)
    assert last["start_positions"] > 0 and last["end_positions"] >= last["start_positions"]


def test_clear_errors_for_bad_answers_small_windows_and_slow_tokenizers(tokenizer):
    bad = Dataset.from_dict({"id": ["x1"], "title": ["t"], "context": [CONTEXT], "question": ["Where?"],
                             "answers": [{"text": ["Julian Alps"], "answer_start": [3]}]})
    with pytest.raises(ValueError, match=r"question 'x1': answer 'Julian Alps' is not at answer_start 3"):
        qa.prepare_features(bad, tokenizer)
    long_question = "Which " + "very " * 40 + "long question is this?"
    with pytest.raises(ValueError, match="too small for the question"):
        qa.tokenize_windows(tokenizer, [long_question], [CONTEXT], max_length=48, doc_stride=8)
    with pytest.raises(ValueError, match="doc_stride=64 must be ≥ 0 and smaller than max_length=64"):
        qa.tokenize_windows(tokenizer, ["Where?"], [CONTEXT], max_length=64, doc_stride=64)

    class Slow:
        is_fast = False

    with pytest.raises(TypeError, match="Slow is a slow .*tokenizer; extractive QA's character offsets need a fast"):
        qa.tokenize_windows(Slow(), ["Where?"], [CONTEXT])


# ---------------------------------------------------------------- post-processing


def brute_force_best(start_logits, end_logits, offsets, max_answer_length):
    """The best valid span over every (start, end) pair."""
    pairs = [(float(start_logits[s] + end_logits[e]), s, e) for s in range(len(offsets)) for e in range(len(offsets))
             if offsets[s] is not None and offsets[e] is not None and s <= e < s + max_answer_length]
    return max(pairs)


def test_span_search_equals_brute_force_on_random_logits():
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        T = int(torch.randint(6, 30, (1,), generator=g))
        offsets = [None if t == 0 or t < 4 or t == T - 1 else (t, t + 1) for t in range(T)]   # [CLS] q q q … [SEP]
        start, end = torch.randn(T, generator=g), torch.randn(T, generator=g)
        best = qa.span_candidates(start, end, offsets, n_best=T, max_answer_length=5)[0]
        assert best == pytest.approx(brute_force_best(start, end, offsets, 5))


def test_span_candidates_keep_to_the_context_and_the_length_limit():
    start = torch.tensor([9.0, 8.0, 0.0, 3.0, 0.0, 0.0])          # [CLS] and a question token score highest
    end = torch.tensor([9.0, 0.0, 0.0, 0.0, 1.0, 2.0])
    offsets = [None, None, (0, 4), (5, 9), (10, 14), (15, 19)]
    assert qa.span_candidates(start, end, offsets)[0][1:] == (3, 5)
    assert qa.span_candidates(start, end, offsets, max_answer_length=2)[0][1:] == (3, 4)
    assert all(s <= e for _, s, e in qa.span_candidates(start, end, offsets))
    # [CLS] and the question score highest (argmax alone would land there), yet no candidate touches them
    candidates = qa.span_candidates(start, end, offsets)
    assert candidates[0] == (5.0, 3, 5) and all(s >= 2 and e >= 2 for _, s, e in candidates)


def features_of(rows, cls_index=0):
    return Dataset.from_dict({"example_index": [i for i, _ in rows], "offset_mapping": [o for _, o in rows],
                              "cls_index": [cls_index] * len(rows)})


def test_best_answers_search_every_window_of_a_question():
    split = Dataset.from_dict({"context": ["abcd efgh ijkl", "mnop"]})
    offsets_a = [None, None, (0, 4), (5, 9)]
    offsets_b = [None, None, (5, 9), (10, 14)]
    features = features_of([(0, offsets_a), (0, offsets_b), (1, [None, (0, 4)])])
    starts = [torch.tensor([0.0, 0, 1, 0]), torch.tensor([-1.0, 0, 0, 3]), torch.tensor([5.0, 1])]
    ends = [torch.tensor([0.0, 0, 1, 0]), torch.tensor([-1.0, 0, 0, 3]), torch.tensor([0.0, 1])]
    answers = qa.best_answers(starts, ends, features, split)
    assert [a.text for a in answers] == ["ijkl", "mnop"]                  # the second window wins question 0
    assert answers[0].score == 6.0 and answers[0].null_score == -2.0      # the lowest [CLS] score of its windows
    assert (answers[1].start, answers[1].end, answers[1].null_score) == (0, 4, 5.0)
    assert qa.with_no_answer(answers, threshold=0.0) == ["ijkl", ""]       # question 1: [CLS] 5 beats span 2
    assert qa.with_no_answer(answers, threshold=5.0) == ["ijkl", "mnop"]
    assert qa.with_no_answer(answers, threshold=-10.0) == ["", ""]
    with pytest.raises(ValueError, match="logits for 2 windows but there are 3"):
        qa.best_answers(starts[:2], ends[:2], features, split)


# ---------------------------------------------------------------- with a (tiny, random) model


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64)
    return BertForQuestionAnswering(config).eval()


QUESTIONS = ["Which mountains?", "When was the cake first sold?", "What sits on the cliff?",
             "How do visitors reach the island?"]
ANSWERS = ["Julian Alps", "1953", "Bled Castle", "by pletna boats"]


def test_batches_carry_start_and_end_positions_the_model_learns_from(tiny_model, tokenizer):
    features = qa.prepare_features(split_of(QUESTIONS, ANSWERS), tokenizer, max_length=48, doc_stride=16)
    batch = next(iter(qa.make_loader(features, tokenizer, batch_size=4)))
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids", "start_positions", "end_positions"}
    assert batch["start_positions"].tolist() == features["start_positions"][:4]
    assert tiny_model(**batch).loss is not None          # a …ForQuestionAnswering model takes the batch as it is


def test_the_null_score_reads_the_cls_position_each_window_has():
    """A tokenizer that does not put [CLS] first: the no-answer score must read the position prepare_features found."""
    split = Dataset.from_dict({"context": ["abcd"]})
    starts, ends = [torch.tensor([0.0, 7.0, 1.0])], [torch.tensor([0.0, 2.0, 1.0])]
    answers = qa.best_answers(starts, ends, features_of([(0, [None, None, (0, 4)])], cls_index=1), split)
    assert answers[0].null_score == 9.0 and answers[0].text == "abcd"


def test_training_with_the_course_loop_reports_squad_scores_per_epoch(tokenizer):
    from sftlab.training import TrainingConfig, train

    torch.manual_seed(0)
    model = BertForQuestionAnswering(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1,
                                                num_attention_heads=2, intermediate_size=64))
    split = split_of(QUESTIONS, ANSWERS)
    features = qa.prepare_features(split, tokenizer, max_length=48, doc_stride=16)
    history = train(model, qa.make_loader(features, tokenizer, 4, shuffle=True),
                    qa.make_loader(features, tokenizer, 3), TrainingConfig(epochs=2, progress=False, metric="f1"),
                    compute_metrics=qa.metrics_for(features, split))
    assert [set(e) - {"epoch", "train_loss", "val_loss"} for e in history.epochs] == [{"exact_match", "f1"}] * 2


def test_metrics_for_scores_only_whole_questions_from_a_prefix(tiny_model, tokenizer):
    split = split_of(QUESTIONS, ANSWERS)
    features = qa.prepare_features(split, tokenizer, max_length=40, doc_stride=12)
    per_question = Counter(features["example_index"])
    loader = qa.make_loader(features, tokenizer, per_question[0] + 1)
    with torch.no_grad():
        outputs = tiny_model(**next(iter(loader)))
    logits = torch.stack([outputs.start_logits, outputs.end_logits], dim=-1)         # what train() hands over
    scores = qa.metrics_for(features, split)([logits], [None])
    assert scores["questions"] == 1
    assert qa.metrics_for(features, split)([logits[:per_question[0] - 1]], [None]) == \
        {"exact_match": pytest.approx(float("nan"), nan_ok=True), "f1": pytest.approx(float("nan"), nan_ok=True),
         "questions": 0}, "a batch with no whole question scores none, without dividing by zero"


def test_widen_to_words_takes_the_rest_of_a_cut_word_and_stops_off_the_context():
    words = [None, None, 0, 1, 1, 1, 2, None]                      # [CLS] question [SEP]-free toy: word 1 = 3 pieces
    assert qa.widen_to_words(4, 4, words) == (3, 5)
    assert qa.widen_to_words(2, 3, words) == (2, 5)
    assert qa.widen_to_words(6, 6, words) == (6, 6)                # a whole word stays as it is
    assert qa.widen_to_words(2, 2, [0, 0, 0]) == (0, 2)


def test_a_span_cut_inside_a_word_comes_back_as_the_whole_word(tokenizer):
    """Logits that peak on the second piece of "kremšnita" give the whole word, as the pipeline's align_to_words;
    features without word_ids keep the token cut."""
    split = split_of(["What is the cream cake called?"], ["kremšnita"])
    features = qa.prepare_features(split, tokenizer, 192, 64)
    offsets, words = features[0]["offset_mapping"], features[0]["word_ids"]
    start = CONTEXT.index("kremšnita")
    s, e = qa.char_span_to_tokens(offsets, start, start + len("kremšnita"))
    assert e > s, "the test needs a word of several pieces"
    logits = torch.zeros(len(features[0]["input_ids"]))
    logits[s + 1] = 10.0                                           # a piece inside the word, not its first
    answer = qa.best_answers([logits], [logits], features, split)[0]
    assert (answer.text, answer.start, answer.end) == ("kremšnita", start, start + len("kremšnita"))
    assert words[s] == words[e] is not None
    cut = qa.best_answers([logits], [logits], features.remove_columns("word_ids"), split)[0]
    assert cut.text != "kremšnita" and cut.text in "kremšnita"


def test_predictions_equal_transformers_span_decoder(tiny_model, tokenizer):
    """Within one window the highest start + end logit is the highest start × end probability; the tiny model's
    answers begin and end on whole words here, so the pipeline's word alignment changes nothing."""
    contexts = ["the red house stands near the old bridge over the river", "she sold three green boats in may"]
    golds = ["near the old bridge", "three green boats"]
    split = Dataset.from_dict({"id": ["a", "b"], "title": ["t", "t"], "context": contexts,
                               "question": ["where is the house?", "what did she sell?"],
                               "answers": [{"text": [g], "answer_start": [c.index(g)]}
                                           for g, c in zip(golds, contexts, strict=True)]})
    ours = [a.text for a in qa.predict_answers(tiny_model, tokenizer, split, max_answer_length=4)]
    assert ours == qa.transformers_answers(tiny_model, tokenizer, split, max_answer_length=4)
    assert all(a and a in c for a, c in zip(ours, contexts, strict=True))


def test_helpers_that_run_the_model_move_inputs_to_its_device(tokenizer):
    split = split_of(QUESTIONS[:2], ANSWERS[:2])
    features = qa.prepare_features(split, tokenizer)
    assert reaches_the_model(qa.window_logits, OtherDeviceStub(), qa.make_loader(features, tokenizer, 2))
    assert reaches_the_model(qa.predict_answers, OtherDeviceStub(), tokenizer, split)
    assert reaches_the_model(qa.transformers_answers, OtherDeviceStub(), tokenizer, split)


def test_results_come_back_on_the_cpu(tiny_model, tokenizer):
    split = split_of(QUESTIONS[:2], ANSWERS[:2])
    features = qa.prepare_features(split, tokenizer)
    starts, ends = qa.window_logits(tiny_model, qa.make_loader(features, tokenizer, 2))
    assert all(t.device.type == "cpu" for t in starts + ends)


def test_load_encoder_gives_a_question_answering_head(offline):
    _, model = models.load_encoder("question-answering")
    assert type(model).__name__ == "BertForQuestionAnswering" and model.qa_outputs.out_features == 2
    with pytest.raises(ValueError, match="takes no num_labels"):
        models.load_encoder("question-answering", num_labels=2)


# ---------------------------------------------------------------- reading the results


@pytest.mark.parametrize("question, kind", [
    ("Who designed the bridge?", "who"), ("In which year did it open?", "when"), ("When was it built?", "when"),
    ("Where does the river rise?", "where"), ("How many steps lead up?", "how many/much"),
    ("How much did it cost?", "how many/much"), ("Why did the settlers move?", "why"),
    ("How do visitors get there?", "how"), ("What is the dish made of?", "what/which"),
    ("Which club won?", "what/which"), ("Name the river.", "other"),
])
def test_question_type(question, kind):
    assert qa.question_type(question) == kind


def test_marked_text_shows_gold_prediction_and_their_overlap():
    text = "Bled Castle sits on a cliff"
    marked = qa.mark_answer(text, predicted=(0, 11), gold=(5, 11))
    assert str(marked) == "[Bled |predicted][Castle|gold+predicted] sits on a cliff"
    assert "<mark" in marked._repr_html_() and "&" not in str(qa.mark_answer("a<b", None, (0, 1)))
    with pytest.raises(ValueError, match="outside the text"):
        qa.mark_answer(text, None, (5, 99))
    assert str(qa.mark_tokens("ab cd", [(0, 1), (1, 2), (3, 5)], ["a", "##b", "cd"])) == "[a|a][b|##b] [cd|cd]"


# ---------------------------------------------------------------- readers that learn nothing


def test_overlap_answer_takes_the_sentence_that_shares_most_words_minus_the_question():
    assert qa.overlap_answer("When was the cream cake first sold?", CONTEXT) == \
        "Bled Castle sits on cliff above lake, and town is famous for its kremšnita, in 1953."
    assert qa.overlap_answer("Where does the small church stand?", CONTEXT) == \
        "stands on island, reached by pletna boats."                     # "a" and "the" normalise away


def test_closest_span_maps_a_sentence_onto_the_passage():
    assert qa.closest_span("The answer is: in 1953.", CONTEXT) == "in 1953."
    assert qa.closest_span("1953", CONTEXT) == "1953."                         # the shortest span with the best F1
    assert qa.closest_span("a pletna boat", CONTEXT) == "pletna"
    assert qa.closest_span("nothing shared here", CONTEXT) == ""
    assert qa.closest_span("cream cake", CONTEXT, max_words=1) == "cream"


@pytest.mark.parametrize("call, error, words", [
    (lambda: qa.overlap_answer("", CONTEXT), ValueError, "question is empty"),
    (lambda: qa.overlap_answer("Why?", None), TypeError, "context must be a string"),
    (lambda: qa.closest_span(["1953"], CONTEXT), TypeError, "generated must be a string"),
    (lambda: qa.closest_span("1953", "  "), ValueError, "context is empty"),
    (lambda: qa.closest_span("1953", CONTEXT, max_words=0), ValueError, "max_words must be a positive int"),
])
def test_baselines_name_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()
