"""Courses (training projects, 培训项目) that bases publish in the catalog."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models._common import LabelledEnum, Model, enum_column, utcnow


class Category(LabelledEnum):
    PUBLIC = "public", "公需科目"
    PROFESSIONAL = "professional", "专业科目"
    ELECTIVE = "elective", "选修科目"


class Mode(LabelledEnum):
    """How a course is taken (培训方式). It decides the enrollment window (services.enrollment): a class,
    face to face or live online, takes enrollments until it starts; a self-paced online course (the public
    subjects' learning platforms of notices 001, 003 and 004) until a deadline within its window."""

    FACE_TO_FACE = "face_to_face", "面授"
    BLENDED = "blended", "线上线下结合"
    ONLINE_LIVE = "online_live", "线上直播"
    SELF_PACED = "self_paced", "线上自学"


# Taught in a room, at least in part: such a course has a place, and a professional one a class plan
# (notice 001: 专业科目面授培训 … 填报办班计划).
IN_PERSON_MODES = (Mode.FACE_TO_FACE, Mode.BLENDED)


class ProjectType(LabelledEnum):
    """The three kinds of project of the knowledge-update statistics (notice 004, attachment 3)."""

    JOB_TRAINING = "job_training", "岗位培训项目"
    URGENT_TALENT = "urgent_talent", "急需紧缺人才培养培训项目"
    ABROAD = "abroad", "出境（国）培训"


class CourseStatus(LabelledEnum):
    DRAFT = "draft", "草稿"
    PUBLISHED = "published", "已发布"
    CLOSED = "closed", "已结束报名"
    CANCELLED = "cancelled", "已取消"


# 领域: the fields of the knowledge-update statistics form (notice 004, attachment 3), in its order.
# They are the official report's layout, so they live here rather than as regulator-editable data.
FIELDS = (
    "装备制造", "信息", "生物技术", "新材料", "海洋", "金融", "生态环保", "节能与新能源", "新医药",
    "现代农业", "社会工作", "现代物流", "商务服务", "律师公证及法律服务", "会计", "知识产权", "食品安全",
    "旅游", "城市规划建设管理", "教育", "宣传文化", "卫生", "体育", "研发", "养老", "人力资源服务",
    "其他现代服务业",
)

# Which status a course may move to from which (the base admin's publish / unpublish / cancel).
TRANSITIONS = {
    CourseStatus.DRAFT: {CourseStatus.PUBLISHED, CourseStatus.CANCELLED},
    CourseStatus.PUBLISHED: {CourseStatus.DRAFT, CourseStatus.CLOSED, CourseStatus.CANCELLED},
    CourseStatus.CLOSED: {CourseStatus.PUBLISHED, CourseStatus.CANCELLED},
    CourseStatus.CANCELLED: set(),
}


class Course(Model):
    __tablename__ = "course"
    __table_args__ = (
        sa.CheckConstraint("hours > 0", name="hours_positive"),
        sa.CheckConstraint("end_date >= start_date", name="dates_ordered"),
        sa.CheckConstraint("fee >= 0", name="fee_not_negative"),
        # The seat counter can never pass the capacity: the database is the last guard against overbooking.
        sa.CheckConstraint(
            "seats_taken >= 0 AND (capacity IS NULL OR seats_taken <= capacity)", name="seats_within_capacity"
        ),
        # Only a self-paced course has an enrollment deadline of its own, and it falls within its window.
        sa.CheckConstraint(
            "enroll_until IS NULL OR (mode = 'self_paced' AND enroll_until >= start_date AND enroll_until <= end_date)",
            name="enroll_until_in_window",
        ),
        sa.Index("ix_course_status_start", "status", "start_date"),
        # The catalog's default order, read a page at a time instead of sorting every course.
        sa.Index("ix_course_start", "start_date"),
        # The annual evaluation counts per base the courses that ended in the year; with the status, the
        # catalog counts its public courses from this index alone.
        sa.Index("ix_course_base_end", "base_id", "end_date", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    base_id: Mapped[int] = mapped_column(sa.ForeignKey("training_base.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    category: Mapped[Category] = mapped_column(enum_column(Category), index=True)
    field: Mapped[str] = mapped_column(sa.String(32), index=True)
    hours: Mapped[int]
    start_date: Mapped[date]
    end_date: Mapped[date]
    mode: Mapped[Mode] = mapped_column(enum_column(Mode))
    # A self-paced course's last day of enrollment, within its window; None: its end date.
    enroll_until: Mapped[date | None]
    place: Mapped[str] = mapped_column(sa.String(255), default="")
    audience: Mapped[str] = mapped_column(sa.String(255), default="")
    # None means no limit (typical of online courses).
    capacity: Mapped[int | None]
    # Confirmed seats, kept by the enrollment service with a conditional UPDATE.
    seats_taken: Mapped[int] = mapped_column(default=0, server_default="0")
    fee: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2), default=Decimal("0"))
    fee_standard: Mapped[str] = mapped_column(sa.String(255), default="")
    contact_person: Mapped[str] = mapped_column(sa.String(64), default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(32), default="")
    open_to_city: Mapped[bool] = mapped_column(default=True)
    cover_id: Mapped[int | None] = mapped_column(sa.ForeignKey("image.id"))
    status: Mapped[CourseStatus] = mapped_column(enum_column(CourseStatus), default=CourseStatus.DRAFT)
    cancel_reason: Mapped[str] = mapped_column(sa.String(255), default="")
    project_type: Mapped[ProjectType] = mapped_column(
        enum_column(ProjectType), default=ProjectType.JOB_TRAINING, server_default=ProjectType.JOB_TRAINING.value
    )
    # The latest class plan's state, kept by services.plans (None: no plan filed).
    plan_status: Mapped[str | None] = mapped_column(sa.String(16))
    # Title, description and base name cut into the tokens the full-text index holds (services.infra.search).
    search_tokens: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    published_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    base = relationship("TrainingBase")
    cover = relationship("Image")

    @property
    def seats_left(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.seats_taken, 0)

    def can_move_to(self, status: "CourseStatus | str") -> bool:
        return CourseStatus(status) in TRANSITIONS[self.status]

    @hybrid_property
    def needs_class_plan(self) -> bool:
        """A face-to-face (or blended) professional course opens for enrollment only with an approved class
        plan (notice 001). Also a SQL expression, for the evaluation's count of courses run without one."""
        return self.category == Category.PROFESSIONAL and self.mode in IN_PERSON_MODES

    @needs_class_plan.inplace.expression
    @classmethod
    def _needs_class_plan_expression(cls) -> sa.ColumnElement[bool]:
        return sa.and_(cls.category == Category.PROFESSIONAL, cls.mode.in_(IN_PERSON_MODES))

    @property
    def is_self_paced(self) -> bool:
        return self.mode == Mode.SELF_PACED

    @property
    def enroll_deadline(self) -> date:
        """The last day a learner may enroll: a class (face to face or live) the day before it starts, a
        self-paced course its own deadline, else its end date. services.enrollment enforces it."""
        if self.is_self_paced:
            return self.enroll_until or self.end_date
        return self.start_date - timedelta(days=1)

    @classmethod
    def enrollable_on(cls, day: date) -> sa.ColumnElement[bool]:
        """SQL: the course's window is open on ``day`` (enroll_deadline >= day), for the catalog's filter.
        tests/test_enrollment_window.py checks it agrees with enroll_deadline."""
        return sa.or_(
            sa.and_(cls.mode == Mode.SELF_PACED, sa.func.coalesce(cls.enroll_until, cls.end_date) >= day),
            sa.and_(cls.mode != Mode.SELF_PACED, cls.start_date > day),
        )

    @property
    def is_editable(self) -> bool:
        return self.status in (CourseStatus.DRAFT, CourseStatus.PUBLISHED, CourseStatus.CLOSED)

    def __repr__(self) -> str:
        return f"<Course {self.id} {self.title}>"
