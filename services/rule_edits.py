"""A regulator edits their region's rules for a year: what the page shows, the preview of who a change
touches (counted by the database), and the save of exactly what was previewed (validated, audited, refused
for a confirmed year).

A regulator edits their own region only: a city's regulator the city's values, a province's regulator the
province's, which its cities inherit where they set nothing (so province-level values are the province's
alone, as policies.may_decide_type has it for designations and targets). A value left empty is not set
here: the city takes its province's.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import (
    SECTORS,
    BaseStatus,
    BaseType,
    Category,
    DeclarationCap,
    DeclarationKind,
    DeclarationKindRule,
    Outcome,
    Region,
    RegionLevel,
    Role,
    Rubric,
    RuleSet,
    TrainingBase,
    User,
)
from services import audit, policies, rules
from services.errors import DomainError, Invalid
from services.infra.transaction import unit_of_work

LABELS = {
    "total_min": "总学时要求", "public_min": "公需科目学时要求", "professional_min": "专业科目学时要求",
    "elective_min": "选修科目学时要求", "hours_per_day": "每天折算学时", "minutes_per_hour": "每学时分钟数",
    "plan_window_days": "办班计划提前填报天数", "review_working_days": "学时审核时限（工作日）",
    "public_themes": "公需科目主题（必修），每行一个", "public_electives": "公需科目选修内容，每行一个",
    "weight_trainees": "权重：培训人数", "weight_projects": "权重：培训项目", "weight_completion": "权重：结业率",
    "weight_rating": "权重：学员评价", "weight_disclosure": "权重：信息公开", "penalty_per_overdue_plan":
    "每个未经批准办班计划的课程扣分", "unrated_score": "无人评价时的评价得分", "keep_threshold": "合格分数线",
    "exit_threshold": "退出分数线", "missed_target_outcome": "未完成年度目标任务的评估结论",
    "sector_step": "单位审核后由行业主管部门再审核", "sector_recognised": "由行业主管部门（而非单位）认定学时的行业",
}
GROUPS = (("requirements", "学时要求", rules.REQUIREMENTS), ("conversions", "折算与时限", rules.CONVERSIONS),
          ("themes", "年度公需科目主题", rules.THEMES), ("sector", "行业主管部门审核", rules.SECTOR_RULES),
          ("kinds", "可申报学时的学习形式", tuple(rules.KIND_KEYS)),
          ("caps", "各类学习每年可计入学时上限", ()),
          ("rubric", "年度评估权重与结论", rules.RUBRIC_FIELDS))
BOUNDS = {"hours_per_day": (1, 24), "minutes_per_hour": (1, 240), "plan_window_days": (1, 365),
          "review_working_days": (1, 60), "unrated_score": (0, 100), "keep_threshold": (0, 100),
          "exit_threshold": (0, 100), "penalty_per_overdue_plan": (0, 100)}
BOUNDS |= {key: (0, 366) for key, (_kind, name) in rules.KIND_KEYS.items() if name == "min_days"}
WEIGHTS = rules.RUBRIC_FIELDS[:5]
MISSED_OUTCOMES = (Outcome.RECTIFY, Outcome.EXIT)  # a base that missed its target is never 合格
# Caps are offered for the general list's categories of each kind (a region's own categories may be fewer).
CAP_KINDS = tuple((kind, category) for kind, categories in rules.GENERAL_CATEGORIES.items()
                  for category in categories)


def cap_key(kind: DeclarationKind, category: Category) -> str:
    return f"cap_{kind.value}_{category.value}"


CAP_KEYS = {cap_key(kind, category): (kind, category) for kind, category in CAP_KINDS}
for _key, (_kind, _category) in CAP_KEYS.items():
    LABELS[_key] = f"{_kind.label}（{_category.label}）"
KIND_LABELS = {"accepted": "是否接受申报", "categories": "可计入的科目类别", "min_days": "最少天数（0 为不限）"}
for _key, (_kind, _name) in rules.KIND_KEYS.items():
    LABELS[_key] = f"{_kind.label}：{KIND_LABELS[_name]}"
EDITABLE = rules.RULE_FIELDS + tuple(rules.KIND_KEYS) + tuple(CAP_KEYS) + rules.RUBRIC_FIELDS


class RulesRefused(Invalid):
    """Rule values the domain refuses: ``problems`` (its ``fields``) maps each field to its message, shown
    beside it."""

    def __init__(self, problems: dict[str, str]):
        super().__init__(problems)
        self.problems = problems


class StalePreview(DomainError):
    """The save is not of what was previewed: the stored values changed since the preview (another regulator
    saved), or the values sent differ from the previewed ones. Preview again."""


@dataclass
class Row:
    """One value on the page: the region's own (None: not set here), and what is in force."""

    key: str
    label: str
    own: object
    in_force: rules.Resolved
    inherited: rules.Resolved  # what the region would have without its own value

    @property
    def flagged(self) -> bool:
        return self.in_force.is_default


@dataclass
class RulesPage:
    region: Region
    year: int
    confirmed: bool
    groups: list[tuple[str, str, list[Row]]] = field(default_factory=list)

    def own_values(self) -> dict:
        return {row.key: row.own for _name, _title, rows in self.groups for row in rows}


@dataclass
class Change:
    key: str
    label: str
    old_own: Any  # a rule's value: a number, a text, an outcome, a list of categories …
    new_own: Any
    old: Any  # in force before
    new: Any  # in force after
    learners: int | None = None
    bases: int | None = None

    @property
    def direction(self) -> str:
        if self.old is None and self.new is not None:
            return "设定"
        if self.new is None and self.old is not None:
            return "取消"
        numbers = all(isinstance(v, int) and not isinstance(v, bool) for v in (self.old, self.new))
        if numbers and self.old != self.new:
            return "降低" if self.new < self.old else "提高"
        return "修改" if self.old != self.new else "不变"


@dataclass
class RulesPreview:
    """What a save would change, and the two digests the save checks so that it applies exactly this."""

    changes: list[Change]
    confirmed: list[str]  # the defaults confirmed as they stand, in the page's order
    seen: str  # the region's stored values for the year (and those in force) when previewed
    digest: str  # the values previewed and the defaults to confirm


# --- reading ----------------------------------------------------------------------------------------------

@dataclass
class _Loaded:
    region: Region
    year: int
    own_rule: RuleSet | None
    province_rule: RuleSet | None
    own_caps: dict
    province_caps: dict
    own_rubric: Rubric | None
    province_rubric: Rubric | None
    own_kinds: rules.KindValues
    province_kinds: rules.KindValues | None


def _load(region: Region, year: int) -> _Loaded:
    """The region's and its province's rows of the year: four queries."""
    chain = rules.chain_ids(region)
    province_id = chain[1] if len(chain) > 1 else None
    rule_rows: dict[int | None, RuleSet] = {r.region_id: r for r in db.session.execute(
        sa.select(RuleSet).where(RuleSet.region_id.in_(chain), RuleSet.year == year)).scalars()}
    caps = db.session.execute(
        sa.select(DeclarationCap).where(DeclarationCap.region_id.in_(chain), DeclarationCap.year == year)
    ).scalars().all()
    rubrics = db.session.execute(
        sa.select(Rubric).where(Rubric.region_id.in_(chain), Rubric.year <= year)).scalars().all()

    kind_rows = db.session.execute(
        sa.select(DeclarationKindRule).where(DeclarationKindRule.region_id.in_(chain),
                                             DeclarationKindRule.year == year)).scalars().all()
    own_kinds, *province_kinds = rules.kind_rows(kind_rows, chain)

    def latest(region_id: int | None) -> Rubric | None:
        return max((r for r in rubrics if r.region_id == region_id), key=lambda r: r.year, default=None)

    return _Loaded(
        region=region, year=year, own_rule=rule_rows.get(region.id), province_rule=rule_rows.get(province_id),
        own_caps={cap_key(c.kind, c.category): c for c in caps if c.region_id == region.id},
        province_caps={cap_key(c.kind, c.category): c for c in caps if c.region_id == province_id},
        own_rubric=latest(region.id), province_rubric=latest(province_id),
        own_kinds=own_kinds, province_kinds=province_kinds[0] if province_kinds else None,
    )


def _own(loaded: _Loaded) -> dict:
    values = {key: getattr(loaded.own_rule, key) if loaded.own_rule else None for key in rules.RULE_FIELDS}
    values["sector_recognised"] = rules.sectors_in_order(values["sector_recognised"])
    values |= {key: cap.max_hours for key, cap in loaded.own_caps.items()}
    values |= {key: None for key in CAP_KEYS if key not in loaded.own_caps}
    values |= {key: getattr(loaded.own_rubric, key) if loaded.own_rubric else None for key in rules.RUBRIC_FIELDS}
    values |= {key: getattr(loaded.own_kinds, key) for key in rules.KIND_KEYS}
    return values


class _Values:
    """A stand-in row holding a region's own values (for rules.resolve)."""

    def __init__(self, region_id: int | None, values: dict, unconfirmed: Iterable[str] = ()) -> None:
        self.region_id, self.unconfirmed = region_id, list(unconfirmed)
        for key, value in values.items():
            setattr(self, key, value)


def _cap_row(region_id: int | None, caps: dict) -> _Values:
    return _Values(region_id, {key: (caps[key].max_hours if key in caps else None) for key in CAP_KEYS})


def _resolved(loaded: _Loaded, own: dict, unconfirmed: dict) -> tuple[dict, dict]:
    """In force with ``own`` as the region's values, and without them (what it inherits)."""
    region_id = loaded.region.id
    mine = _Values(region_id, own, unconfirmed.get("rule", ()))
    mine_rubric = _Values(region_id, own, unconfirmed.get("rubric", ()))
    province_caps = _cap_row(None, loaded.province_caps)
    in_force = rules.resolve([mine, loaded.province_rule], rules.RULE_FIELDS, region_id)
    in_force |= rules.resolve([mine_rubric, loaded.province_rubric], rules.RUBRIC_FIELDS, region_id)
    in_force |= rules.resolve([mine, province_caps], CAP_KEYS, region_id)
    mine_kinds = _Values(region_id, own, unconfirmed.get("kinds", ()))
    in_force |= rules.resolve([mine_kinds, loaded.province_kinds], rules.KIND_KEYS, region_id)
    inherited = rules.resolve([loaded.province_rule], rules.RULE_FIELDS, region_id)
    inherited |= rules.resolve([loaded.province_rubric], rules.RUBRIC_FIELDS, region_id)
    inherited |= rules.resolve([province_caps], CAP_KEYS, region_id)
    inherited |= rules.resolve([loaded.province_kinds], rules.KIND_KEYS, region_id)
    return in_force, inherited


def _unconfirmed(loaded: _Loaded) -> dict:
    return {"rule": loaded.own_rule.unconfirmed if loaded.own_rule else [],
            "rubric": loaded.own_rubric.unconfirmed if loaded.own_rubric else [],
            "kinds": loaded.own_kinds.unconfirmed}


def page(regulator: User, year: int) -> RulesPage:
    """The rules of the regulator's region for ``year``: each value's own setting and what is in force,
    with where it comes from. Five queries."""
    region = regulator.region
    loaded = _load(region, year)
    own = _own(loaded)
    in_force, inherited = _resolved(loaded, own, _unconfirmed(loaded))
    result = RulesPage(region=region, year=year, confirmed=rules.year_confirmed(region, year))
    for name, title, keys in GROUPS:
        keys = tuple(CAP_KEYS) if name == "caps" else keys
        result.groups.append((name, title, [Row(k, LABELS[k], own[k], in_force[k], inherited[k]) for k in keys]))
    return result


# --- validating ---------------------------------------------------------------------------------------------

def _problems(values: dict, in_force: dict) -> dict[str, str]:
    """Why the values (own, and in force with them) cannot be saved, field by field."""
    problems: dict[str, str] = {}
    for key in rules.REQUIREMENTS:
        if values[key] is not None and values[key] < 0:
            problems[key] = "学时要求不能为负数"
    parts = [in_force[k].value for k in ("public_min", "professional_min", "elective_min")]
    total = in_force["total_min"].value
    if total is not None and "total_min" not in problems and sum(p or 0 for p in parts) > total:
        problems["total_min"] = f"各科目学时要求之和（{sum(p or 0 for p in parts)}）超过总学时要求（{total}）"
    for key, (low, high) in BOUNDS.items():
        if values[key] is not None and not low <= values[key] <= high:
            problems[key] = f"应在 {low} 到 {high} 之间"
    problems |= _cap_problems(values, in_force)
    problems |= _weight_problems(values, in_force)
    keep, exit_ = in_force["keep_threshold"].value, in_force["exit_threshold"].value
    if "exit_threshold" not in problems and keep is not None and exit_ is not None and exit_ > keep:
        problems["exit_threshold"] = f"退出分数线不能高于合格分数线（{keep}）"
    outcome = values["missed_target_outcome"]
    if outcome is not None and outcome not in MISSED_OUTCOMES:
        problems["missed_target_outcome"] = "未完成年度目标任务的基地只能评为整改或退出"
    return problems


def _weight_problems(values: dict, in_force: dict) -> dict[str, str]:
    """Why the rubric's weights cannot be saved: each from 0 to 1000, and not all 0 once in force."""
    problems: dict[str, str] = {}
    for key in WEIGHTS:
        if values[key] is not None and not 0 <= values[key] <= 1000:
            problems[key] = "权重应在 0 到 1000 之间"
    if not problems and sum(in_force[k].value or 0 for k in WEIGHTS) <= 0:
        problems[WEIGHTS[0]] = "各项权重不能全为 0"
    return problems


def _cap_problems(values: dict, in_force: dict) -> dict[str, str]:
    """Why the declaration caps cannot be saved: a cap is at most the year's requirement of its category
    (of the total where the category has none)."""
    problems: dict[str, str] = {}
    for key, (_kind, category) in CAP_KEYS.items():
        cap = values[key]
        if cap is None:
            continue
        requirement = in_force[f"{category.value}_min"].value
        label, requirement = (category.label, requirement) if requirement is not None else (
            "总学时", in_force["total_min"].value)
        if cap < 0:
            problems[key] = "上限不能为负数"
        elif requirement is not None and cap > requirement:
            problems[key] = f"上限不能高于{label}的年度学时要求（{requirement} 学时）"
    return problems


def _normalised(data: dict) -> dict:
    """The values as the domain holds them. Whatever the caller sends (the page's form checks its own, a
    direct call or a forged one checks nothing) is refused beside its field rather than crash further on.

    :raise RulesRefused: a value of the wrong kind.
    """
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for key in EDITABLE:
        try:
            values[key] = _value(key, data.get(key))
        except RulesRefused as refused:
            problems |= refused.problems
    if problems:
        raise RulesRefused(problems)
    return values


def _value(key: str, value: Any) -> Any:
    if key in rules.THEMES:
        if value is not None and not isinstance(value, str):
            raise RulesRefused({key: "请填写文字"})
        lines = [line.strip() for line in (value or "").splitlines() if line.strip()]
        return "\n".join(lines) or None
    if key == "missed_target_outcome":
        if not value:
            return None
        if not isinstance(value, str) or value not in {o.value for o in Outcome}:
            raise RulesRefused({key: "请选择列表中的评估结论"})
        return Outcome(value)
    if key in rules.KIND_KEYS:
        return _kind_value(key, value)
    if key in rules.SECTOR_RULES:
        return _sector_value(key, value)
    return _integer(key, value)


def _sector_value(key: str, value: Any) -> Any:
    """sector_step as True, False or None (not set here: the province's applies); sector_recognised as the
    sector names in models.SECTORS' order, or None (none chosen: the province's applies).

    :raise RulesRefused: an answer or a sector not offered.
    """
    if key == "sector_step":
        if value is None or value == "":
            return None
        answers = {True: True, "yes": True, False: False, "no": False}
        step = answers.get(value) if isinstance(value, bool | str) else None
        if step is None:
            raise RulesRefused({key: "请选择列表中的选项"})
        return step
    chosen = [value] if isinstance(value, str) else list(value or ()) if isinstance(
        value, list | tuple | set | frozenset | type(None)) else [None]
    chosen = [name for name in chosen if name != ""]  # an empty choice is none
    if any(not isinstance(name, str) or name not in SECTORS for name in chosen):
        raise RulesRefused({key: "请选择列表中的行业"})
    return rules.sectors_in_order(chosen)


def _integer(key: str, value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise RulesRefused({key: "请填写整数"})
    return value


def _kind_value(key: str, value: Any) -> Any:
    """A kind's value as the page or a caller sends it: accepted Accepted or None, categories rules.Categories
    (none chosen: not set here, the province's applies), min_days a number.

    :raise RulesRefused: a category that does not exist.
    """
    name = rules.KIND_KEYS[key][1]
    if name == "accepted":
        if value is None or value == "":
            return None
        # Checked, not looked up with a default: an unknown answer must not read as "not set here".
        accepted = {True: rules.Accepted.YES, "yes": rules.Accepted.YES, False: rules.Accepted.NO,
                    "no": rules.Accepted.NO}.get(value) if isinstance(value, bool | str) else None
        if accepted is None:
            raise RulesRefused({key: "请选择列表中的选项"})
        return accepted
    if name == "categories":
        chosen = [value] if isinstance(value, str) else list(value or ()) if isinstance(
            value, list | tuple | set | frozenset | type(None)) else [None]
        known = {c.value for c in Category}
        if any(not isinstance(c, str) or c not in known for c in chosen):
            raise RulesRefused({key: "请选择列表中的科目类别"})
        return rules.Categories(c for c in Category if c.value in chosen) or None
    return _integer(key, value)


def _check_may_edit(regulator: User, year: int) -> Region:
    if not policies.may_set_region_rules(regulator):
        raise DomainError("只有人社部门可以修改本地区的规则")
    if rules.year_confirmed(regulator.region, year):
        raise RulesRefused({"year": f"{year}年度的评估已确认，该年度的规则不能再修改"})
    return regulator.region


# --- preview ------------------------------------------------------------------------------------------------

def _changes(loaded: _Loaded, values: dict) -> tuple[list[Change], dict]:
    own = _own(loaded)
    unconfirmed = _unconfirmed(loaded)
    before, _ = _resolved(loaded, own, unconfirmed)
    after, _ = _resolved(loaded, values, unconfirmed)
    problems = _problems(values, after)
    if problems:
        raise RulesRefused(problems)
    changes = [Change(key, LABELS[key], own[key], values[key], before[key].value, after[key].value)
               for key in EDITABLE if own[key] != values[key]]
    return changes, own


def _count_whom(loaded: _Loaded, changes: list[Change]) -> None:
    """Fill in how many learners (hours, conversions, themes, caps) or bases (rubric) each change touches:
    those of the region and, for a province, of its cities that set no value of their own for it. Three
    queries: the cities' own values, the learners and the bases per region, counted by the database."""
    region = loaded.region
    cities: dict[int, set[str]] = {}
    if region.level == RegionLevel.PROVINCE:
        city_ids = sa.select(Region.id).where(Region.parent_id == region.id)
        for row in db.session.execute(sa.select(RuleSet).where(RuleSet.region_id.in_(city_ids),
                                                               RuleSet.year == loaded.year)).scalars():
            cities.setdefault(row.region_id, set()).update(k for k in rules.RULE_FIELDS if getattr(row, k) is not None)
        for cap in db.session.execute(sa.select(DeclarationCap).where(DeclarationCap.region_id.in_(city_ids),
                                                                      DeclarationCap.year == loaded.year)).scalars():
            cities.setdefault(cap.region_id, set()).add(cap_key(cap.kind, cap.category))
        for kind_row in db.session.execute(sa.select(DeclarationKindRule).where(
                DeclarationKindRule.region_id.in_(city_ids), DeclarationKindRule.year == loaded.year)).scalars():
            cities.setdefault(kind_row.region_id, set()).update(rules.kind_key(kind_row.kind, name)
                                                                for name in rules.KIND_FIELDS
                                                                if getattr(kind_row, name) is not None)
        for rubric in db.session.execute(sa.select(Rubric).where(Rubric.region_id.in_(city_ids),
                                                                 Rubric.year <= loaded.year)).scalars():
            cities.setdefault(rubric.region_id, set()).update(
                k for k in rules.RUBRIC_FIELDS if getattr(rubric, k) is not None)
        all_cities = set(db.session.execute(city_ids).scalars())
        for city_id in all_cities:
            cities.setdefault(city_id, set())
    in_scope = [region.id, *cities]
    learners: dict[int | None, int] = dict(db.session.execute(
        sa.select(User.region_id, sa.func.count()).where(User.role == Role.LEARNER, User.region_id.in_(in_scope))
        .group_by(User.region_id)).tuples().all())
    bases: dict[tuple[int, BaseType], int] = {
        (region_id, BaseType(base_type)): n for region_id, base_type, n in db.session.execute(
            sa.select(TrainingBase.region_id, TrainingBase.type, sa.func.count())
            .where(TrainingBase.region_id.in_(in_scope), TrainingBase.status != BaseStatus.EXITED)
            .group_by(TrainingBase.region_id, TrainingBase.type)).all()}
    for change in changes:
        reached = [region.id] + [city for city, own in cities.items() if change.key not in own]
        if change.key in rules.RUBRIC_FIELDS:
            # A province-level base follows its province's rubric wherever it is located (a city's never
            # applies to it); a city-level base its city's, else the province's.
            province_level = region.level == RegionLevel.PROVINCE
            change.bases = sum(n for (region_id, base_type), n in bases.items()
                               if (province_level if base_type in policies.PROVINCE_SET_TYPES
                                   else region_id in reached))
        else:
            change.learners = sum(learners.get(region_id, 0) for region_id in reached)


def _plain(value: Any) -> Any:
    return [audit.plain(v) for v in value] if isinstance(value, tuple) else audit.plain(value)


def _digest(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _stored_digest(loaded: _Loaded) -> str:
    """The region's own values, their flags and what is in force (the province's too, which the preview's
    old values come from): any of them changed since the preview makes it stale."""
    own = _own(loaded)
    before, _ = _resolved(loaded, own, _unconfirmed(loaded))
    return _digest({key: [_plain(own[key]), _plain(before[key].value), before[key].origin, before[key].unconfirmed]
                    for key in EDITABLE})


def _values_digest(values: dict, confirmed: list[str]) -> str:
    return _digest({"values": {key: _plain(value) for key, value in values.items()}, "confirm": confirmed})


def _confirmed(confirm: Iterable[str] | None, changed: set) -> list[str]:
    """The defaults to confirm as they stand (a changed value is confirmed by its change), in EDITABLE's order."""
    return [key for key in EDITABLE if key in set(confirm or ()) and key not in changed]


def preview(regulator: User, year: int, data: dict, confirm: Iterable[str] = ()) -> RulesPreview:
    """What saving ``data`` (and confirming the defaults in ``confirm``) would change for the region's year,
    each change with the number of learners or bases it touches, and the digests ``save`` checks. Nothing is
    written.

    :raise RulesRefused: values the domain refuses (beside each field), or a year already confirmed (field
        ``year``).
    """
    region = _check_may_edit(regulator, year)
    loaded = _load(region, year)
    values = _normalised(data)
    changes, _own_values = _changes(loaded, values)
    _count_whom(loaded, changes)
    confirmed = _confirmed(confirm, {c.key for c in changes})
    return RulesPreview(changes=changes, confirmed=confirmed, seen=_stored_digest(loaded),
                        digest=_values_digest(values, confirmed))


# --- saving -------------------------------------------------------------------------------------------------

def _save_kinds(regulator: User, loaded: _Loaded, values: dict, changed: set, confirmed: set) -> None:
    """Write the region's DeclarationKindRule rows of the year for the kinds with a changed or confirmed
    value (one row per kind; a row left with nothing set is deleted: the province's applies)."""
    touched = {rules.KIND_KEYS[key][0] for key in (changed | confirmed) & set(rules.KIND_KEYS)}
    if not touched:
        return
    rows = {row.kind: row for row in db.session.execute(sa.select(DeclarationKindRule).where(
        DeclarationKindRule.region_id == loaded.region.id, DeclarationKindRule.year == loaded.year)).scalars()}
    for kind in touched:
        row = rows.get(kind) or DeclarationKindRule(region_id=loaded.region.id, year=loaded.year, kind=kind,
                                                    unconfirmed=[], source=f"{regulator.name}设定")
        db.session.add(row)
        for name in rules.KIND_FIELDS:
            key = rules.kind_key(kind, name)
            if key in rules.KIND_KEYS:
                value = values[key]
                if name == "categories" and value is not None:
                    value = [c.value for c in value]
                elif name == "accepted" and value is not None:
                    value = value == rules.Accepted.YES
                setattr(row, name, value)
        done = {rules.KIND_KEYS[key][1] for key in changed | confirmed
                if key in rules.KIND_KEYS and rules.KIND_KEYS[key][0] == kind}
        row.unconfirmed = [name for name in row.unconfirmed or [] if name not in done]
        if all(getattr(row, name) is None for name in rules.KIND_FIELDS):
            if row.id is None:
                db.session.expunge(row)
            else:
                db.session.delete(row)


def _save_caps(regulator: User, loaded: _Loaded, values: dict, changed: set) -> None:
    """Write the region's DeclarationCap rows of the year whose value changed (none: the row is deleted)."""
    for key in changed & set(CAP_KEYS):
        kind, category = CAP_KEYS[key]
        cap = loaded.own_caps.get(key)
        if values[key] is None:
            db.session.delete(cap)
        elif cap is None:
            db.session.add(DeclarationCap(kind=kind, category=category, region_id=loaded.region.id,
                                          year=loaded.year, max_hours=values[key], source=f"{regulator.name}设定"))
        else:
            cap.max_hours = values[key]


def _refuse_stale(loaded: _Loaded, values: dict, confirmed: list[str], *, seen: str | None,
                  previewed: str | None) -> None:
    """:raise StalePreview: no preview, values other than the previewed ones, or stored values changed since
        the preview; the transaction is rolled back."""
    if seen is None or previewed is None:
        db.session.rollback()
        raise StalePreview("请先预览修改，确认无误后再保存", field="year")
    if _values_digest(values, confirmed) != previewed:
        db.session.rollback()
        raise StalePreview("预览之后又修改了数值或确认项，未保存；请重新预览", field="year")
    if _stored_digest(loaded) != seen:
        db.session.rollback()
        raise StalePreview("该年度的规则在预览之后已被他人修改，未保存；请查看现行数值后重新预览", field="year")


def save(regulator: User, year: int, data: dict, confirm: Iterable[str] = (), *, seen: str | None,
         previewed: str | None) -> list[Change]:
    """Write the region's own values for ``year`` (an empty value: inherit the province's), confirm the
    defaults listed in ``confirm`` (and every value changed), and audit old and new. One transaction.

    ``seen`` and ``previewed`` are the preview's digests (``RulesPreview.seen``, ``.digest``): the save applies
    exactly what was previewed, on the stored values the preview was made from, or nothing.

    :raise RulesRefused: as ``preview``.
    :raise StalePreview: no preview, values other than the previewed ones, or stored values changed since
        the preview (another regulator saved); nothing is written or audited.
    """
    region = _check_may_edit(regulator, year)
    # The region's row is locked until the commit on PostgreSQL, so that two saves of previews of the same
    # stored values cannot both pass the check below (SQLite's write transaction is already exclusive).
    db.session.execute(sa.select(Region.id).where(Region.id == region.id).with_for_update())
    loaded = _load(region, year)
    values = _normalised(data)
    changes, own = _changes(loaded, values)
    changed = {c.key for c in changes}
    in_order = _confirmed(confirm, changed)
    _refuse_stale(loaded, values, in_order, seen=seen, previewed=previewed)
    confirmed = set(in_order)
    if not changes and not confirmed:
        return []
    try:
        with unit_of_work():
            _write(regulator, loaded, year, values, changes, confirmed)
    except IntegrityError:
        raise DomainError("该年度的规则刚被他人修改，请刷新页面后重试", field="year") from None
    return changes


def _write(regulator: User, loaded: _Loaded, year: int, values: dict, changes: list[Change],
           confirmed: set[str]) -> None:
    """The writes of ``save``, audited, in its unit of work."""
    region, changed = loaded.region, {c.key for c in changes}
    if changed & set(rules.RULE_FIELDS) or confirmed & set(rules.RULE_FIELDS):
        row = loaded.own_rule or RuleSet(region_id=region.id, year=year, unconfirmed=[])
        db.session.add(row)
        for key in rules.RULE_FIELDS:
            setattr(row, key, values[key])
        row.unconfirmed = [k for k in row.unconfirmed or [] if k not in changed | confirmed]
    _save_caps(regulator, loaded, values, changed)
    _save_kinds(regulator, loaded, values, changed, confirmed)
    if changed & set(rules.RUBRIC_FIELDS) or confirmed & set(rules.RUBRIC_FIELDS):
        rubric = loaded.own_rubric
        if rubric is None or rubric.year != year:
            # The region's rubric holds from a year on: this year's row starts from the one in force so far.
            rubric = Rubric(region_id=region.id, year=year, unconfirmed=list(rubric.unconfirmed) if rubric else [])
            db.session.add(rubric)
        for key in rules.RUBRIC_FIELDS:
            setattr(rubric, key, values[key])
        rubric.unconfirmed = [k for k in rubric.unconfirmed or [] if k not in changed | confirmed]
    audit.record(regulator, "rules.set", region, details={
        "year": year, "changes": {c.key: [audit.plain(c.old_own), audit.plain(c.new_own)] for c in changes},
        "confirmed": sorted(confirmed)})
