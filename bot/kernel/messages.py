"""The channel-neutral message model.

Everything the core says to a person is a :class:`Reply`; every person it acts for is an :class:`Actor`.
Handlers turn a Reply into Block Kit, an Adaptive Card or terminal text, and turn a platform event
into an Actor plus a call on :class:`bot.conversation.Conversation`. Nothing here knows a platform.

A Reply serialises to plain JSON (``to_dict``/``from_dict``) so it can sit in the outbox and in the
persisted dialog state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, Literal, cast

ButtonStyle = Literal["primary", "danger", "default"]
FieldKind = Literal["text", "textarea", "number", "date", "select", "email"]

FILE_REF = r"(?:[a-z][a-z0-9]*-)?file:"
"""The prefix of a file shared in a message, as a regular expression: ``file:<id>`` as handlers put
it into the text, or ``<platform>-file:<id>`` (``slack-file:F07…``, ``teams-file:…``) for any platform
name. Compile it with ``re.IGNORECASE``, followed by what the id may be."""
FILE_REF_RE = re.compile(FILE_REF + r"\S+", re.IGNORECASE)
"""A file reference anywhere in a text."""


@dataclass(frozen=True, slots=True)
class ConversationRef:
    """Where to reach a person on one platform: opaque platform data in ``extras``."""

    platform: str
    workspace: str
    external_id: str
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Actor:
    """The person a request is made for, as the core sees them.

    ``kind`` is ``"partner"`` for people of a partner organisation, ``"staff"`` for vendor staff.
    ``channel`` names the surface the request came through (``slack``, ``teams``, ``console``, ``cli``,
    ``job``) and is recorded in the audit log.
    """

    person_id: int
    name: str
    email: str
    kind: Literal["partner", "staff"]
    partner_id: int | None
    roles: frozenset[str] = frozenset()
    tz: str = "UTC"
    channel: str = "console"

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    def has_role(self, *roles: str) -> bool:
        return self.is_staff and ("admin" in self.roles or any(r in self.roles for r in roles))


@dataclass(frozen=True, slots=True)
class Button:
    """A next action. ``action`` names a core action (e.g. ``deal.approve``); ``data`` carries only
    references (``{"ref": "D-12"}``) - the core re-checks permissions on every click."""

    label: str
    action: str
    data: dict[str, str] = field(default_factory=dict)
    style: ButtonStyle = "default"
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class FormField:
    name: str
    label: str
    kind: FieldKind = "text"
    required: bool = True
    value: str | None = None
    placeholder: str | None = None
    choices: tuple[Choice, ...] = ()
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class Form:
    """A form the person fills in (Slack modal, Adaptive Card inputs). Submitting it calls
    ``Conversation.submit_form(actor, form.form_id, values, data=form.data)``."""

    form_id: str
    title: str
    fields: tuple[FormField, ...]
    submit_label: str = "Submit"
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fact:
    label: str
    value: str


@dataclass(slots=True)
class Reply:
    """One message. ``text`` is plain text (handlers escape it for their platform); ``title`` is an
    optional heading; ``facts`` are label/value pairs; ``buttons`` the next actions; ``form`` a form to
    open. ``ref`` names the record the message is about (``D-12``) and ``replace_key`` lets a later
    message replace this one in place wherever it was delivered."""

    text: str = ""
    title: str | None = None
    facts: list[Fact] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    form: Form | None = None
    ref: str | None = None
    replace_key: str | None = None
    sections: list[Reply] = field(default_factory=list)
    image_png_b64: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """What ``dataclasses.asdict`` gives, without its deep copies of every value (a sweep renders
        thousands of messages; asdict was most of its Python time)."""
        return cast(dict[str, Any], _plain(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        form = data.get("form")
        return cls(
            text=data.get("text", ""),
            title=data.get("title"),
            facts=[Fact(**f) for f in data.get("facts", [])],
            buttons=[Button(**b) for b in data.get("buttons", [])],
            form=(
                Form(
                    form_id=form["form_id"],
                    title=form["title"],
                    fields=tuple(
                        FormField(**{**f, "choices": tuple(Choice(**c) for c in f.get("choices", ()))})
                        for f in form["fields"]
                    ),
                    submit_label=form.get("submit_label", "Submit"),
                    data=dict(form.get("data", {})),
                )
                if form
                else None
            ),
            ref=data.get("ref"),
            replace_key=data.get("replace_key"),
            sections=[cls.from_dict(s) for s in data.get("sections", [])],
            image_png_b64=data.get("image_png_b64"),
        )


def _plain(value: Any) -> Any:
    """``value`` as ``dataclasses.asdict`` makes it (dataclasses to dicts, lists and tuples and dicts
    rebuilt), for the message types, whose other values are immutable (str, int, bool, None)."""
    names = _FIELDS.get(type(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, list | tuple):
        return type(value)(_plain(item) for item in value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls)) for cls in (Reply, Fact, Button, Form, FormField, Choice)
}


@dataclass(slots=True)
class FormResult:
    """The outcome of a form submission: either field errors (nothing written) or replies."""

    errors: dict[str, str] = field(default_factory=dict)
    replies: list[Reply] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors
