"""The platform administrator's page of background work: the outbox's counts and what failed for good (outbox
rows and job records), newest first, in two queries whatever their number."""

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute

from extensions import db
from models import JobRecord, JobStatus, OutboundMessage, OutboxStatus
from services import text
from services.infra import clock

PER_PAGE = 50


@dataclass(frozen=True)
class Failure:
    """A failed outbox row (``source`` "message") or job record ("job"), as the page shows it: the recipient
    masked (the administrator needs its shape to see a typo, not the person)."""

    source: str
    id: int
    what: str  # the notice kind's value of a message, the task name of a job
    channel: str
    recipient: str
    attempts: int
    error: str
    at: datetime


@dataclass
class JobsPage:
    queued: int
    sending: int
    sent_today: int
    failed_messages: int
    failed_jobs: int
    failures: list[Failure]
    page: int
    per_page: int = PER_PAGE

    @property
    def total(self) -> int:
        return self.failed_messages + self.failed_jobs

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _start_of_local_day() -> datetime:
    """Midnight of today in Asia/Shanghai, as the naive UTC the timestamps are stored in."""
    local = datetime.combine(clock.today(), time(), tzinfo=clock.LOCAL_TZ)
    return local.astimezone(UTC).replace(tzinfo=None)


def jobs_page(page: int = 1) -> JobsPage:
    """The counts (queued, being sent, sent since local midnight, failed) and one page of failures."""
    status = OutboundMessage.status

    def how_many(*where: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((sa.and_(*where), 1), else_=0)), 0)

    failed_jobs = (sa.select(sa.func.count(JobRecord.id)).where(JobRecord.status == JobStatus.FAILED)
                   .scalar_subquery())
    counts = db.session.execute(sa.select(
        how_many(status == OutboxStatus.QUEUED), how_many(status == OutboxStatus.SENDING),
        how_many(status == OutboxStatus.SENT, OutboundMessage.sent_at >= _start_of_local_day()),
        how_many(status == OutboxStatus.FAILED), failed_jobs)).one()
    total = counts[3] + counts[4]
    page = min(max(page, 1), max((total + PER_PAGE - 1) // PER_PAGE, 1))
    failures: list[Failure] = []
    if total:
        messages = sa.select(
            sa.literal("message").label("source"), OutboundMessage.id, _text(OutboundMessage.kind).label("what"),
            _text(OutboundMessage.channel).label("channel"), OutboundMessage.recipient, OutboundMessage.attempts,
            OutboundMessage.last_error.label("error"),
            sa.func.coalesce(OutboundMessage.claimed_at, OutboundMessage.created_at).label("at"),
        ).where(status == OutboxStatus.FAILED)
        jobs = sa.select(
            sa.literal("job").label("source"), JobRecord.id, JobRecord.name.label("what"),
            sa.literal("").label("channel"), sa.literal("").label("recipient"), JobRecord.attempts,
            JobRecord.error.label("error"),
            sa.func.coalesce(JobRecord.finished_at, JobRecord.created_at).label("at"),
        ).where(JobRecord.status == JobStatus.FAILED)
        both = sa.union_all(messages, jobs).subquery()
        rows = db.session.execute(
            sa.select(both).order_by(both.c.at.desc(), both.c.source, both.c.id.desc())
            .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
        failures = [Failure(source=row.source, id=row.id, what=str(row.what), channel=str(row.channel or ""),
                            recipient=text.masked_contact(row.recipient) if row.recipient else "",
                            attempts=row.attempts, error=row.error, at=_as_datetime(row.at)) for row in rows]
    return JobsPage(queued=counts[0], sending=counts[1], sent_today=counts[2], failed_messages=counts[3],
                    failed_jobs=counts[4], failures=failures, page=page, per_page=PER_PAGE)


def _text(column: InstrumentedAttribute[Any]) -> sa.ColumnElement[str]:
    """An enum column read as its stored text: a UNION takes its first SELECT's types, and a job's name is no
    notice kind."""
    return sa.type_coerce(column, sa.String(64))


def _as_datetime(value: datetime | str) -> datetime:
    # SQLite gives a timestamp out of a UNION as its stored text (the column type is lost in the compound).
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
