"""The annual evaluation of bases, the published list and each base's compliance figures.

The figures are counted by the database (GROUP BY, COUNT DISTINCT) over enrollments and courses; Python
only sees one row per base. Everything counts in the year of the day the learner completed (Asia/Shanghai,
enrollment.completed_on; notice 003: 以实际完成时间计入当年), not the year the course ends: a base's
trainees are the distinct learners who completed a course there on a day of the year (a learner counts once
per base); its projects are the courses with at least one completion dated in the year (an online course
whose learners finish in December and in January is a project of both years, as it trained people in both).
"""

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from extensions import db
from models import (
    BaseStatus,
    BaseType,
    Course,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    Evaluation,
    EvaluationResult,
    EvaluationStatus,
    NoticeKind,
    Outcome,
    Region,
    RegionLevel,
    Rubric,
    Target,
    TrainingBase,
    User,
)
from models._common import utcnow
from models.enrollment import SEAT_HOLDING
from models.training_base import DISCLOSURE_FIELDS
from services import audit, inbox, policies, registry, rules
from services.errors import DomainError, NotAllowed
from services.infra import clock
from services.infra.locking import locked
from services.infra.transaction import unit_of_work

DISCLOSURE_KEYS = [key for key, _label in DISCLOSURE_FIELDS] + ["contact_phone"]


def _year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def _year_end(year: int) -> datetime:
    """The moment the year ends where the users live (local midnight of 1 January next), as the naive UTC
    timestamps are stored: 16:00 on 31 December UTC for Asia/Shanghai."""
    return datetime(year + 1, 1, 1, tzinfo=clock.LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)


def figures(year: int, bases_where: sa.ColumnElement[bool], until: date | None = None) -> dict[int, dict]:
    """Per base: trainees, projects, completed and seated enrollments, average rating, overdue plans.

    ``bases_where`` selects the bases (a clause on TrainingBase); ``until`` stops the count at a date
    (for the figures so far this year). Two GROUP BY queries, both served by the covering index
    ix_enrollment_course_status_completed_on. The first passes once over the enrollments completed on the
    days of the period, course by course and base by base, as a plain distinct count of the trainees would:
    the trainees, the projects (the distinct courses it meets), the completions and their average rating
    (only a completed enrollment can be rated, services.enrollment.rate, so these are all the ratings). The
    second reads only the courses that ended in the period (one index probe each: the seats held without a
    completion) or started in it (a face-to-face course without an approved class plan), not every course
    overlapping it. Measured (docs/PERFORMANCE.md, R4): a little faster on PostgreSQL, where the probe for a
    completion in every course cost more than the projects' second DISTINCT; a little slower on SQLite.
    """
    start, end = _year_bounds(year)
    if until is not None:
        end = min(end, until)
    completed = sa.and_(Enrollment.status == EnrollmentStatus.COMPLETED,
                        Enrollment.completed_on >= start, Enrollment.completed_on <= end)
    # A completion's day lies within its course's dates (services.completions, services.courses), so only
    # the courses overlapping the period can hold one: the rest are left out through ix_course_base_end.
    overlapping = sa.and_(Course.end_date >= start, Course.start_date <= end)
    ended = sa.and_(Course.end_date >= start, Course.end_date <= end)
    # Face-to-face professional courses that started in the year without an approved class plan.
    started = sa.and_(Course.start_date >= start, Course.start_date <= min(end, clock.today()))

    def in_scope() -> sa.ColumnElement[bool]:
        # A fresh subquery for each statement: SQLAlchemy marks a select when it first compiles it, so a
        # shared one would change the other statement's cache key and have it compiled again next time.
        return Course.base_id.in_(sa.select(TrainingBase.id).where(bases_where))

    result = {
        base_id: {"trainees": trainees, "projects": projects, "completed": done, "seated": done,
                  "rating": float(rating) if rating is not None else None, "overdue_plans": 0}
        for base_id, trainees, projects, done, rating in db.session.execute(
            sa.select(Course.base_id, sa.func.count(sa.distinct(Enrollment.learner_id)),
                      sa.func.count(sa.distinct(Enrollment.course_id)), sa.func.count(),
                      sa.func.avg(Enrollment.rating))
            .join(Enrollment, Enrollment.course_id == Course.id)
            .where(in_scope(), overlapping, completed)
            .group_by(Course.base_id)
        )
    }
    held_not_completed = (
        sa.select(sa.func.count()).select_from(Enrollment)
        .where(Enrollment.course_id == Course.id,
               Enrollment.status.in_([s for s in SEAT_HOLDING if s != EnrollmentStatus.COMPLETED]))
        .scalar_subquery()
    )
    overdue = sa.and_(
        started, Course.needs_class_plan,
        Course.status.in_((CourseStatus.PUBLISHED, CourseStatus.CLOSED)),
        sa.or_(Course.plan_status.is_(None), Course.plan_status != "approved"),
    )
    for base_id, held, overdue_plans in db.session.execute(
        sa.select(
            Course.base_id,
            sa.func.sum(sa.case((ended, held_not_completed), else_=0)),
            sa.func.sum(sa.case((overdue, 1), else_=0)),
        )
        # end_date >= start holds for both (a course ends after it starts); said outright, it lets SQLite read
        # ix_course_base_end in base order as in the first statement, rather than OR two indexes and sort.
        .where(in_scope(), Course.end_date >= start, sa.or_(ended, started))
        .group_by(Course.base_id)
    ):  # PostgreSQL sums counts as numeric: int()
        fig = result.setdefault(base_id, _empty_figures())
        fig["overdue_plans"] = int(overdue_plans)
        fig["seated"] += int(held)
    return result


def _empty_figures() -> dict:
    return {"trainees": 0, "projects": 0, "completed": 0, "seated": 0, "rating": None, "overdue_plans": 0}


def _ratio(value: int, target: int | None) -> float:
    if not target:
        return 100.0 if value > 0 else 0.0
    return min(value / target, 1.0) * 100


def disclosure_rate(base: TrainingBase) -> float:
    filled = sum(1 for key in DISCLOSURE_KEYS if (getattr(base, key) or "").strip())
    return round(100 * filled / len(DISCLOSURE_KEYS), 1)


class TargetFigures(Protocol):
    """What missed_target reads of a target: a models.Target, or the figures one would hold (target_edits)."""

    @property
    def min_trainees(self) -> int: ...

    @property
    def min_projects(self) -> int: ...


def missed_target(fig: dict, target: TargetFigures | None) -> bool:
    """Whether a base with figures ``fig`` misses ``target`` (None: no target, never missed). The one rule the
    evaluation and the targets page's preview both apply."""
    if target is None:
        return False
    return fig["trainees"] < target.min_trainees or fig["projects"] < target.min_projects


def score_and_outcome(fig: dict, target: Target | None, disclosure: float,
                      rubric: Rubric) -> tuple[float, Outcome, bool]:
    """The weighted score (0–100), the proposed outcome and whether a target was missed."""
    target_trainees = target.min_trainees if target else None
    target_projects = target.min_projects if target else None
    known = rules.known  # a rubric in force holds every weight, the unrated score and the penalty
    parts = [
        (known(rubric.weight_trainees), _ratio(fig["trainees"], target_trainees)),
        (known(rubric.weight_projects), _ratio(fig["projects"], target_projects)),
        (known(rubric.weight_completion), 100 * fig["completed"] / fig["seated"] if fig["seated"] else 0.0),
        (known(rubric.weight_rating),
         fig["rating"] / 5 * 100 if fig["rating"] is not None else known(rubric.unrated_score)),
        (known(rubric.weight_disclosure), disclosure),
    ]
    total_weight = sum(w for w, _v in parts) or 1
    score = sum(w * v for w, v in parts) / total_weight - known(rubric.penalty_per_overdue_plan) * fig["overdue_plans"]
    score = round(max(0.0, min(100.0, score)), 1)
    missed = missed_target(fig, target)
    if missed:
        # The region's rule for a base that missed its target (Henan, notice 002: 不能完成培训任务的，取消其
        # 基地资格, so 退出 whatever the score); never better than the score alone would propose.
        missed_outcome = rubric.missed_target_outcome or Outcome.RECTIFY
        outcome = Outcome.EXIT if score < rubric.exit_threshold else missed_outcome
    elif score >= rubric.keep_threshold:
        outcome = Outcome.KEEP
    elif score >= rubric.exit_threshold:
        outcome = Outcome.RECTIFY
    else:
        outcome = Outcome.EXIT
    return score, outcome, missed


def evaluated_in(year: int) -> sa.ColumnElement[bool]:
    """The clause on TrainingBase of the bases evaluated for ``year`` (see compute)."""
    return sa.and_(TrainingBase.status != BaseStatus.EXITED, TrainingBase.created_at < _year_end(year))


def compute(year: int, region_id: int | None) -> list[EvaluationResult]:
    """The year's figures, scores and proposed outcomes for the listed bases of a region (and the cities
    below it), or of every region when ``region_id`` is None; unsaved results, one per base. Bases that
    had exited, or were designated only after the year (local time: 04:00 on 1 January in Shanghai is the
    next year's, though stored as 31 December UTC), are not evaluated for it."""
    bases_where = evaluated_in(year)
    if region_id is not None:
        bases_where = sa.and_(bases_where, TrainingBase.region_id.in_(policies.region_ids(region_id)))
    bases = db.session.execute(
        sa.select(TrainingBase).where(bases_where).options(joinedload(TrainingBase.region)).order_by(TrainingBase.id)
    ).scalars().all()
    # The bases by id rather than bases_where again: its subqueries, compiled once above, would key the
    # figures' statements differently from one call to the next (see figures).
    counted = figures(year, TrainingBase.id.in_([base.id for base in bases]))
    rubrics = rules.rubrics_up_to(year)
    targets = registry.targets_of_year(year)
    results = []
    for base in bases:
        fig = counted.get(base.id) or _empty_figures()
        target = registry.pick_target(targets, base.type, base.region)
        rubric = rules.pick_rubric(rubrics, base.region, year,
                                   province_only=base.type in policies.PROVINCE_SET_TYPES)
        disclosure = disclosure_rate(base)
        score, proposed, _missed = score_and_outcome(fig, target, disclosure, rubric)
        results.append(EvaluationResult(
            base_id=base.id, base=base, trainees=fig["trainees"], projects=fig["projects"],
            completion_rate=round(100 * fig["completed"] / fig["seated"], 1) if fig["seated"] else None,
            average_rating=round(fig["rating"], 2) if fig["rating"] is not None else None,
            disclosure_rate=disclosure, overdue_plans=fig["overdue_plans"],
            target_trainees=target.min_trainees if target else None,
            target_projects=target.min_projects if target else None,
            score=score, proposed=proposed, final=None, override_reason="",
        ))
    return results


def decided_results(year: int, region_id: int | None) -> list[EvaluationResult]:
    """compute() for the bases the region's evaluation decides (policies.region_decides_type): a city's
    leaves out the province-level bases located in it, which the province's evaluation decides; every base
    when ``region_id`` is None. What run() stores and ``flask evaluate`` prints."""
    results = compute(year, region_id)
    if region_id is None:
        return results
    region = db.session.get(Region, region_id)
    return [r for r in results if policies.region_decides_type(region, r.base.type)]


def run(regulator: User, year: int, region_id: int | None = None) -> Evaluation:
    """Evaluate every base of the region (and the cities below it) for the year; a confirmed evaluation is
    returned unchanged. Re-running a draft recomputes it and keeps the overrides already written.

    The running year may be run, as a trial (试算): a regulator may want to see where the bases stand
    before the year is out, as the compliance page shows each base its own progress. Its figures stop at
    the day it is run, when almost every base is still short of its target, so a draft run
    before its year ended can never be confirmed (see ``is_trial`` and ``confirm``): it must be run again
    once the year is over. A later year has no figures at all and is refused.

    A city's evaluation holds only the bases it decides, its city-level ones (policies.region_decides_type).

    :raise NotAllowed: the region is outside the regulator's reach (policies.in_reach).
    :raise DomainError: the year has not begun (field ``year``).
    """
    region_id = check_run(regulator, year, region_id)
    evaluation = db.session.execute(
        sa.select(Evaluation).where(Evaluation.year == year, Evaluation.region_id == region_id)
    ).scalar_one_or_none()
    if evaluation is not None and evaluation.status == EvaluationStatus.CONFIRMED:
        return evaluation
    try:
        with unit_of_work():
            kept_overrides = {}
            if evaluation is None:
                evaluation = Evaluation(year=year, region_id=region_id, run_by_id=regulator.id, run_at=utcnow())
                db.session.add(evaluation)
            else:
                kept_overrides = {r.base_id: (r.final, r.override_reason) for r in evaluation.results if r.final}
                evaluation.results.clear()
                evaluation.run_by_id, evaluation.run_at = regulator.id, utcnow()
                db.session.flush()
            # A base already decided this year by another confirmed evaluation (say the province's, when this is
            # the city's) is not decided twice.
            decided = set(db.session.execute(
                sa.select(EvaluationResult.base_id).join(Evaluation)
                .where(Evaluation.year == year, Evaluation.status == EvaluationStatus.CONFIRMED)
            ).scalars())
            # A city's evaluation decides its city-level bases only: the province-level bases located there are
            # decided by the province's evaluation (the page lists them for information, see decided_by_province).
            results = [r for r in decided_results(year, region_id) if r.base_id not in decided]
            for result in results:
                final, reason = kept_overrides.get(result.base_id, (None, ""))
                if final == Outcome.KEEP and result.missed_target:
                    final, reason = None, ""  # the figures changed: "keep" is no longer allowed for this base
                result.final, result.override_reason = final, reason
                evaluation.results.append(result)
            audit.record(regulator, "evaluation.run", evaluation, details={"year": year, "bases": len(results)})
    except IntegrityError:
        # Another regulator created the same evaluation at the same moment: theirs stands.
        return db.session.execute(
            sa.select(Evaluation).where(Evaluation.year == year, Evaluation.region_id == region_id)
        ).scalar_one()
    return evaluation


def check_run(regulator: User, year: int, region_id: int | None = None) -> int:
    """The region ``run`` would evaluate (the regulator's own if None), once it is known that it may: what a
    page checks before it asks for the run as a job (services.long_work).

    :raise NotAllowed: the region is outside the regulator's reach (policies.in_reach).
    :raise DomainError: the year has not begun (field ``year``).
    """
    region_id = region_id or regulator.region_id
    if region_id is None or not policies.in_reach(regulator, region_id):
        raise NotAllowed("该地区不在您的管辖范围内")
    if year > clock.today().year:
        raise DomainError(f"{year}年度尚未开始，不能进行评估", field="year")
    return region_id


def is_trial(evaluation: Evaluation) -> bool:
    """A draft run before its year ended (试算): its figures stop at that day and it cannot be confirmed."""
    return evaluation.status == EvaluationStatus.DRAFT and _run_before_year_ended(evaluation)


def _run_before_year_ended(evaluation: Evaluation) -> bool:
    return evaluation.run_at < _year_end(evaluation.year)


def get(regulator: User, evaluation_id: int) -> Evaluation | None:
    """The evaluation if the regulator may see it (policies.may_see_evaluation), with results and bases;
    else None (the view answers 404)."""
    evaluation = db.session.execute(
        sa.select(Evaluation).where(Evaluation.id == evaluation_id)
        .options(joinedload(Evaluation.results).joinedload(EvaluationResult.base), joinedload(Evaluation.region))
    ).unique().scalar_one_or_none()
    if evaluation is None or not policies.may_see_evaluation(regulator, evaluation):
        return None
    return evaluation


def evaluation_of_result(regulator: User, result_id: int) -> Evaluation | None:
    """The evaluation holding the result, as ``get`` reads it (None outside the regulator's scope)."""
    evaluation_id = db.session.scalar(sa.select(EvaluationResult.evaluation_id).where(EvaluationResult.id == result_id))
    return None if evaluation_id is None else get(regulator, evaluation_id)


def override(regulator: User, result_id: int, outcome: Outcome, reason: str) -> EvaluationResult:
    """Set a base's outcome against the proposal, with a written reason; choosing the proposal again clears
    the override.

    :raise LookupError: no such result in the regulator's scope.
    :raise NotAllowed: a base the evaluation or the regulator does not decide (a province-level base in a
        city's draft run before they were left out; field ``outcome``).
    :raise DomainError: the evaluation is confirmed, no reason, or "keep" for a base that missed a target.
    """
    result = db.session.get(EvaluationResult, result_id)
    if result is None or not policies.may_see_evaluation(regulator, result.evaluation):
        raise LookupError(result_id)
    if not policies.may_decide_outcome(regulator, result.evaluation, result.base):
        raise NotAllowed(_decided_by_province(result.base), field="outcome")
    if result.evaluation.status == EvaluationStatus.CONFIRMED:
        raise DomainError("评估已确认，不能再修改")
    if outcome != result.proposed:
        if not reason.strip():
            raise DomainError("调整评估结论必须填写理由", field="reason")
        if outcome == Outcome.KEEP and result.missed_target:
            raise DomainError("未完成年度目标任务的基地不能评为合格", field="outcome")
    with unit_of_work():
        if outcome == result.proposed:
            result.final, result.override_reason = None, ""
        else:
            result.final, result.override_reason = outcome, reason.strip()
        audit.record(regulator, "evaluation.override", result.evaluation, base_id=result.base_id,
                     details={"proposed": result.proposed.value, "final": outcome.value, "reason": reason.strip()})
    return result


def confirm(regulator: User, evaluation_id: int) -> Evaluation:
    """Confirm the evaluation: its outcomes take effect (exit and rectify change the base's status, keep
    ends a rectification) and it never changes again. Of two regulators confirming at once, one records.

    Only a year that has ended is confirmed, from a draft run after it ended: mid-year figures would send
    almost every base to rectify or exit, and a confirmed year is never redone. A base is decided once a
    year: when another evaluation (the province's, say, and this the city's, or the other way round) has
    been confirmed since this draft was run and decided some of its bases, nothing is confirmed and the
    regulator is asked to run the draft again, which leaves those bases out. Refusing rather than skipping
    them keeps what the confirmed evaluation shows equal to what took effect.

    :raise LookupError: no such evaluation in the regulator's scope.
    :raise DomainError: already confirmed; the year has not ended; the draft was run before it ended; a
        base of the draft has been decided for the year by another confirmed evaluation.
    """
    if get(regulator, evaluation_id) is None:
        raise LookupError(evaluation_id)
    with locked(Evaluation, evaluation_id) as evaluation:
        _confirm_locked(regulator, evaluation)
    return evaluation


def _confirm_locked(regulator: User, evaluation: Evaluation) -> None:
    # Every refusal below raises after this update: locked() rolls the whole unit of work back.
    won = db.session.execute(  # type: ignore[attr-defined]  # an UPDATE's result counts rows (rowcount)
        sa.update(Evaluation)
        .where(Evaluation.id == evaluation.id, Evaluation.status == EvaluationStatus.DRAFT)
        .values(status=EvaluationStatus.CONFIRMED, confirmed_by_id=regulator.id, confirmed_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        raise DomainError("该评估已确认，不能重复确认")
    if evaluation.year >= clock.today().year:
        raise DomainError(f"{evaluation.year}年度尚未结束，不能确认评估结果")
    if _run_before_year_ended(evaluation):
        raise DomainError(f"本评估是{evaluation.year}年度结束前的试算，数据不完整，不能确认；请重新运行评估后再确认")
    # A city's draft run before province-level bases were left out still holds them: they are information,
    # not decisions, and leave the evaluation rather than take effect.
    for result in [r for r in evaluation.results if not policies.may_decide_outcome(regulator, evaluation, r.base)]:
        evaluation.results.remove(result)
    db.session.flush()
    _refuse_bases_decided_elsewhere(evaluation)
    effects = {Outcome.EXIT: BaseStatus.EXITED, Outcome.RECTIFY: BaseStatus.RECTIFYING, Outcome.KEEP: BaseStatus.ACTIVE}
    for result in evaluation.results:
        result.final = result.final or result.proposed
        if result.base.status == BaseStatus.EXITED:
            continue  # exited since the run: the decision is recorded, the base stays out
        reason = f"{evaluation.year} 年度评估结论：{result.final.label}"
        if result.override_reason:
            reason += f"（{result.override_reason}）"
        registry.apply_status(regulator, result.base, effects[result.final], reason, evaluation.id)
    outcomes = {}  # every decided base's admins hear its outcome, an exited base's too
    for result in evaluation.results:
        message = f"{result.base.name}的{evaluation.year} 年度评估结论已确认：{result.final.label}"
        if result.override_reason:
            message += f"（{result.override_reason}）"
        outcomes[result.base_id] = (message, f"/manage/bases/{result.base_id}")
    inbox.notify_base_admins(outcomes, kind=NoticeKind.EVALUATION)
    audit.record(regulator, "evaluation.confirm", evaluation, details={
        "year": evaluation.year, "outcomes": {r.base_id: r.final.value for r in evaluation.results}})


def _decided_by_province(base: TrainingBase) -> str:
    return f"{base.name}是{base.type.label}，年度评估结论由省级人社部门决定"


def decided_by_province(evaluation: Evaluation) -> list[tuple[TrainingBase, EvaluationResult | None]]:
    """For a city's evaluation, the province-level bases of the city it would have evaluated, listed for
    information (the city supervises them day to day, notice 004) with the province's result of the year,
    draft or confirmed, when there is one; nothing for a province's evaluation. One query."""
    region = evaluation.region
    if region.level == RegionLevel.PROVINCE or region.parent_id is None:
        return []
    in_provinces = sa.and_(
        EvaluationResult.base_id == TrainingBase.id,
        EvaluationResult.evaluation_id.in_(sa.select(Evaluation.id).where(
            Evaluation.year == evaluation.year, Evaluation.region_id == region.parent_id)),
    )
    listed = sa.and_(TrainingBase.region_id == region.id,
                     TrainingBase.type.in_(policies.PROVINCE_SET_TYPES),
                     TrainingBase.created_at < _year_end(evaluation.year),
                     sa.or_(TrainingBase.status != BaseStatus.EXITED, EvaluationResult.id.is_not(None)),
                     TrainingBase.id.not_in(sa.select(EvaluationResult.base_id)
                                            .where(EvaluationResult.evaluation_id == evaluation.id)))
    rows = db.session.execute(
        sa.select(TrainingBase, EvaluationResult).outerjoin(EvaluationResult, in_provinces).where(listed)
        .options(joinedload(EvaluationResult.evaluation)).order_by(TrainingBase.type, TrainingBase.id)
    ).all()
    return [(base, result) for base, result in rows]


def _refuse_bases_decided_elsewhere(evaluation: Evaluation) -> None:
    """Refuse when a base of the draft has a confirmed result for the year from another evaluation.

    The draft's bases are locked first, in id order: on PostgreSQL the lock held is the evaluation's row,
    and two evaluations of overlapping regions (the province's and a city's) confirmed at once would each
    find the other not yet confirmed. On SQLite the transaction already holds the database's write lock.

    :raise DomainError: naming the bases (a few of them) and asking for the draft to be run again.
    """
    of_draft = sa.select(EvaluationResult.base_id).where(EvaluationResult.evaluation_id == evaluation.id)
    db.session.execute(
        sa.select(TrainingBase.id).where(TrainingBase.id.in_(of_draft)).order_by(TrainingBase.id)
        .with_for_update(of=TrainingBase, key_share=True)
    ).all()
    decided = db.session.execute(
        sa.select(TrainingBase.name)
        .join(EvaluationResult, EvaluationResult.base_id == TrainingBase.id)
        .join(Evaluation, Evaluation.id == EvaluationResult.evaluation_id)
        .where(Evaluation.year == evaluation.year, Evaluation.status == EvaluationStatus.CONFIRMED,
               Evaluation.id != evaluation.id, TrainingBase.id.in_(of_draft))
        .distinct().order_by(TrainingBase.name)
    ).scalars().all()
    if decided:
        names = "、".join(decided[:5]) + (f"等 {len(decided)} 个基地" if len(decided) > 5 else "")
        raise DomainError(f"{names}的{evaluation.year}年度评估结论已由其他评估确认，本评估未确认；"
                          f"请重新运行本评估（已确认的基地不再列入）后再确认")


def evaluations_of(regulator: User) -> Sequence[Evaluation]:
    return db.session.execute(
        sa.select(Evaluation).where(Evaluation.region_id.in_(policies.region_ids_in_reach(regulator)))
        .options(joinedload(Evaluation.region)).order_by(Evaluation.year.desc(), Evaluation.id)
    ).scalars().all()


def published_list(year: int) -> dict:
    """The bases that passed the year's confirmed evaluations (and have not exited since), by type."""
    rows = db.session.execute(
        sa.select(TrainingBase)
        .join(EvaluationResult, EvaluationResult.base_id == TrainingBase.id)
        .join(Evaluation, Evaluation.id == EvaluationResult.evaluation_id)
        .where(Evaluation.year == year, Evaluation.status == EvaluationStatus.CONFIRMED,
               EvaluationResult.final == Outcome.KEEP, policies.listed_bases())
        .options(joinedload(TrainingBase.region).joinedload(Region.parent))
        .order_by(TrainingBase.type, TrainingBase.id)
    ).unique().scalars().all()
    grouped: dict[BaseType, list[TrainingBase]] = {}
    for base in rows:
        grouped.setdefault(base.type, []).append(base)
    return grouped


def published_years() -> Sequence[int]:
    return db.session.execute(
        sa.select(sa.distinct(Evaluation.year)).where(Evaluation.status == EvaluationStatus.CONFIRMED)
        .order_by(Evaluation.year.desc())
    ).scalars().all()


@dataclass
class Compliance:
    year: int
    trainees: int
    projects: int
    target_trainees: int | None
    target_projects: int | None
    projected_trainees: int
    projected_projects: int
    monthly_trainees: list[int]  # cumulative distinct trainees at the end of each month so far
    monthly_projects: list[int]

    @property
    def warnings(self) -> list[str]:
        found = []
        if self.target_trainees is not None and self.projected_trainees < self.target_trainees:
            found.append(f"按目前进度，全年培训约 {self.projected_trainees} 人，低于目标 {self.target_trainees} 人")
        if self.target_projects is not None and self.projected_projects < self.target_projects:
            found.append(f"按目前进度，全年举办项目约 {self.projected_projects} 个，低于目标 {self.target_projects} 个")
        return found


def compliance(base: TrainingBase) -> Compliance:
    """The base's trainees and projects so far this year against its targets, projected linearly to
    31 December, with the cumulative monthly series for the chart. Two queries: the month each trainee
    first completed and the month of each project's first completion (by the days learners completed, as
    ``figures`` counts), counted per month in one statement; the targets."""
    today = clock.today()
    year = today.year
    start = date(year, 1, 1)
    completed = sa.and_(Enrollment.status == EnrollmentStatus.COMPLETED, Course.base_id == base.id,
                        Course.end_date >= start, Enrollment.completed_on >= start, Enrollment.completed_on <= today)
    month = sa.extract("month", Enrollment.completed_on)
    completions = sa.select().select_from(Enrollment).join(Course, Course.id == Enrollment.course_id).where(completed)
    firsts = sa.union_all(
        completions.add_columns(sa.func.min(month).label("m"), sa.literal(1).label("trainee"),
                                sa.literal(0).label("project")).group_by(Enrollment.learner_id),
        completions.add_columns(sa.func.min(month), sa.literal(0), sa.literal(1)).group_by(Course.id),
    ).subquery()
    by_month = db.session.execute(
        sa.select(firsts.c.m, sa.func.sum(firsts.c.trainee), sa.func.sum(firsts.c.project)).group_by(firsts.c.m)
    ).all()
    new_trainees = {m: int(t) for m, t, _p in by_month}
    projects = {m: int(p) for m, _t, p in by_month}
    monthly_trainees, monthly_projects, t_total, p_total = [], [], 0, 0
    for m in range(1, today.month + 1):
        t_total += new_trainees.get(m, 0)
        p_total += projects.get(m, 0)
        monthly_trainees.append(t_total)
        monthly_projects.append(p_total)
    elapsed = (today - start).days + 1
    length = 366 if calendar.isleap(year) else 365
    target = registry.target_for(base.type, year, base.region)
    return Compliance(
        year=year, trainees=t_total, projects=p_total,
        target_trainees=target.min_trainees if target else None,
        target_projects=target.min_projects if target else None,
        projected_trainees=round(t_total * length / elapsed), projected_projects=round(p_total * length / elapsed),
        monthly_trainees=monthly_trainees, monthly_projects=monthly_projects,
    )
