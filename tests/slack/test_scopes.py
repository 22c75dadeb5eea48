"""Least privilege: the bot scopes partnerbot asks for (``manifest.yml`` and the multi-workspace install's
``BOT_SCOPES``) are exactly the ones the Web API methods it calls, the events it subscribes to and the
app features it declares need - no more, no fewer.

The methods are found by reading the source: every ``AsyncWebClient`` method called anywhere in the
first-party packages, followed into the Web API methods slack_sdk calls for it (``files_upload_v2`` is
three). A newly called method without an entry in :data:`METHOD_SCOPES` fails here, and so does a scope in
the manifest that nothing needs. To add one: the method's page on docs.slack.dev lists its bot scopes.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from tests.slack.test_manifest import REPO_ROOT, REQUIRED_BOT_EVENTS, load_slack_manifest

# The packages whose source is scanned for Web API calls.
SOURCE_PACKAGES = ("bot", "handlers", "scheduler", "store")

# Web API method -> the bot scopes it needs (empty: none), and why partnerbot calls it.
METHOD_SCOPES: dict[str, frozenset[str]] = {
    # answers in DMs and the vendor channel, outbox messages, cards updated in place, ephemerals in channels
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    # a DM with someone who never wrote to the bot (the outbox, charts)
    "conversations.open": frozenset({"im:write"}),
    # who is writing: the profile's e-mail ties a Slack account to a partner user or staff member
    "users.info": frozenset({"users:read", "users:read.email"}),
    # someone known only by e-mail, found in their workspace before a first message
    "users.lookupByEmail": frozenset({"users:read.email"}),
    # the assistant pane: prompts fitted to the person's role, a status while working, the thread's title
    "assistant.threads.setSuggestedPrompts": frozenset({"assistant:write"}),
    "assistant.threads.setStatus": frozenset({"assistant:write"}),
    "assistant.threads.setTitle": frozenset({"assistant:write"}),
    # modals and the App Home need no scope
    "views.open": frozenset(),
    "views.update": frozenset(),
    "views.push": frozenset(),
    "views.publish": frozenset(),
    # charts, via files_upload_v2
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
    # bolt's authorize (who the bot is in a workspace); the install and token rotation
    "auth.test": frozenset(),
    "oauth.v2.access": frozenset(),
}

# Calls the libraries make on partnerbot's behalf, which no scan of its source finds.
LIBRARY_CALLS = {
    "auth.test": "bolt's authorize, for every request",
    "oauth.v2.access": "bolt's OAuth flow (install) and slack_sdk's token rotator",
}

# Features in the manifest that need a scope of their own.
FEATURE_SCOPES: dict[str, frozenset[str]] = {
    "slash_commands": frozenset({"commands"}),
    "shortcuts": frozenset({"commands"}),
}


# -- what the source calls ---------------------------------------------------------------------------


def client_methods() -> dict[str, Any]:
    """The Web API methods of ``AsyncWebClient`` by their Python names (``chat_postMessage``)."""
    return {
        name: member
        for name, member in vars(AsyncWebClient).items()
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    }


@cache
def web_api_names(python_name: str) -> frozenset[str]:
    """The Web API methods one ``AsyncWebClient`` method calls: its own ``api_call("...")``, and those
    of the client methods it calls in turn (``files_upload_v2``)."""
    methods = client_methods()
    source = inspect.getsource(methods[python_name])
    names = set(re.findall(r"api_call\(\s*[\"']([\w.]+)[\"']", source))
    for called in set(re.findall(r"self\.(\w+)\(", source)):
        if called in methods and called != python_name:
            names |= web_api_names(called)
    return frozenset(names)


def source_files() -> Iterator[Path]:
    for package in SOURCE_PACKAGES:
        yield from sorted((REPO_ROOT / package).rglob("*.py"))


def called_web_api_methods() -> dict[str, set[str]]:
    """Web API method -> the source files (``handlers/slack/notifier.py:82``) that call it."""
    methods = client_methods()
    found: dict[str, set[str]] = {}
    for path in source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            where = f"{path.relative_to(REPO_ROOT)}:{node.lineno}"
            attr = node.func.attr
            if attr in methods:
                names: frozenset[str] = web_api_names(attr)
            elif attr == "api_call" and node.args and isinstance(node.args[0], ast.Constant):
                names = frozenset({str(node.args[0].value)})
            else:
                continue
            for name in names:
                found.setdefault(name, set()).add(where)
    return found


def needed_scopes(manifest: dict[str, Any]) -> dict[str, set[str]]:
    """Scope -> what needs it (methods called, events subscribed, features declared)."""
    needs: dict[str, set[str]] = {}
    for method in {*called_web_api_methods(), *LIBRARY_CALLS}:
        for scope in METHOD_SCOPES.get(method, ()):
            needs.setdefault(scope, set()).add(method)
    for event in manifest["settings"]["event_subscriptions"]["bot_events"]:
        scope = REQUIRED_BOT_EVENTS.get(event)
        if scope:
            needs.setdefault(scope, set()).add(f"event {event}")
    for feature, scopes in FEATURE_SCOPES.items():
        if manifest["features"].get(feature):
            for scope in scopes:
                needs.setdefault(scope, set()).add(f"feature {feature}")
    return needs


# -- tests ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return load_slack_manifest()


def test_the_scan_sees_the_calls_partnerbot_makes() -> None:
    called = called_web_api_methods()
    # A few that must be found, directly and through files_upload_v2.
    assert {"chat.postMessage", "conversations.open", "users.lookupByEmail", "views.open"} <= set(called)
    assert {"files.getUploadURLExternal", "files.completeUploadExternal"} <= set(called)


def test_every_called_method_has_a_known_scope() -> None:
    unknown = {m: sorted(w) for m, w in called_web_api_methods().items() if m not in METHOD_SCOPES}
    assert not unknown, (
        f"Web API methods called without an entry in METHOD_SCOPES (add their bot scopes): {unknown}"
    )
    assert set(LIBRARY_CALLS) <= set(METHOD_SCOPES)


def test_every_subscribed_event_has_a_known_scope(manifest: dict[str, Any]) -> None:
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    unknown = [e for e in events if e not in REQUIRED_BOT_EVENTS]
    assert not unknown, f"events without an entry in test_manifest.REQUIRED_BOT_EVENTS: {unknown}"


def test_the_manifest_asks_for_exactly_the_scopes_needed(manifest: dict[str, Any]) -> None:
    requested = set(manifest["oauth_config"]["scopes"]["bot"])
    needs = needed_scopes(manifest)
    missing = {scope: sorted(why) for scope, why in needs.items() if scope not in requested}
    assert not missing, f"manifest.yml lacks scopes the code needs: {missing}"
    unused = sorted(requested - set(needs))
    assert not unused, f"manifest.yml asks for scopes nothing uses (least privilege): {unused}"
