"""Closing a learner's account at their request (个人信息保护法 art. 47): what the continuing-education rules need
kept stays, attributable to the person; the rest of their personal data is erased. SECURITY.md says which is which
and why.

Kept: the hours ledger, enrollments and completions, declarations with their review trail (and the evidence of
those reviewed), certificates, employment history, the audit log, the name and the ID number's keyed hash and
masked form. Appraisals (职称评审), the yearly check of hours and a certificate's public verification read them
after the person has left the site; the keyed hash lets a regulator match a record to a person who shows their
ID card, without the site holding the number itself.

Erased: the phone and e-mail (free again for a new account), the password, the encrypted ID number, the profile's
extras (title, sector, employer as typed), notices and notice choices, one-time codes, every outbox row, a
pending claim to an employer; a declaration not yet reviewed is withdrawn and its evidence files deleted (no
hours rest on them, and they are documents about the person: diplomas, travel papers, invitations).
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from extensions import db
from models import (
    AccountCode,
    Declaration,
    DeclarationStatus,
    Employment,
    EmploymentStatus,
    Enrollment,
    EnrollmentStatus,
    Notice,
    NoticePreference,
    OutboundMessage,
    Role,
    User,
)
from models._common import utcnow
from services import audit, enrollment
from services.errors import DomainError
from services.infra import evidence_files
from services.infra.locking import locked

log = logging.getLogger(__name__)

# A declaration still waiting for a step of its review: withdrawn at closing.
_UNREVIEWED = (DeclarationStatus.PENDING, DeclarationStatus.SECTOR_PENDING)


@dataclass
class Closing:
    """What closing an account did, in counts (the audit entry's details; no personal data)."""

    withdrawn_declarations: int = 0
    deleted_evidence_files: int = 0
    cancelled_enrollments: int = 0
    kept_enrollments: int = 0
    deleted_notices: int = 0
    deleted_messages: int = 0
    deleted_codes: int = 0
    files: list[Path] = field(default_factory=list, repr=False)

    def details(self) -> dict:
        return {name: value for name, value in vars(self).items() if name != "files"}


def close_account(learner: User, password: str) -> Closing:
    """Close ``learner``'s own account, confirmed by their password: withdraw what is pending, erase what the
    law does not need kept, end every session (the account can no longer sign in), and audit it. Seats in
    courses not yet begun are given up first (a waitlisted learner takes them), each as the learner would.

    :raise DomainError: the password is wrong (field ``password``); the account is not a learner's (staff
        accounts are disabled by whoever manages them) or is already closed.
    """
    if learner.role != Role.LEARNER:
        raise DomainError("只有专业技术人员的账号可以自行注销；工作人员账号请联系管理您账号的单位或部门停用")
    if learner.closed_at is not None:
        raise DomainError("该账号已注销")
    if not learner.check_password(password):
        raise DomainError("密码不正确", field="password")
    result = Closing()
    _give_up_seats(learner, result)
    # The learner's row is the lock both review steps take (services.declarations): a review under way
    # finishes first (its declaration is then no longer pending), and none is made of a withdrawn one.
    with locked(User, learner.id) as learner:
        if learner.closed_at is not None:
            raise DomainError("该账号已注销")
        _withdraw_pending(learner, result)
        _erase(learner, result)
        audit.record(learner, "account.closed", learner, details=result.details())
    _delete_files(result)
    return result


def _give_up_seats(learner: User, result: Closing) -> None:
    """Cancel the live enrollments the enrollment rules let the learner cancel (a course not begun, a place on
    the waitlist); one under way stays, for the base to record its completion."""
    live = db.session.scalars(sa.select(Enrollment.id).where(
        Enrollment.learner_id == learner.id,
        Enrollment.status.in_((EnrollmentStatus.CONFIRMED, EnrollmentStatus.WAITLISTED))).order_by(Enrollment.id)).all()
    for enrollment_id in live:
        try:
            enrollment.cancel(learner, enrollment_id)
        except (DomainError, LookupError):
            result.kept_enrollments += 1
        else:
            result.cancelled_enrollments += 1


def _withdraw_pending(learner: User, result: Closing) -> None:
    pending = db.session.scalars(
        sa.select(Declaration).where(Declaration.learner_id == learner.id, Declaration.status.in_(_UNREVIEWED))
        .options(selectinload(Declaration.evidence))).all()
    for declaration in pending:
        declaration.status = DeclarationStatus.WITHDRAWN
        result.files += [evidence_files.path_of(evidence) for evidence in declaration.evidence]
        declaration.evidence.clear()  # delete-orphan: the rows go; the files once the closing has committed
    result.withdrawn_declarations = len(pending)
    result.deleted_evidence_files = len(result.files)
    db.session.execute(
        sa.update(Employment)
        .where(Employment.learner_id == learner.id, Employment.status == EmploymentStatus.PENDING)
        .values(status=EmploymentStatus.WITHDRAWN, decided_at=utcnow()))


def _erase(learner: User, result: Closing) -> None:
    def deleted(statement: sa.Delete) -> int:
        return db.session.execute(statement).rowcount  # type: ignore[attr-defined]  # a DELETE counts rows

    # The outbox first: its rows made from notices reference them.
    result.deleted_messages = deleted(sa.delete(OutboundMessage).where(OutboundMessage.user_id == learner.id))
    result.deleted_notices = deleted(sa.delete(Notice).where(Notice.user_id == learner.id))
    result.deleted_codes = deleted(sa.delete(AccountCode).where(AccountCode.user_id == learner.id))
    deleted(sa.delete(NoticePreference).where(NoticePreference.user_id == learner.id))
    learner.phone = learner.email = None
    learner.password_hash = ""
    learner.id_number_ciphertext = None
    learner.professional_title = learner.sector = learner.employer_name = ""
    learner.must_change_password = False
    learner.active = False
    learner.closed_at = utcnow()
    learner.end_sessions()


def _delete_files(result: Closing) -> None:
    """The withdrawn declarations' evidence files, once their rows are gone for good (after the commit)."""
    for path in result.files:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            # The row is gone; a file left behind is unreachable (random name) and logged for the operator.
            log.exception("could not delete an evidence file of a closed account: %s", path.name)
