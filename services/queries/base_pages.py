"""What a base admin's pages read: their bases, and one base's courses with counts by status."""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, joinedload

from extensions import db
from models import Course, CourseStatus, Enrollment, TrainingBase, User
from services import policies
from services.api_tokens import Principal


def bases_of(user: User) -> Sequence[TrainingBase]:
    """The bases ``user`` administers (policies.may_manage_base). One query."""
    return db.session.execute(
        sa.select(TrainingBase)
        .where(policies.managed_bases(user))
        .order_by(TrainingBase.id)
    ).scalars().all()


def managed_base(user: User, base_id: int) -> TrainingBase | None:
    """The base if ``user`` administers it (policies.may_manage_base); None for a base that is missing or
    someone else's. One query."""
    return db.session.execute(
        sa.select(TrainingBase)
        .where(TrainingBase.id == base_id, policies.managed_bases(user))
        .options(joinedload(TrainingBase.region), joinedload(TrainingBase.logo))
    ).unique().scalar_one_or_none()


def _managed_course_statement() -> sa.Select:
    base = contains_eager(Course.base)
    return (
        sa.select(Course)
        .join(Course.base)
        .where(Course.id == sa.bindparam("course_id"), Course.base_id == sa.bindparam("base_id"),
               policies.courses_managed_by(sa.bindparam("user_id")))
        .options(base.joinedload(TrainingBase.region), base.joinedload(TrainingBase.logo), joinedload(Course.cover))
    )


# Built once: every page of a course under /manage loads it, and building it cost more than running it.
_MANAGED_COURSE = _managed_course_statement()


def managed_course(user: User, base_id: int, course_id: int) -> Course | None:
    """The course, with its base, if it belongs to base ``base_id`` and ``user`` administers that base
    (policies.may_manage_course); None otherwise (a missing course, another base's course, or someone else's
    base). One query."""
    return db.session.execute(
        _MANAGED_COURSE, {"course_id": course_id, "base_id": base_id, "user_id": user.id}
    ).unique().scalar_one_or_none()


def ratings_of(base: TrainingBase) -> dict[int, tuple[float, int]]:
    """{course id: (average rating, number of ratings)} for the base's rated courses. One query."""
    rows = db.session.execute(
        sa.select(Enrollment.course_id, sa.func.avg(Enrollment.rating), sa.func.count(Enrollment.rating))
        .join(Course, Course.id == Enrollment.course_id)
        .where(Course.base_id == base.id, Enrollment.rating.is_not(None))
        .group_by(Enrollment.course_id)
    ).all()
    return {course_id: (round(float(avg), 1), n) for course_id, avg, n in rows}


def courses_of(base: TrainingBase, status: CourseStatus | None = None) -> tuple[Sequence[Course], dict]:
    """The base's courses (newest first) and the number in each status, counted by the database."""
    stmt = sa.select(Course).where(Course.base_id == base.id)
    if status is not None:
        stmt = stmt.where(Course.status == status)
    courses = db.session.execute(stmt.order_by(Course.start_date.desc(), Course.id.desc())).scalars().all()
    counts: dict[CourseStatus, int] = dict(
        db.session.execute(
            sa.select(Course.status, sa.func.count(Course.id)).where(Course.base_id == base.id).group_by(Course.status)
        ).tuples().all()
    )
    return courses, {s: counts.get(s, 0) for s in CourseStatus}


def course_reached_by(principal: Principal, course_id: int) -> Course | None:
    """The course if an API token (``principal``) reaches it (policies.token_reaches), else None (missing,
    or another base's). One query."""
    return db.session.execute(
        sa.select(Course).where(Course.id == course_id, policies.courses_token_reaches(principal))
    ).scalar_one_or_none()


def course_page(base: TrainingBase, per_page: int, before_id: int | None = None,
                status: CourseStatus | None = None) -> tuple[Sequence[Course], bool]:
    """The base's courses newest first, ``per_page`` of them after the one with ``before_id`` (keyset),
    and whether more follow. One query."""
    stmt = sa.select(Course).where(Course.base_id == base.id)
    if status is not None:
        stmt = stmt.where(Course.status == status)
    if before_id is not None:
        stmt = stmt.where(Course.id < before_id)
    rows = db.session.execute(stmt.order_by(Course.id.desc()).limit(per_page + 1)).scalars().all()
    return rows[:per_page], len(rows) > per_page
