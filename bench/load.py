"""Load and fault test: signed webhooks under concurrency while the worker is killed.

    .venv/bin/python -m bench.load [--events 20000] [--tickets 2500] [--concurrency 32]
                                   [--database-url postgresql+psycopg://...] [--seed 7]

`relay serve --no-worker` and a separate `relay worker` run on loopback against a fresh
database (SQLite under /tmp by default; with --database-url, that PostgreSQL database is
emptied first). 32 concurrent clients send Zendesk event-subscription deliveries (creates,
comments and status changes with increasing times over a few thousand tickets): 10 % are
redeliveries of an event already in the run, 10 % are moved out of order, 1 % carry a bad
signature. The worker is SIGKILLed and restarted twice while events arrive. A loopback
subscriber receives `feedback.created` (Standard Webhooks) throughout.

Then it waits for the inbox to drain and checks: every accepted event stored once and
handled (none pending or quarantined), nothing stored for a bad signature, one record per
ticket, each comment applied once, every record's final state equal to an in-order
replay computed here from the generated events, one `feedback.created` message per record
(verified with the `standardwebhooks` library), and no 5xx. Prints a summary and writes
bench/results/load.json. Every wait is bounded; the script stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text

from bench.common import ROOT, free_port, start_server, stop_server
from tests.signing import signed, zendesk_event

SECRET = "bench-load-zendesk-secret"
ADMIN_TOKEN = "rly_bench_load_admin_token"
BASE_TIME = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
STATUSES = ("OPEN", "PENDING", "OPEN", "SOLVED")
RELAY = str(ROOT / ".venv" / "bin" / "relay")
TRANSPORT_TRIES = 3


# ---------------------------------------------------------------- the events


@dataclass(frozen=True)
class Event:
    ticket: int
    event_id: str
    time: datetime
    status: str
    subject: str
    comment_id: str | None
    body: bytes


@dataclass(frozen=True)
class Delivery:
    event: Event
    valid: bool  # False: signed with the wrong secret, must be refused
    duplicate: bool  # a redelivery of an event sent elsewhere in the run


def ticket_events(tickets: int, unique: int, rng: random.Random) -> list[Event]:
    """`unique` events over `tickets` tickets, each ticket's in time order."""
    per_ticket = Counter(n % tickets for n in range(unique))
    events: list[Event] = []
    for ticket, count in per_ticket.items():
        start = BASE_TIME + timedelta(seconds=ticket)
        subject = f"GCash payments failing for store {100_000 + ticket}"
        for k in range(count):
            event = _event(100_000 + ticket, k, start + timedelta(minutes=k), subject, rng)
            events.append(event)
            subject = event.subject
    return events


def _event(ticket: int, k: int, at: datetime, subject: str, rng: random.Random) -> Event:
    kind = "created" if k == 0 else rng.choice(("comment_added", "comment_added", "status_changed"))
    status = "NEW" if k == 0 else STATUSES[k % len(STATUSES)]
    if kind == "status_changed":  # the final subject must be the newest one
        subject = f"GCash payments failing for store {ticket} (step {k})"
    comment = None
    if kind == "comment_added":
        # Mostly agents' replies: stored on the record, but not part of what is classified,
        # which keeps the worker's cost per event (and the run's length) down.
        merchant = rng.random() < 0.2
        comment = {
            "id": f"c{ticket}-{k}",
            "body": f"Still failing: PY0105 on pi_{ticket:012d}{k:012d}"
            if merchant
            else "Thanks, we are looking into it.",
            "is_public": True,
            "author": {"id": "501" if merchant else "7", "is_staff": not merchant, "name": "A"},
        }
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    body = zendesk_event(
        kind,
        ticket_id=ticket,
        event_id=f"load-{ticket}-{k}",
        time=stamp,
        status=status,
        subject=subject,
        comment=comment,
    )
    comment_id = comment["id"] if comment else None
    return Event(ticket, f"load-{ticket}-{k}", at, status.lower(), subject, comment_id, body)


def schedule(
    events: list[Event], *, duplicates: int, shuffled: int, invalid: int, rng: random.Random
) -> list[Delivery]:
    """In order, then `shuffled` events moved anywhere, redeliveries and forgeries mixed in."""
    order = [Delivery(e, True, False) for e in events]
    for _ in range(shuffled):
        moved = order.pop(rng.randrange(len(order)))
        order.insert(rng.randrange(len(order) + 1), moved)
    for _ in range(duplicates):
        original = rng.randrange(len(order))
        again = Delivery(order[original].event, True, True)
        order.insert(rng.randrange(original + 1, len(order) + 1), again)
    for n in range(invalid):
        forged = _event(900_000 + n, 0, BASE_TIME, "forged", rng)
        order.insert(rng.randrange(len(order) + 1), Delivery(forged, False, False))
    return order


@dataclass(frozen=True)
class Final:
    status: str
    subject: str
    comments: frozenset[str]
    source_updated_at: datetime


def in_order_replay(events: list[Event]) -> dict[str, Final]:
    """Each ticket's final state, folding its events in time order (the oracle)."""
    finals: dict[str, Final] = {}
    for event in sorted(events, key=lambda e: (e.ticket, e.time)):
        key = f"zendesk:{event.ticket}"
        before = finals.get(key)
        comments = (before.comments if before else frozenset()) | (
            {event.comment_id} if event.comment_id else set()
        )
        finals[key] = Final(event.status, event.subject, frozenset(comments), event.time)
    return finals


# ---------------------------------------------------------------- processes


class WorkerProcess:
    """`relay worker`, SIGKILLed mid-batch and started again on request."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None
        self.kills: list[dict[str, Any]] = []
        self._one_at_a_time = threading.Lock()  # a kill waits for the previous restart
        self.stopped = False  # once stopped, no late kill thread starts another worker

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [RELAY, "worker"], cwd=ROOT, env=self.env, stdout=out, stderr=out
            )

    def kill_and_restart(self, started: float) -> None:
        """Wait (bounded) until this worker holds claimed events, then SIGKILL it mid-batch."""
        with self._one_at_a_time:
            if self.stopped:
                return
            assert self.process is not None
            in_flight = self._wait_for_claims(self.process.pid, timeout=120)
            if self.stopped:
                return
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
            at = round(time.monotonic() - started, 2)
            self.kills.append({"at_seconds": at, "claimed": in_flight})
            self.start()

    def _wait_for_claims(self, pid: int, timeout: float) -> int:
        from service.db import Database
        from service.inbox.models import EventStatus, InboxEvent

        database, deadline = Database(self.env["RELAY_DATABASE_URL"]), time.monotonic() + timeout
        mine = (InboxEvent.status == EventStatus.PROCESSING) & InboxEvent.locked_by.like(
            f"%:{pid}:%"
        )
        try:
            while time.monotonic() < deadline and not self.stopped:
                with database.read_session() as session:
                    claimed = int(session.scalar(select(func.count()).where(mine)) or 0)
                if claimed:
                    return claimed
                time.sleep(0.02)
            return 0
        finally:
            database.dispose()

    def stop(self) -> None:
        self.stopped = True  # a kill thread waiting for claims gives up at once
        with self._one_at_a_time:
            self._terminate()

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class Receiver:
    """A loopback subscriber: counts messages per `webhook-id`, verifies every signature."""

    secret: str = ""
    by_message: Counter[str] = field(default_factory=Counter)
    records: set[str] = field(default_factory=set)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def receive(self, body: bytes, headers: dict[str, str]) -> None:
        from standardwebhooks import Webhook
        from standardwebhooks.webhooks import WebhookVerificationError

        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            with self.lock:
                self.bad_signatures += 1
            return
        with self.lock:
            self.by_message[headers["webhook-id"]] += 1
            self.records.add(payload["data"]["id"])


def serve_receiver(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            receiver.receive(body, {k.lower(): v for k, v in self.headers.items()})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ---------------------------------------------------------------- sending


@dataclass
class Sent:
    statuses: Counter[int] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    transport_retries: Counter[str] = field(default_factory=Counter)
    accepted_ids: set[str] = field(default_factory=set)
    seconds: float = 0.0


async def send_all(
    base: str, deliveries: list[Delivery], concurrency: int, on_sent: Callable[[int], None]
) -> Sent:
    sent, queue = Sent(), iter(deliveries)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def client_loop() -> None:
            for delivery in queue:
                await _send_one(client, delivery, sent)
                on_sent(sum(sent.statuses.values()) + sum(sent.errors.values()))

        started = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        sent.seconds = time.perf_counter() - started
    return sent


async def _send_one(client: httpx.AsyncClient, delivery: Delivery, sent: Sent) -> None:
    body = delivery.event.body
    for _ in range(TRANSPORT_TRIES):
        # Signed as it leaves (Zendesk's timestamp must be within 5 minutes), like a redelivery.
        headers = signed("zendesk", body, SECRET if delivery.valid else "not-the-secret")
        try:
            response = await client.post("/webhooks/zendesk", content=body, headers=headers)
            break
        except httpx.TransportError as exc:
            # e.g. a keep-alive connection the server closed as it was reused: no HTTP answer
            # at all, so the sender tries again, as Zendesk does.
            sent.transport_retries[type(exc).__name__] += 1
    else:
        sent.errors["no answer after retries"] += 1
        return
    sent.statuses[response.status_code] += 1
    kind = "invalid" if not delivery.valid else "duplicate" if delivery.duplicate else "original"
    sent.by_kind[f"{kind}:{response.status_code}"] += 1
    if response.status_code == 202:
        sent.accepted_ids.add(delivery.event.event_id)


# ---------------------------------------------------------------- checks


def wait_drained(url: str, timeout: float) -> float:
    """Seconds until no inbox row or job is pending or being processed (bounded)."""
    from service.db import Database
    from service.inbox.models import EventStatus, InboxEvent

    database, started = Database(url), time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            with database.read_session() as session:
                left = session.scalar(
                    select(func.count()).where(
                        InboxEvent.status.in_([EventStatus.PENDING, EventStatus.PROCESSING])
                    )
                )
            if not left:
                return time.monotonic() - started
            time.sleep(0.5)
    finally:
        database.dispose()
    raise RuntimeError(f"the inbox did not drain within {timeout:.0f} s")


def check(url: str, events: list[Event], sent: Sent, forged: set[str]) -> dict[str, Any]:
    from service.db import Database
    from service.feedback.models import Feedback
    from service.inbox.models import EventStatus, InboxEvent

    database = Database(url)
    with database.read_session() as session:
        rows = session.execute(
            select(InboxEvent.delivery_key, InboxEvent.status, InboxEvent.attempts).where(
                InboxEvent.source == "zendesk"
            )
        ).all()
        records = {
            r.external_id: Final(
                r.ticket_status or "",
                r.subject,
                frozenset(c["id"] for c in r.comments),
                r.source_updated_at or BASE_TIME,
            )
            for r in session.scalars(select(Feedback).where(Feedback.source == "zendesk"))
        }
        jobs = Counter(
            session.scalars(select(InboxEvent.status).where(InboxEvent.source == "relay"))
        )
    database.dispose()
    expected = in_order_replay(events)
    stored = Counter(r.delivery_key for r in rows)
    statuses = Counter(r.status for r in rows)
    comment_events = Counter(f"zendesk:{e.ticket}" for e in events if e.comment_id)
    wrong_state = [key for key, final in expected.items() if not _same(records.get(key), final)]
    return {
        "unique_events": len(events),
        "stored_events": len(rows),
        "stored_twice": sum(1 for n in stored.values() if n > 1),
        "accepted_not_stored": len(sent.accepted_ids - set(stored)),
        "stored_not_accepted": len(set(stored) - sent.accepted_ids),
        "forged_stored": len(forged & set(stored)),
        "handled": statuses[EventStatus.HANDLED],
        "quarantined": statuses[EventStatus.QUARANTINED],
        "pending": statuses[EventStatus.PENDING] + statuses[EventStatus.PROCESSING],
        "events_with_several_attempts": sum(1 for r in rows if r.attempts > 1),
        "records": len(records),
        "distinct_tickets": len(expected),
        "comments_applied": sum(len(r.comments) for r in records.values()),
        "comment_events": sum(comment_events.values()),
        "records_with_wrong_comment_count": sum(
            1
            for key, n in comment_events.items()
            if key in records and len(records[key].comments) != n
        ),
        "records_not_matching_in_order_replay": len(wrong_state),
        "wrong_state_examples": wrong_state[:5],
        "outbound_jobs": dict(jobs),
    }


def _same(record: Final | None, final: Final) -> bool:
    return record == final


def _errors_logged(log: Path) -> dict[str, int]:
    """Exceptions in the worker processes' output (e.g. a busy database), by type."""
    found: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
        match = re.match(r"^([A-Za-z_][\w.]*(?:Error|Exception|Failure)): ", line)
        if match:
            found[match.group(1)] += 1
    return dict(found)


# ---------------------------------------------------------------- run


def reset_database(url: str) -> None:
    from service.db import Database

    database = Database(url)
    with database.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    database.dispose()


def subscribe(base: str, url: str) -> str:
    response = httpx.post(
        f"{base}/api/v1/subscriptions",
        json={"url": url, "event_types": ["feedback.created"], "description": "bench.load"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["secret"])


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    rng = random.Random(args.seed)
    total = args.events
    invalid, duplicates = total // 100, total // 10
    unique = total - invalid - duplicates
    events = ticket_events(args.tickets, unique, rng)
    deliveries = schedule(
        events, duplicates=duplicates, shuffled=unique // 10, invalid=invalid, rng=rng
    )
    forged = {d.event.event_id for d in deliveries if not d.valid}
    url = args.database_url or f"sqlite:///{workdir / 'relay.db'}"
    if url.startswith("postgresql"):
        reset_database(url)
    env = {
        "RELAY_DATABASE_URL": url,
        "RELAY_DATA_DIR": str(workdir),
        "RELAY_ZENDESK_WEBHOOK_SECRET": SECRET,
        "RELAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "RELAY_LOG_LEVEL": "WARNING",
        "RELAY_DIGEST_SCHEDULE": "off",  # a one-off PDF render at start is not the load
        "RELAY_WORKER_LEASE_SECONDS": "5",
        "RELAY_WORKER_BACKOFF_BASE_SECONDS": "0.5",
        # A separate worker process holds SQLite's one writer lock for a whole claimed batch
        # (it cannot see the API process's waiting commits): small batches keep 202s quick.
        "RELAY_WORKER_BATCH_SIZE": str(args.worker_batch),
        "RELAY_OUTBOUND_ALLOW_PRIVATE": "true",
    }
    full_env = {**os.environ, **env}
    subprocess.run([RELAY, "migrate"], env=full_env, check=True, capture_output=True, timeout=120)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server([RELAY, "serve", "--no-worker", "--port", str(port)], env, port)
    receiver = Receiver()
    receiver_server = serve_receiver(receiver)
    worker = WorkerProcess(full_env, workdir / "worker.log")
    try:
        receiver.secret = subscribe(base, f"http://127.0.0.1:{receiver_server.server_address[1]}/")
        worker.start()
        started = time.monotonic()
        kill_at = [len(deliveries) // 3, 2 * len(deliveries) // 3]
        killer: list[threading.Thread] = []

        def on_sent(count: int) -> None:
            if kill_at and count >= kill_at[0]:
                kill_at.pop(0)
                thread = threading.Thread(target=worker.kill_and_restart, args=(started,))
                thread.start()
                killer.append(thread)

        sent = asyncio.run(send_all(base, deliveries, args.concurrency, on_sent))
        for thread in killer:
            thread.join(timeout=60)
        drained = wait_drained(url, args.timeout)
        checks = check(url, events, sent, forged)
    finally:
        worker.stop()
        stop_server(server)
        receiver_server.shutdown()
    return {
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "sent": len(deliveries),
        "forged_sent": len(forged),
        "concurrency": args.concurrency,
        "send_seconds": round(sent.seconds, 2),
        "requests_per_second": round(len(deliveries) / sent.seconds),
        "drain_seconds_after_send": round(drained, 2),
        "worker_kills": worker.kills,
        "statuses": dict(sorted(sent.statuses.items())),
        "by_kind": dict(sorted(sent.by_kind.items())),
        "client_errors": dict(sent.errors),
        "transport_retries": dict(sent.transport_retries),
        "worker_errors_logged": _errors_logged(workdir / "worker.log"),
        "accepted": sent.statuses[202],
        "duplicates_acknowledged": sent.statuses[200],
        "invalid_signatures_refused": sent.statuses[401],
        "server_errors_5xx": sum(n for s, n in sent.statuses.items() if s >= 500),
        **checks,
        "feedback_created_messages": len(receiver.by_message),
        "feedback_created_records": len(receiver.records),
        "feedback_created_redelivered": sum(n - 1 for n in receiver.by_message.values()),
        "feedback_created_bad_signatures": receiver.bad_signatures,
    }


def verdict(result: dict[str, Any]) -> dict[str, int]:
    """The figures that must be zero (or equal) for the run to pass."""
    return {
        "lost": result["accepted_not_stored"] + result["pending"] + result["quarantined"],
        "duplicated": result["stored_twice"] + result["records"] - result["distinct_tickets"],
        "5xx": result["server_errors_5xx"],
        "unanswered_requests": sum(result["client_errors"].values()),
        "forged_stored": result["forged_stored"],
        "wrong_final_state": result["records_not_matching_in_order_replay"],
        "wrong_comment_count": result["records_with_wrong_comment_count"],
        "accepted_minus_unique": result["accepted"] - result["unique_events"],
        "refused_minus_forged": result["invalid_signatures_refused"] - result["forged_sent"],
        "records_without_one_message": result["records"] - result["feedback_created_records"],
        "messages_minus_records": result["feedback_created_messages"] - result["records"],
        "bad_outbound_signatures": result["feedback_created_bad_signatures"],
    }


def summary(result: dict[str, Any], failures: dict[str, int]) -> str:
    rows = [
        ("database", result["database"]),
        (
            "sent (32 clients)",
            f"{result['sent']} in {result['send_seconds']} s "
            f"({result['requests_per_second']} req/s)",
        ),
        ("accepted (202)", result["accepted"]),
        ("duplicates (200)", result["duplicates_acknowledged"]),
        ("bad signatures (401)", result["invalid_signatures_refused"]),
        ("5xx", result["server_errors_5xx"]),
        ("transport retries (no answer)", result["transport_retries"]),
        ("worker SIGKILLed", result["worker_kills"]),
        ("events tried more than once", result["events_with_several_attempts"]),
        ("worker errors logged", result["worker_errors_logged"]),
        ("processed (handled)", f"{result['handled']} of {result['stored_events']} stored"),
        ("records / tickets", f"{result['records']} / {result['distinct_tickets']}"),
        ("comments applied / events", f"{result['comments_applied']} / {result['comment_events']}"),
        (
            "final state = in-order replay",
            f"{result['records'] - result['records_not_matching_in_order_replay']} "
            f"/ {result['distinct_tickets']}",
        ),
        (
            "feedback.created messages",
            f"{result['feedback_created_messages']} "
            f"(redelivered {result['feedback_created_redelivered']})",
        ),
        ("drain after send (s)", result["drain_seconds_after_send"]),
        ("lost", failures["lost"]),
        ("duplicated", failures["duplicated"]),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name:<{width}}  {value}" for name, value in rows]
    bad = {k: v for k, v in failures.items() if v}
    lines.append(f"  {'verdict':<{width}}  {'PASS' if not bad else f'FAIL {bad}'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--tickets", type=int, default=2_500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (emptied first)")
    parser.add_argument("--timeout", type=float, default=900, help="max seconds to drain")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--worker-batch", type=int, default=8, help="events per worker claim")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="relay-load-"))
    try:
        result = run(args, workdir)
    finally:
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    failures = verdict(result)
    print(summary(result, failures))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    name = "load.json" if result["database"] == "sqlite" else "load-postgresql.json"
    (out / name).write_text(json.dumps({**result, "failures": failures}, indent=2) + "\n")
    if any(failures.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
