"""content distribution and market development funds (MDF)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 17:12:24.935378
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["published_by_id"], ["people.id"], name=op.f("fk_content_items_published_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_items")),
        sa.UniqueConstraint("number", name=op.f("uq_content_items_number")),
    )
    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_content_items_published_at"), ["published_at"], unique=False)

    op.create_table(
        "mdf_budgets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_mdf_budgets_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(["set_by_id"], ["people.id"], name=op.f("fk_mdf_budgets_set_by_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mdf_budgets")),
        sa.UniqueConstraint("partner_id", "quarter", name=op.f("uq_mdf_budgets_partner_id")),
    )
    with op.batch_alter_table("mdf_budgets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mdf_budgets_partner_id"), ["partner_id"], unique=False)

    op.create_table(
        "content_audience",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["content_items.id"], name=op.f("fk_content_audience_item_id_content_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_audience")),
        sa.UniqueConstraint("item_id", "kind", "value", name=op.f("uq_content_audience_item_id")),
    )
    with op.batch_alter_table("content_audience", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_content_audience_item_id"), ["item_id"], unique=False)
        batch_op.create_index("ix_content_audience_kind_value", ["kind", "value"], unique=False)

    op.create_table(
        "content_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("tier", sa.String(length=40), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("outbox_key", sa.String(length=200), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=True),
        sa.Column("opens", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["content_items.id"], name=op.f("fk_content_deliveries_item_id_content_items")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_content_deliveries_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_content_deliveries_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_deliveries")),
        sa.UniqueConstraint("item_id", "person_id", name=op.f("uq_content_deliveries_item_id")),
        sa.UniqueConstraint("token", name=op.f("uq_content_deliveries_token")),
    )
    with op.batch_alter_table("content_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_content_deliveries_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_content_deliveries_person_id"), ["person_id"], unique=False)

    op.create_table(
        "mdf_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("budget_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("activity", sa.String(length=200), nullable=False),
        sa.Column("expected_results", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("approved_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("claim_by", sa.Date(), nullable=True),
        sa.Column("claim_proof", sa.Text(), nullable=True),
        sa.Column("actual_results", sa.Text(), nullable=True),
        sa.Column("claimed_by_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("paid_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("paid_by_id", sa.Integer(), nullable=True),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["budget_id"], ["mdf_budgets.id"], name=op.f("fk_mdf_requests_budget_id_mdf_budgets")
        ),
        sa.ForeignKeyConstraint(
            ["claimed_by_id"], ["people.id"], name=op.f("fk_mdf_requests_claimed_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["people.id"], name=op.f("fk_mdf_requests_decided_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["paid_by_id"], ["people.id"], name=op.f("fk_mdf_requests_paid_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_mdf_requests_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["people.id"], name=op.f("fk_mdf_requests_requested_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mdf_requests")),
        sa.UniqueConstraint("number", name=op.f("uq_mdf_requests_number")),
    )
    with op.batch_alter_table("mdf_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mdf_requests_budget_id"), ["budget_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mdf_requests_decided_at"), ["decided_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_mdf_requests_paid_at"), ["paid_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_mdf_requests_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index("ix_mdf_requests_partner_status", ["partner_id", "status"], unique=False)
        batch_op.create_index("ix_mdf_requests_status_end_date", ["status", "end_date"], unique=False)

    op.create_table(
        "mdf_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_id"], ["people.id"], name=op.f("fk_mdf_history_changed_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["mdf_requests.id"], name=op.f("fk_mdf_history_request_id_mdf_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mdf_history")),
    )
    with op.batch_alter_table("mdf_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mdf_history_request_id"), ["request_id"], unique=False)

    op.create_table(
        "mdf_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["mdf_requests.id"], name=op.f("fk_mdf_reminders_request_id_mdf_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mdf_reminders")),
        sa.UniqueConstraint("request_id", "kind", "days", name=op.f("uq_mdf_reminders_request_id")),
    )
    with op.batch_alter_table("mdf_reminders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mdf_reminders_request_id"), ["request_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mdf_reminders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mdf_reminders_request_id"))

    op.drop_table("mdf_reminders")
    with op.batch_alter_table("mdf_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mdf_history_request_id"))

    op.drop_table("mdf_history")
    with op.batch_alter_table("mdf_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_mdf_requests_status_end_date")
        batch_op.drop_index("ix_mdf_requests_partner_status")
        batch_op.drop_index(batch_op.f("ix_mdf_requests_partner_id"))
        batch_op.drop_index(batch_op.f("ix_mdf_requests_paid_at"))
        batch_op.drop_index(batch_op.f("ix_mdf_requests_decided_at"))
        batch_op.drop_index(batch_op.f("ix_mdf_requests_budget_id"))

    op.drop_table("mdf_requests")
    with op.batch_alter_table("content_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_deliveries_person_id"))
        batch_op.drop_index(batch_op.f("ix_content_deliveries_item_id"))

    op.drop_table("content_deliveries")
    with op.batch_alter_table("content_audience", schema=None) as batch_op:
        batch_op.drop_index("ix_content_audience_kind_value")
        batch_op.drop_index(batch_op.f("ix_content_audience_item_id"))

    op.drop_table("content_audience")
    with op.batch_alter_table("mdf_budgets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mdf_budgets_partner_id"))

    op.drop_table("mdf_budgets")
    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_items_published_at"))

    op.drop_table("content_items")
