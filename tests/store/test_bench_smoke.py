"""A tiny run of every benchmark completes and reports well-formed numbers; the generator writes what
its manifest says, and the real nudge sources find exactly the items it planned. No timing is
asserted anywhere here (DESIGN.md): how fast is the benchmarks' business, not the tests'."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bench import chat, conflicts, ingress, memory, sweeps
from bench.report import Report
from bench.synthetic import STAFF, Manifest, Spec, populate
from bot.bootstrap import Core
from bot.config import Settings
from store.db import sync_url

TINY = Spec(partners=6, people=40, deals=300, leads=120, identities=16, due_share=0.05, later_share=0.1)


def count(url: str, table: str) -> int:
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        value = int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
    engine.dispose()
    return value


def well_formed(report: Report, bench: str) -> list[dict[str, object]]:
    rows = [r.metrics for r in report.rows if r.bench == bench]
    assert rows, f"no {bench} rows"
    for metrics in rows:
        for name, value in metrics.items():
            if isinstance(value, float):
                assert math.isfinite(value) and value >= 0, (name, value)
    json.dumps(report.as_dict(), default=str)
    assert bench in report.table()
    return rows


async def test_generated_rows_are_in_the_database_and_due_as_planned(any_database_url: str) -> None:
    manifest = populate(any_database_url, TINY)
    for table in ("partners", "customers", "deals", "leads", "lead_offers", "chat_identities"):
        assert count(any_database_url, table) == manifest.counts[table], table
    assert count(any_database_url, "people") == manifest.counts["people"] == len(STAFF) + TINY.people
    core = Core.build(Settings.from_env({"DATABASE_URL": any_database_url}), clock=lambda: TINY.now)
    try:
        for when, planned in ((TINY.now, manifest.due), (TINY.later, manifest.due_later)):
            async with core.db.transaction() as session:
                items = []
                for source in core.nudges.sources:
                    items += await source.due(session, now=when, policy=core.nudges.policy)
            deals = {i.ref for i in items if i.ref.startswith("D-")}
            leads = {i.ref for i in items if i.ref.startswith("L-")}
            assert len(deals) == Manifest.deals_in(planned) > 0, when
            assert len(leads) == planned["lead_idle"] > 0, when
        # New registrations continue the references after the generated ones.
        async with core.db.transaction() as session:
            value = (await session.execute(text("SELECT value FROM counters WHERE name = 'deal'"))).scalar()
        assert value == TINY.deals
    finally:
        await core.db.dispose()


async def test_a_tiny_conflict_benchmark(any_database_url: str) -> None:
    report = Report()
    await conflicts.run(
        report,
        {"db": any_database_url},
        sizes=[200, 400],
        count=12,
        prefix_limit={200: 5, 400: 5},
        naive_limit={200: 8, 400: 8},
    )
    rows = well_formed(report, "conflict check")
    assert {r["registrations"] for r in rows} == {200, 400}
    for metrics in rows:
        assert 0 <= float(str(metrics["recall"])) <= 1
        assert int(str(metrics["queries"])) > 0


async def test_a_tiny_ingress_benchmark(sqlite_url: str) -> None:
    spec = TINY.scaled(deals=200, leads=20)
    populate(sqlite_url, spec)
    report = Report()
    await ingress.run(report, {"sqlite": sqlite_url}, requests=40, concurrency=4, warmup=8, spec=spec)
    for bench in ("slack ingress", "teams ingress"):
        rows = well_formed(report, bench)
        assert len(rows) >= 2 and all(r["requests"] == 40 for r in rows)
        assert all(r["errors"] == 0 for r in rows), rows
    assert {t.name.split(",")[0] for t in report.targets} >= {
        "slack p99 ack latency",
        "teams p99 turn answer latency",
        "slack throughput vs bare (acknowledged and stored)",
        "slack throughput vs bare (work done)",
    }
    # "Done" means done: every acknowledged request was handled by the time the run was timed.
    engine = create_engine(sync_url(sqlite_url))
    with engine.connect() as conn:
        left = conn.execute(text("SELECT status, count(*) FROM inbox GROUP BY status")).all()
    engine.dispose()
    assert dict(left).keys() == {"done"}, left


async def test_a_tiny_serve_memory_benchmark(sqlite_url: str) -> None:
    spec = TINY.scaled(deals=200, leads=20)
    populate(sqlite_url, spec)
    report = Report()
    await memory.run(
        report, {"sqlite": sqlite_url}, requests=20, concurrency=4, warmup=4, spec=spec, idle_s=0.2
    )
    (row,) = well_formed(report, "serve memory")
    assert float(str(row["idle_rss_mb"])) > 0 and row["requests_served"] == 48


def test_a_tiny_sweep_benchmark(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sweeps.db'}"
    report = Report()
    sweeps.run(report, {"sqlite": url}, spec=TINY.scaled(deals=600, leads=200))
    rows = well_formed(report, "nudge sweep")
    assert len(rows) == 2
    for metrics in rows:
        assert int(str(metrics["messages"])) == int(str(metrics["outbox_rows"])) > 0
    report.write_json(tmp_path / "results.json")
    assert json.loads((tmp_path / "results.json").read_text())["results"]


def test_a_tiny_chat_startup_benchmark() -> None:
    report = Report()
    chat.run(report, runs=1)
    rows = well_formed(report, "chat start-up")
    assert [r["runs"] for r in rows] == [1, 1, 1]
    (target,) = report.targets
    assert target.name == "one-turn chat p50 wall" and target.value > 0 and "python -c pass" in target.detail


def test_the_chat_benchmark_runs_with_no_platform_and_its_own_bytecode_cache(tmp_path: Path) -> None:
    base = {"SLACK_BOT_TOKEN": "x", "MICROSOFT_APP_ID": "y", "PARTNERBOT_CRM": "hubspot", "TZ": "UTC"}
    env = chat.chat_env(tmp_path, {**base, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": "/elsewhere"})
    assert env["PYTHONPATH"].split(os.pathsep) == [str(chat.ROOT), "/elsewhere"]
    assert env["DATABASE_URL"] == f"sqlite:///{tmp_path / 'chat.db'}"
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "pycache") and "PYTHONDONTWRITEBYTECODE" not in env
    assert not {"SLACK_BOT_TOKEN", "MICROSOFT_APP_ID", "PARTNERBOT_CRM"} & env.keys() and env["TZ"] == "UTC"
    assert "PYTHONPYCACHEPREFIX" not in chat.chat_env(tmp_path, base)


@pytest.mark.parametrize("value, limit, higher, met", [(50.0, 100.0, False, True), (0.2, 0.5, True, False)])
def test_targets_say_whether_and_by_how_much(value: float, limit: float, higher: bool, met: bool) -> None:
    report = Report()
    target = report.target("t", value, limit, "x", higher_is_better=higher)
    assert target.met is met
    assert (target.margin == "met") is met
