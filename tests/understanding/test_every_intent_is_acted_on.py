"""Every intent the skills declare is acted on by some skill: read as that intent (as a choice the person
picked would be), an example of it gets an answer through the conversation - not "I didn't catch that"
and not nothing. The layer reading a message right (``bench nlu``) is not the person getting an answer:
``staff.pipeline`` was understood for a stop without any skill acting on it."""

from __future__ import annotations

import re
from pathlib import Path

from bench import nlu
from bot.kernel.errors import PartnerbotError
from bot.kernel.messages import Reply
from bot.kernel.understanding.spec import STAFF

# A value of the demo data for each placeholder an example may hold (``partnerbot demo``).
VALUES = {
    "dref": "D-1",
    "lref": "L-1",
    "qref": "Q-1",
    "mref": "M-1",
    "cref": "C-1",
    "partner": "Northwind Partners",
    "product": "Cloud Suite",
    "amount": "20k EUR",
    "date": "end of March",
    "quarter": "Q1",
    "url": "https://files.example/kit.pdf",
    "email": "jane@initech.example",
    "days": "30 days",
    "domain": "initech.example",
    "country": "DE",
}
NAMES = {"D": "Initech", "L": "Initech", "M": "webinar", "C": "launch kit", "Q": "pricing"}


def render(example: str, record: str | None) -> str:
    def one(m: re.Match[str]) -> str:
        key = m.group(1)
        if key == "ref":
            return f"{record or 'D'}-1"
        if key == "name":
            return NAMES.get(record or "D", "Initech")
        return VALUES.get(key, "Initech")

    return re.sub(r"\{(\w*)\}", one, example).replace("<", "").replace(">", "")


async def test_every_declared_intent_gets_an_answer(tmp_path: Path) -> None:
    template = await nlu.demo_template(tmp_path)
    core = await nlu.core_on(template)
    try:
        conversation = core.conversation
        alice = await core.people.actor_by_email("alice@northwind.example", channel="console")
        dana = await core.people.actor_by_email("dana@vendor.example", channel="console")
        unanswered = []
        for name, spec in conversation.understanding().specs.items():
            if name.startswith("meta."):
                continue  # the conversation's own
            actor = dana if spec.roles == STAFF else alice
            example = next((e for e in spec.examples if e.strip(" ?") != "{ref}"), spec.examples[0])
            text = render(example, spec.record)
            await conversation.dialogs.clear(actor)
            reading = (await conversation.understand(actor, text, only=name)).best
            assert reading is not None and reading.intent == name
            reading.confirmed = True  # as if the person had picked it
            try:
                replies = await conversation._act(actor, reading)
            except PartnerbotError as exc:  # "M-1 can't be marked paid now": an answer all the same
                replies = [Reply(text=str(exc))]
            said = " ".join(r.text or r.title or "" for r in replies or [])
            if not replies or "I didn't catch that" in said:
                unanswered.append(f"{name}: {text!r}")
        assert not unanswered, "declared intents no skill acts on:\n" + "\n".join(unanswered)
    finally:
        await core.db.dispose()
