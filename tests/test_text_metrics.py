"""sftlab.text_metrics: ROUGE-L from scratch against Google's rouge-score, chrF through sacrebleu."""

import random

import pytest

from sftlab.text_metrics import chrf, lcs_length, mean_rouge_l, rouge_l, rouge_tokens, sentence_chrf

ENGLISH = [
    ("The cat sat on the mat.", "the cat is on the mat"),
    ("Please send the report by Friday.", "Kindly send the report before Friday, please."),
    ("2024-03-05", "2024-03-05"),
    ("LoRA adds a low-rank update B·A to a frozen weight.", "A frozen weight gets a trainable low-rank update."),
    ("", "anything"),
    ("!!!", "?"),
    ("Yes", "no"),
    ("a a a b", "a b a b a"),
    ("Don't use the U.S. spelling; it's colour.", "dont use us spelling its colour"),
]
CHINESE = [
    ("北京是中国的首都。", "中国的首都是北京"),
    ("请在周五之前把报告发给我。", "周五前请把报告发给我"),
    ("LoRA 只训练低秩矩阵", "LoRA只训练两个低秩矩阵"),
    ("今天天气很好", "明天会下雨"),
    ("我喜欢 NLP 和 AI", "我也喜欢nlp"),
]


def random_pairs(n=200, seed=0):
    """Random texts over a small vocabulary (many shared words, so long common subsequences)."""
    rng = random.Random(seed)
    words = ["the", "a", "model", "Model,", "data", "loss", "is", "low", "high", "LoRA", "rank", "2", "x-ray", "!"]
    return [(" ".join(rng.choices(words, k=rng.randint(0, 15))), " ".join(rng.choices(words, k=rng.randint(1, 15))))
            for _ in range(n)]


class CharacterTokenizer:
    """Our tokenisation in rouge-score's tokenizer interface, so its scorer can run on Chinese."""

    def tokenize(self, text):
        return rouge_tokens(text)


def test_tokens_equal_rouge_scores_own_on_text_without_chinese():
    from rouge_score import tokenize

    for prediction, reference in ENGLISH + random_pairs():
        for text in (prediction, reference):
            assert rouge_tokens(text) == tokenize.tokenize(text, None), text


def test_rouge_l_equals_rouge_score_on_english():
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    for prediction, reference in ENGLISH + random_pairs():
        expected = scorer.score(reference, prediction)["rougeL"].fmeasure      # score(target, prediction)
        assert rouge_l(prediction, reference) == pytest.approx(expected, abs=1e-12), (prediction, reference)


def test_chinese_is_one_token_per_character_and_scores_like_rouge_score_with_that_tokenizer():
    from rouge_score import rouge_scorer

    assert rouge_tokens("北京大学,在海淀区。") == ["北", "京", "大", "学", "在", "海", "淀", "区"]
    assert rouge_tokens("我喜欢NLP和AI 2024") == ["我", "喜", "欢", "nlp", "和", "ai", "2024"]
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=CharacterTokenizer())
    for prediction, reference in CHINESE:
        expected = scorer.score(reference, prediction)["rougeL"].fmeasure
        assert rouge_l(prediction, reference) == pytest.approx(expected, abs=1e-12)
    assert rouge_l("北京是中国的首都。", "中国的首都是北京") == pytest.approx(5 / 8)   # LCS 中国的首都: 5 of 8


def test_rouge_scores_default_tokenizer_sees_no_token_in_chinese():
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    assert scorer.score("北京是中国的首都", "北京是中国的首都")["rougeL"].fmeasure == 0.0
    assert rouge_l("北京是中国的首都", "北京是中国的首都") == 1.0


def test_lcs_length_by_hand_and_symmetry():
    assert lcs_length(list("ABCBDAB"), list("BDCABA")) == 4            # the textbook pair (BCBA)
    assert lcs_length([], [1, 2]) == 0 and lcs_length([1, 2, 3], [1, 2, 3]) == 3
    for prediction, reference in random_pairs(50, seed=1):
        a, b = rouge_tokens(prediction), rouge_tokens(reference)
        assert lcs_length(a, b) == lcs_length(b, a) <= min(len(a), len(b))


def test_mean_rouge_l_and_its_errors():
    from rouge_score import rouge_scorer

    pairs = ENGLISH[:4]
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    assert mean_rouge_l([p for p, _ in pairs], [r for _, r in pairs]) == pytest.approx(
        sum(scorer.score(r, p)["rougeL"].fmeasure for p, r in pairs) / 4, abs=1e-12)
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        mean_rouge_l(["a", "b"], ["a"])
    with pytest.raises(TypeError, match="predictions must be a list of strings"):
        mean_rouge_l("a b", ["a b"])
    with pytest.raises(ValueError, match="no pairs"):
        mean_rouge_l([], [])
    with pytest.raises(TypeError, match="needs a string"):
        rouge_tokens(None)
    with pytest.raises(TypeError, match="predictions must be a list of strings, got generator"):
        mean_rouge_l((p for p, _ in pairs), [r for _, r in pairs])
    with pytest.raises(TypeError, match="predictions must be a list of strings, got dict"):
        chrf({"a": "b"}, ["a"])                          # would score the keys


def test_chrf_is_sacrebleus():
    from sacrebleu.metrics import CHRF

    predictions = [p for p, _ in ENGLISH + CHINESE]
    references = [r for _, r in ENGLISH + CHINESE]
    assert chrf(predictions, references) == CHRF().corpus_score(predictions, [references]).score
    assert sentence_chrf("北京是中国的首都", "北京是中国的首都") == pytest.approx(100.0)
    assert 0 < sentence_chrf("中国的首都是北京", "北京是中国的首都") < 100
    with pytest.raises(ValueError, match="one prediction per reference"):
        chrf(["a"], ["a", "b"])
