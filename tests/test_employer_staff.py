"""The employer's staff page (/review/staff) and its export: each confirmed staff member's hours of this year
against the rule of their region, what is short, shortest first, in a fixed number of queries."""

from datetime import date
from io import BytesIO

import openpyxl
import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    AuditLog,
    Category,
    Employer,
    Employment,
    EmploymentStatus,
    HoursRecord,
    HoursSource,
    Role,
    RuleSet,
)
from services.infra import clock
from services.queries import employer_pages
from tests.conftest import page_queries

TODAY = date(2025, 11, 1)
YEAR = TODAY.year


@pytest.fixture
def staffed(app, monkeypatch, city, other_city, make_user):
    """A hospital in the city with an admin and a reviewer; the city asks 30 public + 60 professional hours
    (90 in all), the other city 20 public hours and 100 in all; another employer with a learner of its own."""
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    hospital = Employer(name="成都市第一医院", region_id=city.id)
    other = Employer(name="成都市第二医院", region_id=city.id)
    db.session.add_all([hospital, other,
                        RuleSet(region_id=city.id, year=YEAR, public_min=30, professional_min=60, total_min=90),
                        RuleSet(region_id=other_city.id, year=YEAR, public_min=20, total_min=100)])
    db.session.commit()
    admin = make_user(Role.EMPLOYER_ADMIN, employer_id=hospital.id, name="单位管理员")
    reviewer = make_user(Role.REVIEWER, employer_id=hospital.id, name="审核员")
    outsider = _staff(make_user, other, city, "外单位员工", 7, {})
    return {"hospital": hospital, "other": other, "admin": admin, "reviewer": reviewer, "outsider": outsider,
            "city": city, "other_city": other_city}


def _staff(make_user, employer, region, name: str, n: int, hours: dict, year: int = YEAR):
    learner = make_user(Role.LEARNER, name=name, region_id=region.id, employer_id=employer.id,
                        phone=f"1380000{n:04d}", id_number_masked=f"510104********{n:04d}")
    db.session.add(Employment(learner_id=learner.id, employer_id=employer.id, status=EmploymentStatus.CONFIRMED))
    for category, amount in hours.items():
        db.session.add(HoursRecord(learner_id=learner.id, year=year, category=category, hours=amount,
                                   source=HoursSource.IMPORT, note="测试"))
    db.session.commit()
    return learner


P, S, E = Category.PUBLIC, Category.PROFESSIONAL, Category.ELECTIVE


def test_staff_are_listed_shortest_first_against_their_own_region_s_rule(staffed, make_user):
    s = staffed
    done = _staff(make_user, s["hospital"], s["city"], "达标者", 1, {P: 30, S: 60})
    # 90 hours but all public: professional lacks 60, whatever the total says
    lopsided = _staff(make_user, s["hospital"], s["city"], "偏科者", 2, {P: 90})
    nothing = _staff(make_user, s["hospital"], s["city"], "未学者", 3, {})
    # the other city: 20 public met, but 100 in all asked for
    elsewhere = _staff(make_user, s["hospital"], s["other_city"], "外地者", 4, {P: 20, E: 50})
    last_year = _staff(make_user, s["hospital"], s["city"], "去年学的", 5, {P: 30, S: 60}, year=YEAR - 1)

    page = employer_pages.staff_page(s["admin"])

    shorts = {line.learner.id: line.short for line in page.lines}
    assert shorts == {done.id: 0, lopsided.id: 60, nothing.id: 90, elsewhere.id: 30, last_year.id: 90}
    assert [line.learner.id for line in page.lines][:2] in ([nothing.id, last_year.id], [last_year.id, nothing.id])
    assert [line.learner.id for line in page.lines][-1] == done.id
    assert s["outsider"].id not in shorts  # another employer's staff
    assert page.staff == 5 and page.short_count == 4
    assert page.days_left == (date(YEAR, 12, 31) - TODAY).days == 60
    line = next(line for line in page.lines if line.learner.id == elsewhere.id)
    assert line.required(P) == 20 and line.required(S) is None and line.required_total == 100


def test_only_short_filter_and_a_reviewer_sees_the_same_staff(staffed, make_user, login_as):
    s = staffed
    _staff(make_user, s["hospital"], s["city"], "达标者", 1, {P: 30, S: 60})
    _staff(make_user, s["hospital"], s["city"], "未学者", 3, {S: 10})
    client = login_as(s["reviewer"])
    full = client.get("/review/staff").get_data(as_text=True)
    assert "达标者" in full and "未学者" in full and "外单位员工" not in full
    assert "138****0003" in full and "13800000003" not in full  # phones masked
    short = client.get("/review/staff?short=1").get_data(as_text=True)
    assert "未学者" in short and "达标者" not in short
    assert 'id="days-left">60<' in short


def test_a_learner_or_another_role_cannot_open_the_staff_page(staffed, make_user, client, login_as):
    learner = _staff(make_user, staffed["hospital"], staffed["city"], "员工", 1, {})
    assert login_as(learner).get("/review/staff").status_code == 403


@pytest.mark.parametrize("size", [3, 30])
def test_the_staff_page_reads_in_a_fixed_number_of_queries(staffed, make_user, login_as, size):
    s = staffed
    for n in range(size):
        region = s["city"] if n % 2 else s["other_city"]
        _staff(make_user, s["hospital"], region, f"职工{n}", 100 + n, {P: n + 1, S: 2 * n + 1})
    client = login_as(s["admin"])
    statements = page_queries(client, "/review/staff")
    # the user, the staff with their ledger summed, the rules of their regions, the employer's name
    assert len(statements) == 4, statements


def test_the_staff_page_is_cut_into_pages_shortest_first_and_the_export_holds_them_all(staffed, make_user,
                                                                                       login_as, monkeypatch):
    s = staffed
    monkeypatch.setattr(employer_pages, "STAFF_PER_PAGE", 2)
    for n, public in enumerate([1, 10, 20, 30, 30]):  # shortest first: 29, 20, 10 hours missing, then two done
        _staff(make_user, s["hospital"], s["city"], f"职工{n}", 200 + n, {P: public, S: 60})
    client = login_as(s["admin"])

    first = client.get("/review/staff").get_data(as_text=True)
    second = client.get("/review/staff?page=2").get_data(as_text=True)
    beyond = client.get("/review/staff?page=9").get_data(as_text=True)
    short_only = client.get("/review/staff?short=1&page=2").get_data(as_text=True)

    assert "职工0" in first and "职工1" in first and "职工2" not in first and "第 1 / 3 页" in first
    assert 'href="/review/staff?page=2"' in first
    assert "职工2" in second and "职工3" in second and "职工4" not in second and "职工0" not in second
    assert "第 3 / 3 页" in beyond and "职工4" in beyond  # past the last: the last
    assert "职工2" in short_only and "第 2 / 2 页" in short_only
    assert 'href="/review/staff?short=1&amp;page=1"' in short_only
    sheet = openpyxl.load_workbook(BytesIO(client.get("/review/staff.xlsx").data)).active
    assert sheet.max_row == 2 + 5  # title, header, every one of the staff


def test_export_holds_the_same_rows_masked_and_is_audited(staffed, make_user, login_as):
    s = staffed
    _staff(make_user, s["hospital"], s["city"], "=HYPERLINK(\"x\")", 1, {P: 30})
    _staff(make_user, s["hospital"], s["city"], "达标者", 2, {P: 30, S: 60})
    response = login_as(s["admin"]).get("/review/staff.xlsx")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(BytesIO(response.data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    header, first, second = rows[1], rows[2], rows[3]
    assert header[:4] == ["序号", "姓名", "身份证号", "手机号"] and header[-1] == "尚缺学时"
    assert first[1] == "=HYPERLINK(\"x\")" and first[-1] == 60  # the shortest first; the name never a formula
    assert first[2] == "510104********0001" and first[3] == "138****0001"
    assert second[1] == "达标者" and second[-1] == 0
    cells = " ".join(str(v) for row in rows for v in row)
    assert "13800000001" not in cells
    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "export.employer_staff")).scalar_one()
    assert entry.actor_id == s["admin"].id and entry.object_id == s["hospital"].id
    assert "1380000" not in str(entry.details)


def test_an_employer_with_no_staff_shows_an_empty_page(staffed, login_as):
    body = login_as(staffed["reviewer"]).get("/review/staff").get_data(as_text=True)
    assert "暂无职工" in body
