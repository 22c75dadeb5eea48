"""The Slack app manifest (``manifest.yml``) is valid and matches what the bot serves.

The official schema is read at test time from the ``shared/schemas`` folder next to the repository
(or from ``$PARTNERBOT_SHARED_DIR/schemas``); it is never copied into the repository and never fetched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import specification_with

REPO_ROOT = Path(__file__).resolve().parents[2]
SLACK_MANIFEST_PATH = REPO_ROOT / "manifest.yml"

# The HTTP routes in INTERFACE.md that Slack calls.
SLACK_EVENTS_PATH = "/slack/events"
SLACK_OAUTH_REDIRECT_PATH = "/slack/oauth_redirect"

# The one slash command INTERFACE.md promises.
SLASH_COMMANDS = {"/partner"}

# Events the bot listens to, with the scope Slack demands before it lets an app subscribe to each.
# Slack checks this when the manifest is applied; the JSON schema does not. tests/slack/test_scopes.py
# counts these scopes as needed.
REQUIRED_BOT_EVENTS = {
    "message.im": "im:history",
    "app_home_opened": None,
    "app_mention": "app_mentions:read",
    "app_uninstalled": None,
    "tokens_revoked": None,
    # The assistant pane (features.assistant_view): Slack requires assistant:write for both.
    "assistant_thread_started": "assistant:write",
    "assistant_thread_context_changed": "assistant:write",
}


# --- loading -------------------------------------------------------------------------------------


def shared_schemas_dir() -> Path:
    """``$PARTNERBOT_SHARED_DIR/schemas`` if set, else ``<repo root>/../shared/schemas``."""
    shared = os.environ.get("PARTNERBOT_SHARED_DIR")
    base = Path(shared) if shared else Path(__file__).resolve().parents[2].parent / "shared"
    return base / "schemas"


def load_shared_schema(name: str) -> dict[str, Any]:
    """Read one official schema; fail on CI when it is missing, skip elsewhere."""
    path = shared_schemas_dir() / name
    if not path.is_file():
        message = f"schema {name} not found at {path} (set PARTNERBOT_SHARED_DIR to the shared folder)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return json.loads(path.read_text(encoding="utf-8"))


def _refuse_remote(uri: str) -> Resource:
    # Every $ref must resolve inside the local file: a test never reaches the network.
    raise NoSuchResource(ref=uri)


def schema_validator(schema: dict[str, Any]) -> Any:
    """A validator for ``schema`` whose ``$ref``s resolve locally only.

    The draft comes from the schema's own ``$schema``; the schema is registered under its ``$id``/``id``
    (when it has one) so absolute refs to itself resolve from the file, and anything else fails loudly
    instead of being downloaded.
    """
    cls = validator_for(schema)
    cls.check_schema(schema)
    resource = Resource.from_contents(
        schema, default_specification=specification_with(cls.META_SCHEMA["$schema"])
    )
    registry: Registry = Registry(retrieve=_refuse_remote)
    if resource.id():
        registry = registry.with_resource(resource.id(), resource)
    return cls(schema, registry=registry)


def schema_errors(schema: dict[str, Any], document: Any) -> list[str]:
    errors = sorted(schema_validator(schema).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


def load_slack_manifest() -> dict[str, Any]:
    """The parsed ``manifest.yml``.

    Kept public for later tests, e.g. one that checks every bolt listener the Slack handler registers
    (commands, events, actions) is named in the manifest.
    """
    with SLACK_MANIFEST_PATH.open(encoding="utf-8") as fh:
        manifest = yaml.safe_load(fh)
    assert isinstance(manifest, dict), "manifest.yml must be a YAML mapping"
    return manifest


def slack_manifest_schema_name(manifest: dict[str, Any]) -> str:
    """The shared schema matching the manifest's ``_metadata.major_version`` (1 when absent)."""
    major = manifest.get("_metadata", {}).get("major_version", 1)
    return f"slack-app-manifest-{major}.0.0.json"


def manifest_urls(manifest: dict[str, Any]) -> dict[str, str]:
    """Every URL in the manifest, keyed by where it sits (``settings/interactivity/request_url``)."""
    found: dict[str, str] = {}

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{where}/{key}" if where else str(key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")
        elif isinstance(node, str) and "://" in node:
            found[where] = node

    walk(manifest, "")
    return found


# --- tests ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return load_slack_manifest()


def test_manifest_targets_major_version_1(manifest: dict[str, Any]) -> None:
    # Version 2 only changes the run-on-Slack (Deno) sections; a bolt app uses the classic format.
    assert manifest["_metadata"]["major_version"] == 1


def test_manifest_validates_against_official_schema(manifest: dict[str, Any]) -> None:
    schema = load_shared_schema(slack_manifest_schema_name(manifest))
    errors = schema_errors(schema, manifest)
    assert not errors, "manifest.yml does not match the Slack manifest schema:\n" + "\n".join(errors)


def test_background_color_is_a_hex_colour(manifest: dict[str, Any]) -> None:
    # The schema spells this constraint "regex", which is not a JSON Schema keyword, so it is not enforced.
    colour = manifest["display_information"].get("background_color")
    if colour is not None:
        assert isinstance(colour, str) and colour.startswith("#") and len(colour) in (4, 7)
        int(colour[1:], 16)


def test_every_url_points_at_one_host_and_a_served_route(manifest: dict[str, Any]) -> None:
    urls = manifest_urls(manifest)
    settings = manifest["settings"]
    expected_paths = {
        **{
            f"features/slash_commands/{i}/url": SLACK_EVENTS_PATH
            for i in range(len(manifest["features"]["slash_commands"]))
        },
        **{
            f"oauth_config/redirect_urls/{i}": SLACK_OAUTH_REDIRECT_PATH
            for i in range(len(manifest["oauth_config"]["redirect_urls"]))
        },
        "settings/event_subscriptions/request_url": SLACK_EVENTS_PATH,
        "settings/interactivity/request_url": SLACK_EVENTS_PATH,
        "settings/interactivity/message_menu_options_url": SLACK_EVENTS_PATH,
    }
    assert set(urls) == set(expected_paths), (
        f"unexpected URL fields: {sorted(set(urls) ^ set(expected_paths))}"
    )

    hosts = set()
    for where, url in urls.items():
        parts = urlsplit(url)
        assert parts.scheme == "https", f"{where}: Slack only calls https URLs, got {url}"
        assert parts.path == expected_paths[where], f"{where}: {url} is not {expected_paths[where]}"
        assert not parts.query and not parts.fragment, f"{where}: {url}"
        hosts.add(parts.netloc)
    assert len(hosts) == 1, f"all Slack URLs must use one host, found {sorted(hosts)}"

    # In HTTP mode Slack needs every request URL; Socket Mode would make them optional.
    if not settings.get("socket_mode_enabled", False):
        assert settings["interactivity"]["is_enabled"] is True
        assert all("url" in command for command in manifest["features"]["slash_commands"])


def test_partner_is_the_only_slash_command(manifest: dict[str, Any]) -> None:
    commands = manifest["features"]["slash_commands"]
    assert {command["command"] for command in commands} == SLASH_COMMANDS
    assert len(commands) == len(SLASH_COMMANDS)
    partner = commands[0]
    assert partner["should_escape"] is False
    assert "help" in partner["usage_hint"]


def test_bot_scopes_are_listed_once_and_no_user_scopes(manifest: dict[str, Any]) -> None:
    # Which bot scopes, and why each: tests/slack/test_scopes.py.
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes)), "duplicate scopes"
    assert "user" not in manifest["oauth_config"]["scopes"], "partnerbot acts as a bot, never as a user"


def test_bot_events_are_subscribed_with_their_scopes(manifest: dict[str, Any]) -> None:
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert set(events) == set(REQUIRED_BOT_EVENTS)
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    for event, scope in REQUIRED_BOT_EVENTS.items():
        assert scope is None or scope in scopes, f"event {event} needs scope {scope}"


def test_home_and_messages_tabs(manifest: dict[str, Any]) -> None:
    app_home = manifest["features"]["app_home"]
    assert app_home == {
        "home_tab_enabled": True,
        "messages_tab_enabled": True,
        "messages_tab_read_only_enabled": False,
    }
    assert (
        manifest["features"]["bot_user"]["display_name"]
        == manifest["display_information"]["name"]
        == "partnerbot"
    )


# --- the listeners the Slack handler registers ----------------------------------------------------


class ListenerRecorder:
    """Stands in for the bolt ``AsyncApp`` and records what ``handlers.slack.listeners.register_listeners`` asks for."""

    def __init__(self) -> None:
        self.registered: dict[str, list[Any]] = {}

    def __getattr__(self, kind: str) -> Any:
        if kind.startswith("_"):
            raise AttributeError(kind)

        def register(constraint: Any = None, *args: Any, **kwargs: Any) -> Any:
            self.registered.setdefault(kind, []).append(constraint)
            return lambda listener: listener

        return register


def registered_listeners() -> dict[str, list[Any]]:
    from unittest.mock import MagicMock

    from handlers.slack.listeners import register_listeners

    recorder = ListenerRecorder()
    register_listeners(recorder, MagicMock())
    return recorder.registered


def test_every_registered_listener_is_in_the_manifest(manifest: dict[str, Any]) -> None:
    registered = registered_listeners()
    assert set(registered) <= {"command", "event", "action", "view_submission", "shortcut", "options"}, (
        sorted(registered)
    )

    commands = {command["command"] for command in manifest["features"]["slash_commands"]}
    assert set(registered["command"]) <= commands

    subscribed = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    for event in registered["event"]:
        assert isinstance(event, str), f"event listeners are registered by type name, not {event!r}"
        if event == "message":
            # bolt matches on the event type; the manifest picks the conversation kinds.
            assert {e for e in subscribed if e.startswith("message.")} == {"message.im"}
        else:
            assert event in subscribed, f"listener for {event} but the manifest does not subscribe to it"

    # ...and the other way round: every subscribed event has a listener (else bolt answers 404).
    names = {"message.im" if e == "message" else e for e in registered["event"]}
    assert subscribed <= names, f"subscribed without a listener: {sorted(subscribed - names)}"

    if registered.get("action") or registered.get("view_submission"):
        assert manifest["settings"]["interactivity"]["is_enabled"] is True

    # Shortcuts both ways: each declared one has a listener, each listener a declaration.
    declared = {s["callback_id"] for s in manifest["features"].get("shortcuts", [])}
    assert set(registered.get("shortcut", [])) == declared
    # A picker that loads its options needs the options URL (Slack's "Select Menus" setting).
    if registered.get("options"):
        assert manifest["settings"]["interactivity"]["message_menu_options_url"].endswith("/slack/events")


def test_the_oauth_install_asks_for_the_manifest_scopes(manifest: dict[str, Any]) -> None:
    from handlers.slack.app import BOT_SCOPES

    assert sorted(BOT_SCOPES) == sorted(manifest["oauth_config"]["scopes"]["bot"])


def test_the_assistant_pane_is_declared_and_valid_in_both_schema_versions(manifest: dict[str, Any]) -> None:
    """features.assistant_view (with its description) and its events; the section is the same in
    manifest schema 2.0.0, so it validates there too (with the major version the schema asks for)."""
    view = manifest["features"]["assistant_view"]
    assert view["assistant_description"].strip()
    assert "suggested_prompts" not in view, "prompts are set per thread, for the person's role"
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"assistant_thread_started", "assistant_thread_context_changed"} <= events
    version_2 = {**manifest, "_metadata": {**manifest["_metadata"], "major_version": 2}}
    schema = load_shared_schema(slack_manifest_schema_name(version_2))
    errors = schema_errors(schema, version_2)
    assert not errors, "manifest.yml does not match Slack's manifest schema 2.0.0:\n" + "\n".join(errors)
