"""Declared hours: a learner declares hours earned outside the site's courses with evidence; a reviewer of
their employer approves (possibly fewer hours, with a reason) or rejects within the working-day deadline.
Yearly caps apply at approval; approval is the only thing that writes the ledger for a declaration."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, selectinload

from extensions import db
from models import (
    KIND_UNITS,
    Category,
    Declaration,
    DeclarationCap,
    DeclarationKind,
    DeclarationStatus,
    Employer,
    HoursRecord,
    HoursSource,
    NoticeKind,
    Region,
    RuleSet,
    SectorAuthority,
    User,
)
from models._common import utcnow
from services import audit, hours, inbox, policies, rules, workdays
from services.errors import DomainError, Invalid, NotAllowed, collect, in_order
from services.infra import clock, evidence_files
from services.infra.locking import locked
from services.infra.transaction import unit_of_work

MAX_CLAIMED_HOURS = 200
MAX_DAYS = 366
MAX_MINUTES = 24 * 60


# Which kinds a region accepts, as what categories and from how many days, are rules per region and year
# (models.DeclarationKindRule, services.rules.kinds_in_force); how a kind is measured (KIND_UNITS) is its
# nature and stays in code.


def claimed_hours(kind: DeclarationKind, data: dict, rule: RuleSet, min_days: int = 0) -> int:
    """The hours a declaration claims, converted by the region's rules (``rule``: its RuleSet in force;
    ``min_days``: the fewest days the region accepts for the kind, 0 for none).

    :raise DomainError: with ``field``, for missing, negative or absurd amounts, or too few days.
    """
    unit = KIND_UNITS[kind]
    minutes, days, hours_ = data.get("minutes"), data.get("days"), data.get("hours")
    if unit == "hours":
        if hours_ is None:
            raise DomainError("请填写申报学时", field="hours")
        if not 1 <= hours_ <= MAX_CLAIMED_HOURS:
            raise DomainError(f"申报学时应在 1 到 {MAX_CLAIMED_HOURS} 之间", field="hours")
        return hours_
    if days:
        return _hours_of_days(kind, days, rule, min_days)
    if unit == "days":
        raise DomainError("请填写天数", field="days")
    if minutes is None:
        raise DomainError("请填写时长（分钟）或天数", field="minutes")
    return _hours_of_minutes(minutes, rule)


def _hours_of_days(kind: DeclarationKind, days: int, rule: RuleSet, min_days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise DomainError(f"天数应在 1 到 {MAX_DAYS} 之间", field="days")
    if days < min_days:
        raise DomainError(f"{kind.label}须满 {min_days} 天才能申报", field="days")
    return hours.hours_from_days(days, rule)


def _hours_of_minutes(minutes: int, rule: RuleSet) -> int:
    if not 1 <= minutes <= MAX_MINUTES:
        raise DomainError("不足一天的请填写分钟数（1 到 1440），整天的请填写天数", field="minutes")
    converted = hours.hours_from_minutes(minutes, rule)
    if converted < 1:
        raise DomainError(f"不足 {rule.minutes_per_hour} 分钟，不能折算学时", field="minutes")
    # Minutes are for less than a day: however long it ran, it is never worth more than a whole day.
    return min(converted, hours.hours_from_days(1, rule))


_E = TypeVar("_E", bound=Enum)
_T = TypeVar("_T")


def _enum(enum_cls: type[_E], value: Any, field: str, message: str) -> _E:
    try:
        return enum_cls(value)
    except ValueError:
        raise DomainError(message, field=field) from None


AMOUNT_FIELDS = {"minutes": "时长（分钟）", "days": "天数", "hours": "申报学时"}


def _one_amount(data: dict) -> None:
    """An amount in one unit only: minutes, days and hours filled together were once taken silently as the
    days (or the hours), which is not what the learner meant to claim.

    :raise DomainError: on the first filled field, naming the others.
    """
    filled = [name for name in AMOUNT_FIELDS if data.get(name) is not None]
    if len(filled) > 1:
        raise DomainError(f"{'、'.join(AMOUNT_FIELDS[name] for name in filled)}只能填写一项，请清空其余各项",
                          field=filled[0])


def _check(learner: User, data: dict, filed: Declaration | None = None,
           problems: dict[str, str] | None = None) -> tuple[DeclarationKind, Category, int]:
    """The kind, category and hours of a declaration, by the rules of the learner's region in force for the
    year of its date. A declaration already filed (``filed``, being edited) keeps the rule it was filed
    under: what it held then (its kind, its category, its days) stays acceptable after the region changes
    the year's rule; a value the learner changes is judged by the rule in force.

    Every field is judged, so that the learner sees every fault in one round: ``problems`` holds faults the
    caller has found already (a missing file), and the ones found here join them.

    :raise Invalid: with each field at fault and its message.
    """
    problems = dict(problems or {})

    def judge(check: Callable[[], _T], field: str) -> _T | None:
        return collect(problems, check, field)

    kind = judge(lambda: _enum(DeclarationKind, data.get("kind"), "kind", "请选择列表中的申报类型"), "kind")
    today = clock.today()
    earned_on: date | None = data.get("earned_on")
    if earned_on is None:  # only from judge(): the form requires a date
        problems["earned_on"] = "请选择日期"
    elif earned_on > today:
        problems["earned_on"] = "日期不能晚于今天"
    elif earned_on.year != today.year:
        problems["earned_on"] = f"只能申报 {today.year} 年度取得的学时（学时不能跨年度补报）"
    year = earned_on.year if earned_on is not None and "earned_on" not in problems else today.year
    judge(lambda: _one_amount(data), "minutes")
    if kind is None:
        raise Invalid(_in_form_order(problems))
    spec = rules.kinds_in_force(learner.region, year)[kind]
    if not spec.accepted and filed is None:
        region = learner.region.name if learner.region else "您所在地区"
        problems["kind"] = f"{region}{year}年度不接受“{kind.label}”申报学时"
    allowed = categories_allowed(spec, filed)
    category = judge(lambda: _enum(Category, data.get("category") or allowed[0], "category",
                                   "请选择列表中的科目类别"), "category")
    if category is not None and category not in allowed:
        problems["category"] = f"“{kind.label}”只能申报为{'、'.join(c.label for c in spec.categories)}"
    min_days = spec.min_days
    if filed is not None and data.get("days") is not None and data.get("days") == filed.days:
        min_days = 0
    rule = hours.rule_for(learner.region, year)
    claimed = judge(lambda: claimed_hours(kind, data, rule, min_days), "hours")
    if problems or category is None or claimed is None:
        raise Invalid(_in_form_order(problems))
    return kind, category, claimed


def judge(learner: User, data: dict, uploads: list | None = None, filed: Declaration | None = None) -> None:
    """A declaration's fields judged as ``declare`` (with ``uploads``) or ``edit`` (of ``filed``) would judge
    them, saving nothing: the form asks it also when its own validators refused (a title left empty), so that
    every fault is shown in one round (blueprints.common_forms.judged_too).

    :raise Invalid: with each field at fault and its message.
    """
    if filed is not None:
        _check(learner, {**data, "kind": filed.kind.value}, filed=filed)
    else:
        uploads = [u for u in uploads or [] if u and getattr(u, "filename", "")]
        _check(learner, data, problems={} if uploads else {"files": "请上传证明材料"})


FIELD_ORDER = ("kind", "category", "title", "organiser", "earned_on", "minutes", "days", "hours", "files")


def _in_form_order(problems: dict[str, str]) -> dict[str, str]:
    """The faults in the order a learner reads the form, so that the first (Invalid.field) is the topmost."""
    return in_order(problems, FIELD_ORDER)


def kinds_offered(learner: User, year: int, filed: Declaration | None = None) -> list[rules.KindInForce]:
    """The kinds the learner's region accepts in ``year``, with their categories and minimum days, for the
    declaration form; with ``filed`` (being edited), its kind even if no longer accepted (see _check)."""
    return [spec for spec in rules.kinds_in_force(learner.region, year).values()
            if spec.accepted or (filed is not None and spec.kind == filed.kind)]


def categories_allowed(spec: rules.KindInForce, filed: Declaration | None = None) -> tuple[Category, ...]:
    """The categories a declaration of ``spec``'s kind may be filed as: the rule's, and for one already
    filed (``filed``, being edited; its kind does not change) the category it was filed as (see _check).
    _check judges by it, and the form offers by it (each kind's option names its categories)."""
    if filed is not None and filed.kind == spec.kind and filed.category not in spec.categories:
        return spec.categories + (filed.category,)
    return spec.categories


def caps_of_year(learner: User, year: int) -> list[DeclarationCap]:
    """The caps on declared hours in force for the learner in ``year`` (for the declaration form)."""
    return sorted(rules.caps_in_force(learner.region, year).values(), key=lambda c: (c.kind.value, c.category.value))


@dataclass(frozen=True)
class Route:
    """The steps of a declaration: ``name`` is "employer" (the employer alone), "both" (the employer, then the
    sector authority: sector_step) or "sector" (the sector authority alone: sector_recognised)."""

    name: str
    authority: SectorAuthority | None = None

    @property
    def sector_only(self) -> bool:
        return self.name == "sector"


def who_reviews(learner: User, year: int) -> str:
    """In words, who reviews the learner's declarations of ``year`` and in how many working days, by the
    rules of their region (for the declarations page)."""
    rule = hours.rule_for(learner.region, year)
    days = rules.known(rule.review_working_days)
    if learner.sector and learner.sector in set(rule.sector_recognised or ()):
        return f"您所在的{learner.sector}行业，学时由行业主管部门认定，须在 {days} 个工作日内审核。"
    if rule.sector_step:
        return f"学时申报先由所在单位审核，再由行业主管部门审核，每一步须在 {days} 个工作日内完成。"
    return f"学时申报由所在单位的审核人员在 {days} 个工作日内审核。"


def route_of(learner: User, rule: RuleSet) -> Route:
    """The steps a declaration of the learner takes under ``rule`` (the region's rules in force for its
    year), with the sector authority it goes to: the learner's city's authority of their sector, else the
    province's.

    :raise DomainError: a sector step is required and the learner has no sector, or the site has no
        authority of that sector for the learner's region.
    """
    recognised = set(rule.sector_recognised or ())
    if learner.sector and learner.sector in recognised:
        name = "sector"
    elif rule.sector_step:
        name = "both"
    else:
        return Route("employer")
    region = learner.region.name if learner.region else "您所在地区"
    if not learner.sector:
        raise DomainError(f"{region}的学时须经行业主管部门审核，请先在个人资料中填写您所属的行业", field="kind")
    authority = authority_for(learner.region, learner.sector)
    if authority is None:
        raise DomainError(f"{region}的{learner.sector}行业主管部门尚未入驻本平台，暂不能申报"
                          f"（按{region}的规定，学时须经行业主管部门审核）", field="kind")
    return Route(name, authority)


def authority_for(region: Region | None, sector: str) -> SectorAuthority | None:
    """The sector authority of ``sector`` for a learner of ``region``: the city's, else the province's. One
    query."""
    chain = rules.chain_ids(region)
    if not chain:
        return None
    found = db.session.execute(
        sa.select(SectorAuthority).where(SectorAuthority.region_id.in_(chain), SectorAuthority.sector == sector)
    ).scalars().all()
    return min(found, key=lambda a: chain.index(a.region_id), default=None)


def declare(learner: User, data: dict, uploads: list) -> Declaration:
    """File a declaration with its evidence files; it goes to the reviewers of the learner's employer, or to
    the sector authority, or to both in turn, as the region's rules say (route_of).

    :raise NotAllowed: the user is not a learner.
    :raise DomainError: no employer has confirmed the learner, no evidence, a bad date or amount (``field``
        says which); the rules require a sector step and the learner has no sector, or no authority of it is
        on the site.
    :raise EvidenceRejected: a file that is not a PDF/JPEG/PNG by content, or too large.
    """
    if not policies.may_declare(learner):
        raise NotAllowed("只有专业技术人员可以申报学时")
    if learner.employer_id is None:
        raise DomainError("工作单位确认您是本单位职工后才能申报学时：请在“工作单位”页面搜索并选择您的单位，"
                          "等待单位确认", field="kind")
    uploads = [u for u in uploads if u and getattr(u, "filename", "")]
    kind, category, claimed = _check(learner, data, problems={} if uploads else {"files": "请上传证明材料"})
    rule = hours.rule_for(learner.region, data["earned_on"].year)
    route = route_of(learner, rule)
    days = rules.known(rule.review_working_days)
    due_on = workdays.review_deadline(clock.today(), days)
    # A file written before a later one is refused, or before the commit fails, is removed with the rollback.
    with unit_of_work():
        declaration = Declaration(
            learner_id=learner.id, employer_id=learner.employer_id, kind=kind, category=category,
            title=data["title"].strip(), organiser=(data.get("organiser") or "").strip(),
            earned_on=data["earned_on"], year=data["earned_on"].year, minutes=data.get("minutes"),
            days=data.get("days"), hours_claimed=claimed, status=DeclarationStatus.PENDING, due_on=due_on,
            sector_authority_id=route.authority.id if route.authority is not None else None,
        )
        if route.sector_only:  # the sector authority recognises instead of the employer: its 5 days start now
            declaration.status, declaration.sector_due_on = DeclarationStatus.SECTOR_PENDING, due_on
        for upload in uploads:
            row, _path = evidence_files.store(upload)
            declaration.evidence.append(row)
        db.session.add(declaration)
        db.session.flush()
        audit.record(learner, "declaration.file", declaration, details={
            "kind": kind.value, "hours": claimed, "route": route.name})
    return declaration


EDITED_FIELDS = ("category", "title", "organiser", "earned_on", "year", "minutes", "days", "hours_claimed")


def edit(learner: User, declaration_id: int, data: dict) -> Declaration:
    """Change a declaration still awaiting review (not its evidence).

    :raise LookupError: not the learner's declaration.
    :raise DomainError: already reviewed, or bad data.
    """
    declaration = own(learner, declaration_id)
    if declaration is None:
        raise LookupError(declaration_id)
    if not awaits_first_review(declaration):
        raise DomainError(f"申报当前为“{declaration.status.label}”，不能再修改")
    kind, category, claimed = _check(learner, {**data, "kind": declaration.kind.value}, filed=declaration)
    with unit_of_work():
        declaration.category, declaration.title = category, data["title"].strip()
        declaration.organiser = (data.get("organiser") or "").strip()
        declaration.earned_on, declaration.year = data["earned_on"], data["earned_on"].year
        declaration.minutes, declaration.days = data.get("minutes"), data.get("days")
        declaration.hours_claimed = claimed
        if audit.diff(declaration, EDITED_FIELDS):  # a form sent again unchanged is no event for the log
            audit.record(learner, "declaration.edit", declaration, details={"hours": claimed})
    return declaration


def own(learner: User, declaration_id: int) -> Declaration | None:
    """The learner's own declaration (policies.owns_declaration), else None (the view answers 404)."""
    return db.session.execute(
        sa.select(Declaration).where(Declaration.id == declaration_id, policies.own_declarations(learner))
        .options(selectinload(Declaration.evidence))
    ).scalar_one_or_none()


def rejected_of(learner: User, declaration_id: int) -> Declaration | None:
    """The learner's own declaration if it was rejected (to be filed again, corrected), else None (404)."""
    declaration = own(learner, declaration_id)
    return declaration if declaration is not None and declaration.status == DeclarationStatus.REJECTED else None


def of_learner(learner: User) -> Sequence[Declaration]:
    return db.session.execute(
        sa.select(Declaration).where(policies.own_declarations(learner))
        .options(selectinload(Declaration.evidence)).order_by(Declaration.id.desc())
    ).scalars().all()


def for_reviewer(reviewer: User, declaration_id: int) -> Declaration | None:
    """A declaration the reviewer may review (policies.may_review), else None (the view answers 404)."""
    if policies.employer_reviewed_by(reviewer) is None:
        return None
    return db.session.execute(
        sa.select(Declaration).join(Declaration.learner)
        .where(Declaration.id == declaration_id, policies.reviewable_declarations(reviewer))
        .options(contains_eager(Declaration.learner), selectinload(Declaration.evidence))
    ).scalar_one_or_none()


def queue(reviewer: User) -> Sequence[Declaration]:
    """The employer's declarations, pending first (earliest deadline first), with learners. Two queries."""
    return db.session.execute(
        sa.select(Declaration).join(Declaration.learner)
        .where(policies.reviewable_declarations(reviewer))
        .options(contains_eager(Declaration.learner), selectinload(Declaration.evidence))
        .order_by(sa.case((Declaration.status == DeclarationStatus.PENDING, 0), else_=1), Declaration.due_on,
                  Declaration.id.desc())
        .limit(500)
    ).scalars().all()


def cap_for(kind: DeclarationKind, category: Category, region: Region | None, year: int) -> DeclarationCap | None:
    """The cap in force for the kind and category in the learner's region and year: the city's, else the
    province's, else none (no cap applies everywhere: Yantai's competition caps cap Yantai's learners)."""
    return rules.caps_in_force(region, year).get((kind, category))


def review(reviewer: User, declaration_id: int, approve: bool, hours_: int | None, reason: str) -> Declaration:
    """Approve (possibly fewer hours, with a reason) or reject (with a reason). The yearly cap of the kind
    and category applies across all the learner's approved declarations of the year; what is over it is
    not credited, and the learner sees why.

    :raise LookupError: not a declaration of the reviewer's employer.
    :raise DomainError: one's own declaration, already reviewed, a missing reason, or bad hours.
    """
    declaration = for_reviewer(reviewer, declaration_id)
    if declaration is None:
        raise LookupError(declaration_id)
    if policies.owns_declaration(reviewer, declaration):
        raise DomainError("不能审核自己的申报")
    reason = (reason or "").strip()
    reviewer_id, learner_id = reviewer.id, declaration.learner_id
    with locked(User, learner_id) as learner:
        declaration = db.session.get(Declaration, declaration_id, populate_existing=True)
        if declaration is None:  # found above; gone only if deleted while the lock was awaited
            raise LookupError(declaration_id)
        if declaration.status != DeclarationStatus.PENDING:
            raise DomainError(f"该申报当前为“{declaration.status.label}”，不能重复审核")
        if not approve:
            if not reason:
                raise DomainError("驳回时必须填写理由", field="reason")
            declaration.status, declaration.review_note = DeclarationStatus.REJECTED, reason
        else:
            approved = declaration.hours_claimed if hours_ is None else hours_
            if not 1 <= approved <= declaration.hours_claimed:
                raise DomainError(f"认定学时应在 1 到 {declaration.hours_claimed} 之间", field="hours")
            if approved < declaration.hours_claimed and not reason:
                raise DomainError("核减学时时必须填写理由", field="reason")
            if declaration.sector_authority_id is not None:
                # Two steps (sector_step): the sector authority reviews next, from today, and credits last.
                rule = hours.rule_for(learner.region, declaration.year)
                declaration.status, declaration.employer_hours = DeclarationStatus.SECTOR_PENDING, approved
                declaration.sector_due_on = workdays.review_deadline(clock.today(),
                                                                     rules.known(rule.review_working_days))
                declaration.review_note = reason
            else:
                _approve(declaration, learner, approved, reason, reviewer_id)
        declaration.reviewer_id, declaration.reviewed_at = reviewer_id, utcnow()
        action = ("declaration.employer_approved" if declaration.status == DeclarationStatus.SECTOR_PENDING
                  else f"declaration.{declaration.status.value}")
        audit.record(reviewer, action, declaration, details={
            "hours": declaration.hours_approved if declaration.employer_hours is None else declaration.employer_hours,
            "credited": declaration.hours_credited, "reason": reason})
        _tell_learner(declaration, declaration.review_note, "单位")
    return declaration


def _tell_learner(declaration: Declaration, note: str, step: str) -> None:
    """The learner's notice of one review step's result: approved with the hours, passed on to the sector's
    step, or rejected with the reason."""
    title = f"您申报的“{declaration.title}”（{declaration.year} 年度）"
    if declaration.status == DeclarationStatus.REJECTED:
        message = f"{title}未通过{step}审核，理由：{note}"
    elif declaration.status == DeclarationStatus.SECTOR_PENDING:
        message = f"{title}已通过单位审核（{declaration.employer_hours} 学时），待行业主管部门审核"
    else:
        message = f"{title}已通过{step}审核，认定 {declaration.hours_approved} 学时"
        if declaration.hours_credited != declaration.hours_approved:
            message += f"，计入 {declaration.hours_credited} 学时"
        if note:
            message += f"（{note}）"
    inbox.notify(declaration.learner_id, message, "/me/declarations", kind=NoticeKind.REVIEW)


def _approve(declaration: Declaration, learner: User, approved: int, reason: str, actor_id: int) -> str:
    """The last step's approval: the yearly cap applies, and the ledger gets its one row. Returns the note
    (the reason and what the cap left out)."""
    credited, note = _apply_cap(declaration, learner, approved)
    declaration.status = DeclarationStatus.APPROVED
    declaration.hours_approved, declaration.hours_credited = approved, credited
    note = "；".join(part for part in (reason, note) if part)
    if declaration.sector_authority_id is None:
        declaration.review_note = note
    if credited > 0:
        db.session.add(HoursRecord(
            learner_id=learner.id, year=declaration.year, category=declaration.category,
            hours=credited, source=HoursSource.DECLARATION, declaration_id=declaration.id,
            note=declaration.kind.label, created_by_id=actor_id,
        ))
    return note


def for_sector(officer: User, declaration_id: int) -> Declaration | None:
    """A declaration routed to the officer's authority (policies.may_review_as_sector), else None (404)."""
    return db.session.execute(
        sa.select(Declaration).join(Declaration.learner)
        .where(Declaration.id == declaration_id, policies.sector_reviewable_declarations(officer))
        .options(contains_eager(Declaration.learner), selectinload(Declaration.evidence),
                 selectinload(Declaration.employer))
    ).scalar_one_or_none()


def sector_queue(officer: User) -> Sequence[Declaration]:
    """The declarations routed to the officer's authority: awaiting its review first (earliest deadline
    first), then those still at the employer's step, then the reviewed. Three queries."""
    step = sa.case((Declaration.status == DeclarationStatus.SECTOR_PENDING, 0),
                   (Declaration.status == DeclarationStatus.PENDING, 1), else_=2)
    return db.session.execute(
        sa.select(Declaration).join(Declaration.learner)
        .where(policies.sector_reviewable_declarations(officer))
        .options(contains_eager(Declaration.learner), selectinload(Declaration.employer))
        .order_by(step, Declaration.sector_due_on, Declaration.due_on, Declaration.id.desc())
        .limit(500)
    ).scalars().all()


def review_as_sector(officer: User, declaration_id: int, approve: bool, hours_: int | None,
                     reason: str) -> Declaration:
    """The sector authority's step: approve (possibly fewer hours than the employer approved, with a reason;
    the yearly cap applies and the ledger is written now) or reject (with a reason).

    :raise LookupError: not a declaration routed to the officer's authority.
    :raise DomainError: the employer has not yet reviewed it (单位尚未审核), already reviewed, a missing
        reason, or bad hours.
    """
    declaration = for_sector(officer, declaration_id)
    if declaration is None:
        raise LookupError(declaration_id)
    if policies.owns_declaration(officer, declaration):
        raise DomainError("不能审核自己的申报")
    reason = (reason or "").strip()
    officer_id = officer.id
    with locked(User, declaration.learner_id) as learner:
        declaration = db.session.get(Declaration, declaration_id, populate_existing=True)
        if declaration is None:
            raise LookupError(declaration_id)
        if declaration.status == DeclarationStatus.PENDING:
            raise DomainError("单位尚未审核，行业主管部门须在单位审核通过后再审核")
        if declaration.status != DeclarationStatus.SECTOR_PENDING:
            raise DomainError(f"该申报当前为“{declaration.status.label}”，不能重复审核")
        if not approve:
            if not reason:
                raise DomainError("驳回时必须填写理由", field="reason")
            declaration.status, declaration.sector_note = DeclarationStatus.REJECTED, reason
        else:
            ceiling = declaration.employer_hours or declaration.hours_claimed
            approved = ceiling if hours_ is None else hours_
            if not 1 <= approved <= ceiling:
                raise DomainError(f"认定学时应在 1 到 {ceiling} 之间", field="hours")
            if approved < ceiling and not reason:
                raise DomainError("核减学时时必须填写理由", field="reason")
            declaration.sector_note = _approve(declaration, learner, approved, reason, officer_id)
        declaration.sector_reviewer_id, declaration.sector_reviewed_at = officer_id, utcnow()
        audit.record(officer, f"declaration.sector_{declaration.status.value}", declaration, details={
            "hours": declaration.hours_approved, "credited": declaration.hours_credited, "reason": reason})
        _tell_learner(declaration, declaration.sector_note, "行业主管部门")
    return declaration


def _apply_cap(declaration: Declaration, learner: User, approved: int) -> tuple[int, str]:
    cap = cap_for(declaration.kind, declaration.category, learner.region, declaration.year)
    if cap is None:
        return approved, ""
    used = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Declaration.hours_credited), 0)).where(
            Declaration.learner_id == learner.id, Declaration.year == declaration.year,
            Declaration.kind == declaration.kind, Declaration.category == declaration.category,
            Declaration.status == DeclarationStatus.APPROVED,
        )
    ).scalar_one() or 0  # COALESCE: never NULL
    credited = max(min(approved, cap.max_hours - used), 0)
    if credited == approved:
        return approved, ""
    return credited, (f"{declaration.kind.label}每年最多计入{declaration.category.label} {cap.max_hours} 学时，"
                      f"本年度已计入 {used} 学时，本次超出的 {approved - credited} 学时未计入")


def overdue_by_employer(regulator: User, today: date | None = None) -> list[tuple[Employer, int, date]]:
    """Employers in the regulator's region with reviews past their deadline (on ``today``, default today):
    count and oldest due date."""
    today = today or clock.today()
    rows = db.session.execute(
        sa.select(Employer, sa.func.count(Declaration.id), sa.func.min(Declaration.due_on))
        .join(Declaration, Declaration.employer_id == Employer.id)
        .where(Declaration.status == DeclarationStatus.PENDING, Declaration.due_on < today,
               Employer.region_id.in_(policies.region_ids_in_reach(regulator)))
        .group_by(Employer.id)
        .order_by(sa.func.count(Declaration.id).desc())
    ).all()
    return [tuple(r) for r in rows]


def overdue_by_sector(regulator: User, today: date | None = None) -> list[tuple[SectorAuthority, int, date]]:
    """Sector authorities in the regulator's region with sector reviews past their deadline (on ``today``,
    default today): count and oldest due date."""
    today = today or clock.today()
    rows = db.session.execute(
        sa.select(SectorAuthority, sa.func.count(Declaration.id), sa.func.min(Declaration.sector_due_on))
        .join(Declaration, Declaration.sector_authority_id == SectorAuthority.id)
        .where(Declaration.status == DeclarationStatus.SECTOR_PENDING, Declaration.sector_due_on < today,
               SectorAuthority.region_id.in_(policies.region_ids_in_reach(regulator)))
        .group_by(SectorAuthority.id)
        .order_by(sa.func.count(Declaration.id).desc())
    ).all()
    return [tuple(r) for r in rows]


def awaits_first_review(declaration: Declaration) -> bool:
    """Nobody has reviewed it yet: its declarant may still change it."""
    return declaration.status == DeclarationStatus.PENDING or (
        declaration.status == DeclarationStatus.SECTOR_PENDING and declaration.reviewer_id is None)


def is_overdue(declaration: Declaration) -> bool:
    """Awaiting the employer's review past its deadline."""
    return declaration.status == DeclarationStatus.PENDING and declaration.due_on < clock.today()


# How many declarations one batch may approve: a page's worth, so that one request stays short.
MAX_BATCH = 200


@dataclass
class BatchResult:
    """What a batch review did: the ids approved, and the ids refused with why."""

    approved: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


def review_many(reviewer: User, ids: Sequence[int], reason: str) -> BatchResult:
    """Approve each of ``ids`` as claimed, with the one ``reason``, each through ``review`` (its cap, its
    ledger row, its audit entry, its own transaction): one refused leaves the others approved. An id that is
    not the reviewer's employer's is refused as not found, saying no more.

    :raise DomainError: no id chosen, or more than MAX_BATCH.
    """
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise DomainError("请先勾选要通过的申报", field="ids")
    if len(unique) > MAX_BATCH:
        raise DomainError(f"一次最多通过 {MAX_BATCH} 项申报", field="ids")
    result = BatchResult()
    for declaration_id in unique:
        try:
            result.approved.append(review(reviewer, declaration_id, True, None, reason).id)
        except LookupError:
            result.refused.append((declaration_id, "未找到该申报"))
        except DomainError as error:
            result.refused.append((declaration_id, error.message))
    return result


def is_sector_overdue(declaration: Declaration) -> bool:
    """Awaiting the sector authority's review past its deadline."""
    return (declaration.status == DeclarationStatus.SECTOR_PENDING and declaration.sector_due_on is not None
            and declaration.sector_due_on < clock.today())


@dataclass(frozen=True)
class Step:
    """A review step of a declaration as its declarant sees it: who reviews, by when (None: counted from the
    employer's approval, not yet given), and where it stands: "waiting" (not reached), "current", "done"."""

    who: str
    due_on: date | None
    state: str
    overdue: bool


def steps(declaration: Declaration) -> list[Step]:
    """The declaration's review steps in order (the employer's unless the sector alone recognises, then the
    sector authority's where it has one), for the learner's list."""
    status, found = declaration.status, []
    sector_only = (declaration.sector_authority_id is not None and declaration.reviewer_id is None
                   and declaration.sector_due_on is not None)
    if not sector_only:
        found.append(Step("单位审核", declaration.due_on,
                          "current" if status == DeclarationStatus.PENDING else "done", is_overdue(declaration)))
    if declaration.sector_authority_id is not None:
        if status == DeclarationStatus.PENDING:
            state = "waiting"
        elif status == DeclarationStatus.SECTOR_PENDING:
            state = "current"
        elif declaration.sector_reviewed_at is not None:
            state = "done"
        else:  # rejected at the employer's step: the sector's never came
            return found
        found.append(Step("行业主管部门审核", declaration.sector_due_on, state, is_sector_overdue(declaration)))
    return found
