"""Zendesk write-back: rate limits honoured, notes idempotent through timeouts and retries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from service.db import Database
from service.inbox.models import EventStatus
from tests.escalation.conftest import Seeded, jobs_of, make_due
from tests.fakes.zendesk_server import FakeZendesk

UPDATE = r"/api/v2/tickets/\d+(?:\.json)?"


def _escalate(client: TestClient, headers: dict[str, str], seeded: Seeded) -> None:
    assert client.post(f"/api/v1/themes/{seeded.theme_id}/escalate", headers=headers).is_success


def test_a_429_waits_for_retry_after_before_trying_again(
    client: TestClient,
    admin_headers: dict[str, str],
    seeded: Seeded,
    zendesk: FakeZendesk,
    db: Database,
    run_worker: Callable[[], int],
) -> None:
    zendesk.rate_limit("PUT", UPDATE, retry_after=120, times=3)
    _escalate(client, admin_headers, seeded)
    before = datetime.now(UTC)
    run_worker()
    notes = jobs_of(db, "escalation.note")
    assert len(notes) == 3 and all(j.status == EventStatus.PENDING for j in notes)
    for job in notes:
        # Scheduled at the vendor's Retry-After, not at the (30 s) backoff.
        assert job.next_attempt_at >= before + timedelta(seconds=119)
        assert job.next_attempt_at <= datetime.now(UTC) + timedelta(seconds=121)
        assert "RetryAfter" in (job.last_error or "")
    run_worker()  # nothing is due yet: nobody calls Zendesk again
    assert len(zendesk.note_updates()) == 3
    make_due(db)  # 120 s later
    run_worker()
    assert all(len(zendesk.notes(t)) == 1 for t in seeded.tickets)
    assert len(zendesk.note_updates()) == 6
    assert all(j.status == EventStatus.HANDLED for j in jobs_of(db, "escalation.note"))


def test_a_note_whose_answer_timed_out_is_not_added_twice(
    client: TestClient,
    admin_headers: dict[str, str],
    seeded: Seeded,
    zendesk: FakeZendesk,
    db: Database,
    run_worker: Callable[[], int],
) -> None:
    zendesk.slow("PUT", UPDATE, seconds=3, handle_first=True, times=1)
    _escalate(client, admin_headers, seeded)
    run_worker()
    failed = [j for j in jobs_of(db, "escalation.note") if j.status == EventStatus.PENDING]
    assert len(failed) == 1 and "unreachable" in (failed[0].last_error or "")
    make_due(db)
    run_worker()
    assert all(len(zendesk.notes(t)) == 1 for t in seeded.tickets)
    assert len(zendesk.note_updates()) == 3  # the retry found the note and did not add one


def test_server_errors_are_retried_with_backoff(
    client: TestClient,
    admin_headers: dict[str, str],
    seeded: Seeded,
    zendesk: FakeZendesk,
    db: Database,
    run_worker: Callable[[], int],
) -> None:
    zendesk.fail("PUT", UPDATE, times=3, status=503)
    _escalate(client, admin_headers, seeded)
    run_worker()
    assert all(j.status == EventStatus.PENDING for j in jobs_of(db, "escalation.note"))
    make_due(db)
    run_worker()
    assert all(len(zendesk.notes(t)) == 1 for t in seeded.tickets)


def test_a_refused_note_is_quarantined_with_the_reason(
    client: TestClient,
    admin_headers: dict[str, str],
    seeded: Seeded,
    zendesk: FakeZendesk,
    db: Database,
    run_worker: Callable[[], int],
) -> None:
    zendesk.fail("PUT", UPDATE, times=3, status=403)
    _escalate(client, admin_headers, seeded)
    run_worker()
    jobs = jobs_of(db, "escalation.note")
    assert all(j.status == EventStatus.QUARANTINED for j in jobs)
    assert all("403" in (j.last_error or "") for j in jobs)
