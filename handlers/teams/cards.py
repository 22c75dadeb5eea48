"""Adaptive Cards 1.5 for Microsoft Teams: a core :class:`Reply` in, a card (plain ``dict``) out.

Translation only - nothing here decides who may do what; the buttons are the ones the core chose.

- ``title`` becomes a bold TextBlock, ``text`` one TextBlock per line (Teams' handling of ``\\n``
  inside a TextBlock differs between clients), ``facts`` a FactSet, ``sections`` Containers with a
  separator and their own ActionSet, ``buttons`` Action.Execute (Universal Actions; ``Button.url``:
  Action.OpenUrl), ``form`` inputs plus one Action.Execute that submits them. Inside a dialog (a task
  module: the message extension's registration) they are Action.Submit, which is what dialogs take.
- A card about one record (``Reply.ref``) sent to known viewers carries ``refresh`` (:func:`refresh`):
  each viewer sees the record as the core shows it to them, and the state it is in now.
- Teams renders a Markdown subset in TextBlock and FactSet: everything the core says is plain text,
  so Markdown and HTML in it (user-supplied customer names, notes, reasons) are neutralised.
- What a click sends back is ``{"pb": {"a": action, "d": data}}`` for a button,
  ``{"pb": {"form": form_id, "d": form.data, "f": <the form>}}`` for a form submit and
  ``{"pb": {"view": ref}}`` for a refresh; Teams merges the input values into that object (the
  invoke's ``action.data``; an Action.Submit on a card posted before Universal Actions: the message's
  ``value``). ``"s": 1`` marks buttons that belong to a section (a list item), so
  the handler knows a click there must not replace the whole card. ``"f"`` lets the handler re-render
  the form with its errors (the core has no lookup of a form by id); it is only ever used for display.
- A chart (``Reply.image_png_b64``) travels beside the card, as a second attachment of the same activity
  (:func:`image_attachment`): inside the card it would eat the size budget.
- Cards stay under :data:`CARD_BUDGET` bytes: sections are dropped from the end (with a
  "…and N more" line), then long text is cut.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from bot.kernel.messages import Button, Form, FormField, Reply

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"
# Teams refuses messages over ~28 KB (the documented 40 KB counts UTF-16); stay well below for the
# activity envelope around the card.
MAX_CARD_BYTES = 28 * 1024
CARD_BUDGET = 24 * 1024
SUMMARY_CHARS = 250
PAYLOAD_KEY = "pb"
REFRESH_VERB = "refresh"
MAX_REFRESH_USERS = 60  # Teams refreshes a card automatically for at most 60 listed users

_INLINE_MARKUP = re.compile(r"([\\`*_~\[\]<>])")
_ENTITY = re.compile(r"&(#?\w+;)")
_LINE_START = re.compile(r"^([ \t]*)(?:([-+=]+)([ \t]|$)|(#+)|(\d+)([.)])([ \t]|$))", re.MULTILINE)


# -- text -----------------------------------------------------------------------------------------


def plain(text: str) -> str:
    """``text`` made safe for a Teams TextBlock/FactSet: Markdown and HTML shown literally.

    Backslash escapes (CommonMark) for inline markup, ``<``/``>`` (so ``<at>`` is not a mention or a
    tag) and HTML entities; block markers (lists, headings) only at the start of a line."""
    text = _INLINE_MARKUP.sub(r"\\\1", text)
    text = _ENTITY.sub(r"\\&\1", text)

    def block(match: re.Match[str]) -> str:
        indent = match.group(1)
        if match.group(2) is not None:
            return f"{indent}\\{match.group(2)}{match.group(3)}"
        if match.group(4) is not None:
            return indent + "\\" + match.group(4)
        return f"{indent}{match.group(5)}\\{match.group(6)}{match.group(7)}"

    return _LINE_START.sub(block, text)


def _lines(text: str) -> list[str]:
    return [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def summary(reply: Reply) -> str:
    """One plain line for notifications and clients that can't show the card."""
    parts = [p for p in (reply.title, reply.text.strip().split("\n")[0] if reply.text.strip() else None) if p]
    if not parts and reply.form is not None:
        parts = [reply.form.title]
    if not parts and reply.sections:
        parts = [reply.sections[0].title or reply.sections[0].text]
    text = " - ".join(p.strip() for p in parts if p and p.strip()) or "partnerbot"
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def is_plain_text(reply: Reply) -> bool:
    """A reply that is only words: sent as a plain-text message rather than a card."""
    return bool(reply.text.strip()) and not (
        reply.title or reply.facts or reply.buttons or reply.form or reply.sections or reply.image_png_b64
    )


def is_card_like(reply: Reply) -> bool:
    """A reply that can stand in for a card it replaces (a plain error line can't)."""
    return bool(
        reply.title or reply.facts or reply.buttons or reply.form or reply.sections or reply.image_png_b64
    )


# -- elements -------------------------------------------------------------------------------------


def _text_blocks(text: str, **style: Any) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for line in _lines(text.strip("\n")):
        block: dict[str, Any] = {
            "type": "TextBlock",
            "text": plain(line) if line.strip() else " ",
            "wrap": True,
        }
        if blocks:
            block["spacing"] = "none"
        block.update(style)
        blocks.append(block)
    return blocks


def _title(text: str) -> dict[str, Any]:
    return {"type": "TextBlock", "text": plain(text), "weight": "bolder", "size": "medium", "wrap": True}


def _action(button: Button, *, in_section: bool = False, dialog: bool = False) -> dict[str, Any]:
    if button.url:
        return {"type": "Action.OpenUrl", "title": button.label, "url": button.url}
    payload: dict[str, Any] = {"a": button.action, "d": dict(button.data)}
    if in_section:
        payload["s"] = 1
    action: dict[str, Any] = {
        **_click("Action.Submit" if dialog else "Action.Execute", button.action),
        "title": button.label,
        "data": {PAYLOAD_KEY: payload},
        # A button is not a form submit: don't let required inputs on the same card block it.
        "associatedInputs": "none",
    }
    if button.style == "primary":
        action["style"] = "positive"
    elif button.style == "danger":
        action["style"] = "destructive"
    return action


def _click(kind: str, verb: str) -> dict[str, Any]:
    """A click's type: ``Action.Execute`` (Universal Actions: an ``adaptiveCard/action`` invoke, with
    the verb the route names) on cards in chats; ``Action.Submit`` inside a dialog (a task module's
    submit, which Teams sends as the dialog's own invoke)."""
    return {"type": kind, "verb": verb} if kind == "Action.Execute" else {"type": kind}


def _input(f: FormField, value: str | None) -> dict[str, Any]:
    element: dict[str, Any]
    if f.kind == "select":
        element = {
            "type": "Input.ChoiceSet",
            "id": f.name,
            "style": "compact",
            "choices": [{"title": c.label, "value": c.value} for c in f.choices],
        }
    elif f.kind == "date" and (not value or re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
        element = {"type": "Input.Date", "id": f.name}
    else:
        element = {"type": "Input.Text", "id": f.name, "maxLength": 2000 if f.kind == "textarea" else 500}
        if f.kind == "textarea":
            element["isMultiline"] = True
        elif f.kind == "email":
            element["style"] = "email"
    element["label"] = f.label
    if f.placeholder:
        element["placeholder"] = f.placeholder
    if value:
        element["value"] = value
    if f.required:
        element["isRequired"] = True
        element["errorMessage"] = f"{f.label} is required."
    return element


def _form_elements(
    form: Form, *, values: Mapping[str, str | None], errors: Mapping[str, str], show_title: bool
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if show_title:
        items.append({"type": "TextBlock", "text": plain(form.title), "weight": "bolder", "wrap": True})
    names = {f.name for f in form.fields}
    for name, message in errors.items():
        if name not in names:  # an error the form has no field for: show it on top
            items += _text_blocks(message, color="attention")
    for f in form.fields:
        value = values[f.name] if f.name in values else f.value
        items.append(_input(f, value))
        if f.name in errors:
            items += _text_blocks(errors[f.name], color="attention", size="small", spacing="none")
        elif f.hint:
            items += _text_blocks(f.hint, isSubtle=True, size="small", spacing="none")
    return items


def form_payload(form: Form) -> dict[str, Any]:
    # JSON-native (lists, not tuples): the Bot Framework serialiser turns a tuple into its repr.
    return {"form": form.form_id, "d": dict(form.data), "f": json.loads(json.dumps(asdict(form)))}


def _submit(form: Form, *, dialog: bool = False) -> dict[str, Any]:
    return {
        **_click("Action.Submit" if dialog else "Action.Execute", form.form_id),
        "title": form.submit_label,
        "style": "positive",
        "data": {PAYLOAD_KEY: form_payload(form)},
    }


def _section(section: Reply, *, dialog: bool = False) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    if section.title:
        items.append({"type": "TextBlock", "text": plain(section.title), "weight": "bolder", "wrap": True})
    if section.text.strip():
        items += _text_blocks(section.text)
    if section.facts:
        items.append(
            {
                "type": "FactSet",
                "facts": [{"title": plain(f.label), "value": plain(f.value)} for f in section.facts],
            }
        )
    if section.buttons:
        items.append(
            {
                "type": "ActionSet",
                "actions": [_action(b, in_section=True, dialog=dialog) for b in section.buttons],
            }
        )
    if not items:
        items = [{"type": "TextBlock", "text": " ", "wrap": True}]
    return {"type": "Container", "separator": True, "spacing": "medium", "items": items}


# -- the card -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Parts:
    text: str
    sections: list[Reply]
    dropped: int = 0
    image: bool = True


def _assemble(
    reply: Reply,
    parts: _Parts,
    *,
    values: Mapping[str, str | None],
    errors: Mapping[str, str],
    notice: str | None,
    dialog: bool = False,
    viewers: Sequence[str] = (),
) -> dict[str, Any]:
    body: list[dict[str, Any]] = []
    if reply.title:
        body.append(_title(reply.title))
    if notice:
        body += _text_blocks(notice, color="attention")
    if parts.text.strip():
        body += _text_blocks(parts.text)
    if reply.image_png_b64:
        if parts.image:
            body.append(
                {
                    "type": "Image",
                    "url": "data:image/png;base64," + reply.image_png_b64,
                    "altText": reply.title or "chart",
                }
            )
        else:
            body += _text_blocks("(The chart is too large to show in Teams.)", isSubtle=True)
    if reply.facts:
        body.append(
            {
                "type": "FactSet",
                "facts": [{"title": plain(f.label), "value": plain(f.value)} for f in reply.facts],
            }
        )
    body += [_section(s, dialog=dialog) for s in parts.sections]
    if parts.dropped:
        body += _text_blocks(f"…and {parts.dropped} more.", isSubtle=True)
    if reply.form is not None:
        body += _form_elements(
            reply.form, values=values, errors=errors, show_title=reply.form.title != reply.title
        )
    if not body:
        body = [{"type": "TextBlock", "text": " ", "wrap": True}]
    actions: list[dict[str, Any]] = []
    if reply.form is not None:
        actions.append(_submit(reply.form, dialog=dialog))
    actions += [_action(b, dialog=dialog) for b in reply.buttons]
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "$schema": CARD_SCHEMA,
        "fallbackText": summary(reply),
        "body": body,
    }
    if actions:
        card["actions"] = actions
    if reply.ref and viewers and not dialog:
        card["refresh"] = refresh(reply.ref, viewers)
    return card


def refresh(ref: str, viewers: Sequence[str]) -> dict[str, Any]:
    """A card about one record refreshes per viewer (Universal Actions' user-specific views): Teams runs
    this action for each of ``viewers`` (their Teams ids, at most :data:`MAX_REFRESH_USERS`) as they
    look at the card, and shows each of them the record as the core shows it to them - the decision
    buttons to an approver only, the outcome to everyone once it is decided."""
    return {
        "type": "Refresh",
        "action": {"type": "Action.Execute", "verb": REFRESH_VERB, "data": {PAYLOAD_KEY: {"view": ref}}},
        "userIds": list(dict.fromkeys(viewers))[:MAX_REFRESH_USERS],
    }


def card_size(card: Mapping[str, Any]) -> int:
    """Bytes of the card as it goes over the wire (UTF-8 JSON)."""
    return len(json.dumps(card, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def reply_card(
    reply: Reply,
    *,
    values: Mapping[str, str | None] | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str | None = None,
    budget: int = CARD_BUDGET,
    dialog: bool = False,
    viewers: Sequence[str] = (),
) -> dict[str, Any]:
    """The Adaptive Card for ``reply``. ``values``/``errors`` re-render a submitted form with what the
    person typed and one attention line per field; ``notice`` is an attention line under the title.
    ``dialog``: the card goes into a dialog (task module), whose buttons are ``Action.Submit``.
    ``viewers``: the Teams ids the card refreshes for, each seeing their own view of the record."""
    values = values or {}
    errors = errors or {}
    parts = _Parts(text=reply.text, sections=list(reply.sections))
    card = _assemble(
        reply, parts, values=values, errors=errors, notice=notice, dialog=dialog, viewers=viewers
    )
    while card_size(card) > budget:
        if reply.image_png_b64 and parts.image:
            parts.image = False
        elif parts.sections:
            parts.sections.pop()
            parts.dropped += 1
        elif len(parts.text) > 200:
            parts.text = parts.text[: max(200, len(parts.text) // 2)].rstrip() + " …"
        else:
            # Nothing left to shorten (a huge form or fact list): say so rather than fail to deliver.
            return _assemble(
                Reply(
                    title=reply.title or "partnerbot",
                    text="This message is too long to show in Teams. Ask me for it in smaller parts.",
                ),
                _Parts(
                    text="This message is too long to show in Teams. Ask me for it in smaller parts.",
                    sections=[],
                ),
                values={},
                errors={},
                notice=None,
            )
        card = _assemble(
            reply, parts, values=values, errors=errors, notice=notice, dialog=dialog, viewers=viewers
        )
    return card


def attachment(card: Mapping[str, Any]) -> dict[str, Any]:
    return {"contentType": CARD_CONTENT_TYPE, "content": json_native(card)}


CHART_CONTENT_TYPE = "image/png"
CHART_NAME = "chart.png"


def without_image(reply: Reply) -> Reply:
    """``reply`` with its chart taken out: the card goes on one attachment and the chart on another
    (:func:`image_attachment`), since a data-URI Image element would use up the card's size budget."""
    return replace(reply, image_png_b64=None) if reply.image_png_b64 else reply


def image_attachment(reply: Reply) -> dict[str, str] | None:
    """The reply's chart as an inline-image attachment (a base64 ``data:`` URI that Teams shows in the
    message), or None when it has none or what it has is not a PNG."""
    if not reply.image_png_b64:
        return None
    try:
        png = base64.b64decode(reply.image_png_b64, validate=True)
    except ValueError:
        return None
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    return {
        "contentType": CHART_CONTENT_TYPE,
        "contentUrl": "data:image/png;base64," + reply.image_png_b64,
        "name": CHART_NAME,
    }


def json_native(card: Mapping[str, Any]) -> dict[str, Any]:
    """``card`` as plain JSON types (what goes over the wire is exactly what the tests validate)."""
    return json.loads(json.dumps(card, ensure_ascii=False))


# -- what comes back ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submission:
    """A click on one of our cards, read from an Action.Submit ``value`` or Action.Execute ``data``."""

    action: str | None
    form_id: str | None
    data: dict[str, str]
    inputs: dict[str, str | None]
    in_section: bool
    form: Form | None

    @property
    def name(self) -> str:
        return self.form_id or self.action or ""


def _strings(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    return {
        str(k): str(v) for k, v in raw.items() if isinstance(v, str | int | float) and not isinstance(v, bool)
    }


def read_refresh(value: Any) -> str | None:
    """The record a refresh (:func:`refresh`) asks for, or None when ``value`` is not one."""
    payload = value.get(PAYLOAD_KEY) if isinstance(value, Mapping) else None
    ref = payload.get("view") if isinstance(payload, Mapping) else None
    return ref[:40] if isinstance(ref, str) and ref.strip() else None


def read_submission(value: Any) -> Submission | None:
    """The click in ``value``, or None when it isn't one of ours."""
    if not isinstance(value, Mapping):
        return None
    payload = value.get(PAYLOAD_KEY)
    if not isinstance(payload, Mapping):
        return None
    action = payload.get("a")
    form_id = payload.get("form")
    if not isinstance(action, str) and not isinstance(form_id, str):
        return None
    form = None
    if isinstance(form_id, str) and isinstance(payload.get("f"), Mapping):
        try:
            form = Reply.from_dict({"form": dict(payload["f"])}).form
        except (KeyError, TypeError, ValueError):
            form = None
        if form is not None and form.form_id != form_id:
            form = None
    inputs: dict[str, str | None] = {}
    for key, raw in value.items():
        if key == PAYLOAD_KEY:
            continue
        if form is not None and key not in {f.name for f in form.fields}:
            continue
        inputs[str(key)] = None if raw is None else str(raw)
    return Submission(
        action=action if isinstance(action, str) else None,
        form_id=form_id if isinstance(form_id, str) else None,
        data=_strings(payload.get("d")),
        inputs=inputs,
        in_section=bool(payload.get("s")),
        form=form,
    )
