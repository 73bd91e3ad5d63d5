"""The official documents in their real shape (issue 16, items 4–7): the regulator's spreadsheets as notice 004
draws attachments 1, 3 and 4 (title, merged header levels, every field of the form's list in its order, the
lines to stamp and date, A4 landscape with the header repeated), for the year and region picked; the figures a
base enters for them; the 登记表 (attachment 2) with its boxes to stamp and sign, as XLSX, PDF and a printable
page; the certificate naming its issuer, the hours by category and source.

The field lists below are copied from the notice (seeds/004), not imported from the code they check."""

import re
import subprocess
from datetime import date
from decimal import Decimal
from io import BytesIO

import openpyxl
import pytest
import sqlalchemy as sa
from openpyxl.cell.cell import MergedCell
from PIL import Image as PILImage
from playwright.sync_api import expect, sync_playwright
from werkzeug.datastructures import FileStorage

from extensions import db
from models import (
    AnnualReport,
    AuditLog,
    BaseStatus,
    Category,
    Certificate,
    Course,
    Employer,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    HoursRecord,
    HoursSource,
    ProjectType,
    Role,
    StrategicTraining,
)
from seeding.demo import seed_reference
from services import accounts, annual_reports, declarations, evaluation, resident_ids
from services.errors import DomainError
from services.infra import clock
from tests.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer, Shots
from tests.conftest import PASSWORD, employ, login

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
YEAR = 2026  # a year with every region's seeded rules (data/hour-rules.csv)

# Notice 004, attachment 1: the columns of 培训项目目录.
CATALOG_COLUMNS = ["序号", "承办单位", "培训项目名称", "学时", "培训时间", "培训地点", "培训对象", "联系人及电话",
                   "是否面向全市"]
# Attachment 3: the two header levels and the 27 fields of 领域, in the form's order (both of its pages).
KNOWLEDGE_TOP = ["单位名称", "具体推进实施部门、机构", "专项经费（万元）", "领域", "今年任务完成情况", None, None,
                 "明年计划", None, None, "备注"]
KNOWLEDGE_KINDS = ["急需紧缺人才培养培训项目（人数）", "岗位培训项目（人数）", "出境（国）培训（人数）"]
KNOWLEDGE_FIELDS = [
    "装备制造", "信息", "生物技术", "新材料", "海洋", "金融", "生态环保", "节能与新能源", "新医药", "现代农业",
    "社会工作", "现代物流", "商务服务", "律师公证及法律服务", "会计", "知识产权", "食品安全", "旅游",
    "城市规划建设管理", "教育", "宣传文化", "卫生", "体育", "研发", "养老", "人力资源服务", "其他现代服务业",
]
# Attachment 4: the header, and the strategic fields by strategy, in the form's order.
STRATEGIC_TOP = ["投入经费（万元）", "领域", None, "今年培训情况", None, "明年培训计划", None, "备注"]
NON_PUBLIC = "其中：非公有制经济领域培训人数"
STRATEGIES = {
    "新旧动能转换十强产业": ["新一代信息技术", "高端装备", "新能源新材料", "现代海洋", "医养健康", "高端化工",
                   "现代高效农业", "文化创意", "精品旅游", "现代金融服务"],
    "乡村振兴": ["农业科技人才", "农村专业人才", "新型职业农民", "农村乡土人才", "农村创新创业人才", "其他人才"],
    "海洋强省": ["海洋科技创新", "海洋生态环境保护", "世界一流港口建设", "海洋新兴产业壮大", "海洋传统产业升级",
             "智慧海洋突破", "军民深度融合", "海洋文化振兴", "海洋开放合作", "海洋治理能力提升"],
}
STRATEGIC_FIELDS = [name for names in STRATEGIES.values() for name in names]


# --- helpers and fixtures -----------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def late_in_the_year(monkeypatch):
    """Late in YEAR, in Shanghai: a base reports this year's figures and next year's plan."""
    monkeypatch.setattr(clock, "today", lambda: date(YEAR, 11, 20))


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def workbook(response):
    assert response.status_code == 200, response.status_code
    assert response.mimetype == XLSX
    return openpyxl.load_workbook(BytesIO(response.data))


def values(sheet, row: int) -> list:
    return [cell.value for cell in sheet[row]]


def merged(sheet) -> set[str]:
    return {str(r) for r in sheet.merged_cells.ranges}


def complete(course, *learners) -> None:
    for learner in learners:
        db.session.add(Enrollment(course_id=course.id, learner_id=learner.id, status=EnrollmentStatus.COMPLETED,
                                  source=EnrollmentSource.IMPORT, completed_on=course.end_date))
    db.session.commit()


def assert_printed_as_a_form(sheet, header_rows: str) -> None:
    """A4 landscape, one page wide, the header rows repeated on every page, the table bordered."""
    assert sheet.page_setup.paperSize == 9 and sheet.page_setup.orientation == "landscape"
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToWidth == 1
    assert sheet.page_setup.fitToHeight == 0
    assert sheet.print_title_rows == header_rows
    first = int(header_rows.split(":")[0].strip("$"))
    anchors = [cell for cell in sheet[first] if not isinstance(cell, MergedCell)]
    assert anchors and all(cell.border.left.style == cell.border.right.style == cell.border.top.style
                           == cell.border.bottom.style == "thin" for cell in anchors)
    assert all(sheet.column_dimensions[c.column_letter].width >= 5 for c in anchors)


def stamp_and_date_lines(sheet) -> tuple[str, str]:
    """The text of the line under the title and of the last line."""
    above = " ".join(str(v) for v in values(sheet, 2) if v)
    below = " ".join(str(v) for v in values(sheet, sheet.max_row) if v)
    return above, below


@pytest.fixture
def bases(make_user, make_base, other_city):
    """Two bases of the city (each with an admin) and one of the other city."""
    admins = [make_user(Role.BASE_ADMIN) for _n in range(3)]
    return {
        "first": make_base(name="成都大学继续教育学院", admin=admins[0]),
        "second": make_base(name="成都职业技术学院", admin=admins[1]),
        "away": make_base(name="绵阳师范学院", admin=admins[2], region_id=other_city.id),
    }


def admin_of(base):
    return base.memberships[0].user


def report(base, year=YEAR, **values):
    return annual_reports.save(admin_of(base), base.id, year, values)


# --- attachment 1: the training project catalog ----------------------------------------------------------

def test_catalog_has_the_forms_title_columns_stamp_and_date_lines_and_print_setup(app, regulators, bases,
                                                                                 make_course):
    course = make_course(bases["first"], title="急危重症护理新进展", start_date=date(YEAR, 5, 10), hours=16)

    sheet = workbook(signed_in(app, regulators["city"]).get(f"/regulator/exports/catalog.xlsx?year={YEAR}")).active

    assert sheet["A1"].value == f"{YEAR}年度专业技术人员继续教育培训项目目录"
    assert "A1:I1" in merged(sheet) and sheet["A1"].font.b
    above, below = stamp_and_date_lines(sheet)
    assert above.startswith("填报单位（盖章）：") and "四川省成都市" in above
    assert "填表人：" in below and "填报日期：" in below and "年" in below and "日" in below
    assert values(sheet, 3) == CATALOG_COLUMNS
    assert values(sheet, 4)[:4] == [1, bases["first"].name, course.title, 16]
    assert_printed_as_a_form(sheet, "$3:$3")


# --- attachment 3: knowledge-update statistics --------------------------------------------------------------

def test_knowledge_update_lists_every_field_per_base_in_the_forms_order_with_zeros(app, regulators, bases,
                                                                                  make_course, make_user):
    first, second = bases["first"], bases["second"]
    ended = {"start_date": date(YEAR, 6, 1), "end_date": date(YEAR, 6, 2)}
    complete(make_course(first, field="信息", project_type=ProjectType.URGENT_TALENT, **ended),
             make_user(), make_user())
    complete(make_course(first, field="卫生", project_type=ProjectType.ABROAD, **ended), make_user())
    make_course(first, field="养老", project_type=ProjectType.JOB_TRAINING, capacity=40,
                start_date=date(YEAR + 1, 3, 1))
    complete(make_course(bases["away"], field="信息", **ended), make_user())  # another city: not in this export
    report(first, department="继续教育学院培训部", knowledge_funding="12.5", knowledge_note="含市级资助")

    sheet = workbook(signed_in(app, regulators["city"]).get(
        f"/regulator/exports/knowledge-update.xlsx?year={YEAR}")).active

    assert sheet["A1"].value == f"专业技术人员知识更新工程实施情况统计表（{YEAR}年度）"
    assert values(sheet, 3) == KNOWLEDGE_TOP
    assert values(sheet, 4) == [None] * 4 + KNOWLEDGE_KINDS * 2 + [None]
    # The two header levels merged as the form draws them.
    assert {"A3:A4", "B3:B4", "C3:C4", "D3:D4", "E3:G3", "H3:J3", "K3:K4"} <= merged(sheet)
    assert_printed_as_a_form(sheet, "$3:$4")
    body = [values(sheet, row) for row in range(5, 5 + 2 * 27)]
    # A block per base of the city, every field in the notice's order, its unit columns merged over the block.
    assert [r[3] for r in body[:27]] == KNOWLEDGE_FIELDS and [r[3] for r in body[27:]] == KNOWLEDGE_FIELDS
    assert {"A5:A31", "B5:B31", "C5:C31", "K5:K31", "A32:A58"} <= merged(sheet)
    assert [body[0][0], body[27][0]] == [first.name, second.name]
    assert body[0][1:3] == ["继续教育学院培训部", 12.5]
    assert body[0][10] == "含市级资助"
    assert body[27][1:3] == [second.name, 0]  # nothing entered: the base itself, no funds
    assert all(isinstance(v, int) for r in body for v in r[4:10]), "zeros, not blanks"
    by_field = {r[3]: r[4:10] for r in body[:27]}
    assert by_field["信息"] == [2, 0, 0, 0, 0, 0]
    assert by_field["卫生"] == [0, 0, 1, 0, 0, 0]
    assert by_field["养老"] == [0, 0, 0, 0, 40, 0]
    assert sum(sum(r[4:10]) for r in body) == 43
    above, below = stamp_and_date_lines(sheet)
    assert above.startswith("填报单位（盖章）：") and "填报日期：" in below
    assert sheet.max_row == 5 + 2 * 27  # the date line right after the last block


def test_knowledge_update_of_a_region_without_bases_still_lists_the_fields(app, make_region, make_user):
    empty = make_region("德阳市", parent=make_region("四川省"))
    regulator = make_user(Role.REGULATOR, region_id=empty.id)

    sheet = workbook(signed_in(app, regulator).get(f"/regulator/exports/knowledge-update.xlsx?year={YEAR}")).active

    body = [values(sheet, row) for row in range(5, 32)]
    assert [r[3] for r in body] == KNOWLEDGE_FIELDS
    assert body[0][0] == "四川省德阳市" and all(v == 0 for r in body for v in r[4:10])


def test_an_exited_base_without_figures_is_left_out_one_with_figures_stays(app, regulators, bases, make_course,
                                                                           make_user):
    first, second = bases["first"], bases["second"]
    complete(make_course(second, start_date=date(YEAR, 6, 1), end_date=date(YEAR, 6, 2)), make_user())
    for base in (first, second):
        base.status = BaseStatus.EXITED
    db.session.commit()

    sheet = workbook(signed_in(app, regulators["city"]).get(
        f"/regulator/exports/knowledge-update.xlsx?year={YEAR}")).active

    assert [sheet.cell(row=row, column=1).value for row in range(5, sheet.max_row) if
            sheet.cell(row=row, column=1).value] == [second.name]


# --- attachment 4: the major projects and strategies ------------------------------------------------------

def test_strategic_statistics_sum_what_the_bases_entered_in_the_forms_layout(app, regulators, bases):
    report(bases["first"], strategic_funding="30.25", strategic_note="医养健康专题班", strategic={
        "医养健康": {"trained": "120", "trained_non_public": "45", "planned": "150", "planned_non_public": "60"},
        "新型职业农民": {"trained": "300", "trained_non_public": "300"},
    })
    report(bases["second"], strategic_funding="9.75", strategic={
        "医养健康": {"trained": "10", "trained_non_public": "0", "planned": "20", "planned_non_public": "5"},
    })
    report(bases["away"], strategic_funding="100", strategic={"医养健康": {"trained": "999"}})
    report(bases["first"], year=YEAR - 1, strategic_funding="50", strategic={"医养健康": {"trained": "777"}})

    sheet = workbook(signed_in(app, regulators["city"]).get(f"/regulator/exports/strategic.xlsx?year={YEAR}")).active

    assert sheet["A1"].value == f"山东省重大工程、重大战略专业技术人才培训统计表（{YEAR}年度）"
    assert values(sheet, 3) == STRATEGIC_TOP
    assert values(sheet, 4) == [None, None, None, "总数", NON_PUBLIC, "总数", NON_PUBLIC, None]
    assert {"A3:A4", "B3:C4", "D3:E3", "F3:G3", "H3:H4"} <= merged(sheet)
    assert_printed_as_a_form(sheet, "$3:$4")
    body = [values(sheet, row) for row in range(5, 5 + 26)]
    assert [r[2] for r in body] == STRATEGIC_FIELDS
    # Each strategy merged over its fields; the funds and the notes over the whole table.
    assert {"B5:B14", "B15:B20", "B21:B30", "A5:A30", "H5:H30"} <= merged(sheet)
    assert [body[0][1], body[10][1], body[16][1]] == list(STRATEGIES)
    assert float(body[0][0]) == 40.0
    assert body[0][7] == f"{bases['first'].name}：医养健康专题班"
    rows = {r[2]: r[3:7] for r in body}
    assert rows["医养健康"] == [130, 45, 170, 65]
    assert rows["新型职业农民"] == [300, 300, 0, 0]
    assert all(isinstance(v, int) for r in body for v in r[3:7]), "zeros, not blanks"
    assert sum(sum(r[3:7]) for r in body) == 1010
    above, below = stamp_and_date_lines(sheet)
    assert above.startswith("填报单位（盖章）：") and "填报日期：" in below


# --- year and region: a picker, within the regulator's reach ---------------------------------------------

@pytest.mark.parametrize("export", ["catalog", "knowledge-update", "strategic"])
def test_every_export_takes_a_region_within_the_regulators_reach(app, regulators, bases, city, other_city,
                                                                 make_course, export):
    for base in bases.values():
        make_course(base, title=f"{base.name}的课程", start_date=date(YEAR, 5, 10))
        report(base, strategic_funding="1")
    url = f"/regulator/exports/{export}.xlsx?year={YEAR}"

    def named(who, region=None):
        sheet = workbook(signed_in(app, regulators[who]).get(url + (f"&region={region.id}" if region else ""))).active
        text = " ".join(str(v) for row in sheet.iter_rows(values_only=True) for v in row if v)
        return {key for key, base in bases.items() if base.name in text}, text

    if export != "strategic":  # attachment 4 sums, naming only the bases with a note
        assert named("province")[0] == {"first", "second", "away"}
        assert named("province", other_city)[0] == {"away"}
        assert named("province", city)[0] == {"first", "second"}
        assert named("city")[0] == {"first", "second"}
    assert "四川省绵阳市" in named("province", other_city)[1]
    for who, region in (("city", other_city), ("city", city.parent), ("other", city)):
        assert signed_in(app, regulators[who]).get(f"{url}&region={region.id}").status_code == 404


def test_strategic_funds_follow_the_region_picked(app, regulators, bases, other_city):
    for base, funds in ((bases["first"], "1.5"), (bases["second"], "2"), (bases["away"], "40")):
        report(base, strategic_funding=funds)
    client = signed_in(app, regulators["province"])

    def funds(region):
        sheet = workbook(client.get(f"/regulator/exports/strategic.xlsx?year={YEAR}&region={region.id}")).active
        return float(sheet["A5"].value)

    assert (funds(regulators["province"].region), funds(regulators["city"].region), funds(other_city)) == (
        43.5, 3.5, 40.0)


def test_the_overview_offers_a_year_and_region_picker_not_a_fixed_link(app, regulators, city, other_city):
    html = signed_in(app, regulators["province"]).get("/regulator/").get_data(as_text=True)
    form = re.search(r'<form method="get"[^>]*id="exports">(.*?)</form>', html, re.S).group(1)
    assert re.search(r'<select class="form-select" name="year"', form)
    regions = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', form.split('name="region"')[1])
    assert {name for _id, name in regions} == {"四川省", "四川省成都市", "四川省绵阳市"}
    assert [b for b in ("export-catalog", "export-knowledge", "export-strategic") if f'id="{b}"' in form] == [
        "export-catalog", "export-knowledge", "export-strategic"]
    assert "exports/catalog.xlsx?year=" not in html


def test_an_export_names_its_region_in_the_audit_log(app, regulators, other_city):
    client = signed_in(app, regulators["province"])
    client.get(f"/regulator/exports/strategic.xlsx?year={YEAR}&region={other_city.id}")
    (entry,) = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "export.strategic")).all()
    assert entry.details == {"year": YEAR, "region": other_city.code}


# --- what a base enters ---------------------------------------------------------------------------------

def strategic_form(index: int, **counts) -> dict:
    return {f"strategic_{index}_{key}": value for key, value in counts.items()}


def test_a_base_admin_enters_the_years_funds_and_strategic_figures(app, bases):
    first = bases["first"]
    client = signed_in(app, admin_of(first))
    page = client.get(f"/manage/bases/{first.id}/statistics?year={YEAR}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert [m for m in re.findall(r'<tr data-field="([^"]+)"', html)] == STRATEGIC_FIELDS

    healthcare = STRATEGIC_FIELDS.index("医养健康")
    response = client.post(f"/manage/bases/{first.id}/statistics", data={
        "year": str(YEAR), "department": "培训部", "knowledge_funding": "12.50", "knowledge_note": "",
        "strategic_funding": "8", "strategic_note": "", **strategic_form(healthcare, trained="20",
                                                                            trained_non_public="5", planned="",
                                                                            planned_non_public=""),
    })

    assert response.status_code == 302 and response.location.endswith(f"year={YEAR}")
    stored = db.session.execute(sa.select(AnnualReport).where(AnnualReport.base_id == first.id)).scalar_one()
    assert (stored.year, stored.department, stored.knowledge_funding, stored.strategic_funding) == (
        YEAR, "培训部", Decimal("12.50"), Decimal("8.00"))
    assert [(line.field, line.trained, line.trained_non_public, line.planned) for line in stored.lines] == [
        ("医养健康", 20, 5, 0)]
    (entry,) = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "report.set")).all()
    assert entry.details["old"] is None and entry.details["new"]["strategic"] == {"医养健康": [20, 5, 0, 0]}
    shown = client.get(f"/manage/bases/{first.id}/statistics?year={YEAR}").get_data(as_text=True)
    assert 'value="12.50"' in shown and 'value="培训部"' in shown


@pytest.mark.parametrize(("data", "message"), [
    ({"strategic_3_trained": "5", "strategic_3_trained_non_public": "6"},
     "现代海洋：其中非公有制经济领域培训人数不能超过总数"),
    ({"strategic_0_planned": "-1"}, "人数不能为负数"),
    ({"strategic_0_planned": "三十"}, "请填写整数人数"),
    ({"knowledge_funding": "-3"}, "金额不能为负数"),
    ({"strategic_funding": "1.234"}, "金额最多保留两位小数（万元）"),
    ({"knowledge_funding": "十万"}, "请填写金额（万元），如 12.5"),
])
def test_bad_figures_are_refused_beside_their_field_and_nothing_is_saved(app, bases, data, message):
    first = bases["first"]
    response = signed_in(app, admin_of(first)).post(f"/manage/bases/{first.id}/statistics",
                                                    data={"year": str(YEAR), **data})
    assert response.status_code == 400
    name = list(data)[-1]
    assert re.search(rf'name="{name}"[^>]*>\s*(?:<div id="[^"]*-error">)?'
                     rf'<div class="invalid-feedback d-block">{re.escape(message)}</div>',
                     response.get_data(as_text=True))
    assert db.session.scalar(sa.select(sa.func.count(AnnualReport.id))) == 0


def test_every_bad_figure_is_refused_beside_its_field_in_one_round(app, bases):
    """Before, the first bad input alone came back, and the next only on the next submit."""
    first = bases["first"]
    bad = {"knowledge_funding": "-3", "strategic_funding": "1.234", "strategic_0_planned": "三十",
           "strategic_3_trained": "5", "strategic_3_trained_non_public": "6"}

    response = signed_in(app, admin_of(first)).post(f"/manage/bases/{first.id}/statistics",
                                                    data={"year": str(YEAR), "strategic_5_trained": "40", **bad})

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    for name, message in (("knowledge_funding", "金额不能为负数"),
                          ("strategic_funding", "金额最多保留两位小数（万元）"),
                          ("strategic_0_planned", "请填写整数人数"),
                          ("strategic_3_trained_non_public", "现代海洋：其中非公有制经济领域培训人数不能超过总数")):
        assert re.search(rf'name="{name}"[^>]*>\s*(?:<div id="[^"]*-error">)?'
                         rf'<div class="invalid-feedback d-block">{re.escape(message)}</div>', page), name
    assert page.count("invalid-feedback d-block") == 4
    assert db.session.scalar(sa.select(sa.func.count(AnnualReport.id))) == 0


@pytest.mark.parametrize(("typed", "message"), [
    ("1e999999", "金额过大"), ("1e-999999", "最多保留两位小数"), ("NaN", "请填写金额"), ("-Infinity", "请填写金额"),
    ("-0.5", "不能为负数"), ("12.345", "最多保留两位小数"), ("abc", "请填写金额"),
])
def test_a_fund_that_is_no_amount_is_a_message_beside_its_field_never_an_error(app, bases, typed, message):
    """A bad_input run sent 1e999999 and got a 500: Decimal.quantize raised on it before the size was judged."""
    with pytest.raises(DomainError, match=message) as refused:
        report(bases["first"], knowledge_funding=typed)
    assert refused.value.field == "knowledge_funding"
    assert db.session.scalar(sa.select(sa.func.count(AnnualReport.id))) == 0


def test_another_bases_admin_gets_404_and_an_exited_base_cannot_report(app, bases):
    first, second = bases["first"], bases["second"]
    assert signed_in(app, admin_of(second)).get(f"/manage/bases/{first.id}/statistics").status_code == 404
    assert signed_in(app, admin_of(second)).post(f"/manage/bases/{first.id}/statistics",
                                                 data={"year": str(YEAR)}).status_code == 404
    first.status = BaseStatus.EXITED
    db.session.commit()
    with pytest.raises(DomainError, match="本基地已退出"):
        report(first, strategic_funding="1")
    with pytest.raises(DomainError, match="只能填报"):
        report(second, year=1990)
    assert db.session.scalar(sa.select(sa.func.count(AnnualReport.id))) == 0


def test_saving_the_same_figures_again_writes_nothing_and_zeros_keep_no_row(app, bases):
    first = bases["first"]
    report(first, strategic={"高端化工": {"trained": "4"}})
    report(first, strategic={"高端化工": {"trained": "4"}})
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action == "report.set")) == 1
    report(first, strategic={"高端化工": {"trained": "0"}})
    assert db.session.scalar(sa.select(sa.func.count(StrategicTraining.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action == "report.set")) == 2


def test_the_database_refuses_a_non_public_count_above_its_total(app, bases):
    stored = report(bases["first"], strategic_funding="1")
    db.session.add(StrategicTraining(report_id=stored.id, field="高端化工", trained=1, trained_non_public=2))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


# --- the 登记表 (attachment 2) ---------------------------------------------------------------------------

# The form's header and each kind's own column names (the 5th of each is its hours column).
FORM_HEADER = ["类别", None, None, "序号", "培训项目名称", "主办单位", "培训时间", "培训地点", "登记人签字（印章）",
               "登记时间", "学时"]
KIND_COLUMNS = {
    "培训进修类（含网上学习）": ["序号", "培训项目名称", "主办单位", "培训时间", "培训地点", "登记人签字（印章）",
                      "登记时间", "学时"],
    "自学类": ["序号", "自学内容", "自学种类", "完成时间", "考核方式", "登记人签字（印章）", "登记时间", "学时"],
    "成果、论文著作类": ["序号", "成果/论文著作名称", "成果/论文著作种类", "获奖/发表时间", "获奖/发表等级",
                 "登记人签字（印章）", "登记时间", "折算学时"],
    "服务基层活动": ["序号", "活动内容", "主办单位", "活动时间", "活动地点", "登记人签字（印章）", "登记时间",
               "折算学时"],
    "其他类": ["序号", "培训内容", "主办单位", "培训时间", "培训地点", "登记人签字（印章）", "登记时间", "学时"],
}
LEARNED = YEAR  # the learner's year on the form


def id_number(n: int) -> str:
    first17 = f"37060219850512{n:03d}"
    return first17 + resident_ids.check_character(first17)


@pytest.fixture
def yantai(app):
    return seed_reference()["370600"]


@pytest.fixture
def learning(yantai, make_user, make_base, make_course):
    """A Yantai learner's year from every source (notice 004 is Yantai's: it accepts every kind declared here),
    and the titles each group of the form must hold."""
    employer = Employer(name="烟台市芝罘区人民医院", region_id=yantai.id)
    db.session.add(employer)
    db.session.commit()
    learner = accounts.register_learner({
        "consent": accounts.PRIVACY_NOTICE_VERSION,
        "name": "李华", "phone": "13800000901", "email": "lihua@test.example", "password": PASSWORD,
        "id_number": id_number(901), "region_id": yantai.id, "professional_title": "中级",
    })
    employ(learner, employer)
    reviewer = make_user(Role.REVIEWER, employer_id=employer.id, region_id=yantai.id)
    base = make_base(name="烟台市继续教育基地", region_id=yantai.id)
    for title, category, hours in (("人工智能与健康", Category.PUBLIC, 30),
                                   ("临床护理质量与患者安全", Category.PROFESSIONAL, 16)):
        course = make_course(base, title=title, category=category, hours=hours, start_date=date(LEARNED, 3, 2),
                             end_date=date(LEARNED, 3, 3))
        db.session.add(HoursRecord(learner_id=learner.id, year=LEARNED, category=category, hours=hours,
                                   source=HoursSource.COURSE, course_id=course.id))
    db.session.add(HoursRecord(learner_id=learner.id, year=LEARNED - 1, category=Category.PUBLIC, hours=30,
                               source=HoursSource.IMPORT, note="去年的课程"))
    db.session.commit()
    for kind, category, title, amounts in (
        ("conference", None, "山东省护理学术年会", {"minutes": 100}),
        ("self_study", None, "自学《护理管理学》", {"hours": 10}),
        ("research", None, "论文：ICU 护理质量指标研究", {"hours": 20}),
        ("grassroots", None, "对口支援乡镇卫生院", {"days": 3}),
        ("competition", "professional", "全市护理技能竞赛", {"hours": 8}),
    ):
        data = {"kind": kind, "category": category, "title": title, "organiser": "烟台市卫健委",
                "earned_on": date(LEARNED, 6, 16), "minutes": None, "days": None, "hours": None, **amounts}
        files = [FileStorage(stream=BytesIO(b"%PDF-1.4\n%%EOF\n"), filename="证明.pdf")]
        declarations.review(reviewer, declarations.declare(learner, data, files).id, True, None, "")
    groups = {
        "公需科目": ["人工智能与健康"],
        "培训进修类（含网上学习）": ["临床护理质量与患者安全", "山东省护理学术年会"],
        "自学类": ["自学《护理管理学》"],
        "成果、论文著作类": ["论文：ICU 护理质量指标研究"],
        "服务基层活动": ["对口支援乡镇卫生院"],
        "其他类": ["全市护理技能竞赛"],
    }
    return learner, groups


def registration_sheet(app, learner):
    response = signed_in(app, learner).get(f"/me/registration-form/{LEARNED}.xlsx")
    assert response.headers["Content-Disposition"].startswith("attachment")
    return workbook(response).active


def run(*args) -> str:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True).stdout


def test_registration_form_xlsx_carries_every_column_of_the_form_and_its_boxes(app, learning):
    learner, groups = learning
    sheet = registration_sheet(app, learner)

    assert sheet["A1"].value == f"专业技术人员继续教育情况登记表（{LEARNED}年度）" and "A1:K1" in merged(sheet)
    line = values(sheet, 2)
    assert line[0] == "专业技术人员姓名：李华" and line[3] == "所在单位（盖章）：" and line[7] == "主管部门（盖章）："
    # The two stamp boxes: blank, bordered, merged over two columns each, tall enough to stamp in.
    assert {"F2:G2", "J2:K2"} <= merged(sheet) and line[5] is None and line[9] is None
    assert sheet["F2"].border.left.style == sheet["J2"].border.top.style == "thin"
    assert sheet.row_dimensions[2].height >= 60
    assert values(sheet, 3) == FORM_HEADER and "A3:C3" in merged(sheet)
    assert_printed_as_a_form(sheet, "$3:$3")

    rows = {row: values(sheet, row) for row in range(4, sheet.max_row + 1)}
    # Each kind of professional learning under its own column names, as the form has them.
    kind_rows = {(r[2] or r[1]): (n, r[3:]) for n, r in rows.items() if r[3] == "序号"}
    assert {kind: columns for kind, (_n, columns) in kind_rows.items()} == KIND_COLUMNS
    assert sheet.cell(row=kind_rows["成果、论文著作类"][0], column=2).value == "折算类"
    assert sheet.cell(row=kind_rows["成果、论文著作类"][0], column=3).value == "成果、论文著作类"
    first_professional = kind_rows["培训进修类（含网上学习）"][0]
    total_row = sheet.max_row
    assert f"A{first_professional}:A{total_row - 1}" in merged(sheet)
    assert sheet.cell(row=first_professional, column=1).value == "专业科目"
    assert f"B{kind_rows['成果、论文著作类'][0]}:B{kind_rows['其他类'][0] - 1}" in merged(sheet)
    assert sheet.cell(row=4, column=1).value == "公需科目" and f"A4:C{first_professional - 1}" in merged(sheet)

    # Every learning line in its group, its signature and date boxes blank.
    starts = sorted([(4, "公需科目")] + [(n, kind) for kind, (n, _c) in kind_rows.items()])
    found: dict[str, list] = {}
    for (start, kind), (end, _next) in zip(starts, [*starts[1:], (total_row, None)], strict=True):
        lines = [rows[n] for n in range(start, end) if rows[n][3] != "序号"]
        found[kind] = [r[4] for r in lines if r[4]]
        assert all(r[8] is None and r[9] is None for r in lines), kind
        assert [r[3] for r in lines] == list(range(1, len(lines) + 1))
    assert found == groups
    ledger = db.session.scalar(sa.select(sa.func.sum(HoursRecord.hours)).where(
        HoursRecord.learner_id == learner.id, HoursRecord.year == LEARNED))
    # 30 + 16 + 2 (100 minutes) + 10 + 20 + 24 (3 days) + 8
    assert ledger == sum(r[10] for r in rows.values() if isinstance(r[10], int)) == 110
    assert rows[total_row][0] == "年度总学时：110 学时" and f"A{total_row}:K{total_row}" in merged(sheet)
    text = str(list(rows.values()))
    assert "去年的课程" not in text and learner.id_number_masked not in text  # the form asks no ID number


def test_registration_form_pdf_is_a4_with_the_font_embedded_and_blank_boxes(app, learning, tmp_path):
    learner, groups = learning
    response = signed_in(app, learner).get(f"/me/registration-form/{LEARNED}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = tmp_path / "form.pdf"
    pdf.write_bytes(response.data)

    info = run("pdfinfo", pdf)
    assert re.search(r"Page size:\s+841\.89 x 595\.2\d+ pts \(A4\)", info), info  # A4 landscape
    fonts = run("pdffonts", pdf).splitlines()[2:]
    assert fonts and all("WenQuanYi" in line and " yes " in line for line in fonts), fonts
    text = run("pdftotext", "-layout", pdf, "-")
    flat = re.sub(r"\s+", "", text)
    assert f"专业技术人员继续教育情况登记表（{LEARNED}年度）" in flat
    words = _words(pdf)
    for label in ("专业技术人员姓名：李华", "所在单位（盖章）：", "主管部门（盖章）：", "年度总学时：110学时",
                  *KIND_COLUMNS, "折算类", "公需科目", "专业科目", *{c for cs in KIND_COLUMNS.values() for c in cs},
                  *[title for titles in groups.values() for title in titles]):
        assert _in_a_cell(words, label), label
    # Nothing is written in the signature and date columns but their names: the boxes are blank.
    for label in ("登记时间", "登记人签字"):
        heads = [w for w in words if w["text"].startswith(label)]
        assert heads, label
        left, right = min(w["x0"] for w in heads) - 1, max(w["x1"] for w in heads) + 1
        inside = {w["text"] for w in words if left <= (w["x0"] + w["x1"]) / 2 <= right and w["y0"] > heads[0]["y1"]}
        assert inside <= {"登记时间", "登记人签字（印", "章）", "登记人签字（印章）", "登记人签", "字（印章）"}, inside
    # The stamp boxes are blank on the rendered page too: no dark pixel inside either of them.
    run("pdftoppm", "-png", "-r", "72", "-f", "1", "-l", "1", pdf, tmp_path / "page")
    image = PILImage.open(next(tmp_path.glob("page*.png"))).convert("L")
    employer = next(w for w in words if w["text"].startswith("所在单位"))
    department = next(w for w in words if w["text"].startswith("主管部门"))
    middle = int((employer["y0"] + employer["y1"]) / 2)
    for label in (employer, department):
        # Right of the label, along its line: the box's left border, then its right border.
        dark = [x for x in range(int(label["x1"]) + 2, image.width) if image.getpixel((x, middle)) < 128]
        left = dark[0]
        right = next(x for x in dark if x > left + 3)
        assert right - left > 60, "a box wide enough for a stamp"
        box = image.crop((left + 3, middle - 25, right - 2, middle + 25))
        assert box.getextrema()[0] > 200, "something is drawn inside a stamp box"


def _in_a_cell(words: list[dict], label: str) -> bool:
    """Whether ``label`` is written on the page, on one line or wrapped within its cell (words stacked one
    under another, overlapping across)."""
    label = re.sub(r"\s+", "", label)
    for start, first in enumerate(words):
        text, last = first["text"], first
        if not label.startswith(text):
            continue
        for word in sorted(words[start + 1:], key=lambda w: w["y0"]):
            if len(text) >= len(label):
                break
            same_line = abs(word["y0"] - last["y0"]) < 2 and 0 <= word["x0"] - last["x1"] < 12
            below = 0 < word["y0"] - last["y1"] < 6 and word["x0"] < first["x1"] and word["x1"] > first["x0"]
            if (same_line or below) and label.startswith(text + word["text"]):
                text, last = text + word["text"], word
        if text == label:
            return True
    return False


def _words(pdf) -> list[dict]:
    """The words of page 1 with their boxes, in points from the top left (pdftotext -bbox)."""
    html = run("pdftotext", "-bbox", "-f", "1", "-l", "1", pdf, "-")
    return [{"x0": float(a), "y0": float(b), "x1": float(c), "y1": float(d), "text": t}
            for a, b, c, d, t in re.findall(
                r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', html)]


def test_the_registration_form_page_shows_the_year_picked_and_prints(app, learning):
    learner, groups = learning
    client = signed_in(app, learner)
    html = client.get(f"/me/registration-form?year={LEARNED}").get_data(as_text=True)

    assert f"专业技术人员继续教育情况登记表（{LEARNED}年度）" in html
    assert re.search(r'<td class="stamp-box" id="stamp-employer"></td>', html)
    assert re.search(r'<td class="stamp-box" id="stamp-department"></td>', html)
    assert f'<option value="{LEARNED}" selected>' in html and f'<option value="{LEARNED - 1}">' in html
    assert 'class="official-form print-landscape"' in html
    assert html.count('rowspan="') >= 6 and "年度总学时：110 学时" in html
    for titles in groups.values():
        assert all(title in html for title in titles)
    assert f"/me/registration-form/{LEARNED}.pdf" in html
    other = client.get(f"/me/registration-form?year={LEARNED - 1}").get_data(as_text=True)
    assert "去年的课程" in other and "人工智能与健康" not in other


# --- the certificate -------------------------------------------------------------------------------------

def test_the_certificate_names_its_issuer_the_year_and_the_hours_by_category_and_source(app, learning, tmp_path):
    learner, _groups = learning
    client = signed_in(app, learner)
    response = client.get(f"/me/certificates/{LEARNED}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(response.data)
    certificate = db.session.execute(sa.select(Certificate).where(Certificate.learner_id == learner.id)).scalar_one()

    assert re.search(r"Page size:\s+595\.2\d+ x 841\.89 pts \(A4\)", run("pdfinfo", pdf))
    text = run("pdftotext", "-layout", pdf, "-")
    assert "签发机构：烟台市人力资源和社会保障局" in text and f"（{LEARNED}年度）" in text
    assert f"验证码：{certificate.code}" in text and f"/verify/{certificate.code}" in text
    # Yantai's minimums (notice 004: 90, of which 30 public and 60 professional), what was earned and from where.
    assert re.search(r"类别\s+地区要求\s+完成学时\s+其中：基地课程\s+其中：学时申报", text)
    assert re.search(r"公需科目\s+≥ 30\s+30\s+30\s+0\n", text)
    assert re.search(r"专业科目\s+≥ 60\s+80\s+16\s+64\n", text)
    assert re.search(r"合计\s+≥ 90\s+110\s+46\s+64\n", text)
    assert "全市护理技能竞赛" in text and "学时申报" in text
    page = app.test_client().get(f"/verify/{certificate.code}").get_data(as_text=True)
    assert '<dd class="col-8" id="verify-issuer">烟台市人力资源和社会保障局</dd>' in page


def test_a_province_issues_as_its_ting_a_city_as_its_ju(app, make_region):
    province = make_region("山东省")
    assert province.authority == "山东省人力资源和社会保障厅"
    assert make_region("烟台市", parent=province).authority == "烟台市人力资源和社会保障局"


def test_a_certificate_issued_before_it_named_an_issuer_is_not_reissued_for_that(app, learning):
    learner, _groups = learning
    client = signed_in(app, learner)
    assert client.get(f"/me/certificates/{LEARNED}.pdf").status_code == 200
    certificate = db.session.execute(sa.select(Certificate).where(Certificate.learner_id == learner.id)).scalar_one()
    code = certificate.code
    certificate.summary = {key: value for key, value in certificate.summary.items() if key != "issuer"}
    db.session.commit()

    assert client.get(f"/me/certificates/{LEARNED}.pdf").status_code == 200

    db.session.expire_all()
    assert [c.code for c in db.session.scalars(sa.select(Certificate))] == [code]


# --- printed, in the browser: the print views and the PDFs as images --------------------------------------

@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _printed(page, shot: Shots, step: str, tmp_path) -> tuple[str, str]:
    """The page printed by Chromium (its print styles and @page sizes) to a PDF, kept as images of its first
    page under the journey's screenshots; the PDF's page size and text."""
    pdf = tmp_path / f"{step}.pdf"
    page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
    return _pdf_to_images(pdf, shot, step), run("pdftotext", "-layout", pdf, "-")


def a4(size: str) -> str | None:
    """"portrait" or "landscape" for a page size in points that is A4 (to a point: Chromium rounds), else None."""
    width, height = (float(n) for n in size.split(" x "))
    short, long = sorted((width, height))
    if abs(short - 595.3) > 1.5 or abs(long - 841.9) > 1.5:
        return None
    return "portrait" if width < height else "landscape"


def _pdf_to_images(pdf, shot: Shots, step: str) -> str:
    """Page 1 of ``pdf`` rendered to a PNG among the journey's screenshots; the PDF's page size."""
    path = shot.folder / f"{len(shot.taken) + 1:02d}-{step}"
    run("pdftoppm", "-png", "-r", "100", "-f", "1", "-l", "1", "-singlefile", pdf, path)
    shot.taken.append(path.with_suffix(".png"))
    assert path.with_suffix(".png").stat().st_size > 10_000
    return re.search(r"Page size:\s+([\d.]+ x [\d.]+)", run("pdfinfo", pdf)).group(1)


@pytest.mark.browser
def test_the_documents_print_as_forms_and_their_pdfs_render(app, learning, yantai, make_user, chromium, tmp_path):
    """A learner's 登记表 page, certificate list and a course page, and a regulator's evaluation table, printed
    by Chromium with the site's print styles; the 登记表 and certificate PDFs downloaded and rendered. Every
    page is kept as an image under artifacts/screenshots/documents/."""
    learner, groups = learning
    regulator = make_user(Role.REGULATOR, region_id=yantai.id, email="regulator.docs@test.example")
    found = evaluation.run(regulator, YEAR, yantai.id)
    course = db.session.execute(sa.select(Course).where(Course.title == "临床护理质量与患者安全")).scalar_one()
    urls = {"evaluation": f"/regulator/evaluations/{found.id}", "course": f"/courses/{course.id}"}
    emails = {"learner": learner.email, "regulator": regulator.email}
    db.session.remove()
    shot = Shots("documents")
    with LiveServer(app) as server:
        context = chromium.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(server.url + "/login")
        page.get_by_label("手机号或邮箱").fill(emails["learner"])
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()

        page.goto(f"{server.url}/me/registration-form?year={YEAR}")
        expect(page.locator("#registration-form")).to_contain_text("年度总学时：110 学时")
        shot(page, "registration-form-screen")
        size, text = _printed(page, shot, "registration-form-print", tmp_path)
        assert a4(size) == "landscape", size
        assert "所在单位（盖章）" in text and "全市护理技能竞赛" in text
        assert "修改密码" not in text and "下载 PDF" not in text  # the site's furniture is not printed

        with page.expect_download() as download:
            page.locator("#registration-pdf").click()
        form_pdf = tmp_path / "registration.pdf"
        download.value.save_as(form_pdf)
        assert a4(_pdf_to_images(form_pdf, shot, "registration-form-pdf")) == "landscape"

        page.goto(server.url + "/me/certificates")
        with page.expect_download() as download:
            page.locator(f"tr[data-year='{YEAR}']").get_by_role("link", name="下载证书").click()
        certificate_pdf = tmp_path / "certificate.pdf"
        download.value.save_as(certificate_pdf)
        assert a4(_pdf_to_images(certificate_pdf, shot, "certificate-pdf")) == "portrait"
        page.goto(server.url + "/me/certificates")
        size, text = _printed(page, shot, "certificates-print", tmp_path)
        assert a4(size) == "portrait" and "已达标" in text and "下载证书" not in text

        page.goto(server.url + urls["course"])
        size, text = _printed(page, shot, "course-print", tmp_path)
        assert a4(size) == "portrait"
        assert "临床护理质量与患者安全" in text and "培训地点" in text and "登录" not in text

        page.context.clear_cookies()
        page.goto(server.url + "/login")
        page.get_by_label("手机号或邮箱").fill(emails["regulator"])
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.goto(server.url + urls["evaluation"])
        shot(page, "evaluation-screen")
        size, text = _printed(page, shot, "evaluation-print", tmp_path)
        # The table on a landscape page, its outcomes as text where the screen has a form to change them.
        assert a4(size) == "landscape", size
        assert "烟台市继续教育基地" in text and "保存" not in text and "确认评估结论" not in text
        context.close()
    assert len(shot.taken) == 8
