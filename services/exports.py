"""The regulator's XLSX reports in the official layouts (notice 004) and the evaluation table, written by
services.infra.spreadsheets (which keeps any text from running as a formula)."""

from collections.abc import Iterable, Sequence
from datetime import date

import sqlalchemy as sa

from extensions import db
from models import (
    FIELDS,
    Course,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    Evaluation,
    EvaluationResult,
    ProjectType,
    TrainingBase,
    User,
)
from services import audit, scope
from services.actors import Actor
from services.infra import spreadsheets

CATALOG_COLUMNS = [
    "序号", "承办单位", "培训项目名称", "学时", "培训时间", "培训地点", "培训对象", "联系人及电话", "是否面向全市",
]


def _audit_export(actor: Actor, action: str, year: int) -> None:
    # The same report again within the window is a count on its entry (services.audit.record_repeatable).
    audit.record_repeatable(actor, action, actor, subject=f"year {year}", details={"year": year})


def _period(course: Course) -> str:
    if course.start_date == course.end_date:
        return f"{course.start_date:%Y.%m.%d}"
    return f"{course.start_date:%Y.%m.%d}-{course.end_date:%Y.%m.%d}"


def project_catalog(regulator: User, year: int) -> bytes:
    """附件1 培训项目目录: the year's published courses of the bases in scope."""
    _audit_export(regulator, "export.catalog", year)
    courses = db.session.execute(
        sa.select(Course, TrainingBase.name)
        .join(TrainingBase, TrainingBase.id == Course.base_id)
        .where(scope.bases_clause(regulator), Course.status.in_((CourseStatus.PUBLISHED, CourseStatus.CLOSED)),
               Course.start_date >= date(year, 1, 1), Course.start_date <= date(year, 12, 31))
        .order_by(TrainingBase.id, Course.start_date, Course.id)
    ).all()
    rows: list[Sequence[object]] = [[f"{year}年度专业技术人员继续教育培训项目目录"], CATALOG_COLUMNS]
    for number, (course, base_name) in enumerate(courses, start=1):
        rows.append([
            number, base_name, course.title, course.hours, _period(course), course.place, course.audience,
            f"{course.contact_person} {course.contact_phone}".strip(), "是" if course.open_to_city else "否",
        ])
    return spreadsheets.xlsx("培训项目目录", rows)


def knowledge_update_statistics(regulator: User, year: int) -> bytes:
    """附件3 知识更新工程实施情况统计表: per base and field, people trained this year by kind of project
    (distinct learners who completed on a day of the year, services.evaluation's count), and next year's plan
    (places in courses starting next year)."""
    _audit_export(regulator, "export.knowledge_update", year)
    done = db.session.execute(
        sa.select(Course.base_id, Course.field, Course.project_type,
                  sa.func.count(sa.distinct(Enrollment.learner_id)))
        .join(Enrollment, Enrollment.course_id == Course.id)
        .join(TrainingBase, TrainingBase.id == Course.base_id)
        .where(scope.bases_clause(regulator), Enrollment.status == EnrollmentStatus.COMPLETED,
               Course.end_date >= date(year, 1, 1),  # a completion's day lies within its course's dates
               Enrollment.completed_on >= date(year, 1, 1), Enrollment.completed_on <= date(year, 12, 31))
        .group_by(Course.base_id, Course.field, Course.project_type)
    ).all()
    planned = db.session.execute(
        sa.select(Course.base_id, Course.field, Course.project_type, sa.func.sum(sa.func.coalesce(Course.capacity, 0)))
        .join(TrainingBase, TrainingBase.id == Course.base_id)
        .where(scope.bases_clause(regulator), Course.status != CourseStatus.CANCELLED,
               Course.start_date >= date(year + 1, 1, 1), Course.start_date <= date(year + 1, 12, 31))
        .group_by(Course.base_id, Course.field, Course.project_type)
    ).all()
    names: dict[int, str] = dict(db.session.execute(sa.select(TrainingBase.id, TrainingBase.name).where(
        scope.bases_clause(regulator))).tuples().all())
    table: dict[tuple[int, str], dict] = {}
    for base_id, field, kind, people in done:
        table.setdefault((base_id, field), {"now": {}, "next": {}})["now"][ProjectType(kind)] = people
    for base_id, field, kind, places in planned:
        table.setdefault((base_id, field), {"now": {}, "next": {}})["next"][ProjectType(kind)] = int(places or 0)
    kinds = (ProjectType.URGENT_TALENT, ProjectType.JOB_TRAINING, ProjectType.ABROAD)
    rows = [
        [f"{year}年度专业技术人才知识更新工程实施情况统计表"],
        ["单位名称", "具体推进实施部门、机构", "专项经费（万元）", "领域", "今年任务完成情况", "", "",
         "明年计划", "", "", "备注"],
        ["", "", "", "", *[k.label + "（人数）" for k in kinds], *[k.label + "（人数）" for k in kinds], ""],
    ]
    field_order = {name: index for index, name in enumerate(FIELDS)}
    for (base_id, field), counts in sorted(table.items(), key=lambda kv: (kv[0][0], field_order.get(kv[0][1], 99))):
        rows.append([
            names[base_id], names[base_id], "", field,
            *[counts["now"].get(k, 0) for k in kinds], *[counts["next"].get(k, 0) for k in kinds], "",
        ])
    return spreadsheets.xlsx("知识更新工程统计", rows)


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
    rows: list[Sequence[object]] = [[title], EVALUATION_COLUMNS]
    for number, r in enumerate(results, start=1):
        rows.append([
            number, r.base.name, r.base.type.label, r.trainees, r.target_trainees, r.projects, r.target_projects,
            r.completion_rate, r.average_rating, r.disclosure_rate, r.overdue_plans, r.score, r.proposed.label,
            r.final.label if r.final else "", r.override_reason,
        ])
    return spreadsheets.xlsx("年度评估", rows)
