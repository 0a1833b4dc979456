"""Zendesk edge: signature (timestamp + body), delivery keys, event and trigger bodies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from integrations import zendesk
from integrations.contracts import InvalidSignature, UnparseablePayload
from integrations.registry import SOURCES

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CAPTURES = FIXTURES / "real-payloads" / "zendesk"
EVENTS = FIXTURES / "zendesk-events"
ALL_BODIES = sorted(CAPTURES.glob("*.json")) + sorted(EVENTS.glob("*.json"))
SECRET = "zendesk-signing-secret-for-tests"

Payload = Callable[[str, str], bytes]


def sign(body: bytes, secret: str, at: datetime | str) -> dict[str, str]:
    """Headers as Zendesk sends them: base64(HMAC-SHA256(secret, timestamp + body))."""
    stamp = at if isinstance(at, str) else at.strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {
        "x-zendesk-webhook-signature": base64.b64encode(digest).decode(),
        "x-zendesk-webhook-signature-timestamp": stamp,
    }


def event(payload: Payload, name: str) -> bytes:
    return payload("zendesk-events", name)


def capture(payload: Payload, name: str) -> bytes:
    return payload("real-payloads/zendesk", name)


def test_registry_exposes_the_zendesk_source() -> None:
    assert SOURCES["zendesk"] is zendesk.SOURCE
    assert zendesk.SOURCE.name == "zendesk"


# --------------------------------------------------------------------------- verify


@pytest.mark.parametrize("path", ALL_BODIES, ids=lambda p: p.name)
def test_verify_accepts_every_fixture_signed_with_the_secret(path: Path, now: datetime) -> None:
    body = path.read_bytes()
    zendesk.verify(body, sign(body, SECRET, now), SECRET, now=now)


def test_verify_rejects_a_tampered_body(payload: Payload, now: datetime) -> None:
    body = event(payload, "ticket_created.json")
    headers = sign(body, SECRET, now)
    with pytest.raises(InvalidSignature, match="mismatch"):
        zendesk.verify(body.replace(b"HIGH", b"LOW_"), headers, SECRET, now=now)


def test_verify_rejects_the_wrong_secret(payload: Payload, now: datetime) -> None:
    body = event(payload, "ticket_created.json")
    with pytest.raises(InvalidSignature):
        zendesk.verify(body, sign(body, "another-secret", now), SECRET, now=now)


@pytest.mark.parametrize(
    "missing", ["x-zendesk-webhook-signature", "x-zendesk-webhook-signature-timestamp"]
)
def test_verify_rejects_a_missing_header(payload: Payload, now: datetime, missing: str) -> None:
    body = event(payload, "ticket_created.json")
    headers = sign(body, SECRET, now)
    del headers[missing]
    with pytest.raises(InvalidSignature, match=f"missing {missing}"):
        zendesk.verify(body, headers, SECRET, now=now)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-zendesk-webhook-signature", "not base64 at all!"),
        ("x-zendesk-webhook-signature", "é"),
        ("x-zendesk-webhook-signature-timestamp", "1736331930"),  # unix seconds, not ISO
        ("x-zendesk-webhook-signature-timestamp", "yesterday"),
    ],
)
def test_verify_rejects_malformed_headers(
    payload: Payload, now: datetime, name: str, value: str
) -> None:
    body = event(payload, "ticket_created.json")
    headers = {**sign(body, SECRET, now), name: value}
    with pytest.raises(InvalidSignature, match="malformed"):
        zendesk.verify(body, headers, SECRET, now=now)


@pytest.mark.parametrize(
    ("offset", "reason"), [(-301, "stale"), (301, "future"), (-3600, "stale"), (86400, "future")]
)
def test_verify_rejects_timestamps_outside_the_tolerance(
    payload: Payload, now: datetime, offset: int, reason: str
) -> None:
    body = event(payload, "ticket_created.json")
    headers = sign(body, SECRET, now + timedelta(seconds=offset))
    with pytest.raises(InvalidSignature, match=reason):
        zendesk.verify(body, headers, SECRET, now=now, tolerance_seconds=300)


@pytest.mark.parametrize("offset", [-300, -299, 0, 299, 300])
def test_verify_accepts_timestamps_within_the_tolerance(
    payload: Payload, now: datetime, offset: int
) -> None:
    body = event(payload, "ticket_created.json")
    headers = sign(body, SECRET, now + timedelta(seconds=offset))
    zendesk.verify(body, headers, SECRET, now=now, tolerance_seconds=300)


def test_verify_signs_the_timestamp_text_as_sent(payload: Payload, now: datetime) -> None:
    # Fractional seconds and an offset are valid ISO-8601; the HMAC covers the raw text.
    body = event(payload, "ticket_created.json")
    stamp = (now + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S.123456789+08:00")
    zendesk.verify(body, sign(body, SECRET, stamp), SECRET, now=now)


def test_verify_uses_the_secret_string_not_its_base64_decoding(now: datetime) -> None:
    body = b'{"ticket_id": "7"}'
    builder_secret = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
    zendesk.verify(body, sign(body, builder_secret, now), builder_secret, now=now)
    decoded = base64.b64decode(builder_secret).decode()
    assert decoded == "this_secret_is_for_testing_only"
    with pytest.raises(InvalidSignature):
        zendesk.verify(body, sign(body, decoded, now), builder_secret, now=now)


def test_the_legacy_body_plus_timestamp_vector_does_not_verify() -> None:
    secret = "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA="
    body = b'{"say": "hello"}'
    stamp = "2021-07-25T10:00:00Z"
    legacy = "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw="
    # The vector really is body+timestamp (so this test is not vacuous)...
    old_order = hmac.new(secret.encode(), body + stamp.encode(), hashlib.sha256).digest()
    assert base64.b64encode(old_order).decode() == legacy
    headers = {
        "x-zendesk-webhook-signature": legacy,
        "x-zendesk-webhook-signature-timestamp": stamp,
    }
    at = datetime(2021, 7, 25, 10, 0, tzinfo=UTC)
    # ...and the current formula (timestamp+body) rejects it.
    with pytest.raises(InvalidSignature, match="mismatch"):
        zendesk.verify(body, headers, secret, now=at)


def test_verify_refuses_an_empty_secret(payload: Payload, now: datetime) -> None:
    body = event(payload, "ticket_created.json")
    with pytest.raises(InvalidSignature, match="no secret"):
        zendesk.verify(body, sign(body, "", now), "", now=now)


def test_verify_defaults_to_the_real_clock(payload: Payload) -> None:
    body = event(payload, "ticket_created.json")
    zendesk.verify(body, sign(body, SECRET, datetime.now(UTC)), SECRET)
    with pytest.raises(InvalidSignature, match="stale"):
        zendesk.verify(body, sign(body, SECRET, datetime(2021, 3, 25, tzinfo=UTC)), SECRET)


# --------------------------------------------------------------------------- delivery_key


def test_delivery_key_of_an_event_is_its_id_whatever_the_headers(payload: Payload) -> None:
    body = event(payload, "ticket_comment_added.json")
    first = zendesk.delivery_key(body, {"x-zendesk-webhook-invocation-id": "8350205582"})
    retry = zendesk.delivery_key(body, {"x-zendesk-webhook-invocation-id": "8350205999"})
    assert first == retry == "d4f5c389-8f4a-4c2e-a1b9-8e4f39c71d52"


def test_delivery_keys_differ_between_events(payload: Payload) -> None:
    keys = {zendesk.delivery_key(path.read_bytes(), {}) for path in sorted(EVENTS.glob("*.json"))}
    assert len(keys) == 3


def test_delivery_key_of_a_trigger_body_is_the_invocation_id(payload: Payload) -> None:
    body = capture(payload, "ticket_create_update.json")
    headers = {"x-zendesk-webhook-invocation-id": "8350205582"}
    assert zendesk.delivery_key(body, headers) == "8350205582"
    assert zendesk.delivery_key(body, headers) == zendesk.delivery_key(body, dict(headers))


def test_delivery_key_falls_back_to_the_body_hash(payload: Payload) -> None:
    body = capture(payload, "ticket_create_update.json")
    expected = "sha256:" + hashlib.sha256(body).hexdigest()
    assert zendesk.delivery_key(body, {}) == expected
    assert zendesk.delivery_key(b"{not json", {}) == (
        "sha256:" + hashlib.sha256(b"{not json").hexdigest()
    )


def test_delivery_key_is_bounded(payload: Payload) -> None:
    body = json.dumps({"type": "zen:event-type:ticket.created", "id": "x" * 500}).encode()
    key = zendesk.delivery_key(body, {})
    assert len(key) <= 200
    assert key == zendesk.delivery_key(body, {})


# --------------------------------------------------------------------------- event subscriptions


def test_ticket_created_event(payload: Payload) -> None:
    ticket = zendesk.normalize(event(payload, "ticket_created.json"), {})
    assert ticket is not None
    assert ticket.source == "zendesk"
    assert ticket.external_id == "zendesk:5158"
    assert ticket.event_type == "zen:event-type:ticket.created"
    # 9 fractional digits in `time` are kept to the microsecond.
    assert ticket.occurred_at == datetime(2025, 1, 8, 10, 12, 7, 672717, tzinfo=UTC)
    assert ticket.created_at == datetime(2025, 1, 8, 10, 12, 7, tzinfo=UTC)
    assert ticket.subject == "GCash checkout failing"
    assert ticket.description is not None and "PAYMENT_FAILED" in ticket.description
    assert ticket.status == "new"
    assert ticket.priority == "high"
    assert ticket.tags == ("gcash", "checkout")
    assert ticket.merchant is not None and ticket.merchant.id == "zendesk-org:8447346622462"
    assert ticket.requester is not None and ticket.requester.id == "8447388090494"
    assert ticket.comments == ()
    assert ticket.deleted is False and ticket.jira is None


def test_comment_added_event(payload: Payload) -> None:
    ticket = zendesk.normalize(event(payload, "ticket_comment_added.json"), {})
    assert ticket is not None
    assert ticket.external_id == "zendesk:5158"
    assert ticket.status == "open"
    assert ticket.occurred_at == datetime(2025, 1, 8, 14, 25, 30, 123456, tzinfo=UTC)
    [comment] = ticket.comments
    assert comment.id == "9876543210"
    assert comment.body == "We are investigating the GCash failures and will update you shortly."
    assert comment.public is True
    assert comment.author_role == "agent"
    assert comment.author_name == "Support Agent"
    assert comment.created_at == ticket.occurred_at


def test_status_changed_event_maps_hold_to_on_hold(payload: Payload) -> None:
    ticket = zendesk.normalize(event(payload, "ticket_status_changed.json"), {})
    assert ticket is not None
    assert ticket.status == "on_hold"
    assert ticket.tags == ("gcash", "checkout", "escalated")
    assert ticket.occurred_at == datetime(2025, 1, 8, 15, 2, 11, 4215, tzinfo=UTC)


def test_status_change_uses_event_current_when_detail_lacks_status(
    payload: Payload, edited: Any
) -> None:
    def drop_status(data: dict[str, Any]) -> None:
        del data["detail"]["status"]
        data["event"]["current"] = "SOLVED"

    body = edited(event(payload, "ticket_status_changed.json"), drop_status)
    ticket = zendesk.normalize(body, {})
    assert ticket is not None and ticket.status == "solved"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("NEW", "new"),
        ("OPEN", "open"),
        ("PENDING", "pending"),
        ("HOLD", "on_hold"),
        ("SOLVED", "solved"),
        ("CLOSED", "closed"),
        ("DELETED", "deleted"),
        ("ARCHIVED", "closed"),
        ("SOMETHING_NEW", None),
    ],
)
def test_event_statuses(payload: Payload, edited: Any, raw: str, expected: str | None) -> None:
    body = edited(
        event(payload, "ticket_created.json"),
        lambda data: data["detail"].update(status=raw),
    )
    ticket = zendesk.normalize(body, {})
    assert ticket is not None and ticket.status == expected
    assert ticket.deleted is (expected == "deleted")


def test_private_comment_by_an_end_user(payload: Payload, edited: Any) -> None:
    def private_end_user(data: dict[str, Any]) -> None:
        comment = data["event"]["comment"]
        comment.update(is_public=False, author={"id": "1", "is_staff": False, "name": "Ana"})

    ticket = zendesk.normalize(
        edited(event(payload, "ticket_comment_added.json"), private_end_user), {}
    )
    assert ticket is not None
    [comment] = ticket.comments
    assert (comment.public, comment.author_role, comment.author_name) == (False, "requester", "Ana")


def test_comment_without_plain_body_uses_html_body(payload: Payload, edited: Any) -> None:
    def html_only(data: dict[str, Any]) -> None:
        data["event"]["comment"]["body"] = None
        data["event"]["comment"]["html_body"] = "<p>Refund &amp; retry</p><script>x()</script>"

    ticket = zendesk.normalize(edited(event(payload, "ticket_comment_added.json"), html_only), {})
    assert ticket is not None
    assert ticket.comments[0].body == "Refund & retry"


def test_ids_may_be_integers(payload: Payload, edited: Any) -> None:
    def integer_ids(data: dict[str, Any]) -> None:
        data["detail"].update(id=5158, organization_id=8447346622462, requester_id=42)

    ticket = zendesk.normalize(edited(event(payload, "ticket_created.json"), integer_ids), {})
    assert ticket is not None
    assert ticket.external_id == "zendesk:5158"
    assert ticket.merchant is not None and ticket.merchant.id == "zendesk-org:8447346622462"
    assert ticket.requester is not None and ticket.requester.id == "42"


def test_ticket_id_falls_back_to_the_subject(payload: Payload, edited: Any) -> None:
    body = edited(event(payload, "ticket_created.json"), lambda d: d["detail"].pop("id"))
    ticket = zendesk.normalize(body, {})
    assert ticket is not None and ticket.external_id == "zendesk:5158"


def test_ticket_event_without_any_ticket_id_is_unparseable(payload: Payload, edited: Any) -> None:
    def no_ids(data: dict[str, Any]) -> None:
        data["detail"].pop("id")
        data.pop("subject")

    with pytest.raises(UnparseablePayload, match="no ticket id"):
        zendesk.normalize(edited(event(payload, "ticket_created.json"), no_ids), {})


def test_soft_deleted_event_marks_the_ticket_deleted(payload: Payload, edited: Any) -> None:
    body = edited(
        event(payload, "ticket_created.json"),
        lambda data: data.update(type="zen:event-type:ticket.soft_deleted"),
    )
    ticket = zendesk.normalize(body, {})
    assert ticket is not None
    assert ticket.deleted is True and ticket.status == "deleted"


def test_non_ticket_zendesk_events_are_not_tickets() -> None:
    body = json.dumps(
        {
            "type": "zen:event-type:user.created",
            "id": "6f1b7a1e-7f2c-4b1a-9b58-0d3c8a3e1f00",
            "time": "2025-01-08T10:12:07.672717030Z",
            "subject": "zen:user:42",
            "detail": {"id": "42", "email": "ana@merchant.ph"},
            "event": {},
        }
    ).encode()
    assert zendesk.normalize(body, {}) is None


def test_messaging_message_added_becomes_a_comment() -> None:
    body = json.dumps(
        {
            "type": "zen:event-type:messaging_ticket.message_added",
            "id": "01JQMQH83YNAKWSWJ8B1QH2NSC",
            "time": "2025-03-30T09:15:00.100000000Z",
            "subject": "zen:ticket:812",
            "detail": {"id": "812"},
            "event": {
                "actor": {"id": "77", "name": "Ana Cruz", "type": "end-user"},
                "conversation_id": "c-1",
                "message": {"id": "m-1", "body": "Maya QR payments stuck in pending"},
            },
        }
    ).encode()
    ticket = zendesk.normalize(body, {})
    assert ticket is not None
    assert ticket.external_id == "zendesk:812"
    [comment] = ticket.comments
    assert (comment.id, comment.author_role, comment.public) == ("m-1", "requester", True)
    assert comment.body == "Maya QR payments stuck in pending"


# ------------------------------------------------------------------- trigger bodies (captures)


def test_capture_ticket_create_update(payload: Payload) -> None:
    ticket = zendesk.normalize(capture(payload, "ticket_create_update.json"), {})
    assert ticket is not None
    assert ticket.external_id == "zendesk:7"
    assert ticket.event_type == "zendesk:trigger"
    assert ticket.subject == "Hello world"
    assert ticket.description == (
        "----------------------------------------------\n\n"
        "Apoorva Pendse, Feb 3, 2025, 19:59\n\n"
        "I am writing this to create a ticket."
    )
    assert ticket.status == "open"  # "Open"
    assert ticket.priority == "normal"  # "Normal"
    assert ticket.tags == ("change_address", "help", "order")  # space-separated string
    assert ticket.external_url == "https://asdf1640.zendesk.com/agent/tickets/7"
    assert ticket.requester is not None and ticket.requester.name == "testerzulip"
    # "February 3, 2025" is a human rendering, not an event time.
    assert ticket.occurred_at is None and ticket.created_at is None
    assert ticket.merchant is None


def test_capture_message_with_ticket_id_and_title(payload: Payload) -> None:
    ticket = zendesk.normalize(capture(payload, "message_with_ticket_id_and_title.json"), {})
    assert ticket is not None
    assert ticket.external_id == "zendesk:7"
    assert ticket.subject == "SAMPLE TICKET: Problems changing address"
    # The pre-rendered Markdown `message` is a notification, not the ticket's description.
    assert ticket.description is None
    assert ticket.status is None and ticket.tags is None


def test_capture_message_without_ticket_id_is_unparseable(payload: Payload) -> None:
    with pytest.raises(UnparseablePayload, match="no ticket_id"):
        zendesk.normalize(capture(payload, "ticket_user_provided_message.json"), {})


def test_every_capture_is_covered_by_a_test() -> None:
    assert {p.name for p in CAPTURES.glob("*.json")} == {
        "ticket_create_update.json",
        "message_with_ticket_id_and_title.json",
        "ticket_user_provided_message.json",
    }


# ------------------------------------------------------------ trigger bodies (other templates)


def test_trigger_url_without_link_gets_a_scheme(payload: Payload, edited: Any) -> None:
    body = edited(capture(payload, "ticket_create_update.json"), lambda data: data.pop("link"))
    ticket = zendesk.normalize(body, {})
    assert ticket is not None
    assert ticket.external_url == "https://asdf1640.zendesk.com/agent/tickets/7"


def test_trigger_with_organization_timestamps_and_title_case_values() -> None:
    body = json.dumps(
        {
            "ticket_id": 98,
            "ticket_title": "Refund not received",
            "ticket_status": "On-hold",
            "ticket_priority": "Urgent",
            "tags": ["refund", "instapay"],
            "organization_id": "360001",
            "organization": "Sari-Sari Online",
            "requester_email": "ops@sarisari.ph",
            "created_at_with_timestamp": "2025-02-03T11:59:00Z",
            "updated_at_with_timestamp": "2025-02-03T12:10:05+08:00",
        }
    ).encode()
    ticket = zendesk.normalize(body, {})
    assert ticket is not None
    assert ticket.external_id == "zendesk:98"
    assert ticket.status == "on_hold" and ticket.priority == "urgent"
    assert ticket.tags == ("refund", "instapay")
    assert ticket.merchant is not None
    assert (ticket.merchant.id, ticket.merchant.name) == ("zendesk-org:360001", "Sari-Sari Online")
    assert ticket.created_at == datetime(2025, 2, 3, 11, 59, tzinfo=UTC)
    assert ticket.occurred_at == datetime(2025, 2, 3, 4, 10, 5, tzinfo=UTC)


def test_trigger_merchant_falls_back_to_a_business_email_domain() -> None:
    body = json.dumps({"ticket_id": "5", "requester_email": "Finance@Merchant.PH"}).encode()
    ticket = zendesk.normalize(body, {})
    assert ticket is not None
    assert ticket.merchant is not None and ticket.merchant.id == "email-domain:merchant.ph"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "not an object"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"ticket_id": {"nested": true}}', "unexpected shape"),
    ],
)
def test_unreadable_bodies_are_unparseable(body: bytes, reason: str) -> None:
    with pytest.raises(UnparseablePayload, match=reason):
        zendesk.normalize(body, {})
