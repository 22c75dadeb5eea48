"""Questions in the conversation: telling a question from a command, and the buttons, forms and short
dialogs around a ``Q-n``. Rules and permissions live in :mod:`bot.features.questions.service`; this module reads words.

What it claims as a partner's question, conservatively: ``question: …`` / ``ask …`` (also what
``/partner ask …`` sends), and messages that end in ``?`` or open like a question ("how do I …",
"who approves …") - but never a message with a deal or lead reference (``D-12``, ``L-7``), one about
deals, leads, registrations or their status, nor small talk ("what's new?"). Staff messages are only
claimed as staff commands ("questions", "claim Q-3", "answer Q-3: …", "add to kb: …").
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from bot.features.questions import views as qv
from bot.features.questions.intents import QUESTION_INTENTS
from bot.features.questions.model import QuestionView
from bot.features.questions.service import Questions, content_tokens, question_ref
from bot.intents import recognize
from bot.kernel.errors import InputError, NotAllowed
from bot.kernel.messages import Actor, Button, FormResult, Reply
from bot.kernel.refs import DEAL, LEAD, mention_any
from bot.kernel.skills import Dialog, DialogStore, stale_button, stale_form
from bot.kernel.understanding.slots import SlotContext
from bot.kernel.understanding.spec import Reading, Understood

QREF = r"Q-(\d{1,9})"  # the hyphen is required: "Q2" is a quarter in sales talk
OTHER_REF_RE = mention_any(loose=(DEAL, LEAD))
QREF_RE = re.compile(rf"\b{QREF}\b", re.I)
MY_QUESTIONS_RE = re.compile(
    r"^\s*(?:(?:show|list|see)\s+)?(?:(?:my|our)\s+)?(?:open\s+)?questions(?:\s+queue)?\s*[?.!]*\s*$", re.I
)
CLAIM_RE = re.compile(rf"^\s*(?:claim|take)\s+{QREF}\s*[.!]*\s*$", re.I)
ANSWER_RE = re.compile(rf"^\s*(?:answer|reply(?:\s+to)?)\s+{QREF}\s*(?:[:\-–—]\s*|\s+|$)(.*)$", re.I | re.S)
REASSIGN_RE = re.compile(rf"^\s*reassign\s+{QREF}(?:\s+to\s+(.+?))?\s*[.!]*\s*$", re.I)
SAVE_KB_RE = re.compile(
    rf"^\s*save\s+{QREF}\s+(?:to|in)\s+(?:the\s+)?(?:kb|knowledge\s*base)\s*[.!]*\s*$", re.I
)
FOLLOWUP_RE = re.compile(rf"^\s*follow[\s-]?up\s+(?:on\s+)?{QREF}\s*(?:[:\-–—]\s*|\s+|$)(.*)$", re.I | re.S)
KB_ADD_RE = re.compile(
    r"^\s*add\s+to\s+(?:the\s+)?(?:kb|knowledge\s*base)\s*(?:[:\-–—]\s*(.*))?$", re.I | re.S
)
UNSURE_OTHER = 0.35  # a likelier reading than this of another intent is offered as a choice instead
ASK_RE = re.compile(r"^\s*(?:/partner\s+)?(?:ask|question)\s*(?:[:\-–—]\s*|\s+)(\S.*)$", re.I | re.S)
ASK_ALONE_RE = re.compile(r"^\s*(?:/partner\s+)?(?:ask|ask\s+a\s+question|question)\s*[:.!?]*\s*$", re.I)
QUESTION_START_RE = re.compile(
    r"^\s*(?:how\s+(?:do|can|should|does|to|much|long|many|often)\b"
    r"|where\s+(?:do|can|is|are|should|does)\b"
    r"|who\s+(?:approves|handles|decides|owns|is|do|can|should)\b"
    r"|what\s+(?:is|are)\s+the\s+(?:process|rules?|requirements?|policy|deadline)\b"
    r"|is\s+there\s+(?:a|an|any)\b|can\s+(?:i|we)\b|do\s+(?:i|we)\s+need\b"
    r"|i\s+(?:have\s+a\s+question|need\s+to\s+know|was\s+wondering|wonder)\b)",
    re.I,
)
NOT_A_QUESTION_RE = re.compile(
    r"\b(?:status|deals?|leads?|registrations?|register|pipeline|pending|conflicts?|news|opportunit(?:y|ies)"
    r"|where\s+are\s+we)\b",
    re.I,
)
SMALL_TALK_RE = re.compile(
    r"^\s*(?:what'?s\s+(?:new|up|happening)|what\s+is\s+(?:new|up)|how\s+are\s+(?:you|things)"
    r"|how'?s\s+it\s+going|who\s+are\s+you|are\s+you\b|what\s+can\s+you|what\s+do\s+you\s+do"
    r"|(?:hi|hello|hey|thanks|thank\s+you)\b)",
    re.I,
)
SMALL_TALK_WORDS = 5
"""Small talk is short: "hi, how are you?" is, "Hi, how do I claim MDF for the webinar?" is not."""
KB_FORMAT = (
    "Write it as 'add to kb: question? answer', e.g. 'add to kb: How do I claim MDF? Submit the claim in "
    "the partner portal within 30 days of the activity.'"
)


QUESTION_WORDS = frozenset("what where who when how why which whats".split())
# Asking for knowledge in so many words, and a sentence that opens like a question.
ASKING_RE = re.compile(r"\b(?:(?:need|like|want)\s+to\s+know|wondering|question|supported)\b", re.I)
WH_START_RE = re.compile(
    r"^\s*(?:what|where|who|why|which|does|do|is|are)(?:'s|s)?\b", re.I
)  # not "how's it going"


VAGUE_QUESTION = (
    "What is it about? Ask the vendor in a sentence that names the subject, "
    "e.g. 'Is Cloud Suite ISO 27001 certified?' or 'Who approves discounts above 20%?'."
)


def has_subject(text: str) -> bool:
    """Whether a question says what it is about: two words beside the question words ("is it
    supported?" does not; "does edge gateway support ipv6" does)."""
    return len([t for t in content_tokens(text) if t.split("'")[0] not in QUESTION_WORDS]) >= 2


def question_slots(ctx: SlotContext) -> dict[str, Any]:
    """A question with no subject is not put to a person: the partner is asked what it is about."""
    return {} if has_subject(ctx.text) else {"invalid:text": VAGUE_QUESTION}


def looks_like_question(text: str) -> bool:
    """A partner's free-form message that reads as a question for a person (see the module doc)."""
    text = text.replace("\u2019", "'")
    words = len(text.split())
    if OTHER_REF_RE.search(text) or words < 3:
        return False
    if SMALL_TALK_RE.match(text) and words <= SMALL_TALK_WORDS:
        return False
    asks = bool(QUESTION_START_RE.match(text) or ASKING_RE.search(text))
    if NOT_A_QUESTION_RE.search(text) and not asks:
        return False  # "is my acme registration protected?" is a status check
    return asks or "?" in text or bool(WH_START_RE.match(text))


def _is_own_command(text: str) -> bool:
    return any(
        r.match(text)
        for r in (MY_QUESTIONS_RE, CLAIM_RE, ANSWER_RE, REASSIGN_RE, SAVE_KB_RE, FOLLOWUP_RE, KB_ADD_RE)
    ) or bool(re.match(rf"^\s*(?:show\s+|open\s+)?{QREF}\s*[?.!]*\s*$", text, re.I))


class QuestionSkill:
    """The :class:`bot.kernel.skills.Skill` for questions (``question.*`` actions, forms and dialog flows)."""

    prefix = "question"
    intents = tuple(
        replace(s, parse=question_slots) if s.name == "question.ask" else s for s in QUESTION_INTENTS
    )

    def __init__(self, *, questions: Questions, dialogs: DialogStore) -> None:
        self.questions = questions
        self.dialogs = dialogs

    # -- Skill ------------------------------------------------------------------------------------

    def help_lines(self, actor: Actor) -> list[str]:
        if actor.is_staff:
            return [
                "questions - partners' questions waiting for you",
                "Q-3 / claim Q-3 / answer Q-3: … / reassign Q-3 to ed@vendor.example",
                "add to kb: question? answer - a knowledge-base entry",
            ]
        return [
            "how do I claim MDF? / question: … - ask anything; I answer or find the right person",
            "my questions / Q-3 - your questions and their answers",
            "follow up Q-3: … - add to a question",
        ]

    def when_unsure(self, actor: Actor, understood: Understood) -> Reading | None:
        """A partner's message nothing else fits, worded as a question for a person with a subject: the
        reading to act on - it goes to the vendor (answered from the knowledge base, or routed to an
        expert). None leaves the message to the rest of the conversation."""
        if actor.is_staff or not looks_like_question(understood.text) or not has_subject(understood.text):
            return None  # too vague to put to a person ("is it supported?"): the person is asked instead
        others = [
            r for r in understood.readings if r.intent != "question.ask" and not r.intent.startswith("meta.")
        ]
        if others and others[0].confidence >= UNSURE_OTHER:
            return None
        found = [r for r in understood.readings if r.intent == "question.ask"]
        return found[0] if found else Reading("question.ask", 0.0, understood.text)

    async def on_intent(self, actor: Actor, reading: Reading) -> list[Reply] | None:
        """Act on a reading of the understanding layer (:mod:`bot.features.questions.intents`)."""
        if reading.intent == "question.ask":
            if actor.is_staff:
                return None
            if reading.invalid.get("text"):
                return [Reply(text=reading.invalid["text"])]
            asked = ASK_RE.match(reading.text)
            return await self._ask(actor, asked.group(1) if asked else reading.text)
        if reading.intent in ("question.list", "staff.questions"):
            return await self._list(actor)
        ref = reading.ref
        if ref is None:
            return await self._list(actor)
        if reading.intent == "question.followup" and reading.get("text") and not actor.is_staff:
            return await self._follow_up(actor, ref, reading.get("text"))
        if reading.intent == "staff.answer" and actor.is_staff:
            return await self._staff_text(actor, reading.text) or await self.on_action(
                actor, "question.answer", {"ref": ref}
            )
        return await self._show(actor, ref)

    async def on_text(self, actor: Actor, text: str) -> list[Reply] | None:
        text = text.strip()
        if OTHER_REF_RE.search(text):
            return None
        if MY_QUESTIONS_RE.match(text):
            return await self._list(actor)
        if actor.is_staff:
            staff = await self._staff_text(actor, text)
            if staff is not None:
                return staff
        else:
            match = FOLLOWUP_RE.match(text)
            if match:
                return await self._follow_up(actor, question_ref(int(match.group(1))), match.group(2))
            if KB_ADD_RE.match(text) or CLAIM_RE.match(text) or ANSWER_RE.match(text):
                found = QREF_RE.search(text)
                if found:  # a foreign Q-n answers exactly like a missing one, before anything else
                    await self.questions.get(actor, question_ref(int(found.group(1))))
                raise NotAllowed("Vendor staff answer questions and curate the knowledge base.")
        found = QREF_RE.search(text)
        if found and len(text.split()) <= 6:
            return await self._show(actor, question_ref(int(found.group(1))))
        if found:  # a longer message about a Q-n: say how to add to it rather than guess
            view = await self.questions.get(actor, question_ref(int(found.group(1))))
            how = f"answer {view.ref}: …" if actor.is_staff else f"follow up {view.ref}: …"
            return [Reply(text=f"To add to {view.ref}, say '{how}' - or use the buttons below.")] + [
                self._card(actor, view)
            ]
        if ASK_ALONE_RE.match(text):
            return await self._ask_form(actor)
        match = ASK_RE.match(text)
        if match:
            return await self._ask(actor, match.group(1))
        return None

    async def continue_dialog(self, actor: Actor, dialog: Dialog, text: str) -> list[Reply] | None:
        if self._starts_something_else(text):
            return None
        answer = self._dialog_answers.get(dialog.flow)
        if answer is None:
            return None
        replies = await answer(actor, str(dialog.state.get("ref", "")), text)
        await self._clear_mine(actor)
        return replies

    @property
    def _dialog_answers(self) -> dict[str, Callable[[Actor, str, str], Awaitable[list[Reply]]]]:
        """What the next message in each question dialog is, by flow name; a handler gets the
        question's ref (empty when the dialog has none) and the text."""
        return {
            "question.ask": lambda actor, ref, text: self._ask(actor, text),
            "question.followup": self._follow_up,
            "question.answer": self._answer,
            "question.reassign": self._reassign,
            "question.kb_add": lambda actor, ref, text: self._kb_add_text(actor, text),
        }

    async def on_action(self, actor: Actor, action: str, data: dict[str, str]) -> list[Reply]:
        handler = self._actions.get(action)
        return await handler(actor, data) if handler else stale_button()

    @property
    def _actions(self) -> dict[str, Callable[[Actor, dict[str, str]], Awaitable[list[Reply]]]]:
        """Each button this skill puts on a message, by action name."""
        return {
            "question.helpful": self._helpful_action,
            "question.ask_person": self._ask_person_action,
            "question.followup": self._followup_action,
            "question.claim": self._claim_action,
            "question.answer": self._answer_action,
            "question.reassign": self._reassign_action,
            "question.save_kb": self._save_kb_action,
            "question.show": lambda actor, data: self._show(actor, data.get("ref", "")),
            "question.list": lambda actor, data: self._list(actor),
            "question.ask": lambda actor, data: self._ask_form(actor),
            "question.kb_add": self._kb_add_action,
            "question.kb_edit": self._kb_edit_action,
        }

    async def _helpful_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        view = await self.questions.mark_helpful(actor, data.get("ref", ""))
        return [
            Reply(text=f"Glad that helped! {view.ref} is closed; say 'follow up {view.ref}: …' any time.")
        ]

    async def _ask_person_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        view = await self.questions.ask_person(actor, data.get("ref", ""))
        return [qv.routed_reply(view, tz=actor.tz)]

    async def _followup_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        view = await self.questions.get(actor, data.get("ref", ""))
        if actor.is_staff:
            raise NotAllowed("The partner follows up on a question; you can answer it again.")
        await self.dialogs.save(actor, "question.followup", {"ref": view.ref})
        return [
            Reply(
                text=f"What would you like to add to {view.ref}? Type it, or use the form.",
                form=qv.followup_form(view.ref),
            )
        ]

    async def _claim_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        view = await self.questions.claim(actor, data.get("ref", ""))
        return [qv.staff_card(view, headline=f"You claimed {view.ref}", tz=actor.tz, viewer=actor)]

    async def _answer_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        view = await self.questions.get(actor, data.get("ref", ""))
        if not actor.is_staff:
            raise NotAllowed("Vendor staff answer questions; you'll get the answer here.")
        await self.dialogs.save(actor, "question.answer", {"ref": view.ref})
        return [
            Reply(
                text=f"{view.ref} from {view.asker} ({view.partner}): {view.text}\n"
                "Type your answer - the partner reads it as you write it - or use the form.",
                form=qv.answer_form(view.ref),
                ref=view.ref,
            )
        ]

    async def _reassign_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        view = await self.questions.get(actor, data.get("ref", ""))
        if not actor.is_staff:
            raise NotAllowed("Vendor staff reassign questions.")
        await self.dialogs.save(actor, "question.reassign", {"ref": view.ref})
        return [
            Reply(
                text=f"Who should answer {view.ref}? Type their e-mail or name, or use the form.",
                form=qv.reassign_form(view.ref, await self.questions.staff_directory()),
            )
        ]

    async def _save_kb_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        return [qv.kb_saved(await self.questions.save_to_kb(actor, data.get("ref", "")))]

    async def _kb_add_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        if not actor.is_staff:
            raise NotAllowed("Vendor staff curate the knowledge base.")
        await self.dialogs.save(actor, "question.kb_add", {})
        return [Reply(text=KB_FORMAT + " Or use the form.", form=qv.kb_form())]

    async def _kb_edit_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        entry = await self.questions.kb_entry(actor, data.get("kb", ""))
        return [Reply(text=f"Change {entry.ref} and save.", form=qv.kb_form(entry))]

    async def on_form(
        self, actor: Actor, form_id: str, values: dict[str, str], data: dict[str, str]
    ) -> FormResult:
        handler = self._forms.get(form_id)
        if handler is None:
            return stale_form()
        replies = await handler(actor, values, data)
        await self._clear_mine(actor)
        return FormResult(replies=replies)

    @property
    def _forms(
        self,
    ) -> dict[str, Callable[[Actor, dict[str, str], dict[str, str]], Awaitable[list[Reply]]]]:
        """Each form this skill sends, by form id; a handler gets the values and the form's data."""
        return {
            "question.ask": lambda actor, values, data: self._ask(actor, values.get("question", "")),
            "question.answer": lambda actor, values, data: self._answer(
                actor, data.get("ref", ""), values.get("answer", "")
            ),
            "question.followup": lambda actor, values, data: self._follow_up(
                actor, data.get("ref", ""), values.get("text", "")
            ),
            "question.reassign": lambda actor, values, data: self._reassign(
                actor, data.get("ref", ""), values.get("person", "")
            ),
            "question.kb_add": self._on_kb_form,
        }

    async def _on_kb_form(self, actor: Actor, values: dict[str, str], data: dict[str, str]) -> list[Reply]:
        entry = await self.questions.add_kb_entry(
            actor,
            question=values.get("question", ""),
            answer=values.get("answer", ""),
            topic=values.get("topic") or None,
            tags=[t for t in (values.get("tags") or "").split(";")],
            ref=data.get("kb") or None,
        )
        return [qv.kb_saved(entry)]

    async def home(self, actor: Actor) -> list[Reply]:
        if actor.is_staff:
            waiting = await self.questions.queue(actor)
            return [
                qv.staff_list(
                    waiting, title="Questions waiting", empty="No questions wait for you.", tz=actor.tz
                )
            ]
        mine = [v for v in await self.questions.mine(actor) if v.status != "closed"][:5]
        section = Reply(
            title="Questions",
            text="Ask me anything in a sentence, e.g. 'How do I claim MDF?'.",
            buttons=[
                Button("Ask a question", "question.ask", style="primary"),
                Button("My questions", "question.list"),
            ],
        )
        return [section] + ([qv.partner_list(mine, tz=actor.tz)] if mine else [])

    # -- the work -------------------------------------------------------------------------------

    async def _staff_text(self, actor: Actor, text: str) -> list[Reply] | None:
        match = CLAIM_RE.match(text)
        if match:
            view = await self.questions.claim(actor, question_ref(int(match.group(1))))
            return [qv.staff_card(view, headline=f"You claimed {view.ref}", tz=actor.tz, viewer=actor)]
        match = ANSWER_RE.match(text)
        if match:
            ref = question_ref(int(match.group(1)))
            if not match.group(2).strip():
                return await self.on_action(actor, "question.answer", {"ref": ref})
            return await self._answer(actor, ref, match.group(2))
        match = REASSIGN_RE.match(text)
        if match:
            ref = question_ref(int(match.group(1)))
            if not match.group(2):
                return await self.on_action(actor, "question.reassign", {"ref": ref})
            return await self._reassign(actor, ref, match.group(2))
        match = SAVE_KB_RE.match(text)
        if match:
            return [qv.kb_saved(await self.questions.save_to_kb(actor, question_ref(int(match.group(1)))))]
        match = KB_ADD_RE.match(text)
        if match:
            if not (match.group(1) or "").strip():
                return await self.on_action(actor, "question.kb_add", {})
            return await self._kb_add_text(actor, match.group(1))
        return None

    async def _ask(self, actor: Actor, text: str) -> list[Reply]:
        view = await self.questions.ask(actor, text)
        if view.status == "answered_by_kb":
            return [qv.kb_answer_reply(view)]
        return [qv.routed_reply(view, tz=actor.tz)]

    async def _ask_form(self, actor: Actor) -> list[Reply]:
        if actor.is_staff:
            raise NotAllowed(
                "Questions are asked by partners and answered by staff. Say 'questions' for your queue."
            )
        await self.dialogs.save(actor, "question.ask", {})
        return [
            Reply(
                text="What would you like to know? Type your question, or use the form.", form=qv.ask_form()
            )
        ]

    async def _follow_up(self, actor: Actor, ref: str, text: str) -> list[Reply]:
        if not text.strip():
            return await self.on_action(actor, "question.followup", {"ref": ref})
        view = await self.questions.follow_up(actor, ref, text=text)
        who = view.assignee or "our partner team"
        return [qv.partner_card(view, tz=actor.tz, headline=f"Added to {view.ref}; {who} has it.")]

    async def _answer(self, actor: Actor, ref: str, text: str) -> list[Reply]:
        view = await self.questions.answer(actor, ref, text=text)
        return [
            qv.staff_card(
                view,
                headline=f"Answer sent to {view.asker} ({view.partner}) on {view.ref}",
                tz=actor.tz,
                viewer=actor,
            )
        ]

    async def _reassign(self, actor: Actor, ref: str, to: str) -> list[Reply]:
        view = await self.questions.reassign(actor, ref, to=to)
        return [
            qv.staff_card(view, headline=f"{view.ref} is now with {view.assignee}", tz=actor.tz, viewer=actor)
        ]

    async def _kb_add_text(self, actor: Actor, text: str) -> list[Reply]:
        if not actor.is_staff:
            raise NotAllowed("Vendor staff curate the knowledge base.")
        question, mark, answer = text.strip().partition("?")
        if not mark or not question.strip() or not answer.strip():
            raise InputError("question", KB_FORMAT)
        entry = await self.questions.add_kb_entry(
            actor, question=question.strip() + "?", answer=answer.strip()
        )
        return [qv.kb_saved(entry)]

    async def _show(self, actor: Actor, ref: str) -> list[Reply]:
        view = await self.questions.get(actor, ref)
        return [self._card(actor, view)]

    def _card(self, actor: Actor, view: QuestionView) -> Reply:
        if actor.is_staff:
            return qv.staff_card(view, headline=f"{view.ref} · {view.partner}", tz=actor.tz, viewer=actor)
        return qv.partner_card(view, tz=actor.tz)

    async def _list(self, actor: Actor) -> list[Reply]:
        if actor.is_staff:
            waiting = await self.questions.queue(actor)
            return [
                qv.staff_list(
                    waiting, title="Questions waiting", empty="No questions wait for you.", tz=actor.tz
                )
            ]
        return [qv.partner_list(await self.questions.mine(actor), tz=actor.tz)]

    async def _clear_mine(self, actor: Actor) -> None:
        """Clear the person's dialog only if it is one of ours (never a deal registration in progress)."""
        dialog = await self.dialogs.load(actor)
        if dialog is not None and dialog.flow.startswith(self.prefix + "."):
            await self.dialogs.clear(actor)

    def _starts_something_else(self, text: str) -> bool:
        """A message in the middle of a question dialog that is clearly a new request: a deal or lead
        reference, one of our commands, or a short deal command ("pending", "show my deals")."""
        if OTHER_REF_RE.search(text) or _is_own_command(text):
            return True
        if len(text.split()) > 6:
            return False
        intent = recognize(
            text, today=self.questions.clock().date(), products=[], default_currency="USD"
        ).name
        return intent not in ("unknown", "register", "status")
