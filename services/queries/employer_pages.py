"""What an employer's staff reads: each confirmed staff member's hours of a year by category (the ledger),
against the rule in force in their region that year, and what they are still short of. Two queries whatever
the staff's size: the staff with their regions and their ledger summed per category (GROUP BY), then the
rules of every region they live in, resolved once per region."""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from extensions import db
from models import Category, HoursRecord, RuleSet, User
from services import hours, policies
from services.infra import clock
from services.roster import mask_phone


@dataclass
class StaffLine:
    """One staff member's year: hours earned per category against the rule of their region."""

    learner: User
    rule: RuleSet
    earned: dict[Category, int]

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.learner.phone)

    @property
    def total(self) -> int:
        return sum(self.earned.values())

    def required(self, category: Category) -> int | None:
        return self.rule.minimum(category)

    def missing(self, category: Category) -> int:
        return hours.missing(self.rule, self.earned, category)

    @property
    def required_total(self) -> int:
        return hours.required_total(self.rule)

    @property
    def short(self) -> int:
        """The fewest hours still to earn to meet every minimum (services.hours.short)."""
        return hours.short(self.rule, self.earned)


@dataclass
class StaffPage:
    year: int
    days_left: int  # to 31 December of the year
    lines: list[StaffLine]  # shortest first (most hours missing), then by name: this page of them
    staff: int  # confirmed staff in all, whether shown or filtered out
    short_count: int  # of them, those short of their rule
    page: int = 1
    pages: int = 1


def _sums(where: sa.ColumnElement[bool], year: int) -> sa.Subquery:
    """The year's ledger of the staff selected by ``where``, one row per learner, one column per category."""
    return (
        sa.select(HoursRecord.learner_id, *(
            sa.func.sum(sa.case((HoursRecord.category == category, HoursRecord.hours), else_=0)).label(category.value)
            for category in Category))
        .where(HoursRecord.year == year, HoursRecord.learner_id.in_(sa.select(User.id).where(where)))
        .group_by(HoursRecord.learner_id)
        .subquery()
    )


def staff_lines(where: sa.ColumnElement[bool], year: int, after_id: int | None = None,
                limit: int | None = None) -> list[StaffLine]:
    """The staff ``where`` selects (policies.staff_of, policies.staff_token_reaches), by id, after the one with
    ``after_id``, at most ``limit`` of them, each with the year's hours against their region's rule. Two
    queries."""
    sums = _sums(where, year)
    stmt = (
        sa.select(User, *(sa.func.coalesce(sums.c[category.value], 0) for category in Category))
        .outerjoin(sums, sums.c.learner_id == User.id)
        .where(where)
        .options(joinedload(User.region))
        .order_by(User.id)
    )
    if after_id is not None:
        stmt = stmt.where(User.id > after_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = db.session.execute(stmt).all()
    regions = {row[0].region_id: row[0].region for row in rows}
    in_force = hours.rules_by_region(regions.values(), year) if rows else {}
    return [StaffLine(learner=learner, rule=in_force[learner.region_id],
                      earned=dict(zip(Category, map(int, totals), strict=True)))
            for learner, *totals in rows]


# Staff lines on one page: a hospital's staff runs into thousands, and on a phone each line is a card.
STAFF_PER_PAGE = 50


def staff_page(viewer: User, year: int | None = None, only_short: bool = False, page: int | None = 1) -> StaffPage:
    """The staff of the employer the viewer reviews for (policies.may_see_staff) in ``year`` (default this
    one), shortest first; ``only_short`` keeps those short of their rule. Page ``page`` of them (past the last:
    the last), or all when ``page`` is None (the export). Two queries: the order depends on each person's rule,
    so every line is counted and sorted here, and the page cut from them."""
    today = clock.today()
    year = today.year if year is None else year
    lines = staff_lines(policies.staff_of(viewer), year)
    lines.sort(key=lambda line: (-line.short, line.learner.name, line.learner.id))
    short = [line for line in lines if line.short > 0]
    shown = short if only_short else lines
    per_page = STAFF_PER_PAGE
    pages = max(1, -(-len(shown) // per_page))
    number = 1 if page is None else min(max(page, 1), pages)
    if page is not None:
        shown = shown[(number - 1) * per_page:number * per_page]
    return StaffPage(year=year, days_left=max((date(year, 12, 31) - today).days, 0), lines=shown,
                     staff=len(lines), short_count=len(short), page=number, pages=1 if page is None else pages)
