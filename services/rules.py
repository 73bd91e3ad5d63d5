"""Which rules apply where: a region's own value for a year, else its province's, else a default to confirm.

Rules are rows per region and year (RuleSet, DeclarationCap, Target, Rubric); none applies everywhere. A city
that leaves a value open (NULL, or no row) takes its province's; where neither sets one, a requirement is not
required, a cap does not cap, and a conversion or a rubric value falls back to FALLBACK below, which the
regulator's page shows as 默认值，待确认 (as it shows every seeded value no notice states).
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import sqlalchemy as sa

from extensions import db
from models import (
    KIND_UNITS,
    SECTORS,
    Category,
    DeclarationCap,
    DeclarationKind,
    DeclarationKindRule,
    Evaluation,
    EvaluationStatus,
    Outcome,
    Region,
    RegionLevel,
    Rubric,
    RuleSet,
)
from models._common import LabelledEnum

_T = TypeVar("_T")

REQUIREMENTS = ("total_min", "public_min", "professional_min", "elective_min")
CONVERSIONS = ("hours_per_day", "minutes_per_hour", "plan_window_days", "review_working_days")
THEMES = ("public_themes", "public_electives")
# Who reviews declared hours besides the employer: a sector step after it (sector_step, Henan 002), or the
# sector authority instead of it for the sectors listed (sector_recognised, Guangdong's 教育 and 卫生, 001).
# No fallback: where no region of the chain sets them, the employer alone reviews.
SECTOR_RULES = ("sector_step", "sector_recognised")
RULE_FIELDS = REQUIREMENTS + CONVERSIONS + THEMES + SECTOR_RULES
RUBRIC_FIELDS = ("weight_trainees", "weight_projects", "weight_completion", "weight_rating", "weight_disclosure",
                 "penalty_per_overdue_plan", "unrated_score", "keep_threshold", "exit_threshold",
                 "missed_target_outcome")

# Only for a value that no region of the chain sets (a region no notice covers, one a regulator has not yet
# filled in): the platform must still convert a day of training to hours. Shown as 默认值，待确认.
FALLBACK = {
    "hours_per_day": 8, "minutes_per_hour": 45, "plan_window_days": 30, "review_working_days": 5,
    "weight_trainees": 30, "weight_projects": 20, "weight_completion": 20, "weight_rating": 15,
    "weight_disclosure": 15, "penalty_per_overdue_plan": 5, "unrated_score": 60, "keep_threshold": 75,
    "exit_threshold": 50, "missed_target_outcome": Outcome.RECTIFY,
}

# The kinds of declared learning (DeclarationKindRule): a region whose notice lists ways of learning accepts
# those (Chengdu 003, Yantai 004); where no row of the chain says, every kind is accepted with the general
# categories below, shown as 默认值，待确认. A minimum of days is never a default: none is required unless a
# region sets one (Chengdu's 20 days abroad).
KIND_FIELDS = ("accepted", "categories", "min_days")
P, S, E = Category.PUBLIC, Category.PROFESSIONAL, Category.ELECTIVE
GENERAL_CATEGORIES = {
    DeclarationKind.CONFERENCE: (S,), DeclarationKind.COMPETITION: (P, S), DeclarationKind.ABROAD: (S,),
    DeclarationKind.RESEARCH: (S,), DeclarationKind.DEGREE: (S,), DeclarationKind.SELF_STUDY: (S,),
    DeclarationKind.GRASSROOTS: (S,), DeclarationKind.OTHER: (P, S, E),
}


class Accepted(LabelledEnum):
    """Whether a region accepts a kind of declared learning (stored as DeclarationKindRule.accepted)."""

    YES = "yes", "接受"
    NO = "no", "不接受"


class Categories(tuple):
    """The categories a kind may be declared as, in the enum's order; labelled for the regulator's page."""

    @property
    def label(self) -> str:
        return "、".join(c.label for c in self)


def kind_key(kind: DeclarationKind, name: str) -> str:
    return f"kind_{kind.value}_{name}"


# A minimum of days only means something for a kind counted in whole days (abroad, service at the grassroots).
KIND_KEYS = {kind_key(kind, name): (kind, name) for kind in DeclarationKind for name in KIND_FIELDS
             if name != "min_days" or KIND_UNITS[kind] == "days"}
for _kind, _categories in GENERAL_CATEGORIES.items():
    FALLBACK[kind_key(_kind, "accepted")] = Accepted.YES
    FALLBACK[kind_key(_kind, "categories")] = Categories(_categories)


@dataclass(frozen=True)
class Resolved:
    """A value in force and where it comes from: "own" (the region's row), "province", or "default"."""

    value: Any
    origin: str
    unconfirmed: bool

    @property
    def is_default(self) -> bool:
        """A value no notice states: seeded as a default, or the platform's fallback (an unset requirement
        or cap is no default: nothing is required or capped)."""
        return self.unconfirmed


def resolve(rows: Sequence[Any], fields: Iterable[str], region_id: int | None = None) -> dict[str, Resolved]:
    """Field by field, the first row (most specific first: the city's, then the province's; None for a
    region without a row) that sets a value, else the fallback (None for a requirement or a theme)."""
    found = {}
    for name in fields:
        for row in rows:
            if row is not None and getattr(row, name) is not None:
                origin = "own" if region_id is None or row.region_id == region_id else "province"
                found[name] = Resolved(getattr(row, name), origin, name in (row.unconfirmed or []))
                break
        else:
            found[name] = Resolved(FALLBACK.get(name), "default", name in FALLBACK)
    return found


def merged(model: Callable[..., _T], rows: Sequence[Any], fields: Iterable[str], **keys: Any) -> _T:
    """An unsaved ``model`` holding the values in force (see resolve); ``unconfirmed`` lists those that are
    defaults. Never added to the session."""
    values = resolve(rows, fields)
    return model(**keys, **{name: r.value for name, r in values.items()},
                 unconfirmed=[name for name, r in values.items() if r.is_default])


def known(value: _T | None) -> _T:
    """A value of a rule in force (merge_rule, pick_rubric), which the fallback sets where no region does.

    :raise ValueError: the value is unset, which only a rule read before merging can be.
    """
    if value is None:
        raise ValueError("a rule in force lacks a value that its fallback sets")
    return value


@overload
def merge_rule(year: int, own: RuleSet | None, province: RuleSet) -> RuleSet: ...
@overload
def merge_rule(year: int, own: RuleSet | None, province: RuleSet | None) -> RuleSet | None: ...
def merge_rule(year: int, own: RuleSet | None, province: RuleSet | None) -> RuleSet | None:
    """The rule in force from a city's row and its province's row, or None when neither region has one for
    the year (the learner's page then says the region has published no requirements)."""
    row = own or province
    if row is None:
        return None
    rule = merged(RuleSet, [own, province], RULE_FIELDS, year=year)
    rule.region_id = row.region_id
    rule.source = row.source
    return rule


def sectors_in_order(names: Iterable[str] | None) -> list[str] | None:
    """Sector names as a rule holds them: known ones only, in models.SECTORS' order, without repeats; None
    for none (not set here)."""
    chosen = set(names or ())
    return [name for name in SECTORS if name in chosen] or None


def chain_ids(region: Region | None, province_only: bool = False) -> list[int]:
    """The region ids whose rows apply in ``region``, most specific first: the city, then its province.
    ``province_only``: a province-level value (a province-level base's target or rubric) skips the city."""
    if region is None:
        return []
    if region.level == RegionLevel.PROVINCE or region.parent_id is None:
        return [region.id]
    return [region.parent_id] if province_only else [region.id, region.parent_id]


def caps_in_force(region: Region | None, year: int) -> dict[tuple, DeclarationCap]:
    """{(kind, category): cap} in force for a learner of ``region`` in ``year``: the city's row, else the
    province's. One query."""
    chain = chain_ids(region)
    if not chain:
        return {}
    rows = db.session.execute(
        sa.select(DeclarationCap).where(DeclarationCap.region_id.in_(chain), DeclarationCap.year == year)
    ).scalars().all()
    return pick_caps(rows, chain)


def pick_caps(rows: Iterable[DeclarationCap], chain: list[int]) -> dict[tuple, DeclarationCap]:
    """{(kind, category): cap} from the cap rows of a region chain's year (most specific region first in
    ``chain``): the city's row, else the province's. For a page that reads the rows in a statement of its own."""
    found: dict[tuple, DeclarationCap] = {}
    for cap in sorted(rows, key=lambda c: chain.index(c.region_id), reverse=True):
        found[(cap.kind, cap.category)] = cap  # the more specific row, read last, wins
    return found


class KindValues:
    """A region's DeclarationKindRule rows of a year as one row of KIND_KEYS (for resolve): None where the
    region sets nothing."""

    def __init__(self, region_id: int, rows: Iterable[DeclarationKindRule] = ()) -> None:
        self.region_id, self.unconfirmed = region_id, []
        for key in KIND_KEYS:
            setattr(self, key, None)
        for row in rows:
            for name in KIND_FIELDS:
                key = kind_key(row.kind, name)
                if key not in KIND_KEYS:
                    continue
                value = getattr(row, name)
                if name == "categories" and value is not None:
                    value = Categories(c for c in Category if c.value in value)
                elif name == "accepted" and value is not None:
                    value = Accepted.YES if value else Accepted.NO
                setattr(self, key, value)
                if name in (row.unconfirmed or []):
                    self.unconfirmed.append(key)


@dataclass(frozen=True)
class KindInForce:
    """What a learner of a region may declare of one kind in a year."""

    kind: DeclarationKind
    accepted: bool
    categories: tuple[Category, ...]
    min_days: int  # 0: no minimum


def kind_rows(rows: Sequence[DeclarationKindRule], chain: list[int]) -> list[KindValues]:
    """The chain's KindValues, most specific region first, from the rows of its year."""
    return [KindValues(region_id, [r for r in rows if r.region_id == region_id]) for region_id in chain]


def kinds_in_force(region: Region | None, year: int) -> dict[DeclarationKind, KindInForce]:
    """{kind: what is in force} for a learner of ``region`` in ``year``, field by field the city's value, else
    the province's, else the general list (every kind accepted, no minimum of days). One query."""
    chain = chain_ids(region)
    rows = db.session.execute(
        sa.select(DeclarationKindRule).where(DeclarationKindRule.region_id.in_(chain),
                                             DeclarationKindRule.year == year)
    ).scalars().all() if chain else []
    found = resolve(kind_rows(rows, chain), KIND_KEYS)
    return {kind: KindInForce(
        kind, found[kind_key(kind, "accepted")].value == Accepted.YES, tuple(found[kind_key(kind, "categories")].value),
        (found[kind_key(kind, "min_days")].value or 0) if kind_key(kind, "min_days") in KIND_KEYS else 0)
        for kind in DeclarationKind}


def rubrics_up_to(year: int) -> Sequence[Rubric]:
    """Every rubric row up to ``year`` (a handful a region): load once, pick per base with pick_rubric."""
    return db.session.execute(sa.select(Rubric).where(Rubric.year <= year)).scalars().all()


def pick_rubric(rubrics: Sequence[Rubric], region: Region | None, year: int, province_only: bool = False) -> Rubric:
    """The rubric in force for a base of ``region`` in ``year``: per region, its latest row not after the
    year; field by field the city's, then the province's, then the default. ``province_only`` for a
    province-level base, whose evaluation is the province's (policies.region_decides_type)."""
    rows = []
    for region_id in chain_ids(region, province_only):
        own = [r for r in rubrics if r.region_id == region_id and r.year <= year]
        rows.append(max(own, key=lambda r: r.year, default=None))
    rubric = merged(Rubric, rows, RUBRIC_FIELDS, year=year)
    rubric.region_id = region.id if region is not None else None  # type: ignore[assignment]  # unsaved: None is everywhere
    return rubric


def related_region_ids(region: Region) -> sa.Select[tuple[int]]:
    """The regions whose confirmed evaluation a rule of ``region`` could have decided: the region, its
    province (whose evaluation decides the province-level bases located in the city) and its cities."""
    return sa.select(Region.id).where(sa.or_(
        Region.id == region.id, Region.parent_id == region.id,
        Region.id == (region.parent_id if region.parent_id is not None else -1)))


def year_confirmed(region: Region, year: int) -> bool:
    """Whether an evaluation of ``year`` touching the region's rules has been confirmed: that year is closed."""
    return db.session.execute(
        sa.select(sa.exists().where(Evaluation.year == year, Evaluation.status == EvaluationStatus.CONFIRMED,
                                    Evaluation.region_id.in_(related_region_ids(region))))
    ).scalar_one()
