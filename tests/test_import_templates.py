"""An import page offers its template (issue 19, item 5): the roster import links a blank XLSX whose header
row is the one the import reads, and the template filled in row by row imports as it is."""

import io

from openpyxl import load_workbook

from models import Role
from services import roster
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
