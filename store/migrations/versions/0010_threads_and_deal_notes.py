"""staff notes on deals, and which record's card a delivered message is

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 10:00:00.000000

``deal_notes`` keeps what staff note on a deal (a reply in the thread of its review card): read by
staff with the deal's history, never by the partner. ``delivered_messages`` gains where a message went
(``recipient_kind``), the record it is about (``record``) and the platform's name of the posted message
(``locator``, Slack ``<channel>:<ts>``), so the decision on a deal can be told in its card's thread and
a reply in that thread found to be about the deal. Messages delivered before this revision have none:
their threads stay ordinary threads.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'deal_notes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('deal_id', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['author_id'], ['people.id'], name=op.f('fk_deal_notes_author_id_people')),
        sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_deal_notes_deal_id_deals')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_deal_notes')),
    )
    with op.batch_alter_table('deal_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deal_notes_deal_id'), ['deal_id'], unique=False)

    with op.batch_alter_table('delivered_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_kind', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('record', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('locator', sa.String(length=200), nullable=True))
        batch_op.create_index('ix_delivered_locator', ['platform', 'locator'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('delivered_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_delivered_locator')
        batch_op.drop_column('locator')
        batch_op.drop_column('record')
        batch_op.drop_column('recipient_kind')

    with op.batch_alter_table('deal_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deal_notes_deal_id'))
    op.drop_table('deal_notes')
