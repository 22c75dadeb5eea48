"""the answer to each request, kept with its key

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 14:20:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('processed_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('posted', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('failures', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('processed_requests', schema=None) as batch_op:
        batch_op.drop_column('failures')
        batch_op.drop_column('posted')
        batch_op.drop_column('answer')
