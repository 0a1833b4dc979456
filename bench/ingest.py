"""Sustained signed-webhook ingestion against `relay serve`, with a bare endpoint as the floor.

    .venv/bin/python -m bench.ingest [--events 20000] [--concurrency 32] [--tickets 4000]

Both servers run on loopback with one uvicorn process; the same client drives both.
Relay runs on a fresh SQLite (WAL, synchronous=FULL) with its in-process worker.
Afterwards it checks that nothing was lost or duplicated and reports the end-to-end lag
(stored → record written) from the events' own timestamps.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import (
    ROOT,
    LoadResult,
    Request,
    drive,
    free_port,
    python,
    start_server,
    stop_server,
)
from tests.signing import signed, zendesk_event

SECRET = "bench-zendesk-secret"
BASE_TIME = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def make_requests(events: int, tickets: int, prefix: str) -> list[Request]:
    """Signed Zendesk event-subscription deliveries: creates, then comments, over `tickets`."""
    requests = []
    for n in range(events):
        ticket = n % tickets
        kind = "created" if n < tickets else "comment_added"
        comment = (
            None
            if kind == "created"
            else {
                "id": f"c{n}",
                "body": f"Still failing: PY0105 on pi_{n:024d}",
                "is_public": True,
                "author": {"id": "501", "is_staff": False, "name": "Merchant"},
            }
        )
        body = zendesk_event(
            kind,
            ticket_id=100000 + ticket,
            event_id=f"{prefix}-{n}",
            time=(BASE_TIME + timedelta(milliseconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z",
            comment=comment,
        )
        requests.append(Request("/webhooks/zendesk", body, signed("zendesk", body, SECRET)))
    return requests


def run_bare(requests: list[Request], concurrency: int) -> LoadResult:
    port = free_port()
    server = start_server(
        [
            python(),
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        {},
        port,
    )
    try:
        drive(f"http://127.0.0.1:{port}", requests[:500], concurrency)  # warm-up
        return drive(f"http://127.0.0.1:{port}", requests, concurrency)
    finally:
        stop_server(server)


def run_relay(requests: list[Request], concurrency: int, workdir: Path) -> tuple[LoadResult, Path]:
    database = workdir / "relay.db"
    env = {
        "RELAY_DATABASE_URL": f"sqlite:///{database}",
        "RELAY_DATA_DIR": str(workdir),
        "RELAY_ZENDESK_WEBHOOK_SECRET": SECRET,
        "RELAY_LOG_LEVEL": "WARNING",
        "RELAY_ADMIN_TOKEN": "rly_bench_admin_token",
    }
    subprocess.run(
        [str(ROOT / ".venv/bin/relay"), "migrate"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = start_server([str(ROOT / ".venv/bin/relay"), "serve", "--port", str(port)], env, port)
    try:
        result = drive(f"http://127.0.0.1:{port}", requests, concurrency)
        wait_until_processed(database, expected=result.statuses.get(202, 0))
    finally:
        stop_server(server)
    return result, database


def wait_until_processed(database: Path, expected: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as conn:
            done = conn.execute(
                "SELECT count(*) FROM inbox_events WHERE status='handled'"
            ).fetchone()
        if done[0] >= expected:
            return
        time.sleep(0.5)
    raise RuntimeError("events were not all processed in time")


def integrity(database: Path, tickets: int, result: LoadResult) -> dict[str, float]:
    with sqlite3.connect(database) as conn:
        events = conn.execute("SELECT count(*) FROM inbox_events").fetchone()[0]
        handled = conn.execute(
            "SELECT count(*) FROM inbox_events WHERE status='handled'"
        ).fetchone()[0]
        records = conn.execute("SELECT count(*) FROM feedback").fetchone()[0]
        comments = conn.execute(
            "SELECT coalesce(sum(json_array_length(comments)), 0) FROM feedback"
        ).fetchone()[0]
        lags = sorted(
            (datetime.fromisoformat(h) - datetime.fromisoformat(r)).total_seconds()
            for r, h in conn.execute("SELECT received_at, handled_at FROM inbox_events")
        )
    accepted = result.statuses.get(202, 0)
    return {
        "accepted": accepted,
        "stored_events": events,
        "handled": handled,
        "records": records,
        "distinct_tickets": tickets,
        "comments": comments,
        "lost": accepted - handled,
        "duplicated_records": records - tickets,
        "lag_p50_ms": lags[len(lags) // 2] * 1000,
        "lag_p99_ms": lags[int(len(lags) * 0.99)] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--tickets", type=int, default=4000)
    args = parser.parse_args()
    requests = make_requests(args.events, args.tickets, prefix="run")
    bare = run_bare(requests, args.concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        relay, database = run_relay(requests, args.concurrency, Path(tmp))
        checks = integrity(database, args.tickets, relay)
    print(bare.line("bare FastAPI (floor)"))
    print(relay.line("relay durable ingest"))
    print(f"throughput ratio relay/bare: {relay.rate / bare.rate:.2f}")
    print(json.dumps(checks, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "ingest.json").write_text(
        json.dumps(
            {
                "bare_rps": bare.rate,
                "relay_rps": relay.rate,
                "ratio": relay.rate / bare.rate,
                "relay_p50_ms": relay.percentile(50),
                "relay_p99_ms": relay.percentile(99),
                "bare_p50_ms": bare.percentile(50),
                "bare_p99_ms": bare.percentile(99),
                **checks,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
