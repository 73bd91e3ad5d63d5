"""A completion has a date (issue 14, item 1): the roster page, a roster file and the API record it one way
(services.completions), and the hours, the trainees and the projects count in its year, Asia/Shanghai's."""

import io
import re
from datetime import UTC, date, datetime

import flask_migrate
import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from extensions import db
from models import (
    Category,
    Course,
    Enrollment,
    EnrollmentStatus,
    HoursRecord,
    Mode,
    Role,
    TrainingBase,
)
from services import completions, evaluation, exports, resident_ids
from services.errors import DomainError
from services.infra import clock
from tests.conftest import login, totals_by_year

REAL_TODAY = clock.today  # read at import, before any fixture patches it
# 23:59 on New Year's Eve and 00:00 on New Year's Day in Shanghai, as the UTC instants they are.
EVE_2359 = datetime(2026, 12, 31, 15, 59, tzinfo=UTC)
NEW_YEAR_0000 = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


def frozen_at(monkeypatch, instant: datetime) -> None:
    """The real clock.today(), its datetime.now() frozen at ``instant``: the Shanghai date is the one
    services.infra.clock derives itself (a UTC date would still say 31 December at 00:00 on 1 January)."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return instant.astimezone(tz) if tz else instant.astimezone(UTC).replace(tzinfo=None)

    monkeypatch.setattr(clock, "datetime", Frozen)
    monkeypatch.setattr(clock, "today", REAL_TODAY)


def on(monkeypatch, day: date) -> None:
    monkeypatch.setattr(clock, "today", lambda: day)


@pytest.fixture
def admin(admin_and_base):
    return admin_and_base[0]


@pytest.fixture
def base(admin_and_base):
    return admin_and_base[1]


@pytest.fixture
def over_new_year(monkeypatch, base, make_course):
    """A self-paced public course from 1 December 2026 to 31 January 2027 (made while it had not started)."""
    on(monkeypatch, date(2026, 11, 1))
    return make_course(base, start_date=date(2026, 12, 1), end_date=date(2027, 1, 31), mode=Mode.SELF_PACED,
                       category=Category.PUBLIC, hours=30, capacity=None, place="线上")


@pytest.fixture
def class_in_december(monkeypatch, base, make_course):
    """A face-to-face class from 1 to 10 December 2026."""
    on(monkeypatch, date(2026, 11, 1))
    return make_course(base, start_date=date(2026, 12, 1), end_date=date(2026, 12, 10), hours=16)


def admin_browser(app, admin):
    browser = app.test_client()
    assert login(browser, admin).status_code == 302
    return browser


def roster_url(course, suffix="") -> str:
    return f"/manage/bases/{course.base_id}/courses/{course.id}/roster{suffix}"


def enrolled(course, person) -> int:
    enrollment = Enrollment(course_id=course.id, learner_id=person.id, status=EnrollmentStatus.CONFIRMED)
    db.session.add(enrollment)
    db.session.execute(sa.update(Course).where(Course.id == course.id).values(seats_taken=Course.seats_taken + 1))
    db.session.commit()
    return enrollment.id


def counted(course) -> dict:
    """What the completion counts for, by year: the ledger's hours, and the base's trainees and projects
    as the annual evaluation and the knowledge-update export count them."""
    db.session.expire_all()
    ledger = dict(db.session.execute(
        sa.select(HoursRecord.year, sa.func.sum(HoursRecord.hours)).where(HoursRecord.course_id == course.id)
        .group_by(HoursRecord.year)).all())
    result = {}
    for year in (2026, 2027):
        fig = evaluation.figures(year, TrainingBase.id == course.base_id).get(course.base_id) or {}
        result[year] = (ledger.get(year, 0), fig.get("trainees", 0), fig.get("projects", 0))
    return result


def saved(course_id: int) -> tuple:
    db.session.expire_all()
    return (
        db.session.execute(sa.select(Enrollment.learner_id, Enrollment.status, Enrollment.completed_on)
                           .where(Enrollment.course_id == course_id).order_by(Enrollment.id)).all(),
        db.session.scalar(sa.select(sa.func.count(HoursRecord.id))),
        db.session.get(Course, course_id).seats_taken,
    )


def csv_roster(*rows) -> bytes:
    return ("姓名,手机号,结业日期\n" + "".join(",".join(r) + "\n" for r in rows)).encode()


def upload(browser, course, data: bytes, filename="名单.csv"):
    return browser.post(roster_url(course, "/import"), data={"roster": (io.BytesIO(data), filename)},
                        content_type="multipart/form-data")


def import_errors(html: str) -> list[tuple[str, str]]:
    if 'id="import-errors"' not in html:
        return []
    table = html[html.index('id="import-errors"'):html.index("</table>", html.index('id="import-errors"'))]
    return re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", table)


# --- the year of the day, at the boundary --------------------------------------------------------------

@pytest.mark.parametrize(("instant", "year"), [(EVE_2359, 2026), (NEW_YEAR_0000, 2027)], ids=["23:59", "00:00"])
def test_the_roster_page_offers_the_shanghai_date_and_it_decides_the_year(monkeypatch, app, admin, learner,
                                                                         over_new_year, instant, year):
    """The page's day comes from the clock: at 00:00 on 1 January in Shanghai it is 2027, though UTC still
    says 31 December. Hours, trainees and projects all follow it."""
    person = learner()
    held = enrolled(over_new_year, person)
    frozen_at(monkeypatch, instant)
    browser = admin_browser(app, admin)

    page = browser.get(roster_url(over_new_year)).text
    offered = re.search(r'name="completed_on" type="date" value="([0-9-]+)"', page).group(1)
    response = browser.post(roster_url(over_new_year, "/complete"),
                            data={"enrollment": str(held), "completed_on": offered})

    assert response.status_code == 302
    assert offered == ("2026-12-31" if year == 2026 else "2027-01-01")
    other = 2027 if year == 2026 else 2026
    assert counted(over_new_year) == {year: (30, 1, 1), other: (0, 0, 0)}
    assert db.session.scalar(sa.select(HoursRecord.earned_on)) == date.fromisoformat(offered)


@pytest.mark.parametrize(("day", "year"), [("2026-12-31", 2026), ("2027-01-01", 2027)])
def test_a_day_in_a_file_or_a_batch_decides_the_year(monkeypatch, app, admin, api, token_a, learner, over_new_year,
                                                     day, year):
    frozen_at(monkeypatch, NEW_YEAR_0000)
    by_file, by_api = learner(), learner()
    response = upload(admin_browser(app, admin), over_new_year, csv_roster((by_file.name, by_file.phone, day)))
    pushed = api.post("/api/v1/base/completions", headers=token_a, json={"completions": [
        {"external_id": "e1", "course_id": over_new_year.id, "name": by_api.name, "phone": by_api.phone,
         "completed_on": day}]})

    assert response.status_code == 302 and pushed.status_code == 200, import_errors(response.text)
    other = 2027 if year == 2026 else 2026
    assert counted(over_new_year) == {year: (60, 2, 1), other: (0, 0, 0)}
    shown = api.get("/api/v1/base/completions/e1", headers=token_a).get_json()
    assert (shown["completed_on"], shown["year"]) == (day, year)


def test_new_years_day_is_still_the_future_at_2359_on_new_years_eve(monkeypatch, app, admin, api, token_a, learner,
                                                                    over_new_year):
    frozen_at(monkeypatch, EVE_2359)
    person = learner()
    before = saved(over_new_year.id)
    response = upload(admin_browser(app, admin), over_new_year, csv_roster((person.name, person.phone, "2027-01-01")))
    pushed = api.post("/api/v1/base/completions", headers=token_a, json={"completions": [
        {"external_id": "e1", "course_id": over_new_year.id, "name": person.name, "phone": person.phone,
         "completed_on": "2027-01-01"}]})
    assert import_errors(response.text) == [("2", "结业日期不能晚于今天")]
    assert pushed.status_code == 400 and pushed.get_json()["errors"] == [
        {"field": "/completions/0/completed_on", "message": "结业日期不能晚于今天"}]
    assert saved(over_new_year.id) == before


def test_an_online_course_completed_on_20_december_credits_2026_though_it_runs_to_2027(
        monkeypatch, admin, learner, over_new_year):
    """The issue's learner: a public course online from December to 31 January, finished on 20 December,
    counts toward 2026's 30 public hours, not 2027's."""
    person = learner()
    held = enrolled(over_new_year, person)
    on(monkeypatch, date(2026, 12, 20))

    completions.complete_enrollments(admin, over_new_year, [held], date(2026, 12, 20))

    assert counted(over_new_year) == {2026: (30, 1, 1), 2027: (0, 0, 0)}
    assert totals_by_year(person.id) == {2026: {Category.PUBLIC: 30, Category.PROFESSIONAL: 0,
                                                      Category.ELECTIVE: 0}}


def test_the_knowledge_update_export_counts_people_in_the_year_they_completed(monkeypatch, make_user, learner,
                                                                             admin, over_new_year, city):
    from openpyxl import load_workbook

    held = enrolled(over_new_year, learner())
    on(monkeypatch, date(2026, 12, 20))
    completions.complete_enrollments(admin, over_new_year, [held], date(2026, 12, 20))
    regulator = make_user(Role.REGULATOR, region_id=city.id)

    def people(year):
        sheet = load_workbook(io.BytesIO(exports.knowledge_update_statistics(regulator, year))).worksheets[0]
        rows = [list(r) for r in sheet.iter_rows(values_only=True)][3:]
        return sum(v for r in rows for v in r[4:7] if isinstance(v, int))

    assert (people(2026), people(2027)) == (1, 0)


def test_a_project_counts_in_each_year_it_has_a_completion_and_a_trainee_once_a_year(monkeypatch, admin, learner,
                                                                                  over_new_year):
    first, second = learner(), learner()
    held = [enrolled(over_new_year, first), enrolled(over_new_year, second)]
    on(monkeypatch, date(2027, 1, 10))
    completions.complete_enrollments(admin, over_new_year, [held[0]], date(2026, 12, 28))
    completions.complete_enrollments(admin, over_new_year, [held[1]], date(2027, 1, 3))
    assert counted(over_new_year) == {2026: (30, 1, 1), 2027: (30, 1, 1)}


# --- refused days: nothing saved -----------------------------------------------------------------------

BAD_DAYS = [
    pytest.param(date(2026, 12, 21), "结业日期不能晚于今天", id="future"),
    pytest.param(date(2026, 11, 30), "结业日期不能早于课程开始日期 2026-12-01", id="before-start"),
    pytest.param(date(2026, 12, 11), "结业日期不能晚于课程结束日期 2026-12-10", id="after-end"),
]


@pytest.mark.parametrize(("day", "reason"), BAD_DAYS)
def test_the_roster_page_refuses_a_bad_day_beside_the_field(monkeypatch, app, admin, learner, class_in_december,
                                                            day, reason):
    held = enrolled(class_in_december, learner())
    on(monkeypatch, date(2026, 12, 20))
    before = saved(class_in_december.id)

    response = admin_browser(app, admin).post(roster_url(class_in_december, "/complete"),
                                              data={"enrollment": str(held), "completed_on": day.isoformat()})

    assert response.status_code == 200
    field = response.text[response.text.index('name="completed_on"'):]
    assert re.search(r'<div class="invalid-feedback d-block">(.*?)</div>', field).group(1) == reason
    assert saved(class_in_december.id) == before
    with pytest.raises(DomainError) as raised:
        completions.complete_enrollments(admin, class_in_december, [held], day)
    assert (raised.value.field, raised.value.message) == ("completed_on", reason)
    assert saved(class_in_december.id) == before


@pytest.mark.parametrize(("day", "reason"), BAD_DAYS)
def test_a_roster_file_with_one_bad_day_is_refused_whole_with_the_row(monkeypatch, app, admin, learner,
                                                                     class_in_december, day, reason):
    good, bad = learner(), learner()
    on(monkeypatch, date(2026, 12, 20))
    before = saved(class_in_december.id)
    response = upload(admin_browser(app, admin), class_in_december, csv_roster(
        (good.name, good.phone, "2026-12-10"), (bad.name, bad.phone, day.isoformat())))
    assert response.status_code == 200
    assert import_errors(response.text) == [("3", reason)]
    assert saved(class_in_december.id) == before


@pytest.mark.parametrize(("day", "reason"), BAD_DAYS)
def test_a_batch_with_one_bad_day_is_refused_whole_with_the_item(monkeypatch, api, token_a, learner,
                                                                class_in_december, day, reason):
    good, bad = learner(), learner()
    on(monkeypatch, date(2026, 12, 20))
    before = saved(class_in_december.id)
    response = api.post("/api/v1/base/completions", headers=token_a, json={"completions": [
        {"external_id": "a", "course_id": class_in_december.id, "name": good.name, "phone": good.phone},
        {"external_id": "b", "course_id": class_in_december.id, "name": bad.name, "phone": bad.phone,
         "completed_on": day.isoformat()}]})
    assert response.status_code == 400
    assert response.get_json()["errors"] == [{"field": "/completions/1/completed_on", "message": reason}]
    assert saved(class_in_december.id) == before


def test_a_roster_sent_for_a_class_still_running_needs_each_rows_day(monkeypatch, app, admin, api, token_a,
                                                                    learner, class_in_december):
    """Before: a roster imported mid-course was accepted, crediting hours for a course not yet held."""
    person, other = learner(), learner()
    on(monkeypatch, date(2026, 12, 5))
    before = saved(class_in_december.id)
    browser = admin_browser(app, admin)

    undated = upload(browser, class_in_december, f"姓名,手机号\n{person.name},{person.phone}\n".encode())
    pushed = api.post("/api/v1/base/completions", headers=token_a, json={"completions": [
        {"external_id": "a", "course_id": class_in_december.id, "name": other.name, "phone": other.phone}]})

    assert import_errors(undated.text) == [("2", "课程尚未结束，须填写结业日期")]
    assert pushed.get_json()["errors"] == [
        {"field": "/completions/0/completed_on", "message": "课程尚未结束，须填写结业日期"}]
    assert saved(class_in_december.id) == before
    # Dated, the learners who finished early are recorded.
    assert upload(browser, class_in_december, csv_roster((person.name, person.phone, "2026-12-04"))).status_code == 302
    assert counted(class_in_december)[2026] == (16, 1, 1)


def test_a_class_that_has_ended_takes_its_end_date_when_none_is_given(monkeypatch, app, admin, api, token_a, learner,
                                                                       class_in_december):
    person, other = learner(), learner()
    on(monkeypatch, date(2026, 12, 20))
    assert upload(admin_browser(app, admin), class_in_december,
                  f"姓名,手机号\n{person.name},{person.phone}\n".encode()).status_code == 302
    assert api.post("/api/v1/base/completions", headers=token_a, json={"completions": [
        {"external_id": "a", "course_id": class_in_december.id, "name": other.name, "phone": other.phone}]}
    ).status_code == 200
    days = db.session.scalars(sa.select(Enrollment.completed_on).where(Enrollment.course_id == class_in_december.id))
    assert set(days) == {date(2026, 12, 10)}


def test_a_self_paced_course_needs_each_learners_day_even_after_it_ended(monkeypatch, app, admin, learner,
                                                                         over_new_year):
    person = learner()
    on(monkeypatch, date(2027, 2, 10))
    response = upload(admin_browser(app, admin), over_new_year, f"姓名,手机号\n{person.name},{person.phone}\n".encode())
    assert import_errors(response.text) == [("2", "线上自学课程须填写每位学员的结业日期")]


@pytest.mark.parametrize(("cell", "expected"), [
    ("2026-12-04", date(2026, 12, 4)), ("2026/12/4", date(2026, 12, 4)), ("2026.12.04", date(2026, 12, 4)),
    ("2026年12月4日", date(2026, 12, 4)), ("２０２６－１２－０４", date(2026, 12, 4)),
    (datetime(2026, 12, 4), date(2026, 12, 4)),
])
def test_a_roster_files_days_in_the_spellings_people_type(monkeypatch, app, admin, learner, class_in_december,
                                                          cell, expected):
    person = learner()
    on(monkeypatch, date(2026, 12, 20))
    book = Workbook()
    book.active.append(["姓名", "手机号", "结业日期"])
    book.active.append([person.name, person.phone, cell])
    out = io.BytesIO()
    book.save(out)
    response = upload(admin_browser(app, admin), class_in_december, out.getvalue(), "名单.xlsx")
    assert response.status_code == 302, import_errors(response.text)
    assert db.session.scalar(sa.select(Enrollment.completed_on).where(Enrollment.learner_id == person.id)) == expected


@pytest.mark.parametrize("cell", ["2026-02-30", "12/04/2026", "明天", "2026-12-04 08:30"])
def test_a_roster_files_unreadable_day_is_its_rows_error(monkeypatch, app, admin, learner, class_in_december, cell):
    person = learner()
    on(monkeypatch, date(2026, 12, 20))
    response = upload(admin_browser(app, admin), class_in_december, csv_roster((person.name, person.phone, cell)))
    assert import_errors(response.text) == [("2", "结业日期应为 YYYY-MM-DD 格式的日期")]


@pytest.mark.parametrize("day", ["2026-12-4", "2026-02-30", "٢٠٢٦-١٢-٠٤", "20261204"])
def test_a_batchs_day_is_a_date_in_ascii_digits(monkeypatch, api, token_a, learner, class_in_december, day):
    person = learner()
    on(monkeypatch, date(2026, 12, 20))
    response = api.post("/api/v1/base/completions", headers=token_a, json={"completions": [
        {"external_id": "a", "course_id": class_in_december.id, "name": person.name, "phone": person.phone,
         "completed_on": day}]})
    assert response.status_code == 400
    assert {e["field"] for e in response.get_json()["errors"]} == {"/completions/0/completed_on"}


# --- one rule for naming a learner ---------------------------------------------------------------------

def test_a_roster_row_with_phone_and_id_number_of_two_people_is_refused(monkeypatch, app, admin, learner,
                                                                       class_in_december):
    """The import used the phone alone when both were given (crediting whoever the phone named); now, as
    the API, both must be the same account's."""
    person, other = learner(), learner()
    on(monkeypatch, date(2026, 12, 20))
    number = resident_ids.decrypt(other.id_number_ciphertext)
    before = saved(class_in_december.id)
    response = upload(admin_browser(app, admin), class_in_december,
                      f"姓名,手机号,身份证号\n{person.name},{person.phone},{number}\n".encode())
    assert import_errors(response.text) == [("2", "未找到姓名与手机号、身份证号都相符的注册学员")]
    assert saved(class_in_december.id) == before


def test_a_roster_row_gives_one_answer_for_a_stranger_a_wrong_name_and_a_disabled_account(
        monkeypatch, app, admin, learner, class_in_december):
    """Before, the import said 姓名“…”与账号不符 for a registered phone under another name, and 未找到该学员
    for an unknown one: a base could test who is registered."""
    named, disabled = learner(), learner(active=False)
    on(monkeypatch, date(2026, 12, 20))
    response = upload(admin_browser(app, admin), class_in_december, csv_roster(
        ("查无此人", "13999999999", ""), ("别人", named.phone, ""), (disabled.name, disabled.phone, "")))
    assert import_errors(response.text) == [(str(n), "未找到姓名与手机号都相符的注册学员") for n in (2, 3, 4)]


def test_there_is_one_way_to_record_a_completion():
    import services.enrollment as enrollment_service
    import services.roster as roster_service

    assert not hasattr(enrollment_service, "complete") and not hasattr(enrollment_service, "completion_problem")
    assert not hasattr(roster_service, "apply_completions") and not hasattr(roster_service, "learners_by")


# --- the course keeps its completions inside its dates --------------------------------------------------

def test_a_course_cannot_be_narrowed_past_a_recorded_completion_day(monkeypatch, admin, api, token_a, learner,
                                                                   over_new_year):
    """A completion's day stays within its course's dates, which the counts rely on: an edit that would
    leave it outside is refused beside the date; one that keeps it inside passes (even into another year)."""
    held = enrolled(over_new_year, learner())
    on(monkeypatch, date(2026, 12, 20))
    completions.complete_enrollments(admin, over_new_year, [held], date(2026, 12, 20))
    address = f"/api/v1/base/courses/{over_new_year.id}"

    too_early = api.patch(address, headers=token_a, json={"end_date": "2026-12-19"})
    too_late = api.patch(address, headers=token_a, json={"start_date": "2026-12-21"})
    kept = api.patch(address, headers=token_a, json={"end_date": "2026-12-20"})

    assert too_early.status_code == 400 and too_early.get_json()["errors"] == [
        {"field": "/end_date", "message": "已有学员于 2026-12-20 结业，结束日期不能早于这一天"}]
    assert too_late.status_code == 400 and too_late.get_json()["errors"] == [
        {"field": "/start_date", "message": "已有学员于 2026-12-20 结业，开始日期不能晚于这一天"}]
    assert kept.status_code == 200 and kept.get_json()["end_date"] == "2026-12-20"


# --- the migration -------------------------------------------------------------------------------------

def _migration_rows(connection):
    """A course that ended on 2 January 2027 with two completions: one booked in 2027 (its end's year),
    one in 2026 (as a roster sent mid-course might have been); and a declaration's hours."""
    now = datetime(2026, 12, 1)
    run = connection.execute
    run(sa.text("INSERT INTO region (id, code, name, level) VALUES (1, '510100', '成都市', 'city')"))
    run(sa.text("INSERT INTO training_base (id, name, type, status, region_id, website, address, contact_person,"
                " contact_phone, scope, content, fee_items, training_plan, staff, rules, created_at, updated_at)"
                " VALUES (1, '基地', 'city', 'active', 1, '', '', '', '', '', '', '', '', '', '', :now, :now)"),
        {"now": now})
    for user_id in (1, 2, 3):
        run(sa.text("INSERT INTO \"user\" (id, name, password_hash, role, active, created_at, session_token)"
                    " VALUES (:id, :name, 'x', 'learner', true, :now, :token)"),
            {"id": user_id, "name": f"学员{user_id}", "now": now, "token": f"t{user_id}"})
    run(sa.text("INSERT INTO course (id, base_id, title, description, category, field, hours, start_date, end_date,"
                " mode, place, audience, seats_taken, fee, fee_standard, contact_person, contact_phone, open_to_city,"
                " status, cancel_reason, project_type, search_tokens, created_at, updated_at) VALUES (1, 1, '课', '',"
                " 'public', '卫生', 8, '2026-12-28', '2027-01-02', 'online', '', '', 3, 0, '', '', '', true,"
                " 'published', '', 'job_training', '', :now, :now)"), {"now": now})
    for enrollment_id, status in ((1, "completed"), (2, "completed"), (3, "confirmed")):
        run(sa.text("INSERT INTO enrollment (id, course_id, learner_id, status, source, created_at, rating_comment)"
                    " VALUES (:id, 1, :id, :status, 'online', :now, '')"),
            {"id": enrollment_id, "status": status, "now": now})
    for record_id, year in ((1, 2027), (2, 2026)):
        run(sa.text("INSERT INTO hours_record (id, learner_id, year, category, hours, source, course_id,"
                    " enrollment_id, note, created_at) VALUES (:id, :id, :year, 'public', 8, 'course', 1, :id, '',"
                    " :now)"), {"id": record_id, "year": year, "now": now})
    run(sa.text("INSERT INTO hours_record (id, learner_id, year, category, hours, source, note, created_at)"
                " VALUES (3, 3, 2026, 'public', 4, 'declaration', '', :now)"), {"now": now})


def _check_migration():
    def rows(sql):
        with db.engine.connect() as connection:
            return [tuple(r) for r in connection.execute(sa.text(sql)).all()]

    flask_migrate.upgrade(revision="0010")
    days = rows("SELECT id, status, completed_on FROM enrollment ORDER BY id")
    assert [(i, s, str(d) if d else None) for i, s, d in days] == [
        (1, "completed", "2027-01-02"), (2, "completed", "2027-01-02"), (3, "confirmed", None)]
    ledger = rows("SELECT id, year, earned_on FROM hours_record ORDER BY id")
    assert [(i, y, str(d) if d else None) for i, y, d in ledger] == [
        (1, 2027, "2027-01-02"), (2, 2027, "2027-01-02"), (3, 2026, None)]
    # A completion without its day is refused by the database itself.
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE enrollment SET status = 'completed' WHERE id = 3"))
    flask_migrate.downgrade(revision="0009")
    assert rows("SELECT id, year FROM hours_record ORDER BY id") == [(1, 2027), (2, 2027), (3, 2026)]
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("enrollment")}
    assert "completed_on" not in columns
    live = [ix for ix in sa.inspect(db.engine).get_indexes("enrollment") if ix["name"] == "uq_enrollment_live"]
    assert live and live[0]["unique"]


def test_migration_0010_dates_existing_completions_and_rebooks_their_hours_on_sqlite(tmp_path):
    from app import create_app
    from tests.conftest import _config

    app = create_app(_config(tmp_path, f"sqlite:///{tmp_path / 'm.sqlite3'}"))
    with app.app_context():
        flask_migrate.upgrade(revision="0009")
        with db.engine.begin() as connection:
            _migration_rows(connection)
        _check_migration()
        # The partial unique index came back partial: a cancelled enrollment beside a live one is allowed.
        with db.engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO enrollment (course_id, learner_id, status, source, created_at,"
                                       " rating_comment) VALUES (1, 3, 'cancelled', 'online', '2026-12-01', '')"))
        db.engine.dispose()


@pytest.mark.postgres
def test_migration_0010_dates_existing_completions_and_rebooks_their_hours_on_postgres(tmp_path):
    import secrets

    from app import create_app
    from tests.conftest import PG_URL, pg_config

    schema = f"jidi_m10_{secrets.token_hex(4)}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        app = create_app(pg_config(tmp_path, schema))
        with app.app_context():
            flask_migrate.upgrade(revision="0009")
            with db.engine.begin() as connection:
                _migration_rows(connection)
            _check_migration()
            db.engine.dispose()
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def test_every_completion_the_demo_makes_has_its_day_and_year(demo_app):
    rows = db.session.execute(
        sa.select(Enrollment.completed_on, HoursRecord.year, HoursRecord.earned_on, Course.start_date, Course.end_date)
        .join(HoursRecord, HoursRecord.enrollment_id == Enrollment.id).join(Course, Course.id == Enrollment.course_id)
        .where(Enrollment.status == EnrollmentStatus.COMPLETED)).all()
    assert len(rows) > 20_000, "the demo's two years of completions"
    for day, year, earned_on, start, end in rows:
        assert start <= day <= min(end, clock.today()) and year == day.year and earned_on == day


@pytest.fixture
def app(pg_app):
    """These tests again on PostgreSQL (temporary copy, not committed)."""
    return pg_app
