"""Platform requests acknowledged but not yet handled (the inbox).

Slack wants an answer within 3 seconds and Teams within 15; the work behind a request can take longer
and a replica can die while doing it. So a request is written here *before* it is acknowledged, and
workers in any replica handle it afterwards. ``dedupe_key`` makes a retried delivery (Slack's
``X-Slack-Retry-Num``, a Teams activity sent twice) a no-op; ``order_key`` (one person in one
conversation) keeps one person's requests in the order they arrived."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base


class InboxRequest(Base):
    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_pending", "status", "id"),
        Index("ix_inbox_order", "order_key", "status", "id"),
        Index("ix_inbox_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    order_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
