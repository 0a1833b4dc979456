"""Feedback exports over HTTP against `sqlite3 -csv` dumping the same rows (the floor).

    .venv/bin/python -m bench.export [--rows 1000000] [--runs 3]

A fresh SQLite database under /tmp gets `--rows` feedback records (bulk `executemany`,
not the API), then, in the same run and alternating: `sqlite3 -csv` selects the exported
columns in the export's order to /dev/null (the floor), and `curl` streams the CSV and the
NDJSON export from `relay serve` on loopback to /dev/null. The best of `--runs` of each is
compared; the server's peak RSS (VmHWM) is read from /proc. Target: at most 2x the floor, peak
RSS under 200 MB. Results go to bench/results/export.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import ROOT, free_port, python, start_server, stop_server
from service import migrate
from service.exports.schemas import FEEDBACK_COLUMNS

TOKEN = "rly_bench_export_token"
BATCH = 50_000
MERCHANTS = 5000

SUBJECTS = [
    "Webhook signature mismatch, every event rejected",
    'GCash refund stuck in "processing"',
    "QR Ph code expires before customers pay",
    "Checkout page: card declined after the 3DS step",
    'Payout delayed — bank says "pending"',
    "Ano ang fee sa Maya? Salamat po",
]
TEXTS = [
    "We compute HMAC SHA256 of the raw body with our secret and compare it to te= in the "
    "Paymongo-Signature header; it never matches.\nEvery event fails with 401.",
    'Customer paid via GCash, refund "re_[redacted]" has been processing for 5 days; the '
    "merchant asks when it lands. Amount ₱1,250.00.",
    "Our QR Ph codes expire after 30 minutes while customers queue at the counter; can "
    "expiry_seconds be longer? Salamat!",
    "Card payments loop on the 3DS page, then fail with card_declined; Safari only, since "
    "yesterday's deploy.",
]
AREAS = ["webhooks", "checkout", "qrph", "refunds", "payouts", "api_access"]
METHODS = ["card", "gcash", "maya", "qr_ph", None]
CATEGORIES = ["bug", "incident", "docs_gap", "how_to", "friction", "misconfiguration"]
CODES = [[], [], ["resource_failed_state"], ["parameter_invalid", "payment_expired"]]

INSERT_COLUMNS = (
    "id, source, external_id, external_url, merchant_id, merchant_name, merchant_segment, "
    "subject, description, text, comments, ticket_status, priority, tags, product_area, "
    "payment_method, category, severity, error_codes, http_statuses, event_types, "
    "resource_ids, environment, confidence, labelled_by, corrected, environment_hints, "
    "theme_id, jira_keys, status, deleted, created_at, updated_at, source_created_at, "
    "source_updated_at, source_version, field_versions"
)
CONFIDENCE = json.dumps({"category": 0.8333333333333334, "product_area": 0.91})


def _rows(first: int, count: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    """Records as the pipeline stores them (SQLAlchemy's text formats for JSON and times)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(first, first + count):
        stamp = (start + timedelta(seconds=n * 7)).strftime("%Y-%m-%d %H:%M:%S.%f")
        yield (
            f"fb_{n:032x}", "zendesk", f"zendesk:{100000 + n}",
            f"https://acme.zendesk.com/agent/tickets/{100000 + n}",
            f"m_{rng.randrange(MERCHANTS):04d}", "Sari-sari Store, Inc.", "smb",
            rng.choice(SUBJECTS), "", rng.choice(TEXTS), "[]", "open", None,
            json.dumps(["vip", "api"]) if n % 3 == 0 else "[]",
            rng.choice(AREAS), rng.choice(METHODS), rng.choice(CATEGORIES), "medium",
            json.dumps(rng.choice(CODES)), "[401]" if n % 2 else "[]", "[]", "[]", "live",
            CONFIDENCE, "model-v1", "{}", "[]", None, "[]", "open", 0,
            stamp, stamp, stamp, None, "", "{}",
        )  # fmt: skip


def generate(path: Path, rows: int) -> float:
    """Fill a migrated database with `rows` records; seconds taken."""
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.executemany(
        "INSERT INTO merchants (id, name, segment, monthly_tpv_php, updated_at) "
        "VALUES (?, 'Sari-sari Store, Inc.', 'smb', 1000000, '2026-01-01 00:00:00.000000')",
        [(f"m_{i:04d}",) for i in range(MERCHANTS)],
    )
    marks = ", ".join("?" * len(INSERT_COLUMNS.split(",")))
    rng = random.Random(7)
    for first in range(0, rows, BATCH):
        conn.executemany(
            f"INSERT INTO feedback ({INSERT_COLUMNS}) VALUES ({marks})",  # noqa: S608
            _rows(first, min(BATCH, rows - first), rng),
        )
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - started


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def floor_seconds(path: Path) -> tuple[float, float]:
    """`sqlite3 -csv` writing the exported columns, in the export's order, to /dev/null:
    wall and CPU seconds."""
    columns = ", ".join(c.name for c in FEEDBACK_COLUMNS)
    query = f"SELECT {columns} FROM feedback ORDER BY created_at, id"  # noqa: S608
    started, cpu = time.perf_counter(), children_cpu()
    with open("/dev/null", "wb") as sink:
        subprocess.run(["sqlite3", "-csv", "-header", str(path), query], stdout=sink, check=True)
    return time.perf_counter() - started, children_cpu() - cpu


def export_seconds(port: int, fmt: str, server: int) -> tuple[float, float, int]:
    """curl streaming one export to /dev/null: wall seconds, the server's CPU seconds, bytes."""
    started, cpu = time.perf_counter(), process_cpu(server)
    output = subprocess.run(
        [
            "curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download}",
            "-H", f"Authorization: Bearer {TOKEN}",
            f"http://127.0.0.1:{port}/api/v1/exports/feedback?format={fmt}",
        ],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return time.perf_counter() - started, process_cpu(server) - cpu, int(output.stdout)


def memory_mb(pid: int) -> dict[str, float]:
    """The process's current and peak resident memory (VmRSS, VmHWM)."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relay-export-bench-", dir="/tmp") as tmp:
        database = Path(tmp) / "relay.db"
        url = f"sqlite:///{database}"
        migrate.upgrade(url)
        generated = generate(database, args.rows)
        print(f"generated {args.rows} records in {generated:.1f} s", flush=True)
        result = run(database, url, Path(tmp), args.rows, args.runs)
    result["generate_seconds"] = round(generated, 1)
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "export.json").write_text(json.dumps(result, indent=2) + "\n")


def run(database: Path, url: str, workdir: Path, rows: int, runs: int) -> dict[str, object]:
    port = free_port()
    env = {
        "RELAY_DATABASE_URL": url,
        "RELAY_DATA_DIR": str(workdir),
        "RELAY_ADMIN_TOKEN": TOKEN,
        "RELAY_LOG_LEVEL": "WARNING",
    }
    # The API without the ticket classifier (exports never use it; it is most of the RSS
    # of an idle `relay serve`),
    # so that the RSS figure is what serving exports costs.
    code = (
        "import uvicorn; from service.app import create_app; "
        f"uvicorn.run(create_app(load_model=False), host='127.0.0.1', port={port}, "
        "log_config=None)"
    )
    server = start_server([python(), "-c", code], env, port)
    try:
        before = memory_mb(server.pid)
        times: dict[str, list[float]] = {"floor": [], "csv": [], "ndjson": []}
        cpu: dict[str, list[float]] = {"floor": [], "csv": [], "ndjson": []}
        sizes: dict[str, int] = {}
        for _ in range(runs):
            wall, used = floor_seconds(database)
            times["floor"].append(wall)
            cpu["floor"].append(used)
            for fmt in ("csv", "ndjson"):
                wall, used, sizes[fmt] = export_seconds(port, fmt, server.pid)
                times[fmt].append(wall)
                cpu[fmt].append(used)
            print(
                {k: (round(v[-1], 2), round(cpu[k][-1], 2)) for k, v in times.items()}, flush=True
            )
        after = memory_mb(server.pid)
    finally:
        stop_server(server)
    best = {k: min(v) for k, v in times.items()}
    least = {k: min(v) for k, v in cpu.items()}
    return {
        "rows": rows,
        "runs": runs,
        "floor_seconds": round(best["floor"], 2),
        "csv_seconds": round(best["csv"], 2),
        "ndjson_seconds": round(best["ndjson"], 2),
        "csv_ratio": round(best["csv"] / best["floor"], 2),
        "ndjson_ratio": round(best["ndjson"] / best["floor"], 2),
        # CPU seconds (the floor's sqlite3, the server's): steadier than wall time when
        # other work shares the machine.
        "floor_cpu_seconds": round(least["floor"], 2),
        "csv_cpu_ratio": round(least["csv"] / least["floor"], 2),
        "ndjson_cpu_ratio": round(least["ndjson"] / least["floor"], 2),
        "csv_mb": round(sizes["csv"] / 1e6, 1),
        "ndjson_mb": round(sizes["ndjson"] / 1e6, 1),
        "csv_mb_per_s": round(sizes["csv"] / 1e6 / best["csv"], 1),
        "server_rss_mb_before": round(before["VmRSS"], 1),
        "server_peak_rss_mb": round(after["VmHWM"], 1),
        "all_seconds": {k: [round(x, 2) for x in v] for k, v in times.items()},
        "all_cpu_seconds": {k: [round(x, 2) for x in v] for k, v in cpu.items()},
    }


if __name__ == "__main__":
    main()
