"""The annual registration form (专业技术人员继续教育情况登记表, notice 004 attachment 2) of a learner for a
year, laid out as the form is: the name and the boxes for the employer's and its supervising department's
stamps; public subjects; professional subjects by kind (training and study incl. online, self-study,
conversion: results and papers / grassroots service, other), each kind under its own column names; on every
line a box for the registrar's signature (seal) and the date of registration; the year's total. One layout
(``sheet``) is written as XLSX (services.infra.spreadsheets), drawn as an A4 PDF and shown as a printable page."""

import io
from dataclasses import dataclass, field

import sqlalchemy as sa
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from extensions import db
from models import Category, Course, Declaration, DeclarationKind, HoursRecord, HoursSource, Mode, TrainingBase, User
from services.certificates import font_name
from services.infra import spreadsheets
from services.infra.spreadsheets import FormSheet, Line, Span

SIGNATURE, REGISTERED = "登记人签字（印章）", "登记时间"
EMPLOYER_STAMP, DEPARTMENT_STAMP = "所在单位（盖章）：", "主管部门（盖章）："
# A group without learning still gets a line, blank, to be filled in by hand before stamping.
MIN_LINES = 1


@dataclass(frozen=True)
class Group:
    """One kind of learning on the form: where it sits (category, kind, sub-kind) and its own column names
    (what, by whom or of which sort, when, where or how, hours)."""

    category: str
    kind: str
    sub: str
    columns: tuple[str, str, str, str, str]


TRAINING_COLUMNS = ("培训项目名称", "主办单位", "培训时间", "培训地点", "学时")
GROUPS = (
    Group("公需科目", "", "", TRAINING_COLUMNS),
    Group("专业科目", "培训进修类（含网上学习）", "", TRAINING_COLUMNS),
    Group("专业科目", "自学类", "", ("自学内容", "自学种类", "完成时间", "考核方式", "学时")),
    Group("专业科目", "折算类", "成果、论文著作类",
          ("成果/论文著作名称", "成果/论文著作种类", "获奖/发表时间", "获奖/发表等级", "折算学时")),
    Group("专业科目", "折算类", "服务基层活动", ("活动内容", "主办单位", "活动时间", "活动地点", "折算学时")),
    Group("专业科目", "其他类", "", ("培训内容", "主办单位", "培训时间", "培训地点", "学时")),
)
KIND_GROUP = {
    DeclarationKind.CONFERENCE: 1, DeclarationKind.SELF_STUDY: 2, DeclarationKind.RESEARCH: 3,
    DeclarationKind.GRASSROOTS: 4,
}
# Columns: 类别, 分类, 子类, 序号, the group's four, 登记人签字（印章）, 登记时间, 学时.
WIDTHS = (8, 11, 10, 6, 25, 16, 22, 13, 20, 11, 9)
HEADER = ["类别", None, None, "序号", *TRAINING_COLUMNS[:4], SIGNATURE, REGISTERED, TRAINING_COLUMNS[4]]


@dataclass
class Entry:
    title: str
    second: str  # 主办单位, 自学种类, 成果种类
    when: str
    fourth: str  # 培训地点, 考核方式, 获奖/发表等级, 活动地点
    hours: int


@dataclass
class FormData:
    name: str
    year: int
    groups: list[list[Entry]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(entry.hours for entries in self.groups for entry in entries)


def title(year: int) -> str:
    return f"专业技术人员继续教育情况登记表（{year}年度）"


def entries(learner: User, year: int) -> FormData:
    """The year's ledger rows sorted into the form's groups, with course or declaration details. One query."""
    found = db.session.execute(
        sa.select(HoursRecord, Course, TrainingBase.name, Declaration)
        .outerjoin(Course, Course.id == HoursRecord.course_id)
        .outerjoin(TrainingBase, TrainingBase.id == Course.base_id)
        .outerjoin(Declaration, Declaration.id == HoursRecord.declaration_id)
        .where(HoursRecord.learner_id == learner.id, HoursRecord.year == year)
        .order_by(HoursRecord.id)
    ).all()
    data = FormData(name=learner.name, year=year, groups=[[] for _group in GROUPS])
    for record, course, base_name, declaration in found:
        data.groups[_group_of(record, declaration)].append(_entry(record, course, base_name, declaration))
    return data


def _group_of(record: HoursRecord, declaration: Declaration | None) -> int:
    if record.category == Category.PUBLIC:
        return 0
    if declaration is not None:
        return KIND_GROUP.get(declaration.kind, 5)
    # A professional course (or import) is training; an elective has no line of its own on the form.
    return 1 if record.category == Category.PROFESSIONAL else 5


def _entry(record: HoursRecord, course: Course | None, base_name: str | None,
           declaration: Declaration | None) -> Entry:
    if course is not None:
        period = f"{course.start_date:%Y.%m.%d}" if course.start_date == course.end_date else (
            f"{course.start_date:%Y.%m.%d}-{course.end_date:%Y.%m.%d}")
        place = course.place or ("线上" if course.mode in (Mode.ONLINE_LIVE, Mode.SELF_PACED) else "")
        return Entry(course.title, base_name or "", period, place, record.hours)
    if declaration is not None:
        when = f"{declaration.earned_on:%Y.%m.%d}"
        if declaration.kind == DeclarationKind.SELF_STUDY:
            # Checked by the employer's reviewer on the site: that is how it was assessed.
            return Entry(declaration.title, declaration.organiser or "自学", when, "用人单位审核", record.hours)
        if declaration.kind == DeclarationKind.RESEARCH:
            return Entry(declaration.title, declaration.organiser or declaration.kind.label, when, "", record.hours)
        return Entry(declaration.title, declaration.organiser, when, "", record.hours)
    return Entry(record.note or HoursSource(record.source).label, "", "", "", record.hours)


def sheet(learner: User, year: int) -> FormSheet:
    """The form as one table: the name and stamp boxes above, every group's lines (at least MIN_LINES, a blank
    one to fill in by hand), the signature and date boxes on each line, the year's total as the last row."""
    data = entries(learner, year)
    rows: list[list] = []
    merges: list[tuple[int, int, int, int]] = [(0, 0, 0, 2)]
    bold: set[int] = set()
    offset = 1  # table rows are counted from the header row

    def at() -> int:
        return offset + len(rows)

    professional_start: int | None = None
    conversion_start = None
    for index, (group, items) in enumerate(zip(GROUPS, data.groups, strict=True)):
        start = at()
        if index == 0:
            for number, entry in enumerate(_padded(items), start=1):
                rows.append(["公需科目" if number == 1 else None, None, None, *_line(number, entry)])
            merges.append((start, 0, at() - 1, 2))
            continue
        professional_start = professional_start if professional_start is not None else start
        bold.add(len(rows))
        # The second conversion kind sits under the first one's 折算类 (merged over both): its own cell is covered.
        kind = None if group.sub and conversion_start is not None else group.kind
        rows.append([None, kind, group.sub or None, "序号", *group.columns[:4], SIGNATURE, REGISTERED,
                     group.columns[4]])
        for number, entry in enumerate(_padded(items), start=1):
            rows.append([None, None, None, *_line(number, entry)])
        if group.sub:
            conversion_start = conversion_start if conversion_start is not None else start
            merges.append((start, 2, at() - 1, 2))
            if index == 4:
                merges.append((conversion_start, 1, at() - 1, 1))
        else:
            merges.append((start, 1, at() - 1, 2))
    assert professional_start is not None  # GROUPS has professional kinds after the public one
    merges.append((professional_start, 0, at() - 1, 0))
    rows[professional_start - offset][0] = "专业科目"
    merges.append((at(), 0, at(), len(WIDTHS) - 1))
    rows.append([f"年度总学时：{data.total} 学时"])
    above = [Line([Span(f"专业技术人员姓名：{data.name}", cols=3), Span(EMPLOYER_STAMP, cols=2, align="right"),
                   Span("", cols=2, box=True), Span(DEPARTMENT_STAMP, cols=2, align="right"),
                   Span("", cols=2, box=True)], height=64)]
    return FormSheet(
        name="登记表", title=title(year), widths=WIDTHS, header=[HEADER], rows=rows, merges=merges, above=above,
        align=("center", "center", "center", "center", "left", "left", "center", "left", "center", "center",
               "center"),
        bold_rows=frozenset(bold), heights={offset + len(rows) - 1: 24},
    )


def _padded(items: list[Entry]) -> list[Entry | None]:
    return [*items, *[None] * (MIN_LINES - len(items))]


def _line(number: int, entry: Entry | None) -> list:
    """序号, the group's four columns, the signature and date boxes (blank), the hours."""
    if entry is None:
        return [number, None, None, None, None, None, None, None]
    return [number, entry.title, entry.second, entry.when, entry.fourth, None, None, entry.hours]


def xlsx(learner: User, year: int) -> bytes:
    return spreadsheets.form_xlsx([sheet(learner, year)])


def cells(form: FormSheet) -> list[list[dict]]:
    """The table (header and rows) as a page draws it: each cell with its text, rowspan and colspan, the
    cells a merge covers left out; ``head`` marks the header row and the groups' own column names."""
    grid = [list(row) + [None] * (len(form.widths) - len(row)) for row in (*form.header, *form.rows)]
    spans: dict[tuple[int, int], tuple[int, int]] = {}
    covered: set[tuple[int, int]] = set()
    for row, col, last_row, last_col in form.merges:
        spans[row, col] = (last_row - row + 1, last_col - col + 1)
        covered |= {(r, c) for r in range(row, last_row + 1) for c in range(col, last_col + 1)} - {(row, col)}
    heads = set(range(len(form.header))) | {len(form.header) + r for r in form.bold_rows}
    return [
        [{"text": "" if value is None else value, "rowspan": spans.get((r, c), (1, 1))[0],
          "colspan": spans.get((r, c), (1, 1))[1], "head": r in heads, "col": c}
         for c, value in enumerate(values) if (r, c) not in covered]
        for r, values in enumerate(grid)
    ]


def pdf(learner: User, year: int) -> bytes:
    """The form on A4 landscape with the embedded CJK font: the same table as the XLSX, its header repeated on
    every page, the stamp boxes and each line's signature and date boxes blank."""
    font = font_name()
    form = sheet(learner, year)
    out = io.BytesIO()
    document = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                                 topMargin=12 * mm, bottomMargin=14 * mm, title=form.title,
                                 initialFontName=font,  # else an unembedded Helvetica is named on every page
                                 author="专业技术人员继续教育基地公共服务平台")
    text = ParagraphStyle("cell", fontName=font, fontSize=8.5, leading=11, wordWrap="CJK")
    centred = ParagraphStyle("centred", parent=text, alignment=TA_CENTER)
    heading = ParagraphStyle("heading", parent=centred, fontSize=17, leading=22, spaceAfter=4 * mm)
    usable = landscape(A4)[0] - 24 * mm
    widths = [usable * w / sum(form.widths) for w in form.widths]

    def para(value: object, col: int, head: bool = False) -> Paragraph | str:
        if value is None or value == "":
            return ""
        return Paragraph(_escape(str(value)), text if form.align[col] == "left" and not head else centred)

    stamps = form.above[0].spans
    top = Table([[para(span.text, 0 if span.align == "left" else 1) for span in stamps]],
                colWidths=[sum(widths[:3]), sum(widths[3:5]), sum(widths[5:7]), sum(widths[7:9]), sum(widths[9:])],
                rowHeights=[24 * mm])
    top.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("BOX", (2, 0), (2, 0), 0.8, colors.black), ("BOX", (4, 0), (4, 0), 0.8, colors.black),
    ]))
    heads = set(range(len(form.header))) | {len(form.header) + r for r in form.bold_rows}
    data = [[para(v, c, r in heads) for c, v in enumerate(list(row) + [None] * (len(widths) - len(row)))]
            for r, row in enumerate((*form.header, *form.rows))]
    style = [
        ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 8.5),
        ("GRID", (0, 0), (-1, -1), 0.6, colors.black), ("BOX", (0, 0), (-1, -1), 1.2, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3), ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f2f2f2")),
    ]
    for row in (len(form.header) + r for r in form.bold_rows):
        style.append(("BACKGROUND", (3, row), (-1, row), colors.HexColor("#f2f2f2")))
    for row, col, last_row, last_col in form.merges:
        style.append(("SPAN", (col, row), (last_col, last_row)))
    heights = [None] * len(data)
    for row in range(len(form.header), len(data) - 1):
        heights[row] = 9 * mm  # room to sign on every line
    table = Table(data, colWidths=widths, rowHeights=heights, repeatRows=len(form.header))
    table.setStyle(TableStyle(style))

    def page_number(page: Canvas, doc: SimpleDocTemplate) -> None:
        page.saveState()
        page.setFont(font, 8)
        page.drawCentredString(landscape(A4)[0] / 2, 7 * mm, f"第 {doc.page} 页")
        page.restoreState()

    document.build([Paragraph(_escape(form.title), heading), top, Spacer(1, 4 * mm), table],
                   onFirstPage=page_number, onLaterPages=page_number)
    return out.getvalue()


def _escape(text: str) -> str:
    """Text for a reportlab Paragraph, which reads a small markup: what a learner typed stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")
