"""Shared by the benchmarks: start servers on loopback, drive load, summarise latencies."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(args: Sequence[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start a server process and wait until it answers /healthz (or any HTTP)."""
    process = subprocess.Popen(
        list(args),
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server {args} did not start")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class LoadResult:
    sent: int
    statuses: dict[int, int]
    latencies: list[float]
    seconds: float

    @property
    def rate(self) -> float:
        return self.sent / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def line(self, name: str) -> str:
        return (
            f"{name:<28} {self.rate:8.0f} req/s   p50 {self.percentile(50):6.1f} ms   "
            f"p99 {self.percentile(99):6.1f} ms   statuses {dict(sorted(self.statuses.items()))}"
        )


async def _drive(base: str, requests: Sequence[Request], concurrency: int) -> LoadResult:
    queue: asyncio.Queue[Request] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                request = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post(
                    request.path, content=request.body, headers=request.headers
                )
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(len(requests), statuses, latencies, elapsed)


def drive(base: str, requests: Sequence[Request], concurrency: int) -> LoadResult:
    """Send `requests` with `concurrency` keep-alive connections; collect statuses and latency."""
    return asyncio.run(_drive(base, requests, concurrency))


def write_replay_file(requests: Sequence[Request], path: Path) -> Path:
    """The deliveries in bench/replay.lua's one-line-per-request format."""
    with path.open("w", encoding="utf-8") as out:
        for request in requests:
            headers = "|".join(f"{k}:{v}" for k, v in request.headers.items())
            out.write(f"{request.path}\t{headers}\t{request.body.decode()}\n")
    return path


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def line(self, name: str) -> str:
        return (
            f"{name:<28} {self.rate:8.0f} req/s   p50 {self.p50_ms:6.1f} ms   "
            f"p99 {self.p99_ms:6.1f} ms   non-2xx {self.non_2xx}  {self.errors}"
        )


def run_wrk(
    base: str, replay: Path, *, connections: int, seconds: int, threads: int = 2
) -> WrkResult:
    """Drive `base` with wrk replaying `replay`; parse its summary."""
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / "replay.lua"),
            base,
            "--",
            str(replay),
            str(threads),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return _parse_wrk(output)


def _parse_wrk(output: str) -> WrkResult:
    import re

    def ms(label: str) -> float:
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        assert match, f"no {label} in wrk output:\n{output}"
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    total = re.search(r"(\d+) requests in ([\d.]+)(s|m)", output)
    assert total, output
    seconds = float(total.group(2)) * (60 if total.group(3) == "m" else 1)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return WrkResult(
        requests=int(total.group(1)),
        seconds=seconds,
        p50_ms=ms("50%"),
        p99_ms=ms("99%"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=errors.group(1) if errors else "",
    )


def python() -> str:
    return sys.executable


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
