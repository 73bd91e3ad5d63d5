"""The course rules live once, in services.course_rules: judged there on plain values, and shown alike by the
site's course form (beside the field) and by the API (a field error of its 400). The form and the API only
read what they receive; neither holds a rule of its own, and the API builds no web form."""

import ast
import re
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from extensions import db
from models import Category, Course, HoursRecord, HoursSource, Mode
from models._common import with_defaults
from services import course_rules, text
from services.course_rules import CAPACITY, FEE, HOURS, MISSING
from services.errors import Invalid
from services.infra import clock
from tests.conftest import count_queries

ROOT = Path(__file__).resolve().parent.parent
START = date(2030, 5, 10)


def plain(**overrides) -> dict:
    """A face-to-face course's fields as the domain takes them (Python values)."""
    data = {
        "title": "急危重症护理新进展", "category": Category.PROFESSIONAL, "field": "卫生", "hours": 16,
        "start_date": START, "end_date": START + timedelta(days=1), "mode": Mode.FACE_TO_FACE, "place": "培训楼 101",
        "audience": "护理人员", "contact_person": "张老师", "contact_phone": "028-61234567",
    }
    data.update(overrides)
    return data


def stored(**values) -> Course:
    """An unsaved course with the column defaults a saved one would have."""
    return with_defaults(Course, **plain(), **values)


def refusal(data: dict, course: Course | None = None) -> dict:
    with pytest.raises(Invalid) as refused:
        course_rules.judge(data, course)
    return refused.value.fields


# --- the rules, on the service ------------------------------------------------------------------------------

def test_a_new_course_takes_the_defaults_and_its_text_is_cleaned():
    values = course_rules.judge(plain(title="  急危重症护理新进展 ", mode=Mode.SELF_PACED, place=" "))

    assert values["title"] == "急危重症护理新进展"
    assert values["place"] == "线上"  # taught wholly online and naming no place
    assert (values["fee"], values["capacity"], values["open_to_city"]) == (Decimal("0"), None, True)
    assert set(values) == set(course_rules.EDITABLE_FIELDS)


def test_every_field_at_fault_is_named_at_once_the_first_as_the_error_s_own():
    with pytest.raises(Invalid) as refused:
        course_rules.judge({})

    assert refused.value.fields == {name: MISSING[name] for name in course_rules.REQUIRED}
    assert (refused.value.field, refused.value.message) == ("title", "请填写课程名称")


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"title": "题" * 201}, "title", "字段长度不能超过 200 个字符。"),
    ({"audience": "  "}, "audience", "请填写培训对象"),
    ({"hours": 0}, "hours", HOURS.message),
    ({"hours": 501}, "hours", HOURS.message),
    ({"end_date": START - timedelta(days=1)}, "end_date", "结束日期不能早于开始日期"),
    ({"place": "  ", "mode": Mode.BLENDED}, "place", "面授或线上线下结合的课程请填写培训地点"),
    ({"capacity": 0}, "capacity", CAPACITY.message),
    ({"fee": Decimal("100000.01")}, "fee", FEE.message),
    ({"fee": Decimal("NaN")}, "fee", "请填写有效的数字"),
    ({"contact_phone": "028-6123"}, "contact_phone", text.CONTACT_PHONE_MESSAGE),
    ({"field": "天文"}, "field", "请选择列出的领域"),
    ({"category": "astronomy"}, "category", "请选择列出的科目类别"),
    ({"enroll_until": START}, "enroll_until", "只有线上自学的课程可以设报名截止日期；面授和直播课程报名至开课前一天"),
    ({"mode": Mode.SELF_PACED, "enroll_until": START + timedelta(days=5)}, "enroll_until",
     "报名截止日期应在课程起止日期之内（2030-05-10 至 2030-05-11）"),
], ids=["long-title", "blank-audience", "no-hours", "too-many-hours", "end-before-start", "blended-without-place",
        "zero-capacity", "fee-over-limit", "fee-not-a-number", "bad-landline", "unknown-field", "unknown-category",
        "deadline-of-a-class", "deadline-outside-window"])
def test_one_broken_rule_is_refused_on_its_field_alone(overrides, field, message):
    assert refusal(plain(**overrides)) == {field: message}


def test_an_edit_returns_only_the_fields_it_gives_cleaned(app):
    course = stored(capacity=50, seats_taken=30)

    assert course_rules.judge({"title": " 改过的名称 "}, course) == {"title": "改过的名称"}
    assert refusal({"capacity": 20}, course) == {"capacity": "已有 30 人报名，名额不能少于此数"}
    assert course_rules.judge({"capacity": None}, course) == {"capacity": None}


def test_an_edit_is_judged_with_the_course_s_other_values(app):
    course = stored(capacity=None, seats_taken=0)

    assert refusal({"end_date": START - timedelta(days=1)}, course) == {"end_date": "结束日期不能早于开始日期"}
    assert refusal({"mode": Mode.BLENDED, "place": ""}, course) == {"place": "面授或线上线下结合的课程请填写培训地点"}


def test_a_deadline_left_from_self_paced_days_is_dropped_but_a_new_one_refused(app):
    until = START + timedelta(days=1)
    course = with_defaults(Course, **plain(mode=Mode.SELF_PACED, place="线上", enroll_until=until), seats_taken=0)
    to_class = {"mode": Mode.FACE_TO_FACE, "place": "培训楼 101"}

    assert course_rules.judge(to_class, course) == {**to_class, "enroll_until": None}
    # The site's form sends the stored deadline back unchanged: still dropped.
    assert course_rules.judge({**to_class, "enroll_until": until}, course)["enroll_until"] is None
    assert refusal({**to_class, "enroll_until": START}, course) == {
        "enroll_until": "只有线上自学的课程可以设报名截止日期；面授和直播课程报名至开课前一天"}


def test_credited_hours_hold_the_category_hours_and_dates_with_one_query_only_when_they_move(
        admin_and_base, make_course, make_user):
    _admin, base = admin_and_base
    course = make_course(base, category=Category.PROFESSIONAL, hours=16, start_date=START,
                         end_date=START + timedelta(days=3))
    db.session.add(HoursRecord(learner_id=make_user().id, year=START.year, category=Category.PROFESSIONAL,
                               hours=16, source=HoursSource.COURSE, course_id=course.id,
                               earned_on=START + timedelta(days=2)))
    db.session.commit()
    db.session.refresh(course)  # loaded before counting: the rules' own queries are counted

    with count_queries(db.engine) as untouched:
        course_rules.judge({"title": "改过的名称", "end_date": START + timedelta(days=5)}, course)
    with count_queries(db.engine) as moved:
        fields = refusal({"category": Category.PUBLIC, "hours": 8, "end_date": START + timedelta(days=1)}, course)

    assert untouched == [] and len(moved) == 1
    assert fields == {
        "category": "已有 1 人按本课程记了学时，不能再改类别",
        "hours": "已有学员按本课程记了 16 学时，课程学时不能少于此数",
        "end_date": f"已有学员于 {(START + timedelta(days=2)).isoformat()} 结业，结束日期不能早于这一天",
    }


def test_the_site_form_reads_types_only_and_leaves_the_rules_to_the_domain(app):
    from werkzeug.datastructures import MultiDict

    from blueprints.base_admin.forms import CourseForm

    posted = {"title": "急危重症护理新进展", "category": "professional", "field": "卫生", "hours": "0",
              "start_date": "2030-05-10", "end_date": "2030-05-09", "mode": "face_to_face", "place": "",
              "audience": "护理人员", "fee": "100000.01", "contact_person": "张老师", "contact_phone": "12345"}
    with app.test_request_context():
        form = CourseForm(formdata=MultiDict(posted), meta={"csrf": False})
        read = form.validate()
        data = form.course_data()

    assert read, form.errors
    assert refusal(data) == {"hours": HOURS.message, "end_date": "结束日期不能早于开始日期",
                             "place": "面授或线上线下结合的课程请填写培训地点", "fee": FEE.message,
                             "contact_phone": text.CONTACT_PHONE_MESSAGE}


# --- the same refusal through the site's form and through the API -----------------------------------------

def _site_fields(**overrides) -> dict:
    start = clock.today() + timedelta(days=10)
    data = {
        "title": "急危重症护理新进展", "category": "professional", "field": "卫生", "hours": "16",
        "start_date": start.isoformat(), "end_date": (start + timedelta(days=1)).isoformat(),
        "mode": "face_to_face", "place": "培训楼 101", "audience": "护理人员", "capacity": "40", "fee": "300",
        "contact_person": "张老师", "contact_phone": "028-61234567", "open_to_city": "y",
    }
    data.update(overrides)
    return data


def _json_fields(**overrides) -> dict:
    data = {**_site_fields(), "hours": 16, "capacity": 40, "open_to_city": True, **overrides}
    return {name: int(value) if name in ("hours", "capacity") and isinstance(value, str) else value
            for name, value in data.items()}


def _errors_on_page(html: str) -> dict:
    """Each field the course form marks invalid, with the messages the form macro shows beside it."""
    shown = {}
    for match in re.finditer(r'<(?:input|select|textarea)[^>]*\bname="([a-z_]+)"[^>]*>', html):
        if "is-invalid" not in match.group(0):
            continue
        rest = html[match.end():]
        following = re.search(r'class="form-label"|<button', rest)
        segment = rest[: following.start()] if following else rest
        shown[match.group(1)] = re.findall(r'class="invalid-feedback[^"]*">(.*?)</div>', segment, re.S)
    return shown


def _day(days: int) -> str:
    return (clock.today() + timedelta(days=days)).isoformat()


SAME_REFUSALS = [
    ({"end_date": _day(9)}, "end_date", "结束日期不能早于开始日期"),
    ({"place": "", "mode": "face_to_face"}, "place", "面授或线上线下结合的课程请填写培训地点"),
    ({"place": " ", "mode": "blended"}, "place", "面授或线上线下结合的课程请填写培训地点"),
    ({"fee": "100000.01"}, "fee", "费用应在 0 到 100000 元之间"),
    ({"enroll_until": _day(10)}, "enroll_until", course_rules.DEADLINE_NOT_SELF_PACED),
    ({"mode": "self_paced", "enroll_until": _day(20)}, "enroll_until",
     f"报名截止日期应在课程起止日期之内（{_day(10)} 至 {_day(11)}）"),
]


@pytest.mark.parametrize(("overrides", "field", "message"), SAME_REFUSALS,
                         ids=["end-before-start", "class-without-place", "blended-blank-place", "fee-over-limit",
                              "deadline-of-a-class", "deadline-outside-window"])
def test_a_new_course_is_refused_alike_by_the_site_and_the_api(admin_and_base, login_as, api, token_a, overrides,
                                                                 field, message):
    admin, base = admin_and_base

    page = login_as(admin).post(f"/manage/bases/{base.id}/courses/new", data=_site_fields(**overrides))
    answer = api.post("/api/v1/base/courses", json=_json_fields(**overrides), headers=token_a)

    assert page.status_code == 200 and _errors_on_page(page.get_data(as_text=True)) == {field: [message]}
    assert answer.status_code == 400 and answer.get_json()["errors"] == [{"field": f"/{field}", "message": message}]
    assert db.session.scalar(db.select(db.func.count(Course.id))) == 0


@pytest.mark.parametrize(("site", "json", "field", "message"), [
    ({"capacity": "20"}, {"capacity": 20}, "capacity", "已有 30 人报名，名额不能少于此数"),
    ({"category": "public"}, {"category": "public"}, "category", "已有 1 人按本课程记了学时，不能再改类别"),
    ({"hours": "8"}, {"hours": 8}, "hours", "已有学员按本课程记了 16 学时，课程学时不能少于此数"),
], ids=["capacity-below-seats", "category-of-credited-hours", "hours-below-credited"])
def test_an_edit_is_refused_alike_by_the_site_and_the_api(admin_and_base, login_as, api, token_a, make_course,
                                                           make_user, site, json, field, message):
    admin, base = admin_and_base
    course = make_course(base, category=Category.PROFESSIONAL, hours=16, capacity=50, seats_taken=30)
    db.session.add(HoursRecord(learner_id=make_user().id, year=course.end_date.year, category=course.category,
                               hours=16, source=HoursSource.COURSE, course_id=course.id))
    db.session.commit()
    shown = {
        "title": course.title, "category": "professional", "field": course.field, "hours": "16",
        "start_date": course.start_date.isoformat(), "end_date": course.end_date.isoformat(), "mode": "face_to_face",
        "place": course.place, "audience": course.audience, "capacity": "50", "fee": str(course.fee),
        "contact_person": course.contact_person, "contact_phone": course.contact_phone, "open_to_city": "y",
    }

    page = login_as(admin).post(f"/manage/bases/{base.id}/courses/{course.id}/edit", data={**shown, **site})
    answer = api.patch(f"/api/v1/base/courses/{course.id}", json=json, headers=token_a)

    assert page.status_code == 200 and _errors_on_page(page.get_data(as_text=True)) == {field: [message]}
    assert answer.status_code == 400 and answer.get_json()["errors"] == [{"field": f"/{field}", "message": message}]
    db.session.expire_all()
    assert (course.capacity, course.category, course.hours) == (50, Category.PROFESSIONAL, 16)


# --- every fault in one round: the form's own and the rules' together (issue 19, item 5) ----------------------

def test_a_new_course_shows_the_forms_and_the_rules_faults_in_one_round(admin_and_base, login_as):
    """A title left empty is the form's to say (the rules are not asked once the form refuses); the dates,
    the capacity, the fee and the place are the rules': before, they came back only on the next submit."""
    admin, base = admin_and_base
    posted = _site_fields(title="", hours="abc", end_date=_day(9), capacity="0", fee="100000.01", place="",
                          category="astronomy")

    page = login_as(admin).post(f"/manage/bases/{base.id}/courses/new", data=posted)

    assert page.status_code == 200
    shown = _errors_on_page(page.get_data(as_text=True))
    assert shown.pop("title") == [MISSING["title"]]  # the form's, said once
    assert len(shown.pop("hours")) == 1 and len(shown.pop("category")) == 1  # unreadable: the form's word only
    assert shown == {"end_date": ["结束日期不能早于开始日期"], "capacity": [CAPACITY.message], "fee": [FEE.message],
                     "place": ["面授或线上线下结合的课程请填写培训地点"]}
    assert db.session.scalar(db.select(db.func.count(Course.id))) == 0


def test_an_edit_shows_the_forms_and_the_rules_faults_in_one_round(admin_and_base, login_as, make_course):
    admin, base = admin_and_base
    course = make_course(base, title="原来的课程", capacity=50, seats_taken=30)
    shown_before = {
        "title": "", "category": course.category.value, "field": course.field, "hours": str(course.hours),
        "start_date": course.start_date.isoformat(), "end_date": (course.start_date - timedelta(days=1)).isoformat(),
        "mode": "face_to_face", "place": course.place, "audience": course.audience, "capacity": "20",
        "fee": str(course.fee), "contact_person": course.contact_person, "contact_phone": course.contact_phone,
    }

    page = login_as(admin).post(f"/manage/bases/{base.id}/courses/{course.id}/edit", data=shown_before)

    assert page.status_code == 200
    assert _errors_on_page(page.get_data(as_text=True)) == {
        "title": [MISSING["title"]], "end_date": ["结束日期不能早于开始日期"],
        "capacity": ["已有 30 人报名，名额不能少于此数"]}
    db.session.expire_all()
    assert (course.title, course.capacity) == ("原来的课程", 50)


# --- the API builds no web form ------------------------------------------------------------------------------

def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_module_of_the_api_imports_the_site_s_forms():
    modules = sorted((ROOT / "blueprints" / "api").glob("*.py"))
    offenders = {path.name: sorted(name for name in _imports(path)
                                   if name.startswith(("blueprints.base_admin", "wtforms", "flask_wtf")))
                 for path in modules}

    assert len(modules) >= 5  # the package is where this test looks for it
    assert {name: found for name, found in offenders.items() if found} == {}


def test_loading_the_api_loads_no_form_of_the_site_on_the_way():
    """Transitively too: importing the API's modules (not the whole app) brings in none of the site's forms.
    WTForms itself is loaded, by extensions.py's CSRF protection, which every form of the site shares."""
    probe = ("import sys, blueprints.api.base, blueprints.api.public; "
             "print(sorted(m for m in sys.modules if m.startswith('blueprints.') and "
             "(m.startswith('blueprints.base_admin') or m.endswith(('.forms', '.validators', '.common_forms')))))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)

    assert loaded.stdout.strip() == "[]"


# --- one update of a course, whoever sends it ----------------------------------------------------------------

def test_one_update_saves_the_fields_and_moves_the_status_or_neither(admin_and_base, make_course):
    from models import CourseStatus
    from services import courses
    from services.errors import DomainError

    admin, base = admin_and_base
    course = make_course(base, status=CourseStatus.DRAFT, title="原名称")
    past = clock.today() - timedelta(days=3)

    with pytest.raises(DomainError, match="课程已结束，不能发布"):
        courses.update_course(admin, course, {"title": "新名称", "start_date": past, "end_date": past},
                              status=CourseStatus.PUBLISHED)
    db.session.expire_all()
    assert (course.title, course.status) == ("原名称", CourseStatus.DRAFT)

    courses.update_course(admin, course, {"title": "新名称"}, status=CourseStatus.PUBLISHED)
    db.session.expire_all()
    assert (course.title, course.status) == ("新名称", CourseStatus.PUBLISHED)
