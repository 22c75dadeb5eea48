"""Messages the bot starts by itself: queued in the transaction of the change, delivered later.

``queue_for_person`` / ``queue_for_vendor_channel`` / ``queue_replacement`` / ``queue_thread_reply``
are called inside a service's unit of work, so a notification exists exactly when the change that
caused it does.
``OutboxDispatcher.deliver_due`` claims due rows (a lease, ``SKIP LOCKED`` on PostgreSQL), hands each
to the :class:`Notifier` of the recipient's platform, and records the outcome with retries and
exponential backoff (``Retry-After`` honoured) up to :data:`MAX_ATTEMPTS`, then ``failed``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.messages import Reply
from bot.kernel.metrics import METRICS
from store import queries
from store.db import Database

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)
VENDOR_CHANNEL = "vendor_channel"
THREAD = "thread"  # a reply in the thread of every vendor-channel message with the row's replace key
PREFER_PLATFORM = "_prefer_platform"


class DeliveryError(Exception):
    """A notifier could not deliver. ``retry_after`` (seconds) when the platform said when to retry;
    ``permanent`` when retrying cannot help (no such user, bot removed)."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


UNREACHABLE = "unreachable: "  # how a waiting row's last_error starts (``partnerbot people unreachable``)


class NotReachableNow(Exception):
    """The person has no way to be reached at the moment (e.g. a terminal-only user who is not
    chatting, or someone found in no workspace). The message waits without using up an attempt; the
    text says why, after :data:`UNREACHABLE`."""

    def __init__(self, reason: str) -> None:
        super().__init__(UNREACHABLE + reason)


class Notifier(Protocol):
    """One per platform (Slack, Teams, the terminal; a fake in tests)."""

    platform: str

    async def send(self, *, target: Mapping[str, Any], reply: Reply, idempotency_key: str) -> dict[str, Any]:
        """Post ``reply`` to ``target`` (a stored conversation reference, or ``{"vendor_channel": True}``);
        return a reference to the posted message that ``update`` accepts."""
        ...

    async def update(self, *, message_ref: Mapping[str, Any], reply: Reply) -> None:
        """Replace a message posted earlier with ``reply``."""
        ...


class KeepsThreads(Protocol):
    """A notifier whose platform keeps replies to a message in a thread under it (Slack). The outbox
    records each delivered message's :meth:`locator`, so a reply in its thread can be told to be about
    the message's record (:func:`record_of_card`), and posts :func:`queue_thread_reply` messages with
    :meth:`reply_in_thread`. A notifier without these has no threads: such messages are skipped."""

    def locator(self, message_ref: Mapping[str, Any]) -> str | None:
        """The one string that names the message ``message_ref`` points at on its platform - the same
        string the platform's handler builds from a reply in its thread (Slack: ``<channel>:<ts>``)."""
        ...

    async def reply_in_thread(self, *, message_ref: Mapping[str, Any], reply: Reply) -> None:
        """Post ``reply`` in the thread of the message ``message_ref`` points at."""
        ...


class StartsConversations(Protocol):
    """A notifier that can reach an account it holds no conversation with (Slack: ``conversations.open``
    with the installation of the account's workspace; Teams: the app installed for the person through
    Microsoft Graph), and find an account by e-mail in a workspace (``users.lookupByEmail``, Graph
    ``/users``). The outbox uses both for people who never wrote to the bot; ``starts_conversations``
    says whether this notifier can, as configured."""

    platform: str
    starts_conversations: bool

    async def find_account(self, *, workspace: str, email: str) -> str | None:
        """The id of the account with ``email`` in ``workspace``; None when there is none (a
        :class:`DeliveryError` when the platform could not say)."""
        ...


_queued = 0


def queued_count() -> int:
    """How many messages this process has queued so far (a rolled-back one counts too): lets
    :meth:`bot.bootstrap.Core.kick_outbox` skip a delivery round when a request queued nothing."""
    return _queued


def _note_queued() -> None:
    global _queued
    _queued += 1


async def queue_for_person(
    session: AsyncSession,
    *,
    key: str,
    person_id: int,
    reply: Reply,
    kind: str,
    now: datetime,
    prefer_platform: str | None = None,
) -> None:
    """Queue ``reply`` for one person. ``prefer_platform`` (e.g. the platform a question was asked
    from) is used when the person can be reached there; otherwise their most recent platform."""
    payload = reply.to_dict()
    if prefer_platform:
        payload[PREFER_PLATFORM] = prefer_platform
    _note_queued()
    await queries.add_outbox(
        session,
        idempotency_key=key,
        recipient_kind="person",
        recipient_id=person_id,
        kind=kind,
        payload=payload,
        replace_key=reply.replace_key,
        now=now,
    )


async def queue_for_vendor_channel(
    session: AsyncSession, *, key: str, reply: Reply, kind: str, now: datetime
) -> None:
    _note_queued()
    await queries.add_outbox(
        session,
        idempotency_key=key,
        recipient_kind=VENDOR_CHANNEL,
        recipient_id=None,
        kind=kind,
        payload=reply.to_dict(),
        replace_key=reply.replace_key,
        now=now,
    )


async def queue_replacement(session: AsyncSession, *, key: str, reply: Reply, now: datetime) -> None:
    """Update, in place, every message delivered earlier with ``reply.replace_key``."""
    assert reply.replace_key, "a replacement needs the replace_key of the messages it replaces"
    _note_queued()
    await queries.add_outbox(
        session,
        idempotency_key=key,
        recipient_kind="replace",
        recipient_id=None,
        kind="replace",
        payload=reply.to_dict(),
        replace_key=reply.replace_key,
        now=now,
    )


async def queue_thread_reply(session: AsyncSession, *, key: str, reply: Reply, now: datetime) -> None:
    """Post ``reply`` in the thread of every vendor-channel message delivered earlier with
    ``reply.replace_key`` (a review card's decision history), on platforms that keep threads
    (:class:`KeepsThreads`); nothing where there is none."""
    assert reply.replace_key, "a thread reply needs the replace_key of the messages it replies to"
    _note_queued()
    await queries.add_outbox(
        session,
        idempotency_key=key,
        recipient_kind=THREAD,
        recipient_id=None,
        kind="thread",
        payload=reply.to_dict(),
        replace_key=reply.replace_key,
        now=now,
    )


async def record_of_card(db: Database, *, platform: str, locator: str) -> str | None:
    """The record (``D-3``) whose card in the vendor channel is the message ``locator`` names on
    ``platform`` (the parent of a thread); None for any other message."""
    async with db.transaction() as session:
        return await queries.record_of_delivered(
            session, platform=platform, locator=locator, recipient_kind=VENDOR_CHANNEL
        )


@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    waiting: int = 0
    handed_on: int = 0  # unreachable recipients whose feature was told (it may have moved the work on)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at one hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def _locator(notifier: Notifier, message_ref: Mapping[str, Any]) -> str | None:
    """The platform's name of a delivered message, from a notifier that keeps threads; else None."""
    locate = getattr(notifier, "locator", None)
    return cast(KeepsThreads, notifier).locator(message_ref) if locate is not None else None


def _starts_conversations(notifier: Notifier) -> bool:
    return bool(getattr(notifier, "starts_conversations", False))


def _fresh_target(platform: str, workspace: str, external_id: str, person_id: int) -> dict[str, Any]:
    """The target of someone the bot has no conversation with yet (the notifier opens one)."""
    return {
        "platform": platform,
        "workspace": workspace,
        "external_id": external_id,
        "extras": {},
        "person_id": person_id,
    }


@dataclass(frozen=True, slots=True)
class Unreachable:
    """Someone messages are waiting for, because the bot could not reach them."""

    email: str
    name: str
    partner: str | None
    waiting: int
    since: datetime
    reason: str
    remedy: str


async def tell_causer(
    session: AsyncSession,
    *,
    key: str,
    causer_id: int | None,
    recipient_id: int,
    subject: str,
    reason: str,
    now: datetime,
) -> bool:
    """Tell whoever caused a message (the approver of a deal, the publisher of content) that its
    recipient could not be reached about ``subject``, and why: once per ``key`` (the outbox writes a
    key once). Nothing when the cause was nobody in particular, or the recipient themselves."""
    recipient = await queries.person_by_id(session, recipient_id)
    if causer_id is None or causer_id == recipient_id or recipient is None:
        return False
    text = (
        f"{recipient.name} ({recipient.email}) could not be reached about {subject} yet: "
        f"{reason.removeprefix(UNREACHABLE)}. {REACHED_LATER}"
    )
    await queue_for_person(
        session, key=key, person_id=causer_id, reply=Reply(text=text), kind="note", now=now
    )
    return True


REACHED_LATER = (
    "They get it as soon as they can be reached; 'partnerbot people unreachable' lists who is waiting."
)


async def unreachable_people(db: Database) -> list[Unreachable]:
    """Everyone the outbox holds messages for as unreachable, with why and what would fix it; the
    messages go out as soon as they become reachable (the dispatcher tries again every 15 minutes)."""
    async with db.transaction() as session:
        rows = await queries.unreachable_recipients(session, marker=UNREACHABLE)
    found = []
    for person, partner, waiting, since, reason in rows:
        if person.kind == "staff":
            remedy = (
                f"link their account: partnerbot user add {person.email} --name ... --staff --slack-id U... "
                "--slack-team T... (or --teams-id/--teams-tenant), or name the vendor's Slack workspace in "
                "PARTNERBOT_SLACK_VENDOR_TEAM so they are found by e-mail"
            )
        else:
            remedy = (
                f'link their account: partnerbot user add {person.email} --name ... --partner "{partner}" '
                "--slack-id U... --slack-team T... (or --teams-id/--teams-tenant), or give the partner its "
                "workspace (partnerbot partner add ... --slack-team T...) with partnerbot installed there"
            )
        found.append(
            Unreachable(
                email=person.email,
                name=person.name,
                partner=partner,
                waiting=waiting,
                since=since,
                reason=str(reason or "").removeprefix(UNREACHABLE),
                remedy=remedy + "; or they write to the bot once",
            )
        )
    return found


class OutboxDispatcher:
    def __init__(
        self,
        *,
        db: Database,
        notifiers: Mapping[str, Notifier],
        vendor_channel_platform: str | None,
        clock: Callable[[], datetime],
        vendor_workspaces: Mapping[str, frozenset[str]] | None = None,
        on_unreachable: Callable[[str, str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        # (kind, idempotency key, reason) of a message whose recipient could not be reached: the feature
        # that wrote it decides what that means (a lead offer moves on at once).
        self.on_unreachable = on_unreachable
        self.notifiers = dict(notifiers)
        self.vendor_channel_platform = vendor_channel_platform
        self.clock = clock
        # Where vendor staff are looked up by e-mail, per platform (partners: their partner's workspace).
        self.vendor_workspaces = dict(vendor_workspaces or {})

    async def deliver_due(self, *, now: datetime | None = None, limit: int = 100) -> DeliveryReport:
        """Deliver what is due at ``now``. Safe to run in several processes at once."""
        now = now or self.clock()
        report = DeliveryReport()
        while True:
            async with self.db.transaction() as session:
                rows = await queries.claim_outbox(session, now=now, lease_until=now + LEASE, limit=limit)
                claimed = [
                    (
                        r.id,
                        r.recipient_kind,
                        r.recipient_id,
                        r.kind,
                        dict(r.payload),
                        r.replace_key,
                        r.idempotency_key,
                        r.attempts,
                    )
                    for r in rows
                ]
            if not claimed:
                return report
            handed_on = report.handed_on
            for row in claimed:
                await self._deliver_one(*row, now=now, report=report)
            # Moving work on from an unreachable recipient writes new messages: take them this round.
            if len(claimed) < limit and report.handed_on == handed_on:
                return report

    async def _deliver_one(
        self,
        row_id: int,
        recipient_kind: str,
        recipient_id: int | None,
        kind: str,
        payload: dict[str, Any],
        replace_key: str | None,
        idempotency_key: str,
        attempts: int,
        *,
        now: datetime,
        report: DeliveryReport,
    ) -> None:
        reply = Reply.from_dict(payload)
        delivered: list[dict[str, Any]] = []
        platform = "none"  # for the metrics: where it went, once that is known
        try:
            if recipient_kind == "replace":
                assert replace_key
                async with self.db.transaction() as session:
                    earlier = [
                        (d.platform, dict(d.message_ref))
                        for d in await queries.delivered_for(session, replace_key)
                    ]
                platform = earlier[0][0] if earlier else "none"
                for where, ref in earlier:
                    notifier = self.notifiers.get(where)
                    if notifier is not None:
                        await notifier.update(message_ref=ref, reply=reply)
            elif recipient_kind == THREAD:
                platform = await self._reply_in_threads(replace_key, reply)
            else:
                platform, target = await self._target(
                    recipient_kind, recipient_id, prefer=payload.get(PREFER_PLATFORM)
                )
                ref = await self.notifiers[platform].send(
                    target=target, reply=reply, idempotency_key=idempotency_key
                )
                delivered.append(
                    {
                        "platform": platform,
                        "message_ref": ref,
                        "recipient_kind": recipient_kind,
                        "record": reply.ref,
                        "locator": _locator(self.notifiers[platform], ref),
                    }
                )
        except NotReachableNow as exc:
            await self._record(
                row_id,
                now=now,
                status="pending",
                error=str(exc),
                next_at=now + timedelta(minutes=15),
                attempts=attempts,
            )
            report.waiting += 1
            METRICS.delivery(platform, "unreachable")
            # Only where people can be reached at all: with no chat platform configured (the terminal
            # alone), nobody can, and moving work from one person to the next would change nothing.
            if self.on_unreachable is not None and any(
                _starts_conversations(n) for n in self.notifiers.values()
            ):
                try:
                    await self.on_unreachable(kind, idempotency_key, str(exc))
                    report.handed_on += 1
                except Exception:
                    log.exception("outbox: handling the unreachable recipient of %s failed", idempotency_key)
            return
        except DeliveryError as exc:
            attempts += 1
            if exc.permanent or attempts >= MAX_ATTEMPTS:
                await self._record(row_id, now=now, status="failed", error=str(exc), attempts=attempts)
                report.failed += 1
                METRICS.delivery(platform, "failed")
            else:
                wait = timedelta(seconds=exc.retry_after) if exc.retry_after else backoff(attempts)
                await self._record(
                    row_id, now=now, status="pending", error=str(exc), next_at=now + wait, attempts=attempts
                )
                report.retried += 1
                METRICS.delivery(platform, "retry")
            return
        except Exception as exc:  # a bug or an unexpected platform answer: retry, keep the row visible
            log.exception("outbox delivery of %s failed", idempotency_key)
            attempts += 1
            status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
            await self._record(
                row_id,
                now=now,
                status=status,
                error=repr(exc)[:500],
                next_at=now + backoff(attempts),
                attempts=attempts,
            )
            report.failed += status == "failed"
            report.retried += status == "pending"
            METRICS.delivery(platform, "failed" if status == "failed" else "retry")
            return
        await self._record(
            row_id,
            now=now,
            status="sent",
            attempts=attempts + 1,
            delivered=delivered,
            replace_key=replace_key if recipient_kind not in ("replace", THREAD) else None,
        )
        report.sent += 1
        METRICS.delivery(platform, "sent")

    async def _reply_in_threads(self, replace_key: str | None, reply: Reply) -> str:
        """Post ``reply`` in the thread of each vendor-channel message delivered with ``replace_key``;
        the platform of the first (for the metrics), or ``none``."""
        assert replace_key
        async with self.db.transaction() as session:
            cards = [
                (d.platform, dict(d.message_ref))
                for d in await queries.delivered_for(session, replace_key, recipient_kind=VENDOR_CHANNEL)
            ]
        for where, ref in cards:
            notifier = self.notifiers.get(where)
            replying = getattr(notifier, "reply_in_thread", None)
            if replying is not None:
                await replying(message_ref=ref, reply=reply)
        return cards[0][0] if cards else "none"

    async def _target(
        self, recipient_kind: str, recipient_id: int | None, *, prefer: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        if recipient_kind == VENDOR_CHANNEL:
            platform = self.vendor_channel_platform
            if not platform or platform not in self.notifiers:
                raise DeliveryError("no vendor channel is configured", permanent=True)
            return platform, {"vendor_channel": True}
        assert recipient_id is not None
        async with self.db.transaction() as session:
            candidates = await queries.addresses_of(session, recipient_id)
        if prefer:
            candidates.sort(key=lambda c: c[0] != prefer)  # stable: most recent first within each group
        skipped: list[str] = []
        for platform, ref, external_id, workspace in candidates:
            notifier = self.notifiers.get(platform)
            if notifier is None:
                if platform != "console":
                    skipped.append(f"linked on {platform}, which is not configured here")
                continue
            if ref or platform == "console":
                return platform, {
                    **ref,
                    "person_id": recipient_id,
                    "external_id": ref.get("external_id", external_id),
                }
            if _starts_conversations(notifier):
                # Linked (say by `partnerbot user add --slack-id`) but never written: open the chat.
                return platform, _fresh_target(platform, workspace, external_id, recipient_id)
            skipped.append(f"linked on {platform} but has no conversation with the bot yet")
        found = await self._find_by_email(recipient_id, prefer=prefer)
        if not isinstance(found, str):
            return found
        raise NotReachableNow("; ".join([*skipped, found]))

    async def _find_by_email(
        self, recipient_id: int, *, prefer: str | None
    ) -> tuple[str, dict[str, Any]] | str:
        """Look the person up by e-mail in their organisation's workspace on each platform that can, and
        keep the link: the first message to someone known only by e-mail finds them. When nobody is
        found: why, in words for ``partnerbot people unreachable``."""
        async with self.db.transaction() as session:
            known = await queries.where_to_look_up(session, recipient_id)
        if known is None:
            return "the person is inactive, or their partner is"
        email, kind, places = known
        platforms = sorted(self.notifiers, key=lambda p: p != prefer)
        tried: list[str] = []
        for platform in platforms:
            notifier = self.notifiers[platform]
            if not _starts_conversations(notifier):
                continue
            workspaces = sorted(self.vendor_workspaces.get(platform, ())) if kind == "staff" else []
            if kind != "staff":
                workspaces = places.get(platform, [])
            for workspace in workspaces:
                tried.append(f"{platform} workspace {workspace}")
                finder = cast(StartsConversations, notifier)
                account = await finder.find_account(workspace=workspace, email=email)
                if not account:
                    continue
                async with self.db.transaction() as session:
                    linked = await queries.link_identity(
                        session,
                        person_id=recipient_id,
                        platform=platform,
                        workspace=workspace,
                        external_id=account,
                    )
                if linked:
                    log.info(
                        "outbox: found person %s on %s by e-mail and linked them", recipient_id, platform
                    )
                    return platform, _fresh_target(platform, workspace, account, recipient_id)
        if tried:
            return f"{email} was not found in " + ", ".join(tried)
        if not any(_starts_conversations(n) for n in self.notifiers.values()):
            return "no chat account is linked, and no platform configured here can look people up by e-mail"
        where = (
            "no vendor workspace is named (PARTNERBOT_SLACK_VENDOR_TEAM)"
            if kind == "staff"
            else "their partner has no Slack workspace (partnerbot partner add ... --slack-team)"
        )
        return f"no chat account is linked, and {where} to look {email} up in"

    async def _record(
        self,
        row_id: int,
        *,
        now: datetime,
        status: str,
        attempts: int,
        error: str | None = None,
        next_at: datetime | None = None,
        delivered: list[dict[str, Any]] | None = None,
        replace_key: str | None = None,
    ) -> None:
        async with self.db.transaction() as session:
            await queries.record_outbox(
                session,
                row_id,
                status=status,
                attempts=attempts,
                error=error,
                next_attempt_at=next_at,
                sent_at=now if status == "sent" else None,
                delivered=[{"replace_key": replace_key, **row} for row in delivered or []]
                if replace_key and status == "sent"
                else [],
            )
