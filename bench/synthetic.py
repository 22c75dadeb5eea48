"""The one deterministic generator of synthetic partnerbot data, for the benchmarks and the tests.

Everything is a pure function of a :class:`Spec` (its ``seed`` above all) and of a row's index: row
``i`` of a table is the same whether 200 or a million rows are generated, so a database can be grown
from 10k to 1M registrations and the first 10k stay what they were. Random numbers come from one
:class:`random.Random` per block of :data:`BLOCK` rows, seeded from (seed, stream, block).

What it makes:

- partners, vendor staff (approvers, channel managers, experts) and partner users, some with a Slack
  and a Teams identity (for the ingress benchmarks);
- one customer per deal, named from an invented word that is unique per row (a bijection of the row
  index onto three syllables) plus sector words, ``&`` partners and legal suffixes - so the only
  near-duplicates are accidental look-alikes and the ones planted on purpose;
- deals whose statuses, stages and dates follow :class:`Spec`: ``due_share`` of all deals is due for
  a nudge at ``Spec.now`` under the default :class:`bot.features.nudges.service.NudgePolicy` (stale for its stage, close
  date passed, protection ending in 14 or 3 days, or waiting for review), every other deal is not;
- leads in every status, with the offer to their partner (accepted ones name who accepted them);
  ``due_share`` of them is accepted work left idle past ``NudgePolicy.lead_idle``, the rest is not;
- planted near-duplicates (:func:`planted`): for about one customer in twenty, a new registration by
  another partner whose company name is a typo, a word swap, a longer or shorter form, another legal
  suffix or another spelling of that customer - each one a conflict by
  :func:`bot.kernel.companies.company_similarity`, which the generator checks as it plants.

:func:`populate` writes it all fast: ``executemany`` in big transactions with ``synchronous=OFF`` on
SQLite, ``COPY`` on PostgreSQL, through the synchronous engine of :func:`store.db.sync_url`; the
schema comes from :func:`store.db.upgrade`.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine

from bot.features.nudges.service import NudgePolicy
from bot.kernel.companies import (
    CONFLICT_THRESHOLD,
    company_similarity,
    normalize_company,
    validate_company_name,
)
from store.db import sync_url, upgrade

BLOCK = 1024
NOW = datetime(2026, 12, 2, 14, 0)
"""A Wednesday: afternoon in Europe, morning in the Americas, evening in Asia (naive UTC)."""

PRODUCTS = ("Cloud Suite", "Edge Gateway", "Security Pack")
STAGES = ("prospecting", "qualification", "proposal", "negotiation", "commit")
OPEN = ("pending", "info_requested", "approved")
CLOSED = ("won", "lost", "rejected", "expired", "withdrawn")
WORKING = ("accepted", "contacted", "qualified")
LEAD_STATUSES = (
    ("offered", 10),
    ("accepted", 15),
    ("contacted", 15),
    ("qualified", 10),
    ("converted", 20),
    ("disqualified", 25),
    ("unassigned", 5),
)
WORKING_SHARE = sum(w for s, w in LEAD_STATUSES if s in WORKING) / sum(w for _, w in LEAD_STATUSES)
TIERS = ("Gold", "Silver", "Registered")
REGIONS = {"EMEA": ("DE", "FR", "GB", "NL", "ES"), "NA": ("US", "CA"), "APAC": ("SG", "AU", "IN", "JP")}
TIME_ZONES = (
    ("Europe/Berlin", 30),
    ("Europe/London", 15),
    ("Europe/Paris", 10),
    ("Europe/Madrid", 5),
    ("America/New_York", 15),
    ("America/Sao_Paulo", 5),
    ("America/Chicago", 5),
    ("Asia/Kolkata", 10),
    ("Asia/Singapore", 5),
)
FIRST_NAMES = (
    "Alice Bruno Chiara Dmitri Elena Farid Greta Hiro Ines Jonas Kemal Lena Marco Nadia Oskar Priya "
    "Quentin Rosa Sven Tara Umar Vera Wim Xenia Yusuf Zoe"
).split()
LAST_NAMES = (
    "Novak Reyes Chen Meyer Rossi Dubois Kowalski Larsen Okafor Silva Tanaka Varga Weber Yilmaz Haddad "
    "Fischer Moreau Jansen Costa Nieminen"
).split()

# Invented words: a consonant, a vowel and an optional coda per syllable. Each vowel follows exactly one
# onset consonant, so a word splits into syllables one way only, and three syllables chosen by a
# bijection of the row index make a word no other row has.
ONSETS = "bdfghklmnprstvz"
VOWELS = "aeiou"
CODAS = ("", "l", "n", "r", "s")
SYLLABLES = tuple(o + v + c for o in ONSETS for v in VOWELS for c in CODAS)
WORD_SPACE = len(SYLLABLES) ** 3
_MULTIPLIER = 2_654_435_761  # coprime with WORD_SPACE (= 3**3 * 5**9)
SECTORS = (
    "Systems Solutions Logistics Health Foods Analytics Energy Partners Labs Technologies Consulting "
    "Industries Media Networks Capital Retail Pharma Motors Software Services Engineering Robotics "
    "Security Finance Insurance Medical Travel Design Bau Logistik"
).split()
SUFFIXES = ("Inc", "Ltd", "GmbH", "LLC", "S.A.", "Corp.", "AG", "B.V.", "Pty Ltd", "plc", "Group", "Holdings")
TLDS = ("com", "de", "io", "co.uk", "fr", "net")
VARIANT_KINDS = (
    ("typo", 35),
    ("double_typo", 10),
    ("reorder", 10),
    ("longer", 10),
    ("shorter", 10),
    ("suffix", 10),
    ("split_word", 10),
    ("spelling", 5),
)
LETTERS = "abcdefghijklmnopqrstuvwxyz"

# Streams of random numbers, one per kind of row.
_DEALS, _PEOPLE, _LEADS, _PLANTED, _PARTNERS = 1, 2, 3, 4, 5


@dataclass(frozen=True, slots=True)
class Spec:
    """How much of what. People are partner users; :data:`STAFF` comes on top."""

    seed: int = 20261202
    partners: int = 200
    people: int = 2_000
    deals: int = 10_000
    leads: int = 2_000
    active_share: float = 0.6
    due_share: float = 0.01
    later_share: float = 0.0
    identities: int = 200
    now: datetime = NOW

    def __post_init__(self) -> None:
        if self.partners < 2 or self.people < self.partners:
            raise ValueError("need at least two partners and one user per partner")
        if not 0 <= self.due_share + self.later_share <= min(self.active_share, WORKING_SHARE):
            raise ValueError(
                "due_share + later_share must not exceed the open deals' and working leads' shares"
            )

    @property
    def later(self) -> datetime:
        """A day after ``now``: ``due_share`` and ``later_share`` are due then, less the protections
        that ended 14 or 3 days after ``now`` (a day later they end in 13 or 2)."""
        return self.now + timedelta(days=1)

    def scaled(self, **changes: Any) -> Spec:
        return replace(self, **changes)


# (email, name, roles) of vendor staff; ids 1..len(STAFF).
STAFF: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("dana@vendor.example", "Dana Reyes", ("approver", "channel_manager")),
    ("carl@vendor.example", "Carl Meyer", ("approver", "channel_manager")),
    ("mia@vendor.example", "Mia Laine", ("channel_manager",)),
    ("olu@vendor.example", "Olu Adeyemi", ("channel_manager",)),
    ("sara@vendor.example", "Sara Holm", ("channel_manager",)),
    ("ed@vendor.example", "Ed Expert", ("expert",)),
)
MANAGERS = tuple(i + 1 for i, (_, _, roles) in enumerate(STAFF) if "channel_manager" in roles)
APPROVERS = tuple(i + 1 for i, (_, _, roles) in enumerate(STAFF) if "approver" in roles)


@dataclass
class Manifest:
    """What was generated: counts per table, and the deals and leads due by reason - at ``Spec.now``
    (``due``), and a day later (``due_later``)."""

    counts: Counter[str] = field(default_factory=Counter)
    due: Counter[str] = field(default_factory=Counter)
    later: Counter[str] = field(default_factory=Counter)

    @property
    def due_later(self) -> Counter[str]:
        out = self.due + self.later
        out["expiring"] -= self.due["expiring"]  # their warning day has passed
        return +out

    @staticmethod
    def deals_in(due: Counter[str]) -> int:
        return sum(n for reason, n in due.items() if reason != "lead_idle")

    @property
    def due_deals(self) -> int:
        return self.deals_in(self.due)

    @property
    def due_leads(self) -> int:
        return self.due["lead_idle"]

    def as_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "due": dict(self.due), "due_later": dict(self.due_later)}


def _rng(spec: Spec, stream: int, block: int) -> random.Random:
    return random.Random((spec.seed * 1_000_003 + stream) * 1_000_003 + block)


def _weighted(rng: random.Random, choices: Sequence[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _rows_by_block(
    spec: Spec, stream: int, start: int, stop: int, make: Callable[[int, random.Random], Any]
) -> Iterator[Any]:
    """``make(i, rng)`` for i in [start, stop); the generator of block b is seeded from b alone."""
    for block in range(start // BLOCK, (stop + BLOCK - 1) // BLOCK):
        rng = _rng(spec, stream, block)
        first = block * BLOCK
        for i in range(first, min(first + BLOCK, stop)):
            row = make(i, rng)  # consume the block's numbers in order even before ``start``
            if i >= start:
                yield row


# -- names ------------------------------------------------------------------------------------------


def invented_word(spec: Spec, index: int) -> str:
    """A word no other index has (for 0 <= index < WORD_SPACE)."""
    p = (index * _MULTIPLIER + spec.seed) % WORD_SPACE
    n = len(SYLLABLES)
    return SYLLABLES[p // (n * n)] + SYLLABLES[(p // n) % n] + SYLLABLES[p % n]


def _short_word(rng: random.Random) -> str:
    return (rng.choice(SYLLABLES) + rng.choice(SYLLABLES)).capitalize()


def company_name(spec: Spec, index: int, rng: random.Random) -> str:
    word = invented_word(spec, index).capitalize()
    shape = rng.random()
    if shape < 0.5:
        name = f"{word} {rng.choice(SECTORS)}"
    elif shape < 0.65:
        name = word
    elif shape < 0.8:
        name = f"{word} {_short_word(rng)}"
    elif shape < 0.9:
        name = f"{word} & {rng.choice(LAST_NAMES)}"
    else:
        first, second = rng.sample(SECTORS, 2)
        name = f"{word} {first} {second}"
    if rng.random() < 0.05:
        name = "The " + name
    if rng.random() < 0.4:
        name += " " + rng.choice(SUFFIXES)
    return name


def fresh_names(spec: Spec, count: int) -> list[str]:
    """Company names that are in no generated table (words from the far end of the word space)."""
    rng = _rng(spec, _PLANTED, 10**6)
    return [company_name(spec, WORD_SPACE - 1 - j, rng) for j in range(count)]


# -- partners and people ----------------------------------------------------------------------------


def partner_rows(spec: Spec) -> list[dict[str, Any]]:
    rng = _rng(spec, _PARTNERS, 0)
    rows = []
    for p in range(1, spec.partners + 1):
        region = list(REGIONS)[p % len(REGIONS)]
        rows.append(
            {
                "id": p,
                "name": f"{invented_word(spec, WORD_SPACE // 2 + p).capitalize()} Partners {p}",
                "tier": TIERS[rng.randrange(len(TIERS))],
                "region": region,
                "countries": list(REGIONS[region][:2]),
                "status": "active",
                "channel_manager_id": MANAGERS[p % len(MANAGERS)],
                "created_at": spec.now - timedelta(days=400),
            }
        )
    return rows


def partner_workspace_rows(spec: Spec) -> list[dict[str, Any]]:
    """Each partner's Slack workspace and Teams tenant."""
    rows = []
    for p in range(1, spec.partners + 1):
        for platform, workspace in (("slack", slack_team(p)), ("teams", teams_tenant(p))):
            rows.append({"id": len(rows) + 1, "partner_id": p, "platform": platform, "workspace": workspace})
    return rows


def slack_team(partner_id: int) -> str:
    return f"T{partner_id:07d}"


def teams_tenant(partner_id: int) -> str:
    return f"tenant-{partner_id:07d}"


def person_id(spec: Spec, user_index: int) -> int:
    """The id of partner user ``user_index`` (0-based); staff come first."""
    return len(STAFF) + user_index + 1


def partner_of_user(spec: Spec, user_index: int) -> int:
    return user_index % spec.partners + 1


def user_of_partner(spec: Spec, partner: int, k: int) -> int:
    """The ``k``-th user (any k >= 0, wrapping) of ``partner``, as a user index."""
    per_partner = (spec.people - partner + spec.partners) // spec.partners
    return partner - 1 + (k % per_partner) * spec.partners


def staff_rows(spec: Spec) -> list[dict[str, Any]]:
    return [
        {
            "id": i + 1,
            "email": email,
            "name": name,
            "kind": "staff",
            "partner_id": None,
            "roles": list(roles),
            "topics": ["mdf"] if "expert" in roles else [],
            "region": None,
            "tz": "Europe/Berlin",
            "away": False,
            "active": True,
            "created_at": spec.now - timedelta(days=500),
        }
        for i, (email, name, roles) in enumerate(STAFF)
    ]


def user_email(spec: Spec, user_index: int) -> str:
    return f"user{user_index}@partner{partner_of_user(spec, user_index)}.example"


def user_rows(spec: Spec, start: int = 0, stop: int | None = None) -> Iterator[dict[str, Any]]:
    def make(i: int, rng: random.Random) -> dict[str, Any]:
        return {
            "id": person_id(spec, i),
            "email": user_email(spec, i),
            "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            "kind": "partner",
            "partner_id": partner_of_user(spec, i),
            "roles": [],
            "topics": [],
            "region": None,
            "tz": _weighted(rng, TIME_ZONES),
            "away": False,
            "active": True,
            "created_at": spec.now - timedelta(days=300),
        }

    return _rows_by_block(spec, _PEOPLE, start, spec.people if stop is None else stop, make)


def slack_user(user_index: int) -> str:
    return f"U{user_index:08d}"


def teams_user(user_index: int) -> str:
    return f"aad-{user_index:08d}"


def identity_rows(spec: Spec) -> Iterator[dict[str, Any]]:
    """A Slack and a Teams identity for the first ``spec.identities`` partner users."""
    for i in range(min(spec.identities, spec.people)):
        pid, partner = person_id(spec, i), partner_of_user(spec, i)
        team, user = slack_team(partner), slack_user(i)
        yield {
            "id": 2 * i + 1,
            "person_id": pid,
            "platform": "slack",
            "workspace": team,
            "external_id": user,
            "conversation_ref": {
                "platform": "slack",
                "workspace": team,
                "external_id": user,
                "extras": {"team": team, "user": user, "channel": f"D{user}"},
            },
            "last_seen_at": spec.now - timedelta(days=1),
        }
        tenant, aad = teams_tenant(partner), teams_user(i)
        yield {
            "id": 2 * i + 2,
            "person_id": pid,
            "platform": "teams",
            "workspace": tenant,
            "external_id": aad,
            "conversation_ref": {
                "platform": "teams",
                "workspace": tenant,
                "external_id": aad,
                "extras": {"personal": True},
            },
            "last_seen_at": spec.now - timedelta(days=1),
        }


# -- customers and deals ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DealRow:
    """One deal and its customer (customer id == deal id == index + 1)."""

    customer: dict[str, Any]
    deal: dict[str, Any]
    due: str | None  # the reason it is due at ``spec.now``, or None
    later: str | None = None  # the reason it becomes due a day after ``spec.now``


def _days(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=int(rng.uniform(low, high) * 86400))


DEAL_REASONS = (("stale", 60), ("close_passed", 25), ("expiring", 10), ("review", 5))
DAY = timedelta(days=1)


def _deal(spec: Spec, i: int, rng: random.Random, policy: NudgePolicy) -> DealRow:
    now, today = spec.now, spec.now.date()
    partner = rng.randrange(spec.partners) + 1
    name = company_name(spec, i, rng)
    word = invented_word(spec, i)
    customer = {
        "id": i + 1,
        "partner_id": partner,
        "name": name,
        "name_key": normalize_company(name),
        "domain": f"{word}.{rng.choice(TLDS)}" if rng.random() < 0.4 else None,
        "country": rng.choice(("DE", "US", "GB", "FR", "NL", "SG", "IN")),
        "created_at": now - timedelta(days=800),
    }
    stage = rng.choice(STAGES)
    is_open = rng.random() < spec.active_share
    due: str | None = None
    later: str | None = None
    protection: date | None = None
    close = today + timedelta(days=rng.randint(1, 300))
    if is_open:
        roll = rng.random() * spec.active_share
        if roll < spec.due_share:
            due = _weighted(rng, DEAL_REASONS)
        elif roll < spec.due_share + spec.later_share:
            later = _weighted(rng, DEAL_REASONS)
        reason = due or later
        status = rng.choice(OPEN)
        if reason in ("stale", "close_passed"):
            status = rng.choice(("approved", "info_requested"))
        elif reason == "expiring":
            status = "approved"
        elif reason == "review":
            status, stage = "pending", "prospecting"
        # Not due now nor a day later: fresh enough for its stage (and for review, if pending).
        stale = timedelta(days=policy.stale_days[stage])
        updated = now - _days(rng, 0, 0.9 if status == "pending" else stale.days - 1.5)
        if due == "stale":
            updated = now - stale - _days(rng, 1, 60)
        elif later == "stale":
            updated = now - stale + _days(rng, 0.05, 0.95)
        elif due == "close_passed":
            close = today - timedelta(days=rng.randint(1, 90))
        elif later == "close_passed":
            close = today
        elif due == "review":
            updated = now - policy.review_wait - _days(rng, 0.5, 7)
        elif later == "review":
            updated = now - policy.review_wait + _days(rng, 0.05, 0.95)
        if status == "approved":
            days = rng.randint(16, 120)
            if reason == "expiring":
                days = rng.choice(policy.expiry_warnings) + (1 if later else 0)
            protection = today + timedelta(days=days)
    else:
        status = rng.choice(CLOSED)
        updated = now - _days(rng, 1, 400)
        close = today - timedelta(days=rng.randint(-30, 400))
    created = updated - _days(rng, 0, 120)
    deal = {
        "id": i + 1,
        "number": i + 1,
        "partner_id": partner,
        "customer_id": i + 1,
        "registered_by_id": person_id(spec, user_of_partner(spec, partner, rng.randrange(1 << 30))),
        "product": rng.choice(PRODUCTS),
        "amount": Decimal(rng.randrange(5_000, 2_000_000, 500)),
        "currency": rng.choice(("USD", "EUR", "GBP")),
        "close_date": close,
        "stage": stage,
        "status": status,
        "in_conflict": False,
        "notes": None,
        "protection_until": protection,
        "decided_at": updated if status in ("approved", "rejected") else None,
        "created_at": created,
        "updated_at": updated,
    }
    return DealRow(customer=customer, deal=deal, due=due, later=later)


def deal_rows(spec: Spec, start: int = 0, stop: int | None = None) -> Iterator[DealRow]:
    policy = NudgePolicy()
    return _rows_by_block(
        spec, _DEALS, start, spec.deals if stop is None else stop, lambda i, rng: _deal(spec, i, rng, policy)
    )


# -- leads ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeadRow:
    """One lead and, when it went to a partner, its offer (lead id == offer id == index + 1)."""

    lead: dict[str, Any]
    offer: dict[str, Any] | None
    due: str | None  # "lead_idle" when accepted work on it stalled before ``spec.now``
    later: str | None = None  # "lead_idle" from a day after ``spec.now`` on


def lead_rows(spec: Spec, start: int = 0, stop: int | None = None) -> Iterator[LeadRow]:
    now = spec.now
    policy = NudgePolicy()
    working_share = WORKING_SHARE

    def make(i: int, rng: random.Random) -> LeadRow:
        company = company_name(spec, WORD_SPACE // 4 + i, rng)
        status = _weighted(rng, LEAD_STATUSES)
        partner = None if status == "unassigned" else rng.randrange(spec.partners) + 1
        offered = now - _days(rng, 2, 365) if partner else None
        created = (offered or now) - _days(rng, 0, 1)
        due = later = None
        if status in WORKING:
            roll = rng.random() * working_share
            updated = now - _days(rng, 0, policy.lead_idle.days - 1.5)
            if roll < spec.due_share:
                due = "lead_idle"
                updated = now - policy.lead_idle - _days(rng, 1, 50)
            elif roll < spec.due_share + spec.later_share:
                later = "lead_idle"
                updated = now - policy.lead_idle + _days(rng, 0.05, 0.95)
        else:
            updated = (offered or created) + _days(rng, 0, 1)
        accepted = status not in ("offered", "unassigned")
        accepted_at = offered + timedelta(hours=5) if offered and accepted else None
        if accepted_at and accepted_at > updated:
            accepted_at = updated
        region = rng.choice(list(REGIONS))
        lead = {
            "id": i + 1,
            "number": i + 1,
            "company": company,
            "company_key": normalize_company(company),
            "contact_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            "contact_email": f"contact{i}@{invented_word(spec, WORD_SPACE // 4 + i)}.example",
            "country": rng.choice(REGIONS[region]),
            "region": region,
            "product": rng.choice(PRODUCTS),
            "source": rng.choice(("webinar", "website", "event", "referral")),
            "status": status,
            "review_reason": "no eligible partner" if status == "unassigned" else None,
            "partner_id": partner,
            "offered_at": offered,
            "accept_by": now + timedelta(days=rng.randint(1, 5)) if status == "offered" else None,
            "accepted_at": accepted_at,
            "closed_at": updated if status in ("converted", "disqualified") else None,
            "created_via": "import",
            "created_at": created,
            "updated_at": updated,
            "version": 1,
        }
        offer = None
        if partner is not None and offered is not None:
            offer = {
                "id": i + 1,
                "lead_id": i + 1,
                "partner_id": partner,
                "reason": "region and products match",
                "score": round(rng.random(), 3),
                "outcome": "accepted" if accepted else "offered",
                "decided_by_id": person_id(spec, user_of_partner(spec, partner, rng.randrange(1 << 30)))
                if accepted
                else None,
                "offered_at": offered,
                "accept_by": offered + timedelta(days=2) if accepted else lead["accept_by"],
                "decided_at": accepted_at,
            }
        return LeadRow(lead=lead, offer=offer, due=due, later=later)

    return _rows_by_block(spec, _LEADS, start, spec.leads if stop is None else stop, make)


# -- planted near-duplicates ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Planted:
    """A new registration of an existing customer under another name, by another partner."""

    original_id: int  # customer id (== deal id) of the existing registration
    original_partner_id: int
    original_name: str
    original_key: str
    name: str
    kind: str
    partner_id: int  # the partner registering it now (never the original's)
    score: float  # company_similarity(normalize_company(name), original_key)


def is_planted(index: int) -> bool:
    """About one customer in twenty gets a planted near-duplicate."""
    return (index * 2_654_435_761 >> 7) % 20 == 3


def planted(spec: Spec, deals: int, *, limit: int | None = None) -> list[Planted]:
    """Planted near-duplicates of the first ``deals`` customers (at most ``limit``), in index order."""
    out: list[Planted] = []
    for row in deal_rows(spec, 0, deals):
        index = row.customer["id"] - 1
        if not is_planted(index):
            continue
        rng = _rng(spec, _PLANTED, index)
        kind, name = _variant(rng, row.customer["name"], row.customer["name_key"])
        customer = row.customer
        out.append(
            Planted(
                original_id=customer["id"],
                original_partner_id=customer["partner_id"],
                original_name=customer["name"],
                original_key=customer["name_key"],
                name=name,
                kind=kind,
                partner_id=customer["partner_id"] % spec.partners + 1,
                score=company_similarity(normalize_company(name), customer["name_key"]),
            )
        )
        if limit is not None and len(out) >= limit:
            break
    return out


def _variant(rng: random.Random, name: str, key: str) -> tuple[str, str]:
    """(kind, name): a name for the same company that the conflict rule must catch."""
    kind = _weighted(rng, VARIANT_KINDS)
    for _ in range(60):
        candidate = _make_variant(rng, kind, name)
        if candidate is None or candidate == name:
            continue
        try:
            validate_company_name(candidate)
        except Exception:
            continue
        candidate_key = normalize_company(candidate)
        if kind in ("typo", "double_typo", "split_word") and candidate_key == key:
            continue
        if company_similarity(candidate_key, key) >= CONFLICT_THRESHOLD:
            return kind, candidate
    return "suffix", _without_suffix(name) + " " + ("GmbH" if not name.endswith("GmbH") else "Inc")


def _without_suffix(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(" " + suffix):
            return name[: -len(suffix) - 1]
    return name


def _edit(rng: random.Random, text: str) -> str:
    pos = rng.randrange(len(text))
    op = rng.choice("sidt")
    letter = rng.choice(LETTERS)
    if op == "s":
        return text[:pos] + letter + text[pos + 1 :]
    if op == "i":
        return text[:pos] + letter + text[pos:]
    if op == "d":
        return text[:pos] + text[pos + 1 :]
    return text[:pos] + text[pos + 1 : pos + 2] + text[pos] + text[pos + 2 :]


def _make_variant(rng: random.Random, kind: str, name: str) -> str | None:
    base = _without_suffix(name)
    words = base.split()
    if kind == "typo":
        return _edit(rng, base)
    if kind == "double_typo":
        return _edit(rng, _edit(rng, base))
    if kind == "reorder":
        if len(words) < 2:
            return None
        rng.shuffle(words)
        return " ".join(words)
    if kind == "longer":
        return f"{base} {rng.choice(('Europe', 'International', 'Deutschland', 'North America', 'Digital'))}"
    if kind == "shorter":
        return " ".join(words[:-1]) if len(words) > 1 else None
    if kind == "suffix":
        return f"{base} {rng.choice(SUFFIXES)}"
    if kind == "split_word":
        first = words[0] if words[0] != "The" or len(words) == 1 else words[1]
        cut = rng.randrange(2, max(3, len(first) - 1))
        return base.replace(first, f"{first[:cut]} {first[cut:].lower()}", 1)
    # spelling: the same words, written differently
    spelled = base.replace(" & ", " and ") if " & " in base else base.upper()
    return ("The " + spelled) if not spelled.startswith("The ") and rng.random() < 0.5 else spelled


# -- writing it ---------------------------------------------------------------------------------------

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "partners": (
        "id",
        "name",
        "tier",
        "region",
        "countries",
        "status",
        "channel_manager_id",
        "created_at",
    ),
    "partner_workspaces": ("id", "partner_id", "platform", "workspace"),
    "people": (
        "id",
        "email",
        "name",
        "kind",
        "partner_id",
        "roles",
        "topics",
        "region",
        "tz",
        "away",
        "active",
        "created_at",
    ),
    "chat_identities": (
        "id",
        "person_id",
        "platform",
        "workspace",
        "external_id",
        "conversation_ref",
        "last_seen_at",
    ),
    "customers": ("id", "partner_id", "name", "name_key", "domain", "country", "created_at"),
    "deals": (
        "id",
        "number",
        "partner_id",
        "customer_id",
        "registered_by_id",
        "product",
        "amount",
        "currency",
        "close_date",
        "stage",
        "status",
        "in_conflict",
        "notes",
        "protection_until",
        "decided_at",
        "created_at",
        "updated_at",
    ),
    "lead_offers": (
        "id",
        "lead_id",
        "partner_id",
        "reason",
        "score",
        "outcome",
        "decided_by_id",
        "offered_at",
        "accept_by",
        "decided_at",
    ),
    "leads": (
        "id",
        "number",
        "company",
        "company_key",
        "contact_name",
        "contact_email",
        "country",
        "region",
        "product",
        "source",
        "status",
        "review_reason",
        "partner_id",
        "offered_at",
        "accept_by",
        "accepted_at",
        "closed_at",
        "created_via",
        "created_at",
        "updated_at",
        "version",
    ),
}
CHUNK = 20_000


class _Writer:
    """Bulk rows into one database through the DBAPI connection of the synchronous engine."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(sync_url(database_url))
        self.dialect = self.engine.dialect.name
        self.raw: Any = self.engine.raw_connection()
        if self.dialect == "sqlite":
            cursor = self.raw.cursor()
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA cache_size=-200000")
            cursor.close()

    def _value(self, value: Any) -> Any:
        if isinstance(value, dict | list):
            return json.dumps(value)
        if self.dialect != "sqlite":
            return value
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, bool):
            return int(value)
        return value

    def write(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        """Insert ``rows`` (dicts with every column of :data:`TABLE_COLUMNS`) in one transaction."""
        columns = TABLE_COLUMNS[table]
        value = self._value
        tuples = (tuple(value(row[c]) for c in columns) for row in rows)
        count = 0
        cursor = self.raw.cursor()
        try:
            if self.dialect == "sqlite":
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                chunk: list[tuple[Any, ...]] = []
                for row in tuples:
                    chunk.append(row)
                    if len(chunk) >= CHUNK:
                        cursor.executemany(sql, chunk)
                        count += len(chunk)
                        chunk = []
                if chunk:
                    cursor.executemany(sql, chunk)
                    count += len(chunk)
            else:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in tuples:
                        copy.write_row(row)
                        count += 1
            self.raw.commit()
        finally:
            cursor.close()
        return count

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cursor = self.raw.cursor()
        try:
            if self.dialect != "sqlite":
                sql = sql.replace("?", "%s")
            cursor.execute(sql, params)
            result = cursor.fetchall() if cursor.description else None
            self.raw.commit()
            return result
        finally:
            cursor.close()

    def finish(self) -> None:
        """Move id sequences past the explicit ids (PostgreSQL) and refresh planner statistics."""
        if self.dialect == "postgresql":
            for table in (
                "partners",
                "partner_workspaces",
                "people",
                "chat_identities",
                "customers",
                "deals",
                "leads",
                "lead_offers",
            ):
                self.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                )
            self.execute("ANALYZE")
        else:
            self.execute("ANALYZE")

    def close(self) -> None:
        self.raw.close()
        self.engine.dispose()


def populate(
    database_urls: str | Sequence[str],
    spec: Spec,
    *,
    deals_from: int = 0,
    leads: bool = True,
    migrate: bool = True,
) -> Manifest:
    """Write ``spec``'s data into each database (migrated to head first); rows are generated once.

    With ``deals_from`` > 0 the databases already hold this spec's first ``deals_from`` deals (an
    earlier call with a smaller ``spec.deals``) and only the rest are added, with nothing else."""
    urls = [database_urls] if isinstance(database_urls, str) else list(database_urls)
    if migrate:
        for url in urls:
            upgrade(url)
    manifest = Manifest()
    writers = [_Writer(url) for url in urls]

    # One thread per database: SQLite's C code and PostgreSQL's server work overlap the other's Python.
    pool = ThreadPoolExecutor(max_workers=len(writers))

    def write(table: str, rows: Sequence[dict[str, Any]]) -> int:
        for done in [pool.submit(writer.write, table, rows) for writer in writers]:
            done.result()
        return len(rows)

    try:
        if deals_from == 0:
            for writer in writers:
                for name in PRODUCTS:
                    if not writer.execute("SELECT 1 FROM products WHERE name = ?", (name,)):
                        writer.execute("INSERT INTO products (name, active) VALUES (?, ?)", (name, True))
            manifest.counts["people"] += write("people", staff_rows(spec))
            manifest.counts["partners"] = write("partners", partner_rows(spec))
            manifest.counts["partner_workspaces"] = write("partner_workspaces", partner_workspace_rows(spec))
            for start in range(0, spec.people, CHUNK):
                manifest.counts["people"] += write(
                    "people", list(user_rows(spec, start, min(spec.people, start + CHUNK)))
                )
            manifest.counts["chat_identities"] = write("chat_identities", list(identity_rows(spec)))
        for start in range(deals_from, spec.deals, CHUNK):
            rows = list(deal_rows(spec, start, min(spec.deals, start + CHUNK)))
            manifest.counts["customers"] += write("customers", [r.customer for r in rows])
            manifest.counts["deals"] += write("deals", [r.deal for r in rows])
            for r in rows:
                if r.deal["status"] in OPEN:
                    manifest.counts["open_deals"] += 1
                if r.due:
                    manifest.due[r.due] += 1
                if r.later:
                    manifest.later[r.later] += 1
        if leads and deals_from == 0:
            for start in range(0, spec.leads, CHUNK):
                lead_chunk = list(lead_rows(spec, start, min(spec.leads, start + CHUNK)))
                manifest.counts["leads"] += write("leads", [r.lead for r in lead_chunk])
                manifest.counts["lead_offers"] += write(
                    "lead_offers", [r.offer for r in lead_chunk if r.offer is not None]
                )
                for lead in lead_chunk:
                    if lead.due:
                        manifest.due[lead.due] += 1
                    if lead.later:
                        manifest.later[lead.later] += 1
        for writer in writers:
            _set_counter(writer, "deal", spec.deals)
            if leads and deals_from == 0:
                _set_counter(writer, "lead", spec.leads)
            writer.finish()
    finally:
        pool.shutdown()
        for writer in writers:
            writer.close()
    return manifest


def _set_counter(writer: _Writer, name: str, value: int) -> None:
    if writer.execute("SELECT value FROM counters WHERE name = ?", (name,)):
        writer.execute("UPDATE counters SET value = ? WHERE name = ?", (value, name))
    else:
        writer.execute("INSERT INTO counters (name, value) VALUES (?, ?)", (name, value))


def sqlite_path(database_url: str) -> str | None:
    url = sync_url(database_url)
    return url.database if url.get_backend_name() == "sqlite" else None


def sqlite_integrity(database_url: str) -> str:
    """``PRAGMA integrity_check`` of a SQLite benchmark database (tests)."""
    path = sqlite_path(database_url)
    assert path is not None
    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
