"""What the content service returns and its views render: plain values, no behaviour that needs the
database."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ContentDraft:
    """What staff publish. ``tiers``, ``regions`` and ``partners`` are names as typed; ``people`` are
    e-mail addresses. Validated and resolved by :meth:`Content.resolve`."""

    title: str
    url: str
    summary: str | None = None
    tiers: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    partners: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    expires: date | None = None

    def as_text(self) -> dict[str, str]:
        """The draft as form values (lists separated by commas)."""
        return {
            "title": self.title,
            "url": self.url,
            "summary": self.summary or "",
            "tiers": ", ".join(self.tiers),
            "regions": ", ".join(self.regions),
            "partners": ", ".join(self.partners),
            "people": ", ".join(self.people),
            "expires": self.expires.isoformat() if self.expires else "",
        }

    @classmethod
    def from_text(cls, values: dict[str, Any]) -> ContentDraft:
        def items(name: str) -> tuple[str, ...]:
            raw = values.get(name) or ""
            parts = raw if isinstance(raw, list | tuple) else re.split(r"[,;\n]", str(raw))
            return tuple(p.strip() for p in parts if str(p).strip())

        expires = values.get("expires") or None
        return cls(
            title=str(values.get("title") or ""),
            url=str(values.get("url") or ""),
            summary=str(values.get("summary") or "") or None,
            tiers=items("tiers"),
            regions=items("regions"),
            partners=items("partners"),
            people=items("people"),
            expires=date.fromisoformat(expires) if isinstance(expires, str) else expires,
        )


@dataclass(frozen=True, slots=True)
class ResolvedDraft:
    """A validated draft: names as stored, and who it reaches now."""

    draft: ContentDraft
    partner_ids: tuple[int, ...]
    person_ids: tuple[int, ...]
    recipients: int
    expires_at: datetime | None

    def audience_text(self) -> str:
        return audience_text(self.draft.tiers, self.draft.regions, self.draft.partners, self.draft.people)


@dataclass(frozen=True, slots=True)
class ItemView:
    """An item as one reader sees it. ``open_url`` is the reader's tracked link when the item was
    delivered to them, else the document's own link. ``audience`` only for staff."""

    ref: str
    title: str
    url: str
    open_url: str
    summary: str | None
    published_at: datetime
    expires_at: datetime | None
    valid_until: date | None = None
    delivered: bool = False
    acknowledged: bool = False
    audience: str | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class StatsLine:
    label: str
    audience: int
    delivered: int
    opened: int
    acknowledged: int

    @property
    def open_rate(self) -> float | None:
        """Opened / delivered: the share of people who got the message that opened the link."""
        return self.opened / self.delivered if self.delivered else None


@dataclass(frozen=True, slots=True)
class StatsView:
    ref: str
    title: str
    published_at: datetime
    expires_at: datetime | None
    audience_text: str
    total: StatsLine
    valid_until: date | None = None
    by_tier: tuple[StatsLine, ...] = ()
    by_partner: tuple[StatsLine, ...] = field(default=())


def audience_text(
    tiers: Sequence[str], regions: Sequence[str], partners: Sequence[str], people: Sequence[str]
) -> str:
    parts = []
    if tiers:
        parts.append(("tier " if len(tiers) == 1 else "tiers ") + ", ".join(tiers))
    if regions:
        parts.append(("region " if len(regions) == 1 else "regions ") + ", ".join(regions))
    if partners:
        parts.append(", ".join(partners))
    if people:
        parts.append(", ".join(people))
    return "; ".join(parts) or "nobody"
