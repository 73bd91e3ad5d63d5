"""Accounts of every role, the password check and the session token."""

import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from models._common import LabelledEnum, Model, enum_column, utcnow


def _new_token() -> str:
    return secrets.token_urlsafe(32)


# The professional titles (职称) a learner chooses from, from the highest.
PROFESSIONAL_TITLES = ("正高级", "副高级", "中级", "助理级", "员级", "暂无职称")


class Role(LabelledEnum):
    LEARNER = "learner", "专业技术人员"
    BASE_ADMIN = "base_admin", "基地管理员"
    REVIEWER = "reviewer", "单位审核员"
    # Registers the employer, adds and removes its reviewers, confirms who works there; reviews too.
    EMPLOYER_ADMIN = "employer_admin", "单位管理员"
    # Staff of a sector authority (行业主管部门) of a region: the sector's review step and its study guides.
    SECTOR_OFFICER = "sector_officer", "行业主管部门"
    REGULATOR = "regulator", "人社局监管人员"
    # Owns what is national rather than regional: the holiday calendar, regions and regulators.
    PLATFORM_ADMIN = "platform_admin", "平台管理员"


class User(UserMixin, Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    email: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    phone: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    # Empty for an account a base registered for a walk-in trainee (registered_by_base_id) until its owner
    # claims it with a code sent to its phone: no password signs it in.
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role), index=True)
    region_id: Mapped[int | None] = mapped_column(sa.ForeignKey("region.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # The resident ID number is personal information: stored encrypted, never in clear (services.resident_ids).
    id_number_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    id_number_hmac: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    id_number_masked: Mapped[str] = mapped_column(sa.String(18), default="", server_default="")
    employer_name: Mapped[str] = mapped_column(sa.String(128), default="", server_default="")
    # A learner's employer as the employer confirmed it (models.Employment keeps the history), or the
    # employer a reviewer or employer admin acts for.
    employer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("employer.id"), index=True)
    # The sector authority a sector officer acts for.
    sector_authority_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sector_authority.id"), index=True)
    sector: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    professional_title: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    # Rotated at sign-out: a session or remember-me cookie carrying an old token no longer signs anyone in.
    session_token: Mapped[str] = mapped_column(sa.String(64), default=_new_token, server_default="")
    # Set when someone else chose the password (a regulator, an officer, a reviewer, a designated base's admin):
    # every page but the password change is closed to the account until its owner picks their own.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # The base whose staff registered this learner at the desk or from a roster (services.walk_ins).
    # use_alter: training_base reaches back here through its images and memberships.
    registered_by_base_id: Mapped[int | None] = mapped_column(sa.ForeignKey(
        "training_base.id", ondelete="SET NULL", use_alter=True, name="fk_user_registered_by_base_id_training_base"),
        index=True)
    # Closed at the owner's request (services.account_closing): what the law keeps stays, the rest is gone.
    closed_at: Mapped[datetime | None]

    region = relationship("Region")
    employer = relationship("Employer", foreign_keys=[employer_id])
    sector_authority = relationship("SectorAuthority", foreign_keys=[sector_authority_id])
    memberships = relationship("BaseMembership", back_populates="user", cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the remember-me cookie: id and current token."""
        return f"{self.id}:{self.session_token}"

    def end_sessions(self) -> None:
        """Invalidate every session and remember-me cookie issued so far."""
        self.session_token = _new_token()

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def claimed(self) -> bool:
        """Whether the account has a password: false for a walk-in trainee's until they claim it."""
        return bool(self.password_hash)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role.value}>"
