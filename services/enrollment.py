"""Enrolling in courses: the enrollment window, seats and the first-in-first-out waitlist, cancellation,
completion, ratings.

Every operation that moves seats runs in a transaction holding the course's write lock (services.infra.locking),
and the seat counter moves with a conditional UPDATE; the CHECK constraint on course.seats_taken is the
last guard. So the capacity holds under concurrent requests on SQLite and PostgreSQL alike.

The window follows the way of teaching (models.course.Mode): a class, face to face or live online, takes
enrollments until the day before it starts; a self-paced course until its deadline (course.enroll_until,
else its end date), so a learner may join on any day of it. ``availability`` is the one judgement of
whether a learner can enroll now: enrolling enforces it, and the catalog's cards, the home page, the course
page and the API show it. Cancelling is possible while the window is open; a seat freed then goes to the
head of the waitlist. Once the window has closed nobody is promoted (a learner confirmed into a class that
has begun, or past a deadline the base set, would be taking a seat they cannot use as announced): the
waitlisted keep their place on the roster, marked 候补, and the base may add them by completion or import.
"""

from dataclasses import dataclass
from datetime import date
from typing import cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from extensions import db
from models import (
    Course,
    CourseStatus,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    NoticeKind,
    User,
)
from models._common import LabelledEnum, utcnow
from models.regulation import PlanStatus
from services import inbox, policies
from services.errors import DomainError, NotAllowed
from services.infra import clock
from services.infra.locking import locked
from services.infra.transaction import unit_of_work
from services.queries.learner_pages import credit_years


class AlreadyEnrolled(DomainError):
    """The learner already holds a live enrollment in this course."""


@dataclass
class EnrollResult:
    enrollment_id: int
    position: int | None  # place on the waitlist (1 = next), None when confirmed
    credit_years: list[int]  # the years a completion may count in (learner_pages.credit_years), as enrolled

    @property
    def enrollment(self) -> Enrollment:
        """The enrollment row, loaded when asked for (one query): the web's answer needs none of it."""
        return db.session.get_one(Enrollment, self.enrollment_id)


class Availability(LabelledEnum):
    """Whether a learner can enroll in a course now, as every page and the API say it."""

    OPEN = "open", "报名中"
    WAITLIST = "waitlist", "已满（可候补）"
    PLAN_PENDING = "plan_pending", "办班计划待批准"
    STARTED = "started", "已开课"
    DEADLINE_PASSED = "deadline_passed", "报名已截止"
    CLOSED = "closed", "已结束报名"
    ENDED = "ended", "已结束"
    UNAVAILABLE = "unavailable", "未开放报名"


@dataclass(frozen=True)
class Window:
    """A course's availability on a day: its state, the last day of enrollment, and why a learner cannot
    enroll (None when they can, on a seat or on the waitlist)."""

    state: Availability
    deadline: date
    problem: str | None

    @property
    def can_enroll(self) -> bool:
        return self.problem is None


def availability(course: Course, today: date | None = None) -> Window:
    """Whether a learner can enroll in ``course`` on ``today`` (default: today in Shanghai), from the
    course's loaded columns and its base's status alone: no query, so a page of cards costs none."""
    today = today or clock.today()
    deadline = course.enroll_deadline

    def shut(state: Availability, problem: str) -> Window:
        return Window(state, deadline, problem)

    if not course.base.can_publish:
        return shut(Availability.UNAVAILABLE, "该基地已退出，课程不再接受报名")
    if course.status == CourseStatus.CLOSED:
        return shut(Availability.CLOSED, "该课程已结束报名")
    if course.status != CourseStatus.PUBLISHED:
        return shut(Availability.UNAVAILABLE, "该课程未开放报名")
    if course.end_date < today:
        return shut(Availability.ENDED, "课程已结束，不能再报名")
    if deadline < today:
        if course.is_self_paced:
            return shut(Availability.DEADLINE_PASSED, f"报名已于{_cn(deadline)}截止")
        return shut(Availability.STARTED, "课程已开始，不能再报名")
    if course.needs_class_plan and course.plan_status != PlanStatus.APPROVED.value:
        return shut(Availability.PLAN_PENDING, "该面授专业课程的办班计划尚未获人社部门批准，暂不接受报名")
    full = course.capacity is not None and course.seats_taken >= course.capacity
    return Window(Availability.WAITLIST if full else Availability.OPEN, deadline, None)


def _cn(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _take_seat(course_id: int) -> bool:
    """Take one seat if one is free: a conditional UPDATE, so it can never overbook."""
    result = db.session.execute(
        sa.update(Course)
        .where(Course.id == course_id, sa.or_(Course.capacity.is_(None), Course.seats_taken < Course.capacity))
        .values(seats_taken=Course.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]  # an UPDATE's result (a CursorResult) counts rows


def _free_seat(course_id: int) -> None:
    db.session.execute(
        sa.update(Course)
        .where(Course.id == course_id, Course.seats_taken > 0)
        .values(seats_taken=Course.seats_taken - 1)
        .execution_options(synchronize_session=False)
    )


def waitlist_position(enrollment: Enrollment) -> int:
    """1 for the first in line. One query."""
    return _place_in_line(enrollment.course_id, enrollment.id)


def _place_in_line(course_id: int, enrollment_id: int) -> int:
    return db.session.execute(
        sa.select(sa.func.count(Enrollment.id)).where(
            Enrollment.course_id == course_id,
            Enrollment.status == EnrollmentStatus.WAITLISTED,
            Enrollment.id <= enrollment_id,
        )
    ).scalar_one()


_ENROLLMENT = cast(sa.Table, Enrollment.__table__)  # the row is written in Core: no unit-of-work flush


def enroll(learner: User, course_id: int) -> EnrollResult:
    """Enroll the learner: a confirmed seat if one is free, else the end of the waitlist. The unit of work
    holds the course's lock for four statements: the course read (its availability), the seat taken by a
    conditional UPDATE, the row by one INSERT, COMMIT; the waitlist position is read after it.

    :raise NotAllowed: the user is not a learner.
    :raise AlreadyEnrolled: the learner already holds a live enrollment in the course.
    :raise DomainError: the course is not open (draft, cancelled, closed, its window past, a class plan
        not approved, an exited base).
    :raise LookupError: no such course.
    """
    if not policies.may_enroll(learner):
        raise NotAllowed("只有专业技术人员账号可以报名课程")
    learner_id = learner.id
    with locked(Course, course_id, joinedload(Course.base, innerjoin=True)) as course:
        if course is None:
            raise LookupError(course_id)
        problem = availability(course).problem
        if problem:
            raise DomainError(problem)
        years = credit_years(course)  # read now: the course's columns expire with the commit
        confirmed = _take_seat(course.id)
        now = utcnow()
        try:
            enrollment_id = db.session.execute(
                sa.insert(_ENROLLMENT).returning(_ENROLLMENT.c.id),
                {"course_id": course.id, "learner_id": learner_id, "source": EnrollmentSource.ONLINE,
                 "status": EnrollmentStatus.CONFIRMED if confirmed else EnrollmentStatus.WAITLISTED,
                 "created_at": now, "confirmed_at": now if confirmed else None},
            ).scalar_one()
        except IntegrityError:
            # One live enrollment per learner and course is the partial unique index's to keep: asking
            # first would cost every enrollment a query. The seat taken above goes back with the rollback.
            raise AlreadyEnrolled("您已报名该课程，无需重复报名") from None
    position = None if confirmed else _place_in_line(course_id, enrollment_id)
    return EnrollResult(enrollment_id, position, years)


def _promote_waitlisted(course: Course) -> list[Enrollment]:
    """Fill free seats from the head of the waitlist, notifying each promoted learner; nobody once the
    enrollment window has closed (see the module's docstring)."""
    promoted: list[Enrollment] = []
    if course.enroll_deadline < clock.today():
        return promoted
    while True:
        head = db.session.execute(
            sa.select(Enrollment)
            .where(Enrollment.course_id == course.id, Enrollment.status == EnrollmentStatus.WAITLISTED)
            .order_by(Enrollment.id)
            .limit(1)
        ).scalar_one_or_none()
        if head is None or not _take_seat(course.id):
            return promoted
        head.status = EnrollmentStatus.CONFIRMED
        head.confirmed_at = utcnow()
        inbox.notify(head.learner_id, f"您在《{course.title}》的候补已转为正式报名，请按时参加培训。",
                     f"/courses/{course.id}", kind=NoticeKind.WAITLIST)
        promoted.append(head)


def cancel(learner: User, enrollment_id: int) -> Enrollment:
    """The learner gives up a seat while the enrollment window is open (a class: before it starts; a
    self-paced course: until its deadline), a freed seat going to the first waitlisted learner; or a place
    on the waitlist, at any time.

    :raise LookupError: no such enrollment of this learner (the view answers 404).
    :raise DomainError: already cancelled or completed, or a seat after the window has closed.
    """
    enrollment = db.session.execute(
        sa.select(Enrollment).where(Enrollment.id == enrollment_id, policies.own_enrollments(learner))
    ).scalar_one_or_none()
    if enrollment is None:
        raise LookupError(enrollment_id)
    with locked(Course, enrollment.course_id) as course:
        db.session.refresh(enrollment)
        if enrollment.status not in (EnrollmentStatus.CONFIRMED, EnrollmentStatus.WAITLISTED):
            raise DomainError(f"报名状态为“{enrollment.status.label}”，不能取消")
        held_seat = enrollment.status == EnrollmentStatus.CONFIRMED
        # A seat is given up only while the window is open; a place on the waitlist, which the closed window
        # will not turn into a seat, may be given up at any time.
        if held_seat and course.enroll_deadline < clock.today():
            raise DomainError(f"报名已于{_cn(course.enroll_deadline)}截止，不能取消报名" if course.is_self_paced
                              else "课程已开始，不能取消报名")
        enrollment.status = EnrollmentStatus.CANCELLED
        enrollment.cancelled_at = utcnow()
        db.session.flush()
        if held_seat:
            _free_seat(course.id)
            _promote_waitlisted(course)
    return enrollment


def fill_freed_seats(course: Course) -> list[Enrollment]:
    """Promote waitlisted learners into seats freed by a larger capacity, in the caller's unit of work, which
    holds the course's lock (an edit of the course, services.courses): both commit or neither."""
    db.session.flush()  # the seats are taken by a conditional UPDATE that reads the new capacity from the row
    return _promote_waitlisted(course)


def rate(learner: User, enrollment_id: int, rating: int, comment: str) -> Enrollment:
    """The learner rates a course they completed (1–5 and a comment); rating again replaces it.

    :raise LookupError: no such enrollment of this learner.
    :raise DomainError: the course is not completed, or the rating is out of range.
    """
    enrollment = db.session.execute(
        sa.select(Enrollment).where(Enrollment.id == enrollment_id, policies.own_enrollments(learner))
    ).scalar_one_or_none()
    if enrollment is None:
        raise LookupError(enrollment_id)
    if enrollment.status != EnrollmentStatus.COMPLETED:
        raise DomainError("结业后才能评价课程")
    if not 1 <= rating <= 5:
        raise DomainError("评分应为 1 到 5 分", field="rating")
    with unit_of_work():
        enrollment.rating = rating
        enrollment.rating_comment = (comment or "").strip()
        enrollment.rated_at = utcnow()
    return enrollment
