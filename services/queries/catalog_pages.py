"""The public catalog: searching and filtering published courses, the base directory and pages.

Every function here issues a fixed number of queries whatever the data size: rows come with their base
and region joined in, and counting is the database's.
"""

import base64
import binascii
import calendar
import json
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute, aliased, contains_eager, joinedload

from extensions import db
from models import BaseType, Course, CourseStatus, Enrollment, Image, PlanStatus, Region, TrainingBase
from models._common import MAX_ID
from services import policies
from services.infra import clock, paging, search
from services.infra.paging import Page

# A listed base's courses in these states are public (policies.is_public_course).
PUBLIC_STATUSES = policies.PUBLIC_STATUSES


@dataclass(frozen=True)
class SortKey:
    """One column of a catalog order: the SQL expression, its direction, and how a cursor carries it."""

    expression: QueryableAttribute[Any] | sa.ColumnElement[Any]
    ascending: bool
    value: Callable[[Course], object]
    parse: Callable[[str], object]


def _column_int(text: str) -> int:
    """An id or a count from a cursor, within what an INTEGER column holds (else PostgreSQL errors)."""
    value = int(text)
    if not 0 <= value <= MAX_ID:
        raise ValueError(text)
    return value


def _fee(text: str) -> Decimal:
    """A fee from a cursor: a finite amount within the column's NUMERIC(10, 2)."""
    value = Decimal(text)
    if not value.is_finite() or not 0 <= value < 10**8:
        raise ValueError(text)
    return value


_START = SortKey(Course.start_date, True, lambda c: c.start_date, date.fromisoformat)
_ID_UP = SortKey(Course.id, True, lambda c: c.id, _column_int)
# A course closed without ever being published has no published_at: it sorts by when it was created.
_PUBLISHED = SortKey(sa.func.coalesce(Course.published_at, Course.created_at), False,
                     lambda c: c.published_at or c.created_at, datetime.fromisoformat)

# Every order ends in the id, so that it is total and a cursor names one position.
SORTS = {
    "start": ("开课时间", (_START, _ID_UP)),
    "new": ("最新发布", (_PUBLISHED, SortKey(Course.id, False, lambda c: c.id, _column_int))),
    "hours": ("学时从多到少", (SortKey(Course.hours, False, lambda c: c.hours, _column_int), _START, _ID_UP)),
    "fee": ("费用从低到高", (SortKey(Course.fee, True, lambda c: c.fee, _fee), _START, _ID_UP)),
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
    enrollable: bool = False  # a learner can enroll now, on a seat or the waitlist
    has_seats: bool = False  # a learner can enroll now, on a seat
    include_past: bool = False
    sort: str = "start"


@dataclass(frozen=True)
class Position:
    """Where a cursor points: the page number it leads to, the direction, and the sort key values of the
    row next to that page (the last row before it going forward, the first row after it going back)."""

    sort: str
    page: int
    forward: bool
    values: tuple


def encode_cursor(position: Position) -> str:
    raw = [position.sort, position.page, 1 if position.forward else 0,
           *[v.isoformat() if isinstance(v, date) else str(v) for v in position.values]]
    return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(token: str, sort: str) -> Position | None:
    """The position a cursor names, or None for anything else (a stale, mangled or foreign cursor)."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        name, page, forward, *values = raw
        keys = SORTS[sort][1]
        if name != sort or len(values) != len(keys) or not isinstance(page, int) or not 1 < page <= 1_000_000:
            return None
        return Position(sort, page, bool(forward), tuple(k.parse(v) for k, v in zip(keys, values, strict=True)))
    except (ValueError, TypeError, KeyError, InvalidOperation, binascii.Error, UnicodeDecodeError):
        return None


def _beyond(keys: Sequence[SortKey], values: Sequence[object], forward: bool) -> sa.ColumnElement[bool]:
    """Rows after (forward) or before the position, in the order of ``keys``: the expanded form of a row
    comparison, since the columns do not all run in the same direction."""
    clauses = []
    for n, key in enumerate(keys):
        later = key.expression > values[n] if key.ascending == forward else key.expression < values[n]
        clauses.append(sa.and_(*[keys[m].expression == values[m] for m in range(n)], later))
    return sa.or_(*clauses)


def _month_bounds(month: str) -> tuple[date, date] | None:
    try:
        year, mon = (int(part) for part in month.split("-"))
        return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])
    except (ValueError, AttributeError):
        return None


def _public_courses() -> sa.Select[tuple[Course]]:
    """Published (or enrollment-closed) courses of listed bases (policies.is_public_course), joined to base
    and region."""
    return (
        sa.select(Course)
        .join(Course.base)
        .join(TrainingBase.region)
        .where(policies.public_courses())
    )


def enrollable_now(today: date) -> sa.ColumnElement[bool]:
    """SQL for a public course that services.enrollment.availability says a learner can enroll in on
    ``today`` (open or full with a waitlist); tests/test_enrollment_window.py checks the two agree."""
    return sa.and_(
        Course.status == CourseStatus.PUBLISHED,
        Course.end_date >= today,
        Course.enrollable_on(today),
        sa.or_(sa.not_(Course.needs_class_plan), Course.plan_status == PlanStatus.APPROVED.value),
    )


def _filtered(filters: CourseFilters, today: date) -> sa.Select[tuple[Course]]:
    return _when(_what(_public_courses(), filters), filters, today)


@lru_cache(maxsize=256)
def _statements(filters: tuple, today: date, dialect: str) -> tuple[sa.Select[tuple[Course]], sa.Select[tuple[int]]]:
    """The filtered courses and their count for ``filters`` (astuple of CourseFilters) on ``today``, built once
    per process and day (the page asks for both on every visit, and building them costs more than running the
    count); ``dialect`` because the words' clause is the database's own."""
    del dialect  # in the key only: _what reads it from the engine
    stmt = _filtered(CourseFilters(*filters), today)
    return stmt, sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())


def _what(stmt: sa.Select[tuple[Course]], filters: CourseFilters) -> sa.Select[tuple[Course]]:
    """The filters on what a course is: its words, region, base, category, field, mode, openness to the city."""
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
    if filters.open_to_city:
        stmt = stmt.where(Course.open_to_city.is_(True))
    return stmt


def _when(stmt: sa.Select[tuple[Course]], filters: CourseFilters, today: date) -> sa.Select[tuple[Course]]:
    """The filters on when a course runs and whether it can be joined now: month, enrollable, seats, past."""
    bounds = _month_bounds(filters.month) if filters.month else None
    if bounds:
        stmt = stmt.where(Course.start_date <= bounds[1], Course.end_date >= bounds[0])
    if filters.enrollable or filters.has_seats:
        stmt = stmt.where(enrollable_now(today))
    if filters.has_seats:
        stmt = stmt.where(sa.or_(Course.capacity.is_(None), Course.seats_taken < Course.capacity))
    if not filters.include_past:
        stmt = stmt.where(Course.end_date >= today)
    return stmt


def search_courses(filters: CourseFilters, per_page: int, cursor: str | None = None, jump: int | None = None,
                   cards: bool = False) -> Page:
    """One page of the catalog for the filters: two queries (count, rows with base and region). With
    ``cards``, the items are CourseCard: what a card shows, read without the ORM's objects.

    Pages follow each other by keyset: a deep page costs what the first one does, where an OFFSET would
    make the database walk past every earlier row. ``jump`` asks for a page by number instead (ignored with
    a valid cursor; services.infra.paging says how far it reaches): beyond the last page it shows the last.

    :raise PageOutOfReach: for a jump more than paging.JUMP_ROWS rows from both ends.
    """
    sort = filters.sort if filters.sort in SORTS else "start"
    keys = SORTS[sort][1]
    stmt, count = _statements(astuple(filters), clock.today(), db.engine.dialect.name)
    total = db.session.execute(count).scalar_one()
    position = decode_cursor(cursor, sort) if cursor else None
    if position is None and jump is not None and jump > 1:
        return _with_cursors(_jumped(stmt, keys, total, per_page, jump, cards), sort, keys)
    forward = position is None or position.forward
    if position is not None:
        stmt = stmt.where(_beyond(keys, position.values, forward))
    items = _rows(stmt, keys, forward, per_page + 1, cards=cards)
    more, items = len(items) > per_page, items[:per_page]
    number = position.page if position else 1
    if forward:
        has_prev, has_next = position is not None, more
    else:
        items.reverse()
        has_prev, has_next = more, True
        number = number if more else 1
    page = Page(items=items, total=total, page=number, per_page=per_page, has_prev=has_prev, has_next=has_next,
                jump_rows=paging.JUMP_ROWS)
    return _with_cursors(page, sort, keys)


class CardPlace:
    """A card's base and region: the names it shows and whether the base may still publish (availability)."""

    can_publish = TrainingBase.__dict__["can_publish"]  # the model's rule, read from these values

    def __init__(self, name: str, status: object, region_name: str) -> None:
        self.name, self.status, self.region = name, status, SimpleNamespace(name=region_name)


class CourseCard:
    """A public course as a catalog card (templates/catalog/_course_card.html, services.enrollment.availability)
    and a page's cursors read it: a few columns from one narrow statement instead of a 29-column ORM object, with
    the model's own rules for what is derived from them. Any other attribute is an AttributeError."""

    seats_left = Course.__dict__["seats_left"]
    is_self_paced = Course.__dict__["is_self_paced"]
    enroll_deadline = Course.__dict__["enroll_deadline"]
    needs_class_plan = Course.__dict__["needs_class_plan"]

    def __init__(self, values: dict[str, Any], base: CardPlace, cover_key: str | None) -> None:
        self.__dict__.update(values)
        self.base, self.cover = base, SimpleNamespace(key=cover_key) if cover_key else None


_CARD_COLUMNS = (Course.id, Course.title, Course.category, Course.field, Course.mode, Course.hours,
                 Course.start_date, Course.end_date, Course.enroll_until, Course.capacity, Course.seats_taken,
                 Course.fee, Course.status, Course.plan_status, Course.published_at, Course.created_at)
_CARD_PLACE = (TrainingBase.name.label("base_name"), TrainingBase.status.label("base_status"),
               Region.name.label("region_name"), Image.key.label("cover_key"))
_FULL = (
    contains_eager(Course.base).contains_eager(TrainingBase.region).joinedload(Region.parent),
    joinedload(Course.cover),
)


def _cards(rows: Sequence[sa.Row]) -> list[CourseCard]:
    """Rows of _CARD_COLUMNS and _CARD_PLACE as cards, the courses of one base sharing its CardPlace."""
    places: dict[tuple, CardPlace] = {}
    cards = []
    names = [column.key for column in _CARD_COLUMNS]
    for row in rows:
        values = row._tuple()
        base_name, base_status, region_name, cover_key = values[len(names):]
        place = places.get((base_name, base_status, region_name))
        if place is None:
            place = places[base_name, base_status, region_name] = CardPlace(base_name, base_status, region_name)
        cards.append(CourseCard(dict(zip(names, values[:len(names)], strict=True)), place, cover_key))
    return cards


def _rows(stmt: sa.Select[tuple[Course]], keys: Sequence[SortKey], forward: bool, limit: int,
          offset: int = 0, cards: bool = False) -> list:
    """The rows of ``stmt`` in the order of ``keys`` (reversed going back), with base, region and cover; with
    ``cards``, as CourseCard."""
    order = [k.expression.asc() if k.ascending == forward else k.expression.desc() for k in keys]
    if cards:
        narrow = (stmt.with_only_columns(*_CARD_COLUMNS, *_CARD_PLACE, maintain_column_froms=False)
                  .outerjoin(Image, Image.id == Course.cover_id))
        return _cards(db.session.execute(narrow.order_by(*order).offset(offset or None).limit(limit)).all())
    rows = db.session.execute(stmt.options(*_FULL).order_by(*order).offset(offset or None).limit(limit))
    return list(rows.scalars().unique())


def _jumped(stmt: sa.Select[tuple[Course]], keys: Sequence[SortKey], total: int, per_page: int,
            jump: int, cards: bool) -> Page:
    """Page ``jump`` (the last page when the list is shorter), read from the nearer end with OFFSET."""
    number = paging.jump_target(jump, total, per_page)
    before, after = paging.rows_around(number, total, per_page)
    if before <= after:
        items = _rows(stmt, keys, True, per_page, before, cards)
    else:
        items = _rows(stmt, keys, False, min(per_page, total - before), after, cards)
        items.reverse()
    return Page(items=items, total=total, page=number, per_page=per_page, has_prev=number > 1,
                has_next=number * per_page < total, jump_rows=paging.JUMP_ROWS)


def _with_cursors(page: Page, sort: str, keys: Sequence[SortKey]) -> Page:
    """The page with the cursors of its neighbours (none back to the first page: that is the plain URL)."""
    if page.has_next and page.items:
        page.next_cursor = encode_cursor(Position(sort, page.page + 1, True, _values(keys, page.items[-1])))
    if page.has_prev and page.items and page.page > 2:
        page.prev_cursor = encode_cursor(Position(sort, page.page - 1, False, _values(keys, page.items[0])))
    return page


def _values(keys: Sequence[SortKey], course: Course) -> tuple:
    return tuple(k.value(course) for k in keys)


@cache
def _option_statements() -> tuple[sa.Select, sa.Select]:
    """The filter form's two statements, built once per process: they depend on nothing but the schema, and
    building a statement costs more than running these."""
    parent = aliased(Region)
    regions = (sa.select(Region.id, parent.name, Region.name)
               .outerjoin(parent, parent.id == Region.parent_id)
               .order_by(Region.level, Region.code))
    bases = (sa.select(TrainingBase.id, TrainingBase.name)
             .where(policies.listed_bases())
             .order_by(TrainingBase.type, TrainingBase.id))
    return regions, bases


def filter_options() -> dict:
    """Regions and bases for the catalog's filter form, as (id, name) pairs, regions by their full name: two
    queries, of plain rows."""
    regions, bases = (db.session.execute(statement).all() for statement in _option_statements())
    return {"regions": [(id_, Region.name_under(above, name)) for id_, above, name in regions],
            "bases": [(id_, name) for id_, name in bases]}


def get_public_course(course_id: int) -> Course | None:
    """A course as the public may see it, with its base, or None (draft, cancelled, exited base)."""
    return db.session.execute(
        _public_courses()
        .where(Course.id == course_id)
        .options(contains_eager(Course.base).contains_eager(TrainingBase.region).joinedload(Region.parent),
            joinedload(Course.cover),
        )
    ).scalar_one_or_none()


def get_cancelled_course_of(course_id: int, learner_id: int) -> Course | None:
    """A cancelled course, with its base, for a learner who was enrolled in it (or waiting for a place): the
    notice of its cancellation links to it, and the page says why. None for anyone else. One query."""
    was_enrolled = sa.exists().where(Enrollment.course_id == Course.id, Enrollment.learner_id == learner_id)
    return db.session.execute(
        sa.select(Course).join(Course.base).join(TrainingBase.region)
        .where(Course.id == course_id, Course.status == CourseStatus.CANCELLED, was_enrolled)
        .options(contains_eager(Course.base).contains_eager(TrainingBase.region).joinedload(Region.parent),
                 joinedload(Course.cover))
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
        .where(policies.listed_bases())
        .options(contains_eager(TrainingBase.region), joinedload(TrainingBase.logo))
        .order_by(TrainingBase.id)
    ).all()
    grouped: dict[BaseType, list] = {t: [] for t in BaseType}
    for base, course_count in rows:
        grouped[base.type].append((base, course_count))
    return grouped


def get_public_base(base_id: int) -> tuple[TrainingBase, Sequence[Course]] | None:
    """A listed base (policies.is_listed_base) and its current public courses, or None."""
    base = db.session.execute(
        sa.select(TrainingBase)
        .where(TrainingBase.id == base_id, policies.listed_bases())
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
    return search_courses(CourseFilters(sort="start"), limit).items


def current_course_count(base_id: int) -> int:
    """How many of the base's courses the public catalog lists now (as list_bases_by_type counts them)."""
    return db.session.execute(
        sa.select(sa.func.count(Course.id)).where(
            Course.base_id == base_id, Course.status.in_(PUBLIC_STATUSES), Course.end_date >= clock.today())
    ).scalar_one()
