"""Walk-in trainees: learner accounts a base registers for people who have none yet, at the desk or from a roster
file (services.roster), with no password; their owner claims one with a code sent to its phone (/claim).

An ID number that already has an account is linked to it, never given a second one. The answers never say whose
account holds an ID number or a phone: the name on it, its other details, or its role.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from extensions import db
from models import (
    Channel,
    Course,
    CourseStatus,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    NoticeKind,
    OutboundMessage,
    OutboxStatus,
    PlanStatus,
    Region,
    RegionLevel,
    Role,
    TrainingBase,
    User,
)
from models._common import utcnow
from services import audit, identifiers, inbox, jobs, messaging, policies, resident_ids, text
from services.actors import Actor
from services.errors import DomainError, Invalid, NotAllowed
from services.infra import clock, paging
from services.infra.locking import locked
from services.infra.transaction import unit_of_work

# Where the person claims the account (the claim pages: phone, code, a password of their own).
CLAIM_PATH = "/claim"
# The invitation may be sent again, at most once in this time per account: each text message costs money and
# interrupts the person.
RESEND_INTERVAL = timedelta(minutes=10)
MAX_NAME = 64

# Neutral answers: the desk has the person's ID number and phone in hand, but learns nothing of an account
# beyond "it exists" (which linking to it says anyway).
NAME_MISMATCH = "该身份证号已有账号，但姓名与账号不符，请核对姓名和身份证号"
NOT_LINKABLE = "该身份证号已有账号，但不能登记为学员，请学员本人联系平台"
PHONE_TAKEN = "该手机号已被其他账号使用，请核对或换一个手机号"
CONCURRENT = "该学员的信息刚刚被其他操作登记，请重新提交"


def invitation_summary(base: TrainingBase) -> str:
    return f"{base.name}已为您登记，请到平台认领账号"


@dataclass(frozen=True)
class Person:
    """A walk-in as the desk or a roster row gives them, checked and in their one spelling."""

    name: str
    id_number: str
    phone: str
    fingerprint: str  # of the ID number (resident_ids.fingerprint)


def person(name: str, id_number: str, phone: str) -> Person:
    """The person, checked: a name, a valid resident ID number, a mainland mobile number, each of them, so that
    the desk sees every fault in one round. Saves nothing and reads nothing from the database.

    :raise Invalid: each field at fault (``name``, ``id_number``, ``phone``, in the desk form's order).
    """
    problems: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        problems["name"] = "请填写姓名"
    elif len(name) > MAX_NAME:
        problems["name"] = f"姓名不能超过 {MAX_NAME} 个字"
    number = resident_ids.normalise(id_number)
    problem = resident_ids.problem(number)
    if problem:
        problems["id_number"] = problem
    mobile = identifiers.phone(phone)
    if not identifiers.is_mobile(mobile):
        problems["phone"] = "请填写 11 位手机号"
    if problems:
        raise Invalid(problems)
    return Person(name, number, mobile, resident_ids.fingerprint(number))


def region_for(base: TrainingBase, region_id: int | None = None) -> int | None:
    """The walk-in's region: ``region_id`` when given (a city), else the base's when the base is a city's; a
    province-level base leaves it to the person, who chooses their city when they claim the account.

    :raise DomainError: ``region_id`` is not a city (field ``region``).
    """
    if region_id is not None:
        region = db.session.get(Region, region_id) if 0 < region_id < 2**31 else None
        if region is None or region.level != RegionLevel.CITY:
            raise DomainError("请选择所在的市", field="region")
        return region.id
    region = base.region
    return region.id if region is not None and region.level == RegionLevel.CITY else None


def new_account_values(base_id: int, who: Person, region_id: int | None, now: datetime | None = None) -> dict:
    """The columns of an unclaimed learner account (no password) for ``who``, registered by the base: for an
    ORM object or a bulk insert alike."""
    return {
        "name": who.name, "phone": who.phone, "email": None, "password_hash": "", "role": Role.LEARNER,
        "region_id": region_id, "id_number_ciphertext": resident_ids.encrypt(who.id_number),
        "id_number_hmac": who.fingerprint, "id_number_masked": resident_ids.mask(who.id_number),
        "registered_by_base_id": base_id, "created_at": now or utcnow(),
    }


def _invitation(base: TrainingBase) -> dict[str, str]:
    return {"kind": "账号认领", "summary": invitation_summary(base)}


def invite(base: TrainingBase, user_id: int, phone: str) -> OutboundMessage:
    """Queue the text message that tells the person their account exists and where to claim it (sent after
    the caller's commit)."""
    return messaging.send_direct(Channel.SMS, phone, kind=NoticeKind.ACCOUNT, sms_template="notice",
                                 sms_params=_invitation(base), user_id=user_id)


def welcome(actor: Actor, base: TrainingBase, created: dict[int, Person], via: str) -> None:
    """For accounts just created ({user id: person}), in the caller's unit of work: their creation in the audit
    log, personal numbers masked (the log is read by regulators), and their invitations in the outbox, sent
    after the commit. In bulk, a statement per 500 of each, by id: a roster's accounts are inserted so."""
    audit.record_each(actor, "walk_in.register", "user", [
        (user_id, {"via": via, "id_number": resident_ids.mask(who.id_number),
                   "phone": text.masked_contact(who.phone)}) for user_id, who in created.items()], base_id=base.id)
    body, now = json.dumps(_invitation(base), ensure_ascii=False), utcnow()
    rows = [{"channel": Channel.SMS, "kind": NoticeKind.ACCOUNT, "user_id": user_id, "recipient": who.phone,
             "subject": "", "body": body, "sms_template": "notice", "status": OutboxStatus.QUEUED, "attempts": 0,
             "created_at": now} for user_id, who in created.items()]
    ids: list[int] = []
    for start in range(0, len(rows), 500):
        ids += db.session.scalars(sa.insert(OutboundMessage).returning(OutboundMessage.id), rows[start:start + 500])
    jobs.deliver_after_commit(db.session(), ids)


def _check_manager(actor: Actor, base: TrainingBase) -> None:
    if not policies.may_manage_base(actor, base):
        raise NotAllowed("您不是该基地的管理员")


def _register(actor: Actor, base: TrainingBase, who: Person, region_id: int | None, via: str) -> tuple[User, bool]:
    """Link or create, in the caller's unit of work."""
    holder = db.session.execute(
        sa.select(User).where(User.id_number_hmac == who.fingerprint)).scalar_one_or_none()
    if holder is not None:
        if holder.role != Role.LEARNER or not holder.active or holder.closed_at is not None:
            raise DomainError(NOT_LINKABLE, field="id_number")
        if holder.name != who.name:
            raise DomainError(NAME_MISMATCH, field="name")
        audit.record(actor, "walk_in.link", holder, base_id=base.id, details={"via": via})
        return holder, False
    if db.session.scalar(sa.select(User.id).where(User.phone == who.phone)) is not None:
        raise DomainError(PHONE_TAKEN, field="phone")
    user = User(**new_account_values(base.id, who, region_id))
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:  # registered meanwhile, with the number or the phone: the unit of work rolls back
        raise DomainError(CONCURRENT) from None
    welcome(actor, base, {user.id: who}, via)
    return user, True


def register_walk_in(actor: Actor, base: TrainingBase, name: str, id_number: str, phone: str,
                     region_id: int | None = None) -> tuple[User, bool]:
    """Register a walk-in trainee for ``base``: the account their ID number already has (``created`` False),
    else a new learner account without a password, in the base's city (or ``region_id``), registered by the
    base, and a text message inviting them to claim it.

    :raise NotAllowed: the actor does not run the base.
    :raise DomainError: a field is invalid (``name``, ``id_number``, ``phone``, ``region``); the ID number's
        account bears another name (field ``name``) or is not a learner's (``id_number``); another account
        has the phone (``phone``). None of them says whose account it is.
    """
    _check_manager(actor, base)
    who = person(name, id_number, phone)
    region = region_for(base, region_id)
    with unit_of_work():
        return _register(actor, base, who, region, "desk")


# --- at the desk, onto a course's roster ----------------------------------------------------------------------

def desk_problem(course: Course) -> str | None:
    """Why a trainee cannot be put on ``course``'s roster at the desk now, or None. Unlike online enrollment
    the desk may add someone to a class under way, but not to one that has ended."""
    if not course.base.can_publish:
        return "本基地已退出，只能查看历史记录"
    if course.status not in (CourseStatus.PUBLISHED, CourseStatus.CLOSED):
        return f"课程状态为“{course.status.label}”，不能登记学员"
    if course.end_date < clock.today():
        return "课程已结束，不能再登记学员"
    if course.needs_class_plan and course.plan_status != PlanStatus.APPROVED.value:
        return "该面授专业课程的办班计划尚未获人社部门批准，暂不能登记学员"
    return None


def register_at_desk(actor: Actor, course: Course, name: str, id_number: str,
                     phone: str) -> tuple[User, bool]:
    """Register (or link) a walk-in trainee and give them a seat on ``course``'s roster, in one unit of work:
    a course without a free seat registers nobody. A waitlisted trainee takes a seat.

    :raise NotAllowed: the actor does not run the course's base.
    :raise DomainError: as ``register_walk_in``; the course cannot take them (``desk_problem``), has no free
        seat, or the trainee already holds a seat in it.
    """
    _check_manager(actor, course.base)
    who = person(name, id_number, phone)
    region = region_for(course.base)
    with locked(Course, course.id, joinedload(Course.base, innerjoin=True)) as fresh:
        problem = desk_problem(fresh)
        if problem:
            raise DomainError(problem)
        user, created = _register(actor, fresh.base, who, region, "desk")
        _seat(actor, fresh, user.id)
        if not created:  # a new account's owner hears of it by the invitation; an existing one, here
            inbox.notify(user.id, f"{fresh.base.name}已在现场为您报名课程“{fresh.title}”", "/me/")
    return user, created


def _seat(actor: Actor, course: Course, learner_id: int) -> None:
    enrollment = db.session.execute(sa.select(Enrollment).where(
        Enrollment.course_id == course.id, Enrollment.learner_id == learner_id,
        Enrollment.status != EnrollmentStatus.CANCELLED)).scalar_one_or_none()
    if enrollment is not None and enrollment.status != EnrollmentStatus.WAITLISTED:
        raise DomainError("该学员已在本课程名单中")
    if course.capacity is not None and course.seats_taken >= course.capacity:
        raise DomainError("课程名额已满，不能再登记学员")
    now = utcnow()
    course.seats_taken += 1
    if enrollment is None:
        enrollment = Enrollment(course_id=course.id, learner_id=learner_id, source=EnrollmentSource.DESK)
        db.session.add(enrollment)
    enrollment.status, enrollment.confirmed_at = EnrollmentStatus.CONFIRMED, now
    audit.record(actor, "course.desk_enroll", course, base_id=course.base_id, details={"learner_id": learner_id})


# --- the base's walk-ins ------------------------------------------------------------------------------------

PAGE = 50


def walk_ins(base: TrainingBase, cursor: str | None = None, jump: int | None = None,
             per_page: int | None = None) -> paging.Page:
    """The accounts the base registered, newest first, a page of ``per_page`` by cursor or page number
    (services.infra.paging). Two queries.

    :raise paging.PageOutOfReach: a page number too deep to jump to (the view answers 404).
    """
    return paging.newest_first(sa.select(User).where(User.registered_by_base_id == base.id), User.id,
                               per_page or PAGE, cursor, jump)


def resend_invitation(actor: Actor, base: TrainingBase, user_id: int) -> None:
    """Send the invitation to claim again, to the account's phone: at most once per RESEND_INTERVAL per account.

    :raise NotAllowed: the actor does not run the base.
    :raise LookupError: no account the base registered has this id (the view answers 404).
    :raise DomainError: the account is claimed already, or was invited within RESEND_INTERVAL.
    """
    _check_manager(actor, base)
    if not 0 < user_id < 2**31:  # beyond the column's range: nobody's, and the database would refuse the number
        raise LookupError(user_id)
    with locked(User, user_id) as user:
        if user is None or user.registered_by_base_id != base.id:
            raise LookupError(user_id)
        if user.claimed or not user.active or user.closed_at is not None or not user.phone:
            raise DomainError("该账号已认领或已停用，无需再发送认领短信")
        last = db.session.scalar(sa.select(sa.func.max(OutboundMessage.created_at)).where(
            OutboundMessage.user_id == user.id, OutboundMessage.channel == Channel.SMS,
            OutboundMessage.kind == NoticeKind.ACCOUNT, OutboundMessage.sms_template == "notice"))
        if last is not None and utcnow() - last < RESEND_INTERVAL:
            minutes = int(RESEND_INTERVAL.total_seconds() // 60)
            raise DomainError(f"每个账号 {minutes} 分钟内只能发送一次认领短信，请稍后再试")
        invite(base, user.id, user.phone)
        audit.record(actor, "walk_in.reinvite", user, base_id=base.id)
