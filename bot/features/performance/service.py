"""Partner performance: scorecards against the median of the partner's tier, red flags with their reason,
and the laggards list for staff.

What a scorecard shows, for a period of ``days`` ending ``now`` (see :mod:`store.performance_queries`
for the exact SQL):

- deals registered; approval rate (approved ÷ decided, for registrations decided in the period); win
  rate (won ÷ (won + lost), for deals closed in the period); open pipeline and won value by currency;
- lead acceptance (offers accepted ÷ offers the partner decided - accepted, declined or let expire -
  among those made in the period) and the median hours from offer to acceptance;
- the share of open deals that are stale (no update for their stage's ``NudgePolicy.stale_days``) and
  of leads being worked with no update for :data:`STALE_LEAD_DAYS` days; leads that expired unaccepted;
- MDF paid in the period and the return on it (won value ÷ MDF paid, only when both are in one and the
  same currency).

Who sees what. A partner user sees only their own organisation's scorecard: naming any other partner
answers exactly like naming one that doesn't exist. Tier medians are aggregates, and a partner sees
one only when at least :data:`PARTNER_MEDIAN_MIN` partners contribute to it - the median of two would
give away the other partner's number. Staff see every scorecard, the laggards list and the charts.

Tier medians take, for each figure, every active partner of the tier that has data for it: a rate
needs a denominator (a partner that closed no deal has no win rate), a time to accept needs an
accepted offer, an amount needs money in that currency; counts are data even when zero.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from decimal import Decimal

from rapidfuzz import fuzz, process
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import bounded_number
from bot.features.deals.model import STAGES
from bot.features.nudges.service import NudgePolicy
from bot.features.performance.charts import ChartData, StageBar, WeekPoint
from bot.kernel.companies import normalize_company
from bot.kernel.dates import quarter_bounds
from bot.kernel.errors import InputError, NotAllowed, NotFound, PartnerbotError
from bot.kernel.messages import Actor
from store import performance_queries as pq
from store.db import Database

DEFAULT_DAYS = 90
MAX_DAYS = 730
TREND_WEEKS = 12
STALE_LEAD_DAYS = 14
PARTNER_MEDIAN_MIN = 3
"""Fewest partners a median must be taken over before a partner user may see it."""
STAFF_MEDIAN_MIN = 2
"""A "median" of the partner alone says nothing, so staff see one from two partners on."""
FUZZY_MATCH = 88


class AmbiguousPartner(PartnerbotError):
    """A partner name that fits several partners (staff only: a partner user has one candidate)."""

    def __init__(self, name: str, names: Sequence[str]) -> None:
        super().__init__(f"'{name}' fits several partners: {', '.join(names)}. Which one?")
        self.names = list(names)


def unknown_partner_text(name: str) -> str:
    shown = " ".join(name.split())[:60]
    return f"I don't know a partner called '{shown}'."


# -- thresholds ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlagThresholds:
    """When a figure becomes a red flag. Every number is configurable (``PARTNERBOT_FLAG_*``).

    - ``win_rate_ratio``: win rate below this share of the tier median (0.5: under half of it);
    - ``acceptance_ratio``: the same for lead acceptance;
    - ``expired_leads``: this many lead offers expired unaccepted in the calendar month (UTC);
    - ``stale_share``: more than this share of open deals, or of leads being worked, is stale;
    - ``min_peers``: fewest partners with data in the tier before a comparison with its median counts
      (partner users never see one taken over fewer than :data:`PARTNER_MEDIAN_MIN`).
    """

    win_rate_ratio: float = 0.5
    acceptance_ratio: float = 0.5
    expired_leads: int = 3
    stale_share: float = 0.5
    min_peers: int = 3

    @classmethod
    def from_settings(cls, extra: Mapping[str, str]) -> FlagThresholds:
        def share(name: str, default: float) -> float:
            return bounded_number(extra, name, default, most=1)

        def count(name: str, default: int) -> int:
            raw = extra.get(name, "").strip()
            if not raw:
                return default
            if not raw.isdigit() or int(raw) < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {raw!r}")
            return int(raw)

        default = cls()
        return cls(
            win_rate_ratio=share("PARTNERBOT_FLAG_WIN_RATE_RATIO", default.win_rate_ratio),
            acceptance_ratio=share("PARTNERBOT_FLAG_ACCEPTANCE_RATIO", default.acceptance_ratio),
            expired_leads=count("PARTNERBOT_FLAG_EXPIRED_LEADS", default.expired_leads),
            stale_share=share("PARTNERBOT_FLAG_STALE_SHARE", default.stale_share),
            min_peers=count("PARTNERBOT_FLAG_MIN_PEERS", default.min_peers),
        )


# -- figures ------------------------------------------------------------------------------------


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class MdfReturn:
    """Won value ÷ MDF paid, or why there is none (``note``)."""

    ratio: Decimal | None
    currency: str | None
    note: str


def mdf_return(won: Mapping[str, Decimal], paid: Mapping[str, Decimal]) -> MdfReturn:
    """Only money of one currency is divided: MDF paid in one currency and nothing won in another."""
    paid = {c: v for c, v in paid.items() if v > 0}
    won = {c: v for c, v in won.items() if v > 0}
    if not paid:
        return MdfReturn(None, None, "no MDF paid")
    if len(paid) > 1 or any(c not in paid for c in won):
        return MdfReturn(None, None, "n/a (currencies differ)")
    ((currency, spent),) = paid.items()
    return MdfReturn((won.get(currency, Decimal(0)) / spent).quantize(Decimal("0.1")), currency, "")


@dataclass(frozen=True, slots=True)
class Metrics:
    """One partner's figures for one period."""

    registered: int = 0
    decided: int = 0
    approved: int = 0
    won: int = 0
    lost: int = 0
    won_value: Mapping[str, Decimal] = field(default_factory=dict)
    open_deals: int = 0
    stale_deals: int = 0
    pipeline: Mapping[str, Decimal] = field(default_factory=dict)
    offers_decided: int = 0
    offers_accepted: int = 0
    accept_hours: tuple[float, ...] = ()
    working_leads: int = 0
    stale_leads: int = 0
    expired_leads: int = 0
    expired_this_month: int = 0
    mdf_paid: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def approval_rate(self) -> float | None:
        return _ratio(self.approved, self.decided)

    @property
    def win_rate(self) -> float | None:
        return _ratio(self.won, self.won + self.lost)

    @property
    def acceptance_rate(self) -> float | None:
        return _ratio(self.offers_accepted, self.offers_decided)

    @property
    def hours_to_accept(self) -> float | None:
        return statistics.median(self.accept_hours) if self.accept_hours else None

    @property
    def stale_deal_share(self) -> float | None:
        return _ratio(self.stale_deals, self.open_deals)

    @property
    def stale_lead_share(self) -> float | None:
        return _ratio(self.stale_leads, self.working_leads)

    @property
    def mdf_return(self) -> MdfReturn:
        return mdf_return(self.won_value, self.mdf_paid)


NUMBERS: dict[str, Callable[[Metrics], float | None]] = {
    "registered": lambda m: float(m.registered),
    "approval_rate": lambda m: m.approval_rate,
    "win_rate": lambda m: m.win_rate,
    "acceptance_rate": lambda m: m.acceptance_rate,
    "hours_to_accept": lambda m: m.hours_to_accept,
    "stale_deal_share": lambda m: m.stale_deal_share,
    "stale_lead_share": lambda m: m.stale_lead_share,
    "expired_leads": lambda m: float(m.expired_leads),
}
"""The figures with a tier median, and how to read each from a partner's Metrics (None: no data)."""
AMOUNTS: dict[str, Callable[[Metrics], Mapping[str, Decimal]]] = {
    "pipeline": lambda m: m.pipeline,
    "won_value": lambda m: m.won_value,
    "mdf_paid": lambda m: m.mdf_paid,
}
"""The money figures: a median per currency."""


@dataclass(frozen=True, slots=True)
class Median:
    value: float | None
    partners: int


@dataclass(frozen=True, slots=True)
class TierMedians:
    """Medians of one tier; what the viewer may not see is already left out (value None)."""

    tier: str
    numbers: Mapping[str, Median]
    amounts: Mapping[str, Mapping[str, Decimal]]

    def number(self, name: str) -> float | None:
        median = self.numbers.get(name)
        return median.value if median else None


def tier_medians(tier: str, peers: Sequence[Metrics], *, minimum: int) -> TierMedians:
    """Medians over ``peers`` (the tier's active partners), each over the partners with data for it;
    a median over fewer than ``minimum`` partners is withheld."""
    numbers: dict[str, Median] = {}
    for name, read in NUMBERS.items():
        values = [v for v in (read(m) for m in peers) if v is not None]
        shown = statistics.median(values) if values and len(values) >= minimum else None
        numbers[name] = Median(shown, len(values))
    amounts: dict[str, dict[str, Decimal]] = {}
    for name, read_money in AMOUNTS.items():
        by_currency: dict[str, list[Decimal]] = {}
        for m in peers:
            for currency, value in read_money(m).items():
                if value > 0:
                    by_currency.setdefault(currency, []).append(value)
        amounts[name] = {
            c: Decimal(statistics.median(v)).quantize(pq.CENT)
            for c, v in sorted(by_currency.items())
            if len(v) >= minimum
        }
    return TierMedians(tier=tier, numbers=numbers, amounts=amounts)


@dataclass(frozen=True, slots=True)
class RedFlag:
    """A figure out of line, with the reason as a person reads it. ``severity`` orders the laggards:
    how far past its threshold the figure is (0 at the threshold)."""

    metric: str
    reason: str
    severity: float


def _pct(value: float) -> str:
    return f"{value:.0%}"


def red_flags(
    metrics: Metrics,
    medians: TierMedians,
    *,
    thresholds: FlagThresholds,
    days: int,
    min_peers: int,
) -> list[RedFlag]:
    """Every red flag of one partner, with its reason ("win rate 8% vs Gold median 31% over 90 days")."""
    flags: list[RedFlag] = []

    def compare(metric: str, label: str, value: float | None, ratio: float) -> None:
        median = medians.numbers.get(metric)
        if value is None or median is None or median.value is None or median.partners < min_peers:
            return
        limit = median.value * ratio
        if median.value > 0 and value < limit:
            flags.append(
                RedFlag(
                    metric,
                    f"{label} {_pct(value)} vs {medians.tier} median {_pct(median.value)} over {days} days",
                    1 - value / limit,
                )
            )

    compare("win_rate", "win rate", metrics.win_rate, thresholds.win_rate_ratio)
    compare("acceptance_rate", "lead acceptance", metrics.acceptance_rate, thresholds.acceptance_ratio)
    if metrics.expired_this_month >= thresholds.expired_leads:
        n = metrics.expired_this_month
        flags.append(
            RedFlag(
                "expired_leads",
                f"{n} lead{'s' if n != 1 else ''} expired unaccepted this month",
                n / thresholds.expired_leads - 1 + 0.1,
            )
        )
    share = metrics.stale_deal_share
    if share is not None and share > thresholds.stale_share:
        flags.append(
            RedFlag(
                "stale_deal_share",
                f"{metrics.stale_deals} of {metrics.open_deals} open deals stale ({_pct(share)})",
                share - thresholds.stale_share,
            )
        )
    share = metrics.stale_lead_share
    if share is not None and share > thresholds.stale_share:
        flags.append(
            RedFlag(
                "stale_lead_share",
                f"{metrics.stale_leads} of {metrics.working_leads} accepted leads without an update for "
                f"{STALE_LEAD_DAYS} days ({_pct(share)})",
                share - thresholds.stale_share,
            )
        )
    return flags


@dataclass(frozen=True, slots=True)
class Scorecard:
    """One partner's scorecard as one viewer may see it. ``chart`` is filled for staff only."""

    partner: str
    tier: str
    days: int
    since: datetime
    until: datetime
    metrics: Metrics
    medians: TierMedians
    flags: tuple[RedFlag, ...]
    chart: ChartData | None = None

    @property
    def severity(self) -> float:
        return sum(f.severity for f in self.flags)


# -- charts -------------------------------------------------------------------------------------


def week_starts(now: datetime, weeks: int = TREND_WEEKS) -> list[datetime]:
    """Monday 00:00 (UTC) of the last ``weeks`` ISO weeks, the current one last."""
    monday = datetime.combine(now.date() - timedelta(days=now.weekday()), time())
    return [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


async def chart_data(
    session: AsyncSession, *, partner_ids: Collection[int], now: datetime, weeks: int = TREND_WEEKS
) -> ChartData:
    """Open pipeline by stage and the last ``weeks`` ISO weeks (registrations, won value), summed over
    ``partner_ids``."""
    return (await charts_by_group(session, {0: partner_ids}, now=now, weeks=weeks))[0]


async def charts_by_group(
    session: AsyncSession, groups: Mapping[int, Collection[int]], *, now: datetime, weeks: int = TREND_WEEKS
) -> dict[int, ChartData]:
    """:func:`chart_data` for several groups of partners (e.g. each channel manager's) from the same two
    queries."""
    members = {p for ids in groups.values() for p in ids}
    starts = week_starts(now, weeks)
    rows = await pq.pipeline_by_stage(session, partner_ids=members, until=now)
    trend = await pq.weekly_trend(session, partner_ids=members, starts=starts, until=now)
    out = {}
    for key, ids in groups.items():
        wanted = set(ids)
        out[key] = _chart(
            [r for r in rows if r.partner_id in wanted], [w for w in trend if w.partner_id in wanted], starts
        )
    return out


def _chart(rows: Sequence[pq.StageRow], trend: Sequence[pq.WeekRow], starts: Sequence[datetime]) -> ChartData:
    stages: dict[str, tuple[int, dict[str, Decimal]]] = {}
    for row in rows:
        count, value = stages.get(row.stage, (0, {}))
        value[row.currency] = value.get(row.currency, Decimal(0)) + row.value
        stages[row.stage] = (count + row.deals, value)
    order = list(STAGES) + sorted(s for s in stages if s not in STAGES)
    bars = tuple(StageBar(s, stages.get(s, (0, {}))[0], stages.get(s, (0, {}))[1]) for s in order)
    registered = [0] * len(starts)
    won: list[dict[str, Decimal]] = [{} for _ in starts]
    for week in trend:
        registered[week.bucket] += week.registered
        if week.currency is not None:
            bucket = won[week.bucket]
            bucket[week.currency] = bucket.get(week.currency, Decimal(0)) + week.won_value
    points = tuple(WeekPoint(s.date(), registered[i], won[i]) for i, s in enumerate(starts))
    return ChartData(stages=bars, weeks=points)


# -- the service --------------------------------------------------------------------------------


def _key(name: str) -> str:
    return normalize_company(name) or " ".join(name.lower().split())


def match_partners(name: str, candidates: Sequence[pq.PartnerInfo]) -> list[pq.PartnerInfo]:
    """The partners ``name`` may mean: an exact name, else names starting with it ("Acme" for "Acme
    Corp"), else the closest spelling when it is close enough."""
    key = _key(name)
    if not key:
        return []
    exact = [p for p in candidates if _key(p.name) == key]
    if exact:
        return exact
    starting = [p for p in candidates if _key(p.name).startswith(key + " ")]
    if starting:
        return starting
    if len(key) < 3:
        return []
    best = process.extractOne(key, {p.id: _key(p.name) for p in candidates}, scorer=fuzz.WRatio)
    if best is None or best[1] < FUZZY_MATCH:
        return []
    return [p for p in candidates if p.id == best[2]]


@dataclass(frozen=True, slots=True)
class PartnerPipeline:
    """One partner's open deals: how many, and their value by currency."""

    partner: str
    deals: int
    value: Mapping[str, Decimal]


@dataclass(frozen=True, slots=True)
class Pipeline:
    """Open pipeline by partner, biggest first; ``quarter`` when only deals closing in it are counted."""

    partners: tuple[PartnerPipeline, ...]
    quarter: str | None = None


def the_partner(name: str, candidates: Sequence[pq.PartnerInfo], actor: Actor) -> pq.PartnerInfo:
    """The one partner among ``candidates`` that ``name`` means (:func:`match_partners`); else
    :class:`NotFound` - the same answer for a partner there is none of and one that isn't the actor's -
    or :class:`AmbiguousPartner` when it fits several."""
    found = match_partners(name, candidates)
    if not found:
        own = "" if actor.is_staff else " You can see your own: say 'my scorecard'."
        raise NotFound(unknown_partner_text(name) + own)
    if len(found) > 1:
        raise AmbiguousPartner(name, [p.name for p in found])
    return found[0]


class Performance:
    def __init__(
        self,
        *,
        db: Database,
        clock: Callable[[], datetime],
        policy: NudgePolicy | None = None,
        thresholds: FlagThresholds | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy or NudgePolicy()
        self.thresholds = thresholds or FlagThresholds()

    @staticmethod
    def _check_days(days: int) -> None:
        if not 1 <= days <= MAX_DAYS:
            raise InputError("days", f"Choose a period between 1 and {MAX_DAYS} days, e.g. 'last 30 days'.")

    async def _metrics(
        self, session: AsyncSession, *, since: datetime, until: datetime
    ) -> dict[int, Metrics]:
        """Everyone's figures for ``[since, until)``: one aggregate query per question."""
        month = datetime.combine(until.date().replace(day=1), time())
        deals = await pq.deal_figures(session, since=since, until=until)
        open_deals = await pq.open_deals(session, until=until, stale_days=self.policy.stale_days)
        leads = await pq.lead_figures(session, since=since, until=until, stale_days=STALE_LEAD_DAYS)
        hours = await pq.accept_durations(session, since=since, until=until)
        expired_month = dict(await pq.expired_offers(session, since=month, until=until))
        mdf = await pq.mdf_paid(session, since=since, until=until)
        out: dict[int, Metrics] = {}
        for partner_id in (
            set(deals) | set(open_deals) | set(leads) | set(hours) | set(expired_month) | set(mdf)
        ):
            d = deals.get(partner_id, pq.DealFigures())
            o = open_deals.get(partner_id, pq.OpenDeals())
            ld = leads.get(partner_id, pq.LeadFigures())
            out[partner_id] = Metrics(
                registered=d.registered,
                decided=d.decided,
                approved=d.approved,
                won=d.won,
                lost=d.lost,
                won_value=dict(d.won_value),
                open_deals=o.count,
                stale_deals=o.stale,
                pipeline=dict(o.value),
                offers_decided=ld.offers_decided,
                offers_accepted=ld.offers_accepted,
                accept_hours=tuple(sorted(hours.get(partner_id, ()))),
                working_leads=ld.working,
                stale_leads=ld.stale,
                expired_leads=ld.expired,
                expired_this_month=expired_month.get(partner_id, 0),
                mdf_paid=dict(mdf.get(partner_id, {})),
            )
        return out

    async def _scorecards(
        self,
        session: AsyncSession,
        chosen: Sequence[pq.PartnerInfo],
        everyone: Sequence[pq.PartnerInfo],
        *,
        days: int,
        now: datetime,
        staff: bool,
    ) -> list[Scorecard]:
        since = now - timedelta(days=days)
        metrics = await self._metrics(session, since=since, until=now)
        minimum = STAFF_MEDIAN_MIN if staff else PARTNER_MEDIAN_MIN
        min_peers = self.thresholds.min_peers if staff else max(self.thresholds.min_peers, PARTNER_MEDIAN_MIN)
        medians: dict[str, TierMedians] = {}
        cards = []
        for partner in chosen:
            if partner.tier not in medians:
                peers = [
                    metrics.get(p.id, Metrics())
                    for p in everyone
                    if p.tier == partner.tier and p.status == "active"
                ]
                medians[partner.tier] = tier_medians(partner.tier, peers, minimum=minimum)
            mine = metrics.get(partner.id, Metrics())
            flags = red_flags(
                mine, medians[partner.tier], thresholds=self.thresholds, days=days, min_peers=min_peers
            )
            cards.append(
                Scorecard(
                    partner=partner.name,
                    tier=partner.tier,
                    days=days,
                    since=since,
                    until=now,
                    metrics=mine,
                    medians=medians[partner.tier],
                    flags=tuple(flags),
                )
            )
        return cards

    async def scorecard(
        self,
        actor: Actor,
        partner_name: str | None,
        *,
        days: int = DEFAULT_DAYS,
        now: datetime | None = None,
    ) -> Scorecard:
        """The scorecard of ``partner_name`` (None: the actor's own organisation) over the last ``days``.

        A partner user may only see their own: any other name - an existing partner or not - raises
        :class:`NotFound` with the same text. Staff get the chart data too."""
        self._check_days(days)
        now = now or self.clock()
        async with self.db.transaction() as session:
            everyone = await pq.partners(session)
            if actor.is_staff:
                if partner_name is None:
                    raise InputError(
                        "partner", "Whose scorecard? Say e.g. 'scorecard for Northwind' or 'who is lagging?'."
                    )
                candidates = list(everyone)
            else:
                candidates = [p for p in everyone if p.id == actor.partner_id]
                if not candidates:
                    raise NotAllowed("Scorecards are kept for partner organisations.")
            found = candidates if partner_name is None else [the_partner(partner_name, candidates, actor)]
            (card,) = await self._scorecards(
                session, found, everyone, days=days, now=now, staff=actor.is_staff
            )
            if actor.is_staff:
                card = replace(card, chart=await chart_data(session, partner_ids=[found[0].id], now=now))
            return card

    async def pipeline(
        self, actor: Actor, partner_name: str | None = None, quarter: str | None = None
    ) -> Pipeline:
        """Open pipeline by partner (staff only): every partner with open deals, or the one
        ``partner_name`` means; with ``quarter`` (``2027-Q1``), only deals expected to close in it."""
        if not actor.is_staff:
            raise NotAllowed("The pipeline by partner is for vendor staff. Say 'show my deals' for yours.")
        async with self.db.transaction() as session:
            everyone = await pq.partners(session)
            chosen = [the_partner(partner_name, everyone, actor)] if partner_name else everyone
            rows = await pq.pipeline_by_partner(
                session,
                partner_ids=[p.id for p in chosen] if partner_name else None,
                closing=quarter_bounds(quarter) if quarter else None,
            )
        names = {p.id: p.name for p in everyone}
        deals: dict[int, int] = {}
        value: dict[int, dict[str, Decimal]] = {}
        for partner_id, currency, n, amount in rows:
            deals[partner_id] = deals.get(partner_id, 0) + n
            value.setdefault(partner_id, {})[currency] = amount
        shown = [PartnerPipeline(names.get(p, "?"), deals[p], value[p]) for p in deals]
        shown.sort(key=lambda row: (-max(row.value.values(), default=Decimal(0)), row.partner))
        return Pipeline(partners=tuple(shown), quarter=quarter)

    async def laggards(
        self, actor: Actor, *, days: int = DEFAULT_DAYS, now: datetime | None = None
    ) -> list[Scorecard]:
        """Active partners with at least one red flag, worst first (most flags, then furthest out)."""
        if not actor.is_staff:
            raise NotAllowed(
                "Comparisons between partners are for vendor staff. Say 'how am I doing?' for your own scorecard."
            )
        self._check_days(days)
        now = now or self.clock()
        async with self.db.transaction() as session:
            everyone = await pq.partners(session)
            active = [p for p in everyone if p.status == "active"]
            cards = await self._scorecards(session, active, everyone, days=days, now=now, staff=True)
        flagged = [c for c in cards if c.flags]
        return sorted(flagged, key=lambda c: (-len(c.flags), -c.severity, c.partner))
