"""Question answering, shown: the gold and the predicted answer, or the tokens' offsets, marked on the passage."""

from sftlab.course.highlight import Highlighted

COLOURS = {"gold": "#c8e6c9", "predicted": "#ffe0b2", "gold+predicted": "#aed581"}


def mark_answer(context: str, predicted: tuple[int, int] | None, gold: tuple[int, int]) -> Highlighted:
    """The context with the gold answer (green), the predicted one (orange) and their overlap marked."""
    spans = [(*gold, "gold")] + ([(*predicted, "predicted")] if predicted is not None else [])
    return Highlighted(context, spans, COLOURS)


def mark_tokens(text: str, offsets, tokens) -> Highlighted:
    """Each token's characters marked in turn (alternating colours; the label is the token): what offsets are."""
    return Highlighted(text, [(s, e, token) for (s, e), token in zip(offsets, tokens, strict=True) if e > s])
