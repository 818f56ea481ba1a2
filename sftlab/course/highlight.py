"""Text with marked character spans — entities (chapter 04), answers and tokens (chapter 07): coloured HTML in
Jupyter, "[span|label]" brackets in a terminal or a test.

    Highlighted("Paris is big", [(0, 5, "LOC")], colours={"LOC": "#c8f2c2"}, labels_inside=True)
"""

import html

PALE = ("#e3f2fd", "#fff3e0")   # labels without a colour of their own alternate these two (e.g. tokens)


class Highlighted:
    """`text` with `spans` marked. spans: (start, end, label) or (start, end, label, tooltip) with character
    offsets, end exclusive; spans may overlap (their common piece is marked "label+label"). colours: {label: CSS
    colour}. labels_inside: write each label in its mark (entity types) instead of only in the tooltip."""

    def __init__(self, text: str, spans, colours: dict | None = None, labels_inside: bool = False):
        if not isinstance(text, str):
            raise TypeError(f"Highlighted takes the text as a string, got {type(text).__name__}")
        spans = [tuple(span) for span in spans]
        for span in spans:
            if len(span) not in (3, 4):
                raise TypeError(f"each span is (start, end, label[, tooltip]), got {span!r:.60}")
            start, end, label = span[:3]
            if not 0 <= start <= end <= len(text):
                raise ValueError(f"span {label!r} covers characters {start}–{end}, outside the text "
                                 f"(length {len(text)})")
        self.text, self.spans = text, sorted(span if len(span) == 4 else (*span, span[2]) for span in spans)
        self.colours, self.labels_inside = dict(colours or {}), labels_inside

    def _pieces(self):
        """(text, label or None, tooltip) pieces that make up the text; overlapping marks join their labels."""
        cuts = sorted({0, len(self.text), *(s for s, *_ in self.spans), *(e for _, e, *_ in self.spans)})
        for a, b in zip(cuts, cuts[1:], strict=False):
            covering = [(label, tip) for s, e, label, tip in self.spans if s <= a and b <= e]
            label = "+".join(sorted({label for label, _ in covering})) or None
            yield self.text[a:b], label, "; ".join(sorted({tip for _, tip in covering}))

    def __str__(self) -> str:
        return "".join(piece if label is None else f"[{piece}|{label}]" for piece, label, _ in self._pieces())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        parts, marked = [], 0
        for piece, label, tip in self._pieces():
            if label is None:
                parts.append(html.escape(piece))   # the text may hold <, > or &: never let it become markup
                continue
            colour = self.colours.get(label, PALE[marked % 2])
            marked += 1
            inside = f' <b style="font-size:0.7em">{html.escape(label)}</b>' if self.labels_inside else ""
            parts.append(f'<mark style="background:{colour}; padding:1px 3px; border-radius:4px" '
                         f'title="{html.escape(tip)}">{html.escape(piece)}{inside}</mark>')
        return f'<div style="line-height:2">{"".join(parts)}</div>'
