"""nudges

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 16:42:18.110953
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nudge_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_nudge_messages_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nudge_messages")),
        sa.UniqueConstraint("person_id", "slot", name=op.f("uq_nudge_messages_person_id")),
    )
    with op.batch_alter_table("nudge_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nudge_messages_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_nudge_messages_sent_at"), ["sent_at"], unique=False)

    op.create_table(
        "snoozes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=20), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_snoozes_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snoozes")),
        sa.UniqueConstraint("person_id", "ref", name=op.f("uq_snoozes_person_id")),
    )
    with op.batch_alter_table("snoozes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_snoozes_person_id"), ["person_id"], unique=False)

    op.create_table(
        "nudge_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=200), nullable=False),
        sa.Column("ref", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("first_nudged_at", sa.DateTime(), nullable=False),
        sa.Column("last_nudged_at", sa.DateTime(), nullable=False),
        sa.Column("times_nudged", sa.Integer(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=200), nullable=True),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["nudge_messages.id"], name=op.f("fk_nudge_items_message_id_nudge_messages")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_nudge_items_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nudge_items")),
        sa.UniqueConstraint("person_id", "item_key", name=op.f("uq_nudge_items_person_id")),
    )
    with op.batch_alter_table("nudge_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nudge_items_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_nudge_items_ref"), ["ref"], unique=False)

    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.create_index("ix_deals_status_close_date", ["status", "close_date"], unique=False)
        batch_op.create_index("ix_deals_status_protection", ["status", "protection_until"], unique=False)
        batch_op.create_index(
            "ix_deals_status_stage_updated", ["status", "stage", "updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_status_stage_updated")
        batch_op.drop_index("ix_deals_status_protection")
        batch_op.drop_index("ix_deals_status_close_date")

    with op.batch_alter_table("nudge_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nudge_items_ref"))
        batch_op.drop_index(batch_op.f("ix_nudge_items_person_id"))

    op.drop_table("nudge_items")
    with op.batch_alter_table("snoozes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_snoozes_person_id"))

    op.drop_table("snoozes")
    with op.batch_alter_table("nudge_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nudge_messages_sent_at"))
        batch_op.drop_index(batch_op.f("ix_nudge_messages_person_id"))

    op.drop_table("nudge_messages")
