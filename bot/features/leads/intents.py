"""What people type about leads: the intents of the lead skill, with examples and slots, and the slot
parsers only leads need - the status a lead update moves a lead to, a lead named by a company that is
none of the person's, the partner of a staff lead view, and staff's one-line new lead."""

from __future__ import annotations

import re
from typing import Any

from bot.kernel.products import match_product
from bot.kernel.understanding.entities import Named
from bot.kernel.understanding.slots import SlotContext, after_reason_mark, record_by_name
from bot.kernel.understanding.spec import ALL_WORDS, BOTH, HISTORY_WORDS, PARTNER, STAFF, IntentSpec

LEAD_STATUS_WORDS = {
    "contacted": "contacted", "reached out": "contacted", "called": "contacted", "spoke": "contacted",
    "emailed": "contacted", "in touch": "contacted",
    "meeting": "meeting", "mtg": "meeting", "meeting booked": "meeting", "call booked": "meeting",
    "qualified": "qualified", "unqualified": "unqualified", "disqualified": "unqualified",
    "not qualified": "unqualified", "nurture": "nurture", "no response": "no_response",
    "no answer": "no_response", "not responding": "no_response", "ghosted": "no_response",
}  # fmt: skip
LEAD_LIST_WORDS = {
    "offered": "offered", "new": "offered", "to accept": "offered", "waiting": "offered",
    "accepted": "accepted", "mine": "accepted",
}  # fmt: skip
# The staff lead views: the scope slot of staff.leads (no word: every open lead, by partner).
LEAD_SCOPE_WORDS = {
    **ALL_WORDS,
    "open": "open", "current": "open", "active": "open",
    "unaccepted": "offered", "not accepted": "offered", "not yet accepted": "offered",
    "pending": "offered", "offered": "offered", "waiting for acceptance": "offered",
    "waiting on partners": "offered", "nobody took": "offered", "nobody has taken": "offered",
    "expired": "expired", "expiring": "expired", "let expire": "expired",
    "queue": "review", "review": "review", "to review": "review", "unassigned": "review",
}  # fmt: skip

# What a lead update says about the lead, checked in this order: it went nowhere, it is qualified, the
# contact was reached. The words after them are the note ("qualified, meeting next Tuesday") or why
# it was disqualified ("unqualified - no budget").
DISQUALIFY_RE = re.compile(
    r"\b(?:disqualif\w*|unqualified|not qualified|went nowhere|going nowhere|goes nowhere|dead end|dead|"
    r"not interested|no interest|no budget|lost|junk|spam|not a fit|no fit|dropped|"
    r"went with (?:a |the )?competitor)\b",
    re.I,
)
BARE_DISQUALIFY = ("disqualified", "disqualify", "disqualifying", "unqualified", "not qualified", "dead")
QUALIFIED_RE = re.compile(r"\b(?:qualified|qualify)\b", re.I)
CONTACTED_RE = re.compile(
    r"\b(?:contacted|reached out|reached|called|spoke|spoken|e-?mailed|talked|met|in touch|got hold of)\b",
    re.I,
)
_LEADING_RE = re.compile(r"^[\s,;:.\-—!]+(?:(?:and|but|so|now)\b[\s,]*)?")
_DECLINED_RE = re.compile(r"^(?:is\s+)?(?:declined?|declining|rejected|passed|not for us)\b", re.I)
_ANY_PARTNER_RE = re.compile(r"\b(?:someone|somebody|anyone|another|other|next)\b", re.I)
_TO_PARTNER_RE = re.compile(
    r"\b(?:to|->|→)\s+(?P<partner>[^,;.!?]+?)\s*(?:please|pls|instead)?\s*[.!?]*\s*$", re.I
)

# "the Initech lead ...", "what about the Initech lead": a company typed before the word "lead".
_COMPANY_RE = re.compile(r"^\s*(?P<company>.+?)\s+lead\b", re.I | re.S)
_COMPANY_PREFIX_RE = re.compile(
    r"^(?:what about|status of|what's the status of|what is the status of|how is|how's|any news on|"
    r"update on|where are we with|show|open|so|ok|okay|accept|decline|convert|assign|reassign|"
    r"tell me about|details of|details on|remind me what)\s+",
    re.I,
)
_QUESTION_START_RE = re.compile(
    r"^(?:what|how|why|when|who|where|which|is|are|can|could|do|does|should|would|will|a|an|new|my|our|"
    r"this|that|every|each|any|one|next|first|another)\b",
    re.I,
)
# "leads for Nobody Inc": a partner typed after "leads for", when it is none the finder knows.
_FOR_PARTNER_RE = re.compile(
    r"^\s*(?:show\s+)?(?:(?:all|open|the)\s+)*leads?\s+(?:for|of|with|at)\s+(?P<partner>.+?)\s*[?.!]*\s*$",
    re.I,
)
# Staff's one-line new lead: "new lead Initech, contact jane@initech.example, DE, Cloud Suite".
CREATE_RE = re.compile(r"^\s*(?:new|add|create|log|enter)\s+(?:a\s+)?lead\b\s*[:,-]?\s*(.*)$", re.I | re.S)
_EMAIL_IN_TEXT_RE = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]*")
_PHONE_IN_TEXT_RE = re.compile(r"^\+?[0-9][0-9 ()./-]{4,}$")
NEW_LEAD_FIELDS = (
    "company", "contact_name", "contact_email", "contact_phone", "country", "product", "source", "notes",
)  # fmt: skip


def typed_company(ctx: SlotContext) -> dict[str, Any]:
    """A lead named by a company that is none of the person's leads ("the Umbrella lead went
    nowhere"), as typed - so the skill can say it can't find it - when no lead of theirs is named."""
    found, close = record_by_name(ctx.entities, "L")
    if found is not None or close or ctx.entities.refs("L"):
        return {}
    match = _COMPANY_RE.match(ctx.entities.without("ref"))
    if match is None:
        return {}
    phrase = match.group("company").strip(" ,.?!")
    while True:
        shorter = _COMPANY_PREFIX_RE.sub("", phrase, count=1)
        if shorter == phrase:
            break
        phrase = shorter
    phrase = re.split(r"\b(?:the|our|my)\s+", phrase, flags=re.I)[-1].strip()  # "not interested in the X"
    if (
        not phrase
        or "?" in phrase
        or len(phrase) > 80
        or _QUESTION_START_RE.match(phrase)
        or "deal" in phrase.lower()
    ):
        return {}
    return {"customer": phrase}


def _after(text: str, end: int) -> str:
    """What follows position ``end``, without connecting punctuation ("qualified, meeting Tuesday")."""
    return _LEADING_RE.sub("", text[end:]).strip(" .!?")


def update_slots(ctx: SlotContext) -> dict[str, Any]:
    """A lead update: ``status`` - the status it moves the lead to (contacted, qualified, disqualified) -
    and ``notes``, the words after it, the note kept on the lead; for a disqualification ``reason``
    instead ("" when none is given, so the skill asks for it). Without a status word, ``notes`` is what
    follows the lead ("L-2 no response after three attempts")."""
    found = typed_company(ctx)
    text = ctx.entities.without("ref")
    disqualify = DISQUALIFY_RE.search(text)
    if disqualify:
        tail = text[disqualify.end() :]
        reason = after_reason_mark(tail) or _after(text, disqualify.end())
        if not reason and disqualify.group(0).lower() not in BARE_DISQUALIFY:
            reason = disqualify.group(0)
        return {**found, "status": "disqualified", "reason": reason}
    for status, pattern in (("qualified", QUALIFIED_RE), ("contacted", CONTACTED_RE)):
        match = pattern.search(text)
        if match:
            note = _after(text, match.end())
            return {**found, "status": status, **({"notes": note} if note else {})}
    rest = _after_lead(ctx)
    return {**found, **({"notes": rest} if rest else {})}


def _after_lead(ctx: SlotContext) -> str | None:
    """What follows the lead a message names (its reference, or its company and the word "lead"), as
    typed; None when it names none."""
    spans = [s for s in ctx.entities.of("ref") if str(s.value).startswith("L-")]
    spans += [s for s in ctx.entities.names if isinstance(s.value, Named) and s.value.kind == "L"]
    if not spans:
        return None
    rest = re.sub(r"^\s*(?:lead\b)?", "", ctx.text[max(s.end for s in spans) :], flags=re.I)
    return _after(rest, 0)


def decline_slots(ctx: SlotContext) -> dict[str, Any]:
    """Why a lead is declined, in the partner's words - the channel manager reads them: after
    "because" ..., else what follows the lead ("decline L-3, we don't cover FR yet")."""
    found = typed_company(ctx)
    reason = after_reason_mark(ctx.text) or _after_lead(ctx)
    if reason:
        reason = _DECLINED_RE.sub("", reason).strip(" ,;:.-—")
    return {**found, "reason": reason} if reason else found


def assign_slots(ctx: SlotContext) -> dict[str, Any]:
    """Who gets the lead: with no partner named ("reassign L-3", "... to someone else") the next one that
    fits; a partner typed after "to" that is none the finder knows, as typed, so the service can say
    there is no such partner; and a lead named by a company that is none of the leads."""
    found = typed_company(ctx)
    if ctx.entities.first("partner") is not None:
        return found
    typed = _TO_PARTNER_RE.search(ctx.entities.without("ref"))
    if typed and not _ANY_PARTNER_RE.search(typed.group("partner")):
        found["partner"] = typed.group("partner")
    elif typed or re.search(r"\breassign\b", ctx.text, re.I):
        found["next_partner"] = True
    return found


def queue_slots(ctx: SlotContext) -> dict[str, Any]:
    """The partner of a staff lead view as typed ("leads for Nobody Inc") when it is no partner the
    finder knows, so the skill can say there is none by that name."""
    if ctx.entities.first("partner") is not None:
        return {}
    match = _FOR_PARTNER_RE.match(ctx.text)
    return {"partner": match.group("partner")} if match else {}


def new_lead_slots(ctx: SlotContext) -> dict[str, Any]:
    """Staff's new lead in one sentence, field by field (:func:`parse_new_lead`), and only that: a field
    it does not find is empty (""), whatever the shared slot fillers read - a country is never guessed
    from a company's name."""
    match = CREATE_RE.match(ctx.text)
    body = match.group(1) if match else ctx.text
    products = sorted({str(s.value) for s in ctx.entities.of("product")})
    found = parse_new_lead(body, products)
    return {name: found.get(name, "") for name in NEW_LEAD_FIELDS}


def parse_new_lead(text: str, products: list[str]) -> dict[str, str]:
    """Staff's one-line lead, e.g. "Initech, contact Jane Doe jane@initech.example, DE, Cloud Suite,
    source webinar, notes: wants a demo". The first part is the company; the rest is recognised by
    shape (an e-mail, a phone number, a two-letter country, a product) or by a leading word (contact,
    phone, country, product, source, notes). Anything else lands in the notes, so nothing is lost."""
    raw: dict[str, str] = {}
    notes: list[str] = []
    text = text.strip()
    note_match = re.search(r"\bnotes?\s*[:=]\s*(.+)$", text, re.I | re.S)
    if note_match:
        notes.append(note_match.group(1).strip())
        text = text[: note_match.start()]
    segments = [s.strip() for s in re.split(r"[,;\n]", text) if s.strip()]
    for index, segment in enumerate(segments):
        email = _EMAIL_IN_TEXT_RE.search(segment)
        if email:
            raw["contact_email"] = email.group(0)
            name = (segment[: email.start()] + segment[email.end() :]).strip(" <>()")
            name = re.sub(r"^(?:contact|e-?mail)\s*[:=]?\s*", "", name, flags=re.I).strip()
            if name and index > 0:
                raw["contact_name"] = name
            elif name:
                raw.setdefault("company", name)
            continue
        if index == 0:
            raw["company"] = re.sub(r"^(?:for|at|company\s*[:=]?)\s+", "", segment, flags=re.I).strip()
            continue
        labelled = re.match(
            r"^(contact|phone|tel|mobile|country|product|interest(?:ed in)?|source|from|via)\s*[:=]?\s*(.+)$",
            segment,
            re.I,
        )
        if labelled:
            label, value = labelled.group(1).lower(), labelled.group(2).strip()
            key = {
                "contact": "contact_name",
                "phone": "contact_phone",
                "tel": "contact_phone",
                "mobile": "contact_phone",
                "country": "country",
                "source": "source",
                "from": "source",
                "via": "source",
            }.get(label, "product")
            raw[key] = value
            continue
        if re.fullmatch(r"[A-Za-z]{2}", segment):
            raw["country"] = segment.upper()
            continue
        if _PHONE_IN_TEXT_RE.match(segment) and sum(ch.isdigit() for ch in segment) >= 5:
            raw["contact_phone"] = segment
            continue
        known = match_product(segment, products) if products else None
        if known and "product" not in raw:
            raw["product"] = known[0]
            continue
        notes.append(segment)
    if notes:
        raw["notes"] = "; ".join(notes)
    return raw


LEAD_INTENTS: tuple[IntentSpec, ...] = (
    IntentSpec(
        "lead.list",
        (
            "show my leads",
            "leads",
            "my leads",
            "list leads",
            "any new leads for us?",
            "which leads do we have",
            "leads offered to us",
            "what leads are waiting for me",
            "accepted leads",
            "show me the leads please",
            "do i have leads",
            "open leads",
        ),
        slots=("stage", "country", "scope"),
        roles=PARTNER,
        values={"stage": LEAD_LIST_WORDS, "scope": ALL_WORDS},
        confirm="Show my leads",
    ),
    IntentSpec(
        "lead.status",
        (
            "remind me what {ref} was",
            "tell me about the {name} lead",
            "{ref}",
            "show {ref}",
            "status of {ref}",
            "how long until the {name} lead runs out",
            "what's the contact on the {name} lead",
            "details of {ref}",
            "who is the contact for {ref}",
            "how long do i have to accept {ref}",
            "the {name} lead?",
            "history {ref}",
            "{ref} history",
            "history of the {name} lead",
            "what changed on {ref}",
            "show the changes to {ref}",
            "who changed {ref}",
            "audit trail for {ref}",
            "changelog {ref}",
            "log of the {name} lead",
            "who touched {ref} and when",
        ),
        slots=("ref", "customer", "view"),
        record="L",
        confirm="Show {ref}",
        values={"view": HISTORY_WORDS},
        parse=typed_company,
    ),
    IntentSpec(
        "lead.accept",
        (
            "grab {ref}",
            "we'll grab the {name} lead",
            "assign {ref} to us",
            "accept {ref}",
            "take {ref}",
            "we'll take {ref}",
            "accept the {name} lead",
            "accept {name}",
            "yes we take the {name} lead",
            "claim {ref}",
            "accept {ref} and {lref}",
            "i'll take {name}",
            "{ref} accepted",
            "we want the {name} lead",
        ),
        slots=("ref", "refs", "customer", "notes"),
        roles=PARTNER,
        record="L",
        writes=True,
        confirm="Accept {ref}",
        parse=typed_company,
    ),
    IntentSpec(
        "lead.decline",
        (
            "{ref} isn't for us, <no one covers that region>",
            "decline {ref}",
            "decline {ref}, out of territory",
            "decline the {name} lead, not our region",
            "pass on {ref}",
            "we pass on {name}, too small",
            "{ref} no thanks, no capacity",
            "we can't take {ref}",
            "not interested in the {name} lead",
            "turn down {ref} because we don't sell that product",
            "reject the {name} lead",
        ),
        slots=("ref", "customer", "reason"),
        roles=PARTNER,
        record="L",
        writes=True,
        confirm="Decline {ref}",
        parse=decline_slots,
    ),
    IntentSpec(
        "lead.update",
        (
            "{ref} contacted",
            "{ref} qualified",
            "{ref} is qualified, meeting next week",
            "called the {name} lead, no answer",
            "{name} lead = nurture",
            "{ref} unqualified - no budget",
            "the {name} lead went nowhere",
            "{ref} meeting booked with their it lead",
            "spoke to {name}, they want a demo",
            "{ref} no response after three emails",
            "{ref} disqualified, not a fit",
            "update {ref}: contacted, next step demo",
            "{name} lead is qualified",
        ),
        slots=("ref", "customer", "stage", "next_step", "reason", "notes"),
        roles=BOTH,
        record="L",
        writes=True,
        values={"stage": LEAD_STATUS_WORDS},
        confirm="Update {ref}",
        parse=update_slots,
    ),
    IntentSpec(
        "lead.convert",
        (
            "{ref} -> deal please, {amount}, closing {date}",
            "turn {name} into an opp: {product} {amount} close {date}",
            "{name} is real, make it a deal registration",
            "convert {ref} into a registration, {product}, {amount}",
            "convert {ref}",
            "convert {ref} to a deal",
            "convert {ref} into a deal, {amount}, {product}, close {date}",
            "turn the {name} lead into a deal registration",
            "make a deal out of {ref}",
            "{ref} became a deal",
            "register a deal from the {name} lead",
            "{ref} is now an opportunity, {amount}",
        ),
        slots=("ref", "customer", "product", "amount", "close_date"),
        roles=PARTNER,
        record="L",
        writes=True,
        confirm="Register a deal from {ref}",
        parse=typed_company,
    ),
    IntentSpec(
        "staff.leads",
        (
            "leads waiting on partners for more than a day?",
            "which leads has nobody taken",
            "lead queue please",
            "lead queue",
            "unassigned leads",
            "leads to review",
            "leads close to running out of time",
            "leads not yet accepted",
            "pending leads",
            "declined leads",
            "open the lead queue for me",
            "leads for {partner}",
            "expired leads",
            "all leads",
            "offered leads that nobody took",
        ),
        slots=("partner", "scope"),
        roles=STAFF,
        values={"scope": LEAD_SCOPE_WORDS},
        confirm="Show the lead queue",
        parse=queue_slots,
    ),
    IntentSpec(
        "staff.assign_lead",
        (
            "{ref} -> {partner}",
            "{ref} to {partner} please",
            "hand {ref} over to {partner}",
            "assign {ref} to {partner}",
            "give {ref} to {partner}",
            "route {ref} to {partner}",
            "reassign {ref} to {partner}",
            "assign {ref}",
            "send the {name} lead to {partner}",
            "assign the {name} lead",
            "offer {ref} to {partner}",
        ),
        slots=("ref", "customer", "partner"),
        roles=STAFF,
        record="L",
        writes=True,
        confirm="Assign {ref}",
        parse=assign_slots,
    ),
    IntentSpec(
        "staff.new_lead",
        (
            "new lead <Kessler AG>, contact {email}, {country}, {product}",
            "new lead <Brightwater Ltd>, contact <Mia Park> {email}, {country}, {product}, source partner event",
            "add a lead: <Halvorsen>, {email}, {country}",
            "create lead <Quintel>, phone +49 30 1234567, {country}",
            "lead for <Ostara Foods>: {country}, {email}, notes: asked for pricing",
            "log a lead for <Lindqvist>, {email}, {country}, {product}",
            "enter lead <Marlow & Sons>, contact <Tom Ruiz> {email}, {country}",
            "please add this lead - <Tannery Group>, {country}, source fair",
            "new lead",
            "add a lead",
            "create a lead for a company",
        ),
        slots=NEW_LEAD_FIELDS,
        roles=STAFF,
        writes=True,
        confirms=True,
        confirm="Add a new lead",
        parse=new_lead_slots,
    ),
)
