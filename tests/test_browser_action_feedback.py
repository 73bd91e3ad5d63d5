"""Issue 19, "done when: every action's message visible in the viewport after it". On the demo's data, at a
phone's 390×844 and a desktop's 1280×900, each role does a representative action that succeeds and one sent
back with bad input whose error lands beside a field low on the page (below the first window on a phone; on
a desktop, where the page is that long); right after each, its message (the flashed .alert, or the field's
.invalid-feedback) is inside the window, and the invalid field has the focus (static/js/form-errors.js); a form
sent back has no serious axe-core violation either.
A screenshot of the window after each action is kept under artifacts/screenshots/action-feedback/<role>-<width>/.
"""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from extensions import db
from models import BaseMembership, Course, CourseStatus, Enrollment, TrainingBase, User
from seeding.demo import DEMO_PASSWORD
from services import enrollment
from services.infra import clock
from tests.browser import Shots, serious_violations, shown_in_view, sign_in

pytestmark = pytest.mark.browser

SIZES = pytest.mark.parametrize("phone", [True, False], ids=["390", "1280"])


@pytest.fixture
def app(demo_app):
    """The demo's data, its year of history included (conftest.demo_template)."""
    return demo_app


def shots(role: str, phone: bool) -> Shots:
    return Shots(f"action-feedback/{role}-{390 if phone else 1280}")


def submit(page, button) -> None:
    """Click a submit button and wait for the page it leads to (its scripts run, its load fired)."""
    with page.expect_navigation():
        button.click()


def alert_in_view(page, text: str, kind: str = "success"):
    message = page.locator(f".alert-{kind}[role=alert]", has_text=text)
    shown_in_view(page, message)
    return message


def error_in_view(page, label: str, text: str, scope=None) -> None:
    """The field labelled ``label`` (in ``scope``, a form, when given) is sent back invalid, has the focus, and
    its message ``text`` is in view."""
    field = (scope or page).get_by_label(label, exact=True)
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()
    message = page.locator(f"#{field.get_attribute('id')}-error .invalid-feedback", has_text=text)
    shown_in_view(page, message)
    assert serious_violations(page) == []  # the form sent back reads as well as the fresh one


def low_on_the_page(page, label: str, scope=None) -> bool:
    """The field's message lies below the first window of the page (the case static/js/form-errors.js is
    for), wherever the page is scrolled to now."""
    field = (scope or page).get_by_label(label, exact=True)
    message = page.locator(f"#{field.get_attribute('id')}-error")
    return message.evaluate("(el) => el.getBoundingClientRect().bottom + window.scrollY > window.innerHeight")


def _open_course_for(email: str) -> Course:
    """A published course of the learner's city open for enrollment now, with a seat, that they have not
    enrolled in."""
    learner = db.session.scalar(sa.select(User).where(User.email == email))
    taken = sa.select(Enrollment.course_id).where(Enrollment.learner_id == learner.id)
    candidates = db.session.scalars(
        sa.select(Course).join(TrainingBase).where(
            Course.status == CourseStatus.PUBLISHED, Course.end_date >= clock.today(), Course.id.not_in(taken),
            TrainingBase.region_id == learner.region_id).order_by(Course.start_date.desc()).limit(200))
    for course in candidates:
        if enrollment.availability(course).state == enrollment.Availability.OPEN:
            return course
    raise AssertionError("the demo has no course open to the learner")


@SIZES
def test_learner_enrolls_cancels_and_declares_without_evidence(app, site, actors, phone):
    course = _open_course_for("learner@jidi.demo")
    title = course.title
    db.session.rollback()
    shot = shots("learner", phone)
    page = actors.open(phone=phone)
    sign_in(page, site, "learner@jidi.demo", DEMO_PASSWORD)

    page.goto(f"{site.url}/courses/{course.id}")
    submit(page, page.get_by_role("button", name="在线报名"))
    alert_in_view(page, "报名成功")
    shot(page, "enrolled", full_page=False)

    page.goto(f"{site.url}/me/")
    page.once("dialog", lambda dialog: dialog.accept())
    submit(page, page.locator(f"form[data-confirm*='{title}']").get_by_role("button", name="取消报名"))
    alert_in_view(page, "已取消报名", "info")
    shot(page, "cancelled", full_page=False)

    page.goto(f"{site.url}/me/declarations/new")
    # A form opened afresh has nothing wrong: the focus stays where the browser put it, the page at its top.
    assert page.evaluate("() => document.activeElement === document.body && window.scrollY === 0")
    page.get_by_label("类型").select_option(label="在职学历（学位）教育")
    page.get_by_label("科目类别").select_option(label="专业科目")
    page.get_by_label("名称").fill("在职攻读护理学硕士学位")
    page.get_by_label("日期").fill(clock.today().isoformat())
    page.get_by_label("申报学时").fill("5")
    submit(page, page.get_by_role("button", name="提交"))
    error_in_view(page, "证明材料", "请上传证明材料")
    assert low_on_the_page(page, "证明材料") or not phone
    shot(page, "declared-without-evidence", full_page=False)


@SIZES
def test_base_admin_saves_a_course_after_a_bad_phone_number(app, site, actors, phone):
    admin = db.session.scalar(sa.select(User).where(User.email == "admin01@jidi.demo"))
    base_id = db.session.scalar(sa.select(BaseMembership.base_id).where(BaseMembership.user_id == admin.id))
    course_id = db.session.scalar(sa.select(Course.id).where(
        Course.base_id == base_id, Course.status == CourseStatus.PUBLISHED).order_by(Course.id).limit(1))
    db.session.rollback()
    shot = shots("base-admin", phone)
    page = actors.open(phone=phone)
    sign_in(page, site, "admin01@jidi.demo", DEMO_PASSWORD)

    page.goto(f"{site.url}/manage/bases/{base_id}/courses/{course_id}/edit")
    page.get_by_label("联系电话", exact=True).fill("请致电教务处")
    submit(page, page.get_by_role("button", name="保存", exact=True))
    error_in_view(page, "联系电话", "")
    assert low_on_the_page(page, "联系电话"), "the phone number is the course form's last row"
    shot(page, "bad-phone", full_page=False)

    page.get_by_label("联系电话", exact=True).fill("028-84616666")
    submit(page, page.get_by_role("button", name="保存", exact=True))
    alert_in_view(page, "课程已保存")
    shot(page, "saved", full_page=False)


@SIZES
def test_reviewer_ticks_nothing_rejects_without_a_reason_then_approves(app, site, actors, phone):
    shot = shots("reviewer", phone)
    page = actors.open(phone=phone)
    sign_in(page, site, "reviewer.cd1@jidi.demo", DEMO_PASSWORD)

    # The batch form's button sits under the whole queue; its refusal names no field and is flashed above it.
    button = page.get_by_role("button", name="通过所选申报")
    assert button.evaluate("(el) => el.getBoundingClientRect().top + window.scrollY > window.innerHeight") or not phone
    button.scroll_into_view_if_needed()
    submit(page, button)
    alert_in_view(page, "请先勾选要通过的申报", "danger")
    shot(page, "nothing-ticked", full_page=False)

    waiting = page.locator("#review-queue tbody tr", has=page.locator(".badge", has_text="待单位审核"))
    waiting.first.get_by_role("link").click()
    page.get_by_label("审核结果").select_option(label="驳回")
    submit(page, page.get_by_role("button", name="提交审核"))
    error_in_view(page, "理由", "")
    shot(page, "rejected-without-reason", full_page=False)

    page.get_by_label("审核结果").select_option(label="通过")
    submit(page, page.get_by_role("button", name="提交审核"))
    alert_in_view(page, "审核已完成")
    shot(page, "approved", full_page=False)


@SIZES
def test_employer_adds_a_reviewer_then_mistypes_the_next_ones_password(app, site, actors, phone):
    shot = shots("employer", phone)
    page = actors.open(phone=phone)
    sign_in(page, site, "employer.cd1@jidi.demo", DEMO_PASSWORD)

    page.goto(f"{site.url}/employer/reviewers")
    form = page.locator("#add-reviewer")
    for name, login, confirm in [("王审核", "wang", "Shenhe-2026"), ("刘审核", "liu", "Shenhe-2025")]:
        form.get_by_label("姓名").fill(name)
        form.get_by_label("登录名（手机号或邮箱）").fill(f"{login}.{390 if phone else 1280}@hospital.example")
        form.get_by_label("初始密码").fill("Shenhe-2026")
        form.get_by_label("确认密码").fill(confirm)
        submit(page, form.get_by_role("button", name="添加"))
    # The first is added (the list grows above the form); the second is sent back.
    expect(page.locator("#reviewers")).to_contain_text("王审核")
    error_in_view(page, "确认密码", "两次输入的密码不一致")
    # On a phone the form follows the list of reviewers; on a desktop it stands beside it.
    assert low_on_the_page(page, "确认密码") or not phone
    shot(page, "passwords-differ", full_page=False)

    form.get_by_label("初始密码").fill("Shenhe-2026")
    form.get_by_label("确认密码").fill("Shenhe-2026")
    submit(page, form.get_by_role("button", name="添加"))
    alert_in_view(page, "已添加审核人员 刘审核")
    shot(page, "added", full_page=False)


@SIZES
def test_sector_officer_saves_the_study_guide_after_a_bad_course_number(app, site, actors, phone):
    year = clock.today().year
    shot = shots("sector", phone)
    page = actors.open(phone=phone)
    sign_in(page, site, "sector.cd@jidi.demo", DEMO_PASSWORD)

    page.goto(f"{site.url}/sector/guides/{year}")
    page.get_by_label("标题").fill(f"{year} 年度卫生专业技术人员学习指南")
    page.get_by_label("按编号添加推荐课程").fill("第三课")
    submit(page, page.get_by_role("button", name="保存"))
    error_in_view(page, "按编号添加推荐课程", "请填写课程编号")
    assert low_on_the_page(page, "按编号添加推荐课程"), "the course numbers follow the list of courses"
    shot(page, "bad-course-number", full_page=False)

    page.get_by_label("按编号添加推荐课程").fill("")
    submit(page, page.get_by_role("button", name="保存"))
    alert_in_view(page, f"已保存 {year} 年度学习指南")
    shot(page, "saved", full_page=False)


@SIZES
def test_regulator_approves_a_class_plan_and_is_told_a_password_is_short(app, site, actors, phone):
    shot = shots("regulator", phone)
    page = actors.open(phone=phone)
    sign_in(page, site, "regulator.chengdu@jidi.demo", DEMO_PASSWORD)

    page.goto(f"{site.url}/regulator/")
    plan = page.locator(".card", has=page.get_by_role("button", name="批准")).last
    title = plan.locator(".fw-semibold").inner_text()
    plan.scroll_into_view_if_needed()
    submit(page, plan.get_by_role("button", name="批准"))
    alert_in_view(page, f"办班计划“{title}”已批准")
    shot(page, "plan-approved", full_page=False)

    page.goto(f"{site.url}/regulator/sectors")
    form = page.locator("#new-sector-authority")
    form.get_by_label("行业").select_option("教育")
    form.get_by_label("主管部门名称").fill("成都市教育局")
    form.get_by_label("姓名").fill("李主管")
    form.get_by_label("邮箱（登录用）").fill("li.jiaoyu@chengdu.example")
    form.get_by_label("初始密码").fill("short")
    submit(page, form.get_by_role("button", name="新建"))
    error_in_view(page, "初始密码", "密码至少 8 位")
    assert low_on_the_page(page, "初始密码") or not phone
    shot(page, "short-password", full_page=False)

    # A base application approved with conditions of its checklist unticked: the refusal heads the list, and
    # the first condition missing has the focus.
    page.goto(f"{site.url}/regulator/applications")
    page.locator("#main tbody tr", has=page.locator(".badge", has_text="待审核")).first.get_by_role("link").click()
    form = page.locator("#decision-form")
    form.locator("input[name=checklist]").first.uncheck()
    submit(page, form.get_by_role("button", name="批准并开通基地"))
    message = page.locator("#checklist-error .invalid-feedback", has_text="以下条件尚未满足，不能批准")
    shown_in_view(page, message)
    first_unmet = form.locator("input[name=checklist][aria-invalid=true]").first
    expect(first_unmet).to_be_focused()
    expect(first_unmet).not_to_be_checked()
    assert message.evaluate("(el) => el.getBoundingClientRect().bottom + window.scrollY > window.innerHeight") \
        or not phone
    shot(page, "checklist-unmet", full_page=False)


@SIZES
def test_platform_admin_creates_a_region_and_is_told_a_regulators_password_is_short(app, site, actors, phone):
    shot = shots("platform", phone)
    page = actors.open(phone=phone)
    sign_in(page, site, "admin@jidi.demo", DEMO_PASSWORD)

    page.goto(f"{site.url}/platform/")
    region = page.locator("#new-region")
    region.locator("summary").click()
    region.get_by_label("行政区划代码").fill("520000" if phone else "530000")
    region.get_by_label("名称").fill("贵州省" if phone else "云南省")
    region.get_by_label("级别").select_option("province")
    submit(page, region.get_by_role("button", name="新建地区"))
    alert_in_view(page, "已新建地区")
    shot(page, "region-created", full_page=False)

    regulator = page.locator("#new-regulator")
    regulator.locator("summary").click()
    regulator.get_by_label("姓名").fill("赵监管")
    regulator.get_by_label("邮箱（登录用）").fill("zhao.jianguan@hrss.example")
    regulator.get_by_label("初始密码").fill("short")
    submit(page, regulator.get_by_role("button", name="新建监管账号"))
    error_in_view(page, "初始密码", "密码至少 8 位", scope=page.locator("#new-regulator"))
    assert low_on_the_page(page, "初始密码", scope=page.locator("#new-regulator")), "the form ends the page"
    shot(page, "short-password", full_page=False)
