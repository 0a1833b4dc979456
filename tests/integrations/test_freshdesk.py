"""Freshdesk edge: shared-token header, body-hash keys, `freshdesk_webhook` template bodies."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from integrations import freshdesk
from integrations.contracts import InvalidSignature, NormalizedTicket, UnparseablePayload
from integrations.freshdesk.normalize import parse_triggered_event
from integrations.registry import SOURCES

CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real-payloads" / "freshdesk"
TOKEN = "freshdesk-relay-token-for-tests"

Payload = Callable[[str, str], bytes]
Edit = Callable[[bytes, Callable[[dict[str, Any]], None]], bytes]


def capture(payload: Payload, name: str) -> bytes:
    return payload("real-payloads/freshdesk", name)


def ticket_of(body: bytes) -> NormalizedTicket:
    ticket = freshdesk.normalize(body, {})
    assert ticket is not None
    return ticket


def inner(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda data: change(data["freshdesk_webhook"])


def test_registry_exposes_the_freshdesk_source() -> None:
    assert SOURCES["freshdesk"] is freshdesk.SOURCE
    assert freshdesk.SOURCE.name == "freshdesk"


# --------------------------------------------------------------------------- verify


@pytest.mark.parametrize("path", sorted(CAPTURES.glob("*.json")), ids=lambda p: p.name)
def test_verify_accepts_the_configured_token(path: Path) -> None:
    freshdesk.verify(path.read_bytes(), {"x-relay-token": TOKEN}, TOKEN)


@pytest.mark.parametrize(
    "given",
    [TOKEN + "x", TOKEN[:-1], TOKEN.upper(), "☃", "wrong"],
)
def test_verify_rejects_a_wrong_token(payload: Payload, given: str) -> None:
    body = capture(payload, "ticket_created.json")
    with pytest.raises(InvalidSignature, match="does not match"):
        freshdesk.verify(body, {"x-relay-token": given}, TOKEN)


@pytest.mark.parametrize("headers", [{}, {"x-relay-token": ""}, {"x-relay-token": "   "}])
def test_verify_rejects_a_missing_token(payload: Payload, headers: dict[str, str]) -> None:
    with pytest.raises(InvalidSignature, match="missing x-relay-token"):
        freshdesk.verify(capture(payload, "ticket_created.json"), headers, TOKEN)


def test_verify_refuses_an_unconfigured_token(payload: Payload) -> None:
    # An empty configured token must not let an empty (or any) header through.
    with pytest.raises(InvalidSignature, match="no secret"):
        freshdesk.verify(capture(payload, "ticket_created.json"), {"x-relay-token": ""}, "")


# --------------------------------------------------------------------------- delivery_key


def test_delivery_key_is_the_body_hash(payload: Payload) -> None:
    body = capture(payload, "ticket_created.json")
    expected = "sha256:" + hashlib.sha256(body).hexdigest()
    assert freshdesk.delivery_key(body, {}) == expected
    assert freshdesk.delivery_key(body, {"x-relay-token": TOKEN}) == expected


def test_delivery_keys_differ_between_captures() -> None:
    keys = {freshdesk.delivery_key(p.read_bytes(), {}) for p in CAPTURES.glob("*.json")}
    assert len(keys) == len(list(CAPTURES.glob("*.json")))


def test_delivery_key_does_not_raise_on_invalid_json() -> None:
    assert freshdesk.delivery_key(b"{oops", {}).startswith("sha256:")


# --------------------------------------------------------------------------- captures


def test_ticket_created(payload: Payload) -> None:
    ticket = ticket_of(capture(payload, "ticket_created.json"))
    assert ticket.source == "freshdesk"
    assert ticket.external_id == "freshdesk:11"
    assert ticket.external_url == "http://test1234zzz.freshdesk.com/helpdesk/tickets/11"
    assert ticket.event_type == "ticket_action:created"
    assert ticket.subject == "Test ticket subject ☃"
    assert ticket.description == "Test ticket description ☃."  # <div> stripped
    assert ticket.status == "pending"
    assert ticket.priority == "high"
    assert ticket.requester is not None
    assert ticket.requester.name == "Requester ☃ Bob"
    assert ticket.requester.email == "requester-bob@example.com"
    assert ticket.merchant is not None and ticket.merchant.id == "email-domain:example.com"
    assert ticket.occurred_at is None  # the template carries no time
    assert ticket.comments == () and ticket.tags is None


def test_status_changed_to_waiting_on_customer(payload: Payload) -> None:
    ticket = ticket_of(capture(payload, "status_changed.json"))
    assert ticket.event_type == "status:changed"
    assert ticket.status == "pending"  # "Waiting on Customer" (code 6)
    assert ticket.priority == "low"
    assert ticket.subject == "Test ticket subject ☃"


def test_priority_changed(payload: Payload) -> None:
    ticket = ticket_of(capture(payload, "priority_changed.json"))
    assert ticket.event_type == "priority:changed"
    assert ticket.priority == "low"
    assert ticket.status == "solved"  # "Resolved"
    assert ticket.subject == "Test ticket subject"


@pytest.mark.parametrize(
    ("name", "event_type"),
    [("public_note.json", "note_type:public"), ("private_note.json", "note_type:private")],
)
def test_notes_without_text_add_no_comment(payload: Payload, name: str, event_type: str) -> None:
    ticket = ticket_of(capture(payload, name))
    assert ticket.event_type == event_type
    assert ticket.comments == ()  # the standard template does not carry the note's text
    assert ticket.status == "open" and ticket.priority == "normal"  # "Open", "Medium"


def test_missing_triggered_event_still_normalizes(payload: Payload) -> None:
    body = capture(payload, "status_changed_fixture_with_missing_key.json")
    assert "triggered_event" not in json.loads(body)["freshdesk_webhook"]
    ticket = ticket_of(body)
    assert ticket.event_type == "unspecified"
    assert ticket.external_id == "freshdesk:11"
    assert ticket.status == "pending"


def test_every_capture_is_covered_by_a_test() -> None:
    assert {p.name for p in CAPTURES.glob("*.json")} == {
        "ticket_created.json",
        "status_changed.json",
        "priority_changed.json",
        "public_note.json",
        "private_note.json",
        "status_changed_fixture_with_missing_key.json",
    }


# --------------------------------------------------------------------------- triggered_event


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{ticket_action:created}", ("ticket_action", "created")),
        ("{status:{from:4,to:6}}", ("status", {"from": "4", "to": "6"})),
        ("{priority:{from:3,to:1}}", ("priority", {"from": "3", "to": "1"})),
        ("{note_type:private}", ("note_type", "private")),
        (" { status : { from : 2 , to : 5 } } ", ("status", {"from": "2", "to": "5"})),
        ("", None),
        (None, None),
        ("created", None),
    ],
)
def test_parse_triggered_event(text: str | None, expected: object) -> None:
    assert parse_triggered_event(text) == expected


# --------------------------------------------------------------------------- synthetic variants


@pytest.mark.parametrize(
    ("to", "expected"), [("2", "open"), ("3", "pending"), ("4", "solved"), ("5", "closed")]
)
def test_status_code_is_used_when_the_label_is_unknown(
    payload: Payload, edited: Edit, to: str, expected: str
) -> None:
    def relabel(ticket: dict[str, Any]) -> None:
        ticket["triggered_event"] = f"{{status:{{from:4,to:{to}}}}}"
        ticket["ticket_status"] = "Custom Awaiting Bank"

    assert ticket_of(edited(capture(payload, "status_changed.json"), inner(relabel))).status == (
        expected
    )


def test_priority_code_is_used_when_the_label_is_missing(payload: Payload, edited: Edit) -> None:
    def no_label(ticket: dict[str, Any]) -> None:
        del ticket["ticket_priority"]
        ticket["triggered_event"] = "{priority:{from:1,to:4}}"

    body = edited(capture(payload, "priority_changed.json"), inner(no_label))
    assert ticket_of(body).priority == "urgent"


def test_private_note_text_from_an_extended_template(payload: Payload, edited: Edit) -> None:
    def with_note(ticket: dict[str, Any]) -> None:
        ticket["ticket_latest_private_comment"] = "<p>Merchant&#39;s MID is on the blocklist</p>"

    body = edited(capture(payload, "private_note.json"), inner(with_note))
    first, again = ticket_of(body), ticket_of(body)
    [note] = first.comments
    assert note.body == "Merchant's MID is on the blocklist"
    assert (note.public, note.author_role) == (False, "agent")
    assert note.id == again.comments[0].id  # stable across redeliveries


def test_company_times_tags_and_integer_id(payload: Payload, edited: Edit) -> None:
    def enrich(ticket: dict[str, Any]) -> None:
        ticket.update(
            ticket_id=11,
            ticket_company_name="Sari-Sari Online",
            ticket_tags="refund, instapay",
            ticket_created_at="2025-02-03T09:00:00+08:00",
            ticket_updated_at="2025-02-03T10:30:00+08:00",
        )

    ticket = ticket_of(edited(capture(payload, "ticket_created.json"), inner(enrich)))
    assert ticket.external_id == "freshdesk:11"
    assert ticket.merchant is not None
    assert ticket.merchant.id == "freshdesk-company-name:sari-sari online"
    assert ticket.merchant.name == "Sari-Sari Online"
    assert ticket.tags == ("refund", "instapay")
    assert ticket.created_at == datetime(2025, 2, 3, 1, 0, tzinfo=UTC)
    assert ticket.occurred_at == datetime(2025, 2, 3, 2, 30, tzinfo=UTC)


def test_unwrapped_body_is_accepted(payload: Payload) -> None:
    flat = json.loads(capture(payload, "ticket_created.json"))["freshdesk_webhook"]
    ticket = ticket_of(json.dumps(flat).encode())
    assert ticket.external_id == "freshdesk:11"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{oops", "invalid JSON"),
        (b'{"freshdesk_webhook": {"ticket_subject": "no id"}}', "no ticket_id"),
        (b'{"freshdesk_webhook": null}', "no ticket_id"),
        (b'{"freshdesk_webhook": {"ticket_id": ""}}', "no ticket_id"),
        (b'{"freshdesk_webhook": "text"}', "unexpected shape"),
    ],
)
def test_unusable_bodies_are_unparseable(body: bytes, reason: str) -> None:
    with pytest.raises(UnparseablePayload, match=reason):
        freshdesk.normalize(body, {})
