"""The regulator's area: scope by region, the role gate, designating bases, status changes and what an exited
base may still do, class plans in their filing window, targets, compliance charts and the XLSX reports."""

import re
from datetime import date, datetime, timedelta
from io import BytesIO
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    AuditLog,
    BaseMembership,
    BaseStatus,
    BaseStatusChange,
    BaseType,
    ClassPlan,
    Course,
    CourseStatus,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    Evaluation,
    EvaluationResult,
    EvaluationStatus,
    Mode,
    Outcome,
    PlanStatus,
    ProjectType,
    Role,
    Target,
    TrainingBase,
    User,
)
from services import enrollment, evaluation, registry
from services.errors import DomainError
from services.exports import CATALOG_COLUMNS
from services.infra import clock
from tests.conftest import after_the_year, login

FULL_DISCLOSURE = {key: "已公开" for key in ("scope", "content", "fee_items", "training_plan", "staff", "rules")}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- helpers and fixtures -----------------------------------------------------------------------------------

def signed_in(app, user):
    """A client of its own, signed in as ``user`` (a signed-in client cannot switch users)."""
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def flashed(html: str, category: str = "danger") -> list[str]:
    return re.findall(rf'<div class="alert alert-{category}" role="alert">(.*?)</div>', html, re.S)


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def reload(model, object_id):
    db.session.expire_all()
    return db.session.get(model, object_id)


def complete(course, *learners, status=EnrollmentStatus.COMPLETED) -> None:
    for learner in learners:
        db.session.add(Enrollment(course_id=course.id, learner_id=learner.id, status=status,
                                  source=EnrollmentSource.IMPORT,
                                  completed_on=course.end_date if status == EnrollmentStatus.COMPLETED else None))
    db.session.commit()


def read_sheet(response):
    assert response.status_code == 200
    assert response.mimetype == XLSX
    return openpyxl.load_workbook(BytesIO(response.data)).active


def blank(value):
    return "" if value is None else value


def body_rows(sheet) -> list[tuple]:
    """The rows of a one-header-row official table: under the title, the 填报单位 line and the header, above the
    line of 填表人 and 填报日期."""
    return list(sheet.iter_rows(min_row=4, max_row=sheet.max_row - 1, values_only=True))


@pytest.fixture
def far_city(make_region):
    """A city of another province."""
    return make_region("广州市", parent=make_region("广东省"))


@pytest.fixture
def learner(make_user):
    return make_user(Role.LEARNER)


@pytest.fixture
def world(admin_and_base, make_course, regulators, city, learner, monkeypatch):
    """A base of the city with a course awaiting its class plan's approval, a completion this year and the
    city's draft evaluation of this year, as if run in January after it (a draft run while its year runs
    is a trial that cannot be confirmed): tests that confirm it also set today after the year
    (``after_the_year``)."""
    admin, base = admin_and_base
    today = clock.today()
    course = make_course(base, title="待批办班课程", plan_status=PlanStatus.PENDING.value,
                         start_date=today + timedelta(days=20))
    plan = ClassPlan(course_id=course.id, start_date=course.start_date, end_date=course.end_date, place=course.place,
                     teachers="张教授", syllabus="第一天：理论", expected_trainees=40, filed_by_id=admin.id,
                     status=PlanStatus.PENDING)
    db.session.add(plan)
    complete(make_course(base, start_date=today, end_date=today), learner)
    with monkeypatch.context() as later:
        later.setattr(evaluation, "utcnow", lambda: datetime(today.year + 1, 1, 15, 2, 0))
        found = evaluation.run(regulators["city"], today.year, city.id)
    (result,) = found.results
    return {"admin": admin, "base": base, "course": course, "plan": plan, "evaluation": found, "result": result}


def snapshot(world) -> dict:
    db.session.expire_all()
    return {
        "base": db.session.get(TrainingBase, world["base"].id).status,
        "plan": db.session.get(ClassPlan, world["plan"].id).status,
        "course": db.session.get(Course, world["course"].id).plan_status,
        "evaluation": db.session.get(Evaluation, world["evaluation"].id).status,
        "final": db.session.get(EvaluationResult, world["result"].id).final,
        "changes": count(BaseStatusChange),
    }


# Every regulator URL that names an object of a region; {…} filled from the ``world`` fixture.
SCOPED = [
    ("GET", "/regulator/bases/{base}", None),
    ("POST", "/regulator/bases/{base}/status", {"status": "rectifying", "reason": "越权整改"}),
    ("POST", "/regulator/plans/{plan}/decide", {"decision": "approve", "reason": ""}),
    ("GET", "/regulator/evaluations/{evaluation}", None),
    ("POST", "/regulator/evaluations/results/{result}/override", {"outcome": "exit", "reason": "越权改判"}),
    ("POST", "/regulator/evaluations/{evaluation}/confirm", {"confirmed": "y"}),
    ("GET", "/regulator/evaluations/{evaluation}.xlsx", None),
]
UNSCOPED = [
    ("GET", "/regulator/", None),
    ("GET", "/regulator/bases/new", None),
    ("POST", "/regulator/bases/new", {"name": "越权基地", "type": "city", "region": "1", "admin_emails": "x@y.cn"}),
    ("GET", "/regulator/targets", None),
    ("POST", "/regulator/targets", {"base_type": "city", "year": "2026", "min_trainees": "1", "min_projects": "1"}),
    ("POST", "/regulator/evaluations", {"year": "2026", "region": "1"}),
    ("GET", "/regulator/exports/catalog.xlsx", None),
    ("GET", "/regulator/exports/knowledge-update.xlsx", None),
]


def url_id(case):
    return f"{case[0]} {case[1]}"


def fill(template: str, world) -> str:
    return template.format(base=world["base"].id, plan=world["plan"].id, evaluation=world["evaluation"].id,
                           result=world["result"].id)


def send(client, method, url, data):
    return client.get(url) if method == "GET" else client.post(url, data=data)


# A class plan's start (tests/test_class_plans.py) and the plan form filed for it.
START = date(2031, 3, 10)


def plan_form(start=START) -> dict:
    return {"start_date": start.isoformat(), "end_date": (start + timedelta(days=1)).isoformat(),
            "place": "培训楼 101", "teachers": "张教授（主任医师）", "syllabus": "第一天：理论\n第二天：实操",
            "expected_trainees": "40"}


# --- scope: a city, the province above it, another city ---------------------------------------------------

@pytest.mark.parametrize("case", SCOPED, ids=url_id)
def test_regulator_of_another_city_gets_404_and_changes_nothing(app, world, regulators, case):
    method, template, data = case
    before = snapshot(world)

    response = send(signed_in(app, regulators["other"]), method, fill(template, world), data)

    assert response.status_code == 404
    assert snapshot(world) == before


@pytest.mark.parametrize("who", ["city", "province"])
@pytest.mark.parametrize("case", SCOPED, ids=url_id)
def test_regulators_of_the_city_and_its_province_reach_the_city_base(app, world, regulators, case, who):
    method, template, data = case

    response = send(signed_in(app, regulators[who]), method, fill(template, world), data)

    assert response.status_code in (200, 302)


def test_province_regulator_acts_on_a_city_base(app, world, regulators):
    client = signed_in(app, regulators["province"])

    client.post(f"/regulator/bases/{world['base'].id}/status", data={"status": "rectifying", "reason": "抽查不合格"})
    client.post(f"/regulator/plans/{world['plan'].id}/decide", data={"decision": "approve", "reason": ""})

    assert reload(TrainingBase, world["base"].id).status == BaseStatus.RECTIFYING
    assert reload(ClassPlan, world["plan"].id).decided_by_id == regulators["province"].id


def test_overview_lists_only_the_bases_and_plans_in_scope(app, world, regulators, make_base, other_city, far_city):
    near = make_base(name="绵阳某基地", region_id=other_city.id)
    far = make_base(name="广州某基地", region_id=far_city.id)
    pages = {who: signed_in(app, user).get("/regulator/").get_data(as_text=True) for who, user in regulators.items()}

    assert world["base"].name in pages["city"] and world["course"].title in pages["city"]
    assert near.name not in pages["city"]
    assert world["base"].name in pages["province"] and near.name in pages["province"]
    assert world["course"].title in pages["province"]
    assert near.name in pages["other"]
    assert world["base"].name not in pages["other"] and world["course"].title not in pages["other"]
    assert all(far.name not in page for page in pages.values())


def test_catalog_export_holds_only_the_courses_in_scope(app, regulators, make_base, make_course, city, other_city,
                                                        far_city):
    year = 2030
    start = date(year, 5, 10)
    titles = {}
    for key, region in (("city", city), ("other", other_city), ("far", far_city)):
        base = make_base(region_id=region.id)
        titles[key] = make_course(base, title=f"{region.name}的课程", start_date=start).title

    def exported(who):
        sheet = read_sheet(signed_in(app, regulators[who]).get(f"/regulator/exports/catalog.xlsx?year={year}"))
        return {row[2] for row in body_rows(sheet)}

    assert exported("city") == {titles["city"]}
    assert exported("other") == {titles["other"]}
    assert exported("province") == {titles["city"], titles["other"]}


def test_knowledge_update_export_holds_only_the_bases_in_scope(app, regulators, make_base, make_course, city,
                                                               other_city, learner):
    near, far = make_base(region_id=city.id), make_base(region_id=other_city.id)
    for base in (near, far):
        complete(make_course(base, start_date=date(2030, 6, 1), end_date=date(2030, 6, 2)), learner)

    sheet = read_sheet(signed_in(app, regulators["city"]).get("/regulator/exports/knowledge-update.xlsx?year=2030"))

    # A block of every field per base of the region, named in its first row (the name merged over the block).
    assert [row[0] for row in sheet.iter_rows(min_row=5, values_only=True) if row[0]][:-1] == [near.name]


# --- the role gate -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", SCOPED + UNSCOPED, ids=url_id)
def test_anonymous_visitor_is_sent_to_sign_in(client, world, case):
    method, template, data = case
    url = fill(template, world)
    before = snapshot(world)

    response = send(client, method, url, data)

    assert response.status_code == 302
    location = urlsplit(response.location)
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [url]
    assert snapshot(world) == before


@pytest.mark.parametrize("role", [Role.LEARNER, Role.BASE_ADMIN, Role.REVIEWER])
@pytest.mark.parametrize("case", SCOPED + UNSCOPED, ids=url_id)
def test_other_roles_get_403(app, world, make_user, city, case, role):
    method, template, data = case
    user = world["admin"] if role == Role.BASE_ADMIN else make_user(role, region_id=city.id)
    before = snapshot(world)

    response = send(signed_in(app, user), method, fill(template, world), data)

    assert response.status_code == 403
    assert snapshot(world) == before


# --- designating a base ---------------------------------------------------------------------------------------

def designate_form(region, emails, name="成都市护理继续教育基地", type_="city"):
    return {"name": name, "type": type_, "region": str(region.id), "admin_emails": "\n".join(emails)}


def test_designating_a_base_adds_existing_admins_and_makes_accounts_for_new_emails(app, regulators, make_user,
                                                                                   city):
    existing = make_user(Role.BASE_ADMIN, email="old.admin@test.example")
    client = signed_in(app, regulators["city"])

    response = client.post("/regulator/bases/new", follow_redirects=True,
                           data=designate_form(city, ["old.admin@test.example", "New.Admin@Test.example"]))

    assert response.status_code == 200
    base = db.session.execute(sa.select(TrainingBase).filter_by(name="成都市护理继续教育基地")).scalar_one()
    assert (base.type, base.region_id, base.status) == (BaseType.CITY, city.id, BaseStatus.ACTIVE)
    new = db.session.execute(sa.select(User).filter_by(email="new.admin@test.example")).scalar_one()
    assert new.role == Role.BASE_ADMIN
    members = set(db.session.scalars(sa.select(BaseMembership.user_id).where(BaseMembership.base_id == base.id)))
    assert members == {existing.id, new.id}
    (designation,) = db.session.scalars(sa.select(BaseStatusChange).where(BaseStatusChange.base_id == base.id))
    assert (designation.from_status, designation.to_status, designation.actor_id) == (
        None, BaseStatus.ACTIVE, regulators["city"].id)
    # The one-time password is shown once, for the new account only, and it signs in.
    warnings = flashed(response.get_data(as_text=True), "warning")
    assert len(warnings) == 1 and "new.admin@test.example" in warnings[0]
    password = re.search(r"初始密码：([A-Za-z0-9_-]+)（", warnings[0]).group(1)
    assert app.test_client().post("/login", data={"login": "new.admin@test.example",
                                                  "password": password}).status_code == 302
    assert "初始密码" not in client.get(f"/regulator/bases/{base.id}").get_data(as_text=True)


def test_an_unknown_base_type_from_a_direct_call_is_refused_beside_the_field(app, regulators, city):
    with pytest.raises(DomainError) as refused:
        registry.designate_base(regulators["city"], {"name": "新基地", "type": "bogus", "region_id": city.id,
                                                     "admin_emails": ["a@test.example"]})
    assert (refused.value.field, refused.value.message) == ("type", "请选择列出的基地类型")
    assert count(TrainingBase) == 0


def test_learners_email_cannot_be_made_a_base_admin(app, regulators, learner, city):
    response = signed_in(app, regulators["city"]).post("/regulator/bases/new",
                                                       data=designate_form(city, [learner.email]))

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "已是其他角色的账号" in html
    assert 'name="admin_emails"' in html and "is-invalid" in html
    assert count(TrainingBase) == 0
    assert reload(User, learner.id).role == Role.LEARNER


def test_duplicate_base_name_is_refused(app, regulators, make_base, city):
    make_base(name="成都市护理继续教育基地")

    response = signed_in(app, regulators["city"]).post("/regulator/bases/new",
                                                       data=designate_form(city, ["a@test.example"]))

    assert response.status_code == 200
    assert "已有同名基地" in response.get_data(as_text=True)
    assert count(TrainingBase) == 1
    assert count(User, User.email == "a@test.example") == 0


def test_designating_in_a_region_outside_scope_is_404(app, regulators, other_city):
    response = signed_in(app, regulators["city"]).post("/regulator/bases/new",
                                                       data=designate_form(other_city, ["a@test.example"]))

    assert response.status_code == 404
    assert count(TrainingBase) == 0


def test_province_regulator_designates_a_provincial_base_in_a_city(app, regulators, city):
    client = signed_in(app, regulators["province"])

    response = client.post("/regulator/bases/new", data=designate_form(city, ["p@test.example"],
                                                                       type_="provincial"))

    assert response.status_code == 302
    base = db.session.execute(sa.select(TrainingBase)).scalar_one()
    assert (base.type, base.region_id) == (BaseType.PROVINCIAL, city.id)


# --- status changes ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reason", ["", "   "])
def test_status_change_without_a_reason_is_refused_in_chinese(app, world, regulators, reason):
    base = world["base"]

    response = signed_in(app, regulators["city"]).post(f"/regulator/bases/{base.id}/status",
                                                       data={"status": "exited", "reason": reason})

    assert response.status_code == 400
    assert "请填写变更原因" in response.get_data(as_text=True)
    assert reload(TrainingBase, base.id).status == BaseStatus.ACTIVE
    assert count(BaseStatusChange) == 0


def test_status_change_is_kept_with_who_when_and_why(app, world, regulators):
    base = world["base"]
    client = signed_in(app, regulators["city"])

    response = client.post(f"/regulator/bases/{base.id}/status",
                           data={"status": "rectifying", "reason": "信息公开不全，限期整改"})

    assert response.status_code == 302
    (change,) = db.session.scalars(sa.select(BaseStatusChange))
    assert (change.base_id, change.from_status, change.to_status) == (base.id, BaseStatus.ACTIVE,
                                                                      BaseStatus.RECTIFYING)
    assert (change.actor_id, change.reason, change.evaluation_id) == (regulators["city"].id, "信息公开不全，限期整改",
                                                                      None)
    assert change.at is not None
    page = client.get(f"/regulator/bases/{base.id}").get_data(as_text=True)
    history = re.search(r'<table class="table table-sm" id="status-history">.*?</table>', page, re.S).group(0)
    assert "信息公开不全，限期整改" in history and regulators["city"].name in history


def test_setting_the_same_status_again_is_refused(app, world, regulators):
    response = signed_in(app, regulators["city"]).post(f"/regulator/bases/{world['base'].id}/status",
                                                       data={"status": "active", "reason": "重复"})

    assert response.status_code == 400
    assert "基地当前已是" in response.get_data(as_text=True)
    assert count(BaseStatusChange) == 0


@pytest.fixture
def exited_world(app, world, regulators, make_course, make_base, learner, make_user, monkeypatch):
    """The world's base, kept by a confirmed evaluation of this year, then exited by the regulator; it has a
    future course with an enrollment and a draft course."""
    base = world["base"]
    db.session.execute(sa.update(TrainingBase).where(TrainingBase.id == base.id).values(**FULL_DISCLOSURE))
    db.session.commit()
    year = clock.today().year
    with monkeypatch.context() as later:
        after_the_year(later, year)
        found = evaluation.run(regulators["city"], year, base.region_id)
        assert found.results[0].proposed == Outcome.KEEP
        evaluation.confirm(regulators["city"], found.id)
    future = make_course(base, title="退出前发布的课程", start_date=clock.today() + timedelta(days=15))
    enrolled = make_user(Role.LEARNER)
    complete(future, enrolled, status=EnrollmentStatus.CONFIRMED)
    draft = make_course(base, title="草稿课程", status=CourseStatus.DRAFT)
    listed = app.test_client().get(f"/list/{year}").get_data(as_text=True)
    assert base.name in listed
    response = signed_in(app, regulators["city"]).post(
        f"/regulator/bases/{base.id}/status", data={"status": "exited", "reason": "违规收取培训费，撤销基地资格",
                                               "confirmed": "y"})
    assert response.status_code == 302
    return {**world, "future": future, "draft": draft, "year": year}


def test_exited_base_leaves_the_directory_and_the_published_list(client, exited_world):
    base = exited_world["base"]

    assert base.name not in client.get("/bases").get_data(as_text=True)
    assert base.name not in client.get(f"/list/{exited_world['year']}").get_data(as_text=True)
    assert client.get(f"/bases/{base.id}").status_code == 404
    assert client.get(f"/courses/{exited_world['future'].id}").status_code == 404
    assert exited_world["future"].title not in client.get("/courses").get_data(as_text=True)


def test_exited_base_takes_no_new_enrollments_but_keeps_its_records(app, exited_world, learner):
    future = exited_world["future"]
    before = count(Enrollment)

    signed_in(app, learner).post(f"/me/courses/{future.id}/enroll")

    assert count(Enrollment) == before
    assert count(Enrollment, Enrollment.learner_id == learner.id, Enrollment.course_id == future.id) == 0
    with pytest.raises(DomainError, match="退出"):
        enrollment.enroll(learner, future.id)
    # Records stay: enrollments, completions, the evaluation and the status history.
    assert count(Enrollment, Enrollment.course_id == future.id) == 1
    assert count(Enrollment, Enrollment.status == EnrollmentStatus.COMPLETED) == 1
    assert [c.to_status for c in registry.history(reload(TrainingBase, exited_world["base"].id))][0] == (
        BaseStatus.EXITED)


def test_exited_base_admin_can_read_but_publish_nothing(app, exited_world):
    base, draft = exited_world["base"], exited_world["draft"]
    client = signed_in(app, exited_world["admin"])
    courses = count(Course)

    assert client.get(f"/manage/bases/{base.id}").status_code == 200
    assert client.get(f"/manage/bases/{base.id}/compliance").status_code == 200
    created = client.post(f"/manage/bases/{base.id}/courses/new", data={
        "title": "退出后的新课程", "category": "public", "field": "信息", "hours": "8", "start_date": "2030-05-10",
        "end_date": "2030-05-11", "mode": "self_paced", "place": "", "audience": "全体", "capacity": "", "fee": "0",
        "contact_person": "某人", "contact_phone": "13800000000"})
    published = client.post(f"/manage/bases/{base.id}/courses/{draft.id}/status", data={"status": "published"},
                            follow_redirects=True)

    assert any("退出" in m for m in flashed(created.get_data(as_text=True)))
    assert any("退出" in m for m in flashed(published.get_data(as_text=True)))
    assert count(Course) == courses
    assert reload(Course, draft.id).status == CourseStatus.DRAFT


def test_exited_base_admin_cannot_file_a_class_plan(app, exited_world, make_course):
    base = exited_world["base"]
    course = make_course(base, title="退出前建的面授课程", plan_status=None,
                         start_date=clock.today() + timedelta(days=10))

    response = signed_in(app, exited_world["admin"]).post(
        f"/manage/bases/{base.id}/courses/{course.id}/plan", data=plan_form(course.start_date))

    assert count(ClassPlan, ClassPlan.course_id == course.id) == 0
    assert reload(Course, course.id).plan_status is None
    assert any("退出" in m for m in flashed(response.get_data(as_text=True)))


# --- targets --------------------------------------------------------------------------------------------------------

def test_city_target_set_on_the_targets_page_is_used_by_the_evaluation(app, regulators, make_base, make_course,
                                                                       make_user, city, other_city):
    year = clock.today().year
    client = signed_in(app, regulators["city"])

    # What the preview's confirm form posts (the city had no target of its own: nothing seen).
    response = client.post("/regulator/targets", data={"base_type": "city", "year": str(year),
                                                       "min_trainees": "5", "min_projects": "2", "action": "save",
                                                       "seen_trainees": "", "seen_projects": ""})

    assert response.status_code == 302
    target = db.session.execute(sa.select(Target)).scalar_one()
    assert (target.base_type, target.year, target.region_id, target.min_trainees, target.min_projects,
            target.set_by_id) == (BaseType.CITY, year, city.id, 5, 2, regulators["city"].id)
    page = client.get("/regulator/targets").get_data(as_text=True)
    row = re.search(r"<td>市级继续教育基地</td><td>(\d+)</td><td>(\d+)</td>", page)
    assert row.groups() == ("5", "2")
    base = make_base(**FULL_DISCLOSURE)
    elsewhere = make_base(region_id=other_city.id, **FULL_DISCLOSURE)
    for b in (base, elsewhere):
        course = make_course(b, start_date=clock.today(), end_date=clock.today())
        complete(course, *[make_user() for _ in range(3)])
    results = {r.base_id: r for r in evaluation.compute(year, city.parent_id)}
    assert (results[base.id].target_trainees, results[base.id].target_projects) == (5, 2)
    assert results[base.id].missed_target and results[base.id].proposed != Outcome.KEEP
    assert results[elsewhere.id].target_trainees is None  # another city's bases: not this city's target
    assert results[elsewhere.id].proposed == Outcome.KEEP


def test_negative_target_is_refused(app, regulators):
    response = signed_in(app, regulators["city"]).post(
        "/regulator/targets", data={"base_type": "city", "year": "2030", "min_trainees": "-1", "min_projects": "2"})

    assert response.status_code == 400
    assert "不能为负数" in response.get_data(as_text=True)
    assert count(Target) == 0


# --- compliance --------------------------------------------------------------------------------------------------

@pytest.fixture
def base_with_three_trainees(admin_and_base, make_course, make_user):
    """The base has 3 trainees and 1 project so far this year (a course that ended today)."""
    base = admin_and_base[1]
    course = make_course(base, start_date=clock.today(), end_date=clock.today())
    complete(course, *[make_user() for _ in range(3)])
    return base


def set_city_target(base, trainees, projects):
    db.session.add(Target(base_type=BaseType.CITY, year=clock.today().year, region_id=base.region_id,
                          min_trainees=trainees, min_projects=projects))
    db.session.commit()


def chart(html: str, key: str) -> str:
    return re.search(rf'<svg id="chart-{key}".*?</svg>', html, re.S).group(0)


def compliance_pages(app, admin_and_base, regulators):
    base = admin_and_base[1]
    return [
        signed_in(app, admin_and_base[0]).get(f"/manage/bases/{base.id}/compliance"),
        signed_in(app, regulators["city"]).get(f"/regulator/bases/{base.id}"),
    ]


def test_compliance_pages_draw_the_months_as_svg_bars_and_warn_when_projected_short(
        app, admin_and_base, regulators, base_with_three_trainees):
    set_city_target(base_with_three_trainees, 1000, 50)

    for response in compliance_pages(app, admin_and_base, regulators):
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        trainees = chart(html, "trainees")
        assert trainees.count('class="bar"') == clock.today().month
        assert 'class="target"' in trainees and "目标 1000" in trainees
        assert 'data-figure="trainees">3<' in html
        warnings = re.findall(r'compliance-warning">(.*?)</div>', html)
        assert len(warnings) == 2
        assert "低于目标 1000 人" in warnings[0] and "低于目标 50 个" in warnings[1]
        assert "<script" not in trainees


def test_compliance_pages_do_not_warn_when_on_track(app, admin_and_base, regulators, base_with_three_trainees):
    set_city_target(base_with_three_trainees, 3, 1)

    for response in compliance_pages(app, admin_and_base, regulators):
        html = response.get_data(as_text=True)
        assert "<svg" in html
        assert "compliance-warning" not in html


# --- the XLSX reports ----------------------------------------------------------------------------------------------

FORMULA_TITLES = ['=HYPERLINK("x")', "+1", "-2", "@cmd"]


def test_catalog_export_has_the_official_columns_and_the_years_published_courses(app, regulators, admin_and_base,
                                                                                  make_course):
    base = admin_and_base[1]
    start = date(2030, 5, 10)
    shown = make_course(base, title="急危重症护理新进展", start_date=start, hours=16)
    make_course(base, title="草稿", start_date=start, status=CourseStatus.DRAFT)
    make_course(base, title="已取消", start_date=start, status=CourseStatus.CANCELLED)
    make_course(base, title="下一年度", start_date=date(2031, 1, 5))
    make_course(base, title="只在本市", start_date=start + timedelta(days=1), open_to_city=False, mode=Mode.SELF_PACED,
                place="线上")

    sheet = read_sheet(signed_in(app, regulators["city"]).get("/regulator/exports/catalog.xlsx?year=2030"))

    assert "2030" in sheet["A1"].value
    assert [c.value for c in sheet[3]] == CATALOG_COLUMNS  # under the title and the 填报单位（盖章） line
    rows = body_rows(sheet)
    assert rows[0] == (1, base.name, shown.title, 16, "2030.05.10-2030.05.11", "培训楼 101", "专业技术人员",
                       "张老师 028-61234567", "是")
    assert [(r[0], r[2], r[8]) for r in rows] == [(1, "急危重症护理新进展", "是"), (2, "只在本市", "否")]


def test_exported_text_never_becomes_a_formula(app, regulators, admin_and_base, make_course):
    base = admin_and_base[1]
    for index, title in enumerate(FORMULA_TITLES):
        make_course(base, title=title, start_date=date(2030, 5, 10) + timedelta(days=index))

    sheet = read_sheet(signed_in(app, regulators["city"]).get("/regulator/exports/catalog.xlsx?year=2030"))

    cells = [row[2] for row in sheet.iter_rows(min_row=4, max_row=sheet.max_row - 1)]
    assert [c.value for c in cells] == FORMULA_TITLES  # shown as typed, no apostrophe in the text
    assert all(c.data_type == "s" and c.quotePrefix for c in cells)


def test_knowledge_update_export_counts_distinct_learners_per_field_and_kind(app, regulators, admin_and_base,
                                                                             make_course, make_user):
    base = admin_and_base[1]
    ended = {"start_date": date(2030, 6, 1), "end_date": date(2030, 6, 2)}
    first, second, third, waiting = (make_user() for _ in range(4))
    urgent = make_course(base, field="信息", project_type=ProjectType.URGENT_TALENT, **ended)
    complete(urgent, first, second)
    complete(urgent, waiting, status=EnrollmentStatus.CONFIRMED)  # not completed: not counted
    complete(make_course(base, field="信息", project_type=ProjectType.URGENT_TALENT, **ended), first)
    complete(make_course(base, field="卫生", project_type=ProjectType.JOB_TRAINING, **ended), third)
    complete(make_course(base, field="卫生", project_type=ProjectType.JOB_TRAINING, start_date=date(2029, 6, 1),
                         end_date=date(2029, 6, 2)), second)  # another year
    make_course(base, field="信息", project_type=ProjectType.JOB_TRAINING, capacity=30, start_date=date(2031, 3, 1))
    make_course(base, field="信息", project_type=ProjectType.JOB_TRAINING, capacity=99, start_date=date(2031, 4, 1),
                status=CourseStatus.CANCELLED)

    sheet = read_sheet(signed_in(app, regulators["city"]).get("/regulator/exports/knowledge-update.xlsx?year=2030"))

    assert "2030" in sheet["A1"].value
    assert [blank(c.value) for c in sheet[3]][:5] == ["单位名称", "具体推进实施部门、机构", "专项经费（万元）", "领域",
                                                      "今年任务完成情况"]
    assert "明年计划" in [c.value for c in sheet[3]]
    kinds = ["急需紧缺人才培养培训项目（人数）", "岗位培训项目（人数）", "出境（国）培训（人数）"]
    assert [blank(c.value) for c in sheet[4]][4:10] == kinds + kinds
    # Every field of the form, zeros where nobody was trained (tests/test_documents.py checks the layout).
    rows = {row[3]: row[4:10] for row in sheet.iter_rows(min_row=5, max_row=sheet.max_row - 1, values_only=True)}
    assert len(rows) == 27
    assert rows["信息"] == (2, 0, 0, 0, 30, 0)
    assert rows["卫生"] == (0, 1, 0, 0, 0, 0)
    assert sum(sum(counts) for counts in rows.values()) == 33


def test_base_name_that_looks_like_a_formula_is_neutralised_in_the_knowledge_update_export(
        app, regulators, make_base, make_course, learner):
    base = make_base(name="@SUM(A1:A9)")
    complete(make_course(base, start_date=date(2030, 6, 1), end_date=date(2030, 6, 2)), learner)

    sheet = read_sheet(signed_in(app, regulators["city"]).get("/regulator/exports/knowledge-update.xlsx?year=2030"))

    cell = sheet.cell(row=5, column=1)
    assert cell.value == "@SUM(A1:A9)" and cell.data_type == "s" and cell.quotePrefix


def test_exports_are_audited(app, regulators):
    client = signed_in(app, regulators["city"])
    client.get("/regulator/exports/catalog.xlsx?year=2030")
    client.get("/regulator/exports/knowledge-update.xlsx?year=2030")

    actions = set(db.session.scalars(sa.select(AuditLog.action).where(AuditLog.actor_id == regulators["city"].id)))
    assert {"export.catalog", "export.knowledge_update"} <= actions


# --- the evaluation through the pages ------------------------------------------------------------------------------

def test_override_without_a_reason_is_refused_on_the_page(app, world, regulators):
    client = signed_in(app, regulators["city"])
    url = f"/regulator/evaluations/{world['evaluation'].id}"

    response = client.post(f"/regulator/evaluations/results/{world['result'].id}/override",
                           data={"outcome": "exit", "reason": ""}, headers={"Referer": url}, follow_redirects=True)

    assert "调整评估结论必须填写理由" in flashed(response.get_data(as_text=True))
    assert reload(EvaluationResult, world["result"].id).final is None


def test_confirm_on_the_page_applies_the_outcome_and_locks_the_evaluation(app, world, regulators, monkeypatch):
    after_the_year(monkeypatch, clock.today().year)
    client = signed_in(app, regulators["city"])
    client.post(f"/regulator/evaluations/results/{world['result'].id}/override",
                data={"outcome": "rectify", "reason": "课程质量投诉较多"})

    client.post(f"/regulator/evaluations/{world['evaluation'].id}/confirm", data={"confirmed": "y"})
    again = client.post(f"/regulator/evaluations/{world['evaluation'].id}/confirm", data={"confirmed": "y"},
                        follow_redirects=True)

    assert reload(Evaluation, world["evaluation"].id).status == EvaluationStatus.CONFIRMED
    assert reload(TrainingBase, world["base"].id).status == BaseStatus.RECTIFYING
    assert any("已确认" in m for m in flashed(again.get_data(as_text=True)))
    (change,) = db.session.scalars(sa.select(BaseStatusChange))
    assert change.evaluation_id == world["evaluation"].id and "课程质量投诉较多" in change.reason
    assert "<form" not in re.search(r'<table class="[^"]*" id="evaluation-results">.*?</table>',
                                    again.get_data(as_text=True), re.S).group(0)


@pytest.fixture
def app(pg_app):
    """These tests again on PostgreSQL (temporary copy, not committed)."""
    return pg_app
