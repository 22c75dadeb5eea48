"""How the core shows MDF: budgets and balances, requests ``M-<n>`` with the reader's next actions, and
the forms behind them. Which buttons a reader gets is decided here from what they may do; the service
(:mod:`bot.features.mdf.service`) re-checks on every click. A partner's view only ever holds their own organisation's
figures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from bot.features.mdf.model import DECIDE_ROLES, STATUS_LABELS
from bot.kernel import history as kernel_history
from bot.kernel.amounts import format_money
from bot.kernel.dates import format_date, format_when
from bot.kernel.messages import Actor, Button, Choice, Fact, Form, FormField, Reply

if TYPE_CHECKING:
    from bot.features.mdf.model import BalanceView, MdfView

QUESTIONS = {
    "activity": "What is the activity? (e.g. webinar with our customers, trade-show booth, e-mail campaign)",
    "dates": "When does it take place? (e.g. 10-20 March, 10 March to 2 April, 12 March)",
    "amount": "How much would you like? (e.g. 5k EUR)",
    "expected_results": "What results do you expect? (e.g. 40 leads, 5 opportunities, 200 attendees)",
}


def review_key(ref: str) -> str:
    """The replace key of the staff cards about one request."""
    return f"mdf-review:{ref}"


def format_dates(start: date, end: date) -> str:
    if start == end:
        return format_date(start)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}-{format_date(end)}"
    return f"{format_date(start)} - {format_date(end)}"


def balance_line(balance: BalanceView) -> str:
    """ "2027-Q1: 45,000 EUR left of 50,000 EUR (5,000 EUR waiting for approval, …)"."""
    held = []
    if balance.pending.amount:
        held.append(f"{format_money(balance.pending)} waiting for approval")
    if balance.approved.amount:
        held.append(f"{format_money(balance.approved)} approved, not yet paid")
    if balance.paid.amount:
        held.append(f"{format_money(balance.paid)} paid")
    tail = f" ({'; '.join(held)})" if held else ""
    return (
        f"{balance.quarter}: {format_money(balance.remaining)} left of {format_money(balance.budget)}{tail}"
    )


def balance_reply(balances: Sequence[BalanceView], reader: Actor, *, partner: str, quarter: str) -> Reply:
    """The answer to "what's my MDF balance?" - everything in one message."""
    if reader.is_staff:
        if not balances:
            who = f"{partner} has no" if partner else "No partner has an"
            return Reply(
                text=f"{who} MDF budget for {quarter} or later. Set one with "
                "'MDF budget Northwind Partners 2027-Q1 50k EUR'."
            )
        title = f"MDF balance · {partner}" if partner else f"MDF budgets from {quarter}"
        lines = [balance_line(b) if partner else f"{b.partner} · {balance_line(b)}" for b in balances]
        return Reply(title=title, text="\n".join(lines), buttons=[Button("MDF requests", "mdf.list")])
    if not balances:
        return Reply(
            text=f"{partner or 'Your organisation'} has no MDF budget for {quarter} or later yet. "
            "Your channel manager sets MDF budgets per quarter."
        )
    return Reply(
        title=f"MDF balance · {partner}",
        text="\n".join(balance_line(b) for b in balances),
        buttons=[
            Button("Request MDF", "mdf.request.start", style="primary"),
            Button("My MDF requests", "mdf.list"),
        ],
    )


def request_facts(view: MdfView, *, staff: bool, tz: str) -> list[Fact]:
    facts: list[Fact] = []
    if staff:
        facts.append(Fact("Partner", view.partner))
    facts += [
        Fact("Activity", view.activity),
        Fact("Dates", format_dates(view.start_date, view.end_date)),
        Fact("Requested", format_money(view.amount)),
    ]
    if view.approved_amount is not None:
        facts.append(
            Fact("Approved", format_money(view.approved_amount) + (" (in part)" if view.is_partial else ""))
        )
    facts.append(Fact("Expected results", view.expected_results))
    facts.append(Fact("Status", STATUS_LABELS.get(view.status, view.status)))
    if view.decision_reason and view.status == "rejected":
        facts.append(Fact("Reason", view.decision_reason))
    if view.decided_by and view.status != "pending":
        facts.append(Fact("Decided by", view.decided_by))
    if view.claim_by and view.status == "approved":
        facts.append(Fact("Claim by", format_date(view.claim_by)))
    if view.claim_proof:
        facts.append(Fact("Proof", view.claim_proof))
    if view.actual_results:
        facts.append(Fact("Actual results", view.actual_results))
    if view.paid_amount is not None:
        facts.append(Fact("Paid", f"{format_money(view.paid_amount)} on {format_when(view.paid_at, tz)}"))
    if staff:
        facts.append(Fact("Requested by", view.requested_by))
    if view.balance is not None:
        facts.append(Fact("Balance", balance_line(view.balance)))
    return facts


def request_buttons(view: MdfView, reader: Actor) -> list[Button]:
    ref = {"ref": view.ref}
    buttons: list[Button] = []
    if reader.is_staff:
        if reader.has_role(*DECIDE_ROLES):
            if view.status == "pending":
                buttons += [
                    Button("Approve", "mdf.approve", ref, style="primary"),
                    Button("Approve part", "mdf.approve_part", ref),
                    Button("Reject", "mdf.reject", ref, style="danger"),
                ]
            if view.status == "claimed":
                buttons.append(Button("Mark paid", "mdf.paid", ref, style="primary"))
    elif view.status == "approved":
        buttons.append(Button("Claim", "mdf.claim", ref, style="primary"))
    buttons.append(Button("History", "mdf.history", ref))
    return buttons


def request_card(view: MdfView, reader: Actor, *, headline: str | None = None) -> Reply:
    return Reply(
        title=f"{view.ref} · {view.activity}",
        text=headline or "",
        facts=request_facts(view, staff=reader.is_staff, tz=reader.tz),
        buttons=request_buttons(view, reader),
        ref=view.ref,
    )


def staff_card(view: MdfView, *, headline: str) -> Reply:
    """What deciders get by DM or in the vendor channel; the buttons are re-checked on click."""
    ref = {"ref": view.ref}
    buttons: list[Button] = []
    if view.status == "pending":
        buttons = [
            Button("Approve", "mdf.approve", ref, style="primary"),
            Button("Approve part", "mdf.approve_part", ref),
            Button("Reject", "mdf.reject", ref, style="danger"),
        ]
    elif view.status == "claimed":
        buttons = [Button("Mark paid", "mdf.paid", ref, style="primary")]
    return Reply(
        title=f"{view.ref} · {view.partner} · {view.activity}",
        text=headline,
        facts=request_facts(view, staff=True, tz="UTC"),
        buttons=buttons,
        ref=view.ref,
        replace_key=review_key(view.ref),
    )


def review_outcome(view: MdfView, *, outcome: str) -> Reply:
    """Replaces the staff cards once someone acted: no buttons left to click twice."""
    return Reply(
        title=f"{view.ref} · {view.partner} · {view.activity}",
        text=outcome,
        facts=request_facts(view, staff=True, tz="UTC"),
        ref=view.ref,
        replace_key=review_key(view.ref),
    )


def partner_notice(view: MdfView, *, headline: str) -> Reply:
    buttons = (
        [Button("Claim", "mdf.claim", {"ref": view.ref}, style="primary")]
        if view.status == "approved"
        else []
    )
    return Reply(
        title=f"{view.ref} · {view.activity}",
        text=headline,
        facts=request_facts(view, staff=False, tz="UTC"),
        buttons=buttons,
        ref=view.ref,
    )


def reminder(view: MdfView, *, kind: str, days_left: int) -> Reply:
    approved = format_money(view.approved_amount) if view.approved_amount else format_money(view.amount)
    when = "today" if days_left == 0 else f"in {days_left} day{'s' if days_left != 1 else ''}"
    if kind == "activity_end":
        text = (
            f"The activity of {view.ref} ({view.activity}) ends {when}, on {format_date(view.end_date)}. "
            f"Once it's done, claim the approved {approved} with proof and the actual results"
            + (f" by {format_date(view.claim_by)}." if view.claim_by else ".")
        )
    else:
        text = (
            f"The claim window of {view.ref} ({view.activity}) closes {when}"
            + (f", on {format_date(view.claim_by)}" if view.claim_by else "")
            + f". Claim the approved {approved} with proof and the actual results before then, "
            f"or the funds can't be paid."
        )
    return Reply(
        title=f"MDF reminder · {view.ref}",
        text=text + f" Say 'claim {view.ref}' or use the button.",
        buttons=[Button("Claim", "mdf.claim", {"ref": view.ref}, style="primary")],
        ref=view.ref,
    )


def request_list(views: Sequence[MdfView], reader: Actor, *, title: str, empty: str) -> Reply:
    if not views:
        return Reply(text=empty)
    sections = []
    for v in views[:20]:
        amount = format_money(v.approved_amount) if v.approved_amount is not None else format_money(v.amount)
        line = (
            f"{amount} · {format_dates(v.start_date, v.end_date)} · {STATUS_LABELS.get(v.status, v.status)}"
        )
        if reader.is_staff:
            line = f"{v.partner} · {line}"
        sections.append(
            Reply(
                title=f"{v.ref} · {v.activity}",
                text=line,
                buttons=[Button("Open", "mdf.show", {"ref": v.ref})],
                ref=v.ref,
            )
        )
    more = f"\n…and {len(views) - 20} more." if len(views) > 20 else ""
    return Reply(
        title=title,
        text=f"{len(views)} request{'s' if len(views) != 1 else ''}.{more}",
        sections=sections,
    )


def history_reply(view: MdfView) -> Reply:
    return kernel_history.history_reply(view.ref, view.history)


def draft_summary(facts: list[Fact], *, note: str = "") -> Reply:
    return Reply(
        title="Request this MDF?",
        text=(note + "\n" if note else "") + "Check the details, then confirm.",
        facts=facts,
        buttons=[
            Button("Confirm", "mdf.request.confirm", style="primary"),
            Button("Edit", "mdf.request.edit"),
            Button("Cancel", "dialog.cancel", style="danger"),
        ],
    )


# -- forms ------------------------------------------------------------------------------------


def request_form(draft: dict[str, str] | None = None) -> Form:
    draft = draft or {}
    return Form(
        form_id="mdf.request",
        title="Request MDF",
        submit_label="Request",
        fields=(
            FormField(
                "activity", "Activity", value=draft.get("activity"), placeholder="Webinar with customers"
            ),
            FormField("dates", "Dates", value=draft.get("dates"), placeholder="10-20 March 2027"),
            FormField("amount", "Amount", value=draft.get("amount"), placeholder="5k EUR"),
            FormField(
                "expected_results",
                "Expected results",
                kind="textarea",
                value=draft.get("expected_results"),
                placeholder="40 leads, 5 opportunities",
            ),
        ),
    )


def reject_form(ref: str) -> Form:
    return Form(
        form_id="mdf.reject",
        title=f"Reject {ref}",
        submit_label="Reject",
        data={"ref": ref},
        fields=(
            FormField("reason", f"Why are you rejecting {ref}? The partner will see it.", kind="textarea"),
        ),
    )


def approve_form(ref: str, requested: str) -> Form:
    return Form(
        form_id="mdf.approve",
        title=f"Approve {ref}",
        submit_label="Approve",
        data={"ref": ref},
        fields=(
            FormField(
                "amount",
                "Amount to approve",
                value=requested,
                hint=f"{requested} requested; less approves it in part.",
            ),
        ),
    )


def claim_form(ref: str) -> Form:
    return Form(
        form_id="mdf.claim",
        title=f"Claim {ref}",
        submit_label="Claim",
        data={"ref": ref},
        fields=(
            FormField("proof", "Proof (a link to the invoice, photos or report)", placeholder="https://…"),
            FormField("results", "Actual results", kind="textarea", placeholder="38 leads, 120 attendees"),
        ),
    )


def budget_form(partners: Sequence[str], quarter: str) -> Form:
    return Form(
        form_id="mdf.budget",
        title="Set an MDF budget",
        submit_label="Save",
        fields=(
            FormField("partner", "Partner", kind="select", choices=tuple(Choice(p, p) for p in partners)),
            FormField("quarter", "Quarter", value=quarter, placeholder="2027-Q1"),
            FormField("amount", "Amount", placeholder="50k EUR"),
        ),
    )
