"""A worker process for the kill test: `ingest.zendesk` pauses mid-transaction when told to.

Run as `python -m tests.worker.slow_worker <pause seconds>` with RELAY_* in the environment.
The pause happens after the record is written but before the transaction commits, so a
SIGKILL during it is a worker dying mid-event.
"""

from __future__ import annotations

import sys
import threading
import time

from sqlalchemy.orm import Session

from service.config import get_settings
from service.db import Database
from service.inbox import tasks as inbox_tasks
from service.inbox.models import InboxEvent
from service.worker.registry import HANDLERS
from service.worker.runner import Worker, run_until_stopped


def main() -> None:
    pause = float(sys.argv[1])

    def slow_ingest(session: Session, event: InboxEvent) -> str:
        outcome = inbox_tasks.ingest(session, event)
        session.flush()
        print(f"in-event {event.id}", flush=True)
        time.sleep(pause)
        return outcome

    HANDLERS["ingest.zendesk"] = slow_ingest
    settings = get_settings()
    run_until_stopped(Worker(Database(settings.database_url), settings), threading.Event())


if __name__ == "__main__":
    main()
