"""``python -m bench chat [--runs N] [--turn TEXT] [--as EMAIL] [--json FILE]``

The wall time of a one-turn ``partnerbot chat`` script (``echo "show my deals" | partnerbot chat --as
alice@northwind.example``) from the shell's point of view: process start, imports, the migration check,
the core, the turn, exit. The demo database (SQLite, ``partnerbot demo``) is made once in a temporary
folder, which is also every run's working directory (so no developer's ``.env`` applies), and no
platform is configured (the terminal on its own, as the README's ``make chat`` runs it).

Baselines, run in the same loop, alternately with the chat so that a machine getting slower or busier
shifts both: ``python -c pass`` (the interpreter's start-up) and ``python -c "import asyncio,
sqlalchemy.orm, sqlalchemy.ext.asyncio"`` (what any database-backed turn has to import). The chat's
median is reported as a ratio to each; the issue's target (under one second on the development machine)
is shown against the absolute median too.

One run of each comes first and is not measured (files into the page cache, bytecode written). When
``PYTHONDONTWRITEBYTECODE`` is set, the runs share a bytecode cache of their own in the temporary
folder (``PYTHONPYCACHEPREFIX``), as an installed partnerbot would have one; the source tree is never
written to.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.memory import partnerbot_command
from bench.report import Report, quantile

ROOT = Path(__file__).resolve().parents[1]
TURN = "show my deals"
AS = "alice@northwind.example"
TARGET_S = 1.0
SQLALCHEMY = "import asyncio, sqlalchemy.orm, sqlalchemy.ext.asyncio"
# Settings that would wire a platform, a CRM or a language model into the core: not for this run.
PLATFORM_PREFIXES = (
    "SLACK_",
    "MICROSOFT_",
    "PARTNERBOT_TEAMS_",
    "PARTNERBOT_LLM_",
    "HUBSPOT_",
    "SALESFORCE_",
)
PLATFORM_NAMES = ("PARTNERBOT_CRM",)


def chat_env(folder: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every measured process: this checkout first on the path, the folder's demo
    database, no platform configured, and a bytecode cache (see the module docstring)."""
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith(PLATFORM_PREFIXES) and k not in PLATFORM_NAMES
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["DATABASE_URL"] = f"sqlite:///{folder / 'chat.db'}"
    if env.pop("PYTHONDONTWRITEBYTECODE", ""):
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    return env


def timed(command: Sequence[str], *, env: dict[str, str], cwd: Path, stdin: str = "") -> tuple[float, str]:
    """Seconds from start to exit of ``command`` and its output; an error when it fails."""
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}:\n{done.stderr}")
    return seconds, done.stdout


def run(report: Report, *, runs: int = 15, turn: str = TURN, email: str = AS) -> None:
    """``runs`` measured rounds of (``python -c pass``, the chat, the SQLAlchemy import) after one
    unmeasured round; a row per case and the targets."""
    folder = Path(tempfile.mkdtemp(prefix="partnerbot-bench-chat-"))
    try:
        env = chat_env(folder)
        partnerbot = partnerbot_command()
        timed([*partnerbot, "demo"], env=env, cwd=folder)
        cases: dict[str, tuple[list[str], str]] = {
            "python -c pass": ([sys.executable, "-c", "pass"], ""),
            "partnerbot chat, one turn": ([*partnerbot, "chat", "--as", email], turn + "\n"),
            "python -c 'import sqlalchemy...'": ([sys.executable, "-c", SQLALCHEMY], ""),
        }
        samples: dict[str, list[float]] = {case: [] for case in cases}
        for round_ in range(runs + 1):
            for case, (command, stdin) in cases.items():
                seconds, out = timed(command, env=env, cwd=folder, stdin=stdin)
                if stdin and f"> {turn}" not in out:
                    raise RuntimeError(f"the chat did not answer {turn!r}:\n{out}")
                if round_:
                    samples[case].append(seconds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    medians = {case: quantile(values, 0.5) for case, values in samples.items()}
    python, chat, sqlalchemy = medians.values()
    for case, values in samples.items():
        row = report.add(
            "chat start-up",
            case,
            runs=len(values),
            p50_s=round(medians[case], 3),
            max_s=round(max(values), 3),
            chat_p50_ratio=round(chat / medians[case], 2),
        )
        if cases[case][1]:
            row.note = f"{email} types {turn!r}, then end of input"
    report.target(
        "one-turn chat p50 wall",
        round(chat, 3),
        TARGET_S,
        "s",
        detail=f"{chat / python:.1f}x python -c pass, {chat / sqlalchemy:.1f}x importing SQLAlchemy",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench chat", description=__doc__.split("\n\n")[1])
    parser.add_argument("--runs", type=int, default=15, help="measured runs of each case")
    parser.add_argument("--turn", default=TURN, help="the line the script types")
    parser.add_argument("--as", dest="email", default=AS, metavar="EMAIL")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    report = Report(settings={"runs": args.runs, "turn": args.turn, "as": args.email})
    started = time.perf_counter()
    run(report, runs=args.runs, turn=args.turn, email=args.email)
    report.seconds = time.perf_counter() - started
    print(report.table())
    if args.json:
        report.write_json(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
