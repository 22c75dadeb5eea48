"""``People.identify`` is the one turn pipeline for identity: the platform's profile lookup runs only
for an account linked to nobody, once, and the next turn of the now-linked account needs none."""

from __future__ import annotations

from bot.bootstrap import Core
from bot.kernel.messages import ConversationRef
from bot.people import Profile
from tests.conftest import World


class CountingLoader:
    def __init__(self, profile: Profile | None) -> None:
        self.profile = profile
        self.calls = 0

    async def __call__(self) -> Profile | None:
        self.calls += 1
        return self.profile


def _ref(user: str) -> ConversationRef:
    return ConversationRef("slack", "TNORTH", user, extras={"channel": f"D{user}"})


async def test_a_known_account_is_identified_without_asking_the_platform(core: Core, world: World) -> None:
    await core.people.add_user(
        email="alice@northwind.example",
        name="Alice Novak",
        partner="Northwind Partners",
        identities=[("slack", "TNORTH", "UALICE")],
    )
    loader = CountingLoader(Profile(email="alice@northwind.example"))
    actor = await core.people.identify(
        platform="slack",
        workspace="TNORTH",
        external_id="UALICE",
        load_profile=loader,
        conversation=_ref("UALICE"),
    )
    assert actor is not None and actor.person_id == world.alice.person_id
    assert loader.calls == 0


async def test_an_unknown_account_is_looked_up_once_then_known(core: Core, world: World) -> None:
    loader = CountingLoader(Profile(email="alex@northwind.example", name="Alex Roth"))
    first = await core.people.identify(
        platform="slack",
        workspace="TNORTH",
        external_id="UALEX",
        load_profile=loader,
        conversation=_ref("UALEX"),
    )
    assert first is not None and first.person_id == world.alex.person_id
    assert loader.calls == 1
    again = await core.people.identify(
        platform="slack",
        workspace="TNORTH",
        external_id="UALEX",
        load_profile=loader,
        conversation=_ref("UALEX"),
    )
    assert again is not None and again.person_id == world.alex.person_id
    assert loader.calls == 1, "linked by the first turn: no second lookup"


async def test_a_stranger_is_looked_up_once_and_stays_nobody(core: Core, world: World) -> None:
    for profile in (None, Profile(email=None), Profile(email="mallory@elsewhere.example")):
        loader = CountingLoader(profile)
        actor = await core.people.identify(
            platform="slack", workspace="TSTRANGE", external_id="UMALLORY", load_profile=loader
        )
        assert actor is None
        assert loader.calls == 1
