"""Records classified and themed per second by one worker on SQLite, and its memory.

    .venv/bin/python -m bench.classify [--records 100000] [--layout helper|in-process|both]

Synthetic tickets are generated from the shipped corpus (each corpus ticket reused with a
new ticket number, merchant and ids), stored in the inbox as Zendesk deliveries, then one
worker drains them: normalize, fold, redact, extract, classify, theme, commit. As
`relay worker` runs it, with its helper process preparing the next claim on the second
core (`helper`), and all in one process (`in-process`, the layout inside `relay serve`);
`both` (the default) measures both in the same run, one after the other, each on a fresh
database, and reports their ratio. RSS is sampled every 10 000 records to show whether
memory stays flat (the worker's; the helper's peak is reported apart). CPU time per record
is reported for the worker and its helper: less subject to the machine's drift than the
rate, it shows what a change did to the work itself.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.common import ROOT
from service import demo, migrate
from service.config import Settings
from service.db import Database
from service.feedback import learning
from service.inbox.writer import store_events
from service.themes import matching
from service.themes.models import Theme
from service.worker.helper import PrepareHelper
from service.worker.runner import Worker, tune_collector

STORE_BATCH = 2000
_PAYMENT_INTENT = re.compile(r"\bpi_")


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process, or of process `pid` (the helper)."""
    if pid is None:
        return time.process_time()
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
        # Payment intent ids only: "provider_api_invalid_sequence" is a code, not an id
        # (a plain replace made it a new code in every copy, and its theme a code apiece).
        body = _PAYMENT_INTENT.sub(f"pi_{n:06d}", base["body"])
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


def live_themes(database: Database) -> int:
    """How many themes the records formed (a change to placement shows here first)."""
    with database.session() as session:
        query = select(func.count()).select_from(Theme).where(Theme.merged_into.is_(None))
        return int(session.scalar(query) or 0)


def measure(tickets: list[dict[str, Any]], layout: str) -> dict[str, Any]:
    """Drain `tickets` with one worker in `layout`, on a fresh SQLite database."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/relay.db"
        migrate.upgrade(url)
        settings = Settings(database_url=url, data_dir=Path(tmp), log_json=False)
        database = Database(url)
        learning.load_classifier(database, settings)  # also empties the structuring memo
        matching.forget()  # nothing kept from the layout measured before
        load_inbox(database, tickets)
        # As `relay worker` starts (the in-process layout is `relay serve`'s: defaults).
        collector = tune_collector() if layout == "helper" else gc.get_threshold()
        helper = PrepareHelper.start(settings) if layout == "helper" else None
        if layout == "helper" and helper is None:
            raise SystemExit("could not start the helper process")
        worker = Worker(database, settings, helper=helper)
        rss_before = rss_mb()
        helper_pid = helper.pid if helper is not None else None
        cpu_before = cpu_seconds(), cpu_seconds(helper_pid) if helper_pid else 0.0
        seconds, samples = drain(worker, len(tickets))
        worker_cpu = cpu_seconds() - cpu_before[0]
        helper_cpu = cpu_seconds(helper_pid) - cpu_before[1] if helper_pid else 0.0
        worker.close()
        themes = live_themes(database)
        database.dispose()
        gc.set_threshold(*collector)
    return {
        "layout": layout,
        "records": len(tickets),
        "seconds": round(seconds, 1),
        "records_per_second": round(len(tickets) / seconds, 1),
        # The worker's includes the thread reading the helper's answers.
        "worker_cpu_ms_per_record": round(worker_cpu / len(tickets) * 1000, 3),
        "helper_cpu_ms_per_record": round(helper_cpu / len(tickets) * 1000, 3),
        "themes": themes,
        "rss_mb_before_worker": round(rss_before, 1),
        "rss_mb_every_10k": [round(mb, 1) for _, mb in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--layout", choices=("helper", "in-process", "both"), default="both")
    args = parser.parse_args()
    tickets = synthetic(list(demo.corpus_tickets()), args.records)
    layouts = ("helper", "in-process") if args.layout == "both" else (args.layout,)
    runs = [measure(tickets, layout) for layout in layouts]
    result: dict[str, Any] = {
        "runs": runs,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "helper_peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
    }
    if len(runs) == 2:
        result["helper_vs_in_process"] = round(
            runs[0]["records_per_second"] / runs[1]["records_per_second"], 2
        )
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "classify.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
