"""Working days on the Chinese calendar: weekends off, public holidays off, and the weekend days that the
State Council's schedule makes workdays (调休). The schedule is data (calendar_day), one year at a time."""

import csv
import io
from datetime import date, timedelta

import sqlalchemy as sa

from extensions import db
from models import CalendarDay, CalendarDayKind
from services.errors import DomainError

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


def add_working_days(start: date, count: int) -> date:
    """The ``count``-th working day after ``start`` (the day of submission itself does not count). One query."""
    exceptions = _exceptions(start, start + timedelta(days=_HORIZON_DAYS))
    day, left = start, count
    while left > 0:
        day += timedelta(days=1)
        if is_workday(day, exceptions):
            left -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 if end <= start)."""
    if end <= start:
        return 0
    exceptions = _exceptions(start, end)
    return sum(1 for n in range(1, (end - start).days + 1) if is_workday(start + timedelta(days=n), exceptions))


def load_schedule(text: str) -> int:
    """Add or replace days from a CSV in the shape of data/cn-holidays-2025-2026.csv (date,kind,name).

    :raise DomainError: a malformed row (nothing is saved).
    """
    rows = []
    for number, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            day = date.fromisoformat((row.get("date") or "").strip())
            kind = CalendarDayKind((row.get("kind") or "").strip())
        except ValueError as error:
            raise DomainError(f"第 {number} 行格式不正确：日期应为 2027-01-01，类型应为 holiday 或 workday") from error
        if kind == CalendarDayKind.WORKDAY and day.weekday() < 5:
            raise DomainError(f"第 {number} 行：{day} 是工作日，不能标为调休上班")
        rows.append((day, kind, (row.get("name") or "").strip()[:64]))
    if not rows:
        raise DomainError("文件中没有日期")
    for day, kind, name in rows:
        existing = db.session.get(CalendarDay, day)
        if existing is None:
            db.session.add(CalendarDay(day=day, kind=kind, name=name))
        else:
            existing.kind, existing.name = kind, name
    db.session.commit()
    return len(rows)


def years_loaded() -> list[int]:
    days = db.session.execute(sa.select(CalendarDay.day)).scalars().all()
    return sorted({d.year for d in days})


def years_missing(today: date, loaded: list[int]) -> list[int]:
    """Years a review deadline counted from ``today`` may reach (within the horizon) whose schedule is not
    loaded: there, deadlines count weekends only and may fall on a public holiday."""
    reach = range(today.year, (today + timedelta(days=_HORIZON_DAYS)).year + 1)
    return [year for year in reach if year not in loaded]
