"""The organisations around the learner: employers (用人单位) and who works for them, sector authorities
(行业主管部门) and their study guides, and institutions applying to become bases (基地申报)."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models._common import LabelledEnum, Model, enum_column, utcnow
from models.training_base import BaseType

# The sectors a learner works in and a sector authority governs (the sign-up form's list). The value is the
# label: it is what learners' rows have always held.
SECTORS = ("卫生", "教育", "工程", "农业", "经济", "会计", "信息技术", "社会工作", "新闻出版", "科研", "其他")


class EmployerStatus(LabelledEnum):
    PENDING = "pending", "待审核"
    APPROVED = "approved", "已通过"
    REJECTED = "rejected", "未通过"


class Employer(Model):
    """用人单位: registers on the site, is approved by a regulator of its region; its admins add reviewers,
    confirm who works there, and review their declarations."""

    __tablename__ = "employer"
    __table_args__ = (
        sa.UniqueConstraint("name", "region_id", name="name_region"),
        sa.Index("ix_employer_region_status", "region_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128))
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"), index=True)
    # 统一社会信用代码 (GB 32100-2015, services.credit_codes): 18 characters with a check character. None for
    # employers the platform knew before registration existed.
    credit_code: Mapped[str | None] = mapped_column(sa.String(18), unique=True)
    sector: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    contact_name: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(20), default="", server_default="")
    # Approved unless said otherwise: an employer made by a seed or a command is known to the platform;
    # registration on the site (services.employers.register) files it as pending.
    status: Mapped[EmployerStatus] = mapped_column(
        enum_column(EmployerStatus), default=EmployerStatus.APPROVED, server_default=EmployerStatus.APPROVED.value)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=sa.func.current_timestamp())
    # use_alter: user.employer_id points here, so this key is added after both tables exist.
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL", use_alter=True, name="fk_employer_decided_by_id_user"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str] = mapped_column(sa.Text, default="", server_default="")

    region = relationship("Region")

    def __repr__(self) -> str:
        return f"<Employer {self.id} {self.name}>"


class EmploymentStatus(LabelledEnum):
    PENDING = "pending", "待单位确认"
    CONFIRMED = "confirmed", "已确认"
    REFUSED = "refused", "单位不予确认"
    WITHDRAWN = "withdrawn", "已撤回"
    ENDED = "ended", "已离职"


class Employment(Model):
    """A learner's claim to work for an employer, and the employer's answer. Rows are kept: a learner who
    changes employer ends one and starts another; User.employer_id mirrors the one confirmed now. At most
    one pending and one confirmed row per learner."""

    __tablename__ = "employment"
    __table_args__ = (
        sa.Index("ix_employment_employer_status", "employer_id", "status"),
        sa.Index("uq_employment_pending", "learner_id", unique=True,
                 sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'")),
        sa.Index("uq_employment_confirmed", "learner_id", unique=True,
                 sqlite_where=sa.text("status = 'confirmed'"), postgresql_where=sa.text("status = 'confirmed'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    employer_id: Mapped[int] = mapped_column(sa.ForeignKey("employer.id"))
    status: Mapped[EmploymentStatus] = mapped_column(enum_column(EmploymentStatus), default=EmploymentStatus.PENDING)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    ended_at: Mapped[datetime | None]

    learner = relationship("User", foreign_keys=[learner_id])
    employer = relationship("Employer")


class SectorAuthority(Model):
    """行业主管部门 of one sector in one region (a province's, or a city's): created by a regulator of the
    region with its first officer account."""

    __tablename__ = "sector_authority"
    __table_args__ = (sa.UniqueConstraint("region_id", "sector", name="region_sector"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"))
    sector: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(128))
    # use_alter: user.sector_authority_id points here, so this key is added after both tables exist.
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey(
        "user.id", ondelete="SET NULL", use_alter=True, name="fk_sector_authority_created_by_id_user"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    region = relationship("Region")

    def __repr__(self) -> str:
        return f"<SectorAuthority {self.id} {self.sector}>"


sector_guide_course = sa.Table(
    "sector_guide_course", Model.metadata,
    sa.Column("guide_id", sa.ForeignKey("sector_guide.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("course_id", sa.ForeignKey("course.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class SectorGuide(Model):
    """A sector's study guide for a year (专业科目学习指南, notice 000): text and recommended courses, shown to
    the learners of the sector in the authority's region."""

    __tablename__ = "sector_guide"
    __table_args__ = (sa.UniqueConstraint("authority_id", "year", name="authority_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_id: Mapped[int] = mapped_column(sa.ForeignKey("sector_authority.id", ondelete="CASCADE"))
    year: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    authority = relationship("SectorAuthority")
    courses = relationship("Course", secondary=sector_guide_course, order_by="Course.id")


class ApplicationStatus(LabelledEnum):
    SUBMITTED = "submitted", "待审核"
    APPROVED = "approved", "已批准"
    REJECTED = "rejected", "未批准"
    WITHDRAWN = "withdrawn", "已撤回"


class BaseApplication(Model):
    """基地申报: an institution asks to become a base of a type in a region (notice 004's 申报评选). The
    applicant follows it through a secret link (only its SHA-256 is kept); approval creates the base and its
    first admin, with the password the applicant chose (only its hash is kept)."""

    __tablename__ = "base_application"
    __table_args__ = (sa.Index("ix_base_application_region_status", "region_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    access_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"))
    base_type: Mapped[BaseType] = mapped_column(enum_column(BaseType))
    name: Mapped[str] = mapped_column(sa.String(128))
    credit_code: Mapped[str] = mapped_column(sa.String(18), index=True)
    address: Mapped[str] = mapped_column(sa.String(255), default="")
    scope: Mapped[str] = mapped_column(sa.Text, default="")
    teachers: Mapped[str] = mapped_column(sa.Text, default="")
    facilities: Mapped[str] = mapped_column(sa.Text, default="")
    management_rules: Mapped[str] = mapped_column(sa.Text, default="")
    contact_name: Mapped[str] = mapped_column(sa.String(64))
    contact_phone: Mapped[str] = mapped_column(sa.String(20))
    contact_email: Mapped[str] = mapped_column(sa.String(255))
    admin_password_hash: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[ApplicationStatus] = mapped_column(enum_column(ApplicationStatus),
                                                      default=ApplicationStatus.SUBMITTED)
    # The regulator's checklist: item key → met (services.base_applications.CHECKLIST names the items).
    checklist: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    base_id: Mapped[int | None] = mapped_column(sa.ForeignKey("training_base.id", ondelete="SET NULL"))

    region = relationship("Region")
    base = relationship("TrainingBase")
    files = relationship("BaseApplicationFile", cascade="all, delete-orphan", order_by="BaseApplicationFile.id")
    events = relationship("BaseApplicationEvent", cascade="all, delete-orphan", order_by="BaseApplicationEvent.id")


class BaseApplicationFile(Model):
    """An attachment of an application: PDF, JPEG or PNG, checked by content, stored under a random name."""

    __tablename__ = "base_application_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("base_application.id", ondelete="CASCADE"),
                                                index=True)
    key: Mapped[str] = mapped_column(sa.String(40), unique=True)
    filename: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class BaseApplicationEvent(Model):
    """The history of an application, a row per change of state. Rows are only ever added."""

    __tablename__ = "base_application_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("base_application.id", ondelete="CASCADE"),
                                                index=True)
    to_status: Mapped[ApplicationStatus] = mapped_column(enum_column(ApplicationStatus))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    actor = relationship("User")


__all__ = ["SECTORS", "ApplicationStatus", "BaseApplication", "BaseApplicationEvent", "BaseApplicationFile",
           "Employer", "EmployerStatus", "Employment", "EmploymentStatus", "SectorAuthority", "SectorGuide",
           "sector_guide_course"]
