"""The annual registration form (登记表, notice 004 attachment 2) of a learner, as XLSX and PDF, grouped as
the form is: public; professional (training and study incl. online, self-study, conversion: results and
papers / grassroots service, other); the year's total."""

import io
from collections.abc import Sequence

import sqlalchemy as sa
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from extensions import db
from models import Category, Course, Declaration, DeclarationKind, HoursRecord, HoursSource, TrainingBase, User
from services.certificates import font_name
from services.infra import spreadsheets

GROUPS = (
    ("公需科目", ""),
    ("专业科目", "培训进修类（含网上学习）"),
    ("专业科目", "自学类"),
    ("专业科目", "折算类：成果、论文著作类"),
    ("专业科目", "折算类：服务基层活动"),
    ("专业科目", "其他类"),
)
KIND_GROUP = {
    DeclarationKind.SELF_STUDY: 2, DeclarationKind.RESEARCH: 3, DeclarationKind.GRASSROOTS: 4,
    DeclarationKind.CONFERENCE: 1,
}


def rows(learner: User, year: int) -> list[tuple[int, list[dict]]]:
    """The year's ledger rows sorted into the form's groups, with course or declaration details. One query."""
    found = db.session.execute(
        sa.select(HoursRecord, Course, TrainingBase.name, Declaration)
        .outerjoin(Course, Course.id == HoursRecord.course_id)
        .outerjoin(TrainingBase, TrainingBase.id == Course.base_id)
        .outerjoin(Declaration, Declaration.id == HoursRecord.declaration_id)
        .where(HoursRecord.learner_id == learner.id, HoursRecord.year == year)
        .order_by(HoursRecord.id)
    ).all()
    grouped: dict[int, list[dict]] = {index: [] for index in range(len(GROUPS))}
    for record, course, base_name, declaration in found:
        if record.category == Category.PUBLIC:
            group = 0
        elif declaration is not None:
            group = KIND_GROUP.get(declaration.kind, 5)
        elif record.category == Category.PROFESSIONAL:
            group = 1
        else:
            group = 5  # electives have no line of their own on the form
        if course is not None:
            item = {"title": course.title, "organiser": base_name,
                    "when": f"{course.start_date:%Y.%m.%d}-{course.end_date:%Y.%m.%d}", "place": course.place}
        elif declaration is not None:
            item = {"title": declaration.title, "organiser": declaration.organiser,
                    "when": f"{declaration.earned_on:%Y.%m.%d}", "place": declaration.kind.label}
        else:
            item = {"title": record.note or HoursSource(record.source).label, "organiser": "", "when": "", "place": ""}
        item["hours"] = record.hours
        grouped[group].append(item)
    return list(grouped.items())


def xlsx(learner: User, year: int) -> bytes:
    table: list[Sequence[object]] = [
        [f"{year}年度专业技术人员继续教育情况登记表"],
        [f"姓名：{learner.name}", f"身份证号：{learner.id_number_masked}", f"工作单位：{learner.employer_name}",
         f"职称：{learner.professional_title}"],
        ["类别", "分类", "序号", "项目名称", "主办单位", "时间", "地点/类型", "学时"],
    ]
    total = 0
    for index, items in rows(learner, year):
        category, kind = GROUPS[index]
        subtotal = sum(i["hours"] for i in items)
        total += subtotal
        for number, item in enumerate(items, start=1):
            table.append([category, kind, number, item["title"], item["organiser"], item["when"], item["place"],
                          item["hours"]])
        table.append([category, kind, "小计", "", "", "", "", subtotal])
    table.append(["年度合计", "", "", "", "", "", "", total])
    return spreadsheets.xlsx("登记表", table)


def pdf(learner: User, year: int) -> bytes:
    font = font_name()
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, initialFontName=font)
    width, height = A4
    page.setTitle(f"{year}年度专业技术人员继续教育情况登记表")
    page.setFont(font, 16)
    page.drawCentredString(width / 2, height - 25 * mm, f"{year}年度专业技术人员继续教育情况登记表")
    page.setFont(font, 10)
    heading = f"姓名：{learner.name}    身份证号：{learner.id_number_masked}    工作单位：{learner.employer_name}"
    page.drawString(20 * mm, height - 35 * mm, heading)
    y = height - 45 * mm
    total = 0
    for index, items in rows(learner, year):
        category, kind = GROUPS[index]
        subtotal = sum(i["hours"] for i in items)
        total += subtotal
        if y < 30 * mm:
            page.showPage()
            page.setFont(font, 10)
            y = height - 20 * mm
        page.setFont(font, 11)
        page.drawString(20 * mm, y, f"{category}{' · ' + kind if kind else ''}（小计 {subtotal} 学时）")
        y -= 6 * mm
        page.setFont(font, 9)
        for number, item in enumerate(items, start=1):
            page.drawString(24 * mm, y, f"{number}. {item['title'][:34]}  {item['organiser'][:16]}  {item['when']}  "
                                        f"{item['hours']} 学时")
            y -= 5 * mm
            if y < 20 * mm:
                page.showPage()
                page.setFont(font, 9)
                y = height - 20 * mm
        y -= 3 * mm
    page.setFont(font, 12)
    page.drawString(20 * mm, max(y, 20 * mm), f"年度合计：{total} 学时")
    page.showPage()
    page.save()
    return out.getvalue()
