"""The terminal channel: ``partnerbot chat --as EMAIL``.

Translates only: lines in, replies out as plain text, buttons as numbered choices the person can type.
A form is filled in field by field at the prompt (empty input keeps the shown value or skips an
optional field). Notifications for the person chatting are printed between turns.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from bot.bootstrap import Core
from bot.kernel.messages import Actor, Button, Form, Reply
from bot.kernel.outbox import NotReachableNow


def render(reply: Reply, choices: list[Button], *, indent: str = "") -> str:
    """Plain text for one reply; buttons are appended to ``choices`` and shown with their number."""
    lines: list[str] = []
    if reply.title:
        lines.append(f"{indent}== {reply.title} ==")
    if reply.text:
        lines += [indent + line for line in reply.text.splitlines()]
    width = max((len(f.label) for f in reply.facts), default=0)
    lines += [f"{indent}  {f.label + ':':<{width + 1}} {f.value}" for f in reply.facts]
    for section in reply.sections:
        lines.append(render(section, choices, indent=indent + "  "))
    if reply.image_png_b64:
        lines.append(f"{indent}  (a chart is attached in Slack and Teams)")
    if reply.buttons:
        numbered = []
        for button in reply.buttons:
            choices.append(button)
            numbered.append(f"[{len(choices)}] {button.label}")
        lines.append(indent + "  " + "  ".join(numbered))
    if reply.form:
        lines.append(f"{indent}  (form: {reply.form.title} - type 'form' to fill it in here)")
    return "\n".join(lines)


class ConsoleNotifier:
    """Delivers outbox messages to the one person chatting in this terminal."""

    platform = "console"

    def __init__(self, *, person_id: int, write: Callable[[str], None]) -> None:
        self.person_id = person_id
        self.write = write
        self.sent = 0

    async def send(self, *, target: Mapping[str, Any], reply: Reply, idempotency_key: str) -> dict[str, Any]:
        if target.get("person_id") != self.person_id:
            raise NotReachableNow("that person is not at this terminal")
        self.sent += 1
        self.write("\n(notification)\n" + render(reply, []) + "\n")
        return {"person_id": self.person_id, "n": self.sent}

    async def update(self, *, message_ref: Mapping[str, Any], reply: Reply) -> None:
        if message_ref.get("person_id") == self.person_id:
            self.write("\n(updated)\n" + render(reply, []) + "\n")


class ConsoleSession:
    def __init__(
        self, *, core: Core, actor: Actor, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
    ) -> None:
        self.core = core
        self.actor = actor
        self.stdin = stdin
        self.stdout = stdout
        self.choices: list[Button] = []
        self.pending_form: Form | None = None
        self.notifier = ConsoleNotifier(person_id=actor.person_id, write=self._write)

    def _write(self, text: str) -> None:
        self.stdout.write(text + ("" if text.endswith("\n") else "\n"))
        self.stdout.flush()

    def _show(self, replies: list[Reply]) -> None:
        self.choices = []
        self.pending_form = None
        for reply in replies:
            self._write(render(reply, self.choices))
            if reply.form:
                self.pending_form = reply.form

    async def _deliver(self) -> None:
        await self.core.dispatcher({"console": self.notifier}).deliver_due()

    def _read(self, prompt: str) -> str | None:
        if self.stdin.isatty():
            self.stdout.write(prompt)
            self.stdout.flush()
        line = self.stdin.readline()
        return None if line == "" else line.rstrip("\n")

    async def _fill(self, form: Form) -> None:
        values: dict[str, str | None] = {}
        self._write(f"-- {form.title} (empty keeps the value in brackets) --")
        for f in form.fields:
            shown = f" [{f.value}]" if f.value else ("" if f.required else " (optional)")
            if f.choices:
                self._write("   " + ", ".join(c.label for c in f.choices))
            answer = self._read(f"{f.label}{shown}: ")
            if answer is None:
                return
            self._write(f"{f.label}{shown}: {answer}")
            values[f.name] = answer.strip() or f.value
        result = await self.core.conversation.submit_form(self.actor, form.form_id, values, data=form.data)
        if result.errors:
            self._write("Please fix:\n" + "\n".join(f"  {k}: {v}" for k, v in result.errors.items()))
            self.pending_form = form
            return
        self._show(result.replies)

    async def run(self) -> None:
        self._write(
            f"partnerbot - chatting as {self.actor.name} <{self.actor.email}>. Type 'help', or end input to leave."
        )
        await self._deliver()
        while True:
            line = self._read("> ")
            if line is None:
                break
            if not line.strip():
                continue
            if self.stdin.isatty() is False:
                self._write(f"> {line}")
            text = line.strip()
            if text.isdigit() and 1 <= int(text) <= len(self.choices):
                button = self.choices[int(text) - 1]
                if button.url:
                    self._write(f"Open {button.url}")
                    continue
                self._show(await self.core.conversation.handle_action(self.actor, button.action, button.data))
            elif text.lower() == "form" and self.pending_form is not None:
                await self._fill(self.pending_form)
            else:
                self._show(await self.core.conversation.handle_text(self.actor, line))
            await self._deliver()
