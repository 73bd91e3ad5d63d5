"""Base admins' course operations: create, edit, publish, unpublish, close and cancel."""

from datetime import date
from decimal import Decimal
from typing import IO

import sqlalchemy as sa

from extensions import db
from models import (
    Category,
    Course,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    Mode,
    NoticeKind,
    PlanStatus,
    TrainingBase,
)
from models._common import utcnow
from services import audit, course_rules, inbox, policies
from services.actors import Actor
from services.enrollment import fill_freed_seats
from services.errors import DomainError, InvalidTransition
from services.infra import clock, images, search
from services.infra.locking import locked
from services.infra.transaction import unit_of_work


def _ensure_writable(base: TrainingBase) -> None:
    if not base.can_publish:
        raise DomainError("本基地已退出，只能查看历史记录，不能新建、修改或发布课程")


def refresh_search_tokens(course: Course, base: TrainingBase) -> None:
    course.search_tokens = search.index_tokens(course.title, course.description, base.name)


def reindex_search(batch: int = 1000) -> int:
    """Cut every course's text again with the current services.infra.search and store what changed; returns how
    many courses changed. Run once after the way of cutting changes (issue 14: 〇 and the CJK extensions
    were left out of the tokens stored before it). The FTS5 triggers and the GIN index follow the column."""
    changed, after = 0, 0
    while True:
        rows = db.session.execute(
            sa.select(Course.id, Course.title, Course.description, Course.search_tokens, TrainingBase.name)
            .join(Course.base).where(Course.id > after).order_by(Course.id).limit(batch)
        ).all()
        if not rows:
            return changed
        updates = [{"id": row.id, "search_tokens": tokens} for row in rows
                   if (tokens := search.index_tokens(row.title, row.description, row.name)) != row.search_tokens]
        with unit_of_work():  # one per batch: a run over every course commits as it goes
            if updates:
                db.session.execute(sa.update(Course), updates)
        changed, after = changed + len(updates), rows[-1].id


def _apply(course: Course, data: dict) -> None:
    for name in course_rules.EDITABLE_FIELDS:
        if name in data:
            setattr(course, name, data[name])


def create_course(actor: Actor, base: TrainingBase, data: dict, cover_stream: IO[bytes] | None = None, *,
                  via_token: str | None = None) -> Course:
    """Create a draft course for the base from ``data`` (course_rules.EDITABLE_FIELDS; those left out take
    course_rules.DEFAULTS). ``via_token``: the API token it came through, for the audit.

    :raise NotAllowed: the actor does not manage the base.
    :raise Invalid: a rule on the data is broken (``fields`` says which, course_rules.judge).
    :raise DomainError: the base has exited.
    :raise ImageRejected: the cover is not an acceptable image.
    """
    policies.ensure_may_manage_base(actor, base)
    _ensure_writable(base)
    values = course_rules.judge(data)
    with unit_of_work():
        course = Course(base=base, status=CourseStatus.DRAFT, created_by_id=actor.id, seats_taken=0)
        _apply(course, values)
        if cover_stream is not None:
            course.cover = images.store_image(cover_stream, actor)
        refresh_search_tokens(course, base)
        db.session.add(course)
        db.session.flush()
        audit.record(actor, "course.create", course, base_id=base.id, details={"title": course.title},
                     via_token=via_token)
    return course


def update_course(actor: Actor, course: Course, data: dict | None = None, cover_stream: IO[bytes] | None = None, *,
                  status: CourseStatus | None = None, reason: str = "", via_token: str | None = None) -> Course:
    """Save the edited fields of a course (``data``: any of course_rules.EDITABLE_FIELDS, or None) and a new
    cover, and move it to ``status`` (None or its current status: no move), in one transaction: all or
    nothing. The move is judged on the edited course, so a new end date counts when publishing. The audit log
    keeps old and new values and, for a change made through the API, the token (``via_token``). Holds the
    course's row lock, as enrolling does, so that the capacity is judged against the seats actually taken.

    :raise NotAllowed: the actor does not manage the course's base.
    :raise Invalid: a rule on the edited fields is broken (course_rules.judge).
    :raise InvalidTransition, DomainError: as change_status; also fields for a cancelled course.
    :raise ImageRejected: the cover is not an acceptable image.
    """
    policies.ensure_may_manage_base(actor, course.base)
    _ensure_writable(course.base)
    changes = {}
    with locked(Course, course.id) as course:
        if data or cover_stream is not None:
            if not course.is_editable:
                raise DomainError("已取消的课程不能修改")
            changes = _save_fields(actor, course, data or {}, cover_stream, via_token)
            _tell_enrolled_of_changes(course, changes)
        if status is not None and status != course.status:
            _check_move(course, status, reason)
            _move(actor, course, status, reason, via_token)
        _after_save(course, changes)
    return course


# What a class plan is approved for: when one of these changes, the approval no longer covers the course.
PLAN_FIELDS = ("start_date", "end_date", "place", "mode")


def _void_outdated_plan(course: Course) -> dict:
    """An approved (or pending) class plan was judged on the course's dates, place and way of teaching:
    once one of them changes, the course needs a new plan (filed in the window before it starts) before it
    takes enrollments again. Returns the change for the audit log."""
    if course.plan_status not in (PlanStatus.PENDING.value, PlanStatus.APPROVED.value):
        return {}
    state = sa.inspect(course)
    if not any(state.attrs[name].history.has_changes() for name in PLAN_FIELDS):
        return {}
    old, course.plan_status = course.plan_status, None
    return {"plan_status": [old, None]}


def _save_fields(actor: Actor, course: Course, data: dict, cover_stream: IO[bytes] | None,
                 via_token: str | None) -> dict:
    # Judged before anything is applied: the ledger's query cannot autoflush the edit, which would clear the
    # attribute history that voiding the class plan and the audit's diff read next.
    _apply(course, course_rules.judge(data, course))
    voided = _void_outdated_plan(course)
    changes = {**audit.diff(course, course_rules.EDITABLE_FIELDS), **voided}
    if cover_stream is not None:
        images.replace(course, "cover", cover_stream, actor, changes)
    refresh_search_tokens(course, course.base)
    if changes:  # a form sent again unchanged is no event: it cannot fill the append-only log
        audit.record(actor, "course.update", course, base_id=course.base_id, details=changes,
                     via_token=via_token)
    return changes


# What a learner holding a place (or waiting for one) is told of when it changes, and how each is named; the
# rest (the description, the audience …) is the course page's to show.
LEARNER_FIELDS = {
    "title": "课程名称", "category": "科目类别", "hours": "学时", "start_date": "开始日期", "end_date": "结束日期",
    "mode": "培训方式", "place": "培训地点", "fee": "费用", "contact_person": "联系人", "contact_phone": "联系电话",
}
_LIVE = (EnrollmentStatus.CONFIRMED, EnrollmentStatus.WAITLISTED)


def _shown(name: str, value: object) -> str:
    """A field's value (as the audit log keeps it: services.audit.plain) as the learner reads it."""
    if value is None or value == "":
        return "未填写"
    if name in ("start_date", "end_date"):
        day = date.fromisoformat(str(value))
        return f"{day.year}年{day.month}月{day.day}日"
    if name == "category":
        return Category(str(value)).label
    if name == "mode":
        return Mode(str(value)).label
    if name == "fee":
        fee = Decimal(str(value))
        return "免费" if not fee else f"{fee.normalize():f} 元"
    return str(value)


def _enrolled(course: Course) -> list[int]:
    """Who holds a place in the course or waits for one: one query, however many."""
    return list(db.session.scalars(
        sa.select(Enrollment.learner_id).where(Enrollment.course_id == course.id, Enrollment.status.in_(_LIVE))))


def _tell_enrolled_of_changes(course: Course, changes: dict) -> None:
    """Every learner enrolled or waitlisted hears what changed that concerns them, old → new (one notice each,
    inserted in bulk)."""
    told = [f"{label}：{_shown(name, changes[name][0])} → {_shown(name, changes[name][1])}"
            for name, label in LEARNER_FIELDS.items() if name in changes]
    if not told:
        return
    message = f"您报名的《{course.title}》有变更：" + "；".join(told)
    if "plan_status" in changes:
        message += "。办班计划需重新报批，获批前暂停报名"
    learners = _enrolled(course)
    inbox.notify_many(((learner_id, message) for learner_id in learners), f"/courses/{course.id}",
                      kind=NoticeKind.COURSE)


def _after_save(course: Course, changes: dict) -> None:
    if "capacity" in changes:
        # A larger capacity (or none) frees seats: the waitlist moves up at once, in the edit's transaction.
        fill_freed_seats(course)


def change_status(actor: Actor, course: Course, status: CourseStatus, reason: str = "") -> Course:
    """Move a course through its workflow (publish, unpublish, close enrollment, cancel).

    :raise NotAllowed: the actor does not manage the course's base.
    :raise InvalidTransition: the course's state does not allow it.
    :raise DomainError: the base has exited, the course has ended, or a cancellation has no reason.
    """
    policies.ensure_may_manage_base(actor, course.base)
    _ensure_writable(course.base)
    # Under the course's row lock, as enrolling: a cancellation sees every seat taken before it, and no
    # enrollment slips in after it.
    with locked(Course, course.id) as course:
        _check_move(course, status, reason)
        _move(actor, course, status, reason)
    return course


def _check_move(course: Course, status: CourseStatus, reason: str) -> None:
    if not course.can_move_to(status):
        raise InvalidTransition(f"课程当前状态为“{course.status.label}”，不能改为“{status.label}”")
    if status == CourseStatus.PUBLISHED and course.end_date < clock.today():
        raise DomainError("课程已结束，不能发布")
    if status == CourseStatus.CANCELLED and not reason.strip():
        raise DomainError("取消课程必须填写原因", field="reason")


def _move(actor: Actor, course: Course, status: CourseStatus, reason: str, via_token: str | None = None) -> None:
    old = course.status
    course.status = status
    if status == CourseStatus.PUBLISHED and course.published_at is None:
        course.published_at = utcnow()
    if status == CourseStatus.CANCELLED:
        course.cancel_reason = reason.strip()
        _cancel_enrollments(course)
    audit.record(
        actor, f"course.{status.value}", course, base_id=course.base_id,
        details={"status": [old.value, status.value], **({"reason": reason.strip()} if reason else {})},
        via_token=via_token,
    )


def _cancel_enrollments(course: Course) -> None:
    """A cancelled course releases everyone enrolled or waitlisted, and tells them why."""
    affected = _enrolled(course)
    db.session.execute(
        sa.update(Enrollment)
        .where(Enrollment.course_id == course.id, Enrollment.status.in_(_LIVE))
        .values(status=EnrollmentStatus.CANCELLED, cancelled_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    # The link still answers for them once the course is cancelled (catalog: a former enrollee's course).
    message = f"《{course.title}》已被基地取消：{course.cancel_reason}"
    inbox.notify_many(((learner_id, message) for learner_id in affected), f"/courses/{course.id}",
                      kind=NoticeKind.COURSE)
    course.seats_taken = db.session.scalar(
        sa.select(sa.func.count(Enrollment.id)).where(
            Enrollment.course_id == course.id, Enrollment.status == EnrollmentStatus.COMPLETED
        )
    )
