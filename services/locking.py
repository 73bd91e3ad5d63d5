"""Serialising the writes that must not interleave, such as taking the last seat of a course.

SQLite: the write lock is taken when the transaction starts (BEGIN IMMEDIATE), so two transactions never
both read a free seat; waiting writers queue on busy_timeout instead of failing with "database is locked".
Every transaction of a request that may write (POST and the like) begins that way too: a transaction that
reads first and writes later cannot wait for the lock in WAL mode and would fail at once under load.
Reads (GET) begin deferred and run beside the writer.
PostgreSQL: the course row is locked with SELECT ... FOR UPDATE.
"""

from contextlib import contextmanager
from contextvars import ContextVar

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy import event

from extensions import db
from services.transaction import unit_of_work

_immediate = ContextVar("sqlite_begin_immediate", default=False)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def install_sqlite_transactions(engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, open transactions, so that we choose how they begin."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers run beside a writer; foreign keys are off in SQLite unless asked for.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        writing = has_request_context() and request.method not in SAFE_METHODS
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing or _immediate.get() else "BEGIN")


@contextmanager
def writing():
    """Transactions begun inside the block take SQLite's write lock when they begin (BEGIN IMMEDIATE), so
    a write made during a GET waits its turn instead of failing at once with "database is locked"."""
    token = _immediate.set(True)
    try:
        yield
    finally:
        _immediate.reset(token)


@contextmanager
def locked(model, object_id: int, *options):
    """Run the block as one unit of work holding the write lock for one row, which it yields, fresh.

    Whatever the session had open is committed first (in a view it holds only reads). The block's
    changes commit when it ends and roll back if it raises; the lock lasts until then. ``options`` load
    related rows in the same query (they are read, not locked).
    """
    db.session.commit()
    token = _immediate.set(True)
    try:
        row = db.session.execute(
            sa.select(model).where(model.id == object_id).options(*options).with_for_update(of=model)
            .execution_options(populate_existing=True)
        ).unique().scalar_one_or_none()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        _immediate.reset(token)
    with unit_of_work():
        yield row
