"""Bad input battery (issue 7, item 4): property tests of the validators, every form fed arbitrary, huge and
empty values by a signed-in user of the right role (never a 500), and XSS payloads in every free-text field
coming back escaped on every page that shows them.

The figures (inputs tried, server errors) are counted in ``FIGURES`` and printed at the end of the module.

Issue 13 (finding 8) found three 500s the battery had missed: ``?before=`` beyond 64 bits on the audit log,
odd digits in ``?year=`` of the exports, and a course title holding CR/LF (which the form took) in the
roster's download name. It missed them because only the catalog's query strings were fuzzed, because
Hypothesis' ``st.text()`` seldom draws a line break inside a value or a string of another script's digits
and the named values had neither, and because a value a form accepted was never read back by the pages
and exports that show it. So now: the values include line breaks (CR, LF, NEL, U+2028/2029) inside text,
non-ASCII decimal digits and integers beyond 64 bits; every query parameter the site reads (found in the
code) is fuzzed on every GET route; every field meets each ``EDGE_VALUES`` entry and an accepted one is read
back by the pages and exports of ``READERS``; every one-line field of every form and of the API refuses a
line break; and text with line breaks already stored is shown by every page and export without a 500.
"""

import re
from collections import Counter
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from werkzeug.datastructures import MultiDict
from wtforms import Form, HiddenField, PasswordField, StringField, TextAreaField

from blueprints.validators import LINE_BREAKS as LINE_BREAK
from blueprints.validators import PHONE_PATTERN, InputForm, contact_phone, mobile_phone
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
from services import accounts, declarations, evaluation, resident_ids
from services.errors import DomainError
from services.infra import clock
from tests.conftest import PASSWORD, employ, login

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
    "护理\r\n新进展", "护理\n新进展", "护理\r新进展", "护理\u2028新进展", "护理\u2029新进展", "护理\x85新进展", "12\n",
    "١٢٣", "２０２６", "²", "9" * 19, "2147483648", "=HYPERLINK(\"https://evil.example\")",
]
LINE_BREAKS = ["\r\n", "\n", "\r", "\x85", "\u2028", "\u2029"]
# st.text() alone seldom puts a line break inside a value, or draws a whole number in another script's digits.
with_line_break = st.builds(lambda a, br, b: a + br + b, st.text(max_size=40), st.sampled_from(LINE_BREAKS),
                            st.text(max_size=40))
other_digits = st.text(alphabet=st.characters(categories=("Nd",)), min_size=1, max_size=25)
beyond_64_bits = st.one_of(st.integers(min_value=2**63), st.integers(max_value=-(2**63) - 1)).map(str)
numbers_as_text = st.one_of(other_digits, beyond_64_bits, st.integers().map(str))
values = st.one_of(st.sampled_from(NASTY), st.text(max_size=300), with_line_break, numbers_as_text)
# Every field of every form meets each of these once, and an accepted one is read back (READERS).
EDGE_VALUES = ("", "A" * 100_000, "sNaN", "99999999999999999999999", "9" * 5000, "\x00", "护理\r\n新进展",
               "护理\u2028新进展", "١٢٣", "２０２６", "²", "9" * 19)


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
        return first17 + resident_ids.check_character(first17)

    return st.builds(build, st.integers(110000, 659999), st.dates(date(1900, 1, 1), date(2024, 12, 31)),
                     st.integers(0, 999))


@FUZZ
@given(number=valid_id_numbers(), spacing=st.sampled_from(["", " ", "-"]), width=st.booleans())
def test_valid_id_numbers_are_accepted_however_they_are_typed(app, number, spacing, width):
    typed = spacing.join([number[:6], number[6:14], number[14:]]).lower()
    if width:  # full-width digits, as a Chinese input method types them
        typed = typed.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789x"})
    FIGURES["tried"] += 1
    assert resident_ids.problem(resident_ids.normalise(typed)) is None
    assert resident_ids.normalise(typed) == number


@FUZZ
@given(number=valid_id_numbers(), position=st.integers(0, 16), delta=st.integers(1, 9))
def test_any_single_changed_digit_is_caught(app, number, position, delta):
    digit = str((int(number[position]) + delta) % 10)
    FIGURES["tried"] += 1
    assert resident_ids.problem(number[:position] + digit + number[position + 1:]) is not None


@FUZZ
@given(text=values)
@example("1" * 17 + "X")
@example("\x00" * 18)
@example("٣" * 18)
def test_arbitrary_text_as_id_number_is_a_message_never_an_exception(app, text):
    FIGURES["tried"] += 1
    problem = resident_ids.problem(resident_ids.normalise(text))
    assert problem is None or re.search(r"[\u4e00-\u9fff]", problem)
    if problem is None:  # only an 18-character ASCII number with a right check character gets through
        number = resident_ids.normalise(text)
        assert re.fullmatch(r"[0-9]{17}[0-9X]", number)
        assert resident_ids.check_character(number[:17]) == number[17]


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
@given(kind=st.sampled_from(list(declarations.KIND_UNITS)),
       minutes=st.one_of(st.none(), st.integers()), days=st.one_of(st.none(), st.integers()),
       hours=st.one_of(st.none(), st.integers()))
@example(kind=next(iter(declarations.KIND_UNITS)), minutes=-1, days=None, hours=None)
@example(kind=next(iter(declarations.KIND_UNITS)), minutes=None, days=10**30, hours=10**30)
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
        "consent": accounts.PRIVACY_NOTICE_VERSION,
        "name": "陈晓", "phone": "13900000099", "email": "fuzz-learner@test.example", "password": PASSWORD,
        "id_number": first17 + resident_ids.check_character(first17), "region_id": city.id,
    })
    employ(w.learner, w.employer)
    w.enrollment = Enrollment(course_id=w.course.id, learner_id=w.learner.id, status=EnrollmentStatus.COMPLETED,
                              completed_on=w.course.end_date)
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
            "end_date": (today + timedelta(days=10)).isoformat(), "mode": "face_to_face", "place": "培训楼",
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
        "professional_title": "中级", "consent": "y"}),
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
    "annual_report": ("admin", lambda w: f"/manage/bases/{w.base.id}/statistics", lambda w: {
        "year": str(clock.today().year), "department": "培训部", "knowledge_funding": "1.5", "knowledge_note": "",
        "strategic_funding": "2", "strategic_note": "", "strategic_0_trained": "3",
        "strategic_0_trained_non_public": "1"}),
}


def _course_of(w, response) -> int:
    found = re.search(r"/courses/(\d+)/", response.location or "")
    return int(found.group(1)) if found else w.course.id


# name → the pages and exports that show what the form stores, read back after an accepted edge value (a CR/LF
# the course form took was only a 500 later, in the roster's download name).
READERS = {
    "course_new": lambda w, r: [f"/manage/bases/{w.base.id}/courses/{_course_of(w, r)}/roster.xlsx",
                                f"/manage/bases/{w.base.id}/courses/{_course_of(w, r)}/edit",
                                f"/manage/bases/{w.base.id}"],
    "course_edit": lambda w, r: [f"/manage/bases/{w.base.id}/courses/{w.course.id}/roster.xlsx",
                                 f"/courses/{w.course.id}", f"/manage/bases/{w.base.id}", "/courses"],
    "course_cancel": lambda w, r: [f"/manage/bases/{w.base.id}", f"/courses/{w.course.id}"],
    "disclosure": lambda w, r: [f"/bases/{w.base.id}", f"/manage/bases/{w.base.id}/disclosure"],
    "class_plan": lambda w, r: [f"/manage/bases/{w.base.id}/courses/{w.course.id}/plan"],
    "declaration_new": lambda w, r: ["/me/declarations", f"/me/registration-form/{clock.today().year}.xlsx",
                                     f"/me/registration-form/{clock.today().year}.pdf"],
    "declaration_edit": lambda w, r: ["/me/declarations", f"/me/registration-form/{clock.today().year}.xlsx"],
    "rating": lambda w, r: ["/me/", f"/manage/bases/{w.base.id}/courses/{w.course.id}/roster"],
    "review": lambda w, r: ["/review/", f"/review/{w.declaration.id}"],
    "designate": lambda w, r: ["/regulator/"],
    "base_status": lambda w, r: [f"/regulator/bases/{w.base.id}"],
    "plan_decision": lambda w, r: ["/regulator/"],
    "annual_report": lambda w, r: [f"/manage/bases/{w.base.id}/statistics?year={clock.today().year}"],
    "override": lambda w, r: [f"/regulator/evaluations/{w.evaluation.id}",
                              f"/regulator/evaluations/{w.evaluation.id}.xlsx"],
}


def post_bad(app, w, name, field, value, clients, read_back=False):
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
    # sign-in and registration are rate-limited: after a few failures the answer is the 429 page
    allowed = {200, 302, 303, 400, 404} | ({429} if name in ("login", "register") else set())
    assert response.status_code in allowed, (name, field, response.status_code)
    if response.status_code == 200:
        body = response.get_data(as_text=True)
        for error in re.findall(r'<div class="invalid-feedback[^"]*">(.*?)</div>', body, re.S):
            assert re.search(r"[\u4e00-\u9fff]", error), (name, field, error)
    if read_back and response.status_code in (302, 303) and name in READERS:
        for path in READERS[name](w, response):
            FIGURES["tried"] += 1
            shown = client.get(path)
            assert shown.status_code < 500, (name, field, value[:40], path, shown.status_code)
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
        for value in EDGE_VALUES:
            post_bad(app, world, name, field, value, clients, read_back=True)


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
                  "enrollable", "has_seats", "include_past"]


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


# --- every query parameter on every page ------------------------------------------------------------------

ROLE_OF_AREA = {"learner": "learner", "base_admin": "admin", "reviewer": "reviewer", "regulator": "regulator"}
QUERY_VALUES = ["١٢٣", "٣", "２０２６", "²", "99999999999999999999999", "9" * 19, "2147483648", "-1", "9" * 5000,
                "12\n", "护理\r\n新进展", "\x00"]


def query_names(app) -> list[str]:
    """Every query parameter the site reads, found in its code (query_int, request.args, the API's declared
    parameters, the catalog's and the audit log's GET forms), so that a parameter added later is fuzzed without a
    change here."""
    from blueprints.api.spec import OPERATIONS
    from blueprints.catalog.forms import CatalogSearchForm
    from blueprints.regulator.forms import AuditFilterForm

    names = set()
    for path in (Path(__file__).parent.parent / "blueprints").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r'query_int\(\s*"(\w+)"', text))
        names |= set(re.findall(r'request\.(?:args|values)\.get(?:list)?\(\s*"(\w+)"', text))
        names |= set(re.findall(r'request\.args\[\s*"(\w+)"', text))
    for op in OPERATIONS.values():
        names |= set(op.query)
    with app.test_request_context():
        names |= {field.name for field in CatalogSearchForm()}
        names |= {field.name for field in AuditFilterForm()}
    return sorted(names)


def get_routes(app, w) -> list[tuple[str, str]]:
    """(area, URL) of every GET rule but the static files, filled with the world's objects."""
    values = {"base_id": w.base.id, "course_id": w.course.id, "enrollment_id": w.enrollment.id,
              "declaration_id": w.declaration.id, "evaluation_id": w.evaluation.id, "result_id": w.result.id,
              "plan_id": w.plan.id, "year": clock.today().year, "fmt": "xlsx", "code": "X", "key": "x",
              "variant": "thumb", "external_id": "x"}
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint != "static" and not rule.endpoint.endswith(".static"):
            with app.test_request_context():
                url = app.url_for(rule.endpoint, **{name: values.get(name, 1) for name in rule.arguments})
            found.append((rule.endpoint.partition(".")[0], url))
    return sorted(found)


def clients_of(app, w) -> dict:
    clients = {role: signed_in(app, getattr(w, role)) for role in ROLE_OF_AREA.values()}
    return {area: clients[role] for area, role in ROLE_OF_AREA.items()}


def test_every_query_parameter_on_every_page_is_never_a_server_error(app, world):
    """Odd digits and huge numbers in every parameter the site reads, on every GET route, by the role of its
    area (anonymous elsewhere): ?before= beyond 64 bits on the audit log was a 500."""
    names, routes, clients = query_names(app), get_routes(app, world), clients_of(app, world)
    assert {"year", "before", "action", "region", "base", "status", "per_page", "cursor"} <= set(names)
    anonymous = app.test_client()

    def ask(area, url, params):
        FIGURES["tried"] += 1
        response = clients.get(area, anonymous).get(url, query_string=params)
        if response.status_code >= 500:
            FIGURES["server_errors"] += 1
        assert response.status_code < 500, (url, params, response.status_code)

    for area, url in routes:
        for value in QUERY_VALUES:
            ask(area, url, {name: value for name in names})

    @FUZZ
    @given(route=st.sampled_from(routes), params=st.dictionaries(
        st.sampled_from(names), st.one_of(numbers_as_text, with_line_break, st.sampled_from(NASTY)), max_size=4))
    @example(route=("regulator", "/regulator/audit"), params={"before": "99999999999999999999999"})
    @example(route=("regulator", "/regulator/audit"), params={"before": "١٢٣"})
    @example(route=("regulator", "/regulator/exports/catalog.xlsx"), params={"year": "２０２６"})
    def fuzz(route, params):
        ask(*route, params)

    fuzz()


# --- line breaks: refused in one-line fields, harmless where already stored --------------------------------

def _input_forms() -> list[type]:
    found, todo = [], [InputForm]
    while todo:
        for subclass in todo.pop().__subclasses__():
            found.append(subclass)
            todo.append(subclass)
    return found


def test_every_one_line_field_of_every_form_refuses_a_line_break(app):
    refused, kept = set(), set()
    with app.test_request_context(method="POST"):
        for form_class in _input_forms():
            for field in form_class(formdata=MultiDict()):
                if not isinstance(field, StringField):
                    continue
                for line_break in LINE_BREAKS:
                    form = form_class(formdata=MultiDict({field.name: f"护理{line_break}新进展"}))
                    form[field.name].validate(form)
                    errors = [str(e) for e in form[field.name].errors]
                    # Many lines, or not text a person types on one line: a password is compared as typed (one set
                    # before the rule still signs in), a hidden field is the view's to check.
                    if isinstance(field, (TextAreaField, PasswordField, HiddenField)):
                        assert "不能包含换行" not in errors, (form_class.__name__, field.name)
                        kept.add(f"{form_class.__name__}.{field.name}")
                    elif not LINE_BREAK.search(form[field.name].data or ""):
                        continue  # a field's own filter took it out (a login or an identifier has one spelling)
                    else:
                        assert errors == ["不能包含换行"], (form_class.__name__, field.name, line_break, errors)
                        refused.add(f"{form_class.__name__}.{field.name}")
    FIGURES["tried"] += len(refused) + len(kept)
    assert {"CourseForm.title", "CourseForm.place", "RegisterForm.name", "RegisterForm.employer_name",
            "DesignateForm.name", "DeclarationForm.title", "CancelForm.reason"} <= refused
    assert {"CourseForm.description", "DisclosureForm.scope", "ClassPlanForm.syllabus", "LoginForm.password",
            "ChangePasswordForm.current_password", "ConfirmCalendarForm.digest"} <= kept


def test_a_course_title_with_a_line_break_is_refused_beside_the_field_and_nothing_is_saved(app, world):
    from models import Course

    admin = signed_in(app, world.admin)
    before = db.session.scalar(sa.select(sa.func.count(Course.id)))
    response = admin.post(f"/manage/bases/{world.base.id}/courses/new",
                          data={**course_fields(world), "title": "护理\r\n新进展"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'name="title"[^>]*>\s*<div id="title-error">'
                     r'<div class="invalid-feedback[^"]*">不能包含换行</div>', body)
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == before


API_COURSE = {"title": "医疗质量管理专题", "category": "professional", "field": "卫生", "hours": 12,
              "start_date": (clock.today() + timedelta(days=10)).isoformat(),
              "end_date": (clock.today() + timedelta(days=12)).isoformat(), "mode": "face_to_face",
              "place": "培训楼 201",
              "audience": "医务人员", "contact_person": "李老师", "contact_phone": "028-61234567"}


def test_the_api_refuses_line_breaks_in_one_line_fields_naming_the_field(api, admin_and_base, token_a, running):
    from blueprints.api.schemas import COURSE_INPUT, LINE, SOMETHING_ON_ONE_LINE
    from models import Course

    one_line = sorted(name for name, schema in COURSE_INPUT.items()
                      if schema.get("pattern") in (LINE, SOMETHING_ON_ONE_LINE))
    assert {"title", "place", "audience", "fee_standard", "contact_person"} <= set(one_line)
    for name in one_line:
        for line_break in LINE_BREAKS:
            response = api.post("/api/v1/base/courses", json={**API_COURSE, name: f"护理{line_break}新进展"},
                                headers=token_a)
            FIGURES["tried"] += 1
            assert response.status_code == 400 and response.mimetype == "application/problem+json"
            errors = {e["field"]: e["message"] for e in response.get_json()["errors"]}
            assert "换行" in errors[f"/{name}"], (name, errors)
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 0
    created = api.post("/api/v1/base/courses", json={**API_COURSE, "description": "第一行\n第二行"}, headers=token_a)
    assert created.status_code == 201  # a description is many lines, as the form's text area
    course_id = created.get_json()["id"]
    patched = api.patch(f"/api/v1/base/courses/{course_id}", json={"title": "护理\u2028新进展"}, headers=token_a)
    assert patched.status_code == 400 and patched.get_json()["errors"][0]["field"] == "/title"
    assert db.session.get(Course, course_id).title == API_COURSE["title"]
    course = running(admin_and_base[1])
    pushed = api.post("/api/v1/base/completions", headers=token_a, json={"completions": [
        {"external_id": "x-1", "course_id": course.id, "name": "陈\n晓", "phone": "13900000001"}]})
    assert pushed.status_code == 400 and pushed.get_json()["errors"][0]["field"] == "/completions/0/name"


@pytest.mark.parametrize("hours", ["9" * 5000, "9" * 23, "١٢", "２", "²"])
def test_odd_hours_in_an_imported_roster_are_a_row_error_not_a_server_error(app, world, hours):
    """int() refuses more than 4,300 digits with a ValueError: a roster cell of 5,000 was a 500."""
    admin = signed_in(app, world.admin)
    data = f"姓名,手机号,学时\n陈晓,13900000099,{hours}\n".encode()
    response = admin.post(f"/manage/bases/{world.base.id}/courses/{world.course.id}/roster/import",
                          data={"roster": (BytesIO(data), "名单.csv")}, content_type="multipart/form-data")
    FIGURES["tried"] += 1
    assert response.status_code == 200 and "学时应为 1 到" in response.get_data(as_text=True)


def test_text_with_line_breaks_already_stored_is_shown_by_every_page_and_export(app, world):
    """Stored before the forms and the API refused line breaks: every page and export still answers."""
    broken = "护理\r\n新进展\u2028第三行\x85"
    w = world
    for row, names in ((w.course, ("title", "place", "audience", "fee_standard", "contact_person")),
                       (w.base, ("name", "contact_person", "address")),
                       (w.learner, ("name", "employer_name", "professional_title")), (w.employer, ("name",)),
                       (w.declaration, ("title", "organiser")), (w.plan, ("place",)),
                       (w.result, ("override_reason",))):
        for name in names:
            assert hasattr(row, name), name
            setattr(row, name, broken)
    db.session.commit()
    clients = clients_of(app, w)
    anonymous = app.test_client()
    for area, url in get_routes(app, w):
        for client in {clients.get(area, anonymous), anonymous}:
            FIGURES["tried"] += 1
            response = client.get(url)
            assert response.status_code < 500, (url, response.status_code)


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
