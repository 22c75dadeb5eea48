"""The assignment engine on plain records: eligibility, scores, the recorded reason, deterministic draws."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from bot.features.leads.assignment import (
    REGION_OF_COUNTRY,
    AssignmentEngine,
    AssignmentWeights,
    LeadFacts,
    PartnerRecord,
    Performance,
    region_of,
)

DE_LEAD = LeadFacts(country="DE", region="EMEA", product="Cloud Suite")


def partner(
    partner_id: int,
    name: str,
    *,
    tier: str = "Gold",
    region: str = "EMEA",
    countries: tuple[str, ...] = ("DE",),
    active: bool = True,
    users: int = 2,
    capacity: int = 10,
    products: tuple[str, ...] = (),
    open_leads: int = 0,
    performance: Performance | None = None,
) -> PartnerRecord:
    return PartnerRecord(
        partner_id=partner_id,
        name=name,
        tier=tier,
        region=region,
        countries=countries,
        active=active,
        active_users=users,
        capacity=capacity,
        products=products,
        open_leads=open_leads,
        performance=performance or Performance(),
    )


def test_every_country_has_a_region() -> None:
    assert len(REGION_OF_COUNTRY) == 249
    assert (region_of("de"), region_of("US"), region_of("BR"), region_of("JP")) == (
        "EMEA",
        "NA",
        "LATAM",
        "APAC",
    )
    assert region_of("XX") is None


def test_territory_country_list_or_whole_region() -> None:
    engine = AssignmentEngine(rng=random.Random(0))
    listed_elsewhere = partner(1, "Gaul Partners", countries=("FR",))
    whole_region = partner(2, "Tailspin", countries=())
    other_region = partner(3, "Contoso", region="NA", countries=("US",))
    assert engine.why_not(DE_LEAD, listed_elsewhere, excluded=()) == "doesn't cover DE"
    assert engine.why_not(DE_LEAD, other_region, excluded=()) == "doesn't cover DE"
    assert engine.why_not(DE_LEAD, whole_region, excluded=()) is None
    chosen = engine.choose(DE_LEAD, [listed_elsewhere, whole_region, other_region])
    assert chosen is not None and chosen.partner_name == "Tailspin"
    assert chosen.reason.startswith("EMEA, Gold, 0 of 10 open leads")


def test_capacity_product_exclusions_inactive_and_users() -> None:
    engine = AssignmentEngine(rng=random.Random(0))
    full = partner(1, "Full", capacity=3, open_leads=3)
    specialist = partner(2, "Edge Specialists", products=("Edge Gateway",))
    declined = partner(3, "Declined Before")
    inactive = partner(4, "Dormant", active=False)
    nobody = partner(5, "No Users", users=0)
    fits = partner(6, "Fits", products=("cloud suite",), open_leads=9)
    records = [full, specialist, declined, inactive, nobody, fits]
    assert engine.why_not(DE_LEAD, full, excluded=()) == "is at capacity (3 of 3 open leads)"
    assert engine.why_not(DE_LEAD, specialist, excluded=()) == "doesn't specialise in Cloud Suite"
    assert engine.why_not(DE_LEAD, declined, excluded={3}) == "declined it or let it expire"
    assert engine.why_not(DE_LEAD, inactive, excluded=()) == "is not active"
    assert engine.why_not(DE_LEAD, nobody, excluded=()) == "has no active users to tell"
    assert [p.name for p in engine.eligible(DE_LEAD, records, excluded={3})] == ["Fits"]
    for seed in range(20):
        chosen = AssignmentEngine(rng=random.Random(seed)).choose(DE_LEAD, records, excluded={3})
        assert chosen is not None and chosen.partner_name == "Fits"
    assert (
        chosen.reason
        == "EMEA (DE), Gold, 9 of 10 open leads, no lead offers in the last 90 days, specialises in Cloud Suite"
    )


def test_a_lead_without_a_product_fits_specialists_too() -> None:
    engine = AssignmentEngine(rng=random.Random(0))
    specialist = partner(1, "Edge Specialists", products=("Edge Gateway",))
    assert engine.why_not(LeadFacts("DE", "EMEA", None), specialist, excluded=()) is None


def test_reason_names_region_tier_load_and_performance() -> None:
    engine = AssignmentEngine()
    record = partner(
        1,
        "Northwind",
        open_leads=3,
        performance=Performance(decided=10, accepted=8, median_hours_to_accept=5.0, converted=1, closed=4),
    )
    assert engine.reason(DE_LEAD, record) == (
        "EMEA (DE), Gold, 3 of 10 open leads, 80% acceptance, accepts in 5h (median), 25% converted"
    )


def test_nobody_eligible_explains_why() -> None:
    engine = AssignmentEngine()
    records = [
        partner(1, "Northwind", open_leads=10),
        partner(2, "Fabrikam"),
        partner(3, "Contoso", region="NA", countries=("US",)),
    ]
    assert engine.choose(DE_LEAD, records, excluded={2}) is None
    assert engine.why_nobody(DE_LEAD, records, excluded={2}) == (
        "no eligible partner: Fabrikam declined it or let it expire; "
        "Northwind is at capacity (10 of 10 open leads)"
    )
    fr = LeadFacts("FR", "EMEA", None)
    assert engine.why_nobody(fr, records) == "no eligible partner: no active partner covers FR (EMEA)"


def test_weighted_choice_is_deterministic_with_a_seed_and_follows_the_scores() -> None:
    records = [
        partner(1, "Gold Partner", tier="Gold"),
        partner(2, "Registered Partner", tier="Registered"),
    ]
    first = [AssignmentEngine(rng=random.Random(42)).choose(DE_LEAD, records) for _ in range(3)]
    again = [AssignmentEngine(rng=random.Random(42)).choose(DE_LEAD, records) for _ in range(3)]
    assert first == again
    engine = AssignmentEngine(rng=random.Random(7))
    picks = Counter(engine.choose(DE_LEAD, records).partner_name for _ in range(3000))  # type: ignore[union-attr]
    gold, registered = engine.score(records[0]), engine.score(records[1])
    assert gold == pytest.approx(3 * registered)
    share = picks["Gold Partner"] / 3000
    assert 0.71 < share < 0.79, f"Gold should win about 75% of draws, won {share:.0%}"


def test_score_rewards_free_capacity_acceptance_speed_and_conversion() -> None:
    engine = AssignmentEngine()
    base = partner(1, "A", open_leads=5)
    assert engine.score(partner(1, "A", open_leads=0)) > engine.score(base)
    good = Performance(decided=10, accepted=10, median_hours_to_accept=1, converted=3, closed=3)
    poor = Performance(decided=10, accepted=2, median_hours_to_accept=40, converted=0, closed=2)
    assert (
        engine.score(partner(1, "A", performance=good))
        > engine.score(base)
        > engine.score(partner(1, "A", performance=poor))
    )
    assert engine.score(partner(1, "A", tier="Platinum")) > engine.score(partner(1, "A", tier="Silver"))


def test_tier_weights_are_configurable() -> None:
    weights = AssignmentWeights.parse_tiers("Platinum=4, Gold=3,Silver=2,Registered=1,Elite=10")
    assert weights.tier_weight("elite") == 10 and weights.tier_weight("GOLD") == 3
    assert weights.tier_weight("Unknown") == 1
    for bad in ("Gold", "Gold=x", "Gold=-1", " , "):
        with pytest.raises(ValueError, match="PARTNERBOT_LEAD_TIER_WEIGHTS"):
            AssignmentWeights.parse_tiers(bad)
