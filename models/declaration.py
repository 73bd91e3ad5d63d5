"""Hours earned elsewhere: employers and their reviewers, declarations with evidence, yearly caps, the
working-day calendar, and the certificates issued for a completed year."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models._common import LabelledEnum, Model, enum_column, utcnow
from models.course import Category


class DeclarationKind(LabelledEnum):
    """Ways to earn hours outside the site's courses (DOMAIN.md), with how each is measured."""

    CONFERENCE = "conference", "学术会议、讲座、研讨班"
    COMPETITION = "competition", "技能竞赛、技术比武"
    # No minimum in the label: Chengdu's 20 days (003) is Chengdu's (DeclarationKindRule.min_days).
    ABROAD = "abroad", "出国（境）研修考察"
    RESEARCH = "research", "科研成果、专利、论文著作"
    DEGREE = "degree", "在职学历（学位）教育"
    SELF_STUDY = "self_study", "自学"
    GRASSROOTS = "grassroots", "服务基层"
    OTHER = "other", "其他"


# How each kind is measured: the nature of the kind, not a region's rule. "time": minutes (under a day) or
# days; "days": whole days only; "hours": the hours claimed, as the evidence states them.
KIND_UNITS = {
    DeclarationKind.CONFERENCE: "time", DeclarationKind.COMPETITION: "hours", DeclarationKind.ABROAD: "days",
    DeclarationKind.RESEARCH: "hours", DeclarationKind.DEGREE: "hours", DeclarationKind.SELF_STUDY: "hours",
    DeclarationKind.GRASSROOTS: "days", DeclarationKind.OTHER: "time",
}


class DeclarationStatus(LabelledEnum):
    PENDING = "pending", "待单位审核"
    # The second step where a region's rules say so (Henan, notice 002), or the only step where the sector
    # recognises its staff's hours instead of the employer (Guangdong's education and health, notice 001).
    SECTOR_PENDING = "sector_pending", "待行业主管部门审核"
    APPROVED = "approved", "已通过"
    REJECTED = "rejected", "已驳回"
    # Withdrawn before its review ended, when its learner closed the account (services.account_closing): no
    # hours, no evidence kept. Stored as its value string, so no migration (models._common.enum_column).
    WITHDRAWN = "withdrawn", "已撤回"


class Declaration(Model):
    __tablename__ = "declaration"
    __table_args__ = (
        sa.Index("ix_declaration_employer_status", "employer_id", "status", "due_on"),
        sa.Index("ix_declaration_learner_year", "learner_id", "year"),
        sa.Index("ix_declaration_sector_status", "sector_authority_id", "status", "sector_due_on"),
        sa.CheckConstraint("hours_claimed > 0", name="claimed_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    employer_id: Mapped[int] = mapped_column(sa.ForeignKey("employer.id"))
    kind: Mapped[DeclarationKind] = mapped_column(enum_column(DeclarationKind))
    category: Mapped[Category] = mapped_column(enum_column(Category))
    title: Mapped[str] = mapped_column(sa.String(200))
    organiser: Mapped[str] = mapped_column(sa.String(200), default="")
    earned_on: Mapped[date]
    year: Mapped[int]
    minutes: Mapped[int | None]
    days: Mapped[int | None]
    hours_claimed: Mapped[int]
    hours_approved: Mapped[int | None]
    hours_credited: Mapped[int | None]
    status: Mapped[DeclarationStatus] = mapped_column(enum_column(DeclarationStatus), default=DeclarationStatus.PENDING)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The last working day for the review: 5 working days after submission (services.workdays).
    due_on: Mapped[date]
    reviewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    # What the employer's step approved, before a sector step (which may approve fewer); None without it.
    employer_hours: Mapped[int | None]
    # The sector step: the authority the declaration goes to (fixed when filed), its deadline (5 working days
    # from the day the employer approved, or from filing where the sector alone recognises), who acted.
    sector_authority_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sector_authority.id"))
    sector_due_on: Mapped[date | None]
    sector_reviewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    sector_reviewed_at: Mapped[datetime | None]
    sector_note: Mapped[str] = mapped_column(sa.Text, default="", server_default="")

    learner = relationship("User", foreign_keys=[learner_id])
    employer = relationship("Employer")
    sector_authority = relationship("SectorAuthority")
    evidence = relationship("Evidence", back_populates="declaration", cascade="all, delete-orphan",
                            order_by="Evidence.id")


class Evidence(Model):
    """A file proving a declaration: PDF, JPEG or PNG, checked by content, stored under a random name."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(sa.ForeignKey("declaration.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(sa.String(40), unique=True)
    filename: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    declaration = relationship("Declaration", back_populates="evidence")


class DeclarationCap(Model):
    """At most this many hours of one kind and category count in a year, in a region and the cities below it
    that set no cap of their own (e.g. Yantai's competitions: 5 public, 30 professional, notice 004). There
    is no cap for everywhere: each row belongs to the region whose notice states it."""

    __tablename__ = "declaration_cap"
    __table_args__ = (
        sa.UniqueConstraint("kind", "category", "region_id", "year", name="kind_category_region_year"),
        sa.CheckConstraint("max_hours >= 0", name="max_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DeclarationKind] = mapped_column(enum_column(DeclarationKind))
    category: Mapped[Category] = mapped_column(enum_column(Category))
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"))
    year: Mapped[int]
    max_hours: Mapped[int]
    source: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")


class DeclarationKindRule(Model):
    """A region's rule for one kind of declared learning in one year: whether the region accepts it at all,
    the categories it may be declared as, and the fewest days it may be declared for (Chengdu's study abroad
    of 20 days or more, notice 003). A column left None is not set here: a city inherits its province's
    (services.rules.kinds_in_force); where neither sets one, the general list applies, shown as 默认值，待确认.
    ``unconfirmed`` names the columns holding a value no notice states (seeded as a default)."""

    __tablename__ = "declaration_kind_rule"
    __table_args__ = (
        sa.UniqueConstraint("region_id", "year", "kind", name="region_year_kind"),
        sa.CheckConstraint("min_days IS NULL OR (min_days >= 0 AND min_days <= 366)", name="min_days_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"))
    year: Mapped[int]
    kind: Mapped[DeclarationKind] = mapped_column(enum_column(DeclarationKind))
    accepted: Mapped[bool | None]
    # Category values, e.g. ["public", "professional"]; never empty when set (services.rule_edits refuses it).
    categories: Mapped[list | None] = mapped_column(sa.JSON)
    # 0: no minimum, set here (overriding a province's); None: not set here.
    min_days: Mapped[int | None]
    unconfirmed: Mapped[list] = mapped_column(sa.JSON, default=list, server_default="[]")
    source: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")


class CalendarDayKind(LabelledEnum):
    HOLIDAY = "holiday", "法定节假日"
    WORKDAY = "workday", "调休上班"


class CalendarDay(Model):
    """A day off on a weekday, or a weekend day made a workday (调休). Other days follow the week."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(primary_key=True)
    kind: Mapped[CalendarDayKind] = mapped_column(enum_column(CalendarDayKind))
    name: Mapped[str] = mapped_column(sa.String(64), default="")


class CertificateStatus(LabelledEnum):
    VALID = "valid", "有效"
    REVOKED = "revoked", "已撤销"
    SUPERSEDED = "superseded", "已被新证书取代"


class Certificate(Model):
    """The electronic certificate of a learner's completed year, verifiable by its random code."""

    __tablename__ = "certificate"
    __table_args__ = (
        sa.Index("ix_certificate_learner_year", "learner_id", "year"),
        # At most one valid certificate per learner and year.
        sa.Index(
            "uq_certificate_valid", "learner_id", "year", unique=True,
            sqlite_where=sa.text("status = 'valid'"), postgresql_where=sa.text("status = 'valid'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    year: Mapped[int]
    status: Mapped[CertificateStatus] = mapped_column(enum_column(CertificateStatus), default=CertificateStatus.VALID)
    # What the certificate states, frozen at issue: masked name and ID, hours by category, the records.
    summary: Mapped[dict] = mapped_column(sa.JSON)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    revoke_reason: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    superseded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("certificate.id"))

    learner = relationship("User", foreign_keys=[learner_id])
