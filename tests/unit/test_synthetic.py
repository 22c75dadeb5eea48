"""The benchmark data generator (bench/synthetic.py) is deterministic and plants what it says."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.synthetic import (
    SYLLABLES,
    WORD_SPACE,
    Spec,
    deal_rows,
    fresh_names,
    invented_word,
    is_planted,
    lead_rows,
    partner_of_user,
    person_id,
    planted,
    user_of_partner,
    user_rows,
)
from bot.kernel.companies import (
    CONFLICT_THRESHOLD,
    company_similarity,
    normalize_company,
    validate_company_name,
)

SPEC = Spec(partners=12, people=60, deals=3_000, leads=500, identities=20)


def test_the_same_spec_makes_the_same_rows() -> None:
    assert list(deal_rows(SPEC, 0, 400)) == list(deal_rows(SPEC, 0, 400))
    assert list(lead_rows(SPEC, 0, 300)) == list(lead_rows(SPEC, 0, 300))
    assert list(user_rows(SPEC)) == list(user_rows(SPEC))
    assert planted(SPEC, 2_000) == planted(SPEC, 2_000)


def test_a_row_does_not_depend_on_how_many_are_made() -> None:
    everything = list(deal_rows(SPEC, 0, 3_000))
    assert list(deal_rows(SPEC, 1_500, 2_100)) == everything[1_500:2_100]
    assert list(deal_rows(SPEC.scaled(deals=700), 0)) == everything[:700]
    leads = list(lead_rows(SPEC, 0, 500))
    assert list(lead_rows(SPEC, 250, 400)) == leads[250:400]


def test_another_seed_makes_other_rows() -> None:
    other = SPEC.scaled(seed=SPEC.seed + 1)
    ours = [r.customer["name"] for r in deal_rows(SPEC, 0, 200)]
    theirs = [r.customer["name"] for r in deal_rows(other, 0, 200)]
    assert sum(a != b for a, b in zip(ours, theirs, strict=True)) > 190


def test_every_customer_has_a_name_of_its_own() -> None:
    words = [invented_word(SPEC, i) for i in range(0, WORD_SPACE, WORD_SPACE // 5_000)]
    assert len(set(words)) == len(words)
    assert all(len(w) >= 2 * 3 and w[:2] in {s[:2] for s in SYLLABLES} for w in words)
    rows = list(deal_rows(SPEC))
    keys = [r.customer["name_key"] for r in rows]
    assert len(set(keys)) == len(keys)
    for row in rows[:300]:
        assert validate_company_name(row.customer["name"]) == row.customer["name"]
        assert row.customer["name_key"] == normalize_company(row.customer["name"])
    assert not set(map(normalize_company, fresh_names(SPEC, 300))) & set(keys)


def test_people_belong_to_partners_and_deals_to_their_people() -> None:
    for partner in range(1, SPEC.partners + 1):
        for k in range(12):
            assert partner_of_user(SPEC, user_of_partner(SPEC, partner, k)) == partner
    users = {u["id"]: u for u in user_rows(SPEC)}
    assert len(users) == SPEC.people
    for row in deal_rows(SPEC, 0, 500):
        assert users[row.deal["registered_by_id"]]["partner_id"] == row.deal["partner_id"]
        assert row.customer["partner_id"] == row.deal["partner_id"]
    assert all(person_id(SPEC, i) > 0 for i in range(SPEC.people))


def test_planted_near_duplicates_are_conflicts_by_the_product_rule() -> None:
    rows = {r.customer["id"]: r.customer for r in deal_rows(SPEC)}
    dupes = planted(SPEC, SPEC.deals)
    share = len(dupes) / SPEC.deals
    assert 0.03 < share < 0.07, share
    assert sum(is_planted(i) for i in range(SPEC.deals)) == len(dupes)
    kinds = Counter(p.kind for p in dupes)
    assert {"typo", "double_typo", "reorder", "longer", "shorter", "suffix", "split_word"} <= set(kinds)
    for dupe in dupes:
        original = rows[dupe.original_id]
        assert (
            dupe.original_key == original["name_key"] and dupe.original_partner_id == original["partner_id"]
        )
        assert dupe.partner_id != dupe.original_partner_id
        validate_company_name(dupe.name)
        score = company_similarity(normalize_company(dupe.name), original["name_key"])
        assert score == dupe.score >= CONFLICT_THRESHOLD, dupe
        if dupe.kind in ("typo", "double_typo", "split_word"):
            assert normalize_company(dupe.name) != original["name_key"], dupe
    assert planted(SPEC, SPEC.deals, limit=10) == dupes[:10]


def test_the_due_plan_follows_the_shares() -> None:
    spec = SPEC.scaled(deals=20_000, leads=10_000, due_share=0.02, later_share=0.05)
    rows = list(deal_rows(spec))
    due = sum(1 for r in rows if r.due)
    later = sum(1 for r in rows if r.later)
    assert abs(due / spec.deals - 0.02) < 0.004 and abs(later / spec.deals - 0.05) < 0.006
    assert all(
        r.deal["status"] in ("pending", "info_requested", "approved") for r in rows if r.due or r.later
    )
    assert not any(r.due and r.later for r in rows)
    leads = list(lead_rows(spec))
    assert abs(sum(1 for r in leads if r.due) / spec.leads - 0.02) < 0.006
    assert all(r.offer is not None and r.offer["decided_by_id"] for r in leads if r.due or r.later)


def test_a_spec_that_cannot_be_planted_is_refused() -> None:
    with pytest.raises(ValueError):
        Spec(partners=1, people=10)
    with pytest.raises(ValueError):
        Spec(active_share=0.05, due_share=0.1)
