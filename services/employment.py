"""Who works where: a learner names their employer (a claim), the employer's admin confirms or refuses it, and
the rows stay as the learner's history. User.employer_id mirrors the employment confirmed now; a declaration
keeps the employer it was filed with (Declaration.employer_id), whatever happens after."""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from extensions import db
from models import Employer, EmployerStatus, Employment, EmploymentStatus, NoticeKind, Region, Role, User
from models._common import utcnow
from services import audit, credit_codes, inbox, policies
from services.actors import Actor
from services.errors import DomainError, NotAllowed
from services.infra.transaction import unit_of_work

SEARCH_LIMIT = 20
REASON_MAX = 500


# --- the learner's side ---------------------------------------------------------------------------------------

def _region_ids(learner: User) -> list[int]:
    region = db.session.get(Region, learner.region_id) if learner.region_id else None
    if region is None:
        return []
    return [region.id] + ([region.parent_id] if region.parent_id else [])


def claimable() -> sa.ColumnElement[bool]:
    """The employers a learner may name: approved ones (on Employer)."""
    return Employer.status == EmployerStatus.APPROVED


def search(learner: User, query: str) -> Sequence[Employer]:
    """Approved employers of the learner's city and province whose name holds ``query`` or whose credit code
    is it (up to SEARCH_LIMIT, by name). Nothing for an empty query. Two queries."""
    query = (query or "").strip()[:64]
    ids = _region_ids(learner)
    if not query or not ids:
        return []
    code = credit_codes.normalise(query)
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return db.session.execute(
        sa.select(Employer).where(Employer.region_id.in_(ids), claimable(),
                                  sa.or_(Employer.name.like(pattern, escape="\\"), Employer.credit_code == code))
        .options(joinedload(Employer.region)).order_by(Employer.name).limit(SEARCH_LIMIT)
    ).scalars().all()


def _pending(learner: User) -> Employment | None:
    return db.session.execute(
        sa.select(Employment).where(Employment.learner_id == learner.id, Employment.status == EmploymentStatus.PENDING)
    ).scalar_one_or_none()


def claim(learner: User, employer_id: int) -> Employment:
    """The learner names the employer they work for; it waits for the employer's confirmation. A pending
    claim made before is withdrawn.

    :raise NotAllowed: the user is not a learner.
    :raise DomainError: (on ``employer``) not an approved employer of the learner's city or province, the
        one that already confirmed them, or the one already asked.
    """
    if not policies.has_role(learner, Role.LEARNER):
        raise NotAllowed("只有专业技术人员可以填写工作单位")
    employer = db.session.get(Employer, employer_id) if isinstance(employer_id, int) and 0 < employer_id < 2**31 \
        else None
    if employer is None or employer.region_id not in _region_ids(learner):
        raise DomainError("请在搜索结果中选择您的工作单位", field="employer")
    if employer.status != EmployerStatus.APPROVED:
        raise DomainError("该单位尚未通过人社部门审核，暂不能选择", field="employer")
    if learner.employer_id == employer.id:
        raise DomainError("该单位已确认您是本单位职工", field="employer")
    with unit_of_work():
        previous = _pending(learner)
        if previous is not None and previous.employer_id == employer.id:
            raise DomainError("已向该单位提交申请，请等待单位确认", field="employer")
        if previous is not None:
            previous.status, previous.decided_at = EmploymentStatus.WITHDRAWN, utcnow()
            audit.record(learner, "employment.withdraw", previous, details={"employer_id": previous.employer_id,
                                                                            "replaced": True})
            db.session.flush()  # one pending claim per learner: the old one leaves before the new one comes
        employment = Employment(learner_id=learner.id, employer_id=employer.id, status=EmploymentStatus.PENDING,
                                requested_at=utcnow())
        db.session.add(employment)
        db.session.flush()
        audit.record(learner, "employment.claim", employment, details={"employer_id": employer.id})
    return employment


def withdraw(learner: User) -> Employment:
    """The learner takes back their pending claim. :raise DomainError: there is none."""
    with unit_of_work():
        employment = _pending(learner)
        if employment is None:
            raise DomainError("没有待确认的工作单位")
        employment.status, employment.decided_at = EmploymentStatus.WITHDRAWN, utcnow()
        audit.record(learner, "employment.withdraw", employment, details={"employer_id": employment.employer_id})
    return employment


def history(learner: User) -> Sequence[Employment]:
    """The learner's claims and employments, newest first, with their employers. One query."""
    return db.session.execute(
        sa.select(Employment).where(Employment.learner_id == learner.id)
        .options(joinedload(Employment.employer)).order_by(Employment.requested_at.desc(), Employment.id.desc())
    ).scalars().all()


# --- the employer's side --------------------------------------------------------------------------------------

def _of_employer(actor: Actor, status: EmploymentStatus) -> Sequence[Employment]:
    return db.session.execute(
        sa.select(Employment).where(policies.claims_decided_by(actor), Employment.status == status)
        .options(joinedload(Employment.learner)).order_by(Employment.requested_at, Employment.id)
    ).scalars().all()


def pending_claims(actor: Actor) -> Sequence[Employment]:
    """The learners who named the actor's employer and wait for its answer, oldest first. One query."""
    return _of_employer(actor, EmploymentStatus.PENDING)


def staff(actor: Actor) -> Sequence[Employment]:
    """The employer's confirmed staff (their employments, with the learners), longest-serving first. One query."""
    return _of_employer(actor, EmploymentStatus.CONFIRMED)


def claim_of(actor: Actor, employment_id: int) -> Employment:
    """A claim (any state) on the actor's employer. :raise LookupError: none such (the view answers 404)."""
    employment = db.session.execute(
        sa.select(Employment).where(Employment.id == employment_id, policies.claims_decided_by(actor))
        .options(joinedload(Employment.learner), joinedload(Employment.employer))
    ).scalar_one_or_none() if 0 < employment_id < 2**31 else None
    if employment is None:
        raise LookupError("no such claim of this employer")
    return employment


def _claim_to_decide(actor: Actor, employment_id: int) -> Employment:
    employment = claim_of(actor, employment_id)
    if employment.employer.status != EmployerStatus.APPROVED:
        raise NotAllowed("单位注册通过审核后才能确认职工")
    if employment.status != EmploymentStatus.PENDING:
        raise DomainError("该申请已处理")
    return employment


def confirm(actor: Actor, employment_id: int) -> Employment:
    """The employer confirms that the learner works there: it becomes their employer (their next declarations
    go to its reviewers) and the employment confirmed before ends. Declarations already filed stay with the
    employer they were filed with.

    :raise LookupError: not a claim on the actor's employer (the view answers 404).
    :raise DomainError: already decided, or the employer is not approved.
    """
    employment = _claim_to_decide(actor, employment_id)
    learner, now = employment.learner, utcnow()
    with unit_of_work():
        previous = db.session.execute(
            sa.select(Employment).where(Employment.learner_id == learner.id,
                                        Employment.status == EmploymentStatus.CONFIRMED)
        ).scalar_one_or_none()
        if previous is not None:
            previous.status, previous.ended_at = EmploymentStatus.ENDED, now
            db.session.flush()  # one confirmed employment per learner
        employment.status, employment.decided_by_id, employment.decided_at = EmploymentStatus.CONFIRMED, actor.id, now
        learner.employer_id, learner.employer_name = employment.employer_id, employment.employer.name
        audit.record(actor, "employment.confirm", employment, details={
            "employer_id": employment.employer_id,
            "ended_employment_id": previous.id if previous is not None else None})
        inbox.notify(learner.id, f"“{employment.employer.name}”已确认您是本单位职工，您的学时申报将由该单位审核。",
                     "/me/declarations", kind=NoticeKind.EMPLOYMENT)
    return employment


def refuse(actor: Actor, employment_id: int, reason: str) -> Employment:
    """The employer says the learner does not work there (with a reason); the learner's current employer,
    if any, stays.

    :raise LookupError: not a claim on the actor's employer.
    :raise DomainError: already decided, or no reason (on ``reason``).
    """
    employment = _claim_to_decide(actor, employment_id)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("请填写不予确认的原因", field="reason")
    if len(reason) > REASON_MAX:
        raise DomainError(f"原因不超过 {REASON_MAX} 字", field="reason")
    with unit_of_work():
        employment.status, employment.reason = EmploymentStatus.REFUSED, reason
        employment.decided_by_id, employment.decided_at = actor.id, utcnow()
        audit.record(actor, "employment.refuse", employment, details={"employer_id": employment.employer_id,
                                                                      "reason": reason})
        inbox.notify(employment.learner_id, f"“{employment.employer.name}”未确认您是本单位职工：{reason}",
                     "/me/declarations", kind=NoticeKind.EMPLOYMENT)
    return employment
