"""The queries the MDF service needs (bot/features/mdf/service.py) and the MDF figures other reports read. Every
function takes the session of the caller's unit of work and never commits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.mdf_models import APPROVED_STATUSES, MdfBudget, MdfHistory, MdfReminder, MdfRequest
from store.models import Partner
from store.queries import _insert

CENT = Decimal("0.01")

# -- figures for reports (stable signatures: the performance scorecards read these) -----------


async def mdf_paid_by_partner(
    session: AsyncSession, *, since: datetime, until: datetime
) -> dict[int, dict[str, Decimal]]:
    """partner id -> {currency: total paid} for requests marked paid in ``[since, until)`` (naive UTC)."""
    rows = await session.execute(
        select(MdfRequest.partner_id, MdfRequest.currency, func.sum(MdfRequest.paid_amount))
        .where(
            MdfRequest.status == "paid",
            MdfRequest.paid_at >= since,
            MdfRequest.paid_at < until,
        )
        .group_by(MdfRequest.partner_id, MdfRequest.currency)
    )
    return _by_partner(rows)


async def mdf_approved_by_partner(
    session: AsyncSession, *, since: datetime, until: datetime
) -> dict[int, dict[str, Decimal]]:
    """partner id -> {currency: total approved} for requests approved (fully or partly) in
    ``[since, until)`` (naive UTC) and not rejected since."""
    rows = await session.execute(
        select(MdfRequest.partner_id, MdfRequest.currency, func.sum(MdfRequest.approved_amount))
        .where(
            MdfRequest.status.in_(APPROVED_STATUSES),
            MdfRequest.decided_at >= since,
            MdfRequest.decided_at < until,
        )
        .group_by(MdfRequest.partner_id, MdfRequest.currency)
    )
    return _by_partner(rows)


def as_money(value: object) -> Decimal:
    """A SUM as a two-place Decimal (SQLite may hand back a float or an int; NULL is zero)."""
    return Decimal(str(value if value is not None else 0)).quantize(CENT)


def _by_partner(rows: object) -> dict[int, dict[str, Decimal]]:
    out: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for partner_id, currency, total in rows:  # type: ignore[attr-defined]
        if total is None:
            continue
        out[int(partner_id)][str(currency)] = as_money(total)
    return dict(out)


# -- budgets ----------------------------------------------------------------------------------


def _reserved_expression() -> Any:
    """What a request holds of its budget: the requested amount while pending, the approved amount
    once approved or claimed, the paid amount once paid; nothing when rejected."""
    return case(
        (MdfRequest.status == "pending", MdfRequest.amount),
        (MdfRequest.status.in_(("approved", "claimed")), MdfRequest.approved_amount),
        (MdfRequest.status == "paid", MdfRequest.paid_amount),
        else_=0,
    )


async def budget_for(session: AsyncSession, *, partner_id: int, quarter: str) -> MdfBudget | None:
    return (
        await session.execute(
            select(MdfBudget).where(MdfBudget.partner_id == partner_id, MdfBudget.quarter == quarter)
        )
    ).scalar_one_or_none()


async def lock_budget(session: AsyncSession, *, partner_id: int, quarter: str) -> MdfBudget | None:
    """The budget row, locked until the caller's transaction ends, so that checking the balance and
    writing a request (or a new budget amount) is one step for concurrent callers.

    PostgreSQL: ``SELECT … FOR UPDATE`` on the row. SQLite has no row locks; a write to the row takes
    the database's single write lock until commit, so a concurrent caller waits at this write and then
    reads what the first one committed."""
    where = (MdfBudget.partner_id == partner_id, MdfBudget.quarter == quarter)
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(
            update(MdfBudget)
            .where(*where)
            .values(lock_version=MdfBudget.lock_version + 1)
            .execution_options(synchronize_session=False)
        )
    return (
        await session.execute(
            select(MdfBudget).where(*where).with_for_update().execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def budgets_of(
    session: AsyncSession, *, partner_id: int, from_quarter: str | None = None
) -> Sequence[MdfBudget]:
    """A partner's budgets, oldest quarter first (``from_quarter`` on: "2027-Q1" sorts as text)."""
    stmt = select(MdfBudget).where(MdfBudget.partner_id == partner_id)
    if from_quarter is not None:
        stmt = stmt.where(MdfBudget.quarter >= from_quarter)
    return (await session.execute(stmt.order_by(MdfBudget.quarter))).scalars().all()


async def budgets_from(
    session: AsyncSession, *, from_quarter: str, limit: int = 200
) -> Sequence[tuple[MdfBudget, str]]:
    """Every partner's budgets from ``from_quarter`` on, with the partner's name: by quarter, then name."""
    rows = await session.execute(
        select(MdfBudget, Partner.name)
        .join(Partner, Partner.id == MdfBudget.partner_id)
        .where(MdfBudget.quarter >= from_quarter)
        .order_by(MdfBudget.quarter, Partner.name)
        .limit(limit)
    )
    return [(budget, name) for budget, name in rows.all()]


async def reserved_by_status(session: AsyncSession, *, budget_id: int) -> dict[str, Decimal]:
    """status -> what the budget's requests in that status hold (see ``_reserved_expression``)."""
    rows = await session.execute(
        select(MdfRequest.status, func.sum(_reserved_expression()))
        .where(MdfRequest.budget_id == budget_id)
        .group_by(MdfRequest.status)
    )
    return {status: as_money(total) for status, total in rows.all()}


# -- requests ---------------------------------------------------------------------------------


async def request_by_number(
    session: AsyncSession, number: int, *, for_update: bool = False
) -> MdfRequest | None:
    stmt = select(MdfRequest).where(MdfRequest.number == number)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def requests_visible(
    session: AsyncSession,
    *,
    partner_id: int | None,
    statuses: Sequence[str] | None = None,
    limit: int = 50,
) -> Sequence[MdfRequest]:
    """Requests of one partner (``partner_id``) or of everyone (``None``: staff), newest change first."""
    stmt = select(MdfRequest)
    if partner_id is not None:
        stmt = stmt.where(MdfRequest.partner_id == partner_id)
    if statuses is not None:
        stmt = stmt.where(MdfRequest.status.in_(list(statuses)))
    stmt = stmt.order_by(MdfRequest.updated_at.desc(), MdfRequest.id.desc()).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def history_of_request(session: AsyncSession, request_id: int) -> Sequence[MdfHistory]:
    return (
        (
            await session.execute(
                select(MdfHistory).where(MdfHistory.request_id == request_id).order_by(MdfHistory.id)
            )
        )
        .scalars()
        .all()
    )


# -- reminders --------------------------------------------------------------------------------


async def approved_ending_by(session: AsyncSession, *, today: date, until: date) -> Sequence[MdfRequest]:
    """Approved, unclaimed requests whose activity ends in ``[today, until]``."""
    return (
        (
            await session.execute(
                select(MdfRequest)
                .where(
                    MdfRequest.status == "approved",
                    MdfRequest.end_date >= today,
                    MdfRequest.end_date <= until,
                )
                .order_by(MdfRequest.id)
            )
        )
        .scalars()
        .all()
    )


async def claim_window_closing_by(session: AsyncSession, *, today: date, until: date) -> Sequence[MdfRequest]:
    """Approved, unclaimed requests whose last day to claim is in ``[today, until]``."""
    return (
        (
            await session.execute(
                select(MdfRequest)
                .where(
                    MdfRequest.status == "approved",
                    MdfRequest.claim_by >= today,
                    MdfRequest.claim_by <= until,
                )
                .order_by(MdfRequest.id)
            )
        )
        .scalars()
        .all()
    )


async def claim_reminder(
    session: AsyncSession, *, request_id: int, kind: str, days: int, now: datetime
) -> bool:
    """Claim the reminder (request, kind, days). False when it was already claimed - by an earlier
    sweep or by another replica in a transaction that committed first."""
    result = await session.execute(
        _insert(session, MdfReminder)
        .values(request_id=request_id, kind=kind, days=days, sent_at=now)
        .on_conflict_do_nothing(index_elements=["request_id", "kind", "days"])
        .returning(MdfReminder.id)
    )
    return result.scalar_one_or_none() is not None


async def reminders_of(session: AsyncSession, *, request_id: int) -> Sequence[MdfReminder]:
    return (
        (
            await session.execute(
                select(MdfReminder).where(MdfReminder.request_id == request_id).order_by(MdfReminder.id)
            )
        )
        .scalars()
        .all()
    )


async def transition(
    session: AsyncSession, *, request_id: int, from_statuses: Sequence[str], values: dict[str, Any]
) -> bool:
    """Move a request on only if it is still in one of ``from_statuses`` (a conditional UPDATE, so two
    staff members deciding at once, or a decision racing a claim, cannot both win - also on SQLite,
    where ``FOR UPDATE`` is a no-op). False when the request had moved on already."""
    result = await session.execute(
        update(MdfRequest)
        .where(MdfRequest.id == request_id, MdfRequest.status.in_(list(from_statuses)))
        .values(**values)
        .returning(MdfRequest.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


async def partner_names(session: AsyncSession) -> list[str]:
    """Active partners' names (staff pick one for a budget)."""
    rows = await session.execute(
        select(Partner.name).where(Partner.status == "active").order_by(Partner.name)
    )
    return [r[0] for r in rows]
