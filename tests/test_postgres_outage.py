"""PostgreSQL stopped mid-run: webhooks answer 503 (never 500, never hang), and once it is
back every event acknowledged with 202 is stored and processed.

Runs against a private, throw-away PostgreSQL cluster (initdb in a temporary directory,
its own port) — never the machine's shared server.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from service import migrate
from service.app import create_app
from service.config import Settings
from service.db import Database
from service.feedback.models import Feedback
from service.inbox.models import EventStatus, InboxEvent
from tests.conftest import ADMIN_TOKEN, WEBHOOK_SECRETS
from tests.signing import signed, zendesk_event

BIN_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
PG_BIN = next((Path(d) for d in BIN_DIRS if (Path(d) / "initdb").exists()), None)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(PG_BIN is None, reason="PostgreSQL server binaries (initdb) not found"),
]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """A private PostgreSQL cluster; as root, its commands run as the `postgres` user."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        self.data = directory / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *args: str) -> None:
        assert PG_BIN is not None
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.directory / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    directory = Path(tempfile.mkdtemp(prefix="relay-pg-"))
    cluster = Cluster(directory, _free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def server(cluster: Cluster, tmp_path: Path) -> Iterator[str]:
    """Relay (API and in-process worker) on loopback, against the private cluster."""
    migrate.upgrade(cluster.url)
    settings = Settings(
        database_url=cluster.url,
        data_dir=tmp_path,
        admin_token=ADMIN_TOKEN,
        zendesk_webhook_secret=WEBHOOK_SECRETS["zendesk"],
        log_json=False,
        worker_poll_seconds=0.05,
        worker_lease_seconds=3,  # claims cut short by the outage are retaken soon after
        worker_backoff_base_seconds=0.1,
        worker_backoff_max_seconds=1,
        _env_file=None,  # type: ignore[call-arg]
    )
    # The suite's classifier is already in use: no model to load.
    app = create_app(settings, run_worker=True, load_model=False)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    _wait_for(lambda: _healthy(base), timeout=60)
    yield base
    uvicorn_server.should_exit = True
    thread.join(timeout=60)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_for(predicate: Callable[[], bool], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")


def _post(base: str, ticket: int, event_id: str) -> int:
    body = zendesk_event(
        "created", ticket_id=ticket, event_id=event_id, time="2026-11-02T01:00:00Z"
    )
    headers = signed("zendesk", body, WEBHOOK_SECRETS["zendesk"])
    # Bounded: an answer (of any kind) must come; a hang fails the test.
    response = httpx.post(f"{base}/webhooks/zendesk", content=body, headers=headers, timeout=60)
    return response.status_code


def test_webhooks_answer_503_while_postgres_is_down_and_nothing_acknowledged_is_lost(
    cluster: Cluster, server: str
) -> None:
    acknowledged: dict[str, int] = {}
    for n in range(10):
        assert _post(server, 500 + n, f"before-{n}") == 202
        acknowledged[f"before-{n}"] = 500 + n

    cluster.stop()
    during = [_post(server, 600 + n, f"during-{n}") for n in range(5)]
    assert during == [503] * 5

    cluster.start()
    # The sender retries what got a 503; new events flow as before.
    _wait_for(lambda: _post(server, 600, "during-0") == 202, timeout=60)
    acknowledged["during-0"] = 600
    for n in range(1, 5):
        assert _post(server, 600 + n, f"during-{n}") == 202
        acknowledged[f"during-{n}"] = 600 + n
    for n in range(10):
        assert _post(server, 700 + n, f"after-{n}") == 202
        acknowledged[f"after-{n}"] = 700 + n

    database = Database(cluster.url)
    try:
        _wait_for(lambda: _all_handled(database, set(acknowledged)), timeout=90)
        with database.session() as session:
            tickets = set(
                session.scalars(select(Feedback.external_id).where(Feedback.source == "zendesk"))
            )
            quarantined = session.scalar(
                select(func.count()).where(InboxEvent.status == EventStatus.QUARANTINED)
            )
        assert tickets == {f"zendesk:{t}" for t in acknowledged.values()}
        assert quarantined == 0
    finally:
        database.dispose()


def _all_handled(database: Database, keys: set[str]) -> bool:
    with database.session() as session:
        rows = session.execute(
            select(InboxEvent.delivery_key, InboxEvent.status).where(InboxEvent.source == "zendesk")
        ).all()
    stored = {key: status for key, status in rows}
    return set(stored) == keys and all(s == EventStatus.HANDLED for s in stored.values())
