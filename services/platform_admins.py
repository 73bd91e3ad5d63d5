"""The platform administrator's business: their accounts, and reads of what the platform owns (regions,
regulators, the national holiday calendar and its history)."""

from collections.abc import Sequence

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import aliased, joinedload

from extensions import db
from models import AuditLog, Region, Role, User
from services import auth, workdays
from services.errors import DomainError
from services.infra import clock
from services.infra.transaction import unit_of_work

MIN_PASSWORD_LENGTH = 8  # as the sign-up and password-change forms ask


def create_platform_admin(email: str, name: str, password: str) -> User:
    """Make a platform administrator account (from the command line: there is no one above them on the site).

    :raise DomainError: an invalid e-mail, an empty name, a short password, or an e-mail already in use.
    """
    # Stored in the spelling sign-in reads (services.auth.normalise_login), or nobody could sign in with it.
    email = auth.normalise_login(email)
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        raise DomainError(f"邮箱格式不正确：{error}", field="email") from error
    if not name.strip():
        raise DomainError("请填写姓名", field="name")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"密码至少 {MIN_PASSWORD_LENGTH} 位", field="password")
    auth.check_new_password(password)
    if db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise DomainError(f"{email} 已有账号", field="email")
    user = User(email=email, name=name.strip()[:64], role=Role.PLATFORM_ADMIN, region_id=None)
    user.set_password(password)
    with unit_of_work():
        db.session.add(user)
    return user


def regions() -> Sequence[Region]:
    """Every region, provinces first and each city after its province. One query."""
    parent = aliased(Region)
    return db.session.execute(
        sa.select(Region).outerjoin(parent, parent.id == Region.parent_id)
        .options(joinedload(Region.parent))
        .order_by(sa.func.coalesce(parent.code, Region.code), Region.parent_id.is_not(None), Region.code)
    ).scalars().all()


def regulators() -> Sequence[User]:
    """Every regulator account with its region. One query."""
    return db.session.execute(
        sa.select(User).where(User.role == Role.REGULATOR)
        .options(joinedload(User.region).joinedload(Region.parent))
        .order_by(User.region_id, User.id)
    ).scalars().all()


CALENDAR_HISTORY = 20


def calendar_history() -> Sequence[AuditLog]:
    """The latest loads of the holiday calendar, newest first, with who made them."""
    return db.session.execute(
        sa.select(AuditLog).where(AuditLog.action == "calendar.load")
        .options(joinedload(AuditLog.actor)).order_by(AuditLog.id.desc()).limit(CALENDAR_HISTORY)
    ).scalars().all()


def calendar_years() -> tuple[list[int], list[int]]:
    """The years whose schedule is loaded, and those a deadline counted from today may reach unloaded."""
    loaded = workdays.years_loaded()
    return loaded, workdays.years_missing(clock.today(), loaded)
