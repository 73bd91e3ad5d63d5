"""Course rosters for base admins: who is in, attendance, bulk completion by import, XLSX export."""

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from openpyxl import load_workbook
from sqlalchemy.orm import contains_eager, joinedload

from extensions import db
from models import (
    Attendance,
    Course,
    Enrollment,
    EnrollmentStatus,
    HoursRecord,
    User,
)
from models._common import utcnow
from models.enrollment import SEAT_HOLDING
from services import audit, completions, identifiers
from services.actors import Actor
from services.errors import DomainError
from services.infra import clock, spreadsheets
from services.infra.transaction import unit_of_work

MAX_ROSTER_ROWS = 20_000
# 20,000 rows unpack to a few megabytes; far beyond that is a zip bomb, not a roster.
MAX_XLSX_UNPACKED_BYTES = 100 * 2**20
# Short enough to list on one page; longer (online) courses take no daily attendance.
MAX_ATTENDANCE_DAYS = 31


@dataclass
class Roster:
    seated: list  # confirmed and completed enrollments, with learners
    waitlisted: list
    counts: dict
    average_rating: float | None
    ratings: int


def roster(course: Course) -> Roster:
    """The course's roster with counts and its average rating. Two queries: the live enrollments with
    their learners, and one GROUP BY status giving the counts and the ratings' sum and number."""
    rows = db.session.execute(
        sa.select(Enrollment)
        .join(Enrollment.learner)
        .options(contains_eager(Enrollment.learner))
        .where(Enrollment.course_id == course.id, Enrollment.status != EnrollmentStatus.CANCELLED)
        .order_by(Enrollment.id)
    ).scalars().all()
    counts, average_rating, rated = _status_figures(course.id)
    return Roster(
        seated=[e for e in rows if e.status in SEAT_HOLDING],
        waitlisted=[e for e in rows if e.status == EnrollmentStatus.WAITLISTED],
        counts=counts, average_rating=average_rating, ratings=rated,
    )


_STATUS_FIGURES = (
    sa.select(Enrollment.status, sa.func.count(Enrollment.id), sa.func.sum(Enrollment.rating),
              sa.func.count(Enrollment.rating))
    .where(Enrollment.course_id == sa.bindparam("course_id"))
    .group_by(Enrollment.status)
)


def _status_figures(course_id: int) -> tuple[dict, float | None, int]:
    """One GROUP BY status: the count of every status (0 where none), the average rating, the ratings given."""
    figures = db.session.execute(_STATUS_FIGURES, {"course_id": course_id}).all()
    counts = {status: n for status, n, _sum, _rated in figures}
    rating_sum = sum(total or 0 for _status, _n, total, _rated in figures)
    rated = sum(n for _status, _n, _sum, n in figures)
    return ({s: counts.get(s, 0) for s in EnrollmentStatus}, round(rating_sum / rated, 1) if rated else None,
            rated)


# The roster page's rows: the few columns it shows, not Enrollment and User objects (a busy course has
# thousands of rows). Built once; the course and the page's bounds are bound on each call. The seated are
# numbered in the order they enrolled and the page picked by number (the waitlist is shown whole): with
# ORDER BY id LIMIT, PostgreSQL walked the whole table's primary key looking for the course's rows.
_WAITLISTED = Enrollment.status == EnrollmentStatus.WAITLISTED
_NUMBERED = (
    sa.select(Enrollment.id, Enrollment.status, Enrollment.completed_on, Enrollment.learner_id,
              sa.func.row_number().over(partition_by=_WAITLISTED, order_by=Enrollment.id).label("n"))
    .where(Enrollment.course_id == sa.bindparam("course_id"), Enrollment.status != EnrollmentStatus.CANCELLED)
    .subquery()
)
_ROSTER_LINES = (
    sa.select(_NUMBERED.c.id, _NUMBERED.c.status, _NUMBERED.c.completed_on, User.name, User.id_number_masked,
              User.employer_name)
    .join(User, User.id == _NUMBERED.c.learner_id)
    .where(sa.or_(_NUMBERED.c.status == EnrollmentStatus.WAITLISTED,
                  _NUMBERED.c.n.between(sa.bindparam("first", type_=sa.Integer),
                                        sa.bindparam("last", type_=sa.Integer))))
    .order_by(_NUMBERED.c.id)
)
ROSTER_PAGE_ROWS = 100


@dataclass
class RosterPage:
    """One page of the roster page's seated learners (in the order they enrolled) and the whole waitlist, as
    rows of (id, status, completed_on, name, id_number_masked, employer_name); the counts by status and the
    ratings are the whole course's."""

    seated: list
    waitlisted: list
    counts: dict
    average_rating: float | None
    ratings: int
    page: int
    pages: int

    @property
    def any_confirmed(self) -> bool:
        """Whether a learner on this page can still be marked completed (the form below the table)."""
        return any(line.status == EnrollmentStatus.CONFIRMED for line in self.seated)


def roster_page_of(course: Course, page: int = 1, per_page: int | None = None) -> RosterPage:
    """Page ``page`` of the course's roster, ``per_page`` (default ROSTER_PAGE_ROWS) seated learners to a
    page (a page past the last is the last), with the waitlist, the counts by status and the average rating.
    Two queries: the GROUP BY status, then the page's rows."""
    per_page = per_page or ROSTER_PAGE_ROWS
    counts, average_rating, rated = _status_figures(course.id)
    seated = sum(counts[status] for status in SEAT_HOLDING)
    pages = max((seated + per_page - 1) // per_page, 1)
    page = min(max(page, 1), pages)
    lines = db.session.execute(
        _ROSTER_LINES, {"course_id": course.id, "first": (page - 1) * per_page + 1, "last": page * per_page}).all()
    return RosterPage(
        seated=[line for line in lines if line.status != EnrollmentStatus.WAITLISTED],
        waitlisted=[line for line in lines if line.status == EnrollmentStatus.WAITLISTED],
        counts=counts,
        average_rating=average_rating,
        ratings=rated,
        page=page,
        pages=pages,
    )


def course_days(course: Course) -> list[date]:
    length = (course.end_date - course.start_date).days + 1
    if length > MAX_ATTENDANCE_DAYS:
        return []
    return [course.start_date + timedelta(days=n) for n in range(length)]


def attendance_for(course: Course, day: date) -> dict[int, bool]:
    """{enrollment_id: present} recorded for one day. One query."""
    return dict(
        db.session.execute(
            sa.select(Attendance.enrollment_id, Attendance.present)
            .join(Enrollment, Enrollment.id == Attendance.enrollment_id)
            .where(Enrollment.course_id == course.id, Attendance.day == day)
        ).tuples().all()
    )


def record_attendance(actor: Actor, course: Course, day: date, present_ids: set[int]) -> int:
    """Record who was present on ``day`` among the seated learners; the others are marked absent.

    :raise DomainError: the day is not a day of the course, or is still in the future.
    """
    if not course.base.can_publish:
        raise DomainError("本基地已退出，只能查看历史记录")
    if day not in course_days(course):
        raise DomainError("所选日期不是本课程的培训日")
    if day > clock.today():
        raise DomainError("不能记录未来日期的考勤")
    seated = db.session.execute(
        sa.select(Enrollment.id).where(Enrollment.course_id == course.id, Enrollment.status.in_(SEAT_HOLDING))
    ).scalars().all()
    existing = {
        a.enrollment_id: a
        for a in db.session.execute(
            sa.select(Attendance).where(Attendance.enrollment_id.in_(seated), Attendance.day == day)
        ).scalars()
    }
    with unit_of_work():
        for enrollment_id in seated:
            row = existing.get(enrollment_id)
            if row is None:
                row = Attendance(enrollment_id=enrollment_id, day=day, present=False)
                db.session.add(row)
            row.present = enrollment_id in present_ids
            row.recorded_by_id = actor.id
            row.recorded_at = utcnow()
        audit.record(actor, "course.attendance", course, base_id=course.base_id,
                     details={"day": day.isoformat(), "present": len(present_ids & set(seated))})
    return len(seated)


# --- import -----------------------------------------------------------------------------------------

HEADERS = {
    "姓名": "name", "手机号": "phone", "手机": "phone", "身份证号": "id_number", "身份证号码": "id_number",
    "学时": "hours", "结业日期": "completed_on", "完成日期": "completed_on",
}


# The blank roster offered for download: one header per column the import reads, in the order of the form's help.
TEMPLATE_HEADERS = ("姓名", "手机号", "身份证号", "学时", "结业日期")


def import_template_xlsx() -> bytes:
    """A blank roster to fill in: the header row the import reads (HEADERS), and no rows."""
    return spreadsheets.xlsx("结业名单", [TEMPLATE_HEADERS])


@dataclass
class ImportReport:
    errors: list[tuple[int, str]] = field(default_factory=list)  # (row number as in the file, reason)
    completed: int = 0
    added: int = 0  # learners who had not enrolled online and were added by the import
    created: int = 0  # walk-in accounts created for trainees who had none (services.walk_ins)

    @property
    def ok(self) -> bool:
        return not self.errors


class RosterRejected(DomainError):
    def __init__(self, report: ImportReport):
        super().__init__(f"名单有 {len(report.errors)} 处错误，未导入任何记录")
        self.report = report


def _unpacked_size(data: bytes) -> int:
    """What the XLSX (a zip) says it unpacks to; zipfile stops reading a member at its declared size."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DomainError("无法读取该 XLSX 文件，请确认文件未损坏") from exc


def _rows_from_xlsx(data: bytes) -> Iterator[list[str]]:
    # A zip bomb (a 10 MB file unpacking to gigabytes in one cell) would be parsed into memory whole.
    if _unpacked_size(data) > MAX_XLSX_UNPACKED_BYTES:
        raise DomainError("该 XLSX 文件解压后过大，请另存为 CSV 或删去多余内容后再导入")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise DomainError("无法读取该 XLSX 文件，请确认文件未损坏") from exc
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            # A date cell is a datetime: its day, in the spelling _day reads.
            yield ["" if v is None else v.date().isoformat() if isinstance(v, datetime) else str(v).strip()
                   for v in values]
    finally:
        book.close()


def _rows_from_csv(data: bytes) -> Iterator[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DomainError("文件不是 XLSX 或 CSV 表格")
    if "\x00" in text:
        raise DomainError("文件不是 XLSX 或 CSV 表格")
    # newline=None reads CR, LF and CRLF alike (old Excel for Mac ends lines with CR alone); what csv still
    # cannot read (a stray quote, a field beyond its size limit) is the file's fault, said beside the upload.
    try:
        for values in csv.reader(io.StringIO(text, newline=None)):
            yield [v.strip() for v in values]
    except csv.Error as error:
        raise DomainError(f"文件不是有效的 CSV 表格：{error}") from error


def _read_rows(data: bytes) -> list[tuple[int, dict]]:
    """The file's data rows as (row number, {name, phone, id_number, hours, completed_on}); the first row is
    the header."""
    rows = _rows_from_xlsx(data) if data[:4] == b"PK\x03\x04" else _rows_from_csv(data)
    header = next(rows, None)
    if not header:
        raise DomainError("文件是空的")
    columns = {index: HEADERS[h.replace(" ", "")] for index, h in enumerate(header) if h.replace(" ", "") in HEADERS}
    if "name" not in columns.values() or not {"phone", "id_number"} & set(columns.values()):
        raise DomainError("表头应包含“姓名”，以及“手机号”或“身份证号”（可选“学时”“结业日期”）")
    result: list[tuple[int, dict]] = []
    for number, values in enumerate(rows, start=2):
        if not any(values):
            continue
        if len(result) >= MAX_ROSTER_ROWS:
            raise DomainError(f"名单不能超过 {MAX_ROSTER_ROWS} 行")
        record = {"name": "", "phone": "", "id_number": "", "hours": "", "completed_on": ""}
        for index, key in columns.items():
            if index < len(values):
                record[key] = values[index]
        result.append((number, record))
    if not result:
        raise DomainError("名单中没有学员")
    return result


def _hours(raw: str, most: int) -> int | None:
    """A row's hours: blank is None (all the course's); else a whole number from 1 to ``most``.
    :raise ValueError: anything else."""
    raw = raw.removesuffix(".0")
    if not raw:
        return None
    # At most 4 ASCII digits: int() raises on more than 4,300 of them, and no course has 10,000 hours.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 4 or not 1 <= int(raw) <= most:
        raise ValueError(raw)
    return int(raw)


_DAY = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?(?:\s+0{1,2}:00(?::00)?)?")


def _day(raw: str) -> date | None:
    """A row's completion day: blank is None; else 2026-12-31, 2026/12/31, 2026.12.31 or 2026年12月31日 (a
    spreadsheet's date cell arrives as 2026-12-31 00:00:00), in any script's digits.
    :raise ValueError: anything else, or no such day."""
    text = identifiers.canonical(raw)
    if not text:
        return None
    match = _DAY.fullmatch(text)
    if match is None:
        raise ValueError(raw)
    return date(*(int(part) for part in match.groups()))


def import_completions(actor: Actor, course: Course, data: bytes) -> ImportReport:
    """Record completions for a course from an XLSX or CSV roster: all rows or none (services.completions
    records them, as it records the roster page's and the API's).

    Each row names a registered learner by phone and/or ID number (the name must match the account), or a
    trainee with no account by name, ID number and phone (neither of them any account's): a walk-in account is
    created for them with the completions, and they are invited by text message to claim it. A row may
    give the hours attended (whole hours, at most the course's; blank means all of them) and the day the
    learner completed (blank: the course's end, for a class that has ended; a self-paced course, or a class
    still running, needs each row's day). Learners who did not enroll online are added, seats permitting.
    :raise DomainError: the course cannot take completions, or the file cannot be read or lacks the columns.
    :raise RosterRejected: with the row-by-row report, when any row is wrong; nothing is saved.
    """
    problem = completions.course_problem(course)
    if problem:
        raise DomainError(problem)
    rows = _read_rows(data)
    refused, claims = [], []
    for number, record in rows:
        try:
            credited = _hours(record["hours"], course.hours)
        except ValueError:
            refused.append(completions.Refusal(number, "hours", f"学时应为 1 到 {course.hours} 之间的整数"))
            continue
        try:
            day = _day(record["completed_on"])
        except ValueError:
            refused.append(completions.Refusal(number, "completed_on", "结业日期应为 YYYY-MM-DD 格式的日期"))
            continue
        # One spelling for the phone, as registration stored it: a spreadsheet's full-width digits or a
        # number typed in groups still names the learner (the ID number is normalised the same way).
        claims.append(completions.Claim(
            ref=number, course_id=course.id, name=record["name"], phone=identifiers.phone(record["phone"]),
            id_number=record["id_number"], hours=credited, completed_on=day))
    try:
        result = completions.record(actor, course.base_id, claims, completions.ROSTER_FILE, refused=refused)
    except (completions.Invalid, completions.Conflict) as error:
        raise RosterRejected(_report(error.refusals)) from None
    return ImportReport(completed=result.recorded, added=result.added_to_roster, created=result.accounts_created)


def _report(refusals: Iterable[completions.Refusal]) -> ImportReport:
    """The refusals as the import page lists them: by row, and a shortage of seats once, for the whole file."""
    report = ImportReport()
    seats = [r for r in refusals if r.field == "capacity"]
    report.errors = sorted([(r.ref, r.message) for r in refusals if r.field != "capacity"]
                           + ([(0, seats[0].message)] if seats else []))
    return report


def export_xlsx(actor: Actor, course: Course) -> bytes:
    """The roster as an XLSX workbook (personal numbers masked); the export is audited."""
    audit.record_repeatable(actor, "course.export_roster", course, subject=f"course {course.id}",
                            base_id=course.base_id)
    data = roster(course)
    rows: list[Sequence[object]] = [
        [course.title], ["序号", "姓名", "手机号", "身份证号", "工作单位", "职称", "状态", "报名方式", "结业日期"]]
    for number, e in enumerate(data.seated + data.waitlisted, start=1):
        learner = e.learner
        rows.append([
            number, learner.name, mask_phone(learner.phone), learner.id_number_masked, learner.employer_name,
            learner.professional_title, e.status.label, e.source.label,
            e.completed_on.isoformat() if e.completed_on else "",
        ])
    # Names and employers are what learners typed: the writer keeps them from running as formulas.
    return spreadsheets.xlsx("名单", rows)


def mask_phone(phone: str | None) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if phone and len(phone) == 11 else (phone or "")


def enrollment_in(course: Course, enrollment_id: int) -> Enrollment | None:
    """One enrollment of ``course`` with its learner, or None (another course's, or none)."""
    return db.session.execute(
        sa.select(Enrollment).where(Enrollment.id == enrollment_id, Enrollment.course_id == course.id)
        .options(joinedload(Enrollment.learner))
    ).scalar_one_or_none()


def roster_page(course: Course, per_page: int, after_id: int | None = None,
                status: EnrollmentStatus | None = None) -> tuple[dict, Sequence, bool]:
    """The course's enrollment counts by status, and ``per_page`` enrollments in the order they were made
    after the one with ``after_id`` (keyset) as (enrollment, learner, hours credited or None), and whether
    more follow. Two queries."""
    counts: dict[EnrollmentStatus, int] = dict(db.session.execute(
        sa.select(Enrollment.status, sa.func.count(Enrollment.id)).where(Enrollment.course_id == course.id)
        .group_by(Enrollment.status)).tuples().all())
    stmt = (
        sa.select(Enrollment, User, HoursRecord.hours)
        .join(User, User.id == Enrollment.learner_id)
        .outerjoin(HoursRecord, HoursRecord.enrollment_id == Enrollment.id)
        .where(Enrollment.course_id == course.id)
    )
    if status is not None:
        stmt = stmt.where(Enrollment.status == status)
    if after_id is not None:
        stmt = stmt.where(Enrollment.id > after_id)
    rows = db.session.execute(stmt.order_by(Enrollment.id).limit(per_page + 1)).tuples().all()
    return {s: counts.get(s, 0) for s in EnrollmentStatus}, rows[:per_page], len(rows) > per_page
