"""A fake subscriber speaking plain HTTP on loopback, and settings that allow sending to it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.config import Settings
from service.db import Database
from service.inbox.models import EventStatus, InboxEvent
from tests.conftest import drain


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Subscriber:
    """Records every POST; answers with `statuses` in turn, then `default_status`."""

    url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    default_status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else self.default_status

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.received if r.json()["type"] == event_type]


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    holder: list[Subscriber] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            state = holder[0]
            headers = {k.lower(): v for k, v in self.headers.items()}
            with state.lock:
                state.received.append(Received(self.path, headers, body))
            status = state.next_status()
            self.send_response(status)
            if status in (301, 302, 307, 308):
                self.send_header("location", "http://127.0.0.1:9/elsewhere")
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Subscriber(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/relay"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder[0]
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, allowed to deliver to loopback (the fake subscriber)."""
    return settings.model_copy(
        update={"outbound_allow_private": True, "outbound_timeout_seconds": 5.0}
    )


def subscribe(
    client: TestClient, headers: dict[str, str], url: str, *event_types: str
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/subscriptions",
        json={"url": url, "event_types": list(event_types)},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


@pytest.fixture
def deliver_all(app: FastAPI, settings: Settings) -> Callable[[], int]:
    """Run the worker until nothing is pending any more (retries after their backoff too)."""

    def run() -> int:
        database: Database = app.state.db
        total, deadline = 0, time.monotonic() + 30
        while time.monotonic() < deadline:
            total += drain(database, settings)
            with database.session() as session:
                waiting = session.scalar(
                    select(func.count()).where(
                        InboxEvent.status.in_([EventStatus.PENDING, EventStatus.PROCESSING])
                    )
                )
            if not waiting:
                return total
            time.sleep(0.02)
        raise AssertionError("jobs still pending after 30 s")

    return run
