"""Who gets a lead: the assignment engine.

Pure decisions over plain records, so they are tested without a database (tests/unit) and explained in
one sentence. The lead service (:mod:`bot.features.leads.service`) loads the records; this module decides.

A partner is **eligible** for a lead when it is active, has someone to tell (an active user), covers
the lead's territory (the lead's country is among the partner's countries; a partner that lists no
countries covers its whole region), specialises in the lead's product (a partner without
specialisations takes every product), is under its capacity of open leads, and has not declined this
lead or let it expire.

Among the eligible, the engine draws one at random with probability proportional to a **score**::

    tier weight x (1 + w_capacity x free share of capacity
                     + w_acceptance x acceptance rate          (last 90 days)
                     + w_speed x 1 / (1 + median hours to accept / 24)
                     + w_conversion x conversion rate)

A partner without history gets ``neutral_rate`` for the rates it has no data for, so newcomers get
leads too. The random source is injected (``random.Random(seed)`` in tests) so every draw can be
replayed. Every choice comes with the reason shown to staff, e.g.
"EMEA (DE), Gold, 3 of 10 open leads, 80% acceptance".
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

PERFORMANCE_DAYS = 90

_REGION_COUNTRIES = {
    "NA": "US CA PM BM UM",
    "LATAM": (
        "MX GT BZ SV HN NI CR PA CU DO HT JM BS BB TT AG DM GD KN LC VC PR VI VG AI MS KY TC AW CW SX BQ "
        "BL MF GP MQ CO VE GY SR GF EC PE BO BR PY UY AR CL FK GS"
    ),
    "EMEA": (
        "AD AL AM AT AX AZ BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GE GG GI GL GR HR HU IE IM IS IT "
        "JE LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM TR UA VA "
        "AE BH IL IQ IR JO KW LB OM PS QA SA SY YE "
        "DZ AO BJ BW BF BI CV CM CF TD KM CG CD CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS LR LY MG MW ML "
        "MR MU YT MA MZ NA NE NG RE RW SH ST SN SC SL SO ZA SS SD TZ TG TN UG EH ZM ZW TF BV"
    ),
    "APAC": (
        "AF AU BD BN BT CK CN CC CX FJ FM GU HK ID IN JP KG KH KI KP KR KZ LA LK MH MM MN MO MP MV MY NC NF "
        "NP NR NU NZ PF PG PH PK PN PW SB SG TH TJ TK TL TM TO TV TW UZ VN VU WF WS AS HM IO AQ"
    ),
}
REGION_OF_COUNTRY: dict[str, str] = {
    code: region for region, codes in _REGION_COUNTRIES.items() for code in codes.split()
}
"""Every ISO 3166-1 alpha-2 code, mapped to the sales region that usually covers it."""


def region_of(country: str | None) -> str | None:
    return REGION_OF_COUNTRY.get((country or "").upper())


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """What the engine needs to know about a lead."""

    country: str
    region: str | None
    product: str | None


@dataclass(frozen=True, slots=True)
class Performance:
    """A partner's record with leads over the last :data:`PERFORMANCE_DAYS` days."""

    decided: int = 0  # offers accepted, declined or let expire
    accepted: int = 0
    median_hours_to_accept: float | None = None
    converted: int = 0
    closed: int = 0  # of the accepted leads: converted or disqualified

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.decided if self.decided else None

    @property
    def conversion_rate(self) -> float | None:
        return self.converted / self.closed if self.closed else None


@dataclass(frozen=True, slots=True)
class PartnerRecord:
    """A partner as the engine sees it."""

    partner_id: int
    name: str
    tier: str
    region: str
    countries: tuple[str, ...]
    active: bool
    active_users: int
    capacity: int
    products: tuple[str, ...]
    open_leads: int
    performance: Performance = field(default_factory=Performance)


@dataclass(frozen=True, slots=True)
class AssignmentWeights:
    """How much each signal counts. ``tiers`` maps a tier name (any case) to its weight."""

    tiers: Mapping[str, float] = field(
        default_factory=lambda: {"platinum": 4.0, "gold": 3.0, "silver": 2.0, "registered": 1.0}
    )
    unknown_tier: float = 1.0
    capacity: float = 1.0
    acceptance: float = 1.0
    speed: float = 0.5
    conversion: float = 1.0
    neutral_rate: float = 0.5

    def tier_weight(self, tier: str) -> float:
        return float(self.tiers.get(tier.strip().lower(), self.unknown_tier))

    @classmethod
    def parse_tiers(cls, text: str) -> AssignmentWeights:
        """From ``"Platinum=4,Gold=3,Silver=2,Registered=1"`` (PARTNERBOT_LEAD_TIER_WEIGHTS)."""
        tiers: dict[str, float] = {}
        for part in text.split(","):
            if not part.strip():
                continue
            name, sep, value = part.partition("=")
            try:
                weight = float(value)
            except ValueError:
                weight = -1.0
            if not sep or not name.strip() or weight <= 0:
                raise ValueError(
                    f"PARTNERBOT_LEAD_TIER_WEIGHTS must look like 'Platinum=4,Gold=3,Silver=2,Registered=1' "
                    f"(positive numbers), not {text!r}"
                )
            tiers[name.strip().lower()] = weight
        if not tiers:
            raise ValueError("PARTNERBOT_LEAD_TIER_WEIGHTS names no tier")
        return cls(tiers=tiers)


@dataclass(frozen=True, slots=True)
class Assignment:
    """The engine's choice and why."""

    partner_id: int
    partner_name: str
    score: float
    reason: str


def _territory(lead: LeadFacts, partner: PartnerRecord) -> str | None:
    """How ``partner`` covers the lead's territory ("EMEA (DE)", "EMEA"), or None."""
    if partner.countries:
        return f"{partner.region} ({lead.country})" if lead.country in partner.countries else None
    if lead.region and partner.region.upper() == lead.region.upper():
        return partner.region
    return None


def _specialises(lead: LeadFacts, partner: PartnerRecord) -> bool:
    if not lead.product or not partner.products:
        return True
    return lead.product.casefold() in {p.casefold() for p in partner.products}


def _hours(hours: float) -> str:
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{hours:.0f}h"
    return f"{hours / 24:.0f} days"


class AssignmentEngine:
    def __init__(self, *, weights: AssignmentWeights | None = None, rng: random.Random | None = None) -> None:
        self.weights = weights or AssignmentWeights()
        self.rng = rng or random.Random()

    def why_not(self, lead: LeadFacts, partner: PartnerRecord, *, excluded: Collection[int]) -> str | None:
        """Why ``partner`` may not get the lead, or None when it may."""
        if not partner.active:
            return "is not active"
        if _territory(lead, partner) is None:
            return f"doesn't cover {lead.country}"
        if partner.partner_id in excluded:
            return "declined it or let it expire"
        if partner.active_users == 0:
            return "has no active users to tell"
        if not _specialises(lead, partner):
            return f"doesn't specialise in {lead.product}"
        if partner.open_leads >= partner.capacity:
            return f"is at capacity ({partner.open_leads} of {partner.capacity} open leads)"
        return None

    def eligible(
        self, lead: LeadFacts, partners: Sequence[PartnerRecord], *, excluded: Collection[int] = ()
    ) -> list[PartnerRecord]:
        return sorted(
            (p for p in partners if self.why_not(lead, p, excluded=excluded) is None),
            key=lambda p: p.partner_id,
        )

    def score(self, partner: PartnerRecord) -> float:
        w = self.weights
        perf = partner.performance
        free = max(0, partner.capacity - partner.open_leads) / partner.capacity if partner.capacity else 0.0
        acceptance = perf.acceptance_rate if perf.acceptance_rate is not None else w.neutral_rate
        speed = (
            1.0 / (1.0 + perf.median_hours_to_accept / 24.0)
            if perf.median_hours_to_accept is not None
            else w.neutral_rate
        )
        conversion = perf.conversion_rate if perf.conversion_rate is not None else w.neutral_rate
        return w.tier_weight(partner.tier) * (
            1.0 + w.capacity * free + w.acceptance * acceptance + w.speed * speed + w.conversion * conversion
        )

    def reason(self, lead: LeadFacts, partner: PartnerRecord) -> str:
        """One line for staff: "EMEA (DE), Gold, 3 of 10 open leads, 80% acceptance, ..."."""
        perf = partner.performance
        parts = [
            _territory(lead, partner) or f"{partner.region} (outside its territory)",
            partner.tier,
            f"{partner.open_leads} of {partner.capacity} open leads",
        ]
        if perf.acceptance_rate is None:
            parts.append(f"no lead offers in the last {PERFORMANCE_DAYS} days")
        else:
            parts.append(f"{perf.acceptance_rate:.0%} acceptance")
            if perf.median_hours_to_accept is not None:
                parts.append(f"accepts in {_hours(perf.median_hours_to_accept)} (median)")
        if perf.conversion_rate is not None:
            parts.append(f"{perf.conversion_rate:.0%} converted")
        if lead.product and partner.products:
            parts.append(f"specialises in {lead.product}")
        return ", ".join(parts)

    def choose(
        self, lead: LeadFacts, partners: Sequence[PartnerRecord], *, excluded: Collection[int] = ()
    ) -> Assignment | None:
        """A weighted random choice among the eligible partners, or None when nobody is eligible."""
        candidates = self.eligible(lead, partners, excluded=excluded)
        if not candidates:
            return None
        scored = [(p, self.score(p)) for p in candidates]
        total = sum(s for _, s in scored)
        point = self.rng.random() * total
        chosen, chosen_score = scored[-1]
        running = 0.0
        for partner, score in scored:
            running += score
            if point < running:
                chosen, chosen_score = partner, score
                break
        return Assignment(
            partner_id=chosen.partner_id,
            partner_name=chosen.name,
            score=round(chosen_score, 4),
            reason=self.reason(lead, chosen),
        )

    def why_nobody(
        self, lead: LeadFacts, partners: Sequence[PartnerRecord], *, excluded: Collection[int] = ()
    ) -> str:
        """The review-queue reason when :meth:`choose` found nobody: "no eligible partner: ..."."""
        place = lead.country + (f" ({lead.region})" if lead.region else "")
        in_territory = [p for p in partners if p.active and _territory(lead, p) is not None]
        if not in_territory:
            return f"no eligible partner: no active partner covers {place}"
        notes = []
        for partner in sorted(in_territory, key=lambda p: p.name.casefold()):
            why = self.why_not(lead, partner, excluded=excluded)
            if why:
                notes.append(f"{partner.name} {why}")
        shown = notes[:5] + ([f"and {len(notes) - 5} more"] if len(notes) > 5 else [])
        return "no eligible partner: " + "; ".join(shown)
