"""Intercom request authenticity and delivery identity."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from integrations.common import bounded_key, json_object_or_none, verify_hub_signature


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    now: datetime | None = None,
    tolerance_seconds: int = 300,
) -> None:
    """Raise InvalidSignature unless `x-hub-signature: sha1=<hex HMAC>` (client secret) matches.

    Intercom signs no timestamp, so `now` and `tolerance_seconds` play no part.
    """
    verify_hub_signature(body, headers, secret, "sha1")


def delivery_key(body: bytes, headers: Mapping[str, str]) -> str:
    """The notification `id` (`notif_...`); the body hash when it is null (`ping`) or absent."""
    data = json_object_or_none(body)
    notification_id = data.get("id") if data is not None else None
    if isinstance(notification_id, str):
        return bounded_key(notification_id.strip(), body)
    return bounded_key(None, body)
