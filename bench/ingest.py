"""Sustained signed-webhook ingestion against `relay serve`, with a bare endpoint as the floor.

    .venv/bin/python -m bench.ingest [--seconds 20] [--concurrency 32] [--tickets 4000]

Both servers run on loopback as one uvicorn process each, driven by the same wrk
(Debian's package) replaying pre-signed Zendesk deliveries (bench/replay.lua), each
delivery once. Relay runs on a fresh SQLite (WAL, synchronous=FULL) with its in-process
worker. Afterwards it waits for the worker, checks that nothing was lost or duplicated
(every 202 handled, one record per ticket) and reports the end-to-end lag (stored ->
record written) from the events' own timestamps.
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
    Request,
    WrkResult,
    free_port,
    python,
    run_wrk,
    start_server,
    stop_server,
    write_replay_file,
)
from tests.signing import signed, zendesk_event

SECRET = "bench-zendesk-secret"
BASE_TIME = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _zendesk_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


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
            time=_zendesk_time(BASE_TIME + timedelta(milliseconds=n)),
            created_at=_zendesk_time(BASE_TIME + timedelta(milliseconds=ticket)),
            comment=comment,
        )
        requests.append(Request("/webhooks/zendesk", body, signed("zendesk", body, SECRET)))
    return requests


def run_bare(replay: Path, args: argparse.Namespace) -> WrkResult:
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
        return run_wrk(
            f"http://127.0.0.1:{port}", replay, connections=args.concurrency, seconds=args.seconds
        )
    finally:
        stop_server(server)


def run_relay(replay: Path, args: argparse.Namespace, workdir: Path) -> tuple[WrkResult, Path]:
    database = workdir / "relay.db"
    env = {
        "RELAY_DATABASE_URL": f"sqlite:///{database}",
        "RELAY_DATA_DIR": str(workdir),
        "RELAY_ZENDESK_WEBHOOK_SECRET": SECRET,
        "RELAY_LOG_LEVEL": "WARNING",
        "RELAY_DIGEST_SCHEDULE": "off",  # a one-off PDF render at start is not ingestion
        "RELAY_ADMIN_TOKEN": "rly_bench_admin_token",
    }
    subprocess.run(
        [str(ROOT / ".venv/bin/relay"), "migrate"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    port = free_port()
    serve = [str(ROOT / ".venv/bin/relay"), "serve", "--port", str(port)]
    if args.worker != "in-process":
        serve.append("--no-worker")
    server = start_server(serve, env, port)
    # The worker process at the lowest priority: like the in-process worker's pacing, it
    # yields the CPU to requests and catches up when they stop.
    worker = (
        subprocess.Popen(
            ["nice", "-n", "19", str(ROOT / ".venv/bin/relay"), "worker"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if args.worker == "process"
        else None
    )
    try:
        result = run_wrk(
            f"http://127.0.0.1:{port}", replay, connections=args.concurrency, seconds=args.seconds
        )
        if args.worker != "none":
            wait_until_processed(database)
    finally:
        if worker is not None:
            stop_server(worker)
        stop_server(server)
    return result, database


def wait_until_processed(database: Path, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as conn:
            left = conn.execute(
                "SELECT count(*) FROM inbox_events WHERE status IN ('pending', 'processing')"
            ).fetchone()[0]
        if left == 0:
            return
        time.sleep(0.5)
    raise RuntimeError("events were not all processed in time")


def integrity(database: Path, sent: int) -> dict[str, float]:
    with sqlite3.connect(database) as conn:
        events = conn.execute("SELECT count(*) FROM inbox_events").fetchone()[0]
        handled = conn.execute(
            "SELECT count(*) FROM inbox_events WHERE status='handled'"
        ).fetchone()[0]
        records = conn.execute("SELECT count(*) FROM feedback").fetchone()[0]
        comment_events = conn.execute(
            "SELECT count(*) FROM inbox_events WHERE payload LIKE '%ticket.comment_added%'"
        ).fetchone()[0]
        comments = conn.execute(
            "SELECT coalesce(sum(json_array_length(comments)), 0) FROM feedback"
        ).fetchone()[0]
        # wrk's connections take the replay's lines in their own order, so a short run
        # need not reach every ticket: one record is expected per ticket actually delivered.
        tickets_delivered = conn.execute(
            "SELECT count(DISTINCT json_extract(payload, '$.detail.id')) FROM inbox_events"
        ).fetchone()[0]
        lags = sorted(
            (datetime.fromisoformat(h) - datetime.fromisoformat(r)).total_seconds()
            for r, h in conn.execute("SELECT received_at, handled_at FROM inbox_events")
        )
    # The replay never repeats a delivery within a run, so every completed request was a
    # 202 (wrk counts any other status as non-2xx, reported separately).
    expected_records = tickets_delivered
    return {
        "accepted_events": events,
        "sent": sent,
        "handled": handled,
        "records": records,
        "expected_records": expected_records,
        "comments": comments,
        "expected_comments": comment_events,
        "lost": events - handled,
        "duplicated_records": records - expected_records,
        "lag_p50_ms": lags[len(lags) // 2] * 1000,
        "lag_p99_ms": lags[int(len(lags) * 0.99)] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--tickets", type=int, default=4000)
    parser.add_argument("--max-events", type=int, default=120_000)
    parser.add_argument(
        "--worker",
        choices=("in-process", "process", "none"),
        default="in-process",
        help="process: `relay serve --no-worker` beside a `relay worker` process (the compose "
        "layout); none: measure the request path alone (events stay pending)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        # Signed just before each run: Zendesk signatures carry a 5-minute timestamp.
        bare_file = write_replay_file(
            make_requests(args.max_events, args.tickets, "bare"), workdir / "bare.txt"
        )
        bare = run_bare(bare_file, args)
        relay_file = write_replay_file(
            make_requests(args.max_events, args.tickets, "relay"), workdir / "relay.txt"
        )
        relay, database = run_relay(relay_file, args, workdir)
        checks = {} if args.worker == "none" else integrity(database, relay.requests)
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
                "relay_p50_ms": relay.p50_ms,
                "relay_p99_ms": relay.p99_ms,
                "bare_p50_ms": bare.p50_ms,
                "bare_p99_ms": bare.p99_ms,
                "relay_non_2xx": relay.non_2xx,
                **checks,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
