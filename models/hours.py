"""The hours ledger and the yearly hour requirements of each region (RuleSet)."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models._common import LabelledEnum, Model, enum_column, utcnow
from models.course import Category


class HoursSource(LabelledEnum):
    COURSE = "course", "基地课程"
    IMPORT = "import", "名单导入"
    DECLARATION = "declaration", "学时申报"
    API = "api", "接口推送"


class HoursRecord(Model):
    """One credit of hours to a learner, in one category, for one year. Hours never carry over."""

    __tablename__ = "hours_record"
    __table_args__ = (
        sa.CheckConstraint("hours > 0", name="hours_positive"),
        sa.Index("ix_hours_record_learner_year", "learner_id", "year", "category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    # The year the hours count in: a completion's, that of the day the learner completed (earned_on).
    year: Mapped[int]
    category: Mapped[Category] = mapped_column(enum_column(Category))
    hours: Mapped[int]
    # The day a completion's hours were earned (the enrollment's completed_on); None for declared hours,
    # which count in the year declared.
    earned_on: Mapped[date | None]
    source: Mapped[HoursSource] = mapped_column(enum_column(HoursSource))
    course_id: Mapped[int | None] = mapped_column(sa.ForeignKey("course.id"), index=True)
    # A completion credits once: the enrollment it came from is unique here.
    enrollment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enrollment.id"), unique=True)
    # A declaration credits once, at approval.
    declaration_id: Mapped[int | None] = mapped_column(sa.ForeignKey("declaration.id"), unique=True)
    note: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    course = relationship("Course")


class RuleSet(Model):
    """A region's rules for one year: hour requirements, conversions, the class-plan window, the review time
    and the year's public-subject themes. A column left None is not set here: a city inherits its province's
    value (services.rules.resolve), and where neither sets one a minimum is not required and a conversion
    falls back to the platform's default, shown as 默认值，待确认. ``unconfirmed`` names the columns holding a
    value no notice states (seeded as a default): the regulator's page flags them until they are saved."""

    __tablename__ = "rule_set"
    __table_args__ = (
        sa.UniqueConstraint("region_id", "year", name="region_year"),
        sa.CheckConstraint(
            "(total_min IS NULL OR total_min >= 0) AND (public_min IS NULL OR public_min >= 0)"
            " AND (professional_min IS NULL OR professional_min >= 0)"
            " AND (elective_min IS NULL OR elective_min >= 0)", name="minimums_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"))
    year: Mapped[int]
    total_min: Mapped[int | None]
    public_min: Mapped[int | None]
    professional_min: Mapped[int | None]
    elective_min: Mapped[int | None]
    # Conversions (notice 000 for Guangdong): a day of training is N hours; under a day, each whole M minutes
    # is 1 hour.
    hours_per_day: Mapped[int | None]
    minutes_per_hour: Mapped[int | None]
    # A face-to-face professional course files its class plan within this many days before it starts (001).
    plan_window_days: Mapped[int | None]
    # Working days an employer's reviewer has for each declared-hours review step (notice 002).
    review_working_days: Mapped[int | None]
    # True: after the employer, the sector authority of the learner's sector reviews too (Henan, notice 002).
    sector_step: Mapped[bool | None]
    # Sectors whose staff's hours their sector authority recognises instead of the employer (Guangdong's
    # 教育 and 卫生, notice 001), e.g. ["教育", "卫生"].
    sector_recognised: Mapped[list | None] = mapped_column(sa.JSON)
    # The year's public-subject themes, one a line: the required (必修 / 主题) and the elective (选修) ones.
    public_themes: Mapped[str | None] = mapped_column(sa.Text)
    public_electives: Mapped[str | None] = mapped_column(sa.Text)
    unconfirmed: Mapped[list] = mapped_column(sa.JSON, default=list, server_default="[]")
    source: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")

    region = relationship("Region")

    def minimum(self, category: Category) -> int | None:
        return getattr(self, f"{category.value}_min")


class Notice(Model):
    """A message to one user inside the site (e.g. promoted from the waitlist)."""

    __tablename__ = "notice"
    __table_args__ = (
        sa.Index("ix_notice_user_unread", "user_id", "read_at"),
        # A reminder that may be made again by a rerun (the December deadline, an overdue review) carries a
        # key, and a person holds one notice per key.
        sa.UniqueConstraint("user_id", "dedupe_key", name="user_dedupe_key"),
        # The notices not yet turned into e-mails and text messages: few at any time, found by the outbox sweep
        # when their fan-out job was lost (services.jobs.sweep_outbox).
        sa.Index("ix_notice_not_fanned_out", "id", sqlite_where=sa.text("fanned_out_at IS NULL"),
                 postgresql_where=sa.text("fanned_out_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    message: Mapped[str] = mapped_column(sa.String(500))
    link: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    # What it is about (models.messaging.NoticeKind): the person's choices of channel are per kind.
    kind: Mapped[str] = mapped_column(sa.String(32), default="general", server_default="general")
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(64))
    # When its e-mail and text message were made (or found not wanted): NULL until the fan-out job ran.
    fanned_out_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
