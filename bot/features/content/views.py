"""How the core shows content: the message each person in the audience gets, "what's new?", the
staff preview before publishing, and per-item statistics. A partner's view never names the audience."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.kernel.dates import format_date, format_when
from bot.kernel.messages import Actor, Button, Fact, Form, FormField, Reply

if TYPE_CHECKING:
    from bot.features.content.model import ItemView, ResolvedDraft, StatsLine, StatsView


def item_buttons(view: ItemView) -> list[Button]:
    buttons = [Button("Open", "content.open", {"ref": view.ref}, style="primary", url=view.open_url)]
    if view.delivered and not view.acknowledged:
        buttons.append(Button("Got it", "content.ack", {"ref": view.ref}))
    return buttons


def content_message(view: ItemView) -> Reply:
    """What each person in the audience gets once: the item with a tracked "Open" and "Got it"."""
    facts = [Fact("Valid until", format_date(view.valid_until))] if view.valid_until else []
    return Reply(
        title=f"New: {view.title}",
        text=view.summary or "",
        facts=facts,
        buttons=item_buttons(view),
        ref=view.ref,
    )


def item_card(view: ItemView, reader: Actor, *, headline: str | None = None) -> Reply:
    facts = [Fact("Published", format_when(view.published_at, reader.tz))]
    if view.valid_until:
        facts.append(Fact("Valid until", format_date(view.valid_until)))
    if reader.is_staff and view.audience:
        facts.append(Fact("Audience", view.audience))
    buttons = item_buttons(view)
    if reader.is_staff:
        buttons.append(Button("Stats", "content.stats", {"ref": view.ref}))
    text = "\n".join(x for x in (headline, view.summary) if x)
    return Reply(title=f"{view.title}", text=text, facts=facts, buttons=buttons, ref=view.ref)


def whats_new(views: Sequence[ItemView], reader: Actor) -> Reply:
    if not views:
        if reader.is_staff:
            return Reply(
                text="Nothing published yet. Say 'publish content' to send partners an announcement.",
                buttons=[Button("Publish content", "content.publish.start", style="primary")],
            )
        return Reply(text="Nothing new for you right now. I'll message you when there is.")
    sections = []
    for view in views[:10]:
        line = format_when(view.published_at, reader.tz) + (f" · {view.summary}" if view.summary else "")
        if reader.is_staff and view.audience:
            line += f"\nTo: {view.audience}"
        buttons = item_buttons(view)
        if reader.is_staff:
            buttons.append(Button("Stats", "content.stats", {"ref": view.ref}))
        sections.append(Reply(title=view.title, text=line, buttons=buttons, ref=view.ref))
    title = "Recently published" if reader.is_staff else "What's new for you"
    return Reply(title=title, text=f"{len(views)} item{'s' if len(views) != 1 else ''}.", sections=sections)


def _rate(line: StatsLine) -> str:
    rate = line.open_rate
    return "—" if rate is None else f"{rate:.0%}"


def _line(line: StatsLine) -> str:
    return (
        f"{line.label}: delivered {line.delivered} of {line.audience}, opened {line.opened} "
        f"({_rate(line)}), got it {line.acknowledged}"
    )


def stats_reply(view: StatsView, reader: Actor) -> Reply:
    total = view.total
    facts = [
        Fact("Audience", view.audience_text),
        Fact("Published", format_when(view.published_at, reader.tz)),
        Fact("Sent to", f"{total.audience} {'person' if total.audience == 1 else 'people'}"),
        Fact("Delivered", str(total.delivered)),
        Fact("Opened", f"{total.opened} {'person' if total.opened == 1 else 'people'}"),
        Fact("Open rate", _rate(total)),
        Fact("Got it", str(total.acknowledged)),
    ]
    if view.valid_until:
        facts.append(Fact("Valid until", format_date(view.valid_until)))
    sections = [
        Reply(title="By tier", text="\n".join(_line(line) for line in view.by_tier) or "—"),
        Reply(title="By partner", text="\n".join(_line(line) for line in view.by_partner) or "—"),
    ]
    return Reply(title=f"{view.ref} · {view.title}", text="", facts=facts, sections=sections, ref=view.ref)


def stats_overview(views: Sequence[StatsView]) -> Reply:
    if not views:
        return Reply(text="Nothing published yet. Say 'publish content' to send partners an announcement.")
    sections = [
        Reply(
            title=f"{v.ref} · {v.title}",
            text=f"delivered {v.total.delivered} of {v.total.audience} · opened {v.total.opened} "
            f"({_rate(v.total)}) · {v.audience_text}",
            buttons=[Button("Stats", "content.stats", {"ref": v.ref})],
            ref=v.ref,
        )
        for v in views
    ]
    return Reply(
        title="Content statistics",
        text="Open rate = people who opened / people it was delivered to.",
        sections=sections,
    )


def publish_preview(resolved: ResolvedDraft, reader: Actor) -> Reply:
    draft = resolved.draft
    facts = [Fact("Title", draft.title), Fact("Link", draft.url)]
    if draft.summary:
        facts.append(Fact("Summary", draft.summary))
    facts.append(Fact("Audience", resolved.audience_text()))
    facts.append(
        Fact("Reaches", f"{resolved.recipients} {'person' if resolved.recipients == 1 else 'people'} now")
    )
    if draft.expires:
        facts.append(Fact("Valid until", format_date(draft.expires)))
    return Reply(
        title="Publish this?",
        text="Check the details, then confirm; everyone in the audience gets it once.",
        facts=facts,
        buttons=[
            Button("Confirm", "content.publish.confirm", style="primary"),
            Button("Edit", "content.publish.edit"),
            Button("Cancel", "dialog.cancel", style="danger"),
        ],
    )


def publish_form(values: dict[str, str] | None = None) -> Form:
    values = values or {}
    return Form(
        form_id="content.publish",
        title="Publish content",
        submit_label="Preview",
        fields=(
            FormField("title", "Title", value=values.get("title") or None, placeholder="Q1 price list"),
            FormField("url", "Link", value=values.get("url") or None, placeholder="https://…"),
            FormField(
                "summary", "Summary", kind="textarea", required=False, value=values.get("summary") or None
            ),
            FormField(
                "tiers",
                "Tiers",
                required=False,
                value=values.get("tiers") or None,
                placeholder="Gold, Silver",
            ),
            FormField(
                "regions", "Regions", required=False, value=values.get("regions") or None, placeholder="EMEA"
            ),
            FormField(
                "partners",
                "Partners",
                required=False,
                value=values.get("partners") or None,
                placeholder="Northwind Partners",
            ),
            FormField(
                "people",
                "People (e-mail)",
                required=False,
                value=values.get("people") or None,
                placeholder="bob@contoso.example",
            ),
            FormField(
                "expires",
                "Valid until",
                kind="date",
                required=False,
                value=values.get("expires") or None,
                hint="optional",
            ),
        ),
    )
