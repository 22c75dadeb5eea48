"""partner workspaces as (platform, workspace) rows instead of one column per platform

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:40:00.000000

``partners.slack_team_id`` and ``partners.teams_tenant_id`` become rows of ``partner_workspaces``
(``('slack', team id)``, ``('teams', tenant id)``), so another platform needs no new column. The
downgrade puts the columns back with one workspace per platform (the alphabetically first, should a
partner have gained more) and forgets workspaces on other platforms.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# The columns of revision 0008 and the platform each one names.
COLUMNS = (('slack_team_id', 'slack', 40), ('teams_tenant_id', 'teams', 64))


def upgrade() -> None:
    op.create_table(
        'partner_workspaces',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('partner_id', sa.Integer(), nullable=False),
        sa.Column('platform', sa.String(length=20), nullable=False),
        sa.Column('workspace', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ['partner_id'], ['partners.id'], name=op.f('fk_partner_workspaces_partner_id_partners')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_workspaces')),
        sa.UniqueConstraint('platform', 'workspace', name=op.f('uq_partner_workspaces_platform')),
    )
    with op.batch_alter_table('partner_workspaces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_workspaces_partner_id'), ['partner_id'], unique=False)

    for column, platform, _length in COLUMNS:
        op.execute(
            sa.text(
                f"INSERT INTO partner_workspaces (partner_id, platform, workspace) "
                f"SELECT id, :platform, {column} FROM partners "
                f"WHERE {column} IS NOT NULL AND {column} <> '' ORDER BY id"
            ).bindparams(platform=platform)
        )

    with op.batch_alter_table('partners', schema=None) as batch_op:
        for column, _platform, _length in COLUMNS:
            batch_op.drop_constraint(batch_op.f(f'uq_partners_{column}'), type_='unique')
            batch_op.drop_column(column)


def downgrade() -> None:
    with op.batch_alter_table('partners', schema=None) as batch_op:
        for column, _platform, length in COLUMNS:
            batch_op.add_column(sa.Column(column, sa.String(length=length), nullable=True))
            batch_op.create_unique_constraint(batch_op.f(f'uq_partners_{column}'), [column])

    for column, platform, _length in COLUMNS:
        op.execute(
            sa.text(
                f"UPDATE partners SET {column} = (SELECT MIN(w.workspace) FROM partner_workspaces w "
                f"WHERE w.partner_id = partners.id AND w.platform = :platform)"
            ).bindparams(platform=platform)
        )

    with op.batch_alter_table('partner_workspaces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_workspaces_partner_id'))
    op.drop_table('partner_workspaces')
