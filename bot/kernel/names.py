"""Finding a record by the name a person typed among the names they may see ("the contoso one",
"hooli"): typo-tolerant, ranked, and honest about doubt - one clear winner, or the close ones to offer
as choices. Callers pass only what the reader may see, so a suggestion never names another partner's
record."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.kernel.companies import normalize_company

SURE = 90  # a name at least this close is the one meant
CLOSE = 70  # names at least this close are worth offering as "did you mean ...?"


@dataclass(frozen=True, slots=True)
class NameMatch:
    best: str | None  # the name meant, when one is sure
    close: tuple[str, ...]  # otherwise the likely ones, best first (at most three)


def match_name(phrase: str, names: Iterable[str]) -> NameMatch:
    """Compare company-style names by their normalised keys ("Contoso Ltd." ~ "contoso")."""
    keys = {name: normalize_company(name) for name in names}
    if not keys or not phrase.strip():
        return NameMatch(None, ())
    ranked = process.extract(normalize_company(phrase), keys, scorer=fuzz.WRatio, limit=3)
    if ranked and ranked[0][1] >= SURE:
        return NameMatch(ranked[0][2], ())
    return NameMatch(None, tuple(name for _, score, name in ranked if score >= CLOSE))
