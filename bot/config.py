"""Configuration from the environment (and a ``.env`` file, read with python-dotenv)."""

from __future__ import annotations

import os
from collections.abc import Mapping
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


def _flag(env: dict[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name} must be 1 or 0 (on or off), not {raw!r}")


def bounded_number(
    env: Mapping[str, str], name: str, default: float, *, most: float, unit: str = ""
) -> float:
    """A setting that is a number above 0 and at most ``most`` (``unit`` says what of: "seconds")."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    what = f"a number of {unit}" if unit else f"a number such as {most / 2:g}"
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be {what}, not {raw!r}") from exc
    if not 0 < value <= most:
        raise ValueError(
            f"{name} must be more than 0 and at most {most:g}{' ' + unit if unit else ''}, not {raw!r}"
        )
    return value


def _http_url(env: dict[str, str], name: str) -> str:
    raw = env.get(name, "").strip().rstrip("/")
    if raw and not raw.lower().startswith(("http://", "https://")):
        raise ValueError(f"{name} must be an http:// or https:// URL, e.g. http://localhost:11434/v1")
    return raw


def _llm_auth(env: dict[str, str]) -> str:
    raw = env.get("PARTNERBOT_LLM_AUTH", "").strip().lower()
    if raw not in ("", "bearer", "api-key"):
        raise ValueError(f"PARTNERBOT_LLM_AUTH must be bearer or api-key, not {raw!r}")
    return raw


# Every setting that is a secret: each may come from the file named by ``NAME_FILE`` instead (container
# and Kubernetes secrets), none is in a repr, and their values are masked in every log line
# (``bot.logs``). DATABASE_URL is here for the password it may carry; only that password is masked.
SECRET_SETTINGS = (
    "DATABASE_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_SECRET",
    "MICROSOFT_APP_PASSWORD",
    "PARTNERBOT_LLM_KEY",
    "PARTNERBOT_LEADS_TOKEN",
    "PARTNERBOT_METRICS_TOKEN",
)
# Values too short to mask without masking ordinary words (no real token is this short).
MIN_MASKED_LENGTH = 4


def with_secret_files(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with each secret ``NAME`` whose ``NAME_FILE`` is set read from that file (one trailing
    newline dropped, as ``echo`` and ``kubectl create secret --from-file`` leave one). Setting both is
    refused, as is a file that cannot be read - naming the variable, never the value."""
    resolved = dict(env)
    for name in SECRET_SETTINGS:
        path = env.get(f"{name}_FILE", "").strip()
        if not path:
            continue
        if env.get(name, "").strip():
            raise ValueError(f"set {name} or {name}_FILE, not both")
        try:
            value = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(
                f"{name}_FILE names {path!r}, which cannot be read: {getattr(exc, 'strerror', None) or exc}"
            ) from exc
        resolved[name] = value.removesuffix("\n").removesuffix("\r")
    return resolved


def _log_format(env: Mapping[str, str]) -> str:
    raw = env.get("PARTNERBOT_LOG_FORMAT", "").strip().lower()
    if raw not in ("", "text", "json"):
        raise ValueError(f"PARTNERBOT_LOG_FORMAT must be text or json, not {raw!r}")
    return raw or "text"


def _names(env: dict[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of ids (workspaces, tenants, URL prefixes)."""
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


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
    # A PFX certificate of the bot's app registration, in place of MICROSOFT_APP_PASSWORD (a path; not
    # NAME_FILE, which names a file holding a secret's value).
    microsoft_app_certificate_path: str = ""
    # Microsoft Graph and the Entra token endpoint (tests point them at stand-ins): installing the app for
    # Teams people who have no conversation with the bot yet.
    microsoft_graph_url: str = ""
    microsoft_login_url: str = ""
    public_url: str = "http://localhost:3978"
    default_currency: str = "USD"
    inbox_workers: int = 4
    # PARTNERBOT_INBOX_LEASE_SECONDS: how long a replica's claim on a stored request lasts; when its
    # process dies, another replica (or the restarted one) takes the request over after this long.
    inbox_lease_seconds: int = 60
    # Who may be recognised as vendor staff by e-mail: accounts in these Slack workspaces / Teams tenants
    # only (PARTNERBOT_SLACK_VENDOR_TEAM, PARTNERBOT_TEAMS_VENDOR_TENANT; the latter defaults to
    # MICROSOFT_APP_TENANT_ID). A staff address seen from anywhere else is a stranger.
    slack_vendor_teams: tuple[str, ...] = ()
    teams_vendor_tenants: tuple[str, ...] = ()
    # PARTNERBOT_TEAMS_EMULATOR: /api/messages without credentials, for the Bot Framework Emulator, on a
    # loopback address only.
    teams_emulator: bool = False
    # PARTNERBOT_TEAMS_SERVICE_URLS: Bot Connector service URL prefixes accepted besides Microsoft's own
    # hosts (a sovereign cloud, a local stand-in in tests).
    teams_service_urls: tuple[str, ...] = ()
    # PARTNERBOT_TELL_PARTNER_CONFLICTS: tell a partner that their registration needs a closer review
    # because of another registration. Off: the partner's reply is the same either way.
    tell_partner_conflicts: bool = False
    # The optional language model (PARTNERBOT_LLM_URL, _KEY, _MODEL, _TIMEOUT, _AUTH): an OpenAI-compatible
    # chat-completions endpoint asked only when the embedded understanding is unsure. Off without a URL.
    # The key is kept out of every repr (and out of ``extra``).
    llm_url: str = ""
    llm_key: str = field(default="", repr=False)
    llm_model: str = ""
    llm_timeout: float = 3.0
    llm_auth: str = ""  # "bearer", "api-key"; empty: api-key for Azure hosts, bearer for the rest
    # PARTNERBOT_LOG_FORMAT: "text" (one readable line per record) or "json" (one JSON object per line).
    log_format: str = "text"
    # PARTNERBOT_METRICS_TOKEN: when set, GET /metrics wants ``Authorization: Bearer TOKEN``.
    metrics_token: str = field(default="", repr=False)
    # PARTNERBOT_INBOX_STUCK_SECONDS: /readyz says this replica is not ready when requests have waited
    # this long while its inbox workers finished nothing for as long (or its worker is not running).
    inbox_stuck_seconds: float = 300.0
    # PARTNERBOT_SHUTDOWN_GRACE_SECONDS: on SIGTERM, how long requests being handled may take to finish;
    # what is still running then is given back to the inbox for another replica (or the next start).
    shutdown_grace_seconds: float = 10.0
    extra: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Settings(database={self.database_url.split('://')[0]}, ...)"

    def secret_values(self) -> frozenset[str]:
        """The values of the secrets configured here (:data:`SECRET_SETTINGS`; of DATABASE_URL, only its
        password), for the log filter that masks them."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        values = [
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.slack_client_secret,
            self.microsoft_app_password,
            self.llm_key,
            self.metrics_token,
            self.extra.get("PARTNERBOT_LEADS_TOKEN", ""),
        ]
        try:
            values.append(str(make_url(self.database_url).password or ""))
        except ArgumentError:
            pass
        return frozenset(v.strip() for v in values if len(v.strip()) >= MIN_MASKED_LENGTH)

    @property
    def slack_can_post(self) -> bool:
        """Whether the bot can post to Slack by itself - with a bot token, or the multi-workspace
        install's client id and secret - which is when the outbox has a Slack notifier."""
        return bool(self.slack_bot_token or (self.slack_client_id and self.slack_client_secret))

    @property
    def teams_configured(self) -> bool:
        """Whether ``/api/messages`` is served: with Teams credentials, or in emulator mode."""
        return bool(self.microsoft_app_id.strip()) or self.teams_emulator

    def vendor_channel_platform(self) -> str | None:
        """The platform with a vendor channel configured (``SLACK_VENDOR_CHANNEL``), if any: where
        registrations and routed questions for vendor staff go."""
        return "slack" if self.slack_vendor_channel else None

    def vendor_workspaces(self) -> dict[str, frozenset[str]]:
        """Per platform, the workspaces whose accounts may be linked to vendor staff by e-mail."""
        return {
            "slack": frozenset(self.slack_vendor_teams),
            "teams": frozenset(self.teams_vendor_tenants),
        }

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, dotenv: Path | None = None) -> Settings:
        """Read settings from ``env`` (default: the process environment after loading ``.env``)."""
        if env is None:
            load_dotenv(dotenv or Path.cwd() / ".env", override=False)
            env = dict(os.environ)
        env = with_secret_files(env)
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
            microsoft_app_certificate_path=env.get("MICROSOFT_APP_CERTIFICATE_PATH", "").strip(),
            microsoft_graph_url=env.get("MICROSOFT_GRAPH_URL", "").strip(),
            microsoft_login_url=env.get("MICROSOFT_LOGIN_URL", "").strip(),
            public_url=(env.get("PARTNERBOT_PUBLIC_URL") or "http://localhost:3978").rstrip("/"),
            default_currency=(env.get("PARTNERBOT_CURRENCY") or "USD").upper(),
            inbox_workers=max(1, _int(env, "PARTNERBOT_INBOX_WORKERS", 4)),
            inbox_lease_seconds=max(1, _int(env, "PARTNERBOT_INBOX_LEASE_SECONDS", 60)),
            slack_vendor_teams=_names(env, "PARTNERBOT_SLACK_VENDOR_TEAM"),
            teams_vendor_tenants=_names(env, "PARTNERBOT_TEAMS_VENDOR_TENANT")
            or _names(env, "MICROSOFT_APP_TENANT_ID"),
            teams_emulator=_flag(env, "PARTNERBOT_TEAMS_EMULATOR"),
            teams_service_urls=_names(env, "PARTNERBOT_TEAMS_SERVICE_URLS"),
            tell_partner_conflicts=_flag(env, "PARTNERBOT_TELL_PARTNER_CONFLICTS"),
            llm_url=_http_url(env, "PARTNERBOT_LLM_URL"),
            llm_key=env.get("PARTNERBOT_LLM_KEY", "").strip(),
            llm_model=env.get("PARTNERBOT_LLM_MODEL", "").strip(),
            llm_timeout=bounded_number(env, "PARTNERBOT_LLM_TIMEOUT", 3.0, most=60, unit="seconds"),
            llm_auth=_llm_auth(env),
            log_format=_log_format(env),
            metrics_token=env.get("PARTNERBOT_METRICS_TOKEN", "").strip(),
            shutdown_grace_seconds=bounded_number(
                env, "PARTNERBOT_SHUTDOWN_GRACE_SECONDS", 10.0, most=3600, unit="seconds"
            ),
            inbox_stuck_seconds=bounded_number(
                env, "PARTNERBOT_INBOX_STUCK_SECONDS", 300.0, most=86_400, unit="seconds"
            ),
            # PARTNERBOT_LEADS_TOKEN stays here (handlers/lead_api.py reads it); the repr shows none of it.
            extra={
                k: v
                for k, v in env.items()
                if k.startswith("PARTNERBOT_")
                and k not in ("PARTNERBOT_LLM_KEY", "PARTNERBOT_METRICS_TOKEN")
                and not k.endswith("_FILE")
            },
        )
