"""A record's lifecycle as a table: which statuses each move may start from, how a status reads, and
the one sentence for a move the record's status doesn't allow ("D-3 is won, so it can't be approved
now.")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.kernel.errors import Conflict


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """``moves`` maps a move, named as its past participle ("approved", "marked won"), to the statuses
    it may start from; ``labels`` says how a status reads in a sentence (default: the status itself)."""

    moves: Mapping[str, frozenset[str]] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    def label(self, status: str) -> str:
        return self.labels.get(status, status.replace("_", " "))

    def allows(self, status: str, move: str) -> bool:
        return status in self.moves[move]

    def cannot(self, ref: str, status: str, move: str) -> str:
        return f"{ref} is {self.label(status)}, so it can't be {move} now."

    def expect(self, ref: str, status: str, move: str) -> None:
        """:class:`Conflict` with :meth:`cannot` unless ``move`` may start from ``status``."""
        if not self.allows(status, move):
            raise Conflict(self.cannot(ref, status, move))
