"""The core's message types survive the outbox: ``to_dict`` is what ``dataclasses.asdict`` gives, and
``from_dict`` reads it back."""

from __future__ import annotations

import json
from dataclasses import asdict

from bot.kernel.messages import Button, Choice, Fact, Form, FormField, Reply


def rich_reply() -> Reply:
    form = Form(
        form_id="deal.register",
        title="Register a deal",
        fields=(
            FormField("customer", "Customer", placeholder="Globex"),
            FormField(
                "product",
                "Product",
                kind="select",
                choices=(Choice("cloud", "Cloud Suite"), Choice("edge", "Edge Gateway")),
                hint="pick one",
            ),
            FormField("amount", "Amount", kind="number", required=False, value="1200"),
        ),
        submit_label="Next",
        data={"ref": "D-12"},
    )
    section = Reply(
        text="D-7 · Globex: no update for 30 days",
        buttons=[
            Button("Won", "deal.won", {"ref": "D-7"}, style="primary"),
            Button("Docs", "open", url="https://x"),
        ],
        ref="D-7",
    )
    return Reply(
        text="Three things need you",
        title="Your deals",
        facts=[Fact("Amount", "USD 120,000"), Fact("Close", "31 Mar 2027")],
        buttons=[Button("Snooze all", "nudge.snooze", {"message": "4", "days": "7"}, style="danger")],
        form=form,
        ref="D-12",
        replace_key="nudge:4",
        sections=[section, Reply(text="and one more", sections=[Reply(text="nested")])],
        image_png_b64="iVBORw0KGgo=",
    )


def test_to_dict_is_what_asdict_gives_and_shares_no_container() -> None:
    reply = rich_reply()
    plain = reply.to_dict()
    assert plain == asdict(reply)
    assert type(plain["form"]["fields"]) is tuple and type(plain["sections"]) is list
    plain["buttons"][0]["data"]["days"] = "30"
    plain["sections"][0]["buttons"].clear()
    assert reply.buttons[0].data["days"] == "7" and len(reply.sections[0].buttons) == 2


def test_a_reply_comes_back_from_the_outbox_as_it_went_in() -> None:
    reply = rich_reply()
    assert Reply.from_dict(json.loads(json.dumps(reply.to_dict()))) == reply
