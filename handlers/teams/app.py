"""The Microsoft Teams channel: ``POST /api/messages`` through the Bot Framework, and the Teams notifier.

Translation only. An activity becomes an :class:`~bot.kernel.messages.Actor` (``People.identify``) plus one
core call (``handle_text`` / ``handle_action`` / ``submit_form`` / ``home``); the core's replies become
plain-text messages or Adaptive Cards (:mod:`handlers.teams.cards`). Who may do what is decided by the
core from the Actor, never here.

Platform notes:

- With ``MICROSOFT_APP_ID`` every request must carry a valid Bearer token from the Bot Connector; the
  token is checked from the header before the body is read, and a request without one gets 401.
  Without it the endpoint is not served at all, unless ``PARTNERBOT_TEAMS_EMULATOR=1`` (Bot Framework
  Emulator, local tests), and then to loopback peers only (``serve`` refuses another bind address).
- Answers only go to Bot Connector hosts (:func:`service_url_allowed`): an activity naming another
  ``serviceUrl`` is refused with 400, and a stored reference naming one is never used.
- A person's proactive address is a serialised botbuilder ``ConversationReference`` stored by the core
  (``ConversationRef.extras["reference"]``). References from group chats and channels are marked
  ``personal: False``; the notifier then opens (or finds) the person's 1:1 chat first, so a private
  notification never lands in a shared conversation.
- The connector client retries by itself (msrest configures urllib3: connection errors, and 5xx on
  idempotent calls such as the PUT of an update) while the outbox retries with backoff and
  ``Retry-After``; for proactive sends the SDK retries are switched off, so one attempt is one outbox
  attempt.
- Every ``botbuilder`` import of the project lives in ``handlers/teams*.py``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from aiohttp import web
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext, serializer_helper
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
)
from botframework.connector.auth import (
    AuthenticationConstants,
    ConnectorFactory,
    JwtTokenValidation,
    SimpleCredentialProvider,
)
from msrest.exceptions import ClientRequestError, HttpOperationError

from bot.bootstrap import Core
from bot.kernel.errors import RequestFailed
from bot.kernel.messages import Actor, ConversationRef, Reply
from bot.kernel.outbox import DeliveryError
from bot.people import UNKNOWN_PERSON_TEXT, Profile
from handlers.http_input import BadInput, decode, parse_json_object, read_body, refuse
from handlers.teams import cards
from handlers.teams.graph import GraphInstaller

log = logging.getLogger(__name__)

PLATFORM = "teams"
ROUTE = "/api/messages"
RETRYABLE = frozenset({408, 412, 429, 500, 502, 503, 504})
GONE = frozenset({403, 404})
TURN_WORK = "teams.turn"  # stored activities (bot.kernel.inbox)
DEFAULT_SERVICE_URL = "https://smba.trafficmanager.net/teams/"  # public cloud, for a chat Graph opened
MAX_CONNECTORS = 64
MAX_REFERENCES = 10_000  # serialized conversation references kept (one per person and chat)  # connector clients kept per bot (one per Bot Connector service URL in practice)
GROUP_WELCOME_TEXT = (
    "Hi! I'm partnerbot, the partner assistant of our channel team. Mention me here (@partnerbot help), "
    "or write to me in a personal chat - that's where I keep your deals and notifications."
)
INVOKE_CARD = "application/vnd.microsoft.card.adaptive"
INVOKE_MESSAGE = "application/vnd.microsoft.activity.message"
_JWT_SHAPE = re.compile(r"^Bearer\s+[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*$")
# The Bot Connector's hosts (public cloud, GCC, GCC High, DoD; other Bot Framework channels): answers
# and proactive messages go nowhere else, whatever an activity's serviceUrl says.
_CONNECTOR_HOSTS = re.compile(
    r"^(smba\.trafficmanager\.net|smba\.infra\.(gcc|gov|dod)\.teams\.microsoft\.(com|us)"
    r"|([a-z0-9-]+\.)*botframework\.(com|us|azure\.us))$"
)


# -- adapter ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _AuthConfig:
    """The configuration object ``ConfigurationBotFrameworkAuthentication`` reads (attribute names
    are the SDK's)."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str
    APP_TENANTID: str


class _ReusedConnectors(ConnectorFactory):
    """Connector clients kept per (service URL, audience) instead of built for every turn.

    ``CloudAdapter`` asks its connector factory for a new msrest ``ConnectorClient`` on every turn,
    and building one (its configuration and urllib3 retry policy) cost more CPU than the rest of a
    partnerbot turn; botbuilder's older ``BotFrameworkAdapter`` kept them per service URL the same way.
    The credentials inside refresh their own tokens. The SDK's retries are set once, here."""

    def __init__(
        self, inner: ConnectorFactory, cache: dict[tuple[str, str | None], Any], retries: int
    ) -> None:
        self._inner = inner
        self._cache = cache
        self._retries = retries

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        key = (service_url, audience)
        client = self._cache.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            _limit_sdk_retries(client, self._retries)
            if len(self._cache) >= MAX_CONNECTORS:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = client
        return client


class _Authentication(ConfigurationBotFrameworkAuthentication):
    """The SDK's configuration-based authentication, reusing connector and token clients per bot."""

    def __init__(self, config: Any, *, retries: int) -> None:
        super().__init__(config)
        self._retries = retries
        self._connectors: dict[str, dict[tuple[str, str | None], Any]] = {}
        self._token_clients: dict[str, Any] = {}

    @staticmethod
    def _bot(claims_identity: Any) -> str:
        claims = getattr(claims_identity, "claims", None) or {}
        return str(claims.get(AuthenticationConstants.AUDIENCE_CLAIM) or "")

    def create_connector_factory(self, claims_identity: Any) -> ConnectorFactory:
        cache = self._connectors.setdefault(self._bot(claims_identity), {})
        return _ReusedConnectors(super().create_connector_factory(claims_identity), cache, self._retries)

    async def create_user_token_client(self, claims_identity: Any) -> Any:
        bot = self._bot(claims_identity)
        if bot not in self._token_clients:
            self._token_clients[bot] = await super().create_user_token_client(claims_identity)
        return self._token_clients[bot]


def build_adapter(settings: Any, *, retries: int = 0, reuse_connectors: bool = True) -> CloudAdapter:
    """A CloudAdapter for the configured bot; unauthenticated (emulator mode) without an app id.

    ``retries``: msrest's own retries on each Bot Connector call - none for the outbox, which decides
    when to try again itself. ``reuse_connectors=False`` is botbuilder as it comes (the benchmark's
    baseline)."""
    app_id = settings.microsoft_app_id.strip()
    app_type = (settings.microsoft_app_type or "MultiTenant").strip() if app_id else "MultiTenant"
    tenant = settings.microsoft_app_tenant_id.strip()
    if app_type.lower() in ("singletenant", "userassignedmsi") and not tenant:
        raise ValueError(
            f"MICROSOFT_APP_TYPE={app_type} needs MICROSOFT_APP_TENANT_ID (the bot's Entra tenant)."
        )
    if app_type.lower() == "singletenant" and not settings.microsoft_app_password:
        raise ValueError("MICROSOFT_APP_TYPE=SingleTenant needs MICROSOFT_APP_PASSWORD.")
    config = _AuthConfig(
        APP_ID=app_id,
        APP_PASSWORD=settings.microsoft_app_password if app_id else "",
        APP_TYPE=app_type,
        APP_TENANTID=tenant,
    )
    if not reuse_connectors:
        return CloudAdapter(ConfigurationBotFrameworkAuthentication(config))
    return CloudAdapter(_Authentication(config, retries=retries))


def _limit_sdk_retries(client: Any, retries: int) -> None:
    """Tame msrest's own retries (urllib3 ``Retry``: 3 more tries on connection errors and on 5xx for
    idempotent methods, ``Retry-After`` slept in a worker thread) on a connector client."""
    policy = getattr(getattr(client, "config", None), "retry_policy", None)
    if policy is not None:
        policy.retries = retries
        policy.policy.respect_retry_after_header = False
        if not retries:
            policy.policy.status_forcelist = set()


def _status_of(exc: BaseException) -> tuple[int | None, float | None]:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    headers = getattr(response, "headers", None) or {}
    return status, _retry_after(headers.get("Retry-After") if hasattr(headers, "get") else None)


def _retry_after(raw: str | None) -> float | None:
    if not raw:
        return None
    raw = raw.strip()
    try:
        return max(1.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(1.0, (when - datetime.now(UTC)).total_seconds())


def delivery_error(exc: BaseException) -> DeliveryError:
    """How the outbox should treat a failed call to the Bot Connector."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, HttpOperationError):
        status, retry_after = _status_of(exc)
        if status in GONE:
            return DeliveryError(
                f"Teams answered {status}: the bot was removed or the conversation is gone", permanent=True
            )
        if status in RETRYABLE or status == 401 or status is None:
            return DeliveryError(f"Teams answered {status}; will retry", retry_after=retry_after)
        return DeliveryError(f"Teams refused the message ({status})", permanent=True)
    if isinstance(exc, ClientRequestError | OSError | TimeoutError):
        return DeliveryError(f"could not reach the Bot Connector: {exc}")
    return DeliveryError(f"Teams delivery failed: {exc!r}")


def service_url_allowed(url: str | None, settings: Any) -> bool:
    """Whether ``url`` is a Bot Connector the bot may answer through: Microsoft's own hosts over HTTPS,
    a prefix named in ``PARTNERBOT_TEAMS_SERVICE_URLS``, or anything in emulator mode."""
    if not url or not isinstance(url, str):
        return False
    if settings.teams_emulator:
        return True
    if any(url.startswith(prefix) for prefix in settings.teams_service_urls):
        return True
    match = re.match(r"^https://([^/:?#]+)(:443)?(/|$)", url.strip().lower())
    return bool(match and _CONNECTOR_HOSTS.match(match.group(1)))


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a bind address or a peer's address) is on this machine only."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_serving(settings: Any, *, host: str) -> None:
    """Refuse to serve the unauthenticated emulator endpoint on an address others can reach."""
    if settings.teams_emulator and not settings.microsoft_app_id.strip() and not is_loopback(host):
        raise SystemExit(
            f"PARTNERBOT_TEAMS_EMULATOR serves {ROUTE} without authentication, so it only binds to a "
            f"loopback address: run with --host 127.0.0.1 (not {host}), or set MICROSOFT_APP_ID and "
            "MICROSOFT_APP_PASSWORD."
        )


# -- replies as activities ----------------------------------------------------------------------


def message_activity(reply: Reply, *, as_card: bool = False) -> Activity:
    """A message activity for ``reply``: plain text when it is only words, else an Adaptive Card with
    a plain ``summary`` (shown in notifications and the activity feed). A chart goes with the card as a
    second attachment, an inline PNG (``data:`` URI) that Teams shows under it; the card alone stays
    within Teams' size limit and carries the figures as text."""
    if not as_card and cards.is_plain_text(reply):
        return Activity(type=ActivityTypes.message, text=reply.text, text_format="plain")
    card = cards.reply_card(cards.without_image(reply))
    return card_activity(card, summary=cards.summary(reply), image=cards.image_attachment(reply))


def card_activity(
    card: Mapping[str, Any],
    *,
    summary: str,
    activity_id: str | None = None,
    image: Mapping[str, str] | None = None,
) -> Activity:
    attachments = [Attachment(content_type=cards.CARD_CONTENT_TYPE, content=cards.json_native(card))]
    if image is not None:
        attachments.append(
            Attachment(content_type=image["contentType"], content_url=image["contentUrl"], name=image["name"])
        )
    return Activity(id=activity_id, type=ActivityTypes.message, summary=summary, attachments=attachments)


def _reference_dict(reference: ConversationReference) -> dict[str, Any]:
    data = reference.serialize()
    data.pop("activityId", None)
    return data


def _is_personal(activity: Activity) -> bool:
    kind = getattr(activity.conversation, "conversation_type", None) if activity.conversation else None
    return kind in (None, "", "personal")


def _tenant_id(activity: Activity) -> str | None:
    # botbuilder 4.17 maps ConversationAccount.tenant_id to "tenantID", while Teams sends
    # conversation.tenantId - so channelData.tenant.id is where the tenant usually comes from.
    tenant = getattr(activity.conversation, "tenant_id", None) if activity.conversation else None
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    if not tenant and isinstance(data.get("tenant"), dict):
        tenant = data["tenant"].get("id")
    if not tenant and activity.conversation is not None:
        extra = getattr(activity.conversation, "additional_properties", None) or {}
        tenant = extra.get("tenantId")
    return tenant or None


def _tenant(activity: Activity) -> str:
    """The workspace people write from: the tenant; the Emulator sends none, so its people are linked
    with ``--teams-tenant emulator`` (the channel id)."""
    return _tenant_id(activity) or (activity.channel_id or "")


def shared_files(activity: Activity) -> str:
    """Files sent with a message, as the text references the core accepts (e.g. as MDF proof):
    `` file:<url>`` for each. Teams sends a personal-chat upload as a ``file.download.info``
    attachment (``content.downloadUrl``); other clients put the link in ``contentUrl``."""
    refs = []
    for attachment in activity.attachments or []:
        content = attachment.content if isinstance(attachment.content, dict) else {}
        if attachment.content_type in ("text/html", "application/vnd.microsoft.card.adaptive"):
            continue  # the message's own formatting and cards are not files
        ref = content.get("downloadUrl") or attachment.content_url
        if ref:
            refs.append(ref)
    return "".join(f" file:{ref}" for ref in refs)


def request_key(activity: Activity, suffix: str = "") -> str:
    """The core's de-duplication key for an activity: Teams redelivers with the same id. Activity ids
    are only unique within a conversation (personal-chat ids are millisecond timestamps), so a short
    digest of the conversation id goes with it."""
    conversation = activity.conversation.id if activity.conversation else ""
    digest = hashlib.sha256((conversation or "").encode()).hexdigest()[:16]
    key = f"teams:{activity.id or ''}:{digest}"
    return f"{key}:{suffix}"[:200] if suffix else key


def _conversation_id(activity: Activity) -> str:
    return str(activity.conversation.id if activity.conversation else "")


def _account_id(account: ChannelAccount | None) -> str:
    if account is None:
        return ""
    return account.aad_object_id or account.id or ""


# -- notifier -------------------------------------------------------------------------------------


class TeamsNotifier:
    """Messages the bot starts itself, through ``CloudAdapter.continue_conversation``."""

    platform = PLATFORM

    def __init__(
        self, *, adapter: CloudAdapter, app_id: str, settings: Any, graph: GraphInstaller | None = None
    ) -> None:
        self.adapter = adapter
        self.app_id = app_id
        self.settings = settings
        # With Graph, people without a conversation are reached by installing the app for them.
        self.graph = graph
        self.service_url = (settings.extra.get("PARTNERBOT_TEAMS_SERVICE_URL") or DEFAULT_SERVICE_URL).strip()

    @property
    def starts_conversations(self) -> bool:
        return self.graph is not None

    async def find_account(self, *, workspace: str, email: str) -> str | None:
        """The AAD object id of ``email`` in tenant ``workspace`` (Graph ``/users``)."""
        return await self.graph.find_user(tenant=workspace, email=email) if self.graph else None

    async def _installed_reference(self, target: Mapping[str, Any]) -> dict[str, Any]:
        """A conversation reference for someone the bot has no chat with: the app installed for them
        through Graph, and the chat of that installation."""
        tenant, aad = str(target.get("workspace") or ""), str(target.get("external_id") or "")
        if self.graph is None or not tenant or not aad:
            raise DeliveryError("no Teams conversation reference stored for this person", permanent=True)
        chat = await self.graph.personal_chat(tenant=tenant, aad=aad)
        return {
            "serviceUrl": self.service_url,
            "channelId": "msteams",
            "conversation": {"id": chat, "tenantId": tenant, "conversationType": "personal"},
            "bot": {"id": f"28:{self.app_id}" if self.app_id else "28:partnerbot"},
            "user": {"id": aad, "aadObjectId": aad},
        }

    async def _run(
        self,
        reference: ConversationReference,
        work: Callable[[TurnContext], Awaitable[None]],
        *,
        open_personal_chat: bool,
    ) -> None:
        """Run ``work`` in a proactive turn on ``reference`` (or in the person's 1:1 chat, opened or
        found with ``POST /v3/conversations``), raising a :class:`DeliveryError` on failure."""
        failure: list[BaseException] = []

        async def turn(turn_context: TurnContext) -> None:
            # A continuation turn carries a made-up activity id; without clearing it the SDK would post
            # a "reply" to that id instead of a new message in the conversation.
            turn_context.activity.id = None
            try:
                await work(turn_context)
            except Exception as exc:  # the adapter would hand it to on_turn_error; we want it here
                failure.append(exc)

        try:
            if open_personal_chat:
                tenant = reference.conversation.tenant_id if reference.conversation else None
                parameters = ConversationParameters(
                    is_group=False,
                    bot=reference.bot,
                    members=[reference.user],
                    tenant_id=tenant,
                    channel_data={"tenant": {"id": tenant}} if tenant else None,
                )
                await self.adapter.create_conversation(
                    self.app_id,
                    turn,
                    parameters,
                    channel_id=reference.channel_id,
                    service_url=reference.service_url,
                )
            else:
                await self.adapter.continue_conversation(reference, turn, self.app_id)
        except Exception as exc:
            raise delivery_error(exc) from exc
        if failure:
            raise delivery_error(failure[0]) from failure[0]

    def _reference(self, data: Any) -> ConversationReference:
        if (
            not isinstance(data, Mapping)
            or not data.get("serviceUrl")
            or not (data.get("conversation") or {}).get("id")
        ):
            raise DeliveryError("no Teams conversation reference stored for this person", permanent=True)
        if not service_url_allowed(data.get("serviceUrl"), self.settings):
            raise DeliveryError("the stored Teams address is not a Bot Connector host", permanent=True)
        return ConversationReference().deserialize(dict(data))

    async def send(self, *, target: Mapping[str, Any], reply: Reply, idempotency_key: str) -> dict[str, Any]:
        if target.get("vendor_channel"):
            raise DeliveryError("Teams has no vendor channel; the vendor channel is Slack's", permanent=True)
        extras = target.get("extras") or {}
        stored = extras.get("reference") or await self._installed_reference(target)
        reference = self._reference(stored)
        personal = extras.get("personal", True) is not False
        activity = message_activity(reply)
        posted: dict[str, Any] = {}

        async def work(turn_context: TurnContext) -> None:
            response = await turn_context.send_activity(activity)
            where = TurnContext.get_conversation_reference(turn_context.activity)
            posted["reference"] = _reference_dict(where)
            posted["activity_id"] = response.id if response else None

        await self._run(reference, work, open_personal_chat=not personal)
        ref = posted["reference"]
        log.info("teams: delivered %s to person %s", idempotency_key, target.get("person_id"))
        return {
            "conversation_id": (ref.get("conversation") or {}).get("id"),
            "activity_id": posted.get("activity_id"),
            "service_url": ref.get("serviceUrl"),
            "reference": ref,
        }

    async def update(self, *, message_ref: Mapping[str, Any], reply: Reply) -> None:
        activity_id = message_ref.get("activity_id")
        if not activity_id:
            log.warning("teams: cannot update a message without an activity id")
            return
        reference = self._reference(message_ref.get("reference"))
        # An update replaces the card only; a chart stays with the message it first came with.
        activity = card_activity(
            cards.reply_card(cards.without_image(reply)),
            summary=cards.summary(reply),
            activity_id=activity_id,
        )

        async def work(turn_context: TurnContext) -> None:
            await turn_context.update_activity(activity)

        try:
            await self._run(reference, work, open_personal_chat=False)
        except DeliveryError as exc:
            if exc.permanent:  # the message or the chat is gone: nothing left to update
                log.info("teams: message %s can't be updated any more: %s", activity_id, exc)
                return
            raise


def teams_notifier(core: Core) -> TeamsNotifier | None:
    """The Teams notifier, when Teams is configured (credentials, or emulator mode)."""
    if not core.settings.teams_configured:
        return None
    return TeamsNotifier(
        adapter=build_adapter(core.settings),
        app_id=core.settings.microsoft_app_id.strip(),
        settings=core.settings,
        graph=GraphInstaller(settings=core.settings) if GraphInstaller.configured(core.settings) else None,
    )


# -- the bot --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Outcome:
    """What a click produced: a card that replaces the clicked one, and messages that follow it."""

    replacement: Reply | None = None
    replacement_card: dict[str, Any] | None = None
    replies: list[Reply] | None = None
    request_key: str | None = None


class PartnerbotTeams(ActivityHandler):
    def __init__(self, core: Core) -> None:
        self.core = core
        self._references: dict[tuple[Any, ...], dict[str, Any]] = {}

    async def on_turn(self, turn_context: TurnContext) -> None:
        try:
            await super().on_turn(turn_context)
        finally:
            self.core.kick_outbox()

    # -- who is writing ------------------------------------------------------------------------

    def _conversation_ref(self, activity: Activity, account: ChannelAccount | None = None) -> ConversationRef:
        user = account if account is not None else activity.from_property
        conversation, bot = activity.conversation, activity.recipient
        key = tuple(
            getattr(obj, name, None)
            for obj, names in (
                (activity, ("service_url", "channel_id", "locale")),
                (conversation, ("id", "tenant_id", "conversation_type", "is_group", "name")),
                (user, ("id", "aad_object_id", "name", "role")),
                (bot, ("id", "name", "role")),
            )
            for name in names
        ) + (_tenant_id(activity),)
        serialized = self._references.get(key)
        if serialized is None:  # msrest's serializer is slow; a chat's reference rarely changes
            reference = TurnContext.get_conversation_reference(activity)
            if account is not None:
                reference.user = account
            if reference.conversation is not None and not reference.conversation.tenant_id:
                reference.conversation.tenant_id = _tenant_id(activity)
            serialized = _reference_dict(reference)
            if len(self._references) >= MAX_REFERENCES:
                self._references.pop(next(iter(self._references)))
            self._references[key] = serialized
        return ConversationRef(
            platform=PLATFORM,
            workspace=_tenant(activity),
            external_id=_account_id(user),
            extras={"reference": dict(serialized), "personal": _is_personal(activity)},
        )

    async def _profile(self, turn_context: TurnContext, member_id: str) -> Profile | None:
        try:
            member = await TeamsInfo.get_member(turn_context, member_id)
        except Exception as exc:  # the Emulator, a guest, a network error: fall back to "unknown"
            log.info("teams: no member profile for %s: %s", member_id, exc)
            return None
        email = getattr(member, "email", None) or getattr(member, "user_principal_name", None)
        if not email or "@" not in email:
            return None
        return Profile(email=email, name=getattr(member, "name", None))

    async def _identify(self, turn_context: TurnContext) -> Actor | None:
        """The Actor writing, by linked identity, else by the e-mail Teams reports for the member; stores
        how to reach them (this conversation) either way."""
        activity = turn_context.activity
        user = activity.from_property
        external_id = _account_id(user)
        if not external_id:
            return None
        member_id = user.id if user is not None else None

        async def load_profile() -> Profile | None:
            return await self._profile(turn_context, member_id) if member_id else None

        return await self.core.people.identify(
            platform=PLATFORM,
            workspace=_tenant(activity),
            external_id=external_id,
            load_profile=load_profile,
            conversation=self._conversation_ref(activity),
        )

    # -- sending -------------------------------------------------------------------------------

    async def _send(
        self, turn_context: TurnContext, replies: list[Reply], request_key: str | None = None
    ) -> None:
        """Each reply in order, counted as out for ``request_key`` as it goes (the core keeps the
        answer): a turn the inbox runs again after a failed send sends only what is left."""
        for reply in replies:
            await turn_context.send_activity(message_activity(reply))
            await self.core.conversation.answer_posted(request_key)

    async def _replace(self, turn_context: TurnContext, card: dict[str, Any], summary: str) -> bool:
        """Update the clicked card in place; False when Teams won't (too old, deleted)."""
        reply_to = turn_context.activity.reply_to_id
        if not reply_to:
            return False
        try:
            await turn_context.update_activity(card_activity(card, summary=summary, activity_id=reply_to))
            return True
        except Exception as exc:
            log.info("teams: could not update card %s in place (%s); sending a new message", reply_to, exc)
            return False

    # -- messages ------------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        actor = await self._identify(turn_context)
        if actor is None:
            await turn_context.send_activity(
                Activity(type=ActivityTypes.message, text=UNKNOWN_PERSON_TEXT, text_format="plain")
            )
            return
        submission = cards.read_submission(activity.value)
        if submission is not None:
            outcome = await self._click(actor, activity, submission)
            if outcome.replacement_card is not None:
                summary = cards.summary(outcome.replacement) if outcome.replacement else "partnerbot"
                if not await self._replace(turn_context, outcome.replacement_card, summary):
                    await turn_context.send_activity(card_activity(outcome.replacement_card, summary=summary))
                await self.core.conversation.answer_posted(outcome.request_key)
            await self._send(turn_context, outcome.replies or [], outcome.request_key)
            return
        text = activity.text or ""
        if not _is_personal(activity):
            text = TurnContext.remove_recipient_mention(activity) or ""
        key = request_key(activity)
        replies = await self.core.conversation.handle_text(
            actor, text.strip() + shared_files(activity), request_key=key
        )
        await self._send(turn_context, replies, key)

    async def _click(self, actor: Actor, activity: Activity, submission: cards.Submission) -> _Outcome:
        """Run a button or form submit through the core and decide what replaces the clicked card."""
        key = request_key(activity, f"{activity.reply_to_id or ''}:{submission.name}")
        conversation = self.core.conversation
        if submission.form_id is not None:
            result = await conversation.submit_form(
                actor, submission.form_id, submission.inputs, data=submission.data, request_key=key
            )
            if result.errors:
                if submission.form is None:
                    lines = "\n".join(f"{name}: {message}" for name, message in result.errors.items())
                    return _Outcome(replies=[Reply(text="Please check the form:\n" + lines)])
                again = Reply(form=submission.form)
                card = cards.reply_card(
                    again,
                    values=submission.inputs,
                    errors=result.errors,
                    notice="Please check the fields marked below.",
                )
                return _Outcome(replacement=again, replacement_card=card)
            replies = list(result.replies)
            if replies and cards.is_card_like(replies[0]) and not replies[0].image_png_b64:
                return _Outcome(
                    replacement=replies[0],
                    replacement_card=cards.reply_card(replies[0]),
                    replies=replies[1:],
                    request_key=key,
                )
            return _Outcome(replies=replies, request_key=key)
        assert submission.action is not None
        replies = await conversation.handle_action(actor, submission.action, submission.data, request_key=key)
        first = replies[0] if replies else None
        # A click on a list item (a section's button) opens something new under the list; a click on
        # the card's own buttons moves that card on (a review card becomes its outcome, a summary the
        # registered deal). A plain line (an error, "already decided") doesn't hide the card unless it
        # says it replaces it (replace_key). A reply with a chart comes as a new message: an update (or an
        # Action.Execute answer) carries one card and no second attachment.
        if (
            first is not None
            and not submission.in_section
            and not first.image_png_b64
            and (first.replace_key or cards.is_card_like(first))
        ):
            return _Outcome(
                replacement=first,
                replacement_card=cards.reply_card(first),
                replies=replies[1:],
                request_key=key,
            )
        return _Outcome(replies=replies, request_key=key)

    # -- Action.Execute ------------------------------------------------------------------------

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn_context)
        value: dict[str, Any] = activity.value if isinstance(activity.value, dict) else {}
        raw_action = value.get("action")
        action: dict[str, Any] = raw_action if isinstance(raw_action, dict) else {}
        submission = cards.read_submission(action.get("data"))
        if action.get("type") != "Action.Execute" or submission is None:
            return InvokeResponse(
                status=400,
                body={
                    "statusCode": 400,
                    "type": "application/vnd.microsoft.error",
                    "value": {"code": "BadRequest", "message": "Not a partnerbot action."},
                },
            )
        actor = await self._identify(turn_context)
        if actor is None:
            return self._invoke_message(UNKNOWN_PERSON_TEXT)
        outcome = await self._click(actor, activity, submission)
        later = list(outcome.replies or [])
        if outcome.replacement_card is not None:
            await self._send(turn_context, later)
            return InvokeResponse(
                status=200, body={"statusCode": 200, "type": INVOKE_CARD, "value": outcome.replacement_card}
            )
        text = "Done."
        if later and cards.is_plain_text(later[0]):
            text = later.pop(0).text
        await self._send(turn_context, later)
        return self._invoke_message(text)

    @staticmethod
    def _invoke_message(text: str) -> InvokeResponse:
        return InvokeResponse(status=200, body={"statusCode": 200, "type": INVOKE_MESSAGE, "value": text})

    # -- installation and membership --------------------------------------------------------------

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        added = activity.members_added or []
        bot_id = activity.recipient.id if activity.recipient else None
        if any(member.id == bot_id for member in added) and await self.core.conversation.first_delivery(
            request_key(activity, "welcome")
        ):
            await self._welcome(turn_context)
        if not _is_personal(activity):
            return
        sender = activity.from_property.id if activity.from_property else None
        for member in added:
            if member.id in (bot_id, sender) or not _account_id(member):
                continue
            # Someone (re)joined the 1:1 chat with the bot: refresh how to reach them, no greeting.
            await self.core.people.identify(
                platform=PLATFORM,
                workspace=_tenant(activity),
                external_id=_account_id(member),
                conversation=self._conversation_ref(activity, member),
            )

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        # Teams also sends a conversationUpdate with the bot among membersAdded; that one greets.
        if _is_personal(turn_context.activity):
            await self._identify(turn_context)

    async def _welcome(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not _is_personal(activity):
            await turn_context.send_activity(
                Activity(type=ActivityTypes.message, text=GROUP_WELCOME_TEXT, text_format="plain")
            )
            return
        actor = await self._identify(turn_context)
        if actor is None:
            await turn_context.send_activity(
                Activity(type=ActivityTypes.message, text=UNKNOWN_PERSON_TEXT, text_format="plain")
            )
            return
        await self._send(turn_context, await self.core.conversation.home(actor))


async def _on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    """The adapter's turn-error handler. A stored activity's turn (run by the inbox) raises on, so that
    the inbox tries it again - the core kept whatever answer it had, and the next attempt sends what is
    left; the person hears once that it is being retried. An invoke answers in its HTTP response."""
    log.error("teams: turn failed", exc_info=(type(error), error, error.__traceback__))
    activity = turn_context.activity
    replies = error.replies if isinstance(error, RequestFailed) else []
    for message in [Activity(type=ActivityTypes.message, text=r.text, text_format="plain") for r in replies]:
        try:
            await turn_context.send_activity(message)
        except Exception:
            log.exception("teams: could not tell the person about the failure")
    if activity.type != ActivityTypes.invoke:
        raise error


# -- aiohttp ------------------------------------------------------------------------------------


def attach_teams(app: web.Application, core: Core) -> None:
    """Add ``POST /api/messages`` (and register the Teams notifier if none is) when Teams is configured:
    with ``MICROSOFT_APP_ID`` every request needs a Bot Connector token, checked before the body is
    read; without it only ``PARTNERBOT_TEAMS_EMULATOR=1`` serves the route, unauthenticated, to loopback
    peers. The endpoint has its own adapter: a reply gets one quick SDK retry, the outbox's none."""
    settings = core.settings
    if not settings.teams_configured:
        log.info("teams: no MICROSOFT_APP_ID and no PARTNERBOT_TEAMS_EMULATOR - %s is not served", ROUTE)
        return
    if core.notifiers.get(PLATFORM) is None:
        notifier = teams_notifier(core)
        if notifier is not None:
            core.add_notifier(notifier)
    adapter = build_adapter(settings, retries=1)
    adapter.on_turn_error = _on_turn_error
    bot = PartnerbotTeams(core)
    auth = adapter.bot_framework_authentication
    app_id = settings.microsoft_app_id.strip()
    auth_required = bool(app_id)
    credentials = SimpleCredentialProvider(app_id, settings.microsoft_app_password)
    if not auth_required:
        log.warning(
            "teams: emulator mode - %s accepts unauthenticated requests from this machine only", ROUTE
        )

    async def messages(request: web.Request) -> web.StreamResponse:
        if not auth_required and not is_loopback(request.remote):
            return refuse("the emulator endpoint answers this machine only", status=403)
        if "application/json" not in request.headers.get("Content-Type", ""):
            return refuse("expected application/json", status=415)
        header = request.headers.get("Authorization", "")
        if auth_required:
            # The token first, from the header alone: a request without a valid one is not even read.
            if not _JWT_SHAPE.match(header):
                return refuse("unauthorized", status=401)
            try:
                await JwtTokenValidation.validate_auth_header(header, credentials, "", "")
            except Exception as exc:
                log.info("teams: rejected an unauthenticated request: %s", exc)
                return refuse("unauthorized", status=401)
        try:
            body = parse_json_object(decode(await read_body(request)), what="the activity")
        except BadInput as exc:
            return exc.response()
        try:
            activity = Activity().deserialize(body)
        except Exception:
            return refuse("not a Bot Framework activity")
        if not activity.type or not isinstance(activity.type, str):
            return refuse("expected an activity")
        if not service_url_allowed(activity.service_url, settings):
            log.info("teams: refused an activity with serviceUrl %r", activity.service_url)
            return refuse("serviceUrl is not a Bot Connector address")
        try:
            # Then the SDK's own checks with the activity (the token's serviceurl claim must match it).
            authenticated = await auth.authenticate_request(activity, header)
        except Exception as exc:
            log.info("teams: rejected an unauthenticated request: %s", exc)
            return refuse("unauthorized", status=401)
        if activity.type != ActivityTypes.invoke:
            # Answer the turn as soon as the activity is stored; the work runs from the inbox and the
            # answers go out through the Bot Connector, as they would within the turn.
            await core.inbox.accept(
                kind=TURN_WORK,
                dedupe_key=request_key(activity) if activity.id else f"teams:{uuid.uuid4()}",
                order_key=f"teams:{_conversation_id(activity)}:{_account_id(activity.from_property)}",
                payload={"activity": body},
            )
            return web.Response(status=201)
        # An invoke's answer is the HTTP response itself (e.g. a card refresh): it runs in the turn.
        try:
            invoke = await adapter.process_activity(authenticated, activity, bot.on_turn)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:  # an invoke of an unexpected shape
            log.info("teams: could not handle an invoke: %r", exc)
            return refuse("this invoke could not be handled")
        if invoke is not None:
            body_out = (
                invoke.body if isinstance(invoke.body, dict | list | str) else serializer_helper(invoke.body)
            )
            return web.json_response(body_out, status=invoke.status)
        return web.Response(status=201)

    async def turn(payload: dict[str, Any]) -> None:
        """A stored activity's turn, run as a proactive turn on the original activity."""
        stored = Activity().deserialize(payload["activity"])
        await adapter.process_proactive(adapter.create_claims_identity(app_id), stored, None, bot.on_turn)

    core.inbox.register(TURN_WORK, turn)
    app.router.add_post(ROUTE, messages)
