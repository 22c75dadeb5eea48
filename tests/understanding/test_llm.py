"""The optional language model (``PARTNERBOT_LLM_URL``) against a local stand-in for an OpenAI-compatible
chat-completions endpoint: off by default; asked only when the embedded layer is unsure; its tool call
becomes an action (a read answered, a write confirmed first and written only after Yes); the request holds
the message, the intents of the person's role and the names of their own records - nothing of anyone
else's; every failure leaves the embedded answer; the key goes in one header and nowhere else."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from bot import wiring
from bot.bootstrap import Core
from bot.config import Settings
from bot.demo import seed
from bot.kernel.amounts import Money
from bot.kernel.messages import Actor
from bot.kernel.understanding.entities import Named, find_entities
from bot.kernel.understanding.llm import MAX_NAMES, as_written, ground, read_answer, request_body, tool_name
from bot.kernel.understanding.reader import Understanding
from bot.kernel.understanding.spec import Reading
from handlers.language_model import auth_headers, completions_url, language_model_from
from store.question_models import Question
from tests.conftest import Chat, FakeClock, make_settings

KEY = "sk-test-7f3a9c1e5b"
NOT_SURE = "I'm not sure what you mean"
NOT_CAUGHT = "I didn't catch that"


def embedded_answer(out: str) -> bool:
    """The embedded layer's own answer to an unsure message: choices, or what can be said instead."""
    return NOT_SURE in out or NOT_CAUGHT in out


UNSURE_READ = "how's the trucking company thing looking"  # Bob's Stark Logistics deal, in other words
UNSURE_WRITE = "stark's budget got cut so we're dead there"  # "stark's" is no name to the embedded layer
SURE = "whats up with stark logistics"
# Alice's records and organisation (the intents' own examples may say "Northwind Traders": code, not data).
ALICES = ("Initech", "Umbrella", "Webinar", "Northwind Partners", "alice", "northwind.example", "umbrella")


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class StandIn:
    """Answers ``POST /v1/chat/completions`` like the OpenAI API and records every request."""

    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    status: int = 200
    payload: Any = None  # a dict is sent as JSON, bytes as they are
    delay: float = 0.0

    def __post_init__(self) -> None:
        self.no_tool()

    def no_tool(self) -> None:
        self.payload = completion({"role": "assistant", "content": "None of these fits."})

    def calls(self, tool: str, arguments: Any = None, **values: str) -> None:
        raw = arguments if arguments is not None else json.dumps(values)
        call = {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": raw}}
        self.payload = completion({"role": "assistant", "content": None, "tool_calls": [call]})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Seen(request.path, dict(request.headers), await request.json()))
        if self.delay:
            await asyncio.sleep(self.delay)
        if isinstance(self.payload, bytes):
            return web.Response(status=self.status, body=self.payload, content_type="text/html")
        return web.json_response(self.payload, status=self.status)


def completion(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "llama3.1",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
    }


@pytest.fixture
async def model() -> AsyncIterator[StandIn]:
    stand_in = StandIn()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", stand_in.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    stand_in.url = str(server.make_url("/v1"))
    yield stand_in
    await server.close()


def llm_env(model: StandIn, **extra: str) -> dict[str, str]:
    return {"PARTNERBOT_LLM_URL": model.url, "PARTNERBOT_LLM_MODEL": "llama3.1", **extra}


async def demo_core(url: str, clock: FakeClock, **env: str) -> Core:
    """A core on ``partnerbot demo`` data, wired the way ``bot.wiring.build_core`` wires it (with our clock)."""
    settings = make_settings(url, **env)
    core = Core.build(settings, clock=clock, language_model=language_model_from(settings))
    await seed(core)
    return core


async def person(core: Core, email: str) -> Actor:
    found = await core.people.actor_by_email(email, channel="console")
    assert found is not None
    return found


@pytest.fixture
async def with_model(sqlite_url: str, clock: FakeClock, model: StandIn) -> AsyncIterator[Core]:
    core = await demo_core(sqlite_url, clock, **llm_env(model, PARTNERBOT_LLM_KEY=KEY))
    yield core
    await core.db.dispose()


async def bob(core: Core) -> Chat:
    return Chat(core, await person(core, "bob@contoso.example"))


async def stark(core: Core) -> Any:
    return await core.deals.get(await person(core, "bob@contoso.example"), "D-3")


async def questions(core: Core) -> int:
    async with core.db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(Question))).scalar_one())


# -- off by default ---------------------------------------------------------------------------------------


async def test_off_by_default(sqlite_url: str, clock: FakeClock, model: StandIn) -> None:
    assert Settings.from_env({}).llm_url == ""
    unset = make_settings(sqlite_url, PARTNERBOT_LLM_KEY=KEY, PARTNERBOT_LLM_MODEL="llama3.1")
    wired = wiring.build_core(unset)
    assert wired.conversation.language_model is None, "a key and a model without a URL turn nothing on"
    await wired.db.dispose()
    wired = wiring.build_core(make_settings(sqlite_url, **llm_env(model)))
    assert wired.conversation.language_model is not None, "the wiring builds it from the URL"
    await wired.db.dispose()

    core = await demo_core(sqlite_url, clock, PARTNERBOT_LLM_KEY=KEY)
    model.calls("deal__status", customer="Stark Logistics Inc")
    out = await (await bob(core)).say(UNSURE_READ)
    assert embedded_answer(out) and "D-3" not in out
    assert model.requests == []
    await core.db.dispose()


async def test_not_asked_when_the_embedded_layer_is_sure(with_model: Core, model: StandIn) -> None:
    model.calls("deal__lost", customer="Stark Logistics Inc", reason="price")
    out = await (await bob(with_model)).say(SURE)
    assert "D-3" in out and "Stark Logistics Inc" in out
    assert model.requests == []
    assert (await stark(with_model)).status != "lost"


# -- its answer becomes an action ---------------------------------------------------------------------------


async def test_a_read_it_suggests_is_answered(with_model: Core, model: StandIn) -> None:
    chat = await bob(with_model)
    out = await chat.say(UNSURE_READ)
    assert embedded_answer(out) and "D-3" not in out, "no tool call: the embedded answer, as before"
    assert len(model.requests) == 1

    model.calls("deal__status", customer="Stark Logistics")
    out = await chat.say(UNSURE_READ)
    assert "D-3" in out and "Stark Logistics Inc" in out and "is that right?" not in out
    assert len(model.requests) == 2


async def test_a_write_it_suggests_is_confirmed_and_written_only_after_yes(
    with_model: Core, model: StandIn
) -> None:
    chat = await bob(with_model)
    model.calls("deal__lost", customer="Stark Logistics Inc", reason="budget got cut")
    out = await chat.say(UNSURE_WRITE)
    assert "Mark D-3 as lost (Stark Logistics Inc): stark's budget got cut" in out and "is that right?" in out
    assert (await stark(with_model)).status != "lost", "nothing is written on the model's word"
    out = await chat.click("Yes")
    assert "lost" in out.lower()
    view = await stark(with_model)
    assert view.status == "lost" and "budget got cut" in (view.outcome_reason or "")
    assert len(model.requests) == 1, "the confirmation is not another question to the model"


async def test_its_pick_of_a_write_is_confirmed_even_with_nothing_inferred(
    with_model: Core, model: StandIn
) -> None:
    chat = await bob(with_model)
    model.calls("question__ask")  # every slot is the embedded layer's: the intent alone is the guess
    out = await chat.say("schools and discounts")
    assert "Ask the vendor this as a question" in out and "is that right?" in out
    assert await questions(with_model) == 0
    out = await chat.say("yes")
    assert "Q-1" in out and await questions(with_model) == 1


async def test_no_writes_nothing(with_model: Core, model: StandIn) -> None:
    chat = await bob(with_model)
    model.calls("deal__lost", customer="Stark Logistics Inc")
    assert "is that right?" in await chat.say(UNSURE_WRITE)
    assert "Nothing was saved" in await chat.click("No")
    assert (await stark(with_model)).status != "lost"


async def test_its_values_go_through_the_same_parsers(with_model: Core, model: StandIn) -> None:
    chat = await bob(with_model)
    model.calls("deal__update", customer="Stark", amount="150k")
    out = await chat.say("the trucking folks are now worth a hundred fifty grand")
    assert "Update D-3 (Stark Logistics Inc) with amount 150,000 USD - is that right?" in out
    out = await chat.click("Yes")
    assert "Update D-3" in out and "150,000 USD" in out, "the deal skill's own confirmation follows"
    await chat.click("Confirm")
    assert (await stark(with_model)).amount == Money(Decimal("150000"), "USD")


async def test_a_name_it_gives_must_be_one_of_the_persons_own_records(
    with_model: Core, model: StandIn
) -> None:
    chat = await bob(with_model)
    model.calls("deal__status", customer="Initech GmbH")  # Alice's customer, not Bob's
    out = await chat.say(UNSURE_READ)
    assert "Initech" not in out and "D-1" not in out
    assert "Which deal" in out and "D-3" in out, "no record named: Bob picks among his own deals"


# -- what leaves the building -------------------------------------------------------------------------------


async def test_the_request_holds_the_message_the_intents_and_only_the_persons_own_names(
    with_model: Core, model: StandIn
) -> None:
    await (await bob(with_model)).say(UNSURE_READ)
    [seen] = model.requests
    assert seen.path == "/v1/chat/completions"
    body = seen.body
    assert body["model"] == "llama3.1" and body["tool_choice"] == "auto"
    assert body["messages"][-1] == {"role": "user", "content": UNSURE_READ}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    sent = json.dumps(body)
    assert "Stark Logistics Inc" in sent and "Hooli Inc" in sent, "Bob's deal and Bob's lead"
    for other in ALICES:
        assert other not in sent, f"{other!r} is not Bob's"
    for private in ("D-3", "L-2", "stark.example", "bob@contoso.example", "120000", "120,000", KEY):
        assert private not in sent, f"{private!r} left the building"
    tools = {t["function"]["name"] for t in body["tools"]}
    assert {"deal__status", "deal__lost", "deal__register", "question__ask"} <= tools
    assert not any(t.startswith(("staff__", "meta__")) for t in tools), "only a partner's intents"
    lost = next(t["function"] for t in body["tools"] if t["function"]["name"] == "deal__lost")
    assert set(lost["parameters"]["properties"]) == {"ref", "customer", "reason"}
    assert all(p["type"] == "string" for p in lost["parameters"]["properties"].values())


async def test_staff_are_offered_staff_intents_with_partner_names(with_model: Core, model: StandIn) -> None:
    dana = Chat(with_model, await person(with_model, "dana@vendor.example"))
    await dana.say("hmm, thoughts on the trucking one")
    [seen] = model.requests
    sent = json.dumps(seen.body)
    assert "Contoso Integrators" in sent and "Northwind Partners" in sent
    tools = {t["function"]["name"] for t in seen.body["tools"]}
    assert "staff__approve" in tools and "deal__register" not in tools


# -- every failure leaves the embedded answer ---------------------------------------------------------------


def fails_by_timing_out(model: StandIn) -> None:
    model.delay = 1.5
    model.calls("deal__lost", customer="Stark Logistics Inc")


def fails_with_500(model: StandIn) -> None:
    model.status = 500
    model.payload = {"error": {"message": "overloaded"}}


def fails_with_garbage(model: StandIn) -> None:
    model.payload = b"<html>Bad gateway</html>"


def fails_with_no_completion(model: StandIn) -> None:
    model.payload = {"object": "list", "data": []}


def fails_with_an_unknown_intent(model: StandIn) -> None:
    model.calls("deal__teleport", customer="Stark Logistics Inc")


def fails_with_a_staff_intent_for_a_partner(model: StandIn) -> None:
    model.calls("staff__approve", customer="Stark Logistics Inc")


def fails_with_arguments_that_are_not_json(model: StandIn) -> None:
    model.calls("deal__lost", arguments='{"customer": "Stark')


@pytest.mark.parametrize(
    "failure",
    [
        fails_by_timing_out,
        fails_with_500,
        fails_with_garbage,
        fails_with_no_completion,
        fails_with_an_unknown_intent,
        fails_with_a_staff_intent_for_a_partner,
        fails_with_arguments_that_are_not_json,
    ],
)
async def test_a_failure_leaves_the_embedded_answer(
    sqlite_url: str, clock: FakeClock, model: StandIn, caplog: pytest.LogCaptureFixture, failure: Any
) -> None:
    core = await demo_core(sqlite_url, clock, **llm_env(model, PARTNERBOT_LLM_TIMEOUT="0.3"))
    chat = await bob(core)
    embedded = await chat.say(UNSURE_WRITE)  # the stand-in calls no tool yet
    assert NOT_SURE in embedded
    failure(model)
    with caplog.at_level(logging.DEBUG):
        out = await chat.say(UNSURE_WRITE)
    assert out == embedded, "exactly what the embedded layer answers"
    assert len(model.requests) == 2
    assert (await stark(core)).status != "lost"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "language model" in r.message]
    assert len(warnings) == 1, caplog.text
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("bot", "handlers")))
    assert "budget" not in ours and "stark" not in ours.lower(), "no message text in our log lines"
    await core.db.dispose()


# -- the key ------------------------------------------------------------------------------------------------


async def test_the_key_goes_in_a_header_and_nowhere_else(
    with_model: Core, model: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    settings = with_model.settings
    assert settings.llm_key == KEY
    assert KEY not in repr(settings) and KEY not in str(settings.extra)
    assert KEY not in repr(with_model.conversation.language_model.endpoint)  # type: ignore[union-attr]
    chat = await bob(with_model)
    with caplog.at_level(logging.DEBUG):
        model.calls("deal__status", customer="Stark Logistics Inc")
        await chat.say(UNSURE_READ)
        model.status = 401
        model.payload = {"error": {"message": f"Incorrect API key provided: {KEY}"}}
        await chat.say(UNSURE_READ)
    assert [s.headers.get("Authorization") for s in model.requests] == [f"Bearer {KEY}"] * 2
    assert all("api-key" not in {h.lower() for h in s.headers} for s in model.requests)
    assert all(KEY not in json.dumps(s.body) for s in model.requests)
    assert "HTTP 401" in caplog.text, "the failure is logged ..."
    assert KEY not in caplog.text, "... without the key"


def test_azure_gets_its_key_in_api_key_and_its_query_string_kept() -> None:
    azure = "https://contoso-ai.openai.azure.com/openai/v1"
    assert auth_headers(azure, KEY) == {"api-key": KEY}, "Azure refuses a request with both headers"
    assert auth_headers("http://127.0.0.1:11434/v1", KEY) == {"Authorization": f"Bearer {KEY}"}
    assert auth_headers("https://gateway.example/v1", KEY, "api-key") == {"api-key": KEY}
    assert auth_headers(azure, KEY, "bearer") == {"Authorization": f"Bearer {KEY}"}
    assert auth_headers(azure, "") == {}
    classic = "https://r.openai.azure.com/openai/deployments/gpt-4o?api-version=2024-10-21"
    assert completions_url(classic) == (
        "https://r.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    )
    assert completions_url("http://localhost:11434/v1/") == "http://localhost:11434/v1/chat/completions"


def test_settings_refuse_what_they_cannot_use() -> None:
    with pytest.raises(ValueError, match="PARTNERBOT_LLM_URL"):
        Settings.from_env({"PARTNERBOT_LLM_URL": "localhost:11434"})
    with pytest.raises(ValueError, match="PARTNERBOT_LLM_TIMEOUT"):
        Settings.from_env({"PARTNERBOT_LLM_TIMEOUT": "0"})
    with pytest.raises(ValueError, match="PARTNERBOT_LLM_AUTH"):
        Settings.from_env({"PARTNERBOT_LLM_AUTH": "basic"})
    on = Settings.from_env(
        {"PARTNERBOT_LLM_URL": "http://localhost:11434/v1/", "PARTNERBOT_LLM_TIMEOUT": "2.5"}
    )
    assert (on.llm_url, on.llm_timeout) == ("http://localhost:11434/v1", 2.5)


# -- the model's values through the embedded parsers (the layer alone) ---------------------------------------


def test_grounding_keeps_only_what_the_parsers_or_the_message_support() -> None:
    from bot.features.deals.intents import DEAL_INTENTS

    layer = Understanding(DEAL_INTENTS)
    names = [Named("D", "D-3", "Stark Logistics Inc")]
    today = date(2026, 11, 26)

    def find(value: str) -> Any:
        return find_entities(
            value, today=today, products=["Cloud Suite"], names=names, default_currency="EUR"
        )

    def grounded(text: str, intent: str, **values: str) -> Reading:
        reading = layer.read(text, role="partner", today=today, names=names, only=intent).readings[0]
        return ground(reading, values, spec=layer.specs[intent], find=find)

    text = "got something going at pied piper, maybe cloud suite"
    reading = grounded(text, "deal.register", customer="Pied Piper", amount="80k", product="cloud suite")
    assert reading.slots["amount"] == Money(Decimal("80000"), "EUR") and "amount" in reading.inferred
    assert reading.suggested == {"customer": "Pied Piper", "amount": "80k", "product": "cloud suite"}
    reading = grounded("register it please", "deal.register", customer="Hooli", close_date="2027-03-31")
    assert "customer" not in reading.slots, "a new customer only as named in the message"
    assert reading.slots["close_date"] == date(2027, 3, 31)
    reading = grounded("that one is gone", "deal.lost", ref="D-9", reason="they went dark")
    assert "ref" not in reading.slots, "no reference made up"
    assert reading.slots["reason"] == "gone" and not reading.inferred, "what the embedded parsers found stays"
    reading = grounded("that one is gone", "deal.update", notes="they went dark", next_step="gone")
    assert reading.slots.get("notes") != "they went dark", "free text only as it stands in the message"
    assert reading.slots["next_step"] == "gone" and reading.inferred == {"next_step"}
    reading = grounded("that one is gone", "deal.lost", customer="stark logistics")
    assert reading.slots["ref"] == "D-3" and {"ref", "customer"} <= reading.inferred
    reading = grounded("bump it", "deal.update", ref="Stark", amount="minus 5k", stage="poc")
    assert "amount" in reading.invalid and reading.slots["stage"] == "evaluation"


def test_reading_an_answer() -> None:
    from bot.features.deals.intents import DEAL_INTENTS

    tools = {tool_name(s.name): s for s in DEAL_INTENTS}
    call = {"function": {"name": "deal__lost", "arguments": {"customer": "Stark", "reason": 7, "x": None}}}
    answer = {"choices": [{"message": {"tool_calls": [call]}}]}
    suggestion = read_answer(answer, tools)
    assert suggestion is not None and suggestion.intent == "deal.lost"
    assert suggestion.values == {"customer": "Stark", "reason": "7"}
    assert read_answer({"choices": [{"message": {"content": "no"}}]}, tools) is None
    assert as_written("Pied  PIPER", "a deal at pied piper, soon") == "pied piper"
    assert as_written("Pied Piper Inc", "a deal at pied piper, soon") is None


def test_a_long_list_of_names_is_cut_keeping_the_ones_the_message_mentions() -> None:
    from bot.features.deals.intents import DEAL_INTENTS

    names = [f"Customer {n:03d}" for n in range(300)] + ["Stark Logistics Inc", "Customer 000"]
    body, _ = request_body("what about stark", intents=DEAL_INTENTS, names=names, model="")
    listed = body["messages"][0]["content"].split("by name: ", 1)[1].split("; ")
    assert len(listed) == MAX_NAMES and listed[0] == "Stark Logistics Inc"
    assert listed.count("Customer 000") == 1 and "Customer 299" not in listed
    assert "model" not in body, "no model named, none sent (Azure's deployment URL names it)"
