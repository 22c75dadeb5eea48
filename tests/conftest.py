"""Shared fixtures: a migrated database (SQLite always; PostgreSQL at 127.0.0.1:5432 for tests that ask
for ``any_db``), a settable clock, a Core, and a small world of partners, people and products."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.config import Settings
from bot.core import Core
from bot.messages import Actor
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


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    extra = []
    with engine.begin() as conn:
        existing = {r[0] for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))}
        extra = [t for t in existing if t not in {x.name for x in Base.metadata.sorted_tables} and t != "alembic_version"]
        conn.execute(text(f"TRUNCATE {', '.join([tables] + [f'{chr(34)}{t}{chr(34)}' for t in extra])} RESTART IDENTITY CASCADE"))
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


def make_settings(database_url: str, **overrides: str) -> Settings:
    env = {"DATABASE_URL": database_url, **overrides}
    return Settings.from_env(env)


async def build_core(database_url: str, clock: FakeClock, **settings: str) -> Core:
    core = Core.build(make_settings(database_url, **settings), clock=clock)
    async with core.db.transaction() as session:
        for name in ("Cloud Suite", "Edge Gateway", "Security Pack"):
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
    await people.add_user(email="dana@vendor.example", name="Dana Reyes", staff=True, roles=["approver", "channel_manager"])
    await people.add_user(email="carl@vendor.example", name="Carl Meyer", staff=True, roles=["channel_manager"])
    await people.add_user(email="ed@vendor.example", name="Ed Expert", staff=True, roles=["expert"], topics=["mdf"])
    await people.add_partner(name="Northwind Partners", tier="Gold", region="EMEA", countries=["DE"],
                             slack_team="TNORTH", teams_tenant="tenant-northwind", channel_manager_email="dana@vendor.example")
    await people.add_partner(name="Contoso Integrators", tier="Silver", region="NA", countries=["US"],
                             slack_team="TCONTOSO", teams_tenant="tenant-contoso", channel_manager_email="carl@vendor.example")
    await people.add_user(email="alice@northwind.example", name="Alice Novak", partner="Northwind Partners", tz="Europe/Berlin")
    await people.add_user(email="alex@northwind.example", name="Alex Roth", partner="Northwind Partners")
    await people.add_user(email="bob@contoso.example", name="Bob Chen", partner="Contoso Integrators", tz="America/New_York")

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

