"""What ``GET /metrics`` shows, in one place: the process's counters and histograms (Prometheus, with
``prometheus-client``), and the gauges that are read from the database at each scrape.

Counters are per process and move as work is done here - requests acknowledged, handled, given up;
outbox deliveries; nudges; the understanding's fallbacks and clarifications; scheduler runs. What waits
in the shared tables (the inbox's backlog, the outbox's pending, retrying and failed messages, people
who can't be reached) is the same for every replica, so it is not kept in memory: the scrape reads it
(:class:`DatabaseSnapshot`, filled by ``bot/app.py`` with the queries ``/healthz`` uses) and it is
correct whichever replica answers.

Everything records into :data:`METRICS`, the process's one instance; tests read it before and after.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

NAMESPACE = "partnerbot"
# The classic text format every Prometheus (and compatible scraper) reads; generate_latest writes it.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds from a request's acknowledgement to its answer posted: most in well under a second, a burst
# or a retry in seconds to minutes.
HANDLING_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300)


def platform_of(kind: str) -> str:
    """An inbox kind is ``platform.what`` (``slack.message``, ``teams.turn``)."""
    return kind.partition(".")[0] or "unknown"


@dataclass(frozen=True, slots=True)
class DatabaseSnapshot:
    """What the shared tables hold at a scrape; None where the database did not answer."""

    up: bool
    inbox_waiting: int = 0
    inbox_oldest_waiting_s: float = 0.0
    inbox_given_up_last_day: int = 0
    outbox_pending: int = 0
    outbox_retrying: int = 0
    outbox_failed: int = 0
    unreachable_people: int = 0


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: DatabaseSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        s = self.snapshot
        yield GaugeMetricFamily(
            f"{NAMESPACE}_database_up", "1 when the database answered this scrape", value=int(s.up)
        )
        if not s.up:
            return
        yield GaugeMetricFamily(
            f"{NAMESPACE}_inbox_waiting", "requests acknowledged and not yet handled", value=s.inbox_waiting
        )
        yield GaugeMetricFamily(
            f"{NAMESPACE}_inbox_oldest_waiting_seconds",
            "age of the oldest request waiting in the inbox",
            value=s.inbox_oldest_waiting_s,
        )
        yield GaugeMetricFamily(
            f"{NAMESPACE}_inbox_given_up_last_day",
            "requests given up after every attempt, in the last day (inbox.last_error says why)",
            value=s.inbox_given_up_last_day,
        )
        outbox = GaugeMetricFamily(
            f"{NAMESPACE}_outbox_messages",
            "messages the bot starts: pending (not tried yet, or waiting for someone unreachable), "
            "retrying (failed at least once), failed (given up)",
            labels=["status"],
        )
        outbox.add_metric(["pending"], s.outbox_pending)
        outbox.add_metric(["retrying"], s.outbox_retrying)
        outbox.add_metric(["failed"], s.outbox_failed)
        yield outbox
        yield GaugeMetricFamily(
            f"{NAMESPACE}_unreachable_recipients",
            "people with messages waiting because the bot can't reach them (partnerbot people unreachable)",
            value=s.unreachable_people,
        )


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            if registry is None:  # the process's own instance also shows the process
                r.register(collector)
        n = NAMESPACE
        self.requests_acknowledged = Counter(
            f"{n}_requests_acknowledged",
            "platform requests stored in the inbox and acknowledged",
            ["platform", "kind"],
            registry=r,
        )
        self.requests_handled = Counter(
            f"{n}_requests_handled",
            "stored requests handled by this process",
            ["platform", "kind"],
            registry=r,
        )
        self.handling_seconds = Histogram(
            f"{n}_request_handling_seconds",
            "seconds from a request's acknowledgement to its answer posted",
            ["platform"],
            buckets=HANDLING_BUCKETS,
            registry=r,
        )
        self.requests_failed = Counter(
            f"{n}_request_attempts_failed",
            "attempts at a stored request that failed (retried, or given up)",
            ["platform", "kind"],
            registry=r,
        )
        self.requests_given_up = Counter(
            f"{n}_requests_given_up",
            "stored requests given up after their last attempt",
            ["platform", "kind"],
            registry=r,
        )
        self.requests_returned = Counter(
            f"{n}_requests_returned",
            "requests a shutting-down process gave back to the inbox unfinished",
            ["platform"],
            registry=r,
        )
        self.deliveries = Counter(
            f"{n}_outbox_deliveries",
            "outbox deliveries by platform and outcome (sent, retry, failed, unreachable)",
            ["platform", "outcome"],
            registry=r,
        )
        self.nudges_sent = Counter(f"{n}_nudges_sent", "nudge messages queued by the sweep", registry=r)
        self.nudges_deferred = Counter(
            f"{n}_nudges_deferred",
            "nudges held back by the policy (quiet hours, weekly budget)",
            ["reason"],
            registry=r,
        )
        self.fallbacks = Counter(
            f"{n}_understanding_fallbacks", "messages answered with 'I didn't catch that'", registry=r
        )
        self.clarifications = Counter(
            f"{n}_understanding_clarifications",
            "messages answered with a question: which of these (choices), or is this right (confirm)",
            ["kind"],
            registry=r,
        )
        self.job_runs = Counter(
            f"{n}_scheduler_job_runs", "scheduled job runs by outcome", ["job", "outcome"], registry=r
        )
        self.job_seconds = Histogram(
            f"{n}_scheduler_job_duration_seconds",
            "how long a scheduled job run took",
            ["job"],
            buckets=JOB_BUCKETS,
            registry=r,
        )

    # -- recording (one call at the place where it happens) ---------------------------------------

    def acknowledged(self, kind: str, count: int = 1) -> None:
        self.requests_acknowledged.labels(platform_of(kind), kind).inc(count)

    def handled(self, kind: str, *, seconds: float) -> None:
        self.requests_handled.labels(platform_of(kind), kind).inc()
        self.handling_seconds.labels(platform_of(kind)).observe(max(0.0, seconds))

    def attempt_failed(self, kind: str, *, final: bool) -> None:
        self.requests_failed.labels(platform_of(kind), kind).inc()
        if final:
            self.requests_given_up.labels(platform_of(kind), kind).inc()

    def returned(self, kind: str) -> None:
        self.requests_returned.labels(platform_of(kind)).inc()

    def delivery(self, platform: str, outcome: str) -> None:
        self.deliveries.labels(platform, outcome).inc()

    def nudges(self, *, sent: int, deferred_quiet: int, deferred_budget: int) -> None:
        self.nudges_sent.inc(sent)
        self.nudges_deferred.labels("quiet_hours").inc(deferred_quiet)
        self.nudges_deferred.labels("weekly_budget").inc(deferred_budget)

    def understanding_fallback(self) -> None:
        self.fallbacks.inc()

    def clarification(self, *, confirm: bool) -> None:
        self.clarifications.labels("confirm" if confirm else "choices").inc()

    def job_ran(self, job: str, *, ok: bool, seconds: float) -> None:
        self.job_runs.labels(job, "ok" if ok else "failed").inc()
        self.job_seconds.labels(job).observe(seconds)

    # -- the scrape --------------------------------------------------------------------------------

    def render(self, snapshot: DatabaseSnapshot) -> bytes:
        """The Prometheus text exposition: this process's series, then the database's gauges."""
        scrape = CollectorRegistry(auto_describe=False)
        scrape.register(_SnapshotCollector(snapshot))
        return generate_latest(self.registry) + generate_latest(scrape)


METRICS = Metrics()
