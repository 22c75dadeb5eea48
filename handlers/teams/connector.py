"""The Microsoft 365 Agents SDK set up for partnerbot: who the bot is, how its tokens are checked and
fetched, which Bot Connector hosts it talks to, and what a failed call to one means for the outbox.

- ``MICROSOFT_APP_ID`` / ``MICROSOFT_APP_PASSWORD`` / ``MICROSOFT_APP_TENANT_ID`` / ``MICROSOFT_APP_TYPE``
  (the botbuilder-era settings) become the SDK's service connection (:func:`auth_configuration`):
  ``MultiTenant`` and ``SingleTenant`` are a client secret, ``UserAssignedMSI`` a user-assigned managed
  identity; ``MICROSOFT_APP_CERTIFICATE_PATH`` (a PFX file) takes the place of the password.
- Without an app id (``PARTNERBOT_TEAMS_EMULATOR``, loopback only) every turn is anonymous: the SDK's
  connection manager insists on a service connection even then, so the emulator gets one that allows
  anonymous access and is never asked for a token.
- Connector clients (:class:`ClientFactory`): the SDK builds one per turn and closes it at the turn's
  end; here each one borrows a connection pool kept for the life of the process, so a turn costs no new
  TCP or TLS handshake. partnerbot uses no user sign-in, so the user-token client is never given a
  token.
- The SDK does not retry. A reply inside a turn that fails fails the turn, which the inbox runs again
  (answers already out are not sent twice); a proactive message that fails goes back to the outbox with
  :func:`delivery_error`'s verdict (``Retry-After`` included).
- Every ``microsoft_agents`` import of the project lives in ``handlers/teams/``.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import AgentAuthConfiguration, ClaimsIdentity, TurnContext
from microsoft_agents.hosting.core.authorization import AuthenticationConstants, AuthTypes, JwtTokenValidator
from microsoft_agents.hosting.core.connector import ConnectorClientBase, UserTokenClientBase
from microsoft_agents.hosting.core.connector.client import UserTokenClient
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient

from bot.kernel.outbox import DeliveryError

log = logging.getLogger(__name__)

ROUTE = "/api/messages"
RETRYABLE = frozenset({408, 412, 429, 500, 502, 503, 504})
GONE = frozenset({403, 404})
AUDIENCE = AuthenticationConstants.AGENTS_SDK_SCOPE  # what tokens for the Bot Connector are for
SERVICE_CONNECTION = "SERVICE_CONNECTION"
_JWT_SHAPE = re.compile(r"^Bearer\s+([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*)$")
# The Bot Connector's hosts (public cloud, GCC, GCC High, DoD; other Bot Framework channels): answers
# and proactive messages go nowhere else, whatever an activity's serviceUrl says.
_CONNECTOR_HOSTS = re.compile(
    r"^(smba\.trafficmanager\.net|smba\.infra\.(gcc|gov|dod)\.teams\.microsoft\.(com|us)"
    r"|([a-z0-9-]+\.)*botframework\.(com|us|azure\.us))$"
)


# -- who the bot is ---------------------------------------------------------------------------------


def app_id_of(settings: Any) -> str:
    return str(settings.microsoft_app_id or "").strip()


def auth_configuration(settings: Any) -> AgentAuthConfiguration:
    """The SDK's service connection for the configured bot (anonymous without an app id)."""
    app_id = app_id_of(settings)
    if not app_id:
        return AgentAuthConfiguration(anonymous_allowed=True)
    app_type = (settings.microsoft_app_type or "MultiTenant").strip().lower()
    tenant = str(settings.microsoft_app_tenant_id or "").strip()
    certificate = str(settings.microsoft_app_certificate_path or "").strip()
    if app_type in ("singletenant", "userassignedmsi") and not tenant:
        raise ValueError(
            f"MICROSOFT_APP_TYPE={settings.microsoft_app_type} needs MICROSOFT_APP_TENANT_ID "
            "(the bot's Entra tenant)."
        )
    # validate_issuer: a token is taken only from the Bot Framework or the bot's own tenant (the SDK
    # leaves that check off unless asked; its audience and signature checks are always on).
    if app_type == "userassignedmsi":
        return AgentAuthConfiguration(
            AuthTypes.user_managed_identity, client_id=app_id, tenant_id=tenant, validate_issuer=True
        )
    if app_type not in ("multitenant", "singletenant"):
        raise ValueError(
            f"MICROSOFT_APP_TYPE must be MultiTenant, SingleTenant or UserAssignedMSI, "
            f"not {settings.microsoft_app_type!r}."
        )
    if app_type == "singletenant" and not (settings.microsoft_app_password or certificate):
        raise ValueError(
            "MICROSOFT_APP_TYPE=SingleTenant needs MICROSOFT_APP_PASSWORD or MICROSOFT_APP_CERTIFICATE_PATH."
        )
    # A multi-tenant bot gets its Bot Connector tokens from the botframework.com tenant.
    token_tenant = tenant if app_type == "singletenant" else "botframework.com"
    if certificate:
        return AgentAuthConfiguration(
            AuthTypes.certificate,
            client_id=app_id,
            tenant_id=token_tenant,
            cert_pfx_file=certificate,
            validate_issuer=True,
        )
    return AgentAuthConfiguration(
        AuthTypes.client_secret,
        client_id=app_id,
        tenant_id=token_tenant,
        client_secret=settings.microsoft_app_password,
        validate_issuer=True,
    )


def claims_for(settings: Any) -> ClaimsIdentity:
    """The identity the bot acts as in a turn it starts itself (a stored activity, a notification):
    the app's own claims, or none at all - anonymous - in emulator mode."""
    app_id = app_id_of(settings)
    if not app_id:
        return ClaimsIdentity()
    return ClaimsIdentity(
        {AuthenticationConstants.AUDIENCE_CLAIM: app_id, AuthenticationConstants.APP_ID_CLAIM: app_id}
    )


class ClientFactory:
    """The SDK's channel-service client factory, with one connection pool for every connector client.

    Tokens come from the connection manager (MSAL caches them) unless the turn is anonymous."""

    def __init__(self, connections: MsalConnectionManager | None) -> None:
        self._connections = connections
        self._pool: aiohttp.TCPConnector | None = None

    def _connector(self) -> aiohttp.TCPConnector:
        if self._pool is None or self._pool.closed:
            self._pool = aiohttp.TCPConnector(limit=64)
        return self._pool

    async def create_connector_client(
        self,
        context: TurnContext | None,
        claims_identity: ClaimsIdentity,
        service_url: str,
        audience: str,
        scopes: list[str] | None = None,
        use_anonymous: bool = False,
    ) -> ConnectorClientBase:
        if not service_url:
            raise TypeError("a connector client needs the Bot Connector's service URL")
        token = ""
        if not use_anonymous and self._connections is not None:
            provider = self._connections.get_token_provider(claims_identity, service_url)
            token = await provider.get_access_token(
                audience or AUDIENCE, scopes or claims_identity.get_token_scope()
            )
        endpoint = service_url if service_url.endswith("/") else service_url + "/"
        session = aiohttp.ClientSession(base_url=endpoint, connector=self._connector(), connector_owner=False)
        return TeamsConnectorClient(endpoint=endpoint, token=token, session=session)

    async def create_user_token_client(
        self, context: TurnContext, claims_identity: ClaimsIdentity, use_anonymous: bool = False
    ) -> UserTokenClientBase:
        # partnerbot signs nobody in (no OAuth card, no SSO): the adapter wants this client, nothing
        # calls it, so it costs no token request.
        return UserTokenClient(
            endpoint=AuthenticationConstants.AGENTS_SDK_OAUTH_URL,
            token="",
            app_id=claims_identity.get_app_id() or "partnerbot",
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()


def connector_of(turn_context: TurnContext) -> ConnectorClientBase:
    """The Bot Connector client of a turn (the SDK puts one in every turn that has a service URL)."""
    connector = turn_context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]
    if connector is None:
        raise DeliveryError("no Bot Connector client in the turn")
    return connector


def build_adapter(settings: Any) -> CloudAdapter:
    """A CloudAdapter for the configured bot (anonymous in emulator mode), its connector clients
    sharing one connection pool."""
    config = auth_configuration(settings)
    connections = None
    if app_id_of(settings):
        connections = MsalConnectionManager(connections_configurations={SERVICE_CONNECTION: config})
    return CloudAdapter(channel_service_client_factory=ClientFactory(connections))


async def close_adapter(adapter: CloudAdapter) -> None:
    factory = getattr(adapter, "_channel_service_client_factory", None)
    if isinstance(factory, ClientFactory):
        await factory.close()


class TokenCheck:
    """Checks a request's Bearer token against the bot's configuration before its body is read."""

    def __init__(self, settings: Any) -> None:
        self._validator = JwtTokenValidator(auth_configuration(settings)) if app_id_of(settings) else None

    @property
    def required(self) -> bool:
        return self._validator is not None

    async def claims(self, header: str) -> ClaimsIdentity | None:
        """The token's claims, None for a missing or invalid token; anonymous claims when no token is
        required (emulator mode)."""
        if self._validator is None:
            return ClaimsIdentity()
        match = _JWT_SHAPE.match(header or "")
        if match is None:
            return None
        try:
            return await self._validator.validate_token(match.group(1))
        except Exception as exc:  # PyJWT's errors, a JWKS fetch that failed, a claim that is wrong
            log.info("teams: rejected an unauthenticated request: %s", type(exc).__name__)
            return None


def service_url_matches(claims: ClaimsIdentity, service_url: str | None) -> bool:
    """A Bot Connector token names the service URL it was issued for: an activity naming another is
    not the channel's."""
    claimed = claims.get_claim_value(AuthenticationConstants.SERVICE_URL_CLAIM)
    if not claimed:
        return True
    return _host(str(claimed)) == _host(service_url or "")


def _host(url: str) -> str:
    match = re.match(r"^[a-z]+://([^/:?#]+)", url.strip().lower())
    return match.group(1) if match else ""


# -- where answers may go -----------------------------------------------------------------------------


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
    if settings.teams_emulator and not app_id_of(settings) and not is_loopback(host):
        raise SystemExit(
            f"PARTNERBOT_TEAMS_EMULATOR serves {ROUTE} without authentication, so it only binds to a "
            f"loopback address: run with --host 127.0.0.1 (not {host}), or set MICROSOFT_APP_ID and "
            "MICROSOFT_APP_PASSWORD."
        )


# -- what a failure means ------------------------------------------------------------------------------


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
    """How the outbox should treat a failed call to the Bot Connector (the SDK raises aiohttp's
    ``ClientResponseError`` for an HTTP error, with the answer's headers)."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, aiohttp.ClientResponseError):
        status = exc.status
        retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        if status in GONE:
            return DeliveryError(
                f"Teams answered {status}: the bot was removed or the conversation is gone", permanent=True
            )
        if status in RETRYABLE or status == 401:
            return DeliveryError(f"Teams answered {status}; will retry", retry_after=retry_after)
        return DeliveryError(f"Teams refused the message ({status})", permanent=True)
    if isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
        return DeliveryError(f"could not reach the Bot Connector: {exc}")
    return DeliveryError(f"Teams delivery failed: {exc!r}")
