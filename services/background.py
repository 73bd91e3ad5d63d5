"""Long work a page asks for and then follows (a province's evaluation, an official table as a file): a
JobRecord the requester watches on a page, run by the queue's ``services.jobs.background_job`` as the requester.

The kinds of work are declared with ``@work(name)`` (services.long_work): a function of the requester and the
job's params (JSON, no personal data) that returns a small JSON result ({"evaluation_id": 5}, {"file": …}).
A job runs at most once to its end: the task claims the record first, and a record already done (or failed
for good) is not run again, whatever reruns the queue makes.
"""

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app

from extensions import db
from models import JobRecord, JobStatus, User
from models._common import utcnow
from services import policies
from services.actors import Actor
from services.infra.queue import enqueue_after_commit
from services.infra.transaction import unit_of_work

Work = Callable[[User, dict[str, Any]], dict[str, Any]]
WORK: dict[str, Work] = {}
# Files a job wrote (an export) are kept this long, then removed by services.jobs.sweep_job_files.
KEEP_FILES = timedelta(days=7)
FINISHED = (JobStatus.DONE, JobStatus.FAILED)
# A job queued this long and never started has lost its task (services.jobs.sweep_lost_jobs).
LOST_AFTER = timedelta(minutes=15)
# A job running this long was left by a worker that stopped (a province's evaluation takes minutes at most).
STUCK_AFTER = timedelta(hours=2)


def work(name: str) -> Callable[[Work], Work]:
    """Declare the function below as the work done by jobs called ``name``."""
    def declare(function: Work) -> Work:
        WORK[name] = function
        return function
    return declare


def request_job(actor: Actor, name: str, params: dict[str, Any]) -> JobRecord:
    """Record a job for ``actor`` (queued) and enqueue its running once this is committed.

    :raise KeyError: no work of that name.
    """
    # services.jobs declares the task and imports this module (for the work's kinds): imported here.
    from services.jobs import background_job

    if name not in WORK:
        raise KeyError(name)
    with unit_of_work():
        job = JobRecord(name=name, status=JobStatus.QUEUED, requested_by_id=actor.id,
                        params=json.dumps(params, ensure_ascii=False, sort_keys=True))
        db.session.add(job)
        db.session.flush()
        enqueue_after_commit(db.session(), background_job.s(job.id))
    return job


# --- what the task does (services.jobs.background_job) ----------------------------------------------------------

def start(job_id: int) -> JobRecord | None:
    """Claim the job for this attempt (running, one more attempt); None if it is not waiting to run (done,
    failed for good, running in another worker, or gone): then there is nothing to do. One UPDATE, so that
    of two workers given the same job only one claims it."""
    with unit_of_work():
        claimed = db.session.execute(
            sa.update(JobRecord)
            .where(JobRecord.id == job_id, JobRecord.status == JobStatus.QUEUED)
            .values(status=JobStatus.RUNNING, attempts=JobRecord.attempts + 1, started_at=utcnow())
        )
    if claimed.rowcount == 0:  # type: ignore[attr-defined]
        return None
    return db.session.get(JobRecord, job_id, populate_existing=True)


def perform(job: JobRecord) -> dict[str, Any]:
    """Do the job's work as its requester; what it raises is the attempt's failure.

    :raise LookupError: the requester's account is gone or disabled (nobody to do it for).
    """
    requester = db.session.get(User, job.requested_by_id) if job.requested_by_id is not None else None
    if requester is None or not requester.active:
        raise LookupError("the account that asked for the job is gone or disabled")
    return WORK[job.name](requester, json.loads(job.params or "{}"))


def lost(older_than: timedelta = LOST_AFTER) -> list[int]:
    """Jobs whose task is lost, for services.jobs.sweep_lost_jobs to queue again: recorded but never started
    for ``older_than`` (the queue's store was down at the commit, services.infra.queue), or left running
    for STUCK_AFTER by a worker that stopped (put back in the queue here). A job waiting for its retry has
    had an attempt and is not among them."""
    with unit_of_work():
        db.session.execute(
            sa.update(JobRecord)
            .where(JobRecord.status == JobStatus.RUNNING, JobRecord.started_at < utcnow() - STUCK_AFTER)
            .values(status=JobStatus.QUEUED, attempts=0, error="the worker running it stopped")
        )
    return list(db.session.execute(
        sa.select(JobRecord.id).where(JobRecord.status == JobStatus.QUEUED, JobRecord.attempts == 0,
                                      JobRecord.requested_by_id.is_not(None),
                                      JobRecord.created_at < utcnow() - older_than)
        .order_by(JobRecord.id).limit(1000)
    ).scalars())


def finish(job_id: int, result: dict[str, Any]) -> None:
    with unit_of_work():
        db.session.execute(sa.update(JobRecord).where(JobRecord.id == job_id).values(
            status=JobStatus.DONE, result=json.dumps(result, ensure_ascii=False), error="", finished_at=utcnow()))


def record_error(job_id: int, error: str, final: bool) -> None:
    """An attempt failed with ``error`` (services.jobs.describe: no address or phone in it): the job waits for
    its retry (queued, the reason shown), or, with none left, has failed."""
    db.session.rollback()  # whatever the work left half-done in the session
    values: dict[str, Any] = {"status": JobStatus.FAILED if final else JobStatus.QUEUED, "error": error[:500]}
    if final:
        values["finished_at"] = utcnow()
    with unit_of_work():
        db.session.execute(sa.update(JobRecord).where(JobRecord.id == job_id).values(**values))


# --- what the requester sees ---------------------------------------------------------------------------------

def job_of(actor: Actor, job_id: int) -> JobRecord | None:
    """The job if the actor may follow it (policies.may_follow_job: the one who asked for it), else None (404)."""
    job = db.session.get(JobRecord, job_id)
    if job is None or not policies.may_follow_job(actor, job):
        return None
    return job


@dataclass(frozen=True)
class JobLine:
    id: int
    title: str
    status: JobStatus


def recent_jobs(actor: Actor, limit: int = 5) -> list[JobLine]:
    """The newest jobs the actor asked for, with their titles (one query)."""
    jobs = db.session.execute(
        sa.select(JobRecord).where(JobRecord.requested_by_id == actor.id).order_by(JobRecord.id.desc()).limit(limit)
    ).scalars()
    return [JobLine(job.id, str(params_of(job).get("title") or job.name), job.status) for job in jobs]


def params_of(job: JobRecord) -> dict[str, Any]:
    return json.loads(job.params or "{}")


def result_of(job: JobRecord) -> dict[str, Any]:
    return json.loads(job.result or "{}") if job.status == JobStatus.DONE else {}


def folder() -> Path:
    """Where jobs write their files: JOB_FILES_FOLDER, by default a ``jobs`` folder beside the uploads."""
    configured = current_app.config.get("JOB_FILES_FOLDER")
    return Path(configured) if configured else Path(current_app.config["UPLOAD_FOLDER"]).parent / "jobs"


def write_file(data: bytes, suffix: str) -> str:
    """Store a job's file under a name nobody can guess; its name (not a path) for the job's result."""
    where = folder()
    where.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}{suffix}"
    partial = where / f".{name}.part"
    partial.write_bytes(data)
    partial.replace(where / name)  # whole or not at all: a download never reads half a file
    return name


def file_of(actor: Actor, job_id: int) -> tuple[Path, str] | None:
    """The file a done job wrote and the name to download it as, for the one who asked for it; None when
    there is none for them: another's job, not done, no file, or removed after KEEP_FILES (the view: 404)."""
    job = job_of(actor, job_id)
    result = result_of(job) if job is not None else {}
    stored = result.get("file")
    if not isinstance(stored, str) or Path(stored).name != stored:
        return None
    path = folder() / stored
    return (path, str(result.get("name") or stored)) if path.is_file() else None


def remove_old_files() -> int:
    """Remove the job files older than KEEP_FILES (and any partial file left by a dead worker); how many."""
    where = folder()
    if not where.is_dir():
        return 0
    cutoff = time.time() - KEEP_FILES.total_seconds()
    removed = 0
    for path in where.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
