"""Records classified and themed per second by one worker on SQLite, and its memory.

    .venv/bin/python -m bench.classify [--records 100000]

Synthetic tickets are generated from the shipped corpus (each corpus ticket reused with a
new ticket number, merchant and ids), stored in the inbox as Zendesk deliveries, then one
in-process worker drains them: normalize, fold, redact, extract, classify, theme, commit.
RSS is sampled every 10 000 records to show whether memory stays flat.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT
from service import demo, migrate
from service.config import Settings
from service.db import Database
from service.feedback import learning
from service.inbox.writer import store_events
from service.worker.runner import Worker

STORE_BATCH = 2000


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def synthetic(tickets: list[dict[str, Any]], count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` tickets: corpus texts under new numbers, merchants and resource ids.

    Every text is unique (its ids and an order reference differ), as real tickets are:
    nothing is served from a cache of an identical text seen before.
    """
    rng = random.Random(seed)
    out = []
    for n in range(count):
        base = tickets[n % len(tickets)]
        ticket = {**base, "id": f"T-{100000 + n}", "status": "new", "agent_reply": None}
        ticket["merchant"] = {**base["merchant"], "id": f"m_{rng.randrange(5000):04d}"}
        body = base["body"].replace("pi_", f"pi_{n:06d}")
        ticket["body"] = f"{body}\n\nOrder reference: ORD-{n:07d}."
        out.append(ticket)
    return out


def load_inbox(database: Database, tickets: list[dict[str, Any]]) -> None:
    for start in range(0, len(tickets), STORE_BATCH):
        chunk = tickets[start : start + STORE_BATCH]
        events = [demo.inbox_event(e) for t in chunk for e in demo.ticket_events(t)]
        with database.session() as session:
            store_events(session, events=events)


def drain(worker: Worker, total: int) -> tuple[float, list[tuple[int, float]]]:
    samples, done, started = [], 0, time.perf_counter()
    next_sample = 10_000
    while handled := worker.run_once():
        done += handled
        if done >= next_sample:
            samples.append((done, rss_mb()))
            next_sample += 10_000
    return time.perf_counter() - started, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/relay.db"
        migrate.upgrade(url)
        settings = Settings(database_url=url, data_dir=Path(tmp), log_json=False)
        database = Database(url)
        learning.load_classifier(database, settings)
        tickets = synthetic(list(demo.corpus_tickets()), args.records)
        load_inbox(database, tickets)
        rss_before = rss_mb()
        seconds, samples = drain(Worker(database, settings), args.records)
        database.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "records": args.records,
        "seconds": round(seconds, 1),
        "records_per_second": round(args.records / seconds, 1),
        "rss_mb_before_worker": round(rss_before, 1),
        "peak_rss_mb": round(peak, 1),
        "rss_mb_every_10k": [round(mb, 1) for _, mb in samples],
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "classify.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
