"""The inbox: a platform request is stored before it is acknowledged, and handled after.

Slack wants every request answered within 3 seconds and retries what it thinks went unanswered; the
Bot Framework waits up to 15 seconds for a turn. The work behind a request - identify the person, run
the conversation, post the answers - takes longer under load, and a process can die in the middle of
it. So a channel handler calls :meth:`Inbox.accept`, which returns once the request is committed to
the ``inbox`` table, then acknowledges; workers claim stored requests (in this replica or any other)
and run the handler registered for their kind.

- *Group commit.* Requests that arrive while a write is in flight are written together in the next
  transaction, so the cost of a commit is shared by everyone waiting for it.
- *Order.* Requests with the same ``order_key`` (one person in one conversation) are handled one
  after the other in the order they arrived; different people's requests run side by side, at most
  ``workers`` at a time per process, which also keeps the acknowledgements of new requests from
  queueing behind a pile of work on the event loop.
- *Retries and replicas.* A claimed request is leased; if its process dies the lease runs out and
  another replica handles it (every worker polls every ``poll_seconds``). A handler that raises is
  retried with backoff, :data:`MAX_ATTEMPTS` times in all. A request's ``dedupe_key`` makes a retried
  delivery of the same request a no-op, and the core's request keys make handling a request twice
  harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from bot.kernel.log_context import add_to_log_context
from bot.kernel.metrics import METRICS
from store import inbox_queries, queries
from store.db import Database
from store.inbox_queries import NewRequest

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]

MAX_ATTEMPTS = 5
# While a platform request is in flight (or finished less than QUIET seconds ago): one stored request
# at a time, then a pause of WORK_SHARE times as long as it took, between MIN_PAUSE and MAX_PAUSE
# seconds - so under a flood of requests the work still gets about a tenth of the event loop. With no
# request in flight the workers run at full width, however many requests a second arrive.
WORKERS_WHILE_ARRIVING = 1
WORK_SHARE = 9.0
MIN_PAUSE, MAX_PAUSE = 0.02, 0.5
QUIET = 0.005
# When a burst begins, no work starts for HOLD_BACK seconds: a short burst is acknowledged with the
# whole event loop, and a request waits that long at most before the work gets its share.
HOLD_BACK = 1.0
KEEP_FINISHED = timedelta(days=1)


def retry_delay(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s, 40 s after the 1st, 2nd, 3rd, 4th failure."""
    return timedelta(seconds=5 * 2 ** max(0, attempts - 1))


class Inbox:
    def __init__(
        self,
        *,
        db: Database,
        clock: Callable[[], datetime],
        workers: int = 4,
        lease: timedelta = timedelta(seconds=60),
        poll_seconds: float = 2.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.workers = max(1, workers)
        self.lease = lease
        self.poll_seconds = poll_seconds
        self._handlers: dict[str, Handler] = {}
        self._waiting: list[tuple[NewRequest, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._claimed: dict[asyncio.Task[None], tuple[int, str]] = {}  # task -> (row id, kind)
        self._finished: list[int] = []
        self._claiming = asyncio.Lock()
        self._arriving = 0
        self._paused_until = 0.0
        self._last_arrival = 0.0
        # When this process's workers last finished a request (handled or failed): readiness asks
        # whether a backlog is waiting on a worker that no longer moves.
        self.last_progress = time.monotonic()

    # -- what requests are --------------------------------------------------------------------

    def register(self, kind: str, handler: Handler) -> None:
        """``handler(payload)`` handles stored requests of ``kind``."""
        self._handlers[kind] = handler

    # -- accepting ------------------------------------------------------------------------------

    async def accept(self, *, kind: str, dedupe_key: str, order_key: str, payload: dict[str, Any]) -> None:
        """Store a request; returns once it is committed (then it may be acknowledged). A request whose
        ``dedupe_key`` is already stored is not stored again. Raises if the database refused it."""
        if kind not in self._handlers:
            raise ValueError(f"no inbox handler for {kind!r}")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((NewRequest(dedupe_key, order_key, kind, payload), done))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write())
        await done

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self.db.autocommit_writes().run(
                    functools.partial(
                        inbox_queries.add_requests, requests=[r for r, _ in batch], now=self.clock()
                    )
                )
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for request, done in batch:
                    METRICS.acknowledged(request.kind)
                    if not done.done():
                        done.set_result(None)
                self.start()  # one look for the workers per batch, not one per request
                self._poke()

    # -- acknowledgements first -----------------------------------------------------------------

    @contextlib.contextmanager
    def arriving(self) -> Iterator[None]:
        """Wrap the handling of an incoming platform request (up to its acknowledgement). While one
        is in flight (or finished less than :data:`QUIET` seconds ago) - a burst - acknowledgements,
        which have a deadline, come first: for :data:`HOLD_BACK` seconds from the burst's start no
        stored request is started, then one at a time with a pause after each (:data:`WORK_SHARE`
        times as long as it took); the rest waits in the inbox. Between requests the workers run at
        full width: a steady stream of requests slows the work only for the moments an
        acknowledgement is being made. (A request handled during a burst cost the acknowledgements
        far more than its own time: on SQLite its writes hold the database's write lock across turns
        of the busy loop, and the inbox's next commit waits for them.)"""
        if not self._in_burst():  # a burst begins: the work holds back for a moment
            self._paused_until = max(self._paused_until, time.monotonic() + HOLD_BACK)
        self._arriving += 1
        try:
            yield
        finally:
            self._arriving -= 1
            self._last_arrival = time.monotonic()

    def _burst_ends(self) -> float:
        """When the current burst counts as over: ``QUIET`` after the last request finished, or - while
        one is in flight - not before the worker's next look."""
        if self._arriving:
            return time.monotonic() + MIN_PAUSE
        return self._last_arrival + QUIET

    def _in_burst(self) -> bool:
        return time.monotonic() < self._burst_ends()

    def _capacity(self) -> int:
        if not self._in_burst():
            return self.workers
        if time.monotonic() < self._paused_until:
            return 0
        return min(self.workers, WORKERS_WHILE_ARRIVING)

    def _next_look(self) -> float:
        """Seconds until the worker should look again without being poked."""
        now = time.monotonic()
        waits = [moment - now for moment in (self._paused_until, self._burst_ends()) if moment > now]
        return max(0.001, min([self.poll_seconds, *waits]))

    # -- working ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start this process's worker (idempotent; :meth:`accept` starts it too)."""
        if self._loop_task is None or self._loop_task.done():
            self.last_progress = time.monotonic()
            self._wake = asyncio.Event()
            self._loop_task = asyncio.get_running_loop().create_task(self._work())

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _work(self) -> None:
        assert self._wake is not None
        while True:
            try:
                started = await self._fill()
            except Exception:
                log.exception("inbox: could not claim requests; trying again shortly")
                started = 0
            if started:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._next_look())
            except TimeoutError:
                pass

    async def _fill(self, *, paced: bool = True) -> int:
        """Record what finished and claim as much as there are free workers, in one transaction."""
        async with self._claiming:  # the worker and drain() take turns
            return await self._fill_now(paced=paced)

    async def _fill_now(self, *, paced: bool) -> int:
        free = (self._capacity() if paced else self.workers) - len(self._running)
        finished, self._finished = self._finished, []
        if free <= 0 and not finished:
            return 0
        now = self.clock()
        try:
            async with self.db.transaction() as session:
                await inbox_queries.finish_requests(session, finished, now=now)
                rows = (
                    await inbox_queries.claim_requests(
                        session, now=now, lease_until=now + self.lease, limit=free
                    )
                    if free > 0
                    else []
                )
                claimed = [
                    (row.id, row.kind, row.attempts, dict(row.payload), row.received_at) for row in rows
                ]
        except Exception:
            self._finished.extend(finished)
            raise
        for row_id, kind, attempts, payload, received_at in claimed:
            task = asyncio.get_running_loop().create_task(
                self._handle(row_id, kind, attempts, payload, received_at=received_at)
            )
            self._running.add(task)
            self._claimed[task] = (row_id, kind)
            task.add_done_callback(self._running.discard)
            task.add_done_callback(self._forget_claim)
        return len(claimed)

    def _forget_claim(self, task: asyncio.Task[None]) -> None:
        self._claimed.pop(task, None)

    async def _handle(
        self, row_id: int, kind: str, attempts: int, payload: dict[str, Any], *, received_at: datetime
    ) -> None:
        # This task's log lines say which request they are about (its own copy of the context).
        add_to_log_context(request_id=row_id, platform=kind.partition(".")[0], kind=kind)
        handler = self._handlers.get(kind)
        started = time.monotonic()
        try:
            if handler is None:
                raise LookupError(f"no inbox handler for {kind!r} in this process")
            await handler(payload)
        except Exception as exc:
            tries = attempts + 1
            final = handler is None or tries >= MAX_ATTEMPTS
            log.log(
                logging.ERROR if final else logging.WARNING,
                "inbox: %s request %s failed (attempt %s)%s",
                kind,
                row_id,
                tries,
                "; giving up" if final else "; will retry",
                exc_info=exc,
            )
            METRICS.attempt_failed(kind, final=final)
            now = self.clock()
            try:
                async with self.db.transaction() as session:
                    await inbox_queries.fail_request(
                        session,
                        row_id,
                        error=repr(exc),
                        retry_at=None if final else now + retry_delay(tries),
                        now=now,
                    )
            except Exception:
                log.exception(
                    "inbox: could not record the failure of request %s; its lease will expire", row_id
                )
        else:
            self._finished.append(row_id)
            # Acknowledged to answered: the handler returns once its answers are posted.
            METRICS.handled(kind, seconds=(self.clock() - received_at).total_seconds())
        finally:
            self.last_progress = time.monotonic()
            # Free the slot now, not in a done-callback a loop turn later, so the claim that this poke
            # starts sees it free.
            task = asyncio.current_task()
            if task is not None:
                self._running.discard(task)
            if self._in_burst():  # pause before the next
                took = time.monotonic() - started
                self._paused_until = time.monotonic() + min(MAX_PAUSE, max(MIN_PAUSE, WORK_SHARE * took))
            self._poke()

    # -- operators --------------------------------------------------------------------------------

    @property
    def working(self) -> bool:
        """Whether this process's worker is running (started and neither stopped nor crashed)."""
        return self._loop_task is not None and not self._loop_task.done()

    def stuck(self, *, oldest_waiting_s: float, after: float) -> bool:
        """Whether this process's inbox is stuck: its worker is not running, or requests have waited
        more than ``after`` seconds while it finished none for as long. A backlog that its workers are
        eating into (or that another replica leaves behind while this one moves) is not stuck."""
        if not self.working:
            return True
        idle = time.monotonic() - self.last_progress
        return oldest_waiting_s > after and idle > after

    async def backlog(self) -> dict[str, Any]:
        """What waits to be handled, for ``/healthz``: how many, the oldest's age in seconds, and how
        many requests were given up in the last day (their errors are in ``inbox.last_error``)."""
        now = self.clock()
        async with self.db.transaction() as session:
            waiting, oldest, failed = await inbox_queries.backlog(session, failed_since=now - KEEP_FINISHED)
        age = round((now - oldest).total_seconds(), 1) if oldest is not None else 0.0
        return {"waiting": waiting, "oldest_waiting_s": max(0.0, age), "failed_last_day": failed}

    # -- tests and shutdown ----------------------------------------------------------------------

    async def drain(self) -> None:
        """Handle everything this process can claim now, and record it (tests, shutdown)."""
        while True:
            if self._writer is not None and not self._writer.done():
                await asyncio.wait([self._writer])
            if self._running:
                await asyncio.wait(list(self._running))
                continue
            if await self._fill(paced=False) == 0 and not self._running and not self._waiting:
                return

    async def stop(self, *, grace: float | None = None) -> None:
        """Stop: claim nothing more, give the requests being handled ``grace`` seconds to finish
        (``None``: as long as they take), then cancel the rest and give them back to the inbox at once
        (:func:`store.inbox_queries.release_requests`: no attempt used, the lease ended) for another
        replica or the next start. Handling a request again is safe: its effects are keyed by its
        request key, as after a crash. What is still waiting stays stored."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        async with self._claiming:  # a claim in flight has finished, and started its tasks
            pass
        if self._running:
            await asyncio.wait(list(self._running), timeout=grace)
        unfinished = [(task, *self._claimed.get(task, (None, ""))) for task in list(self._running)]
        for task, _, _ in unfinished:
            task.cancel()
        if unfinished:
            await asyncio.gather(*(task for task, _, _ in unfinished), return_exceptions=True)
        returned = [row_id for _, row_id, _ in unfinished if row_id is not None]
        finished, self._finished = self._finished, []
        if finished or returned:
            async with self.db.transaction() as session:
                await inbox_queries.finish_requests(session, finished, now=self.clock())
                await inbox_queries.release_requests(session, returned)
        for _, row_id, kind in unfinished:
            METRICS.returned(kind)
            log.warning(
                "inbox: request %s (%s) unfinished at shutdown; given back to the inbox", row_id, kind
            )


async def purge(db: Database, *, now: datetime, keep: timedelta = KEEP_FINISHED) -> int:
    """Forget requests finished before ``now - keep``, and the core's request keys of that age (the
    ``purge_inbox`` job): Slack and Teams retry within minutes."""
    async with db.transaction() as session:
        await queries.forget_requests(session, before=now - keep)
        return await inbox_queries.purge_requests(session, before=now - keep)
