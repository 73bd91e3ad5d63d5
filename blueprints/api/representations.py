"""What the API shows of each object: plain dicts matching the schemas in blueprints/api/schemas.py."""

from dataclasses import asdict
from datetime import datetime

from flask import url_for

from models import Category, Course, TrainingBase
from models.training_base import DISCLOSURE_FIELDS
from services import hours
from services.enrollment import availability
from services.roster import mask_phone


def timestamp(value: datetime | None) -> str | None:
    """Stored naive UTC, shown as ISO 8601 with its offset."""
    return value.isoformat(timespec="seconds") + "Z" if value else None


def course(c: Course) -> dict:
    window = availability(c)
    return {
        "id": c.id, "base": {"id": c.base.id, "name": c.base.name}, "title": c.title,
        "description": c.description or "", "category": c.category.value, "field": c.field,
        "project_type": c.project_type.value, "hours": c.hours, "start_date": c.start_date.isoformat(),
        "end_date": c.end_date.isoformat(), "mode": c.mode.value,
        "enroll_until": c.enroll_until.isoformat() if c.enroll_until else None, "place": c.place or "",
        "audience": c.audience or "", "capacity": c.capacity, "seats_taken": c.seats_taken,
        "seats_left": c.seats_left, "fee": f"{c.fee:.2f}", "fee_standard": c.fee_standard or "",
        "contact_person": c.contact_person or "", "contact_phone": c.contact_phone or "",
        "open_to_city": bool(c.open_to_city), "status": c.status.value,
        "enrollment_open": window.can_enroll, "enrollment_status": window.state.value,
        "enrollment_deadline": window.deadline.isoformat(),
        "url": url_for("catalog.course_detail", course_id=c.id),
    }


def managed_course(c: Course) -> dict:
    return {
        **course(c), "plan_status": c.plan_status, "cancel_reason": c.cancel_reason or "",
        "published_at": timestamp(c.published_at), "created_at": timestamp(c.created_at),
        "updated_at": timestamp(c.updated_at),
    }


def region(r) -> dict:
    return {"id": r.id, "name": r.name}


def listed_base(b: TrainingBase) -> dict:
    """A base as the published list names it."""
    return {"id": b.id, "name": b.name, "type": b.type.value, "region": region(b.region)}


def base(b: TrainingBase, current_courses: int) -> dict:
    return {
        "id": b.id, "name": b.name, "type": b.type.value, "status": b.status.value,
        "region": region(b.region), "website": b.website or "",
        "address": b.address or "", "contact_person": b.contact_person or "",
        "contact_phone": b.contact_phone or "", "current_courses": current_courses,
        "url": url_for("catalog.base_detail", base_id=b.id),
    }


def disclosure(b: TrainingBase) -> dict:
    return {key: getattr(b, key) or "" for key, _label in DISCLOSURE_FIELDS}


def learner(u) -> dict:
    """A learner as a base's answers show them: the phone and the ID number masked."""
    return {"name": u.name, "phone_masked": mask_phone(u.phone), "id_number_masked": u.id_number_masked or ""}


def roster_entry(e, u, credited: int | None) -> dict:
    return {
        "enrollment_id": e.id, "status": e.status.value, "source": e.source.value, **learner(u),
        "employer": u.employer_name or "", "professional_title": u.professional_title or "",
        "enrolled_at": timestamp(e.created_at), "completed_at": timestamp(e.completed_at),
        "completed_on": e.completed_on.isoformat() if e.completed_on else None, "hours": credited,
    }


def completion(record, u, c: Course, credited, completed_on) -> dict:
    """A pushed completion; year and category as the hours record booked them (the course may have been
    edited since in ways the ledger does not follow), else as its day and the course say."""
    return {
        "external_id": record.external_id, "course_id": record.course_id, "enrollment_id": record.enrollment_id,
        **learner(u), "hours": record.hours,
        "category": (credited.category if credited else c.category).value,
        "completed_on": completed_on.isoformat() if completed_on else None,
        "year": credited.year if credited else hours.credit_year(completed_on or c.end_date),
        "recorded_at": timestamp(record.created_at),
    }


def certificate(cert) -> dict:
    """What the certificate states (frozen at issue), as the site's verify page shows it."""
    s = cert.summary
    return {
        "code": cert.code, "status": cert.status.value, "year": s["year"], "masked_name": s["masked_name"],
        "masked_id_number": s["masked_id"], "total_hours": s["total"],
        "requirement": [{"label": line["label"], "earned": line["earned"], "required": line["required"]}
                        for line in s["requirement"]],
        "records": [{"category": r["category"], "hours": r["hours"], "title": r["title"]} for r in s["records"]],
        "issued_at": timestamp(cert.issued_at), "revoke_reason": cert.revoke_reason or None,
    }


def compliance(c) -> dict:
    return {**asdict(c), "warnings": c.warnings}


def staff_member(line) -> dict:
    """One of an employer's staff (services.queries.employer_pages.StaffLine): no phone, the ID number masked."""
    learner = line.learner
    return {
        "learner_id": learner.id, "name": learner.name, "id_number_masked": learner.id_number_masked or "",
        "region": learner.region.full_name if learner.region else "",
        "hours": {**{c.value: line.earned[c] for c in Category}, "total": line.total},
        "required": {**{c.value: line.required(c) for c in Category}, "total": line.required_total},
        "short": line.short,
    }
