"""The Adaptive Card renderer, and (i): every card the bot sends validates against the official
Adaptive Card 1.5 schema and stays under Teams' size limit."""

from __future__ import annotations

import base64

from bot.kernel.messages import Button, Choice, Fact, Form, FormField, Reply
from handlers.teams import cards
from tests.teams.teams_harness import (
    BOT,
    USERS,
    Teams,
    card_texts,
    check_card,
    find_action,
    load_card_schema,
)

ALICE, DANA = USERS["alice"], USERS["dana"]


def _blocks(card: dict) -> list[dict]:
    out: list[dict] = []

    def walk(items: list[dict]) -> None:
        for item in items:
            out.append(item)
            walk(item.get("items", []))

    walk(card["body"])
    return out


def test_reply_becomes_a_card() -> None:
    reply = Reply(
        title="D-7 · Globex",
        text="First line\nSecond line",
        facts=[Fact("Amount", "120,000 USD")],
        buttons=[
            Button("Approve", "deal.approve", {"ref": "D-7"}, style="primary"),
            Button("Reject", "deal.reject", {"ref": "D-7"}, style="danger"),
            Button("Guide", "content.open", url="https://example.com/guide"),
        ],
    )
    card = cards.reply_card(reply)
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    title, first, second, facts = card["body"]
    assert title == {
        "type": "TextBlock",
        "text": "D-7 · Globex",
        "weight": "bolder",
        "size": "medium",
        "wrap": True,
    }
    assert (first["text"], second["text"], second["spacing"]) == ("First line", "Second line", "none")
    assert facts == {"type": "FactSet", "facts": [{"title": "Amount", "value": "120,000 USD"}]}
    approve, reject, guide = card["actions"]
    assert approve == {
        "type": "Action.Execute",
        "verb": "deal.approve",
        "title": "Approve",
        "style": "positive",
        "associatedInputs": "none",
        "data": {"pb": {"a": "deal.approve", "d": {"ref": "D-7"}}},
    }
    assert reject["style"] == "destructive"
    assert guide == {"type": "Action.OpenUrl", "title": "Guide", "url": "https://example.com/guide"}
    assert card["fallbackText"] == "D-7 · Globex - First line"


def test_markdown_and_html_from_people_are_shown_literally() -> None:
    reply = Reply(
        title="*bold* title",
        text="*x* <at>Bob</at> [link](http://evil) `code` ~s~ _i_\n- item\n1. one\n# h",
        facts=[Fact("Notes", "**loud** &amp; <b>tag</b>")],
    )
    card = cards.reply_card(reply)
    texts = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    assert texts == [
        "\\*bold\\* title",
        "\\*x\\* \\<at\\>Bob\\</at\\> \\[link\\](http://evil) \\`code\\` \\~s\\~ \\_i\\_",
        "\\- item",
        "1\\. one",
        "\\# h",
    ]
    assert card["body"][-1]["facts"][0]["value"] == "\\*\\*loud\\*\\* \\&amp; \\<b\\>tag\\</b\\>"
    # Nothing else is touched.
    assert cards.plain("D-12 · 120,000 USD · closes 31 Mar 2027 (Q1) - fine!") == (
        "D-12 · 120,000 USD · closes 31 Mar 2027 (Q1) - fine!"
    )


def test_form_becomes_inputs_and_one_submit() -> None:
    form = Form(
        form_id="deal.register",
        title="Register a deal",
        submit_label="Review",
        data={"ref": "D-1"},
        fields=(
            FormField("customer", "Customer company", placeholder="Globex Corporation", value="Initech"),
            FormField(
                "product",
                "Product",
                kind="select",
                choices=(Choice("cs", "Cloud Suite"), Choice("eg", "Edge")),
            ),
            FormField(
                "notes", "Notes", kind="textarea", required=False, hint="Anything the reviewer should know"
            ),
            FormField("email", "E-mail", kind="email", required=False),
        ),
    )
    card = cards.reply_card(Reply(text="Fill in the form.", form=form))
    body = card["body"]
    assert body[0]["text"] == "Fill in the form."
    assert body[1] == {"type": "TextBlock", "text": "Register a deal", "weight": "bolder", "wrap": True}
    customer, product, notes, hint, email = body[2:]
    assert customer == {
        "type": "Input.Text",
        "id": "customer",
        "maxLength": 500,
        "label": "Customer company",
        "placeholder": "Globex Corporation",
        "value": "Initech",
        "isRequired": True,
        "errorMessage": "Customer company is required.",
    }
    assert product["type"] == "Input.ChoiceSet" and product["style"] == "compact"
    assert product["choices"] == [{"title": "Cloud Suite", "value": "cs"}, {"title": "Edge", "value": "eg"}]
    assert notes["isMultiline"] is True and "isRequired" not in notes
    assert hint["isSubtle"] is True
    assert email["style"] == "email"
    (submit,) = card["actions"]
    assert submit["type"] == "Action.Execute" and submit["verb"] == "deal.register"
    assert submit["title"] == "Review"
    assert submit["data"]["pb"]["form"] == "deal.register" and submit["data"]["pb"]["d"] == {"ref": "D-1"}

    # Submitting: Teams merges the inputs into the data; the handler reads them back.
    value = {**submit["data"], "customer": "Globex", "product": "cs", "notes": "", "email": "", "sneaky": "x"}
    submission = cards.read_submission(value)
    assert submission is not None and submission.form_id == "deal.register" and submission.form == form
    assert submission.inputs == {"customer": "Globex", "product": "cs", "notes": "", "email": ""}
    assert submission.data == {"ref": "D-1"}

    # Errors: values kept, one attention line under each field in error.
    again = cards.reply_card(
        Reply(form=form),
        values=submission.inputs,
        errors={"customer": "Give the company's name.", "changes": "Nothing changed."},
        notice="Please check the fields marked below.",
    )
    flat = _blocks(again)
    attention = [b["text"] for b in flat if b.get("color") == "attention"]
    assert attention == [
        "Please check the fields marked below.",
        "Nothing changed.",
        "Give the company's name.",
    ]
    customer = next(b for b in flat if b.get("id") == "customer")
    assert customer["value"] == "Globex"
    index = flat.index(customer)
    assert flat[index + 1]["text"] == "Give the company's name."


def test_buttons_in_sections_are_marked() -> None:
    reply = Reply(
        title="Your open deals",
        text="2 deals.",
        sections=[
            Reply(
                title="D-1 · Globex",
                text="120,000 USD",
                buttons=[Button("Open", "deal.show", {"ref": "D-1"})],
            ),
            Reply(
                title="D-2 · Initech",
                text="85,000 EUR",
                buttons=[Button("Open", "deal.show", {"ref": "D-2"})],
            ),
        ],
    )
    card = cards.reply_card(reply)
    containers = [b for b in card["body"] if b["type"] == "Container"]
    assert len(containers) == 2 and all(c["separator"] for c in containers)
    action_set = containers[0]["items"][-1]
    assert action_set["type"] == "ActionSet"
    assert action_set["actions"][0]["data"] == {"pb": {"a": "deal.show", "d": {"ref": "D-1"}, "s": 1}}
    submission = cards.read_submission(action_set["actions"][0]["data"])
    assert submission is not None and submission.in_section and submission.action == "deal.show"
    assert "actions" not in card
    assert cards.read_submission({"pb": "nope"}) is None and cards.read_submission({"x": 1}) is None


def test_long_messages_are_cut_to_fit() -> None:
    schema = load_card_schema()
    sections = [
        Reply(
            title=f"D-{n} · Customer number {n} with a long name",
            text="x" * 300,
            buttons=[Button("Open", "deal.show", {"ref": f"D-{n}"})],
        )
        for n in range(1, 301)
    ]
    card = cards.reply_card(Reply(title="All deals", text="300 deals.", sections=sections))
    check_card(schema, card)
    assert cards.card_size(card) <= cards.CARD_BUDGET
    kept = [b for b in card["body"] if b["type"] == "Container"]
    assert 0 < len(kept) < 300
    assert card["body"][-1]["text"] == f"…and {300 - len(kept)} more."

    huge_text = cards.reply_card(
        Reply(title="History of D-1", text="\n".join(f"line {n} " + "y" * 200 for n in range(400)))
    )
    check_card(schema, huge_text)
    assert cards.card_size(huge_text) <= cards.CARD_BUDGET

    chart = base64.b64encode(b"\x89PNG" + b"\0" * 60_000).decode()
    with_chart = cards.reply_card(Reply(title="Pipeline", text="By stage", image_png_b64=chart))
    check_card(schema, with_chart)
    assert "too large" in " ".join(card_texts(with_chart))

    small_chart = base64.b64encode(b"\x89PNG" + b"\0" * 100).decode()
    assert any(
        b["type"] == "Image" for b in cards.reply_card(Reply(title="P", image_png_b64=small_chart))["body"]
    )


def test_plain_replies_and_summaries() -> None:
    assert cards.is_plain_text(Reply(text="Which customer?"))
    assert not cards.is_plain_text(
        Reply(text="Which product?", buttons=[Button("Cloud Suite", "deal.product.pick")])
    )
    assert not cards.is_card_like(Reply(text="An error."))
    assert cards.is_card_like(Reply(title="D-1"))
    assert cards.summary(Reply(form=Form("f", "A form", fields=()))) == "A form"
    assert len(cards.summary(Reply(text="z" * 1000))) == cards.SUMMARY_CHARS


async def test_every_card_the_bot_sends_validates(teams: Teams) -> None:
    """(i) A tour through the cards of a registration and its review, all checked against the schema."""
    schema = load_card_schema()
    await teams.post(teams.activity(ALICE, type="conversationUpdate", membersAdded=[dict(BOT)]))
    await teams.post(teams.activity(DANA, type="conversationUpdate", membersAdded=[dict(BOT)]))
    (help_card,) = await teams.say(ALICE, "help")
    (form,) = await teams.click(ALICE, help_card, "Register a deal")
    (errors,) = await teams.click(
        ALICE,
        form,
        "Register",
        inputs={"customer": "", "product": "Cloud Suite", "amount": "lots", "close_date": ""},
    )
    (registered,) = await teams.click(
        ALICE,
        errors,
        "Register",
        inputs={
            "customer": "Globex Corp",
            "product": "Cloud Suite",
            "amount": "120k USD",
            "close_date": "end of March",
            "notes": "Call **Bob** <at>Bob</at>",
        },
    )
    assert "D-1 is registered" in registered.text
    await teams.say(ALICE, "show my deals")
    await teams.say(ALICE, "history D-1")
    await teams.settle()
    review = [c for c in teams.connector.to(DANA) if c.kind == "send"][-1]
    (ask,) = await teams.click(DANA, review, "Ask for info")
    assert find_action(ask.card, "Send")
    await teams.click(DANA, ask, "Send", inputs={"reason": "Which *country*?"})
    await teams.settle()
    await teams.say(DANA, "pending")

    recorded = teams.connector.all_cards()
    assert len(recorded) >= 12
    for card in recorded:
        check_card(schema, card)
