"""The core is wired to the platforms that are configured - and only their handlers (with their SDKs)
are imported for it (``bot.wiring.build_core``)."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.wiring import build_core


async def test_a_configured_platform_still_gets_its_notifier(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wired.db'}"
    configured = {
        "nothing": {},
        "a Slack bot token": {"SLACK_BOT_TOKEN": "xoxb-test"},
        "the Slack multi-workspace install": {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s"},
        "the Teams emulator": {"PARTNERBOT_TEAMS_EMULATOR": "1"},
        "Teams credentials and a Slack token": {"MICROSOFT_APP_ID": "app", "SLACK_BOT_TOKEN": "xoxb-test"},
    }
    wired = {}
    for name, env in configured.items():
        core = build_core(Settings.from_env({"DATABASE_URL": url, **env}))
        wired[name] = list(core.notifiers)
        await core.db.dispose()
    assert wired == {
        "nothing": [],
        "a Slack bot token": ["slack"],
        "the Slack multi-workspace install": ["slack"],
        "the Teams emulator": ["teams"],
        "Teams credentials and a Slack token": ["slack", "teams"],
    }
