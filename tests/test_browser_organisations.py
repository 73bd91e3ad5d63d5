"""Issue 17's journey in headless Chromium, from nothing but the site: a platform admin opens a city and its
regulator; the regulator sets up the city's health authority; an employer registers, is approved and adds a
reviewer; a learner names the employer and is confirmed; the learner's declared hours pass the employer's then
the sector's review (Henan's two steps, 5 working days each) and reach the dashboard; an institution applies to
be a base and is approved, and its admin signs in.

Every step is a page a person clicks and types in; the database is read only for the final checks. The
learner's and the employer's pages are taken at 390 px (a phone), the others on a desktop. Screenshots are kept
under artifacts/screenshots/organisations/.
"""

import re
import shutil
from datetime import date
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage
from playwright.sync_api import expect

from app import create_app
from extensions import db
from models import (
    BaseApplication,
    Declaration,
    DeclarationStatus,
    Employer,
    EmployerStatus,
    Employment,
    EmploymentStatus,
    HoursRecord,
    Role,
    TrainingBase,
    User,
)
from seeding.demo import seed_reference
from services import credit_codes, resident_ids, workdays
from services.infra import clock
from services.platform_admins import create_platform_admin
from tests.browser import LiveServer, Shots, fits, sign_in
from tests.conftest import _config

pytestmark = pytest.mark.browser

# A Tuesday in mid-2025, clear of holidays on both review steps (Dragon Boat ended on 2 June).
TODAY = date(2025, 6, 10)
PLATFORM = ("platform@jidi.demo", "平台管理员 周工", "platform-pass-1")
REGULATOR = ("regulator.luoyang@jidi.demo", "洛阳市人社局 陈科长", "regulator-pass-1")
OFFICER = ("health.luoyang@jidi.demo", "洛阳市卫健委 吴科员", "officer-pass-1")
EMPLOYER_NAME = "洛阳市第一人民医院"
EMPLOYER_ADMIN = ("hr@lyyy.demo", "人事科 郑主任", "employer-pass-1")
REVIEWER = ("review@lyyy.demo", "人事科 审核员 何", "reviewer-pass-1")
LEARNER = ("13800000417", "冯护士", "learner-pass-1")
INSTITUTION = "洛阳职业技术学院继续教育学院"
BASE_ADMIN = ("jxjy@lyzy.demo", "base-admin-pass-1")
LUOYANG = "河南省洛阳市"
DEGREE = "在职攻读护理学硕士学位"


def _credit_code(body17: str) -> str:
    return body17 + credit_codes.check_character(body17)


@pytest.fixture(scope="module")
def org_app(sqlite_template, tmp_path_factory):
    """A migrated database with reference data only (regions, Henan's rules, the holiday calendar) and one
    platform admin, the account nobody on the site can create; today is TODAY for the server and the test."""
    folder = tmp_path_factory.mktemp("organisations")
    shutil.copy(sqlite_template, folder / "jidi.sqlite3")
    patch = pytest.MonkeyPatch()
    patch.setattr(clock, "today", lambda: TODAY)
    app = create_app(_config(folder, f"sqlite:///{folder / 'jidi.sqlite3'}"))
    with app.app_context():
        seed_reference()
        create_platform_admin(*PLATFORM)
        db.session.remove()
        yield app
        db.session.remove()
        db.engine.dispose()
    patch.undo()


@pytest.fixture(scope="module")
def site(org_app):
    with LiveServer(org_app) as server:
        yield server



def _first_sign_in(page, site, login: str, password: str):
    """Sign in with a password someone else typed: the site asks for a new one first (issue 18)."""
    sign_in(page, site, login, password)
    expect(page.locator(".alert-warning").first).to_contain_text("首次登录请修改初始密码")
    page.get_by_label("当前密码").fill(password)
    page.get_by_label("新密码", exact=True).fill(password + "-own")
    page.get_by_label("确认新密码").fill(password + "-own")
    page.get_by_role("button", name="修改密码").click()
    expect(page.locator(".alert-success").first).to_contain_text("密码已修改")


def _cn(day: date) -> str:
    """A date as the pages write it (app.py's cn_date)."""
    return f"{day.year}年{day.month}月{day.day}日"


def _pdf(path, colour=(250, 240, 200)):
    PILImage.new("RGB", (400, 300), colour).save(path, "PDF")
    return path


def _opens_city_and_regulator(j):
    """1. The platform admin opens 洛阳市 under 河南省 and its regulator account."""
    site, shot = j.site, j.shot
    platform = j.actors.open()
    sign_in(platform, site, PLATFORM[0], PLATFORM[2])
    expect(platform.get_by_role("heading", level=1)).to_have_text("平台管理")
    platform.locator("#new-region summary").click()
    region_form = platform.locator("#new-region form")
    region_form.get_by_label("行政区划代码").fill("410300")
    region_form.get_by_label("名称").fill("洛阳市")
    region_form.get_by_label("级别").select_option(label="市")
    region_form.get_by_label("所属省（市级必选）").select_option(label="河南省（410000）")
    shot(platform, "platform-new-region")
    region_form.get_by_role("button", name="新建地区").click()
    expect(platform.locator("#regions")).to_contain_text(LUOYANG)
    platform.locator("#new-regulator summary").click()
    regulator_form = platform.locator("#new-regulator form")
    regulator_form.get_by_label("姓名").fill(REGULATOR[1])
    regulator_form.get_by_label("邮箱（登录用）").fill(REGULATOR[0])
    regulator_form.get_by_label("监管地区").select_option(label=f"{LUOYANG}（410300）")
    regulator_form.get_by_label("初始密码").fill(REGULATOR[2])
    regulator_form.get_by_role("button", name="新建监管账号").click()
    expect(platform.locator("#regulators")).to_contain_text(REGULATOR[0])
    shot(platform, "platform-regulator-made")
    j.platform = platform


def _regulator_sets_up_health_authority(j):
    """2. The regulator sets up the city's health authority with its first officer."""
    site, shot = j.site, j.shot
    regulator = j.actors.open()
    _first_sign_in(regulator, site, REGULATOR[0], REGULATOR[2])
    regulator.get_by_role("link", name="行业主管部门").last.click()
    authority_form = regulator.locator("#new-sector-authority")
    authority_form.get_by_label("地区").select_option(label=LUOYANG)
    authority_form.get_by_label("行业").select_option("卫生")
    authority_form.get_by_label("主管部门名称").fill("洛阳市卫生健康委员会")
    authority_form.get_by_label("姓名").fill(OFFICER[1])
    authority_form.get_by_label("邮箱（登录用）").fill(OFFICER[0])
    authority_form.get_by_label("初始密码").fill(OFFICER[2])
    shot(regulator, "regulator-new-sector-authority")
    authority_form.get_by_role("button", name="新建").click()
    expect(regulator.locator(".alert-success")).to_contain_text("已新建卫生行业主管部门：洛阳市卫生健康委员会")
    shot(regulator, "regulator-sector-authority-made")
    j.regulator = regulator


def _employer_registers_is_approved_adds_reviewer(j):
    """3. A hospital registers on a phone and waits; the regulator approves it; its admin adds a reviewer."""
    site, shot, regulator = j.site, j.shot, j.regulator
    employer = j.actors.open(phone=True)
    employer.goto(site.url + "/register/employer")
    employer.get_by_label("单位名称").fill(EMPLOYER_NAME)
    employer.get_by_label("统一社会信用代码").fill(_credit_code("12410300MB1234567"))
    employer.get_by_label("所在地区").select_option(label=LUOYANG)
    employer.get_by_label("行业").select_option("卫生")
    employer.get_by_label("联系人", exact=True).fill("郑主任")
    employer.get_by_label("联系电话").fill("0379-63891234")
    employer.get_by_label("管理员姓名").fill(EMPLOYER_ADMIN[1])
    employer.get_by_label("管理员登录名（手机号或邮箱）").fill(EMPLOYER_ADMIN[0])
    employer.get_by_label("密码", exact=True).fill(EMPLOYER_ADMIN[2])
    employer.get_by_label("确认密码").fill(EMPLOYER_ADMIN[2])
    fits(employer)
    shot(employer, "employer-registers")
    employer.get_by_role("button", name="提交注册").click()
    expect(employer.locator("#employer-status")).to_have_text("待审核")
    expect(employer.locator("#state")).to_contain_text("正在等待所在地人社部门审核")
    fits(employer)
    shot(employer, "employer-waits")

    regulator.get_by_role("link", name="用人单位").click()
    regulator.get_by_role("link", name=EMPLOYER_NAME).click()
    regulator.get_by_label("审核结果").select_option(label="通过")
    shot(regulator, "regulator-decides-employer")
    regulator.get_by_role("button", name="提交审核结果").click()
    expect(regulator.locator(".alert-success")).to_contain_text("已通过该单位的注册")

    # The admin signs out (the phone's menu), and in again: an employer admin's home is the employer's page.
    employer.get_by_role("button", name="菜单").click()
    expect(employer.locator("#mainnav.collapse.show")).to_be_visible()  # opened, not still sliding down
    employer.get_by_role("button", name="退出").click()
    expect(employer.locator(".alert-info")).to_contain_text("您已退出登录")
    sign_in(employer, site, EMPLOYER_ADMIN[0], EMPLOYER_ADMIN[2])
    expect(employer).to_have_url(site.url + "/employer/")
    expect(employer.locator("#employer-status")).to_have_text("已通过")
    shot(employer, "employer-approved")
    employer.get_by_role("link", name="审核人员").click()
    add = employer.locator("#add-reviewer")
    add.get_by_label("姓名").fill(REVIEWER[1])
    add.get_by_label("登录名（手机号或邮箱）").fill(REVIEWER[0])
    add.get_by_label("初始密码").fill(REVIEWER[2])
    add.get_by_label("确认密码").fill(REVIEWER[2])
    add.get_by_role("button", name="添加").click()
    expect(employer.locator("#reviewers")).to_contain_text(REVIEWER[1])
    fits(employer)
    shot(employer, "employer-reviewer-added")
    j.employer = employer


def _learner_names_employer_and_is_confirmed(j):
    """4. A nurse registers on a phone, names the hospital; the hospital confirms her."""
    site, shot, employer = j.site, j.shot, j.employer
    learner = j.actors.open(phone=True)
    learner.goto(site.url + "/register")
    learner.get_by_label("姓名").fill(LEARNER[1])
    first17 = "41030219900315002"
    learner.get_by_label("身份证号", exact=True).fill(first17 + resident_ids.check_character(first17))
    learner.get_by_label("手机号").fill(LEARNER[0])
    learner.get_by_label("密码", exact=True).fill(LEARNER[2])
    learner.get_by_label("确认密码").fill(LEARNER[2])
    learner.get_by_label("所在地区").select_option(label=LUOYANG)
    learner.get_by_label("工作单位").fill(EMPLOYER_NAME)
    learner.get_by_label("行业").select_option("卫生")
    learner.get_by_label("职称").select_option("中级")
    learner.get_by_label("我已阅读并同意").check()
    fits(learner)
    shot(learner, "learner-registers")
    learner.get_by_role("button", name="注册").click()
    expect(learner.get_by_role("heading", name="我的学习")).to_be_visible()
    learner.goto(site.url + "/me/declarations")
    expect(learner.locator("#employer-line")).to_contain_text("您的工作单位尚未确认")
    learner.locator("#employer-line").get_by_role("link", name="工作单位").click()
    learner.get_by_label("搜索工作单位").fill("第一人民医院")
    learner.locator("#employer-search").get_by_role("button", name="搜索").click()
    result = learner.locator("#employer-results li").filter(has_text=EMPLOYER_NAME)
    expect(result).to_have_count(1)
    fits(learner)
    shot(learner, "learner-finds-employer")
    result.get_by_role("button", name="这是我的单位").click()
    expect(learner.locator("#pending-claim")).to_contain_text(EMPLOYER_NAME)
    fits(learner)
    shot(learner, "learner-claim-pending")

    employer.get_by_role("link", name="待确认职工").click()
    claim = employer.locator("#claims .card").filter(has_text=LEARNER[1])
    fits(employer)
    shot(employer, "employer-claims")
    claim.get_by_role("button", name="确认是本单位职工").click()
    expect(employer.locator("#claims")).not_to_contain_text(LEARNER[1])

    learner.reload()
    expect(learner.locator("#current-employer")).to_contain_text(EMPLOYER_NAME)
    expect(learner.locator("#current-employer")).to_contain_text("已确认")
    shot(learner, "learner-confirmed")
    j.learner = learner


def _declared_hours_pass_the_employer(j):
    """5a. She declares 12 professional hours with a PDF; her employer's reviewer approves: the sector's turn."""
    site, shot, tmp_path, learner = j.site, j.shot, j.tmp_path, j.learner
    learner.goto(site.url + "/me/declarations")
    learner.get_by_role("link", name="申报学时").click()
    learner.get_by_label("类型").select_option(label="在职学历（学位）教育")
    learner.get_by_label("科目类别").select_option(label="专业科目")
    learner.get_by_label("名称").fill(DEGREE)
    learner.get_by_label("主办单位").fill("郑州大学")
    learner.get_by_label("日期").fill(TODAY.isoformat())
    learner.get_by_label("申报学时").fill("12")
    learner.get_by_label("证明材料").set_input_files(str(_pdf(tmp_path / "在读证明.pdf")))
    fits(learner)
    shot(learner, "learner-declares")
    learner.get_by_role("button", name="提交").click()
    expect(learner.locator("#declarations")).to_contain_text("待单位审核")
    fits(learner)
    shot(learner, "learner-declared")

    reviewer = j.actors.open()
    _first_sign_in(reviewer, site, REVIEWER[0], REVIEWER[2])
    reviewer.get_by_role("link", name=DEGREE).click()
    reviewer.get_by_label("审核结果").select_option(label="通过")
    shot(reviewer, "reviewer-reviews")
    reviewer.get_by_role("button", name="提交审核").click()
    expect(reviewer.locator("#review-queue")).to_contain_text("待行业主管部门审核")
    shot(reviewer, "reviewer-done")

    sector_due = workdays.add_working_days(TODAY, 5)
    assert sector_due == date(2025, 6, 17)
    learner.reload()
    row = learner.locator("#declarations tbody tr").filter(has_text=DEGREE)
    expect(row).to_contain_text("待行业主管部门审核")
    expect(row.locator(".review-step[data-step='2']")).to_contain_text(
        f"审核期限 {_cn(sector_due)}")
    fits(learner)
    shot(learner, "learner-awaits-sector")
    j.reviewer = reviewer
    j.sector_due = sector_due


def _sector_approves_and_hours_reach_dashboard(j):
    """5b. The health authority approves within its deadline; the hours reach the learner's dashboard."""
    site, shot, learner, sector_due = j.site, j.shot, j.learner, j.sector_due
    officer = j.actors.open()
    _first_sign_in(officer, site, OFFICER[0], OFFICER[2])
    shot(officer, "sector-queue")
    queue_row = officer.locator("#sector-queue tr").filter(has_text=DEGREE)
    expect(queue_row).to_contain_text(_cn(sector_due))
    queue_row.get_by_role("link", name=DEGREE).click()
    officer.get_by_label("审核结果").select_option(label="通过")
    shot(officer, "sector-reviews")
    officer.get_by_role("button", name="提交审核").click()
    expect(officer.locator(".alert-success")).to_contain_text("审核已完成")
    expect(officer.locator("#sector-queue")).to_contain_text("已通过")
    shot(officer, "sector-done")

    learner.goto(site.url + "/me/")
    professional = learner.locator(f"#hours-{TODAY.year} .progress-line[data-label='专业科目']")
    expect(professional.locator(".earned")).to_have_text("12")
    fits(learner)
    shot(learner, "learner-dashboard-hours")
    learner.goto(site.url + "/me/declarations")
    expect(learner.locator("#declarations tbody tr").filter(has_text=DEGREE)).to_contain_text("已通过")
    shot(learner, "learner-declaration-approved")
    j.officer = officer


def _college_applies_and_is_approved(j):
    """6. A college applies to be a city-level base; the regulator approves it; its admin signs in."""
    site, shot, tmp_path, regulator = j.site, j.shot, j.tmp_path, j.regulator
    college = j.actors.open()
    college.goto(site.url + "/apply/")
    college.get_by_label("申报地区").select_option(label=LUOYANG)
    college.get_by_label("申报基地类型").select_option(label="市级继续教育基地")
    college.get_by_label("申报单位名称").fill(INSTITUTION)
    college.get_by_label("统一社会信用代码").fill(_credit_code("12410300MB7654321"))
    college.get_by_label("地址").fill("洛阳市洛龙区学府街 1 号")
    college.get_by_label("培训范围").fill("面向卫生、教育行业专业技术人员的专业科目培训；收费按市物价部门核定标准。")
    college.get_by_label("师资").fill("专职教师 24 人，兼职教师 40 人，高级职称占 55%。")
    college.get_by_label("场地设施").fill("教室 12 间，实训中心 2 处，在线学习平台 1 个。")
    college.get_by_label("管理制度").fill("教学管理、学员管理、经费管理、考核评估与跟踪问效制度齐全。")
    college.get_by_label("联系人", exact=True).fill("林老师")
    college.get_by_label("联系人手机号").fill("13900000418")
    college.get_by_label("联系人邮箱").fill(BASE_ADMIN[0])
    college.get_by_label("基地管理员密码").fill(BASE_ADMIN[1])
    college.get_by_label("确认密码").fill(BASE_ADMIN[1])
    college.get_by_label("申报材料").set_input_files(str(_pdf(tmp_path / "申报书.pdf", (220, 230, 250))))
    shot(college, "college-applies")
    college.get_by_role("button", name="提交申报").click()
    follow = college.locator("#follow-link")
    expect(follow).to_be_visible()
    shot(college, "college-gets-link")
    follow.click()
    expect(college.locator("#application-status")).to_have_text("待审核")

    regulator.get_by_role("link", name="基地申报").click()
    regulator.get_by_role("link", name=INSTITUTION).click()
    for box in regulator.locator("#decision-form input[name='checklist']").all():
        box.check()
    shot(regulator, "regulator-checklist")
    regulator.get_by_role("button", name="批准并开通基地").click()
    expect(regulator.locator(".alert-success")).to_contain_text(f"已批准，基地“{INSTITUTION}”及其管理员账号已开通")
    shot(regulator, "regulator-approved-base")

    college.reload()
    expect(college.locator("#application-status")).to_have_text("已批准")
    shot(college, "college-sees-approval")
    base_admin = j.actors.open()
    sign_in(base_admin, site, BASE_ADMIN[0], BASE_ADMIN[1])
    expect(base_admin).to_have_url(re.compile(r"/manage/bases/\d+$"))  # /manage/ opens an admin's only base
    expect(base_admin.get_by_role("heading", level=1)).to_contain_text(INSTITUTION)
    shot(base_admin, "base-admin-home")
    j.college = college
    j.base_admin = base_admin


def _database_agrees(j):
    """What the pages said is what the database holds."""
    shot, sector_due = j.shot, j.sector_due
    db.session.remove()
    hospital = db.session.execute(sa.select(Employer).filter_by(name=EMPLOYER_NAME)).scalar_one()
    assert hospital.status == EmployerStatus.APPROVED and hospital.region.code == "410300"
    nurse = db.session.execute(sa.select(User).filter_by(phone=LEARNER[0])).scalar_one()
    assert nurse.employer_id == hospital.id
    assert db.session.scalars(sa.select(Employment.status).filter_by(learner_id=nurse.id)).all() == [
        EmploymentStatus.CONFIRMED]
    declaration = db.session.execute(sa.select(Declaration).filter_by(learner_id=nurse.id)).scalar_one()
    assert declaration.status == DeclarationStatus.APPROVED and declaration.hours_credited == 12
    assert declaration.sector_due_on == sector_due and declaration.employer_id == hospital.id
    assert declaration.sector_authority.name == "洛阳市卫生健康委员会"
    booked = sa.select(sa.func.sum(HoursRecord.hours)).filter_by(learner_id=nurse.id, year=TODAY.year)
    assert db.session.scalar(booked) == 12
    base = db.session.execute(sa.select(TrainingBase).filter_by(name=INSTITUTION)).scalar_one()
    application = db.session.execute(sa.select(BaseApplication).filter_by(name=INSTITUTION)).scalar_one()
    assert application.base_id == base.id and base.region.code == "410300"
    admin = db.session.execute(sa.select(User).filter_by(email=BASE_ADMIN[0])).scalar_one()
    assert admin.role == Role.BASE_ADMIN
    assert all(path.stat().st_size > 5_000 for path in shot.taken)


def test_organisations_join_and_hours_pass_two_reviews(org_app, site, actors, tmp_path):
    j = SimpleNamespace(site=site, actors=actors, tmp_path=tmp_path, shot=Shots("organisations"))
    _opens_city_and_regulator(j)
    _regulator_sets_up_health_authority(j)
    _employer_registers_is_approved_adds_reviewer(j)
    _learner_names_employer_and_is_confirmed(j)
    _declared_hours_pass_the_employer(j)
    _sector_approves_and_hours_reach_dashboard(j)
    _college_applies_and_is_approved(j)
    _database_agrees(j)
