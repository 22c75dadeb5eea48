"""CSV import (`partnerbot lead import FILE.csv` calls import_leads_csv): every row validated before
anything is written, a bad row named by line and field, and nothing from a bad file half-imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bootstrap import Core, leads_for
from bot.features.leads.service import LeadRowError, import_leads_csv
from bot.kernel.errors import InputError
from store import lead_queries, queries
from tests.conftest import RecordingNotifier, World, reachable

HEADER = "company,contact_name,contact_email,contact_phone,country,product,source,notes\n"


def write(tmp_path: Path, text: str, name: str = "leads.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def lead_count(core: Core) -> int:
    async with core.db.transaction() as session:
        return len(await lead_queries.leads_visible(session, partner_id=None, limit=1000))


async def test_a_good_file_is_imported_and_distributed(core: Core, world: World, tmp_path: Path) -> None:
    await reachable(core, world.alice, world.bob, world.dana, world.carl)
    path = write(
        tmp_path,
        HEADER
        + "Initech GmbH,Jane Doe,jane@initech.example,,de,cloud suite,webinar,\n"
        + 'Hooli Inc,Gavin B,,+1 415 555 0100,US,Edge Gateway,trade show,"wants a demo,\nsoon"\n'
        + "\n"
        + "Brasil Ltda,,ana@brasil.example,,BR,,,\n",
    )
    result = await import_leads_csv(core.leads, path)
    assert [(r.ref, r.company, r.partner) for r in result.leads] == [
        ("L-1", "Initech GmbH", "Northwind Partners"),
        ("L-2", "Hooli Inc", "Contoso Integrators"),
        ("L-3", "Brasil Ltda", None),
    ]
    assert result.summary().splitlines() == [
        "imported 3 leads",
        "L-1 Initech GmbH: offered to Northwind Partners (EMEA (DE), Gold, 0 of 10 open leads, no lead offers in the last 90 days)",
        "L-2 Hooli Inc: offered to Contoso Integrators (NA (US), Silver, 0 of 10 open leads, no lead offers in the last 90 days)",
        "L-3 Brasil Ltda: waiting for staff review (no eligible partner: no active partner covers BR (LATAM))",
    ]
    hooli = await leads_for(core).get(world.dana, "L-2")
    assert (hooli.product, hooli.contact_phone, hooli.notes) == (
        "Edge Gateway",
        "+1 415 555 0100",
        "wants a demo,\nsoon",
    )
    initech = await leads_for(core).get(world.dana, "L-1")
    assert (initech.country, initech.product, initech.source) == ("DE", "Cloud Suite", "webinar")

    notifier = RecordingNotifier()
    await core.dispatcher({"console": notifier}).deliver_due()
    assert "New lead L-1 · Initech GmbH" in notifier.texts_for(world.alice.person_id)
    assert "New lead L-2 · Hooli Inc" in notifier.texts_for(world.bob.person_id)
    assert "L-2" not in notifier.texts_for(world.alice.person_id)
    staff = notifier.texts_for(world.dana.person_id) + notifier.texts_for(world.carl.person_id)
    assert "1 new lead wait for review" in staff and "L-3 · Brasil Ltda: no eligible partner" in staff
    async with core.db.transaction() as session:
        assert [a.channel for a in await queries.audit_of(session, "L-1")] == ["cli", "cli"]


@pytest.mark.parametrize(
    ("rows", "line", "field", "message"),
    [
        (
            "Initech,Jane,jane@initech.example,,DE,,,\nHooli,Gavin,gavin@hooli,,US,,,\n",
            3,
            "contact_email",
            "line 3, contact_email: 'gavin@hooli' is not an e-mail address such as jane@initech.example.",
        ),
        (
            "Initech,Jane,jane@initech.example,,DE,,,\nInitech,Jane,jane@initech.example,,DE,,,\nHooli,,g@hooli.example,,ZZ,,,\n",
            4,
            "country",
            "line 4, country: 'ZZ' is not a country code; use two letters such as DE or US.",
        ),
        (
            "Initech,Jane,jane@initech.example,,DE,Cloud Sweet Pro Max,,\n",
            2,
            "product",
            "line 2, product: I don't know the product 'Cloud Sweet Pro Max'. Products: Cloud Suite, Edge Gateway, Security Pack.",
        ),
        (
            ",Jane,jane@initech.example,,DE,,,\n",
            2,
            "company",
            "line 2, company: Tell me the lead's company name, e.g. Globex Corporation.",
        ),
        (
            "Initech,Jane,,,DE,,,\n",
            2,
            "contact_email",
            "line 2, contact_email: Give a contact e-mail or phone so the partner can reach the lead.",
        ),
        (
            "Initech,Jane,jane@initech.example,,DE,,,,surplus\n",
            2,
            "file",
            "line 2: more values than the 8 columns.",
        ),
    ],
)
async def test_a_bad_row_is_named_and_nothing_from_the_file_is_written(
    core: Core, world: World, tmp_path: Path, rows: str, line: int, field: str, message: str
) -> None:
    path = write(tmp_path, HEADER + rows)
    with pytest.raises(LeadRowError) as raised:
        await import_leads_csv(core.leads, path)
    assert (raised.value.line, raised.value.field, raised.value.message) == (line, field, message)
    assert await lead_count(core) == 0
    async with core.db.transaction() as session:
        assert await queries.outbox_for(session) == []
    ok = write(tmp_path, HEADER + "Initech,Jane,jane@initech.example,,DE,,,\n", "ok.csv")
    assert (await import_leads_csv(core.leads, ok)).leads[0].ref == "L-1", "the rejected file used no numbers"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty; the first line names the columns"),
        (
            "company,country,contact_email,budget\nInitech,DE,j@i.example,10\n",
            "line 1: unknown column 'budget'",
        ),
        ("company,contact_email\nInitech,j@i.example\n", "line 1: the column 'country' is missing"),
        ("company,country\nInitech,DE\n", "line 1: give a contact_email or contact_phone column"),
        ("company,country,company,contact_email\n", "line 1: the column 'company' appears twice"),
        (HEADER, "has no leads after the header line"),
        (HEADER + 'Initech,"Jane,j@i.example,,DE,,,\n', "line 2"),
    ],
)
async def test_a_bad_file_is_refused_whole(
    core: Core, world: World, tmp_path: Path, content: str, message: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await import_leads_csv(core.leads, path)
    assert await lead_count(core) == 0


async def test_header_case_and_optional_columns_and_encoding(
    core: Core, world: World, tmp_path: Path
) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffCompany, Country ,Contact_Phone\nMünchner Rück AG,de,+49 89 38910\n".encode())
    result = await import_leads_csv(core.leads, path)
    assert [(r.company, r.partner) for r in result.leads] == [("Münchner Rück AG", "Northwind Partners")]
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(
        "company,country,contact_email\nA,DE,a@a.example\nM\xfcnchen,DE,m@m.example\n".encode("latin-1")
    )
    with pytest.raises(LeadRowError, match="line 3: the file is not UTF-8 text"):
        await import_leads_csv(core.leads, latin)
    with pytest.raises(InputError, match="I can't read"):
        await import_leads_csv(core.leads, tmp_path / "missing.csv")
    assert await lead_count(core) == 1


async def test_a_failure_while_distributing_writes_nothing(
    core: Core, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.features.leads.service import Leads

    calls = {"n": 0}
    original = Leads._offer

    async def offer_then_fail(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("lost the database connection")
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(Leads, "_offer", offer_then_fail)
    path = write(tmp_path, HEADER + "A,,a@a.example,,DE,,,\nB,,b@b.example,,DE,,,\nC,,c@c.example,,DE,,,\n")
    with pytest.raises(RuntimeError):
        await import_leads_csv(core.leads, path)
    assert calls["n"] == 2 and await lead_count(core) == 0


async def test_demo_leads_are_added_once(core: Core, world: World) -> None:
    from bot.features.leads.service import seed_demo_leads

    created = await seed_demo_leads(core.leads)
    assert created == ["lead L-1 Initech GmbH", "lead L-2 Hooli Inc", "lead L-3 Umbrella SA"]
    assert await seed_demo_leads(core.leads) == []
    assert await lead_count(core) == 3
    assert (await leads_for(core).get(world.dana, "L-2")).partner == "Contoso Integrators"
