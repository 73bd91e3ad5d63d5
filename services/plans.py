"""Class plans (办班计划): a base files one for a face-to-face professional course in the window before it
starts; the regulator approves or rejects it; the course takes enrollments only once it is approved."""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager

from extensions import db
from models import ClassPlan, Course, NoticeKind, PlanStatus, User
from models._common import utcnow
from services import audit, hours, inbox, policies, rules
from services.actors import Actor
from services.errors import DomainError, Invalid
from services.infra import clock
from services.infra.transaction import unit_of_work


def window_days(course: Course) -> int:
    """The filing window of the course's region for the year it starts (data: rule_set.plan_window_days)."""
    return rules.known(hours.rule_for(course.base.region, course.start_date.year).plan_window_days)


def filing_problem(course: Course) -> str | None:
    """Why a plan cannot be filed for the course today, or None."""
    if not course.base.can_publish:
        return "本基地已退出，不能再填报办班计划"
    if not course.needs_class_plan:
        return "只有面授（或线上线下结合）的专业科目课程需要填报办班计划"
    if course.status.value == "cancelled":
        return "课程已取消"
    if course.plan_status is not None and course.plan_status in (PlanStatus.PENDING.value, PlanStatus.APPROVED.value):
        return f"已有{PlanStatus(course.plan_status).label}的办班计划"
    today = clock.today()
    days = window_days(course)
    opens = course.start_date - timedelta(days=days)
    if today >= course.start_date:
        return f"已过申报期限：办班计划须在开班前 {days} 日内、开班之前填报"
    if today < opens:
        return f"尚未到申报时间：办班计划须在开班前 {days} 日内填报，可于 {opens:%Y年%m月%d日} 起填报"
    return None


def judge_plan(data: dict) -> None:
    """The plan's own rule beyond what its form reads: the class ends no earlier than it starts. Saves nothing;
    the form asks it also when its own validators refused (blueprints.common_forms.judged_too), so that the
    dates are said in the same round as a field left empty. Dates not given are the form's to say.

    :raise Invalid: on ``end_date``.
    """
    start, end = data.get("start_date"), data.get("end_date")
    if start is not None and end is not None and end < start:
        raise Invalid({"end_date": "结束日期不能早于开始日期"})


def file_plan(actor: Actor, course: Course, data: dict) -> ClassPlan:
    """File a class plan for the course.

    :raise NotAllowed: the actor does not manage the course's base.
    :raise DomainError: not a face-to-face professional course, a plan is pending or approved, or the
        filing window is closed (the message says when it opens or that it has passed); Invalid for the
        dates (judge_plan).
    """
    policies.ensure_may_manage_base(actor, course.base)
    problem = filing_problem(course)
    if problem:
        raise DomainError(problem)
    judge_plan(data)
    with unit_of_work():
        plan = ClassPlan(
            course_id=course.id, start_date=data["start_date"], end_date=data["end_date"],
            place=data["place"].strip(), teachers=data["teachers"].strip(), syllabus=data["syllabus"].strip(),
            expected_trainees=data["expected_trainees"], filed_by_id=actor.id, status=PlanStatus.PENDING,
        )
        db.session.add(plan)
        course.plan_status = PlanStatus.PENDING.value
        db.session.flush()
        audit.record(actor, "class_plan.file", plan, base_id=course.base_id, details={"course_id": course.id})
    return plan


def decide_plan(regulator: User, plan_id: int, approve: bool, reason: str) -> ClassPlan:
    """Approve or reject a pending plan; a rejection needs a reason.

    :raise LookupError: no such plan in the regulator's reach (policies.may_decide_plan; the view answers 404).
    :raise DomainError: already decided, or a rejection without a reason.
    """
    plan = db.session.execute(
        sa.select(ClassPlan).join(ClassPlan.course).join(Course.base)
        .where(ClassPlan.id == plan_id, policies.bases_in_reach(regulator))
        .options(contains_eager(ClassPlan.course).contains_eager(Course.base))
    ).scalar_one_or_none()
    if plan is None:
        raise LookupError(plan_id)
    if plan.status != PlanStatus.PENDING:
        raise DomainError(f"该办班计划当前为“{plan.status.label}”，不能再审核")
    if not approve and not reason.strip():
        raise DomainError("驳回时必须填写原因", field="reason")
    with unit_of_work():
        decided = db.session.execute(  # type: ignore[attr-defined]  # an UPDATE's result counts rows (rowcount)
            sa.update(ClassPlan)
            .where(ClassPlan.id == plan.id, ClassPlan.status == PlanStatus.PENDING)
            .values(status=PlanStatus.APPROVED if approve else PlanStatus.REJECTED, decided_by_id=regulator.id,
                    decided_at=utcnow(), decision_reason=reason.strip())
            .execution_options(synchronize_session=False)
        ).rowcount
        if decided != 1:
            raise DomainError("该办班计划已由他人处理")
        plan.course.plan_status = (PlanStatus.APPROVED if approve else PlanStatus.REJECTED).value
        audit.record(regulator, "class_plan.approve" if approve else "class_plan.reject", plan,
                     base_id=plan.course.base_id, details={"reason": reason.strip()})
        course = plan.course
        decision = "已获批准" if approve else f"未获批准，原因：{reason.strip()}"
        inbox.notify_base_admins({course.base_id: (f"{course.base.name}“{course.title}”的办班计划{decision}",
                                                   f"/manage/bases/{course.base_id}/courses/{course.id}/plan")},
                                  kind=NoticeKind.PLAN)
    db.session.refresh(plan)
    return plan


def pending_plans(regulator: User) -> Sequence[ClassPlan]:
    """Plans awaiting the regulator's decision, oldest first, with course and base. One query."""
    return db.session.execute(
        sa.select(ClassPlan).join(ClassPlan.course).join(Course.base)
        .where(ClassPlan.status == PlanStatus.PENDING, policies.bases_in_reach(regulator))
        .options(contains_eager(ClassPlan.course).contains_eager(Course.base))
        .order_by(ClassPlan.filed_at, ClassPlan.id)
    ).scalars().all()


def plans_of(course: Course) -> Sequence[ClassPlan]:
    return db.session.execute(
        sa.select(ClassPlan).where(ClassPlan.course_id == course.id).order_by(ClassPlan.id.desc())
    ).scalars().all()


