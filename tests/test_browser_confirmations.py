"""Issue 19, items 1 and 2 in headless Chromium: an irreversible action asks first (static/js/confirm.js puts
the form's data-confirm question to window.confirm()): dismissed, nothing changes; accepted, it is done. And
after a class plan is approved, the message is inside the window, not scrolled away by an anchor.
Screenshots are kept under artifacts/screenshots/confirmations/."""

import pytest
from playwright.sync_api import expect

from extensions import db
from models import ApiToken, ClassPlan, Course, CourseStatus, Enrollment, EnrollmentStatus, PlanStatus, Role
from services import api_tokens, enrollment
from tests.browser import LiveServer, Shots, fits, in_view, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def fresh(model, row_id):
    db.session.commit()  # end the test's read transaction: the server's writes are seen
    db.session.expire_all()
    return db.session.get(model, row_id)


def refuse_then_accept(page, button, question: str) -> None:
    """Click, dismiss the dialog (the question asked is ``question``); then click again and accept."""
    asked = []

    def dismiss(dialog):
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    button.click()
    page.wait_for_timeout(300)  # a submit that was not stopped would be under way by now
    assert asked and question in asked[0]


def accept(page, button) -> None:
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        button.click()


def test_cancelling_a_course_asks_first(app, admin_and_base, make_course, actors):
    admin, base = admin_and_base
    course = make_course(base, title="护理质量管理")
    db.session.commit()
    shot = Shots("confirmations")
    with LiveServer(app) as site:
        page = actors.open()
        sign_in(page, site, admin.email, PASSWORD)
        page.goto(f"{site.url}/manage/bases/{base.id}/courses/{course.id}/edit")
        page.get_by_label("取消原因").fill("报名人数不足")
        button = page.get_by_role("button", name="取消课程")

        refuse_then_accept(page, button, "确定取消课程“护理质量管理”")
        assert fresh(Course, course.id).status == CourseStatus.PUBLISHED
        expect(page.locator(".alert[role=alert]")).to_have_count(0)

        accept(page, button)
        expect(page.locator(".alert-success[role=alert]")).to_contain_text("课程已取消")
        shot(page, "course-cancelled")
    assert fresh(Course, course.id).status == CourseStatus.CANCELLED


def test_cancelling_an_enrollment_asks_first(app, admin_and_base, make_course, make_user, actors):
    _admin, base = admin_and_base
    course = make_course(base, title="医院感染防控")
    learner = make_user(Role.LEARNER)
    enrolled = enrollment.enroll(learner, course.id)
    enrollment_id = enrolled.enrollment.id
    with LiveServer(app) as site:
        page = actors.open(phone=True)
        sign_in(page, site, learner.email, PASSWORD)
        page.goto(f"{site.url}/me/")
        button = page.get_by_role("button", name="取消报名")

        refuse_then_accept(page, button, "确定取消报名“医院感染防控”")
        assert fresh(Enrollment, enrollment_id).status == EnrollmentStatus.CONFIRMED

        accept(page, button)
        fits(page)
        Shots("confirmations-enrollment")(page, "enrollment-cancelled")
    assert fresh(Enrollment, enrollment_id).status == EnrollmentStatus.CANCELLED


def test_revoking_an_api_token_asks_first(app, admin_and_base, actors):
    admin, base = admin_and_base
    token, _secret = api_tokens.create_token(admin, base, "教务系统")
    with LiveServer(app) as site:
        page = actors.open()
        sign_in(page, site, admin.email, PASSWORD)
        page.goto(f"{site.url}/manage/bases/{base.id}/api-tokens")
        button = page.get_by_role("button", name="吊销")

        refuse_then_accept(page, button, "确定吊销令牌“教务系统”")
        assert fresh(ApiToken, token.id).revoked_at is None

        accept(page, button)
        expect(page.get_by_text("已吊销", exact=True)).to_be_visible()
    assert fresh(ApiToken, token.id).revoked_at is not None


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_the_message_after_approving_a_class_plan_is_in_view(app, admin_and_base, make_course, make_user, city,
                                                             actors, phone):
    admin, base = admin_and_base
    regulator = make_user(Role.REGULATOR, region_id=city.id)
    # Enough plans that the list runs below the fold: an anchor jump to it would scroll the message away.
    plans = []
    for n in range(6):
        course = make_course(base, title=f"办班课程{n}", plan_status=PlanStatus.PENDING.value)
        plan = ClassPlan(course_id=course.id, start_date=course.start_date, end_date=course.end_date,
                         place=course.place, teachers="张教授", syllabus="第一天：理论", expected_trainees=40,
                         filed_by_id=admin.id, status=PlanStatus.PENDING)
        db.session.add(plan)
        plans.append(plan)
    db.session.commit()
    with LiveServer(app) as site:
        page = actors.open(phone=phone)
        sign_in(page, site, regulator.email, PASSWORD)
        page.goto(f"{site.url}/regulator/")
        card = page.locator(".card", has_text="办班课程5")
        card.scroll_into_view_if_needed()
        with page.expect_navigation():
            card.get_by_role("button", name="批准").click()

        message = page.locator(".alert-success[role=alert]", has_text="办班计划")
        expect(message).to_have_text("办班计划“办班课程5”已批准")
        assert in_view(page, message), "the message is outside the window"
        assert "#" not in page.url
        Shots("confirmations-plan-" + ("phone" if phone else "desktop"))(page, "plan-approved")
    assert fresh(ClassPlan, plans[5].id).status == PlanStatus.APPROVED


# Safari before 15.4: a submit event without a submitter (SubmitEvent.prototype.submitter removed before any
# script of the page runs).
NO_SUBMITTER = "delete SubmitEvent.prototype.submitter;"


def test_a_buttons_own_question_is_asked_in_a_browser_without_event_submitter(app, admin_and_base, make_course,
                                                                              make_user, city, actors):
    admin, base = admin_and_base
    regulator = make_user(Role.REGULATOR, region_id=city.id)
    course = make_course(base, title="老版本浏览器课程", plan_status=PlanStatus.PENDING.value)
    plan = ClassPlan(course_id=course.id, start_date=course.start_date, end_date=course.end_date,
                     place=course.place, teachers="张教授", syllabus="第一天：理论", expected_trainees=40,
                     filed_by_id=admin.id, status=PlanStatus.PENDING)
    db.session.add(plan)
    db.session.commit()
    with LiveServer(app) as site:
        page = actors.open(phone=True)
        page.add_init_script(NO_SUBMITTER)
        sign_in(page, site, regulator.email, PASSWORD)
        page.goto(f"{site.url}/regulator/")
        assert page.evaluate("() => !('submitter' in new SubmitEvent('submit'))")
        card = page.locator(".card", has_text="老版本浏览器课程")
        card.get_by_label("意见").fill("教师资质材料不全")

        # 驳回 carries its own question (the form has none): the button last clicked stands in for the submitter.
        refuse_then_accept(page, card.get_by_role("button", name="驳回"), "确定驳回“老版本浏览器课程”的办班计划")
        assert fresh(ClassPlan, plan.id).status == PlanStatus.PENDING

        # 批准 asks nothing: the refused 驳回 is not remembered as the button of this submit.
        asked = []
        page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
        with page.expect_navigation():
            card.get_by_role("button", name="批准").click()
        assert asked == []
        expect(page.locator(".alert-success[role=alert]")).to_have_text("办班计划“老版本浏览器课程”已批准")
    assert fresh(ClassPlan, plan.id).status == PlanStatus.APPROVED
