"""The admin CLI: clear errors for bad arguments, nothing half-written, idempotent demo, scripted chat."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.cli import run


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def count(url: str, table: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
    engine.dispose()
    return int(n)


def main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        from bot.cli import main as entry

        entry(argv)
    out = capsys.readouterr()
    return int(exit_info.value.code or 0), out.out, out.err


def test_partner_and_user_add(cli_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = main(
        [
            "partner",
            "add",
            "Acme Partners",
            "--tier",
            "gold",
            "--region",
            "emea",
            "--country",
            "de",
            "--country",
            "FR",
            "--slack-team",
            "TACME",
        ],
        capsys,
    )
    assert code == 0 and "created partner Acme Partners (Gold, EMEA)" in out
    code, out, _ = main(["partner", "add", "Acme Partners", "--tier", "Platinum", "--region", "EMEA"], capsys)
    assert code == 0 and "updated partner Acme Partners (Platinum, EMEA)" in out
    code, out, _ = main(
        [
            "user",
            "add",
            "ann@acme.example",
            "--name",
            "Ann Acme",
            "--partner",
            "Acme Partners",
            "--slack-id",
            "U1",
            "--slack-team",
            "TACME",
            "--tz",
            "Europe/Paris",
        ],
        capsys,
    )
    assert code == 0 and "created partner user ann@acme.example" in out
    code, out, _ = main(
        [
            "user",
            "add",
            "sue@vendor.example",
            "--name",
            "Sue",
            "--staff",
            "--role",
            "approver",
            "--role",
            "expert",
            "--topic",
            "mdf",
        ],
        capsys,
    )
    assert code == 0 and "created staff member" in out
    assert count(cli_db, "chat_identities") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["partner", "add", "X", "--tier", "Gold", "--region", "EMEA", "--country", "Germany"], "(country)"),
        (["user", "add", "not-an-email", "--name", "N", "--staff"], "(email)"),
        (
            ["user", "add", "a@b.example", "--name", "N", "--partner", "Nobody Inc"],
            "No partner named 'Nobody Inc'",
        ),
        (["user", "add", "a@b.example", "--name", "N", "--staff", "--role", "king"], "Unknown role 'king'"),
        (["user", "add", "a@b.example", "--name", "N", "--staff", "--tz", "Mars/Olympus"], "(tz)"),
        (
            ["user", "add", "a@b.example", "--name", "N", "--staff", "--slack-id", "U1"],
            "--slack-id and --slack-team",
        ),
        (["jobs", "run", "no_such_job"], "no job named 'no_such_job'"),
    ],
)
def test_bad_arguments_exit_non_zero_and_write_nothing(
    cli_db: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = main(argv, capsys)
    assert code != 0
    assert message in err
    assert count(cli_db, "partners") == 0 and count(cli_db, "people") == 0


def test_demo_is_idempotent(cli_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["demo"]) == 0
    first = capsys.readouterr().out
    assert "deal D-3" in first
    before = {t: count(cli_db, t) for t in ("partners", "people", "deals", "products", "outbox")}
    assert run(["demo"]) == 0
    assert "already present" in capsys.readouterr().out
    assert {t: count(cli_db, t) for t in before} == before


def test_jobs_list_and_run_with_time_travel(cli_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["jobs", "list"]) == 0
    names = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert "deliver_outbox" in names and "expire_registrations" in names
    assert run(["demo"]) == 0
    capsys.readouterr()
    assert run(["jobs", "run", "expire_registrations", "--at", "2030-01-01T00:00:00Z"]) == 0
    assert "expired 0 registration(s)" in capsys.readouterr().out, "demo deals are pending, not approved"


def test_scripted_terminal_chat(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'chat.db'}"}
    exe = Path(sys.executable).parent / "partnerbot"
    subprocess.run([str(exe), "demo"], cwd=tmp_path, env=env, check=True, capture_output=True)
    script = (
        "show my deals\nregister a deal for Globex, 120k USD of Cloud Suite, closing end of March\n1\nD-3\n"
    )
    done = subprocess.run(
        [str(exe), "chat", "--as", "alice@northwind.example"],
        cwd=tmp_path,
        env=env,
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Initech GmbH" in done.stdout
    assert "D-4 is registered" in done.stdout, "typing 1 clicks the first button (Confirm)"
    assert "I can't find D-3 among your deals." in done.stdout, "D-3 belongs to Contoso"
    unknown = subprocess.run(
        [str(exe), "chat", "--as", "nobody@example.com"],
        cwd=tmp_path,
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode != 0 and "No one with e-mail" in unknown.stderr
