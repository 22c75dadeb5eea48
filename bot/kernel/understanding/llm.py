"""The optional language model: an OpenAI-compatible chat-completions endpoint (Azure OpenAI, Ollama, vLLM,
OpenAI itself ...) asked what a message means - only when the embedded layer is unsure, and only ever for
a suggestion.

One request per message (:func:`request_body`): a short system prompt, the names of the person's own
records (what :meth:`bot.conversation.Conversation.understand` already collects for them: customers of
their deals, their leads' companies, their MDF activities, the product names; partner names for staff),
the message text, and the intents the person's role may use as ``tools`` - each intent's slots as string
properties. Nothing else leaves: no reference, id, e-mail, amount or date from the database, nobody else's
records.

The model's answer is a tool call: an intent and the values it read, as strings. :func:`read_answer`
accepts only an intent it was offered; :func:`ground` puts the values through the embedded layer's own
parsers (an amount through the money parser, a date through the date parser, a record's name only among
the person's own records, free text only as it stands in the message) and marks every slot it adds as
inferred. The conversation confirms every write the model suggested before anything is written.

The HTTP transport is a port (:class:`ChatCompletions`); ``handlers/language_model.py`` implements it
over aiohttp and the wiring (``bot/wiring.py``) builds it from ``PARTNERBOT_LLM_URL``. Off without it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.kernel.understanding.entities import COMMON_WORDS, Entities, Named, name_words
from bot.kernel.understanding.slots import name_slot, record_by_name, vocabulary_value
from bot.kernel.understanding.spec import IntentSpec, Reading
from bot.kernel.words import fold

log = logging.getLogger(__name__)

MAX_NAMES = 200  # record names sent with one message; a long list costs time and says little more

SYSTEM_PROMPT = (
    "You read one chat message that a person sent to partnerbot, a channel-sales assistant, and pick what "
    "it asks for. Call exactly one tool when one clearly fits; call none when none does. Fill in only the "
    "values the message itself contains, copied as written (a record may be named by one of the names "
    "below); never invent a name, reference, amount or date. In the tools' examples {ref} is a reference "
    "such as D-12 or L-7, {name} the name of one of the person's records, and {amount}, {date}, "
    "{product}, {partner}, {quarter}, {url} and {days} stand for such values."
)

_RECORDS = {"D": "a deal", "L": "a lead", "Q": "a question", "M": "an MDF request", "C": "a content item"}
# What each slot is, for the model. Slots not listed are described by their name.
SLOT_HELP = {
    "ref": "the record it is about: its reference as written (e.g. D-12) or the name it goes by",
    "customer": "the customer's or company's name",
    "activity": "the marketing activity, as written",
    "partner": "the partner organisation's name",
    "product": "the product's name",
    "amount": "the amount with its currency, as written (e.g. 45k EUR)",
    "close_date": "the expected close date, as written or as YYYY-MM-DD",
    "start_date": "the first day, as written or as YYYY-MM-DD",
    "end_date": "the last day, as written or as YYYY-MM-DD",
    "date": "the date, as written or as YYYY-MM-DD",
    "quarter": "the quarter, e.g. 2027-Q1 or 'next quarter'",
    "days": "a number of days",
    "reason": "the reason, as written",
    "next_step": "the next step, as written",
    "notes": "notes, as written",
    "text": "the text to pass on, as written",
    "url": "a link from the message",
    "domain": "the customer's web domain",
    "country": "a country",
    "expected_leads": "the leads expected from it",
}
_REF_ONLY = frozenset({"refs"})  # list slots the embedded layer alone fills
_DATE_SLOTS = frozenset({"close_date", "start_date", "end_date", "date"})
# Slots whose value must be in the message as written: the model may pick them out, never make them up.
_SPAN_KINDS = {"amount": "amount", "product": "product", "quarter": "quarter", "days": "days"}


class ModelUnavailable(Exception):
    """The endpoint gave no usable answer: a timeout, an HTTP error, a body that is not JSON. The message
    says which, in a few words, and never holds the request, the answer or a key."""


class ChatCompletions(Protocol):
    """An OpenAI-compatible ``POST {url}/chat/completions``."""

    async def create(self, body: dict[str, Any]) -> Any:
        """Send ``body``; the decoded JSON answer. Raises :class:`ModelUnavailable`."""
        ...


@dataclass(frozen=True, slots=True)
class Suggestion:
    """What the model picked: an intent it was offered and the values it read, as strings."""

    intent: str
    values: dict[str, str]


class UnusableAnswer(Exception):
    """An answer that names no offered intent or is not shaped like a chat completion."""


def tool_name(intent: str) -> str:
    """An intent's name as a function name (``^[a-zA-Z0-9_-]{1,64}$``): ``deal.lost`` -> ``deal__lost``."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", intent.replace(".", "__"))[:64]


def describe_intent(spec: IntentSpec) -> str:
    """A tool's description, from what the intent already declares: how a choice shows it and its first
    examples ("Mark a deal as lost. For example: 'we lost {ref}'; ...")."""
    label = spec.confirm or spec.name.replace(".", " ").replace("_", " ")
    label = label.replace("{ref}", _RECORDS.get(spec.record or "", "it"))
    label = re.sub(r"\{(\w+)\}", lambda m: m.group(1).replace("_", " "), label)
    examples = "; ".join(f"'{e.replace('<', '').replace('>', '')}'" for e in spec.examples[:3])
    return f"{label}. For example: {examples}" if examples else label


def tool_for(spec: IntentSpec) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for slot in spec.slots:
        if slot in _REF_ONLY:
            continue
        prop: dict[str, Any] = {"type": "string", "description": SLOT_HELP.get(slot, slot.replace("_", " "))}
        if slot in spec.values:
            prop["enum"] = sorted(set(spec.values[slot].values()))
        properties[slot] = prop
    return {
        "type": "function",
        "function": {
            "name": tool_name(spec.name),
            "description": describe_intent(spec),
            "parameters": {"type": "object", "properties": properties},
        },
    }


def request_body(
    text: str, *, intents: Sequence[IntentSpec], names: Sequence[str], model: str
) -> tuple[dict[str, Any], dict[str, IntentSpec]]:
    """The one request for ``text``, and the intent each offered tool stands for. ``names`` are the names
    of the person's own records: at most :data:`MAX_NAMES` distinct ones go, those sharing a word with
    the message first."""
    tools = {tool_name(spec.name): spec for spec in intents}
    typed = set(name_words(text))
    distinct = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    distinct.sort(key=lambda name: not typed.intersection(w for w in name_words(name) if _telling(w)))
    distinct = distinct[:MAX_NAMES]
    system = SYSTEM_PROMPT
    if distinct:
        system += "\nThe person's own records and the products, by name: " + "; ".join(distinct)
    body: dict[str, Any] = {
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": text}],
        "tools": [tool_for(spec) for spec in tools.values()],
        "tool_choice": "auto",
        "temperature": 0,
    }
    if model:
        body["model"] = model
    return body, tools


def _telling(word: str) -> bool:
    return len(word) >= 3 and word not in COMMON_WORDS


def read_answer(answer: Any, tools: Mapping[str, IntentSpec]) -> Suggestion | None:
    """The suggestion in a chat completion: its first tool call (or a legacy ``function_call``). None when
    the model called no tool; :class:`UnusableAnswer` when the answer is not one or names a tool it was
    not offered."""
    try:
        message = answer["choices"][0]["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise UnusableAnswer("an answer that is not a chat completion") from exc
    if not isinstance(message, dict):
        raise UnusableAnswer("an answer that is not a chat completion")
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise UnusableAnswer("tool calls that are not a list")
    call = calls[0].get("function") if calls and isinstance(calls[0], dict) else message.get("function_call")
    if not call:
        return None
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        raise UnusableAnswer("a tool call without a name")
    spec = tools.get(call["name"])
    if spec is None:
        raise UnusableAnswer("a tool it was not offered")
    arguments = call.get("arguments") or {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError as exc:
            raise UnusableAnswer("tool arguments that are not JSON") from exc
    if not isinstance(arguments, dict):
        raise UnusableAnswer("tool arguments that are not an object")
    values = {
        str(k): str(v).strip()
        for k, v in arguments.items()
        if isinstance(v, str | int | float) and not isinstance(v, bool) and str(v).strip()
    }
    return Suggestion(spec.name, values)


class LanguageModel:
    """Asks the endpoint once per unsure message, within ``timeout`` seconds; any failure is a warning in
    the log (never the message, the answer or the key) and None, so the embedded answer stands."""

    def __init__(self, *, endpoint: ChatCompletions, model: str = "", timeout: float = 3.0) -> None:
        self.endpoint = endpoint
        self.model = model
        self.timeout = timeout

    async def suggest(
        self, text: str, *, intents: Sequence[IntentSpec], names: Sequence[str]
    ) -> Suggestion | None:
        """What the model reads ``text`` as, among ``intents`` (those the person's role may use)."""
        body, tools = request_body(text, intents=intents, names=names, model=self.model)
        if not tools:
            return None
        try:
            answer = await asyncio.wait_for(self.endpoint.create(body), timeout=self.timeout)
            suggestion = read_answer(answer, tools)
        except TimeoutError:
            log.warning("language model: no answer within %.1f s; the embedded reading stands", self.timeout)
            return None
        except (ModelUnavailable, UnusableAnswer) as exc:
            log.warning("language model: %s; the embedded reading stands", exc)
            return None
        except Exception as exc:  # nothing depends on the model: a fault there is not the person's
            log.warning("language model: %s; the embedded reading stands", type(exc).__name__)
            return None
        if suggestion is None:
            log.info("language model: no intent fits; the embedded reading stands")
        return suggestion


# -- the model's values through the embedded layer's parsers ---------------------------------------------


def ground(
    reading: Reading,
    values: Mapping[str, str],
    *,
    spec: IntentSpec,
    find: Callable[[str], Entities],
) -> Reading:
    """``reading`` (the message read again as ``spec``'s intent) with the slots the embedded parsers did
    not find taken from the model's ``values`` - each parsed the way a typed value is, or dropped:

    * a record (``ref``, or ``customer``/``activity`` of an intent about a record): a name among the
      person's own records (``find`` knows only those), or a reference that is in the message;
    * ``amount``, dates, ``product``, ``partner``, ``quarter``, ``days``: the value read by the same entity
      finders as a message; an amount or date they refuse is ``invalid``, as if typed;
    * a slot with a vocabulary (``stage``, ``decision`` ...): one of its words;
    * anything else (a new customer's name, a reason, a note, a link): only as it stands in the message.

    Every slot taken from the model is in ``inferred``; ``suggested`` keeps the raw values, so that a
    confirmation clicked later (after a restart) reads them the same way again."""
    reading.suggested = dict(values)
    message = find(reading.text)
    for slot, raw in values.items():
        if slot not in spec.slots or slot in _REF_ONLY or slot in reading.slots or slot in reading.invalid:
            continue
        if spec.record and (slot == "ref" or slot in ("customer", "activity")):
            if "ref" not in reading.slots:
                _record(reading, raw, spec.record, find(raw), message)
            continue
        if slot == "amount" or slot in _DATE_SLOTS:
            kind = "amount" if slot == "amount" else "date"
            span = find(raw).first(kind)
            if span is not None and span.error:
                reading.invalid[slot] = span.error
            elif span is not None:
                _take(reading, slot, span.value)
            continue
        if slot in _SPAN_KINDS or slot == "partner":
            found = find(f"{raw} days" if slot == "days" and raw.isdigit() else raw)
            span = found.first(_SPAN_KINDS.get(slot, slot))
            if span is not None and span.value is not None:
                _take(reading, slot, span.value.name if isinstance(span.value, Named) else span.value)
            continue
        if slot in spec.values:
            words = dict(spec.values[slot])
            value = raw if raw in words.values() else vocabulary_value(raw, words)
            if value:
                _take(reading, slot, value)
            continue
        if slot == "url":
            wanted = find(raw).first("url")
            if wanted is not None and wanted.value in [s.value for s in message.of("url")]:
                _take(reading, slot, wanted.value)
            continue
        quoted = as_written(raw, reading.text)
        if quoted:
            _take(reading, slot, quoted)
    return reading


def _take(reading: Reading, slot: str, value: Any) -> None:
    reading.slots[slot] = value
    reading.inferred.add(slot)


def _record(reading: Reading, raw: str, kind: str, found: Entities, message: Entities) -> None:
    typed = [ref for ref in found.refs(kind) if ref in message.refs(kind)]
    if typed:
        _take(reading, "ref", typed[0])
        return
    named, close = record_by_name(found, kind)
    if named is not None:
        _take(reading, "ref", named.ref)
        _take(reading, name_slot(kind), named.name)
    elif close and not reading.candidates:
        reading.candidates = close


def as_written(value: str, text: str) -> str | None:
    """``value`` as it stands in ``text`` (case, accents and spacing aside), or None when it does not."""
    words = [re.escape(w) for w in fold(value).split()]
    if not words:
        return None
    m = re.search(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", fold(text))
    return text[m.start() : m.end()] if m else None
