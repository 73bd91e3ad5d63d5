"""An import page offers its template (issue 19, item 5): the roster import links a blank XLSX whose header
row is the one the import reads, and the template filled in row by row imports as it is; the holiday
calendar's import links a CSV of its header row and one example row, which imported unchanged, the example
included, is accepted and loads that one day."""

import csv
import io
from datetime import date

from openpyxl import load_workbook

from extensions import db
from models import CalendarDay, CalendarDayKind, Role
from services import roster, workdays
from tests.test_declarations import app_config, flashed, on, regions, signed_in, world  # noqa: F401 - fixtures
from tests.test_platform import TODAY as END_OF_2026
from tests.test_platform import admin, confirm_fields, days_of, preview  # noqa: F401 - fixtures
from tests.test_roster import (  # noqa: F401 - fixtures
    AFTER,
    admin_client,
    at,
    class_of_three,
    course,
    credited,
    flashes,
    make_learner,
    upload,
    url,
)


def test_the_roster_import_page_links_its_template(admin_client, course):  # noqa: F811
    page = admin_client.get(url(course, "/import")).get_data(as_text=True)
    assert f'id="roster-template" href="{url(course, "/template.xlsx")}"' in page
    assert "下载模板" in page


def test_the_template_holds_the_headers_the_import_reads_and_no_rows(admin_client, course):  # noqa: F811
    response = admin_client.get(url(course, "/template.xlsx"))
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows == [roster.TEMPLATE_HEADERS]
    assert set(roster.TEMPLATE_HEADERS) <= set(roster.HEADERS)
    assert {roster.HEADERS[h] for h in roster.TEMPLATE_HEADERS} == set(roster.HEADERS.values())


def test_the_template_filled_in_imports(monkeypatch, admin_client, course, class_of_three):  # noqa: F811
    book = load_workbook(io.BytesIO(admin_client.get(url(course, "/template.xlsx")).data))
    for name in ("张三", "李四"):
        book.active.append([name, class_of_three[name].phone, None, 8, None])
    out = io.BytesIO()
    book.save(out)
    at(monkeypatch, AFTER)

    response = upload(admin_client, course, out.getvalue(), "结业名单模板.xlsx")

    assert response.status_code == 302
    assert flashes(admin_client)[0][0] == "success"
    assert {h[0] for h in credited(course.id).values()} == {8}
    assert set(credited(course.id)) == {class_of_three["张三"].id, class_of_three["李四"].id}


def test_another_base_admin_gets_no_template(client, login_as, make_user, course):  # noqa: F811
    login_as(make_user(Role.BASE_ADMIN))
    assert client.get(url(course, "/template.xlsx")).status_code == 404


# --- the holiday calendar (the platform administrator) -----------------------------------------------------

def test_the_calendar_import_links_its_template(app, world, admin):  # noqa: F811
    page = signed_in(app, admin).get("/platform/").get_data(as_text=True)
    assert 'id="calendar-template" href="/platform/calendar/template.csv"' in page
    assert "下载模板" in page


def test_the_calendar_template_holds_the_columns_the_import_reads_and_an_example_of_the_next_year_to_load(
        app, world, admin, on):  # noqa: F811
    on(END_OF_2026)  # 2025 and 2026 are loaded (seed_reference): the next to load is 2027
    response = signed_in(app, admin).get("/platform/calendar/template.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith("\ufeff".encode())  # Excel reads the Chinese as UTF-8
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows == [list(workdays.SCHEDULE_COLUMNS), ["2027-01-01", "holiday", "元旦"]]
    assert workdays.parse_schedule(response.data) == [(date(2027, 1, 1), CalendarDayKind.HOLIDAY, "元旦")]


def test_the_calendar_template_imported_unchanged_with_its_example_is_accepted(app, world, admin, on):  # noqa: F811
    on(END_OF_2026)
    client = signed_in(app, admin)
    template = client.get("/platform/calendar/template.csv").data

    page = preview(client, template, "节假日安排模板.csv").get_data(as_text=True)
    response = client.post("/platform/calendar/confirm", data=confirm_fields(page), follow_redirects=True)

    assert flashed(response.get_data(as_text=True), "success")[0].startswith("已导入 1 个日期的变更")
    assert days_of(2027) == 1
    assert db.session.get(CalendarDay, date(2027, 1, 1)) is not None
    # The next template names the year after, whose New Year's Day is again a change to import.
    assert client.get("/platform/calendar/template.csv").data.decode("utf-8-sig").splitlines()[1].startswith(
        "2028-01-01")


def test_other_roles_get_no_calendar_template(app, world):  # noqa: F811
    for who in (world.regulator, world.learner):
        assert signed_in(app, who).get("/platform/calendar/template.csv").status_code == 403
