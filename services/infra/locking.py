"""Serialising the writes that must not interleave, such as taking the last seat of a course.

SQLite: the write lock is taken when the transaction starts (BEGIN IMMEDIATE), so two transactions never
both read a free seat; waiting writers queue on busy_timeout instead of failing with "database is locked".
Every transaction of a request that may write (POST and the like) begins that way too: a transaction that
reads first and writes later cannot wait for the lock in WAL mode and would fail at once under load.
Reads (GET) begin deferred and run beside the writer. Which requests may write is the web layer's to say:
app.py installs the transactions with a predicate that reads the request (the domain never does), and a
view whose writes all take the lock here as they begin (``locked()`` and the like) lets the rest of its
request begin deferred (blueprints.transactions.writes_only_under_own_lock).
A long check that only reads, inside a POST, may say so (``reading()``) to run beside the writer instead.
PostgreSQL: the row is locked with SELECT ... FOR NO KEY UPDATE; a write that checks a whole set of rows
rather than one (the holiday calendar) takes a transaction-level advisory lock instead (``exclusive()``), and a
write that only reads that set takes its shared form (``shared()``).
"""

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm.interfaces import ORMOption

from extensions import db
from services.infra.transaction import end_reads, unit_of_work

_immediate = ContextVar("sqlite_begin_immediate", default=False)
_deferred = ContextVar("sqlite_begin_deferred", default=False)


def install_sqlite_transactions(engine: Engine, may_write: Callable[[], bool] = lambda: False) -> None:
    """Let SQLAlchemy, not the sqlite3 module, open transactions, so that we choose how they begin:
    IMMEDIATE inside ``writing()``, and wherever ``may_write()`` is true (asked as each transaction begins:
    app.py says so of a request that is not a GET, HEAD or OPTIONS) unless inside ``reading()``; else deferred.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers run beside a writer; foreign keys are off in SQLite unless asked for.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = _immediate.get() or (may_write() and not _deferred.get())
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def writing() -> Iterator[None]:
    """Transactions begun inside the block take SQLite's write lock when they begin (BEGIN IMMEDIATE), so
    a write made during a GET waits its turn instead of failing at once with "database is locked"."""
    token = _immediate.set(True)
    try:
        yield
    finally:
        _immediate.reset(token)


@contextmanager
def reading() -> Iterator[None]:
    """Transactions begun inside the block begin deferred even in a POST: for checks that only read, and
    whose writes come later in a transaction of their own (``locked()`` ends the reads before it locks), so
    that on SQLite a long check does not hold the write lock the site's other writers wait for."""
    token = _deferred.set(True)
    try:
        yield
    finally:
        _deferred.reset(token)


@contextmanager
def locked(model: type[Any], object_id: int, *options: ORMOption) -> Iterator[Any]:
    """Run the block as one unit of work holding the write lock for one row, which it yields, fresh.

    The transaction the session had open is ended first: it may have read (a view loads the object and its
    user) but not written, since its writes would belong to no unit of work; one that holds changes is a
    programming error (transaction.PendingChanges, raised before anything is ended or locked). The block's
    changes commit when it ends and roll back if it raises; the lock lasts until then. ``options`` load
    related rows in the same query (they are read, not locked).

    On PostgreSQL the lock is FOR NO KEY UPDATE, the one an UPDATE takes: it keeps out other writers of the
    row but not the inserts of rows that refer to it (an audit entry naming the base, an enrollment of the
    course), which FOR UPDATE would make wait, and which deadlocked with a transaction holding a row of the
    other kind (a course locked, then an audit entry for its base inserted).
    """
    row = _begin_writing(
        sa.select(model).where(model.id == object_id).options(*options).with_for_update(of=model, key_share=True)
        .execution_options(populate_existing=True)
    ).unique().scalar_one_or_none()
    with unit_of_work():
        yield row


def _begin_writing(statement: sa.Executable) -> sa.Result[Any]:
    """End the reads the session had open (transaction.end_reads: refused if it holds changes), then begin
    a write transaction (IMMEDIATE on SQLite) with ``statement``, the one that takes the lock; its result.
    Rolled back if the statement fails."""
    end_reads()
    token = _immediate.set(True)
    try:
        return db.session.execute(statement)
    except BaseException:
        db.session.rollback()
        raise
    finally:
        _immediate.reset(token)


def _advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (pg_advisory_xact_lock takes a bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(name: str) -> Iterator[None]:
    """Run the block as one unit of work that no other block holding ``name`` runs beside: for a use case
    that checks a set of rows and then writes it (a schedule confirmed against the calendar as previewed),
    where no single row stands for the set and two checks could both pass before either writes.

    The reads the session had open are ended first, as by ``locked()``, so that the block reads after the
    lock. SQLite: the transaction begins IMMEDIATE, holding the database's write lock. PostgreSQL:
    pg_advisory_xact_lock on a key of ``name``, released at commit or rollback; a block that waited then
    reads what the first one committed (READ COMMITTED reads afresh at each statement). The block's changes
    commit when it ends and roll back if it raises.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        _begin_writing(sa.select(sa.func.pg_advisory_xact_lock(_advisory_key(name))))
    else:
        _begin_writing(sa.select(1))  # begins the transaction, IMMEDIATE
    with unit_of_work():
        yield


def shared(name: str) -> None:
    """Hold, until the transaction under way ends, the shared form of ``exclusive(name)``'s lock: for a write
    that reads the set ``exclusive(name)`` checks and writes (a review deadline counted on the calendar), so that
    it waits while such a block runs and holds the next one off until it commits; many run beside each other.

    PostgreSQL: pg_advisory_xact_lock_shared on the same key, taken in the transaction as it is (nothing is
    committed first: it is the caller's, and commits with its write). SQLite: nothing to take, since a
    request that writes begins IMMEDIATE and holds the database's write lock, which ``exclusive()`` takes too.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(_advisory_key(name))))
