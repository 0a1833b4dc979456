"""Freshdesk request authenticity and delivery identity.

Automation-rule webhooks cannot be signed, so the rule is configured to send a shared
token in a custom header, checked here in constant time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from integrations.common import body_hash, verify_shared_token

TOKEN_HEADER = "x-relay-token"  # noqa: S105 - a header name, not a secret


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    now: datetime | None = None,
    tolerance_seconds: int = 300,
) -> None:
    """Raise InvalidSignature unless `x-relay-token` equals the configured token."""
    verify_shared_token(headers, secret, TOKEN_HEADER)


def delivery_key(body: bytes, headers: Mapping[str, str]) -> str:
    """The body hash: Freshdesk sends no delivery id, and a retry resends the same bytes."""
    return body_hash(body)
