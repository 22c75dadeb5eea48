"""The values inside a message, found before its intent is guessed: references, amounts, dates, quarters,
products, links, and the names of records the person may see.

Each is a :class:`Span` of the text. The model reads the message with every span replaced by a
placeholder (``xdref``, ``xamount``, ``xname`` ...), so "we lost stark on price" and "we lost D-3 on
price" look alike to it, and the slot filler takes the values from the same spans. Nothing here knows a
feature: record names come from the :class:`Named` entries the features provide for the person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rapidfuzz import fuzz

from bot.kernel.amounts import find_money
from bot.kernel.companies import LEGAL_SUFFIXES, normalize_domain
from bot.kernel.countries import find_country
from bot.kernel.dates import find_close_date, parse_listed_date
from bot.kernel.errors import InputError
from bot.kernel.messages import FILE_REF
from bot.kernel.refs import ANY_REF_RE, normalize_ref
from bot.kernel.words import fold

_URL_RE = re.compile(rf"(?:https?://|www\.)[^\s<>|]+|\b{FILE_REF}[^\s,;]+", re.IGNORECASE)
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DOMAIN_RE = re.compile(
    r"(?<![\w@./-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24}(?![\w@/-]|\.\w)", re.I
)
QUARTER_RE = re.compile(
    r"\b(?:(?P<y1>20\d\d)[-\s]?Q(?P<q1>[1-4])|Q(?P<q2>[1-4])(?:\s*(?:/|')?\s*(?P<y2>20\d\d|\d\d)\b)?"
    r"|(?P<rel>this|next|last|previous|current)\s+quarter)\b",
    re.IGNORECASE,
)
_DAYS_RE = re.compile(r"\b(?P<n>\d{1,3})\s*(?P<unit>days?|d|weeks?|wks?|w)\b(?!/)", re.IGNORECASE)
# Length-preserving rewrites for the date finder, so its spans still point into the original text.
_DATE_REWRITES = (
    (re.compile(r"\b(?:to|til)(?=\s+(?:the\s+)?(?:end|mid|early|late|next|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|q[1-4]\b))", re.I), lambda m: "by".ljust(len(m.group(0)))),
    (re.compile(r"\binto(?=\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|q[1-4]\b|next))", re.I), "  by"),
)  # fmt: skip
_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# An item of a list typed on one line: between commas, semicolons, pipes, dashes or line breaks.
_ITEM_RE = re.compile(
    r"(?:^|(?<=[,;|\n])|(?<=\s[-–—]))(?P<item>[^,;|\n–—]+?)(?=$|[,;|\n]|\s[-–—]\s|[.!?]\s*$)"
)
# Words too common to stand for a company on their own.
COMMON_WORDS = frozenset(
    """a an the and or of for to in on at by with my our your new old one deal deals lead leads opp
    global first general united national international systems solutions services partners partner
    integrators retail logistics group company industries cloud security edge suite pack gateway
    bank corp inc data tech digital software network networks""".split()
)


@dataclass(frozen=True, slots=True)
class Named:
    """A record the person may see, by a name they might type: a deal's customer (``kind="D"``), a
    lead's company (``"L"``), an MDF activity (``"M"``), a partner (``"partner"``)."""

    kind: str
    ref: str
    name: str


@dataclass(frozen=True, slots=True)
class Span:
    kind: str  # ref, url, email, domain, amount, date, quarter, product, country, name, partner, days
    start: int
    end: int
    value: Any
    score: float = 100.0
    error: str | None = None  # a value that is there but cannot be accepted


@dataclass(slots=True)
class Entities:
    text: str
    spans: list[Span] = field(default_factory=list)
    names: list[Span] = field(default_factory=list)  # every record a name may mean, best first

    def of(self, kind: str) -> list[Span]:
        return [s for s in self.spans if s.kind == kind]

    def first(self, kind: str) -> Span | None:
        found = self.of(kind)
        return found[0] if found else None

    def refs(self, kind: str | None = None) -> list[str]:
        return [s.value for s in self.of("ref") if kind is None or s.value.split("-")[0] == kind]

    def add(self, span: Span) -> bool:
        """Keep ``span`` unless it overlaps one already found (found first = more specific)."""
        if any(s.start < span.end and span.start < s.end for s in self.spans):
            return False
        self.spans.append(span)
        return True

    def without(self, *kinds: str) -> str:
        """The text with the spans of ``kinds`` (all when none given) blanked out."""
        chars = list(self.text)
        for s in self.spans:
            if not kinds or s.kind in kinds:
                chars[s.start : s.end] = " " * (s.end - s.start)
        return "".join(chars)

    def placeholders(self) -> str:
        """The text as the model reads it: every span replaced by its placeholder word."""
        out, at = [], 0
        for s in sorted(self.spans, key=lambda s: s.start):
            out.append(self.text[at : s.start])
            out.append(f" {placeholder(s)} ")
            at = s.end
        out.append(self.text[at:])
        return "".join(out)


def placeholder(span: Span) -> str:
    if span.kind == "ref":
        return f"x{str(span.value).split('-')[0].lower()}ref"
    return f"x{span.kind}"


def find_entities(
    text: str,
    *,
    today: date,
    products: list[str],
    names: list[Named],
    default_currency: str,
) -> Entities:
    found = Entities(text)
    for m in ANY_REF_RE.finditer(text):
        found.add(Span("ref", m.start(), m.end(), normalize_ref(m.group(0))))
    for m in _URL_RE.finditer(text):
        found.add(Span("url", m.start(), m.end(), m.group(0).rstrip(".,)")))
    for m in _EMAIL_RE.finditer(text):
        found.add(Span("email", m.start(), m.end(), m.group(0)))
    for m in _DOMAIN_RE.finditer(text):
        try:
            domain = normalize_domain(m.group(0))
        except InputError:
            continue
        found.add(Span("domain", m.start(), m.end(), domain))
    _find_money(found, default_currency)
    _find_date(found, today)
    for m in QUARTER_RE.finditer(text):
        found.add(Span("quarter", m.start(), m.end(), quarter_of(m, today)))
    for product, (start, end) in find_products(text, products):
        found.add(Span("product", start, end, product))
    country = find_country(found.without())
    if country is not None:
        found.add(Span("country", country[1][0], country[1][1], country[0]))
    found.names = find_names(text, names)
    for span in found.names:
        found.add(span)
    for m in _DAYS_RE.finditer(text):
        n = int(m.group("n"))
        found.add(Span("days", m.start(), m.end(), n * 7 if m.group("unit").lower().startswith("w") else n))
    return found


def _find_money(found: Entities, default_currency: str) -> None:
    rest = found.without()
    for _ in range(3):
        try:
            hit = find_money(rest, default_currency=default_currency)
        except InputError as exc:
            m = re.search(r"[-−–]?\s*[$€£]?\s*\d[\d.,]*\s*(?:k|m|mio|bn)?\s*(?:[A-Z]{3}|€|\$)?", rest, re.I)
            if m:
                found.add(Span("amount", m.start(), m.end(), None, error=exc.message))
            return
        if hit is None:
            return
        money, (start, end) = hit
        # a minus glued to the number ("-5k") or the word; a dash between blanks separates fields ("x - 20k")
        negative = re.search(r"(?:\bminus\s*|(?<!\S)[-−])$", rest[max(0, start - 7) : start], re.I)
        if negative:
            start -= len(negative.group(0))
            found.add(Span("amount", start, end, None, error="Amounts must be more than zero."))
        else:
            found.add(Span("amount", start, end, money))
        rest = found.without()


def _find_date(found: Entities, today: date) -> None:
    rest = found.without()
    for pattern, repl in _DATE_REWRITES:
        rest = pattern.sub(repl, rest)
    for _ in range(2):
        try:
            hit = find_close_date(rest, today=today)
        except InputError as exc:
            m = re.search(r"\d{1,4}[./-]\d{1,2}[./-]\d{2,4}", rest)
            if m:
                found.add(Span("date", m.start(), m.end(), None, error=exc.message))
            return
        if hit is None:
            break
        when, (start, end) = hit
        if not found.add(Span("date", start, end, when)):
            break
        rest = rest[:start] + " " * (end - start) + rest[end:]
    for m in _ITEM_RE.finditer(found.without()):
        item = m.group("item")
        if item.strip() and not re.fullmatch(r"\s*\d{1,3}\s*", item):
            listed = parse_listed_date(item, today=today)
            if listed is not None:
                found.add(Span("date", m.start("item"), m.end("item"), listed))


def quarter_of(m: re.Match[str], today: date) -> str:
    current = (today.month - 1) // 3 + 1
    if m.group("rel"):
        shift = {"next": 1, "last": -1, "previous": -1}.get(m.group("rel").lower(), 0)
        index = today.year * 4 + current - 1 + shift
        return f"{index // 4}-Q{index % 4 + 1}"
    if m.group("q1"):
        return f"{m.group('y1')}-Q{m.group('q1')}"
    q = int(m.group("q2"))
    year = m.group("y2")
    if year:
        y = int(year) + (2000 if len(year) == 2 else 0)
    else:
        y = today.year if q >= current else today.year + 1
    return f"{y}-Q{q}"


# -- products -----------------------------------------------------------------------------------


def find_products(text: str, products: list[str]) -> list[tuple[str, tuple[int, int]]]:
    """Products named in ``text``: by name, a typo of it ("clodu suite"), its initials in capitals
    ("CS"), a distinctive first word ("edge"), or abbreviated words ("sec pack", "edge gw")."""
    words = [(m.group(0), m.start(), m.end()) for m in re.finditer(r"[A-Za-z][\w]*", text)]
    lowered = [w.lower() for w, _, _ in words]
    hits: list[tuple[str, tuple[int, int]]] = []
    taken: set[int] = set()
    first_words = [p.split()[0].lower() for p in products]
    for product in sorted(products, key=len, reverse=True):
        parts = product.lower().split()
        for i in range(len(words)):
            if i in taken:
                continue
            n = len(parts)
            window = lowered[i : i + n]
            if len(window) == n and all(
                _word_like(w, p, first=j == 0) for j, (w, p) in enumerate(zip(window, parts, strict=True))
            ):
                hits.append((product, (words[i][1], words[i + n - 1][2])))
                taken.update(range(i, i + n))
                continue
            initials = "".join(p[0] for p in parts).upper()
            if n > 1 and words[i][0] == initials:
                hits.append((product, (words[i][1], words[i][2])))
                taken.add(i)
                continue
            head = parts[0]
            if (
                len(head) >= 4
                and first_words.count(head) == 1
                and lowered[i] == head
                and (i + 1 >= len(words) or lowered[i + 1] not in ("suite", "gateway", "pack"))
            ):
                hits.append((product, (words[i][1], words[i][2])))
                taken.add(i)
    return sorted(hits, key=lambda h: h[1][0])


def _word_like(typed: str, word: str, *, first: bool) -> bool:
    if typed == word:
        return True
    if len(typed) >= 2 and word.startswith(typed) and (len(typed) >= 3 or not first):
        return True  # "sec" for security, "gw" is handled below
    if len(typed) >= 2 and typed[0] == word[0] and _subsequence(typed, word) and not first:
        return True  # "gw" for gateway
    return len(typed) >= 4 and fuzz.ratio(typed, word) >= 80


def _subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


# -- names of records ----------------------------------------------------------------------------


def name_words(name: str) -> list[str]:
    return _WORD_RE.findall(fold(name).replace("&", " and "))


def find_names(text: str, names: list[Named]) -> list[Span]:
    """Every record whose name appears in ``text``, typos allowed ("umbrela retail"), as spans scored by
    how much of the name was typed. A name is found by a distinctive word of it (not "retail" alone)."""
    folded = fold(text)
    tokens = [(m.group(0), m.start(), m.end()) for m in _WORD_RE.finditer(folded)]
    spans: list[Span] = []
    for named in names:
        parts = name_words(named.name)
        core = [p for p in parts if p not in LEGAL_SUFFIXES] or parts
        for i, (_token, start, _) in enumerate(tokens):
            matched = 0
            score = 0.0
            j = 0
            while j < len(parts) and i + j < len(tokens):
                similarity = _similar(tokens[i + j][0], parts[j])
                if similarity < 85:
                    break
                matched += 1
                score += similarity
                j += 1
            if matched == 0:
                continue
            distinctive = [p for p in parts[:matched] if p not in COMMON_WORDS and len(p) >= 3]
            if not distinctive and matched < len(core):
                continue
            end = tokens[i + matched - 1][2]
            weight = score / matched + 10 * matched + (15 if matched >= len(core) else 0)
            spans.append(Span(named.kind if named.kind == "partner" else "name", start, end, named, weight))
    spans.sort(key=lambda s: (-s.score, s.start))
    return spans


def _similar(typed: str, word: str) -> float:
    if typed == word:
        return 100.0
    if len(word) <= 4 or len(typed) <= 3:
        return 0.0
    return fuzz.ratio(typed, word)
