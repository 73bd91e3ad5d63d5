"""Personal data: showing a full ID number as a separate, audited act, and a learner's copy of everything
the site holds about them.

Everywhere else the number appears masked (services.resident_ids). Revealing it is a POST by someone whose
access to that learner the caller has already checked (a base admin over a learner on a roster, the
reviewer of the learner's declaration); each reveal is in the audit log: who, whose, where, when (the
first in a window as an entry, the same one again as a count on it: services.audit.record_repeatable).
"""

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from extensions import db
from models import Certificate, Course, Declaration, Employment, Enrollment, HoursRecord, Notice, User
from services import audit, messaging, resident_ids
from services.actors import Actor


def reveal_id_number(actor: Actor, learner: User, *, context: str, base_id: int | None = None) -> str | None:
    """The learner's full resident ID number, or None when none is on file; recorded in the audit log."""
    if not learner.id_number_ciphertext:
        return None
    # The same number shown again to the same person in the same place is counted on the first entry of the
    # window, not written anew: a reloaded page cannot bury the log, and every first look stays an entry.
    audit.record_repeatable(actor, "identity.reveal", learner, subject=f"user {learner.id}; {context}",
                            base_id=base_id, details={"context": context})
    return resident_ids.decrypt(learner.id_number_ciphertext)


def _fields(row: object, names: Iterable[str]) -> dict:
    return {name: audit.plain(getattr(row, name)) for name in names}


def own_data(learner: User) -> dict:
    """Everything held about the learner, for their own download (recorded in the audit log): the profile
    with the full ID number, enrollments, hours, declarations, certificates, employment history (each claim to
    an employer and its answer), notices and the choices of how notices reach them. Eight queries."""
    enrollments = db.session.scalars(
        sa.select(Enrollment).where(Enrollment.learner_id == learner.id)
        .options(joinedload(Enrollment.course).joinedload(Course.base)).order_by(Enrollment.id)).all()
    hours = db.session.scalars(
        sa.select(HoursRecord).where(HoursRecord.learner_id == learner.id).order_by(HoursRecord.id)).all()
    declarations = db.session.scalars(
        sa.select(Declaration).where(Declaration.learner_id == learner.id).order_by(Declaration.id)).all()
    certificates = db.session.scalars(
        sa.select(Certificate).where(Certificate.learner_id == learner.id).order_by(Certificate.id)).all()
    notices = db.session.scalars(
        sa.select(Notice).where(Notice.user_id == learner.id).order_by(Notice.id)).all()
    employments = db.session.scalars(
        sa.select(Employment).where(Employment.learner_id == learner.id)
        .options(joinedload(Employment.employer)).order_by(Employment.id)).all()
    choices = messaging.choices(learner)
    data = {
        "profile": {
            **_fields(learner, ("name", "email", "phone", "employer_name", "sector", "professional_title",
                               "created_at", "last_login_at")),
            "id_number": resident_ids.decrypt(learner.id_number_ciphertext) if learner.id_number_ciphertext else None,
        },
        "enrollments": [{
            "course": e.course.title, "base": e.course.base.name, "hours": e.course.hours,
            **_fields(e, ("status", "source", "created_at", "confirmed_at", "cancelled_at", "completed_at",
                         "rating", "rating_comment")),
        } for e in enrollments],
        "hours": [_fields(h, ("year", "category", "hours", "source", "note", "created_at")) for h in hours],
        "declarations": [_fields(d, ("kind", "category", "title", "organiser", "earned_on", "year", "hours_claimed",
                                    "hours_approved", "hours_credited", "status", "submitted_at", "reviewed_at",
                                    "review_note")) for d in declarations],
        "certificates": [_fields(c, ("code", "year", "status", "issued_at", "revoked_at", "revoke_reason"))
                         for c in certificates],
        "employment": [{
            "employer": e.employer.name,
            **_fields(e, ("status", "requested_at", "decided_at", "reason", "ended_at")),
        } for e in employments],
        "notices": [_fields(n, ("message", "link", "created_at", "read_at")) for n in notices],
        # Every kind and channel a person may choose, on or off as it applies now (their choice or the default).
        "notice_choices": [{"kind": kind.label, "channel": channel.label, "enabled": enabled}
                           for (kind, channel), enabled in choices.items()],
    }
    audit.record_repeatable(learner, "learner.export_own_data", learner, subject=f"user {learner.id}")
    return data
