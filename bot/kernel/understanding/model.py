"""The intent model: trained from the capabilities' declared examples, in well under a second, offline.

Two approaches were compared on the development corpus (``python -m bench nlu --compare``; numbers in
docs/understanding.md):

* :class:`NaiveBayes` - multinomial naive Bayes over words, word pairs and character n-grams of the
  message with its values replaced by placeholders. Typos share most character n-grams with the word
  meant, so "balence" and "regsiter" still count.
* :class:`NearestExamples` - the closest declared examples by rapidfuzz's token-set similarity, scored
  per intent.

Both are a few hundred lines of arithmetic over a few thousand features: no new dependency, no file to
ship, and a prediction takes well under a millisecond. :data:`DEFAULT` names the one in use.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Protocol

from rapidfuzz import fuzz, process

from bot.kernel.refs import ALL_KINDS

_TOKEN_RE = re.compile(r"x[a-z]+ref|x[a-z]+|[a-z0-9]+(?:'[a-z]+)?|\?")
# Very common words that say nothing about the intent; kept out of the unigrams (not the pairs).
_STOP = frozenset(
    "a an the to of for on in at is are be it this that me pls please can could u you i".split()
)
# Chat shorthand spelled out, so the model sees one word for it.
_SHORTHAND = {
    "pls": "please", "plz": "please", "u": "you", "ur": "your", "r": "are", "w": "with", "thx": "thanks",
    "ty": "thanks", "wks": "weeks", "wk": "week", "mtg": "meeting", "opps": "opportunities",
    "opp": "opportunity", "reg": "register", "regs": "registrations", "info": "information",
    "asap": "soon", "bc": "because", "b/c": "because", "cuz": "because", "whats": "what's",
    "nvm": "nevermind", "qs": "questions", "q's": "questions", "dup": "duplicate", "dups": "duplicates",
    "dupe": "duplicate", "dupes": "duplicates",
}  # fmt: skip


# a word for a kind of record ("the hooli opp")
_KIND_WORDS = frozenset(w for kind in ALL_KINDS for w in kind.words)


def names_a_record(word: str) -> bool:
    """Whether a word of a message as the model reads it is the placeholder of a record: a reference
    (``xdref``), or a name of a record or a partner."""
    return word in ("xname", "xpartner") or (word.startswith("x") and word.endswith("ref"))


# What comes before a request's first word: courtesy and chat fillers ("hey, can you pls ask ...").
_LEAD_IN = frozenset(
    "hey hi hello ok okay so also and just quick fyi btw please can could would you will i we us let's "
    "kindly maybe".split()
)


def tokens(text: str) -> list[str]:
    lowered = text.lower().replace("w/", "with ").replace("b/c", "because")
    return [_SHORTHAND.get(t, t) for t in _TOKEN_RE.findall(lowered)]


def features(text: str, role: str) -> list[str]:
    """What the model sees of a message (already with placeholders): words, pairs of words, the first
    word, character n-grams of the longer words, and the person's role."""
    words = tokens(text)
    out = [f"w:{w}" for w in words if w not in _STOP]
    out += [f"b:{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
    if words:
        out.append(f"first:{words[0]}")
        head = next((w for w in words if w not in _LEAD_IN and not w.startswith("x")), None)
        if head is not None and head != words[0]:
            out.append(f"first:{head}")  # "D-3 - can you ask ...", "pls reject ...": the request's first word
        if len(words) <= 3:
            out.append(f"short:{len(words)}")
    for w in words:
        if len(w) >= 5 and not w.startswith("x") and w not in _STOP:
            padded = f"<{w}>"
            out += [f"c:{padded[i : i + 4]}" for i in range(len(padded) - 3)]
    if not any(w in _KIND_WORDS or names_a_record(w) for w in words):
        out.append("none:record")  # nothing names a record: no reference, name or word for one
    out.append(f"role:{role}")
    return out


class IntentModel(Protocol):
    def fit(self, texts: Sequence[str], roles: Sequence[str], labels: Sequence[str]) -> None: ...

    def rank(self, text: str, role: str) -> list[tuple[str, float]]:
        """Every intent with its probability, best first."""
        ...


class NaiveBayes:
    """Multinomial naive Bayes with uniform priors (every intent is as likely before the words are read)
    and a softmax temperature so that its probabilities mean something to the decision rule."""

    def __init__(self, alpha: float = 0.2, temperature: float = 2.5) -> None:
        self.alpha = alpha
        self.temperature = temperature
        self.log_probs: dict[str, dict[str, float]] = {}
        self.unseen: dict[str, float] = {}
        self.vocabulary: set[str] = set()

    def fit(self, texts: Sequence[str], roles: Sequence[str], labels: Sequence[str]) -> None:
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for text, role, label in zip(texts, roles, labels, strict=True):
            counts[label].update(set(features(text, role)))
        self.vocabulary = {f for c in counts.values() for f in c}
        size = len(self.vocabulary)
        for label, c in counts.items():
            total = sum(c.values()) + self.alpha * size
            self.log_probs[label] = {f: math.log((n + self.alpha) / total) for f, n in c.items()}
            self.unseen[label] = math.log(self.alpha / total)

    def rank(self, text: str, role: str) -> list[tuple[str, float]]:
        seen = [f for f in set(features(text, role)) if f in self.vocabulary]
        scores = {
            label: sum(probs.get(f, self.unseen[label]) for f in seen)
            for label, probs in self.log_probs.items()
        }
        return _softmax(scores, self.temperature * max(1.0, len(seen) / 8))


class NearestExamples:
    """The intent of the most similar declared examples (token-set similarity of placeholder texts)."""

    def __init__(self, k: int = 3) -> None:
        self.k = k
        self.examples: list[str] = []
        self.labels: list[str] = []
        self.roles: list[str] = []

    def fit(self, texts: Sequence[str], roles: Sequence[str], labels: Sequence[str]) -> None:
        self.examples = [" ".join(tokens(t)) for t in texts]
        self.labels = list(labels)
        self.roles = list(roles)

    def rank(self, text: str, role: str) -> list[tuple[str, float]]:
        query = " ".join(tokens(text))
        best: dict[str, list[float]] = defaultdict(list)
        for _, score, index in process.extract(query, self.examples, scorer=fuzz.token_set_ratio, limit=60):
            bonus = 3.0 if self.roles[index] == role else 0.0
            best[self.labels[index]].append(score + bonus)
        scores = {label: sum(sorted(s, reverse=True)[: self.k]) / self.k for label, s in best.items()}
        return _softmax(scores, 4.0)


def _softmax(scores: dict[str, float], temperature: float) -> list[tuple[str, float]]:
    if not scores:
        return []
    top = max(scores.values())
    weights = {k: math.exp((v - top) / temperature) for k, v in scores.items()}
    total = sum(weights.values())
    return sorted(((k, w / total) for k, w in weights.items()), key=lambda kv: -kv[1])


MODELS = {"bayes": NaiveBayes, "nearest": NearestExamples}
DEFAULT = "bayes"
