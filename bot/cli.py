"""``partnerbot``: the console entry point (INTERFACE.md). Bad arguments exit non-zero with a message
naming the field; nothing is half-written."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.kernel.errors import PartnerbotError

if TYPE_CHECKING:
    from bot.bootstrap import Core

MIN_AT = datetime(2000, 1, 1)
MAX_AT = datetime(2199, 12, 31, 23, 59, 59)
AT_RANGE = "2000-01-01 and 2199-12-31"


def _at(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"--at must be ISO-8601, e.g. 2027-01-15T09:00:00Z, not {value!r}"
        ) from exc
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        except OverflowError as exc:
            raise argparse.ArgumentTypeError(
                f"--at must be a time between {AT_RANGE}, not {value!r}"
            ) from exc
    # The jobs add weeks and subtract years from this clock: keep it where that stays a date.
    if not MIN_AT <= parsed <= MAX_AT:
        raise argparse.ArgumentTypeError(f"--at must be a time between {AT_RANGE}, not {value!r}")
    return parsed


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="partnerbot", description="partner assistant for channel sales")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve Slack, Teams and health endpoints")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=3978)
    serve.add_argument("--no-scheduler", action="store_true")

    chat = sub.add_parser("chat", help="talk to the bot in the terminal")
    chat.add_argument("--as", dest="email", required=True, metavar="EMAIL")

    dbp = sub.add_parser("db", help="database maintenance")
    dbp.add_argument("action", choices=["upgrade"])

    sub.add_parser("demo", help="load demo data (idempotent)")

    partner = sub.add_parser("partner", help="partner organisations")
    psub = partner.add_subparsers(dest="action", required=True)
    padd = psub.add_parser("add", help="create or update a partner")
    padd.add_argument("name")
    padd.add_argument("--tier", required=True)
    padd.add_argument("--region", required=True)
    padd.add_argument("--country", action="append", default=[])
    padd.add_argument("--slack-team")
    padd.add_argument("--teams-tenant")
    padd.add_argument("--channel-manager", metavar="EMAIL")

    user = sub.add_parser("user", help="people")
    usub = user.add_subparsers(dest="action", required=True)
    uadd = usub.add_parser("add", help="create or update a person")
    uadd.add_argument("email")
    uadd.add_argument("--name", required=True)
    who = uadd.add_mutually_exclusive_group(required=True)
    who.add_argument("--partner")
    who.add_argument("--staff", action="store_true")
    uadd.add_argument("--role", action="append", default=[])
    uadd.add_argument("--topic", action="append", default=[])
    uadd.add_argument("--region")
    uadd.add_argument("--slack-id")
    uadd.add_argument("--slack-team")
    uadd.add_argument("--teams-id")
    uadd.add_argument("--teams-tenant")
    uadd.add_argument("--tz")

    people = sub.add_parser("people", help="who can be reached")
    pesub = people.add_subparsers(dest="action", required=True)
    pesub.add_parser("unreachable", help="people with messages waiting because they can't be reached")

    lead = sub.add_parser("lead", help="leads")
    lsub = lead.add_subparsers(dest="action", required=True)
    limport = lsub.add_parser("import", help="import leads from a CSV file, then distribute them")
    limport.add_argument("file", type=Path)

    kb = sub.add_parser("kb", help="knowledge base")
    ksub = kb.add_subparsers(dest="action", required=True)
    kimport = ksub.add_parser("import", help="import question,answer[,topic][,tags] rows from a CSV file")
    kimport.add_argument("file", type=Path)

    nudges = sub.add_parser("nudges", help="nudge numbers for staff")
    nsub = nudges.add_subparsers(dest="action", required=True)
    nstats = nsub.add_parser("stats", help="nudges per person per week, answers within 48 h, staleness")
    nstats.add_argument("--as", dest="email", required=True, metavar="EMAIL", help="a staff member")
    nstats.add_argument("--days", type=int, default=28)
    nstats.add_argument("--at", type=_at)

    content = sub.add_parser("content", help="content and announcements")
    csub = content.add_subparsers(dest="action", required=True)
    cpub = csub.add_parser("publish", help="publish a content item to its audience")
    cpub.add_argument("--title", required=True)
    cpub.add_argument("--url", required=True)
    cpub.add_argument("--summary")
    cpub.add_argument("--tier", action="append", default=[])
    cpub.add_argument("--region", action="append", default=[])
    cpub.add_argument("--partner", action="append", default=[])
    cpub.add_argument("--person", action="append", default=[], metavar="EMAIL")
    cpub.add_argument("--expires", metavar="DATE", help="last day the item is shown, e.g. 2027-03-31")
    cpub.add_argument("--as", dest="email", metavar="EMAIL", help="publish as this staff member")

    mdf = sub.add_parser("mdf", help="market development funds")
    msub = mdf.add_subparsers(dest="action", required=True)
    mbudget = msub.add_parser("budget", help="create or change a partner's MDF budget for a quarter")
    mbudget.add_argument("partner")
    mbudget.add_argument("--quarter", required=True, help="e.g. 2027-Q1")
    mbudget.add_argument("--amount", required=True, help='e.g. "50k EUR"')

    teams = sub.add_parser("teams", help="Microsoft Teams app")
    tsub = teams.add_subparsers(dest="action", required=True)
    tpkg = tsub.add_parser("package", help="build the Teams app package (zip)")
    tpkg.add_argument("--out", default="partnerbot-teams.zip")
    tpkg.add_argument("--host", help="public host name of this deployment")

    jobs = sub.add_parser("jobs", help="scheduled sweeps")
    jsub = jobs.add_subparsers(dest="action", required=True)
    jsub.add_parser("list")
    jrun = jsub.add_parser("run")
    jrun.add_argument("name")
    jrun.add_argument("--at", type=_at)
    return p


async def _with_core(settings: Settings, work: Callable[[Core], Awaitable[int]]) -> int:
    from bot.wiring import build_core

    core = build_core(settings)
    try:
        return await work(core)
    finally:
        await core.db.dispose()


def run(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    from bot.logs import configure_logging

    configure_logging(settings, level=logging.INFO if args.command == "serve" else logging.WARNING)
    if args.command == "serve":
        from bot.app import serve

        serve(settings, host=args.host, port=args.port, scheduler=not args.no_scheduler)
        return 0
    if args.command == "teams":
        from handlers.teams.package import build_teams_package

        out = build_teams_package(
            out=Path(args.out), app_id=settings.microsoft_app_id or None, host=args.host
        )
        print(f"wrote {out}")
        if not settings.microsoft_app_id:
            print("note: MICROSOFT_APP_ID is not set, so the package carries a placeholder bot id")
        return 0
    from store.db import upgrade

    upgrade(settings.database_url)
    if args.command == "db":
        print("database is at the newest revision")
        return 0
    return asyncio.run(_with_core(settings, lambda core: _command(core, args)))


async def _command(core: Core, args: argparse.Namespace) -> int:
    return await COMMANDS[args.command](core, args)


async def _demo(core: Core, args: argparse.Namespace) -> int:
    """``partnerbot demo``: the demo data (idempotent)."""
    from bot.demo import seed

    created = await seed(core)
    print("\n".join(created) if created else "demo data already present")
    return 0


async def _people(core: Core, args: argparse.Namespace) -> int:
    """``partnerbot people unreachable``: who has messages waiting that can not reach them."""
    from bot.kernel.outbox import unreachable_people

    stuck = await unreachable_people(core.db)
    if not stuck:
        print("Everyone with a message waiting could be reached.")
    for one in stuck:
        org = f", {one.partner}" if one.partner else ", staff"
        print(
            f"{one.email} ({one.name}{org}): {one.waiting} message(s) waiting since "
            f"{one.since:%Y-%m-%d %H:%M} UTC\n  why: {one.reason}\n  remedy: {one.remedy}"
        )
    return 0


async def _chat(core: Core, args: argparse.Namespace) -> int:
    """``partnerbot chat --as EMAIL``: the conversation in the terminal."""
    from handlers.console import ConsoleSession

    actor = await core.people.console_actor(args.email)
    if actor is None:
        print(
            f"No one with e-mail {args.email}; add them with 'partnerbot user add' or run 'partnerbot demo'.",
            file=sys.stderr,
        )
        return 2
    await ConsoleSession(core=core, actor=actor).run()
    return 0


async def _partner(core: Core, args: argparse.Namespace) -> int:
    """``partnerbot partner add ...``"""
    partner, created = await core.people.add_partner(
        name=args.name,
        tier=args.tier,
        region=args.region,
        countries=args.country,
        workspaces=_workspaces(args),
        channel_manager_email=args.channel_manager,
    )
    print(f"{'created' if created else 'updated'} partner {partner.name} ({partner.tier}, {partner.region})")
    return 0


def _workspaces(args: argparse.Namespace) -> list[tuple[str, str]]:
    """``--slack-team T --teams-tenant X`` as the core's ``(platform, workspace)`` pairs."""
    flags = (("slack", args.slack_team), ("teams", args.teams_tenant))
    return [(platform, value) for platform, value in flags if value]


async def _user(core: Core, args: argparse.Namespace) -> int:
    """``partnerbot user add ...``"""
    identities = []
    if bool(args.slack_id) != bool(args.slack_team):
        raise PartnerbotError("--slack-id and --slack-team go together")
    if bool(args.teams_id) != bool(args.teams_tenant):
        raise PartnerbotError("--teams-id and --teams-tenant go together")
    if args.slack_id:
        identities.append(("slack", args.slack_team, args.slack_id))
    if args.teams_id:
        identities.append(("teams", args.teams_tenant, args.teams_id))
    person, created = await core.people.add_user(
        email=args.email,
        name=args.name,
        partner=args.partner,
        staff=args.staff,
        roles=args.role,
        topics=args.topic,
        region=args.region,
        tz=args.tz,
        identities=identities,
    )
    print(
        f"{'created' if created else 'updated'} {'staff member' if args.staff else 'partner user'} {person.email}"
    )
    return 0


async def _lead(core: Core, args: argparse.Namespace) -> int:
    """``partnerbot lead import FILE.csv``"""
    from bot.features.leads.service import import_leads_csv
    from scheduler.jobs import deliver_outbox

    result = await import_leads_csv(core.leads, args.file)
    print(result.summary())
    print(f"deliver_outbox: {await deliver_outbox(core, core.clock())}")
    return 0


async def _kb(core: Core, args: argparse.Namespace) -> int:
    """``partnerbot kb import FILE.csv``"""
    from bot.features.questions.service import import_kb_csv

    count = await import_kb_csv(core.questions, args.file)
    print(f"imported {count} knowledge-base entr{'y' if count == 1 else 'ies'}")
    return 0


async def _content(core: Core, args: argparse.Namespace) -> int:
    """``partnerbot content publish ...``"""
    from bot.features.content.service import publish_content
    from scheduler.jobs import deliver_outbox

    published = await publish_content(
        core.content,
        core.people,
        title=args.title,
        url=args.url,
        summary=args.summary,
        tiers=args.tier,
        regions=args.region,
        partners=args.partner,
        people=args.person,
        expires=args.expires,
        actor_email=args.email,
    )
    print(published.summary())
    print(f"deliver_outbox: {await deliver_outbox(core, core.clock())}")
    return 0


async def _mdf(core: Core, args: argparse.Namespace) -> int:
    """``partnerbot mdf budget PARTNER --quarter Q --amount A``"""
    from bot.features.mdf.service import set_mdf_budget

    print(await set_mdf_budget(core.mdf, partner=args.partner, quarter=args.quarter, amount=args.amount))
    return 0


async def _nudges(core: Core, args: argparse.Namespace) -> int:
    """``partnerbot nudges stats --as EMAIL``"""
    from handlers.console import render

    staff = await core.people.actor_by_email(args.email, channel="cli")
    if staff is None or not staff.is_staff:
        raise PartnerbotError(f"{args.email} is not a member of vendor staff")
    print(render(await core.nudges.stats(staff, now=args.at, days=args.days), []))
    return 0


async def _jobs(core: Core, args: argparse.Namespace) -> int:
    """``partnerbot jobs list | run NAME [--at ISO]``"""
    from scheduler.jobs import JOBS

    if args.action == "list":
        for job in JOBS.values():
            print(f"{job.name}\t{job.trigger} {job.every}\t{job.description}")
        return 0
    chosen = JOBS.get(args.name)
    if chosen is None:
        raise PartnerbotError(f"no job named {args.name!r}; 'partnerbot jobs list' shows them")
    now = args.at or core.clock()
    print(f"{chosen.name}: {await chosen.run(core, now)}")
    if chosen.name != "deliver_outbox":
        from scheduler.jobs import deliver_outbox

        print(f"deliver_outbox: {await deliver_outbox(core, now)}")
    return 0


COMMANDS: dict[str, Callable[[Core, argparse.Namespace], Awaitable[int]]] = {
    "demo": _demo,
    "people": _people,
    "chat": _chat,
    "partner": _partner,
    "user": _user,
    "lead": _lead,
    "kb": _kb,
    "content": _content,
    "mdf": _mdf,
    "nudges": _nudges,
    "jobs": _jobs,
}


def main(argv: Sequence[str] | None = None) -> None:
    try:
        code = run(argv)
    except PartnerbotError as exc:
        field = getattr(exc, "field", None)
        print(f"error{f' ({field})' if field else ''}: {exc}", file=sys.stderr)
        code = 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
