"""The details of a question message once the understanding layer has picked its intent: the question
itself without the words that ask for it ("ask: …", "question: …"), an answer's text, who a question is
reassigned to, and a knowledge-base entry's question and answer. Which intent a message is, is the
layer's (:mod:`bot.features.questions.intents`); these parsers only read what it carries."""

from __future__ import annotations

import re
from typing import Any

from bot.features.questions.service import content_tokens
from bot.kernel.refs import DEAL, LEAD, mention_any
from bot.kernel.understanding.slots import SlotContext

SHOWN_TEXT = 60  # how much of a message a confirmation quotes
QUESTION_WORDS = frozenset("what where who when how why which whats".split())
VAGUE_QUESTION = (
    "What is it about? Ask the vendor in a sentence that names the subject, "
    "e.g. 'Is Cloud Suite ISO 27001 certified?' or 'Who approves discounts above 20%?'."
)
MARKUP = "Write the question in plain words, without markup such as <tags>."
KB_FORMAT = (
    "Write it as 'add to kb: question? answer', e.g. 'add to kb: How do I claim MDF? Submit the claim in "
    "the partner portal within 30 days of the activity.'"
)

# The words that ask for a question to be put ("ask: …", "ask sam: …", "question - …", "quick q: …").
_ASK_LEAD_RE = re.compile(
    r"^\s*(?:(?:hey|hi|so|ok)[\s,]+)?(?:quick\s+q(?:uestion)?|question|ask(?:\s+a\s+question)?)\b"
    r"(?:\s+[\w.@-]+)?\s*[:\-–—]\s*"
    r"|^\s*(?:question|ask(?:\s+a\s+question)?)\b\s*(?:$|\s+(?:the\s+vendor\s+)?)",
    re.IGNORECASE,
)
# An amount that says it is money (a currency, "k", "mil"), not a bare number ("ISO 27001", "4.x")
_MONEY_WORD_RE = re.compile(r"[^\d\s.,'~+-]")
_MARKUP_RE = re.compile(r"<\s*/?\s*[a-z][^<>]*>", re.IGNORECASE)
_QUOTES = " \t\"'“”‘’"
# What may stand between a question's reference and an answer's text ("Q-3 answer: …", "Q-3 - …").
_ANSWER_LEAD_RE = re.compile(r"^\s*(?:answer|reply|response)?\s*[:\-–—]?\s*", re.IGNORECASE)
_TO_RE = re.compile(r"\b(?:over\s+)?to\s+(?P<to>.+?)\s*(?:instead)?\s*[.!]*\s*$", re.IGNORECASE)
# The words that ask for a knowledge-base entry, before the entry itself.
_KB_LEAD_RE = re.compile(
    r"^.*?\b(?:knowledge\s*base|kb)(?:\s+entry)?\b\s*(?:[:\-–—]\s*|\s+(?=\S))?", re.IGNORECASE | re.DOTALL
)


# A deal or lead reference: a message with one is about that record, not a question for a person.
OTHER_REF_RE = mention_any(loose=(DEAL, LEAD))
QUESTION_START_RE = re.compile(
    r"^\s*(?:how\s+(?:do|can|should|does|to|much|long|many|often)\b"
    r"|where\s+(?:do|can|is|are|should|does)\b"
    r"|who\s+(?:approves|handles|decides|owns|is|do|can|should)\b"
    r"|what\s+(?:is|are)\s+the\s+(?:process|rules?|requirements?|policy|deadline)\b"
    r"|is\s+there\s+(?:a|an|any)\b|can\s+(?:i|we)\b|do\s+(?:i|we)\s+need\b"
    r"|i\s+(?:have\s+a\s+question|need\s+to\s+know|was\s+wondering|wonder)\b)",
    re.I,
)
NOT_A_QUESTION_RE = re.compile(
    r"\b(?:status|deals?|leads?|registrations?|register|pipeline|pending|conflicts?|news|opportunit(?:y|ies)"
    r"|where\s+are\s+we)\b",
    re.I,
)
# Before a record's word, what makes it any such record, not one of the person's ("for a 3 year deal")
_ANY_ONE_RE = re.compile(r"\b(?:a|an|any|per|every)\s+(?:[\w-]+\s+){0,3}$", re.I)
_RECORD_WORD_RE = re.compile(r"deals?|leads?|registrations?|opportunit(?:y|ies)", re.I)


def _about_theirs(text: str, word: re.Match[str]) -> bool:
    """Whether a status word in ``text`` is about the person's records: "status", "pending" always; "deal"
    unless it is any deal ("the discount for a 3 year deal")."""
    return not (_RECORD_WORD_RE.fullmatch(word.group(0)) and _ANY_ONE_RE.search(text[: word.start()]))


SMALL_TALK_RE = re.compile(
    r"^\s*(?:what'?s\s+(?:new|up|happening)|what\s+is\s+(?:new|up)|how\s+are\s+(?:you|things)"
    r"|how'?s\s+it\s+going|who\s+are\s+you|are\s+you\b|what\s+can\s+you|what\s+do\s+you\s+do"
    r"|(?:hi|hello|hey|thanks|thank\s+you)\b)",
    re.I,
)
SMALL_TALK_WORDS = 5
"""Small talk is short: "hi, how are you?" is, "Hi, how do I claim MDF for the webinar?" is not."""
# Asking for knowledge in so many words, and a sentence that opens like a question.
ASKING_RE = re.compile(r"\b(?:(?:need|like|want)\s+to\s+know|wondering|question|supported)\b", re.I)
WH_START_RE = re.compile(
    r"^\s*(?:what|where|who|why|which|does|do|is|are)(?:'s|s)?\b", re.I
)  # not "how's it going"


def looks_like_question(text: str) -> bool:
    """A partner's free-form message that reads as a question for a person (see the module doc)."""
    text = text.replace("\u2019", "'")
    words = len(text.split())
    if OTHER_REF_RE.search(text) or words < 3:
        return False
    if SMALL_TALK_RE.match(text) and words <= SMALL_TALK_WORDS:
        return False
    asks = bool(QUESTION_START_RE.match(text) or ASKING_RE.search(text))
    if not asks and any(_about_theirs(text, m) for m in NOT_A_QUESTION_RE.finditer(text)):
        return False  # "is my acme registration protected?" is a status check
    return asks or "?" in text or bool(WH_START_RE.match(text))


def has_subject(text: str) -> bool:
    """Whether a question says what it is about: two words beside the question words ("is it
    supported?" does not; "does edge gateway support ipv6" does)."""
    return len([t for t in content_tokens(text) if t.split("'")[0] not in QUESTION_WORDS]) >= 2


def question_text(text: str) -> str:
    """A question without the words that ask for it: "ask: is there an edu discount" -> "is there an edu
    discount"; "ask" alone -> ""."""
    found = _ASK_LEAD_RE.match(text)
    return text[found.end() :].strip() if found else text.strip()


def ask_slots(ctx: SlotContext) -> dict[str, Any]:
    """``question.ask`` and ``question.start``: the question as the vendor reads it. A question with no
    subject is not put to a person - the partner is asked what it is about - and markup is refused."""
    asked = question_text(ctx.text)
    if not asked:
        return {"text": ""}  # "ask" alone: the form
    if _MARKUP_RE.search(asked):
        return {"text": asked, "invalid:text": MARKUP}
    if not has_subject(asked):
        return {"text": asked, "invalid:text": VAGUE_QUESTION}
    explicit = asked != ctx.text.strip()  # "ask: ...", "question - ..."
    if ctx.intent == "question.ask" and not explicit and not looks_like_question(ctx.text):
        # "schools and discounts": something for a person, perhaps - the partner says so first
        shown = asked if len(asked) <= SHOWN_TEXT else asked[: SHOWN_TEXT - 1] + "…"
        return {"text": asked, "doubt": f"'{shown}' goes to a person as written"}
    money = [
        s for s in ctx.entities.of("amount") if s.value and _MONEY_WORD_RE.search(ctx.text[s.start : s.end])
    ]
    if ctx.intent == "question.ask" and not explicit and money:
        # "does MDF cover a golf day, ~3k": a question, or a request with its amount - the partner says
        return {"text": asked, "doubt": "it gives an amount: a question for a person, not a request"}
    return {"text": asked}


def answer_slots(ctx: SlotContext) -> dict[str, Any]:
    """``staff.answer``: the answer typed after the question's reference, without quotes around it."""
    refs = ctx.entities.of("ref")
    if not refs:
        return {}
    rest = ctx.text[refs[-1].end :]
    answer = _ANSWER_LEAD_RE.sub("", rest, count=1).strip(_QUOTES)
    return {"text": answer}


def reassign_slots(ctx: SlotContext) -> dict[str, Any]:
    """``staff.reassign_question``: who should answer instead ("reassign Q-3 to ed@vendor.example")."""
    emails = ctx.entities.of("email")
    if emails:
        return {"to": str(emails[0].value)}
    refs = ctx.entities.of("ref")
    found = _TO_RE.search(ctx.text[refs[-1].end :] if refs else ctx.text)
    return {"to": found.group("to").strip(_QUOTES)} if found else {}


def kb_slots(ctx: SlotContext) -> dict[str, Any]:
    """``staff.kb_add``: the entry typed after the words asking for it, "question? answer"; nothing when
    no entry is typed (the form is sent), and what to write instead when it is not one."""
    lead = _KB_LEAD_RE.match(ctx.text)
    entry = ctx.text[lead.end() :].strip() if lead else ""
    if not entry.strip(" .!"):
        return {}
    question, mark, answer = entry.partition("?")
    if not mark or not question.strip() or not answer.strip():
        return {"invalid:question": KB_FORMAT}
    return {"question": question.strip() + "?", "answer": answer.strip()}
