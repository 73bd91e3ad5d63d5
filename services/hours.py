"""The hours ledger and the region's rules: conversions, a learner's totals, progress against the rules."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased, contains_eager

from extensions import db
from models import Category, HoursRecord, Region, RuleSet, User
from models._common import with_defaults
from services import rules


def hours_from_minutes(minutes: int, rule: RuleSet) -> int:
    """Under a day, each whole block of ``minutes_per_hour`` real minutes is one hour (100 min → 2 h)."""
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    return minutes // rules.known(rule.minutes_per_hour)


def hours_from_days(days: int, rule: RuleSet) -> int:
    """Day-based training: each day is ``hours_per_day`` hours (3 days → 24 h)."""
    if days < 0:
        raise ValueError("days must not be negative")
    return days * rules.known(rule.hours_per_day)


def credit_year(completed_on: date) -> int:
    """Hours count in the year of the day the learner completed, Asia/Shanghai's (notice 003, 五.二: 以实际
    完成时间计入当年有效学时，不得跨年), not the year the course ends, and never carry over. The day is the
    local one already (services.completions takes it from clock.today() or from the recorder)."""
    return completed_on.year


def rules_for(region: Region | None, years: Iterable[int] | None = None) -> dict[int, RuleSet]:
    """The rules in force in ``region`` by year, value by value the city's own, else its province's
    (services.rules.merge_rule; unsaved rows). One query."""
    if region is None:
        return {}
    region_ids = rules.chain_ids(region)
    stmt = sa.select(RuleSet).where(RuleSet.region_id.in_(region_ids))
    if years is not None:
        stmt = stmt.where(RuleSet.year.in_(list(years)))
    by_year: dict[int, dict[int, RuleSet]] = {}
    for rule in db.session.execute(stmt).scalars():
        by_year.setdefault(rule.year, {})[rule.region_id] = rule
    in_force: dict[int, RuleSet] = {}
    for year, rows in by_year.items():
        found = [rows.get(region_id) for region_id in region_ids[:2]]
        merged = rules.merge_rule(year, found[0], found[1] if len(found) > 1 else None)
        if merged is not None:  # always: the year has a row of the city or of its province
            in_force[year] = merged
    return in_force


def rule_for(region: Region | None, year: int) -> RuleSet:
    """The rule in force for the region and year; where neither the city nor its province sets a value,
    the platform's default (services.rules.FALLBACK, shown to regulators as 默认值，待确认). Never saved;
    sets no minimum that no region sets."""
    rule = rules_for(region, [year]).get(year)
    return rule if rule is not None else rules.merge_rule(year, None, with_defaults(RuleSet, year=year))


def rules_by_region(regions: Iterable[Region | None], year: int) -> dict[int | None, RuleSet]:
    """The rule in force in each region for ``year`` (``rule_for``'s answer), keyed by region id, all in one
    query however many regions. Each region's ``parent`` is not read: its ``parent_id`` is enough."""
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


def required_total(rule: RuleSet) -> int:
    """The hours a rule asks for in all: its total, or the sum of its categories' minimums if higher."""
    return max(rule.total_min or 0, sum(rule.minimum(c) or 0 for c in Category))


def missing(rule: RuleSet, earned: Mapping[Category, int], category: Category) -> int:
    """The hours of ``category`` still to earn to meet the rule's minimum for it (0 when none is set)."""
    return max((rule.minimum(category) or 0) - earned.get(category, 0), 0)


def short(rule: RuleSet, earned: Mapping[Category, int]) -> int:
    """The fewest hours still to earn to meet every minimum of the rule: each category's shortfall, or what the
    total lacks if that is more (hours beyond one category's minimum count toward the total, not another's).
    The one rule of "short" for the employer's staff page, its API and export, and the December reminders."""
    return max(sum(missing(rule, earned, c) for c in Category), required_total(rule) - sum(earned.values()), 0)


@dataclass
class ProgressLine:
    label: str
    earned: int
    required: int | None

    @property
    def missing(self) -> int:
        return max((self.required or 0) - self.earned, 0)

    @property
    def percent(self) -> int:
        if not self.required:
            return 100
        return min(round(100 * self.earned / self.required), 100)

    @property
    def met(self) -> bool:
        return self.missing == 0


@dataclass
class Progress:
    year: int
    rule: RuleSet | None
    lines: list[ProgressLine]

    @property
    def complete(self) -> bool:
        """Every minimum the region sets is met (False when the region has no rules for the year)."""
        return self.rule is not None and all(line.met for line in self.lines)


def progress(year: int, rule: RuleSet | None, totals: dict[Category, int] | None) -> Progress:
    """Hours earned against each minimum of the rule (categories the rule leaves open are still shown)."""
    totals = totals or {c: 0 for c in Category}
    lines = []
    for category in Category:
        required = rule.minimum(category) if rule else None
        if required is not None or totals.get(category):
            lines.append(ProgressLine(category.label, totals.get(category, 0), required))
    if rule is not None and rule.total_min is not None:
        lines.append(ProgressLine("合计", sum(totals.values()), rule.total_min))
    return Progress(year, rule, lines)


@dataclass
class Ledger:
    """A learner's hours year by year against each year's rule, and the region the rules come from."""

    region: Region | None
    years: dict[int, Progress]


def _ledger_statement() -> sa.Select:
    """The ledger's statement, with the learner, the year and the learner's region as parameters: built
    (and its cache key computed) once, not on every dashboard."""
    credits = sa.union_all(
        sa.select(HoursRecord.year, HoursRecord.category, HoursRecord.hours)
        .where(HoursRecord.learner_id == sa.bindparam("learner_id")),
        sa.select(sa.bindparam("year", type_=sa.Integer), sa.null(), sa.literal(0, sa.Integer)),
    ).subquery()
    per_year = (
        sa.select(credits.c.year, *(
            sa.func.sum(sa.case((credits.c.category == category, credits.c.hours), else_=0)).label(category.value)
            for category in Category
        ))
        .group_by(credits.c.year)
        .subquery()
    )
    region, province, own, inherited = aliased(Region), aliased(Region), aliased(RuleSet), aliased(RuleSet)
    return (
        sa.select(per_year, region, own, inherited)
        .select_from(per_year)
        .outerjoin(region, region.id == sa.bindparam("region_id"))
        .outerjoin(province, region.parent.of_type(province))
        .outerjoin(own, sa.and_(own.region_id == region.id, own.year == per_year.c.year))
        .outerjoin(inherited, sa.and_(inherited.region_id == province.id, inherited.year == per_year.c.year))
        .options(contains_eager(region.parent.of_type(province)))
    )


_LEDGER = _ledger_statement()


def ledger(learner: User, year: int) -> Ledger:
    """The learner's progress in every year with hours and in ``year`` (shown even before any hours),
    each against the rule in force: value by value the city's own, else its province's (as ``rules_for``
    merges them). Also the learner's region with its province in ``region.parent``, so that its full name
    costs no query.

    One query: the ledger summed per year, one column per category (the year asked for joins the
    ledger as a row of no hours), beside the region's and the province's rule of that year.
    """
    rows = db.session.execute(
        _LEDGER, {"learner_id": learner.id, "year": year, "region_id": learner.region_id}).all()
    years = {}
    for row_year, *sums, _region, own_rule, inherited_rule in rows:
        totals = dict(zip(Category, map(int, sums), strict=True))
        years[row_year] = progress(row_year, rules.merge_rule(row_year, own_rule, inherited_rule), totals)
    return Ledger(region=rows[0][-3], years=years)  # there is always a row: the year asked for
