"""How the core shows deals: channel-neutral :class:`Reply` objects with the reader's next actions.

Which buttons a reader gets is decided here from what they may do; the core re-checks on click.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.features.deals.model import IN_REVIEW, STATUS_LABELS
from bot.kernel import history as kernel_history
from bot.kernel.amounts import format_money
from bot.kernel.dates import format_date, utc_stamp
from bot.kernel.messages import Actor, Button, Choice, Fact, Form, FormField, Reply

if TYPE_CHECKING:
    from bot.features.deals.model import DealDraft, DealView


def status_text(view: DealView) -> str:
    label = STATUS_LABELS.get(view.status, view.status)
    if view.status == "approved" and view.protection_until:
        label += f", protected until {format_date(view.protection_until)}"
    return label


def deal_facts(view: DealView, *, with_partner: bool) -> list[Fact]:
    facts = []
    if with_partner:
        facts.append(Fact("Partner", view.partner))
    facts += [
        Fact("Customer", view.customer + (f" ({view.domain})" if view.domain else "")),
        Fact("Product", view.product),
        Fact("Amount", format_money(view.amount)),
        Fact("Close date", format_date(view.close_date)),
        Fact("Stage", view.stage),
        Fact("Status", status_text(view)),
    ]
    if view.next_step:
        facts.append(Fact("Next step", view.next_step))
    if view.decision_reason and view.status in ("rejected", "info_requested"):
        facts.append(Fact("Reviewer says", view.decision_reason))
    if view.outcome_reason:
        facts.append(Fact("Outcome", view.outcome_reason))
    if view.extension_reason:
        facts.append(Fact("Extension reason", view.extension_reason))
    return facts


def deal_buttons(view: DealView, viewer: Actor) -> list[Button]:
    ref = {"ref": view.ref}
    buttons: list[Button] = []
    if viewer.is_staff:
        if viewer.has_role("approver") and view.status in IN_REVIEW:
            buttons += [
                Button("Approve", "deal.approve", ref, style="primary"),
                Button("Reject", "deal.reject", ref, style="danger"),
                Button("Ask for info", "deal.ask_info", ref),
            ]
        if viewer.has_role("approver") and view.extension_reason and view.status in ("approved", "expired"):
            buttons += [
                Button("Extend protection", "deal.extension.approve", ref, style="primary"),
                Button("Decline extension", "deal.extension.decline", ref),
            ]
        if viewer.has_role("approver", "channel_manager") and view.is_open:
            buttons.append(Button("Update", "deal.update", ref))
    else:
        if view.status == "info_requested":
            buttons.append(Button("Send information", "deal.provide_info", ref, style="primary"))
        if view.is_open:
            buttons += [
                Button("Update", "deal.update", ref),
                Button("Won", "deal.won", ref, style="primary"),
                Button("Lost", "deal.lost", ref),
            ]
        if view.status in ("approved", "expired") and not view.extension_reason:
            buttons.append(Button("Ask for extension", "deal.extend", ref))
    buttons.append(Button("History", "deal.history", ref))
    return buttons


def deal_card(view: DealView, viewer: Actor, *, headline: str | None = None) -> Reply:
    conflict_lines = [
        f"Possible conflict with {c.ref} ({c.partner}, {c.customer}, {STATUS_LABELS.get(c.status, c.status)}): {c.reason}"
        for c in view.conflicts
    ]
    text = "\n".join(([headline] if headline else []) + (conflict_lines if viewer.is_staff else []))
    return Reply(
        title=f"{view.ref} · {view.customer}",
        text=text,
        facts=deal_facts(view, with_partner=viewer.is_staff),
        buttons=deal_buttons(view, viewer),
        ref=view.ref,
    )


def deal_list(views: Sequence[DealView], viewer: Actor, *, title: str, empty: str) -> Reply:
    if not views:
        return Reply(text=empty)
    sections = []
    for v in views[:20]:
        line = (
            f"{format_money(v.amount)} · {v.product} · closes {format_date(v.close_date)} · {status_text(v)}"
        )
        if viewer.is_staff:
            line = f"{v.partner} · " + line + (" · possible conflict" if v.in_conflict else "")
        sections.append(
            Reply(
                title=f"{v.ref} · {v.customer}",
                text=line,
                buttons=[Button("Open", "deal.show", {"ref": v.ref})],
                ref=v.ref,
            )
        )
    more = f"\n…and {len(views) - 20} more." if len(views) > 20 else ""
    return Reply(
        title=title, text=f"{len(views)} deal{'s' if len(views) != 1 else ''}.{more}", sections=sections
    )


def history_reply(view: DealView) -> Reply:
    """A deal's changes, oldest first; for staff its staff notes among them, by time."""
    if not view.staff_notes:
        return kernel_history.history_reply(view.ref, view.history)
    lines = [(h.at, kernel_history.history_line(h)) for h in view.history]
    lines += [
        (n.at, f"{utc_stamp(n.at)} · {n.by} ({n.channel}) · staff note: {n.body}") for n in view.staff_notes
    ]
    return Reply(
        title=f"History of {view.ref}",
        text="\n".join(line for _, line in sorted(lines, key=lambda entry: entry[0])),
        ref=view.ref,
    )


def review_card(view: DealView, *, headline: str) -> Reply:
    """What vendor staff get for a decision: both sides of a conflict, and the review buttons."""
    conflict_lines = [
        f"Possible conflict with {c.ref} ({c.partner}, {c.customer}, {STATUS_LABELS.get(c.status, c.status)}): {c.reason}"
        for c in view.conflicts
    ]
    ref = {"ref": view.ref}
    buttons = [
        Button("Approve", "deal.approve", ref, style="primary"),
        Button("Reject", "deal.reject", ref, style="danger"),
        Button("Ask for info", "deal.ask_info", ref),
    ]
    if view.extension_reason and view.status in ("approved", "expired"):
        buttons = [
            Button("Extend protection", "deal.extension.approve", ref, style="primary"),
            Button("Decline extension", "deal.extension.decline", ref),
        ]
    facts = deal_facts(view, with_partner=True) + [Fact("Registered by", view.registered_by)]
    if view.notes:
        facts.append(Fact("Notes", view.notes))
    return Reply(
        title=headline,
        text="\n".join(conflict_lines),
        facts=facts,
        buttons=buttons,
        ref=view.ref,
        replace_key=f"review:{view.ref}",
    )


def review_outcome(view: DealView, *, outcome: str) -> Reply:
    """Replaces a review card once someone decided: the outcome and who decided, no buttons."""
    return Reply(
        title=f"{view.ref} · {view.customer} ({view.partner})",
        text=outcome,
        facts=deal_facts(view, with_partner=True),
        buttons=[Button("Open", "deal.show", {"ref": view.ref})],
        ref=view.ref,
        replace_key=f"review:{view.ref}",
    )


def review_thread_line(view: DealView, *, outcome: str) -> Reply:
    """The line in the thread of a review card that tells how the review ended ("Approved by Dana
    Reyes: protected until ..."): the card's decision history, one reply per decision."""
    return Reply(text=outcome, ref=view.ref, replace_key=f"review:{view.ref}")


def partner_notice(view: DealView, *, headline: str) -> Reply:
    """A notification to the partner about their own deal - never conflict details."""
    return Reply(
        title=f"{view.ref} · {view.customer}",
        text=headline,
        facts=deal_facts(view, with_partner=False),
        buttons=[b for b in _partner_buttons(view)],
        ref=view.ref,
    )


def _partner_buttons(view: DealView) -> list[Button]:
    ref = {"ref": view.ref}
    if view.status == "info_requested":
        return [Button("Send information", "deal.provide_info", ref, style="primary")]
    if view.status in ("approved", "expired"):
        return [Button("Update", "deal.update", ref), Button("Ask for extension", "deal.extend", ref)]
    return [Button("Open", "deal.show", ref)]


# -- forms ----------------------------------------------------------------------------------------


def registration_form(products: Sequence[str], draft: dict[str, str] | None = None) -> Form:
    draft = draft or {}
    product_field = (
        FormField(
            "product",
            "Product or solution",
            kind="select",
            value=draft.get("product"),
            choices=tuple(Choice(p, p) for p in products),
        )
        if products
        else FormField("product", "Product or solution", value=draft.get("product"))
    )
    return Form(
        form_id="deal.register",
        title="Register a deal",
        submit_label="Register",
        fields=(
            FormField(
                "customer", "Customer company", value=draft.get("customer"), placeholder="Globex Corporation"
            ),
            FormField(
                "domain",
                "Customer web domain",
                required=False,
                value=draft.get("domain"),
                placeholder="globex.com",
            ),
            FormField(
                "country",
                "Customer country (2 letters)",
                required=False,
                value=draft.get("country"),
                placeholder="DE",
            ),
            product_field,
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


def update_form(view: DealView) -> Form:
    from bot.features.deals.model import STAGES

    return Form(
        form_id="deal.update",
        title=f"Update {view.ref}",
        submit_label="Save",
        data={"ref": view.ref},
        fields=(
            FormField(
                "stage",
                "Stage",
                kind="select",
                required=False,
                value=view.stage,
                choices=tuple(Choice(s, s) for s in STAGES),
            ),
            FormField("amount", "Amount and currency", required=False, value=format_money(view.amount)),
            FormField("close_date", "Expected close date", required=False, value=view.close_date.isoformat()),
            FormField("next_step", "Next step", required=False, value=view.next_step),
            FormField("notes", "Notes", kind="textarea", required=False, value=view.notes),
        ),
    )


def draft_summary(draft: DealDraft, *, partner: str | None = None) -> Reply:
    facts = [
        Fact("Customer", draft.customer + (f" ({draft.domain})" if draft.domain else "")),
        Fact("Product", draft.product),
        Fact("Amount", format_money(draft.amount)),
        Fact("Close date", format_date(draft.close_date)),
    ]
    if draft.country:
        facts.append(Fact("Country", draft.country))
    if draft.notes:
        facts.append(Fact("Notes", draft.notes))
    return Reply(
        title="Register this deal?",
        text="Check the details, then confirm.",
        facts=facts,
        buttons=[
            Button("Confirm", "deal.register.confirm", style="primary"),
            Button("Edit", "deal.register.edit"),
            Button("Cancel", "dialog.cancel", style="danger"),
        ],
    )
