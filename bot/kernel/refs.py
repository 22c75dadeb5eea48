"""Human references: D-12 (deal), L-7 (lead), Q-3 (question), KB-4 (knowledge-base entry), M-2 (MDF
request). Every message shows these; database ids never leave the store."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.kernel.errors import InputError


@dataclass(frozen=True, slots=True)
class RefKind:
    prefix: str
    noun: str
    plural: str
    example: int = 12
    field_name: str = "ref"
    article: str = "a"
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", re.compile(rf"^\s*{self.prefix}-?(\d{{1,9}})\s*$", re.IGNORECASE))

    def format(self, number: int) -> str:
        return f"{self.prefix}-{number}"

    def parse(self, text: str) -> int:
        """The number in ``text`` (``D-12``, ``d12``); :class:`InputError` saying what a reference
        looks like otherwise."""
        match = self.pattern.match(text or "")
        if not match:
            raise InputError(
                self.field_name,
                f"{text!r} is not {self.article} {self.noun} reference; "
                f"{self.plural} look like {self.format(self.example)}.",
            )
        return int(match.group(1))


DEAL = RefKind("D", "deal", "deals")
LEAD = RefKind("L", "lead", "leads")
QUESTION = RefKind("Q", "question", "questions", example=3)
KB_ENTRY = RefKind("KB", "knowledge-base", "entries", example=3, field_name="kb")
MDF_REQUEST = RefKind("M", "MDF", "MDF requests", example=3, article="an")
CONTENT_ITEM = RefKind("C", "content", "content items", example=3)
