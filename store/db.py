"""Engine, sessions and migrations.

``DATABASE_URL`` is written the way SQLAlchemy users expect (``sqlite:///./partnerbot.db``,
``postgresql+psycopg://user@host/db``); the async engine the bot uses and the sync engine Alembic
uses are both derived from it.
"""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

# Alembic is imported where a migration runs, not with this module: importing it (its runtime, the DDL
# of every dialect, Mako) takes about a tenth of a second, a sixth of a ``partnerbot chat`` start-up.
if TYPE_CHECKING:
    from alembic.config import Config

# The revisions a database records as applied (read by the upgrade fast path and by /readyz).
_STORED_REVISIONS = text("SELECT version_num FROM alembic_version")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
T = TypeVar("T")
FOREIGN_TABLE_PREFIXES = ("slack_",)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic autogenerate filter: tables owned by libraries (slack_sdk's installation and OAuth
    state stores) are created by their own revision from the library's metadata, not from our models."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return not (table and table.startswith(FOREIGN_TABLE_PREFIXES))


def sync_url(database_url: str) -> URL:
    """The URL for synchronous use (Alembic, slack_sdk's installation store)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite")
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    raise ValueError(f"DATABASE_URL must be SQLite or PostgreSQL, not {url.get_backend_name()!r}")


def async_url(database_url: str) -> URL:
    """The URL for the async engine: aiosqlite for SQLite, psycopg 3 (async) for PostgreSQL."""
    url = sync_url(database_url)
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine_for(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"timeout": 30})
    else:
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """The async engine plus a session factory. ``transaction()`` is the unit of work: everything in
    it commits together or not at all."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._writer: AutocommitWriter | None = None
        self.sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=True)

    @classmethod
    def from_url(cls, database_url: str, **kwargs: Any) -> Database:
        return cls(create_engine_for(database_url, **kwargs))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def revisions(self) -> frozenset[str]:
        """The migration revisions the database records (``alembic_version``); empty when it records
        none or the table is missing (never migrated). Raises when the database does not answer."""
        async with self.engine.connect() as conn:  # a database that does not answer raises here
            try:
                rows = await conn.execute(_STORED_REVISIONS)
            except SQLAlchemyError:
                return frozenset()
            return frozenset(str(row[0]) for row in rows)

    def autocommit_writes(self) -> AutocommitWriter:
        """A writer of single statements that commit by themselves (see :class:`AutocommitWriter`)."""
        if self._writer is None:
            self._writer = AutocommitWriter(self.engine.url.render_as_string(hide_password=False))
        return self._writer

    async def dispose(self) -> None:
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        await self.engine.dispose()


class AutocommitWriter:
    """Short writes, each one statement that commits by itself (autocommit mode): no BEGIN and COMMIT
    round trips, so a write must be one statement - a multi-row INSERT is atomic and durable on its own.

    On SQLite the statement runs on a dedicated thread with a synchronous engine: through aiosqlite
    every driver call of a transaction (BEGIN, the INSERT, COMMIT, the pool's reset) was a hop to its
    thread and back through the busy event loop; here the loop waits once. On PostgreSQL it runs on the
    event loop through an async engine of its own (psycopg's async connection): the statement is one
    round trip that the loop waits for, with no thread to hand it over to and back."""

    def __init__(self, database_url: str) -> None:
        url = sync_url(database_url)
        options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None}
        self._thread: ThreadPoolExecutor | None = None
        self._sync: Engine | None = None
        self._async: AsyncEngine | None = None
        if url.get_backend_name() == "sqlite":
            self._sync = create_engine(url, connect_args={"timeout": 30}, **options)
            event.listen(self._sync, "connect", _sqlite_pragmas)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-writer")
        else:  # one connection (a dropped one fails one write, then is replaced)
            # No pre-ping: it would add the round trip the autocommit statement saves.
            self._async = create_engine_for(
                database_url, pool_size=1, max_overflow=0, pool_pre_ping=False, **options
            )

    async def run(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)``; every statement it executes commits by itself."""
        if self._async is not None:
            async with self._async.connect() as conn:
                return await conn.run_sync(work)
        assert self._sync is not None
        engine = self._sync

        def write() -> T:
            with engine.connect() as conn:
                return work(conn)

        return await asyncio.get_running_loop().run_in_executor(self._thread, write)

    async def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        if self._sync is not None:
            self._sync.dispose()
        if self._async is not None:
            await self._async.dispose()


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sync_url(database_url).render_as_string(hide_password=False))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (blocking; call it before the event loop or in a thread).

    A database already at the head revision is left as it is without starting Alembic (which would
    find nothing to do): see :func:`at_head`. Anything else - a new or older database, one at a
    revision these migrations do not know - goes to Alembic exactly as before."""
    url = sync_url(database_url)
    file: Path | None = None
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        file = Path(url.database)
        file.parent.mkdir(parents=True, exist_ok=True)
    if revision == "head" and (file is None or file.exists()) and at_head(url):
        return
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)


def at_head(url: URL) -> bool:
    """Whether the database at ``url`` (a synchronous URL) records exactly the head revisions of
    :data:`MIGRATIONS` in ``alembic_version``. False whenever that is not certain: no such table, a
    database that does not answer, a migration file this reader does not follow (:func:`head_revisions`)."""
    heads = head_revisions()
    if not heads:
        return False
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            stored = {str(row[0]) for row in conn.execute(_STORED_REVISIONS)}
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return stored == heads


def migration_heads() -> frozenset[str]:
    """The head revisions of this code's migrations: read from the scripts (:func:`head_revisions`),
    or from Alembic when that reader is unsure."""
    heads = head_revisions()
    if heads:
        return heads
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def head_revisions(versions: Path = MIGRATIONS / "versions") -> frozenset[str]:
    """The head revision ids of the migration scripts in ``versions``, read from their ``revision`` and
    ``down_revision`` lines without importing Alembic or the scripts: the revisions no other one
    revises. Empty - "ask Alembic" - when a script declares anything else that shapes the graph
    (``branch_labels``, ``depends_on``), names a revision that isn't there, or isn't written in the one
    way this reader follows (each name assigned once, at the start of a line, a literal on that line).
    ``tests/store/test_migration_check.py`` checks the answer against Alembic's own."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        if path.name.startswith(("__init__", ".#")):  # what Alembic skips too
            continue
        try:
            found = _revision_lines(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            return frozenset()
        rev, down = found.get("revision"), found.get("down_revision")
        if not isinstance(rev, str) or rev in revisions:
            return frozenset()
        if found.get("branch_labels") is not None or found.get("depends_on") is not None:
            return frozenset()
        downs = (down,) if isinstance(down, str) else down if isinstance(down, tuple) else ()
        if down is not None and not (downs and all(isinstance(d, str) for d in downs)):
            return frozenset()
        revisions.add(rev)
        revised.update(downs)
    if not revised <= revisions:
        return frozenset()
    return frozenset(revisions - revised)


_REVISION_LINE = re.compile(
    r"^(revision|down_revision|branch_labels|depends_on)[ \t]*(?::[^=\n]*)?=[ \t]*(.*?)[ \t]*$", re.MULTILINE
)


def _revision_lines(script: str) -> dict[str, Any]:
    """The literal values of a migration script's ``revision``, ``down_revision``, ``branch_labels``
    and ``depends_on`` lines; ValueError (or SyntaxError) for a name assigned twice or a value that is
    not one literal."""
    values: dict[str, Any] = {}
    for match in _REVISION_LINE.finditer(script):
        name, value = match.groups()
        if name in values:
            raise ValueError(f"{name} is assigned twice")
        values[name] = ast.literal_eval(value)
    return values
