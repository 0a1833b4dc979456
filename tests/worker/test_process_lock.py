"""SQLite's one writer across processes: the API and a `relay worker` queue in the kernel,
and a long writer sees that another process waits (so it commits early)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest

from service.db import Database
from service.inbox.writer import NewEvent, store_events

HOLDER = textwrap.dedent(
    """
    import sys, time
    from service.db import Database
    database = Database(sys.argv[1])
    with database.session():
        print("held", flush=True)
        deadline = time.monotonic() + 20
        while not database.writers_waiting() and time.monotonic() < deadline:
            time.sleep(0.01)
        print("waiter seen" if database.writers_waiting() else "no waiter", flush=True)
        time.sleep(0.3)
        print("releasing", flush=True)
    database.dispose()
    """
)


def test_a_writer_in_another_process_is_waited_for_and_sees_the_waiter(
    database_url: str, db: Database
) -> None:
    if not db.is_sqlite:
        pytest.skip("PostgreSQL has no single writer")
    assert not db.writers_waiting()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, database_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(holder.stdout or []))
        reader.start()
        started = time.monotonic()
        with db.session() as session:  # queues behind the other process, in the kernel
            store_events(session, events=[NewEvent("test", "k1", "t", "{}")])
        waited = time.monotonic() - started
        reader.join(timeout=20)
    finally:
        holder.wait(timeout=20)
    assert [line.strip() for line in lines] == ["waiter seen", "releasing"]
    assert waited >= 0.3  # it could not write before the other process let go
    assert not db.writers_waiting()
