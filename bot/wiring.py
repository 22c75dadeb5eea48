"""The first half of the wiring: settings -> database -> core -> a notifier per configured platform.

Every command that needs a core builds it here: ``partnerbot serve`` (``bot/app.py`` then adds the
aiohttp app, the channels and the scheduler) and the CLI commands. This module imports no web
framework, and a platform's handlers - with its SDK - only when that platform is configured, so
``partnerbot chat`` with neither Slack nor Teams set up starts without slack_sdk, the Agents SDK and
aiohttp. With ``bot/app.py`` and ``bot/cli.py`` it is the only part of ``bot/`` that may import
``handlers``.
"""

from __future__ import annotations

from bot.bootstrap import Core
from bot.config import Settings
from bot.kernel.outbox import Notifier


def build_core(settings: Settings) -> Core:
    """The core with a notifier for every configured platform and, with ``PARTNERBOT_LLM_URL``, the
    optional language model (also used by CLI jobs and ``partnerbot chat``)."""
    language_model = None
    if settings.llm_url:
        from handlers.language_model import language_model_from

        language_model = language_model_from(settings)
    core = Core.build(settings, language_model=language_model)
    if settings.slack_can_post:
        from handlers.slack.notifier import slack_notifier

        _add_notifier(core, slack_notifier(core))
    if settings.teams_configured:
        from handlers.teams.notifier import teams_notifier

        _add_notifier(core, teams_notifier(core))
    return core


def _add_notifier(core: Core, notifier: Notifier | None) -> None:
    if notifier is not None:
        core.add_notifier(notifier)
