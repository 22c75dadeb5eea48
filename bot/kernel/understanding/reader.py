"""One component turns a message into ranked readings: (intent, slots, confidence), and a decision.

:class:`Understanding` is built from every capability's :class:`IntentSpec` s (the conversation's own
meta intents included) and trains its model from their examples when it is built. ``read`` finds the
values in the message (:mod:`entities`), ranks the intents (:mod:`model`), fills each likely intent's
slots (:mod:`slots`) and decides:

* ``act`` - one reading is clearly ahead; the conversation hands it to the skill that owns it;
* ``ask`` - two or three readings are close; the person picks one (nothing is written on a guess);
* ``unknown`` - nothing fits; the person hears what can be said instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Literal

from rapidfuzz import fuzz

from bot.kernel.refs import ALL_KINDS
from bot.kernel.understanding.entities import Entities, Named, find_entities
from bot.kernel.understanding.model import DEFAULT, MODELS, IntentModel, names_a_record, tokens
from bot.kernel.understanding.slots import DATE_SLOTS, SlotContext, clean, doubts_in, fill
from bot.kernel.understanding.spec import IntentSpec, Reading, Understood, confirmed_first
from bot.kernel.words import fold

Decision = Literal["act", "ask", "unknown"]
UNKNOWN = "meta.unknown"
HELP = "meta.help"
ACT_AT = 0.4  # the best reading's probability at which it is acted on ...
MARGIN = 0.15  # ... when it is this far ahead of the next one;
# or, when it is less likely than that, (floor, times as likely as the next reading): a reading is acted on
# when the model puts it well ahead of every other, which a write must be further than a read
AHEAD_READ = (0.10, 2.0)
AHEAD_WRITE = (0.30, 3.0)
OFFER_AT = 0.12  # readings at least this likely are offered as choices
UNKNOWN_BELOW = 0.30  # below this, and with nothing worth offering, the message is not understood

OTHER_ROLE_AHEAD = (0.4, 2.0)  # how likely another role's intent must be, and how much likelier than every
# reading of one's own, to stay a reading (the person is then told it is not theirs to do)
HOW_TO_DOING = 0.1  # how much less likely the doing is than knowing how, for a how-to message
DECLARED = 20.0  # how much likelier an intent is when the message is one of its declared examples
OTHER_RECORD = 0.05  # how much less likely an intent on another kind of record than the one typed is
NO_RECORD = 0.3  # ... and one on no record at all

_HOW_TO_RE = re.compile(r"^\s*how\s+(?:do|can|should|would|could)\s+(?:i|we|you|one)\b|^\s*how\s+to\b", re.I)
_PLACEHOLDER_RE = re.compile(r"\{(\w+)\}")
# Words that ask for nothing in particular: a write is acted on only when the message has one of its
# intent's other words.
_GENERIC = frozenset(
    "a an the to of for on in at is are be it this that me my our we i you u pls please can could with and or so "
    "x".split()
)


# How people ask about one record, whatever its kind: what every intent that shows a record of one kind
# learns besides its own examples, with that kind's words ("the {name} lead", "the {name} opp"), so that
# the words asking about a record do not belong to the kind with the most examples.
_ABOUT_A_RECORD = (
    "what's happening with the {name} {word}",
    "any update on the {name} {word}?",
    "where are we with the {name} {word}",
    "what's the latest on {ref}",
    "pull up the {name} {word}",
    "show me the {name} {word}",
    "how is the {name} {word} going",
    "{ref} status?",
    "info on the {name} {word}",
    "what do we have on {ref}",
)


def _about_a_record(spec: IntentSpec) -> tuple[str, ...]:
    words = next((k.words for k in ALL_KINDS if k.prefix == spec.record), ())
    if not words:  # a kind of record no one names by a customer or an activity
        return ()
    return tuple(t.replace("{word}", words[i % len(words)]) for i, t in enumerate(_ABOUT_A_RECORD))


def _renormalised(weighed: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Readings re-weighed by a rule, as probabilities again, most likely first."""
    total = sum(p for _, p in weighed) or 1.0
    return sorted(((i, p / total) for i, p in weighed), key=lambda ip: -ip[1])


def _only_said(entities: Entities, *kinds: str) -> bool:
    """Whether the message is values of these kinds and words that ask for nothing ("L-1 pls?")."""
    words = re.findall(r"[^\W_]+", fold(entities.without(*kinds)))
    return all(w in _GENERIC for w in words)


def _only_reference(entities: Entities) -> bool:
    """Whether the message is references and words that ask for nothing ("L-1", "L-1 pls?")."""
    return _only_said(entities, "ref")


def expand(example: str, spec: IntentSpec) -> str:
    """An example as the model reads it: ``{name}`` becomes ``xname``, ``{ref}`` the reference of the
    intent's record kind."""

    def one(m: re.Match[str]) -> str:
        key = m.group(1)
        if key == "ref":
            return f"x{(spec.record or 'd').lower()}ref"
        return f"x{key}"  # as entities.placeholder() writes a found value

    return _PLACEHOLDER_RE.sub(one, example).replace("<", "").replace(">", "")


# What sets an aside apart from the request before it: a colon, a dash between spaces, a bracket, "because".
_ASIDE_RE = re.compile(r"[:(\u2013\u2014]|\s-\s|\b(?:because|since|as)\b", re.IGNORECASE)
# The day an example's relative dates are read against: any day will do, as only their placeholder counts.
_EXAMPLES_DAY = date(2026, 1, 5)


def as_read(example: str) -> str:
    """An example as the model reads a message: the values typed in it as words ("what's closing this
    quarter", "ships in March") replaced by their placeholders too, as the message's are."""
    found = find_entities(example, today=_EXAMPLES_DAY, products=[], names=[], default_currency="USD")
    return found.placeholders() if found.spans else example


# The slots a kind of value found in a message can go to (the fit of a reading to the message's values).
_SLOTS_OF: dict[str, frozenset[str]] = {
    "amount": frozenset({"amount"}),
    "date": frozenset({*DATE_SLOTS, "days", "next_step"}),
    "product": frozenset({"product"}),
    "url": frozenset({"url", "proof"}),
    "email": frozenset({"email", "contact"}),
    "domain": frozenset({"domain"}),
    "country": frozenset({"country"}),
    "quarter": frozenset({"quarter"}),
    "days": frozenset({"days", "end_date"}),
}
_VALUE_RE = re.compile(r"<[^>]*>|\{\w+\}")
# A word of a request - or an arrow, which asks as much as a word does ("L-1 -> Contoso").
_WORD_RE = re.compile(r"[a-z][a-z0-9']*|->|=>|\u2192")


def request_words(spec: IntentSpec) -> frozenset[str]:
    """The words an intent's examples use to ask for it - not the values in them (``<Globex>``,
    ``{amount}``): what a slot parser strips to find a name typed beside them."""
    words: set[str] = set()
    for example in spec.examples:
        words.update(_WORD_RE.findall(fold(_VALUE_RE.sub(" ", example))))
    return frozenset(words)


class Understanding:
    def __init__(self, specs: Iterable[IntentSpec], *, model: str = DEFAULT) -> None:
        self.specs: dict[str, IntentSpec] = {}
        for spec in specs:
            if spec.name in self.specs:
                raise ValueError(f"intent {spec.name} is declared twice")
            self.specs[spec.name] = spec
        self.request_words = {name: request_words(spec) for name, spec in self.specs.items()}
        self.records = {spec.record for spec in self.specs.values() if spec.record}  # D, L, M, Q, C
        self.asking_words = {name: words - _GENERIC for name, words in self.request_words.items()}
        # what a reference alone asks for: a read on the record that says so with a bare "{ref}" example
        self.showing = {
            name
            for name, spec in self.specs.items()
            if spec.record and not spec.writes and any(e.strip(" ?") == "{ref}" for e in spec.examples)
        }
        self.model: IntentModel = MODELS[model]()
        self.declared: dict[str, set[str]] = {}  # each example as the model reads it -> its intents
        texts, roles, labels = [], [], []
        for spec in self.specs.values():
            for example in (
                *spec.examples,
                *(_about_a_record(spec) if spec.name in self.showing else ()),
            ):
                read = as_read(expand(example, spec))
                self.declared.setdefault(" ".join(tokens(read)), set()).add(spec.name)
                for role in sorted(spec.roles):
                    texts.append(read)
                    roles.append(role)
                    labels.append(spec.name)
        self.model.fit(texts, roles, labels)

    def _rank(self, text: str, role: str) -> list[tuple[str, float]]:
        """The model's ranking of a message - and, when a request on a record comes before an aside ("mark
        D-2 lost - the customer went with the incumbent", "next step on initech: demo with their CIO"),
        of the request alone, the two agreeing: what follows the aside is what is said (a reason, a
        note), which must not outweigh what is asked."""
        ranked = self.model.rank(text, role)
        said = {i for i in self.declared.get(" ".join(tokens(text)), ()) if role in self.specs[i].roles}
        if len(said) == 1:  # the message is one of an intent's own examples: that intent
            ranked = _renormalised([(i, p * DECLARED if i in said else p) for i, p in ranked])
        m = _ASIDE_RE.search(text)
        if m is None or not text[m.end() :].strip():
            return ranked
        head = text[: m.start()]
        words = [w for w in re.findall(r"[^\W_]+", fold(head)) if not w.startswith("x") and w not in _GENERIC]
        if not words or not any(names_a_record(w) for w in tokens(head)):
            # "D-3 - can you ask bob ...", "good news: PO received from ...": the request is after it
            return ranked
        alone = dict(self.model.rank(head, role))
        return _renormalised([(i, (p * alone.get(i, 0.0)) ** 0.5) for i, p in ranked])

    def _how_to(self, message: str, ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """A message that asks how to do something wants to know, not to have it done: the help when it
        names nothing but something the bot does ("how do I register a deal"), else a question for a
        person ("how do I claim MDF for a trade show booth?") - never the doing."""
        if not ranked or not _HOW_TO_RE.match(message):
            return ranked

        def knowing(intent: str) -> bool:
            return intent.startswith(("meta.", "question."))

        weighed = [(i, p if knowing(i) else p * HOW_TO_DOING) for i, p in ranked]
        best, probability = ranked[0]
        asked = _HOW_TO_RE.sub("", message, count=1)
        if not knowing(best) and self.only_asks(best, asked):  # how to do what the bot does: the help says
            weighed = [(HELP, probability), *((i, p) for i, p in weighed if i != HELP)]
        return sorted(weighed, key=lambda ip: -ip[1])

    def _for_role(self, ranked: list[tuple[str, float]], role: str, message: str) -> list[tuple[str, float]]:
        """The intents a person of ``role`` may ask for, most likely first: another role's work is no
        reading of their message (a partner's "pipeline?" is their own deals, not the staff view, and
        "D-2 still waiting for approval?" their deal, not the review queue) - unless the message
        clearly asks for another role's change ("approve D-1" from a partner) or is nothing but the
        words of another role's view ("content stats"), which they are told is not theirs to do."""
        mine = [(i, p) for i, p in ranked if role in self.specs[i].roles]
        sure, times = OTHER_ROLE_AHEAD
        theirs = ranked[0] if ranked and ranked[0] not in mine else None
        if theirs is not None and not self.specs[theirs[0]].writes and not self.only_asks(theirs[0], message):
            theirs = None  # another role's view, with words of one's own: one's own view of it
        if theirs is not None and theirs[1] >= sure and theirs[1] >= times * (mine[0][1] if mine else 0):
            mine.insert(0, theirs)
        total = sum(p for _, p in mine) or 1.0
        return [(i, p / total) for i, p in mine]

    def read(
        self,
        text: str,
        *,
        role: str,
        today: date,
        products: Sequence[str] = (),
        names: Sequence[Named] = (),
        default_currency: str = "USD",
        only: str | None = None,
    ) -> Understood:
        """Every likely reading of ``text`` for a person of ``role``; ``only`` reads it as that intent
        (a choice the person picked)."""
        message = clean(text)
        entities = find_entities(
            message,
            today=today,
            products=list(products),
            names=list(names),
            default_currency=default_currency,
        )
        ranked: list[tuple[str, float]] = [(only, 1.0)] if only else []
        if not only:
            ranked = self._by_references(self._rank(entities.placeholders(), role), entities)
            ranked = self._how_to(message, self._for_role(ranked, role, message))
        shows = None if only else self._shows(ranked, entities, role)
        alone = shows is not None and _only_reference(entities)
        if shows is not None and alone:  # "L-1": the record is shown, whatever else it could start
            ranked = [shows, *(r for r in ranked if r is not shows)]
        likely = ranked[:4] + ([shows] if shows is not None and shows not in ranked[:4] else [])
        several = [] if only else self._shown_by_name(entities, role)
        likely += [(intent, 0.0) for intent in several if intent not in dict(likely)]
        readings: list[Reading] = []
        for intent, probability in likely:
            spec = self.specs.get(intent)
            if spec is None:
                continue
            ctx = SlotContext(
                text=message,
                entities=entities,
                today=today,
                intent=intent,
                record=spec.record,
                values={k: dict(v) for k, v in spec.values.items()},
                request_words=self.request_words[intent],
            )
            slots, invalid, inferred, candidates = fill(ctx, spec.slots)
            doubts: list[str] = []
            if spec.parse is not None:
                extra = spec.parse(ctx)
                for key, value in extra.items():
                    if key.startswith("invalid:"):
                        invalid[key.removeprefix("invalid:")] = str(value)
                    elif key == "doubt":  # what the intent's own parser was unsure of, to confirm first
                        doubts.append(str(value))
                    elif value is not None:
                        slots[key] = value
            if spec.writes:
                doubts = doubts_in(ctx, slots, spec.slots) + doubts
            readings.append(
                Reading(
                    intent=intent,
                    confidence=probability,
                    text=message,
                    slots=slots,
                    invalid=invalid,
                    inferred=inferred,
                    candidates=candidates,
                    doubts=doubts,
                )
            )
        if not only and not alone:
            readings = self._by_fit(readings, entities)
        values = entities.without(
            "name", "partner", "product", "ref", "amount", "url", "email", "domain", "country"
        )
        typed = set(_WORD_RE.findall(fold(values)))
        decision = "act" if alone else self._decide(readings, only=only, typed=typed)
        if shows is not None and decision != "act":
            # "L-1 the customer rejected our first proposal", "what's L-3 again?": when nothing fits, or
            # showing the record is all there is to offer, the record is shown
            shown = next(r for r in readings if r.intent == shows[0])
            others = [r for r in readings if r is not shown]
            if decision == "unknown" or not any(self._offerable(r) for r in others):
                shown.slots["how"] = True  # it said more than that: the skill may say how to add to it
                readings, decision = [shown, *others], "act"
        first = readings[0] if readings else None
        if decision == "act" and first is not None and first.intent in several and "ref" in first.inferred:
            # "initech?" - a deal and a lead of that name: which one, rather than the likelier kind
            for reading in readings:
                if reading.intent in several:
                    reading.confidence = max(reading.confidence, OFFER_AT)
            decision = "ask"
        return Understood(text=message, readings=readings, decision=decision)

    def _shown_by_name(self, entities: Entities, role: str) -> list[str]:
        """For a message that is only a name of records of several kinds ("initech?" with a deal and a
        lead for Initech), the intent that shows each kind to ``role``: which one is meant is asked, as
        nothing else in the message says it ("is initech approved yet?" is the deal)."""
        typed, named = self._kinds(entities)
        if typed or len(named) < 2 or not _only_said(entities, "name", "partner"):
            return []
        return [
            name
            for name in sorted(self.showing)
            if self.specs[name].record in named and role in self.specs[name].roles
        ]

    def _by_fit(self, readings: list[Reading], entities: Entities) -> list[Reading]:
        """The values a message gives say which readings can take them: a reading whose intent has a slot
        for each kind of value typed (an amount, a date, a product ...) is likelier than one that would
        leave them unread ("MDF for a workshop in Munich, 3.500 EUR, ... 5 leads" is a request)."""
        kinds = {s.kind for s in entities.spans if s.value is not None and s.kind in _SLOTS_OF}
        if not kinds or len(readings) < 2:
            return readings
        before = sum(r.confidence for r in readings)
        for reading in readings:
            names = set(self.specs[reading.intent].slots)
            taken = sum(1 for kind in kinds if names & _SLOTS_OF[kind])
            reading.confidence *= (1 + taken) / (1 + len(kinds))
        after = sum(r.confidence for r in readings) or 1.0
        for reading in readings:
            reading.confidence *= before / after
        return sorted(readings, key=lambda r: -r.confidence)

    def only_asks(self, intent: str, text: str) -> bool:
        """Whether ``text`` is nothing but words that ask for ``intent`` ("show my deals", "pending"):
        no value, no word of its own."""
        words = re.findall(r"[^\W_]+(?:'[a-z]+)?", fold(text))
        allowed = self.request_words[intent] | _GENERIC
        return bool(words) and all(w in allowed for w in words)

    def _asks_for(self, intent: str, typed: set[str]) -> bool:
        """Whether the message has a word of those that ask for ``intent`` (a typo of one counts)."""
        words = self.asking_words[intent]
        return bool(typed & words) or any(
            len(t) >= 5 and any(len(w) >= 5 and fuzz.ratio(t, w) >= 80 for w in words) for t in typed
        )

    def _kinds(self, entities: Entities) -> tuple[set[str], set[str]]:
        """The kinds of record a message names: by typed reference - not one in an aside after a record
        named ("decline the initech lead: we have a deal there (D-1)") - and by name; a name of records of
        several kinds beside a word for one of them ("the initech lead") names that one."""
        names = [s for s in entities.names if isinstance(s.value, Named) and s.value.kind in self.records]
        typed = {
            str(s.value).split("-")[0]
            for s in entities.of("ref")
            if not any(_ASIDE_RE.search(entities.text[n.end : s.start]) for n in names if n.end <= s.start)
        }
        named = {s.value.kind for s in names if isinstance(s.value, Named)}
        if not typed and len(named) > 1:
            said = set(re.findall(r"[^\W_]+", fold(entities.text)))
            spoken = {k.prefix for k in ALL_KINDS if k.prefix in named and said & set(k.words)}
            named = spoken if len(spoken) == 1 else named
        return typed, named

    def _by_references(self, ranked: list[tuple[str, float]], entities: Entities) -> list[tuple[str, float]]:
        """A typed reference says what kind of record the message is about: an intent on another kind
        of record ("approve M-1" is no deal approval), or on none ("L-3 -> deal" is no new
        registration), is much less likely, and so is "nothing fits". Without a reference, a name says
        the same of intents on a kind of record it means none of (:meth:`_kinds`: "approve the
        northwind webinar" is about an MDF request, "where do we stand with initech" about its deal or
        lead) - not of those on none ("register a deal for <a customer>")."""
        typed, named = self._kinds(entities)
        if not typed and not named:
            return ranked
        weighed = []
        for intent, probability in ranked:
            spec = self.specs.get(intent)
            if spec is None or (intent.startswith("meta.") and intent != UNKNOWN):
                pass
            elif typed and spec.record not in typed:
                probability *= OTHER_RECORD if spec.record else NO_RECORD
            elif not typed and spec.record is not None and spec.record not in named:
                probability *= OTHER_RECORD
            weighed.append((intent, probability))
        return _renormalised(weighed)

    def _shows(
        self, ranked: list[tuple[str, float]], entities: Entities, role: str
    ) -> tuple[str, float] | None:
        """For a message that names one record by its reference, the intent that shows a record of
        that kind to someone of ``role``: one on that ``record`` that writes nothing and has the bare
        reference (``"{ref}"``) among its examples (the likeliest, should there be several); None when
        the message names no record or several, or no such intent is declared.

        It is what a reference alone asks for ("L-1", "d3?", "M-2 pls"): a reference alone asks for no
        change, so a write is never meant, and what else it could start is not worth asking. And it is
        the answer to a message about the record that nothing else fits ("L-1 the customer rejected
        our first proposal"), or where it is the only reading worth offering ("what's L-3 again?"):
        the record, with what can be done with it, rather than "I didn't catch that" or a choice of
        one."""
        refs = set(entities.refs())
        if len(refs) != 1:
            return None
        kind = next(iter(refs)).split("-")[0]
        for one in ranked:
            spec = self.specs.get(one[0])
            if one[0] in self.showing and spec is not None and spec.record == kind and role in spec.roles:
                return one
        return None

    def _decide(self, readings: list[Reading], *, only: str | None, typed: set[str]) -> Decision:
        if only:
            return "act"
        if not readings:
            return "unknown"
        first = readings[0]
        spec = self.specs.get(first.intent)
        if spec is not None and spec.writes and not spec.confirms and not self._asks_for(first.intent, typed):
            return "ask"  # values alone ("northwind 60k") ask for no change: never written on a guess
        if first.doubts:
            return "ask"  # "03/04/2027" could be either: the person confirms the reading first
        second = readings[1].confidence if len(readings) > 1 else 0.0
        if first.intent == UNKNOWN:
            return "ask" if any(self._offerable(r) for r in readings[1:3]) else "unknown"
        if first.confidence >= ACT_AT and first.confidence - second >= MARGIN:
            return "act"
        # a write that is confirmed anyway (its own summary, or a record found by name) is as safe as a read
        confirmed = spec is not None and (spec.confirms or confirmed_first(spec, first))
        floor, times = AHEAD_WRITE if spec is not None and spec.writes and not confirmed else AHEAD_READ
        if first.confidence >= floor and first.confidence >= times * second:
            return "act"
        if first.confidence < UNKNOWN_BELOW and not any(self._offerable(r) for r in readings[1:3]):
            return "unknown"
        return "ask"

    def _offerable(self, reading: Reading) -> bool:
        return reading.confidence >= OFFER_AT and not reading.intent.startswith("meta.")

    def choices(self, understood: Understood) -> list[Reading]:
        """The readings worth offering when the layer asks: two or three, best first, no meta intent."""
        offered = [r for r in understood.readings if self._offerable(r) or r is understood.readings[0]]
        return [r for r in offered if not r.intent.startswith("meta.")][:3]
