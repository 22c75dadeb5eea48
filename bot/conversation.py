"""The conversation: plain words, buttons and forms in; replies out. Dialog state is persisted per
person after every turn, so a half-finished registration survives a restart.

Every handler (Slack, Teams, terminal) calls exactly these three entry points:
``handle_text``, ``handle_action`` and ``submit_form``. ``request_key`` (a platform's event or
activity id) makes a retried delivery a no-op.

What the bot can do is its skills' (:mod:`bot.kernel.skills`): the conversation hands a typed message
to the skill whose dialog is in progress (unless the message clearly starts something else) - read by
the layer as the dialog's intent when the skill takes details in its answers - else reads
it with the understanding layer (:mod:`bot.kernel.understanding`), built from every skill's declared
intents, and acts on the reading through the skill that declared it - or asks which reading was meant.
No skill reads text of its own accord. Buttons and forms go by the prefix of their id (the fallback skill,
deals, wired in :mod:`bot.bootstrap`, takes what no prefix names). It knows no feature itself: only
cancel, help, home, and what keeps a request from being done twice.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz

from bot.kernel import outbox
from bot.kernel.amounts import Money, format_money, parse_money
from bot.kernel.companies import normalize_domain, validate_company_name
from bot.kernel.dates import format_date, parse_close_date
from bot.kernel.errors import InputError, PartnerbotError, RequestFailed
from bot.kernel.messages import Actor, Button, Choice, FormResult, Reply
from bot.kernel.metrics import METRICS
from bot.kernel.refs import RefKind
from bot.kernel.skills import (
    Dialog,
    DialogStore,
    FallbackSkill,
    Findable,
    Skill,
    cancelled,
    stale_button,
    stale_form,
)
from bot.kernel.understanding.entities import Entities, Named, find_entities
from bot.kernel.understanding.llm import LanguageModel, ground
from bot.kernel.understanding.meta import META_INTENTS
from bot.kernel.understanding.reader import Understanding
from bot.kernel.understanding.spec import Reading, Understood, confirmed_first
from bot.kernel.words import CANCEL_RE, HELP_RE, YES_RE
from store import queries
from store.db import Database

log = logging.getLogger(__name__)

RETRYING_TEXT = "That didn't go through on my side, and nothing was changed. I'm trying it again now."
NOT_UNDERSTOOD = "I didn't catch that. Say 'help' to see what I can do."
NOT_SURE = "I'm not sure what you mean. Pick one, or say 'help' to see what I can do:"
CHOOSE, CONFIRM = "understand.choose", "understand.confirm"
NO_UNDO = (
    "I can't undo a change. Tell me what it should be instead (e.g. 'D-12 amount 50k'), "
    "or open the record and change it there."
)
SMALL_TALK = {
    "meta.greeting": "Hi! Say 'help' to see what I can do.",
    "meta.thanks": "You're welcome!",
}
_PICK_RE = re.compile(r"^\s*([1-3])\s*[.)]?\s*$")
_NOTE_RE = re.compile(r"^note\b[\s:,.-]*", re.IGNORECASE)
NOTE_HELP = (
    "In this thread, whatever you tell me is kept with {ref} as a staff note (partners never see it), "
    "e.g. 'note: the customer confirmed the budget'. 'history {ref}' shows the notes with its changes."
)
_UNDERSTANDINGS: dict[tuple[str, ...], Understanding] = {}

MAX_MESSAGE = 2000
MAX_PROMPTS = 4  # Slack shows at most four suggested prompts in an assistant thread
MAX_PROMPT_TITLE = 75


def _choice(reading: Reading) -> dict[str, Any]:
    """A reading as a kept choice: its intent, its record, and the language model's raw values if it was
    the model's pick (read again when the choice is made, so a click after a restart acts the same)."""
    choice: dict[str, Any] = {"intent": reading.intent, "ref": reading.ref}
    if reading.suggested is not None:
        choice["model"] = dict(reading.suggested)
    return choice


def _doubts(reading: Reading) -> str:
    """What the layer was unsure of in a reading, for its confirmation: " (03/04/2027 read as ...)"."""
    return f" ({'; '.join(reading.doubts)})" if reading.doubts else ""


def _suggested(reading: Reading) -> str:
    """The values the language model supplied that a confirmation does not show otherwise
    (" with amount 150,000 USD"); nothing for a reading that is not the model's pick."""
    if reading.suggested is None:
        return ""
    shown = {"ref", "customer", "reason", "stage"}  # describe() shows these already
    parts = [
        f"{slot.replace('_', ' ')} {_shown(reading.slots[slot])}"
        for slot in sorted(reading.inferred - shown)
        if slot in reading.slots
    ]
    return f" with {', '.join(parts)}" if parts else ""


def _shown(value: Any) -> str:
    if isinstance(value, Money):
        return format_money(value)
    if isinstance(value, date):
        return format_date(value)
    return str(value)


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


SEARCH_LIMIT = 10
MAX_CHOICES = 100  # what a picker shows at once (Slack's limit for loaded options)
SEARCH_SCORE = 80  # rapidfuzz partial ratio: "glob" finds "Globex Corporation", "acme" not "Initech"


def _newest_first(named: Named) -> tuple[int, str]:
    number = re.search(r"(\d+)$", named.ref)
    return (-int(number.group(1)) if number else 0, named.ref)


class Conversation:
    def __init__(
        self,
        *,
        db: Database,
        clock: Callable[[], datetime],
        default_currency: str = "USD",
        skills: Sequence[Skill] = (),
        fallback: FallbackSkill | None = None,
        language_model: LanguageModel | None = None,
    ) -> None:
        self.db = db
        self.language_model = language_model  # optional (PARTNERBOT_LLM_URL): asked when unsure
        self.clock = clock
        self.default_currency = default_currency
        self.dialogs = DialogStore(db=db, clock=clock)
        self.skills: list[Skill] = list(skills)
        self.fallback = fallback
        self._actions: dict[str, Callable[[Actor, dict[str, str]], Awaitable[list[Reply]]]] = {
            "dialog.cancel": lambda actor, data: self._cancel(actor),
            "help": lambda actor, data: self._help_action(actor),
            "understand.pick": self._pick,
        }

    def add_skill(self, skill: Skill) -> None:
        self.skills.append(skill)

    def set_fallback(self, skill: FallbackSkill) -> None:
        """The skill offered typed text after every other skill, and what no skill's prefix names."""
        self.fallback = skill

    def _skill_for(self, name: str) -> Skill | None:
        prefix = name.split(".", 1)[0]
        return next((s for s in self.skills if s.prefix == prefix), None)

    # -- understanding ----------------------------------------------------------------------------

    def _everyone(self) -> list[Skill]:
        return [*self.skills, *([self.fallback] if self.fallback else [])]

    def understanding(self) -> Understanding:
        """The understanding layer, trained from the meta intents and every skill's declared intents
        (once per set of skills in the process: training takes a fraction of a second)."""
        key = tuple(s.prefix for s in self._everyone())
        found = _UNDERSTANDINGS.get(key)
        if found is None:
            specs = list(META_INTENTS)
            for skill in self._everyone():
                specs += list(skill.intents)
            found = _UNDERSTANDINGS[key] = Understanding(specs)
        return found

    def _owner(self, intent: str) -> Skill | None:
        for skill in self._everyone():
            if any(spec.name == intent for spec in skill.intents):
                return skill
        return None

    async def understand(self, actor: Actor, text: str, *, only: str | None = None) -> Understood:
        """Every likely reading of ``text`` for ``actor``, with the names of the records they may see."""
        return self._read(actor, text, await self._visible(actor), only=only)

    async def _visible(self, actor: Actor) -> list[Named]:
        """The names of the records ``actor`` may see, and the products, from every skill."""
        names: list[Named] = []
        for skill in self._everyone():
            provider = getattr(skill, "names", None)
            if provider is not None:
                names += await provider(actor)
        return names

    def _read(self, actor: Actor, text: str, names: list[Named], *, only: str | None = None) -> Understood:
        return self.understanding().read(
            text,
            role=actor.kind,
            today=self._today(actor),
            products=[n.name for n in names if n.kind == "product"],
            names=[n for n in names if n.kind != "product"],
            default_currency=self.default_currency,
            only=only,
        )

    def _today(self, actor: Actor) -> date:
        return self.clock().astimezone(ZoneInfo(actor.tz or "UTC")).date()

    async def _consult_model(self, actor: Actor, understood: Understood) -> list[Reply] | None:
        """When the embedded layer is unsure, ask the optional language model (``PARTNERBOT_LLM_URL``)
        what the message is, among the intents ``actor``'s role may use. What goes out: the message
        text, those intents, and the names of ``actor``'s own records (:mod:`bot.kernel.understanding.llm`).
        Its pick is read again like a typed message and acted on through :meth:`_act`, which confirms
        every write it suggested. None - no model, no usable answer, nothing came of it - leaves the
        embedded answer exactly as it was."""
        if self.language_model is None:
            return None
        names = await self._visible(actor)
        intents = [
            spec
            for spec in self.understanding().specs.values()
            if actor.kind in spec.roles and not spec.name.startswith("meta.") and self._owner(spec.name)
        ]
        suggestion = await self.language_model.suggest(
            understood.text, intents=intents, names=[n.name for n in names]
        )
        if suggestion is None:
            return None
        reading = self._model_reading(actor, understood.text, suggestion.intent, suggestion.values, names)
        return await self._act(actor, reading) if reading is not None else None

    def _model_reading(
        self, actor: Actor, text: str, intent: str, values: Mapping[str, str], names: list[Named]
    ) -> Reading | None:
        """The message read as the model's ``intent`` by the embedded layer, with the model's ``values``
        for what the embedded parsers did not find, parsed the same way (:func:`ground`)."""
        spec = self.understanding().specs.get(intent)
        understood = self._read(actor, text, names, only=intent)
        if spec is None or not understood.readings or actor.kind not in spec.roles:
            return None
        today = self._today(actor)
        products = [n.name for n in names if n.kind == "product"]
        records = [n for n in names if n.kind != "product"]

        def find(value: str) -> Entities:
            return find_entities(
                value, today=today, products=products, names=records, default_currency=self.default_currency
            )

        return ground(understood.readings[0], values, spec=spec, find=find)

    def taken_when_unsure(self, actor: Actor, understood: Understood) -> Reading | None:
        """The reading a skill takes a message as when the layer did not act on it - a question for a
        person, when nothing else fits (a skill's ``when_unsure``) - or None."""
        if understood.decision == "act":
            return None
        for skill in self._everyone():
            unsure = getattr(skill, "when_unsure", None)
            taken: Reading | None = unsure(actor, understood) if unsure is not None else None
            if taken is not None:
                return taken
        return None

    async def _act(self, actor: Actor, reading: Reading) -> list[Reply] | None:
        """Hand a reading to the skill that declared its intent; a write on a record the layer inferred
        from a name, and every write the language model suggested, is confirmed first (an intent that
        shows its own summary to confirm, a registration, is confirmed there)."""
        if reading.intent == "meta.help":
            return [self._help(actor)]
        if reading.intent == "meta.cancel":
            return await self._cancel(actor)
        if reading.intent == "meta.undo":
            return [Reply(text=NO_UNDO)]
        if reading.intent in SMALL_TALK:
            return [Reply(text=SMALL_TALK[reading.intent])]
        spec = self.understanding().specs.get(reading.intent)
        owner = self._owner(reading.intent)
        if spec is None or owner is None:
            return None
        if confirmed_first(spec, reading) and not reading.confirmed:
            return await self._offer(actor, reading.text, [reading], confirm=True)
        acted = await owner.on_intent(actor, reading)
        if acted is not None:
            return acted
        # a reading its owner leaves to a skill that takes it too ("pending mdf requests?" is the MDF queue)
        for skill in self._everyone():
            if skill is not owner and reading.intent in getattr(skill, "also_takes", ()):
                taken = await skill.on_intent(actor, reading)
                if taken is not None:
                    return taken
        return None

    def _may(self, actor: Actor, reading: Reading) -> bool:
        """Whether a reading is for someone of ``actor``'s kind (a partner is never offered staff work)."""
        spec = self.understanding().specs.get(reading.intent)
        return spec is not None and actor.kind in spec.roles

    def describe(self, reading: Reading) -> str:
        """A reading in a few words, for a choice button: "Mark D-3 as lost (Stark Logistics Inc): price"."""
        spec = self.understanding().specs[reading.intent]
        slots: defaultdict[str, str] = defaultdict(str, {k: str(v) for k, v in reading.slots.items()})
        if not reading.ref:
            slots["ref"] = "a deal" if spec.record == "D" else "it"
        label = (spec.confirm or reading.intent).format_map(slots).replace("  ", " ")
        named = reading.get("customer") or reading.get("activity")
        if reading.ref and named:
            label += f" ({named})"
        detail = reading.get("reason") or reading.get("stage")
        if detail and spec.writes:
            label += f": {detail}"
        return label if len(label) <= 72 else label[:71] + "…"

    async def _offer(
        self, actor: Actor, text: str, readings: list[Reading], *, confirm: bool = False
    ) -> list[Reply]:
        """Ask which reading was meant - or, for one inferred write, whether it was meant - and keep the
        question as a dialog, so a click after a restart still knows what it answers."""
        METRICS.clarification(confirm=confirm)
        await self.dialogs.save(
            actor,
            CONFIRM if confirm else CHOOSE,
            {"text": text, "choices": [_choice(r) for r in readings]},
        )
        if confirm:
            return [
                Reply(
                    text=f"{self.describe(readings[0])}{_suggested(readings[0])}{_doubts(readings[0])} - is that right?",
                    buttons=[
                        Button("Yes", "understand.pick", {"i": "0"}, style="primary"),
                        Button("No", "dialog.cancel"),
                    ],
                )
            ]
        buttons = [Button(self.describe(r), "understand.pick", {"i": str(i)}) for i, r in enumerate(readings)]
        return [Reply(text=NOT_SURE, buttons=[*buttons, Button("Something else", "help")])]

    async def _pick(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        dialog = await self._load(actor)
        if dialog is None or dialog.flow not in (CHOOSE, CONFIRM):
            return [Reply(text="That question was already answered; tell me again what you need.")]
        return await self._picked(actor, dialog, data.get("i", ""))

    async def _picked(self, actor: Actor, dialog: Dialog, index: str) -> list[Reply]:
        choices = dialog.state.get("choices", [])
        if not index.isdigit() or int(index) >= len(choices):
            return stale_button()
        await self._clear(actor)
        choice = choices[int(index)]
        if not choice.get("intent"):
            return stale_button()
        text = dialog.state.get("text", "")
        if choice.get("model") is not None:  # the language model's values, read again the same way
            names = await self._visible(actor)
            found = self._model_reading(actor, text, choice["intent"], choice["model"], names)
            readings = [found] if found is not None else []
        else:
            readings = (await self.understand(actor, text, only=choice["intent"])).readings
        if not readings:  # an intent no skill declares any more (an upgrade in between)
            return stale_button()
        reading = readings[0]
        if choice.get("ref"):
            reading.slots["ref"] = choice["ref"]
        reading.confirmed = True
        answered = await self._act(actor, reading)
        return answered if answered is not None else [Reply(text=NOT_UNDERSTOOD)]

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

    async def handle_thread_reply(
        self, actor: Actor, text: str, *, platform: str, thread: str, request_key: str | None = None
    ) -> list[Reply]:
        """A message in the thread under a message the bot posted on ``platform``; ``thread`` is the
        platform's name of that message (Slack: ``<channel>:<ts>``). Under a record's card in the
        vendor channel it is a staff note on that record, kept with it for staff only (a leading
        "note" is dropped); anywhere else it is an ordinary message (:meth:`handle_text`)."""
        problem = check_message(text)
        if problem:
            return [Reply(text=problem)]
        ref = await outbox.record_of_card(self.db, platform=platform, locator=thread)
        if ref is None:
            return await self.handle_text(actor, text, request_key=request_key)
        return await self._once(request_key, lambda: self._note(actor, ref, text.strip()))

    async def _note(self, actor: Actor, ref: str, text: str) -> list[Reply]:
        if HELP_RE.match(text):
            return [Reply(text=NOTE_HELP.format(ref=ref))]
        owner = next((s for s in self._findable() if s.records.pattern.match(ref)), None)
        keep = getattr(owner, "note", None)
        if keep is None:
            return [Reply(text=f"I keep no notes on {ref}; tell me in a direct message what you need.")]
        body = _NOTE_RE.sub("", text, count=1).strip()
        return await self._guard(lambda: keep(actor, ref, body))

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
        if dialog is not None and dialog.flow in (CHOOSE, CONFIRM):
            pick = _PICK_RE.match(text)
            if pick or (dialog.flow == CONFIRM and YES_RE.match(text)):
                return await self._picked(actor, dialog, str(int(pick.group(1)) - 1) if pick else "0")
            await self._clear(actor)  # something new instead of an answer
            dialog = None
        if dialog is not None and await self._starts_something_else(actor, dialog, text):
            dialog = None  # the dialog waits: its question is still there after this answer
        if dialog is not None:
            owner = self._skill_for(dialog.flow) or self.fallback
            if owner is not None:
                dialog = await self._read_answer(actor, owner, dialog, text)
            handled = await owner.continue_dialog(actor, dialog, text) if owner else None
            if handled is not None:
                return handled
        understood = await self.understand(actor, text)
        if understood.decision == "act" and understood.best is not None:
            acted = await self._act(actor, understood.best)
            if acted is not None:
                return acted
        taken = self.taken_when_unsure(actor, understood)
        if taken is not None:
            acted = await self._act(actor, taken)
            if acted is not None:
                return acted
        if understood.decision != "act":
            consulted = await self._consult_model(actor, understood)
            if consulted is not None:
                return consulted
        if understood.decision == "ask":
            best = understood.best
            if best is not None and best.doubts and self._may(actor, best):
                return await self._offer(actor, understood.text, [best], confirm=True)
            choices = [r for r in self.understanding().choices(understood) if self._may(actor, r)]
            if best is not None and not self._may(actor, best):
                # what it most likely asks is not theirs to do: offer only what is nearly as likely
                choices = [r for r in choices if r.confidence >= best.confidence / 2]
            if choices:
                return await self._offer(actor, understood.text, choices)
        METRICS.understanding_fallback()
        if self.fallback is not None:
            return [self.fallback.not_understood(actor)]
        return [Reply(text=NOT_UNDERSTOOD)]

    async def _read_answer(self, actor: Actor, owner: Skill, dialog: Dialog, text: str) -> Dialog:
        """``dialog`` with the layer's reading of ``text`` as the intent its owner reads its answers as
        (a registration's details, an update's changes), so no skill reads details with rules of its
        own; the dialog as it is when its owner takes answers as typed."""
        intent_of = getattr(owner, "dialog_intent", None)
        intent = intent_of(dialog.flow) if intent_of is not None else None
        if intent is None or intent not in self.understanding().specs:
            return dialog
        understood = await self.understand(actor, text, only=intent)
        return replace(dialog, reading=understood.best)

    async def _starts_something_else(self, actor: Actor, dialog: Dialog, text: str) -> bool:
        """Whether a message typed while a dialog waits for an answer is clearly a new request instead
        ("L-3 contacted" while asked for a reason, "show my deals" while asked for a customer): the
        layer acts on it as another intent than the dialog's, and it names a record by its reference,
        or it says nothing but the words of a request that needs no record. Anything else is the
        answer ("41 leads" to "what were the results?", "legal review takes longer" to "why?")."""
        understood = await self.understand(actor, text)
        best = understood.best
        if understood.decision != "act" or best is None or best.intent.startswith("meta."):
            return False
        spec = self.understanding().specs.get(best.intent)
        if spec is None or best.intent == dialog.flow or not self._may(actor, best):
            return False
        if "ref" in best.slots and "ref" not in best.inferred:
            return True
        return spec.record is None and not spec.writes and self.understanding().only_asks(best.intent, text)

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
        return cancelled()

    # -- buttons and forms ----------------------------------------------------------------------

    async def _action(self, actor: Actor, action: str, data: dict[str, str]) -> list[Reply]:
        skill = self._skill_for(action)
        if skill is not None:
            return await skill.on_action(actor, action, data)
        generic = self._actions.get(action)
        if generic is not None:
            return await generic(actor, data)
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

    # -- records by reference and by name ---------------------------------------------------------

    def _findable(self) -> list[Findable]:
        return [s for s in self._everyone() if isinstance(getattr(s, "records", None), RefKind)]  # type: ignore[misc]

    async def view(self, actor: Actor, ref: str) -> list[Reply]:
        """Record ``ref`` as ``actor`` sees it now (a card refreshing for its viewer), through its skill's
        show action; the one not-found answer for a record they may not see."""
        owner = next((s for s in self._findable() if s.records.pattern.match(ref or "")), None)
        if owner is not None:
            show = f"{owner.prefix}.show"
            return await self._guard(lambda: self._action(actor, show, {"ref": ref}))
        return [Reply(text=f"{ref!r} is not a reference I know; references look like D-12 or L-7.")]

    async def search(self, actor: Actor, query: str, *, limit: int = SEARCH_LIMIT) -> list[Reply]:
        """The records ``actor`` may see that ``query`` names - a reference, or words of a name (a
        customer, a company, a question) - best match first, each as its card; the newest without a
        query. Only what the person may see is looked at, so nothing else is found or hinted at."""
        found: list[Named] = []
        for skill in self._findable():
            found += await skill.findable(actor)
        wanted = " ".join(query.split()).lower()
        if not wanted:
            picks = sorted(found, key=_newest_first)
        elif any(s.records.pattern.match(wanted) for s in self._findable()):
            picks = [n for n in found if n.ref.lower().replace("-", "") == wanted.replace("-", "")]
        else:
            scored = [(fuzz.partial_ratio(wanted, n.name.lower()), n) for n in found]
            picks = [n for score, n in sorted(scored, key=lambda p: -p[0]) if score >= SEARCH_SCORE]
        cards: list[Reply] = []
        for named in list(dict.fromkeys(picks))[:limit]:
            shown = await self.view(actor, named.ref)
            if shown and shown[0].ref:
                cards.append(shown[0])
        return cards

    async def form_choices(
        self, actor: Actor, form_id: str, field: str, typed: str, *, data: Mapping[str, str] | None = None
    ) -> list[Choice]:
        """The choices of a form's picker that match what ``actor`` has typed so far (a picker too long
        to list: Slack loads its options as the person types) - best first, at most
        :data:`MAX_CHOICES`, from the form's skill, so only what the person may pick."""
        skill = self._skill_for(form_id) or self.fallback
        source = getattr(skill, "form_choices", None)
        try:
            choices: list[Choice] | None = (
                await source(actor, form_id, field, dict(data or {})) if source is not None else None
            )
        except PartnerbotError:  # not theirs to pick (not allowed, not found): nothing to offer
            return []
        if not choices:
            return []
        wanted = " ".join(typed.split()).casefold()
        if not wanted:
            return choices[:MAX_CHOICES]
        starts = [c for c in choices if c.label.casefold().startswith(wanted)]
        inside = [c for c in choices if wanted in c.label.casefold() and c not in starts]
        if starts or inside:
            return (starts + inside)[:MAX_CHOICES]
        # Nothing holds what was typed: the nearest spellings ("nortwind"), best first.
        scored = sorted(
            ((fuzz.partial_ratio(wanted, c.label.casefold()), c) for c in choices), key=lambda p: -p[0]
        )
        return [c for score, c in scored if score >= SEARCH_SCORE][:MAX_CHOICES]

    async def form_from_text(self, actor: Actor, intent: str, text: str) -> list[Reply]:
        """The form that starts ``intent``, filled in from ``text`` as the understanding layer reads it
        for that intent ("Register a deal from this message"); nothing is written until it is submitted."""
        owner = self._owner(intent)
        prefilled = getattr(owner, "prefilled_form", None)
        if prefilled is None:
            return stale_button()
        understood = await self.understand(actor, text, only=intent)
        reading = understood.best or Reading(intent=intent, confidence=0.0, text=text)
        return await self._guard(lambda: prefilled(actor, reading))

    # -- home and help --------------------------------------------------------------------------

    async def home(self, actor: Actor) -> list[Reply]:
        """What a person sees on the bot's home (Slack App Home, a Teams welcome card): the fallback
        skill's sections (a partner's open deals, staff's review queues), then every skill's."""
        sections = list(await self.fallback.home(actor)) if self.fallback else []
        for skill in self.skills:
            sections += await skill.home(actor)
        return sections

    def _help_lines(self, actor: Actor) -> list[list[str]]:
        """Each skill's help lines for ``actor``, the fallback's first: the order 'help' lists them in."""
        first: list[Skill] = [self.fallback] if self.fallback else []
        return [skill.help_lines(actor) for skill in [*first, *self.skills]]

    def _help(self, actor: Actor) -> Reply:
        lines = [line for lines in self._help_lines(actor) for line in lines]
        lines.append("cancel - stop what we're doing")
        return Reply(
            title="Here's what I can do",
            text="\n".join(f"• {line}" for line in lines),
            buttons=self.fallback.help_buttons(actor) if self.fallback else [],
        )

    def suggested_prompts(self, actor: Actor) -> list[tuple[str, str]]:
        """Up to :data:`MAX_PROMPTS` things ``actor`` might ask first, as (title, message) - what a new
        assistant thread offers to send with one click. Built from the help examples of the fallback and
        every skill, in the order 'help' lists them, one per skill: the first example line
        (``"show my deals - your open registrations"``) whose words (``show my deals``, the first of
        ``a / b`` alternatives) the understanding layer acts on as an intent of the person's role that
        writes nothing and needs no record; its title is what the line says it does. So a partner is
        offered their own lists and a staff member the review queues, and a click never changes
        anything or names a record that may not exist."""
        prompts: list[tuple[str, str]] = []
        for lines in self._help_lines(actor):
            for line in lines:
                offered = self._prompt(actor, line)
                if offered is not None:
                    prompts.append(offered)
                    break
            if len(prompts) == MAX_PROMPTS:
                break
        return prompts

    def _prompt(self, actor: Actor, line: str) -> tuple[str, str] | None:
        """A help line as a suggested prompt (title, message), or None when its example is not one to
        send as it is (see :meth:`suggested_prompts`)."""
        example, _, does = line.partition(" - ")
        message = example.split(" / ")[0].strip()
        title = does.split(";")[0].strip()
        if not message or not title or "…" in message or "://" in message:
            return None
        understood = self._read(actor, message, [])
        best = understood.best
        spec = self.understanding().specs.get(best.intent) if best is not None else None
        if (
            understood.decision != "act"
            or best is None
            or spec is None
            or best.intent.startswith("meta.")
            or actor.kind not in spec.roles
            or spec.writes
            or spec.needs
            or self._owner(best.intent) is None
        ):
            return None
        title = title[0].upper() + title[1:]
        return (title if len(title) <= MAX_PROMPT_TITLE else title[: MAX_PROMPT_TITLE - 1] + "…", message)
