"""The conversation: plain words, buttons and forms in; replies out. Dialog state is persisted per
person after every turn, so a half-finished registration survives a restart.

Every handler (Slack, Teams, terminal) calls exactly these three entry points:
``handle_text``, ``handle_action`` and ``submit_form``. ``request_key`` (a platform's event or
activity id) makes a retried delivery a no-op.

What the bot can do is its skills' (:mod:`bot.kernel.skills`): the conversation routes a typed message
to the skill whose dialog is in progress, then to each skill in order, then to the fallback skill (deals,
wired in :mod:`bot.bootstrap`); buttons and forms by the prefix of their id. It knows no feature itself:
only cancel, help, home, and what keeps a request from being done twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from bot.kernel.amounts import parse_money
from bot.kernel.companies import normalize_domain, validate_company_name
from bot.kernel.dates import parse_close_date
from bot.kernel.errors import InputError, PartnerbotError, RequestFailed
from bot.kernel.messages import Actor, FormResult, Reply
from bot.kernel.skills import Dialog, DialogStore, FallbackSkill, Skill, stale_button, stale_form
from bot.kernel.words import CANCEL_RE, HELP_RE
from store import queries
from store.db import Database

log = logging.getLogger(__name__)

RETRYING_TEXT = "That didn't go through on my side, and nothing was changed. I'm trying it again now."
NOT_UNDERSTOOD = "I didn't catch that. Say 'help' to see what I can do."

MAX_MESSAGE = 2000


def check_message(text: str) -> str | None:
    """Why a message can't be read, or None when it can."""
    if len(text) > MAX_MESSAGE:
        return (
            f"That message is {len(text):,} characters long; I read messages of up to {MAX_MESSAGE:,}. "
            "Send the essentials, e.g. 'register a deal for Globex, 120k USD, closing end of March'."
        )
    if any(ord(ch) < 32 and ch not in "\n\t\r" for ch in text) or "\x7f" in text:
        return "That message contains control characters I can't read; please send plain text."
    return None


class Conversation:
    def __init__(
        self,
        *,
        db: Database,
        clock: Callable[[], datetime],
        default_currency: str = "USD",
        skills: Sequence[Skill] = (),
        fallback: FallbackSkill | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.default_currency = default_currency
        self.dialogs = DialogStore(db=db, clock=clock)
        self.skills: list[Skill] = list(skills)
        self.fallback = fallback
        self._actions: dict[str, Callable[[Actor], Awaitable[list[Reply]]]] = {
            "dialog.cancel": self._cancel,
            "help": self._help_action,
        }

    def add_skill(self, skill: Skill) -> None:
        self.skills.append(skill)

    def set_fallback(self, skill: FallbackSkill) -> None:
        """The skill offered typed text after every other skill, and what no skill's prefix names."""
        self.fallback = skill

    def _skill_for(self, name: str) -> Skill | None:
        prefix = name.split(".", 1)[0]
        return next((s for s in self.skills if s.prefix == prefix), None)

    # -- dialog state ---------------------------------------------------------------------------

    async def _load(self, actor: Actor) -> Dialog | None:
        return await self.dialogs.load(actor)

    async def _clear(self, actor: Actor) -> None:
        await self.dialogs.clear(actor)

    async def first_delivery(self, request_key: str) -> bool:
        """Claim a platform delivery that calls no other entry point (e.g. a welcome on install):
        False when it was seen before, so a redelivery does nothing twice."""
        return await self._first_delivery(request_key)

    async def _first_delivery(self, request_key: str | None) -> bool:
        if not request_key:
            return True
        async with self.db.transaction() as session:
            return await queries.claim_request(session, request_key, self.clock())

    async def _once(self, request_key: str | None, work: Callable[[], Awaitable[list[Reply]]]) -> list[Reply]:
        """Do a request's ``work`` once, whatever the platform redelivers, and keep its answer with the
        request key, so that an attempt whose answer could not be posted is answered by the next one:
        a retry gets the replies not yet posted (:meth:`answer_posted` counts them), or none.

        If the work raises (a bug, the database), the key stays free for the inbox's next attempt and
        :class:`RequestFailed` carries what to tell the person now - once, on the first failure."""
        if not request_key:
            return await self._guard(work)
        async with self.db.transaction() as session:
            if not await queries.claim_request(session, request_key, self.clock()):
                state = await queries.request_answer(session, request_key)
                if state is None or state[2] == 0:
                    # Done (answer kept below), or claimed by an attempt that died mid-work.
                    kept, posted = (state[0], state[1]) if state else (None, 0)
                    return [Reply.from_dict(r) for r in (kept or [])[posted:]]
                # An attempt whose work raised: this one does the work again.
        try:
            replies = await self._guard(work)
        except Exception as exc:
            async with self.db.transaction() as session:
                failures = await queries.note_failed(session, request_key)
            log.exception("request %s failed (%s time)", request_key, failures)
            raise RequestFailed([Reply(text=RETRYING_TEXT)] if failures == 1 else []) from exc
        async with self.db.transaction() as session:
            await queries.keep_answer(session, request_key, [r.to_dict() for r in replies])
        return replies

    async def answer_posted(self, request_key: str | None) -> None:
        """A platform posted one more reply of the answer :meth:`_once` kept for ``request_key``."""
        if request_key:
            async with self.db.transaction() as session:
                await queries.note_posted(session, request_key)

    # -- entry points ---------------------------------------------------------------------------

    async def handle_text(self, actor: Actor, text: str, *, request_key: str | None = None) -> list[Reply]:
        problem = check_message(text)
        if problem:
            return [Reply(text=problem)]
        if not text.strip():
            return [self._help(actor)]
        return await self._once(request_key, lambda: self._text(actor, text.strip()))

    async def handle_action(
        self, actor: Actor, action: str, data: dict[str, str] | None = None, *, request_key: str | None = None
    ) -> list[Reply]:
        return await self._once(request_key, lambda: self._action(actor, action, dict(data or {})))

    def precheck_form(self, values: Mapping[str, str | None]) -> dict[str, str]:
        """Field errors that the values alone show - no database, no person - for a platform that must
        answer a submitted form within seconds and can show errors in it (a Slack modal). Fields are
        read the way every form reads them (an ``amount`` is money, a ``close_date`` a date, ...);
        everything else is checked when the form is handled (:meth:`submit_form`)."""
        errors: dict[str, str] = {}
        # The earliest date it is anywhere: a date can only be "in the past" here if it is for everyone.
        earliest_today = (self.clock() - timedelta(hours=14)).date()
        for name, raw in values.items():
            value = (raw or "").strip()
            problem = check_message(value)
            if problem:
                errors[name] = problem
                continue
            if not value:
                continue
            try:
                if name == "amount":
                    parse_money(value, default_currency=self.default_currency)
                elif name == "close_date":
                    parse_close_date(value, today=earliest_today)
                elif name == "customer":
                    validate_company_name(value)
                elif name == "domain":
                    normalize_domain(value)
            except InputError as exc:
                errors[name] = exc.message
        return errors

    async def submit_form(
        self,
        actor: Actor,
        form_id: str,
        values: dict[str, str | None],
        *,
        data: dict[str, str] | None = None,
        request_key: str | None = None,
    ) -> FormResult:
        for name, value in values.items():
            problem = check_message(value or "")
            if problem:
                return FormResult(errors={name: problem})
        answered: FormResult | None = None

        async def work() -> list[Reply]:
            nonlocal answered
            answered = await self._form_result(actor, form_id, values, data)
            return list(answered.replies)

        replies = await self._once(request_key, work)
        if answered is None:  # a retry: what is left of the answer the first attempt kept
            return FormResult(replies=replies)
        if request_key and not answered.ok:
            # Field errors changed nothing: a corrected resubmission must go through.
            async with self.db.transaction() as session:
                await queries.release_request(session, request_key)
        return answered

    async def _form_result(
        self, actor: Actor, form_id: str, values: dict[str, str | None], data: dict[str, str] | None
    ) -> FormResult:
        try:
            return await self._form(
                actor, form_id, {k: (v or "").strip() for k, v in values.items()}, dict(data or {})
            )
        except InputError as exc:
            return FormResult(errors={exc.field: exc.message})
        except PartnerbotError as exc:
            return FormResult(replies=[Reply(text=str(exc))])

    async def _guard(self, step: Callable[[], Awaitable[list[Reply]]]) -> list[Reply]:
        try:
            return await step()
        except PartnerbotError as exc:
            return [Reply(text=str(exc))]

    # -- text -----------------------------------------------------------------------------------

    async def _text(self, actor: Actor, text: str) -> list[Reply]:
        if CANCEL_RE.match(text):
            return await self._cancel(actor)
        dialog = await self._load(actor)
        if HELP_RE.match(text):
            return self._help_in(actor, dialog)
        if dialog is not None:
            owner = self._skill_for(dialog.flow) or self.fallback
            handled = await owner.continue_dialog(actor, dialog, text) if owner else None
            if handled is not None:
                return handled
        for skill in self.skills:
            claimed = await skill.on_text(actor, text)
            if claimed is not None:
                return claimed
        answered = await self.fallback.on_text(actor, text) if self.fallback else None
        return answered if answered is not None else [Reply(text=NOT_UNDERSTOOD)]

    def _help_in(self, actor: Actor, dialog: Dialog | None) -> list[Reply]:
        replies = [self._help(actor)]
        if dialog:
            replies.append(
                Reply(
                    text="We're still in the middle of something: answer the last question, or type cancel."
                )
            )
        return replies

    async def _cancel(self, actor: Actor) -> list[Reply]:
        dialog = await self._load(actor)
        await self._clear(actor)
        if dialog is None:
            return [Reply(text="Nothing to cancel. Say 'help' to see what I can do.")]
        return [Reply(text="Cancelled. Nothing was saved.")]

    # -- buttons and forms ----------------------------------------------------------------------

    async def _action(self, actor: Actor, action: str, data: dict[str, str]) -> list[Reply]:
        skill = self._skill_for(action)
        if skill is not None:
            return await skill.on_action(actor, action, data)
        generic = self._actions.get(action)
        if generic is not None:
            return await generic(actor)
        if self.fallback is not None:
            return await self.fallback.on_action(actor, action, data)
        return stale_button()

    async def _help_action(self, actor: Actor) -> list[Reply]:
        return [self._help(actor)]

    async def _form(
        self, actor: Actor, form_id: str, values: dict[str, str], data: dict[str, str]
    ) -> FormResult:
        skill = self._skill_for(form_id) or self.fallback
        if skill is not None:
            return await skill.on_form(actor, form_id, values, data)
        return stale_form()

    # -- home and help --------------------------------------------------------------------------

    async def home(self, actor: Actor) -> list[Reply]:
        """What a person sees on the bot's home (Slack App Home, a Teams welcome card): the fallback
        skill's sections (a partner's open deals, staff's review queues), then every skill's."""
        sections = list(await self.fallback.home(actor)) if self.fallback else []
        for skill in self.skills:
            sections += await skill.home(actor)
        return sections

    def _help(self, actor: Actor) -> Reply:
        lines = list(self.fallback.help_lines(actor)) if self.fallback else []
        for skill in self.skills:
            lines += skill.help_lines(actor)
        lines.append("cancel - stop what we're doing")
        return Reply(
            title="Here's what I can do",
            text="\n".join(f"• {line}" for line in lines),
            buttons=self.fallback.help_buttons(actor) if self.fallback else [],
        )
