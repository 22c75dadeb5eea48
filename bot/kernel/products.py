"""A product of the catalogue named in a form field or an answer, tolerant of small typos ("edge
gatway"): how a typed product is checked against the catalogue. Finding products inside a whole message
is the understanding layer's (:func:`bot.kernel.understanding.entities.find_products`)."""

from __future__ import annotations

from rapidfuzz import fuzz


def match_product(text: str, products: list[str]) -> tuple[str, tuple[int, int]] | None:
    """A known product named in ``text`` (case-insensitive, tolerant of small typos)."""
    lowered = text.lower()
    for name in sorted(products, key=len, reverse=True):
        at = lowered.find(name.lower())
        if at >= 0:
            return name, (at, at + len(name))
    best: tuple[float, str] | None = None
    for name in products:
        if len(lowered.strip()) < 0.75 * len(name):
            continue  # partial_ratio would find a short text inside any longer product name
        score = fuzz.partial_ratio(name.lower(), lowered)
        if score >= 90 and (best is None or score > best[0]):
            best = (score, name)
    if best:
        alignment = fuzz.partial_ratio_alignment(best[1].lower(), lowered)
        if alignment is not None:
            return best[1], (alignment.dest_start, alignment.dest_end)
    return None
