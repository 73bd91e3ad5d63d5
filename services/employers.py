"""Employers (用人单位) on the site: an organisation registers with its first admin, a regulator of its region
approves or rejects it (with a reason, which the employer may answer by correcting and resubmitting), and an
approved employer's admins add and disable its reviewers."""

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from extensions import db
from models import (
    SECTORS,
    Employer,
    EmployerStatus,
    Employment,
    EmploymentStatus,
    Notice,
    NoticeKind,
    Region,
    RegionLevel,
    Role,
    User,
)
from models._common import utcnow
from services import audit, auth, credit_codes, identifiers, inbox, policies, text
from services.accounts import IDENTIFIER_TAKEN
from services.actors import Actor
from services.errors import DomainError, Invalid, NotAllowed, collect, in_order
from services.infra.transaction import unit_of_work

MIN_PASSWORD_LENGTH = 8  # as the learner's sign-up asks
REASON_MAX = 500


# --- registration ---------------------------------------------------------------------------------------------

def _organisation(data: dict, own_id: int | None = None) -> dict:
    """The organisation's fields of ``data`` checked, in their stored spelling; ``own_id``: the employer being
    corrected, which does not count as its own duplicate.

    :raise Invalid: each field at fault with its message (a wrong check character, a duplicate, …).
    """
    problems: dict[str, str] = {}
    name = text.strip_control_characters(data.get("name") or "").strip()
    if not name:
        problems["name"] = "请填写单位名称"
    code = credit_codes.normalise(data.get("credit_code") or "")
    problem = credit_codes.problem(code)
    if problem:
        problems["credit_code"] = problem
    region_id = data.get("region_id")
    region = db.session.get(Region, region_id) if isinstance(region_id, int) and 0 < region_id < 2**31 else None
    if region is None or region.level != RegionLevel.CITY:
        problems["region"] = "请选择单位所在的市"
    if data.get("sector") not in SECTORS:
        problems["sector"] = "请选择行业"
    contact_name = (data.get("contact_name") or "").strip()
    if not contact_name:
        problems["contact_name"] = "请填写联系人"
    contact_phone = identifiers.phone(data.get("contact_phone") or "")
    if not text.is_contact_phone(contact_phone):
        problems["contact_phone"] = text.CONTACT_PHONE_MESSAGE
    _duplicates(problems, name, code, region_id, own_id)
    if problems:
        raise Invalid(problems)
    return {"name": name[:128], "credit_code": code, "region_id": region_id, "sector": data["sector"],
            "contact_name": contact_name[:64], "contact_phone": contact_phone}


def _duplicates(problems: dict[str, str], name: str, code: str, region_id: object, own_id: int | None) -> None:
    """Add to ``problems`` an organisation registered already: the same credit code anywhere, the same name in
    the city."""
    others = sa.select(Employer.credit_code, Employer.name, Employer.region_id).where(
        sa.or_(Employer.credit_code == code, sa.and_(Employer.name == name, Employer.region_id == region_id)))
    if own_id is not None:
        others = others.where(Employer.id != own_id)
    for other_code, other_name, other_region in db.session.execute(others).all():
        if other_code == code and "credit_code" not in problems:
            problems["credit_code"] = "该统一社会信用代码已有单位注册，请勿重复注册；如需加入，请联系该单位的管理员"
        if other_name == name and other_region == region_id and "name" not in problems:
            problems["name"] = "本市已有同名单位注册，请勿重复注册"


def _login(raw: str | None) -> tuple[str | None, str | None]:
    """(email, phone) of a login typed as either. :raise DomainError: on ``login``."""
    login = auth.normalise_login(raw)
    if "@" in login:
        try:
            validate_email(login, check_deliverability=False)
        except EmailNotValidError as error:
            raise DomainError("邮箱格式不正确", field="login") from error
        return login[:255], None
    phone = identifiers.phone(login)
    if not identifiers.is_mobile(phone):
        raise DomainError("请填写 11 位手机号或邮箱", field="login")
    return None, phone


@dataclass(frozen=True)
class _Account:
    name: str
    email: str | None
    phone: str | None
    password: str


# The registration form's fields, top to bottom: the first field at fault is the one Invalid names.
REGISTRATION_ORDER = ("name", "credit_code", "region", "sector", "contact_name", "contact_phone", "admin_name",
                      "login", "password")


def _account(data: dict) -> _Account:
    """A new account's name, login and password, checked together (every fault in one round), then whether
    the login is in use (one neutral answer, as the learner's sign-up gives).

    :raise Invalid: each of the name (``admin_name`` or ``name``, as ``data`` calls it), ``login`` and
        ``password`` at fault.
    """
    problems: dict[str, str] = {}
    name = (data.get("admin_name") or data.get("name") or "").strip()
    if not name:
        problems["admin_name" if "admin_name" in data else "name"] = "请填写姓名"
    email, phone = collect(problems, lambda: _login(data.get("login")), "login") or (None, None)
    password = data.get("password") or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        problems["password"] = f"密码至少 {MIN_PASSWORD_LENGTH} 位"
    else:
        collect(problems, lambda: auth.check_new_password(password, user_inputs=[name, email or "", phone or ""]),
                "password")
    if "login" not in problems and db.session.scalar(sa.select(sa.func.count(User.id)).where(
            User.email == email if email else User.phone == phone)):
        problems["login"] = IDENTIFIER_TAKEN
    if problems:
        raise Invalid(in_order(problems, REGISTRATION_ORDER))
    return _Account(name, email, phone, password)


def _new_account(account: _Account, role: Role, employer: Employer) -> User:
    """A user of ``employer`` (not added yet) with the checked ``account``."""
    user = User(name=account.name[:64], email=account.email, phone=account.phone, role=role,
                region_id=employer.region_id, employer=employer)
    user.set_password(account.password)
    return user


def judge_registration(data: dict) -> tuple[dict, _Account]:
    """A registration's organisation and admin account, checked together (saving nothing): the form shows
    every fault in one round, its own (a field left empty) and these (blueprints.common_forms.judged_too).

    :raise Invalid: as ``register``.
    """
    problems: dict[str, str] = {}
    fields = collect(problems, lambda: _organisation(data), "name")
    account = collect(problems, lambda: _account(data), "login")
    if problems or fields is None or account is None:
        raise Invalid(in_order(problems, REGISTRATION_ORDER))
    return fields, account


def register(data: dict) -> User:
    """An organisation registers: the employer, pending a regulator's decision, and its first admin account,
    both or neither. The organisation and the account are judged together: every fault in one round.

    ``data``: name, credit_code, region_id, sector, contact_name, contact_phone, admin_name, login (an
    e-mail or a mobile phone), password.
    :raise Invalid: each field at fault, the organisation's (a wrong credit code, a duplicate organisation, …)
        and the admin's (name, login, password, a login in use), in the form's order.
    """
    fields, account = judge_registration(data)
    employer = Employer(**fields, status=EmployerStatus.PENDING, applied_at=utcnow())
    user = _new_account(account, Role.EMPLOYER_ADMIN, employer)
    try:
        with unit_of_work():
            db.session.add_all([employer, user])
            db.session.flush()
            audit.record(user, "employer.register", employer, details={
                "name": employer.name, "credit_code": employer.credit_code, "region_id": employer.region_id,
                "sector": employer.sector})
    except IntegrityError as error:
        # A concurrent registration took the code, the name or the login between the check and the insert.
        raise DomainError("该单位或登录账号刚刚已被注册，请检查后重试", field="credit_code") from error
    return user


def resubmit(actor: Actor, data: dict) -> Employer:
    """A rejected employer's admin corrects the registration and sends it again: pending once more.

    :raise LookupError: the actor runs no employer.
    :raise DomainError: the employer is not rejected; Invalid for the fields, as at registration.
    """
    employer = own_employer(actor)
    if employer.status != EmployerStatus.REJECTED:
        raise DomainError("只有未通过审核的单位可以修改后重新提交")
    fields = _organisation(data, own_id=employer.id)
    with unit_of_work():
        for name, value in fields.items():
            setattr(employer, name, value)
        changes = audit.diff(employer, fields)
        employer.status, employer.applied_at = EmployerStatus.PENDING, utcnow()
        audit.record(actor, "employer.resubmit", employer, details={"changes": changes,
                                                                    "previous_reason": employer.decision_reason})
    return employer


def own_employer(actor: Actor) -> Employer:
    """The employer the actor runs. :raise LookupError: none."""
    employer = db.session.get(Employer, actor.employer_id) if actor.employer_id else None
    if employer is None or not policies.may_manage_employer(actor, employer):
        raise LookupError("no employer of this admin")
    return employer


# --- the regulator's decision ---------------------------------------------------------------------------------

def for_regulator(regulator: Actor) -> Sequence[Employer]:
    """The employers in the regulator's reach, pending first (oldest application first), then the others by
    name. One query."""
    pending_first = sa.case((Employer.status == EmployerStatus.PENDING, 0), else_=1)
    return db.session.execute(
        sa.select(Employer).where(policies.employers_in_reach(regulator)).options(joinedload(Employer.region))
        .order_by(pending_first, sa.case((Employer.status == EmployerStatus.PENDING, Employer.applied_at)),
                  Employer.name)
    ).scalars().all()


def in_reach(regulator: Actor, employer_id: int) -> Employer:
    """:raise LookupError: no such employer in the regulator's reach (the view answers 404)."""
    employer = db.session.get(Employer, employer_id) if 0 < employer_id < 2**31 else None
    if employer is None or not policies.may_decide_employer(regulator, employer):
        raise LookupError("no such employer in reach")
    return employer


def admins_of(employer: Employer) -> Sequence[User]:
    return db.session.execute(
        sa.select(User).where(User.employer_id == employer.id, User.role == Role.EMPLOYER_ADMIN).order_by(User.id)
    ).scalars().all()


def decide(regulator: Actor, employer_id: int, approve: bool, reason: str = "") -> Employer:
    """Approve or reject a pending registration (a rejection needs its reason); the employer's admins are
    told by a notice.

    :raise LookupError: not an employer in the regulator's reach.
    :raise DomainError: not pending, or a rejection without a reason (on ``reason``).
    """
    employer = in_reach(regulator, employer_id)
    if employer.status != EmployerStatus.PENDING:
        raise DomainError("该单位的注册申请已处理")
    reason = (reason or "").strip()
    if not approve and not reason:
        raise DomainError("不予通过时请填写原因", field="reason")
    if len(reason) > REASON_MAX:
        raise DomainError(f"原因不超过 {REASON_MAX} 字", field="reason")
    with unit_of_work():
        employer.status = EmployerStatus.APPROVED if approve else EmployerStatus.REJECTED
        employer.decided_by_id, employer.decided_at, employer.decision_reason = regulator.id, utcnow(), reason
        audit.record(regulator, "employer.approve" if approve else "employer.reject", employer,
                     details={"reason": reason} if reason else {})
        message = (f"“{employer.name}”的注册已通过审核，现在可以添加审核人员、确认本单位职工。" if approve
                   else f"“{employer.name}”的注册未通过审核：{reason}。请修改后重新提交。")
        for admin in admins_of(employer):
            inbox.notify(admin.id, message, "/employer/", kind=NoticeKind.APPLICATION)
    return employer


# --- the employer's home and reviewers ------------------------------------------------------------------------

@dataclass(frozen=True)
class Home:
    employer: Employer
    staff: int
    pending_claims: int
    reviewers: int
    notices: Sequence[Notice]


def home(actor: Actor) -> Home:
    """The employer's state and counts. Three queries.

    :raise LookupError: the actor runs no employer."""
    employer = own_employer(actor)
    counts: dict[EmploymentStatus, int] = {status: n for status, n in db.session.execute(
        sa.select(Employment.status, sa.func.count(Employment.id)).where(Employment.employer_id == employer.id)
        .group_by(Employment.status)).all()}
    reviewers = db.session.scalar(sa.select(sa.func.count(User.id)).where(policies.managed_reviewers(actor))) or 0
    notices = db.session.execute(
        sa.select(Notice).where(Notice.user_id == actor.id).order_by(Notice.id.desc()).limit(5)).scalars().all()
    return Home(employer, counts.get(EmploymentStatus.CONFIRMED, 0), counts.get(EmploymentStatus.PENDING, 0),
                reviewers, notices)


def _approved(actor: Actor) -> Employer:
    employer = own_employer(actor)
    if employer.status != EmployerStatus.APPROVED:
        raise NotAllowed("单位注册通过审核后才能进行此操作")
    return employer


def reviewers(actor: Actor) -> Sequence[User]:
    """The employer's reviewer accounts, active first. One query."""
    return db.session.execute(
        sa.select(User).where(policies.managed_reviewers(actor)).order_by(User.active.desc(), User.id)
    ).scalars().all()


def add_reviewer(actor: Actor, data: dict) -> User:
    """A reviewer account of the actor's (approved) employer.

    ``data``: name, login (e-mail or mobile phone), password.
    :raise LookupError: the actor runs no employer.
    :raise NotAllowed: the employer is not approved.
    :raise DomainError: a bad name, login or password, or a login in use.
    """
    employer = _approved(actor)
    user = _new_account(_account(data), Role.REVIEWER, employer)
    # The admin typed the password: the reviewer replaces it at first sign-in.
    user.must_change_password = True
    try:
        with unit_of_work():
            db.session.add(user)
            db.session.flush()
            audit.record(actor, "employer.reviewer_add", user, details={"employer_id": employer.id})
    except IntegrityError as error:
        raise DomainError(IDENTIFIER_TAKEN, field="login") from error
    return user


def set_reviewer_active(actor: Actor, reviewer_id: int, active: bool) -> User:
    """Disable a reviewer account (its sessions end) or enable it again.

    :raise LookupError: not a reviewer of the actor's employer.
    :raise NotAllowed: the employer is not approved.
    """
    _approved(actor)
    reviewer = db.session.get(User, reviewer_id) if 0 < reviewer_id < 2**31 else None
    if reviewer is None or not policies.may_manage_reviewer(actor, reviewer):
        raise LookupError("no such reviewer")
    if reviewer.active == active:
        return reviewer
    with unit_of_work():
        reviewer.active = active
        if not active:
            reviewer.end_sessions()
        audit.record(actor, "employer.reviewer_enable" if active else "employer.reviewer_disable", reviewer,
                     details={"employer_id": reviewer.employer_id})
    return reviewer
