"""A fake OpenAI-compatible endpoint: `POST /v1/chat/completions` answers a set reply.

By default it echoes the user message back minus the "Question: …" line (a rewrite that
keeps every heading), and records what it was sent so tests can check the redaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.fakes.server import FakeServer, Recorded, Reply

COMPLETIONS = r"/v1/chat/completions"


class FakeLlm(FakeServer):
    def __init__(self, answer: Callable[[str], str] | None = None) -> None:
        super().__init__()
        self.answer = answer or _echo_body
        self.route("POST", COMPLETIONS, self._complete)

    def sent(self) -> list[str]:
        """The user messages received, oldest first."""
        return [
            m["content"]
            for r in self.requests_to("POST", COMPLETIONS)
            for m in (r.json or {}).get("messages", [])
            if m.get("role") == "user"
        ]

    def _complete(self, request: Recorded, match: re.Match[str]) -> Reply:
        del match
        messages = (request.json or {}).get("messages") or []
        user = next((m["content"] for m in messages if m.get("role") == "user"), "")
        choice = {"index": 0, "message": {"role": "assistant", "content": self.answer(user)}}
        return Reply.json({"id": "chatcmpl-fake", "object": "chat.completion", "choices": [choice]})


def _echo_body(user: str) -> str:
    return user.split("\n\n", 1)[1] if user.startswith("Question:") else user
