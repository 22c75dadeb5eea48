"""``GET /c/<token>``: the tracked link behind a content item's "Open" button.

Translates only: the token goes to the core (:func:`bot.features.content.service.open_content_link`), which records the
open (the first open per person keeps its time) and returns the document's URL; the answer is a 302 to
it. An unknown token gets a plain 404 page that says nothing about any item. An expired item still
redirects (and the open is recorded): the link in someone's chat history keeps working.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.bootstrap import Core

log = logging.getLogger(__name__)

NOT_FOUND_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Link not found</title></head>"
    "<body><h1>Link not found</h1><p>This link is not valid. Ask the sender for a new one.</p></body></html>"
)


def attach_content_links(app: web.Application, core: Core) -> None:
    """Add ``GET /c/{token}`` to ``app``."""

    async def open_link(request: web.Request) -> web.StreamResponse:
        url = await core.content.open_link(request.match_info["token"])
        if url is None:
            return web.Response(
                status=404,
                text=NOT_FOUND_PAGE,
                content_type="text/html",
                headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
            )
        # No caching: every open goes through us, so later opens are counted too.
        raise web.HTTPFound(url, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    app.router.add_get("/c/{token}", open_link)
