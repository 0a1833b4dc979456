"""Duplicates and out-of-order deliveries converge to the in-order final record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from service.db import Database
from service.feedback.models import Feedback
from service.inbox.models import EventStatus, InboxEvent
from service.themes.models import Theme, ThemeMembership
from service.worker import runner
from tests.conftest import WEBHOOK_SECRETS, empty_all_tables
from tests.signing import signed, zendesk_event

COMPARED = (
    "external_id",
    "subject",
    "description",
    "text",
    "ticket_status",
    "priority",
    "tags",
    "merchant_id",
    "error_codes",
    "http_statuses",
    "resource_ids",
    "environment",
    "product_area",
    "category",
    "source_updated_at",
)


def _comment(number: int, body: str, *, staff: bool) -> dict[str, Any]:
    return {
        "id": f"c{number}",
        "body": body,
        "html_body": f"<p>{body}</p>",
        "is_public": True,
        "author": {"id": "7" if staff else "501", "is_staff": staff, "name": "A"},
    }


DESCRIPTION = "GCash pay fails with AMOUNT_EXCEED_LIMIT on pi_1"


def ticket_history() -> list[bytes]:
    """One ticket's life: created, commented (merchant, agent), status changes.

    Like Zendesk, every event carries the ticket's snapshot (same description)."""
    return [
        zendesk_event(
            "created",
            ticket_id=4242,
            event_id="e1",
            time="2026-11-02T01:00:00.100000000Z",
            status="NEW",
            description=DESCRIPTION,
        ),
        zendesk_event(
            "comment_added",
            ticket_id=4242,
            event_id="e2",
            time="2026-11-02T01:05:00.000000000Z",
            status="OPEN",
            description=DESCRIPTION,
            comment=_comment(1, "Also HTTP 500 on evt_abc123 in live mode", staff=False),
        ),
        zendesk_event(
            "comment_added",
            ticket_id=4242,
            event_id="e3",
            time="2026-11-02T01:07:00.000000000Z",
            status="PENDING",
            description=DESCRIPTION,
            comment=_comment(2, "Please check your GCash limits.", staff=True),
        ),
        zendesk_event(
            "status_changed",
            ticket_id=4242,
            event_id="e4",
            time="2026-11-02T02:00:00.000000000Z",
            status="SOLVED",
            subject="GCash payments failing (resolved)",
            description=DESCRIPTION,
        ),
        # Same instant as e4: the tie must still resolve one way whatever the order.
        zendesk_event(
            "priority_changed",
            ticket_id=4242,
            event_id="e5",
            time="2026-11-02T02:00:00.000000000Z",
            status="SOLVED",
            subject="GCash payments failing (resolved)",
            description=DESCRIPTION,
        ),
    ]


def deliver(
    client: TestClient, bodies: list[bytes], run_worker: Callable[[], int]
) -> dict[str, Any]:
    for body in bodies:
        response = client.post(
            "/webhooks/zendesk",
            content=body,
            headers=signed("zendesk", body, WEBHOOK_SECRETS["zendesk"]),
        )
        assert response.status_code in (200, 202)
        run_worker()  # interleave processing with arrival, as in production
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    with db.session() as session:
        record = session.scalars(select(Feedback)).one()
        state = {field: getattr(record, field) for field in COMPARED}
        state["comments"] = [(c["id"], c["body"], c["author_role"]) for c in record.comments]
    return state


def test_in_order_delivery_builds_the_expected_record(
    client: TestClient, run_worker: Callable[[], int]
) -> None:
    state = deliver(client, ticket_history(), run_worker)
    assert state["ticket_status"] == "solved"
    assert state["subject"] == "GCash payments failing (resolved)"
    assert [c[0] for c in state["comments"]] == ["c1", "c2"]
    assert "HTTP 500" in state["text"] and "check your GCash limits" not in state["text"]
    assert "AMOUNT_EXCEED_LIMIT" in state["error_codes"]
    assert state["environment"] == "live"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=st.permutations(range(5)), repeats=st.lists(st.integers(0, 4), max_size=4))
def test_any_order_with_duplicates_converges(
    client: TestClient,
    db: Database,
    run_worker: Callable[[], int],
    order: list[int],
    repeats: list[int],
) -> None:
    history = ticket_history()
    empty_all_tables(db)
    expected = deliver(client, history, run_worker)
    empty_all_tables(db)
    shuffled = [history[i] for i in order] + [history[i] for i in repeats]
    assert deliver(client, shuffled, run_worker) == expected


def test_redelivered_body_counts_once(client: TestClient, run_worker: Callable[[], int]) -> None:
    body = ticket_history()[1]
    state = deliver(client, [body, body, body], run_worker)
    assert len(state["comments"]) == 1
    assert state["text"].count("evt_abc123") == 1


@pytest.mark.parametrize("load_slice", [100, 2])
def test_a_whole_history_in_one_worker_transaction_converges(
    client: TestClient,
    db: Database,
    run_worker: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
    load_slice: int,
) -> None:
    """Every event of one new ticket handled in one transaction (one flush, at commit):
    later events find the record and theme membership the first one created, also when
    they are loaded in a later slice of the transaction than the event that created them."""
    monkeypatch.setattr(runner, "SLICE", load_slice)
    history = ticket_history()
    expected = deliver(client, history, run_worker)
    empty_all_tables(db)
    for body in history:
        client.post(
            "/webhooks/zendesk",
            content=body,
            headers=signed("zendesk", body, WEBHOOK_SECRETS["zendesk"]),
        )
    assert run_worker() == len(history)
    with db.session() as session:
        record = session.scalars(select(Feedback)).one()
        state = {field: getattr(record, field) for field in COMPARED}
        state["comments"] = [(c["id"], c["body"], c["author_role"]) for c in record.comments]
        statuses = set(session.scalars(select(InboxEvent.status)))
        memberships = list(session.scalars(select(ThemeMembership)))
        theme = session.scalars(select(Theme)).one()
    assert state == expected
    assert statuses == {EventStatus.HANDLED}
    assert [m.feedback_id for m in memberships] == [record.id]
    assert (theme.record_count, theme.merchant_count) == (1, 1)
