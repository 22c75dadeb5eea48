"""Secrets: each may come from ``NAME_FILE`` (container and Kubernetes secrets), none is in the settings'
repr, and their values are masked in every log line (bot.logs.SecretMask). That no configured secret
appears in any log line of the whole test run is checked by tests/conftest.py (LeakWatch)."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from bot.config import SECRET_SETTINGS, Settings
from bot.logs import MASK, SecretMask, handler_for

READ_BACK = {
    "DATABASE_URL": lambda s: s.database_url,
    "SLACK_BOT_TOKEN": lambda s: s.slack_bot_token,
    "SLACK_SIGNING_SECRET": lambda s: s.slack_signing_secret,
    "SLACK_APP_TOKEN": lambda s: s.slack_app_token,
    "SLACK_CLIENT_SECRET": lambda s: s.slack_client_secret,
    "MICROSOFT_APP_PASSWORD": lambda s: s.microsoft_app_password,
    "PARTNERBOT_LLM_KEY": lambda s: s.llm_key,
    "PARTNERBOT_LEADS_TOKEN": lambda s: s.extra["PARTNERBOT_LEADS_TOKEN"],
    "PARTNERBOT_METRICS_TOKEN": lambda s: s.metrics_token,
}


def test_every_secret_setting_is_listed_with_a_way_to_read_it_back() -> None:
    assert set(READ_BACK) == set(SECRET_SETTINGS)


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_a_secret_is_read_from_the_file_named_by_name_file(name: str, tmp_path: Path) -> None:
    value = "postgresql+psycopg://bot:pw-from-file@db/bot" if name == "DATABASE_URL" else f"{name}-from-file"
    secret = tmp_path / "secret"
    secret.write_text(value + "\n")  # as `echo` and kubectl leave it
    settings = Settings.from_env({f"{name}_FILE": str(secret)})
    assert READ_BACK[name](settings) == value
    assert f"{name}_FILE" not in settings.extra


def test_both_a_secret_and_its_file_or_an_unreadable_file_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("xoxb-from-file")
    with pytest.raises(ValueError, match="set SLACK_BOT_TOKEN or SLACK_BOT_TOKEN_FILE, not both"):
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-inline", "SLACK_BOT_TOKEN_FILE": str(secret)})
    with pytest.raises(ValueError, match="SLACK_BOT_TOKEN_FILE names .*missing.*cannot be read"):
        Settings.from_env({"SLACK_BOT_TOKEN_FILE": str(tmp_path / "missing")})


def all_secrets_env() -> dict[str, str]:
    env = {name: f"{name.lower()}-value-1234" for name in SECRET_SETTINGS}
    env["DATABASE_URL"] = "postgresql+psycopg://bot:database-password-1234@db:5432/bot"
    return env


def test_no_secret_is_in_the_settings_repr() -> None:
    settings = Settings.from_env(all_secrets_env())
    shown = repr(settings) + str(settings)
    assert settings.secret_values() and not [v for v in settings.secret_values() if v in shown]
    assert "database-password-1234" in settings.secret_values()  # of the URL, the password only


def test_the_log_filter_masks_secrets_in_messages_arguments_and_tracebacks() -> None:
    settings = Settings.from_env(all_secrets_env())
    for fmt in ("text", "json"):
        out = io.StringIO()
        handler = handler_for(
            Settings.from_env({**all_secrets_env(), "PARTNERBOT_LOG_FORMAT": fmt}), stream=out
        )
        log = logging.getLogger(f"tests.masked.{fmt}")
        log.propagate = False  # this test logs secrets on purpose: not through the run's leak watch
        log.addHandler(handler)
        try:
            log.warning("token %s in the arguments", settings.slack_bot_token)
            log.warning(f"key {settings.llm_key} in the message")
            try:
                raise RuntimeError(f"connect with {settings.database_url}")
            except RuntimeError:
                log.exception("failed")
        finally:
            log.removeHandler(handler)
        text = out.getvalue()
        assert text.count(MASK) >= 3, text
        assert not [v for v in settings.secret_values() if v in text], text
        if fmt == "json":
            lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
            assert [line["message"] for line in lines][:2] == [
                f"token {MASK} in the arguments",
                f"key {MASK} in the message",
            ]
            assert MASK in lines[2]["exception"]


def test_the_mask_takes_the_longer_of_two_overlapping_secrets() -> None:
    assert SecretMask(["abcd", "abcdefgh"]).mask("x abcdefgh y abcd") == f"x {MASK} y {MASK}"
