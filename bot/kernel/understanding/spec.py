"""What a capability declares about the messages it understands, and what a message was understood as.

A feature lists its :class:`IntentSpec` s next to its skill (``bot/features/<name>/intents.py``): the
intent's name (``deal.lost``), example utterances, the slots it may carry, which of them it needs before
it can act, whether acting on it writes, and the kind of record it is about. The understanding layer
(:mod:`bot.kernel.understanding.reader`) trains its model from the examples and reads every message into
ranked :class:`Reading` s; the conversation acts on them.

Examples are written the way people type, with placeholders where a value goes, so the model learns the
shape of a request and not its names: ``{ref}`` (a reference of the intent's record kind), ``{dref}``,
``{lref}``, ``{qref}``, ``{mref}``, ``{cref}``, ``{name}`` (a customer, lead company or activity the
person may see), ``{partner}``, ``{product}``, ``{amount}``, ``{date}``, ``{quarter}``, ``{url}``,
``{email}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from bot.kernel.understanding.slots import SlotContext

Role = Literal["partner", "staff"]
# The words that widen a list to everything, closed records included: a ``scope`` slot's vocabulary.
ALL_WORDS: Mapping[str, str] = {
    w: "all" for w in ("all", "every", "everything", "including", "incl", "inclusive", "history", "closed")
}
# The words that ask for a record's changes rather than the record: a ``view`` slot's vocabulary.
HISTORY_WORDS: Mapping[str, str] = {
    w: "history"
    for w in ("history", "changes", "changed", "changelog", "audit", "log", "timeline", "who changed")
}
BOTH: frozenset[str] = frozenset({"partner", "staff"})
PARTNER: frozenset[str] = frozenset({"partner"})
STAFF: frozenset[str] = frozenset({"staff"})


@dataclass(frozen=True, slots=True)
class IntentSpec:
    """One thing a person can ask for.

    ``record`` is the reference kind the intent acts on (``"D"``, ``"L"``, ``"Q"``, ``"M"``, ``"C"``) or
    None; a record named by its customer or activity instead of its reference is looked up among what
    the person may see, and a write on such an inferred record is confirmed first. ``needs`` are slots
    without which the intent cannot act; the skill asks for them. ``confirm`` is how a reading is shown
    on a choice button or in a confirmation ("Mark {ref} lost"), with slot names in braces.
    ``values`` maps a slot to the words that name its values (``{"stage": {"poc": "evaluation"}}``);
    ``parse`` reads the slots only this intent has (a new customer's name) from a
    :class:`~bot.kernel.understanding.slots.SlotContext`. An intent on a ``record`` that writes nothing
    and has the bare ``"{ref}"`` among its examples is the one that shows such a record: what a
    reference alone ("L-1") is read as (:mod:`~bot.kernel.understanding.reader`).
    """

    name: str
    examples: tuple[str, ...]
    slots: tuple[str, ...] = ()
    roles: frozenset[str] = BOTH
    writes: bool = False
    confirms: bool = False  # acting on it shows what would be written and asks first (a registration)
    record: str | None = None
    confirm: str = ""
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    parse: Callable[[SlotContext], dict[str, Any]] | None = None

    @property
    def needs(self) -> tuple[str, ...]:
        """The slots without which the intent cannot act: the record it is about. Acting on a reading
        without them makes the skill ask for them (with the person's records as choices)."""
        return ("ref",) if self.record else ()

    @property
    def skill(self) -> str:
        """The prefix of the skill that acts on this intent (``deal`` for ``deal.lost``)."""
        return self.name.split(".", 1)[0]


@dataclass(slots=True)
class Reading:
    """One way of understanding a message: an intent, the slots found for it, and how sure the model is.

    ``slots`` hold parsed values (a ``Money`` for ``amount``, a ``date`` for ``close_date``, ``"D-3"``
    for ``ref``, a list of references for ``refs``); ``invalid`` what was given but could not be read,
    with the reason (``{"amount": "Amounts must be positive"}``); ``inferred`` the slots the layer
    worked out rather than read (a ``ref`` found from a customer's name), which a write confirms first.
    ``candidates`` are the records a name could mean when it was not clear which; ``doubts`` say what
    in the message could also mean something else ("03/04/2027 read as 3 Apr 2027, not 4 Mar 2027"),
    and a reading with doubts is confirmed before it is acted on. ``suggested`` is set
    when the intent was the optional language model's pick (:mod:`~bot.kernel.understanding.llm`): the
    raw values it read, whatever of them was kept; a write on such a reading is always confirmed first.
    """

    intent: str
    confidence: float
    text: str
    slots: dict[str, Any] = field(default_factory=dict)
    invalid: dict[str, str] = field(default_factory=dict)
    inferred: set[str] = field(default_factory=set)
    candidates: list[tuple[str, str]] = field(default_factory=list)
    confirmed: bool = False
    suggested: dict[str, str] | None = None
    doubts: list[str] = field(default_factory=list)  # what could be meant otherwise, to confirm first

    @property
    def ref(self) -> str | None:
        value = self.slots.get("ref")
        return str(value) if value else None

    def get(self, name: str, default: Any = None) -> Any:
        return self.slots.get(name, default)


@dataclass(slots=True)
class Understood:
    """Every reading of one message, best first, and what the layer decided to do with them."""

    text: str
    readings: list[Reading]
    decision: Literal["act", "ask", "unknown"]

    @property
    def best(self) -> Reading | None:
        return self.readings[0] if self.readings else None


def confirmed_first(spec: IntentSpec, reading: Reading) -> bool:
    """Whether the conversation asks "... - is that right?" before the skill acts on ``reading``: a write
    on a record found by name rather than by a typed reference, or on anything the language model
    suggested. (An intent that shows its own summary to confirm, a registration, is confirmed there.)"""
    return spec.writes and not spec.confirms and ("ref" in reading.inferred or reading.suggested is not None)
