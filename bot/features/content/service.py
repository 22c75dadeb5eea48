"""Content and announcements: staff publish an item (``C-<n>``) to an audience; each person in it gets
the item once, through the outbox, with a tracked "Open" link and "Got it"; partners ask "what's new?";
staff read delivered / opened / open rate per item, by tier and by partner.

Who sees what, decided here: an item reaches a person when its audience names them, their partner,
their partner's tier or their partner's region. A partner user sees an item only if it reaches them -
a reference to any other item reads exactly like one that does not exist - and never learns whom else
an item went to. Statistics are for vendor staff.

Delivery: the publish transaction writes the item, its audience, one ``content_deliveries`` row per
person (with an unguessable token for ``GET /c/<token>``) and one outbox row per person keyed
``content:<item id>:<person id>``, so a retried publication can't message anyone twice. "What's new?"
is computed from the audience, so people who join a targeted partner later find the item too (they
get no message for it).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.content import views as content_views
from bot.features.content.model import (
    ContentDraft,
    ItemView,
    ResolvedDraft,
    StatsLine,
    StatsView,
    audience_text,
)
from bot.features.deals.service import clean_text
from bot.kernel import outbox
from bot.kernel.changes import ChangeLog
from bot.kernel.dates import local_today, to_local, utc_stamp
from bot.kernel.errors import InputError, NotAllowed
from bot.kernel.messages import Actor
from bot.kernel.refs import CONTENT_ITEM
from bot.people import EMAIL_RE, People
from store import content_queries, queries
from store.content_models import ContentAudience, ContentDelivery, ContentItem
from store.db import Database
from store.models import Partner, Person

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
PUBLISH_ROLES = ("channel_manager",)
"""Who publishes (``admin`` may do everything)."""
MAX_URL = 2000


content_ref = CONTENT_ITEM.format
parse_content_ref = CONTENT_ITEM.parse


def outbox_key(item_id: int, person_id: int) -> str:
    """The idempotency key of one person's message about one item: each person gets it once."""
    return f"content:{item_id}:{person_id}"


OUTBOX_KEY_RE = re.compile(r"^content:(?P<item>\d+):(?P<person>\d+)$")


# -- values -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What ``publish`` did: the item's reference and how many people it was sent to."""

    ref: str
    title: str
    recipients: int
    audience: str
    expires_at: datetime | None

    def summary(self) -> str:
        expiry = f"; expires {utc_stamp(self.expires_at)}" if self.expires_at else ""
        return (
            f"published {self.ref} '{self.title}' to {self.recipients} "
            f"{'person' if self.recipients == 1 else 'people'} ({self.audience}){expiry}"
        )


def _sum_lines(label: str, groups: Iterable[content_queries.DeliveryGroup]) -> StatsLine:
    groups = list(groups)
    return StatsLine(
        label=label,
        audience=sum(g.audience for g in groups),
        delivered=sum(g.delivered for g in groups),
        opened=sum(g.opened for g in groups),
        acknowledged=sum(g.acknowledged for g in groups),
    )


NO_PARTNER = "vendor staff"


class Content:
    def __init__(
        self,
        *,
        db: Database,
        clock: Callable[[], datetime],
        public_url: str,
        default_tz: str = "UTC",
        changes: ChangeLog | None = None,
    ) -> None:
        self.db = db
        self.changes = changes or ChangeLog()
        self.clock = clock
        self.public_url = public_url.rstrip("/")
        self.default_tz = default_tz

    def valid_until(self, expires_at: datetime | None) -> date | None:
        """The last day an item is valid (expiry is the next midnight in the deployment's time zone)."""
        if expires_at is None:
            return None
        local = to_local(expires_at, self.default_tz)
        return (local - timedelta(seconds=1)).date()

    def link_for(self, token: str) -> str:
        return f"{self.public_url}/c/{token}"

    def today_for(self, actor: Actor | None) -> date:
        return local_today(self.clock(), actor.tz if actor else self.default_tz)

    @staticmethod
    def may_publish(actor: Actor | None) -> bool:
        return actor is None or actor.has_role(*PUBLISH_ROLES)

    def _require_publisher(self, actor: Actor | None) -> None:
        if not self.may_publish(actor):
            raise NotAllowed("Only channel managers and admins publish content.")

    def _require_staff(self, actor: Actor) -> None:
        if not actor.is_staff:
            raise NotAllowed(
                "Content statistics are for vendor staff. Say 'what's new?' for the latest for you."
            )

    # -- audience -------------------------------------------------------------------------------

    async def audience_choices(self, actor: Actor | None) -> tuple[list[str], list[str], list[str]]:
        """(tiers, regions, partner names) staff may target - never for partner users."""
        if actor is not None and not actor.is_staff:
            return [], [], []
        async with self.db.transaction() as session:
            return (
                await content_queries.partner_tiers(session),
                await content_queries.partner_regions(session),
                await content_queries.partner_names(session),
            )

    def _validate_fields(
        self, actor: Actor | None, draft: ContentDraft
    ) -> tuple[str, str, str | None, datetime | None]:
        title = clean_text(draft.title, field_name="title", limit=200)
        if not title or len(title) < 3:
            raise InputError("title", "Give the item a title, e.g. 'Q1 price list' (up to 200 characters).")
        url = (draft.url or "").strip()
        parts = urlsplit(url) if url else None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.netloc
            or any(ch.isspace() for ch in url)
            or len(url) > MAX_URL
        ):
            raise InputError("url", "Give the link as a web address such as https://partners.example.com/q1.")
        summary = clean_text(draft.summary, field_name="summary", limit=1000)
        expires_at = None
        if draft.expires is not None:
            # A date: the item is valid through that whole day in the deployment's time zone, so every
            # reader sees the same last day (stored as the next midnight there, in naive UTC).
            if draft.expires <= self.today_for(None):
                raise InputError("expires", "The expiry date must be after today, e.g. 2027-03-31.")
            local_end = datetime.combine(
                draft.expires + timedelta(days=1), time(0), tzinfo=ZoneInfo(self.default_tz)
            )
            expires_at = local_end.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
        return title, url, summary, expires_at

    async def _resolve(
        self, session: AsyncSession, actor: Actor | None, draft: ContentDraft
    ) -> ResolvedDraft:
        title, url, summary, expires_at = self._validate_fields(actor, draft)
        if not (draft.tiers or draft.regions or draft.partners or draft.people):
            raise InputError(
                "audience",
                "Say who should get it: one or more tiers, regions, partners or people, e.g. "
                "'to Gold, EMEA, Northwind Partners, bob@contoso.example'.",
            )
        known_tiers = {t.lower(): t for t in await content_queries.partner_tiers(session)}
        known_regions = {r.lower(): r for r in await content_queries.partner_regions(session)}
        tiers = []
        for tier in draft.tiers:
            if tier.strip().lower() not in known_tiers:
                raise InputError(
                    "tier",
                    f"No partner has tier {tier!r}; tiers are {', '.join(known_tiers.values()) or 'none yet'}.",
                )
            tiers.append(known_tiers[tier.strip().lower()])
        regions = []
        for region in draft.regions:
            if region.strip().lower() not in known_regions:
                raise InputError(
                    "region",
                    f"No partner is in region {region!r}; regions are {', '.join(known_regions.values()) or 'none yet'}.",
                )
            regions.append(known_regions[region.strip().lower()])
        partner_ids: list[int] = []
        partner_names: list[str] = []
        for name in draft.partners:
            partner = await queries.partner_by_name(session, name)
            if partner is None or partner.status != "active":
                raise InputError("partner", f"No partner named {name!r}.")
            if partner.id not in partner_ids:
                partner_ids.append(partner.id)
                partner_names.append(partner.name)
        person_ids: list[int] = []
        emails: list[str] = []
        for email in draft.people:
            person = await queries.person_by_email(session, email) if EMAIL_RE.match(email.strip()) else None
            if person is None or not person.active:
                raise InputError("person", f"No one with e-mail {email!r}.")
            if person.id not in person_ids:
                person_ids.append(person.id)
                emails.append(person.email)
        recipients = await self._recipients(session, tiers, regions, partner_ids, person_ids)
        return ResolvedDraft(
            draft=ContentDraft(
                title=title,
                url=url,
                summary=summary,
                tiers=tuple(dict.fromkeys(tiers)),
                regions=tuple(dict.fromkeys(regions)),
                partners=tuple(partner_names),
                people=tuple(emails),
                expires=draft.expires,
            ),
            partner_ids=tuple(partner_ids),
            person_ids=tuple(person_ids),
            recipients=len(recipients),
            expires_at=expires_at,
        )

    async def _recipients(
        self,
        session: AsyncSession,
        tiers: Sequence[str],
        regions: Sequence[str],
        partner_ids: Sequence[int],
        person_ids: Sequence[int],
    ) -> list[tuple[Person, Partner | None]]:
        """The union of the audience: every active user of a matching partner, and the named people."""
        partners = await content_queries.partners_matching(
            session, tiers=tiers, regions=regions, partner_ids=partner_ids
        )
        by_id = {p.id: p for p in partners}
        out: dict[int, tuple[Person, Partner | None]] = {}
        for person in await content_queries.active_people_of(session, list(by_id)):
            out[person.id] = (person, by_id.get(person.partner_id or 0))
        for person_id in person_ids:
            if person_id not in out:
                named = await queries.person_by_id(session, person_id)
                if named is not None and named.active:
                    org = await queries.partner_by_id(session, named.partner_id) if named.partner_id else None
                    out[named.id] = (named, org)
        return list(out.values())

    async def resolve(self, actor: Actor | None, draft: ContentDraft) -> ResolvedDraft:
        """Validate a draft and resolve its audience, writing nothing (the preview before Confirm)."""
        self._require_publisher(actor)
        async with self.db.transaction() as session:
            return await self._resolve(session, actor, draft)

    # -- publish --------------------------------------------------------------------------------

    async def delivery_unreachable(self, message_key: str, *, reason: str) -> bool:
        """An item's message (:func:`outbox_key`) could not reach someone: its publisher hears it once
        per item, with the first person who could not be reached (``partnerbot people unreachable``
        lists the rest)."""
        match = OUTBOX_KEY_RE.match(message_key)
        if match is None:
            return False
        async with self.db.transaction() as session:
            item = await session.get(ContentItem, int(match.group("item")))
            if item is None:
                return False
            return await outbox.tell_causer(
                session,
                key=f"content:{item.id}:unreachable:to{item.published_by_id}",
                causer_id=item.published_by_id,
                recipient_id=int(match.group("person")),
                subject=f"{content_ref(item.number)} '{item.title}' (the first; the others are listed too)",
                reason=reason,
                now=self.clock(),
            )

    async def publish(self, actor: Actor | None, draft: ContentDraft) -> PublishResult:
        """Publish to the audience: the item, its audience, a delivery (token) and an outbox message per
        person, and the audit entry - one transaction. ``actor`` None is the CLI."""
        self._require_publisher(actor)
        now = self.clock()
        async with self.db.transaction() as session:
            resolved = await self._resolve(session, actor, draft)
            clean = resolved.draft
            item = ContentItem(
                number=await queries.next_number(session, "content"),
                title=clean.title,
                url=clean.url,
                summary=clean.summary,
                expires_at=resolved.expires_at,
                published_by_id=actor.person_id if actor else None,
                channel=actor.channel if actor else "cli",
                published_at=now,
            )
            session.add(item)
            await session.flush()
            for kind, values in (
                ("tier", clean.tiers),
                ("region", clean.regions),
                ("partner", [str(i) for i in resolved.partner_ids]),
                ("person", [str(i) for i in resolved.person_ids]),
            ):
                for value in values:
                    session.add(ContentAudience(item_id=item.id, kind=kind, value=value))
            ref = content_ref(item.number)
            recipients = await self._recipients(
                session, clean.tiers, clean.regions, resolved.partner_ids, resolved.person_ids
            )
            for person, partner in recipients:
                token = secrets.token_urlsafe(16)
                key = outbox_key(item.id, person.id)
                session.add(
                    ContentDelivery(
                        item_id=item.id,
                        person_id=person.id,
                        partner_id=partner.id if partner else None,
                        tier=partner.tier if partner else None,
                        token=token,
                        outbox_key=key,
                        queued_at=now,
                        opens=0,
                    )
                )
                view = self._item_view(item, token=token, delivered=True, acknowledged=False)
                await outbox.queue_for_person(
                    session,
                    key=key,
                    person_id=person.id,
                    reply=content_views.content_message(view),
                    kind="content",
                    now=now,
                )
            await self.changes.record(
                session,
                actor,
                action="content.publish",
                entity=ref,
                before=None,
                after={
                    "title": clean.title,
                    "url": clean.url,
                    "tiers": list(clean.tiers),
                    "regions": list(clean.regions),
                    "partners": list(clean.partners),
                    "people": list(clean.people),
                    "expires_at": resolved.expires_at.isoformat() if resolved.expires_at else None,
                    "recipients": len(recipients),
                },
                channel="cli",
                at=now,
            )
            return PublishResult(
                ref=ref,
                title=clean.title,
                recipients=len(recipients),
                audience=resolved.audience_text(),
                expires_at=resolved.expires_at,
            )

    # -- reading --------------------------------------------------------------------------------

    def _item_view(
        self,
        item: ContentItem,
        *,
        token: str | None,
        delivered: bool,
        acknowledged: bool,
        audience: str | None = None,
    ) -> ItemView:
        return ItemView(
            ref=content_ref(item.number),
            title=item.title,
            url=item.url,
            open_url=self.link_for(token) if token else item.url,
            summary=item.summary,
            published_at=item.published_at,
            expires_at=item.expires_at,
            valid_until=self.valid_until(item.expires_at),
            delivered=delivered,
            acknowledged=acknowledged,
            audience=audience,
        )

    async def _reader(self, session: AsyncSession, actor: Actor) -> tuple[int | None, str | None, str | None]:
        """(partner id, tier, region) of the reader - as stored now, not as the Actor was built."""
        person = await queries.person_by_id(session, actor.person_id)
        if person is None or person.partner_id is None:
            return None, None, None
        partner = await queries.partner_by_id(session, person.partner_id)
        if partner is None or partner.status != "active":
            return None, None, None
        return partner.id, partner.tier, partner.region

    async def _audience_text(self, session: AsyncSession, item_id: int) -> str:
        rows = await content_queries.audience_of(session, item_id)
        tiers = [r.value for r in rows if r.kind == "tier"]
        regions = [r.value for r in rows if r.kind == "region"]
        partners, people = [], []
        for row in rows:
            if row.kind == "partner":
                partner = await queries.partner_by_id(session, int(row.value))
                partners.append(partner.name if partner else "?")
            elif row.kind == "person":
                person = await queries.person_by_id(session, int(row.value))
                people.append(person.email if person else "?")
        return audience_text(tiers, regions, partners, people)

    async def whats_new(self, actor: Actor, *, limit: int = 10) -> list[ItemView]:
        """Items for the reader, newest first, not expired. Staff: everything published, with its
        audience."""
        now = self.clock()
        async with self.db.transaction() as session:
            if actor.is_staff:
                items = [
                    i
                    for i in await content_queries.recent_items(session, limit=limit * 2)
                    if i.expires_at is None or i.expires_at > now
                ][:limit]
                return [
                    self._item_view(
                        i,
                        token=None,
                        delivered=False,
                        acknowledged=False,
                        audience=await self._audience_text(session, i.id),
                    )
                    for i in items
                ]
            partner_id, tier, region = await self._reader(session, actor)
            items = list(
                await content_queries.items_for_person(
                    session,
                    person_id=actor.person_id,
                    partner_id=partner_id,
                    tier=tier,
                    region=region,
                    now=now,
                    limit=limit,
                )
            )
            mine = await content_queries.deliveries_for_person(
                session, person_id=actor.person_id, item_ids=[i.id for i in items]
            )
            return [
                self._item_view(
                    i,
                    token=mine[i.id].token if i.id in mine else None,
                    delivered=i.id in mine,
                    acknowledged=bool(i.id in mine and mine[i.id].acknowledged_at),
                )
                for i in items
            ]

    async def _item_for(self, session: AsyncSession, actor: Actor, ref: str) -> ContentItem:
        number = parse_content_ref(ref)
        item = await content_queries.item_by_number(session, number)
        if item is not None and not actor.is_staff:
            partner_id, tier, region = await self._reader(session, actor)
            reaches = await content_queries.item_reaches(
                session,
                item_id=item.id,
                person_id=actor.person_id,
                partner_id=partner_id,
                tier=tier,
                region=region,
            )
            if not reaches:
                item = None
        if item is None:
            raise CONTENT_ITEM.not_found(number, among="the content for you")
        return item

    async def get(self, actor: Actor, ref: str) -> ItemView:
        async with self.db.transaction() as session:
            item = await self._item_for(session, actor, ref)
            delivery = await content_queries.delivery_for(session, item_id=item.id, person_id=actor.person_id)
            return self._item_view(
                item,
                token=delivery.token if delivery else None,
                delivered=delivery is not None,
                acknowledged=bool(delivery and delivery.acknowledged_at),
                audience=await self._audience_text(session, item.id) if actor.is_staff else None,
            )

    async def acknowledge(self, actor: Actor, ref: str) -> ItemView:
        """ "Got it": recorded once per person, for people the item was delivered to."""
        async with self.db.transaction() as session:
            item = await self._item_for(session, actor, ref)
            delivery = await content_queries.delivery_for(session, item_id=item.id, person_id=actor.person_id)
            if delivery is not None:
                await content_queries.acknowledge(session, delivery_id=delivery.id, now=self.clock())
            return self._item_view(
                item,
                token=delivery.token if delivery else None,
                delivered=delivery is not None,
                acknowledged=True,
            )

    # -- statistics (staff) ---------------------------------------------------------------------

    async def stats(self, actor: Actor, ref: str) -> StatsView:
        self._require_staff(actor)
        async with self.db.transaction() as session:
            item = await self._item_for(session, actor, ref)
            return await self._stats(session, item)

    async def _stats(self, session: AsyncSession, item: ContentItem) -> StatsView:
        groups = await content_queries.delivery_groups(session, item_id=item.id)
        tiers: dict[str, list[content_queries.DeliveryGroup]] = {}
        partners: dict[str, list[content_queries.DeliveryGroup]] = {}
        for group in groups:
            tiers.setdefault(group.tier or NO_PARTNER, []).append(group)
            partners.setdefault(group.partner or NO_PARTNER, []).append(group)
        return StatsView(
            ref=content_ref(item.number),
            title=item.title,
            published_at=item.published_at,
            expires_at=item.expires_at,
            audience_text=await self._audience_text(session, item.id),
            total=_sum_lines("all", groups),
            valid_until=self.valid_until(item.expires_at),
            by_tier=tuple(_sum_lines(label, g) for label, g in sorted(tiers.items())),
            by_partner=tuple(_sum_lines(label, g) for label, g in sorted(partners.items())),
        )

    async def recent_stats(self, actor: Actor, *, limit: int = 10) -> list[StatsView]:
        self._require_staff(actor)
        async with self.db.transaction() as session:
            return [
                await self._stats(session, item)
                for item in await content_queries.recent_items(session, limit=limit)
            ]

    async def titles(self, actor: Actor, *, limit: int = 200) -> list[tuple[str, str]]:
        """(reference, title) of recent items, for staff to name one by its title."""
        if not actor.is_staff:
            return []
        async with self.db.transaction() as session:
            return [
                (content_ref(i.number), i.title)
                for i in await content_queries.recent_items(session, limit=limit)
            ]

    # -- the tracked link (handlers/content_links.py) -------------------------------------------

    async def open_link(self, token: str) -> str | None:
        """The item's link for a tracking token, recording the open (the first one keeps its time);
        None for a token that isn't one of ours. An expired item still opens - and is recorded."""
        if not TOKEN_RE.match(token or ""):
            return None
        async with self.db.transaction() as session:
            found = await content_queries.delivery_by_token(session, token)
            if found is None:
                return None
            delivery, item = found
            await content_queries.record_open(session, delivery_id=delivery.id, now=self.clock())
            return item.url


async def publish_content(
    content: Content,
    directory: People,
    *,
    title: str,
    url: str,
    summary: str | None = None,
    tiers: Sequence[str] = (),
    regions: Sequence[str] = (),
    partners: Sequence[str] = (),
    people: Sequence[str] = (),
    expires: date | str | None = None,
    actor_email: str | None = None,
) -> PublishResult:
    """``partnerbot content publish --title T --url U [--summary S] [--tier T]... [--region R]...
    [--partner NAME]... [--person EMAIL]... [--expires DATE]``. With ``actor_email`` the item is
    published as that staff member (who needs a publishing role); without, as the vendor's tooling.
    Bad input raises :class:`InputError` naming the field; nothing is written then."""
    actor = None
    if actor_email:
        actor = await directory.actor_by_email(actor_email, channel="cli")
        if actor is None or not actor.is_staff:
            raise InputError("as", f"{actor_email} is not a member of vendor staff.")
    if isinstance(expires, str):
        try:
            expires = date.fromisoformat(expires.strip())
        except ValueError:
            raise InputError(
                "expires", f"--expires must be a date such as 2027-03-31, not {expires!r}."
            ) from None
    draft = ContentDraft(
        title=title,
        url=url,
        summary=summary,
        tiers=tuple(tiers),
        regions=tuple(regions),
        partners=tuple(partners),
        people=tuple(people),
        expires=expires,
    )
    return await content.publish(actor, draft)
