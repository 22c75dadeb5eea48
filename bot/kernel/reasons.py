"""The "give a reason" step every feature asks the same way: a prompt with a one-field form, the dialog
that waits for the typed answer, and the form error when the field comes back empty. Deals (reject,
ask for information, lost, extend, ...) and leads (decline, disqualify) declare their steps as
:class:`ReasonStep` values and share this."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.kernel.messages import Actor, Form, FormField, FormResult, Reply
from bot.kernel.skills import DialogStore


@dataclass(frozen=True, slots=True)
class ReasonStep:
    """``form_id`` names the form (and is the action a submitted form comes back as); ``title`` and
    ``prompt`` may hold ``{ref}``."""

    form_id: str
    title: str
    prompt: str

    def form(self, ref: str) -> Form:
        return Form(
            form_id=self.form_id,
            title=self.title.format(ref=ref),
            submit_label="Send",
            data={"ref": ref},
            fields=(FormField("reason", self.prompt.format(ref=ref), kind="textarea"),),
        )

    async def ask(
        self,
        dialogs: DialogStore,
        actor: Actor,
        *,
        ref: str,
        flow: str,
        state: dict[str, Any],
        reply_ref: bool = False,
    ) -> list[Reply]:
        """Save the dialog ``flow`` (with ``state``) that waits for the typed reason, and ask: the prompt
        with the form, for platforms where a form is quicker than a message."""
        await dialogs.save(actor, flow, state)
        return [Reply(text=self.prompt.format(ref=ref), form=self.form(ref), ref=ref if reply_ref else None)]

    def missing(self, ref: str | None, *, noun: str) -> FormResult:
        """The form came back without a reason: ask again in the field."""
        return FormResult(errors={"reason": self.prompt.format(ref=ref or f"the {noun}")})
