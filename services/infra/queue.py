"""The task queue (Huey): one instance per process, chosen by the environment, and jobs enqueued only once the
transaction that asked for them has committed.

Huey rather than Celery or RQ (docs/DEPLOY.md says more): it stores its queue in Redis in production and in a
SQLite file for ``make run`` (no broker to install), runs periodic jobs declared in code (crontab) with the
same consumer, retries with a delay, and is one small pure-Python package. Celery would bring a broker and a
separate scheduler (beat) for the same; RQ has no embedded store and no scheduler without another package.

``JIDI_JOBS`` chooses the store: ``redis`` (REDIS_URL; the default when REDIS_URL is set), ``sqlite`` (a file in
the instance folder; the default otherwise) or ``memory`` (the tests, which run what is queued with
``run_queued``). The choice is read when this module is first imported, as the consumer
(``huey_consumer services.jobs.huey``) imports it too.
"""

import functools
import importlib
import logging
import os
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import Flask, has_app_context
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Task
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from config import INSTANCE
from services.infra.transaction import end_reads

log = logging.getLogger(__name__)

_AFTER_COMMIT = "jidi_jobs_after_commit"
_T = TypeVar("_T")


def _make_huey() -> Huey:
    backend = os.environ.get("JIDI_JOBS") or ("redis" if os.environ.get("REDIS_URL") else "sqlite")
    if backend == "memory":
        return MemoryHuey("jidi", utc=True)
    if backend == "redis":
        return RedisHuey("jidi", url=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0", utc=True)
    if backend == "sqlite":
        INSTANCE.mkdir(parents=True, exist_ok=True)
        return SqliteHuey("jidi", filename=str(INSTANCE / "jobs.sqlite3"), utc=True)
    raise RuntimeError(f"JIDI_JOBS: expected redis, sqlite or memory, got {backend!r}")


huey = _make_huey()

_worker_app: Flask | None = None


def _app() -> Flask:
    """The app a consumer's jobs run in: made once per process, from the environment like a web worker's."""
    global _worker_app
    if _worker_app is None:
        # Imported by name: the domain does not depend on the web layer (nor does its type check follow it).
        _worker_app = importlib.import_module("app").create_app()
        _log_services()
    return _worker_app


def _log_services() -> None:
    """A consumer configures Huey's logger only: the jobs' own lines (a mail or text message the development
    backends write to the log, a job that failed) go to the same stream, at INFO, unless logging is set up."""
    services = logging.getLogger("services")
    if services.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s:%(name)s:%(message)s"))
    services.addHandler(handler)
    services.setLevel(logging.INFO)


def in_app(function: Callable[..., _T]) -> Callable[..., _T]:
    """Run ``function`` in an app context: the caller's when there is one (a test running the queue), else the
    consumer's own app; the session is removed afterwards, as at the end of a request."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> _T:
        if has_app_context():
            return function(*args, **kwargs)
        with _app().app_context():
            from extensions import db
            from services.infra.locking import writing

            try:
                # On SQLite (make run) the job's transactions take the write lock as they begin: one that read
                # first would fail on its first write ("database is locked": a deferred transaction cannot wait
                # to upgrade) whenever the site or another worker thread writes. No effect on PostgreSQL.
                with writing():
                    return function(*args, **kwargs)
            finally:
                db.session.remove()
    return wrapper


def enqueue_after_commit(session: Session, task: Task) -> None:
    """Enqueue ``task`` when the session's transaction under way commits; forget it if it rolls back. A job
    never runs before the rows it reads exist, nor for a change that was undone."""
    session.info.setdefault(_AFTER_COMMIT, []).append(task)


def enqueue_all(tasks: Iterable[Task]) -> None:
    for task in tasks:
        huey.enqueue(task)


# Each hook that collects jobs from what a flush wrote (services.messaging: new notices) registers here and is
# asked for its tasks at the commit.
_COMMIT_COLLECTORS: list[Callable[[Session], list[Task]]] = []


def collect_at_commit(collector: Callable[[Session], list[Task]]) -> Callable[[Session], list[Task]]:
    _COMMIT_COLLECTORS.append(collector)
    return collector


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    tasks = session.info.pop(_AFTER_COMMIT, [])
    for collector in _COMMIT_COLLECTORS:
        tasks.extend(collector(session))
    if not tasks:
        return
    try:
        enqueue_all(tasks)
    except Exception:  # the queue's store is down: the outbox sweep (services.jobs) sends what is left
        log.exception("could not enqueue %d job(s) after a commit; the periodic sweep will pick them up", len(tasks))


@event.listens_for(Session, "after_soft_rollback")
def _forget_jobs(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.nested or previous_transaction.parent is not None:
        return
    session.info.pop(_AFTER_COMMIT, None)
    for collector in _COMMIT_COLLECTORS:
        collector(session)  # emptied, not enqueued


def run_queued(limit: int = 10_000) -> int:
    """Run what is queued, retries that are due included, in this process and app context, until nothing
    is left (or ``limit`` tasks ran): how the tests and ``flask jobs run-queued`` drain a queue without a
    consumer. Retries scheduled for later are run at once. Returns how many tasks ran."""
    ran = 0
    while ran < limit:
        task = huey.dequeue()
        if task is None:
            due = huey.read_schedule(_far_future())
            if not due:
                break
            for later in due:
                later.eta = None  # due now: huey.execute would otherwise put it back on the schedule
                huey.enqueue(later)
            continue
        # Each task begins as a worker's would, with no transaction open: a read left open by the caller would
        # make the task's first write fail on SQLite whenever another thread (the site) wrote in between.
        end_reads()
        huey.execute(task)
        ran += 1
    return ran


def _far_future() -> datetime:
    return datetime.utcnow() + timedelta(days=3650)  # noqa: DTZ003  Huey's schedule is naive UTC (utc=True)
