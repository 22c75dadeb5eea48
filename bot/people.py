"""Who is writing: partner organisations, people, and their chat identities.

``identify`` is the one place that turns a platform account into an :class:`Actor`: by a linked
identity first, else by the workspace/tenant of a known partner plus the person's e-mail (a first-time
user of a known partner workspace is provisioned), else nobody - and the handler gets ``None`` and
must answer with :data:`UNKNOWN_PERSON_TEXT` and no data.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.kernel.dates import to_local
from bot.kernel.errors import InputError
from bot.kernel.log_context import add_to_log_context
from bot.kernel.messages import Actor, ConversationRef
from store import queries
from store.db import Database
from store.models import ChatIdentity, Partner, Person

log = logging.getLogger(__name__)

UNKNOWN_PERSON_TEXT = (
    "Hi! I'm partnerbot, the partner assistant of our channel team. I don't know you yet: ask your "
    "channel manager to add you (or your company's workspace) and I'll be right here."
)

# How stale chat_identities.last_seen_at may get before a request writes it again ("which platform
# did they use last" for notifications needs minutes, not milliseconds).
LAST_SEEN_STEP = timedelta(minutes=1)
STAFF_ROLES = frozenset({"approver", "channel_manager", "expert", "admin"})
EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True, slots=True)
class Profile:
    """What a platform tells about an account we don't know yet (Slack users.info, Teams member)."""

    email: str | None
    name: str | None = None
    tz: str | None = None


ProfileLoader = Callable[[], Awaitable[Profile | None]]
"""A handler's lookup of the account writing (its e-mail, name, time zone), or None when the platform
won't tell; :meth:`People.identify` awaits it only for an account linked to nobody."""


def actor_from(person: Person, *, channel: str, default_tz: str) -> Actor:
    return Actor(
        person_id=person.id,
        name=person.name,
        email=person.email,
        kind="staff" if person.kind == "staff" else "partner",
        partner_id=person.partner_id,
        roles=frozenset(person.roles or ()),
        tz=person.tz or default_tz,
        channel=channel,
    )


def validate_tz(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError("tz", f"{tz!r} is not an IANA time zone; use a name such as Europe/Berlin.") from exc
    return tz


class People:
    """Partner organisations, people and identities."""

    def __init__(
        self,
        *,
        db: Database,
        default_tz: str,
        clock: Any,
        vendor_workspaces: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.db = db
        self.default_tz = default_tz
        self.clock = clock
        # Per platform, the vendor's own workspaces / tenants: the only places a staff e-mail links from.
        self.vendor_workspaces = dict(vendor_workspaces or {})

    # -- identify -------------------------------------------------------------------------------

    async def identify(
        self,
        *,
        platform: str,
        workspace: str,
        external_id: str,
        load_profile: ProfileLoader | None = None,
        conversation: ConversationRef | None = None,
    ) -> Actor | None:
        """The Actor for a platform account, or None when nobody may be served.

        The one turn pipeline every handler runs: by the linked identity first; when the account is
        linked to nobody, ``load_profile`` (the platform's own lookup: Slack ``users.info``, the Teams
        member) is awaited - once, and only then - and the account is matched by the e-mail it gives
        (see :meth:`_match_profile`). Stores ``conversation`` for proactive messages."""
        actor, linked = await self._identify_once(
            platform=platform, workspace=workspace, external_id=external_id, conversation=conversation
        )
        if actor is not None:
            add_to_log_context(person_id=actor.person_id)  # the rest of this request's log lines
        if actor is not None or linked or load_profile is None:
            return actor
        # Outside any transaction: the platform lookup is a network call.
        profile = await load_profile()
        if profile is None or not profile.email:
            return None
        actor, _ = await self._identify_once(
            platform=platform,
            workspace=workspace,
            external_id=external_id,
            profile=profile,
            conversation=conversation,
        )
        if actor is not None:
            add_to_log_context(person_id=actor.person_id)
        return actor

    async def _identify_once(
        self,
        *,
        platform: str,
        workspace: str,
        external_id: str,
        profile: Profile | None = None,
        conversation: ConversationRef | None = None,
    ) -> tuple[Actor | None, bool]:
        """One pass of :meth:`identify` in one transaction: the Actor (or None), and whether the account
        is linked to someone (then no profile can change the answer)."""
        now = self.clock()
        async with self.db.transaction() as session:
            found = await queries.linked_identity(
                session, platform=platform, workspace=workspace, external_id=external_id
            )
            linked: ChatIdentity | None = None
            person: Person | None = None
            partner: Partner | None = None
            if found is not None:
                linked, person, partner = found
            elif profile is not None and profile.email:
                person = await self._match_profile(
                    session, platform=platform, workspace=workspace, profile=profile
                )
                if person is not None:
                    linked = ChatIdentity(
                        person_id=person.id, platform=platform, workspace=workspace, external_id=external_id
                    )
                    session.add(linked)
            is_linked = found is not None
            if person is None or linked is None or not person.active:
                return None, is_linked
            # Written only when it changes (or the last sighting is older than LAST_SEEN_STEP): this
            # runs on every request, and an UPDATE per request costs a write lock and a commit.
            if linked.last_seen_at is None or now - linked.last_seen_at >= LAST_SEEN_STEP:
                linked.last_seen_at = now
            if conversation is not None:
                # Merge: a request that doesn't know, say, the DM channel must not erase the one stored.
                known = dict((linked.conversation_ref or {}).get("extras") or {})
                known.update({k: v for k, v in conversation.extras.items() if v not in (None, "")})
                merged = {
                    "platform": conversation.platform,
                    "workspace": conversation.workspace,
                    "external_id": conversation.external_id,
                    "extras": known,
                }
                if merged != linked.conversation_ref:
                    linked.conversation_ref = merged
            if person.partner_id is not None:
                if partner is None or partner.id != person.partner_id:
                    partner = await queries.partner_by_id(session, person.partner_id)
                if partner is None or partner.status != "active":
                    return None, is_linked
            return actor_from(person, channel=platform, default_tz=self.default_tz), is_linked

    async def _match_profile(
        self, session: Any, *, platform: str, workspace: str, profile: Profile
    ) -> Person | None:
        assert profile.email
        person = await queries.person_by_email(session, profile.email)
        partner = await queries.partner_by_workspace(session, platform=platform, workspace=workspace)
        if person is not None:
            # A known e-mail links only from its own organisation's workspace (for staff, one of the
            # vendor's own, named in the settings): an address typed into a foreign workspace's profile
            # must not open someone else's account.
            if person.kind == "staff":
                if partner is None and workspace in self.vendor_workspaces.get(platform, ()):
                    return person
                log.warning(
                    "identify: a %s account in workspace %s gives a staff e-mail; not the vendor's "
                    "workspace, so it is treated as a stranger",
                    platform,
                    workspace,
                )
                return None
            return person if partner is not None and person.partner_id == partner.id else None
        if partner is None or partner.status != "active":
            return None
        person = Person(
            email=profile.email.strip().lower(),
            name=(profile.name or profile.email.split("@")[0]).strip()[:200],
            kind="partner",
            partner_id=partner.id,
            roles=[],
            topics=[],
            tz=profile.tz if profile.tz and _is_tz(profile.tz) else None,
            created_at=self.clock(),
        )
        session.add(person)
        await session.flush()
        return person

    async def console_actor(self, email: str) -> Actor | None:
        """The person at the terminal (``partnerbot chat --as EMAIL``), with a ``console`` identity so
        that notifications meant for them can be shown there."""
        async with self.db.transaction() as session:
            person = await queries.person_by_email(session, email)
            if person is None or not person.active:
                return None
            linked = await queries.identity(
                session, platform="console", workspace="local", external_id=person.email
            )
            if linked is None:
                linked = ChatIdentity(
                    person_id=person.id, platform="console", workspace="local", external_id=person.email
                )
                session.add(linked)
            linked.last_seen_at = self.clock()
            return actor_from(person, channel="console", default_tz=self.default_tz)

    async def actor_by_email(self, email: str, *, channel: str) -> Actor | None:
        async with self.db.transaction() as session:
            person = await queries.person_by_email(session, email)
            if person is None or not person.active:
                return None
            return actor_from(person, channel=channel, default_tz=self.default_tz)

    async def actor_by_id(self, person_id: int, *, channel: str) -> Actor | None:
        async with self.db.transaction() as session:
            person = await queries.person_by_id(session, person_id)
            return None if person is None else actor_from(person, channel=channel, default_tz=self.default_tz)

    # -- administration (CLI, demo) ---------------------------------------------------------------

    async def add_partner(
        self,
        *,
        name: str,
        tier: str,
        region: str,
        countries: Iterable[str] = (),
        workspaces: Iterable[tuple[str, str]] = (),
        channel_manager_email: str | None = None,
    ) -> tuple[Partner, bool]:
        """Create or update a partner organisation. Returns it and whether it was created.

        ``workspaces`` are ``(platform, workspace)`` pairs (``("slack", team id)``, ``("teams", tenant
        id)``): people who write from one belong to this partner. Each pair becomes the partner's
        workspace on that platform, in place of the one it had there."""
        name = " ".join(name.split())
        if not name:
            raise InputError("name", "A partner needs a name, e.g. 'Acme Partners'.")
        if not tier.strip():
            raise InputError("tier", "A partner needs a tier, e.g. Gold, Silver or Registered.")
        if not region.strip():
            raise InputError("region", "A partner needs a region, e.g. EMEA, NA, APAC or LATAM.")
        codes = [c.strip().upper() for c in countries]
        for code in codes:
            if not COUNTRY_RE.match(code):
                raise InputError("country", f"{code!r} is not a two-letter country code such as DE or US.")
        async with self.db.transaction() as session:
            partner = await queries.partner_by_name(session, name)
            created = partner is None
            if partner is None:
                partner = Partner(name=name, created_at=self.clock(), status="active")
                session.add(partner)
            partner.tier = tier.strip().title()
            partner.region = region.strip().upper()
            if codes:
                partner.countries = codes
            elif created:
                partner.countries = []
            await session.flush()
            for platform, value in workspaces:
                if value:
                    other = await queries.partner_by_workspace(session, platform=platform, workspace=value)
                    if other is not None and other is not partner:
                        raise InputError(
                            "workspace",
                            f"{platform} workspace {value} already belongs to partner {other.name}.",
                        )
                    await queries.set_partner_workspace(
                        session, partner_id=partner.id, platform=platform, workspace=value
                    )
            if channel_manager_email:
                manager = await queries.person_by_email(session, channel_manager_email)
                if manager is None or manager.kind != "staff":
                    raise InputError(
                        "channel_manager", f"No staff member with e-mail {channel_manager_email}."
                    )
                partner.channel_manager_id = manager.id
            await session.flush()
            return partner, created

    async def add_user(
        self,
        *,
        email: str,
        name: str,
        partner: str | None = None,
        staff: bool = False,
        roles: Iterable[str] = (),
        topics: Iterable[str] = (),
        region: str | None = None,
        tz: str | None = None,
        identities: Iterable[tuple[str, str, str]] = (),
    ) -> tuple[Person, bool]:
        """Create or update a person and link chat identities ``(platform, workspace, external_id)``."""
        email = email.strip().lower()
        if not EMAIL_RE.match(email):
            raise InputError("email", f"{email!r} is not an e-mail address such as dana@example.com.")
        name = " ".join(name.split())
        if not name:
            raise InputError("name", "A person needs a name.")
        if staff == bool(partner):
            raise InputError("partner", "Give exactly one of --partner NAME or --staff.")
        role_list = sorted({r.strip().lower() for r in roles if r.strip()})
        if not staff and role_list:
            raise InputError("role", "Roles are for vendor staff; partner users have none.")
        unknown = [r for r in role_list if r not in STAFF_ROLES]
        if unknown:
            raise InputError(
                "role", f"Unknown role {unknown[0]!r}; roles are {', '.join(sorted(STAFF_ROLES))}."
            )
        if tz:
            validate_tz(tz)
        async with self.db.transaction() as session:
            org = None
            if partner:
                org = await queries.partner_by_name(session, partner)
                if org is None:
                    raise InputError(
                        "partner", f"No partner named {partner!r}; add it with 'partnerbot partner add'."
                    )
            person = await queries.person_by_email(session, email)
            created = person is None
            if person is None:
                person = Person(email=email, created_at=self.clock(), active=True, away=False)
                session.add(person)
            person.name = name
            person.kind = "staff" if staff else "partner"
            person.partner_id = org.id if org else None
            person.roles = role_list
            person.topics = sorted({t.strip().lower() for t in topics if t.strip()})
            person.region = region.upper() if region else person.region
            person.tz = tz or person.tz
            await session.flush()
            for platform, workspace, external_id in identities:
                existing = await queries.identity(
                    session, platform=platform, workspace=workspace, external_id=external_id
                )
                if existing is None:
                    session.add(
                        ChatIdentity(
                            person_id=person.id,
                            platform=platform,
                            workspace=workspace,
                            external_id=external_id,
                        )
                    )
                elif existing.person_id != person.id:
                    raise InputError(
                        f"{platform}-id",
                        f"{platform} account {external_id} is already linked to someone else.",
                    )
            await session.flush()
            return person, created

    async def now_in(self, actor: Actor) -> datetime:
        return to_local(self.clock(), actor.tz)


def _is_tz(tz: str) -> bool:
    try:
        ZoneInfo(tz)
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False
