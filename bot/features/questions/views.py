"""How the core shows questions: channel-neutral :class:`Reply` objects with the reader's next actions.

Two audiences, kept apart on purpose: staff cards (partner, asker, thread with internal notes, Claim /
Answer / Reassign / Save to KB) and partner replies (their own question and its answers only). A
knowledge-base suggestion shows the entry's *answer*, never the entry's question, so nothing another
partner once asked is quoted to anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.kernel.dates import format_day_time
from bot.kernel.messages import Actor, Button, Choice, Fact, Form, FormField, Reply

if TYPE_CHECKING:
    from bot.features.questions.model import KbView, QuestionView

MAX_QUOTE = 300


def _quote(text: str, limit: int = MAX_QUOTE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def status_for_partner(view: QuestionView) -> str:
    who = view.assignee or "our partner team"
    return {
        "answered_by_kb": "answered from the knowledge base",
        "open": "waiting for our partner team",
        "assigned": f"with {who}",
        "claimed": f"{who} is working on it",
        "answered": f"answered by {who}",
        "closed": "closed",
    }.get(view.status, view.status)


def status_for_staff(view: QuestionView) -> str:
    who = view.assignee or "nobody yet"
    label = {
        "answered_by_kb": f"answered from the knowledge base ({view.kb_ref})",
        "open": "waiting, unassigned",
        "assigned": f"assigned to {who}",
        "claimed": f"claimed by {who}",
        "answered": f"answered by {who}",
        "closed": f"closed (answered by {who})" if view.answered_at else "closed",
    }.get(view.status, view.status)
    if view.waiting and view.escalation_level:
        label += ", escalated" + (" to the vendor channel" if view.escalation_level >= 2 else "")
    return label


def _thread_lines(view: QuestionView, *, for_staff: bool) -> list[str]:
    lines = []
    for entry in view.thread:
        if entry.kind == "note":
            lines.append(f"· {entry.body}")
        elif entry.kind == "answer":
            lines.append(f"{entry.author} answered: {entry.body}")
        elif entry.kind == "followup":
            lines.append(f"{entry.author if for_staff else 'You'} added: {entry.body}")
        else:
            lines.append(f"{entry.author if for_staff else 'You'} asked: {entry.body}")
    return lines


# -- staff ------------------------------------------------------------------------------------------


def staff_buttons(view: QuestionView, viewer: Actor | None = None) -> list[Button]:
    ref = {"ref": view.ref}
    buttons: list[Button] = []
    if view.waiting:
        mine = viewer is not None and view.assignee_id == viewer.person_id
        if not (view.status == "claimed" and mine):
            buttons.append(Button("Claim", "question.claim", ref))
        buttons += [
            Button("Answer", "question.answer", ref, style="primary"),
            Button("Reassign", "question.reassign", ref),
        ]
    elif view.status in ("answered", "closed") and view.answers:
        if view.status == "answered":
            buttons.append(Button("Answer again", "question.answer", ref))
        if not view.saved_kb_ref:
            buttons.append(Button("Save to KB", "question.save_kb", ref))
    buttons.append(Button("Open", "question.show", ref))
    return buttons


def staff_card(view: QuestionView, *, headline: str, tz: str, viewer: Actor | None = None) -> Reply:
    """What staff get for a question (DM, vendor channel, or on request): who asked, the thread, the
    due time, and Claim / Answer / Reassign with an answer form while it waits."""
    facts = [
        Fact("Partner", view.partner),
        Fact("Asked by", f"{view.asker} (via {view.platform})"),
        Fact("Topic", view.topic or "none found"),
        Fact("Status", status_for_staff(view)),
    ]
    if view.waiting and view.due_at:
        facts.append(Fact("Answer by", format_day_time(view.due_at, tz)))
    if view.saved_kb_ref:
        facts.append(Fact("Knowledge base", f"saved as {view.saved_kb_ref}"))
    return Reply(
        title=headline,
        text="\n".join(_thread_lines(view, for_staff=True)),
        facts=facts,
        buttons=staff_buttons(view, viewer),
        form=answer_form(view.ref) if view.waiting else None,
        ref=view.ref,
        replace_key=f"question:{view.ref}",
    )


def staff_list(views: Sequence[QuestionView], *, title: str, empty: str, tz: str) -> Reply:
    if not views:
        return Reply(text=empty)
    sections = []
    for v in views[:20]:
        due = f" · answer by {format_day_time(v.due_at, tz)}" if v.waiting and v.due_at else ""
        sections.append(
            Reply(
                title=f"{v.ref} · {v.partner} · {v.topic or 'no topic'}",
                text=f"{_quote(v.text, 160)}\n{status_for_staff(v)}{due}",
                buttons=[Button("Open", "question.show", {"ref": v.ref})],
                ref=v.ref,
            )
        )
    more = f"\n…and {len(views) - 20} more." if len(views) > 20 else ""
    return Reply(
        title=title, text=f"{len(views)} question{'s' if len(views) != 1 else ''}.{more}", sections=sections
    )


# -- partners ---------------------------------------------------------------------------------------


def kb_answer_reply(view: QuestionView) -> Reply:
    """A knowledge-base answer to a partner: the entry's answer only (never the entry's question)."""
    return Reply(
        title=f"{view.ref} · from our knowledge base",
        text=view.kb_answer or "",
        buttons=[
            Button("That answers it", "question.helpful", {"ref": view.ref}, style="primary"),
            Button("Ask a person", "question.ask_person", {"ref": view.ref}),
        ],
        ref=view.ref,
    )


def routed_reply(view: QuestionView, *, tz: str, headline: str | None = None) -> Reply:
    who = view.assignee or "our partner team"
    text = headline or f"Thanks! I've passed your question to {who} as {view.ref}."
    if view.due_at:
        text += f" You can expect an answer by {format_day_time(view.due_at, tz)}."
    text += " I'll send it to you here."
    return Reply(
        title=f"{view.ref} · {status_for_partner(view)}",
        text=text,
        buttons=[
            Button("Add details", "question.followup", {"ref": view.ref}),
            Button("My questions", "question.list"),
        ],
        ref=view.ref,
    )


def answer_relay(view: QuestionView, *, answer: str, by: str) -> Reply:
    """The answer, as the asker reads it wherever they asked from."""
    return Reply(
        title=f"Answer to {view.ref}",
        text=answer,
        facts=[Fact("Your question", _quote(view.text)), Fact("Answered by", by)],
        buttons=[
            Button("Helpful", "question.helpful", {"ref": view.ref}, style="primary"),
            Button("Follow up", "question.followup", {"ref": view.ref}),
        ],
        ref=view.ref,
    )


def partner_buttons(view: QuestionView) -> list[Button]:
    ref = {"ref": view.ref}
    if view.status == "answered_by_kb":
        return [
            Button("That answers it", "question.helpful", ref, style="primary"),
            Button("Ask a person", "question.ask_person", ref),
        ]
    if view.status == "answered":
        return [
            Button("Helpful", "question.helpful", ref, style="primary"),
            Button("Follow up", "question.followup", ref),
        ]
    if view.status == "closed":
        return [Button("Follow up", "question.followup", ref)]
    return [Button("Add details", "question.followup", ref)]


def partner_card(view: QuestionView, *, tz: str, headline: str | None = None) -> Reply:
    """A partner's own question: status, when to expect an answer, the thread."""
    facts = [Fact("Asked", format_day_time(view.created_at, tz)), Fact("Status", status_for_partner(view))]
    if view.waiting and view.due_at:
        facts.append(Fact("Answer expected by", format_day_time(view.due_at, tz)))
    lines = ([headline] if headline else []) + _thread_lines(view, for_staff=False)
    if view.status == "answered_by_kb" and view.kb_answer:
        lines.append(f"From our knowledge base: {view.kb_answer}")
    return Reply(
        title=f"{view.ref} · your question",
        text="\n".join(lines),
        facts=facts,
        buttons=partner_buttons(view),
        ref=view.ref,
    )


def partner_list(views: Sequence[QuestionView], *, tz: str) -> Reply:
    if not views:
        return Reply(text="You haven't asked anything yet. Ask me in a sentence, e.g. 'How do I claim MDF?'.")
    sections = [
        Reply(
            title=f"{v.ref} · {status_for_partner(v)}",
            text=_quote(v.text, 160)
            + (f"\nAnswer expected by {format_day_time(v.due_at, tz)}" if v.waiting and v.due_at else ""),
            buttons=[Button("Open", "question.show", {"ref": v.ref})],
            ref=v.ref,
        )
        for v in views[:20]
    ]
    return Reply(
        title="Your questions",
        text=f"{len(views)} question{'s' if len(views) != 1 else ''}.",
        sections=sections,
    )


# -- knowledge base ---------------------------------------------------------------------------------


def kb_saved(entry: KbView, *, headline: str | None = None) -> Reply:
    return Reply(
        title=headline or f"{'Added' if entry.created else 'Updated'} {entry.ref} in the knowledge base",
        text=entry.note,
        facts=[
            Fact("Question", entry.question),
            Fact("Answer", _quote(entry.answer, 600)),
            Fact("Topic", entry.topic or "—"),
            Fact("Tags", ", ".join(entry.tags) or "—"),
        ],
        buttons=[Button("Edit", "question.kb_edit", {"kb": entry.ref})],
        ref=entry.ref,
    )


# -- forms ------------------------------------------------------------------------------------------


def ask_form() -> Form:
    return Form(
        form_id="question.ask",
        title="Ask a question",
        submit_label="Ask",
        fields=(
            FormField(
                "question", "Your question", kind="textarea", placeholder="How do I claim MDF for an event?"
            ),
        ),
    )


def answer_form(ref: str) -> Form:
    return Form(
        form_id="question.answer",
        title=f"Answer {ref}",
        submit_label="Send answer",
        data={"ref": ref},
        fields=(FormField("answer", "Answer (the partner reads this)", kind="textarea"),),
    )


def followup_form(ref: str) -> Form:
    return Form(
        form_id="question.followup",
        title=f"Follow up on {ref}",
        submit_label="Send",
        data={"ref": ref},
        fields=(FormField("text", "What would you like to add or ask?", kind="textarea"),),
    )


def reassign_form(ref: str, staff: Sequence[tuple[str, str]]) -> Form:
    return Form(
        form_id="question.reassign",
        title=f"Reassign {ref}",
        submit_label="Reassign",
        data={"ref": ref},
        fields=(
            FormField(
                "person",
                "Who should answer it?",
                kind="select",
                choices=tuple(Choice(e, lbl) for e, lbl in staff),
            ),
        ),
    )


def kb_form(entry: KbView | None = None) -> Form:
    return Form(
        form_id="question.kb_add",
        title=f"Edit {entry.ref}" if entry else "Add to the knowledge base",
        submit_label="Save",
        data={"kb": entry.ref} if entry else {},
        fields=(
            FormField("question", "Question, as partners ask it", value=entry.question if entry else None),
            FormField("answer", "Answer", kind="textarea", value=entry.answer if entry else None),
            FormField(
                "topic", "Topic", required=False, value=entry.topic if entry else None, placeholder="mdf"
            ),
            FormField(
                "tags",
                "Tags (separated by ;)",
                required=False,
                value="; ".join(entry.tags) if entry else None,
                placeholder="claim; marketing funds",
            ),
        ),
    )
