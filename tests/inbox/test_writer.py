"""The group-commit writer: batches, answers, and its sign of a burst."""

from __future__ import annotations

import asyncio
import json
import threading

from service.db import Database
from service.demo import inbox_event
from service.inbox.writer import InboxWriter, NewEvent, Stored, _answer
from tests.signing import zendesk_event


def _event(n: int) -> NewEvent:
    body = zendesk_event("created", ticket_id=n, event_id=f"w{n}", time="2026-11-01T10:00:00Z")
    return inbox_event(json.loads(body))


async def _store_all(writer: InboxWriter, events: list[NewEvent]) -> list[Stored]:
    return list(await asyncio.gather(*(writer.store(e) for e in events)))


def test_deliveries_queued_behind_a_commit_share_the_next_one(db: Database) -> None:
    writer = InboxWriter(db)
    try:
        stored = asyncio.run(_store_all(writer, [_event(1)]))
        assert not stored[0].duplicate
        assert not writer.queueing()  # one delivery at a time is no burst

        release = threading.Event()

        def hold_the_writer() -> None:
            with db.session():  # SQLite: the writer lock; PostgreSQL: nothing to wait for
                release.wait(5)

        holder = threading.Thread(target=hold_the_writer)
        holder.start()
        try:

            async def burst() -> list[Stored]:
                task = asyncio.ensure_future(_store_all(writer, [_event(n) for n in (2, 3, 4)]))
                await asyncio.sleep(0.2)  # all three queue while the holder writes
                release.set()
                return await task

            stored = asyncio.run(burst())
        finally:
            release.set()
            holder.join()
        assert [s.duplicate for s in stored] == [False, False, False]
        if db.is_sqlite:
            assert writer.queueing()
    finally:
        writer.close()


def test_a_cancelled_request_does_not_keep_the_others_from_their_answers() -> None:
    async def scenario() -> tuple[bool, Stored]:
        loop = asyncio.get_running_loop()
        gone: asyncio.Future[Stored] = loop.create_future()
        waiting: asyncio.Future[Stored] = loop.create_future()
        gone.cancel()  # the client hung up while its delivery was being committed
        answered = Stored(id="ibx_1", duplicate=False)
        thread = threading.Thread(
            target=_answer,
            args=([(gone, Stored(id="ibx_0", duplicate=False)), (waiting, answered)],),
        )
        thread.start()
        thread.join()
        return gone.cancelled(), await asyncio.wait_for(waiting, 5)

    cancelled, result = asyncio.run(scenario())
    assert cancelled and result.id == "ibx_1"
