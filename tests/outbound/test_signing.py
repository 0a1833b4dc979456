"""Standard Webhooks signing: the official library accepts what Relay signs."""

from __future__ import annotations

import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from service.outbound import signing
from service.outbound.service import crossed_steps, encode_body


def test_new_secrets_are_whsec_base64_and_distinct() -> None:
    first, second = signing.new_secret(), signing.new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(signing.secret_key(first)) == signing.SECRET_BYTES


def test_the_standardwebhooks_library_verifies_relays_signature() -> None:
    secret = signing.new_secret()
    body = b'{"type":"feedback.created","timestamp":"2026-11-02T01:00:00Z","data":{"id":"fb_1"}}'
    headers = signing.headers(secret, message_id="msg_1", timestamp=int(time.time()), body=body)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers)["data"] == {"id": "fb_1"}


def test_a_changed_body_id_or_secret_fails_verification() -> None:
    secret = signing.new_secret()
    body = b'{"type":"theme.created","timestamp":"2026-11-02T01:00:00Z","data":{}}'
    headers = signing.headers(secret, message_id="msg_2", timestamp=int(time.time()), body=body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"theme", b"feedback"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-id": "msg_3"})
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)


def test_a_secret_that_is_not_base64_is_refused() -> None:
    with pytest.raises(ValueError, match="base64"):
        signing.secret_key("whsec_not base64!")


def test_payload_is_type_timestamp_data() -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    body = encode_body("brief.ready", {"id": "br_1", "at": at}, at=at)
    assert body == (
        '{"type":"brief.ready","timestamp":"2026-11-02T01:00:00Z",'
        '"data":{"id":"br_1","at":"2026-11-02T01:00:00Z"}}'
    )


def test_threshold_steps_crossed_only_upwards_and_each_once() -> None:
    assert crossed_steps(2, 3, (3, 5, 10)) == [3]
    assert crossed_steps(3, 3, (3, 5, 10)) == []
    assert crossed_steps(1, 11, (3, 5, 10)) == [3, 5, 10]
    assert crossed_steps(6, 4, (3, 5, 10)) == []
