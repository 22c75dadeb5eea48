"""The Block Kit renderer on its own: limits, escaping, buttons, modals - validated by slack_sdk.models."""

from __future__ import annotations

import json

from slack_sdk.models.views import View

from bot.kernel.messages import Button, Choice, Fact, Form, FormField, Reply
from handlers.slack import blocks as sb
from handlers.slack.listeners import from_slack_text
from tests.slack.conftest import validate_blocks

KEY = b"test-metadata-key"


def deal_section(i: int) -> Reply:
    return Reply(
        title=f"D-{i} · Customer {i}",
        text=f"120,000 USD · Cloud Suite · line {i}",
        buttons=[Button("Open", "deal.show", {"ref": f"D-{i}"})],
        ref=f"D-{i}",
    )


def test_eighty_sections_are_cut_to_fifty_blocks_with_a_count_of_the_rest() -> None:
    reply = Reply(title="All deals", text="80 deals.", sections=[deal_section(i) for i in range(1, 81)])
    message = sb.render_message(reply)
    blocks = message["blocks"]
    validate_blocks(blocks, limit=sb.MAX_MESSAGE_BLOCKS)
    assert len(blocks) <= 50
    shown = sum(1 for b in blocks if b["type"] == "section" and "accessory" in b)
    assert shown >= 20  # each deal is one block plus a divider
    assert blocks[-1]["type"] == "context"
    assert blocks[-1]["elements"][0]["text"] == f"…and {80 - shown} more"
    assert message["text"] == "All deals - 80 deals."

    home = sb.render_home([Reply(title="Hi Dana"), reply])
    validate_blocks(home["blocks"], limit=sb.MAX_VIEW_BLOCKS)
    View(**home).to_dict()
    assert len(home["blocks"]) <= 100 and home["blocks"][-1]["type"] == "context"
    assert "more" in home["blocks"][-1]["elements"][0]["text"]


def test_a_small_reply_is_not_cut() -> None:
    reply = Reply(title="Two deals", text="2 deals.", sections=[deal_section(1), deal_section(2)])
    blocks = sb.render_blocks(reply)
    validate_blocks(blocks, limit=50)
    assert [b["type"] for b in blocks] == ["header", "section", "divider", "section", "divider", "section"]
    assert blocks[3]["accessory"]["value"] == '{"a":"deal.show","d":{"ref":"D-1"}}'


def test_user_text_comes_out_literally() -> None:
    reply = Reply(
        title="*Title* <!here>",
        text="Customer <!channel> & <@U123> said hi",
        facts=[Fact("Notes", "*bold* and _italic_ and `code`"), Fact("Domain", "a&b.example")],
    )
    blocks = sb.render_blocks(reply)
    validate_blocks(blocks, limit=50)
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "*Title* <!here>", "emoji": True},
    }
    assert blocks[1]["text"] == {
        "type": "mrkdwn",
        "text": "Customer &lt;!channel&gt; &amp; &lt;@U123&gt; said hi",
        "verbatim": True,
    }
    notes, domain = blocks[2]["fields"]
    assert notes == {"type": "plain_text", "text": "Notes\n*bold* and _italic_ and `code`", "emoji": False}
    assert domain == {"type": "mrkdwn", "text": "*Domain*\na&amp;b.example", "verbatim": True}
    assert sb.fallback_text(reply).startswith("*Title* &lt;!here&gt; - Customer &lt;!channel&gt;")
    # A '>' starting a line would quote it even escaped: such text goes as plain_text.
    assert sb.text_object("> not a quote")["type"] == "plain_text"


def test_long_text_facts_and_titles_respect_slack_limits() -> None:
    long_line = "x&" * 2500  # 5000 characters, 7500 once escaped
    text = "\n".join(["first line", long_line, "last line"])
    facts = [Fact(f"Label {i}", "v" * (3000 if i == 0 else 10)) for i in range(23)]
    reply = Reply(
        title="T" * 300, text=text, facts=facts, buttons=[Button(f"B{i}", "help") for i in range(30)]
    )
    blocks = sb.render_blocks(reply)
    validate_blocks(blocks, limit=50)
    assert len(blocks[0]["text"]["text"]) == 150
    text_sections = [b for b in blocks if b["type"] == "section" and "text" in b]
    assert len(text_sections) >= 3 and all(len(b["text"]["text"]) <= 3000 for b in text_sections)
    field_sections = [b for b in blocks if b["type"] == "section" and "fields" in b]
    assert [len(b["fields"]) for b in field_sections] == [10, 10, 3]
    assert all(len(f["text"]) <= 2000 for b in field_sections for f in b["fields"])
    actions = [b for b in blocks if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [25, 5]
    ids = [e["action_id"] for a in actions for e in a["elements"]]
    assert len(set(ids)) == 30 and all(i.startswith("help:") for i in ids)


def test_button_values_styles_and_links() -> None:
    buttons = [
        Button("Approve", "deal.approve", {"ref": "D-7"}, style="primary"),
        Button("Reject", "deal.reject", {"ref": "D-7"}, style="danger"),
        Button("Ask", "deal.ask_info", {"ref": "D-7"}),
        Button("Docs", "open", url="https://example.com/doc"),
    ]
    (actions,) = sb.actions_blocks(buttons, sb._Ids())
    approve, reject, ask, docs = actions["elements"]
    assert approve["style"] == "primary" and reject["style"] == "danger" and "style" not in ask
    assert sb.decode_value(approve["value"]) == ("deal.approve", {"ref": "D-7"})
    assert docs["url"] == "https://example.com/doc" and "value" not in docs
    assert sb.decode_value("not json") is None
    assert sb.decode_value('{"a": "x", "d": {"n": 1}}') is None
    huge = Button("Huge", "x", {"blob": "y" * 3000})
    assert sb.actions_blocks([huge], sb._Ids()) == []  # a value over 2000 characters is never sent


def registration_form() -> Form:
    return Form(
        form_id="deal.register",
        title="Register a deal with a very long title",
        submit_label="Review",
        data={"ref": "D-3"},
        fields=(
            FormField("customer", "Customer company", value="Globex", placeholder="Globex Corporation"),
            FormField(
                "product",
                "Product",
                kind="select",
                value="Edge Gateway",
                choices=(Choice("Cloud Suite", "Cloud Suite"), Choice("Edge Gateway", "Edge Gateway")),
            ),
            FormField("close_date", "Expected close date", kind="date", hint="e.g. end of March"),
            FormField("notes", "Notes", kind="textarea", required=False),
        ),
    )


def test_a_form_becomes_a_valid_modal() -> None:
    form = registration_form()
    meta = sb.modal_metadata(
        form_id=form.form_id,
        data=dict(form.data),
        origin={"channel": "CVENDOR", "ts": "1.2"},
        key=KEY,
        submitter="TNORTH:UALICE",
    )
    view = sb.render_modal(form, intro="Fill in the form, or tell me in a sentence.", private_metadata=meta)
    View(**view).to_dict()
    validate_blocks(view["blocks"], limit=100)
    assert view["callback_id"] == "pb_form" and len(view["title"]["text"]) <= 24
    sealed = json.loads(view["private_metadata"])
    assert sealed.pop("sig") and sealed == {
        "form_id": "deal.register",
        "data": {"ref": "D-3"},
        "by": "TNORTH:UALICE",
        "origin": {"channel": "CVENDOR", "ts": "1.2"},
    }
    assert sb.read_metadata(view["private_metadata"], key=KEY, submitter="TNORTH:UALICE")["origin"] == {
        "channel": "CVENDOR",
        "ts": "1.2",
    }
    # Sealed for Alice: not believed from anyone else, nor with another key, nor changed.
    assert sb.read_metadata(view["private_metadata"], key=KEY, submitter="TCONTOSO:UBOB") == {}
    assert sb.read_metadata(view["private_metadata"], key=b"other", submitter="TNORTH:UALICE") == {}
    forged = view["private_metadata"].replace("CVENDOR", "DUBOB")
    assert sb.read_metadata(forged, key=KEY, submitter="TNORTH:UALICE") == {}
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert inputs["customer"]["element"] == {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": False,
        "placeholder": {"type": "plain_text", "text": "Globex Corporation", "emoji": True},
        "initial_value": "Globex",
    }
    assert inputs["product"]["element"]["initial_option"]["value"] == "Edge Gateway"
    assert inputs["close_date"]["element"]["type"] == "plain_text_input"
    assert inputs["close_date"]["hint"]["text"] == "e.g. end of March"
    assert inputs["notes"]["optional"] is True and inputs["notes"]["element"]["multiline"] is True

    state = {
        "values": {
            "customer": {"value": {"type": "plain_text_input", "value": "Initech"}},
            "product": {"value": {"type": "static_select", "selected_option": {"value": "Cloud Suite"}}},
            "close_date": {"value": {"type": "plain_text_input", "value": "Q2"}},
            "notes": {"value": {"type": "plain_text_input", "value": None}},
        }
    }
    assert sb.form_values({**view, "state": state}) == {
        "customer": "Initech",
        "product": "Cloud Suite",
        "close_date": "Q2",
        "notes": None,
    }
    block_ids = sb.input_block_ids(view)
    assert sb.form_errors({"amount": "What is it worth?", "customer": "Too short."}, block_ids) == {
        "customer": "What is it worth? Too short."
    }


def test_a_form_travels_in_a_button_when_no_modal_can_open() -> None:
    reply = Reply(text="What should I change?", form=registration_form())
    blocks = sb.render_blocks(reply)
    validate_blocks(blocks, limit=50)
    (button,) = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    action, data = sb.decode_value(button["value"]) or ("", {})
    assert action == sb.OPEN_FORM_ACTION
    assert sb.form_from_button(data) == registration_form()
    assert sb.form_from_button({"form": "garbage"}) is None


def test_slack_markup_in_incoming_text_is_undone() -> None:
    assert (
        from_slack_text("register <http://globex.com|globex.com> &amp; co &lt;3")
        == "register globex.com & co <3"
    )
    assert (
        from_slack_text("mail <mailto:a@b.example|a@b.example> or <mailto:c@d.example>")
        == "mail a@b.example or c@d.example"
    )


def test_a_submitted_modal_gives_back_its_form_with_what_was_typed() -> None:
    form = Form(
        form_id="deal.register",
        title="Register a deal",
        fields=(
            FormField("customer", "Customer company", placeholder="Globex Corporation"),
            FormField("domain", "Web domain", required=False),
            FormField(
                "product", "Product", kind="select", choices=(Choice("a", "Alpha"), Choice("b", "Beta"))
            ),
            FormField("notes", "Notes", kind="textarea", required=False, hint="Anything the reviewer needs"),
        ),
        submit_label="Check",
        data={"ref": "L-3"},
    )
    metadata = sb.modal_metadata(form_id=form.form_id, data=form.data, key=KEY, submitter="T:U")
    view = sb.render_modal(form, private_metadata=metadata)
    typed = {"customer": "Initech", "domain": None, "product": "b", "notes": "call Bob"}
    again = sb.form_from_view(view, typed, meta=sb.read_metadata(metadata, key=KEY, submitter="T:U"))
    assert again is not None
    assert (again.form_id, again.title, again.submit_label, again.data) == (
        "deal.register",
        "Register a deal",
        "Check",
        {"ref": "L-3"},
    )
    assert [(f.name, f.label, f.kind, f.required, f.value) for f in again.fields] == [
        ("customer", "Customer company", "text", True, "Initech"),
        ("domain", "Web domain", "text", False, None),
        ("product", "Product", "select", True, "b"),
        ("notes", "Notes", "textarea", False, "call Bob"),
    ]
    assert again.fields[2].choices == form.fields[2].choices
    assert (
        again.fields[0].placeholder == "Globex Corporation"
        and again.fields[3].hint == "Anything the reviewer needs"
    )
    # Rendered again it is the same modal, filled in.
    rendered = sb.render_modal(again, private_metadata=view["private_metadata"])
    inputs = {b["block_id"]: b["element"] for b in rendered["blocks"] if b["type"] == "input"}
    assert inputs["customer"]["initial_value"] == "Initech"
    assert inputs["product"]["initial_option"]["value"] == "b"
    assert sb.form_from_view({"blocks": view["blocks"]}, typed, meta={}) is None  # no metadata: not ours
