"""Questions in the conversation: what the understanding layer read a message as (ask, follow up, list,
show; staff: answer, claim, reassign, keep in the knowledge base), and the buttons, forms and short
dialogs around a ``Q-n``. Rules and permissions live in :mod:`bot.features.questions.service`; the
intents in :mod:`bot.features.questions.intents`, their details in :mod:`bot.features.questions.reading`.

A partner's message nothing else fits is put to the vendor only when it reads as a question for a person
(:func:`looks_like_question`) - never one with a deal or lead reference (``D-12``, ``L-7``), one about
deals, leads, registrations or their status, nor small talk ("what's new?").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.features.questions import views as qv
from bot.features.questions.intents import QUESTION_INTENTS
from bot.features.questions.model import QuestionView
from bot.features.questions.reading import KB_FORMAT, has_subject, looks_like_question
from bot.features.questions.service import Questions
from bot.kernel.errors import InputError, NotAllowed
from bot.kernel.messages import Actor, Button, FormResult, Reply
from bot.kernel.refs import QUESTION
from bot.kernel.skills import Dialog, DialogStore, stale_button, stale_form
from bot.kernel.understanding.entities import Named
from bot.kernel.understanding.spec import Reading, Understood

UNSURE_OTHER = 0.35  # a likelier reading than this of another intent is offered as a choice instead
STAFF_ONLY = "Vendor staff answer questions and curate the knowledge base."
# The staff intents on a question, and what each does with its reading.
STAFF_WORK = (
    "staff.answer",
    "staff.claim_question",
    "staff.reassign_question",
    "staff.save_kb",
    "staff.kb_add",
)


class QuestionSkill:
    """The :class:`bot.kernel.skills.Skill` for questions (``question.*`` actions, forms and dialog flows)."""

    prefix = "question"
    intents = QUESTION_INTENTS

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
        """The reading to act on for a message the layer did not act on, or None to leave it to the rest
        of the conversation:

        * a message about one of the person's questions that no intent fits ("I'd like to know more
          about Q-3 and the roadshow"): the question is shown, with how to add to it - never guessed;
        * a partner's message nothing else fits, worded as a question for a person with a subject: it
          goes to the vendor (answered from the knowledge base, or routed to an expert) - unless its
          reading has a doubt to confirm first (it also gives an amount, as a request would)."""
        about = next((r for r in understood.readings if r.ref and r.ref.startswith("Q-")), None)
        if about is not None:
            return Reading(
                "question.show", about.confidence, understood.text, slots={"ref": about.ref, "how": True}
            )
        if actor.is_staff or not looks_like_question(understood.text) or not has_subject(understood.text):
            return None  # too vague to put to a person ("is it supported?"): the person is asked instead
        others = [
            r for r in understood.readings if r.intent != "question.ask" and not r.intent.startswith("meta.")
        ]
        if others and others[0].confidence >= UNSURE_OTHER:
            return None
        found = [r for r in understood.readings if r.intent == "question.ask"]
        if found and found[0].doubts:
            return None  # "does MDF cover a golf day, ~3k": the partner confirms it is a question first
        return found[0] if found else Reading("question.ask", 0.0, understood.text)

    records = QUESTION

    async def findable(self, actor: Actor) -> list[Named]:
        """A partner's own questions (staff: the ones waiting with them), by their text."""
        return [Named(QUESTION.prefix, q.ref, q.text) for q in await self.questions.mine(actor)]

    async def on_intent(self, actor: Actor, reading: Reading) -> list[Reply] | None:
        """Act on a reading of the understanding layer (:mod:`bot.features.questions.intents`)."""
        intent, ref = reading.intent, reading.ref
        if intent in STAFF_WORK:
            return await self._staff_work(actor, reading)
        if intent in ("question.ask", "question.start"):
            text = str(reading.get("text") or "")
            if actor.is_staff or not text or intent == "question.start" and not has_subject(text):
                return await self._ask_form(actor)  # "ask", "I have a question": the form
            if reading.invalid.get("text"):
                return [Reply(text=reading.invalid["text"])]
            return await self._ask(actor, text)
        if intent in ("question.list", "staff.questions") or ref is None:
            return await self._list(actor)
        if intent == "question.followup" and reading.get("text") and not actor.is_staff:
            return await self._follow_up(actor, ref, reading.get("text"))
        if reading.get("how"):  # a message about a question that says more than what to do with it
            view = await self.questions.get(actor, ref)
            how = f"answer {view.ref}: …" if actor.is_staff else f"follow up {view.ref}: …"
            return [Reply(text=f"To add to {view.ref}, say '{how}' - or use the buttons below.")] + [
                self._card(actor, view)
            ]
        return await self._show(actor, ref)

    async def _staff_work(self, actor: Actor, reading: Reading) -> list[Reply]:
        """Staff's work on questions: answer, claim, reassign, keep in the knowledge base. A partner is
        told it is staff's - after the question it names was looked up for them, so that a foreign
        ``Q-n`` reads exactly like a missing one."""
        ref = reading.ref
        if not actor.is_staff:
            if ref:
                await self.questions.get(actor, ref)
            raise NotAllowed(STAFF_ONLY)
        if reading.intent == "staff.kb_add":
            if reading.invalid.get("question"):
                raise InputError("question", reading.invalid["question"])
            if not reading.get("question"):
                return await self.on_action(actor, "question.kb_add", {})
            entry = await self.questions.add_kb_entry(
                actor, question=str(reading.get("question")), answer=str(reading.get("answer", ""))
            )
            return [qv.kb_saved(entry)]
        if ref is None:
            return await self._list(actor)
        if reading.intent == "staff.claim_question":
            return await self._claim_action(actor, {"ref": ref})
        if reading.intent == "staff.reassign_question":
            if not reading.get("to"):
                return await self.on_action(actor, "question.reassign", {"ref": ref})
            return await self._reassign(actor, ref, str(reading.get("to")))
        if reading.intent == "staff.save_kb":
            return await self._save_kb_action(actor, {"ref": ref})
        if not str(reading.get("text") or "").strip():
            return await self.on_action(actor, "question.answer", {"ref": ref})
        return await self._answer(actor, ref, str(reading.get("text")))

    async def continue_dialog(self, actor: Actor, dialog: Dialog, text: str) -> list[Reply] | None:
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
