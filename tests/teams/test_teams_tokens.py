"""With ``MICROSOFT_APP_ID`` set, the Agents SDK's validator checks every request's Bearer token -
signature, audience, issuer (partnerbot turns the issuer check on) - and partnerbot checks that the
token's ``serviceurl`` is the activity's. The Bot Framework's signing keys are replaced by a local key
(the validator would fetch them from login.botframework.com), and MSAL's token for answering by a fixed
string (it would ask Entra): everything between those two is the SDK as it runs in production."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from microsoft_agents.authentication.msal import MsalAuth
from microsoft_agents.hosting.core.authorization import JwtTokenValidator

from tests.conftest import FakeClock
from tests.teams.teams_harness import APP_ID, USERS, StandInConnector, Teams, secured_teams

BOT_FRAMEWORK = "https://api.botframework.com"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ALICE = USERS["alice"]


@pytest.fixture
async def secured(
    sqlite_url: str, clock: FakeClock, connector: StandInConnector, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Teams]:
    async def signing_key(self: Any, jwks_uri: str, header: dict[str, Any]) -> Any:
        assert jwks_uri.startswith("https://login.botframework.com/")  # where the SDK would look
        return KEY.public_key()

    async def access_token(
        self: Any, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        return "token-from-entra"

    monkeypatch.setattr(type(JwtTokenValidator._jwk_client_manager), "get_signing_key", signing_key)
    monkeypatch.setattr(MsalAuth, "get_access_token", access_token)
    async with secured_teams(sqlite_url, clock, connector) as harness:
        yield harness


def _token(service_url: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": BOT_FRAMEWORK, "aud": APP_ID, "serviceurl": service_url, "nbf": now - 10, "exp": now + 600}
    body.update(claims)
    return jwt.encode(body, KEY, algorithm="RS256", headers={"kid": "test-key"})


async def test_a_bot_connector_token_is_taken_and_the_answer_carries_the_bots_own(secured: Teams) -> None:
    activity = secured.activity(ALICE, text="help")
    headers = {"Authorization": f"Bearer {_token(secured.connector.url)}"}
    response = await secured.post(activity, headers=headers)
    assert response.status == 201
    (answer,) = secured.connector.to(ALICE)
    assert "Here's what I can do" in answer.text
    assert set(secured.connector.authorizations) == {"Bearer token-from-entra"}


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-bot"},  # a token for someone else's bot
        {"iss": "https://sts.windows.net/00000000-0000-0000-0000-00000000beef/"},  # another tenant's
        {"serviceurl": "https://evil.example/"},  # issued for another Bot Connector than the activity's
        {"exp": int(time.time()) - 3600},  # expired
    ],
)
async def test_a_token_that_is_not_for_this_bot_and_this_activity_is_refused(
    secured: Teams, claims: dict[str, Any]
) -> None:
    activity = secured.activity(ALICE, text="help")
    headers = {"Authorization": f"Bearer {_token(secured.connector.url, **claims)}"}
    response = await secured.post(activity, headers=headers)
    assert response.status == 401
    assert secured.connector.calls == []
