"""The regulator's XLSX reports in the layouts of notice 004 (attachments 1, 3 and 4: the title, the header
rows merged as the forms draw them, the lines to stamp and date, A4 landscape) and the evaluation table,
written by services.infra.spreadsheets (the one writer, which keeps any text from running as a formula).
Each takes a year and a region within the regulator's reach (services.policies)."""

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from extensions import db
from models import (
    FIELDS,
    STRATEGIC_FIELDS,
    AnnualReport,
    BaseStatus,
    Course,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    Evaluation,
    EvaluationResult,
    ProjectType,
    Region,
    StrategicTraining,
    TrainingBase,
    User,
)
from services import audit, policies
from services.actors import Actor
from services.infra import spreadsheets
from services.infra.spreadsheets import FormSheet, Line, Span

CATALOG_COLUMNS = [
    "序号", "承办单位", "培训项目名称", "学时", "培训时间", "培训地点", "培训对象", "联系人及电话", "是否面向全市",
]
# 附件3's three kinds of project, in the form's order, and its header as the form draws it (two levels).
KNOWLEDGE_KINDS = (ProjectType.URGENT_TALENT, ProjectType.JOB_TRAINING, ProjectType.ABROAD)
KNOWLEDGE_HEADER = [
    ["单位名称", "具体推进实施部门、机构", "专项经费（万元）", "领域", "今年任务完成情况", None, None, "明年计划", None,
     None, "备注"],
    [None, None, None, None, *[k.label + "（人数）" for k in KNOWLEDGE_KINDS],
     *[k.label + "（人数）" for k in KNOWLEDGE_KINDS], None],
]
KNOWLEDGE_HEADER_MERGES = ((0, 0, 1, 0), (0, 1, 1, 1), (0, 2, 1, 2), (0, 3, 1, 3), (0, 4, 0, 6), (0, 7, 0, 9),
                           (0, 10, 1, 10))
NON_PUBLIC = "其中：非公有制经济领域培训人数"
STRATEGIC_HEADER = [
    ["投入经费（万元）", "领域", None, "今年培训情况", None, "明年培训计划", None, "备注"],
    [None, None, None, "总数", NON_PUBLIC, "总数", NON_PUBLIC, None],
]
STRATEGIC_HEADER_MERGES = ((0, 0, 1, 0), (0, 1, 1, 2), (0, 3, 0, 4), (0, 5, 0, 6), (0, 7, 1, 7))
DATE_LINE = "填报日期：        年      月      日"


def region_of(regulator: User, region_id: int | None) -> Region:
    """The region an export covers: ``region_id`` if the regulator oversees it, their own region if None.

    :raise LookupError: a region outside the regulator's reach (the view answers 404).
    """
    wanted = region_id if region_id is not None else regulator.region_id
    for region in policies.regions_in_reach(regulator):
        if region.id == wanted:
            return region
    raise LookupError(region_id)


def _in_region(regulator: User, region: Region) -> sa.ColumnElement[bool]:
    """WHERE clause: the bases of ``region`` (a province: and its cities) that the regulator oversees."""
    return sa.and_(policies.bases_in_reach(regulator), TrainingBase.region_id.in_(policies.region_ids(region.id)))


def _audit_export(actor: Actor, action: str, year: int, region: Region) -> None:
    # The same report again within the window is a count on its entry (services.audit.record_repeatable).
    audit.record_repeatable(actor, action, actor, subject=f"year {year} region {region.code}",
                            details={"year": year, "region": region.code})


def _above(width: int, region: Region) -> list[Line]:
    left = width // 2 + 1
    return [Line([Span("填报单位（盖章）：", cols=left), Span(f"地区：{region.full_name}", cols=width - left,
                                                          align="right")], height=24)]


def _below(width: int) -> list[Line]:
    third = width // 3
    return [Line([Span("填表人：", cols=third), Span("联系电话：", cols=third),
                  Span(DATE_LINE, cols=width - 2 * third, align="right")], height=28)]


def _period(course: Course) -> str:
    if course.start_date == course.end_date:
        return f"{course.start_date:%Y.%m.%d}"
    return f"{course.start_date:%Y.%m.%d}-{course.end_date:%Y.%m.%d}"


def project_catalog(regulator: User, year: int, region_id: int | None = None) -> bytes:
    """附件1 培训项目目录: the year's published courses of the bases in the region.

    :raise LookupError: a region outside the regulator's reach.
    """
    region = region_of(regulator, region_id)
    _audit_export(regulator, "export.catalog", year, region)
    courses = db.session.execute(
        sa.select(Course, TrainingBase.name)
        .join(TrainingBase, TrainingBase.id == Course.base_id)
        .where(_in_region(regulator, region), Course.status.in_((CourseStatus.PUBLISHED, CourseStatus.CLOSED)),
               Course.start_date >= date(year, 1, 1), Course.start_date <= date(year, 12, 31))
        .order_by(TrainingBase.id, Course.start_date, Course.id)
    ).all()
    rows = [
        [number, base_name, course.title, course.hours, _period(course), course.place, course.audience,
         f"{course.contact_person} {course.contact_phone}".strip(), "是" if course.open_to_city else "否"]
        for number, (course, base_name) in enumerate(courses, start=1)
    ]
    width = len(CATALOG_COLUMNS)
    return spreadsheets.form_xlsx([FormSheet(
        name="培训项目目录", title=f"{year}年度专业技术人员继续教育培训项目目录",
        widths=(6, 24, 32, 6, 22, 20, 18, 22, 8), header=[CATALOG_COLUMNS], rows=rows,
        align=("center", "left", "left", "center", "center", "left", "left", "left", "center"),
        above=_above(width, region), below=_below(width),
    )])


def knowledge_update_statistics(regulator: User, year: int, region_id: int | None = None) -> bytes:
    """附件3 专业技术人员知识更新工程实施情况统计表: per base a block of every field of the form, in its order,
    with people trained this year by kind of project (distinct learners who completed on a day of the year,
    services.evaluation's count), next year's plan (places in courses starting next year), and the special
    funds, department and note the base entered (services.annual_reports). Zeros, not blanks. Five queries.

    :raise LookupError: a region outside the regulator's reach.
    """
    region = region_of(regulator, region_id)
    _audit_export(regulator, "export.knowledge_update", year, region)
    in_region = _in_region(regulator, region)
    done = db.session.execute(
        sa.select(Course.base_id, Course.field, Course.project_type,
                  sa.func.count(sa.distinct(Enrollment.learner_id)))
        .join(Enrollment, Enrollment.course_id == Course.id)
        .join(TrainingBase, TrainingBase.id == Course.base_id)
        .where(in_region, Enrollment.status == EnrollmentStatus.COMPLETED,
               Course.end_date >= date(year, 1, 1),  # a completion's day lies within its course's dates
               Enrollment.completed_on >= date(year, 1, 1), Enrollment.completed_on <= date(year, 12, 31))
        .group_by(Course.base_id, Course.field, Course.project_type)
    ).all()
    planned = db.session.execute(
        sa.select(Course.base_id, Course.field, Course.project_type, sa.func.sum(sa.func.coalesce(Course.capacity, 0)))
        .join(TrainingBase, TrainingBase.id == Course.base_id)
        .where(in_region, Course.status != CourseStatus.CANCELLED,
               Course.start_date >= date(year + 1, 1, 1), Course.start_date <= date(year + 1, 12, 31))
        .group_by(Course.base_id, Course.field, Course.project_type)
    ).all()
    reports = {r.base_id: r for r in db.session.execute(
        sa.select(AnnualReport).join(TrainingBase, TrainingBase.id == AnnualReport.base_id)
        .where(in_region, AnnualReport.year == year)
    ).scalars()}
    bases = db.session.execute(
        sa.select(TrainingBase.id, TrainingBase.name, TrainingBase.status).where(in_region).order_by(TrainingBase.id)
    ).all()
    counts: dict[tuple[int, str, str], list[int]] = {}
    for base_id, field, kind, people in done:
        counts.setdefault((base_id, field, ProjectType(kind)), [0, 0])[0] = people
    for base_id, field, kind, places in planned:
        counts.setdefault((base_id, field, ProjectType(kind)), [0, 0])[1] = int(places or 0)
    busy = {base_id for base_id, _field, _kind in counts} | set(reports)
    # An exited base is left out unless it has figures for the year (it may have trained people before exiting).
    blocks = [(base_id, name) for base_id, name, status in bases if status != BaseStatus.EXITED or base_id in busy]
    if not blocks:  # nobody to report: the form still lists its fields, with zeros, under the region's name
        blocks = [(None, region.full_name)]
    rows: list[list[object]] = []
    merges = list(KNOWLEDGE_HEADER_MERGES)
    for base_id, name in blocks:
        report = reports.get(base_id)
        first = len(KNOWLEDGE_HEADER) + len(rows)
        for index, field in enumerate(FIELDS):
            figures = [counts.get((base_id, field, kind), (0, 0)) for kind in KNOWLEDGE_KINDS]
            rows.append([
                name if index == 0 else None,
                (report.department or name if report else name) if index == 0 else None,
                (Decimal(report.knowledge_funding) if report else Decimal("0.00")) if index == 0 else None,
                field, *[now for now, _next in figures], *[nxt for _now, nxt in figures],
                (report.knowledge_note if report else "") if index == 0 else None,
            ])
        last = first + len(FIELDS) - 1
        merges += [(first, col, last, col) for col in (0, 1, 2, 10)]
    width = len(KNOWLEDGE_HEADER[0])
    return spreadsheets.form_xlsx([FormSheet(
        name="知识更新工程统计", title=f"专业技术人员知识更新工程实施情况统计表（{year}年度）",
        widths=(22, 20, 10, 16, 14, 12, 12, 14, 12, 12, 16), header=KNOWLEDGE_HEADER, rows=rows, merges=merges,
        align=("center", "center", "center", "center", *["center"] * 6, "left"),
        heights={1: 48}, above=_above(width, region), below=_below(width),
    )])


def strategic_statistics(regulator: User, year: int, region_id: int | None = None) -> bytes:
    """附件4 山东省重大工程、重大战略专业技术人才培训统计表: per strategic field, in the form's order, the people
    trained this year and planned for next, in total and from the non-public sector, and the funds put in:
    the sums of what the region's bases entered (services.annual_reports). Zeros, not blanks. Three queries.

    :raise LookupError: a region outside the regulator's reach.
    """
    region = region_of(regulator, region_id)
    _audit_export(regulator, "export.strategic", year, region)
    in_region = _in_region(regulator, region)
    of_year = (sa.select(AnnualReport.id).join(TrainingBase, TrainingBase.id == AnnualReport.base_id)
               .where(in_region, AnnualReport.year == year))
    sums = {field: numbers for field, *numbers in db.session.execute(
        sa.select(StrategicTraining.field, sa.func.sum(StrategicTraining.trained),
                  sa.func.sum(StrategicTraining.trained_non_public), sa.func.sum(StrategicTraining.planned),
                  sa.func.sum(StrategicTraining.planned_non_public))
        .where(StrategicTraining.report_id.in_(of_year))
        .group_by(StrategicTraining.field)
    ).all()}
    funding = db.session.execute(  # an aggregate: always one row
        sa.select(sa.func.coalesce(sa.func.sum(AnnualReport.strategic_funding), 0)).where(AnnualReport.id.in_(of_year))
    ).scalar_one()
    notes = db.session.execute(
        sa.select(TrainingBase.name, AnnualReport.strategic_note)
        .join(TrainingBase, TrainingBase.id == AnnualReport.base_id)
        .where(AnnualReport.id.in_(of_year), AnnualReport.strategic_note != "")
        .order_by(TrainingBase.id)
    ).all()
    rows: list[list[object]] = []
    merges = list(STRATEGIC_HEADER_MERGES)
    first = len(STRATEGIC_HEADER)
    for strategy, names in STRATEGIC_FIELDS:
        start = first + len(rows)
        for index, name in enumerate(names):
            rows.append([None, strategy if index == 0 else None, name,
                         *[int(n or 0) for n in sums.get(name, (0, 0, 0, 0))], None])
        merges.append((start, 1, start + len(names) - 1, 1))
    rows[0][0] = Decimal(funding).quantize(Decimal("0.01"))
    rows[0][-1] = "；".join(f"{name}：{note}" for name, note in notes)
    last = first + len(rows) - 1
    merges += [(first, 0, last, 0), (first, 7, last, 7)]
    width = len(STRATEGIC_HEADER[0])
    return spreadsheets.form_xlsx([FormSheet(
        name="重大工程重大战略培训统计", title=f"山东省重大工程、重大战略专业技术人才培训统计表（{year}年度）",
        widths=(12, 14, 22, 12, 20, 12, 20, 24), header=STRATEGIC_HEADER, rows=rows, merges=merges,
        align=(*["center"] * 7, "left"), heights={1: 36}, above=_above(width, region), below=_below(width),
    )])


# The official tables by the name their routes and jobs know them by: how each is built, and its title.
TABLES: dict[str, tuple[Callable[[User, int, int | None], bytes], str]] = {
    "catalog": (project_catalog, "培训项目目录"),
    "knowledge": (knowledge_update_statistics, "知识更新工程实施情况统计表"),
    "strategic": (strategic_statistics, "重大工程重大战略专业技术人才培训统计表"),
}


def table(regulator: User, kind: str, year: int, region_id: int | None) -> tuple[bytes, str]:
    """An official table (``kind`` of TABLES) for the year and region, and the name of its file (audited).

    :raise LookupError: a region outside the regulator's reach, or no such table.
    """
    build, title = TABLES[kind]
    region = region_of(regulator, region_id)
    return build(regulator, year, region.id), f"{year}年度{title}（{region.full_name}）.xlsx"


def evaluation_table(actor: Actor, evaluation: Evaluation) -> bytes:
    """The evaluation's figures, scores and outcomes, one row per base (the export is audited)."""
    audit.record_repeatable(actor, "export.evaluation", evaluation, subject=f"evaluation {evaluation.id}",
                            details={"year": evaluation.year})
    title = f"{evaluation.year}年度继续教育基地评估结果（{evaluation.region.name}，{evaluation.status.label}）"
    return evaluation_rows_xlsx(title, evaluation.results)


EVALUATION_COLUMNS = [
    "序号", "基地名称", "类型", "培训人数", "目标人数", "培训项目", "目标项目", "结业率(%)", "平均评分", "信息公开(%)",
    "未获批准的办班", "得分", "建议结论", "最终结论", "调整理由",
]


def evaluation_rows_xlsx(title: str, results: Iterable[EvaluationResult]) -> bytes:
    """The evaluation table: its title, one header row, a row per base (row 3 on), A4 landscape."""
    rows = [
        [number, r.base.name, r.base.type.label, r.trainees, r.target_trainees, r.projects, r.target_projects,
         r.completion_rate, r.average_rating, r.disclosure_rate, r.overdue_plans, r.score, r.proposed.label,
         r.final.label if r.final else "", r.override_reason]
        for number, r in enumerate(results, start=1)
    ]
    return spreadsheets.form_xlsx([FormSheet(
        name="年度评估", title=title, widths=(6, 28, 18, 9, 9, 9, 9, 9, 9, 9, 9, 8, 9, 9, 30),
        header=[EVALUATION_COLUMNS], rows=rows, align=("center", "left", "left", *["center"] * 11, "left"),
    )])
