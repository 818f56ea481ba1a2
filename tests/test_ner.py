"""sftlab.ner: sub-word label alignment (alignment.py), entities on raw text and highlighting (raw_text.py),
entity-level metrics and error analysis (scores.py), BIO-constrained decoding (decoding.py).

One file for the package: its modules share the stand-in tagger and the tokenizer fixture below."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from datasets import Dataset, DatasetDict
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

from sftlab import models, ner, training
from sftlab.data import NER_DIR, NER_LABELS, SPLITS, ner_features, read_conll

O, B_PER, I_PER, B_ORG, I_ORG, B_LOC, I_LOC, B_MISC, I_MISC = range(9)
X = ner.IGNORE_INDEX


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(models.offline_path(models.offline_package("encoder")))


def sentences(*pairs):
    """A Dataset in the NER schema from (tokens, tag names) pairs."""
    return Dataset.from_dict({"tokens": [list(t) for t, _ in pairs],
                              "ner_tags": [[NER_LABELS.index(tag) for tag in tags] for _, tags in pairs]},
                             features=ner_features())


# ---------------------------------------------------------------- align_labels on hand-made cases

def test_first_subtoken_gets_the_label_the_rest_and_special_tokens_get_minus_100():
    # [CLS] no ##m ##vu ##la dl ##ami ##ni - hayes . [SEP]   ("Nomvula" in 4 pieces, "Dlamini-Hayes" in 5)
    word_ids = [None, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, None]
    assert ner.align_labels(word_ids, [B_PER, I_PER, O]) == [X, B_PER, X, X, X, I_PER, X, X, X, X, O, X]


def test_label_all_subtokens_gives_later_pieces_the_inside_label():
    word_ids = [None, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, None]
    assert ner.align_labels(word_ids, [B_PER, I_PER, O], label_all_subtokens=True) == \
        [X, B_PER, I_PER, I_PER, I_PER, I_PER, I_PER, I_PER, I_PER, I_PER, O, X]
    # B-LOC -> I-LOC and B-MISC -> I-MISC on the later pieces; an O word's pieces stay O
    assert ner.align_labels([None, 0, 0, 0, 1, 1, 2, 2, None], [B_LOC, O, B_MISC], label_all_subtokens=True) == \
        [X, B_LOC, I_LOC, I_LOC, O, O, B_MISC, I_MISC, X]


def test_punctuation_words_padding_and_words_without_tokens():
    # [CLS] merkel , said ! [SEP] [PAD] [PAD]: punctuation is a word of its own; padding has no word either
    assert ner.align_labels([None, 0, 1, 2, 3, None, None, None], [B_PER, O, O, O]) == \
        [X, B_PER, O, O, O, X, X, X]
    # word 1 was dropped by the tokenizer (e.g. a zero-width space): its label goes nowhere, the rest stay aligned
    assert ner.align_labels([None, 0, 0, 2, None], [B_LOC, O, B_ORG]) == [X, B_LOC, X, B_ORG, X]


def test_align_labels_errors_name_what_went_wrong():
    with pytest.raises(ValueError, match="word_labels has 2 entries but word_ids cover 3 words"):
        ner.align_labels([None, 0, 1, 1, 2, None], [B_PER, O])
    with pytest.raises(ValueError, match="word_labels has 4 entries but word_ids cover 3 words"):
        ner.align_labels([None, 0, 1, 2, None], [B_PER, O, O, O])
    with pytest.raises(ValueError, match="never decrease.*word 0 after word 1"):
        ner.align_labels([None, 0, 1, 0, None], [O, O])
    with pytest.raises(TypeError, match="label ids"):
        ner.align_labels([None, 0, None], ["B-PER"])
    with pytest.raises(ValueError, match="no I-X"):
        ner.align_labels([None, 0, 0, None], [1], label_all_subtokens=True, label_names=["O", "B-X"])


# ---------------------------------------------------------------- tokenize_and_align with the real tokenizer

NAMES = (["Nomvula", "Dlamini-Hayes", "flew", "to", "Nuku'alofa", "."], ["B-PER", "I-PER", "O", "O", "B-LOC", "O"])
SHORT = (["Acme", "Corp", "hired", "her"], ["B-ORG", "I-ORG", "O", "O"])


def test_tokenize_and_align_labels_first_pieces_of_real_words(tokenizer):
    tokenized = ner.tokenize_and_align(DatasetDict({"train": sentences(NAMES, SHORT)}), tokenizer)["train"]
    assert set(tokenized.column_names) == {"input_ids", "attention_mask", "token_type_ids", "labels"}
    pieces = tokenizer.convert_ids_to_tokens(tokenized[0]["input_ids"])
    labels = tokenized[0]["labels"]
    assert pieces[:11] == ["[CLS]", "no", "##m", "##vu", "##la", "dl", "##ami", "##ni", "-", "hayes", "flew"]
    assert labels[:11] == [X, B_PER, X, X, X, I_PER, X, X, X, X, O]
    assert [label for label in labels if label != X] == [NER_LABELS.index(t) for t in NAMES[1]]  # one per word
    assert labels[-1] == X and pieces[-1] == "[SEP]"


def test_tokenize_and_align_label_all_subtokens_and_truncation(tokenizer):
    tokenized = ner.tokenize_and_align(sentences(NAMES), tokenizer, label_all_subtokens=True)
    assert tokenized[0]["labels"][:11] == [X, B_PER, I_PER, I_PER, I_PER, I_PER, I_PER, I_PER, I_PER, I_PER, O]
    truncated = ner.tokenize_and_align(sentences(NAMES), tokenizer, max_length=7)[0]   # [CLS] + 5 pieces + [SEP]
    assert len(truncated["input_ids"]) == 7 and truncated["labels"] == [X, B_PER, X, X, X, I_PER, X]


def test_tokenize_and_align_rejects_bad_datasets(tokenizer):
    bad = Dataset.from_dict({"tokens": [["Angela", "Merkel"]], "ner_tags": [[B_PER, I_PER, O]]})
    with pytest.raises(ValueError, match="sentence 0: 2 words but 3 tags"):
        ner.tokenize_and_align(bad, tokenizer)
    with pytest.raises(ValueError, match="no \\['ner_tags'\\] column"):
        ner.tokenize_and_align(Dataset.from_dict({"tokens": [["a"]]}), tokenizer)


def test_make_loader_pads_labels_with_minus_100(tokenizer):
    tokenized = ner.tokenize_and_align(sentences(NAMES, SHORT), tokenizer)
    batch = next(iter(ner.make_loader(tokenized, tokenizer, batch_size=2)))
    assert batch["labels"].shape == batch["input_ids"].shape == (2, len(tokenized[0]["input_ids"]))
    assert (batch["labels"][batch["attention_mask"] == 0] == X).all()   # padding is never scored
    assert batch["labels"][1, :4].tolist() == [X, B_ORG, X, I_ORG]   # [CLS] ac ##me corp


# ---------------------------------------------------------------- predict_entities with a model whose logits we set

class LookupTagger(torch.nn.Module):
    """A stand-in token classifier: each sub-token's logits depend only on its id (4.0 for its label, 0 else)."""

    def __init__(self, tokenizer, tag_of_piece: dict[str, str], label_names=NER_LABELS):
        super().__init__()
        self.config = BertConfig(num_labels=len(label_names), id2label=dict(enumerate(label_names)))
        self.table = torch.nn.Embedding(len(tokenizer), len(label_names))
        with torch.no_grad():
            self.table.weight.zero_()
            self.table.weight[:, 0] = 4.0                                 # every piece says O …
            for piece, tag in tag_of_piece.items():                       # … except the ones we name
                piece_id = tokenizer.convert_tokens_to_ids(piece)
                self.table.weight[piece_id] = 0.0
                self.table.weight[piece_id, label_names.index(tag)] = 4.0

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        return SimpleNamespace(logits=self.table(input_ids))             # (B, T, C)


CONFIDENT = torch.tensor([4.0] + [0.0] * 8).softmax(0)[0].item()           # probability of the chosen label


@pytest.fixture(scope="module")
def tagger(tokenizer):
    return LookupTagger(tokenizer, {"angela": "B-PER", "mer": "I-PER", "##kel": "B-LOC", "berlin": "B-LOC",
                                    "no": "B-PER", "dl": "I-PER", "paris": "I-LOC", "ac": "B-ORG"})


def check_spans(text, entities):
    for e in entities:
        assert text[e.start:e.end] == e.text, f"{e} does not slice {text!r}"


def test_entities_slice_the_raw_text_exactly_with_odd_spacing_and_punctuation(tokenizer, tagger):
    text = "  Angela   Merkel visited Berlin,(again)!  "
    entities = ner.predict_entities(text, tagger, tokenizer)
    check_spans(text, entities)
    # Merkel's second piece ##kel says B-LOC, but only a word's first piece decides: one PER entity
    assert [(e.text, e.type, e.start, e.end) for e in entities] == \
        [("Angela   Merkel", "PER", 2, 17), ("Berlin", "LOC", 26, 32)]
    assert entities[0].score == pytest.approx(CONFIDENT)


def test_hyphenated_names_stay_one_word_and_runs_merge(tokenizer, tagger):
    text = "Nomvula Dlamini-Hayes, of Acme, met Angela Angela."
    entities = ner.predict_entities(text, tagger, tokenizer)
    check_spans(text, entities)
    assert [(e.text, e.type) for e in entities] == \
        [("Nomvula Dlamini-Hayes", "PER"), ("Acme", "ORG"), ("Angela", "PER"), ("Angela", "PER")]  # B B: two


def test_a_stray_inside_tag_starts_an_entity_as_seqeval_does(tokenizer, tagger):
    text = "Merkel saw Angela Paris."          # I-PER with no B-; then I-LOC right after a PER
    assert [(e.text, e.type) for e in ner.predict_entities(text, tagger, tokenizer)] == \
        [("Merkel", "PER"), ("Angela", "PER"), ("Paris", "LOC")]


def test_score_is_the_mean_probability_of_the_entity_words_labels(tokenizer):
    tagger = LookupTagger(tokenizer, {"angela": "B-PER", "mer": "I-PER"})
    with torch.no_grad():
        tagger.table.weight[tokenizer.convert_tokens_to_ids("mer"), 2] = 2.0       # less sure about "Merkel"
    [entity] = ner.predict_entities("Angela Merkel", tagger, tokenizer)
    unsure = torch.tensor([2.0] + [0.0] * 8).softmax(0)[0].item()
    assert entity.score == pytest.approx((CONFIDENT + unsure) / 2)


def test_predict_entities_label_names_and_bad_input(tokenizer, tagger):
    assert ner.predict_entities(" \n ", tagger, tokenizer) == []
    unnamed = LookupTagger(tokenizer, {})
    unnamed.config = BertConfig(num_labels=9)                                      # id2label = LABEL_0 …
    with pytest.raises(ValueError, match="no label names"):
        ner.predict_entities("Angela", unnamed, tokenizer)
    assert ner.predict_entities("Angela", unnamed, tokenizer, label_names=NER_LABELS) == []  # all O
    with pytest.raises(ValueError, match="label_names has 3 names but the model predicts 9"):
        ner.predict_entities("Angela", tagger, tokenizer, label_names=["O", "B-PER", "I-PER"])
    with pytest.raises(TypeError, match="one raw string"):
        ner.predict_entities(["Angela"], tagger, tokenizer)
    with pytest.raises(ValueError, match="reads at most 512"):
        ner.predict_entities("Angela " * 600, BertForTokenClassification(BertConfig(
            vocab_size=len(tokenizer), hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
            intermediate_size=8, num_labels=9)), tokenizer, NER_LABELS)


def test_a_real_bert_token_classifier_gives_spans_that_slice_the_text(tokenizer):
    torch.manual_seed(0)
    model = BertForTokenClassification(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                                                  num_attention_heads=2, intermediate_size=64, num_labels=9))
    with torch.no_grad():
        model.classifier.bias.copy_(torch.tensor([0, 3, 3, 0, 0, 0, 0, 0, 0.0]))  # mostly PER: long entities
    texts = ["Nomvula  Dlamini-Hayes met Angela Merkel in São Paulo, e.g. U.S.A.!",
             "\tO'Connor's   team (Rolls-Royce) won 10,000 … “quotes” too  "]
    found = 0
    for text in texts:
        entities = ner.predict_entities(text, model, tokenizer, NER_LABELS)
        check_spans(text, entities)
        found += len(entities)
        assert all(0 < e.score <= 1 and e.type in ("PER", "ORG", "LOC", "MISC") for e in entities)
    assert found > 0


def test_split_words_reproduces_the_course_data_tokenisation():
    data = [s["tokens"] for split in SPLITS for s in read_conll(NER_DIR / f"{split}.conll")]
    same = sum([w for w, _, _ in ner.split_words(" ".join(tokens))] == tokens for tokens in data)
    assert same / len(data) > 0.98, f"only {same} of {len(data)} sentences re-split as written"
    assert [w for w, _, _ in ner.split_words("Merkel's O'Connor (Reuters) 10,000.")] == \
        ["Merkel", "'s", "O'Connor", "(", "Reuters", ")", "10,000", "."]


# ---------------------------------------------------------------- highlight

def test_highlight_escapes_html_and_prints_brackets_in_a_terminal():
    text = "Angela Merkel met <script>alert(1)</script> & co."
    entities = [ner.Entity("Angela Merkel", "PER", 0, 13, 0.9), ("<script>", "ORG", 18, 26)]   # 4-tuples work too
    shown = ner.highlight(text, entities)
    assert str(shown) == repr(shown) == "[Angela Merkel|PER] met [<script>|ORG]alert(1)</script> & co."
    page = shown._repr_html_()
    assert "<script>" not in page and "</script>" not in page
    assert "&lt;script&gt;" in page and "&amp; co." in page and "Angela Merkel" in page
    assert page.count("<mark") == 2
    assert str(ner.highlight("no entities", [])) == "no entities"


def test_highlight_rejects_entities_from_another_text():
    with pytest.raises(ValueError, match="there the text reads 'Olaf '"):
        ner.highlight("Olaf Scholz", [("Angela", "PER", 0, 5, 1.0)])
    with pytest.raises(TypeError, match="text, type, start, end"):
        ner.highlight("Olaf", [("PER", 0, 4)])
    with pytest.raises(ValueError, match="overlap"):
        ner.highlight("New York City", [("New York", "LOC", 0, 8, 1.0), ("York City", "LOC", 4, 13, 1.0)])


def test_highlight_names_an_entity_that_ends_before_it_starts_and_other_wrong_spans():
    text = "Angela Merkel visited Paris."
    with pytest.raises(ValueError, match=r"entity 'Paris' ends before it starts: start=27, end=22"):
        ner.highlight(text, [("Paris", "LOC", 27, 22)])
    with pytest.raises(ValueError, match=r"entity 'Paris' is empty: start=22, end=22"):
        ner.highlight(text, [("Paris", "LOC", 22, 22)])
    with pytest.raises(TypeError, match=r"start and end must be character offsets \(ints\), got '22' and '27'"):
        ner.highlight(text, [("Paris", "LOC", "22", "27")])
    with pytest.raises(TypeError, match=r"entities must be a list .*got Entity.*for one entity pass \[entity\]"):
        ner.highlight(text, ner.Entity("Paris", "LOC", 22, 27, 0.9))
    assert str(ner.highlight(text, (e for e in [("Paris", "LOC", 22, 27)]))) == "Angela Merkel visited [Paris|LOC]."


# ---------------------------------------------------------------- entity-level metrics

TRUE = [["B-PER", "I-PER", "O", "O", "B-LOC"], ["B-ORG", "I-ORG", "I-ORG", "O"], ["O", "B-MISC", "O"]]
PRED = [["B-PER", "I-PER", "O", "O", "B-ORG"], ["B-ORG", "I-ORG", "O", "O"], ["O", "B-MISC", "O"]]


def test_entity_metrics_equal_seqeval():
    scores = ner.entity_metrics(TRUE, PRED)
    assert scores["f1"] == pytest.approx(f1_score(TRUE, PRED)) == pytest.approx(0.5)   # 2 of 4 right, 2 of 4 found
    assert scores["precision"] == pytest.approx(precision_score(TRUE, PRED))
    assert scores["recall"] == pytest.approx(recall_score(TRUE, PRED))
    report = classification_report(TRUE, PRED, output_dict=True, zero_division=0)
    for kind in ("PER", "ORG", "LOC", "MISC"):
        assert scores["per_type"][kind]["f1"] == pytest.approx(report[kind]["f1-score"])
        assert scores["per_type"][kind]["support"] == report[kind]["support"]
    assert scores["per_type"]["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}  # boundary miss
    assert scores["token_accuracy"] == pytest.approx(10 / 12)
    assert (scores["support"], scores["predicted"]) == (4, 4)


def test_token_accuracy_stays_high_when_every_entity_is_missed():
    true = [tags for tags in (s["ner_tags"] for s in read_conll(NER_DIR / "test.conll"))]
    all_o = [["O"] * len(tags) for tags in true]
    scores = ner.entity_metrics(true, all_o)
    assert scores["f1"] == 0.0 and scores["predicted"] == 0
    assert scores["token_accuracy"] == pytest.approx(scores["o_share"]) and scores["token_accuracy"] > 0.75
    report = ner.format_entity_report(scores, "test, all-O predictor")
    assert report.startswith("test, all-O predictor: precision 0.000  recall 0.000  F1 0.000")
    assert "PER:" in report and "of tokens are O" in report


def test_entity_metrics_errors():
    with pytest.raises(ValueError, match="sentence 1: 4 true tags but 3 predicted tags"):
        ner.entity_metrics(TRUE, [PRED[0], PRED[1][:3], PRED[2]])
    with pytest.raises(ValueError, match="3 true tag sequences but 2 predicted"):
        ner.entity_metrics(TRUE, PRED[:2])
    with pytest.raises(TypeError, match="tags must be strings"):
        ner.entity_metrics([[1, 0]], [[1, 0]])


BAD_TAGS = [("X-ORG", r"unknown tag 'X-ORG'; expected a BIO tag: 'O', or 'B-' / 'I-' and the entity type"),
            ("ORG", r"unknown tag 'ORG'.*'ORG' has no prefix: 'B-ORG' starts an entity, 'I-ORG' continues one"),
            ("E-ORG", r"unknown tag 'E-ORG'.*BIOES is not supported here: write E- as I- and S- as B-"),
            ("b-org", r"unknown tag 'b-org'.*upper case: 'B-ORG'"),
            ("B-", r"unknown tag 'B-'.*the entity type after the prefix is missing")]


@pytest.mark.parametrize("tag, message", BAD_TAGS, ids=[t for t, _ in BAD_TAGS])
def test_scores_name_a_tag_that_is_not_bio(tag, message):
    true, pred = [["B-ORG", "O"], ["O", "B-PER"]], [["B-ORG", "O"], ["O", tag]]
    for score in (ner.entity_metrics, ner.entity_errors, ner.entity_confusion):
        with pytest.raises(ValueError, match="sentence 1: " + message):
            score(true, pred)
    with pytest.raises(ValueError, match="sentence 1: " + message):
        ner.scores_by_novelty([["a", "b"], ["c", "d"]], true, pred, seen=set())


def test_label_lists_that_are_not_bio_are_refused_before_any_work(tokenizer):
    labels = ["O", "B-PER", "I-PER", "X-ORG"]
    with pytest.raises(ValueError, match=r"label_names, position 3: unknown tag 'X-ORG'"):
        ner.metrics_for(labels)                          # at once, not after an epoch of training
    with pytest.raises(ValueError, match=r"label_names, position 3: unknown tag 'X-ORG'"):
        ner.predictions_to_tags(torch.zeros(1, 2, 4), torch.zeros(1, 2, dtype=torch.long), labels)
    with pytest.raises(ValueError, match=r"label_names, position 1: unknown tag 'PER'.*has no prefix"):
        ner.allowed_transitions(["O", "PER"])
    with pytest.raises(ValueError, match=r"label_names, position 1: unknown tag 'S-PER'.*BIOES"):
        ner.decode([torch.zeros(2, 3)], ["O", "S-PER", "E-PER"])
    model = SimpleNamespace(config=SimpleNamespace(num_labels=4))    # never called: the labels are checked first
    with pytest.raises(ValueError, match=r"label_names .*position 3: unknown tag 'MISC'.*has no prefix"):
        ner.predict_entities("Paris", model, tokenizer, label_names=["O", "B-LOC", "I-LOC", "MISC"])


def test_entity_confusion_names_a_type_missing_from_types():
    with pytest.raises(ValueError, match=r"entity type\(s\) \['DRUG'\] that types=\['PER'\] lacks"):
        ner.entity_confusion([["B-DRUG", "B-PER"]], [["O", "B-PER"]], types=["PER"])
    with pytest.raises(TypeError, match="types must be a list of entity types"):
        ner.entity_confusion([["B-PER"]], [["B-PER"]], types="PER")


def test_more_wrong_inputs_to_the_ner_helpers_are_named():
    with pytest.raises(ValueError, match=r"takes what entity_metrics returns; this dict lacks \['precision'"):
        ner.format_entity_report({"f1": 0.5})
    with pytest.raises(ValueError, match=r"labels holds id 9, but label_names has 9 labels \(ids 0 … 8, and -100"):
        ner.predictions_to_tags(torch.zeros(1, 2, 9), torch.tensor([[9, 0]]), NER_LABELS)
    with pytest.raises(TypeError, match="true_tag_seqs must be a list of tag lists, one per sentence, got dict"):
        ner.entity_metrics({"tags": ["O"]}, {"tags": ["O"]})
    with pytest.raises(TypeError, match="split_words takes one raw string, got NoneType"):
        ner.split_words(None)
    with pytest.raises(TypeError, match="highlight takes the raw text as a string, got list"):
        ner.highlight(["Paris"], [])
    with pytest.raises(ValueError, match=r"allowed must be a \(4, 3\) bool tensor for 3 labels .*shape \(3, 3\)"):
        ner.viterbi(torch.zeros(2, 3), torch.ones(3, 3, dtype=torch.bool))


def test_entity_strings_and_novelty_want_one_token_list_per_tag_list():
    with pytest.raises(ValueError, match="sentence 0: 3 tokens but 2 tags"):
        ner.entity_strings([["New", "York", "!"]], [["B-LOC", "I-LOC"]])
    with pytest.raises(ValueError, match="2 token lists but 1 tag lists"):
        ner.entity_strings([["a"], ["b"]], [["O"]])


def test_predictions_to_tags_skips_minus_100_and_metrics_for_handles_ragged_batches():
    def one_hot(tag_ids, length):   # (1, T, C) logits that predict tag_ids, then O up to length
        logits = torch.zeros(1, length, 9)
        logits[0, torch.arange(length), torch.tensor(tag_ids + [O] * (length - len(tag_ids)))] = 1.0
        return logits

    logits_a, labels_a = one_hot([O, B_PER, O, I_PER, O], 6), torch.tensor([[X, B_PER, X, I_PER, O, X]])
    assert ner.predictions_to_tags(logits_a, labels_a, NER_LABELS) == \
        ([["B-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]])
    logits_b, labels_b = one_hot([O, B_LOC, O], 3), torch.tensor([[X, B_ORG, X]])    # shorter batch: T = 3
    scores = ner.metrics_for(NER_LABELS)([logits_a, logits_b], [labels_a, labels_b])
    assert scores["entity_f1"] == pytest.approx(0.5) and scores["token_accuracy"] == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="logits \\(B, T, C\\) and labels \\(B, T\\)"):
        ner.predictions_to_tags(logits_a[0], labels_a, NER_LABELS)


def test_training_a_tiny_tagger_end_to_end(tokenizer):
    data = sentences(NAMES, SHORT, (["Angela", "Merkel"], ["B-PER", "I-PER"]), (["It", "rained"], ["O", "O"]))
    loader = ner.make_loader(ner.tokenize_and_align(data, tokenizer), tokenizer, batch_size=2)
    torch.manual_seed(0)
    model = BertForTokenClassification(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                                                  num_attention_heads=2, intermediate_size=64, num_labels=9))
    history = training.train(model, loader, loader, training.TrainingConfig(epochs=1, progress=False),
                             compute_metrics=ner.metrics_for(NER_LABELS))
    assert {"entity_f1", "entity_precision", "entity_recall", "token_accuracy"} <= set(history.epochs[0])
    true, pred = ner.predict_tags(model, loader, NER_LABELS)
    assert true == [list(tags) for _, tags in (NAMES, SHORT, (0, ["B-PER", "I-PER"]), (0, ["O", "O"]))]
    assert [len(p) for p in pred] == [len(t) for t in true]   # one prediction per word


def test_align_labels_takes_numpy_and_torch_ids():
    assert ner.align_labels([None, 0, 0, 1, None], np.array([B_LOC, O])) == [X, B_LOC, X, O, X]
    assert ner.align_labels([None, 0, 1, None], torch.tensor([B_PER, I_PER]), True) == [X, B_PER, I_PER, X]


def test_make_loader_groups_sentences_of_similar_length(tokenizer):
    words = [["w"] * n for n in (1, 9, 2, 8, 3, 7, 4, 6)]
    data = Dataset.from_dict({"tokens": words, "ner_tags": [[O] * len(w) for w in words]}, features=ner_features())
    tokenized = ner.tokenize_and_align(data, tokenizer)
    plain = ner.make_loader(tokenized, tokenizer, batch_size=2)
    grouped = ner.make_loader(tokenized, tokenizer, batch_size=2, group_by_length=True)
    def padding(loader):
        return sum(int((b["attention_mask"] == 0).sum()) for b in loader)
    assert padding(grouped) < padding(plain)
    assert [b["input_ids"].shape[1] for b in grouped] == [11, 9, 6, 4]    # evaluation: longest first, fixed
    for batch in grouped:
        assert (batch["labels"][batch["attention_mask"] == 0] == X).all()
    shuffled = ner.make_loader(tokenized, tokenizer, batch_size=2, shuffle=True, group_by_length=True)
    seen = sorted(int(n) for b in shuffled for n in b["attention_mask"].sum(1))
    assert seen == sorted(len(w) + 2 for w in words)                     # every sentence once per epoch


# ---------------------------------------------------------------- BIO-constrained decoding

SMALL = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def brute_force(log_probs, label_names):
    """The best valid sequence by trying all C^W of them."""
    import itertools

    best, best_score = None, float("-inf")
    for path in itertools.product(range(len(label_names)), repeat=len(log_probs)):
        if ner.invalid_transitions([label_names[i] for i in path]):
            continue
        score = sum(log_probs[w, i].item() for w, i in enumerate(path))
        if score > best_score:
            best, best_score = list(path), score
    return best


def test_bio_viterbi_equals_brute_force_on_random_scores():
    g = torch.Generator().manual_seed(0)
    for words in range(1, 6):
        for _ in range(8):
            log_probs = (3 * torch.randn(words, len(SMALL), generator=g)).log_softmax(-1)
            assert ner.bio_viterbi(log_probs, SMALL) == brute_force(log_probs, SMALL)
    log_probs = torch.randn(4, 9, generator=g).log_softmax(-1)           # the course's nine labels
    assert ner.bio_viterbi(log_probs) == brute_force(log_probs, NER_LABELS)


def test_bio_viterbi_repairs_what_argmax_breaks_and_keeps_valid_argmax():
    def scores(*rows):
        return torch.tensor(rows).log()
    # argmax: O I-PER (invalid). Best valid: B-PER I-PER (0.4 · 0.9) beats O O (0.5 · 0.05) and O B-PER
    log_probs = scores([0.5, 0.4, 0.0, 0.1, 0.0], [0.02, 0.05, 0.9, 0.02, 0.01])
    assert [SMALL[i] for i in log_probs.argmax(-1)] == ["O", "I-PER"]
    assert [SMALL[i] for i in ner.bio_viterbi(log_probs, SMALL)] == ["B-PER", "I-PER"]
    # a greedy left-to-right repair would keep O and then pick the best allowed tag; Viterbi looks ahead
    valid = scores([0.1, 0.7, 0.1, 0.05, 0.05], [0.1, 0.1, 0.6, 0.1, 0.1])
    assert ner.bio_viterbi(valid, SMALL) == valid.argmax(-1).tolist()
    assert ner.bio_viterbi(torch.zeros(0, 5), SMALL) == []
    with pytest.raises(ValueError, match="C = 5 labels"):
        ner.bio_viterbi(torch.zeros(3, 9), SMALL)


def test_allowed_transitions_and_invalid_transitions():
    allowed = ner.allowed_transitions(SMALL)
    assert allowed.shape == (6, 5)
    assert allowed[:, SMALL.index("I-PER")].tolist() == [False, True, True, False, False, False]   # last: start
    assert allowed[:, [0, 1, 3]].all()
    assert ner.invalid_transitions(["I-PER", "O", "B-LOC", "I-PER", "I-LOC", "B-LOC", "I-LOC"]) == 3
    assert ner.invalid_transitions(["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]) == 0
    assert ner.invalid_transitions([]) == 0


def test_may_follow_is_the_one_bio_rule():
    assert ner.may_follow(None, "B-PER") and ner.may_follow("I-LOC", "O") and ner.may_follow("O", "B-LOC")
    assert ner.may_follow("B-PER", "I-PER") and ner.may_follow("I-PER", "I-PER")
    assert not ner.may_follow(None, "I-PER") and not ner.may_follow("O", "I-PER")
    assert not ner.may_follow("B-LOC", "I-PER")
    with pytest.raises(ValueError, match=r"may_follow\('X-PER', 'I-PER'\): unknown tag 'X-PER'"):
        ner.may_follow("X-PER", "I-PER")
    with pytest.raises(ValueError, match=r"position 1: unknown tag 'I_PER'.*joined by a hyphen: 'I-PER'"):
        ner.invalid_transitions(["B-PER", "I_PER"])


def test_viterbi_with_every_step_allowed_is_the_argmax():
    log_probs = torch.randn(7, 5, generator=torch.Generator().manual_seed(2)).log_softmax(-1)
    assert ner.viterbi(log_probs, torch.ones(6, 5, dtype=torch.bool)) == log_probs.argmax(-1).tolist()


def test_decode_argmax_or_constrained():
    log_probs = [torch.tensor([[0.5, 0.4, 0.0, 0.1, 0.0], [0.02, 0.05, 0.9, 0.02, 0.01]]).log()]
    assert ner.decode(log_probs, SMALL) == [["O", "I-PER"]]
    assert ner.decode(log_probs, SMALL, constrained=True) == [["B-PER", "I-PER"]]
    with pytest.raises(TypeError, match=r"a list of \(W, C\) tensors, one per sentence.*pass \[log_probs\]"):
        ner.decode(log_probs[0], SMALL)
    with pytest.raises(ValueError, match=r"log_probs\[0\] must be a \(W, C\) tensor with C = 9 labels, got shape"):
        ner.decode(log_probs)                            # five scores per word, nine labels


def test_predict_word_log_probs_reads_first_subtokens(tokenizer):
    tokenized = ner.tokenize_and_align(sentences(NAMES, SHORT), tokenizer)
    loader = ner.make_loader(tokenized, tokenizer, batch_size=2)
    model = LookupTagger(tokenizer, {"no": "B-PER", "dl": "I-PER", "ac": "B-ORG"})
    true, log_probs = ner.predict_word_log_probs(model, loader, NER_LABELS)
    assert true == [list(NAMES[1]), list(SHORT[1])]
    assert [tuple(s.shape) for s in log_probs] == [(len(NAMES[1]), 9), (len(SHORT[1]), 9)]
    assert ner.decode(log_probs) == ner.predict_tags(model, loader, NER_LABELS)[1]
    torch.testing.assert_close(log_probs[0].exp().sum(-1), torch.ones(len(NAMES[1])))


# ---------------------------------------------------------------- error analysis and unseen entities

def test_entity_errors_name_each_kind_of_mistake():
    true = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG", "I-ORG", "O", "B-MISC", "O", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG", "O", "B-ORG", "I-ORG", "O", "O", "O", "O", "B-LOC"]]
    errors = ner.entity_errors(true, pred)
    assert [(e.kind, e.gold, e.predicted) for e in errors] == [
        ("type", ("LOC", 3, 4), ("ORG", 3, 4)),
        ("boundary", ("ORG", 5, 8), ("ORG", 5, 7)),
        ("missed", ("MISC", 9, 10), None),
        ("spurious", None, ("LOC", 11, 12)),
    ]
    assert ner.entity_errors([["B-LOC", "I-LOC"]], [["B-ORG", "O"]])[0].kind == "boundary+type"
    assert ner.entity_errors(true, true) == []


def test_entity_confusion_counts_exact_spans_and_the_none_row_and_column():
    true = [["B-PER", "O", "B-LOC", "B-ORG", "I-ORG"], ["B-MISC", "O"]]
    pred = [["B-PER", "O", "B-ORG", "B-ORG", "O"], ["O", "B-LOC"]]
    matrix = ner.entity_confusion(true, pred)
    expected = np.zeros((5, 5), dtype=int)
    expected[0, 0] = 1           # PER right
    expected[2, 1] = 1           # LOC predicted as ORG (same span)
    expected[1, 4] = 1           # ORG span "B-ORG I-ORG" not predicted: a boundary error …
    expected[4, 1] = 1           # … whose shorter ORG is spurious
    expected[3, 4] = 1           # MISC missed
    expected[4, 2] = 1           # a spurious LOC
    assert (matrix == expected).all()
    assert matrix[:4].sum() == 4 and matrix[:, :4].sum() == 4   # gold entities, predicted entities


def test_scores_by_novelty_splits_by_the_entity_string():
    train_tokens, train_tags = [["Paris", "and", "Acme", "Corp"]], [["B-LOC", "O", "B-ORG", "I-ORG"]]
    seen = ner.entity_strings(train_tokens, train_tags)
    assert seen == {"paris", "acme corp"}
    assert ner.entity_strings(train_tokens, [[B_LOC, O, B_ORG, I_ORG]]) == seen        # ids work too
    tokens = [["PARIS", "met", "Lyon", "and", "Acme", "Corp", "Ltd"]]
    true = [["B-LOC", "O", "B-LOC", "O", "B-ORG", "I-ORG", "I-ORG"]]
    pred = [["B-LOC", "O", "B-LOC", "O", "B-ORG", "I-ORG", "O"]]
    scores = ner.scores_by_novelty(tokens, true, pred, seen)
    # seen: gold PARIS (found); predicted PARIS (right), "Acme Corp" (wrong: gold is "Acme Corp Ltd")
    assert scores["seen"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "gold": 1, "predicted": 2}
    # unseen: gold Lyon (found), "Acme Corp Ltd" (missed); predicted Lyon (right)
    assert scores["unseen"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "gold": 2,
                                "predicted": 1}


def test_word_log_prob_helper_moves_inputs_to_the_models_device(tokenizer):
    from test_devices import OtherDeviceStub, reaches_the_model

    split = Dataset.from_dict({"tokens": [["Ada", "lived", "in", "London"]], "ner_tags": [[1, 0, 0, 5]]})
    loader = ner.make_loader(ner.tokenize_and_align(split, tokenizer), tokenizer, 1)
    assert reaches_the_model(ner.predict_word_log_probs, OtherDeviceStub(num_labels=len(NER_LABELS)), loader,
                             NER_LABELS)
