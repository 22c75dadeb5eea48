"""Slot filling: the details of a request, taken from the spans :mod:`entities` found and from the words
around them. One filler per slot name, shared by every intent that declares the slot; an intent with
details of its own (a registration's new customer, an MDF activity) adds a ``parse`` function to its
:class:`~bot.kernel.understanding.spec.IntentSpec`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from rapidfuzz import fuzz

from bot.kernel.dates import format_date
from bot.kernel.understanding.entities import QUARTER_RE, Entities, Named, Span, quarter_of
from bot.kernel.words import fold

# Words that introduce a reason, and the words that only say what is being done ("lost", "mark").
_REASON_MARK_RE = re.compile(
    r"\b(?:because(?:\s+of)?|reason(?:\s+is)?\s*[:=-]?|due\s+to|since|b/?c|cuz|as\s+(?=the|they|we|it|our|no)|"
    r"(?<=lost)\s+(?:on|to)|(?<=lose)\s+(?:on|to))\s*",
    re.IGNORECASE,
)
_FILLER = frozenset(
    """mark marked as is was it its the a an deal lead registration reg request mdf one this that lost
    lose won win closed close decline declined declining reject rejected rejecting deny denied pass
    passing nope thanks thx not for us please pls to on and so sorry we i it's, ok okay i'd i'm id im
    like want wanna would need can could you u me my our hey hi hello bot got just also another some any
    have has had new with w at from yes of by should would might will prob probably maybe expected
    expect expecting target total around about approx approximately roughly ~ domain country customer
    product amount value bitte abschluss im ende am bis""".split()
)
_SEPARATORS = " \t\n,;:.-–—=>→|/!?"
_NEXT_STEP_RE = re.compile(r"\bne?xt\s*steps?\b\s*(?:is|are|on|for)?\s*", re.IGNORECASE)
_NOTES_RE = re.compile(r"\b(?:notes?|comments?)\s*[:=-]\s*(?P<notes>.+)$", re.IGNORECASE | re.DOTALL)
_CHAT_PREFIX_RE = re.compile(r"^\s*(?:<at>[^<]*</at>\s*|@partnerbot\b\s*|/partner\b\s*)+", re.IGNORECASE)
_EMOJI_RE = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f\u200d]+")


def clean(text: str) -> str:
    """A message without what the platform or the person adds around the request: a Teams mention, a
    Slack slash command's name, emoji."""
    text = _CHAT_PREFIX_RE.sub("", text)
    return _EMOJI_RE.sub(" ", text).strip()


@dataclass(slots=True)
class SlotContext:
    """What a slot parser may read: the message, its spans, and the person's day."""

    text: str
    entities: Entities
    today: date
    intent: str
    record: str | None
    values: dict[str, dict[str, str]]
    request_words: frozenset[str] = frozenset()  # the words of the intent's examples, not its values


def fill(
    ctx: SlotContext, names: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, str], set[str], list[tuple[str, str]]]:
    """The declared slots found in the message: (slots, invalid, inferred, candidates)."""
    slots: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    inferred: set[str] = set()
    candidates: list[tuple[str, str]] = []
    ents = ctx.entities
    for span in ents.spans:
        if span.error and span.kind in ("amount", "date"):
            slot = "amount" if span.kind == "amount" else _date_slot(names)
            if slot in names:
                invalid[slot] = span.error
    if "ref" in names or "refs" in names:
        typed = ents.refs(ctx.record) if ctx.record else ents.refs()
        if typed:
            slots["ref"] = typed[0]
            if len(typed) > 1:
                slots["refs"] = typed
        elif ctx.record:
            found, close = record_by_name(ents, ctx.record)
            if found is not None:
                slots["ref"] = found.ref
                slots[name_slot(ctx.record)] = found.name
                inferred.add("ref")
            candidates = close
    if "amount" in names and "amount" not in invalid:
        money = [s for s in ents.of("amount") if s.value is not None]
        if money:
            slots["amount"] = money[0].value
    date_slot = _date_slot(names)
    if date_slot and date_slot not in invalid:
        dates = [s for s in ents.of("date") if s.value is not None]
        if dates:
            slots[date_slot] = dates[0].value
    for slot in (
        "product",
        "partner",
        "quarter",
        "days",
        "url",
        "domain",
        "country",
    ):  # the first span of a kind
        first = ents.first(slot) if slot in names else None
        if first is not None:
            slots[slot] = first.value.name if isinstance(first.value, Named) else first.value
    if "quarter" in names and "quarter" not in slots:
        quarter = quarter_in_dates(ctx)
        if quarter:
            slots["quarter"] = quarter
    step = next_step(ctx) if "next_step" in names else None
    said = ctx.text.replace(step, " ") if step else ctx.text  # "next step: send the quote" is no stage
    for vocab_slot, words in ctx.values.items():
        if vocab_slot in names:
            value = vocabulary_value(said, words)
            if value:
                slots[vocab_slot] = value
    if step:
        slots["next_step"] = step
    if "notes" in names:
        labelled = labelled_notes(ctx.text)
        if labelled:
            slots["notes"] = labelled
    if ("next_step" in names or "notes" in names) and ctx.record:
        _free_text(ctx, names, slots)
    if "reason" in names:
        reason = reason_in(ctx, besides=slots.get("next_step"))
        if reason:
            slots["reason"] = reason
            if slots.get("notes") and slots["notes"] in reason:
                del slots["notes"]  # one clause is one slot
    if "text" in names:
        rest = text_after_record(ctx) if ctx.record else ctx.text
        if rest:
            slots["text"] = rest
    return slots, invalid, inferred, candidates


# A clause that says what happens next ("sending proposal by fri", "mtg next tue w/ jane").
_STEP_CUE_RE = re.compile(
    r"\b(?:next|will|going\s+to|gonna|plan(?:ning|ned)?|schedul\w*|booked|meeting|mtg|call(?:ing)?|send(?:ing)?|"
    r"follow(?:ing)?[-\s]?up|paperwork|revisit|try\s+again|waiting\s+for|reviewing|workshop|onsite|"
    r"tomorrow|mon|tue|tues|wed|thu|thurs|fri|monday|tuesday|wednesday|thursday|friday)\b",
    re.IGNORECASE,
)
_VALUE_KINDS = ("amount", "product", "ref", "name", "partner", "quarter", "url", "email", "domain", "country")


def clauses(ctx: SlotContext) -> list[tuple[str, int, int, bool]]:
    """The parts of the message that are no value and not just the words asking for the intent, as
    typed (a date inside one kept), with where they are and whether each says what happens next: what
    is left for free text (a next step, notes)."""
    kept = ctx.entities.without(*_VALUE_KINDS)
    bare = ctx.entities.without(*_VALUE_KINDS, "date", "days")
    vocabulary = {w for words in ctx.values.values() for phrase in words for w in phrase.split()}

    def empty(word: str, *, asking: bool = True) -> bool:
        folded = fold(word).strip(_SEPARATORS + "'\"?()")
        if not folded or folded in _FILLER:
            return True
        return asking and (
            folded in ctx.request_words
            or folded in vocabulary
            or (len(folded) >= 6 and any(len(v) >= 6 and fuzz.ratio(folded, v) >= 85 for v in vocabulary))
        )

    found: list[tuple[str, int, int, bool]] = []
    at = 0
    for part in _SEGMENT_RE.split(kept):
        start = kept.find(part, at) if part else at
        at = start + len(part)
        words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", bare[start:at])]
        # the words asking for the intent are no content - unless the part says what happens next
        asking = not _says_next(ctx, kept, start, at)
        content = [(a, b) for a, b in words if not empty(bare[a:b], asking=asking)]
        if not any(re.search(r"[^\W\d_]{3,}", bare[a:b]) for a, b in content):
            continue
        first, last = content[0][0], content[-1][1]
        step = _says_next(ctx, kept, first, at)
        if step:  # a next step keeps its date and the words after it
            last = first + len(kept[first:at].rstrip(_SEPARATORS + " "))
        found.append((" ".join(ctx.text[first:last].split()), first, last, step))
    return found


def _says_next(ctx: SlotContext, kept: str, start: int, end: int) -> bool:
    """Whether a part of the message says what happens next: a word for it, or a day something happens
    on ("demo on 10.12."; not "close 28.02." nor "slipped to april", which move the close date)."""
    if _STEP_CUE_RE.search(kept[start:end]):
        return True
    return any(
        start <= span.start < end and re.match(r"\s*(?:on|at)\b", ctx.text[span.start : span.end], re.I)
        for span in ctx.entities.of("date")
    ) and bool(re.search(r"[^\W\d_]{3,}", kept[start:end]))


def labelled_notes(text: str) -> str | None:
    """The notes a message labels as such ("notes: 3 year term"), or None. Notes without a label are
    the words no other slot took (:func:`free_notes`, :func:`_free_text`): in the answer to a dialog's
    question, where any words would be, a skill may take only these."""
    m = _NOTES_RE.search(text)
    return m.group("notes").strip() if m else None


def free_notes(ctx: SlotContext, *, besides: str | None = None) -> str | None:
    """Notes for a new record: the clauses no slot took ("40 units", "3 year term"), ``besides`` (the
    new customer's name) left out; None when the message labels its notes ("notes: ...")."""
    if _NOTES_RE.search(ctx.text):
        return None
    left = fold(besides or "")
    notes = [
        text
        for text, _, _, _ in clauses(ctx)
        if not (left and (left in fold(text) or fold(text) in left)) and _worth_noting(text)
    ]
    return "; ".join(notes) or None


def _worth_noting(text: str) -> bool:
    words = [w for w in re.findall(r"[^\W_]+", fold(text)) if w not in _FILLER and w not in _CHATTER]
    return bool(re.search(r"\d", text)) or len(words) >= 2 or any(len(w) >= 5 for w in words)


def _free_text(ctx: SlotContext, names: tuple[str, ...], slots: dict[str, Any]) -> None:
    """A record's next step and notes from the clauses no other slot took: a clause that says what
    happens next is the next step (and a date inside it is the step's, not the close date); the rest
    are notes."""
    taken = {str(v) for k, v in slots.items() if k in ("reason", "text", "next_step", "notes")}
    notes: list[str] = []
    for text, start, end, step in clauses(ctx):
        if any(text in t or t in text for t in taken) or _NEXT_STEP_RE.fullmatch(text):
            continue  # taken, or only the label of the next step read ("next step: ...")
        if "next_step" in names and "next_step" not in slots and step:
            slots["next_step"] = text
            for span in ctx.entities.of("date"):
                if start <= span.start and span.end <= end:
                    for slot in ("close_date", "start_date", "end_date"):
                        if slots.get(slot) == span.value:
                            del slots[slot]
            continue
        notes.append(text)
    if "notes" in names and "notes" not in slots and notes:
        slots["notes"] = "; ".join(notes)


# A day and month with a slash, either way round (dots are day first wherever they are typed).
_SWAPPABLE_RE = re.compile(r"(?<![\d./-])(\d{1,2})/(\d{1,2})(?:/(?:\d{2}|\d{4}))?(?![\d/-])")
_AMOUNT_RANGE_RE = re.compile(r"\d[\d.,]*\s*k?\s*(?:-|–|to)\s*\d[\d.,]*\s*(?:k|m|mio)\b", re.IGNORECASE)
_PER_PERIOD_RE = re.compile(
    r"/\s*(?:yr|year|mo|month)\b|\bper\s+(?:year|month|annum)\b|\ba\s+(?:year|month)\b", re.I
)


def doubts_in(ctx: SlotContext, slots: dict[str, Any], names: tuple[str, ...] = ()) -> list[str]:
    """What the message gives that could also be read another way, for a write to confirm first: a day
    and month that could be swapped, an amount that is a range or per period (for an intent that takes
    an amount, in ``names``, a range is read as no amount: "50-60k"), two products for one."""
    found: list[str] = []
    for span in ctx.entities.of("date"):
        m = _SWAPPABLE_RE.search(ctx.text[span.start : span.end])
        if m is None or span.value is None or span.value not in slots.values():
            continue
        first, second = int(m.group(1)), int(m.group(2))
        if first != second and first <= 12 and second <= 12:
            try:
                other = span.value.replace(month=span.value.day, day=span.value.month)
            except ValueError:
                continue
            found.append(f"{m.group(0)} read as {format_date(span.value)}, not {format_date(other)}")
    if "amount" in slots or "amount" in names:
        if _AMOUNT_RANGE_RE.search(ctx.text):
            found.append("the amount is a range - which amount?")
        elif "amount" in slots and _PER_PERIOD_RE.search(ctx.text):
            found.append("the amount is per period - is it the total?")
    products = {s.value for s in ctx.entities.of("product")}
    # a message for a person (its "text" is what is written) may name several products as it likes
    if "product" in slots and len(products) > 1 and "text" not in names:
        found.append(f"{' and '.join(sorted(products))} - one deal for {slots['product']}?")
    return found


def quarter_in_dates(ctx: SlotContext) -> str | None:
    """A quarter the date finder took as a close date ("closing this quarter", "for Q1"), for an intent
    that wants the quarter itself."""
    for span in ctx.entities.of("date"):
        m = QUARTER_RE.search(ctx.text[span.start : span.end])
        if m:
            return quarter_of(m, ctx.today)
    return None


DATE_SLOTS = ("close_date", "start_date", "end_date", "date")  # the slots a date may fill, in this order


def _date_slot(names: tuple[str, ...]) -> str | None:
    return next((n for n in DATE_SLOTS if n in names), None)


def name_slot(kind: str) -> str:
    """The slot a record's name fills: an MDF request goes by its activity, every other record by its
    customer (or lead company)."""
    return "activity" if kind == "M" else "customer"


def record_by_name(ents: Entities, kind: str) -> tuple[Named | None, list[tuple[str, str]]]:
    """The record of ``kind`` a name in the message means, or the ones it might mean (ref, name)."""
    hits = [s for s in ents.names if isinstance(s.value, Named) and s.value.kind == kind]
    if not hits:
        return None, []
    best = hits[0].score
    top = [s for s in hits if s.score >= best - 0.01]
    refs = {s.value.ref: s.value.name for s in top}
    if len(refs) == 1:
        return top[0].value, []
    return None, sorted(refs.items())[:3]


def vocabulary_value(text: str, words: dict[str, str]) -> str | None:
    """The canonical value of the first word or phrase of ``words`` in ``text`` (typos allowed in long
    words): ``{"poc": "evaluation", "proposal": "proposal"}``."""
    folded = fold(text)
    best: tuple[int, str] | None = None
    for phrase, value in words.items():
        m = re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", folded)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), value)
    if best:
        return best[1]
    for token in re.findall(r"[a-z]{6,}", folded):
        for phrase, value in words.items():
            if " " not in phrase and len(phrase) >= 6 and fuzz.ratio(token, phrase) >= 88:
                return value
    return None


def _after(ctx: SlotContext, spans: list[Span]) -> str:
    """The text after the last of ``spans`` (or all of it), other spans blanked out."""
    end = max((s.end for s in spans), default=0)
    return ctx.text[end:]


def _record_spans(ctx: SlotContext) -> list[Span]:
    ents = ctx.entities
    spans = [s for s in ents.of("ref")] + [s for s in ents.of("name")] + ents.of("partner")
    return spans


def _strip_filler(text: str) -> str:
    words = text.strip(_SEPARATORS).split()
    while words and words[0].lower().strip(_SEPARATORS) in _FILLER:
        words.pop(0)
    return " ".join(words).strip(_SEPARATORS + " ")


def after_reason_mark(text: str) -> str | None:
    """The words after "because", "reason:", "due to" ... in ``text``, as typed ("the lead time" is no
    filler there), an article aside; "" when the mark ends the text, None when there is none."""
    m = _REASON_MARK_RE.search(text)
    if m is None:
        return None
    found = re.sub(r"^(?:the|a|an)\s+", "", text[m.end() :].strip(_SEPARATORS + " "), flags=re.I)
    return found.strip(_SEPARATORS + " ")


def reason_in(ctx: SlotContext, *, besides: str | None = None) -> str | None:
    """The reason given for a decision: after "because", "reason:", "due to" ..., else what follows
    the record (``besides`` - a next step already read - left out)."""
    text = ctx.text
    marked = after_reason_mark(text)
    if marked is not None:
        return marked or None
    tail = _after(ctx, _record_spans(ctx))
    if besides:
        tail = " ".join(tail.split()).replace(besides, " ")
    if not tail.strip():
        return None
    found = _strip_filler(tail)
    return found if re.search(r"[A-Za-z]{3,}", found) else None


def next_step(ctx: SlotContext) -> str | None:
    m = _NEXT_STEP_RE.search(ctx.text)
    if not m:
        return None
    after = [s for s in _record_spans(ctx) if s.start >= m.start()]
    rest = ctx.text[max([m.end()] + [s.end for s in after]) :]
    rest = re.split(r"\s+(?:notes?|comments?)\s*[:=]", rest, maxsplit=1)[0]
    found = rest.strip(_SEPARATORS + " ")
    return found or None


def text_after_record(ctx: SlotContext) -> str | None:
    spans = [s for s in ctx.entities.of("ref")]
    if not spans:
        return None
    # what is passed on keeps its question mark: "ask info D-1: what is their domain?"
    found = ctx.text[spans[-1].end :].lstrip(_SEPARATORS + " ").rstrip(_SEPARATORS.replace("?", "") + " ")
    return found or None


_SEGMENT_RE = re.compile(
    r"\s*(?:[,;|\n:=()\[\]]|(?<!\bw)(?<!\bb)(?<!\d)/|\s[-–—>→]+\s|\s[-–—]|[-–—]\s|[?!](?=\s|$)|\.(?=\s|$))\s*"
)
_LABEL_RE_TEMPLATE = r"\b{label}\s*(?:name\s*)?(?:is\s+|[:=]\s*)(?P<value>[^,;|\n/]+)"
_KEEP_LOWER = frozenset("and of de la du von van der the".split())


# A name typed after "for", "of" or "at" ("balance for Initech", "scorecard of acme pls"): up to the next
# preposition, punctuation, a "please" or the end.
_NAMED_AFTER_RE = re.compile(
    r"\b(?:for|of|at)\s+(?:the\s+)?(?:partner\s+)?(?P<name>[^\W\d][^,;?!.]*?)"
    r"(?=\s+(?:for|to|in|at|of|is|pls|please)\b|\s*[=,;?!.]|\s*$)",
    re.IGNORECASE,
)


def name_after(text: str) -> str | None:
    """A name typed after "for", "of" or "at" in ``text`` (its values already blanked out by the
    caller), or None: what a partner's or record's name that the name finder did not know is read as."""
    found = _NAMED_AFTER_RE.search(text)
    if found is None:
        return None
    name = " ".join(found.group("name").split())
    return name if re.search(r"[^\W\d_]{2,}", name) else None


def free_name(
    ctx: SlotContext, *, labels: tuple[str, ...] = ("customer", "company", "account", "client")
) -> str | None:
    """A name that is not a known record, as typed: after a label ("customer: Globex"), else the first
    stretch of the message that is none of the intent's own words and no other value ("reg globex /
    cloud suite / 120k" -> "Globex")."""
    blanked = ctx.entities.without(
        "amount", "date", "product", "url", "email", "domain", "country", "quarter", "days", "ref"
    )
    for label in labels:
        m = re.search(_LABEL_RE_TEMPLATE.format(label=label), blanked, re.IGNORECASE)
        if m:
            value = _trim_name(m.group("value"), ctx.request_words)
            if value:
                return value
    notes = _NOTES_RE.search(blanked)
    if notes:
        blanked = blanked[: notes.start()]
    for segment in _SEGMENT_RE.split(blanked):
        value = _trim_name(segment, ctx.request_words)
        introduced = _INTRODUCED_RE.search(value)
        if len(value.split()) > MAX_NAME_WORDS and introduced:
            # "can I get protection on a deal with Relecloud": a sentence, and the name after its "with"
            value = _trim_name(value[introduced.end() :], ctx.request_words) or value
        if value:
            return value
    return None


MAX_NAME_WORDS = 4  # the longest a company's name is: "Umbrella Retail Ltd", "Graphic Design Institute Inc"
_INTRODUCED_RE = re.compile(r".*\b(?:with|for|at|w/)\s+", re.IGNORECASE)


# Words that end a company's name when typed after it: "globex wants edge gateway", "X is real".
_NAME_ENDS = frozenset(
    """wants want wanted needs need is are was were has have buying buys bought looking registered signed
    asked asking chose went""".split()
)
# Chat words around a name: "quick reg: X", "X again", "X lol".
_CHATTER = frozenset("quick again lol haha plz asap too get gets".split())  # beside _FILLER


# "a live one", "another one", "this new one": a word for the deal itself, before its customer's name
_STAND_IN_RE = re.compile(r"^\W*(?:\w+\s+)?(?:a|an|another|this|that)\s+(?:[^\W\d_]+\s+){0,2}?one\b\W*", re.I)


def _trim_name(segment: str, request_words: frozenset[str]) -> str:
    words = _STAND_IN_RE.sub("", segment, count=1).split()
    for i, word in enumerate(words[1:], start=1):
        if fold(word).strip(_SEPARATORS + "'\"?") in _NAME_ENDS:
            words = words[:i]
            break

    def is_request(word: str) -> bool:
        bare = fold(word).strip(_SEPARATORS + "'\"?")
        if not bare or bare in request_words or bare in _FILLER or bare in _CHATTER:
            return True
        if len(bare) < 5:
            return False  # a typo of a request word ("regstr deal X") is no part of the name either
        return any(len(c) >= 5 and fuzz.ratio(bare, c) >= 80 for c in _CHATTER) or any(
            len(c) >= 5 and fuzz.ratio(bare, c) >= 85 for c in request_words
        )

    while words and is_request(words[0]):
        words.pop(0)
    while words and is_request(words[-1]):
        words.pop()
    name = " ".join(words).strip(_SEPARATORS + "'\"?")
    if not re.search(r"[^\W\d_]", name):
        return ""
    if name == name.lower():
        name = " ".join(w if w in _KEEP_LOWER else w[:1].upper() + w[1:] for w in name.split())
    return name
