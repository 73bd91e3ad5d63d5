"""Base applications (基地申报, notice 004 五): an institution applies to become a base of a type in a region,
follows its application through a secret link, may withdraw it while it waits; the regulator who decides
that type in that region reviews it against CHECKLIST and approves (the base and its first admin are
created) or rejects it with a reason. Every change is a BaseApplicationEvent and an audit entry."""

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.datastructures import FileStorage

import models.user as user_model
from extensions import db
from models import (
    ApplicationStatus,
    BaseApplication,
    BaseApplicationEvent,
    BaseApplicationFile,
    BaseMembership,
    BaseStatus,
    BaseStatusChange,
    BaseType,
    Channel,
    NoticeKind,
    Region,
    RegionLevel,
    Role,
    TrainingBase,
    User,
)
from models._common import utcnow
from services import audit, auth, credit_codes, identifiers, inbox, messaging, policies, text
from services.errors import DomainError, Invalid, InvalidTransition
from services.infra import evidence_files
from services.infra.transaction import unit_of_work

# What the regulator checks an application against: the conditions the notices set for a base (002 四: public
# scope, content and fees; an annual plan and projects; facilities; a stable staff of teachers; management
# rules; 004 四: the year's training task, 规范管理 without 乱办班、乱收费、乱发证). Key → what is checked.
CHECKLIST: tuple[tuple[str, str], ...] = (
    ("legal_entity", "具有独立法人资格，统一社会信用代码与申报单位一致"),
    ("scope", "培训范围明确，能向社会公开培训范围、内容、收费项目及标准"),
    ("plan", "能科学制定年度培训计划，开发有针对性和实效性的培训项目课程"),
    ("teachers", "建有专兼职结合、相对稳定的师资队伍"),
    ("facilities", "具备开展培训所需的场地设施和网络学习条件"),
    ("rules", "建立教学管理、学员组织、经费保障、后勤服务、考核评估、跟踪问效等管理制度"),
    ("capacity", "具备完成年度培训任务（培训人数、研修项目）的能力"),
    ("conduct", "规范办学，无乱办班、乱收费、乱发证等违规记录"),
)
CHECKLIST_KEYS = tuple(key for key, _label in CHECKLIST)

MAX_FILES = 10
TEXT_FIELDS = {  # field → (label, longest)
    "name": ("申报单位名称", 128), "address": ("地址", 255), "scope": ("培训范围", 5000),
    "teachers": ("师资", 5000), "facilities": ("场地设施", 5000), "management_rules": ("管理制度", 5000),
    "contact_name": ("联系人", 64),
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def region_choices() -> Sequence[Region]:
    """The regions an institution may apply in: every province and city (by level, then code)."""
    return db.session.scalars(sa.select(Region).order_by(Region.level, Region.code)).all()


def type_problem(base_type: BaseType, region: Region | None) -> tuple[str, str] | None:
    """(message, field) when no regulator could decide an application of the type in the region, else None:
    a city-level base belongs to a city (registry.designation_problem says the same of a designation)."""
    if region is None:
        return "请选择列出的地区", "region_id"
    if base_type == BaseType.CITY and region.level != RegionLevel.CITY:
        return "市级继续教育基地应申报在市（请选择所在的市）", "region_id"
    return None


# --- the applicant ------------------------------------------------------------------------------------------

def _clean(data: dict) -> tuple[dict, dict[str, str]]:
    """The application's values in their stored spelling, and a message per field at fault."""
    problems: dict[str, str] = {}
    values: dict = {}
    for field, (label, longest) in TEXT_FIELDS.items():
        value = text.strip_control_characters(data.get(field) or "").strip()
        if not value:
            problems[field] = f"请填写{label}"
        elif len(value) > longest:
            problems[field] = f"{label}不能超过 {longest} 个字"
        values[field] = value
    values["credit_code"] = credit_codes.normalise(data.get("credit_code"))
    problem = credit_codes.problem(values["credit_code"])
    if problem:
        problems["credit_code"] = problem
    _clean_place(data, values, problems)
    _clean_contact(data, values, problems)
    password = data.get("password") or ""
    if len(password) < 8:
        problems["password"] = "密码至少 8 位"
    else:
        try:
            auth.check_new_password(password, user_inputs=[values.get("contact_name") or "",
                                                           values.get("contact_phone") or "",
                                                           values.get("contact_email") or ""])
        except DomainError as error:
            problems["password"] = error.message
    return values, problems


def _clean_place(data: dict, values: dict, problems: dict[str, str]) -> None:
    region_id = data.get("region_id")
    region = db.session.get(Region, region_id) if isinstance(region_id, int) and 0 < region_id < 2**31 else None
    values["region_id"] = region.id if region is not None else None
    base_type = data.get("base_type")
    if not isinstance(base_type, str) or base_type not in {t.value for t in BaseType}:
        problems["base_type"] = "请选择列出的基地类型"
        return
    values["base_type"] = BaseType(base_type)
    found = type_problem(values["base_type"], region)
    if found:
        problems.setdefault(found[1], found[0])


def _clean_contact(data: dict, values: dict, problems: dict[str, str]) -> None:
    values["contact_phone"] = phone = identifiers.phone(data.get("contact_phone"))
    if not identifiers.is_mobile(phone):
        problems["contact_phone"] = "请填写 11 位手机号（将作为基地管理员的登录账号）"
    values["contact_email"] = email = auth.normalise_login(data.get("contact_email"))
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        problems["contact_email"] = "请填写有效的邮箱（将作为基地管理员的登录账号）"
    else:
        if len(email) > 255:
            problems["contact_email"] = "邮箱过长"


def _taken(values: dict, problems: dict[str, str]) -> None:
    """Add a message per field whose value a base, a waiting application or an account already has."""
    if "name" not in problems and db.session.scalar(
            sa.select(TrainingBase.id).where(TrainingBase.name == values["name"])):
        problems["name"] = "已有同名的继续教育基地"
    same = sa.or_(BaseApplication.credit_code == values["credit_code"], BaseApplication.name == values["name"])
    rows = db.session.execute(
        sa.select(BaseApplication.name, BaseApplication.credit_code, BaseApplication.status)
        .where(same, BaseApplication.status.in_([ApplicationStatus.SUBMITTED, ApplicationStatus.APPROVED]))
    ).all()
    for name, code, status in rows:
        what = "已是继续教育基地" if status == ApplicationStatus.APPROVED else "已有一份申报正在审核"
        if code == values["credit_code"] and "credit_code" not in problems:
            problems["credit_code"] = f"该统一社会信用代码{what}"
        if name == values["name"] and "name" not in problems:
            problems["name"] = f"该单位{what}"
    _accounts_taken(values["contact_email"], values["contact_phone"], problems)


def _accounts_taken(email: str, phone: str, problems: dict[str, str]) -> None:
    rows = db.session.execute(
        sa.select(User.email, User.phone).where(sa.or_(User.email == email, User.phone == phone))).all()
    if any(row.email == email for row in rows) and "contact_email" not in problems:
        problems["contact_email"] = "该邮箱已是本站的账号，请换一个邮箱作为基地管理员的登录账号"
    if any(row.phone == phone for row in rows) and "contact_phone" not in problems:
        problems["contact_phone"] = "该手机号已是本站的账号，请换一个手机号作为基地管理员的登录账号"


def submit(data: dict, uploads: Iterable[FileStorage | None]) -> tuple[BaseApplication, str]:
    """File an application from nobody signed in. Returns it and the secret of its link, shown once (only
    its SHA-256 is kept, as an API token's).

    ``data``: region_id, base_type, name, credit_code, address, scope, teachers, facilities, management_rules,
    contact_name, contact_phone, contact_email, password (of the base admin account made on approval).
    :raise Invalid: each field at fault with its message (missing, a bad credit code, a region the type
        cannot be in, a base or a waiting application with that code or name, an e-mail or phone that is an
        account already, no attachment or too many).
    :raise EvidenceRejected: an attachment that is empty, too large or not a PDF/JPEG/PNG by content.
    """
    files = [u for u in uploads if u is not None and u.filename]
    values, problems = _clean(data)
    if not problems:
        _taken(values, problems)
    if not files:
        problems["files"] = "请上传申报材料（PDF、JPEG 或 PNG）"
    elif len(files) > MAX_FILES:
        problems["files"] = f"最多上传 {MAX_FILES} 个文件"
    if problems:
        raise Invalid(problems)
    token = secrets.token_urlsafe(32)
    application = BaseApplication(
        access_hash=hash_token(token), region_id=values["region_id"], base_type=values["base_type"],
        name=values["name"], credit_code=values["credit_code"], address=values["address"], scope=values["scope"],
        teachers=values["teachers"], facilities=values["facilities"],
        management_rules=values["management_rules"], contact_name=values["contact_name"],
        contact_phone=values["contact_phone"], contact_email=values["contact_email"],
        # Looked up at call time: the tests make hashing cheap by patching models.user's.
        admin_password_hash=user_model.generate_password_hash(data["password"]),
        status=ApplicationStatus.SUBMITTED, checklist={},
    )
    # A file written before a later one is refused, or before the commit fails, is removed with the rollback.
    with unit_of_work():
        for upload in files:
            written = evidence_files.write(upload)
            application.files.append(BaseApplicationFile(
                key=written.key, filename=written.filename, content_type=written.content_type, size=written.size,
                sha256=written.sha256))
        application.events.append(BaseApplicationEvent(to_status=ApplicationStatus.SUBMITTED, note=""))
        db.session.add(application)
        db.session.flush()
        audit.record(None, "application.submit", application, details={
            "region_id": application.region_id, "type": application.base_type.value, "name": application.name,
            "credit_code": application.credit_code, "files": len(files)})
    return application, token


def by_token(token: str) -> BaseApplication:
    """The application the secret link opens, with its history and files (three queries).

    :raise LookupError: no application has that link.
    """
    if not token or len(token) > 100:
        raise LookupError(token)
    application = db.session.scalar(
        sa.select(BaseApplication).where(BaseApplication.access_hash == hash_token(token))
        .options(joinedload(BaseApplication.region), selectinload(BaseApplication.files),
                 selectinload(BaseApplication.events).joinedload(BaseApplicationEvent.actor))
    )
    if application is None:
        raise LookupError(token)
    return application


def withdraw(token: str, note: str = "") -> BaseApplication:
    """The applicant takes back an application still waiting for the decision.

    :raise LookupError: no application has that link.
    :raise InvalidTransition: it is decided or withdrawn already.
    """
    application = by_token(token)
    if application.status != ApplicationStatus.SUBMITTED:
        raise InvalidTransition(f"申报当前为“{application.status.label}”，不能撤回")
    note = (note or "").strip()[:1000]
    with unit_of_work():
        application.status = ApplicationStatus.WITHDRAWN
        application.events.append(BaseApplicationEvent(to_status=ApplicationStatus.WITHDRAWN, note=note))
        audit.record(None, "application.withdraw", application, details={"region_id": application.region_id})
        _tell_applicant(application, "基地申报已撤回",
                        f"您以“{application.name}”提交的{application.base_type.label}申报已撤回，不再进入评审。")
    return application


def _tell_applicant(application: BaseApplication, subject: str, news: str) -> None:
    """E-mail the applicant (who has no account until approval) at the application's contact address, in the
    caller's unit of work. The follow link is not in it, even where it is known (a withdrawal): the site keeps
    only its hash, and the outbox would keep the e-mail's text."""
    site = current_app.config["SITE_URL"].rstrip("/")
    body = "\n".join([f"{application.contact_name}，您好：", "", news, "",
                      "请使用提交申报时获得的查询链接查看详情。", "",
                      "——", "此邮件由继续教育基地平台自动发送，请勿直接回复。", site])
    messaging.send_direct(Channel.EMAIL, application.contact_email, kind=NoticeKind.APPLICATION,
                          subject=f"【继续教育基地平台】{subject}", body=body)


def file_of(application: BaseApplication, file_id: int) -> tuple[BaseApplicationFile, Path]:
    """An attachment of the application and where it is kept.

    :raise LookupError: no such attachment of this application.
    """
    row = next((f for f in application.files if f.id == file_id), None)
    if row is None:
        raise LookupError(file_id)
    return row, evidence_files.path_of(row)


# --- the regulator -------------------------------------------------------------------------------------------

def decidable_by(regulator: User) -> Sequence[BaseApplication]:
    """The applications the regulator decides (policies.decidable_applications): waiting ones first, oldest
    first among them, then the rest newest first; with their regions. One query."""
    waiting = sa.case((BaseApplication.status == ApplicationStatus.SUBMITTED, 0), else_=1)
    return db.session.scalars(
        sa.select(BaseApplication).where(policies.decidable_applications(regulator))
        .options(joinedload(BaseApplication.region))
        .order_by(waiting, sa.case((BaseApplication.status == ApplicationStatus.SUBMITTED,
                                    BaseApplication.id), else_=-BaseApplication.id))
    ).all()


def for_regulator(regulator: User, application_id: int) -> BaseApplication:
    """The application, with its region, files and history, if the regulator decides it.

    :raise LookupError: none such, or not the regulator's to decide (policies.may_decide_application).
    """
    if not 0 < application_id < 2**31:
        raise LookupError(application_id)
    application = db.session.scalar(
        sa.select(BaseApplication).where(BaseApplication.id == application_id)
        .options(joinedload(BaseApplication.region), joinedload(BaseApplication.base),
                 selectinload(BaseApplication.files),
                 selectinload(BaseApplication.events).joinedload(BaseApplicationEvent.actor))
    )
    if application is None or not policies.may_decide_application(regulator, application):
        raise LookupError(application_id)
    return application


def _checklist(met: Iterable[str]) -> dict[str, bool]:
    chosen = set(met)
    return {key: key in chosen for key in CHECKLIST_KEYS}


def _waiting(application: BaseApplication) -> None:
    if application.status != ApplicationStatus.SUBMITTED:
        raise InvalidTransition(f"申报当前为“{application.status.label}”，不能再审核", field="decision")


def save_checklist(regulator: User, application_id: int, met: Iterable[str]) -> BaseApplication:
    """Keep which conditions of CHECKLIST the application meets (unknown keys are ignored).

    :raise LookupError: not the regulator's to decide.
    :raise InvalidTransition: already decided or withdrawn.
    """
    application = for_regulator(regulator, application_id)
    _waiting(application)
    checklist = _checklist(met)
    with unit_of_work():
        if checklist != (application.checklist or {}):
            application.checklist = checklist
            audit.record(regulator, "application.checklist", application,
                         details={"met": [k for k, v in checklist.items() if v]})
    return application


def reject(regulator: User, application_id: int, reason: str, met: Iterable[str] = ()) -> BaseApplication:
    """Refuse the application with a reason the applicant reads on their page.

    :raise LookupError: not the regulator's to decide.
    :raise InvalidTransition: already decided or withdrawn.
    :raise DomainError: no reason (field ``reason``).
    """
    application = for_regulator(regulator, application_id)
    _waiting(application)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("驳回申报须填写理由", field="reason")
    with unit_of_work():
        application.checklist = _checklist(met)
        application.status = ApplicationStatus.REJECTED
        application.decided_by_id, application.decided_at = regulator.id, utcnow()
        application.decision_reason = reason
        application.events.append(BaseApplicationEvent(to_status=ApplicationStatus.REJECTED, note=reason,
                                                        actor_id=regulator.id))
        audit.record(regulator, "application.reject", application,
                     details={"reason": reason, "met": [k for k in CHECKLIST_KEYS if application.checklist[k]]})
        _tell_applicant(application, "基地申报未通过认定",
                        f"您以“{application.name}”提交的{application.base_type.label}申报未通过认定。理由：{reason}")
    return application


def approve(regulator: User, application_id: int, note: str = "", met: Iterable[str] = ()) -> TrainingBase:
    """Designate the applicant as a base: in one unit of work the base (its disclosure begun from the
    application: address, scope, staff, rules, contact person; not the applicant's mobile, see below), its
    first admin (the applicant's e-mail and phone, the password they chose), the membership, the base's first
    status change, the application's base and its event.

    :raise LookupError: not the regulator's to decide.
    :raise InvalidTransition: already decided or withdrawn.
    :raise Invalid: a condition of CHECKLIST not met (field ``checklist``); since the application was filed a
        base took its name, or an account its e-mail or phone.
    """
    application = for_regulator(regulator, application_id)
    _waiting(application)
    checklist = _checklist(met)
    unmet = [label for key, label in CHECKLIST if not checklist[key]]
    if unmet:
        raise Invalid({"checklist": "以下条件尚未满足，不能批准：" + "；".join(unmet)})
    problems: dict[str, str] = {}
    if db.session.scalar(sa.select(TrainingBase.id).where(TrainingBase.name == application.name)):
        problems["name"] = "已有同名的继续教育基地，不能批准"
    _accounts_taken(application.contact_email, application.contact_phone, problems)
    if problems:
        raise Invalid({"decision": "；".join(problems.values())})
    note = (note or "").strip()
    try:
        with unit_of_work():
            base = TrainingBase(
                name=application.name, type=application.base_type, region_id=application.region_id,
                status=BaseStatus.ACTIVE, address=application.address, scope=application.scope,
                staff=application.teachers, rules=application.management_rules,
                # The applicant's mobile is their admin account's sign-in, not a number they chose to publish:
                # the base's public telephone is left for its admin to fill in (disclosure_missing says so).
                contact_person=application.contact_name,
            )
            db.session.add(base)
            db.session.flush()
            admin = User(name=f"{application.contact_name}（{application.name}管理员）"[:64],
                         email=application.contact_email, phone=application.contact_phone, role=Role.BASE_ADMIN,
                         region_id=application.region_id, password_hash=application.admin_password_hash,
                         must_change_password=False)  # the applicant chose it
            db.session.add(admin)
            db.session.flush()
            db.session.add(BaseMembership(user_id=admin.id, base_id=base.id))
            db.session.add(BaseStatusChange(base_id=base.id, from_status=None, to_status=BaseStatus.ACTIVE,
                                            reason="经申报评选认定为继续教育基地", actor_id=regulator.id))
            application.checklist = checklist
            application.status = ApplicationStatus.APPROVED
            application.decided_by_id, application.decided_at = regulator.id, utcnow()
            application.decision_reason = note
            application.base_id = base.id
            application.events.append(BaseApplicationEvent(to_status=ApplicationStatus.APPROVED, note=note,
                                                            actor_id=regulator.id))
            audit.record(regulator, "application.approve", application, base_id=base.id,
                         details={"base": base.name, "type": base.type.value})
            audit.record(regulator, "base.designate", base, base_id=base.id,
                         details={"type": base.type.value, "application_id": application.id,
                                  "admins": [auth.masked(admin.email or "")]})
            # The new admin account's notice also goes to the contact address by e-mail (its fan-out: the
            # account's e-mail is the contact's), so no second, direct e-mail is sent.
            inbox.notify(admin.id, f"您以“{application.name}”提交的{application.base_type.label}申报已通过认定，"
                         "基地已开通。请用申报时填写的邮箱或手机号及密码登录，完善基地信息公开后发布课程。"
                         + (f"（{note}）" if note else ""), f"/manage/bases/{base.id}", kind=NoticeKind.APPLICATION)
    except IntegrityError:
        # Taken between the check and the insert (the unit of work rolled everything back).
        raise Invalid({"decision": "基地名称、管理员邮箱或手机号刚被占用，未作任何更改，请刷新后再试"}) from None
    return base
