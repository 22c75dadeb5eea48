"""PARTNERBOT_LOG_FORMAT=json: one JSON object per line, with the time, level, logger, message and what
the line is about (the stored request, its platform and kind, the person) - never the text people
typed. Text stays the default."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from bot.bootstrap import Core
from bot.config import Settings
from bot.logs import TEXT_FORMAT, JsonFormatter, configure_logging, handler_for
from tests.conftest import World

TYPED = "register a deal for Zanzibar Quokka Holdings, 120k USD"


async def test_json_lines_carry_the_request_platform_and_person_never_the_text(
    core: Core, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await core.people.add_user(
        email=world.alice.email,
        name="Alice Novak",
        partner="Northwind Partners",
        identities=[("slack", "TNORTH", "UALICE")],
    )
    out = io.StringIO()
    handler = handler_for(Settings.from_env({"PARTNERBOT_LOG_FORMAT": "json"}), stream=out)
    root = logging.getLogger()
    root.addHandler(handler)
    log = logging.getLogger("tests.operations.worker")
    attempts: list[int] = []

    async def message(payload: dict[str, Any]) -> None:
        actor = await core.people.identify(platform="slack", workspace="TNORTH", external_id="UALICE")
        assert actor is not None
        await core.conversation.handle_text(actor, payload["text"])
        log.info("answered a message")
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("Slack answered 500")  # logged by the inbox, with its traceback

    core.inbox.register("slack.message", message)
    try:
        await core.inbox.accept(
            kind="slack.message", dedupe_key="e1", order_key="UALICE", payload={"text": TYPED}
        )
        await core.inbox.drain()
        core.clock.advance(seconds=10)  # type: ignore[attr-defined]
        await core.inbox.drain()
        log.info("outside any request")
    finally:
        root.removeHandler(handler)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]  # every line is one object
    assert lines and all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    about = [line for line in lines if line["logger"] == "tests.operations.worker"]
    assert [line["message"] for line in about] == ["answered a message"] * 2 + ["outside any request"]
    person = world.alice.person_id
    for line in about[:2]:
        assert line["platform"] == "slack" and line["kind"] == "slack.message"
        assert isinstance(line["request_id"], int) and line["person_id"] == person
    assert "request_id" not in about[2] and "person_id" not in about[2]
    failed = [line for line in lines if line["logger"] == "bot.kernel.inbox"]
    assert failed and failed[0]["level"] == "WARNING" and "Slack answered 500" in failed[0]["exception"]
    assert failed[0]["request_id"] == about[0]["request_id"]
    assert "Zanzibar" not in out.getvalue()  # what people type is never logged
    assert lines[0]["time"].endswith("+00:00")


def test_text_is_the_default_and_configure_logging_installs_one_handler() -> None:
    assert Settings.from_env({}).log_format == "text"
    with pytest.raises(ValueError, match="PARTNERBOT_LOG_FORMAT must be text or json"):
        Settings.from_env({"PARTNERBOT_LOG_FORMAT": "xml"})
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    out = io.StringIO()
    try:
        for handler in saved:  # as `partnerbot` starts: no handler yet
            root.removeHandler(handler)
        installed = configure_logging(Settings.from_env({}), level=logging.INFO, stream=out)
        assert installed is not None and root.handlers == [installed] and root.level == logging.INFO
        assert installed.formatter is not None and installed.formatter._fmt == TEXT_FORMAT
        logging.getLogger("tests.operations.text").info("plain")
        # Logging set up already (an embedding program, the test runner): left as it is.
        assert configure_logging(Settings.from_env({}), level=logging.DEBUG, stream=out) is None
        assert root.handlers == [installed] and root.level == logging.INFO
        root.removeHandler(installed)
        json_handler = configure_logging(
            Settings.from_env({"PARTNERBOT_LOG_FORMAT": "json"}), level=logging.INFO, stream=out
        )
        assert json_handler is not None and isinstance(json_handler.formatter, JsonFormatter)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)
    assert " INFO tests.operations.text: plain" in out.getvalue()
