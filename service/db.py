"""Engine, sessions and the declarative base shared by every domain's models."""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSON everywhere, JSONB on Postgres (indexable, compact).
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def session_cache(session: Session, name: str) -> dict[Any, Any]:
    """A per-session dict for objects this unit of work created or looked up.

    Lets a batch find its own not-yet-flushed rows without a query (and so without an
    autoflush per event). Emptied on any rollback, savepoints included, because the
    pending objects it may hold are discarded then.
    """
    caches: dict[str, dict[Any, Any]] = session.info.setdefault("relay_caches", {})
    return caches.setdefault(name, {})


def forget_session_caches(session: Session) -> None:
    """Empty every `session_cache` (also due after `expunge_all`: the objects they hold
    would be detached, and changes to them never written)."""
    session.info.pop("relay_caches", None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_caches(session: Session, _previous: Any) -> None:
    forget_session_caches(session)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


B = TypeVar("B", bound=Base)


def new_row(model: type[B], **values: Any) -> B:
    """A new object of `model` for the session to INSERT, built without attribute events.

    The mapped constructor sends each value through SQLAlchemy's attribute events: for a
    record's two dozen columns, ~35 µs of the ~350 µs that folding a ticket's event took,
    twice per record (the preview and the write). A pending object's INSERT reads its
    values from the state's dict, which is where these go; later changes to the object go
    through the events as usual.
    """
    unknown = values.keys() - _column_keys(model)
    if unknown:  # as the constructor would: a misspelt column must not vanish silently
        raise TypeError(f"{model.__name__} has no columns {sorted(unknown)}")
    row: B = model.__mapper__.class_manager.new_instance()
    row.__dict__.update(values)
    return row


@cache
def _column_keys(model: type[Base]) -> frozenset[str]:
    return frozenset(model.__mapper__.column_attrs.keys())


def utcnow() -> datetime:
    return datetime.now(UTC)


IN_LIST_SIZE = 500  # ids per `IN (...)`: well under SQLite's and psycopg's parameter limits


def chunked(values: Sequence[T], size: int = IN_LIST_SIZE) -> Iterator[Sequence[T]]:
    """`values` in runs of `size`, for queries that look many ids up at once."""
    return (values[start : start + size] for start in range(0, len(values), size))


def new_id(prefix: str) -> str:
    """A readable, sortable-enough unique id such as `evt_3f2a…`."""
    return f"{prefix}_{uuid.uuid4().hex}"


def json_dumps(value: Any) -> str:
    """JSON columns' serializer: orjson, several times faster than the standard library's
    (each worker transaction writes every new record's lists and objects). Integer keys
    become strings as with `json.dumps`; numpy numbers are written as numbers; NaN, which
    is not JSON, becomes null."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


def _sqlite_connect(dbapi_connection: Any, _record: Any, *, synchronous: str = "FULL") -> None:
    # Let SQLAlchemy, not pysqlite, decide when a transaction starts, so that
    # BEGIN IMMEDIATE takes the write lock up front (no lock-upgrade failures).
    dbapi_connection.isolation_level = None
    # WAL lets readers run beside the one writer; synchronous=FULL makes every
    # commit durable across a power cut, which is what a 202 promises.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, *, read_only: bool = False, durable: bool = True) -> Engine:
    """An engine for `url` with the per-backend settings Relay relies on.

    On SQLite, `read_only` engines begin deferred transactions: in WAL mode they read a
    snapshot without waiting for, or blocking, the writer; `durable=False` ones commit
    without waiting for the disk (see `Database.session`).
    """
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20,
            max_overflow=20,
            json_serializer=json_dumps,
            json_deserializer=orjson.loads,
        )
        synchronous = "FULL" if durable else "NORMAL"
        event.listen(engine, "connect", partial(_sqlite_connect, synchronous=synchronous))
        event.listen(
            engine, "begin", _sqlite_begin_deferred if read_only else _sqlite_begin_immediate
        )
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
    )


def _sqlite_begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def _sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for an in-memory database)."""
    path = url.split("///", 1)[-1] if "///" in url else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path)


def _process_lock(url: str) -> ProcessWriterLock | None:
    """The cross-process writer lock of a SQLite file (none for an in-memory database)."""
    path = _sqlite_file(url)
    return ProcessWriterLock(path) if path is not None else None


def _ensure_sqlite_dir(url: str) -> None:
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


class FairLock:
    """A FIFO mutex: waiters are served in arrival order.

    threading.Lock lets a thread that releases and at once re-acquires (the worker,
    committing chunk after chunk) starve the others (webhook commits). Here the lock is
    handed directly to the longest waiter.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Event] = deque()

    def __enter__(self) -> None:
        with self._mutex:
            if not self._held:
                self._held = True
                return
            turn = threading.Event()
            self._waiters.append(turn)
        turn.wait()  # ownership is passed to us by the releasing thread

    def has_waiters(self) -> bool:
        return bool(self._waiters)

    def __exit__(self, *_exc: object) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()
            else:
                self._held = False


class ProcessWriterLock:
    """SQLite's one writer, shared by processes (the API and a `relay worker`).

    SQLite's own busy handler makes a waiting writer sleep and retry with back-off, which
    adds tens of milliseconds to a webhook's commit whenever another process writes. Here
    a writer takes an exclusive lock on `<db>.writer` before it begins, and the kernel
    wakes the next one the moment it is released. A process waiting for it holds a shared
    lock on `<db>.waiting`, so a long writer (the worker) can see that someone waits and
    commit early. The kernel drops both locks if a process dies.

    POSIX record locks (`lockf`) belong to the process: threads are ordered by the
    FairLock before they get here, and two Database objects of one process (tests) do
    not wait on each other here (SQLite's own locking still applies between them).
    """

    def __init__(self, database_path: Path) -> None:
        self._writer = os.open(f"{database_path}.writer", os.O_RDWR | os.O_CREAT, 0o600)
        self._waiting = os.open(f"{database_path}.waiting", os.O_RDWR | os.O_CREAT, 0o600)

    def __enter__(self) -> None:
        if _try_lock(self._writer):
            return
        fcntl.lockf(self._waiting, fcntl.LOCK_SH)
        try:
            fcntl.lockf(self._writer, fcntl.LOCK_EX)
        finally:
            fcntl.lockf(self._waiting, fcntl.LOCK_UN)

    def __exit__(self, *_exc: object) -> None:
        fcntl.lockf(self._writer, fcntl.LOCK_UN)

    def has_waiters(self) -> bool:
        """Whether another process waits to write."""
        if not _try_lock(self._waiting):
            return True
        fcntl.lockf(self._waiting, fcntl.LOCK_UN)
        return False

    def close(self) -> None:
        os.close(self._writer)
        os.close(self._waiting)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return False
        raise
    return True


class _WriterLocks:
    """Threads of this process in arrival order (FairLock), then the process-wide lock."""

    def __init__(self, threads: FairLock, processes: ProcessWriterLock | None) -> None:
        self.threads = threads
        self.processes = processes

    def __enter__(self) -> None:
        self.threads.__enter__()
        if self.processes is None:
            return
        try:
            self.processes.__enter__()
        except BaseException:
            self.threads.__exit__()
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            if self.processes is not None:
                self.processes.__exit__()
        finally:
            self.threads.__exit__()

    def has_waiters(self) -> bool:
        return self.threads.has_waiters() or (
            self.processes is not None and self.processes.has_waiters()
        )


class Database:
    """The engine and a session factory, built once per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.is_sqlite = url.startswith("sqlite")
        self._relaxed_engine = make_engine(url, durable=False) if self.is_sqlite else self.engine
        self._relaxed_sessionmaker = sessionmaker(self._relaxed_engine, expire_on_commit=False)
        self._read_engine = make_engine(url, read_only=True) if self.is_sqlite else self.engine
        # Never flushes: a read snapshot that wrote (a preparer folding a ticket into a
        # record it loaded) would ask SQLite to upgrade to the write lock, and fail.
        self._read_sessionmaker = sessionmaker(
            self._read_engine, expire_on_commit=False, autoflush=False
        )
        # SQLite has one writer. Threads of this process, then processes, queue here and
        # are woken the moment the writer finishes, instead of in SQLite's sleeping
        # busy-retry loop, whose back-off can add tens of milliseconds to every request.
        self._writer_locks = (
            _WriterLocks(FairLock(), _process_lock(url)) if self.is_sqlite else None
        )
        self._write_lock: AbstractContextManager[None] = self._writer_locks or nullcontext()

    @contextmanager
    def session(self, *, durable: bool = True) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on error.

        `durable=False` is for work that can be done again: the commit returns before the
        disk has it, so a power cut may undo it, never half of it, and never corrupts the
        database (SQLite WAL with synchronous=NORMAL; PostgreSQL synchronous_commit off).
        The worker's transactions are such work: an event's effects and its "handled" mark
        commit together, and an undone pair is handled again from its inbox row, which the
        receiver committed durably. On SQLite this spares the single writer an fsync
        (milliseconds) per worker transaction, during which the webhooks' commits wait.
        """
        maker = self.sessionmaker if durable else self._relaxed_sessionmaker
        with self._write_lock, maker() as session:
            try:
                if not durable and not self.is_sqlite:
                    session.execute(text("SET LOCAL synchronous_commit TO OFF"))
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def writers_waiting(self) -> bool:
        """Whether another thread or process waits to write (SQLite only)."""
        return self._writer_locks is not None and self._writer_locks.has_waiters()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only snapshot that neither waits for nor blocks writers; never commits."""
        with self._read_sessionmaker() as session:
            try:
                yield session
            finally:
                session.rollback()

    def dispose(self) -> None:
        self.engine.dispose()
        self._relaxed_engine.dispose()
        self._read_engine.dispose()
        if self._writer_locks is not None and self._writer_locks.processes is not None:
            self._writer_locks.processes.close()
            self._writer_locks.processes = None
