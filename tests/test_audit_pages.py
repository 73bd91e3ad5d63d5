"""The audit log a regulator can read (issue 19, item 4): actions and fields in Chinese, objects by name with
links, values formatted, newest first with keyset paging, filters in the query string, an XLSX export of the
filtered log (itself audited), a fixed number of queries, and nothing of another region."""

import ast
import re
from datetime import date, datetime
from io import BytesIO
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, Course, CourseStatus, DeclarationStatus, Region, RegionLevel, Role, TrainingBase, User
from services import audit, audit_labels
from tests.conftest import page_queries

ROOT = Path(__file__).resolve().parent.parent
RECORDERS = {"record", "record_now", "record_repeatable", "record_each"}


# --- the catalogue ------------------------------------------------------------------------------------------------

def _name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def _action_positions(trees: list[ast.Module]) -> dict[str, int]:
    """Function name -> the index of its action argument: the recorders', and any helper's ``action``."""
    position = dict.fromkeys(RECORDERS, 1)
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.FunctionDef) and node.name not in RECORDERS:
            names = [arg.arg for arg in node.args.args]
            if "action" in names:
                position[node.name] = names.index("action")
    return position


def _recorded_actions() -> tuple[set[str], list[str]]:
    """Every action name written under services/ and blueprints/: the string constants a recorder is called
    with as its action (directly or in a conditional), or a helper that takes an ``action`` parameter (the
    exports', the outbox's), and the f-string prefixes (returned apart)."""
    trees = [ast.parse(path.read_text()) for path in [*ROOT.glob("services/**/*.py"), *ROOT.glob("blueprints/**/*.py")]]
    position = _action_positions(trees)
    calls = [node for tree in trees for node in ast.walk(tree)
             if isinstance(node, ast.Call) and _name(node) in position]
    given = [k.value for call in calls for k in call.keywords if k.arg == "action"]
    given += [call.args[position[_name(call)]] for call in calls if len(call.args) > position[_name(call)]]
    # A name given as the action (``action = (… if … else f"…")``, a module's constant): what it is assigned.
    assigned: dict[str, list[ast.expr]] = {}
    for node in (node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.Assign)):
        for target in node.targets:
            if isinstance(target, ast.Name):
                assigned.setdefault(target.id, []).append(node.value)
    resolved = [value for name in given if isinstance(name, ast.Name) for value in assigned.get(name.id, [])]
    actions: set[str] = set()
    prefixes: list[str] = []
    parts = [part for value in given for part in ast.walk(value)]
    in_fstrings = {id(inner) for part in parts if isinstance(part, ast.JoinedStr) for inner in part.values}
    for part in parts:
        if isinstance(part, ast.Constant) and isinstance(part.value, str) and id(part) not in in_fstrings:
            actions.add(part.value)
        elif isinstance(part, ast.JoinedStr):
            prefixes.append(part.values[0].value)  # type: ignore[attr-defined]
    # Of those, only what reads as an action: other code names a form's button "action" too.
    actions |= {part.value for value in resolved for part in ast.walk(value) if isinstance(part, ast.Constant)
                and isinstance(part.value, str) and re.fullmatch(r"[a-z_]+\.[a-z_]+", part.value)}
    return actions, prefixes


def test_every_recorded_action_has_a_chinese_label_and_a_kind():
    actions, prefixes = _recorded_actions()
    control = {"auth.sign_in", "export.catalog", "outbox.resend", "auth.reset_code_refused",
               "declaration.employer_approved"}
    assert control <= actions
    assert sorted(actions - set(audit_labels.ACTIONS)) == []
    assert sorted(prefixes) == ["course.", "declaration.sector_"]
    # The f-strings: course.<status> (services.courses._move) and declaration.sector_<decision>.
    assert {f"course.{s.value}" for s in CourseStatus} <= set(audit_labels.ACTIONS)
    assert {f"declaration.sector_{s.value}" for s in (DeclarationStatus.APPROVED, DeclarationStatus.REJECTED)} \
        <= set(audit_labels.ACTIONS)
    for label, kind in audit_labels.ACTIONS.values():
        assert re.search(r"[\u4e00-\u9fff]", label) and kind in audit_labels.KINDS


@pytest.mark.parametrize(("value", "text"), [
    ("2026-03-02", "2026年3月2日"), ("2026-03-02T08:05:00", "2026年3月2日 08:05"), (True, "是"), (False, "否"),
    (None, "—"), ("", "—"), (["甲", "乙"], "甲、乙"), (16, "16"), ("Decimal('3')", "Decimal('3')"),
])
def test_values_are_formatted_for_a_reader(value, text):
    assert audit_labels.value_text(value) == text


def test_details_read_as_fields_in_chinese_with_changes_old_to_new():
    lines = audit_labels.details_lines("course", {
        "status": ["draft", "published"], "start_date": ["2026-03-02", "2026-04-01"], "open_to_city": [False, True],
        "reason": None, "ids": [3, 4], "mode": "face_to_face", "unknown_key": "x"})
    assert lines == [("状态", "草稿 → 已发布"), ("开始日期", "2026年3月2日 → 2026年4月1日"), ("向全市开放", "否 → 是"),
                     ("理由", "—"), ("编号", "3、4"), ("培训方式", "面授"),
                     ("unknown_key", "x")]
    assert "'" not in "".join(text for _, text in lines)  # no Python repr anywhere


def test_nested_changes_read_field_by_field_with_the_rules_pages_labels():
    changes = {"total_min": [90, 72], "name": ["甲", "乙"]}
    lines = audit_labels.details_lines("region", {"year": 2026, "changes": changes})
    assert lines == [("年度", "2026"), ("变更", "总学时要求：90 → 72；名称：甲 → 乙")]


# --- the page -----------------------------------------------------------------------------------------------------

@pytest.fixture
def far(app):
    region = Region(code="650100", name="乌鲁木齐市", level=RegionLevel.CITY)
    db.session.add(region)
    db.session.commit()
    return region


@pytest.fixture
def logged(app, admin_and_base, make_user, make_course, make_base, far):
    """An admin's course changes in base 甲, a learner's export, and an entry of another region."""
    admin, base = admin_and_base
    base.name = "甲基地"
    course = make_course(base, title="护理新进展")
    learner = make_user(Role.LEARNER, name="王小明")
    far_base = make_base(name="外地基地", region_id=far.id)
    # Dated as they are added (before any flush): the log refuses any later change.
    audit.record(admin, "course.update", course, base_id=base.id, details={
        "start_date": ["2026-03-02", "2026-04-01"], "open_to_city": [False, True]}).at = datetime(2026, 3, 1, 2, 0)
    audit.record(admin, "course.published", course, base_id=base.id,  # 2026-03-06 01:00 in Shanghai
                 details={"status": ["draft", "published"]}).at = datetime(2026, 3, 5, 17, 0)
    audit.record(learner, "learner.export_own_data", learner, details={"format": "json"})
    audit.record(None, "base.disclosure", far_base, base_id=far_base.id, details={"note": "外地区的记录"})
    db.session.commit()
    return {"admin": admin.id, "base": base.id, "course": course.id, "learner": learner.id}


@pytest.fixture
def reader(client, login_as, make_user, logged):
    return login_as(make_user(Role.REGULATOR, name="监管员"))


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr data-action="([a-z_.]+)"', page)


def test_the_page_reads_in_chinese_names_objects_with_links_and_masks_learners(reader, logged):
    page = reader.get("/regulator/audit").text
    course, base = db.session.get(Course, logged["course"]), db.session.get(TrainingBase, logged["base"])
    assert "修改课程" in page and "发布课程" in page and "学员下载本人数据" in page
    assert "开始日期：2026年3月2日 → 2026年4月1日" in page and "向全市开放：否 → 是" in page
    assert "状态：草稿 → 已发布" in page
    assert f'href="/courses/{course.id}">护理新进展</a>' in page
    assert f'href="/regulator/bases/{base.id}">甲基地</a>' in page
    assert "王**" in page and "王小明" not in page
    assert "course.update" not in page.replace('data-action="course.update"', "")  # no code shown as text
    assert "[&#39;" not in page and "[&#x27;" not in page and "None" not in page


def test_objects_named_in_the_details_read_by_name_learners_masked(reader, logged, city):
    admin = db.session.get(User, logged["admin"])
    audit.record(admin, "course.desk_enroll", db.session.get(Course, logged["course"]), base_id=logged["base"],
                 details={"learner_id": logged["learner"], "region_id": city.id, "course_id": logged["course"],
                          "count": 3})
    db.session.commit()
    page = reader.get("/regulator/audit?kind=enrollment").text
    assert "学员：王**" in page and "地区：成都市" in page and "课程：护理新进展" in page and "数量：3" in page
    assert "王小明" not in page


def test_another_regions_entries_are_invisible(reader):
    page = reader.get("/regulator/audit").text
    assert "外地区的记录" not in page and "外地基地" not in page
    assert "外地基地" not in reader.get("/regulator/audit.xlsx").data.decode("latin-1")


def test_newest_first_and_keyset_paging_keeps_the_filters(reader, logged, monkeypatch):
    monkeypatch.setattr(audit, "PAGE_SIZE", 2)
    first = reader.get("/regulator/audit?kind=course").text
    assert _rows(first) == ["course.published", "course.update"]
    assert 'rel="next"' in first
    before = re.search(r'href="([^"]*before=\d+[^"]*)"', first).group(1).replace("&amp;", "&")
    assert "kind=course" in before
    page = reader.get(before).text
    assert _rows(page) == []


@pytest.mark.parametrize(("query", "expected"), [
    ("since=2026-03-02", ["learner.export_own_data", "course.published"]),
    ("until=2026-03-01", ["course.update"]),
    ("since=2026-03-06&until=2026-03-06", ["course.published"]),  # Shanghai's date, not UTC's
    ("kind=export", ["learner.export_own_data"]),
    ("role=learner", ["learner.export_own_data"]),
    ("actor=%E7%8E%8B", ["learner.export_own_data"]),  # 王
    ("since=not-a-date", None),  # a malformed field filters nothing
])
def test_filters_by_date_actor_role_and_kind(reader, query, expected):
    everything = _rows(reader.get("/regulator/audit").text)
    rows = _rows(reader.get(f"/regulator/audit?{query}").text)
    if expected is None:
        assert rows == everything
    else:
        assert [r for r in rows if r != "auth.sign_in"] == expected


def test_filter_by_base(reader, logged, make_base):
    other = make_base(name="乙基地")
    audit.record(db.session.get(User, logged["admin"]), "base.disclosure", other, base_id=other.id)
    db.session.commit()
    rows = _rows(reader.get(f"/regulator/audit?base={logged['base']}").text)
    assert rows == ["course.published", "course.update"]
    assert _rows(reader.get(f"/regulator/audit?base={other.id}").text) == ["base.disclosure"]


def test_the_page_issues_the_same_queries_for_few_and_many_entries(app, reader, logged):
    few = len(page_queries(reader, "/regulator/audit"))
    admin, course = db.session.get(User, logged["admin"]), db.session.get(Course, logged["course"])
    base = db.session.get(TrainingBase, logged["base"])
    for n in range(60):
        audit.record(admin, "course.update", course, base_id=base.id, details={"hours": [n, n + 1]})
        audit.record(admin, "base.disclosure", base, base_id=base.id, details={"note": f"第{n}次"})
    db.session.commit()
    many = page_queries(reader, "/regulator/audit")
    assert len(_rows(reader.get("/regulator/audit").text)) == audit.PAGE_SIZE
    assert few == len(many), "\n".join(many)


def test_the_export_holds_the_filtered_log_in_chinese_and_is_audited(reader, logged):
    response = reader.get("/regulator/audit.xlsx?kind=course")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(BytesIO(response.data)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:6] == ["编号", "时间（北京时间）", "操作人", "角色", "类别", "操作"]
    assert [row[5] for row in rows[1:]] == ["发布课程", "修改课程"]
    assert rows[2][7] == "护理新进展" and rows[2][8] == "甲基地" and rows[2][1] == "2026-03-01 10:00:00"
    assert "开始日期：2026年3月2日 → 2026年4月1日" in rows[2][9]
    exported = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "export.audit")).one()
    assert exported.details == {"kind": "course"}
    assert "导出审计日志" in reader.get("/regulator/audit").text


def test_the_export_link_carries_the_filters(reader):
    page = reader.get("/regulator/audit?kind=hours&since=2026-01-01").text
    link = re.search(r'id="audit-export" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert link.startswith("/regulator/audit.xlsx?") and "kind=hours" in link and "since=2026-01-01" in link


def test_dates_of_the_filter_are_local_days():
    assert audit._local_midnight_utc(date(2026, 3, 6)) == datetime(2026, 3, 5, 16, 0)


@pytest.mark.postgres
class TestOnPostgreSQL:
    """The names' UNION ALL and the filters as PostgreSQL runs them."""

    @pytest.fixture
    def app(self, pg_app):
        return pg_app

    def test_the_page_names_objects_and_filters(self, reader, logged):
        page = reader.get("/regulator/audit?since=2026-03-01&until=2026-03-06&kind=course").text
        assert _rows(page) == ["course.published", "course.update"]
        assert ">护理新进展</a>" in page and ">甲基地</a>" in page and "外地基地" not in page
        book = openpyxl.load_workbook(BytesIO(reader.get("/regulator/audit.xlsx?role=learner").data)).active
        assert [row[5].value for row in book.iter_rows(min_row=2)] == ["学员下载本人数据"]


@pytest.mark.browser
def test_a_regulator_filters_the_log_in_a_browser_on_a_desk_and_a_phone(app, actors, logged, make_user):
    """The filters are a plain GET form (no script, nothing the CSP refuses); the page fits a phone."""
    from playwright.sync_api import expect

    from tests.browser import LiveServer, Shots, fits, sign_in
    from tests.conftest import PASSWORD

    regulator = make_user(Role.REGULATOR, name="监管员", email="audit-reader@test.example")
    shots = Shots("audit_log")
    with LiveServer(app) as site:
        for phone in (False, True):
            page = actors.open(phone=phone)
            sign_in(page, site, regulator.email, PASSWORD)
            page.goto(site.url + "/regulator/audit")
            page.get_by_label("类别").select_option(label="课程")
            page.get_by_label("起始日期").fill("2026-03-02")
            page.get_by_role("button", name="筛选").click()
            expect(page.locator("#audit-log tbody tr")).to_have_count(1)
            expect(page.locator("#audit-log")).to_contain_text("发布课程")
            assert "kind=course" in page.url and "since=2026-03-02" in page.url
            shots(page, "phone" if phone else "desk")
            if phone:
                fits(page)
