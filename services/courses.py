"""Base admins' course operations: create, edit, publish, unpublish, close and cancel."""

from typing import IO, Any

import sqlalchemy as sa

from extensions import db
from models import Course, CourseStatus, Enrollment, EnrollmentStatus, HoursRecord, Notice, PlanStatus, TrainingBase
from models._common import utcnow
from services import audit
from services.actors import Actor
from services.enrollment import fill_free_seats
from services.errors import DomainError, InvalidTransition, NotAllowed
from services.infra import clock, images, search
from services.infra.locking import locked
from services.infra.transaction import unit_of_work

# The fields a base admin edits in the course form, in the order the audit log reports them.
EDITABLE_FIELDS = (
    "title", "description", "category", "field", "hours", "start_date", "end_date", "mode", "place",
    "audience", "capacity", "fee", "fee_standard", "contact_person", "contact_phone", "open_to_city", "project_type",
    "enroll_until",
)


def ensure_can_manage(actor: Actor, base: TrainingBase) -> None:
    """:raise NotAllowed: the actor is not an admin of this base."""
    if not base.is_admin(actor):
        raise NotAllowed("您不是该基地的管理员")


def _ensure_writable(base: TrainingBase) -> None:
    if not base.can_publish:
        raise DomainError("本基地已退出，只能查看历史记录，不能新建、修改或发布课程")


def _check_rules(course: Course) -> None:
    if course.capacity is not None and course.capacity < course.seats_taken:
        raise DomainError(f"已有 {course.seats_taken} 人报名，名额不能少于此数", field="capacity")
    if course.end_date < course.start_date:
        raise DomainError("结束日期不能早于开始日期", field="end_date")
    _check_deadline(course)
    # The ledger check queries: an autoflush there would write the edit and clear the attribute history that
    # voiding the class plan and the audit's diff read next, so a moved course kept its approved plan.
    with db.session.no_autoflush:
        _check_credited(course)


def _check_deadline(course: Course) -> None:
    """A self-paced course may set its last day of enrollment, within its window; a class (face to face or
    live) enrolls until it starts and sets none. A deadline left from before the course stopped being
    self-paced is dropped rather than refused: the edit that changed the way of teaching did not send it."""
    if course.enroll_until is None:
        return
    if not course.is_self_paced:
        if sa.inspect(course).attrs["enroll_until"].history.has_changes():
            raise DomainError("只有线上自学的课程可以设报名截止日期；面授和直播课程报名至开课前一天",
                              field="enroll_until")
        course.enroll_until = None
        return
    if not course.start_date <= course.enroll_until <= course.end_date:
        raise DomainError(f"报名截止日期应在课程起止日期之内（{course.start_date.isoformat()} 至 "
                          f"{course.end_date.isoformat()}）", field="enroll_until")


def _previous(course: Course, name: str) -> Any:
    """The value ``name`` had before this edit, or None where it is unchanged (or the course is new)."""
    deleted = sa.inspect(course).attrs[name].history.deleted
    return deleted[0] if deleted else None


def _check_credited(course: Course) -> None:
    """Hours already credited for the course were booked under its category, on the days learners completed
    (within the course's dates, services.completions), and at most its hours: an edit may not make the
    ledger and the course disagree. One query, only when one of those fields changed."""
    old_category, old_start, old_end, old_hours = (
        _previous(course, name) for name in ("category", "start_date", "end_date", "hours"))
    category_moved = old_category is not None and old_category != course.category
    # A narrower window could leave a completion's day outside the course's dates.
    window_cut = (old_start is not None and course.start_date > old_start) or (
        old_end is not None and course.end_date < old_end)
    hours_cut = old_hours is not None and course.hours < old_hours
    if course.id is None or not (category_moved or window_cut or hours_cut):
        return
    credited, most, first_day, last_day = db.session.execute(
        sa.select(sa.func.count(HoursRecord.id), sa.func.max(HoursRecord.hours), sa.func.min(HoursRecord.earned_on),
                  sa.func.max(HoursRecord.earned_on))
        .where(HoursRecord.course_id == course.id)
    ).one()
    if not credited:
        return
    if category_moved:
        raise DomainError(f"已有 {credited} 人按本课程记了学时，不能再改类别", field="category")
    if first_day is not None and course.start_date > first_day:
        raise DomainError(f"已有学员于 {first_day.isoformat()} 结业，开始日期不能晚于这一天", field="start_date")
    if last_day is not None and course.end_date < last_day:
        raise DomainError(f"已有学员于 {last_day.isoformat()} 结业，结束日期不能早于这一天", field="end_date")
    if course.hours < most:
        raise DomainError(f"已有学员按本课程记了 {most} 学时，课程学时不能少于此数", field="hours")


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
        if updates:
            db.session.execute(sa.update(Course), updates)
        db.session.commit()
        changed, after = changed + len(updates), rows[-1].id


def _apply(course: Course, data: dict) -> None:
    for name in EDITABLE_FIELDS:
        if name in data:
            setattr(course, name, data[name])


def create_course(actor: Actor, base: TrainingBase, data: dict, cover_stream: IO[bytes] | None = None) -> Course:
    """Create a draft course for the base.

    :raise NotAllowed: the actor does not manage the base.
    :raise DomainError: the base has exited, or a rule on the data is broken (``field`` says which).
    :raise ImageRejected: the cover is not an acceptable image.
    """
    ensure_can_manage(actor, base)
    _ensure_writable(base)
    stored: list = []  # the images it stores, removed if the unit of work fails
    with unit_of_work(stored):
        course = Course(base=base, status=CourseStatus.DRAFT, created_by_id=actor.id, seats_taken=0)
        _apply(course, data)
        _check_rules(course)
        if cover_stream is not None:
            course.cover = images.store_image(cover_stream, actor)
            stored.append(course.cover)
        refresh_search_tokens(course, base)
        db.session.add(course)
        db.session.flush()
        audit.record(actor, "course.create", course, base_id=base.id, details={"title": course.title})
    return course


def update_course(actor: Actor, course: Course, data: dict, cover_stream: IO[bytes] | None = None) -> Course:
    """Save the edited fields of a course (and a new cover); the audit log keeps old and new values.
    Holds the course's row lock, as enrolling does, so that the capacity is judged against the seats
    actually taken.

    :raise NotAllowed, DomainError, ImageRejected: as for create_course; also a cancelled course.
    """
    ensure_can_manage(actor, course.base)
    _ensure_writable(course.base)
    stored: list = []  # the images it stores, removed if the unit of work fails
    with locked(Course, course.id) as course, unit_of_work(stored):
        if not course.is_editable:
            raise DomainError("已取消的课程不能修改")
        changes = _save_fields(actor, course, data, cover_stream, stored)
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


def _save_fields(actor: Actor, course: Course, data: dict, cover_stream: IO[bytes] | None, stored: list) -> dict:
    _apply(course, data)
    _check_rules(course)
    voided = _void_outdated_plan(course)
    changes = {**audit.diff(course, EDITABLE_FIELDS), **voided}
    if cover_stream is not None:
        images.replace(course, "cover", cover_stream, actor, stored, changes)
    refresh_search_tokens(course, course.base)
    if changes:  # a form sent again unchanged is no event: it cannot fill the append-only log
        audit.record(actor, "course.update", course, base_id=course.base_id, details=changes)
    return changes


def _after_save(course: Course, changes: dict) -> None:
    if "capacity" in changes:
        # A larger capacity (or none) frees seats: the waitlist moves up at once.
        fill_free_seats(course.id)


def change_status(actor: Actor, course: Course, status: CourseStatus, reason: str = "") -> Course:
    """Move a course through its workflow (publish, unpublish, close enrollment, cancel).

    :raise NotAllowed: the actor does not manage the course's base.
    :raise InvalidTransition: the course's state does not allow it.
    :raise DomainError: the base has exited, the course has ended, or a cancellation has no reason.
    """
    ensure_can_manage(actor, course.base)
    _ensure_writable(course.base)
    # Under the course's row lock, as enrolling: a cancellation sees every seat taken before it, and no
    # enrollment slips in after it.
    with locked(Course, course.id) as course:
        _check_move(course, status, reason)
        _move(actor, course, status, reason)
    return course


def edit_course(actor: Actor, course: Course, data: dict | None, status: CourseStatus | None = None,
                reason: str = "") -> Course:
    """Save edited fields (``data``, may be None) and move the course to ``status`` (None or the current
    one: no move) in one transaction: both or neither. The move is judged on the edited course, so a new
    end date counts when publishing.

    :raise NotAllowed, InvalidTransition, DomainError: as update_course and change_status.
    """
    ensure_can_manage(actor, course.base)
    _ensure_writable(course.base)
    changes = {}
    with locked(Course, course.id) as course:
        if data and not course.is_editable:
            raise DomainError("已取消的课程不能修改")
        if data:
            changes = _save_fields(actor, course, data, None, [])
        if status is not None and status != course.status:
            _check_move(course, status, reason)
            _move(actor, course, status, reason)
    _after_save(course, changes)
    return course


def _check_move(course: Course, status: CourseStatus, reason: str) -> None:
    if not course.can_move_to(status):
        raise InvalidTransition(f"课程当前状态为“{course.status.label}”，不能改为“{status.label}”")
    if status == CourseStatus.PUBLISHED and course.end_date < clock.today():
        raise DomainError("课程已结束，不能发布")
    if status == CourseStatus.CANCELLED and not reason.strip():
        raise DomainError("取消课程必须填写原因", field="reason")


def _move(actor: Actor, course: Course, status: CourseStatus, reason: str) -> None:
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
    )


def _cancel_enrollments(course: Course) -> None:
    """A cancelled course releases everyone enrolled or waitlisted, and tells them why."""
    affected = db.session.execute(
        sa.select(Enrollment.learner_id).where(
            Enrollment.course_id == course.id,
            Enrollment.status.in_((EnrollmentStatus.CONFIRMED, EnrollmentStatus.WAITLISTED)),
        )
    ).scalars().all()
    db.session.execute(
        sa.update(Enrollment)
        .where(Enrollment.course_id == course.id,
               Enrollment.status.in_((EnrollmentStatus.CONFIRMED, EnrollmentStatus.WAITLISTED)))
        .values(status=EnrollmentStatus.CANCELLED, cancelled_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if affected:
        db.session.execute(sa.insert(Notice), [
            {"user_id": learner_id, "message": f"《{course.title}》已被基地取消：{course.cancel_reason}",
             "link": f"/courses/{course.id}", "created_at": utcnow()}
            for learner_id in affected
        ])
    course.seats_taken = db.session.scalar(
        sa.select(sa.func.count(Enrollment.id)).where(
            Enrollment.course_id == course.id, Enrollment.status == EnrollmentStatus.COMPLETED
        )
    )
