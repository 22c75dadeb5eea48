"""The container files, checked as files (no image registry is reachable here): the Dockerfile's
stages, user, command and health check, and that compose.yaml's services, ports and environment fit
the settings and the command line."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from bot.cli import parser
from bot.config import SECRET_SETTINGS
from tests.operations.test_lock_file import ROOT, locked

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(
        r"\\\n\s*",
        " ",
        "\n".join(line for line in DOCKERFILE.splitlines() if not line.lstrip().startswith("#")),
    )
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines() if line.strip()
    ]


def test_two_stages_on_a_slim_python_matching_the_project() -> None:
    froms = [args for op, args in instructions() if op == "FROM"]
    assert len(froms) == 2 and [f.split()[-1] for f in froms] == ["build", "runtime"]
    assert all(f.split()[0] == "python:3.11-slim" for f in froms)  # requires-python >= 3.11, as CI
    copied = [args for op, args in instructions() if op == "COPY" and "--from=build" in args]
    assert copied, "the runtime stage takes what the build stage made"
    for op, args in instructions():
        if op == "COPY" and "--from" not in args:
            for source in shlex.split(args)[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"


def test_installs_the_runtime_lock_then_partnerbot_without_resolving_again() -> None:
    runs = " ".join(args for op, args in instructions() if op == "RUN")
    assert "pip install -r /tmp/requirements-runtime.lock" in runs and "pip install --no-deps" in runs
    full, runtime = locked(), locked(ROOT / "requirements-runtime.lock")
    assert runtime and all(full.get(name) == version for name, version in runtime.items()), (
        "requirements-runtime.lock must pin what requirements.lock pins: run `make lock`"
    )
    assert not {"pytest", "mypy", "ruff"} & runtime.keys()


def test_runs_serve_as_a_user_without_privileges_with_a_health_check() -> None:
    ops = instructions()
    runtime = ops[[i for i, (op, _) in enumerate(ops) if op == "FROM"][-1] :]
    users = [args for op, args in runtime if op == "USER"]
    assert users and users[-1] not in ("root", "0") and "useradd" in DOCKERFILE
    assert [args for op, args in runtime if op == "CMD"] == ['["partnerbot", "serve"]']
    port = parser().parse_args(["serve"]).port
    assert [args for op, args in runtime if op == "EXPOSE"] == [str(port)]
    (health,) = [args for op, args in runtime if op == "HEALTHCHECK"]
    assert f"http://127.0.0.1:{port}/livez" in health
    assert ("STOPSIGNAL", "SIGTERM") in runtime


def setting_names() -> set[str]:
    """Every environment variable the settings read (bot/config.py and the handlers' own)."""
    names = set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', (ROOT / "bot" / "config.py").read_text()))
    for path in (ROOT / "handlers").rglob("*.py"):
        names |= set(re.findall(r'"((?:PARTNERBOT|SLACK|MICROSOFT)_[A-Z0-9_]+)"', path.read_text()))
    return names | {f"{name}_FILE" for name in SECRET_SETTINGS}


def test_compose_has_postgres_a_one_shot_migration_and_two_replicas() -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "partnerbot"}
    migrate, bot, postgres = services["migrate"], services["partnerbot"], services["postgres"]
    assert migrate["command"] == ["partnerbot", "db", "upgrade"] and migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert bot["command"] == ["partnerbot", "serve"] and bot["deploy"]["replicas"] == 2
    assert bot["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert bot["image"] == migrate["image"] and "build" in migrate
    port = parser().parse_args(["serve"]).port
    assert bot["ports"] == [f"{port}-{port + 1}:{port}"]  # one host port per replica
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])

    known = setting_names()
    for service in (migrate, bot):
        environment = service["environment"]
        assert not set(environment) - known, f"not settings: {set(environment) - known}"
        secret = environment["DATABASE_URL_FILE"]  # the URL, with its password, is a secret file
        assert secret == f"/run/secrets/{service['secrets'][0]}"
        assert "DATABASE_URL" not in environment
    assert set(compose["secrets"]) == {"postgres_password", "database_url"}
    # The URL the comment at the top writes matches the database the postgres service creates.
    env = postgres["environment"]
    url = f"postgresql+psycopg://{env['POSTGRES_USER']}:%s@postgres:5432/{env['POSTGRES_DB']}"
    assert url in (ROOT / "compose.yaml").read_text() and url in (ROOT / "README.md").read_text()
    assert "secrets/" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_image_leaves_out_what_it_does_not_run() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".git", ".venv", "tests", "secrets", ".env"} <= set(ignored)
    assert Path(ROOT / "teams").is_dir() and "teams" not in ignored  # `partnerbot teams package` reads it
