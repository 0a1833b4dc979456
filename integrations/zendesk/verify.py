"""Zendesk request authenticity and delivery identity."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from integrations.common import (
    bounded_key,
    check_freshness,
    decode_base64_signature,
    digests_match,
    header,
    hmac_digest,
    json_object_or_none,
    parse_iso8601,
    required_header,
)
from integrations.contracts import InvalidSignature

SIGNATURE_HEADER = "x-zendesk-webhook-signature"
TIMESTAMP_HEADER = "x-zendesk-webhook-signature-timestamp"
INVOCATION_HEADER = "x-zendesk-webhook-invocation-id"
EVENT_TYPE_PREFIX = "zen:"


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    now: datetime | None = None,
    tolerance_seconds: int = 300,
) -> None:
    """Raise InvalidSignature unless the signature matches and its timestamp is fresh."""
    given = decode_base64_signature(required_header(headers, SIGNATURE_HEADER), SIGNATURE_HEADER)
    timestamp = required_header(headers, TIMESTAMP_HEADER)
    signed_at = parse_iso8601(timestamp)
    if signed_at is None:
        raise InvalidSignature(f"malformed {TIMESTAMP_HEADER} header (not ISO-8601)")
    # Current docs: HMAC over timestamp + body, no separator. An older doc page said
    # body + timestamp (its test vector matches that order); production senders use this one.
    # The HMAC covers the header text exactly as sent, so use the raw string, not a re-render.
    expected = hmac_digest(secret, timestamp.encode("utf-8") + body, "sha256")
    if not digests_match(expected, given):
        raise InvalidSignature("signature mismatch")
    check_freshness(signed_at, now, tolerance_seconds)


def delivery_key(body: bytes, headers: Mapping[str, str]) -> str:
    """Event id for `zen:` events, else the invocation id header, else the body hash."""
    data = json_object_or_none(body) or {}
    event_type, event_id = data.get("type"), data.get("id")
    is_event = isinstance(event_type, str) and event_type.startswith(EVENT_TYPE_PREFIX)
    if is_event and isinstance(event_id, str | int) and not isinstance(event_id, bool):
        return bounded_key(str(event_id).strip(), body)
    # Trigger bodies have no event id of their own.
    return bounded_key(header(headers, INVOCATION_HEADER), body)
