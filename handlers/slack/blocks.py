"""Block Kit for the core's :class:`~bot.kernel.messages.Reply` and :class:`~bot.kernel.messages.Form`.

Pure functions, no I/O: a Reply becomes ``{"text": fallback, "blocks": [...]}`` for ``chat.postMessage``
/ ``chat.update`` / ``response_url``; a list of Replies becomes an App Home view; a Form becomes a modal.

Slack's hard limits are enforced here, not hoped for: 50 blocks per message and 100 per modal or Home
view (longer content ends with a "…and N more" context block), 3000 characters per section text,
10 fields of at most 2000 characters per section, 150 characters per header, 25 elements per actions
block, 75 characters per button label, 2000 per button value, 255 per action/block id, 24 per modal
title/submit/close, 3000 for a modal's ``private_metadata``.

Escaping. Everything in a Reply is plain text, much of it typed by people (customer names, notes,
reasons), so none of it may become a mention, a link or formatting in Slack. ``&``, ``<`` and ``>`` are
always escaped in mrkdwn (so ``<!channel>`` shows as typed and pings nobody). Slack offers no escape for
its formatting characters (``*`` ``_`` ``~`` `````), and a ``>`` at the start of a line quotes it even
when written as ``&gt;``; a text that contains any of them is therefore sent as a ``plain_text`` object, which Slack
never interprets. Either way the reader sees exactly what was typed. mrkdwn is also ``verbatim`` (no
automatic links to channels or URLs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from bot.kernel.messages import Button, Choice, FieldKind, Form, FormField, Reply

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_ACTION_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ID = 255
MAX_MODAL_TITLE = 24
MAX_PRIVATE_METADATA = 3000
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_PLACEHOLDER = 150
MAX_LABEL = 2000
MAX_FALLBACK_TEXT = 3000
MAX_INITIAL_VALUE = 3000

FORM_CALLBACK_ID = "pb_form"
# The one action that is Slack's own, not the core's: reopen a form that could not be opened as a modal
# when the reply arrived (no trigger_id, e.g. after a typed message). Its value carries the form.
OPEN_FORM_ACTION = "slack.form.open"
INPUT_ACTION_ID = "value"

# Characters Slack's mrkdwn gives a meaning that no escape can take away; and a line starting with '>'
# is a quote even when written '&gt;'.
_MARKUP = frozenset("*_~`")
_QUOTE = re.compile(r"(?:^|\n)[ \t]*>")
ELLIPSIS = "…"


# -- text ------------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """The three characters Slack requires as entities in mrkdwn and message ``text``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS


def plain(text: str, limit: int | None = None, *, emoji: bool = True) -> dict[str, Any]:
    """A ``plain_text`` object (Slack never interprets it)."""
    value = text if limit is None else truncate(text, limit)
    return {"type": "plain_text", "text": value or " ", "emoji": emoji}


def _needs_plain(text: str) -> bool:
    return any(ch in _MARKUP for ch in text) or _QUOTE.search(text) is not None


def text_object(body: str, *, label: str | None = None, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    """``body`` (with an optional bold ``label`` line above it) as a text object that shows literally.

    mrkdwn with ``&<>`` escaped when the text has no formatting characters, otherwise plain_text."""
    if _needs_plain(body) or (label is not None and _needs_plain(label)):
        shown = f"{label}\n{body}" if label is not None and body else (label if label is not None else body)
        return plain(shown, limit, emoji=False)
    head = f"*{escape(label)}*" if label else ""
    rendered = f"{head}\n{escape(body)}" if head and body else (head or escape(body))
    if len(rendered) > limit:
        # Cut the raw text, then escape, so that no entity is split in half.
        room = limit - (len(head) + 1 if head else 0) - len(ELLIPSIS)
        cut = body[: _fitting(body, room)]
        rendered = (f"{head}\n" if head else "") + escape(cut) + ELLIPSIS
    return {"type": "mrkdwn", "text": rendered or " ", "verbatim": True}


def _fitting(text: str, limit: int) -> int:
    """How many leading characters of ``text`` stay within ``limit`` once escaped."""
    size = 0
    for index, ch in enumerate(text):
        size += len(escape(ch))
        if size > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Pieces of ``text`` that each render (escaped) within ``limit``, split at line ends when possible."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(escape(candidate)) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        current = ""
        while len(escape(line)) > limit:
            cut = max(1, _fitting(line, limit))
            pieces.append(line[:cut])
            line = line[cut:]
        current = line
    if current or not pieces:
        pieces.append(current)
    return [p for p in pieces if p.strip()] or [""]


def fallback_text(reply: Reply) -> str:
    """The top-level ``text`` Slack shows in notifications and where blocks can't be shown."""
    parts = [p for p in (reply.title, reply.text) if p]
    if not parts and reply.facts:
        parts = [f"{f.label}: {f.value}" for f in reply.facts[:3]]
    if not parts and reply.sections:
        parts = [s.title or s.text for s in reply.sections[:3] if s.title or s.text]
    text = " - ".join(p.replace("\n", " ") for p in parts) or "partnerbot"
    return truncate(escape(text), MAX_FALLBACK_TEXT)


# -- button values ---------------------------------------------------------------------------------


def encode_value(action: str, data: dict[str, str]) -> str:
    """A button's value: compact JSON ``{"a": action, "d": data}``."""
    return json.dumps({"a": action, "d": data}, separators=(",", ":"), ensure_ascii=False)


def decode_value(value: str | None) -> tuple[str, dict[str, str]] | None:
    """(action, data) from a button value, or None when it is not one of ours."""
    if not value:
        return None
    try:
        decoded = json.loads(value)
    except ValueError:
        return None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("a"), str):
        return None
    data = decoded.get("d") or {}
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        return None
    return decoded["a"], data


def form_button(form: Form) -> Button | None:
    """A button that opens ``form`` as a modal later, or None when the form is too big to carry."""
    raw = json.dumps(Reply(form=form).to_dict()["form"], separators=(",", ":"), ensure_ascii=False)
    packed = base64.urlsafe_b64encode(zlib.compress(raw.encode("utf-8"), 9)).decode("ascii")
    button = Button("Open the form", OPEN_FORM_ACTION, {"form": packed}, style="primary")
    return button if len(encode_value(button.action, button.data)) <= MAX_BUTTON_VALUE else None


def form_from_button(data: dict[str, str]) -> Form | None:
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(data["form"].encode("ascii"))).decode("utf-8")
        return Reply.from_dict({"form": json.loads(raw)}).form
    except (KeyError, ValueError, TypeError, zlib.error):
        return None


# -- blocks ----------------------------------------------------------------------------------------


class _Ids:
    """Hands out action ids unique within one message or view."""

    def __init__(self) -> None:
        self.n = 0
        self.blocks = 0

    def action(self, name: str) -> str:
        self.n += 1
        suffix = f":{self.n}"
        return name[: MAX_ID - len(suffix)] + suffix

    def block(self, kind: str) -> str:
        self.blocks += 1
        return f"{kind}:{self.blocks}"


def button_element(button: Button, ids: _Ids) -> dict[str, Any] | None:
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(button.label, MAX_BUTTON_TEXT),
        "action_id": ids.action(button.action),
    }
    if button.url:
        if len(button.url) > 3000:
            return None
        element["url"] = button.url
    else:
        value = encode_value(button.action, dict(button.data))
        if len(value) > MAX_BUTTON_VALUE:
            return None
        element["value"] = value
    if button.style in ("primary", "danger"):
        element["style"] = button.style
    return element


def actions_blocks(buttons: Sequence[Button], ids: _Ids) -> list[dict[str, Any]]:
    elements = [e for e in (button_element(b, ids) for b in buttons) if e is not None]
    return [
        {
            "type": "actions",
            "block_id": ids.block("actions"),
            "elements": elements[i : i + MAX_ACTION_ELEMENTS],
        }
        for i in range(0, len(elements), MAX_ACTION_ELEMENTS)
    ]


def _fact_sections(reply: Reply) -> list[dict[str, Any]]:
    fields = [text_object(f.value, label=f.label, limit=MAX_FIELD_TEXT) for f in reply.facts]
    return [
        {"type": "section", "fields": fields[i : i + MAX_FIELDS]} for i in range(0, len(fields), MAX_FIELDS)
    ]


def _text_sections(text: str) -> list[dict[str, Any]]:
    if not text.strip():
        return []
    return [{"type": "section", "text": text_object(piece)} for piece in split_text(text)]


def _reply_groups(reply: Reply, ids: _Ids, *, nested: bool = False) -> list[list[dict[str, Any]]]:
    """Blocks of one reply in groups that stay together when a message is cut short: the reply's own
    head (title, text, facts, buttons) first, then one group per section."""
    head: list[dict[str, Any]] = []
    buttons = list(reply.buttons)
    if reply.form is not None:
        opener = form_button(reply.form)
        if opener is not None:
            buttons.append(opener)
    if nested:
        # A section: title and text in one block, a single button as its accessory.
        pieces = (
            split_text(reply.text, MAX_SECTION_TEXT - MAX_HEADER_TEXT - 4) if reply.text.strip() else [""]
        )
        title = truncate(reply.title, MAX_HEADER_TEXT) if reply.title else None
        first: dict[str, Any] = {"type": "section", "text": text_object(pieces[0], label=title)}
        if len(buttons) == 1:
            element = button_element(buttons[0], ids)
            if element is not None:
                first["accessory"] = element
                buttons = []
        if title or pieces[0].strip() or "accessory" in first:
            head.append(first)
        head += [{"type": "section", "text": text_object(p)} for p in pieces[1:]]
    else:
        if reply.title:
            head.append({"type": "header", "text": plain(reply.title, MAX_HEADER_TEXT)})
        head += _text_sections(reply.text)
    head += _fact_sections(reply)
    head += actions_blocks(buttons, ids)
    if nested and head:
        head.insert(0, {"type": "divider"})
    groups = [head] if head else []
    for section in reply.sections:
        groups += _reply_groups(section, ids, nested=True)
    return groups


def _more(count: int) -> dict[str, Any]:
    return {"type": "context", "elements": [plain(f"{ELLIPSIS}and {count} more", emoji=False)]}


def fit_blocks(groups: Sequence[Sequence[dict[str, Any]]], limit: int) -> list[dict[str, Any]]:
    """At most ``limit`` blocks: whole groups while they fit, then a final "…and N more" block, where N
    counts the groups (items) left out."""
    total = sum(len(g) for g in groups)
    if total <= limit:
        return [block for group in groups for block in group]
    blocks: list[dict[str, Any]] = []
    for index, group in enumerate(groups):
        if len(blocks) + len(group) > limit - 1:
            if not blocks:  # one group alone is too big: cut inside it
                blocks = list(group[: limit - 1])
                left = len(group) - len(blocks) + len(groups) - 1
            else:
                left = len(groups) - index
            return blocks + [_more(left)]
        blocks.extend(group)
    return blocks


def render_blocks(reply: Reply, *, limit: int = MAX_MESSAGE_BLOCKS) -> list[dict[str, Any]]:
    blocks = fit_blocks(_reply_groups(reply, _Ids()), limit)
    return blocks or [{"type": "section", "text": plain(" ")}]


def render_message(reply: Reply) -> dict[str, Any]:
    """``text`` + ``blocks`` for ``chat.postMessage``, ``chat.update``, ``chat.postEphemeral`` and
    ``response_url``. A chart (``image_png_b64``) is not part of it: it is uploaded as a file after the
    message (:func:`chart_upload`), and the message's text carries the figures where it can't be seen."""
    return {"text": fallback_text(reply), "blocks": render_blocks(reply)}


CHART_FILENAME = "chart.png"
MAX_CHART_TITLE = 250


def chart_upload(reply: Reply) -> dict[str, Any] | None:
    """Keyword arguments for ``files_upload_v2`` (without the channel) for the reply's chart, or None when
    it has none - or when what it has is not a PNG, which is then left out rather than sent broken."""
    if not reply.image_png_b64:
        return None
    try:
        png = base64.b64decode(reply.image_png_b64, validate=True)
    except ValueError:
        return None
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    title = truncate(" ".join((reply.title or "Chart").split()), MAX_CHART_TITLE)
    return {"file": png, "filename": CHART_FILENAME, "title": title, "alt_txt": title}


def render_home(replies: Iterable[Reply]) -> dict[str, Any]:
    """The App Home view: the replies one after another, at most 100 blocks."""
    ids = _Ids()
    groups: list[list[dict[str, Any]]] = []
    for reply in replies:
        reply_groups = _reply_groups(reply, ids)
        if groups and reply_groups and reply_groups[0] and reply_groups[0][0]["type"] != "divider":
            reply_groups[0] = [{"type": "divider"}, *reply_groups[0]]
        groups += reply_groups
    blocks = fit_blocks(groups, MAX_VIEW_BLOCKS) or [{"type": "section", "text": plain(" ")}]
    return {"type": "home", "blocks": blocks}


# -- modals ----------------------------------------------------------------------------------------


def option(value: str, label: str) -> dict[str, Any]:
    return {"text": plain(label, MAX_OPTION_TEXT), "value": value}


def input_block(field: FormField) -> dict[str, Any]:
    choices = [c for c in field.choices if c.value and len(c.value) <= MAX_OPTION_VALUE]
    element: dict[str, Any]
    if (
        field.kind == "select"
        and choices
        and len(choices) == len(field.choices)
        and len(choices) <= MAX_OPTIONS
    ):
        element = {
            "type": "static_select",
            "action_id": INPUT_ACTION_ID,
            "placeholder": plain(field.placeholder or "Choose…", MAX_PLACEHOLDER),
            "options": [option(c.value, c.label) for c in choices],
        }
        chosen = (
            next((c for c in choices if field.value in (c.value, c.label)), None) if field.value else None
        )
        if chosen is not None:
            element["initial_option"] = option(chosen.value, chosen.label)
    elif field.kind == "select" and (len(field.choices) > MAX_OPTIONS or not field.choices):
        # Too many to list (or loaded on demand): Slack asks for the options matching what is typed
        # (SlackChannel.on_options, through the message_menu_options_url of manifest.yml).
        element = {
            "type": "external_select",
            "action_id": INPUT_ACTION_ID,
            "placeholder": plain(field.placeholder or "Type to search…", MAX_PLACEHOLDER),
            "min_query_length": 0,
        }
        if field.value:
            label = next((c.label for c in field.choices if field.value in (c.value, c.label)), field.value)
            element["initial_option"] = option(field.value[:MAX_OPTION_VALUE], label)
    else:
        # Dates stay free text on purpose: the core reads "end of March", "Q2", "in 6 weeks".
        element = {
            "type": "plain_text_input",
            "action_id": INPUT_ACTION_ID,
            "multiline": field.kind == "textarea",
        }
        if field.placeholder:
            element["placeholder"] = plain(field.placeholder, MAX_PLACEHOLDER)
        if field.value:
            element["initial_value"] = field.value[:MAX_INITIAL_VALUE]
    block: dict[str, Any] = {
        "type": "input",
        "block_id": field.name[:MAX_ID],
        "label": plain(field.label, MAX_LABEL),
        "element": element,
        "optional": not field.required,
    }
    hint = field.hint
    if element["type"] == "plain_text_input" and field.kind == "select" and field.choices and not hint:
        hint = "One of: " + ", ".join(c.label for c in field.choices)
    if hint:
        block["hint"] = plain(hint, MAX_LABEL)
    return block


METADATA_SEAL_CHARS = 100  # what "by" and "sig" add to the metadata


def _seal(key: bytes, meta: dict[str, Any]) -> str:
    body = json.dumps(meta, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]


def modal_metadata(
    *,
    form_id: str,
    data: dict[str, str],
    origin: dict[str, str] | None = None,
    key: bytes,
    submitter: str,
) -> str:
    """``private_metadata``: the form, its data and the message it came from, sealed for ``submitter``
    (``team:user``) with ``key``. Slack hands the metadata back as the client sent it, so
    :func:`read_metadata` only believes it when the seal and the submitter match."""
    meta: dict[str, Any] = {"form_id": form_id, "data": data, "by": submitter}
    if origin:
        meta["origin"] = origin
    limit = MAX_PRIVATE_METADATA - METADATA_SEAL_CHARS
    if len(json.dumps(meta, separators=(",", ":"), ensure_ascii=False)) > limit:
        meta.pop("origin", None)
    if len(json.dumps(meta, separators=(",", ":"), ensure_ascii=False)) > limit:
        raise ValueError(f"form {form_id} carries too much data for a Slack modal")
    return json.dumps({**meta, "sig": _seal(key, meta)}, separators=(",", ":"), ensure_ascii=False)


def read_metadata(text: str | None, *, key: bytes, submitter: str) -> dict[str, Any]:
    """The metadata :func:`modal_metadata` sealed for ``submitter``; ``{}`` for anything else (not
    JSON, no or a wrong seal, sealed for someone else)."""
    try:
        meta = json.loads(text or "{}")
    except (ValueError, RecursionError):
        return {}
    if not isinstance(meta, dict):
        return {}
    sig = meta.pop("sig", None)
    if not isinstance(sig, str) or meta.get("by") != submitter:
        return {}
    try:
        expected = _seal(key, meta)
    except (TypeError, ValueError):
        return {}
    return meta if hmac.compare_digest(sig, expected) else {}


def render_modal(form: Form, *, intro: str | None = None, private_metadata: str) -> dict[str, Any]:
    """A modal (callback ``pb_form``) with one input block per field; block id = field name."""
    blocks: list[dict[str, Any]] = []
    if intro and intro.strip():
        blocks += _text_sections(intro)[:2]
    inputs = [input_block(f) for f in form.fields]
    blocks += inputs[: MAX_VIEW_BLOCKS - len(blocks)]
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK_ID,
        "title": plain(form.title, MAX_MODAL_TITLE),
        "submit": plain(form.submit_label, MAX_MODAL_TITLE),
        "close": plain("Cancel", MAX_MODAL_TITLE),
        "private_metadata": private_metadata,
        "blocks": blocks or [{"type": "section", "text": plain(" ")}],
    }


def input_block_ids(view: dict[str, Any]) -> list[str]:
    return [b["block_id"] for b in view.get("blocks", []) if b.get("type") == "input" and b.get("block_id")]


def form_values(view: dict[str, Any]) -> dict[str, str | None]:
    """``{field name: value}`` from a submitted view's state."""
    values: dict[str, str | None] = {}
    for block_id, elements in (view.get("state", {}).get("values") or {}).items():
        if not elements:
            continue
        element = elements.get(INPUT_ACTION_ID) or next(iter(elements.values()))
        kind = element.get("type")
        if kind in ("static_select", "external_select", "radio_buttons"):
            value = (element.get("selected_option") or {}).get("value")
        elif kind == "datepicker":
            value = element.get("selected_date")
        else:
            value = element.get("value")
        values[block_id] = value
    return values


def form_from_view(
    view: dict[str, Any], values: dict[str, str | None], *, meta: dict[str, Any]
) -> Form | None:
    """The form a submitted modal showed (the inverse of :func:`render_modal`), filled in with
    ``values``: to show it again when the core refuses what was submitted. ``meta`` is the view's
    metadata as :func:`read_metadata` verified it."""
    if not meta.get("form_id"):
        return None
    fields: list[FormField] = []
    for block in view.get("blocks", []):
        if block.get("type") != "input" or not block.get("block_id"):
            continue
        element = block.get("element") or {}
        name = str(block["block_id"])
        choices: tuple[Choice, ...] = ()
        kind: FieldKind = "text"
        if element.get("type") == "external_select":
            kind = "select"  # no choices: rendered as external_select again, its options loaded
        elif element.get("type") == "static_select":
            kind = "select"
            choices = tuple(
                Choice(str(o.get("value")), str((o.get("text") or {}).get("text") or o.get("value")))
                for o in element.get("options") or []
            )
        elif element.get("multiline"):
            kind = "textarea"
        fields.append(
            FormField(
                name=name,
                label=str((block.get("label") or {}).get("text") or name),
                kind=kind,
                required=not block.get("optional", False),
                value=values.get(name),
                placeholder=(element.get("placeholder") or {}).get("text"),
                choices=choices,
                hint=(block.get("hint") or {}).get("text"),
            )
        )
    raw = meta.get("data")
    data = raw if isinstance(raw, dict) else {}
    return Form(
        form_id=str(meta["form_id"]),
        title=str((view.get("title") or {}).get("text") or "partnerbot"),
        fields=tuple(fields),
        submit_label=str((view.get("submit") or {}).get("text") or "Submit"),
        data={str(k): str(v) for k, v in data.items()},
    )


def errors_text(errors: dict[str, str], form: Form | None) -> str:
    """The core's field errors as one message, each under the field's label."""
    labels = {f.name: f.label for f in form.fields} if form else {}
    lines = [f"{labels.get(name, name) if name else 'Form'}: {message}" for name, message in errors.items()]
    return "Please check the form - it was not saved.\n" + "\n".join(lines)


def form_errors(errors: dict[str, str], block_ids: Sequence[str]) -> dict[str, str]:
    """The core's field errors keyed by input block; errors about fields the modal does not show go on
    the first input block."""
    shown: dict[str, str] = {}
    for name, message in errors.items():
        target = name if name in block_ids else (block_ids[0] if block_ids else name)
        shown[target] = f"{shown[target]} {message}" if target in shown else message
    return shown
