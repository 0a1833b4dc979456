"""Jira request authenticity and delivery identity."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from integrations.common import bounded_key, header, verify_hub_signature

IDENTIFIER_HEADER = "x-atlassian-webhook-identifier"


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    now: datetime | None = None,
    tolerance_seconds: int = 300,
) -> None:
    """Raise InvalidSignature unless `x-hub-signature: sha256=<hex HMAC>` matches the body.

    Jira signs no timestamp, so `now` and `tolerance_seconds` play no part; replays are
    caught downstream by the delivery key.
    """
    verify_hub_signature(body, headers, secret, "sha256")


def delivery_key(body: bytes, headers: Mapping[str, str]) -> str:
    """`x-atlassian-webhook-identifier` (stable across retries), else the body hash."""
    return bounded_key(header(headers, IDENTIFIER_HEADER), body)
