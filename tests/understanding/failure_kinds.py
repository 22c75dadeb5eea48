"""Issue #18's kinds of failure as one transcript, run in the terminal, through Slack and through Teams
(tests/understanding, tests/slack, tests/teams): each platform only says how a line is sent and what
came back. Alice has a Globex deal (D-1) registered before it starts; Dana is staff."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Say = Callable[[str, str], Awaitable[str]]  # (who: "alice" | "dana", text) -> what the bot answered


@dataclass(frozen=True)
class Step:
    kind: str
    who: str
    text: str
    shows: tuple[str, ...] = ()
    never: tuple[str, ...] = ()


STEPS = (
    Step("registration phrased another way", "alice",
         "got a new one - Tailwind Traders | edge gateway | 40k eur | end of april",
         ("Register this deal?", "Tailwind Traders", "40,000 EUR")),
    Step("registration phrased another way", "alice", "cancel", ("Nothing was saved",)),
    Step("customer not introduced by for/with/at", "alice", "register contoso pharma 40k", ("Which product",),
         ("Which customer",)),
    Step("customer not introduced by for/with/at", "alice", "cancel"),
    Step("a record by its customer's name", "alice", "we lost globex on price",
         ("as lost (Globex): price - is that right?",)),
    Step("a record by its customer's name", "alice", "cancel", (), ("lost on",)),
    Step("status in other words", "alice", "any news on globex?", ("D-1", "Globex")),
    Step("status in other words", "alice", "list my open regs", ("Globex",)),
    Step("a question-looking message that is no question for a person", "alice", "did anyone answer me?",
         (), ("Q-",)),
    Step("a question-looking message that is no question for a person", "alice", "is it supported?",
         ("What is it about?",), ("Q-",)),
    Step("staff phrasing", "dana", "show me the globex deal", ("D-1", "Globex")),
    Step("a reason after a dash", "alice", "mark D-1 lost - no budget", ("lost",), ("Why was",)),
)  # fmt: skip

REGISTER_FIRST = "register a deal for Globex, 120k USD of Cloud Suite, closing end of March"


async def run_failure_kinds(say: Say) -> None:
    for step in STEPS:
        out = await say(step.who, step.text)
        for shown in step.shows:
            assert shown in out, f"{step.kind}: {step.text!r} should show {shown!r}; got {out!r}"
        for never in step.never:
            assert never not in out, f"{step.kind}: {step.text!r} must not show {never!r}; got {out!r}"
