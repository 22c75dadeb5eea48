"""How the core shows leads: channel-neutral :class:`Reply` objects with the reader's next actions.

What a reader sees depends on who they are: staff get the partner, why the lead was assigned, the
review reason and the offers; a partner gets their own lead's facts (the contact once they accepted)
and never a word about other partners. Times are shown in the reader's time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.features.leads.model import MANAGE_ROLES, STATUS_LABELS
from bot.kernel import history as kernel_history
from bot.kernel.dates import format_when, utc_stamp
from bot.kernel.messages import Actor, Button, Choice, Fact, Form, FormField, Reply

if TYPE_CHECKING:
    from bot.features.leads.model import LeadView


def offer_key(ref: str, offer_id: int) -> str:
    """The replace key of the offer cards of one offer (every user of the partner got one)."""
    return f"lead-offer:{ref}:o{offer_id}"


def waits_for(view: LeadView, *, staff: bool, tz: str) -> str:
    """What the lead waits for, in the reader's words."""
    partner = view.partner or "the partner"
    if view.status == "offered":
        who = partner if staff else "you"
        return f"{who} to accept or decline by {format_when(view.accept_by, tz)}"
    if view.status == "unassigned":
        return "staff to assign it"
    if view.status == "accepted":
        return "first contact with the customer" + (f" ({partner})" if staff else "")
    if view.status == "contacted":
        return "qualification" + (f" ({partner})" if staff else "")
    if view.status == "qualified":
        return "conversion into a deal registration" + (f" ({partner})" if staff else "")
    return "nothing: it is closed"


def lead_facts(view: LeadView, *, staff: bool, tz: str) -> list[Fact]:
    facts: list[Fact] = []
    if staff:
        facts.append(Fact("Partner", view.partner or "— (review queue)"))
    facts += [
        Fact("Company", view.company),
        Fact("Country", view.country + (f" ({view.region})" if view.region else "")),
    ]
    if view.product:
        facts.append(Fact("Product interest", view.product))
    if view.contact_hidden:
        facts.append(Fact("Contact", "shown once you accept"))
    else:
        contact = ", ".join(x for x in (view.contact_name, view.contact_email, view.contact_phone) if x)
        if contact:
            facts.append(Fact("Contact", contact))
    if view.source:
        facts.append(Fact("Source", view.source))
    if view.notes:
        facts.append(Fact("Notes", view.notes))
    facts.append(Fact("Status", STATUS_LABELS.get(view.status, view.status)))
    if view.status == "offered":
        facts.append(Fact("Accept by", format_when(view.accept_by, tz)))
    if view.status_note:
        facts.append(Fact("Latest note", view.status_note))
    if view.disqualify_reason and view.status == "disqualified":
        facts.append(Fact("Reason", view.disqualify_reason))
    if view.converted_deal:
        facts.append(Fact("Deal registration", view.converted_deal))
    if view.is_open:
        facts.append(Fact("Waiting for", waits_for(view, staff=staff, tz=tz)))
    if staff and view.assignment_reason:
        facts.append(Fact("Why assigned", view.assignment_reason))
    if staff and view.review_reason and view.status == "unassigned":
        facts.append(Fact("Why in review", view.review_reason))
    return facts


def lead_buttons(view: LeadView, reader: Actor) -> list[Button]:
    ref = {"ref": view.ref}
    buttons: list[Button] = []
    manager = reader.has_role(*MANAGE_ROLES)
    if not reader.is_staff:
        if view.status == "offered":
            buttons += [
                Button("Accept", "lead.accept", ref, style="primary"),
                Button("Decline", "lead.decline", ref, style="danger"),
            ]
        buttons += _working_buttons(view)
    elif manager:
        buttons += [b for b in _working_buttons(view) if b.action != "lead.convert"]
        if view.is_open:
            buttons.append(
                Button(
                    "Assign" if view.status == "unassigned" else "Reassign",
                    "lead.assign",
                    ref,
                    style="primary" if view.status == "unassigned" else "default",
                )
            )
    if view.converted_deal:
        buttons.append(Button(f"Open {view.converted_deal}", "deal.show", {"ref": view.converted_deal}))
    buttons.append(Button("History", "lead.history", ref))
    return buttons


def _working_buttons(view: LeadView) -> list[Button]:
    ref = view.ref
    buttons: list[Button] = []
    if view.status == "accepted":
        buttons.append(Button("Contacted", "lead.status", {"ref": ref, "status": "contacted"}))
    if view.status in ("accepted", "contacted"):
        buttons.append(Button("Qualified", "lead.status", {"ref": ref, "status": "qualified"}))
    if view.status in ("accepted", "contacted", "qualified"):
        buttons += [
            Button("Convert to deal", "lead.convert", {"ref": ref}, style="primary"),
            Button("Disqualify", "lead.status", {"ref": ref, "status": "disqualified"}, style="danger"),
        ]
    return buttons


def lead_card(view: LeadView, reader: Actor, *, headline: str | None = None) -> Reply:
    return Reply(
        title=f"{view.ref} · {view.company}",
        text=headline or "",
        facts=lead_facts(view, staff=reader.is_staff, tz=reader.tz),
        buttons=lead_buttons(view, reader),
        ref=view.ref,
    )


def lead_list(views: Sequence[LeadView], reader: Actor, *, title: str, empty: str) -> Reply:
    """A list with one line per lead: what it is and what it waits for."""
    if not views:
        return Reply(text=empty)
    staff = reader.is_staff
    sections = []
    for v in views[:20]:
        parts = [v.product or "no product named", v.country, STATUS_LABELS.get(v.status, v.status)]
        if v.is_open:
            parts.append("waiting for " + waits_for(v, staff=staff, tz=reader.tz))
        if staff:
            parts.insert(0, v.partner or "review queue")
            if v.status == "unassigned" and v.review_reason:
                parts.append(v.review_reason)
        buttons = [Button("Open", "lead.show", {"ref": v.ref})]
        if not staff and v.status == "offered":
            buttons.append(Button("Accept", "lead.accept", {"ref": v.ref}, style="primary"))
        if staff and v.status == "unassigned" and reader.has_role(*MANAGE_ROLES):
            buttons.append(Button("Assign", "lead.assign", {"ref": v.ref}, style="primary"))
        sections.append(
            Reply(title=f"{v.ref} · {v.company}", text=" · ".join(parts), buttons=buttons, ref=v.ref)
        )
    more = f"\n…and {len(views) - 20} more." if len(views) > 20 else ""
    counts: dict[str, int] = {}
    for v in views:
        counts[v.status] = counts.get(v.status, 0) + 1
    summary = ", ".join(f"{n} {STATUS_LABELS.get(s, s).split(',')[0]}" for s, n in counts.items())
    return Reply(
        title=title,
        text=f"{len(views)} lead{'s' if len(views) != 1 else ''}: {summary}.{more}",
        sections=sections,
    )


def history_reply(view: LeadView) -> Reply:
    offers: list[str] = []
    if view.audience == "staff":
        offers = [
            f"Offer to {o.partner} ({utc_stamp(o.offered_at)}): {o.outcome}"
            + (f" - {o.decline_reason}" if o.decline_reason else "")
            + f" · {o.reason}"
            for o in view.offers
        ]
    return kernel_history.history_reply(view.ref, view.history, more=offers)


# -- notifications ------------------------------------------------------------------------------------


def offer_card(view: LeadView, *, tz: str, replace_key: str) -> Reply:
    """The offer a partner's users get: the facts and Accept / Decline. Never the assignment reason."""
    ref = {"ref": view.ref}
    return Reply(
        title=f"New lead {view.ref} · {view.company}",
        text=f"A lead for you. Accept it by {format_when(view.accept_by, tz)} or decline it with a reason; "
        "after that it goes to another partner.",
        facts=lead_facts(view, staff=False, tz=tz),
        buttons=[
            Button("Accept", "lead.accept", ref, style="primary"),
            Button("Decline", "lead.decline", ref, style="danger"),
        ],
        ref=view.ref,
        replace_key=replace_key,
    )


def offer_closed(view: LeadView, *, text: str, replace_key: str, still_theirs: bool) -> Reply:
    """Replaces the offer cards once the offer ended, without Accept / Decline (and without Open when
    the lead is no longer the partner's)."""
    if still_theirs:
        # Every copy - the one clicked included - becomes the lead the partner now works on, contact and all,
        # so the acceptor's own card doesn't shrink back to a notice after the click showed the details.
        return Reply(
            title=f"{view.ref} · {view.company}",
            text=text,
            facts=lead_facts(view, staff=False, tz="UTC"),
            buttons=_working_buttons(view),
            ref=view.ref,
            replace_key=replace_key,
        )
    return Reply(title=f"{view.ref} · {view.company}", text=text, ref=view.ref, replace_key=replace_key)


def moved_notice(view: LeadView, *, tz: str, ended: datetime | None) -> Reply:
    """To the partner that lost the lead: it moved - never where to."""
    why = f"The time to accept it ended on {format_when(ended, tz)}. " if ended else ""
    return Reply(
        title=f"{view.ref} · {view.company}",
        text=f"{view.ref} moved to another partner. {why}".strip(),
        ref=view.ref,
    )


def partner_notice(view: LeadView, *, tz: str, headline: str) -> Reply:
    return Reply(
        title=f"{view.ref} · {view.company}",
        text=headline,
        facts=lead_facts(view, staff=False, tz=tz),
        buttons=[Button("Open", "lead.show", {"ref": view.ref})],
        ref=view.ref,
    )


def staff_notice(view: LeadView, *, headline: str, tz: str) -> Reply:
    buttons = [Button("Open", "lead.show", {"ref": view.ref})]
    if view.is_open:
        buttons.insert(
            0,
            Button(
                "Assign" if view.status == "unassigned" else "Reassign",
                "lead.assign",
                {"ref": view.ref},
                style="primary" if view.status == "unassigned" else "default",
            ),
        )
    return Reply(
        title=headline,
        facts=lead_facts(view, staff=True, tz=tz),
        buttons=buttons,
        ref=view.ref,
    )


def review_digest(lines: Sequence[str]) -> Reply:
    shown = list(lines[:20]) + ([f"…and {len(lines) - 20} more"] if len(lines) > 20 else [])
    return Reply(
        title=f"{len(lines)} new lead{'s' if len(lines) != 1 else ''} wait for review",
        text="\n".join(shown),
        buttons=[Button("Review queue", "lead.list", {"scope": "review"}, style="primary")],
    )


# -- forms ---------------------------------------------------------------------------------------------


def assign_form(ref: str, partners: Sequence[str]) -> Form:
    return Form(
        form_id="lead.assign",
        title=f"Assign {ref}",
        submit_label="Assign",
        data={"ref": ref},
        fields=(
            FormField(
                "partner",
                "Partner",
                kind="select",
                choices=tuple(Choice(p, p) for p in partners[:100]),
                hint="The partner gets the offer with Accept / Decline.",
            ),
        ),
    )


def create_form(products: Sequence[str], draft: dict[str, str] | None = None) -> Form:
    draft = draft or {}
    product = (
        FormField(
            "product",
            "Product interest",
            kind="select",
            required=False,
            value=draft.get("product"),
            choices=tuple(Choice(p, p) for p in products),
        )
        if products
        else FormField("product", "Product interest", required=False, value=draft.get("product"))
    )
    return Form(
        form_id="lead.create",
        title="New lead",
        submit_label="Add lead",
        fields=(
            FormField("company", "Company", value=draft.get("company"), placeholder="Initech GmbH"),
            FormField("contact_name", "Contact name", required=False, value=draft.get("contact_name")),
            FormField(
                "contact_email",
                "Contact e-mail",
                kind="email",
                required=False,
                value=draft.get("contact_email"),
                hint="An e-mail or a phone number is needed.",
            ),
            FormField("contact_phone", "Contact phone", required=False, value=draft.get("contact_phone")),
            FormField("country", "Country (2 letters)", value=draft.get("country"), placeholder="DE"),
            product,
            FormField("source", "Source", required=False, value=draft.get("source"), placeholder="webinar"),
            FormField("notes", "Notes", kind="textarea", required=False, value=draft.get("notes")),
        ),
    )


def convert_form(ref: str, products: Sequence[str], draft: dict[str, str]) -> Form:
    product = (
        FormField(
            "product",
            "Product",
            kind="select",
            value=draft.get("product"),
            choices=tuple(Choice(p, p) for p in products),
        )
        if products
        else FormField("product", "Product", value=draft.get("product"))
    )
    return Form(
        form_id="lead.convert",
        title=f"Register a deal from {ref}",
        submit_label="Register",
        data={"ref": ref},
        fields=(
            product,
            FormField(
                "amount",
                "Amount and currency",
                value=draft.get("amount"),
                placeholder="120k USD",
                hint="e.g. 120k USD, $1.2M, EUR 50,000",
            ),
            FormField(
                "close_date",
                "Expected close date",
                value=draft.get("close_date"),
                placeholder="end of March",
                hint="e.g. 2027-03-31, end of March, Q2, in 6 weeks",
            ),
            FormField("notes", "Notes", kind="textarea", required=False, value=draft.get("notes")),
        ),
    )


def draft_summary(ref: str, facts: list[Fact]) -> Reply:
    return Reply(
        title=f"Register a deal from {ref}?",
        text="Check the details, then confirm. The registration goes through the usual review.",
        facts=facts,
        buttons=[
            Button("Confirm", "lead.convert.confirm", {"ref": ref}, style="primary"),
            Button("Edit", "lead.convert.edit", {"ref": ref}),
            Button("Cancel", "dialog.cancel", style="danger"),
        ],
        ref=ref,
    )
