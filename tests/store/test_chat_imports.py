"""``partnerbot chat`` imports what a conversation needs, when it needs it: a one-turn script on an
up-to-date database with no platform configured loads no web framework, no platform SDK, no Alembic and
none of the libraries only some turns use. Which modules are loaded is asserted, never how long it took
(DESIGN.md); ``python -m bench chat`` measures the time. Skipping Alembic rests on
:func:`store.db.at_head` (``tests/store/test_migration_check.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.config import Settings
from bot.wiring import build_core

ROOT = Path(__file__).resolve().parents[2]

# What a one-turn chat on an up-to-date SQLite database with no platform configured must not import.
NOT_FOR_CHAT = (
    "alembic",  # the database is at head (store.db.at_head): no migration runs
    "mako",  # Alembic's templates
    "aiohttp",  # the web app of `serve` (bot.app) and the platforms' HTTP clients
    "handlers.slack",
    "slack_sdk",
    "slack_bolt",
    "handlers.teams",
    "microsoft_agents",
    "msal",
    "numpy",  # the first load of the conflict index (a registration)
    "dateparser",  # the long tail of close dates, after the date rules
    "sqlalchemy.dialects.postgresql",  # a SQLite database
)
# A run of the CLI in a fresh interpreter that writes what it imported to the file named first.
RUN_CLI = """
import json, sys
from pathlib import Path
from bot.cli import run
code = run(sys.argv[2:])
Path(sys.argv[1]).write_text(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


# Settings that wire a platform, a CRM or a language model into the core: not for these runs.
CONFIGURES = (
    "SLACK_",
    "MICROSOFT_",
    "PARTNERBOT_TEAMS_",
    "PARTNERBOT_LLM_",
    "PARTNERBOT_CRM",
    "HUBSPOT_",
    "SALESFORCE_",
)


def cli_env(database: Path) -> dict[str, str]:
    """This checkout first on the path, ``database``, and nothing configured that the core would wire."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIGURES)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["DATABASE_URL"] = f"sqlite:///{database}"
    return env


def run_cli(folder: Path, env: dict[str, str], *argv: str, stdin: str = "") -> tuple[int, str, list[str]]:
    """(exit code, output, modules imported) of ``partnerbot ARGV`` run in ``folder``."""
    loaded = folder / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", RUN_CLI, str(loaded), *argv],
        cwd=folder,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(loaded.read_text())
    return int(result["code"]), done.stdout + done.stderr, list(result["modules"])


def among(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)]


def test_a_one_turn_chat_imports_no_platform_no_migration_and_no_web_framework(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "chat.db")
    code, _, _ = run_cli(tmp_path, env, "demo")
    assert code == 0
    code, out, modules = run_cli(
        tmp_path, env, "chat", "--as", "alice@northwind.example", stdin="show my deals\n"
    )
    assert code == 0 and "== Your open deals ==" in out and "Initech GmbH" in out, out
    assert {"bot.bootstrap", "handlers.console", "sqlalchemy.orm"} <= set(modules), "the chat really ran"
    assert among(modules, NOT_FOR_CHAT) == []


def test_what_chat_leaves_out_is_imported_when_a_turn_needs_it(tmp_path: Path) -> None:
    """A fresh database is migrated (Alembic); a close date the date rules leave over goes to
    dateparser; a registration loads the conflict index (numpy)."""
    env = cli_env(tmp_path / "fresh.db")
    code, out, modules = run_cli(tmp_path, env, "chat", "--as", "alice@northwind.example")
    assert code == 2 and "No one with e-mail alice@northwind.example" in out
    assert "alembic.command" in modules, "a database with no tables is migrated by Alembic, as before"
    run_cli(tmp_path, env, "demo")
    script = "register a deal for Globex Corporation, 120k USD of Cloud Suite\nin a fortnight\n1\n"
    code, out, modules = run_cli(tmp_path, env, "chat", "--as", "alice@northwind.example", stdin=script)
    assert code == 0 and "When do you expect it to close?" in out and "D-4 is registered" in out, out
    assert {"dateparser", "numpy"} <= set(modules)
    assert among(modules, ("alembic", "aiohttp", "slack_sdk", "microsoft_agents")) == []


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
