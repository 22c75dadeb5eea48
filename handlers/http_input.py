"""What every HTTP entrance does with a body before anything else reads it: bound its size, decode it as
UTF-8, bound the nesting of its JSON, and turn what is malformed into a short 400 - never a 500 and
never a traceback in the answer.

``json.loads`` recurses once per level of nesting, so a body of 50,000 ``[`` raises ``RecursionError``
(not a ``ValueError``); the depth is therefore measured with a scan of the brackets outside strings
before the parser sees the text, and the scan stops at the first bracket past the limit.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

MAX_BODY_BYTES = 1024 * 1024  # the aiohttp application's client_max_size too
MAX_JSON_DEPTH = 32  # Slack's and the Bot Connector's payloads nest a dozen levels at most

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class BadInput(ValueError):
    """A request the entrance refuses as it is; ``status`` is 400 (malformed) or 401 (unauthenticated)."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status

    def response(self) -> web.Response:
        return refuse(self.reason, status=self.status)


def refuse(reason: str, *, status: int = 400) -> web.Response:
    """The short JSON answer every entrance gives to what it refuses."""
    return web.json_response({"error": reason}, status=status)


def nesting_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``text``'s arrays and objects nest deeper than ``limit`` (brackets inside JSON strings
    don't count). Malformed text may give either answer; the parser refuses it afterwards anyway."""
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def decode(raw: bytes) -> str:
    """The body as text; invalid UTF-8 is refused."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput("the body is not valid UTF-8") from exc


def parse_json(text: str, *, what: str = "the body", depth: int = MAX_JSON_DEPTH) -> Any:
    """``text`` parsed as JSON, nesting bounded; :class:`BadInput` when it is not JSON or too deep."""
    if nesting_depth_exceeds(text, depth):
        raise BadInput(f"{what} nests deeper than {depth} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadInput(f"{what} is not valid JSON") from exc


def parse_json_object(text: str, *, what: str = "the body", depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """Like :func:`parse_json`, and the value must be a JSON object."""
    value = parse_json(text, what=what, depth=depth)
    if not isinstance(value, dict):
        raise BadInput(f"{what} must be a JSON object")
    return value


def check_object_depth(value: Any, *, what: str = "the payload", depth: int = MAX_JSON_DEPTH) -> None:
    """For values that arrive already parsed (Socket Mode envelopes): refuse what nests too deep,
    without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            if level > depth:
                raise BadInput(f"{what} nests deeper than {depth} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)


async def read_body(request: web.Request, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refused (413) past ``limit`` bytes before it is read when the length is declared."""
    if request.content_length is not None and request.content_length > limit:
        raise BadInput(f"the body is larger than {limit} bytes", status=413)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise BadInput(f"the body is larger than {limit} bytes", status=413) from exc
    if len(raw) > limit:
        raise BadInput(f"the body is larger than {limit} bytes", status=413)
    return raw
