"""The details of an MDF message, read once the understanding layer has picked its intent: a request's
activity, dates, amount and expected results; a claim's proof and results; the amount approved or paid;
the partner a staff member names for a budget. None of this decides *which* intent a message is - that
is the layer's (:mod:`bot.features.mdf.intents`); these are the intents' ``parse`` functions and the
request dialog's readers."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from bot.features.mdf.service import find_activity_dates
from bot.kernel.amounts import Money, find_money, parse_money
from bot.kernel.errors import InputError
from bot.kernel.messages import FILE_REF
from bot.kernel.understanding.slots import SlotContext, after_reason_mark, free_name, name_after

MDF = r"(?:mdf|market[\s-]+development[\s-]+funds?)"
# The words that ask for funds, cut off the front of a request so that its activity is what follows.
REQUEST_RE = re.compile(
    r"^\s*(?:please\s+)?(?:(?:i|we)(?:'d|\s+would)\s+like(?:\s+to\s+(?:request|apply\s+for|ask\s+for|get))?"
    r"|(?:i|we)\s+(?:want|need)(?:\s+to\s+(?:request|apply\s+for|ask\s+for|get))?"
    r"|request(?:ing)?|apply(?:ing)?\s+for|ask(?:ing)?\s+for|new)\s+(?:some\s+|an?\s+)?"
    rf"{MDF}(?:\s+request)?\b(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
URL_RE = re.compile(rf"https?://[^\s<>]+|{FILE_REF}[^\s,;]+", re.IGNORECASE)
RESULTS_RE = re.compile(
    r"\b(?:actual\s+)?results?\b\s*(?:[:=\-–]|were|are|was)?\s*(?P<r>.+)$"
    r"|\b(?:we\s+got|we\s+had|got|achieved|delivered)\s+(?P<r2>.+)$",
    re.IGNORECASE | re.DOTALL,
)
EXPECT_RE = re.compile(
    r"[,;.]?\s*\b(?:expecting|we\s+expect|expect(?:ed)?(?:\s+results?)?|targeting|aiming\s+(?:at|for)"
    r"|goal(?:\s+is)?|results?)\b\s*[:=\-–]?\s*(?P<r>.+)$",
    re.IGNORECASE | re.DOTALL,
)
ACTIVITY_LEAD_RE = re.compile(r"^\s*(?:for|to\s+run|to\s+do|to\s+hold|on)\s+", re.IGNORECASE)
NO_CURRENCY = "XXX"
"""ISO 4217's "no currency": an amount typed without one takes the budget's (or the request's) currency
once known."""
# What a decision or a payment says besides its amount: the amount is what is left of the message.
_AMOUNT_FILLER_RE = re.compile(
    r"\b(?:approve[ds]?|approving|accept(?:ed)?|ok|okay|mark(?:ed)?|as|is|was|paid|pay|payout|in\s+part|"
    r"partially|partly|for|with|at|to|but|only|cap(?:ped)?|of|the|it|just|out)\b",
    re.IGNORECASE,
)
_REJECTED_RE = re.compile(
    r"^[\s,:;.\-–—]*(?:(?:is|was|has\s+been|gets?)\s+)?(?:rejected|declined|denied)?\b", re.IGNORECASE
)
_NUMBER_RE = re.compile(r"\d[\d.,]*\s*(?:k|m)?\b", re.IGNORECASE)


def money_slot(money: Money) -> dict[str, str]:
    return {"amount": str(money.amount), "currency": money.currency}


def money_of(slot: dict[str, str]) -> Money:
    return Money(Decimal(slot["amount"]), slot["currency"])


def clean_activity(text: str) -> str:
    text = ACTIVITY_LEAD_RE.sub("", text.strip(" ,;:.-"))
    text = re.sub(r"^(?:an?|the|our|my)\s+", "", text.strip(" ,;:.-"), flags=re.I)
    text = re.sub(r"\s*[,;]\s*(?:[,;]\s*)*", ", ", text).strip(" ,;:.-")
    # what was cut out leaves its separators behind: "webinar —   —   —" is "webinar"
    text = re.sub(r"(?:\s*[-–—|/]\s*)+(?=$|,)", "", text)
    text = re.sub(r"(?:\s+[-–—|]\s*){2,}", " - ", text).strip(" ,;:.-–—|")
    return text[:1].upper() + text[1:]


def request_details(text: str) -> str:
    """What follows the words that ask for MDF ("requesting mdf: booth at ..." -> "booth at ...")."""
    request = REQUEST_RE.match(text)
    if request:
        return request.group("rest")
    return _after_first(text, r"\b(?:mdf|funds?|money|budget)\b(?:\s+request)?\s*[:\-–—]?")


def parse_request_text(text: str, *, today: date) -> tuple[dict[str, Any], list[str]]:
    """Slots from a sentence such as "I'd like MDF for a webinar, 5k EUR, 10-20 March, expecting 40
    leads", and the problems found (a past date, an unreadable amount) to tell the person."""
    slots: dict[str, Any] = {}
    problems: list[str] = []
    rest = text
    expected = EXPECT_RE.search(rest)
    if expected and expected.group("r").strip(" .!"):
        slots["expected_results"] = expected.group("r").strip(" .!")
        rest = rest[: expected.start()]
    try:
        money = find_money(rest, default_currency=NO_CURRENCY)
    except InputError as exc:
        problems.append(exc.message)
        money = None
    if money:
        slots["amount"] = money_slot(money[0])
        rest = rest[: money[1][0]] + " " + rest[money[1][1] :]
    try:
        found = find_activity_dates(rest, today=today)
    except InputError as exc:
        problems.append(exc.message)
        found = None
    if found:
        (start, end), span = found
        slots["start"], slots["end"] = start.isoformat(), end.isoformat()
        rest = rest[: span[0]] + " " + rest[span[1] :]
    activity = clean_activity(rest)
    if len(activity) >= 3:
        slots["activity"] = activity
    return slots, problems


def request_slots(ctx: SlotContext) -> dict[str, Any]:
    """``mdf.request``: the request as the dialog keeps it (``draft``, with the ``problems`` to tell the
    person), and its activity, dates and expected leads as slots."""
    draft, problems = parse_request_text(request_details(ctx.text), today=ctx.today)
    found: dict[str, Any] = {"activity": draft.get("activity"), "draft": draft, "problems": problems}
    if draft.get("start"):
        found["start_date"] = date.fromisoformat(draft["start"])
        found["end_date"] = date.fromisoformat(draft["end"])
    leads = re.search(r"(\d+)\s*(?:leads?|mqls?)\b", ctx.text, re.I)
    if leads:
        found["expected_leads"] = int(leads.group(1))
    return found


def split_claim(rest: str, *, leftover_as_results: bool = True) -> tuple[str | None, str | None]:
    """(proof, actual results) from "with https://… results: 38 leads" - either may be missing. Without
    a results keyword, what is left after the proof counts as the results only if
    ``leftover_as_results``."""
    proof_match = URL_RE.search(rest or "")
    proof = proof_match.group(0).rstrip(".,;)") if proof_match else None
    remainder = rest or ""
    if proof_match:
        remainder = remainder[: proof_match.start()] + " " + remainder[proof_match.end() :]
    results = None
    found = RESULTS_RE.search(remainder)
    if found:
        results = (found.group("r") or found.group("r2") or "").strip(" .,;:")
    elif leftover_as_results:
        leftover = re.sub(r"\b(?:with|proof|and|here'?s|is|the|attached)\b", " ", remainder, flags=re.I)
        leftover = " ".join(leftover.replace(",", " ").replace(":", " ").split()).strip(" .;-")
        results = leftover if len(leftover) >= 3 else None
    return proof, results or None


def claim_slots(ctx: SlotContext) -> dict[str, Any]:
    """``mdf.claim``: the proof (a link or a shared file) and the actual results. After a typed
    reference, what follows it; without one (a request named by its activity) only a labelled result
    counts, so the words naming the activity are never taken for results."""
    refs = [s for s in ctx.entities.of("ref") if str(s.value).startswith("M-")]
    rest = ctx.text[refs[0].end :] if refs else ctx.text
    proof, results = split_claim(rest, leftover_as_results=bool(refs))
    return {"proof": proof, "results": results}


def amount_slots(ctx: SlotContext) -> dict[str, Any]:
    """``staff.mdf_decide`` and ``staff.mdf_paid``: the amount approved or paid, in no currency when
    none is typed (``NO_CURRENCY``: the request's own applies). A number that is not clearly an amount
    ("approve M-1, 2 webinars") is ``amount_unclear``, so nothing is approved on a guess."""
    blanked = ctx.entities.without("ref", "date", "quarter", "days", "url", "email", "name", "partner")
    try:
        found = find_money(blanked, default_currency=NO_CURRENCY)
    except InputError as exc:
        return {"invalid:amount": exc.message}
    if found is not None:
        return {"typed_amount": found[0]}
    numbers = _NUMBER_RE.findall(blanked)
    if not numbers:
        return {}
    bare = " ".join(_AMOUNT_FILLER_RE.sub(" ", blanked).split()).strip(" ,;:.!?-")
    try:
        return {"typed_amount": parse_money(bare, default_currency=NO_CURRENCY)}
    except InputError:
        return {"amount_unclear": numbers[0].strip()}


def decision_slots(ctx: SlotContext) -> dict[str, Any]:
    """``staff.mdf_decide``: the amount approved (:func:`amount_slots`) and a rejection's reason as the
    person wrote it - after the reference and the words that reject it ("reject M-2 because we fund one
    roadshow per quarter" -> "we fund one roadshow per quarter"). Without a typed reference the shared
    reason filler's reading stands."""
    found = amount_slots(ctx)
    refs = [s for s in ctx.entities.of("ref") if str(s.value).startswith("M-")]
    if refs:
        rest = _REJECTED_RE.sub("", ctx.text[refs[0].end :], count=1)
        marked = after_reason_mark(rest)
        reason = marked if marked is not None else rest.strip(" .,:;-–—")
        found["reason"] = reason if re.search(r"[^\W\d_]{3,}", reason) else None
    return found


def budget_slots(ctx: SlotContext) -> dict[str, Any]:
    """``mdf.balance`` and ``staff.mdf_budget``: the partner as typed when the name finder found none of
    the partners ("MDF balance for Initech"), so the skill can say which partners there are. A budget
    being set may name it anywhere ("MDF budget Initech 2027-Q1 50k"); a balance after "for" or "of"."""
    if ctx.entities.of("partner"):
        return {}
    named = named_after(ctx)
    if named is None and ctx.intent == "staff.mdf_budget":
        named = free_name(ctx, labels=("partner",))
    if named:
        named = re.sub(r"(?:\s+\d[\d-]*)+$", "", named).strip()
    return {"named": named or None}


def named_after(ctx: SlotContext) -> str | None:
    """A name typed after "for", "of" or "at" ("balance for Initech"), the values around it left out."""
    return name_after(ctx.entities.without("amount", "date", "quarter", "days", "ref", "url", "email"))


def _after_first(text: str, pattern: str) -> str:
    """What follows the first match of ``pattern`` in ``text`` (all of it when there is none)."""
    found = re.search(pattern, text, re.IGNORECASE)
    return text[found.end() :] if found else text
