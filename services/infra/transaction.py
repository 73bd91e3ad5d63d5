"""One transaction per use case: commit once at the end, or roll back everything (files included).

A use case writes inside ``unit_of_work()`` (or ``locking.locked()`` / ``exclusive()``, which are units of
work holding a lock): its changes commit when the block ends and roll back if it raises, and what it wrote
beside the database (an image's files, an evidence file) registers its own removal with ``on_rollback``.
Views, the CLI and the services commit nowhere else. Ending a transaction that has only read commits
nothing: ``end_reads()`` does it, and refuses a session holding changes (PendingChanges), for code that
must begin a transaction of its own (locked(): the lock is taken as it begins; completions.record: a long
check that should not hold SQLite's write lock; the API: its token check, before a large body is read).

The commits left outside a unit of work, each for a reason:

- seeding/demo.py (reference data, then the bases and their courses, then the regulators' data),
  seeding/history.py (a year behind the demo, stage by stage, some rows back-dated where no use case may) and
  seeding/benchdata.generate (what the session held, before it writes through a connection of its own):
  generators run from the command line, committing stage by stage.
- The tests' fixtures and factories (tests/conftest.py), which store what a test then reads.

Calls that run more than one unit of work, each for a reason:

- An event recorded whatever became of the use case: audit.record_now (a refusal, a failed sign-in,
  completions pushed and refused) and audit.record_repeatable (a refused page, an ID number shown) roll back
  what the session held and write the entry in a transaction of their own, after or instead of the change.
- Bookkeeping beside a read: api_tokens.authenticate notes a token's last use (at most every few minutes)
  in its own short write, begun as a writer, before the request's own work.
- Batches: courses.reindex_search commits per batch of courses, so that a run over every course neither
  holds one transaction for minutes nor starts over when it stops; deadline_reminders.remind commits per
  batch of learners, each batch's notices fanned out after its own commit.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction

from extensions import db

_ROLLBACK_HOOKS = "jidi_on_rollback"
_WROTE_IN = "jidi_wrote_in"


class PendingChanges(RuntimeError):
    """A programming error: a new transaction was asked for while the session held changes that only the
    unit of work they belong to may commit or roll back."""


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit when the block ends; on any error roll back (running the ``on_rollback`` hooks) and re-raise."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def on_rollback(callback: Callable[[], object]) -> None:
    """Run ``callback`` if the transaction under way rolls back, whoever rolls it back; forget it when it
    commits. For what a use case writes outside the database (an image's files) before its rows commit."""
    db.session.info.setdefault(_ROLLBACK_HOOKS, []).append(callback)


@event.listens_for(Session, "after_commit")
def _forget_hooks(session: Session) -> None:
    session.info.pop(_ROLLBACK_HOOKS, None)


@event.listens_for(Session, "after_soft_rollback")
def _run_hooks(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.nested or previous_transaction.parent is not None:
        return  # a savepoint or an inner block: the transaction itself goes on
    for callback in session.info.pop(_ROLLBACK_HOOKS, []):
        callback()


def _unflushed(session: Session) -> bool:
    """Objects added, deleted, or changed (an attribute set to the value it had is no change)."""
    return bool(session.new or session.deleted) or any(session.is_modified(obj) for obj in session.dirty)


# "Flushed but not committed": an INSERT, UPDATE or DELETE sent in the transaction under way, whether by a
# flush or as a statement. Kept as the transaction object itself, so that it needs no clearing.
@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context: UOWTransaction) -> None:
    if _unflushed(session):  # still the state before the flush, here
        session.info[_WROTE_IN] = session.get_transaction()


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE_IN] = state.session.get_transaction()


def has_changes(session: Session | None = None) -> bool:
    """Whether the session holds changes: objects added, deleted or changed and not yet flushed, or writes
    flushed in the transaction under way and not yet committed."""
    session = session or db.session()
    transaction = session.get_transaction()
    return (transaction is not None and session.info.get(_WROTE_IN) is transaction) or _unflushed(session)


def end_reads() -> None:
    """End the transaction under way, which has only read (rolled back: there is nothing to keep), so that
    the next statement begins a new one.

    :raise PendingChanges: the session holds changes (``has_changes``); nothing is ended.
    """
    if has_changes():
        raise PendingChanges("a new transaction was asked for with changes pending: write them in the use "
                             "case's unit of work, which commits them once")
    db.session.rollback()


# SQLSTATEs of transactions PostgreSQL abandoned so that others could go on: retrying is the remedy.
TRANSIENT_SQLSTATES = {"40001": "serialization failure", "40P01": "deadlock", "55P03": "lock not available"}


def transient_state(error: BaseException) -> str | None:
    """What made the database give up on the transaction (an OperationalError), if retrying may succeed;
    else None."""
    original = getattr(error, "orig", None)
    state = getattr(original, "sqlstate", None)
    if state in TRANSIENT_SQLSTATES:
        return TRANSIENT_SQLSTATES[state]
    if "database is locked" in str(original):  # SQLite: another writer held the lock past busy_timeout
        return "database is locked"
    return None


def give_up(error: BaseException) -> str | None:
    """Roll back a transaction the database abandoned; what made it give up (``transient_state``), for the
    web layer's warning as it answers 503 and asks for the request again."""
    db.session.rollback()
    return transient_state(error)
