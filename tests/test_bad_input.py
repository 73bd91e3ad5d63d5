"""Bad input battery (issue 7, item 4): property tests of the validators, every form fed arbitrary, huge and
empty values by a signed-in user of the right role (never a 500), and XSS payloads in every free-text field
coming back escaped on every page that shows them.

The figures (inputs tried, server errors) are counted in ``FIGURES`` and printed at the end of the module.
"""

import re
from collections import Counter
from datetime import date, timedelta
from io import BytesIO

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from wtforms import Form, StringField

from blueprints.validators import PHONE_PATTERN, contact_phone, mobile_phone
from extensions import db
from models import (
    BaseStatus,
    ClassPlan,
    Employer,
    Enrollment,
    EnrollmentStatus,
    Outcome,
    Role,
    RuleSet,
)
from services import accounts, clock, declarations, evaluation, identity
from services.errors import DomainError
from tests.conftest import PASSWORD, login

FIGURES = Counter()
FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PAYLOAD = "<script>alert(1)</script>\"'><img src=x onerror=alert(1)>"
ESCAPED = str(escape(PAYLOAD))

# Values every form field gets besides Hypothesis' own: empty, blank, huge, control characters, numbers that
# break naive parsing (signalling NaN, 5,000 digits, beyond SQLite's 64 bits), dates and markup.
NASTY = [
    "", " ", "\t\n", "\x00", "a\x00b", "A" * 100_000, "中" * 100_000, "NaN", "sNaN", "-Infinity", "1e999999",
    "-1", "0", "9" * 5000, "99999999999999999999999", "-99999999999999999999999", "１２", "٣", "2026-02-30",
    "9999-12-31", "0000-00-00", PAYLOAD, "'; DROP TABLE user; --", "%s%n", "{{7*7}}", "\u202e\u200b", "😀" * 50,
]
values = st.one_of(st.sampled_from(NASTY), st.text(max_size=300))


@pytest.fixture(autouse=True, scope="module")
def report_figures():
    yield
    print(f"\nbad input battery (forms and validators): {FIGURES['tried']} inputs tried, "
          f"{FIGURES['server_errors']} server errors")


# --- validators ------------------------------------------------------------------------------------------

def valid_id_numbers():
    """GB 11643 numbers: six-digit area code, a birth date from 1900 to last year, sequence, check character."""
    def build(area, born, sequence):
        first17 = f"{area:06d}{born:%Y%m%d}{sequence:03d}"
        return first17 + identity.check_character(first17)

    return st.builds(build, st.integers(110000, 659999), st.dates(date(1900, 1, 1), date(2024, 12, 31)),
                     st.integers(0, 999))


@FUZZ
@given(number=valid_id_numbers(), spacing=st.sampled_from(["", " ", "-"]), width=st.booleans())
def test_valid_id_numbers_are_accepted_however_they_are_typed(app, number, spacing, width):
    typed = spacing.join([number[:6], number[6:14], number[14:]]).lower()
    if width:  # full-width digits, as a Chinese input method types them
        typed = typed.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789x"})
    FIGURES["tried"] += 1
    assert identity.problem(identity.normalise(typed)) is None
    assert identity.normalise(typed) == number


@FUZZ
@given(number=valid_id_numbers(), position=st.integers(0, 16), delta=st.integers(1, 9))
def test_any_single_changed_digit_is_caught(app, number, position, delta):
    digit = str((int(number[position]) + delta) % 10)
    FIGURES["tried"] += 1
    assert identity.problem(number[:position] + digit + number[position + 1:]) is not None


@FUZZ
@given(text=values)
@example("1" * 17 + "X")
@example("\x00" * 18)
@example("٣" * 18)
def test_arbitrary_text_as_id_number_is_a_message_never_an_exception(app, text):
    FIGURES["tried"] += 1
    problem = identity.problem(identity.normalise(text))
    assert problem is None or re.search(r"[\u4e00-\u9fff]", problem)
    if problem is None:  # only an 18-character ASCII number with a right check character gets through
        number = identity.normalise(text)
        assert re.fullmatch(r"[0-9]{17}[0-9X]", number)
        assert identity.check_character(number[:17]) == number[17]


class PhoneForm(Form):
    mobile = StringField(validators=[mobile_phone()])
    contact = StringField(validators=[contact_phone()])


@FUZZ
@given(mobile=st.from_regex(r"\A1[3-9][0-9]{9}\Z"),
       contact=st.from_regex(r"\A(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?)\Z"))
def test_valid_phone_numbers_are_accepted(app, mobile, contact):
    FIGURES["tried"] += 1
    form = PhoneForm(data={"mobile": mobile, "contact": contact})
    assert form.validate(), form.errors


@FUZZ
@given(text=values)
@example("13900000001\n")
@example("1\u0663\u0669\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0661")  # Arabic-Indic digits
@example("1３９０００００００１")
def test_only_ascii_phone_numbers_pass_and_nothing_raises(app, text):
    FIGURES["tried"] += 1
    form = PhoneForm(data={"mobile": text, "contact": text})
    form.validate()
    if not form.mobile.errors:
        assert re.fullmatch(r"1[3-9][0-9]{9}", text)
    else:
        assert re.search(r"[\u4e00-\u9fff]", str(form.mobile.errors[0]))
    if not form.contact.errors:
        assert PHONE_PATTERN.fullmatch(text) and text.isascii()


@FUZZ
@given(kind=st.sampled_from(list(declarations.KIND_RULES)),
       minutes=st.one_of(st.none(), st.integers()), days=st.one_of(st.none(), st.integers()),
       hours=st.one_of(st.none(), st.integers()))
@example(kind=next(iter(declarations.KIND_RULES)), minutes=-1, days=None, hours=None)
@example(kind=next(iter(declarations.KIND_RULES)), minutes=None, days=10**30, hours=10**30)
def test_claimed_hours_are_in_range_or_a_field_error(app, kind, minutes, days, hours):
    FIGURES["tried"] += 1
    rule = RuleSet(year=2026, hours_per_day=8, minutes_per_hour=45)
    try:
        claimed = declarations.claimed_hours(kind, {"minutes": minutes, "days": days, "hours": hours}, rule)
    except DomainError as error:
        assert error.field in {"minutes", "days", "hours"} and re.search(r"[\u4e00-\u9fff]", error.message)
    else:
        assert 1 <= claimed <= declarations.MAX_DAYS * 8


# --- every form, by the role that uses it ----------------------------------------------------------------

class World:
    pass


@pytest.fixture
def world(app, city, make_user, make_base, make_course, monkeypatch):
    """A base with an admin and a course, a learner with a completed enrollment and an employer, a reviewer
    with a pending declaration, and a regulator with a class plan and an evaluation to decide."""
    w = World()
    w.city = city
    w.admin = make_user(Role.BASE_ADMIN)
    w.base = make_base(admin=w.admin)
    w.course = make_course(w.base, start_date=clock.today() - timedelta(days=5), end_date=clock.today())
    w.employer = Employer(name="成都市第一人民医院", region_id=city.id)
    db.session.add(w.employer)
    db.session.add(RuleSet(region_id=city.id, year=clock.today().year, total_min=90, public_min=30,
                           professional_min=60))
    db.session.commit()
    first17 = "51010419900307123"
    w.learner = accounts.register_learner({
        "name": "陈晓", "phone": "13900000099", "email": "fuzz-learner@test.example", "password": PASSWORD,
        "id_number": first17 + identity.check_character(first17), "region_id": city.id,
    })
    accounts.set_employer(w.learner, w.employer.id)
    w.enrollment = Enrollment(course_id=w.course.id, learner_id=w.learner.id, status=EnrollmentStatus.COMPLETED)
    db.session.add(w.enrollment)
    w.reviewer = make_user(Role.REVIEWER, employer_id=w.employer.id)
    w.regulator = make_user(Role.REGULATOR, region_id=city.id)
    db.session.commit()
    w.declaration = declarations.declare(w.learner, {
        "kind": "conference", "category": "professional", "title": "学术年会", "organiser": "医学会",
        "earned_on": clock.today(), "minutes": None, "days": 2, "hours": None,
    }, [_file(pdf(), "通知.pdf")])
    w.plan = ClassPlan(course_id=w.course.id, start_date=w.course.start_date, end_date=w.course.end_date,
                       place="培训楼", teachers="张老师", syllabus="第一天", expected_trainees=30)
    db.session.add(w.plan)
    db.session.commit()
    w.evaluation = evaluation.run(w.regulator, clock.today().year, city.id)
    w.result = w.evaluation.results[0]
    return w


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _file(data: bytes, name: str):
    from werkzeug.datastructures import FileStorage
    return FileStorage(BytesIO(data), filename=name, content_type="application/pdf")


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def course_fields(w):
    today = clock.today()
    return {"title": "护理新进展", "description": "简介", "category": "professional", "field": "卫生",
            "project_type": "job_training", "hours": "16", "start_date": (today + timedelta(days=9)).isoformat(),
            "end_date": (today + timedelta(days=10)).isoformat(), "mode": "offline", "place": "培训楼",
            "audience": "护士", "capacity": "30", "fee": "0", "fee_standard": "", "contact_person": "张老师",
            "contact_phone": "028-61234567", "open_to_city": "y"}


def disclosure_fields(w):
    return {"scope": "范围", "content": "内容", "fee_items": "免费", "training_plan": "计划", "staff": "师资",
            "rules": "制度", "contact_person": "张老师", "contact_phone": "028-61234567", "address": "成都",
            "website": "https://example.cn"}


def declaration_fields(w):
    return {"kind": "conference", "category": "professional", "title": "学术会议", "organiser": "医学会",
            "earned_on": clock.today().isoformat(), "minutes": "", "days": "1", "hours": ""}


# name → (who posts, URL, valid data); one field at a time is replaced by a bad value.
FORMS = {
    "register": (None, lambda w: "/register", lambda w: {
        "name": "王芳", "phone": "13900000123", "email": "", "password": "long enough 1", "confirm": "long enough 1",
        "id_number": "11010519491231002X", "region": str(w.city.id), "employer_name": "医院", "sector": "卫生",
        "professional_title": "中级"}),
    "course_new": ("admin", lambda w: f"/manage/bases/{w.base.id}/courses/new", course_fields),
    "course_edit": ("admin", lambda w: f"/manage/bases/{w.base.id}/courses/{w.course.id}/edit", course_fields),
    "course_cancel": ("admin", lambda w: f"/manage/bases/{w.base.id}/courses/{w.course.id}/cancel",
                      lambda w: {"reason": "场地"}),
    "course_status": ("admin", lambda w: f"/manage/bases/{w.base.id}/courses/{w.course.id}/status",
                      lambda w: {"status": "published"}),
    "disclosure": ("admin", lambda w: f"/manage/bases/{w.base.id}/disclosure", disclosure_fields),
    "class_plan": ("admin", lambda w: f"/manage/bases/{w.base.id}/courses/{w.course.id}/plan", lambda w: {
        "start_date": w.course.start_date.isoformat(), "end_date": w.course.end_date.isoformat(), "place": "楼",
        "teachers": "张", "syllabus": "一", "expected_trainees": "20"}),
    "attendance": ("admin", lambda w: f"/manage/bases/{w.base.id}/courses/{w.course.id}/roster/attendance",
                   lambda w: {"day": w.course.start_date.isoformat(), "present": str(w.enrollment.id)}),
    "roster_complete": ("admin", lambda w: f"/manage/bases/{w.base.id}/courses/{w.course.id}/roster/complete",
                        lambda w: {"enrollment": str(w.enrollment.id)}),
    "declaration_new": ("learner", lambda w: "/me/declarations/new", declaration_fields),
    "declaration_edit": ("learner", lambda w: f"/me/declarations/{w.declaration.id}/edit", declaration_fields),
    "rating": ("learner", lambda w: f"/me/enrollments/{w.enrollment.id}/rate",
               lambda w: {"rating": "5", "comment": "很好"}),
    "employer": ("learner", lambda w: "/me/employer", lambda w: {"employer": str(w.employer.id)}),
    "review": ("reviewer", lambda w: f"/review/{w.declaration.id}",
               lambda w: {"decision": "approve", "hours": "8", "reason": ""}),
    "designate": ("regulator", lambda w: "/regulator/bases/new", lambda w: {
        "name": "新基地", "type": "city", "region": str(w.city.id), "admin_emails": "new-admin@test.example"}),
    "base_status": ("regulator", lambda w: f"/regulator/bases/{w.base.id}/status",
                    lambda w: {"status": BaseStatus.RECTIFYING.value, "reason": "整改"}),
    "targets": ("regulator", lambda w: "/regulator/targets", lambda w: {
        "base_type": "city", "year": str(clock.today().year), "min_trainees": "100", "min_projects": "5"}),
    "plan_decision": ("regulator", lambda w: f"/regulator/plans/{w.plan.id}/decide",
                      lambda w: {"decision": "approve", "reason": "同意"}),
    "run_evaluation": ("regulator", lambda w: "/regulator/evaluations",
                       lambda w: {"year": str(clock.today().year), "region": str(w.city.id)}),
    "override": ("regulator", lambda w: f"/regulator/evaluations/results/{w.result.id}/override",
                 lambda w: {"outcome": Outcome.RECTIFY.value, "reason": "复核"}),
    "revoke": ("regulator", lambda w: "/regulator/certificates/revoke",
               lambda w: {"code": "ABC", "reason": "误发"}),
    "login": (None, lambda w: "/login", lambda w: {"login": "learner@x.cn", "password": "x"}),
}


def post_bad(app, w, name, field, value, clients):
    role, url, valid = FORMS[name]
    data = valid(w)
    data[field] = value
    if name == "declaration_new":
        data["files"] = [(BytesIO(pdf()), "材料.pdf")]
    if role is None:
        client = app.test_client()
    else:
        if role not in clients:
            clients[role] = signed_in(app, getattr(w, role))
        client = clients[role]
    FIGURES["tried"] += 1
    try:
        response = client.post(url(w), data=data, content_type="multipart/form-data")
    except Exception:
        FIGURES["server_errors"] += 1
        raise
    if response.status_code >= 500:
        FIGURES["server_errors"] += 1
    # sign-in is rate-limited: after a few failures the answer is the 429 page
    allowed = {200, 302, 303, 400, 404} | ({429} if name == "login" else set())
    assert response.status_code in allowed, (name, field, response.status_code)
    if response.status_code == 200:
        body = response.get_data(as_text=True)
        for error in re.findall(r'<div class="invalid-feedback[^"]*">(.*?)</div>', body, re.S):
            assert re.search(r"[\u4e00-\u9fff]", error), (name, field, error)
    return response


@pytest.mark.parametrize("name", sorted(FORMS))
def test_every_form_answers_bad_values_without_a_server_error(app, world, name):
    clients = {}
    fields = sorted(FORMS[name][2](world))

    @FUZZ
    @given(field=st.sampled_from(fields), value=values)
    def fuzz(field, value):
        post_bad(app, world, name, field, value, clients)

    fuzz()
    # and each field once with each named nasty value, so every field meets the edge cases
    for field in fields:
        for value in ("", "A" * 100_000, "sNaN", "99999999999999999999999", "9" * 5000, "\x00"):
            post_bad(app, world, name, field, value, clients)


@pytest.mark.parametrize(("name", "field", "value"), [
    pytest.param("attendance", "present", "9" * 5000, id="attendance-5000-digits"),
    pytest.param("attendance", "present", "²", id="attendance-superscript"),
    pytest.param("attendance", "present", "9" * 23, id="attendance-beyond-64-bits"),
    pytest.param("roster_complete", "enrollment", "9" * 5000, id="complete-5000-digits"),
    pytest.param("roster_complete", "enrollment", "²", id="complete-superscript"),
    pytest.param("roster_complete", "enrollment", "9" * 23, id="complete-beyond-64-bits"),
])
def test_digit_strings_in_id_lists_are_not_a_server_error(app, world, name, field, value):
    role, url, valid = FORMS[name]
    client = signed_in(app, getattr(world, role))
    response = client.post(url(world), data={**valid(world), field: value})
    FIGURES["tried"] += 1
    assert response.status_code < 500


# --- XSS: every free-text field comes back escaped -------------------------------------------------------

def assert_escaped(client, path, *, shown=True):
    body = client.get(path).get_data(as_text=True)
    assert "<script>alert(1)" not in body and "<img src=x onerror" not in body, path
    assert PAYLOAD not in body, path
    if shown:
        assert ESCAPED in body, path


def test_xss_payloads_in_every_free_text_field_come_back_escaped(app, world):
    w = world
    admin = signed_in(app, w.admin)
    course = {**course_fields(w), "title": PAYLOAD, "description": PAYLOAD, "place": PAYLOAD,
              "audience": PAYLOAD, "fee_standard": PAYLOAD, "contact_person": PAYLOAD}
    response = admin.post(f"/manage/bases/{w.base.id}/courses/new", data=course)
    assert response.status_code == 302
    course_url = response.location
    course_id = int(re.search(r"/courses/(\d+)/edit", course_url).group(1))
    assert admin.post(f"/manage/bases/{w.base.id}/courses/{course_id}/status",
                      data={"status": "published"}).status_code == 302
    disclosure = {name: PAYLOAD for name in ("scope", "content", "fee_items", "training_plan", "staff", "rules",
                                             "contact_person", "address")}
    assert admin.post(f"/manage/bases/{w.base.id}/disclosure",
                      data={**disclosure_fields(w), **disclosure}).status_code == 302

    learner = signed_in(app, w.learner)
    assert learner.post(f"/me/enrollments/{w.enrollment.id}/rate",
                        data={"rating": "4", "comment": PAYLOAD}).status_code == 302
    assert learner.post("/me/declarations/new", content_type="multipart/form-data", data={
        **declaration_fields(w), "title": PAYLOAD, "organiser": PAYLOAD,
        "files": [(BytesIO(pdf()), "材料.pdf")]}).status_code == 302
    # the learner's own name and employer name, as registration stores them (the form takes any text)
    w.learner.name = PAYLOAD
    w.learner.employer_name = PAYLOAD
    w.employer.name = PAYLOAD
    db.session.commit()

    public = app.test_client()
    for path in (f"/courses/{course_id}", f"/bases/{w.base.id}"):
        assert_escaped(public, path)
    assert_escaped(public, "/courses", shown=False)  # cards shorten the title; nothing raw either way
    for path in (course_url, f"/manage/bases/{w.base.id}", f"/manage/bases/{w.base.id}/disclosure",
                 f"/manage/bases/{w.base.id}/courses/{w.course.id}/roster"):
        assert_escaped(admin, path)
    for path in ("/me/", "/me/declarations", f"/me/enrollments/{w.enrollment.id}/rate"):
        assert_escaped(learner, path)
    reviewer = signed_in(app, w.reviewer)
    declaration_id = max(d.id for d in declarations.queue(w.reviewer))
    for path in ("/review/", f"/review/{declaration_id}"):
        assert_escaped(reviewer, path)
    regulator = signed_in(app, w.regulator)
    assert_escaped(regulator, f"/regulator/bases/{w.base.id}", shown=False)  # shows no free text of these
    FIGURES["tried"] += 1


# --- query strings and path ids --------------------------------------------------------------------------

CATALOG_PARAMS = ["q", "region", "base", "category", "field", "mode", "month", "sort", "cursor", "open_to_city",
                  "has_seats", "include_past"]


@pytest.mark.parametrize("path", ["/", "/courses", "/verify"])
def test_catalog_query_strings_never_cause_a_server_error(app, world, path):
    client = app.test_client()

    @FUZZ
    @given(params=st.dictionaries(st.sampled_from([*CATALOG_PARAMS, "code"]), values, max_size=4))
    @example(params={"region": "9" * 5000})
    @example(params={"base": "²"})
    @example(params={"region": "99999999999999999999999", "base": "٣"})
    @example(params={"cursor": "A" * 300, "sort": "\x00"})
    def fuzz(params):
        FIGURES["tried"] += 1
        try:
            response = client.get(path, query_string=params)
        except Exception:
            FIGURES["server_errors"] += 1
            raise
        assert response.status_code in {200, 302, 404}, (params, response.status_code)

    fuzz()


@pytest.mark.parametrize("path", ["/courses/{n}", "/bases/{n}", "/list/{n}", "/verify/{s}", "/media/{s}/thumb"])
def test_huge_and_odd_ids_in_paths_are_404_not_500(app, world, path):
    client = app.test_client()
    for n, s in (("99999999999999999999999", "x" * 5000), ("9" * 5000, "..%2F..%2Fetc%2Fpasswd"), ("0", "%00")):
        response = client.get(path.format(n=n, s=s))
        FIGURES["tried"] += 1
        assert response.status_code in {404, 200, 302}, (path, n, s, response.status_code)


def test_control_characters_are_dropped_before_validation_and_storage(app, world):
    """PostgreSQL refuses NUL in text (the insert raises): the forms drop C0 controls, keeping tab and newline."""
    admin = signed_in(app, world.admin)
    response = admin.post(f"/manage/bases/{world.base.id}/courses/new", data={
        **course_fields(world), "title": "护理\x00新进展\x1b", "description": "第一行\n第二行\t\x7f\x08"})
    assert response.status_code == 302
    course_id = int(re.search(r"/courses/(\d+)/edit", response.location).group(1))
    from models import Course
    course = db.session.get(Course, course_id)
    assert (course.title, course.description) == ("护理新进展", "第一行\n第二行")


def test_forms_keep_their_csrf_protection_under_the_control_character_filter(app):
    from blueprints.base_admin.forms import CourseForm
    from blueprints.catalog.forms import CatalogSearchForm
    app.config["WTF_CSRF_ENABLED"] = True
    with app.test_request_context():
        assert "csrf_token" in CourseForm() and "csrf_token" not in CatalogSearchForm()


class TestOnPostgreSQL:
    """NUL is harmless on SQLite but refused by PostgreSQL, where production runs: every form again there."""

    @pytest.fixture
    def app(self, pg_app):
        return pg_app

    @pytest.mark.parametrize("name", sorted(set(FORMS) - {"register", "login"}))
    def test_nul_in_any_field_is_no_server_error_on_postgresql(self, app, world, name):
        clients = {}
        for field in sorted(FORMS[name][2](world)):
            for value in ("\x00", "护理\x00新进展", "a\x00" * 1000):
                post_bad(app, world, name, field, value, clients)

    def test_nul_in_registration_is_no_server_error_on_postgresql(self, app, world):
        _role, url, valid = FORMS["register"]
        response = app.test_client().post(url(world), data={**valid(world), "employer_name": "医院\x00"})
        FIGURES["tried"] += 1
        assert response.status_code < 500
