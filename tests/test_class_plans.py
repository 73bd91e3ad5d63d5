"""Class plans (办班计划): filed by a base in the window before a face-to-face course starts, decided by the
regulator; a course takes no enrollment until its plan is approved, and a move of its dates voids the approval.
Split from tests/test_regulator.py (issue 15)."""

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    AuditLog,
    ClassPlan,
    Course,
    Enrollment,
    EnrollmentStatus,
    Mode,
    PlanStatus,
    RuleSet,
)
from services import enrollment
from services.errors import DomainError
from services.infra import clock
from tests.test_regulator import (  # noqa: F401  fixtures and helpers shared with test_regulator
    START,
    count,
    flashed,
    learner,
    plan_form,
    reload,
    signed_in,
)

# --- class plans ---------------------------------------------------------------------------------------------------

def at(monkeypatch, day: date) -> None:
    monkeypatch.setattr(clock, "today", lambda: day)


@pytest.fixture
def plan_course(admin_and_base, make_course):
    """A face-to-face professional course starting on START with no class plan yet."""
    return make_course(admin_and_base[1], title="急危重症护理新进展", plan_status=None, start_date=START,
                       end_date=START + timedelta(days=1))


def file_plan(app, admin_and_base, course):
    admin, base = admin_and_base
    return signed_in(app, admin).post(f"/manage/bases/{base.id}/courses/{course.id}/plan", data=plan_form())


def test_a_plan_ending_before_it_starts_is_refused_beside_the_end_date_by_the_service(app, monkeypatch,
                                                                                      admin_and_base, plan_course):
    """The dates' order is services.plans' rule, not the form's: the page shows the service's message."""
    at(monkeypatch, START - timedelta(days=20))
    admin, base = admin_and_base
    form = {**plan_form(), "end_date": (START - timedelta(days=1)).isoformat()}

    response = signed_in(app, admin).post(f"/manage/bases/{base.id}/courses/{plan_course.id}/plan", data=form)

    assert response.status_code == 200
    assert "结束日期不能早于开始日期" in response.get_data(as_text=True)
    assert count(ClassPlan) == 0


def test_a_plan_with_its_dates_reversed_and_a_field_left_empty_shows_both_in_one_round(app, monkeypatch,
                                                                                       admin_and_base, plan_course):
    """The empty teachers are the form's to say, the dates' order the service's: before, the form refused
    first and the dates came back only on the next submit."""
    at(monkeypatch, START - timedelta(days=20))
    admin, base = admin_and_base
    form = {**plan_form(), "end_date": (START - timedelta(days=1)).isoformat(), "teachers": ""}

    response = signed_in(app, admin).post(f"/manage/bases/{base.id}/courses/{plan_course.id}/plan", data=form)

    page = response.get_data(as_text=True)
    assert re.search(r'<div id="end_date-error"><div class="invalid-feedback d-block">结束日期不能早于开始日期</div>',
                     page)
    assert re.search(r'<div id="teachers-error"><div class="invalid-feedback d-block">请填写授课教师</div>', page)
    assert count(ClassPlan) == 0


@pytest.mark.parametrize("days_before", [30, 12, 1])
def test_plan_filed_within_30_days_before_the_start_is_pending(app, monkeypatch, admin_and_base, plan_course,
                                                               days_before):
    at(monkeypatch, START - timedelta(days=days_before))

    response = file_plan(app, admin_and_base, plan_course)

    assert response.status_code == 302
    (plan,) = db.session.scalars(sa.select(ClassPlan))
    assert (plan.course_id, plan.status, plan.filed_by_id) == (plan_course.id, PlanStatus.PENDING,
                                                               admin_and_base[0].id)
    assert reload(Course, plan_course.id).plan_status == PlanStatus.PENDING.value


@pytest.mark.parametrize(("today", "message"), [
    (START - timedelta(days=31), "尚未到申报时间：办班计划须在开班前 30 日内填报，可于 2031年02月08日 起填报"),
    (START - timedelta(days=90), "可于 2031年02月08日 起填报"),
    (START, "已过申报期限"),
    (START + timedelta(days=3), "已过申报期限"),
])
def test_plan_filed_too_early_or_too_late_is_refused_with_the_reason(app, monkeypatch, admin_and_base, plan_course,
                                                                     today, message):
    at(monkeypatch, today)

    response = file_plan(app, admin_and_base, plan_course)

    assert response.status_code == 200
    assert any(message in m for m in flashed(response.get_data(as_text=True)))
    assert count(ClassPlan) == 0
    assert reload(Course, plan_course.id).plan_status is None


def test_filing_window_is_the_regions_rule_set_data(app, monkeypatch, admin_and_base, plan_course, city):
    db.session.add(RuleSet(region_id=city.id, year=START.year, plan_window_days=10))
    db.session.commit()

    at(monkeypatch, START - timedelta(days=11))
    early = file_plan(app, admin_and_base, plan_course)
    at(monkeypatch, START - timedelta(days=10))
    in_time = file_plan(app, admin_and_base, plan_course)

    assert any("开班前 10 日内" in m for m in flashed(early.get_data(as_text=True)))
    assert in_time.status_code == 302
    assert count(ClassPlan) == 1


@pytest.fixture
def pending_plan(app, monkeypatch, admin_and_base, plan_course):
    at(monkeypatch, START - timedelta(days=20))
    assert file_plan(app, admin_and_base, plan_course).status_code == 302
    return db.session.execute(sa.select(ClassPlan)).scalar_one()


def enroll_via_page(app, learner, course):
    return signed_in(app, learner).post(f"/me/courses/{course.id}/enroll")


def test_course_takes_no_enrollment_while_its_plan_is_pending(app, pending_plan, plan_course, learner, client):
    enroll_via_page(app, learner, plan_course)

    assert count(Enrollment) == 0
    assert "办班计划尚未获人社部门批准" in client.get(f"/courses/{plan_course.id}").get_data(as_text=True)
    with pytest.raises(DomainError, match="办班计划"):
        enrollment.enroll(learner, plan_course.id)


def test_approved_plan_opens_the_course_to_enrollment(app, pending_plan, plan_course, regulators, learner):
    response = signed_in(app, regulators["city"]).post(f"/regulator/plans/{pending_plan.id}/decide",
                                                       data={"decision": "approve", "reason": ""})

    assert response.status_code == 302
    plan = reload(ClassPlan, pending_plan.id)
    assert (plan.status, plan.decided_by_id) == (PlanStatus.APPROVED, regulators["city"].id)
    assert plan.decided_at is not None
    assert reload(Course, plan_course.id).plan_status == PlanStatus.APPROVED.value
    enroll_via_page(app, learner, plan_course)
    assert db.session.scalar(sa.select(Enrollment.status).where(Enrollment.learner_id == learner.id)) == (
        EnrollmentStatus.CONFIRMED)


def _approve(app, plan, regulators):
    response = signed_in(app, regulators["city"]).post(f"/regulator/plans/{plan.id}/decide",
                                                       data={"decision": "approve", "reason": ""})
    assert response.status_code == 302


@pytest.mark.parametrize("change", [
    {"start_date": START + timedelta(days=200), "end_date": START + timedelta(days=201)},
    {"place": "另一个城市的酒店"},
    {"mode": Mode.BLENDED},  # still face to face in part: it still needs a plan
])
def test_moving_an_approved_course_voids_its_plan_until_a_new_one_is_approved(app, pending_plan, plan_course,
                                                                             regulators, admin_and_base, learner,
                                                                             change):
    """The plan was approved for those dates, that place and that way of teaching: changed, the course
    would take enrollments no regulator looked at (and could skip the filing window)."""
    from services import courses

    _approve(app, pending_plan, regulators)
    course = reload(Course, plan_course.id)
    courses.update_course(admin_and_base[0], course, change)

    course = reload(Course, plan_course.id)
    assert course.plan_status is None
    with pytest.raises(DomainError):
        enrollment.enroll(learner, course.id)
    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "course.update")).scalar_one()
    assert entry.details["plan_status"] == ["approved", None]


def test_an_edit_that_keeps_dates_place_and_mode_keeps_the_plan(app, pending_plan, plan_course, regulators,
                                                               admin_and_base, login_as):
    _approve(app, pending_plan, regulators)
    admin, base = admin_and_base
    course = reload(Course, plan_course.id)
    form = {"title": "急危重症护理新进展（第二期）", "description": course.description,
            "category": course.category.value, "field": course.field, "project_type": course.project_type.value,
            "hours": str(course.hours), "start_date": course.start_date.isoformat(),
            "end_date": course.end_date.isoformat(), "mode": course.mode.value, "place": course.place,
            "audience": course.audience, "capacity": str(course.capacity), "fee": str(course.fee),
            "contact_person": course.contact_person, "contact_phone": course.contact_phone}

    response = login_as(admin).post(f"/manage/bases/{base.id}/courses/{course.id}/edit", data=form)

    assert response.status_code == 302
    course = reload(Course, plan_course.id)
    assert course.title == "急危重症护理新进展（第二期）" and course.plan_status == PlanStatus.APPROVED.value


@pytest.mark.parametrize("reason", ["", "  "])
def test_rejecting_a_plan_needs_a_reason(app, pending_plan, regulators, reason):
    response = signed_in(app, regulators["city"]).post(
        f"/regulator/plans/{pending_plan.id}/decide", data={"decision": "reject", "reason": reason},
        follow_redirects=True)

    assert "驳回时必须填写原因" in flashed(response.get_data(as_text=True))
    assert reload(ClassPlan, pending_plan.id).status == PlanStatus.PENDING


def test_rejected_plan_keeps_the_course_closed_and_can_be_filed_again(app, pending_plan, plan_course, regulators,
                                                                      learner, admin_and_base):
    signed_in(app, regulators["city"]).post(f"/regulator/plans/{pending_plan.id}/decide",
                                            data={"decision": "reject", "reason": "授课教师资质不符合要求"})

    plan = reload(ClassPlan, pending_plan.id)
    assert (plan.status, plan.decision_reason) == (PlanStatus.REJECTED, "授课教师资质不符合要求")
    assert reload(Course, plan_course.id).plan_status == PlanStatus.REJECTED.value
    enroll_via_page(app, learner, plan_course)
    assert count(Enrollment) == 0
    assert file_plan(app, admin_and_base, plan_course).status_code == 302
    assert count(ClassPlan, ClassPlan.status == PlanStatus.PENDING) == 1


def test_decided_plan_cannot_be_decided_again(app, pending_plan, regulators):
    client = signed_in(app, regulators["city"])
    client.post(f"/regulator/plans/{pending_plan.id}/decide", data={"decision": "approve", "reason": ""})

    response = client.post(f"/regulator/plans/{pending_plan.id}/decide",
                           data={"decision": "reject", "reason": "改判"}, follow_redirects=True)

    assert any("已批准" in m for m in flashed(response.get_data(as_text=True)))
    assert reload(ClassPlan, pending_plan.id).status == PlanStatus.APPROVED


def test_plan_of_another_region_is_404(app, pending_plan, regulators):
    response = signed_in(app, regulators["other"]).post(f"/regulator/plans/{pending_plan.id}/decide",
                                                        data={"decision": "approve", "reason": ""})

    assert response.status_code == 404
    assert reload(ClassPlan, pending_plan.id).status == PlanStatus.PENDING
