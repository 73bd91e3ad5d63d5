"""The platform administrator's business: their accounts, the regions and regulator accounts they create
(nobody else may), and reads of what the platform owns (regions, regulators, the national holiday calendar
and its history)."""

from collections.abc import Sequence

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload

from extensions import db
from models import AuditLog, Region, RegionLevel, Role, User
from services import audit, auth, identifiers, policies, staff_accounts, workdays
from services.actors import Actor
from services.errors import DomainError, Invalid, NotAllowed
from services.infra import clock
from services.infra.transaction import unit_of_work

MIN_PASSWORD_LENGTH = staff_accounts.MIN_PASSWORD_LENGTH


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
    auth.check_new_password(password, user_inputs=[name, email])
    if db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise DomainError(f"{email} 已有账号", field="email")
    user = User(email=email, name=name.strip()[:64], role=Role.PLATFORM_ADMIN, region_id=None)
    user.set_password(password)
    with unit_of_work():
        db.session.add(user)
    return user


def _ensure_may_administer(actor: Actor) -> None:
    if not policies.may_administer_platform(actor):
        raise NotAllowed("只有平台管理员可以管理地区和监管账号")


def _row_id(value: object) -> int | None:
    """A typed row id, or None for anything that cannot be one (beyond the column's range included)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31 else None


def create_region(actor: Actor, data: dict) -> Region:
    """Create a province, or a city under a province. ``data``: code (the six-digit administrative division
    code of GB/T 2260), name, level (``province`` or ``city``), parent_id (a province; a city's only).

    :raise NotAllowed: the actor is not the platform administrator (policies.may_administer_platform).
    :raise Invalid: each field at fault: a code that is not six digits, is taken, or does not fit its level
        (a province's ends in 0000; a city's does not, and begins with its province's two digits); an empty
        name or one already used under the same parent; an unknown level; a city without a province, or a
        province given a parent.
    """
    _ensure_may_administer(actor)
    code = identifiers.compact(data.get("code"))
    name = (data.get("name") or "").strip()
    typed = data.get("level")
    level = RegionLevel(typed) if isinstance(typed, str) and typed in {lv.value for lv in RegionLevel} else None
    parent_id = _row_id(data.get("parent_id"))
    parent = db.session.get(Region, parent_id) if parent_id else None
    problems = {}
    for field, problem in (("level", _level_problem(level, parent, data.get("parent_id"))),
                           ("code", _code_problem(code, level, parent)), ("name", _name_problem(name, level, parent))):
        if problem:
            problems["parent" if field == "level" and level is not None else field] = problem
    if problems or level is None:
        raise Invalid(problems or {"level": "请选择级别（省或市）"})
    region = Region(code=code, name=name, level=level, parent_id=parent.id if parent else None)
    try:
        with unit_of_work():
            db.session.add(region)
            db.session.flush()
            audit.record(actor, "region.create", region,
                         details={"code": code, "name": name, "level": level.value, "parent_id": region.parent_id})
    except IntegrityError:
        raise DomainError(f"代码 {code} 已被使用", field="code") from None
    return region


def _level_problem(level: RegionLevel | None, parent: Region | None, parent_typed: object) -> str | None:
    if level is None:
        return "请选择级别（省或市）"
    if level == RegionLevel.PROVINCE and parent_typed:
        return "省级地区没有上级地区"
    if level == RegionLevel.CITY and (parent is None or parent.level != RegionLevel.PROVINCE):
        return "请选择市所属的省"
    return None


def _code_problem(code: str, level: RegionLevel | None, parent: Region | None) -> str | None:
    """A province's code ends in 0000 (510000); a city's does not, and begins with its province's two digits."""
    if not (identifiers.is_ascii_digits(code) and len(code) == 6):
        return "请填写 6 位行政区划代码"
    if level == RegionLevel.PROVINCE and not code.endswith("0000"):
        return "省级行政区划代码以 0000 结尾（如 510000）"
    if level == RegionLevel.CITY and parent is not None and (code.endswith("0000") or code[:2] != parent.code[:2]):
        return f"市的行政区划代码以所属省的 {parent.code[:2]} 开头，且不以 0000 结尾"
    if db.session.scalar(sa.select(Region.id).where(Region.code == code)):
        return f"代码 {code} 已被使用"
    return None


def _name_problem(name: str, level: RegionLevel | None, parent: Region | None) -> str | None:
    if not name:
        return "请填写地区名称"
    if len(name) > 64:
        return "地区名称最多 64 个字"
    siblings = Region.parent_id.is_(None) if parent is None else Region.parent_id == parent.id
    if level is not None and db.session.scalar(sa.select(Region.id).where(Region.name == name, siblings)):
        return f"已有同名地区：{name}"
    return None


def create_regulator(actor: Actor, data: dict) -> User:
    """Create a regulator account of a region. ``data``: name, email (the sign-in name), phone (optional),
    region_id, password (the initial one, typed by the administrator and handed over by them).

    :raise NotAllowed: the actor is not the platform administrator.
    :raise Invalid: each field at fault: no such region; an invalid or taken e-mail or phone; an empty name;
        a short password or one holding a line break.
    """
    _ensure_may_administer(actor)
    region_id = _row_id(data.get("region_id"))
    region = db.session.get(Region, region_id) if region_id else None
    try:
        user = staff_accounts.build(Role.REGULATOR, data, region_id=region.id if region else None)
    except Invalid as error:
        problems = error.fields
    else:
        problems = {}
    if region is None:
        problems = {"region": "请选择监管的地区", **problems}
    if problems:
        raise Invalid(problems)
    try:
        with unit_of_work():
            db.session.add(user)
            db.session.flush()
            # The e-mail masked, the phone not at all: the log is no address book.
            audit.record(actor, "regulator.create", user,
                         details={"region_id": user.region_id, "email": auth.masked(user.email or "")})
    except IntegrityError:
        raise DomainError("该邮箱或手机号已有账号", field="email") from None
    return user


def set_regulator_active(actor: Actor, user_id: int, active: bool) -> User:
    """Disable a regulator account (it can no longer sign in, and its sessions end at once) or enable it again.

    :raise NotAllowed: the actor is not the platform administrator.
    :raise LookupError: no regulator account has the id.
    """
    _ensure_may_administer(actor)
    user = db.session.get(User, user_id) if _row_id(user_id) else None
    if user is None or user.role != Role.REGULATOR:
        raise LookupError(user_id)
    if user.active == active:
        return user
    with unit_of_work():
        user.active = active
        if not active:
            user.end_sessions()
        audit.record(actor, "regulator.enable" if active else "regulator.disable", user,
                     details={"region_id": user.region_id})
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
