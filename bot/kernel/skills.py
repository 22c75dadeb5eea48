"""How capabilities plug into the conversation.

Every capability (deals, leads, questions, ...) is a :class:`Skill`. For a typed message, the
conversation offers it first to the skill that owns the dialog in progress, then to every skill in
order, then to the :class:`FallbackSkill` (deals), which answers whatever nobody claimed. Buttons and
forms are routed by the prefix of their action/form id (``lead.accept`` -> the skill whose ``prefix`` is
``lead``); what no skill's prefix names goes to the fallback, and so does a dialog no prefix names. A
skill raises :class:`bot.kernel.errors.PartnerbotError` subclasses for replies such as "not found"; the
conversation turns them into text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.kernel.messages import Actor, Button, Choice, FormResult, Reply
from bot.kernel.refs import RefKind
from bot.kernel.understanding.entities import Named
from bot.kernel.understanding.spec import IntentSpec, Reading
from store import queries
from store.db import Database

STALE_BUTTON = "That button is no longer available."
STALE_FORM = "That form is no longer available."
CANCELLED = "Cancelled. Nothing was saved."


def stale_button() -> list[Reply]:
    """The answer to a button no skill knows (an old message, a renamed action)."""
    return [Reply(text=STALE_BUTTON)]


def cancelled() -> list[Reply]:
    """The answer to "cancel" in any dialog: the one text for it, after the dialog is cleared."""
    return [Reply(text=CANCELLED)]


def stale_form() -> FormResult:
    """The answer to a form no skill knows."""
    return FormResult(replies=[Reply(text=STALE_FORM)])


@dataclass(frozen=True, slots=True)
class Dialog:
    """A dialog in progress: ``flow`` names it (prefixed with the owning skill, e.g. ``lead.decline``).

    ``reading`` is the understanding layer's reading of the message that continues it, as the intent
    the owning skill reads its answers as (:meth:`DialogReader.dialog_intent`); None for a dialog whose
    answers are taken as typed (a reason, a choice)."""

    flow: str
    state: dict[str, Any]
    reading: Reading | None = None


class DialogStore:
    """Persisted dialog state, one per person, so a conversation survives a restart."""

    def __init__(self, *, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    async def load(self, actor: Actor) -> Dialog | None:
        async with self.db.transaction() as session:
            row = await queries.dialog_of(session, actor.person_id)
            return Dialog(row.flow, dict(row.state)) if row else None

    async def save(self, actor: Actor, flow: str, state: dict[str, Any]) -> None:
        async with self.db.transaction() as session:
            await queries.save_dialog(
                session, person_id=actor.person_id, flow=flow, state=state, now=self.clock()
            )

    async def clear(self, actor: Actor) -> None:
        async with self.db.transaction() as session:
            await queries.clear_dialog(session, actor.person_id)


class Skill(Protocol):
    """A capability in the conversation. Every method returns ``None`` for "not mine".

    A skill may also declare ``also_takes``: intents of another skill it acts on when their owner leaves
    a reading to it (``on_intent`` returned None) - the MDF skill takes ``staff.pending`` read with the
    topic "mdf", the review queue's MDF part."""

    prefix: str  # owns actions, forms and dialog flows named "<prefix>.…"
    intents: tuple[IntentSpec, ...]  # what it understands (bot/kernel/understanding/spec.py)

    def help_lines(self, actor: Actor) -> list[str]:
        """Lines for 'help', written as examples of what the person can type."""
        ...

    async def on_intent(self, actor: Actor, reading: Reading) -> list[Reply] | None:
        """Act on a reading of one of ``intents``; None when this reading is not one it acts on."""
        ...

    async def continue_dialog(self, actor: Actor, dialog: Dialog, text: str) -> list[Reply] | None:
        """The next message in a dialog whose flow starts with ``prefix``; None lets others answer."""
        ...

    async def on_action(self, actor: Actor, action: str, data: dict[str, str]) -> list[Reply]: ...

    async def on_form(
        self, actor: Actor, form_id: str, values: dict[str, str], data: dict[str, str]
    ) -> FormResult: ...

    async def home(self, actor: Actor) -> list[Reply]:
        """Sections for the person's home view."""
        ...


class Findable(Protocol):
    """A skill whose records a person can look up by reference or find by name - a search (the Teams
    message extension), a card that refreshes for each viewer. ``records`` is the kind of reference it
    owns; its ``<prefix>.show`` action shows one record (data ``{"ref": ...}``), with the same checks as
    any other click."""

    prefix: str
    records: RefKind

    async def findable(self, actor: Actor) -> list[Named]:
        """The records of ``records``' kind ``actor`` may see, each by the name a person would search for
        (a deal's customer, a lead's company, a question's text); never another partner's."""
        ...


class ChoiceSource(Protocol):
    """A skill whose forms have pickers too long to list in full (a Slack ``external_select``): the
    choices of one field, for one person - only what they may pick, never another partner's records."""

    async def form_choices(
        self, actor: Actor, form_id: str, field: str, data: dict[str, str]
    ) -> list[Choice] | None:
        """Every choice of ``field`` on form ``form_id`` for ``actor``; None when it isn't this skill's."""
        ...


class DialogReader(Protocol):
    """A skill whose dialogs take details in typed answers ("Globex, 120k EUR, end of March" to "Which
    customer?") has them read by the understanding layer, not by patterns of its own: the conversation
    reads the answer as the intent this names and hands the reading over in :attr:`Dialog.reading`."""

    def dialog_intent(self, flow: str) -> str | None:
        """The intent the answers typed in dialog ``flow`` are read as; None to take them as typed."""
        ...


class FallbackSkill(Skill, Protocol):
    """The skill that answers typed text no other skill claimed, and every action, form and dialog no
    skill's prefix names. Its help lines and home sections come first, and its buttons are the help's."""

    def help_buttons(self, actor: Actor) -> list[Button]:
        """The buttons under 'help': the things most people come for."""
        ...

    def not_understood(self, actor: Actor) -> Reply:
        """The answer to a message nothing understood: what one can say instead."""
        ...
