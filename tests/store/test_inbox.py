"""The inbox on SQLite and PostgreSQL: stored before the ack, handled once, in order, after a crash."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.bootstrap import Core
from bot.kernel import inbox as inbox_module
from bot.kernel.inbox import MAX_ATTEMPTS, Inbox
from scheduler.jobs import JOBS
from store import inbox_queries, queries
from store.inbox_models import InboxRequest
from tests.conftest import FakeClock


class Recorder:
    """A handler that records what it handled, optionally slowly or failing."""

    def __init__(self, *, delay: float = 0.0, fail_times: int = 0) -> None:
        self.handled: list[dict[str, Any]] = []
        self.delay = delay
        self.fail_times = fail_times
        self.active: dict[str, int] = {}
        self.overlaps = 0

    async def __call__(self, payload: dict[str, Any]) -> None:
        who = str(payload.get("who"))
        self.active[who] = self.active.get(who, 0) + 1
        if self.active[who] > 1:
            self.overlaps += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.fail_times > 0:
                self.fail_times -= 1
                raise RuntimeError("the platform said no")
            self.handled.append(payload)
        finally:
            self.active[who] -= 1


def inbox_for(core: Core, clock: FakeClock, **kwargs: Any) -> Inbox:
    return Inbox(db=core.db, clock=clock, **kwargs)


async def rows(core: Core) -> list[InboxRequest]:
    async with core.db.transaction() as session:
        return list((await session.execute(select(InboxRequest).order_by(InboxRequest.id))).scalars())


async def test_a_request_is_stored_once_and_handled_once(any_core: Core, clock: FakeClock) -> None:
    inbox = inbox_for(any_core, clock)
    work = Recorder()
    inbox.register("t", work)
    # The same delivery three times (Slack's retries), two of them at the same moment.
    await asyncio.gather(
        inbox.accept(kind="t", dedupe_key="ev-1", order_key="alice", payload={"n": 1}),
        inbox.accept(kind="t", dedupe_key="ev-1", order_key="alice", payload={"n": 1}),
    )
    await inbox.accept(kind="t", dedupe_key="ev-1", order_key="alice", payload={"n": 1})
    await inbox.drain()
    await inbox.stop()
    assert work.handled == [{"n": 1}]
    [row] = await rows(any_core)
    assert row.status == "done" and row.done_at is not None


async def test_concurrent_requests_share_commits_and_all_land(any_core: Core, clock: FakeClock) -> None:
    inbox = inbox_for(any_core, clock)
    work = Recorder()
    inbox.register("t", work)
    await asyncio.gather(
        *(
            inbox.accept(kind="t", dedupe_key=f"ev-{i}", order_key=f"p{i % 7}", payload={"n": i})
            for i in range(60)
        )
    )
    await inbox.drain()
    await inbox.stop()
    assert sorted(p["n"] for p in work.handled) == list(range(60))


async def test_one_persons_requests_run_in_order_and_never_side_by_side(
    any_core: Core, clock: FakeClock
) -> None:
    inbox = inbox_for(any_core, clock, workers=4)
    work = Recorder(delay=0.01)
    inbox.register("t", work)
    for i in range(12):
        who = "alice" if i % 2 == 0 else "bob"
        await inbox.accept(kind="t", dedupe_key=f"ev-{i}", order_key=who, payload={"who": who, "n": i})
    await inbox.drain()
    await inbox.stop()
    assert work.overlaps == 0
    assert [p["n"] for p in work.handled if p["who"] == "alice"] == [0, 2, 4, 6, 8, 10]
    assert [p["n"] for p in work.handled if p["who"] == "bob"] == [1, 3, 5, 7, 9, 11]


async def test_a_big_batch_is_stored_whole_with_retried_deliveries_once(
    any_core: Core, clock: FakeClock
) -> None:
    """The writer's multi-row INSERTs: more requests than one statement takes, a delivery retried
    within the same batch and one already stored - each request stored once, as the ORM reads it."""
    writer = any_core.db.autocommit_writes()
    first = inbox_queries.NewRequest("ev-0", "p0", "t", {"n": 0, "who": {"team": "T1"}})
    await writer.run(lambda conn: inbox_queries.add_requests(conn, [first], now=clock()))
    count = inbox_queries.ROWS_PER_INSERT * 2 + 50
    batch = [inbox_queries.NewRequest(f"ev-{i}", f"p{i % 7}", "t", {"n": i}) for i in range(count)]
    batch += [inbox_queries.NewRequest("ev-3", "p3", "t", {"n": "again"})]
    await writer.run(lambda conn: inbox_queries.add_requests(conn, batch, now=clock()))
    stored = await rows(any_core)
    assert len(stored) == count
    assert [r.dedupe_key for r in stored] == [f"ev-{i}" for i in range(count)]
    assert stored[0].payload == {"n": 0, "who": {"team": "T1"}}  # the first delivery's, kept
    assert stored[3].payload == {"n": 3}
    assert {r.status for r in stored} == {"pending"} and {r.attempts for r in stored} == {0}
    assert stored[-1].received_at == clock() and stored[-1].next_attempt_at == clock()


async def test_two_replicas_claim_disjoint_requests(any_core: Core, clock: FakeClock) -> None:
    requests = [inbox_queries.NewRequest(f"ev-{i}", f"p{i}", "t", {"n": i}) for i in range(40)]
    await any_core.db.autocommit_writes().run(
        lambda conn: inbox_queries.add_requests(conn, requests, now=clock())
    )
    now = clock()
    lease = now + timedelta(minutes=1)

    async def claim() -> list[int]:
        got: list[int] = []
        while True:
            async with any_core.db.transaction() as session:
                batch = await inbox_queries.claim_requests(session, now=now, lease_until=lease, limit=3)
                if not batch:
                    return got
                got += [r.id for r in batch]

    a, b = await asyncio.gather(claim(), claim())
    assert not set(a) & set(b)
    assert sorted(a + b) == [r.id for r in await rows(any_core)]


async def test_a_request_left_by_a_dead_replica_is_handled_after_its_lease(
    any_core: Core, clock: FakeClock
) -> None:
    # A replica stored the request (and acknowledged it), claimed it, and died before handling it.
    await any_core.db.autocommit_writes().run(
        lambda conn: inbox_queries.add_requests(
            conn, [inbox_queries.NewRequest("ev-1", "alice", "t", {"n": 1})], now=clock()
        )
    )
    lease = timedelta(minutes=1)
    async with any_core.db.transaction() as session:
        [claimed] = await inbox_queries.claim_requests(
            session, now=clock(), lease_until=clock() + lease, limit=5
        )
    other = inbox_for(any_core, clock)
    work = Recorder()
    other.register("t", work)
    await other.drain()
    assert work.handled == []  # still leased by the dead replica
    clock.now += lease + timedelta(seconds=1)
    await other.drain()
    await other.stop()
    assert [p["n"] for p in work.handled] == [1]
    assert [r.status for r in await rows(any_core)] == ["done"]


async def test_a_failing_request_is_retried_then_given_up(any_core: Core, clock: FakeClock) -> None:
    inbox = inbox_for(any_core, clock)
    work = Recorder(fail_times=1)
    inbox.register("t", work)
    await inbox.accept(kind="t", dedupe_key="ev-1", order_key="alice", payload={"n": 1})
    await inbox.accept(kind="t", dedupe_key="ev-2", order_key="alice", payload={"n": 2})
    await inbox.drain()
    assert work.handled == []  # the first failed; the second waits behind it (order)
    [first, second] = await rows(any_core)
    assert (
        first.attempts == 1
        and first.status == "pending"
        and "the platform said no" in (first.last_error or "")
    )
    clock.now += inbox_module.retry_delay(1) + timedelta(seconds=1)
    await inbox.drain()
    assert [p["n"] for p in work.handled] == [1, 2]

    hopeless = Recorder(fail_times=100)
    inbox.register("h", hopeless)
    await inbox.accept(kind="h", dedupe_key="ev-3", order_key="bob", payload={"n": 3})
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await inbox.drain()
        clock.now += inbox_module.retry_delay(attempt) + timedelta(seconds=1)
    await inbox.drain()
    await inbox.stop()
    row = (await rows(any_core))[-1]
    assert row.status == "failed" and row.attempts == MAX_ATTEMPTS


async def test_finished_requests_are_purged_after_a_day(any_core: Core, clock: FakeClock) -> None:
    inbox = inbox_for(any_core, clock)
    inbox.register("t", Recorder())
    await inbox.accept(kind="t", dedupe_key="ev-1", order_key="alice", payload={})
    await inbox.drain()
    await inbox.stop()
    async with any_core.db.transaction() as session:  # the core's key for the same request
        assert await queries.claim_request(session, "slack:event:ev-1", clock())
    assert await inbox_module.purge(any_core.db, now=clock()) == 0
    clock.advance(days=1, seconds=1)
    assert await JOBS["purge_inbox"].run(any_core, clock()) == "forgot 1 handled request(s)"
    assert await rows(any_core) == []
    async with any_core.db.transaction() as session:  # forgotten too: claimable again
        assert await queries.claim_request(session, "slack:event:ev-1", clock())


async def test_accept_refuses_a_kind_nobody_handles(any_core: Core, clock: FakeClock) -> None:
    inbox = inbox_for(any_core, clock)
    try:
        await inbox.accept(kind="nobody", dedupe_key="x", order_key="y", payload={})
    except ValueError as exc:
        assert "nobody" in str(exc)
    else:
        raise AssertionError("accepted a request nothing can handle")
    assert await rows(any_core) == []


async def test_while_requests_arrive_work_runs_one_at_a_time_and_pauses(
    any_core: Core, clock: FakeClock
) -> None:
    """Acknowledgements first: when a burst begins the work holds back for a moment, then at most one
    stored request is worked on at a time, with pauses; when the burst is over the rest runs at full
    width."""
    inbox = inbox_for(any_core, clock, workers=4)
    concurrent: list[int] = []
    running = 0

    async def work(payload: dict[str, Any]) -> None:
        nonlocal running
        running += 1
        concurrent.append(running)
        await asyncio.sleep(0.01)
        running -= 1

    inbox.register("t", work)
    with inbox.arriving():  # a request is being acknowledged the whole time
        for i in range(12):
            await inbox.accept(kind="t", dedupe_key=f"ev-{i}", order_key=f"p{i}", payload={})
        await asyncio.sleep(inbox_module.HOLD_BACK - 0.2)
        assert concurrent == []  # held back
        await asyncio.sleep(0.5)
        during = len(concurrent)
    assert 1 <= during < 12  # then it went on, paced: at 0.01 s + a 0.09 s pause, about 4
    assert max(concurrent) == 1
    await asyncio.sleep(inbox_module.QUIET + 0.3)  # the burst is over: the worker catches up alone
    assert len(concurrent) == 12
    assert max(concurrent[during:]) > 1
    await inbox.stop()


async def test_a_steady_stream_of_requests_does_not_hold_the_work_back(
    any_core: Core, clock: FakeClock
) -> None:
    """Work yields to acknowledgements only while one is being made: between the requests of a
    steady stream (one every 20 ms here) the workers run at full width, so the work keeps up with
    the stream instead of being paced for as long as requests keep coming."""
    inbox = inbox_for(any_core, clock, workers=4)
    done: list[int] = []
    running = 0
    widest = 0

    async def work(payload: dict[str, Any]) -> None:
        nonlocal running, widest
        running += 1
        widest = max(widest, running)
        await asyncio.sleep(0.05)
        running -= 1
        done.append(payload["i"])

    inbox.register("t", work)
    for i in range(20):
        with inbox.arriving():
            await inbox.accept(kind="t", dedupe_key=f"ev-{i}", order_key=f"p{i}", payload={"i": i})
        await asyncio.sleep(0.02)
    # Paced one at a time with pauses, 20 requests of 50 ms would take seconds; at full width the
    # work is a request or two behind the stream.
    assert len(done) >= 15
    assert widest > 1
    await inbox.stop()
