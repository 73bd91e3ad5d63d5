"""A regulator changes a yearly target of their region: the preview of what changes for whom, then the save of
exactly what was previewed (validated, audited, refused for a confirmed year).

The figures and the bases are the database's: the bases the region's value reaches are counted in one query,
and how many of them meet the old and the new target on the year's figures so far comes from the
evaluation's own counting (services.evaluation.figures: GROUP BY base) and its rule for a missed target.
"""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import BaseType, Region, RegionLevel, Target, TrainingBase, User
from services import audit, evaluation, policies, registry, rules
from services.errors import DomainError
from services.infra import clock
from services.infra.transaction import unit_of_work
from services.rule_edits import Change, RulesRefused, StalePreview  # one preview-then-save shape for rules

LABELS = {"min_trainees": "培训人数目标", "min_projects": "培训项目目标"}
NOTHING_YET = {"trainees": 0, "projects": 0}  # a base with no completion in the period


@dataclass
class Figures:
    """The target a value would hold, as evaluation.missed_target reads it."""

    min_trainees: int
    min_projects: int


@dataclass
class TargetPreview:
    base_type: BaseType
    year: int
    old: Figures | None  # in force before: the region's own, else its province's (None: no target)
    new: Figures
    seen: Figures | None  # the region's own row when previewed (None: it had none); the save checks it
    changes: list[Change]  # the trainees and the projects, old and new in force, each with the bases reached
    bases: int  # the bases of the type the region's value reaches
    meeting_before: int  # of them, how many meet the target in force before, on the figures below
    meeting_after: int
    figures_year: int
    figures_until: date

    @property
    def missing_before(self) -> int:
        return self.bases - self.meeting_before

    @property
    def missing_after(self) -> int:
        return self.bases - self.meeting_after


def _check(regulator: User, base_type: BaseType, year: int, min_trainees: int, min_projects: int) -> None:
    """:raise RulesRefused: each problem beside its field."""
    if not policies.may_set_region_rules(regulator):
        raise DomainError("只有人社部门可以设定本地区的目标")
    problems = {}
    if not policies.may_set_target(regulator, base_type):
        problems["base_type"] = f"{base_type.label}的目标由省级人社部门设定，市级人社部门只能设定市级继续教育基地的目标"
    for key, value in (("min_trainees", min_trainees), ("min_projects", min_projects)):
        if value is None or value < 0:
            problems[key] = "目标不能为负数"
    if rules.year_confirmed(regulator.region, year):
        problems["year"] = f"{year}年度的评估已确认，该年度的目标不能再修改"
    if problems:
        raise RulesRefused(problems)


def _figures(target: Target | Figures | None) -> Figures | None:
    return Figures(target.min_trainees, target.min_projects) if target is not None else None


def _reached(region: Region, base_type: BaseType, year: int) -> sa.ColumnElement[bool]:
    """The clause on TrainingBase of the bases whose target the region's value for the type and year is:
    evaluated that year, of the type, in the region; for a province's value of city-level bases, those of
    the province's own level and of its cities that set none of their own (registry.pick_target)."""
    where = sa.and_(evaluation.evaluated_in(year), TrainingBase.type == base_type)
    if region.level != RegionLevel.PROVINCE:
        return sa.and_(where, TrainingBase.region_id == region.id)
    cities = sa.select(Region.id).where(Region.parent_id == region.id)
    if base_type in policies.PROVINCE_SET_TYPES:
        return sa.and_(where, sa.or_(TrainingBase.region_id == region.id, TrainingBase.region_id.in_(cities)))
    city_own = sa.select(Target.id).where(Target.region_id == TrainingBase.region_id,
                                          Target.base_type == base_type, Target.year == year).exists()
    return sa.and_(where, sa.or_(TrainingBase.region_id == region.id,
                                 sa.and_(TrainingBase.region_id.in_(cities), ~city_own)))


def _meeting(target: Target | Figures | None, bases: int, counted: dict[int, dict]) -> int:
    """How many of ``bases`` meet ``target``: those with figures, by the evaluation's rule; those without
    (no completion yet) have none, and meet only a target of zero."""
    met = sum(not evaluation.missed_target(fig, target) for fig in counted.values())
    idle = bases - len(counted)
    return met + (idle if not evaluation.missed_target(NOTHING_YET, target) else 0)


def preview(regulator: User, base_type: BaseType, year: int, min_trainees: int, min_projects: int) -> TargetPreview:
    """What setting the region's target for the type and year would change, and for whom. Nothing is
    written. Five queries: the confirmed year, the year's targets, the bases, and the figures (two).

    The figures are the year's so far (today's year's for a year not begun: the best guess of next year
    is this one at its pace).

    :raise RulesRefused: a type the regulator may not set (``base_type``), negative figures, or a confirmed
        year (``year``).
    """
    _check(regulator, base_type, year, min_trainees, min_projects)
    region = regulator.region
    targets = registry.targets_of_year(year)
    own = next((t for t in targets if t.base_type == base_type and t.region_id == region.id), None)
    old = registry.pick_target(targets, base_type, region)
    new = Figures(min_trainees, min_projects)
    bases = db.session.execute(sa.select(sa.func.count()).select_from(TrainingBase)
                               .where(_reached(region, base_type, year))).scalar_one()
    today = clock.today()
    figures_year = min(year, today.year)
    counted = evaluation.figures(figures_year, _reached(region, base_type, year), until=today)
    changes = [Change(key, LABELS[key], getattr(own, key, None), getattr(new, key), getattr(old, key, None),
                      getattr(new, key), bases=bases) for key in LABELS]
    return TargetPreview(
        base_type=base_type, year=year, old=_figures(old), new=new, seen=_figures(own), bases=bases,
        changes=[c for c in changes if c.old != c.new or c.old_own != c.new_own],
        meeting_before=_meeting(old, bases, counted), meeting_after=_meeting(new, bases, counted),
        figures_year=figures_year, figures_until=min(today, date(figures_year, 12, 31)),
    )


def save(regulator: User, base_type: BaseType, year: int, min_trainees: int, min_projects: int,
         seen: Figures | None) -> Target:
    """Set the region's own target for the type and year to what was previewed, audit old and new, commit.
    ``seen`` is the region's own row the preview showed (None: none): if the stored row differs now, someone
    changed it since, and the save is refused rather than overwrite what the regulator did not see.

    :raise RulesRefused: as ``preview``.
    :raise StalePreview: the stored target is no longer ``seen``.
    """
    _check(regulator, base_type, year, min_trainees, min_projects)
    # Locked on PostgreSQL until the commit, so that two confirmations of the same preview do not both pass
    # the check below (SQLite's write transaction is already exclusive).
    target = db.session.execute(
        sa.select(Target).where(Target.base_type == base_type, Target.year == year,
                                Target.region_id == regulator.region_id).with_for_update()
    ).scalar_one_or_none()
    if _figures(target) != seen:
        db.session.rollback()
        raise StalePreview("该目标在预览之后已被他人修改，请查看新的数值后重新预览")
    old = [target.min_trainees, target.min_projects] if target is not None else [None, None]
    try:
        with unit_of_work():
            if target is None:
                target = Target(base_type=base_type, year=year, region_id=regulator.region_id)
                db.session.add(target)
            target.min_trainees, target.min_projects, target.set_by_id = min_trainees, min_projects, regulator.id
            db.session.flush()
            audit.record(regulator, "target.set", target, details={"type": base_type.value, "year": year,
                                                                    "trainees": [old[0], min_trainees],
                                                                    "projects": [old[1], min_projects]})
    except IntegrityError:
        # Another regulator of the region created the row at the same moment: the preview is stale too.
        raise StalePreview("该目标在预览之后已被他人修改，请查看新的数值后重新预览") from None
    return target
