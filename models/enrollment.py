"""Enrollments in courses (confirmed or waitlisted), attendance, completion and the learner's rating."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models._common import LabelledEnum, Model, enum_column, utcnow


class EnrollmentStatus(LabelledEnum):
    WAITLISTED = "waitlisted", "候补中"
    CONFIRMED = "confirmed", "已报名"
    COMPLETED = "completed", "已结业"
    CANCELLED = "cancelled", "已取消"


class EnrollmentSource(LabelledEnum):
    ONLINE = "online", "在线报名"
    IMPORT = "import", "名单导入"
    API = "api", "接口推送"
    # Put on the roster by the base's staff at the desk (services.walk_ins), often a walk-in trainee.
    DESK = "desk", "现场登记"


# The statuses that hold a place in the course (and count in course.seats_taken).
SEAT_HOLDING = (EnrollmentStatus.CONFIRMED, EnrollmentStatus.COMPLETED)
ACTIVE = (EnrollmentStatus.WAITLISTED, EnrollmentStatus.CONFIRMED, EnrollmentStatus.COMPLETED)


class Enrollment(Model):
    __tablename__ = "enrollment"
    __table_args__ = (
        # One live enrollment per learner and course; cancelled ones stay as history.
        sa.Index(
            "uq_enrollment_live", "course_id", "learner_id", unique=True,
            sqlite_where=sa.text("status != 'cancelled'"), postgresql_where=sa.text("status != 'cancelled'"),
        ),
        # Rosters, counts and the waitlist order (by id, which follows the serialised enroll transactions).
        sa.Index("ix_enrollment_course_status", "course_id", "status", "id"),
        # The annual evaluation (and any distinct count of a course's completers) reads the learners who
        # completed on the days of a year, and their ratings, straight from this index, course by course.
        sa.Index("ix_enrollment_course_status_completed_on", "course_id", "status", "completed_on", "learner_id",
                 "rating"),
        sa.CheckConstraint("rating IS NULL OR (rating BETWEEN 1 AND 5)", name="rating_range"),
        # A completion without its day would count in no year (services.completions records the day).
        sa.CheckConstraint("status != 'completed' OR completed_on IS NOT NULL", name="completed_has_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("course.id"))
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    status: Mapped[EnrollmentStatus] = mapped_column(enum_column(EnrollmentStatus))
    source: Mapped[EnrollmentSource] = mapped_column(enum_column(EnrollmentSource), default=EnrollmentSource.ONLINE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]  # when the completion was recorded (UTC)
    # The day the learner completed, in Asia/Shanghai: the hours, the trainee and the project count in its
    # year (notice 003: 以实际完成时间计入当年有效学时). Within the course's dates, never after the day it was
    # recorded (services.completions).
    completed_on: Mapped[date | None]
    completed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    rating: Mapped[int | None]
    rating_comment: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    rated_at: Mapped[datetime | None]

    course = relationship("Course")
    learner = relationship("User", foreign_keys=[learner_id])

    def __repr__(self) -> str:
        return f"<Enrollment {self.id} course={self.course_id} learner={self.learner_id} {self.status.value}>"


class Attendance(Model):
    """Whether an enrolled learner was present on one day of a course."""

    __tablename__ = "attendance"
    __table_args__ = (sa.UniqueConstraint("enrollment_id", "day", name="enrollment_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollment.id", ondelete="CASCADE"), index=True)
    day: Mapped[date]
    present: Mapped[bool]
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
