"""The rules the understanding layer applies on top of the model's ranking (bot/kernel/understanding/
reader.py): what a bare reference means, whose work a reading may be, what a name or a reference says
about the kind of record, and what a how-to message wants."""

from __future__ import annotations

from datetime import date

from bot.bootstrap import Core
from bot.kernel.understanding.entities import Named
from bot.kernel.understanding.model import features
from bot.kernel.understanding.spec import Understood
from tests.conftest import Chat, World

TODAY = date(2026, 12, 3)
PRODUCTS = ["Cloud Suite", "Edge Gateway", "Security Pack"]
WEBINAR = Named("M", "M-1", "Webinar: Security Pack for retailers")


def read(core: Core, text: str, *, role: str = "partner", names: tuple[Named, ...] = ()) -> Understood:
    return core.conversation.understanding().read(
        text, role=role, today=TODAY, products=PRODUCTS, names=list(names)
    )


def test_a_message_that_is_only_a_reference_shows_the_record(core: Core) -> None:
    for text, intent in (("D-2", "deal.status"), ("l1?", "lead.status"), ("M-1", "mdf.status")):
        for role in ("partner", "staff"):
            understood = read(core, text, role=role)
            assert understood.decision == "act" and understood.best is not None, (text, role)
            assert understood.best.intent == intent and understood.best.ref, (text, role)
    assert read(core, "D-2 60k").best.intent != "deal.status"  # type: ignore[union-attr]


def test_another_roles_work_is_no_reading_unless_clearly_asked_for(core: Core) -> None:
    understood = read(core, "pipeline?")
    assert all(r.intent != "staff.pipeline" for r in understood.readings), (
        "a partner's pipeline is their deals"
    )
    assert understood.best is not None and understood.best.intent == "deal.list"
    best = read(core, "approve D-1").best  # clearly staff work: kept, so the partner is told it isn't theirs
    assert best is not None and best.intent == "staff.approve"


def test_a_name_of_one_kind_of_record_says_what_the_message_is_about(core: Core) -> None:
    best = read(core, "approve the northwind webinar mdf", role="staff", names=(WEBINAR,)).best
    assert best is not None and best.intent == "staff.mdf_decide" and best.ref == "M-1"
    assert "ref" in best.inferred, "found by name: confirmed before it is written"


def test_a_how_to_message_wants_to_know_not_to_have_it_done(core: Core) -> None:
    for text in ("how do i register a deal", "how can we get more leads?", "how to update a deal"):
        best = read(core, text).best
        assert best is not None and best.intent in ("meta.help", "question.ask"), text
    best = read(core, "how do I claim MDF for a trade show booth?").best
    assert best is not None and best.intent == "question.ask"


async def test_a_dialog_waits_for_a_new_request_and_takes_its_answer_after(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    assert "Which customer" in await alice.say("I'd like to register a deal")
    assert (
        "open deals" in (await alice.say("show my deals")).lower() or "No open deals" in alice.replies[0].text
    )
    assert "Which product" in await alice.say("Initech GmbH"), "... and the dialog goes on where it was"
    out = await alice.say("legal review takes longer")  # no look-up: the answer, however it reads
    assert "open deals" not in out.lower() and "product" in out.lower()


def test_a_name_typed_after_for_or_of_is_read_once_for_every_intent() -> None:
    from bot.kernel.understanding.slots import name_after

    assert name_after("mdf balance for Initech") == "Initech"
    assert name_after("scorecard of acme pls") == "acme"
    assert name_after("budget for Nobody Inc in 2027-Q1") == "Nobody Inc"
    assert name_after("scorecard for 30") is None and name_after("my scorecard") is None


INITECH = (Named("D", "D-1", "Initech GmbH"), Named("L", "L-1", "Initech GmbH"))


def test_a_word_for_a_kind_of_record_picks_it_among_records_of_one_name(core: Core) -> None:
    """A customer with a deal and a lead: "the initech lead" is the lead, "the initech deal" the deal -
    and the words that ask about a record ("what's happening with ...") ask about either kind."""
    for text, intent, ref in (
        ("whats happening with the initech lead", "lead.status", "L-1"),
        ("whats happening with the initech deal", "deal.status", "D-1"),
        ("any update on the initech lead?", "lead.status", "L-1"),
    ):
        understood = read(core, text, names=INITECH)
        assert understood.decision == "act" and understood.best is not None, text
        assert (understood.best.intent, understood.best.ref) == (intent, ref), text
    assert read(core, "history of the initech lead", names=INITECH).best.get("view") == "history"  # type: ignore[union-attr]


def test_a_message_that_names_no_record_is_no_record_s_status(core: Core) -> None:
    assert "none:record" in features("what is new this week", "partner")
    assert "none:record" not in features("news on the xname lead", "partner")
    assert "none:record" not in features("xdref news", "partner")
    for text in ("what is new this week", "anything new this week?"):
        best = read(core, text).best
        assert best is not None and best.intent == "content.new", text


def test_a_name_alone_of_records_of_several_kinds_asks_which(core: Core) -> None:
    """ "initech?" with a deal and a lead for Initech: which one is asked, with each to pick; anything
    else said about it picks one ("is initech approved yet" is about the deal)."""
    understood = read(core, "initech?", names=INITECH)
    assert understood.decision == "ask"
    shown = {(r.intent, r.ref) for r in core.conversation.understanding().choices(understood)}
    assert {("deal.status", "D-1"), ("lead.status", "L-1")} <= shown
    best = read(core, "is initech approved yet", names=INITECH).best
    assert best is not None and (best.intent, best.ref) == ("deal.status", "D-1")
    assert read(core, "initech?", names=INITECH[:1]).decision == "act"  # one record: it is shown


def test_a_range_for_an_amount_is_asked_about_even_when_no_amount_is_read(core: Core) -> None:
    best = read(core, "register a deal for Globex, Cloud Suite, somewhere 30-40k, closing in March").best
    assert best is not None and best.intent == "deal.register"
    assert "amount" not in best.slots and any("range" in d for d in best.doubts)


def test_a_reference_in_an_aside_is_no_record_the_message_is_about(core: Core) -> None:
    best = read(core, "please decline the initech lead - it overlaps with our deal D-1", names=INITECH).best
    assert best is not None and (best.intent, best.ref) == ("lead.decline", "L-1")
    assert "D-1" in best.get("reason", "")
    best = read(core, "decline D-1 - duplicate", role="staff").best  # a reference before the aside is
    assert best is not None and (best.intent, best.ref) == ("staff.reject", "D-1")


def test_another_roles_view_with_words_of_ones_own_is_ones_own_view(core: Core) -> None:
    understood = read(core, "is D-2 still waiting for approval?")
    assert understood.best is not None and understood.best.intent.startswith("deal."), "not the review queue"
    best = read(core, "content stats").best  # nothing but a staff view's words: kept, to say whose it is
    assert best is not None and best.intent == "staff.content_stats"


def test_courtesy_words_say_nothing_about_the_request(core: Core) -> None:
    assert not any(f.startswith("c:") for f in features("please", "partner"))
    for text in ("help pls", "help please"):
        best = read(core, text).best
        assert best is not None and best.intent == "meta.help", text


def test_what_follows_an_aside_does_not_outweigh_the_request_before_it(core: Core) -> None:
    """A reason after a dash is what is said, not what is asked: "extended" in it asks for no extension."""
    best = read(core, "D-1 lost - they extended the contract with their current supplier").best
    assert best is not None and best.intent == "deal.lost" and best.ref == "D-1"
    assert "extended the contract" in best.get("reason", "")


def test_an_example_reads_its_values_as_a_message_does_and_a_message_that_is_one_is_its_intent(
    core: Core,
) -> None:
    from bot.kernel.understanding.reader import as_read

    assert "xdate" in as_read("which deals close this quarter") and "quarter" not in as_read(
        "which deals close this quarter"
    )
    understanding = core.conversation.understanding()
    declared = next(e for e in understanding.specs["deal.list"].examples if "{" not in e and len(e) > 12)
    best = read(core, declared).best
    assert best is not None and best.intent == "deal.list", declared
    best = read(core, "what is closing next month").best  # a date in other words than the example's
    assert best is not None and best.intent == "deal.list"


def test_a_reading_that_takes_the_values_typed_is_likelier_than_one_that_leaves_them(core: Core) -> None:
    understood = read(core, "thinking of a partner dinner for 20 people in Hamburg, 2k EUR, probably 4 leads")
    assert understood.decision == "act" and understood.best is not None
    assert understood.best.intent == "mdf.request"
    assert understood.best.get("amount") is not None
