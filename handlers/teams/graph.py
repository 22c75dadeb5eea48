"""Microsoft Graph for the Teams channel: reaching someone who has no conversation with the bot yet.

Teams only lets a bot message someone it has a conversation with. For a person with an AAD object id
and a tenant (``partnerbot user add ... --teams-id AAD --teams-tenant T``) or only an e-mail, the bot
installs its app for them from the org catalog and reads the chat id of that installation:

- ``POST /users/{aad}/teamwork/installedApps`` with ``teamsApp@odata.bind`` (409 when it already is),
- ``GET /users/{aad}/teamwork/installedApps?$expand=teamsApp&$filter=teamsApp/id eq '{catalog id}'``,
- ``GET /users/{aad}/teamwork/installedApps/{installation}/chat``,
- ``GET /users/{email}`` to find someone known only by e-mail.

The application permissions are ``TeamsAppInstallation.ReadWriteSelfForUser.All`` and ``User.Read.All``
(and ``AppCatalog.Read.All`` unless ``PARTNERBOT_TEAMS_CATALOG_APP_ID`` names the catalog id), granted
with admin consent in each tenant. Tokens come from the client-credentials flow per tenant.
``MICROSOFT_GRAPH_URL`` and ``MICROSOFT_LOGIN_URL`` point tests at local stand-ins.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.kernel.outbox import DeliveryError, NotReachableNow

GRAPH_URL = "https://graph.microsoft.com/v1.0"
LOGIN_URL = "https://login.microsoftonline.com"
PERMISSION = "TeamsAppInstallation.ReadWriteSelfForUser.All"


class GraphInstaller:
    """Installs the app for a person and finds the chat of that installation (one per process)."""

    def __init__(self, *, settings: Any) -> None:
        extra = settings.extra
        self.graph_url = (settings.microsoft_graph_url or GRAPH_URL).rstrip("/")
        self.login_url = (settings.microsoft_login_url or LOGIN_URL).rstrip("/")
        self.app_id = settings.microsoft_app_id.strip()
        self.secret = settings.microsoft_app_password
        self._catalog_id = (extra.get("PARTNERBOT_TEAMS_CATALOG_APP_ID") or "").strip() or None
        self._tokens: dict[str, tuple[str, float]] = {}

    @staticmethod
    def configured(settings: Any) -> bool:
        """With Teams credentials, or a Graph URL set explicitly (a stand-in)."""
        explicit = bool(settings.microsoft_graph_url)
        return explicit or bool(settings.microsoft_app_id.strip() and settings.microsoft_app_password)

    async def _token(self, http: aiohttp.ClientSession, tenant: str) -> str:
        cached = self._tokens.get(tenant)
        if cached and cached[1] > time.monotonic() + 60:
            return cached[0]
        form = {
            "grant_type": "client_credentials",
            "client_id": self.app_id,
            "client_secret": self.secret,
            "scope": "https://graph.microsoft.com/.default",
        }
        async with http.post(f"{self.login_url}/{quote(tenant)}/oauth2/v2.0/token", data=form) as response:
            body = await response.json(content_type=None)
            if response.status >= 400 or not body.get("access_token"):
                raise NotReachableNow(
                    f"no Graph token for tenant {tenant} ({body.get('error') or response.status}): partnerbot "
                    "needs admin consent in that tenant"
                )
        self._tokens[tenant] = (
            body["access_token"],
            time.monotonic() + float(body.get("expires_in") or 3600),
        )
        return str(body["access_token"])

    async def _call(
        self, http: aiohttp.ClientSession, tenant: str, method: str, path: str, **kwargs: Any
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {await self._token(http, tenant)}"}
        try:
            async with http.request(method, f"{self.graph_url}{path}", headers=headers, **kwargs) as response:
                body = await response.json(content_type=None) if response.content_length != 0 else {}
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"Microsoft Graph did not answer: {exc!r}") from exc
        if status in (401, 403):
            raise NotReachableNow(
                f"Microsoft Graph refused ({status}) in tenant {tenant}: the app needs the application "
                f"permission {PERMISSION} with admin consent there"
            )
        if status == 429 or status >= 500:
            raise DeliveryError(f"Microsoft Graph answered {status}; will retry")
        return status, body if isinstance(body, dict) else {}

    async def _catalog(self, http: aiohttp.ClientSession, tenant: str) -> str:
        if self._catalog_id:
            return self._catalog_id
        status, body = await self._call(
            http,
            tenant,
            "GET",
            "/appCatalogs/teamsApps",
            params={"$filter": f"externalId eq '{self.app_id}'"},
        )
        apps = body.get("value") or []
        if status >= 400 or not apps:
            raise NotReachableNow(f"partnerbot is not in the org app catalog of tenant {tenant}")
        self._catalog_id = str(apps[0]["id"])
        return self._catalog_id

    async def personal_chat(self, *, tenant: str, aad: str) -> str:
        """The id of the 1:1 chat between the person and the bot, installing the app for them first."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            catalog = await self._catalog(http, tenant)
            user = quote(aad)
            status, _ = await self._call(
                http,
                tenant,
                "POST",
                f"/users/{user}/teamwork/installedApps",
                json={"teamsApp@odata.bind": f"{self.graph_url}/appCatalogs/teamsApps/{catalog}"},
            )
            if status == 404:
                raise NotReachableNow(f"no Teams user {aad} in tenant {tenant} (account gone?)")
            if status >= 400 and status != 409:
                raise DeliveryError(f"Microsoft Graph refused the installation ({status})")
            status, found = await self._call(
                http,
                tenant,
                "GET",
                f"/users/{user}/teamwork/installedApps",
                params={"$expand": "teamsApp", "$filter": f"teamsApp/id eq '{catalog}'"},
            )
            installations = found.get("value") or []
            if not installations:
                raise DeliveryError("the app installation is not visible yet; will retry")
            installation = quote(str(installations[0]["id"]))
            status, chat = await self._call(
                http, tenant, "GET", f"/users/{user}/teamwork/installedApps/{installation}/chat"
            )
            if status >= 400 or not chat.get("id"):
                raise DeliveryError(f"no chat for the app installation yet ({status}); will retry")
            return str(chat["id"])

    async def find_user(self, *, tenant: str, email: str) -> str | None:
        """The AAD object id of ``email`` in ``tenant``; None when there is no such user."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            status, user = await self._call(
                http, tenant, "GET", f"/users/{quote(email)}", params={"$select": "id"}
            )
        if status == 404 or not user.get("id"):
            return None
        return str(user["id"])
