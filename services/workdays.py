"""Working days on the Chinese calendar: weekends off, public holidays off, and the weekend days that the
State Council's schedule makes workdays (调休). The schedule is data (calendar_day), one year at a time."""

import csv
import hashlib
import hmac
import io
import re
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased, joinedload

from extensions import db
from models import (
    AuditLog,
    CalendarDay,
    CalendarDayKind,
    Declaration,
    DeclarationStatus,
    Employer,
    Region,
    RuleSet,
    User,
)
from services import audit, hours, policies, text
from services.actors import Actor
from services.errors import DomainError, NotAllowed
from services.infra import clock, locking

# Far enough for any review step; bounded so a missing year cannot loop for ever.
_HORIZON_DAYS = 120


def _exceptions(start: date, end: date) -> dict[date, CalendarDayKind]:
    return dict(db.session.execute(
        sa.select(CalendarDay.day, CalendarDay.kind).where(CalendarDay.day.between(start, end))
    ).tuples().all())


def is_workday(day: date, exceptions: dict | None = None) -> bool:
    exceptions = exceptions if exceptions is not None else _exceptions(day, day)
    kind = exceptions.get(day)
    if kind is not None:
        return CalendarDayKind(kind) == CalendarDayKind.WORKDAY
    return day.weekday() < 5


def _count_from(start: date, count: int, exceptions: dict) -> date:
    day, left = start, count
    while left > 0:
        day += timedelta(days=1)
        if is_workday(day, exceptions):
            left -= 1
    return day


def add_working_days(start: date, count: int) -> date:
    """The ``count``-th working day after ``start`` (the day of submission itself does not count). One query."""
    return _count_from(start, count, _exceptions(start, start + timedelta(days=_HORIZON_DAYS)))


# What a calendar confirm holds exclusively, and a deadline counted on the calendar holds shared.
CALENDAR_LOCK = "calendar_day"


def review_deadline(filed_on: date, count: int) -> date:
    """The deadline of a review filed on ``filed_on`` that takes ``count`` working days, counted while holding
    the calendar shared (locking.shared) until the caller's transaction commits: a schedule confirmed meanwhile
    either comes first, and this counts on it, or waits, and then finds and moves this deadline with the others.
    """
    locking.shared(CALENDAR_LOCK)
    return add_working_days(filed_on, count)


# A year's schedule is some forty lines; the file travels again, signed, in the preview's confirm form.
MAX_SCHEDULE_BYTES = 100_000


@dataclass(frozen=True)
class DayChange:
    day: date
    old_kind: CalendarDayKind | None  # None: a day the calendar did not hold
    new_kind: CalendarDayKind
    old_name: str
    new_name: str


@dataclass(frozen=True)
class MovedDeadline:
    declaration_id: int
    region: str
    employer: str
    old_due: date
    new_due: date
    # The step whose deadline moves: "employer" (Declaration.due_on) or "sector" (sector_due_on).
    step: str = "employer"


@dataclass
class SchedulePlan:
    """What loading a schedule file would change, computed before anything is written."""

    digest: str  # SHA-256 of the file's bytes
    rows: int
    changes: list[DayChange]
    moved: list[MovedDeadline]

    @property
    def fingerprint(self) -> str:
        """A digest of the day changes against the calendar as it stood: a confirm whose calendar has changed
        since the preview no longer matches it."""
        text = "\n".join(f"{c.day}|{c.old_kind}|{c.new_kind}|{c.old_name}|{c.new_name}" for c in self.changes)
        return hashlib.sha256(text.encode()).hexdigest()

    def moved_by_region(self) -> list[tuple[str, int]]:
        return sorted(Counter(m.region for m in self.moved).items(), key=lambda item: (-item[1], item[0]))


# The columns of a schedule file, as data/cn-holidays-2025-2026.csv has them and parse_schedule reads them.
SCHEDULE_COLUMNS = ("date", "kind", "name")


def schedule_template() -> bytes:
    """A schedule file to fill in (CSV, UTF-8 with a byte-order mark so that Excel shows the Chinese): the
    header row parse_schedule reads and one example row, New Year's Day of the first year from this one whose
    schedule is not loaded. 元旦 is a holiday every year, and that year holds no day yet: the template imported
    unchanged is true and changes one day, so it is accepted (a file that changes nothing is refused). One
    query."""
    loaded, year = set(years_loaded()), clock.today().year
    while year in loaded:
        year += 1
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([SCHEDULE_COLUMNS, (date(year, 1, 1).isoformat(), CalendarDayKind.HOLIDAY.value, "元旦")])
    return out.getvalue().encode("utf-8-sig")


def parse_schedule(raw: bytes) -> list[tuple[date, CalendarDayKind, str]]:
    """The rows of a CSV in the shape of data/cn-holidays-2025-2026.csv (date,kind,name).

    :raise DomainError: too large, not UTF-8, not CSV, a malformed or repeated row, a name holding a line
        break, or no row at all.
    """
    if len(raw) > MAX_SCHEDULE_BYTES:
        raise DomainError(f"文件过大：节假日安排应为不超过 {MAX_SCHEDULE_BYTES // 1000} KB 的 CSV", field="schedule")
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DomainError("文件应为 UTF-8 编码的 CSV", field="schedule") from error
    try:
        # newline=None reads CR, LF and CRLF alike: old Excel for Mac ends its lines with CR alone.
        records = list(csv.DictReader(io.StringIO(content, newline=None)))
    except csv.Error as error:
        raise DomainError(f"文件不是有效的 CSV：{error}", field="schedule") from error
    rows, seen = [], set()
    for number, row in enumerate(records, start=2):
        try:
            day = date.fromisoformat((row.get("date") or "").strip())
            kind = CalendarDayKind((row.get("kind") or "").strip())
        except ValueError as error:
            raise DomainError(f"第 {number} 行格式不正确：日期应为 2027-01-01，类型应为 holiday 或 workday",
                              field="schedule") from error
        # A day's name is shown on pages and written to the audit log: one line, no control characters (a NUL
        # previewed fine on SQLite and failed on PostgreSQL at the confirm).
        name = text.strip_control_characters(row.get("name") or "").strip()
        if text.has_line_break(name):
            raise DomainError(f"第 {number} 行：名称不能包含换行", field="schedule")
        if kind == CalendarDayKind.WORKDAY and day.weekday() < 5:
            raise DomainError(f"第 {number} 行：{day} 是工作日，不能标为调休上班", field="schedule")
        if day in seen:
            raise DomainError(f"第 {number} 行：{day} 在文件中重复出现", field="schedule")
        seen.add(day)
        rows.append((day, kind, name[:64]))
    if not rows:
        raise DomainError("文件中没有日期", field="schedule")
    return rows


def preview_schedule(raw: bytes) -> SchedulePlan:
    """The days a schedule file adds or changes, and the open review deadlines that would move with them.

    Stored deadlines: a pending declaration whose deadline has not passed is recounted from the day it was
    filed under the new schedule (never to before today); a deadline already passed, and a decided
    declaration's, stay as they are.

    :raise DomainError: see parse_schedule.
    """
    rows = parse_schedule(raw)
    stored = {row.day: row for row in db.session.execute(
        sa.select(CalendarDay).where(CalendarDay.day.in_([day for day, _kind, _name in rows]))).scalars()}
    changes = []
    for day, kind, name in sorted(rows):
        old = stored.get(day)
        if old is None or CalendarDayKind(old.kind) != kind or old.name != name:
            changes.append(DayChange(day, CalendarDayKind(old.kind) if old else None, kind,
                                     old.name if old else "", name))
    return SchedulePlan(hashlib.sha256(raw).hexdigest(), len(rows), changes, _moved_deadlines(changes))


def new_preview_id() -> str:
    """A one-time name for a preview, carried signed to its confirm and kept in the load's audit entry."""
    return secrets.token_urlsafe(16)


def _preview_loaded(preview_id: str) -> bool:
    return db.session.scalar(sa.select(AuditLog.id).where(
        AuditLog.action == "calendar.load", AuditLog.details["preview"].as_string() == preview_id).limit(1)) is not None


# A SHA-256 as the preview shows it. Checked before comparing: hmac.compare_digest raises TypeError on a str
# holding anything but ASCII, which a forged hidden field may.
_DIGEST = re.compile("[0-9a-f]{64}")


def _submitted_on(declaration: Declaration) -> date:
    """The local day of submission, the day the deadline was counted from (submitted_at is naive UTC)."""
    return declaration.submitted_at.replace(tzinfo=UTC).astimezone(clock.LOCAL_TZ).date()


def _at_sector(declaration: Declaration) -> bool:
    return declaration.status == DeclarationStatus.SECTOR_PENDING


def _step_began(declaration: Declaration) -> date:
    """The local day the open step's deadline was counted from: the filing, or for the sector's step after the
    employer's, the day the employer approved (reviewed_at is naive UTC too)."""
    if _at_sector(declaration) and declaration.reviewed_at is not None:
        return declaration.reviewed_at.replace(tzinfo=UTC).astimezone(clock.LOCAL_TZ).date()
    return _submitted_on(declaration)


def _step_due(declaration: Declaration) -> date:
    """The open step's stored deadline."""
    due = declaration.sector_due_on if _at_sector(declaration) else declaration.due_on
    return due or declaration.due_on


# The review steps whose deadline a new schedule may move.
OPEN_STEPS = (DeclarationStatus.PENDING, DeclarationStatus.SECTOR_PENDING)


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days: a year's holidays are a dozen runs, not forty days."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _moved_deadlines(changes: list[DayChange]) -> list[MovedDeadline]:
    """Open deadlines that the changes move: those counted across a changed day. Only the change's own
    effect counts (old and new schedule are both recounted), so a deadline stored under another rule is
    left alone.

    A deadline moves only if a changed day lies after its filing day and on or before its stored deadline
    (before that day both schedules count alike), so the database picks the candidates by the runs of changed
    days, and reads each one's review time in force (the city's value, else its province's) in the same
    query. Three queries whatever the number of declarations, regions and years."""
    if not changes:
        return []
    today = clock.today()
    own, province = aliased(RuleSet), aliased(RuleSet)
    learner_region = aliased(Region)
    # submitted_at is naive UTC, a local day begins 8 hours earlier: before midnight UTC of the run's last day
    # takes a few filings too many, never one too few (each is recounted below).
    # Each open step's deadline and the moment it was counted from: the employer's from the filing, the
    # sector's from the employer's approval (or from the filing where the sector alone reviews).
    at_sector = Declaration.status == DeclarationStatus.SECTOR_PENDING
    deadline = sa.case((at_sector, sa.func.coalesce(Declaration.sector_due_on, Declaration.due_on)),
                       else_=Declaration.due_on)
    began = sa.case((sa.and_(at_sector, Declaration.reviewed_at.is_not(None)), Declaration.reviewed_at),
                    else_=Declaration.submitted_at)
    crosses = sa.or_(*(sa.and_(began < datetime.combine(last, time()), deadline >= first)
                       for first, last in _runs([c.day for c in changes])))
    found = db.session.execute(
        sa.select(Declaration, sa.func.coalesce(own.review_working_days, province.review_working_days))
        .join(User, User.id == Declaration.learner_id)
        .outerjoin(learner_region, learner_region.id == User.region_id)
        .outerjoin(own, sa.and_(own.region_id == User.region_id, own.year == Declaration.year))
        .outerjoin(province, sa.and_(province.region_id == learner_region.parent_id, province.year == Declaration.year))
        .where(Declaration.status.in_(OPEN_STEPS), deadline >= today, crosses)
        .options(joinedload(Declaration.employer).joinedload(Employer.region).joinedload(Region.parent))
        .order_by(Declaration.due_on, Declaration.id)
    ).all()
    if not found:
        return []
    begin = min(_step_began(d) for d, _days in found)
    old = _exceptions(begin, max(_step_due(d) for d, _days in found) + timedelta(days=_HORIZON_DAYS))
    new = {**old, **{c.day: c.new_kind for c in changes}}
    moved = []
    for declaration, working_days in found:
        if working_days is None:  # neither the city nor its province sets one: the platform's default
            working_days = hours.rule_for(None, declaration.year).review_working_days
        start, stored = _step_began(declaration), _step_due(declaration)
        before, after = _count_from(start, working_days, old), _count_from(start, working_days, new)
        if before != after:
            due = max(after, today)
            if due != stored:
                moved.append(MovedDeadline(declaration.id, declaration.employer.region.full_name,
                                           declaration.employer.name, stored, due,
                                           "sector" if _at_sector(declaration) else "employer"))
    return moved


def apply_schedule(actor: Actor, raw: bytes, digest: str, fingerprint: str, filename: str = "", *,
                   preview_id: str) -> SchedulePlan:
    """Load exactly the previewed schedule: add or change its days, move the open deadlines the preview
    listed, and audit who did it, the file's digest and every day added or changed with its old and new
    kind. One transaction, serialised with every other confirm (locking.exclusive): two confirms at once, of
    one preview sent twice or of two files previewed against the same calendar, cannot both pass the check
    that the calendar is still the one previewed; the later one finds it changed and is refused.
    ``preview_id`` (new_preview_id) is applied once: the same confirm sent again is refused even where the days
    are once more as previewed (a file loaded, undone, and its old confirm replayed within the hour). A file of
    other days loaded meanwhile does not make a preview stale: its days, and the deadlines recounted under
    the lock, are still what it showed.

    :raise NotAllowed: the actor is not a platform administrator.
    :raise DomainError: the file is not the previewed one (digest), the calendar changed since the preview
        (fingerprint), the preview was applied already (preview_id), the file changes nothing, or a parse
        error (nothing is saved).
    """
    if not policies.may_keep_calendar(actor):
        raise NotAllowed("节假日安排由平台管理员维护")
    if not (isinstance(digest, str) and _DIGEST.fullmatch(digest)) or not hmac.compare_digest(
            hashlib.sha256(raw).hexdigest(), digest):
        raise DomainError("文件与预览的不一致（摘要不同），未导入；请重新上传并预览")
    with locking.exclusive(CALENDAR_LOCK):
        if _preview_loaded(preview_id):
            raise DomainError("此预览已导入过，未再导入；请重新上传并预览")
        plan = preview_schedule(raw)
        if plan.fingerprint != fingerprint:
            raise DomainError("预览之后日历已有变动，未导入；请重新上传并预览")
        if not plan.changes:
            raise DomainError("文件中的日期与现有日历相同，没有需要导入的变更")
        stored = {row.day: row for row in db.session.execute(
            sa.select(CalendarDay).where(CalendarDay.day.in_([c.day for c in plan.changes]))).scalars()}
        for change in plan.changes:
            row = stored.get(change.day)
            if row is None:
                db.session.add(CalendarDay(day=change.day, kind=change.new_kind, name=change.new_name))
            else:
                row.kind, row.name = change.new_kind, change.new_name
        for moved in plan.moved:
            # Only while still pending: a reviewer deciding it meanwhile is not serialised with this lock, and
            # the condition is read again once their row lock is released.
            # The step too: a declaration that has moved on to the sector's step meanwhile keeps its deadlines.
            at_sector = moved.step == "sector"
            step_status = DeclarationStatus.SECTOR_PENDING if at_sector else DeclarationStatus.PENDING
            column = "sector_due_on" if at_sector else "due_on"
            db.session.execute(
                sa.update(Declaration)
                .where(Declaration.id == moved.declaration_id, Declaration.status == step_status)
                .values({column: moved.new_due}).execution_options(synchronize_session=False))
        audit.record(actor, "calendar.load", None, object_type="calendar_day", details={
            "sha256": plan.digest, "filename": filename[:200], "rows": plan.rows, "preview": preview_id,
            "added": [f"{c.day} {c.new_kind.value} {c.new_name}" for c in plan.changes if c.old_kind is None],
            "changed": [f"{c.day} {c.old_kind.value}→{c.new_kind.value} {c.new_name}"
                        for c in plan.changes if c.old_kind is not None],
            "deadlines_moved": len(plan.moved),
            "deadlines_by_region": {region: n for region, n in plan.moved_by_region()},
        })
    return plan


def years_loaded() -> list[int]:
    days = db.session.execute(sa.select(CalendarDay.day)).scalars().all()
    return sorted({d.year for d in days})


def years_missing(today: date, loaded: list[int]) -> list[int]:
    """Years a review deadline counted from ``today`` may reach (within the horizon) whose schedule is not
    loaded: there, deadlines count weekends only and may fall on a public holiday."""
    reach = range(today.year, (today + timedelta(days=_HORIZON_DAYS)).year + 1)
    return [year for year in reach if year not in loaded]
