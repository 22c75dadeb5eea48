"""The security suite drives the real aiohttp app with the Slack and Teams harnesses of tests/slack and
tests/teams; their fixtures are shared from here."""

from tests.slack.conftest import slack, standin  # noqa: F401  (fixtures)
from tests.slack.test_socket_mode import socket_slack  # noqa: F401  (fixture)
from tests.teams.conftest import connector, teams  # noqa: F401  (fixtures)
