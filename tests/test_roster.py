"""Base admins' rosters: counts, completion (one or many), attendance, XLSX export and the all-or-nothing import."""

import io
import random
import re
import time
import zipfile
from datetime import date, timedelta
from itertools import count

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook
from werkzeug.security import generate_password_hash

from extensions import db
from models import (
    Attendance,
    Category,
    Course,
    CourseStatus,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    HoursRecord,
    HoursSource,
    Role,
    User,
)
from models.enrollment import SEAT_HOLDING
from services import completions, enrollment, resident_ids, roster
from services import courses as course_service
from services.errors import DomainError
from services.infra import clock
from tests.conftest import PASSWORD, count_queries, login

CONFIRMED, WAITLISTED = EnrollmentStatus.CONFIRMED, EnrollmentStatus.WAITLISTED
COMPLETED, CANCELLED = EnrollmentStatus.COMPLETED, EnrollmentStatus.CANCELLED
# Courses here run over New Year, so "the year the course ended" differs from the year it started.
BEFORE, START, END, AFTER = date(2025, 12, 1), date(2025, 12, 30), date(2026, 1, 2), date(2026, 1, 5)

_serial = count(1)


def at(monkeypatch, day: date) -> None:
    monkeypatch.setattr(clock, "today", lambda: day)


def id_number_for(n: int) -> str:
    first17 = f"51010419900101{n % 1000:03d}"
    return first17 + resident_ids.check_character(first17)


@pytest.fixture
def make_learner(make_user):
    """A learner with a phone and an (encrypted) resident ID number, as registration leaves them."""

    def make(name=None, **kw):
        n = next(_serial)
        number = kw.pop("id_number", id_number_for(n))
        return make_user(
            name=name or f"学员{n}", phone=kw.pop("phone", f"139{n:08d}"),
            id_number_ciphertext=resident_ids.encrypt(number), id_number_hmac=resident_ids.fingerprint(number),
            id_number_masked=resident_ids.mask(number),
            employer_name="成都市第一人民医院", **kw,
        )

    return make


@pytest.fixture
def course(monkeypatch, admin_and_base, make_course):
    """A 16-hour professional course over New Year with 10 seats; today is before it starts."""
    at(monkeypatch, BEFORE)
    return make_course(admin_and_base[1], start_date=START, end_date=END, hours=16, capacity=10,
                       category=Category.PROFESSIONAL)


@pytest.fixture
def admin_client(app, admin_and_base):
    browser = app.test_client()
    assert login(browser, admin_and_base[0]).status_code == 302
    flashes(browser)  # the welcome message
    return browser


def url(course, suffix="") -> str:
    return f"/manage/bases/{course.base_id}/courses/{course.id}/roster{suffix}"


def enroll_all(course, learners) -> list[int]:
    return [enrollment.enroll(learner, course.id).enrollment.id for learner in learners]


def state(course_id: int) -> dict:
    """Everything completion or import may change for the course: to compare before and after."""
    db.session.expire_all()
    return {
        "enrollments": db.session.execute(
            sa.select(Enrollment.id, Enrollment.learner_id, Enrollment.status, Enrollment.source)
            .where(Enrollment.course_id == course_id).order_by(Enrollment.id)
        ).all(),
        "hours": db.session.execute(
            sa.select(HoursRecord.learner_id, HoursRecord.hours).order_by(HoursRecord.id)
        ).all(),
        "seats": db.session.get(Course, course_id).seats_taken,
    }


def seats(course_id: int) -> int:
    db.session.expire_all()
    taken = db.session.get(Course, course_id).seats_taken
    held = db.session.scalar(sa.select(sa.func.count(Enrollment.id)).where(
        Enrollment.course_id == course_id, Enrollment.status.in_(SEAT_HOLDING)))
    assert taken == held
    return taken


def credited(course_id: int) -> dict[int, tuple]:
    return {r.learner_id: (r.hours, r.year, r.category, r.source, r.enrollment_id) for r in db.session.execute(
        sa.select(HoursRecord).where(HoursRecord.course_id == course_id)).scalars()}


def status_of(enrollment_id: int) -> EnrollmentStatus:
    return db.session.scalar(sa.select(Enrollment.status).where(Enrollment.id == enrollment_id))


def flashes(client) -> list[tuple[str, str]]:
    with client.session_transaction() as session:
        return list(session.pop("_flashes", []))


# --- the roster page -------------------------------------------------------------------------------------

def test_roster_counts_by_status(monkeypatch, admin_and_base, admin_client, make_learner, course):
    admin, _base = admin_and_base
    people = [make_learner() for _ in range(6)]
    course.capacity = 3
    db.session.commit()
    ids = enroll_all(course, people)
    enrollment.cancel(people[5], ids[5])
    at(monkeypatch, AFTER)
    completions.complete_enrollments(admin, course, [ids[0]], None)

    counts = roster.roster(db.session.get(Course, course.id)).counts
    assert counts == {WAITLISTED: 2, CONFIRMED: 2, COMPLETED: 1, CANCELLED: 1}

    page = admin_client.get(url(course)).text
    for status, n in counts.items():
        assert f'data-status="{status.value}">{n}</div>' in page
    seated = page[page.index('id="roster-seated"'):page.index("</table>", page.index('id="roster-seated"'))]
    assert [name in seated for name in (p.name for p in people)] == [True, True, True, False, False, False]
    assert seated.count('name="enrollment"') == 2  # only confirmed learners can be ticked
    waitlist = page[page.index('id="roster-waitlist"'):]
    assert waitlist.index(people[3].name) < waitlist.index(people[4].name)
    assert people[5].name not in page


def test_roster_shows_masked_id_numbers_only(admin_client, make_learner, course):
    learner = make_learner()
    enroll_all(course, [learner])
    page = admin_client.get(url(course)).text
    number = resident_ids.decrypt(learner.id_number_ciphertext)
    assert resident_ids.mask(number) in page
    assert number not in page


def test_roster_page_query_count_does_not_grow(monkeypatch, app, admin_client, make_learner, make_course,
                                               admin_and_base):
    admin, base = admin_and_base
    at(monkeypatch, BEFORE)
    small = make_course(base, start_date=START, end_date=END, capacity=2)
    large = make_course(base, start_date=START, end_date=END, capacity=50)
    enroll_all(small, [make_learner() for _ in range(3)])
    large_ids = enroll_all(large, [make_learner() for _ in range(60)])
    at(monkeypatch, AFTER)
    completions.complete_enrollments(admin, large, large_ids[:20], None)
    enrollment.rate(db.session.get(Enrollment, large_ids[0]).learner, large_ids[0], 5, "")

    def queries(address):
        assert admin_client.get(address).status_code == 200
        # Requests share the test's session; start this one with an empty identity map, as in production.
        db.session.remove()
        with count_queries(db.engine) as statements:
            page = admin_client.get(address).text
        return statements, page

    small_url, large_url = url(small), url(large)
    (few, _), (many, page) = queries(small_url), queries(large_url)
    assert page.count('name="enrollment"') == 30 and "学员评分 5.0（1 人评价）" in page
    assert len(few) == len(many), "\n".join(many)
    # The user, the course with its base, the enrollments with their learners, the counts and ratings.
    assert len(many) <= 4, "\n".join(many)


def test_another_bases_course_is_404(monkeypatch, make_user, make_base, make_course, admin_client, make_learner):
    at(monkeypatch, BEFORE)
    other_admin = make_user(Role.BASE_ADMIN)
    other = make_course(make_base(admin=other_admin), start_date=START, end_date=END)
    held = enroll_all(other, [make_learner()])
    at(monkeypatch, AFTER)
    before = state(other.id)
    assert admin_client.get(url(other)).status_code == 404
    assert admin_client.post(url(other, "/complete"), data={"enrollment": held}).status_code == 404
    assert admin_client.get(url(other, "/attendance")).status_code == 404
    assert admin_client.post(url(other, "/attendance"), data={"present": held}).status_code == 404
    assert admin_client.get(url(other, "/import")).status_code == 404
    assert admin_client.post(url(other, "/import"), data={"roster": (io.BytesIO(b"x"), "a.csv")},
                             content_type="multipart/form-data").status_code == 404
    assert admin_client.get(url(other, ".xlsx")).status_code == 404
    assert admin_client.get(f"/manage/bases/{other.base_id}/courses/{other.id}/roster").status_code == 404
    assert state(other.id) == before


def test_roster_is_for_base_admins_only(client, login_as, make_learner, course):
    assert client.get(url(course)).status_code == 302
    login_as(make_learner())
    assert client.get(url(course)).status_code == 403


# --- completion ------------------------------------------------------------------------------------------

def test_completing_one_learner_credits_the_course_hours_to_the_end_year(monkeypatch, admin_and_base, admin_client,
                                                                         make_learner, course):
    admin, _base = admin_and_base
    learner, other = make_learner(), make_learner()
    first, second = enroll_all(course, [learner, other])
    at(monkeypatch, AFTER)

    response = admin_client.post(url(course, "/complete"), data={"enrollment": str(first)})

    assert response.status_code == 302 and response.headers["Location"] == url(course)
    assert flashes(admin_client) == [("success", "已为 1 名学员记录结业，学时已计入其年度学时")]
    done = db.session.get(Enrollment, first)
    assert (done.status, done.completed_by_id, done.completed_at is not None) == (COMPLETED, admin.id, True)
    assert credited(course.id) == {learner.id: (16, 2026, Category.PROFESSIONAL, HoursSource.COURSE, first)}
    assert status_of(second) == CONFIRMED
    assert seats(course.id) == 2


def test_completing_several_learners_at_once(monkeypatch, admin_client, make_learner, course):
    people = [make_learner() for _ in range(4)]
    ids = enroll_all(course, people)
    at(monkeypatch, AFTER)

    admin_client.post(url(course, "/complete"), data={"enrollment": [str(i) for i in ids[:3]]})

    assert flashes(admin_client) == [("success", "已为 3 名学员记录结业，学时已计入其年度学时")]
    assert [status_of(i) for i in ids] == [COMPLETED, COMPLETED, COMPLETED, CONFIRMED]
    assert credited(course.id) == {
        p.id: (16, 2026, Category.PROFESSIONAL, HoursSource.COURSE, i) for p, i in zip(people[:3], ids[:3], strict=True)
    }
    assert seats(course.id) == 4


@pytest.mark.parametrize("wrong", ["waitlisted", "cancelled", "completed", "other_course", "missing"])
def test_completing_anyone_not_confirmed_in_this_course_changes_nothing(
    monkeypatch, admin_and_base, admin_client, make_learner, make_course, course, wrong
):
    admin, base = admin_and_base
    course.capacity = 2
    db.session.commit()
    other_course = make_course(base, start_date=START, end_date=END)
    people = [make_learner() for _ in range(4)]
    ok, done, queued, gone = enroll_all(course, people[:2]) + enroll_all(course, people[2:])
    elsewhere, = enroll_all(other_course, [people[0]])
    enrollment.cancel(people[3], gone)
    at(monkeypatch, AFTER)
    completions.complete_enrollments(admin, course, [done], None)
    target = {"waitlisted": queued, "cancelled": gone, "completed": done, "other_course": elsewhere,
              "missing": 999_999}[wrong]
    before, before_other = state(course.id), state(other_course.id)

    with pytest.raises(DomainError) as raised:
        completions.complete_enrollments(admin, db.session.get(Course, course.id), [ok, target], None)
    assert "未做任何记录" in raised.value.message or "未报名本课程" in raised.value.message
    assert state(course.id) == before and state(other_course.id) == before_other

    admin_client.post(url(course, "/complete"), data={"enrollment": [str(ok), str(target)]})
    assert [category for category, _message in flashes(admin_client)] == ["danger"]
    assert state(course.id) == before and state(other_course.id) == before_other
    assert status_of(ok) == CONFIRMED


def test_completion_before_the_course_starts_is_refused(monkeypatch, admin_and_base, admin_client, make_learner,
                                                        course):
    held, = enroll_all(course, [make_learner()])
    at(monkeypatch, START - timedelta(days=1))
    before = state(course.id)
    with pytest.raises(DomainError, match="课程尚未开始，不能记录结业"):
        completions.complete_enrollments(admin_and_base[0], course, [held], None)
    admin_client.post(url(course, "/complete"), data={"enrollment": str(held)})
    assert flashes(admin_client) == [("danger", "课程尚未开始，不能记录结业")]
    assert state(course.id) == before


def test_completion_on_the_first_day_is_allowed(monkeypatch, admin_and_base, make_learner, course):
    held, = enroll_all(course, [make_learner()])
    at(monkeypatch, START)
    assert completions.complete_enrollments(admin_and_base[0], course, [held], START) == 1


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_submitting_the_roster_with_nobody_ticked_says_so(monkeypatch, client, admin_and_base, make_learner, course):
    """As in production: CSRF on, the roster page's own form (its token, no box ticked) sent back."""
    enroll_all(course, [make_learner()])
    at(monkeypatch, AFTER)
    with client.session_transaction() as session:  # signed in without posting the (CSRF-protected) login form
        session["_user_id"] = admin_and_base[0].get_id()
        session["_fresh"] = True
    page = client.get(url(course)).text
    token = re.search(r'action="[^"]*/roster/complete">\s*<input id="csrf_token" name="csrf_token" type="hidden" '
                      r'value="([^"]+)"', page).group(1)
    before = state(course.id)

    response = client.post(url(course, "/complete"), data={"csrf_token": token})

    assert state(course.id) == before
    # The service has a message for exactly this; the view answers a bare 400 page instead.
    assert response.status_code == 302
    assert flashes(client) == [("danger", "请先勾选要记录结业的学员")]


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_roster_completion_without_csrf_token_is_refused(monkeypatch, client, admin_and_base, make_learner, course):
    held, = enroll_all(course, [make_learner()])
    at(monkeypatch, AFTER)
    with client.session_transaction() as session:
        session["_user_id"] = admin_and_base[0].get_id()
        session["_fresh"] = True
    response = client.post(url(course, "/complete"), data={"enrollment": str(held)})
    assert response.status_code == 400
    assert status_of(held) == CONFIRMED


# --- attendance ------------------------------------------------------------------------------------------

def attendance_marks(course_id: int, day: date) -> dict[int, bool]:
    db.session.expire_all()
    return dict(db.session.execute(
        sa.select(Attendance.enrollment_id, Attendance.present)
        .join(Enrollment, Enrollment.id == Attendance.enrollment_id)
        .where(Enrollment.course_id == course_id, Attendance.day == day)
    ).all())


def test_attendance_saves_present_and_absent(monkeypatch, admin_client, make_learner, course):
    course.capacity = 2
    db.session.commit()
    here, away, queued = enroll_all(course, [make_learner() for _ in range(3)])
    at(monkeypatch, AFTER)
    day = START + timedelta(days=1)

    page = admin_client.get(url(course, f"/attendance?day={day.isoformat()}"))
    assert page.status_code == 200 and page.text.count('name="present"') == 2

    response = admin_client.post(url(course, f"/attendance?day={day.isoformat()}"), data={"present": [str(here)]})
    assert response.status_code == 302
    assert attendance_marks(course.id, day) == {here: True, away: False}
    assert attendance_marks(course.id, START) == {}

    # Saving the day again replaces the marks instead of adding rows; a waitlisted id is ignored.
    admin_client.post(url(course, f"/attendance?day={day.isoformat()}"), data={"present": [str(away), str(queued)]})
    assert attendance_marks(course.id, day) == {here: False, away: True}
    assert db.session.scalar(sa.select(sa.func.count(Attendance.id))) == 2


@pytest.mark.parametrize("day", [START - timedelta(days=1), END + timedelta(days=1), "2026-13-01", "x"])
def test_attendance_for_a_day_outside_the_course_is_rejected(monkeypatch, admin_and_base, admin_client,
                                                             make_learner, course, day):
    held, = enroll_all(course, [make_learner()])
    at(monkeypatch, AFTER)
    value = day.isoformat() if isinstance(day, date) else day
    assert admin_client.get(url(course, f"/attendance?day={value}")).status_code == 404
    assert admin_client.post(url(course, f"/attendance?day={value}"), data={"present": [str(held)]}).status_code == 404
    if isinstance(day, date):
        with pytest.raises(DomainError, match="所选日期不是本课程的培训日"):
            roster.record_attendance(admin_and_base[0], course, day, {held})
    assert db.session.scalar(sa.select(sa.func.count(Attendance.id))) == 0


def test_attendance_for_a_future_course_day_is_refused(monkeypatch, admin_and_base, admin_client, make_learner,
                                                       course):
    held, = enroll_all(course, [make_learner()])
    at(monkeypatch, START)
    with pytest.raises(DomainError, match="不能记录未来日期的考勤"):
        roster.record_attendance(admin_and_base[0], course, END, {held})
    admin_client.post(url(course, f"/attendance?day={END.isoformat()}"), data={"present": [str(held)]})
    assert db.session.scalar(sa.select(sa.func.count(Attendance.id))) == 0


# --- export ----------------------------------------------------------------------------------------------

def test_xlsx_export_shows_masked_id_numbers_only(monkeypatch, admin_client, make_learner, course):
    course.capacity = 1
    db.session.commit()
    seated, queued = make_learner(phone="13912345678"), make_learner()
    enroll_all(course, [seated, queued])
    numbers = [resident_ids.decrypt(p.id_number_ciphertext) for p in (seated, queued)]

    response = admin_client.get(url(course, ".xlsx"))

    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == course.title
    assert rows[1][:4] == ["序号", "姓名", "手机号", "身份证号"]
    assert [(r[1], r[2], r[3], r[6]) for r in rows[2:]] == [
        (seated.name, "139****5678", resident_ids.mask(numbers[0]), "已报名"),
        (queued.name, f"{queued.phone[:3]}****{queued.phone[-4:]}", resident_ids.mask(numbers[1]), "候补中"),
    ]
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        raw = b"".join(archive.read(name) for name in archive.namelist()).decode("utf-8", "replace")
    for number in numbers:
        assert number not in raw and number[6:14] not in raw
    assert "13912345678" not in raw


# --- import ----------------------------------------------------------------------------------------------

def upload(client, course, data: bytes, filename: str = "名单.csv"):
    return client.post(url(course, "/import"), data={"roster": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def import_errors(html: str) -> list[tuple[str, str]]:
    """The rows of the error table on the import page: (row number, reason)."""
    if 'id="import-errors"' not in html:
        return []
    table = html[html.index('id="import-errors"'):html.index("</table>", html.index('id="import-errors"'))]
    return re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", table)


def field_errors(html: str) -> list[str]:
    return re.findall(r'<div class="invalid-feedback d-block">(.*?)</div>', html)


def xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def class_of_three(make_learner, course):
    """张三 and 李四 enrolled online; 王五 registered but did not enroll."""
    people = {name: make_learner(name=name) for name in ("张三", "李四", "王五")}
    enroll_all(course, [people["张三"], people["李四"]])
    return people


def test_csv_import_by_phone_completes_and_adds_learners(monkeypatch, admin_client, course, class_of_three):
    p = class_of_three
    at(monkeypatch, AFTER)
    data = f"姓名,手机号,学时\n张三,{p['张三'].phone},\n李四,{p['李四'].phone},8\n\n王五,{p['王五'].phone},12\n"

    response = upload(admin_client, course, data.encode())

    assert response.status_code == 302 and response.headers["Location"] == url(course)
    assert flashes(admin_client) == [("success", "导入成功：3 名学员记录结业，其中 1 人此前未在线报名")]
    got = credited(course.id)
    assert {lid: h[:4] for lid, h in got.items()} == {
        p["张三"].id: (16, 2026, Category.PROFESSIONAL, HoursSource.IMPORT),
        p["李四"].id: (8, 2026, Category.PROFESSIONAL, HoursSource.IMPORT),
        p["王五"].id: (12, 2026, Category.PROFESSIONAL, HoursSource.IMPORT),
    }
    rows = {r.learner_id: r for r in db.session.execute(
        sa.select(Enrollment).where(Enrollment.course_id == course.id)).scalars()}
    assert {r.status for r in rows.values()} == {COMPLETED}
    assert rows[p["王五"].id].source == EnrollmentSource.IMPORT
    assert rows[p["张三"].id].source == EnrollmentSource.ONLINE
    assert {lid: h[4] for lid, h in got.items()} == {lid: r.id for lid, r in rows.items()}
    assert seats(course.id) == 3


def test_xlsx_import_by_id_number(monkeypatch, admin_client, course, class_of_three):
    p = class_of_three
    numbers = {name: resident_ids.decrypt(person.id_number_ciphertext) for name, person in p.items()}
    at(monkeypatch, AFTER)
    data = xlsx([
        ["姓名", "身份证号码", "学时"],
        ["张三", numbers["张三"].lower(), None],
        ["李四", f" {numbers['李四']} ", 10],
        ["王五", numbers["王五"], 16.0],
    ])

    response = upload(admin_client, course, data, "结业名单.xlsx")

    assert response.status_code == 302, import_errors(response.text) or field_errors(response.text)
    assert {lid: h[0] for lid, h in credited(course.id).items()} == {
        p["张三"].id: 16, p["李四"].id: 10, p["王五"].id: 16}
    assert seats(course.id) == 3


def test_xlsx_import_with_phone_numbers_typed_as_numbers(monkeypatch, admin_client, course, class_of_three):
    p = class_of_three
    at(monkeypatch, AFTER)
    data = xlsx([["姓名", "手机号", "学时"], ["张三", int(p["张三"].phone), 8], ["王五", int(p["王五"].phone), None]])
    response = upload(admin_client, course, data, "名单.xlsx")
    assert response.status_code == 302, import_errors(response.text) or field_errors(response.text)
    assert {lid: h[0] for lid, h in credited(course.id).items()} == {p["张三"].id: 8, p["王五"].id: 16}


def test_gb18030_csv_is_accepted(monkeypatch, admin_client, course, class_of_three):
    p = class_of_three
    at(monkeypatch, AFTER)
    data = f"姓名,手机号,学时\r\n张三,{p['张三'].phone},6\r\n王五,{p['王五'].phone},\r\n".encode("gb18030")
    response = upload(admin_client, course, data)
    assert response.status_code == 302, field_errors(response.text)
    assert {lid: h[0] for lid, h in credited(course.id).items()} == {p["张三"].id: 6, p["王五"].id: 16}


def test_utf8_csv_with_bom_and_spaced_headers_is_accepted(monkeypatch, admin_client, course, class_of_three):
    p = class_of_three
    at(monkeypatch, AFTER)
    data = f"\ufeff姓 名, 手机号 ,学时\n张三 , {p['张三'].phone} , 4 \n".encode()
    assert upload(admin_client, course, data).status_code == 302
    assert {lid: h[0] for lid, h in credited(course.id).items()} == {p["张三"].id: 4}


def test_import_promotes_a_waitlisted_learner_into_a_free_seat(monkeypatch, admin_client, make_learner, course):
    course.capacity = 2
    db.session.commit()
    a, b, c = (make_learner() for _ in range(3))
    _, held_b, queued_c = enroll_all(course, [a, b, c])
    enrollment.cancel(b, held_b)  # c moves up; the seat count stays 2
    at(monkeypatch, AFTER)
    data = f"姓名,手机号\n{a.name},{a.phone}\n{c.name},{c.phone}\n".encode()
    assert upload(admin_client, course, data).status_code == 302
    assert status_of(queued_c) == COMPLETED
    assert seats(course.id) == 2


def test_import_refuses_more_new_learners_than_free_seats(monkeypatch, admin_client, make_learner, course,
                                                          class_of_three):
    course.capacity = 2
    db.session.commit()
    p = class_of_three
    at(monkeypatch, AFTER)
    before = state(course.id)
    data = f"姓名,手机号\n张三,{p['张三'].phone}\n王五,{p['王五'].phone}\n".encode()
    response = upload(admin_client, course, data)
    assert response.status_code == 200
    assert import_errors(response.text) == [("全部", f"课程“{course.title}”只剩 0 个名额，本次有 1 人未占名额")]
    assert state(course.id) == before


BAD_ROWS = [
    # One answer whether the phone is nobody's, or somebody's under another name (services.completions).
    pytest.param(lambda p: "赵六,13700000009,", "未找到姓名与手机号都相符的注册学员", id="unknown-phone"),
    pytest.param(lambda p: f"王二,{p['李四'].phone},", "未找到姓名与手机号都相符的注册学员", id="name-mismatch"),
    pytest.param(lambda p: f"李四,{p['李四'].phone},0", "学时应为 1 到 16 之间的整数", id="zero-hours"),
    pytest.param(lambda p: f"李四,{p['李四'].phone},abc", "学时应为 1 到 16 之间的整数", id="text-hours"),
    pytest.param(lambda p: f"李四,{p['李四'].phone},17", "学时应为 1 到 16 之间的整数", id="too-many-hours"),
    pytest.param(lambda p: f"李四,{p['李四'].phone},-3", "学时应为 1 到 16 之间的整数", id="negative-hours"),
    pytest.param(lambda p: f"李四,{p['李四'].phone},7.5", "学时应为 1 到 16 之间的整数", id="fractional-hours"),
    pytest.param(lambda p: f"李四,{p['李四'].phone},①", "学时应为 1 到 16 之间的整数", id="circled-digit-hours"),
    pytest.param(lambda p: f"张三,{p['张三'].phone},", "与第 2 行重复", id="duplicate-row"),
    pytest.param(lambda p: "李四,,", "缺少手机号或身份证号", id="no-phone"),
    pytest.param(lambda p: f"基地管理员,{p['admin'].phone},", "未找到姓名与手机号都相符的注册学员",
                 id="not-a-learner"),
]


@pytest.mark.parametrize(("bad_row", "reason"), BAD_ROWS)
def test_one_bad_row_saves_nothing_and_is_listed(monkeypatch, make_user, admin_client, course, class_of_three,
                                                 bad_row, reason):
    people = dict(class_of_three, admin=make_user(Role.BASE_ADMIN, phone="13700000001"))
    at(monkeypatch, AFTER)
    before = state(course.id)
    data = f"姓名,手机号,学时\n张三,{people['张三'].phone},\n{bad_row(people)}\n王五,{people['王五'].phone},\n"

    response = upload(admin_client, course, data.encode())

    assert response.status_code == 200
    assert import_errors(response.text) == [("3", reason)]
    assert field_errors(response.text) == ["名单有 1 处错误，未导入任何记录"]
    assert state(course.id) == before


def test_already_completed_learner_rejects_the_whole_file(monkeypatch, admin_and_base, admin_client, course,
                                                         class_of_three):
    p = class_of_three
    at(monkeypatch, AFTER)
    held = db.session.scalar(sa.select(Enrollment.id).where(Enrollment.learner_id == p["李四"].id))
    completions.complete_enrollments(admin_and_base[0], course, [held], None)
    before = state(course.id)
    data = f"姓名,手机号\n张三,{p['张三'].phone}\n李四,{p['李四'].phone}\n".encode()
    response = upload(admin_client, course, data)
    assert import_errors(response.text) == [("3", "该学员已记录结业，请勿重复导入")]
    assert state(course.id) == before


def test_every_bad_row_is_listed_in_order(monkeypatch, admin_client, course, class_of_three):
    p = class_of_three
    numbers = {name: resident_ids.decrypt(person.id_number_ciphertext) for name, person in p.items()}
    at(monkeypatch, AFTER)
    before = state(course.id)
    data = xlsx([
        ["姓名", "身份证号", "学时"],
        ["张三", numbers["张三"], 99],
        ["李四", numbers["李四"][:17] + ("0" if numbers["李四"][-1] != "0" else "1"), None],
        ["王五", numbers["王五"], None],
        ["某某", "44030419850612301" + resident_ids.check_character("44030419850612301"), None],  # nobody's
    ])
    response = upload(admin_client, course, data, "名单.xlsx")
    assert import_errors(response.text) == [
        ("2", "学时应为 1 到 16 之间的整数"), ("3", "身份证号校验位不正确，请核对"),
        ("5", "未找到姓名与身份证号都相符的注册学员"),
    ]
    assert field_errors(response.text) == ["名单有 3 处错误，未导入任何记录"]
    assert state(course.id) == before


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.mark.parametrize(("data", "filename", "message"), [
    pytest.param("名字,电话\n张三,13900000001\n".encode(), "名单.csv",
                 "表头应包含“姓名”，以及“手机号”或“身份证号”（可选“学时”“结业日期”）", id="wrong-columns"),
    pytest.param("姓名,学时\n张三,8\n".encode(), "名单.csv",
                 "表头应包含“姓名”，以及“手机号”或“身份证号”（可选“学时”“结业日期”）", id="no-phone-or-id-column"),
    pytest.param(b"", "名单.csv", "文件是空的", id="empty"),
    pytest.param("姓名,手机号,学时\n".encode(), "名单.csv", "名单中没有学员", id="header-only"),
    pytest.param(PNG, "名单.xlsx", "文件不是 XLSX 或 CSV 表格", id="png-named-xlsx"),
    pytest.param(b"PK\x03\x04" + random.Random(7).randbytes(2000), "名单.xlsx",
                 "无法读取该 XLSX 文件，请确认文件未损坏", id="broken-zip"),
    pytest.param(None, "名单.xlsx", None, id="random-bytes"),
])
def test_unreadable_files_give_a_chinese_error_and_save_nothing(monkeypatch, admin_client, course, class_of_three,
                                                                data, filename, message):
    at(monkeypatch, AFTER)
    if data is None:
        data = random.Random(11).randbytes(4096)
    before = state(course.id)
    response = upload(admin_client, course, data, filename)
    assert response.status_code == 200
    errors = field_errors(response.text)
    assert len(errors) == 1
    if message:
        assert errors == [message]
    else:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in errors[0]), errors
    assert state(course.id) == before


@pytest.mark.parametrize("app_config", [{"ROSTER_MAX_BYTES": 2048}])
def test_file_above_the_size_limit_is_refused(monkeypatch, admin_client, course, class_of_three):
    p = class_of_three
    at(monkeypatch, AFTER)
    before = state(course.id)
    data = (f"姓名,手机号\n张三,{p['张三'].phone}\n" + "\n" * 3000).encode()
    assert len(data) > 2048
    response = upload(admin_client, course, data)
    assert response.status_code == 200
    errors = field_errors(response.text)
    assert len(errors) == 1 and errors[0].startswith("文件不能超过")
    assert state(course.id) == before
    # A file just under the limit goes through.
    assert upload(admin_client, course, data[:2048]).status_code == 302


def test_import_without_a_file_asks_for_one(monkeypatch, admin_client, course):
    at(monkeypatch, AFTER)
    response = admin_client.post(url(course, "/import"), data={}, content_type="multipart/form-data")
    assert response.status_code == 200
    assert field_errors(response.text) == ["请选择名单文件"]


def test_import_before_the_course_starts_is_refused(monkeypatch, admin_client, course, class_of_three):
    p = class_of_three
    before = state(course.id)
    response = upload(admin_client, course, f"姓名,手机号\n张三,{p['张三'].phone}\n".encode())
    assert field_errors(response.text) == ["课程尚未开始，不能记录结业"]
    assert state(course.id) == before


def test_import_into_a_cancelled_course_is_refused(monkeypatch, admin_and_base, admin_client, course, class_of_three):
    p = class_of_three
    course_service.change_status(admin_and_base[0], course, CourseStatus.CANCELLED, "讲师临时有事")
    at(monkeypatch, AFTER)
    before = state(course.id)
    response = upload(admin_client, course, f"姓名,手机号\n张三,{p['张三'].phone}\n王五,{p['王五'].phone}\n".encode())
    # A cancelled course never took place: importing it must not credit hours (or re-seat anyone).
    assert response.status_code == 200
    assert state(course.id) == before
    assert credited(course.id) == {}


# --- a large import --------------------------------------------------------------------------------------

def test_ten_thousand_row_import(monkeypatch, admin_and_base, make_course, city):
    admin, base = admin_and_base
    at(monkeypatch, BEFORE)
    course = make_course(base, start_date=START, end_date=END, hours=8, capacity=None, category=Category.PUBLIC)
    password_hash = generate_password_hash(PASSWORD, "pbkdf2:sha256:1")
    rows = [
        {"name": f"学员{n:05d}", "phone": f"137{n:08d}", "password_hash": password_hash, "role": Role.LEARNER,
         "region_id": city.id}
        for n in range(10_000)
    ]
    db.session.execute(sa.insert(User), rows)
    db.session.commit()
    lines = ["姓名,手机号,学时"] + [f"{r['name']},{r['phone']},{'' if n % 2 else 4}" for n, r in enumerate(rows)]
    data = "\n".join(lines).encode()
    at(monkeypatch, AFTER)

    started = time.perf_counter()
    report = roster.import_completions(admin, db.session.get(Course, course.id), data)
    elapsed = time.perf_counter() - started
    print(f"\n10,000-row roster import: {elapsed:.2f} s")

    assert (report.ok, report.completed, report.added) == (True, 10_000, 10_000)
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id)).where(
        Enrollment.course_id == course.id, Enrollment.status == COMPLETED)) == 10_000
    assert db.session.execute(
        sa.select(sa.func.count(HoursRecord.id), sa.func.sum(HoursRecord.hours))
        .where(HoursRecord.course_id == course.id, HoursRecord.year == 2026)
    ).one() == (10_000, 5_000 * 4 + 5_000 * 8)
    assert seats(course.id) == 10_000
