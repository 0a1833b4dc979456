"""The optional LLM rewrite of a generated draft (off unless `RELAY_LLM_BASE_URL` is set).

What is sent is redacted again first (belt and braces: records are stored redacted). A
reply is used only if it keeps every section heading, link and code span of the draft
and carries no redaction mark; otherwise the deterministic draft stands.
"""

from __future__ import annotations

import logging
import re

from integrations.llm import ChatClient, LlmError
from service.config import Settings
from service.faq import text as faq_text
from service.faq.service import Rewriter
from service.structuring.redaction import redact_text

log = logging.getLogger("relay.faq")

SYSTEM_PROMPT = (
    "You edit technical FAQ entries for merchants of a Philippine payments company. "
    "Rewrite the Markdown below for clarity: short sentences, second person, plain words. "
    "Keep every '## ' heading, list, link and `code` span exactly. Add no facts. "
    "Never write the words simply, just or obviously. Answer with the Markdown only."
)
_HEADING = re.compile(r"^## .+$", re.MULTILINE)
_LINK = re.compile(r"\]\(([^)]+)\)")
_CODE = re.compile(r"`[^`\n]+`")


def rewriter_from(settings: Settings) -> Rewriter | None:
    """A rewriter talking to the configured endpoint, or None when none is configured."""
    if not settings.llm_base_url:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    client = ChatClient(
        settings.llm_base_url,
        model=settings.llm_model,
        api_key=key,
        timeout=settings.llm_timeout_seconds,
    )
    return lambda question, body: rewrite(client, question=question, body=body)


def rewrite(client: ChatClient, *, question: str, body: str) -> str:
    """The endpoint's clearer `body`, or `body` itself when the reply cannot be trusted."""
    sent = redact_text(f"Question: {question}\n\n{body}").text
    try:
        reply = client.complete(system=SYSTEM_PROMPT, user=sent).strip() + "\n"
    except LlmError as exc:
        log.warning("LLM rewrite skipped", extra={"error": str(exc)})
        return body
    return reply if keeps_structure(body, reply) else body


def keeps_structure(original: str, candidate: str) -> bool:
    """Same headings, links and code spans; no redaction mark, secret or banned word."""
    same = all(
        sorted(pattern.findall(original)) == sorted(pattern.findall(candidate))
        for pattern in (_HEADING, _LINK, _CODE)
    )
    secrets = any(redact_text(candidate).counts.values())
    clean = not faq_text.has_placeholder(candidate) and not secrets
    return same and clean and faq_text.BANNED_WORDS.search(candidate) is None
