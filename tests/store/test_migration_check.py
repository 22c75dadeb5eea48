"""The check that lets a start-up skip Alembic (:func:`store.db.at_head`): the head revisions read from
the migration scripts are Alembic's, a reader that is unsure says so, and only a database recording
exactly those heads is left alone - a new or older database is still migrated and one at an unknown
revision still refused, by Alembic, as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, text

from store.db import alembic_config, at_head, downgrade, head_revisions, sync_url, upgrade


def test_the_head_revisions_are_alembics() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert head_revisions() == frozenset(scripts.get_heads()) != frozenset()


def write_scripts(folder: Path, scripts: dict[str, str]) -> Path:
    folder.mkdir()
    for name, body in scripts.items():
        (folder / name).write_text(body)
    return folder


def script(revision: str, down: str | None, extra: str = "") -> str:
    return f'"""revision {revision}"""\nrevision = {revision!r}\ndown_revision = {down!r}\n{extra}\n'


@pytest.mark.parametrize(
    ("scripts", "heads"),
    [
        ({"1_a.py": script("a", None), "2_b.py": script("b", "a")}, {"b"}),
        ({"1_a.py": script("a", None), "2_b.py": script("b", "a"), "3_c.py": script("c", "a")}, {"b", "c"}),
        (
            {"1_a.py": script("a", None), "2_b.py": script("b", "a"), "3_m.py": script("m", ("a", "b"))},
            {"m"},
        ),
        ({"1_a.py": "revision: str = 'a'\ndown_revision: str | None = None\n", "__init__.py": ""}, {"a"}),
        # What the reader does not follow is Alembic's to decide: no heads.
        ({"1_a.py": script("a", None), "2_b.py": script("b", "x")}, set()),
        ({"1_a.py": script("a", None, "branch_labels = ('one',)")}, set()),
        ({"1_a.py": script("a", None, "depends_on = 'z'")}, set()),
        ({"1_a.py": script("a", None, "revision = 'b'")}, set()),
        ({"1_a.py": script("a", None), "2_a.py": script("a", None)}, set()),
        ({"1_a.py": "revision = make_id()\ndown_revision = None\n"}, set()),
        ({"1_a.py": "revision = 'a'  # the first\ndown_revision = None\n"}, {"a"}),
        ({"1_a.py": "down_revision = None\n"}, set()),
    ],
)
def test_head_revisions_or_none_when_unsure(tmp_path: Path, scripts: dict[str, str], heads: set[str]) -> None:
    assert head_revisions(write_scripts(tmp_path / "versions", scripts)) == heads


def test_only_a_database_at_head_skips_alembic(empty_database_url: str) -> None:
    url = sync_url(empty_database_url)
    assert not at_head(url), "no alembic_version table"
    upgrade(empty_database_url)
    assert at_head(url)
    downgrade(empty_database_url, "0008")
    assert not at_head(url)
    upgrade(empty_database_url)
    assert at_head(url), "an older database is migrated to head"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    engine.dispose()
    assert not at_head(url)
    with pytest.raises(CommandError, match="ffff"):
        upgrade(empty_database_url)
