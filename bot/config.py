"""Configuration from the environment (and a ``.env`` file, read with python-dotenv)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from exc


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable. Names match the environment variables in INTERFACE.md."""

    database_url: str = "sqlite:///./partnerbot.db"
    timezone: str = "UTC"
    protection_days: int = 90
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_client_id: str = ""
    slack_client_secret: str = ""
    slack_api_url: str = ""
    slack_vendor_channel: str = ""
    microsoft_app_id: str = ""
    microsoft_app_password: str = ""
    microsoft_app_tenant_id: str = ""
    microsoft_app_type: str = "MultiTenant"
    public_url: str = "http://localhost:3978"
    default_currency: str = "USD"
    inbox_workers: int = 4
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, dotenv: Path | None = None) -> Settings:
        """Read settings from ``env`` (default: the process environment after loading ``.env``)."""
        if env is None:
            load_dotenv(dotenv or Path.cwd() / ".env", override=False)
            env = dict(os.environ)
        return cls(
            database_url=env.get("DATABASE_URL") or "sqlite:///./partnerbot.db",
            timezone=env.get("PARTNERBOT_TIMEZONE") or "UTC",
            protection_days=_int(env, "PARTNERBOT_PROTECTION_DAYS", 90),
            slack_bot_token=env.get("SLACK_BOT_TOKEN", ""),
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET", ""),
            slack_app_token=env.get("SLACK_APP_TOKEN", ""),
            slack_client_id=env.get("SLACK_CLIENT_ID", ""),
            slack_client_secret=env.get("SLACK_CLIENT_SECRET", ""),
            slack_api_url=env.get("SLACK_API_URL", ""),
            slack_vendor_channel=env.get("SLACK_VENDOR_CHANNEL", ""),
            microsoft_app_id=env.get("MICROSOFT_APP_ID", ""),
            microsoft_app_password=env.get("MICROSOFT_APP_PASSWORD", ""),
            microsoft_app_tenant_id=env.get("MICROSOFT_APP_TENANT_ID", ""),
            microsoft_app_type=env.get("MICROSOFT_APP_TYPE") or "MultiTenant",
            public_url=(env.get("PARTNERBOT_PUBLIC_URL") or "http://localhost:3978").rstrip("/"),
            default_currency=(env.get("PARTNERBOT_CURRENCY") or "USD").upper(),
            inbox_workers=max(1, _int(env, "PARTNERBOT_INBOX_WORKERS", 4)),
            extra={k: v for k, v in env.items() if k.startswith("PARTNERBOT_")},
        )
