"""The conflict check's in-process name index (bot/features/deals/conflicts.py): its blocking keys find what they
promise, it answers like a full comparison on what it proposes, and it stays correct across replicas,
open transactions and a slow first load."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from bot.bootstrap import Core
from bot.features.deals import conflicts
from bot.features.deals.model import DealDraft
from bot.kernel.amounts import Money
from bot.kernel.companies import CONFLICT_THRESHOLD, company_similarity
from bot.kernel.messages import Actor
from store import conflict_queries
from store.deal_models import Customer
from tests.conftest import FakeClock, build_core, make_world

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def draft(customer: str, domain: str | None = None) -> DealDraft:
    return DealDraft(
        customer=customer,
        product="Cloud Suite",
        amount=Money(Decimal("120000"), "USD"),
        close_date=date(2027, 3, 31),
        domain=domain,
    )


def edit(rng: random.Random, text: str) -> str:
    pos = rng.randrange(len(text))
    op = rng.choice("sidt")
    if op == "s":
        return text[:pos] + rng.choice(LETTERS) + text[pos + 1 :]
    if op == "i":
        return text[:pos] + rng.choice(LETTERS) + text[pos:]
    if op == "d":
        return text[:pos] + text[pos + 1 :]
    return text[:pos] + text[pos + 1 : pos + 2] + text[pos] + text[pos + 2 :]


def levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def test_two_edits_leave_a_pair_signature_whole() -> None:
    rng = random.Random(3)
    for _ in range(3000):
        text = "".join(rng.choice(LETTERS) for _ in range(rng.randint(conflicts.PAIR_MIN, 30)))
        other = edit(rng, edit(rng, text)) if rng.random() < 0.7 else edit(rng, text)
        if levenshtein(text, other) > 2:
            continue  # two swaps of neighbours can be four edits
        stored = set(conflicts.pair_signatures(text))
        assert stored & conflicts.probe_signatures(other), (text, other)


def test_one_edit_spellings_are_every_spelling_one_edit_away() -> None:
    rng = random.Random(5)
    for _ in range(300):
        word = "".join(rng.choice(LETTERS) for _ in range(rng.randint(4, 12)))
        typo = edit(rng, word)
        if typo != word:
            assert word in conflicts.one_edit_spellings(typo)


def test_scoring_the_candidates_in_bulk_equals_scoring_each() -> None:
    rng = random.Random(7)
    base = ["globex industries", "globex", "initech", "umbrella health", "acme widgets", "globx systems"]
    names = [(i, rng.choice(base) if rng.random() < 0.3 else edit(rng, rng.choice(base))) for i in range(200)]
    assert len(names) >= conflicts.NATIVE_FROM
    for query in ("globex", "globex industries", "initec", "umbrella"):
        expected = {
            i: company_similarity(query, name)
            for i, name in names
            if company_similarity(query, name) >= CONFLICT_THRESHOLD
        }
        assert conflicts.similar_names(query, names) == expected


def test_the_index_waits_for_the_registration_in_progress_and_looks_again_for_missing_ids() -> None:
    index = conflicts.NameIndex()
    added = index._absorb([(1, 1, "globex"), (2, 2, "initech"), (4, 1, "acme")], None)
    assert [a[0] for a in added] == [1, 2, 4] and index.watermark == 4
    assert set(index._holes) == {3}  # a transaction that took id 3 may still commit
    # Id 3 committed meanwhile; id 5 is the caller's own, uncommitted customer.
    added = index._absorb([(3, 2, "umbrella"), (5, 2, "globex corp")], (2, "globex corp"))
    assert [a[0] for a in added] == [3]
    assert index.watermark == 4 and not index._holes
    # Committed after all: the next look takes it in.
    added = index._absorb([(5, 2, "globex corp"), (6, 3, "hooli")], None)
    assert [a[0] for a in added] == [5, 6] and index.watermark == 6


async def _conflicts_of(core: Core, ref: str, staff: Actor) -> list[str]:
    view = await core.deals.get(staff, ref)
    return [c.ref for c in view.conflicts]


async def test_a_typo_in_the_first_letters_is_caught(any_core: Core) -> None:
    world = await make_world(any_core)
    await any_core.deals.register(world.alice, draft("Globex Industries"))
    second = await any_core.deals.register(world.bob, draft("Glbex Industries Ltd"))
    assert await _conflicts_of(any_core, second.ref, world.dana), (
        "the prefix method missed this: 'glb' is not 'glo'"
    )
    assert conflicts.index_for(any_core.db.engine).loaded


async def test_another_replicas_registration_is_seen(any_database_url: str) -> None:
    clock = FakeClock()
    first = await build_core(any_database_url, clock)
    second = await build_core(any_database_url, clock)
    try:
        world = await make_world(first)
        await first.deals.register(world.alice, draft("Vandelay Industries"))  # loads first's index
        await second.deals.register(world.bob, draft("Kramerica Industries"))  # another process
        late = await first.deals.register(world.alice, draft("Kramerika Industries"))
        assert await _conflicts_of(first, late.ref, world.dana) == ["D-2"]
        # Found in the check's one query and scored there; taken in for the next checks too.
        index = conflicts.index_for(first.db.engine)
        assert [c for c, _ in index.names([2], other_than_partner=0)] == [2]
        assert 2 in index.candidates("kramerica industries")
    finally:
        await first.db.dispose()
        await second.db.dispose()


async def test_the_checks_one_query_reads_by_index_on_sqlite(core: Core) -> None:
    """The check's statement (news, similar customers, the domain, their registrations) looks each
    part up by an index: SQLite scanned the whole customers table for it written as one OR."""
    world = await make_world(core)
    await core.deals.register(world.alice, draft("Globex Industries", domain="globex.com"))
    seen: list[tuple[str, object]] = []

    def capture(conn: object, cursor: object, statement: str, params: object, *args: object) -> None:
        if "deals.status IN" in statement and "LEFT OUTER JOIN" in statement:
            seen.append((statement, params))

    event.listen(core.db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        await core.deals.register(world.bob, draft("Globex Industrie", domain="globex.com"))
    finally:
        event.remove(core.db.engine.sync_engine, "before_cursor_execute", capture)
    assert len(seen) == 1
    async with core.db.engine.connect() as conn:
        statement, params = seen[0]
        plan = [row[3] for row in await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
    assert not [
        step for step in plan if step.startswith("SCAN customers") or step.startswith("SCAN deals")
    ], plan
    assert any("USING INTEGER PRIMARY KEY" in step for step in plan), plan


async def test_the_customers_above_the_watermark_and_the_missing_ones_are_read_by_index(core: Core) -> None:
    """``refresh`` (the customers above the watermark and the ids still missing below it) looks them
    up by the primary key on SQLite too, rather than scanning every customer."""
    world = await make_world(core)
    for name in ("Globex", "Initech", "Umbrella Health"):
        await core.deals.register(world.alice, draft(name))
    seen: list[tuple[str, object]] = []

    def capture(conn: object, cursor: object, statement: str, params: object, *args: object) -> None:
        seen.append((statement, params))

    event.listen(core.db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with core.db.transaction() as session:
            rows = await conflict_queries.customers_after(session, after=2, also=[1])
    finally:
        event.remove(core.db.engine.sync_engine, "before_cursor_execute", capture)
    assert [row[0] for row in rows] == [1, 3]
    statement, params = next((s, p) for s, p in seen if "customers.name_key" in s)
    async with core.db.engine.connect() as conn:
        plan = [row[3] for row in await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
    assert not [step for step in plan if step.startswith("SCAN customers")], plan


async def test_the_previous_method_answers_while_the_index_loads(
    any_core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def never_ready(self: conflicts.NameIndex, engine: object, *, wait: float) -> bool:
        return False

    monkeypatch.setattr(conflicts.NameIndex, "ready", never_ready)
    world = await make_world(any_core)
    await any_core.deals.register(world.alice, draft("Globex Corporation"))
    globex = await any_core.deals.register(world.bob, draft("Globex Corp."))
    initech = await any_core.deals.register(world.bob, draft("Initech"))
    assert await _conflicts_of(any_core, globex.ref, world.dana) == ["D-1"]
    assert await _conflicts_of(any_core, initech.ref, world.dana) == []
    assert not conflicts.index_for(any_core.db.engine).loaded


async def test_warm_loads_every_customer(any_core: Core) -> None:
    world = await make_world(any_core)
    for name in ("Globex", "Initech", "Umbrella Health"):
        await any_core.deals.register(world.alice, draft(name))
    index = await conflicts.warm(any_core.db)
    async with any_core.db.transaction() as session:
        customers = (await session.execute(select(func.count()).select_from(Customer))).scalar_one()
    assert index.loaded and index.customers == customers == 3


def test_the_sorted_index_finds_every_key_it_holds_and_turns_most_others_away() -> None:
    """The bitmap in front of the postings may let a hash through that no customer has, never turn
    one away that a customer has; and it must turn most of them away, or it is not worth its bytes."""
    rng = random.Random(7)
    rows = [
        (i, i % 5, " ".join("".join(rng.choices(LETTERS, k=rng.randint(4, 11))) for _ in range(2)))
        for i in range(1, 3001)
    ]
    segment = conflicts._join(
        [conflicts._piece(rows[:1700], frozenset()), conflicts._piece(rows[1700:], frozenset())]
    )
    index = conflicts.NameIndex()
    index._segment = segment
    held = {conflicts._hash(key) for _, _, name in rows for key in conflicts.blocking_keys(name)}
    assert all(segment.may_have(h) for h in held)
    assert all(index._size(h) > 0 for h in held)
    others = [h for h in (rng.getrandbits(31) for _ in range(20_000)) if h not in held]
    assert sum(segment.may_have(h) for h in others) < len(others) // 8
    assert all(index._size(h) == 0 for h in others)
    assert list(segment.postings) == sorted(segment.postings) and list(segment.ids) == list(range(1, 3001))


async def test_recent_additions_merge_into_the_sorted_index(monkeypatch: pytest.MonkeyPatch) -> None:
    index = conflicts.NameIndex()
    base = [(1, 1, "globex industries"), (2, 2, "initech"), (5, 1, "umbrella health")]
    index._segment = conflicts._join([conflicts._piece(base, frozenset())])
    for row in [(7, 3, "hooli"), (3, 2, "vandelay industries"), (6, 1, "kramerica")]:  # 3: a late hole
        index._recent.add(*row, frozenset())
    assert (3, "vandelay industries") in index.names(
        sorted(index.candidates("vandelay industry")), other_than_partner=9
    )
    monkeypatch.setattr(conflicts, "COMPACT_MIN", 1)
    index._maybe_compact()
    assert index._compaction is not None
    await index._compaction
    assert not index._merging and not index._recent.names
    assert list(index._segment.ids) == [1, 2, 3, 5, 6, 7] and index.customers == 6
    for name, customer_id in (("globx industries", 1), ("vandelay industries", 3), ("hoolii", 7)):
        assert customer_id in index.candidates(name), name
    assert index.names([3, 6, 7], other_than_partner=1) == [(3, "vandelay industries"), (7, "hooli")]


async def test_the_served_app_loads_the_index_at_start_up(any_core: Core) -> None:
    """``partnerbot serve`` warms the index in the background, not on the first registration."""
    import asyncio

    from aiohttp.test_utils import TestServer

    from bot.app import build_web_app

    world = await make_world(any_core)
    other = await build_core(any_core.settings.database_url, FakeClock(any_core.clock()))
    try:  # a customer registered through another replica: this process has not loaded anything
        await other.deals.register(world.alice, draft("Globex"))
    finally:
        await other.db.dispose()
    index = conflicts.index_for(any_core.db.engine)
    assert not index.loaded
    server = TestServer(build_web_app(any_core, warm_conflicts=True), host="127.0.0.1")
    await server.start_server()
    try:
        for _ in range(300):
            if index.loaded and index.customers:
                break
            await asyncio.sleep(0.01)
        assert index.loaded and index.customers == 1
    finally:
        await server.close()
