"""Questions in the store, on SQLite and PostgreSQL: revision 0004 from empty and back, the lifecycle's
rows (thread, audit, outbox) written with the change, concurrent sweeps and askers, round-robin state
that survives a restart, and the SLA sweep run from the CLI with ``--at``."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select

from bot.bootstrap import Core, build_questions
from bot.features.questions.service import Questions
from bot.kernel.errors import InputError
from bot.kernel.outbox import PREFER_PLATFORM
from scheduler.jobs import escalate_questions
from store import queries
from store import question_queries as qq
from store.db import downgrade, sync_url, upgrade
from store.question_models import Question, QuestionMessage
from tests.conftest import FakeClock, build_core, make_world

QUESTION_TABLES = {"kb_entries", "questions", "question_messages", "expert_rotation"}


def test_revision_0004_adds_the_question_tables_and_takes_them_away(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    engine = create_engine(sync_url(empty_database_url))
    with engine.connect() as conn:
        assert QUESTION_TABLES <= set(inspect(conn).get_table_names())
    downgrade(empty_database_url, "0003")
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert not QUESTION_TABLES & tables and "leads" in tables and "deals" in tables
    upgrade(empty_database_url)
    engine.dispose()


async def test_lifecycle_rows_are_written_with_each_change(any_core: Core) -> None:
    world = await make_world(any_core)
    questions = build_questions(any_core)
    asked = await questions.ask(world.alice, "how do I claim MDF for a webinar?")
    assert (asked.ref, asked.status, asked.assignee, asked.topic) == ("Q-1", "assigned", "Ed Expert", "mdf")
    await questions.claim(world.ed, "Q-1")
    answered = await questions.answer(world.ed, "Q-1", text="In the portal, with the attendee list.")
    assert answered.status == "answered" and answered.due_at is None
    async with any_core.db.transaction() as session:
        audit = [a.action for a in await queries.audit_of(session, "Q-1")]
        kinds = [m.kind for m in await qq.messages_of(session, 1)]
        rows = await queries.outbox_for(session)
    assert audit == ["question.ask", "question.claim", "question.answer"]
    assert kinds == ["question", "note", "answer"]
    relay = [r for r in rows if r.recipient_id == world.alice.person_id]
    assert len(relay) == 1 and relay[0].payload[PREFER_PLATFORM] == "console"
    assert relay[0].payload["title"] == "Answer to Q-1"
    assert [r.recipient_kind for r in rows] == ["person", "replace", "person", "replace"]


async def test_a_refused_change_writes_nothing(any_core: Core) -> None:
    world = await make_world(any_core)
    questions = build_questions(any_core)
    await questions.ask(world.alice, "how do I claim MDF for a webinar?")
    await any_core.people.add_user(email="zoe@vendor.example", name="Zoe Away", staff=True, roles=["expert"])
    async with any_core.db.transaction() as session:
        zoe = await queries.person_by_email(session, "zoe@vendor.example")
        assert zoe is not None
        zoe.away = True
        before = (len(await queries.outbox_for(session)), len(await qq.messages_of(session, 1)))
    with pytest.raises(InputError, match="Zoe Away is marked away"):
        await questions.reassign(world.dana, "Q-1", to="zoe@vendor.example")
    async with any_core.db.transaction() as session:
        after = (len(await queries.outbox_for(session)), len(await qq.messages_of(session, 1)))
        assert after == before
        assert [a.action for a in await queries.audit_of(session, "Q-1")] == ["question.ask"]
        q1 = await qq.question_by_number(session, 1)
        assert q1 is not None and q1.assignee_id == world.ed.person_id


async def test_two_sweeps_at_once_escalate_once(any_core: Core) -> None:
    world = await make_world(any_core)
    await build_questions(any_core).ask(world.alice, "how do I claim MDF for a webinar?")
    replicas = [build_questions(any_core), build_questions(any_core)]
    late = datetime(2026, 11, 27, 10, 1)
    results = await asyncio.gather(*(r.escalate_due(now=late) for r in replicas), return_exceptions=True)
    done = [r for r in results if isinstance(r, list)]
    assert sorted(map(len, done), reverse=True)[0] == 1
    assert sum(len(r) for r in done) == 1, results
    assert await build_questions(any_core).escalate_due(now=late) == []
    async with any_core.db.transaction() as session:
        q1 = await qq.question_by_number(session, 1)
        assert q1 is not None and (q1.escalation_level, q1.assignee_id) == (1, world.dana.person_id)
        to_dana = [r for r in await queries.outbox_for(session) if r.recipient_id == world.dana.person_id]
        notes = [m for m in await qq.messages_of(session, q1.id) if m.kind == "note"]
    assert len(to_dana) == 1 and len(notes) == 1


async def test_concurrent_askers_all_count_as_kb_uses(any_core: Core) -> None:
    world = await make_world(any_core)
    questions = build_questions(any_core)
    await questions.add_kb_entry(
        world.dana, question="How do I claim MDF?", answer="In the partner portal.", topic="mdf"
    )
    askers = [world.alice, world.alex, world.bob] * 2
    views = await asyncio.gather(*(build_questions(any_core).ask(a, "how do I claim MDF?") for a in askers))
    assert {v.status for v in views} == {"answered_by_kb"}
    assert sorted(v.ref for v in views) == sorted(f"Q-{n}" for n in range(1, 7)), "dense, unique numbers"
    async with any_core.db.transaction() as session:
        assert [e.uses for e in await qq.active_kb_entries(session)] == [6]


async def test_round_robin_survives_a_restart(any_database_url: str, clock: FakeClock) -> None:
    first = await build_core(any_database_url, clock)
    world = await make_world(first)
    await first.people.add_user(
        email="fay@vendor.example", name="Fay Young", staff=True, roles=["expert"], topics=["mdf"]
    )
    assert (await build_questions(first).ask(world.alice, "how do I claim MDF?")).assignee == "Ed Expert"
    await first.db.dispose()
    second = await build_core(any_database_url, clock)  # a new process on the same database
    try:
        assignees = [
            (await build_questions(second).ask(world.alex, f"how do I claim MDF for event {n}?")).assignee
            for n in range(3)
        ]
        assert assignees == ["Fay Young", "Ed Expert", "Fay Young"]
    finally:
        await second.db.dispose()


async def test_partner_lookups_filter_in_sql(any_core: Core) -> None:
    world = await make_world(any_core)
    await build_questions(any_core).ask(world.alice, "how do I claim MDF?")
    async with any_core.db.transaction() as session:
        assert await qq.question_by_number(session, 1, partner_id=world.bob.partner_id) is None
        assert await qq.question_by_number(session, 1, partner_id=world.alice.partner_id) is not None
        assert list(await qq.questions_of_asker(session, world.bob.person_id)) == []


def test_sla_sweep_from_the_cli_with_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main
    from scheduler import jobs

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setitem(
        jobs.JOBS,
        "escalate_questions",
        jobs.Job("escalate_questions", escalate_questions, "interval", {"minutes": 15}, "question SLA sweep"),
    )
    upgrade(url)

    async def seed() -> None:
        core = await build_core(url, FakeClock())
        world = await make_world(core)
        await build_questions(core).ask(world.alice, "how do I claim MDF for a webinar?")
        await core.db.dispose()

    asyncio.run(seed())

    def run(*argv: str) -> str:
        with pytest.raises(SystemExit) as exit_info:
            main(list(argv))
        assert exit_info.value.code in (0, None)
        return capsys.readouterr().out

    out = run("jobs", "run", "escalate_questions", "--at", "2026-11-27T09:59:00Z")
    assert "escalate_questions: escalated 0 question(s)" in out
    out = run("jobs", "run", "escalate_questions", "--at", "2026-11-27T11:01:00+01:00")
    assert "escalate_questions: escalated 1 question(s): Q-1" in out
    out = run("jobs", "run", "escalate_questions", "--at", "2026-11-27T10:05:00Z")
    assert "escalated 0 question(s)" in out, "a second run changes nothing twice"

    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        level = conn.execute(select(Question.escalation_level)).scalar_one()
        notes = (
            conn.execute(select(QuestionMessage.body).where(QuestionMessage.kind == "note")).scalars().all()
        )
    engine.dispose()
    assert level == 1 and notes == ["Escalated to Dana Reyes: unanswered past the SLA (was with Ed Expert)."]


def test_questions_service_is_built_from_settings(tmp_path: Path) -> None:
    from tests.conftest import make_settings

    core = Core.build(
        make_settings(
            f"sqlite:///{tmp_path / 'x.db'}", PARTNERBOT_QUESTION_SLA_HOURS="4", SLACK_VENDOR_CHANNEL="C1"
        )
    )
    questions = build_questions(core)
    assert isinstance(questions, Questions)
    assert (questions.sla_hours, questions.vendor_channel, questions.default_tz) == (4.0, True, "UTC")
