"""Time to a ready PDF brief, against WeasyPrint alone on the same HTML (the floor).

    .venv/bin/python -m bench.briefs [--briefs 12] [--concurrent 4]

Starts `relay serve` (API + in-process worker, SQLite, the shipped content library) on
loopback. Each brief is a distinct request (no reuse): POST /api/v1/briefs, poll
GET /api/v1/briefs/{id} every 50 ms until ready, GET the PDF. The floor renders the final
HTML of the same briefs with WeasyPrint in this process, warmed up, one FontConfiguration:
the part of the time that is WeasyPrint's. Then `--concurrent` requests at once, to see
the throughput the render pool (2 processes by default) gets out of the machine.

Briefs render in the worker's batch preparer: outside the write transaction, in parallel
across the render pool.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import free_port, python, start_server, stop_server
from service import migrate
from service.briefs import render as briefs_render
from service.briefs.models import Brief
from service.config import Settings
from service.db import Database
from service.render.pdf import PdfMetadata, render_document

TOKEN = "rly_bench_admin_token_0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
POLL_SECONDS = 0.05


def request(n: int) -> dict[str, Any]:
    """A typical request: three methods, a small team, a few questions."""
    return {
        "merchant_name": f"Bench Merchant {n}",
        "website": f"https://shop{n}.example.ph",
        "industry": "online retail",
        "segment": "mid_market",
        "monthly_volume_php": 2_500_000,
        "average_ticket_php": 1_250,
        "payment_methods": ["card", "gcash", "qrph"],
        "integration_channel": "checkout",
        "tech_stack": "Laravel, 2 developers",
        "go_live_date": "2031-06-30",
        "questions": "How long is the refund window for cards?\nHow long does a QR Ph code last?",
        "contact_email": "dev@example.ph",
    }


def time_to_ready(client: httpx.Client, n: int) -> tuple[float, str, int]:
    started = time.perf_counter()
    brief_id = client.post("/api/v1/briefs", json=request(n), headers=HEADERS).json()["id"]
    while True:
        state = client.get(f"/api/v1/briefs/{brief_id}", headers=HEADERS).json()
        if state["status"] in ("ready", "failed"):
            break
        time.sleep(POLL_SECONDS)
    assert state["status"] == "ready", state
    pdf = client.get(state["pdf_url"], headers=HEADERS)
    assert pdf.headers["content-type"] == "application/pdf"
    return time.perf_counter() - started, brief_id, len(pdf.content)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


class Floor:
    """WeasyPrint alone on a brief's final HTML, in this process, warmed up, one
    FontConfiguration. Measured right after the served brief, so that both see the same
    machine load (the benchmark machine is shared)."""

    def __init__(self, settings: Settings) -> None:
        self.database = Database(settings.database_url)
        self.content = briefs_render.content_for(settings)
        self.times: list[float] = []
        self.pages: list[int] = []

    def html(self, brief_id: str) -> str:
        with self.database.read_session() as session:
            brief = session.get_one(Brief, brief_id)
            return briefs_render._prepare(session, brief=brief, content=self.content).html

    def measure(self, brief_id: str, *, keep: bool = True) -> None:
        html = self.html(brief_id)
        started = time.perf_counter()
        result = render_document(html, metadata=PdfMetadata(title="t", author="a"))
        if keep:
            self.times.append(time.perf_counter() - started)
            self.pages.append(result.pages)


def concurrent(client: httpx.Client, start: int, count: int) -> float:
    """Wall time for `count` briefs requested at once."""
    durations: list[float] = []
    threads = [
        threading.Thread(target=lambda n=n: durations.append(time_to_ready(client, n)[0]))
        for n in range(start, start + count)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(durations) == count
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--briefs", type=int, default=12)
    parser.add_argument("--concurrent", type=int, default=4)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="relay-bench-briefs-"))
    url = f"sqlite:///{workdir / 'relay.db'}"
    migrate.upgrade(url)
    settings = Settings(database_url=url, data_dir=workdir / "data", _env_file=None)
    port = free_port()
    env = {
        "RELAY_DATABASE_URL": url,
        "RELAY_DATA_DIR": str(settings.data_dir),
        "RELAY_ADMIN_TOKEN": TOKEN,
        "RELAY_LOG_LEVEL": "WARNING",
    }
    relay = str(Path(python()).with_name("relay"))
    server = start_server([relay, "serve", "--port", str(port)], env, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            floor = Floor(settings)
            for n in range(2):  # warm-up: spawns both render processes; warms this one
                floor.measure(time_to_ready(client, -n)[1], keep=False)
            runs = []
            for n in range(1, args.briefs + 1):
                runs.append(time_to_ready(client, n))
                floor.measure(runs[-1][1])
            wall = concurrent(client, 1000, args.concurrent)
            wall_more = concurrent(client, 2000, args.concurrent)
    finally:
        stop_server(server)
    ready = [seconds for seconds, _, _ in runs]
    base, pages = floor.times, floor.pages
    paired = statistics.median(r / b for r, b in zip(ready, base, strict=True))
    ratio = statistics.median(ready) / statistics.median(base)
    print(f"polling every {POLL_SECONDS * 1000:.0f} ms")
    print(
        f"briefs: {len(runs)} sequential, {min(pages)}-{max(pages)} pages, "
        f"{statistics.median([size for *_, size in runs]) / 1024:.0f} KiB"
    )
    print(
        f"time to ready PDF      median {statistics.median(ready) * 1000:7.0f} ms   "
        f"p95 {p95(ready) * 1000:7.0f} ms"
    )
    print(
        f"WeasyPrint alone       median {statistics.median(base) * 1000:7.0f} ms   "
        f"p95 {p95(base) * 1000:7.0f} ms   (floor)"
    )
    print(f"ratio                  {ratio:.2f}x of medians, {paired:.2f}x median of pairs")
    for label, seconds in (("first", wall), ("second", wall_more)):
        rate = args.concurrent / seconds * 60
        print(
            f"{args.concurrent} at once ({label})   {seconds:6.2f} s wall   {rate:5.1f} briefs/min"
        )


if __name__ == "__main__":
    main()
