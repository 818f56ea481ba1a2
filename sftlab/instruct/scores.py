"""Instruction SFT, step 4: scoring the generated answers of each task family, per language.

    language_report(test, answers)        # entity F1 and valid JSON, sentiment accuracy, ROUGE-L and chrF

An entities answer is a JSON object {"PER": [...], "ORG": [...], "LOC": [...], "MISC": [...]}; invalid JSON predicts
nothing. entities_answer writes an encoder's predicted entities the same way, so one scorer judges both models.
"""

import json

ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")          # the keys of every entities answer, in this order


def first_json_object(text: str) -> str | None:
    """The first balanced {…} in the text (braces inside JSON strings ignored), or None: what a lenient parser
    reads from an answer that starts with prose or is cut at the token cap after its object closed."""
    start = text.find("{")
    while start != -1:
        depth, in_string, escaped = 0, False, False
        for end in range(start, len(text)):
            char = text[end]
            if in_string:                                    # inside "…": only an unescaped quote ends it
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char in "{}":
                depth += 1 if char == "{" else -1
                if depth == 0:
                    return text[start:end + 1]
        start = text.find("{", start + 1)
    return None


def parse_entities(text: str, lenient: bool = False) -> dict | None:
    """The answer as {type: [strings]} if it is a JSON object, else None (invalid JSON scores zero). Strict (the
    default): the whole answer must be the object, as json.loads reads it; lenient: its first balanced {…}.
    Keys other than ENTITY_TYPES are ignored, a missing type counts as no entity, non-string items are dropped."""
    if not isinstance(lenient, bool):
        raise TypeError(f"lenient must be True or False, got {lenient!r}")
    if lenient and isinstance(text, str):
        text = first_json_object(text)
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    if not isinstance(parsed, dict):
        return None
    return {t: [s for s in parsed.get(t, []) if isinstance(s, str)] if isinstance(parsed.get(t), list) else []
            for t in ENTITY_TYPES}


def entity_set(parsed: dict | None) -> set[tuple[str, str]]:
    """{(type, text)} of a parsed answer, whitespace ignored ("Ghana 's" = "Ghana's"); empty for None."""
    if parsed is None:
        return set()
    return {(t, "".join(s.split())) for t in ENTITY_TYPES for s in parsed.get(t, []) if s.strip()}


def entity_scores(predictions: list[str], references: list[str], lenient: bool = False) -> dict:
    """Micro precision, recall and F1 over the (type, text) pairs of every sentence, from the answers' JSON
    (an invalid answer predicts nothing), and valid_json, the share of answers that parse — strictly (the whole
    answer is the object) or leniently (the first {…}, see parse_entities)."""
    if len(predictions) != len(references) or not references:
        raise ValueError(f"need as many predictions as references (≥ 1), got {len(predictions)} and {len(references)}")
    parsed = [parse_entities(p, lenient) for p in predictions]
    true_positives = predicted = gold = 0
    for guess, reference in zip(parsed, references, strict=True):
        wanted = entity_set(parse_entities(reference))
        found = entity_set(guess)
        true_positives += len(found & wanted)
        predicted, gold = predicted + len(found), gold + len(wanted)
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    valid = sum(p is not None for p in parsed) / len(parsed)
    return {"precision": precision, "recall": recall, "f1": f1, "valid_json": valid}


def entity_f1_difference(predictions_a: list[str], predictions_b: list[str], references: list[str],
                         resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """(entity F1 of a − entity F1 of b, low, high) on the same items, with a 95% interval from resampling the
    items: micro F1 is not a mean over items, so both F1s are recomputed on every resample (sftlab.stats)."""
    from sftlab.stats import resampled_interval

    if not len(predictions_a) == len(predictions_b) == len(references):
        raise ValueError(f"paired answers need one per reference: got {len(predictions_a)}, {len(predictions_b)} "
                         f"and {len(references)} references")

    def gap(picked):
        refs = [references[j] for j in picked]
        return (entity_scores([predictions_a[j] for j in picked], refs)["f1"]
                - entity_scores([predictions_b[j] for j in picked], refs)["f1"])

    return resampled_interval(gap, len(references), resamples=resamples, seed=seed)


def normalise_label(text: str) -> str:
    """A one-word answer as compared: stripped, lower case, without closing punctuation ("Positive." → "positive")."""
    return text.strip().lower().rstrip(".。!！ ")


def sentiment_correct(predictions: list[str], references: list[str]) -> list[bool]:
    """Exact match of each normalised answer with its reference label ("positive", "负面" …)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    return [normalise_label(p) == normalise_label(r) for p, r in zip(predictions, references, strict=True)]


def family_scores(family: str, predictions: list[str], references: list[str]) -> dict:
    """The scores of one family: entities → F1 and valid JSON, strict and lenient (parse_entities); sentiment →
    accuracy; open → ROUGE-L and chrF."""
    from sftlab.text_metrics import chrf, mean_rouge_l

    if family == "entities":
        strict, lenient = entity_scores(predictions, references), entity_scores(predictions, references, True)
        return {"entity F1": strict["f1"], "valid JSON": strict["valid_json"],
                "entity F1 (lenient)": lenient["f1"], "valid JSON (lenient)": lenient["valid_json"]}
    if family == "sentiment":
        correct = sentiment_correct(predictions, references)
        return {"sentiment accuracy": sum(correct) / len(correct)}
    if family == "open":
        return {"ROUGE-L": mean_rouge_l(predictions, references), "chrF": chrf(predictions, references)}
    raise ValueError(f"unknown family {family!r}; expected entities, sentiment or open")


def language_report(dataset, answers: list[str]):
    """A DataFrame of every family's scores, one row per language and one for all: the per-language report."""
    import pandas as pd

    if len(answers) != len(dataset):
        raise ValueError(f"{len(answers)} answers for {len(dataset)} conversations")
    rows = {}
    for language in [*sorted(set(dataset["language"])), "all"]:
        row = {}
        for family in ("entities", "sentiment", "open"):
            picked = [i for i, (f, lang) in enumerate(zip(dataset["family"], dataset["language"], strict=True))
                      if f == family and language in (lang, "all")]
            if picked:
                references = [dataset["reference"][i] for i in picked]
                row.update(family_scores(family, [answers[i] for i in picked], references))
        rows[language] = row
    return pd.DataFrame(rows).T


def entities_answer(entities) -> str:
    """An encoder's predicted entities (objects with .type and .text, as sftlab.ner.predict_entities gives) written
    as the entities family's JSON answer, so the same entity_scores judge both models."""
    answer = {t: [] for t in ENTITY_TYPES}
    for entity in entities:
        if entity.type in answer and entity.text not in answer[entity.type]:
            answer[entity.type].append(entity.text)
    return json.dumps(answer, ensure_ascii=False)
