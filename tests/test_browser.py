"""Browser journeys in headless Chromium: a visitor finds a course; a base admin publishes one.

Screenshots of every step are kept under artifacts/screenshots/ as test artifacts.
"""

import io
import subprocess
from datetime import timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from PIL import Image as PILImage
from playwright.sync_api import expect

from extensions import db
from models import (
    BaseType,
    Category,
    Course,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    HoursRecord,
    HoursSource,
    Mode,
    Region,
    Role,
    Target,
    TrainingBase,
    User,
)
from seeding.demo import DEMO_PASSWORD
from services import resident_ids
from services.courses import refresh_search_tokens
from services.infra import clock
from tests.browser import Shots
from tests.conftest import after_the_year

pytestmark = pytest.mark.browser


@pytest.fixture
def app(demo_app):
    """The demo's data, its year of history included, seeded once per session (conftest.demo_template)."""
    return demo_app


@pytest.fixture
def page(browser):
    """A desktop-sized page; the test fails if the browser logged an error (a CSP refusal, a 404 asset)."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


def test_visitor_searches_ai_and_opens_the_course(site, page):
    shot = Shots("visitor-search")
    page.goto(site.url + "/")
    shot(page, "home")
    page.get_by_role("searchbox").fill("人工智能")
    page.get_by_role("button", name="搜索").click()
    expect(page).to_have_url(site.url + "/courses?q=%E4%BA%BA%E5%B7%A5%E6%99%BA%E8%83%BD")
    result = page.locator(".course-card").filter(has_text="人工智能与健康").first
    expect(result).to_be_visible()
    shot(page, "results")
    result.get_by_role("link", name="人工智能与健康").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("人工智能与健康")
    expect(page.get_by_text("承办单位")).to_be_visible()
    shot(page, "course")
    assert all(path.stat().st_size > 10_000 for path in shot.taken)


def _cover_file(tmp_path):
    path = tmp_path / "cover.png"
    image = PILImage.new("RGB", (1200, 800), (32, 96, 160))
    for x in range(0, 1200, 40):
        image.paste((240, 200, 40), (x, 380, x + 20, 420))
    image.save(path)
    return path


def test_base_admin_publishes_a_course_with_cover_that_visitors_find(site, page, browser, tmp_path):
    shot = Shots("admin-publish")
    page.goto(site.url + "/login")
    page.get_by_label("手机号或邮箱").fill("admin01@jidi.demo")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    shot(page, "login")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("成都大学继续教育学院")
    shot(page, "base-home")

    page.get_by_role("link", name="新建课程").click()
    page.get_by_label("课程名称").fill("社区护理与健康促进研修班")
    page.get_by_label("课程简介").fill("社区护理评估、慢病随访与健康教育方法。")
    page.get_by_label("科目类别").select_option(label="专业科目")
    page.get_by_label("领域").select_option("卫生")
    page.get_by_label("学时").fill("16")
    page.get_by_label("开始日期").fill("2027-03-10")
    page.get_by_label("结束日期").fill("2027-03-11")
    page.get_by_label("培训方式").select_option(label="面授")
    page.get_by_label("培训地点").fill("成都大学继续教育学院 3 号楼 201")
    page.get_by_label("培训对象").fill("社区卫生服务中心护理人员")
    page.get_by_label("名额").fill("60")
    page.get_by_label("费用（元）").fill("300")
    page.get_by_label("封面图片").set_input_files(str(_cover_file(tmp_path)))
    shot(page, "course-form")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator("#course-status")).to_have_text("草稿")
    shot(page, "draft-saved")
    page.get_by_role("button", name="发布").click()
    expect(page.locator("#course-status")).to_have_text("已发布")
    shot(page, "published")

    visitor = browser.new_context(locale="zh-CN").new_page()
    visitor.goto(site.url + "/courses?q=社区护理")
    card = visitor.locator(".course-card").filter(has_text="社区护理与健康促进研修班")
    expect(card).to_have_count(1)
    # A face-to-face professional course takes nobody before its class plan is approved: no seat count yet.
    expect(card).to_contain_text("办班计划待批准")
    expect(card).not_to_contain_text("余 60 个名额")
    shot(visitor, "visitor-finds-it")
    card.get_by_role("link", name="社区护理与健康促进研修班").click()
    cover = visitor.get_by_role("img", name="社区护理与健康促进研修班")
    expect(cover).to_be_visible()
    assert cover.evaluate("img => img.naturalWidth") == 1200
    shot(visitor, "visitor-course-page")
    visitor.context.close()


def test_base_admin_makes_an_api_token_the_api_accepts_and_revokes_it(site, page):
    """The token page as an admin uses it: name and lifetime, the secret shown once, then revoked; the
    API, called over HTTP like a provincial platform would, follows each step."""
    import json
    import urllib.error
    import urllib.request

    def whoami(secret: str):
        request = urllib.request.Request(site.url + "/api/v1/base", headers={"Authorization": f"Bearer {secret}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    shot = Shots("api-token")
    page.goto(site.url + "/login")
    page.get_by_label("手机号或邮箱").fill("admin01@jidi.demo")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="接口令牌").click()
    expect(page.get_by_label("有效期")).to_have_value("365")
    page.get_by_label("令牌名称").fill("省公共服务平台")
    page.get_by_label("有效期").select_option(label="90 天")
    shot(page, "form")
    page.get_by_role("button", name="创建令牌").click()
    expect(page.get_by_text("请立即复制保存，此令牌只显示这一次")).to_be_visible()
    secret = page.locator("#new-token-secret").input_value()
    shot(page, "secret-shown-once")

    status, body = whoami(secret)
    assert status == 200 and body["base"]["name"] == "成都大学继续教育学院"
    assert body["token"]["name"] == "省公共服务平台" and body["token"]["expires_at"] is not None

    page.get_by_role("link", name="接口令牌").click()
    expect(page.locator("#new-token-secret")).to_have_count(0)  # shown once: not when the page is opened again
    row = page.locator("#api-tokens tr").filter(has_text="省公共服务平台")
    expect(row).to_contain_text("有效")
    page.once("dialog", lambda dialog: dialog.accept())  # the site asks first (static/js/confirm.js)
    row.get_by_role("button", name="吊销").click()
    expect(page.get_by_text("令牌已吊销，立即失效")).to_be_visible()
    expect(page.locator("#api-tokens tr").filter(has_text="省公共服务平台")).to_contain_text("已吊销")
    shot(page, "revoked")
    assert whoami(secret)[0] == 401


def test_catalog_fits_a_phone_screen(site, browser):
    shot = Shots("phone")
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    for path in ("/", "/courses", "/bases"):
        page.goto(site.url + path)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
        shot(page, path.strip("/") or "home")
    context.close()


def _register(page, site, name, phone, id_number, shot, step):
    page.goto(site.url + "/register")
    page.get_by_label("姓名").fill(name)
    page.get_by_label("身份证号", exact=True).fill(id_number)
    page.get_by_label("手机号").fill(phone)
    page.get_by_label("密码", exact=True).fill("learner-pass-1")
    page.get_by_label("确认密码").fill("learner-pass-1")
    page.get_by_label("所在地区").select_option(label="四川省成都市")
    page.get_by_label("工作单位").fill("成都市第三人民医院")
    page.get_by_label("行业").select_option("卫生")
    page.get_by_label("职称").select_option("中级")
    page.get_by_label("我已阅读并同意").check()
    shot(page, step)
    page.get_by_role("button", name="注册").click()
    expect(page.get_by_role("heading", name="我的学习")).to_be_visible()


def _valid_id(first17: str) -> str:
    return first17 + resident_ids.check_character(first17)


def test_learners_enroll_wait_get_promoted_and_see_completed_hours(app, site, page, browser):
    shot = Shots("learner-journey")
    base = db.session.execute(sa.select(TrainingBase).filter_by(name="成都大学继续教育学院")).scalar_one()
    start = clock.today() + timedelta(days=10)
    course = Course(
        base=base, title="急救护理实训班", category=Category.PROFESSIONAL, field="卫生", hours=16,
        start_date=start, end_date=start + timedelta(days=1), mode=Mode.FACE_TO_FACE, place="实训中心 101",
        audience="护理人员", capacity=1, status=CourseStatus.PUBLISHED, plan_status="approved", contact_person="张老师",
        contact_phone="028-61234567",
    )
    refresh_search_tokens(course, base)
    db.session.add(course)
    db.session.commit()
    course_id, base_id = course.id, base.id
    # End this thread's read transaction: on SQLite a transaction that read before the server wrote
    # cannot write later (the update below starts a fresh one).
    db.session.rollback()
    course_url = f"{site.url}/courses/{course_id}"

    _register(page, site, "李明", "13700000011", _valid_id("51010719880512003"), shot, "first-registers")
    page.goto(course_url)
    page.get_by_role("button", name="在线报名").click()
    expect(page.locator("#enroll-panel")).to_contain_text("已报名")
    shot(page, "first-enrolled")

    second = browser.new_context(locale="zh-CN").new_page()
    _register(second, site, "赵敏", "13700000012", _valid_id("51010819910723004"), shot, "second-registers")
    second.goto(course_url)
    second.get_by_role("button", name="名额已满，加入候补").click()
    expect(second.locator("#enroll-panel")).to_contain_text("候补第 1 位")
    shot(second, "second-waitlisted")

    page.goto(site.url + "/me/")
    page.once("dialog", lambda dialog: dialog.accept())  # the site asks first (static/js/confirm.js)
    page.locator("#upcoming li").filter(has_text="急救护理实训班").get_by_role("button", name="取消报名").click()
    expect(page.locator("#upcoming")).not_to_contain_text("急救护理实训班")
    second.goto(site.url + "/me/")
    expect(second.get_by_text("候补已转为正式报名")).to_be_visible()
    expect(second.locator("#upcoming")).to_contain_text("急救护理实训班")
    shot(second, "second-promoted")

    # Time passes: the class has taken place.
    db.session.execute(sa.update(Course).where(Course.id == course_id).values(
        start_date=clock.today() - timedelta(days=1), end_date=clock.today()))
    db.session.commit()

    admin = browser.new_context(locale="zh-CN").new_page()
    admin.goto(site.url + "/login")
    admin.get_by_label("手机号或邮箱").fill("admin01@jidi.demo")
    admin.get_by_label("密码").fill(DEMO_PASSWORD)
    admin.get_by_role("button", name="登录").click()
    admin.goto(f"{site.url}/manage/bases/{base_id}/courses/{course_id}/roster")
    admin.get_by_label("选择 赵敏").check()
    shot(admin, "admin-roster")
    admin.get_by_role("button", name="为所选学员记录结业").click()
    expect(admin.locator("#roster-seated")).to_contain_text("已结业")
    shot(admin, "admin-completed")

    second.goto(site.url + "/me/")
    professional = second.locator(f"#hours-{clock.today().year} .progress-line[data-label='专业科目']")
    expect(professional.locator(".earned")).to_have_text("16")
    expect(second.locator("#completed")).to_contain_text("急救护理实训班")
    shot(second, "second-dashboard-hours")
    for context in (second.context, admin.context):
        context.close()


def test_regulator_evaluates_overrides_confirms_and_the_public_pages_follow(app, site, page, request):
    shot = Shots("regulator-evaluation")
    year = clock.today().year
    chengdu = db.session.execute(sa.select(Region).filter_by(code="510100")).scalar_one()
    db.session.execute(sa.delete(Target).where(Target.region_id == chengdu.id, Target.year == year))
    db.session.add(Target(base_type=BaseType.CITY, year=year, region_id=chengdu.id, min_trainees=3, min_projects=1))
    passing, failing, spared = (
        db.session.execute(sa.select(TrainingBase).filter_by(name=name)).scalar_one()
        for name in ("成都大学继续教育学院", "成都市市政城建培训中心", "成都东软学院")
    )
    today = clock.today()
    course = Course(
        base=passing, title="年度评估样本课程", category=Category.PUBLIC, field="信息", hours=8,
        start_date=today - timedelta(days=today.timetuple().tm_yday - 1), end_date=today,
        mode=Mode.SELF_PACED, place="线上", audience="全体", capacity=None, status=CourseStatus.PUBLISHED,
    )
    db.session.add(course)
    db.session.flush()
    for n in range(3):
        learner = User(name=f"评估学员{n}", email=f"eval{n}@example.com", role=Role.LEARNER,
                       region_id=chengdu.id, password_hash="x")
        db.session.add(learner)
        db.session.flush()
        db.session.add(Enrollment(course_id=course.id, learner_id=learner.id, status=EnrollmentStatus.COMPLETED,
                                  completed_on=course.end_date))
    db.session.commit()
    names = {"passing": passing.name, "failing": failing.name, "spared": spared.name}
    db.session.rollback()

    page.goto(site.url + "/login")
    page.get_by_label("手机号或邮箱").fill("regulator.chengdu@jidi.demo")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    # The evaluation is run and confirmed in mid-January after the year (a running year is only a trial); the
    # server runs in this process, so the clock it reads is the one patched here.
    later = pytest.MonkeyPatch()
    request.addfinalizer(later.undo)  # also when an assertion below fails
    after_the_year(later, year)
    page.goto(site.url + "/regulator/")
    page.locator("#run-evaluation").get_by_label("年度").fill(str(year))
    page.locator("#run-evaluation").get_by_label("地区").select_option(label="四川省成都市")
    shot(page, "overview")
    page.get_by_role("button", name="开始评估").click()
    results = page.locator("#evaluation-results")
    expect(results.locator(f"tr[data-base='{names['passing']}']")).to_contain_text("合格")
    expect(results.locator(f"tr[data-base='{names['failing']}']")).to_contain_text("退出")
    shot(page, "proposals")

    row = results.locator(f"tr[data-base='{names['spared']}']")
    row.get_by_label(f"结论 {names['spared']}").select_option(label="整改")
    row.get_by_role("button", name="保存").click()
    expect(page.locator(".alert-danger")).to_contain_text("调整评估结论必须填写理由")
    row = page.locator(f"#evaluation-results tr[data-base='{names['spared']}']")
    row.get_by_label(f"结论 {names['spared']}").select_option(label="整改")
    row.get_by_label(f"调整理由 {names['spared']}").fill("新建线上平台已投入使用，给予一年整改期")
    row.get_by_role("button", name="保存").click()
    expect(page.locator(".alert-success")).to_contain_text("整改")
    shot(page, "overridden")
    page.get_by_label("我已核对各基地的结论").check()
    page.get_by_role("button", name="确认评估结论").click()
    expect(page.locator("#evaluation-status")).to_have_text("已确认")
    shot(page, "confirmed")

    with page.expect_download() as download:
        page.locator("#export-evaluation").click()
    sheet = load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    rows = {r[1]: r for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert rows[names["passing"]][13] == "合格"
    assert rows[names["failing"]][13] == "退出"
    assert rows[names["spared"]][13] == "整改" and rows[names["spared"]][14].startswith("新建线上平台")
    later.undo()

    page.goto(site.url + "/regulator/")
    with page.expect_download() as download:
        page.locator("#export-catalog").click()
    catalog = load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    assert [c.value for c in catalog[3]][:3] == ["序号", "承办单位", "培训项目名称"]  # under the 填报单位 line
    assert any(r[2] == "年度评估样本课程" for r in catalog.iter_rows(min_row=4, values_only=True))

    visitor = page.context.browser.new_context(locale="zh-CN").new_page()
    visitor.goto(site.url + "/bases")
    directory = visitor.locator("main")
    expect(directory).to_contain_text(names["passing"])
    expect(directory).to_contain_text(names["spared"])
    expect(directory).not_to_contain_text(names["failing"])
    shot(visitor, "directory")
    visitor.goto(f"{site.url}/list/{year}")
    listing = visitor.locator("#published-list")
    expect(listing).to_contain_text(names["passing"])
    expect(listing).not_to_contain_text(names["failing"])
    expect(listing).not_to_contain_text(names["spared"])
    shot(visitor, "published-list")
    visitor.context.close()


def test_learner_declares_a_degree_reviewer_approves_and_the_certificate_verifies(app, site, page, browser,
                                                                                   tmp_path):
    shot = Shots("declaration-certificate")
    year = clock.today().year
    learner = db.session.execute(sa.select(User).filter_by(email="learner@jidi.demo")).scalar_one()

    def booked(category=None):
        query = sa.select(sa.func.coalesce(sa.func.sum(HoursRecord.hours), 0)).where(
            HoursRecord.learner_id == learner.id, HoursRecord.year == year)
        return db.session.scalar(query.where(HoursRecord.category == category) if category else query)

    # Whatever the demo has booked this year, at least Chengdu's 30 public hours. The 5 declared are
    # professional: Chengdu counts degrees, not competitions (notice 003 三.(三) lists the ways that count).
    if booked(Category.PUBLIC) < 30:
        db.session.add(HoursRecord(learner_id=learner.id, year=year, category=Category.PUBLIC, note="人工智能与健康",
                                   hours=30 - booked(Category.PUBLIC), source=HoursSource.COURSE))
        db.session.commit()
    public_after, total_after = booked(Category.PUBLIC), booked() + 5
    db.session.rollback()
    evidence = tmp_path / "获奖证书.png"
    PILImage.new("RGB", (640, 480), (250, 240, 200)).save(evidence)

    page.goto(site.url + "/login")
    page.get_by_label("手机号或邮箱").fill("learner@jidi.demo")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.goto(site.url + "/me/declarations/new")
    expect(page.get_by_label("类型").locator("option", has_text="技能竞赛")).to_have_count(0)
    page.get_by_label("类型").select_option(label="在职学历（学位）教育")
    page.get_by_label("科目类别").select_option(label="专业科目")
    page.get_by_label("名称").fill("在职攻读护理学硕士学位")
    page.get_by_label("主办单位").fill("四川大学")
    page.get_by_label("日期").fill(clock.today().isoformat())
    page.get_by_label("申报学时").fill("5")
    page.get_by_label("证明材料").set_input_files(str(evidence))
    shot(page, "declare")
    page.get_by_role("button", name="提交").click()
    expect(page.locator("#declarations")).to_contain_text("待单位审核")
    shot(page, "declared")

    reviewer = browser.new_context(locale="zh-CN").new_page()
    reviewer.goto(site.url + "/login")
    reviewer.get_by_label("手机号或邮箱").fill("reviewer.cd1@jidi.demo")
    reviewer.get_by_label("密码").fill(DEMO_PASSWORD)
    reviewer.get_by_role("button", name="登录").click()
    reviewer.get_by_role("link", name="在职攻读护理学硕士学位").click()
    reviewer.get_by_label("审核结果").select_option(label="通过")
    shot(reviewer, "review")
    reviewer.get_by_role("button", name="提交审核").click()
    expect(reviewer.locator("#review-queue")).to_contain_text("已通过")
    reviewer.context.close()

    page.goto(site.url + "/me/")
    public = page.locator(f"#hours-{year} .progress-line[data-label='公需科目']")
    expect(public.locator(".earned")).to_have_text(str(public_after))
    expect(public).to_contain_text("已达标")
    shot(page, "dashboard")
    page.goto(site.url + "/me/certificates")
    with page.expect_download() as download:
        page.locator(f"tr[data-year='{year}']").get_by_role("link", name="下载证书").click()
    pdf = tmp_path / "certificate.pdf"
    download.value.save_as(pdf)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    code = text.split("验证码：")[1].split()[0]
    page.goto(f"{site.url}/verify/{code}")
    expect(page.locator("#verify-result")).to_contain_text("证书有效")
    expect(page.locator("#verify-total")).to_have_text(str(total_after))
    shot(page, "verified")


def test_regulator_lowers_next_years_cap_and_the_learner_dashboard_of_next_year_shows_it(site, page, browser):
    """Issue 14: a regulator lowers a cap for next year, sees the preview, saves; a learner's dashboard for next
    year shows it (?year=, the dashboard of any year); this year is unchanged."""
    shot = Shots("rules-cap")
    this_year = clock.today().year
    next_year = this_year + 1
    yantai = db.session.execute(sa.select(Region).filter_by(code="370600")).scalar_one()
    learner = User(email="learner.yt@jidi.demo", name="孙烟台", role=Role.LEARNER, region_id=yantai.id)
    learner.set_password(DEMO_PASSWORD)
    db.session.add(learner)
    db.session.commit()
    # The preview counts every learner the rule reaches: this one and the demo's made-up Yantai learners.
    reached = db.session.scalar(sa.select(sa.func.count(User.id)).where(User.role == Role.LEARNER,
                                                                       User.region_id == yantai.id))

    page.goto(site.url + "/login")
    page.get_by_label("手机号或邮箱").fill("regulator.yantai@jidi.demo")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="地区规则").first.click()
    page.locator("#year-pick").fill(str(next_year))
    page.get_by_role("button", name="查看").click()
    cap_row = page.locator("tr[data-key='cap_competition_public']")
    expect(cap_row).to_contain_text("5")
    page.locator("#cap_competition_public").fill("3")
    shot(page, "edit")
    page.get_by_role("button", name="预览修改").click()
    preview = page.locator("#rules-preview")
    expect(preview).to_contain_text("技能竞赛、技术比武（公需科目）：5 → 3（降低）")
    expect(preview).to_contain_text(f"涉及 {reached:,} 名专业技术人员")
    shot(page, "preview")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".alert-success")).to_contain_text(f"已保存 {next_year} 年度的规则")
    expect(page.locator("tr[data-key='cap_competition_public'] input")).to_have_value("3")
    shot(page, "saved")
    page.context.close()

    # On a phone: a value changed after the preview is not saved unseen. 保存 refuses (409, the one error the
    # browser logs), nothing changes, and 保存 is offered again only after a new preview.
    phone = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    errors = []
    phone.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    phone.goto(site.url + "/login")
    phone.get_by_label("手机号或邮箱").fill("regulator.yantai@jidi.demo")
    phone.get_by_label("密码").fill(DEMO_PASSWORD)
    phone.get_by_role("button", name="登录").click()
    phone.goto(f"{site.url}/regulator/rules?year={next_year}")
    phone.locator("#cap_competition_public").fill("2")
    phone.get_by_role("button", name="预览修改").click()
    expect(phone.locator("#rules-preview")).to_contain_text("技能竞赛、技术比武（公需科目）：3 → 2（降低）")
    shot(phone, "phone-preview")
    phone.locator("#cap_competition_public").fill("1")
    phone.get_by_role("button", name="保存").click()
    expect(phone.locator(".alert-danger")).to_contain_text("预览之后又修改了数值")
    expect(phone.locator("#rules-save")).to_have_count(0)
    expect(phone.locator("tr[data-key='cap_competition_public'] td").nth(1)).to_contain_text("3")
    shot(phone, "phone-edited-after-preview")
    assert [e for e in errors if "409" not in e] == [] and len(errors) == 1
    phone.context.close()

    reader = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    reader.goto(site.url + "/login")
    reader.get_by_label("手机号或邮箱").fill("learner.yt@jidi.demo")
    reader.get_by_label("密码").fill(DEMO_PASSWORD)
    reader.get_by_role("button", name="登录").click()
    reader.goto(f"{site.url}/me/?year={next_year}")
    capped = reader.locator(f"#caps-{next_year} li[data-kind='competition'][data-category='public']")
    expect(capped).to_contain_text("3 学时")
    shot(reader, "dashboard-next-year")
    reader.goto(f"{site.url}/me/?year={this_year}")
    expect(reader.locator(f"#caps-{this_year} li[data-kind='competition'][data-category='public']")).to_contain_text(
        "5 学时")
    shot(reader, "dashboard-this-year")
    reader.context.close()
