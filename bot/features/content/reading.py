"""The details of a content message once the understanding layer has picked its intent: what staff
publish ("publish "Q1 price list" https://… to Gold, EMEA until 2027-03-31, summary: …", or labelled
``title=…, url=…, tiers=…``) and which item they want statistics for. Which intent a message is, is the
layer's (:mod:`bot.features.content.intents`); these parsers only read what it carries. Who the audience
names are (a tier, a region, a partner) is decided against the database by the skill."""

from __future__ import annotations

import re
from typing import Any

from bot.kernel.understanding.entities import Named
from bot.kernel.understanding.slots import SlotContext

ALL = "all"
NOT_A_LINK = "Give the link as a web address such as https://partners.example.com/q1."
_ALL_RE = re.compile(
    r"^(?:all|every(?:one|body)?|all\s+(?:of\s+)?(?:our\s+|the\s+)?partners|every\s+partner|the\s+whole\s+channel)$",
    re.IGNORECASE,
)
# The words that ask for publishing, before the title: "publish", "post the", "new content:", "share".
_LEAD_RE = re.compile(
    r"^\s*(?:please\s+)?(?:publish|post|share|send(?:\s+out)?|announce|push|new\s+(?:content|announcement))\b"
    r"(?:\s+(?:content|an?\s+announcement|announcement|an?\s+item))?\s*[:\-–—]?\s*",
    re.IGNORECASE,
)
_LABEL_RE = re.compile(
    r"(?:^|[,;]\s*|\s)(?P<label>title|name|url|link|summary|description|tiers?|regions?|partners?|audience|"
    r"people|to|expires?|until)\s*=\s*",
    re.IGNORECASE,
)
_SUMMARY_RE = re.compile(
    r"[\s,;\-–—]*\b(?:summary|description)\s*[:=]\s*(?P<s>.+)$", re.IGNORECASE | re.DOTALL
)
_EXPIRES_RE = re.compile(
    r"[\s,;]*\b(?:expires?(?:\s+on)?|expiring(?:\s+on)?|valid\s+until|until)\s*[:=]?\s*(?P<d>[^,;]+?)\s*(?=[,;]|$)",
    re.IGNORECASE,
)
_URL_RE = re.compile(r"https?://[^\s<>]+", re.IGNORECASE)
_OTHER_LINK_RE = re.compile(r"(?<![\w/])(?:[a-z][a-z0-9+.-]{1,15}):(?!//)[^\s,;]+", re.IGNORECASE)
_QUOTED_RE = re.compile(r"[\"“”'‘’](?P<t>[^\"“”‘’]{2,}?)[\"“”'‘’](?=\s|$|[,;:.])")
_AUDIENCE_MARK_RE = re.compile(r"\s(?:to|for|with)\s+(?=\S)", re.IGNORECASE)
_TRIM = " \t\"'“”‘’,;:.-–—"
# "stats for the launch kit", "statistics on C-3", "who opened the price list", "how is the kit doing"
_STATS_FOR_RE = re.compile(
    r"\b(?:stat(?:istic)?s|report|numbers|open\s+rates?|opens)\s+(?:for|of|on|about)\s+(?P<what>.+?)\s*[?.!]*\s*$"
    r"|\bwho\s+(?:opened|read|saw)\s+(?P<opened>.+?)\s*[?.!]*\s*$"
    r"|\bhow\s+(?:is|did|was)\s+(?P<doing>.+?)\s+(?:doing|do|going|perform(?:ing)?)\b",
    re.IGNORECASE,
)
_GENERIC_ITEMS = frozenset("content our content the content it everything all items".split(","))


def audience_list(text: str, partners: list[tuple[int, int, str]], offset: int) -> list[str]:
    """The names an audience is given as, one for each comma-, ``and``- or ``&``-separated part: a
    partner as the layer found it, ``all`` for everyone, else the word as typed ("Gold partners" ->
    "Gold"; "region EMEA" kept, so the skill knows it is a region)."""
    names: list[str] = []
    at = 0
    for part in re.split(r"(\s*(?:,|;|&|\band\b)\s*)", text):
        start, at = at, at + len(part)
        token = part.strip(_TRIM)
        if not token or re.fullmatch(r"\s*(?:,|;|&|\band\b)\s*", part):
            continue
        named = next((name for s, e, name in partners if offset + start <= s and e <= offset + at + 1), None)
        if named:
            names.append(named)
        elif _ALL_RE.match(token):
            names.append(ALL)
        else:
            bare = re.sub(r"^(?:the\s+)|\s+(?:partners|tier)$", "", token, flags=re.IGNORECASE)
            names.append(bare or token)
    out: list[str] = []
    for n in names:
        if n not in out:
            out.append(n)
    return out


def _partner_spans(ctx: SlotContext) -> list[tuple[int, int, str]]:
    return [
        (s.start, s.end, s.value.name if isinstance(s.value, Named) else str(s.value))
        for s in ctx.entities.of("partner")
    ]


def publish_slots(ctx: SlotContext) -> dict[str, Any]:
    """``staff.publish``: ``title``, ``url``, ``audience`` (names, or ``["all"]``), ``text`` (the
    summary) and ``expires`` (as typed) - whatever of them the message gives."""
    text = ctx.text
    lead = _LEAD_RE.match(text)
    body = text[lead.end() :] if lead else text
    offset = len(text) - len(body)
    if _LABEL_RE.search(body) and re.search(r"\b(?:title|name|url|link)\s*=", body, re.IGNORECASE):
        return _labelled(ctx, body)
    slots: dict[str, Any] = {}
    summary = _SUMMARY_RE.search(body)
    if summary:
        slots["text"] = summary.group("s").strip()
        body = body[: summary.start()]
    expires = _EXPIRES_RE.search(body)
    if expires:
        slots["expires"] = expires.group("d").strip()
        body = body[: expires.start()] + " " * (expires.end() - expires.start()) + body[expires.end() :]
    url = _URL_RE.search(body)
    if url is not None:
        link = url.group(0).rstrip(".,;)")
        slots["url"] = link
        before, after = body[: url.start()], body[url.start() + len(link) :]
        after_at = offset + url.start() + len(link)
    else:
        other = _OTHER_LINK_RE.search(body)
        if other is not None and not _QUOTED_RE.search(other.group(0)):
            slots["invalid:url"] = NOT_A_LINK
            before, after = body[: other.start()], body[other.end() :]
            after_at = offset + other.end()
        else:
            before, after, after_at = body, "", offset + len(body)
    quoted = _QUOTED_RE.search(before)
    title_part, audience_text, audience_at = before, "", after_at
    marked = re.match(r"\s*(?:to|for|with)\s+", after, re.IGNORECASE)
    if marked or after.strip(_TRIM):
        skip = marked.end() if marked else 0
        audience_text, audience_at = after[skip:], after_at + skip
    if quoted:
        slots["title"] = quoted.group("t").strip()
        rest = before[quoted.end() :]
        mark = re.match(r"\s*(?:to|for|with)\s+", rest, re.IGNORECASE)
        if not audience_text.strip(_TRIM) and mark:
            audience_text, audience_at = rest[mark.end() :], offset + quoted.end() + mark.end()
    else:
        if not audience_text.strip(_TRIM):
            marks = list(_AUDIENCE_MARK_RE.finditer(before))
            if marks:
                last = marks[-1]
                title_part = before[: last.start()]
                audience_text, audience_at = before[last.end() :], offset + last.end()
        title = re.sub(r"^(?:the|our|a|an)\s+(?:new\s+)?", "", title_part.strip(_TRIM), flags=re.IGNORECASE)
        if title:
            slots["title"] = title
    audience = audience_list(audience_text.strip(_TRIM + " "), _partner_spans(ctx), audience_at)
    if audience:
        slots["audience"] = audience
    return slots


def _labelled(ctx: SlotContext, body: str) -> dict[str, Any]:
    """``title=…, url=…, summary=…, tiers=…``: each value up to the next label."""
    found = list(_LABEL_RE.finditer(body))
    slots: dict[str, Any] = {}
    audience: list[str] = []
    offset = len(ctx.text) - len(body)
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(body)
        value = body[m.end() : end].strip(_TRIM)
        label = m.group("label").lower()
        if not value:
            continue
        if label in ("title", "name"):
            slots["title"] = value
        elif label in ("url", "link"):
            if _URL_RE.fullmatch(value):
                slots["url"] = value
            else:
                slots["invalid:url"] = NOT_A_LINK
        elif label in ("summary", "description"):
            slots["text"] = value
        elif label in ("expires", "expire", "until"):
            slots["expires"] = value
        else:
            audience += audience_list(value, _partner_spans(ctx), offset + m.end())
    if audience:
        slots["audience"] = audience
    return slots


def stats_slots(ctx: SlotContext) -> dict[str, Any]:
    """``staff.content_stats``: the item asked about as typed ("the launch kit"), when the message names
    one rather than asking for the statistics of all recent content."""
    if ctx.entities.refs("C"):
        return {}
    found = _STATS_FOR_RE.search(ctx.text)
    if not found:
        return {}
    what = (found.group("what") or found.group("opened") or found.group("doing") or "").strip(_TRIM)
    return {"item": what} if what and what.lower() not in _GENERIC_ITEMS else {}
