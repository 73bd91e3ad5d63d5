"""The public catalog: searching and filtering published courses, the base directory and pages.

Every function here issues a fixed number of queries whatever the data size: rows come with their base
and region joined in, and counting is the database's.
"""

import calendar
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, joinedload

from extensions import db
from models import BaseStatus, BaseType, Course, CourseStatus, Region, TrainingBase
from services import clock, search

PUBLIC_STATUSES = (CourseStatus.PUBLISHED, CourseStatus.CLOSED)

SORTS = {
    "start": ("开课时间", (Course.start_date.asc(), Course.id.asc())),
    "new": ("最新发布", (Course.published_at.desc(), Course.id.desc())),
    "hours": ("学时从多到少", (Course.hours.desc(), Course.start_date.asc(), Course.id.asc())),
    "fee": ("费用从低到高", (Course.fee.asc(), Course.start_date.asc(), Course.id.asc())),
}


@dataclass
class CourseFilters:
    q: str = ""
    region_id: int | None = None
    base_id: int | None = None
    category: str | None = None
    field: str | None = None
    mode: str | None = None
    month: str | None = None  # "YYYY-MM": courses running during that month
    open_to_city: bool = False
    has_seats: bool = False
    include_past: bool = False
    sort: str = "start"


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int
    extra: dict = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _month_bounds(month: str) -> tuple[date, date] | None:
    try:
        year, mon = (int(part) for part in month.split("-"))
        return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])
    except (ValueError, AttributeError):
        return None


def _public_courses():
    """Published (or enrollment-closed) courses of listed bases, joined to base and region."""
    return (
        sa.select(Course)
        .join(Course.base)
        .join(TrainingBase.region)
        .where(Course.status.in_(PUBLIC_STATUSES), TrainingBase.status != BaseStatus.EXITED)
    )


def _filtered(filters: CourseFilters):
    stmt = _public_courses()
    if filters.q.strip():
        clause = search.match_clause(Course.id, Course.search_tokens, filters.q, db.engine.dialect.name)
        if clause is not None:
            stmt = stmt.where(clause)
    if filters.region_id:
        stmt = stmt.where(sa.or_(Region.id == filters.region_id, Region.parent_id == filters.region_id))
    if filters.base_id:
        stmt = stmt.where(Course.base_id == filters.base_id)
    if filters.category:
        stmt = stmt.where(Course.category == filters.category)
    if filters.field:
        stmt = stmt.where(Course.field == filters.field)
    if filters.mode:
        stmt = stmt.where(Course.mode == filters.mode)
    bounds = _month_bounds(filters.month) if filters.month else None
    if bounds:
        stmt = stmt.where(Course.start_date <= bounds[1], Course.end_date >= bounds[0])
    if filters.open_to_city:
        stmt = stmt.where(Course.open_to_city.is_(True))
    if filters.has_seats:
        stmt = stmt.where(
            Course.status == CourseStatus.PUBLISHED,
            sa.or_(Course.capacity.is_(None), Course.seats_taken < Course.capacity),
        )
    if not filters.include_past:
        stmt = stmt.where(Course.end_date >= clock.today())
    return stmt


def search_courses(filters: CourseFilters, page: int, per_page: int) -> Page:
    """One page of the catalog for the filters: two queries (count, rows with base and region)."""
    stmt = _filtered(filters)
    total = db.session.execute(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    order = SORTS.get(filters.sort, SORTS["start"])[1]
    rows = db.session.execute(
        stmt.options(contains_eager(Course.base).contains_eager(TrainingBase.region).joinedload(Region.parent),
            joinedload(Course.cover),
        )
        .order_by(*order)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return Page(items=list(rows.scalars().unique()), total=total, page=page, per_page=per_page)


def filter_options() -> dict:
    """Regions and bases for the catalog's filter form: two queries."""
    regions = db.session.execute(
        sa.select(Region).options(joinedload(Region.parent)).order_by(Region.level, Region.code)
    ).scalars().all()
    bases = db.session.execute(
        sa.select(TrainingBase.id, TrainingBase.name)
        .where(TrainingBase.status != BaseStatus.EXITED)
        .order_by(TrainingBase.type, TrainingBase.id)
    ).all()
    return {"regions": regions, "bases": bases}


def get_public_course(course_id: int) -> Course | None:
    """A course as the public may see it, with its base, or None (draft, cancelled, exited base)."""
    return db.session.execute(
        _public_courses()
        .where(Course.id == course_id)
        .options(contains_eager(Course.base).contains_eager(TrainingBase.region).joinedload(Region.parent),
            joinedload(Course.cover),
        )
    ).scalar_one_or_none()


def list_bases_by_type() -> dict[BaseType, list]:
    """The public directory: listed bases grouped by type, each with its count of current courses."""
    current = (
        sa.select(Course.base_id, sa.func.count(Course.id).label("n"))
        .where(Course.status.in_(PUBLIC_STATUSES), Course.end_date >= clock.today())
        .group_by(Course.base_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(TrainingBase, sa.func.coalesce(current.c.n, 0))
        .join(TrainingBase.region)
        .outerjoin(current, current.c.base_id == TrainingBase.id)
        .where(TrainingBase.status != BaseStatus.EXITED)
        .options(contains_eager(TrainingBase.region), joinedload(TrainingBase.logo))
        .order_by(TrainingBase.id)
    ).all()
    grouped: dict[BaseType, list] = {t: [] for t in BaseType}
    for base, course_count in rows:
        grouped[base.type].append((base, course_count))
    return grouped


def get_public_base(base_id: int) -> tuple[TrainingBase, list[Course]] | None:
    """A listed base and its current public courses, or None."""
    base = db.session.execute(
        sa.select(TrainingBase)
        .where(TrainingBase.id == base_id, TrainingBase.status != BaseStatus.EXITED)
        .options(joinedload(TrainingBase.region), joinedload(TrainingBase.logo))
    ).unique().scalar_one_or_none()
    if base is None:
        return None
    courses = db.session.execute(
        sa.select(Course)
        .where(Course.base_id == base.id, Course.status.in_(PUBLIC_STATUSES), Course.end_date >= clock.today())
        .options(joinedload(Course.cover))
        .order_by(Course.start_date, Course.id)
    ).scalars().all()
    return base, courses


def latest_courses(limit: int = 6) -> list[Course]:
    return search_courses(CourseFilters(sort="start"), 1, limit).items
