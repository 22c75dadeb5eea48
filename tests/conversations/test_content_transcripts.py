"""Content transcripts in the terminal: staff publish in a sentence or a form, each person in the audience
gets the item once with "Open" and "Got it", partners ask "what's new?", staff read the statistics."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.bootstrap import Core, build_content_skill, build_mdf_skill
from bot.features.content.skill import ContentSkill
from bot.kernel.messages import Actor
from store import queries
from tests.conftest import Chat, RecordingNotifier, World, reachable


def install(core: Core) -> ContentSkill:
    """The content and MDF skills where the wiring puts them: after the nudge skill, before the lead and
    question skills (replacing ones the wiring may have added already)."""
    skills = [s for s in core.conversation.skills if s.prefix not in ("content", "mdf")]
    at = next((i for i, s in enumerate(skills) if s.prefix in ("lead", "question")), len(skills))
    content = build_content_skill(core)
    skills[at:at] = [content, build_mdf_skill(core)]
    core.conversation.skills = skills
    return content


@dataclass
class Content:
    world: World
    fiona: Actor  # Fabrikam Solutions: Silver, EMEA
    notifier: RecordingNotifier

    async def deliver(self, core: Core) -> None:
        await core.dispatcher({"console": self.notifier}).deliver_due()

    def told(self, who: Actor) -> str:
        return self.notifier.texts_for(who.person_id)


@pytest.fixture
async def cw(core: Core, world: World) -> Content:
    install(core)
    await core.people.add_partner(name="Fabrikam Solutions", tier="Silver", region="EMEA", countries=["AT"])
    await core.people.add_user(
        email="fiona@fabrikam.example", name="Fiona Weber", partner="Fabrikam Solutions"
    )
    fiona = await core.people.actor_by_email("fiona@fabrikam.example", channel="console")
    assert fiona is not None
    await reachable(core, world.alice, world.alex, world.bob, world.dana, world.carl, fiona)
    return Content(world=world, fiona=fiona, notifier=RecordingNotifier())


async def publish(core: Core, cw: Content, sentence: str) -> str:
    dana = Chat(core, cw.world.dana)
    out = await dana.say(sentence)
    assert "Publish this?" in out, out
    return await dana.click("Confirm")


async def test_staff_publish_in_a_sentence_and_only_the_audience_gets_it_once(
    core: Core, cw: Content
) -> None:
    dana = Chat(core, cw.world.dana)
    out = await dana.say(
        'publish "Gold price list 2027" https://partners.example.com/gold to Gold partners, bob@contoso.example '
        "until 2027-03-31, summary: New list prices from January"
    )
    assert "Publish this?" in out
    assert "Audience:    tier Gold; bob@contoso.example" in out and "Reaches:     3 people now" in out
    assert "Valid until: 31 Mar 2027" in out and "Summary:     New list prices from January" in out
    async with core.db.transaction() as session:
        assert await queries.outbox_for(session) == [], "nothing is sent before Confirm"
    out = await dana.click("Confirm")
    assert "Published C-1 · Gold price list 2027" in out and "On its way to 3 people" in out

    await cw.deliver(core)
    await cw.deliver(core)
    for who in (cw.world.alice, cw.world.alex, cw.world.bob):
        told = cw.told(who)
        assert told.count("== New: Gold price list 2027 ==") == 1, told
        assert "New list prices from January" in told and "[1] Open  [2] Got it" in told
    assert "Gold price list" not in cw.told(cw.fiona), "a Silver partner never gets a Gold-only item"
    assert "Gold price list" not in cw.told(cw.world.carl)
    assert "bob@contoso.example" not in cw.told(cw.world.alice), "partners never see the audience"


async def test_whats_new_lists_only_what_is_targeted_at_the_reader(core: Core, cw: Content) -> None:
    await publish(core, cw, "publish Gold deal desk https://x.example/gold to Gold")
    await publish(core, cw, "publish EMEA roadshow https://x.example/emea to region EMEA")
    await publish(core, cw, "publish Contoso onboarding https://x.example/contoso to Contoso Integrators")

    alice = Chat(core, cw.world.alice)
    out = await alice.say("what's new?")
    assert "What's new for you" in out and "2 items." in out
    assert out.index("EMEA roadshow") < out.index("Gold deal desk"), "newest first"
    assert "Contoso onboarding" not in out
    fiona = await Chat(core, cw.fiona).say("What’s new")
    assert "EMEA roadshow" in fiona and "Gold deal desk" not in fiona and "Contoso" not in fiona
    bob = await Chat(core, cw.world.bob).say("news")
    assert "Contoso onboarding" in bob and "Gold deal desk" not in bob and "EMEA roadshow" not in bob
    for other in ("C-1", "C-2"):
        foreign = await Chat(core, cw.world.bob).say(other)
        assert foreign == f"I can't find {other} among the content for you."
    assert await Chat(core, cw.world.bob).say("C-77") == "I can't find C-77 among the content for you."
    assert "Gold deal desk" in await alice.say("C-1")

    home = await core.conversation.home(cw.world.alice)
    titles = [r.title for r in home]
    assert "What's new" in titles
    section = next(r for r in home if r.title == "What's new")
    assert {s.title for s in section.sections} == {"Gold deal desk", "EMEA roadshow"}


async def test_got_it_and_the_tracked_open_show_up_in_the_statistics(core: Core, cw: Content) -> None:
    await publish(core, cw, "publish Launch kit https://x.example/kit to EMEA")
    await cw.deliver(core)
    open_button = next(
        b
        for w, r in cw.notifier.sent
        if w == cw.world.alice.person_id
        for b in r.buttons
        if b.label == "Open"
    )
    assert open_button.url and open_button.url.startswith(f"{core.settings.public_url}/c/")
    skill = next(s for s in core.conversation.skills if s.prefix == "content")
    assert isinstance(skill, ContentSkill)
    token = open_button.url.rsplit("/", 1)[1]
    assert await skill.content.open_link(token) == "https://x.example/kit"

    alex = Chat(core, cw.world.alex)
    await alex.say("what's new?")
    assert await alex.click("Got it") == "Thanks, noted that you've got 'Launch kit'."
    out = await alex.say("what's new?")
    assert "Got it" not in out, "once acknowledged, the button is gone"

    dana = Chat(core, cw.world.dana)
    out = " ".join((await dana.say("stats for launch kit")).split())
    assert "== C-1 · Launch kit ==" in out
    assert "Sent to: 3 people" in out and "Opened: 1 person" in out and "Open rate: 33%" in out
    assert "Got it: 1" in out
    assert "Gold: delivered 2 of 2, opened 1 (50%), got it 1" in out
    assert "Silver: delivered 1 of 1, opened 0 (0%), got it 0" in out
    assert "Northwind Partners: delivered 2 of 2, opened 1 (50%)" in out
    assert "Fabrikam Solutions: delivered 1 of 1, opened 0 (0%)" in out
    overview = await dana.say("content stats")
    assert (
        "Content statistics" in overview and "C-1 · Launch kit" in overview and "opened 1 (33%)" in overview
    )

    partner = await Chat(core, cw.world.alice).say("content stats")
    assert partner == "Content statistics are for vendor staff. Say 'what's new?' for the latest for you."


async def test_the_publish_form_and_what_staff_may_not_do(core: Core, cw: Content) -> None:
    dana = Chat(core, cw.world.dana)
    out = await dana.say("publish content")
    assert "(form: Publish content" in out
    bad = await dana.submit(
        "content.publish", {"title": "Kit", "url": "https://x.example/kit", "tiers": "Platinum"}
    )
    assert bad.errors == {"tier": "No partner has tier 'Platinum'; tiers are Gold, Silver."}
    result = await dana.submit(
        "content.publish",
        {
            "title": "Kit",
            "url": "https://x.example/kit",
            "tiers": "silver",
            "people": "alice@northwind.example",
        },
    )
    assert result.ok
    out = await dana.click("Confirm")
    assert "On its way to 3 people (tier Silver; alice@northwind.example)" in out

    expired = await dana.submit(
        "content.publish",
        {"title": "Kit", "url": "https://x.example/kit", "tiers": "Gold", "expires": "last year"},
    )
    assert expired.errors == {
        "expires": "I couldn't read 'last year' as a future date; try 2027-03-31 or end of March."
    }
    out = await dana.say("publish Kit two https://x.example/k2 to Platinum")
    assert "I don't know 'Platinum'. Tiers: Gold, Silver; regions: EMEA, NA" in out
    ed = await Chat(core, cw.world.ed).say("publish Kit https://x.example/k to Gold")
    assert ed == "Only channel managers and admins publish content."
    partner = await Chat(core, cw.world.alice).say("publish Kit https://x.example/k to Gold")
    assert "Publish this?" not in partner


async def test_how_do_i_claim_mdf_is_left_for_the_question_skill(core: Core, cw: Content) -> None:
    out = await Chat(core, cw.world.alice).say("how do I claim MDF?")
    assert "Q-1" in out and "MDF balance" not in out
    out = await Chat(core, cw.world.alice).say("what's new?")
    assert out == "Nothing new for you right now. I'll message you when there is."


def check_renders(replies: list) -> None:  # type: ignore[type-arg]
    """Every reply renders as valid Block Kit (slack_sdk models), its form as a valid modal, and as an
    Adaptive Card 1.5 (official schema, when the shared schemas are present)."""
    from handlers.slack import blocks as slack_blocks
    from handlers.teams import cards as teams_cards
    from tests.slack.conftest import validate_blocks
    from tests.teams.teams_harness import card_schema_or_none, check_card

    schema = card_schema_or_none()
    for reply in replies:
        validate_blocks(slack_blocks.render_message(reply)["blocks"], limit=slack_blocks.MAX_MESSAGE_BLOCKS)
        if reply.form is not None:
            modal = slack_blocks.render_modal(reply.form, intro=reply.text, private_metadata="{}")
            validate_blocks(modal["blocks"], limit=100)
        if schema is not None:
            check_card(schema, teams_cards.json_native(teams_cards.reply_card(reply)))
    home = slack_blocks.render_home(replies)
    validate_blocks(home["blocks"], limit=slack_blocks.MAX_VIEW_BLOCKS)


async def test_content_replies_render_on_slack_and_teams(core: Core, cw: Content) -> None:
    dana = Chat(core, cw.world.dana)
    seen: list = []  # type: ignore[type-arg]
    await dana.say("publish content")
    seen += dana.replies
    await dana.say(
        'publish "Kit <b>" https://x.example/kit?a=1&b=2 to Gold, EMEA until 2027-03-31, summary: *new*'
    )
    seen += dana.replies
    await dana.click("Confirm")
    seen += dana.replies
    await cw.deliver(core)
    seen += [r for _, r in cw.notifier.sent]
    alice = Chat(core, cw.world.alice)
    await alice.say("what's new?")
    seen += alice.replies
    await dana.say("stats for Kit")
    seen += dana.replies
    await dana.say("content stats")
    seen += dana.replies
    seen += await core.conversation.home(cw.world.alice)
    assert len(seen) >= 8
    check_renders(seen)


async def test_publish_read_from_other_wordings_keeps_title_audience_and_summary(
    core: Core, cw: Content
) -> None:
    """The layer reads a publication's details however it is worded: a link in the middle, the audience
    before it, a partner by a short name, labelled fields; and an item is shown by its C-n."""
    dana = Chat(core, cw.world.dana)
    out = await dana.say("post the partner onboarding guide to all partners https://x.example/onboarding")
    assert "Title:    Partner onboarding guide" in out or "Title:    partner onboarding guide" in out
    assert "Audience: tiers Gold, Silver" in out
    out = await dana.say("share the renewal playbook with contoso: https://x.example/renewals")
    assert "Publish this?" in out and "renewal playbook" in out and "Contoso Integrators" in out
    out = await dana.say(
        "publish content: title=Roadmap 2027, url=https://x.example/roadmap, summary=what ships when, tiers=gold"
    )
    out = " ".join(out.split())
    assert "Publish this?" in out and "Roadmap 2027" in out and "Summary: what ships when" in out
    assert "Audience: tier Gold " in out
    out = await dana.say("publish 'Free iPads' javascript:alert(1) to everyone")
    assert "Publish this?" not in out and "https://partners.example.com/q1" in out
    out = await dana.say("stats for the nonexistent deck")
    assert "No item's title is like 'the nonexistent deck'" in out and "Nothing published yet" in out
