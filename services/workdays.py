"""Working days on the Chinese calendar: weekends off, public holidays off, and the weekend days that the
State Council's schedule makes workdays (调休). The schedule is data (calendar_day), one year at a time."""

import csv
import hashlib
import hmac
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from extensions import db
from models import CalendarDay, CalendarDayKind, Declaration, DeclarationStatus, Employer, Region, Role, User
from services import audit, clock, hours, locking
from services.errors import DomainError, NotAllowed

# Far enough for any review step; bounded so a missing year cannot loop for ever.
_HORIZON_DAYS = 120


def _exceptions(start: date, end: date) -> dict[date, CalendarDayKind]:
    return dict(db.session.execute(
        sa.select(CalendarDay.day, CalendarDay.kind).where(CalendarDay.day.between(start, end))
    ).all())


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


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 if end <= start)."""
    if end <= start:
        return 0
    exceptions = _exceptions(start, end)
    return sum(1 for n in range(1, (end - start).days + 1) if is_workday(start + timedelta(days=n), exceptions))


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


def parse_schedule(raw: bytes) -> list[tuple[date, CalendarDayKind, str]]:
    """The rows of a CSV in the shape of data/cn-holidays-2025-2026.csv (date,kind,name).

    :raise DomainError: too large, not UTF-8, a malformed or repeated row, or no row at all.
    """
    if len(raw) > MAX_SCHEDULE_BYTES:
        raise DomainError(f"文件过大：节假日安排应为不超过 {MAX_SCHEDULE_BYTES // 1000} KB 的 CSV", field="schedule")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DomainError("文件应为 UTF-8 编码的 CSV", field="schedule") from error
    rows, seen = [], set()
    for number, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            day = date.fromisoformat((row.get("date") or "").strip())
            kind = CalendarDayKind((row.get("kind") or "").strip())
        except ValueError as error:
            raise DomainError(f"第 {number} 行格式不正确：日期应为 2027-01-01，类型应为 holiday 或 workday",
                              field="schedule") from error
        if kind == CalendarDayKind.WORKDAY and day.weekday() < 5:
            raise DomainError(f"第 {number} 行：{day} 是工作日，不能标为调休上班", field="schedule")
        if day in seen:
            raise DomainError(f"第 {number} 行：{day} 在文件中重复出现", field="schedule")
        seen.add(day)
        rows.append((day, kind, (row.get("name") or "").strip()[:64]))
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


def _submitted_on(declaration: Declaration) -> date:
    """The local day of submission, the day the deadline was counted from (submitted_at is naive UTC)."""
    return declaration.submitted_at.replace(tzinfo=UTC).astimezone(clock.LOCAL_TZ).date()


def _moved_deadlines(changes: list[DayChange]) -> list[MovedDeadline]:
    """Open deadlines that the changes move: those counted across a changed day. Only the change's own
    effect counts (old and new schedule are both recounted), so a deadline stored under another rule is
    left alone. The candidates are pending declarations filed before the last changed day whose deadline
    is still ahead: a few weeks of filings at most."""
    if not changes:
        return []
    today = clock.today()
    first, last = changes[0].day, changes[-1].day
    candidates = db.session.execute(
        sa.select(Declaration)
        .where(Declaration.status == DeclarationStatus.PENDING, Declaration.due_on >= max(today, first),
               Declaration.submitted_at < datetime.combine(last, time()))
        .options(joinedload(Declaration.learner).joinedload(User.region),
                 joinedload(Declaration.employer).joinedload(Employer.region).joinedload(Region.parent))
        .order_by(Declaration.due_on, Declaration.id)
    ).scalars().all()
    if not candidates:
        return []
    begin = min(_submitted_on(d) for d in candidates)
    old = _exceptions(begin, max(d.due_on for d in candidates) + timedelta(days=_HORIZON_DAYS))
    new = {**old, **{c.day: c.new_kind for c in changes}}
    rules: dict = {}
    moved = []
    for declaration in candidates:
        key = (declaration.learner.region_id, declaration.year)
        if key not in rules:
            rules[key] = hours.rule_for(declaration.learner.region, declaration.year).review_working_days
        start = _submitted_on(declaration)
        before, after = _count_from(start, rules[key], old), _count_from(start, rules[key], new)
        if before != after:
            due = max(after, today)
            if due != declaration.due_on:
                moved.append(MovedDeadline(declaration.id, declaration.employer.region.full_name,
                                           declaration.employer.name, declaration.due_on, due))
    return moved


def apply_schedule(actor, raw: bytes, digest: str, fingerprint: str, filename: str = "") -> SchedulePlan:
    """Load exactly the previewed schedule: add or change its days, move the open deadlines the preview
    listed, and audit who did it, the file's digest and every day added or changed with its old and new
    kind. One transaction, serialised with every other confirm (locking.exclusive): two confirms at once, of
    one preview sent twice or of two files previewed against the same calendar, cannot both pass the check
    that the calendar is still the one previewed; the later one finds it changed and is refused.

    :raise NotAllowed: the actor is not a platform administrator.
    :raise DomainError: the file is not the previewed one (digest), the calendar changed since the preview
        (fingerprint), the file changes nothing, or a parse error (nothing is saved).
    """
    if actor.role != Role.PLATFORM_ADMIN:
        raise NotAllowed("节假日安排由平台管理员维护")
    if not hmac.compare_digest(hashlib.sha256(raw).hexdigest(), digest or ""):
        raise DomainError("文件与预览的不一致（摘要不同），未导入；请重新上传并预览")
    with locking.exclusive("calendar_day"):
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
            db.session.execute(
                sa.update(Declaration)
                .where(Declaration.id == moved.declaration_id, Declaration.status == DeclarationStatus.PENDING)
                .values(due_on=moved.new_due).execution_options(synchronize_session=False))
        audit.record(actor, "calendar.load", None, object_type="calendar_day", details={
            "sha256": plan.digest, "filename": filename[:200], "rows": plan.rows,
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
