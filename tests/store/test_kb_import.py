"""Knowledge-base import (``partnerbot kb import FILE.csv``) on SQLite and PostgreSQL: every row or none,
a bad row named by line and field, a second import updating instead of duplicating."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bootstrap import Core
from bot.features.questions.service import import_kb_csv
from bot.kernel.errors import InputError
from store import queries
from store import question_queries as qq

GOOD = (
    "\ufeffquestion,answer,topic,tags\n"
    'How do I claim MDF?,"Open Partner Portal > MDF > New claim,\nattach the invoice.",MDF,claim; marketing funds\n'
    "Who approves partner discounts?,Your channel manager up to 20%; the deal desk above.,pricing,\n"
    "Where is the price list?,In the portal under Sales tools.,,\n"
)


def write(tmp_path: Path, text: str, name: str = "kb.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def entries(core: Core) -> list[tuple[str, str, str | None, list]]:
    async with core.db.transaction() as session:
        return [(e.question, e.answer, e.topic, list(e.tags)) for e in await qq.active_kb_entries(session)]


async def test_import_then_reimport_updates(any_core: Core, tmp_path: Path) -> None:
    assert await import_kb_csv(any_core.questions, write(tmp_path, GOOD)) == 3
    assert await entries(any_core) == [
        (
            "How do I claim MDF?",
            "Open Partner Portal > MDF > New claim,\nattach the invoice.",
            "mdf",
            ["claim", "marketing funds"],
        ),
        (
            "Who approves partner discounts?",
            "Your channel manager up to 20%; the deal desk above.",
            "pricing",
            [],
        ),
        ("Where is the price list?", "In the portal under Sales tools.", None, []),
    ]
    changed = GOOD.replace("In the portal under Sales tools.", "Sales tools > Price list.")
    assert await import_kb_csv(any_core.questions, write(tmp_path, changed)) == 3
    found = await entries(any_core)
    assert len(found) == 3 and found[2][1] == "Sales tools > Price list."
    async with any_core.db.transaction() as session:
        assert [a.action for a in await queries.audit_of(session, "KB-3")] == ["kb.add", "kb.update"]
        assert (await queries.audit_of(session, "KB-1"))[0].channel == "cli"


async def test_imported_entries_answer_partners(any_core: Core, tmp_path: Path) -> None:
    from bot.bootstrap import build_questions
    from tests.conftest import make_world

    world = await make_world(any_core)
    await import_kb_csv(any_core.questions, write(tmp_path, GOOD))
    view = await build_questions(any_core).ask(world.bob, "how do I get marketing funds back?")
    assert view.status == "answered_by_kb" and view.kb_ref == "KB-1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "question,answer\nHow do I claim MDF?,In the portal.\nWho approves discounts?,\n",
            "line 3, answer: The answer is empty",
        ),
        (
            'question,answer\n"How do I claim\nMDF?",In the portal.\n,An answer without a question\n',
            "line 4, question: The question is empty",
        ),
        (
            "question,answer,topic\nHow do I claim MDF?,In the portal.,m/d/f\n",
            "line 2, topic: 'm/d/f' is not a topic",
        ),
        (
            "question,answer\nHow do I claim MDF?,In the portal.\nhow do i claim mdf,Elsewhere.\n",
            "line 3, question: the same question as line 2",
        ),
        (
            "question,answer\nHow do I claim MDF?,In the portal.,extra\n",
            "line 2: 3 cells, but the header names 2",
        ),
        (
            "question,answer\nHow do I claim MDF?,In the\x07 portal.\n",
            "line 2, answer: That text contains control",
        ),
        (
            "question,answer\nHow do I claim MDF?," + "x" * 4001 + "\n",
            "line 2, answer: That is 4,001 characters; 4,000 is the most I keep.",
        ),
        ("q,a\nHow?,Here.\n", "line 1: the columns must be question, answer and optionally topic and tags"),
        ("question,answer,answer\n", "line 1: the columns must be"),
        ("", "kb.csv is empty"),
        ("question,answer\n\n", "kb.csv has a header but no entries"),
    ],
)
async def test_a_bad_file_names_line_and_field_and_writes_nothing(
    any_core: Core, tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(InputError) as error:
        await import_kb_csv(any_core.questions, write(tmp_path, text))
    assert message in str(error.value)
    async with any_core.db.transaction() as session:
        assert await qq.kb_count(session) == 0


async def test_unreadable_files(any_core: Core, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        await import_kb_csv(any_core.questions, tmp_path / "missing.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("question,answer\nWo ist die Preisliste?,Im Portal – unter Verkauf.\n".encode("cp1252"))
    with pytest.raises(InputError, match="latin.csv is not UTF-8 text"):
        await import_kb_csv(any_core.questions, latin)


async def test_demo_faq_is_idempotent(any_core: Core) -> None:
    from bot.features.questions.service import DEMO_KB, seed_demo_kb

    first = await seed_demo_kb(any_core.questions)
    assert first[0] == "kb KB-1 How do I claim MDF?" and len(first) == len(DEMO_KB)
    assert await seed_demo_kb(any_core.questions) == []
    assert len(await entries(any_core)) == len(DEMO_KB)
