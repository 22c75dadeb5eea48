"""Aggregate queries behind partner scorecards, red flags and charts (bot/features/performance/service.py).

Every figure is computed in SQL, one ``GROUP BY partner`` per question, over all partners at once (the
tier medians need everyone's numbers anyway), so a scorecard costs a dozen queries however many deals
are stored. The one exception is the time from a lead offer to its acceptance: a median needs the
individual durations, so :func:`accept_durations` returns one row per *accepted* offer of the period.

Periods are half-open, ``[since, until)``, in naive UTC like every stored time. Every function takes the
session of the caller's unit of work and never commits; none of them writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store import mdf_queries
from store.deal_models import Deal, DealHistory
from store.deal_queries import OPEN_DEAL_STATUSES
from store.lead_models import WORKING_LEAD_STATUSES, Lead, LeadOffer
from store.models import Partner

_Stmt = TypeVar("_Stmt", bound=Select[*tuple[Any, ...]])

CENT = Decimal("0.01")
DEFAULT_STALE_DAYS = 14
"""Days without an update after which an open deal in a stage without its own rule counts as stale."""
DECIDED_OFFER_OUTCOMES = ("accepted", "declined", "expired")
"""Offers the partner (or the clock) decided. Open offers and offers staff took back (``reassigned``)
say nothing about the partner yet."""


def _money(value: Any) -> Decimal:
    """A SUM of a Numeric column as exact cents (SQLite hands sums back as floats)."""
    return Decimal(str(value or 0)).quantize(CENT)


@dataclass(frozen=True, slots=True)
class PartnerInfo:
    id: int
    name: str
    tier: str
    status: str
    channel_manager_id: int | None


@dataclass(slots=True)
class DealFigures:
    """One partner's deal numbers for a period (counts, and money by currency)."""

    registered: int = 0
    decided: int = 0
    approved: int = 0
    won: int = 0
    lost: int = 0
    won_value: dict[str, Decimal] = field(default_factory=dict)


@dataclass(slots=True)
class OpenDeals:
    """One partner's open deals as of ``until``: how many, their value by currency, how many stale."""

    count: int = 0
    stale: int = 0
    value: dict[str, Decimal] = field(default_factory=dict)


@dataclass(slots=True)
class LeadFigures:
    """One partner's lead offers made in the period, and its leads being worked as of ``until``."""

    offers_decided: int = 0
    offers_accepted: int = 0
    expired: int = 0
    working: int = 0
    stale: int = 0


@dataclass(frozen=True, slots=True)
class StageRow:
    partner_id: int
    stage: str
    currency: str
    deals: int
    value: Decimal


@dataclass(frozen=True, slots=True)
class WeekRow:
    """Registrations (``currency`` None) or won value (one row per currency) in one weekly bucket."""

    partner_id: int
    bucket: int
    registered: int
    currency: str | None = None
    won: int = 0
    won_value: Decimal = Decimal(0)


# -- partners -----------------------------------------------------------------------------------


async def partners(session: AsyncSession) -> list[PartnerInfo]:
    """Every partner organisation (active or not), by name."""
    rows = await session.execute(
        select(Partner.id, Partner.name, Partner.tier, Partner.status, Partner.channel_manager_id).order_by(
            Partner.name
        )
    )
    return [PartnerInfo(int(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4]) for r in rows]


# -- deals --------------------------------------------------------------------------------------


async def deal_figures(session: AsyncSession, *, since: datetime, until: datetime) -> dict[int, DealFigures]:
    """Per partner over ``[since, until)``: deals registered; registrations decided and how many of them
    were approved (a decided deal not rejected was approved, whatever became of it later); deals
    closed won or lost, and the won value by currency."""
    out: dict[int, DealFigures] = defaultdict(DealFigures)
    registered = await session.execute(
        select(Deal.partner_id, func.count(Deal.id))
        .where(Deal.created_at >= since, Deal.created_at < until)
        .group_by(Deal.partner_id)
    )
    for partner_id, n in registered:
        out[int(partner_id)].registered = int(n)
    decided = await session.execute(
        select(
            Deal.partner_id,
            func.count(Deal.id),
            func.sum(case((Deal.status == "rejected", 0), else_=1)),
        )
        .where(Deal.decided_at >= since, Deal.decided_at < until)
        .group_by(Deal.partner_id)
    )
    for partner_id, n, approved in decided:
        figures = out[int(partner_id)]
        figures.decided = int(n)
        figures.approved = int(approved or 0)
    # A deal is closed once (won and lost are final), so one status row per closed deal.
    closed = await session.execute(
        select(
            Deal.partner_id, DealHistory.new_value, Deal.currency, func.count(Deal.id), func.sum(Deal.amount)
        )
        .join(Deal, Deal.id == DealHistory.deal_id)
        .where(
            DealHistory.field == "status",
            DealHistory.new_value.in_(("won", "lost")),
            DealHistory.at >= since,
            DealHistory.at < until,
        )
        .group_by(Deal.partner_id, DealHistory.new_value, Deal.currency)
    )
    for partner_id, outcome, currency, n, amount in closed:
        figures = out[int(partner_id)]
        if outcome == "won":
            figures.won += int(n)
            figures.won_value[str(currency)] = figures.won_value.get(str(currency), Decimal(0)) + _money(
                amount
            )
        else:
            figures.lost += int(n)
    return dict(out)


def _stale_case(until: datetime, stale_days: Mapping[str, int], default_days: int) -> Any:
    """1 for an open deal idle for at least its stage's number of days (NudgePolicy.stale_days), else 0."""
    whens: list[tuple[Any, int]] = [
        (and_(Deal.stage == stage, Deal.updated_at <= until - timedelta(days=days)), 1)
        for stage, days in stale_days.items()
    ]
    other = Deal.updated_at <= until - timedelta(days=default_days)
    if stale_days:
        other = and_(Deal.stage.not_in(list(stale_days)), other)
    whens.append((other, 1))
    return case(*whens, else_=0)


async def open_deals(
    session: AsyncSession,
    *,
    until: datetime,
    stale_days: Mapping[str, int],
    default_stale_days: int = DEFAULT_STALE_DAYS,
) -> dict[int, OpenDeals]:
    """Per partner: deals open now (registered before ``until``), their value by currency, and how many
    had no update for their stage's number of days by ``until``."""
    rows = await session.execute(
        select(
            Deal.partner_id,
            Deal.currency,
            func.count(Deal.id),
            func.sum(Deal.amount),
            func.sum(_stale_case(until, stale_days, default_stale_days)),
        )
        .where(Deal.status.in_(OPEN_DEAL_STATUSES), Deal.created_at < until)
        .group_by(Deal.partner_id, Deal.currency)
    )
    out: dict[int, OpenDeals] = defaultdict(OpenDeals)
    for partner_id, currency, n, amount, stale in rows:
        figures = out[int(partner_id)]
        figures.count += int(n)
        figures.stale += int(stale or 0)
        figures.value[str(currency)] = _money(amount)
    return dict(out)


async def pipeline_by_stage(
    session: AsyncSession, *, partner_ids: Collection[int] | None, until: datetime
) -> list[StageRow]:
    """Open deals per partner, stage and currency (``partner_ids`` None: every partner)."""
    stmt = select(
        Deal.partner_id, Deal.stage, Deal.currency, func.count(Deal.id), func.sum(Deal.amount)
    ).where(Deal.status.in_(OPEN_DEAL_STATUSES), Deal.created_at < until)
    stmt = _only(stmt, Deal.partner_id, partner_ids)
    rows = await session.execute(stmt.group_by(Deal.partner_id, Deal.stage, Deal.currency))
    return [StageRow(int(p), str(s), str(c), int(n), _money(a)) for p, s, c, n, a in rows]


async def pipeline_by_partner(
    session: AsyncSession,
    *,
    partner_ids: Collection[int] | None,
    closing: tuple[date, date] | None = None,
) -> list[tuple[int, str, int, Decimal]]:
    """Open deals per partner and currency - (partner id, currency, deals, value) - optionally only those
    expected to close between the two days of ``closing``."""
    stmt = select(Deal.partner_id, Deal.currency, func.count(Deal.id), func.sum(Deal.amount)).where(
        Deal.status.in_(OPEN_DEAL_STATUSES)
    )
    if closing is not None:
        stmt = stmt.where(Deal.close_date >= closing[0], Deal.close_date <= closing[1])
    stmt = _only(stmt, Deal.partner_id, partner_ids)
    rows = await session.execute(stmt.group_by(Deal.partner_id, Deal.currency))
    return [(int(p), str(c), int(n), _money(a)) for p, c, n, a in rows]


def _only(stmt: _Stmt, column: Any, ids: Collection[int] | None) -> _Stmt:
    return stmt if ids is None else stmt.where(column.in_(sorted(set(ids))))


def _bucket(column: Any, starts: Sequence[datetime]) -> Any:
    """The index of the bucket ``column`` falls in: bucket i is ``[starts[i], starts[i+1])``."""
    return case(*[(column < starts[i + 1], i) for i in range(len(starts) - 1)], else_=len(starts) - 1)


async def weekly_trend(
    session: AsyncSession,
    *,
    partner_ids: Collection[int] | None,
    starts: Sequence[datetime],
    until: datetime,
) -> list[WeekRow]:
    """Registrations and won value per partner and bucket; bucket i runs from ``starts[i]`` to the next
    start (the last one to ``until``). The bucket is computed in a subquery so that both SQLite and
    PostgreSQL group by the same expression."""
    if not starts:
        return []
    created = (
        _only(
            select(
                Deal.partner_id.label("partner_id"), _bucket(Deal.created_at, starts).label("bucket")
            ).where(Deal.created_at >= starts[0], Deal.created_at < until),
            Deal.partner_id,
            partner_ids,
        )
    ).subquery()
    out = [
        WeekRow(int(p), int(b), int(n))
        for p, b, n in await session.execute(
            select(created.c.partner_id, created.c.bucket, func.count()).group_by(
                created.c.partner_id, created.c.bucket
            )
        )
    ]
    won = (
        _only(
            select(
                Deal.partner_id.label("partner_id"),
                Deal.currency.label("currency"),
                Deal.amount.label("amount"),
                _bucket(DealHistory.at, starts).label("bucket"),
            )
            .join(Deal, Deal.id == DealHistory.deal_id)
            .where(
                DealHistory.field == "status",
                DealHistory.new_value == "won",
                DealHistory.at >= starts[0],
                DealHistory.at < until,
            ),
            Deal.partner_id,
            partner_ids,
        )
    ).subquery()
    rows = await session.execute(
        select(won.c.partner_id, won.c.bucket, won.c.currency, func.count(), func.sum(won.c.amount)).group_by(
            won.c.partner_id, won.c.bucket, won.c.currency
        )
    )
    out += [WeekRow(int(p), int(b), 0, str(c), int(n), _money(a)) for p, b, c, n, a in rows]
    return out


# -- leads --------------------------------------------------------------------------------------


async def lead_figures(
    session: AsyncSession, *, since: datetime, until: datetime, stale_days: int
) -> dict[int, LeadFigures]:
    """Per partner: offers made in ``[since, until)`` that it decided (accepted, declined, let expire)
    and how many it accepted; offers that expired unaccepted in the period; and the leads it works as of
    ``until`` (accepted, contacted, qualified), with those not updated for ``stale_days`` days."""
    out: dict[int, LeadFigures] = defaultdict(LeadFigures)
    offers = await session.execute(
        select(
            LeadOffer.partner_id,
            func.count(LeadOffer.id),
            func.sum(case((LeadOffer.outcome == "accepted", 1), else_=0)),
        )
        .where(
            LeadOffer.offered_at >= since,
            LeadOffer.offered_at < until,
            LeadOffer.outcome.in_(DECIDED_OFFER_OUTCOMES),
        )
        .group_by(LeadOffer.partner_id)
    )
    for partner_id, n, accepted in offers:
        figures = out[int(partner_id)]
        figures.offers_decided = int(n)
        figures.offers_accepted = int(accepted or 0)
    for partner_id, n in await expired_offers(session, since=since, until=until):
        out[partner_id].expired = n
    working = await session.execute(
        select(
            Lead.partner_id,
            func.count(Lead.id),
            func.sum(case((Lead.updated_at <= until - timedelta(days=stale_days), 1), else_=0)),
        )
        .where(Lead.status.in_(WORKING_LEAD_STATUSES), Lead.partner_id.is_not(None))
        .group_by(Lead.partner_id)
    )
    for partner_id, n, stale in working:
        figures = out[int(partner_id)]
        figures.working = int(n)
        figures.stale = int(stale or 0)
    return dict(out)


async def expired_offers(session: AsyncSession, *, since: datetime, until: datetime) -> list[tuple[int, int]]:
    """(partner id, offers whose acceptance window ended unaccepted in ``[since, until)``)."""
    rows = await session.execute(
        select(LeadOffer.partner_id, func.count(LeadOffer.id))
        .where(LeadOffer.outcome == "expired", LeadOffer.decided_at >= since, LeadOffer.decided_at < until)
        .group_by(LeadOffer.partner_id)
    )
    return [(int(p), int(n)) for p, n in rows]


async def accept_durations(
    session: AsyncSession, *, since: datetime, until: datetime
) -> dict[int, list[float]]:
    """Hours from offer to acceptance of every offer made in ``[since, until)`` and accepted, per partner
    (a median needs the single values)."""
    rows = await session.execute(
        select(LeadOffer.partner_id, LeadOffer.offered_at, LeadOffer.decided_at).where(
            LeadOffer.outcome == "accepted",
            LeadOffer.offered_at >= since,
            LeadOffer.offered_at < until,
            LeadOffer.decided_at.is_not(None),
        )
    )
    out: dict[int, list[float]] = defaultdict(list)
    for partner_id, offered_at, decided_at in rows:
        if decided_at is None:
            continue
        out[int(partner_id)].append((decided_at - offered_at).total_seconds() / 3600)
    return dict(out)


# -- MDF ----------------------------------------------------------------------------------------


async def mdf_paid(
    session: AsyncSession, *, since: datetime, until: datetime
) -> dict[int, dict[str, Decimal]]:
    """partner id -> {currency: MDF paid in ``[since, until)``} (the MDF capability's own query)."""
    return await mdf_queries.mdf_paid_by_partner(session, since=since, until=until)
