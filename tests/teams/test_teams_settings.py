"""The botbuilder-era settings (``MICROSOFT_APP_*``) as the Agents SDK's service connection."""

from __future__ import annotations

import pytest
from microsoft_agents.hosting.core.authorization import AuthTypes

from bot.config import Settings
from handlers.teams.connector import auth_configuration, claims_for

APP_ID = "3f2b8c1e-7a4d-4e6b-9c0f-1a2b3c4d5e6f"
TENANT = "8a1d2f3e-0000-4000-8000-00000000abcd"


def _settings(**env: str) -> Settings:
    return Settings.from_env({"MICROSOFT_APP_ID": APP_ID, **env})


def test_a_multi_tenant_bot_gets_its_tokens_from_the_bot_framework_tenant() -> None:
    config = auth_configuration(_settings(MICROSOFT_APP_PASSWORD="secret"))
    assert config.AUTH_TYPE == AuthTypes.client_secret
    assert (config.CLIENT_ID, config.TENANT_ID, config.CLIENT_SECRET) == (
        APP_ID,
        "botframework.com",
        "secret",
    )
    assert config.VALIDATE_ISSUER is True and not config.ANONYMOUS_ALLOWED


def test_single_tenant_certificate_and_managed_identity() -> None:
    single = auth_configuration(
        _settings(
            MICROSOFT_APP_TYPE="SingleTenant", MICROSOFT_APP_TENANT_ID=TENANT, MICROSOFT_APP_PASSWORD="s"
        )
    )
    assert (single.AUTH_TYPE, single.TENANT_ID) == (AuthTypes.client_secret, TENANT)
    certificate = auth_configuration(
        _settings(
            MICROSOFT_APP_TYPE="SingleTenant",
            MICROSOFT_APP_TENANT_ID=TENANT,
            MICROSOFT_APP_CERTIFICATE_PATH="/run/secrets/bot.pfx",
        )
    )
    assert (certificate.AUTH_TYPE, certificate.CERT_PFX_FILE) == (
        AuthTypes.certificate,
        "/run/secrets/bot.pfx",
    )
    identity = auth_configuration(
        _settings(MICROSOFT_APP_TYPE="UserAssignedMSI", MICROSOFT_APP_TENANT_ID=TENANT)
    )
    assert (identity.AUTH_TYPE, identity.CLIENT_ID, identity.TENANT_ID) == (
        AuthTypes.user_managed_identity,
        APP_ID,
        TENANT,
    )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"MICROSOFT_APP_TYPE": "SingleTenant", "MICROSOFT_APP_PASSWORD": "s"}, "MICROSOFT_APP_TENANT_ID"),
        ({"MICROSOFT_APP_TYPE": "SingleTenant", "MICROSOFT_APP_TENANT_ID": TENANT}, "MICROSOFT_APP_PASSWORD"),
        ({"MICROSOFT_APP_TYPE": "UserAssignedMSI"}, "MICROSOFT_APP_TENANT_ID"),
        ({"MICROSOFT_APP_TYPE": "Sometimes"}, "MultiTenant, SingleTenant or UserAssignedMSI"),
    ],
)
def test_a_setting_that_cannot_work_says_what_is_missing(env: dict[str, str], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        auth_configuration(_settings(**env))


def test_the_emulator_is_anonymous() -> None:
    config = auth_configuration(Settings.from_env({"PARTNERBOT_TEAMS_EMULATOR": "1"}))
    assert config.ANONYMOUS_ALLOWED is True
    assert claims_for(Settings.from_env({"PARTNERBOT_TEAMS_EMULATOR": "1"})).allow_anonymous
    assert not claims_for(_settings(MICROSOFT_APP_PASSWORD="s")).allow_anonymous
