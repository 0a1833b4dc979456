"""Intercom edge: X-Hub-Signature sha1, notification ids, conversations and tickets."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from integrations import intercom
from integrations.contracts import InvalidSignature, NormalizedTicket, UnparseablePayload
from integrations.registry import SOURCES

CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real-payloads" / "intercom"
SECRET = "intercom-client-secret-for-tests"

Payload = Callable[[str, str], bytes]
Edit = Callable[[bytes, Callable[[dict[str, Any]], None]], bytes]


def sign(body: bytes, secret: str = SECRET) -> dict[str, str]:
    """`x-hub-signature: sha1=<hex HMAC-SHA1(client secret, body)>` as Intercom sends it."""
    return {"x-hub-signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}


def capture(payload: Payload, name: str) -> bytes:
    return payload("real-payloads/intercom", name)


def ticket_of(body: bytes) -> NormalizedTicket:
    ticket = intercom.normalize(body, {})
    assert ticket is not None
    return ticket


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_registry_exposes_the_intercom_source() -> None:
    assert SOURCES["intercom"] is intercom.SOURCE
    assert intercom.SOURCE.name == "intercom"


# --------------------------------------------------------------------------- verify


@pytest.mark.parametrize("path", sorted(CAPTURES.glob("*.json")), ids=lambda p: p.name)
def test_verify_accepts_every_capture_signed_with_the_secret(path: Path) -> None:
    body = path.read_bytes()
    intercom.verify(body, sign(body), SECRET)


def test_verify_covers_the_exact_bytes(payload: Payload) -> None:
    # ticket_created.json has no trailing newline; adding one must break the signature.
    body = capture(payload, "ticket_created.json")
    assert not body.endswith(b"\n")
    with pytest.raises(InvalidSignature, match="mismatch"):
        intercom.verify(body + b"\n", sign(body), SECRET)


def test_verify_rejects_a_tampered_body(payload: Payload) -> None:
    body = capture(payload, "conversation_user_replied.json")
    headers = sign(body)
    with pytest.raises(InvalidSignature, match="mismatch"):
        intercom.verify(body.replace(b"help", b"hurt"), headers, SECRET)


def test_verify_rejects_the_wrong_secret(payload: Payload) -> None:
    body = capture(payload, "ping.json")
    with pytest.raises(InvalidSignature, match="mismatch"):
        intercom.verify(body, sign(body, "someone-else"), SECRET)


def test_verify_rejects_a_missing_signature(payload: Payload) -> None:
    with pytest.raises(InvalidSignature, match="missing x-hub-signature"):
        intercom.verify(capture(payload, "ping.json"), {}, SECRET)


@pytest.mark.parametrize(
    "value",
    [
        "0" * 40,  # no scheme
        "sha1=",
        "sha1=zz" + "0" * 38,
        "sha1=☃",
        "sha256=" + "0" * 64,  # Jira's scheme, not Intercom's
    ],
)
def test_verify_rejects_malformed_signatures(payload: Payload, value: str) -> None:
    with pytest.raises(InvalidSignature):
        intercom.verify(capture(payload, "ping.json"), {"x-hub-signature": value}, SECRET)


def test_verify_refuses_an_empty_secret(payload: Payload) -> None:
    body = capture(payload, "ping.json")
    with pytest.raises(InvalidSignature, match="no secret"):
        intercom.verify(body, sign(body, ""), "")


# --------------------------------------------------------------------------- delivery_key


def test_delivery_key_is_the_notification_id(payload: Payload) -> None:
    body = capture(payload, "conversation_admin_closed.json")
    assert intercom.delivery_key(body, {}) == "notif_2bc4bf3a-0064-4fb0-9e17-dc44d91bcb9b"
    assert intercom.delivery_key(body, {}) == intercom.delivery_key(body, {})


def test_ping_has_a_null_id_so_its_key_is_the_body_hash(payload: Payload) -> None:
    body = capture(payload, "ping.json")
    assert json.loads(body)["id"] is None
    assert intercom.delivery_key(body, {}) == "sha256:" + hashlib.sha256(body).hexdigest()


def test_delivery_keys_differ_between_notifications_of_one_ticket(payload: Payload) -> None:
    created = intercom.delivery_key(capture(payload, "ticket_created.json"), {})
    updated = intercom.delivery_key(capture(payload, "ticket_state_updated.json"), {})
    assert created == "notif_381b4609-2b35-4720-8389-605f220e402a"
    assert updated == "notif_ee8078c0-9021-4db6-bb63-b883579849ce"


def test_delivery_keys_are_unique_across_captures() -> None:
    keys = [intercom.delivery_key(p.read_bytes(), {}) for p in CAPTURES.glob("*.json")]
    assert len(set(keys)) == len(keys)


def test_delivery_key_does_not_raise_on_invalid_json() -> None:
    assert intercom.delivery_key(b'{"id": "notif_', {}).startswith("sha256:")
    assert intercom.delivery_key(b"[" * 100_000, {}).startswith("sha256:")


# --------------------------------------------------------------------------- captures


def test_ping_is_not_a_ticket(payload: Payload) -> None:
    assert intercom.normalize(capture(payload, "ping.json"), {}) is None


def test_conversation_user_created(payload: Payload) -> None:
    ticket = ticket_of(capture(payload, "conversation_user_created.json"))
    assert ticket.source == "intercom"
    assert ticket.external_id == "intercom:21321941764"
    assert ticket.external_url == (
        "https://app.intercom.io/a/apps/i6wc9ipe/conversations/21321941764"
    )
    assert ticket.event_type == "conversation.user.created"
    assert ticket.occurred_at == at(1553290198)
    assert ticket.created_at == at(1553290198)
    assert ticket.subject is None  # "" in the capture
    assert ticket.description == "Hello everyone!"  # HTML stripped
    assert ticket.status == "open"
    assert ticket.comments == ()  # no parts yet; the opening message is the description
    assert ticket.requester is not None
    assert ticket.requester.id == "5c9553cb27e377f24eed49f7"
    assert ticket.requester.name == "Rose Poodle from St. John's"
    assert ticket.requester.email is None  # "" in the capture
    assert ticket.merchant is None
    assert ticket.tags == ()


def test_conversation_user_replied(payload: Payload) -> None:
    ticket = ticket_of(capture(payload, "conversation_user_replied.json"))
    assert ticket.external_id == "intercom:21322009097"
    assert ticket.occurred_at == at(1553291308)
    [comment] = ticket.comments
    assert comment.id == "2824391734"
    assert comment.body == "Well, I need some help getting access to a developer account."
    assert (comment.public, comment.author_role) == (True, "requester")
    assert comment.created_at == at(1553291307)
    # A gmail.com address says nothing about the merchant.
    assert ticket.requester is not None and ticket.requester.email == "jerryguitarist@gmail.com"
    assert ticket.merchant is None


def test_conversation_admin_replied_with_an_assignment_part(payload: Payload) -> None:
    ticket = ticket_of(capture(payload, "conversation_admin_replied.json"))
    assert ticket.event_type == "conversation.admin.replied"
    [comment] = ticket.comments
    assert comment.id == "2824382500"
    assert comment.body == "Hey Eeshan! How can I help?"
    assert (comment.public, comment.author_role, comment.author_name) == (
        True,
        "agent",
        "Eeshan Garg",
    )


def test_conversation_admin_closed(payload: Payload) -> None:
    ticket = ticket_of(capture(payload, "conversation_admin_closed.json"))
    assert ticket.status == "closed"
    assert ticket.occurred_at == at(1553291390)
    assert ticket.comments == ()  # the close part has a null body


def test_conversation_admin_noted_is_a_private_comment(payload: Payload) -> None:
    ticket = ticket_of(capture(payload, "conversation_admin_noted.json"))
    assert ticket.external_id == "intercom:21330067382"
    assert ticket.description == "Hey! I'd like to set up a new account"
    [note] = ticket.comments
    assert note.body == "Talk to Tim about this user's query."
    assert (note.public, note.author_role) == (False, "agent")


def test_conversation_priority_updated_new_api_shape(payload: Payload) -> None:
    ticket = ticket_of(capture(payload, "conversation_priority_updated.json"))
    assert ticket.external_id == "intercom:215472621202693"
    assert ticket.event_type == "conversation.priority.updated"
    assert ticket.occurred_at == at(1768032534)
    assert ticket.created_at == at(1768031789)
    assert ticket.priority == "high"  # "priority"
    assert ticket.status == "open"
    assert ticket.description == "helklo"  # from `source`
    assert ticket.comments == ()  # priority_changed part has no body
    assert ticket.requester is not None and ticket.requester.id == "696205460674dbb9050aa7fd"
    assert ticket.external_url is None


@pytest.mark.parametrize(
    ("name", "topic", "occurred"),
    [
        ("ticket_created.json", "ticket.created", 1768114251),
        ("ticket_state_updated.json", "ticket.state.updated", 1768114250),
    ],
)
def test_tickets(payload: Payload, name: str, topic: str, occurred: int) -> None:
    ticket = ticket_of(capture(payload, name))
    assert ticket.external_id == "intercom:215472629311235"
    assert ticket.event_type == topic
    assert ticket.occurred_at == at(occurred)
    assert ticket.created_at == at(1768113868)
    assert ticket.subject == "Unclear user message 'erf' with pending email response"
    assert ticket.description is not None and ticket.description.startswith("User sent")
    assert ticket.status == "new"  # ticket_state.category "submitted"
    assert ticket.requester is not None and ticket.requester.id == "696346bbaebb5a479d3851a3"
    # Only the part with a body becomes a comment; it is Fin's automated message.
    [comment] = ticket.comments
    assert comment.id == "37403242516"
    assert comment.author_role == "system" and comment.author_name == "Fin"
    assert comment.body == (
        "You\u2019ll get replies here and in your email:\n"
        "✉️ admin@example.com\n\n"
        "The team will reply as soon as they can."
    )


def test_every_capture_is_covered_by_a_test() -> None:
    assert {p.name for p in CAPTURES.glob("*.json")} == {
        "ping.json",
        "conversation_user_created.json",
        "conversation_user_replied.json",
        "conversation_admin_replied.json",
        "conversation_admin_closed.json",
        "conversation_admin_noted.json",
        "conversation_priority_updated.json",
        "ticket_created.json",
        "ticket_state_updated.json",
    }


# --------------------------------------------------------------------------- synthetic variants


def item_edit(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda data: change(data["data"]["item"])


@pytest.mark.parametrize(
    ("state", "expected"), [("snoozed", "on_hold"), ("open", "open"), ("closed", "closed")]
)
def test_conversation_states(payload: Payload, edited: Edit, state: str, expected: str) -> None:
    body = edited(
        capture(payload, "conversation_user_created.json"),
        item_edit(lambda item: item.update(state=state)),
    )
    assert ticket_of(body).status == expected


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("submitted", "new"),
        ("in_progress", "open"),
        ("waiting_on_customer", "pending"),
        ("resolved", "solved"),
    ],
)
def test_ticket_state_categories(
    payload: Payload, edited: Edit, category: str, expected: str
) -> None:
    body = edited(
        capture(payload, "ticket_created.json"),
        item_edit(lambda item: item["ticket_state"].update(category=category)),
    )
    assert ticket_of(body).status == expected


def test_company_is_the_merchant(payload: Payload, edited: Edit) -> None:
    def with_company(item: dict[str, Any]) -> None:
        item["user"]["companies"] = {
            "type": "company.list",
            "companies": [{"type": "company", "id": "5f1a", "name": "Lazada Seller 88"}],
        }

    body = edited(capture(payload, "conversation_user_replied.json"), item_edit(with_company))
    merchant = ticket_of(body).merchant
    assert merchant is not None
    assert (merchant.id, merchant.name) == ("intercom-company:5f1a", "Lazada Seller 88")


def test_ticket_company_id_is_the_merchant(payload: Payload, edited: Edit) -> None:
    body = edited(
        capture(payload, "ticket_created.json"), item_edit(lambda i: i.update(company_id=771))
    )
    merchant = ticket_of(body).merchant
    assert merchant is not None and merchant.id == "intercom-company:771"


def test_business_email_domain_is_the_merchant_fallback(payload: Payload, edited: Edit) -> None:
    body = edited(
        capture(payload, "conversation_user_replied.json"),
        item_edit(lambda item: item["user"].update(email="billing@kape-co.ph")),
    )
    merchant = ticket_of(body).merchant
    assert merchant is not None and merchant.id == "email-domain:kape-co.ph"


def test_html_is_reduced_to_plain_text(payload: Payload, edited: Edit) -> None:
    def html_part(item: dict[str, Any]) -> None:
        part = item["conversation_parts"]["conversation_parts"][0]
        part["body"] = (
            "<p>Card &amp; GCash both fail:&nbsp;<b>ERR_51</b></p>"
            "<ul><li>first</li><li>second</li></ul><style>p{}</style><script>alert(1)</script>"
        )

    body = edited(capture(payload, "conversation_user_replied.json"), item_edit(html_part))
    assert ticket_of(body).comments[0].body == "Card & GCash both fail: ERR_51\n\nfirst\n\nsecond"


def test_tags_are_names(payload: Payload, edited: Edit) -> None:
    body = edited(
        capture(payload, "conversation_admin_noted.json"),
        item_edit(lambda item: item["tags"].update(tags=[{"id": "1", "name": "refund"}])),
    )
    assert ticket_of(body).tags == ("refund",)


def test_conversation_deleted_marks_the_ticket_deleted(payload: Payload, edited: Edit) -> None:
    body = edited(
        capture(payload, "conversation_admin_closed.json"),
        lambda data: data.update(topic="conversation.deleted"),
    )
    ticket = ticket_of(body)
    assert ticket.deleted is True and ticket.status == "deleted"


def test_contact_notifications_are_not_tickets() -> None:
    body = json.dumps(
        {
            "type": "notification_event",
            "topic": "contact.user.created",
            "id": "notif_1",
            "created_at": 1768114251,
            "data": {"type": "notification_event_data", "item": {"type": "contact", "id": "c1"}},
        }
    ).encode()
    assert intercom.normalize(body, {}) is None


def test_conversation_without_id_is_unparseable(payload: Payload, edited: Edit) -> None:
    body = edited(
        capture(payload, "conversation_user_created.json"), item_edit(lambda i: i.pop("id"))
    )
    with pytest.raises(UnparseablePayload, match="no conversation id"):
        intercom.normalize(body, {})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "invalid JSON"),
        (b'"notif"', "not an object"),
        (b'{"id": "notif_1"}', "no topic"),
    ],
)
def test_unrecognizable_bodies_are_unparseable(body: bytes, reason: str) -> None:
    with pytest.raises(UnparseablePayload, match=reason):
        intercom.normalize(body, {})
