"""leads

Lead distribution and the lead lifecycle: ``leads``, ``lead_offers``, ``lead_history`` and
``partner_lead_profiles`` (see store/lead_models.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_lead_profiles",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_partner_lead_profiles_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_partner_lead_profiles")),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("company_key", sa.String(length=200), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=True),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("contact_phone", sa.String(length=40), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=40), nullable=True),
        sa.Column("product", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_note", sa.Text(), nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.Column("disqualify_reason", sa.Text(), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("offered_at", sa.DateTime(), nullable=True),
        sa.Column("accept_by", sa.DateTime(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("converted_deal_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_via", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["converted_deal_id"], ["deals.id"], name=op.f("fk_leads_converted_deal_id_deals")
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["people.id"], name=op.f("fk_leads_created_by_id_people")),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("fk_leads_partner_id_partners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        sa.UniqueConstraint("number", name=op.f("uq_leads_number")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leads_company_key"), ["company_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index("ix_leads_status_accept_by", ["status", "accept_by"], unique=False)
        batch_op.create_index("ix_leads_status_partner", ["status", "partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "lead_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_id"], ["people.id"], name=op.f("fk_lead_history_changed_by_id_people")
        ),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_lead_history_lead_id_leads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_history")),
    )
    with op.batch_alter_table("lead_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_history_lead_id"), ["lead_id"], unique=False)

    op.create_table(
        "lead_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("offered_at", sa.DateTime(), nullable=False),
        sa.Column("accept_by", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assigned_by_id"], ["people.id"], name=op.f("fk_lead_offers_assigned_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["people.id"], name=op.f("fk_lead_offers_decided_by_id_people")
        ),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_lead_offers_lead_id_leads")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_lead_offers_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_offers")),
    )
    with op.batch_alter_table("lead_offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_offers_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index("ix_lead_offers_partner_offered_at", ["partner_id", "offered_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lead_offers", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_offers_partner_offered_at")
        batch_op.drop_index(batch_op.f("ix_lead_offers_lead_id"))

    op.drop_table("lead_offers")
    with op.batch_alter_table("lead_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_history_lead_id"))

    op.drop_table("lead_history")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leads_updated_at"))
        batch_op.drop_index("ix_leads_status_partner")
        batch_op.drop_index("ix_leads_status_accept_by")
        batch_op.drop_index(batch_op.f("ix_leads_partner_id"))
        batch_op.drop_index(batch_op.f("ix_leads_company_key"))

    op.drop_table("leads")
    op.drop_table("partner_lead_profiles")
