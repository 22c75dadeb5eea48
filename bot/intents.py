"""A deal's details in free text, read the way the registration and update dialogs read an answer
("120k USD of Cloud Suite, closing end of March"); and a product named with a typo.

Which request a message is, is the understanding layer's (:mod:`bot.kernel.understanding`); this
module only reads details once a dialog asked for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from rapidfuzz import fuzz

from bot.kernel.amounts import Money, find_money
from bot.kernel.dates import find_close_date

REF = r"D-?(\d{1,9})"
REF_RE = re.compile(rf"\b{REF}\b", re.IGNORECASE)
DOMAIN_RE = re.compile(
    r"(?<![@\w.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})(?![\w@-])", re.I
)
NOTES_RE = re.compile(r"\b(?:notes?|comment)s?\s*[:=-]\s*(.+)$", re.I | re.S)
NEXT_STEP_RE = re.compile(r"\bnext step\s*(?:is|:|=|-)?\s*(.+?)(?:[.;]\s|$)", re.I | re.S)
COUNTRY_RE = re.compile(r"\bcountry\s*[:=]?\s*([A-Za-z]{2})\b", re.I)
PRODUCT_RE = re.compile(r"\bproduct\s*[:=]?\s*([^,;]+)", re.I)
CUSTOMER_RE = re.compile(
    r"\b(?:for|with|at|customer(?:\s+is)?|customer\s*[:=])\s+(?:the\s+customer\s+)?([^,;]+)", re.I
)

STAGE_WORDS = {
    "prospecting": "prospecting",
    "prospect": "prospecting",
    "qualification": "qualification",
    "qualified": "qualification",
    "qualifying": "qualification",
    "discovery": "qualification",
    "proposal": "proposal",
    "proposed": "proposal",
    "quote": "proposal",
    "quoted": "proposal",
    "negotiation": "negotiation",
    "negotiating": "negotiation",
    "commit": "commit",
    "committed": "commit",
    "verbal": "commit",
}
STAGE_RE = re.compile(r"\b(" + "|".join(sorted(STAGE_WORDS, key=len, reverse=True)) + r")\b", re.I)

EDIT_RE = re.compile(r"^\s*(edit|change|fix)\s*$", re.I)


@dataclass(slots=True)
class Details:
    """Deal details found in a sentence; ``None`` where not mentioned."""

    customer: str | None = None
    domain: str | None = None
    country: str | None = None
    product: str | None = None
    amount: Money | None = None
    close_date: date | None = None
    stage: str | None = None
    next_step: str | None = None
    notes: str | None = None
    leftover: str = ""


@dataclass(slots=True)
class Intent:
    name: str
    ref: str | None = None
    text: str = ""
    reason: str | None = None
    details: Details = field(default_factory=Details)


def _cut(text: str, span: tuple[int, int]) -> str:
    return text[: span[0]] + " " + text[span[1] :]


def match_product(text: str, products: list[str]) -> tuple[str, tuple[int, int]] | None:
    """A known product named in ``text`` (case-insensitive, tolerant of small typos)."""
    lowered = text.lower()
    for name in sorted(products, key=len, reverse=True):
        at = lowered.find(name.lower())
        if at >= 0:
            return name, (at, at + len(name))
    best: tuple[float, str] | None = None
    for name in products:
        if len(lowered.strip()) < 0.75 * len(name):
            continue  # partial_ratio would find a short text inside any longer product name
        score = fuzz.partial_ratio(name.lower(), lowered)
        if score >= 90 and (best is None or score > best[0]):
            best = (score, name)
    if best:
        alignment = fuzz.partial_ratio_alignment(best[1].lower(), lowered)
        if alignment is not None:
            return best[1], (alignment.dest_start, alignment.dest_end)
    return None


def extract_details(text: str, *, today: date, products: list[str], default_currency: str) -> Details:
    """Pull deal details out of free text such as
    'register a deal for Globex, 120k USD of Cloud Suite, closing end of March'."""
    details = Details()
    rest = text
    notes = NOTES_RE.search(rest)
    if notes:
        details.notes = notes.group(1).strip()
        rest = rest[: notes.start()]
    step = NEXT_STEP_RE.search(rest)
    if step:
        details.next_step = step.group(1).strip().rstrip(".")
        rest = _cut(rest, step.span())
    rest = REF_RE.sub(" ", rest)
    found_money = find_money(rest, default_currency=default_currency)
    if found_money:
        details.amount = found_money[0]
        rest = _cut(rest, found_money[1])
    found_date = find_close_date(rest, today=today)
    if found_date:
        details.close_date = found_date[0]
        rest = _cut(rest, found_date[1])
    country = COUNTRY_RE.search(rest)
    if country:
        details.country = country.group(1).upper()
        rest = _cut(rest, country.span())
    domain = DOMAIN_RE.search(rest)
    if domain:
        details.domain = domain.group(1).lower()
        rest = _cut(rest, domain.span())
    explicit_product = PRODUCT_RE.search(rest)
    known = match_product(rest, products) if products else None
    if known:
        details.product = known[0]
        rest = _cut(rest, known[1])
    elif explicit_product:
        details.product = explicit_product.group(1).strip()
        rest = _cut(rest, explicit_product.span())
    stage = STAGE_RE.search(rest)
    if stage:
        details.stage = STAGE_WORDS[stage.group(1).lower()]
        rest = _cut(rest, stage.span())
    customer = CUSTOMER_RE.search(rest)
    if customer:
        name = re.sub(r"\s+(?:of|worth|for)\s*$", "", customer.group(1)).strip(" .")
        name = re.sub(r"\s+", " ", name)
        if name:
            details.customer = name
            rest = _cut(rest, customer.span())
    details.leftover = " ".join(rest.split())
    return details
