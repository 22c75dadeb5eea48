"""Human references: D-12 (deal), L-7 (lead), Q-3 (question), KB-4 (knowledge-base entry), M-2 (MDF
request). Every message shows these; database ids never leave the store."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bot.kernel.errors import InputError, NotFound
from bot.kernel.messages import Actor

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RefKind:
    prefix: str
    noun: str
    plural: str
    example: int = 12
    field_name: str = "ref"
    article: str = "a"
    # the words a message names a record of this kind by ("the initech lead", "the hooli opp")
    words: tuple[str, ...] = ()
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", re.compile(rf"^\s*{self.prefix}-?(\d{{1,9}})\s*$", re.IGNORECASE))

    @property
    def token(self) -> str:
        """The reference as a regular-expression fragment with its number as a group: ``D-(\\d{1,9})``
        (``loose_token`` also takes ``d12``). The one grammar other patterns (message keys, mentions in
        text) are built from."""
        return rf"{self.prefix}-(\d{{1,9}})"

    @property
    def loose_token(self) -> str:
        return rf"{self.prefix}-?(\d{{1,9}})"

    def mention(self, *, loose: bool = False) -> re.Pattern[str]:
        """A reference anywhere in a text, as a word: ``... about D-12 ...``."""
        return re.compile(rf"\b{self.loose_token if loose else self.token}\b", re.IGNORECASE)

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

    def not_found(self, number: int, *, among: str | None = None) -> NotFound:
        """The one answer for a reference that does not exist and for one the reader may not see, so
        neither tells the other apart: "I can't find D-12 among your deals."."""
        return NotFound(f"I can't find {self.format(number)} among {among or 'your ' + self.plural}.")

    async def find(
        self,
        actor: Actor,
        ref: str,
        load: Callable[[int], Awaitable[T | None]],
        *,
        partner_of: Callable[[T], int | None],
    ) -> T:
        """The record ``ref`` names, loaded with ``load(number)``, if ``actor`` may see it: staff see
        every record, a partner user only their organisation's; else :meth:`not_found`."""
        number = self.parse(ref)
        record = await load(number)
        if record is None or not may_see(actor, partner_of(record)):
            raise self.not_found(number)
        return record


def mention_any(*, strict: tuple[RefKind, ...] = (), loose: tuple[RefKind, ...] = ()) -> re.Pattern[str]:
    """Any of these references as a word in a text, e.g. another feature's reference that tells a skill
    a message is not for it. ``loose`` kinds also match without the hyphen (``d12``); ``strict`` ones
    need it where the bare form means something else (``q1`` is a quarter)."""
    tokens = [rf"{k.prefix}-\d{{1,9}}" for k in strict] + [rf"{k.prefix}-?\d{{1,9}}" for k in loose]
    return re.compile(rf"\b(?:{'|'.join(tokens)})\b", re.IGNORECASE)


def may_see(actor: Actor, partner_id: int | None) -> bool:
    """Staff see every partner's records; a partner user only their own organisation's."""
    return actor.is_staff or (actor.partner_id is not None and partner_id == actor.partner_id)


DEAL = RefKind(
    "D", "deal", "deals", words=("deal", "deals", "opportunity", "opp", "opps", "registration", "reg", "regs")
)
LEAD = RefKind("L", "lead", "leads", words=("lead", "leads"))
QUESTION = RefKind("Q", "question", "questions", example=3)
KB_ENTRY = RefKind("KB", "knowledge-base", "entries", example=3, field_name="kb")
MDF_REQUEST = RefKind("M", "MDF", "MDF requests", example=3, article="an", words=("mdf", "funds"))
CONTENT_ITEM = RefKind("C", "content", "content items", example=3)

# Every kind, for a reader that takes whichever reference a message types. D- and L- references are
# also read without the hyphen ("d3"); "q1" is a quarter and "m1" too short a word to be one.
ALL_KINDS = (KB_ENTRY, DEAL, LEAD, QUESTION, MDF_REQUEST, CONTENT_ITEM)
ANY_REF_RE = mention_any(strict=(KB_ENTRY, QUESTION, MDF_REQUEST, CONTENT_ITEM), loose=(DEAL, LEAD))


def normalize_ref(typed: str) -> str:
    """A reference as typed ("d3", "KB-4") in its one written form ("D-3", "KB-4")."""
    match = re.fullmatch(r"\s*([A-Za-z]+)-?(\d{1,9})\s*", typed)
    if match is None:
        raise InputError("ref", f"{typed!r} is not a reference; references look like D-12 or L-7.")
    return f"{match.group(1).upper()}-{int(match.group(2))}"
