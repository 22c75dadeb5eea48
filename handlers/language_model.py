"""The optional language model's transport: ``POST {PARTNERBOT_LLM_URL}/chat/completions`` over aiohttp.

The core asks it through the :class:`~bot.kernel.understanding.llm.ChatCompletions` port (what goes out
and what comes back in is decided there); this module only speaks HTTP. The key goes in one header:

- ``api-key: KEY`` for Azure OpenAI (hosts under ``.azure.com``): Azure takes a key there, reads
  ``Authorization: Bearer`` as a Microsoft Entra token, and refuses a request carrying both;
- ``Authorization: Bearer KEY`` for everything else (OpenAI, vLLM, a proxy; Ollama needs no key).

``PARTNERBOT_LLM_AUTH=bearer`` or ``api-key`` overrides the guess (an API gateway in front of Azure). A
query string in the URL is kept after the path (Azure's classic
``.../openai/deployments/NAME?api-version=2024-10-21``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from bot.config import Settings
from bot.kernel.understanding.llm import LanguageModel, ModelUnavailable

MAX_ANSWER = 1024 * 1024  # bytes: a tool call is a few hundred


def completions_url(base: str) -> str:
    """``{base}/chat/completions``, with any query string of ``base`` kept at the end."""
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/chat/completions"))


def auth_headers(base: str, key: str, auth: str = "") -> dict[str, str]:
    """The header that carries ``key`` (none without one); ``auth`` is ``bearer``, ``api-key`` or empty
    (guess from the host)."""
    if not key:
        return {}
    host = (urlsplit(base).hostname or "").lower()
    scheme = auth or ("api-key" if host.endswith(".azure.com") else "bearer")
    return {"api-key": key} if scheme == "api-key" else {"Authorization": f"Bearer {key}"}


class ChatCompletionsEndpoint:
    """One endpoint; a short-lived HTTP session per request (the model is asked rarely: only when the
    embedded layer is unsure), so there is nothing to close at shutdown."""

    def __init__(self, *, url: str, key: str = "", timeout: float = 3.0, auth: str = "") -> None:
        self.url = completions_url(url)
        self.timeout = timeout
        self._headers = {"Content-Type": "application/json", **auth_headers(url, key, auth)}

    def __repr__(self) -> str:
        return f"ChatCompletionsEndpoint({self.url!r})"

    async def create(self, body: dict[str, Any]) -> Any:
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http,
                http.post(self.url, data=json.dumps(body), headers=self._headers) as response,
            ):
                if response.status != 200:
                    raise ModelUnavailable(f"HTTP {response.status} from the endpoint")
                raw = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    raw += chunk
                    if len(raw) > MAX_ANSWER:
                        raise ModelUnavailable("an answer over 1 MiB")
        except TimeoutError as exc:
            raise ModelUnavailable(f"no answer within {self.timeout:.1f} s") from exc
        except aiohttp.ClientError as exc:  # the exception's text names the host, not the key
            raise ModelUnavailable(f"the endpoint could not be reached ({type(exc).__name__})") from exc
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ModelUnavailable("an answer that is not JSON") from exc


def language_model_from(settings: Settings) -> LanguageModel | None:
    """The language model ``PARTNERBOT_LLM_URL`` names, or None (the default: off)."""
    if not settings.llm_url:
        return None
    endpoint = ChatCompletionsEndpoint(
        url=settings.llm_url, key=settings.llm_key, timeout=settings.llm_timeout, auth=settings.llm_auth
    )
    return LanguageModel(endpoint=endpoint, model=settings.llm_model, timeout=settings.llm_timeout)
