"""Multi-workspace installation: /slack/install and /slack/oauth_redirect with installations in the shared
database (migration 0002), and every later request and notification using that workspace's own token."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.signature import SignatureVerifier

from bot.app import build_web_app
from bot.bootstrap import Core
from bot.kernel.messages import Reply
from bot.kernel.outbox import DeliveryError
from handlers.slack.app import SLACK_KEY
from handlers.slack.notifier import SlackNotifier
from store.db import sync_url
from tests.conftest import FakeClock, build_core, make_world
from tests.slack.conftest import SIGNING_SECRET, SlackStandIn, validate_call


@pytest.fixture
async def oauth_core(sqlite_url: str, clock: FakeClock, standin: SlackStandIn) -> AsyncIterator[Core]:
    core = await build_core(
        sqlite_url,
        clock,
        SLACK_CLIENT_ID="111.222",
        SLACK_CLIENT_SECRET="test-client-secret",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=f"{standin.url}/api/",
        SLACK_VENDOR_CHANNEL="CVENDOR",
        PARTNERBOT_SLACK_VENDOR_TEAM="",
    )
    await make_world(core)
    yield core
    await core.db.dispose()
    for call in standin.calls:
        validate_call(call)


def test_migration_0002_matches_slack_sdks_tables(sqlite_url: str) -> None:
    metadata = sa.MetaData()
    SQLAlchemyInstallationStore.build_installations_table(metadata, "slack_installations")
    SQLAlchemyInstallationStore.build_bots_table(metadata, "slack_bots")
    SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, "slack_oauth_states")
    engine = sa.create_engine(sync_url(sqlite_url))
    try:
        with engine.connect() as conn:
            only_slack = {
                "include_name": lambda name, kind, parent: kind != "table" or name.startswith("slack_")
            }
            assert compare_metadata(MigrationContext.configure(conn, opts=only_slack), metadata) == []
    finally:
        engine.dispose()


@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")  # inside slack_sdk
async def test_install_then_serve_the_new_workspace_with_its_token(
    oauth_core: Core, standin: SlackStandIn
) -> None:
    app = build_web_app(oauth_core)
    async with TestClient(TestServer(app, host="127.0.0.1")) as http:
        page = await http.get("/slack/install")
        assert page.status == 200
        html = await page.text()
        link = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', html)
        assert link, html[:500]
        query = parse_qs(urlsplit(link.group(1).replace("&amp;", "&")).query)
        assert query["client_id"] == ["111.222"] and "chat:write" in query["scope"][0]
        state = query["state"][0]
        # The state cookie is Secure (https only), so the test browser hands it back by hand.
        cookie = {"Cookie": f"slack-app-oauth-state={page.cookies['slack-app-oauth-state'].value}"}

        bad = await http.get(
            "/slack/oauth_redirect", params={"code": "good-code", "state": "forged"}, headers=cookie
        )
        assert bad.status >= 400
        done = await http.get(
            "/slack/oauth_redirect", params={"code": "good-code", "state": state}, headers=cookie
        )
        assert done.status == 200, await done.text()
        assert [c.method for c in standin.calls if c.method.startswith("oauth")] == ["oauth.v2.access"]

        # A DM from the new workspace is answered with that workspace's token.
        body = json.dumps(
            {
                "team_id": "TNORTH",
                "api_app_id": "A1",
                "type": "event_callback",
                "event_id": "Ev9",
                "event": {
                    "type": "message",
                    "channel_type": "im",
                    "user": "UALICE",
                    "text": "help",
                    "team": "TNORTH",
                    "channel": "DUALICE",
                    "ts": "1.1",
                },
                "authorizations": [{"team_id": "TNORTH", "user_id": "UBOTNORTH", "is_bot": True}],
            }
        )
        ts = str(int(time.time()))
        headers = {
            "X-Slack-Request-Timestamp": ts,
            "Content-Type": "application/json",
            "X-Slack-Signature": SignatureVerifier(SIGNING_SECRET).generate_signature(
                timestamp=ts, body=body
            ),
        }
        assert (await http.post("/slack/events", data=body, headers=headers)).status == 200
        await app[SLACK_KEY].drain()
        (answer,) = standin.of("chat.postMessage", channel="DUALICE")
        assert answer.token == "xoxb-north" and "Here's what I can do" in answer.dump

    # The outbox reaches people of that workspace with its token too; an unknown workspace is permanent.
    notifier = oauth_core.notifiers["slack"]
    assert isinstance(notifier, SlackNotifier)
    fresh = SlackNotifier(settings=oauth_core.settings, tokens=notifier.tokens)
    target = {
        "workspace": "TNORTH",
        "external_id": "UALICE",
        "extras": {"team": "TNORTH", "user": "UALICE", "channel": "DUALICE"},
    }
    await fresh.send(target=target, reply=Reply(text="hello"), idempotency_key="k")
    assert standin.of("chat.postMessage", text="hello")[0].token == "xoxb-north"
    with pytest.raises(DeliveryError) as raised:
        await fresh.send(
            target={**target, "extras": {"team": "TELSEWHERE", "user": "U1"}},
            reply=Reply(text="x"),
            idempotency_key="k2",
        )
    assert raised.value.permanent
    # Without SLACK_BOT_TOKEN or PARTNERBOT_SLACK_VENDOR_TEAM nobody knows the vendor's workspace.
    with pytest.raises(DeliveryError) as raised:
        await fresh.send(target={"vendor_channel": True}, reply=Reply(text="x"), idempotency_key="k3")
    assert raised.value.permanent
