"""Which commits wait for the disk: the receiver's always, the worker's (re-doable) not."""

from __future__ import annotations

from sqlalchemy import text

from service.db import Database


def _setting(database: Database, *, durable: bool) -> str:
    with database.session(durable=durable) as session:
        if database.is_sqlite:
            # 2 = FULL (fsync on every commit), 1 = NORMAL (WAL synced at checkpoints)
            return str(session.execute(text("PRAGMA synchronous")).scalar_one())
        return str(session.execute(text("SHOW synchronous_commit")).scalar_one())


def test_default_sessions_wait_for_the_disk_and_relaxed_ones_do_not(db: Database) -> None:
    if db.is_sqlite:
        assert (_setting(db, durable=True), _setting(db, durable=False)) == ("2", "1")
    else:
        assert (_setting(db, durable=True), _setting(db, durable=False)) == ("on", "off")
    # A relaxed transaction leaves nothing behind on the connection it used.
    assert _setting(db, durable=True) == ("2" if db.is_sqlite else "on")


def test_a_relaxed_commit_is_seen_by_the_next_transaction(db: Database) -> None:
    with db.session(durable=False) as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS durability_probe (n INTEGER)"))
        session.execute(text("INSERT INTO durability_probe VALUES (1)"))
    with db.session() as session:
        assert session.execute(text("SELECT count(*) FROM durability_probe")).scalar_one() == 1
        session.execute(text("DROP TABLE durability_probe"))
