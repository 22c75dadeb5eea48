"""Shared fixtures: a migrated database (SQLite always; PostgreSQL at 127.0.0.1:5432 for tests that ask
for ``any_db``), a settable clock, a Core, and a small world of partners, people and products."""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.bootstrap import Core
from bot.config import Settings
from bot.kernel.messages import Actor
from store import queries
from store.db import upgrade
from store.models import Base, Product

PG_ADMIN_URL = os.environ.get("PARTNERBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START = datetime(2026, 11, 26, 10, 0, 0)
IN_CI = os.environ.get("CI", "").lower() == "true"


class FakeClock:
    """Naive-UTC clock that tests move by hand."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


# Secrets at least this long are looked for in every log line of the run (shorter test values such as
# "s" would match ordinary words; every real one is longer).
LEAK_CHECK_LENGTH = 8


class LeakWatch(logging.Handler):
    """On the root logger for the whole run: formats every record (message, traceback, stack) and notes
    each line that contains a secret of any Settings the run has built."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.secrets: set[str] = set()
        self.leaks: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if not self.secrets:
            return
        try:
            line = self.format(record)
        except Exception:
            return
        for secret in self.secrets:
            if secret in line:
                self.leaks.append(f"{secret[:3]}... in a line of {record.name}: {line[:300]!r}")


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log_line() -> Iterator[LeakWatch]:
    """Fails the run when any log line at INFO or above contains a secret that a test configured
    (every Settings.from_env of the run is watched), unmasked: the code must not log them at all
    (bot.logs.SecretMask is the second line of defence, in production only)."""
    watch = LeakWatch()
    real = Settings.from_env.__func__  # type: ignore[attr-defined]

    def watching(cls: type[Settings], env: dict[str, str] | None = None, **kwargs: Any) -> Settings:
        settings = real(cls, env, **kwargs)
        watch.secrets.update(v for v in settings.secret_values() if len(v) >= LEAK_CHECK_LENGTH)
        return settings

    root = logging.getLogger()
    level = root.level
    Settings.from_env = classmethod(watching)  # type: ignore[method-assign,assignment]
    root.addHandler(watch)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    try:
        yield watch
    finally:
        Settings.from_env = classmethod(real)  # type: ignore[method-assign,assignment]
        root.removeHandler(watch)
        root.setLevel(level)
    assert not watch.leaks, "secrets in log lines:\n" + "\n".join(watch.leaks[:20])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def _pg_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated from empty to head."""
    if not _pg_available():
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true but {PG_ADMIN_URL} does not answer")
        pytest.skip("PostgreSQL is not available")
    name = f"partnerbot_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, on SQLite and on PostgreSQL, for migration tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if not _pg_available():
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true but {PG_ADMIN_URL} does not answer")
        pytest.skip("PostgreSQL is not available")
    name = f"partnerbot_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    extra = []
    with engine.begin() as conn:
        existing = {
            r[0] for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))
        }
        extra = [
            t
            for t in existing
            if t not in {x.name for x in Base.metadata.sorted_tables} and t != "alembic_version"
        ]
        conn.execute(
            text(
                f"TRUNCATE {', '.join([tables] + [f'{chr(34)}{t}{chr(34)}' for t in extra])} RESTART IDENTITY CASCADE"
            )
        )
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "partnerbot.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """Parametrises a test over SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    url = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    return url


# The test world's vendor workspaces (make_world's staff write from these), and the Teams endpoint in
# emulator mode (the stand-in Bot Connector is on 127.0.0.1); tests/security/ builds apps without them.
TEST_DEFAULTS = {
    "PARTNERBOT_SLACK_VENDOR_TEAM": "TVENDOR",
    "PARTNERBOT_TEAMS_VENDOR_TENANT": "tenant-vendor",
    "PARTNERBOT_TEAMS_EMULATOR": "1",
}


def make_settings(database_url: str, **overrides: str) -> Settings:
    env = {"DATABASE_URL": database_url, **TEST_DEFAULTS, **overrides}
    return Settings.from_env(env)


async def build_core(database_url: str, clock: FakeClock, **settings: str) -> Core:
    core = Core.build(make_settings(database_url, **settings), clock=clock)
    async with core.db.transaction() as session:
        known = await queries.product_names(session)
        for name in ("Cloud Suite", "Edge Gateway", "Security Pack"):
            if name not in known:
                session.add(Product(name=name, active=True))
    return core


@pytest.fixture
async def core(sqlite_url: str, clock: FakeClock) -> AsyncIterator[Core]:
    core = await build_core(sqlite_url, clock)
    yield core
    await core.db.dispose()


@pytest.fixture
async def any_core(any_database_url: str, clock: FakeClock) -> AsyncIterator[Core]:
    core = await build_core(any_database_url, clock)
    yield core
    await core.db.dispose()


@dataclass
class World:
    """Two partners (Northwind: Gold EMEA; Contoso: Silver NA), their users, and vendor staff."""

    alice: Actor  # Northwind
    alex: Actor  # Northwind, a colleague of Alice
    bob: Actor  # Contoso
    dana: Actor  # approver + channel manager
    carl: Actor  # channel manager only
    ed: Actor  # expert only


async def make_world(core: Core) -> World:
    people = core.people
    await people.add_user(
        email="dana@vendor.example", name="Dana Reyes", staff=True, roles=["approver", "channel_manager"]
    )
    await people.add_user(
        email="carl@vendor.example", name="Carl Meyer", staff=True, roles=["channel_manager"]
    )
    await people.add_user(
        email="ed@vendor.example", name="Ed Expert", staff=True, roles=["expert"], topics=["mdf"]
    )
    await people.add_partner(
        name="Northwind Partners",
        tier="Gold",
        region="EMEA",
        countries=["DE"],
        workspaces=[("slack", "TNORTH"), ("teams", "tenant-northwind")],
        channel_manager_email="dana@vendor.example",
    )
    await people.add_partner(
        name="Contoso Integrators",
        tier="Silver",
        region="NA",
        countries=["US"],
        workspaces=[("slack", "TCONTOSO"), ("teams", "tenant-contoso")],
        channel_manager_email="carl@vendor.example",
    )
    await people.add_user(
        email="alice@northwind.example", name="Alice Novak", partner="Northwind Partners", tz="Europe/Berlin"
    )
    await people.add_user(email="alex@northwind.example", name="Alex Roth", partner="Northwind Partners")
    await people.add_user(
        email="bob@contoso.example", name="Bob Chen", partner="Contoso Integrators", tz="America/New_York"
    )

    async def actor(email: str) -> Actor:
        found = await people.actor_by_email(email, channel="console")
        assert found is not None
        return found

    return World(
        alice=await actor("alice@northwind.example"),
        alex=await actor("alex@northwind.example"),
        bob=await actor("bob@contoso.example"),
        dana=await actor("dana@vendor.example"),
        carl=await actor("carl@vendor.example"),
        ed=await actor("ed@vendor.example"),
    )


@pytest.fixture
async def world(core: Core) -> World:
    return await make_world(core)


async def reachable(core: Core, *actors: Actor) -> None:
    """Give people a console identity so the outbox can reach them through a RecordingNotifier."""
    for actor in actors:
        await core.people.console_actor(actor.email)


class Chat:
    """A transcript driver: what a person types or clicks, and the text they read back."""

    def __init__(self, core: Core, actor: Actor) -> None:
        self.core = core
        self.actor = actor
        self.buttons: list = []
        self.replies: list = []

    def _read(self, replies: list) -> str:
        from handlers.console import render

        self.replies = replies
        self.buttons = []
        return "\n".join(render(r, self.buttons) for r in replies)

    async def say(self, text: str, **kwargs: object) -> str:
        return self._read(await self.core.conversation.handle_text(self.actor, text, **kwargs))

    async def click(self, label: str, **kwargs: object) -> str:
        matches = [b for b in self.buttons if b.label == label or b.label.startswith(label)]
        assert matches, f"no button {label!r} among {[b.label for b in self.buttons]}"
        button = matches[0]
        return self._read(
            await self.core.conversation.handle_action(self.actor, button.action, button.data, **kwargs)
        )

    async def submit(self, form_id: str, values: dict, data: dict | None = None):  # type: ignore[no-untyped-def]
        result = await self.core.conversation.submit_form(self.actor, form_id, values, data=data)
        if result.ok:
            self._read(result.replies)
        return result


class RecordingNotifier:
    """A fake Notifier for tests: records what would be sent, per person id or vendor channel."""

    def __init__(self, platform: str = "console") -> None:
        self.platform = platform
        self.sent: list[tuple[object, object]] = []
        self.updated: list[tuple[dict, object]] = []
        self.fail_next: list[Exception] = []

    async def send(self, *, target, reply, idempotency_key):  # type: ignore[no-untyped-def]
        if self.fail_next:
            raise self.fail_next.pop(0)
        who = "vendor" if target.get("vendor_channel") else target.get("person_id")
        self.sent.append((who, reply))
        return {"who": who, "n": len(self.sent)}

    async def update(self, *, message_ref, reply):  # type: ignore[no-untyped-def]
        self.updated.append((dict(message_ref), reply))

    def texts_for(self, who: object) -> str:
        from handlers.console import render

        return "\n".join(render(r, []) for w, r in self.sent if w == who)


def fail_first_call(monkeypatch: pytest.MonkeyPatch, target: Any, name: str) -> dict[str, int]:
    """Make the async method ``target.name`` raise on its first call only (the database going away
    mid-request); the returned dict counts the calls in ``"n"``."""
    real = getattr(target, name)
    calls = {"n": 0}

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the database went away")
        return await real(*args, **kwargs)

    monkeypatch.setattr(target, name, flaky)
    return calls
