"""Revision 0009 moves each partner's Slack team and Teams tenant from two columns into
``partner_workspaces`` rows, on SQLite and PostgreSQL, and its downgrade puts them back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import create_engine, inspect, text

from store.db import downgrade, sync_url, upgrade

PARTNERS = (
    # id, name, slack team, teams tenant
    (1, "Northwind Partners", "TNORTH", "tenant-northwind"),
    (2, "Contoso Integrators", "TCONTOSO", None),
    (3, "Fabrikam Solutions", None, "tenant-fabrikam"),
    (4, "Litware Inc", None, None),
)


def _write_at_0008(url: str) -> None:
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        for partner_id, name, team, tenant in PARTNERS:
            conn.execute(
                text(
                    "INSERT INTO partners (id, name, tier, region, countries, status, slack_team_id, "
                    "teams_tenant_id, created_at) VALUES (:id, :name, 'Gold', 'EMEA', '[]', 'active', "
                    ":team, :tenant, :at)"
                ),
                {"id": partner_id, "name": name, "team": team, "tenant": tenant, "at": datetime(2026, 1, 1)},
            )
    engine.dispose()


def _workspaces(url: str) -> set[tuple[int, str, str]]:
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT partner_id, platform, workspace FROM partner_workspaces")).all()
    engine.dispose()
    return {(r[0], r[1], r[2]) for r in rows}


def _partner_columns(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        names = {c["name"] for c in inspect(conn).get_columns("partners")}
    engine.dispose()
    return names


def test_0009_moves_slack_teams_and_teams_tenants_into_partner_workspaces(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url, "0008")
    _write_at_0008(url)

    upgrade(url, "0009")

    assert _workspaces(url) == {
        (1, "slack", "TNORTH"),
        (1, "teams", "tenant-northwind"),
        (2, "slack", "TCONTOSO"),
        (3, "teams", "tenant-fabrikam"),
    }
    assert not {"slack_team_id", "teams_tenant_id"} & _partner_columns(url)

    downgrade(url, "0008")

    assert {"slack_team_id", "teams_tenant_id"} <= _partner_columns(url)
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        back = conn.execute(text("SELECT id, slack_team_id, teams_tenant_id FROM partners ORDER BY id")).all()
        assert "partner_workspaces" not in inspect(conn).get_table_names()
    engine.dispose()
    assert [tuple(row) for row in back] == [(p[0], p[2], p[3]) for p in PARTNERS]


async def test_partners_found_by_workspace_after_the_migration(empty_database_url: str) -> None:
    """Data written before 0009 still places people: the partner of a Slack team or Teams tenant."""
    from store import queries
    from store.db import Database

    url = empty_database_url
    upgrade(url, "0008")
    _write_at_0008(url)
    upgrade(url)
    db = Database.from_url(url)
    try:
        async with db.transaction() as session:
            found = {
                (platform, workspace): getattr(
                    await queries.partner_by_workspace(session, platform=platform, workspace=workspace),
                    "name",
                    None,
                )
                for platform, workspace in (
                    ("slack", "TNORTH"),
                    ("teams", "tenant-northwind"),
                    ("teams", "tenant-fabrikam"),
                    ("slack", "tenant-fabrikam"),
                )
            }
            assert await queries.workspaces_of(session, 1) == [
                ("slack", "TNORTH"),
                ("teams", "tenant-northwind"),
            ]
    finally:
        await db.dispose()
    assert found == {
        ("slack", "TNORTH"): "Northwind Partners",
        ("teams", "tenant-northwind"): "Northwind Partners",
        ("teams", "tenant-fabrikam"): "Fabrikam Solutions",
        ("slack", "tenant-fabrikam"): None,
    }
