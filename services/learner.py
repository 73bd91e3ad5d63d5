"""What a learner's pages read: the dashboard (hours against the rules, enrollments, notices)."""

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased, contains_eager

from extensions import db
from models import Course, Enrollment, EnrollmentStatus, Notice, Region
from models._common import utcnow
from services import clock, hours


@dataclass
class Dashboard:
    year: int
    days_left: int
    region: Region | None
    current: hours.Progress
    history: list[hours.Progress]
    upcoming: list = field(default_factory=list)  # (enrollment, None)
    waitlisted: list = field(default_factory=list)  # (enrollment, position)
    completed: list = field(default_factory=list)
    notices: list = field(default_factory=list)


def _enrollments_with_position(learner_id: int, course_id: int | None = None):
    """The learner's live enrollments with course and base, and waitlist positions. One query."""
    other = aliased(Enrollment)
    position = (
        sa.select(sa.func.count(other.id))
        .where(
            other.course_id == Enrollment.course_id,
            other.status == EnrollmentStatus.WAITLISTED,
            other.id <= Enrollment.id,
        )
        .correlate(Enrollment)
        .scalar_subquery()
    )
    stmt = (
        sa.select(Enrollment, sa.case((Enrollment.status == EnrollmentStatus.WAITLISTED, position), else_=None))
        .join(Enrollment.course)
        .join(Course.base)
        .options(contains_eager(Enrollment.course).contains_eager(Course.base))
        .where(Enrollment.learner_id == learner_id, Enrollment.status != EnrollmentStatus.CANCELLED)
        .order_by(Course.start_date.desc(), Enrollment.id.desc())
    )
    if course_id is not None:
        stmt = stmt.where(Enrollment.course_id == course_id)
    return db.session.execute(stmt).all()


def dashboard(learner) -> Dashboard:
    """The learner's year at a glance. Three queries whatever the history's length: hours against the
    rules (with the learner's region), live enrollments, unread notices."""
    today = clock.today()
    year = today.year
    ledger = hours.ledger(learner, year)
    board = Dashboard(
        year=year,
        days_left=(date(year, 12, 31) - today).days,
        region=ledger.region,
        current=ledger.years[year],
        history=[ledger.years[y] for y in sorted(ledger.years, reverse=True) if y < year],
    )
    for enrollment, position in _enrollments_with_position(learner.id):
        if enrollment.status == EnrollmentStatus.COMPLETED:
            board.completed.append((enrollment, None))
        elif enrollment.status == EnrollmentStatus.WAITLISTED:
            board.waitlisted.append((enrollment, position))
        else:
            board.upcoming.append((enrollment, None))
    board.notices = unread_notices(learner.id)
    return board


def unread_notices(user_id: int) -> list[Notice]:
    return db.session.execute(
        sa.select(Notice).where(Notice.user_id == user_id, Notice.read_at.is_(None)).order_by(Notice.id.desc())
    ).scalars().all()


def mark_notices_read(user_id: int) -> None:
    db.session.execute(
        sa.update(Notice).where(Notice.user_id == user_id, Notice.read_at.is_(None)).values(read_at=utcnow())
    )
    db.session.commit()


def enrollment_in(learner_id: int, course_id: int) -> tuple[Enrollment, int | None] | None:
    """The learner's live enrollment in one course and its waitlist position, for the course page."""
    rows = _enrollments_with_position(learner_id, course_id)
    return tuple(rows[0]) if rows else None


def own_enrollment(learner_id: int, enrollment_id: int) -> Enrollment | None:
    return db.session.execute(
        sa.select(Enrollment)
        .join(Enrollment.course)
        .join(Course.base)
        .options(contains_eager(Enrollment.course).contains_eager(Course.base))
        .where(Enrollment.id == enrollment_id, Enrollment.learner_id == learner_id)
    ).scalar_one_or_none()


