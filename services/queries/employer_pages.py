"""What an employer's staff reads: each confirmed staff member's hours of a year by category (the ledger),
against the rule in force in their region that year, and what they are still short of. Two queries whatever
the staff's size: the staff with their regions and their ledger summed per category (GROUP BY), then the
rules of every region they live in, resolved once per region."""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from extensions import db
from models import Category, HoursRecord, Region, RuleSet, User
from models._common import with_defaults
from services import policies, rules
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
        return max((self.required(category) or 0) - self.earned[category], 0)

    @property
    def required_total(self) -> int:
        """The hours the rule asks for in all: its total, or the sum of its categories' minimums if higher."""
        by_category = sum(self.required(c) or 0 for c in Category)
        return max(self.rule.total_min or 0, by_category)

    @property
    def short(self) -> int:
        """The fewest hours still to earn to meet every minimum: each category's shortfall, or what the total
        lacks if that is more (hours beyond one category's minimum count toward the total, not another's)."""
        return max(sum(self.missing(c) for c in Category), self.required_total - self.total, 0)


@dataclass
class StaffPage:
    year: int
    days_left: int  # to 31 December of the year
    lines: list[StaffLine]  # shortest first (most hours missing), then by name
    staff: int  # confirmed staff in all, whether shown or filtered out
    short_count: int  # of them, those short of their rule


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


def _rules_by_region(regions: list[Region | None], year: int) -> dict[int | None, RuleSet]:
    """The rule in force in each region for ``year`` (services.hours.rule_for's answer), all in one query."""
    chains = {region.id if region else None: rules.chain_ids(region) for region in regions}
    wanted = {region_id for chain in chains.values() for region_id in chain}
    rows = {} if not wanted else {
        row.region_id: row for row in db.session.execute(
            sa.select(RuleSet).where(RuleSet.region_id.in_(wanted), RuleSet.year == year)).scalars()}
    in_force = {}
    for region_id, chain in chains.items():
        found = [rows.get(link) for link in chain[:2]]
        merged = rules.merge_rule(year, found[0] if found else None, found[1] if len(found) > 1 else None)
        in_force[region_id] = merged if merged is not None else rules.merge_rule(
            year, None, with_defaults(RuleSet, year=year))
    return in_force


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
    in_force = _rules_by_region(list(regions.values()), year) if rows else {}
    return [StaffLine(learner=learner, rule=in_force[learner.region_id],
                      earned=dict(zip(Category, map(int, totals), strict=True)))
            for learner, *totals in rows]


def staff_page(viewer: User, year: int | None = None, only_short: bool = False) -> StaffPage:
    """The staff of the employer the viewer reviews for (policies.may_see_staff) in ``year`` (default this
    one), shortest first; ``only_short`` keeps those short of their rule. Two queries."""
    today = clock.today()
    year = today.year if year is None else year
    lines = staff_lines(policies.staff_of(viewer), year)
    lines.sort(key=lambda line: (-line.short, line.learner.name, line.learner.id))
    short = [line for line in lines if line.short > 0]
    return StaffPage(year=year, days_left=max((date(year, 12, 31) - today).days, 0),
                     lines=short if only_short else lines, staff=len(lines), short_count=len(short))
