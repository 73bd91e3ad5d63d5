"""The jobs the task queue runs (services.infra.queue), and the periodic ones, declared here in code.

Run a consumer beside the web workers: ``huey_consumer services.jobs.huey -k thread -w 4`` (docs/DEPLOY.md;
``make run`` starts one). Importing this module registers the tasks and the hooks that enqueue them after a
commit; the app imports it (app.register_jobs), so does the consumer.
"""

import json
import logging
import re
from collections.abc import Sequence
from datetime import date

from huey import crontab
from huey.api import Task
from huey.signals import SIGNAL_ERROR
from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction

from extensions import db
from models import JobRecord, JobStatus, Notice, OutboundMessage
from models._common import utcnow
from services import background, messaging, review_reminders
from services import long_work as _long_work  # noqa: F401  declares the kinds of background work
from services.infra import clock
from services.infra.queue import collect_at_commit, huey, in_app
from services.infra.transaction import unit_of_work

log = logging.getLogger(__name__)

_NEW_NOTICES = "jidi_new_notices"
_NEW_OUTBOX = "jidi_new_outbox"
# Attempts at sending a row after the first, and the wait before each (doubling): 30 s, 1 min, 2 min.
SEND_RETRIES = 3
SEND_RETRY_DELAY = 30


class DeliveryPostponed(RuntimeError):
    """Some messages could not be handed over now: the job fails this attempt and Huey retries it."""


# --- sending ---------------------------------------------------------------------------------------------

@huey.task(retries=2, retry_delay=30)
@in_app
def fan_out(notice_ids: list[int]) -> int:
    """Make the outbox rows of new notices and queue their sending."""
    ids = messaging.fan_out(notice_ids)
    for chunk in messaging.chunked(ids, messaging.SEND_BATCH):
        huey.enqueue(deliver.s(chunk))
    return len(ids)


@huey.task(retries=SEND_RETRIES, retry_delay=SEND_RETRY_DELAY, retry_backoff=2, context=True)
@in_app
def deliver(ids: list[int], task: Task | None = None) -> dict:
    """Send outbox rows; what the server or provider could not take now is tried again later, then failed."""
    final = task is None or not task.retries
    result = messaging.deliver(ids, final=final)
    if result.postponed and not final:
        # Huey's RetryTask would not count against the retries (it retries forever): an error does.
        raise DeliveryPostponed(f"{result.postponed} message(s) postponed: the mail server or SMS provider is "
                                "unavailable")
    return {"sent": result.sent, "refused": result.refused, "failed": result.postponed if final else 0}


@huey.periodic_task(crontab(minute="*/5"))
@in_app
def sweep_outbox() -> None:
    """Every five minutes: fan out notices and send rows whose job was lost, and fail rows a dead worker left
    half-sent."""
    messaging.abandon_stuck()
    for chunk in messaging.chunked(messaging.not_fanned_out(before_seconds=900), messaging.FAN_OUT_BATCH):
        huey.enqueue(fan_out.s(chunk))
    ids = messaging.stale()
    for chunk in messaging.chunked(ids, messaging.SEND_BATCH):
        huey.enqueue(deliver.s(chunk))


# --- reminders -------------------------------------------------------------------------------------------

# Huey keeps UTC (utc=True, services.infra.queue): 01:00 UTC is 09:00 in Shanghai.
@huey.periodic_task(crontab(hour="1", minute="0"))
@in_app
def remind_overdue_reviews() -> dict:
    """Every morning at nine (Beijing time): reviewers, sector officers and regulators hear of reviews past
    their deadline (once a day each, however often it runs: services.review_reminders)."""
    done = review_reminders.remind_overdue(clock.today())
    return {"reviewers": done.reviewers, "sector_officers": done.sector_officers, "regulators": done.regulators}


# --- long work asked for on a page (services.background) ---------------------------------------------------

@huey.task(retries=2, retry_delay=30, context=True)
@in_app
def background_job(job_id: int, task: Task | None = None) -> dict | None:
    """Run a job someone follows on a page: claimed first, so that a rerun of a job done (or failed for good)
    does nothing; an attempt that fails is retried, then the job is recorded failed with its reason."""
    final = task is None or not task.retries
    job = background.start(job_id)
    if job is None:
        return None
    name = job.name
    try:
        result = background.perform(job)
    except Exception as error:
        background.record_error(job_id, describe(error), final)
        if not final:
            raise  # Huey retries it after retry_delay
        # Recorded on the job itself (the requester's page shows why): not raised again, so that
        # _record_failure does not record it a second time.
        log.error("job %s (%s) failed for good: %s", job_id, name, describe(error))
        return None
    background.finish(job_id, result)
    return result


@huey.periodic_task(crontab(minute="*/15"))
@in_app
def sweep_lost_jobs() -> None:
    """Every quarter of an hour: queue again the jobs whose task was lost (background.lost); should the first
    task turn up after all, the claim in background.start lets only one of the two run the job."""
    for job_id in background.lost():
        huey.enqueue(background_job.s(job_id))


@huey.periodic_task(crontab(hour="3", minute="20"))
@in_app
def sweep_job_files() -> None:
    """Every night: remove the files that jobs wrote (exports) once they are background.KEEP_FILES old."""
    removed = background.remove_old_files()
    if removed:
        log.info("removed %d job file(s) older than %s", removed, background.KEEP_FILES)


# --- the December reminders ------------------------------------------------------------------------------

# Huey reads crontabs in UTC (utc=True): 01:00 UTC is 9:00 in Shanghai, the same day.
@huey.periodic_task(crontab(month="12", hour="1", minute="0"))
@in_app
def remind_deadline() -> int:
    """Every day of December at 9:00 Shanghai time: remind the learners short of the year's hours; each stage
    reaches a person once however many days it runs (services.deadline_reminders)."""
    return remind_deadline_on(clock.today())


@huey.task()
@in_app
def remind_deadline_for(day: str) -> int:
    """The reminders as on ``day`` (ISO date), run by hand (``flask jobs remind-deadline --date``)."""
    return remind_deadline_on(date.fromisoformat(day))


def remind_deadline_on(day: date) -> int:
    from services import deadline_reminders  # it fans its notices out through this module

    made = deadline_reminders.remind(day)
    log.info("deadline reminders of %s: %d notice(s) made", day.isoformat(), made)
    return made


# --- enqueued at commit ----------------------------------------------------------------------------------

@event.listens_for(Session, "after_flush")
def _note_new_rows(session: Session, _context: UOWTransaction) -> None:
    """Notices and outbox rows added through the session (their ids exist now), to be sent once committed.
    Rows inserted in bulk are enqueued by whoever inserted them."""
    for obj in session.new:
        if isinstance(obj, Notice):
            session.info.setdefault(_NEW_NOTICES, []).append(obj.id)
        elif isinstance(obj, OutboundMessage):
            session.info.setdefault(_NEW_OUTBOX, []).append(obj.id)


@collect_at_commit
def _committed(session: Session) -> list[Task]:
    notices: list[int] = session.info.pop(_NEW_NOTICES, [])
    outbox: list[int] = session.info.pop(_NEW_OUTBOX, [])
    tasks = [fan_out.s(chunk) for chunk in messaging.chunked(notices, messaging.FAN_OUT_BATCH)]
    tasks += [deliver.s(chunk) for chunk in messaging.chunked(outbox, messaging.SEND_BATCH)]
    return tasks


def fan_out_after_commit(session: Session, notice_ids: Sequence[int]) -> None:
    """For notices inserted in bulk (not through the session's objects): fan them out once committed."""
    session.info.setdefault(_NEW_NOTICES, []).extend(notice_ids)


def deliver_after_commit(session: Session, outbox_ids: Sequence[int]) -> None:
    """For outbox rows inserted in bulk (not through the session's objects): send them once committed."""
    session.info.setdefault(_NEW_OUTBOX, []).extend(outbox_ids)


# --- failures --------------------------------------------------------------------------------------------

# An e-mail address or a mainland mobile number in an error's text (an SMTP refusal names its recipient).
_CONTACT = re.compile(r"[^\s<>\"']+@[^\s<>\"']+|(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


def describe(error: BaseException) -> str:
    """An error as the platform administrator sees it: its type and text, with no address or phone in it."""
    return _CONTACT.sub("***", f"{type(error).__name__}: {error}")[:500]


@huey.signal(SIGNAL_ERROR)
def _record_failure(signal: str, task: Task, exc: BaseException | None = None) -> None:
    """A job that failed with no retry left is recorded, for the platform administrator's page of failures."""
    if task.retries or exc is None:
        return
    log.error("job %s failed for good: %s", task.name, describe(exc))
    _store_failure(task.name, task.id, describe(exc))


@in_app
def _store_failure(name: str, task_id: str, error: str) -> None:
    with unit_of_work():
        db.session.add(JobRecord(name=name[:64], status=JobStatus.FAILED, error=error,
                                 params=json.dumps({"task": task_id}), finished_at=utcnow()))
