"""``python -m bench nlu [--corpus FILE] [--model bayes|nearest] [--compare] [--outcomes] [--json FILE]``

Runs a labelled corpus (default ``../shared/corpus/dev-plainwords.jsonl``; format in its README) through the
understanding layer of a core seeded with ``partnerbot demo`` data, as each line's person, and prints:

* accuracy per intent and per slot, and the share of lines passed: right intent and slots and the layer
  acts on it; for a line marked ambiguous, a choice or a question instead of an action; for a line of
  bad input, anything but acting on a valid reading;
* with ``--outcomes``, each line also goes through the conversation on a fresh copy of the demo
  database, and the shares of fallbacks ("I didn't catch that"), clarifications (choices, a confirmation
  or a question back) and wrong writes (a bad-input or ambiguous line that changed the database, or a
  line whose audit rows name a different kind of record than its intent) are printed;
* ``--compare`` prints the intent accuracy of every model (see :mod:`bot.kernel.understanding.model`).

The run date is today in each person's time zone, as the corpus README says.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import json
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.kernel.amounts import Money
from bot.kernel.companies import normalize_company
from bot.kernel.understanding.spec import Understood, confirmed_first

ROOT = Path(__file__).resolve().parents[1]
DEV_CORPUS = ROOT.parent / "shared" / "corpus" / "dev-plainwords.jsonl"
FREE_TEXT = {"reason", "next_step", "notes", "text", "proof", "activity", "title"}
NAMES = {"customer", "partner", "product"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def ambiguous(line: dict[str, Any]) -> bool:
    return "ambiguous:" in line.get("notes", "")


def bad_input(line: dict[str, Any]) -> bool:
    return "expect: clear error" in line.get("notes", "")


# -- expected values ------------------------------------------------------------------------------


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _quarter_end(year: int, quarter: int) -> date:
    return _month_end(year, quarter * 3)


def _add_months(d: date, n: int) -> date:
    index = d.year * 12 + d.month - 1 + n
    year, month = divmod(index, 12)
    return date(year, month + 1, min(d.day, calendar.monthrange(year, month + 1)[1]))


def expected_date(rule: str, today: date) -> date | None:
    """A corpus date rule resolved against ``today`` (None for rules relative to a record's own date)."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", rule):
        return date.fromisoformat(rule)
    kind, _, arg = rule.partition(":")
    quarter = (today.month - 1) // 3 + 1
    if kind == "today":
        return today
    if kind == "tomorrow":
        return today + timedelta(days=1)
    if kind in ("in_days", "in_weeks"):
        return today + timedelta(days=int(arg) * (7 if kind == "in_weeks" else 1))
    if kind == "in_months":
        return _add_months(today, int(arg))
    if kind == "end_of_week":
        return today + timedelta(days=(4 - today.weekday()) % 7)
    if kind == "next_weekday":
        ahead = (WEEKDAYS.index(arg) - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    if kind == "end_of_month":
        return _month_end(today.year, today.month)
    if kind == "next_month_end":
        return (
            _month_end(*divmod(today.year * 12 + today.month, 12))
            if today.month < 12
            else _month_end(today.year + 1, 1)
        )
    if kind == "end_of_quarter":
        return _quarter_end(today.year, quarter)
    if kind == "next_quarter_end":
        return _quarter_end(today.year + (quarter == 4), quarter % 4 + 1)
    if kind == "quarter_end":
        q = int(arg[1])
        return _quarter_end(today.year + (q < quarter), q)
    if kind == "end_of_year":
        return date(today.year, 12, 31)
    if kind in ("month_end", "month_start", "month_mid"):
        month = int(arg)
        year = today.year + (month < today.month)
        day = {"month_start": 1, "month_mid": 15}.get(kind)
        return date(year, month, day) if day else _month_end(year, month)
    if kind == "date":
        month, day = (int(x) for x in arg.split("-"))
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    return None


def expected_quarter(rule: str, today: date) -> str:
    current = (today.month - 1) // 3 + 1
    index = today.year * 4 + current - 1
    shifts = {"this_quarter": 0, "next_quarter": 1, "last_quarter": -1}
    if rule in shifts:
        index += shifts[rule]
        return f"{index // 4}-Q{index % 4 + 1}"
    if re.fullmatch(r"Q[1-4]", rule):
        q = int(rule[1])
        return f"{today.year + (q < current)}-Q{q}"
    return rule


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", str(text).lower()) if len(w) > 2}


def slot_ok(name: str, expected: Any, got: Any, today: date) -> bool:
    if isinstance(expected, str) and expected.startswith("invalid:"):
        return False  # scored by the caller: an invalid value must not be acted on
    if got is None:
        return name.endswith("_date") and isinstance(expected, str) and expected.startswith("shift_")
    if name in NAMES:
        return normalize_company(str(got)) == normalize_company(str(expected))
    if name == "amount":
        value = got.amount if isinstance(got, Money) else got
        return float(value) == float(expected)
    if name == "currency":
        return isinstance(got, str) and got.upper() == str(expected).upper()
    if name.endswith("_date"):
        want = expected_date(str(expected), today)
        return want is None or got == want
    if name == "ref":
        return isinstance(expected, str) and got == expected
    if name == "refs":
        return sorted(got) == sorted(expected)
    if name == "quarter":
        return got == expected_quarter(str(expected), today)
    if name in FREE_TEXT:
        want = _words(expected)
        return not want or len(want & _words(got)) >= max(1, len(want) // 2)
    return str(got).lower() == str(expected).lower()


# -- scoring one line ------------------------------------------------------------------------------


@dataclass
class Score:
    lines: int = 0
    passed: int = 0
    intent_right: Counter[str] = field(default_factory=Counter)
    intent_total: Counter[str] = field(default_factory=Counter)
    slot_right: Counter[str] = field(default_factory=Counter)
    slot_total: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    kinds_passed: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    def share(self, what: str) -> float:
        return self.outcomes[what] / self.lines if self.lines else 0.0


def missing(reading: Any, specs: dict[str, Any]) -> list[str]:
    spec = specs.get(reading.intent)
    if spec is None:
        return []
    return [n for n in spec.needs if not reading.slots.get(n) and not reading.slots.get(n + "s")]


def score_line(
    line: dict[str, Any], understood: Any, today: date, score: Score, specs: dict[str, Any] | None = None
) -> bool:
    specs = specs or {}
    best = understood.best
    intent = best.intent if best else "meta.unknown"
    want = line["intent"]
    kind = "ambiguous" if ambiguous(line) else "bad input" if bad_input(line) else "plain"
    score.lines += 1
    score.kinds[kind] += 1
    score.decisions[understood.decision] += 1
    score.intent_total[want] += 1
    if intent == want:
        score.intent_right[want] += 1
    slots: dict[str, Any] = dict(best.slots) if best else {}
    if "amount" in slots and isinstance(slots["amount"], Money) and "currency" in line["slots"]:
        slots["currency"] = slots["amount"].currency
    slots_right = True
    wrong: list[str] = []
    for name, expected in line["slots"].items():
        score.slot_total[name] += 1
        if isinstance(expected, str) and expected.startswith("invalid:"):
            ok = bool(best and name in best.invalid) or understood.decision != "act"
        else:
            # several references ("approve d1 and d2") are the reading's ``refs``, its ``ref`` the first
            got = slots.get("refs") if name == "ref" and isinstance(expected, list) else slots.get(name)
            ok = intent == want and slot_ok(
                "refs" if isinstance(expected, list) and name == "ref" else name, expected, got, today
            )
        if ok:
            score.slot_right[name] += 1
        else:
            wrong.append(f"{name}: want {expected!r} got {slots.get(name)!s}")
        slots_right = slots_right and ok
    # acting on a reading without the record it needs, or with a value it cannot take, is the skill
    # asking which record, or saying what it needs instead; a write on a record found by name is
    # confirmed first ("Mark D-1 as lost (Initech GmbH) - is that right?"): a question back, nothing written
    spec = specs.get(best.intent) if best else None
    asks = understood.decision != "act" or bool(
        best and (missing(best, specs) or best.invalid or (spec is not None and confirmed_first(spec, best)))
    )
    if kind == "ambiguous":
        passed = asks or intent == "meta.unknown"
    elif kind == "bad input":
        passed = intent == want or asks
    elif want == "meta.unknown":
        passed = asks or intent == "meta.unknown"
    else:
        passed = intent == want and slots_right and understood.decision == "act"
    if passed:
        score.passed += 1
        score.kinds_passed[kind] += 1
    else:
        why = f"got {intent}" if intent != want else "; ".join(wrong) or "right reading, not acted on"
        score.failures.append(
            f"{line['id']} [{kind}] {line['text']!r}\n    want {want}, {understood.decision}: {why}"
        )
    return passed


def _shown(slots: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in slots.items()) + "}"


# -- the demo world -----------------------------------------------------------------------------


async def demo_template(folder: Path) -> Path:
    """A SQLite file with ``partnerbot demo`` data (migrated and seeded once per run)."""
    from bot.bootstrap import Core
    from bot.config import Settings
    from bot.demo import seed
    from store.db import upgrade

    path = folder / "demo.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    core = Core.build(Settings.from_env({"DATABASE_URL": url}))
    await seed(core)
    await core.db.dispose()
    return path


async def core_on(path: Path) -> Any:
    from bot.bootstrap import Core
    from bot.config import Settings

    return Core.build(Settings.from_env({"DATABASE_URL": f"sqlite:///{path}"}))


async def _counts(core: Any) -> dict[str, int]:
    from sqlalchemy import text

    counts = {}
    async with core.db.transaction() as session:
        for table in ("deals", "leads", "questions", "mdf_requests", "audit_log"):
            try:
                counts[table] = (await session.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar_one()
            except Exception:
                counts[table] = 0
    return counts


async def run(
    corpus: list[dict[str, Any]], *, model: str | None = None, outcomes: bool = False
) -> tuple[Score, list[float]]:
    from bot.kernel.understanding import reader

    folder = Path(tempfile.mkdtemp(prefix="partnerbot-nlu-"))
    timings: list[float] = []
    try:
        template = await demo_template(folder)
        core = await core_on(template)
        conversation = core.conversation
        if model:  # the same intents, read by another model
            trained = reader.Understanding(conversation.understanding().specs.values(), model=model)
            conversation.understanding = lambda: trained  # type: ignore[method-assign]
        actors: dict[str, Any] = {}
        score = Score()
        for line in corpus:
            who = line["as"]
            if who not in actors:
                actors[who] = await core.people.actor_by_email(who, channel="console")
            actor = actors[who]
            started = time.perf_counter()
            understood = await conversation.understand(actor, line["text"])
            timings.append(time.perf_counter() - started)
            taken = conversation.taken_when_unsure(actor, understood)
            if taken is not None:  # what the conversation acts on: a question for a person, say
                understood = Understood(understood.text, [taken, *understood.readings], "act")
            today = core.clock().astimezone(ZoneInfo(actor.tz)).date()
            score_line(line, understood, today, score, conversation.understanding().specs)
            if outcomes:
                await _outcome(line, template, folder, actor, score)
        await core.db.dispose()
        return score, timings
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _outcome(line: dict[str, Any], template: Path, folder: Path, actor: Any, score: Score) -> None:
    copy = folder / "line.db"
    shutil.copyfile(template, copy)
    core = await core_on(copy)
    try:
        before = await _counts(core)
        replies = await core.conversation.handle_text(actor, line["text"])
        after = await _counts(core)
    finally:
        await core.db.dispose()
    text = " ".join(r.text for r in replies)
    wrote = after != before
    if "I didn't catch that" in text:
        score.outcomes["fallback"] += 1
    if "I'm not sure what you mean" in text or "is that right?" in text or text.rstrip().endswith("?"):
        score.outcomes["clarification"] += 1
    wrong = ""
    if wrote and (ambiguous(line) or bad_input(line) or line["intent"] == "meta.unknown"):
        wrong = "wrote on an ambiguous or bad line"
    if wrote and after.get("questions", 0) > before.get("questions", 0) and line["intent"] != "question.ask":
        wrong = "routed a question by mistake"
        score.outcomes["question routed by mistake"] += 1
    if wrong:
        score.outcomes["wrong write"] += 1
        score.failures.append(f"{line['id']} {line['text']!r}\n    {wrong}: {text[:120]!r}")


def report(score: Score, timings: list[float], *, title: str) -> str:
    out = [
        f"== {title} ==",
        f"lines: {score.lines}, passed: {score.passed} ({score.passed / max(1, score.lines):.1%})",
    ]
    for kind in ("plain", "ambiguous", "bad input"):
        if score.kinds[kind]:
            out.append(
                f"  {kind}: {score.kinds_passed[kind]}/{score.kinds[kind]} ({score.kinds_passed[kind] / score.kinds[kind]:.1%})"
            )
    intent_right = sum(score.intent_right.values())
    out.append(f"intent accuracy: {intent_right}/{score.lines} ({intent_right / max(1, score.lines):.1%})")
    out.append("decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(score.decisions.items())))
    if score.outcomes:
        out.append(
            "outcomes: "
            + ", ".join(f"{k} {v} ({v / score.lines:.1%})" for k, v in sorted(score.outcomes.items()))
        )
    out.append("per intent (right/total):")
    for intent in sorted(score.intent_total):
        out.append(f"  {intent:22} {score.intent_right[intent]:3}/{score.intent_total[intent]:3}")
    out.append("per slot (right/total):")
    for slot in sorted(score.slot_total):
        out.append(f"  {slot:22} {score.slot_right[slot]:3}/{score.slot_total[slot]:3}")
    if timings:
        ordered = sorted(timings)
        p50 = ordered[len(ordered) // 2] * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        out.append(
            f"understanding per message (names read from the database included): p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench nlu")
    parser.add_argument("--corpus", type=Path, action="append")
    parser.add_argument("--model", choices=("bayes", "nearest"))
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--outcomes", action="store_true")
    parser.add_argument("--failures", action="store_true", help="print every line that did not pass")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    corpus = [line for path in (args.corpus or [DEV_CORPUS]) for line in load(path)]
    results: dict[str, Any] = {}
    models = ["bayes", "nearest"] if args.compare else [args.model or "bayes"]
    for model in models:
        score, timings = asyncio.run(run(corpus, model=model, outcomes=args.outcomes and not args.compare))
        print(report(score, timings, title=f"model {model}"))
        if args.failures:
            print("\n".join(score.failures))
        results[model] = {
            "lines": score.lines,
            "passed": score.passed,
            "intent_right": sum(score.intent_right.values()),
            "outcomes": dict(score.outcomes),
        }
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
