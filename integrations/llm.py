"""An OpenAI-compatible chat-completions client (httpx), used to rewrite drafts for clarity.

It sends what it is given: callers redact first. Errors are `LlmError` so a caller can
fall back to its own text.
"""

from __future__ import annotations

from typing import Any

import httpx


class LlmError(Exception):
    """The endpoint failed or answered something that is not a chat completion."""


class ChatClient:
    """`POST {base_url}/chat/completions` with one system and one user message."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )
        self.model = model

    def complete(self, *, system: str, user: str) -> str:
        """The assistant's reply text."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "temperature": 0,
        }
        try:
            response = self._client.post("/chat/completions", json=body)
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise LlmError(f"chat completion failed: {exc}") from exc
        if not isinstance(content, str) or not content.strip():
            raise LlmError("chat completion returned no text")
        return content

    def close(self) -> None:
        self._client.close()
