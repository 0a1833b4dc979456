"""Jira edge: X-Hub-Signature sha256, webhook identifiers, issue and comment events."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from integrations import jira
from integrations.contracts import InvalidSignature, NormalizedTicket, UnparseablePayload
from integrations.registry import SOURCES

CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real-payloads" / "jira"
SECRET = "jira-webhook-secret-for-tests"

Payload = Callable[[str, str], bytes]


def sign(body: bytes, secret: str = SECRET) -> dict[str, str]:
    """`x-hub-signature: sha256=<hex HMAC-SHA256(secret, body)>` as Jira sends it."""
    return {
        "x-hub-signature": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    }


def capture(payload: Payload, name: str) -> bytes:
    return payload("real-payloads/jira", name)


def ticket_of(body: bytes) -> NormalizedTicket:
    ticket = jira.normalize(body, {})
    assert ticket is not None
    return ticket


def epoch_ms(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)


def issue_event(**overrides: Any) -> dict[str, Any]:
    """A Cloud-shaped issue event (Dec 2024 style) to vary in synthetic tests."""
    body: dict[str, Any] = {
        "timestamp": 1735441883659,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "issue": {
            "id": "10021",
            "self": "https://relay-ph.atlassian.net/rest/api/2/issue/10021",
            "key": "KAN-22",
            "fields": {
                "summary": "GCash refunds stuck",
                "description": "Refunds via GCash stay PENDING",
                "status": {
                    "name": "Done",
                    "id": "10002",
                    "statusCategory": {"key": "done", "name": "Done"},
                },
                "priority": {"name": "Highest", "id": "1"},
                "resolution": {"name": "Fixed", "id": "10000"},
                "fixVersions": [{"name": "2024.12.2", "id": "10010"}, {"name": "2025.1.0"}],
                "labels": ["gcash", "refunds"],
                "issuetype": {"name": "Bug", "id": "10004", "subtask": False},
                "created": "2024-12-29T08:41:23.303+0530",
                "updated": "2024-12-29T08:51:23.303+0530",
            },
        },
        "changelog": {
            "id": "10026",
            "items": [
                {"field": "Status", "fieldtype": "jira", "fieldId": "status", "toString": "Done"},
                {"field": "resolution", "fieldtype": "jira", "fieldId": "resolution"},
                {"field": "Fix Version", "fieldtype": "jira", "fieldId": "fixVersions"},
                {"field": "Sprint", "fieldtype": "custom"},
            ],
        },
    }
    body.update(overrides)
    return body


def encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def test_registry_exposes_the_jira_source() -> None:
    assert SOURCES["jira"] is jira.SOURCE
    assert jira.SOURCE.name == "jira"


# --------------------------------------------------------------------------- verify


@pytest.mark.parametrize("path", sorted(CAPTURES.glob("*.json")), ids=lambda p: p.name)
def test_verify_accepts_every_capture_signed_with_the_secret(path: Path) -> None:
    # Includes the invalid-JSON capture: authenticity is about bytes, not parseability.
    body = path.read_bytes()
    jira.verify(body, sign(body), SECRET)


def test_verify_rejects_a_tampered_body(payload: Payload) -> None:
    body = capture(payload, "issue_updated__status.json")
    headers = sign(body)
    with pytest.raises(InvalidSignature, match="mismatch"):
        jira.verify(body.replace(b"In Progress", b"Done"), headers, SECRET)


def test_verify_rejects_the_wrong_secret(payload: Payload) -> None:
    body = capture(payload, "issue_updated__status.json")
    with pytest.raises(InvalidSignature, match="mismatch"):
        jira.verify(body, sign(body, "not-the-secret"), SECRET)


def test_verify_rejects_a_missing_signature(payload: Payload) -> None:
    with pytest.raises(InvalidSignature, match="missing x-hub-signature"):
        jira.verify(capture(payload, "issue_created.json"), {}, SECRET)


@pytest.mark.parametrize(
    "value",
    [
        "deadbeef",  # no scheme
        "sha256=",  # no digest
        "sha256=not-hex",
        "sha256=é",
        "sha1=" + "a" * 40,  # wrong algorithm
        "sha512=" + "a" * 128,
    ],
)
def test_verify_rejects_malformed_signatures(payload: Payload, value: str) -> None:
    with pytest.raises(InvalidSignature):
        jira.verify(capture(payload, "issue_created.json"), {"x-hub-signature": value}, SECRET)


def test_verify_rejects_a_truncated_digest(payload: Payload) -> None:
    body = capture(payload, "issue_created.json")
    header = sign(body)["x-hub-signature"]
    with pytest.raises(InvalidSignature, match="mismatch"):
        jira.verify(body, {"x-hub-signature": header[:-2]}, SECRET)


def test_verify_refuses_an_empty_secret(payload: Payload) -> None:
    body = capture(payload, "issue_created.json")
    with pytest.raises(InvalidSignature, match="no secret"):
        jira.verify(body, sign(body, ""), "")


# --------------------------------------------------------------------------- delivery_key


def test_delivery_key_is_the_atlassian_identifier(payload: Payload) -> None:
    body = capture(payload, "issue_created.json")
    first = {"x-atlassian-webhook-identifier": "6b1f2a1c-9d0e-4f5a-8b7c-1d2e3f4a5b6c"}
    retry = {**first, "x-atlassian-webhook-retry": "1"}
    assert (
        jira.delivery_key(body, first)
        == jira.delivery_key(body, retry)
        == ("6b1f2a1c-9d0e-4f5a-8b7c-1d2e3f4a5b6c")
    )


def test_delivery_key_falls_back_to_the_body_hash(payload: Payload) -> None:
    body = capture(payload, "issue_created.json")
    assert jira.delivery_key(body, {}) == "sha256:" + hashlib.sha256(body).hexdigest()
    assert jira.delivery_key(body, {}) == jira.delivery_key(body, {})


def test_delivery_key_does_not_raise_on_invalid_json(payload: Payload) -> None:
    body = capture(payload, "comment_created_no_issue_details.json")
    assert jira.delivery_key(body, {}).startswith("sha256:")


def test_delivery_keys_differ_between_events() -> None:
    keys = {jira.delivery_key(path.read_bytes(), {}) for path in CAPTURES.glob("*.json")}
    # issue_updated__status and change_status_v2 differ only in the user: still two deliveries.
    assert len(keys) == len(list(CAPTURES.glob("*.json")))


def test_delivery_key_is_bounded(payload: Payload) -> None:
    key = jira.delivery_key(b"{}", {"x-atlassian-webhook-identifier": "x" * 1000})
    assert len(key) <= 200


# --------------------------------------------------------------------------- captures


def test_issue_updated_status_change(payload: Payload) -> None:
    ticket = ticket_of(capture(payload, "issue_updated__status.json"))
    assert ticket.source == "jira"
    assert ticket.external_id == "jira:TEST-1"
    assert ticket.external_url == "https://zulipp.atlassian.net/browse/TEST-1"
    assert ticket.event_type == "jira:issue_updated"
    assert ticket.occurred_at == epoch_ms(1485797534721)
    assert ticket.created_at == datetime(
        2017, 1, 30, 18, 30, 41, 962000, tzinfo=timezone(timedelta(hours=1))
    )
    assert ticket.subject == "Fix That" and ticket.description == "Fix That"
    assert ticket.status == "open"  # indeterminate
    assert ticket.priority == "normal"  # Medium
    assert ticket.tags == ()
    assert ticket.requester is not None
    assert ticket.requester.name == "James Williams"
    assert ticket.requester.email == "kolaszek@tlen.pl"
    assert ticket.merchant is None
    assert ticket.jira is not None
    assert ticket.jira.key == "TEST-1" and ticket.jira.issue_id == "10000"
    assert ticket.jira.status == "In Progress"
    assert ticket.jira.status_category == "indeterminate"
    assert ticket.jira.issue_type == "Task"
    assert ticket.jira.resolution is None and ticket.jira.fix_versions == ()
    assert "status" in ticket.jira.changed_fields
    assert ticket.comments == ()


def test_change_status_v2(payload: Payload) -> None:
    ticket = ticket_of(capture(payload, "change_status_v2.json"))
    assert ticket.external_id == "jira:TEST-1"
    assert ticket.jira is not None and ticket.jira.status == "In Progress"
    assert ticket.jira.changed_fields == ("status",)
    assert ticket.requester is not None
    assert ticket.requester.name == "Leonardo Franchi [Administrator]"


def test_issue_updated_priority(payload: Payload) -> None:
    ticket = ticket_of(capture(payload, "issue_updated__priority.json"))
    assert ticket.external_id == "jira:TEST-1"
    assert ticket.occurred_at == epoch_ms(1393444633145)  # `timestamp` is the last key here
    assert ticket.priority == "normal"  # legacy "Major" is the default priority
    assert ticket.status == "new"  # "To Do", category new
    assert ticket.description == "Please"
    assert ticket.jira is not None
    assert ticket.jira.changed_fields == ("priority",)
    assert ticket.jira.issue_type == "New Feature"
    [comment] = ticket.comments  # the existing comment embedded in fields.comment
    assert (comment.id, comment.body, comment.author_role) == ("10100", "test", "agent")
    assert comment.created_at == datetime(2014, 2, 26, 19, 55, 10, 416000, tzinfo=UTC)


def test_comment_created(payload: Payload) -> None:
    ticket = ticket_of(capture(payload, "comment_created.json"))
    assert ticket.external_id == "jira:ZUL-1"
    assert ticket.event_type == "comment_created"
    assert ticket.occurred_at == epoch_ms(1546892751184)
    assert ticket.subject == "A minor issue"
    assert ticket.status == "new"  # Backlog, category new
    assert ticket.tags is None  # the slim issue does not say
    [comment] = ticket.comments
    assert comment.id == "10000"
    assert comment.body == "Leaving a comment here! :)"
    assert comment.public is True  # jsdPublic
    assert comment.author_role == "agent"
    assert comment.author_name == "Eeshan Garg"
    # "2019-01-07T16:55:51.184-0330": offset without a colon.
    assert comment.created_at == datetime(2019, 1, 7, 20, 25, 51, 184000, tzinfo=UTC)
    assert ticket.jira is not None and ticket.jira.status == "Backlog"


def test_comment_without_issue_is_invalid_json_as_captured(payload: Payload) -> None:
    with pytest.raises(UnparseablePayload, match="invalid JSON"):
        jira.normalize(capture(payload, "comment_created_no_issue_details.json"), {})


def test_comment_without_issue_is_unparseable_even_when_repaired(payload: Payload) -> None:
    text = capture(payload, "comment_created_no_issue_details.json").decode()
    repaired = re.sub(r",(\s*[}\]])", r"\1", text).encode()
    data = json.loads(repaired)
    assert "issue" not in data and data["comment"]["body"].startswith("Sounds like")
    # The issue id is in the comment URL, but tickets are keyed by issue key.
    with pytest.raises(UnparseablePayload, match=r"no issue key.*issue id 10000"):
        jira.normalize(repaired, {})


@pytest.mark.parametrize(
    ("name", "summary", "requester_id"),
    [
        ("issue_created.json", "New bug with hook", "99:27935d01-92a7-4687-8272-a9b8d3b2ae2e"),
        ("created_v2.json", "New bug with hook", "lfranchi"),  # Server: `name` only
        (
            "issue_created_with_unicode.json",
            "New bug with à hook",
            "99:27935d01-92a7-4687-8272-a9b8d3b2ae2e",
        ),
    ],
)
def test_issue_created(payload: Payload, name: str, summary: str, requester_id: str) -> None:
    ticket = ticket_of(capture(payload, name))
    assert ticket.external_id == "jira:BUG-15"
    assert ticket.external_url == "http://lfranchi.com:8080/browse/BUG-15"
    assert ticket.event_type == "jira:issue_created"
    assert ticket.occurred_at == epoch_ms(1364403238369)
    assert ticket.created_at == datetime(2013, 3, 27, 16, 53, 58, 301000, tzinfo=UTC)
    assert ticket.subject == summary
    assert ticket.description == "Fix me please"
    assert ticket.status == "open"  # "Open" has no statusCategory in this Server capture
    assert ticket.priority == "normal"  # "Major"
    assert ticket.requester is not None and ticket.requester.id == requester_id
    assert ticket.jira is not None
    assert (ticket.jira.issue_id, ticket.jira.issue_type) == ("10400", "Bug")
    assert ticket.jira.status == "Open" and ticket.jira.status_category is None
    assert ticket.jira.changed_fields == ()
    assert ticket.deleted is False


def test_issue_deleted(payload: Payload) -> None:
    ticket = ticket_of(capture(payload, "issue_deleted.json"))
    assert ticket.external_id == "jira:BUG-15"
    assert ticket.event_type == "jira:issue_deleted"
    assert ticket.deleted is True and ticket.status == "deleted"
    assert ticket.occurred_at == epoch_ms(1364403969102)
    [comment] = ticket.comments
    assert comment.id == "10400"
    assert comment.body == "Adding a comment. Oh, what a comment it is!"
    assert ticket.jira is not None and ticket.jira.status == "Open"


def test_anomalous_payload_without_webhook_event_is_unparseable(payload: Payload) -> None:
    with pytest.raises(UnparseablePayload, match="no webhookEvent"):
        jira.normalize(capture(payload, "example_anomalous_payload.json"), {})


def test_every_capture_is_covered_by_a_test() -> None:
    assert {p.name for p in CAPTURES.glob("*.json")} == {
        "issue_updated__status.json",
        "change_status_v2.json",
        "issue_updated__priority.json",
        "comment_created.json",
        "comment_created_no_issue_details.json",
        "issue_created.json",
        "created_v2.json",
        "issue_created_with_unicode.json",
        "issue_deleted.json",
        "example_anomalous_payload.json",
    }


# --------------------------------------------------------------------------- synthetic shapes


def test_cloud_issue_fills_the_jira_ref() -> None:
    ticket = ticket_of(encode(issue_event()))
    assert ticket.external_id == "jira:KAN-22"
    assert ticket.external_url == "https://relay-ph.atlassian.net/browse/KAN-22"
    assert ticket.status == "solved"  # category done
    assert ticket.priority == "urgent"  # Highest
    assert ticket.tags == ("gcash", "refunds")
    # "2024-12-29T08:41:23.303+0530" is 03:11:23.303 UTC.
    assert ticket.created_at == datetime(2024, 12, 29, 3, 11, 23, 303000, tzinfo=UTC)
    assert ticket.occurred_at == epoch_ms(1735441883659)
    ref = ticket.jira
    assert ref is not None
    assert ref.resolution == "Fixed"
    assert ref.fix_versions == ("2024.12.2", "2025.1.0")
    assert ref.labels == ("gcash", "refunds")
    assert ref.issue_type == "Bug"
    # fieldId wins over the capitalised display name; `field` lower-cased when no fieldId.
    assert ref.changed_fields == ("status", "resolution", "fixversions", "sprint")


@pytest.mark.parametrize(
    "event",
    [
        "project_created",
        "jira:version_released",
        "sprint_started",
        "board_updated",
        "worklog_created",
        "user_created",
    ],
)
def test_non_ticket_events_are_none(event: str) -> None:
    assert jira.normalize(encode({"timestamp": 1735441883659, "webhookEvent": event}), {}) is None


def test_issue_event_without_issue_is_unparseable() -> None:
    body = encode({"timestamp": 1735441883659, "webhookEvent": "jira:issue_updated"})
    with pytest.raises(UnparseablePayload, match="no issue key"):
        jira.normalize(body, {})


def test_comment_updated_in_an_issue_event_and_visibility() -> None:
    data = issue_event(
        webhookEvent="comment_updated",
        comment={
            "id": 20001,  # an integer id is tolerated
            "self": "https://relay-ph.atlassian.net/rest/api/2/issue/10021/comment/20001",
            "body": "Root cause: expired GCash API token",
            "author": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Dev One"},
            "created": "2024-12-29T09:00:00.000+0530",
            "visibility": {"type": "role", "value": "Developers"},
        },
    )
    ticket = ticket_of(encode(data))
    [comment] = ticket.comments
    assert comment.id == "20001"
    assert comment.public is False  # restricted to a role
    assert comment.author_name == "Dev One"


def test_comment_deleted_adds_no_comment() -> None:
    data = issue_event(
        webhookEvent="comment_deleted",
        comment={"id": "20001", "body": "gone"},
    )
    ticket = ticket_of(encode(data))
    assert ticket.event_type == "comment_deleted" and ticket.comments == ()


def test_adf_description_becomes_plain_text() -> None:
    data = issue_event()
    data["issue"]["fields"]["description"] = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Refunds fail"}]},
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "since "},
                    {"type": "text", "text": "Dec 28", "marks": [{"type": "strong"}]},
                ],
            },
        ],
    }
    assert ticket_of(encode(data)).description == "Refunds fail\nsince Dec 28"


def test_status_without_category_falls_back_to_its_name() -> None:
    data = issue_event()
    data["issue"]["fields"]["status"] = {"name": "Closed", "id": "6"}
    assert ticket_of(encode(data)).status == "closed"


def test_a_mistyped_field_is_unparseable_not_a_crash() -> None:
    data = issue_event()
    data["issue"]["fields"]["labels"] = "not-a-list"
    with pytest.raises(UnparseablePayload, match="unexpected shape"):
        jira.normalize(encode(data), {})
