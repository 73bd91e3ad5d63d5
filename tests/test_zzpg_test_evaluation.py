"""The annual evaluation: trainees and projects counted by the database at the target boundaries, the rubric
as data, overrides, confirmation and its effects, concurrency, the published list and `flask evaluate`."""

import re
from datetime import date, datetime, timedelta

import openpyxl
import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    BaseStatus,
    BaseStatusChange,
    BaseType,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    Evaluation,
    EvaluationResult,
    EvaluationStatus,
    Outcome,
    Role,
    Rubric,
    Target,
    TrainingBase,
    User,
)
from seeding import demo
from services import evaluation, registry, rules, target_edits
from services.errors import DomainError
from services.exports import EVALUATION_COLUMNS
from services.infra import clock
from tests.conftest import PASSWORD, bulk_learners, count_queries, login, rubric_in_force
from tests.conftest import after_the_year as year_ended

# A year the seeded targets (data/targets.csv) and rubrics cover; bases are made as designated on 1 January.
YEAR = 2026
DESIGNATED = datetime(YEAR, 1, 1)
FULL_DISCLOSURE = {key: "已公开" for key in ("scope", "content", "fee_items", "training_plan", "staff", "rules")}


# --- building data fast -----------------------------------------------------------------------------------

def add_enrollments(course, learner_ids, status=EnrollmentStatus.COMPLETED, rating=None) -> None:
    """Enrollments of ``learner_ids`` in ``course`` inserted in one statement (completed by default, on the
    course's last day: the day a completion counts by, services.completions)."""
    if not learner_ids:
        return
    db.session.execute(sa.insert(Enrollment), [
        {"course_id": course.id, "learner_id": learner_id, "status": status, "source": EnrollmentSource.IMPORT,
         "rating": rating, "completed_on": course.end_date if status == EnrollmentStatus.COMPLETED else None}
        for learner_id in learner_ids
    ])
    db.session.commit()


def spread(courses, learner_ids) -> None:
    """Each learner completes one of ``courses``, round robin (every course gets one if there are enough)."""
    for index, course in enumerate(courses):
        add_enrollments(course, learner_ids[index::len(courses)])


@pytest.fixture
def after_the_year(monkeypatch):
    """Mid-January after YEAR, in Shanghai (clock.today) and in stored UTC (the evaluation's run_at): the year
    has ended, so that its evaluation, run now, may be confirmed."""
    year_ended(monkeypatch, YEAR)


@pytest.fixture
def during_the_year(monkeypatch):
    """6 December of YEAR: the year is still running."""
    monkeypatch.setattr(clock, "today", lambda: date(YEAR, 12, 6))
    monkeypatch.setattr(evaluation, "utcnow", lambda: datetime(YEAR, 12, 6, 1, 0))


@pytest.fixture
def reference(app, city):
    """The reference data every installation loads (regions, targets, rubrics: data/*.csv), and the test
    province given Shandong's targets (2000 / 3000 / 4, notice 004) and the default rubric as its own: no
    rule applies everywhere (issue 14), so the tests' province states the figures they measure against."""
    regions = demo.seed_reference()
    for target in db.session.execute(sa.select(Target).where(Target.region_id == regions["370000"].id)).scalars().all():
        db.session.add(Target(base_type=target.base_type, year=target.year, region_id=city.parent_id,
                              min_trainees=target.min_trainees, min_projects=target.min_projects))
    for rubric in db.session.execute(sa.select(Rubric).where(Rubric.region_id == regions["510000"].id)).scalars().all():
        db.session.add(Rubric(region_id=city.parent_id, year=rubric.year, unconfirmed=[],
                              **{key: getattr(rubric, key) for key in rules.RUBRIC_FIELDS}))
    db.session.commit()
    return regions


@pytest.fixture
def regulator(make_user, city):
    return make_user(Role.REGULATOR, region_id=city.id, name="成都市人社局 王科长")


@pytest.fixture
def evaluated_base(make_base):
    """A base designated at the start of YEAR, its disclosure complete unless told otherwise."""

    def make(base_type=BaseType.PROVINCIAL, disclosure=True, **kw):
        return make_base(type=base_type, created_at=DESIGNATED, **(FULL_DISCLOSURE if disclosure else {}), **kw)

    return make


@pytest.fixture
def year_courses(make_course):
    """``n`` face-to-face courses of ``base`` that ran (and ended) in YEAR, with approved class plans."""

    def make(base, n=4, year=YEAR):
        return [
            make_course(base, start_date=date(year, 3, 1) + timedelta(days=7 * i),
                        end_date=date(year, 3, 2) + timedelta(days=7 * i), capacity=None)
            for i in range(n)
        ]

    return make


def province_regulator(city) -> User:
    """The regulator of the city's province (made on first call), who decides the status of its province-level
    bases and runs the evaluation that decides them."""
    email = f"province-{city.parent_id}@test.example"
    user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
    if user is None:
        user = User(name="四川省人社厅 赵处长", email=email, role=Role.REGULATOR, region_id=city.parent_id)
        user.set_password(PASSWORD)  # signs in like the factories' users
        db.session.add(user)
        db.session.commit()
    return user


@pytest.fixture
def province(city) -> User:
    """Province-level bases are decided by the province's evaluation (policies.region_decides_type): tests that
    decide them run and confirm the province's, which also holds the city-level bases of its cities."""
    return province_regulator(city)


def results_by_base(results) -> dict[int, EvaluationResult]:
    return {r.base_id: r for r in results}


def evaluate(base) -> EvaluationResult:
    return results_by_base(evaluation.compute(YEAR, base.region_id))[base.id]


def status_changes(base_id: int) -> list[BaseStatusChange]:
    return db.session.execute(
        sa.select(BaseStatusChange).where(BaseStatusChange.base_id == base_id).order_by(BaseStatusChange.id)
    ).scalars().all()


def fresh_base(base_id: int) -> TrainingBase:
    db.session.expire_all()
    return db.session.get(TrainingBase, base_id)


# --- the target boundaries --------------------------------------------------------------------------------

@pytest.mark.parametrize(("trainees", "missed", "proposed"), [
    (1999, True, Outcome.RECTIFY),
    (2000, False, Outcome.KEEP),
])
def test_provincial_base_needs_2000_distinct_trainees(reference, evaluated_base, year_courses, trainees, missed,
                                                      proposed):
    base = evaluated_base()
    spread(year_courses(base), bulk_learners(trainees))

    result = evaluate(base)

    assert (result.trainees, result.projects) == (trainees, 4)
    assert (result.target_trainees, result.target_projects) == (2000, 4)
    assert result.missed_target is missed
    assert result.proposed == proposed
    # The rest of the work is excellent: the score alone would keep the base, the missed target does not.
    assert result.score >= 90


@pytest.mark.parametrize(("created_at", "evaluated_in"), [
    (datetime(YEAR, 12, 31, 15, 59), YEAR),  # 23:59 on 31 December in Shanghai
    (datetime(YEAR, 12, 31, 20, 0), YEAR + 1),  # 04:00 on 1 January in Shanghai, though 31 December in UTC
])
def test_a_base_is_evaluated_from_the_year_it_was_designated_in_local_time(reference, make_base, city, created_at,
                                                                          evaluated_in):
    base = make_base(created_at=created_at)

    in_year = {r.base_id for r in evaluation.compute(YEAR, city.id)}
    in_next = {r.base_id for r in evaluation.compute(YEAR + 1, city.id)}

    assert (base.id in in_year, base.id in in_next) == (evaluated_in == YEAR, True)


def test_learner_with_three_completed_courses_at_one_base_counts_once(reference, evaluated_base, year_courses):
    base, other = evaluated_base(), evaluated_base()
    courses = year_courses(base, n=3)
    learner, second = bulk_learners(2)
    for course in courses:
        add_enrollments(course, [learner])
    add_enrollments(courses[0], [second])
    add_enrollments(year_courses(other, n=1)[0], [learner])

    results = results_by_base(evaluation.compute(YEAR, base.region_id))

    assert (results[base.id].trainees, results[base.id].projects) == (2, 3)
    # Once per base: the same learner counts again at another base.
    assert results[other.id].trainees == 1


@pytest.mark.parametrize(("projects", "missed", "proposed"), [
    (3, True, Outcome.RECTIFY),
    (4, False, Outcome.KEEP),
])
def test_provincial_base_needs_4_projects(reference, evaluated_base, year_courses, make_course, projects, missed,
                                          proposed):
    base = evaluated_base()
    learners = bulk_learners(2002)
    spread(year_courses(base, n=projects), learners[:2000])
    # Not projects of the year: no completion, only a confirmed seat, ended the year before, ends next year.
    year_courses(base, n=1)
    add_enrollments(year_courses(base, n=1)[0], learners[2000:2001], status=EnrollmentStatus.CONFIRMED)
    add_enrollments(year_courses(base, n=1, year=YEAR - 1)[0], learners[2001:])
    add_enrollments(year_courses(base, n=1, year=YEAR + 1)[0], learners[2001:])

    result = evaluate(base)

    assert (result.trainees, result.projects) == (2000, projects)
    assert result.missed_target is missed
    assert result.proposed == proposed


def test_rural_revitalization_base_with_2500_trainees_misses_its_3000(reference, evaluated_base, year_courses):
    base = evaluated_base(BaseType.RURAL_REVITALIZATION)
    spread(year_courses(base), bulk_learners(2500))

    result = evaluate(base)

    assert (result.trainees, result.target_trainees) == (2500, 3000)
    assert result.missed_target
    assert result.proposed != Outcome.KEEP


def test_counting_runs_in_the_same_few_queries_for_10_and_2000_trainees(reference, city, evaluated_base,
                                                                        year_courses):
    base = evaluated_base()
    courses = year_courses(base)
    learners = bulk_learners(2000)
    in_city = TrainingBase.region_id == city.id
    spread(courses, learners[:10])

    with count_queries(db.engine) as small:
        few = evaluation.figures(YEAR, in_city)
    with count_queries(db.engine) as small_run:
        evaluation.compute(YEAR, city.id)
    spread(courses, learners[10:])
    with count_queries(db.engine) as large:
        many = evaluation.figures(YEAR, in_city)
    with count_queries(db.engine) as large_run:
        evaluation.compute(YEAR, city.id)

    assert few[base.id]["trainees"] == 10
    assert many[base.id]["trainees"] == 2000
    assert len(small) == len(large) <= 3
    assert len(small_run) == len(large_run)


def test_evaluation_runs_in_the_same_number_of_queries_for_2_and_8_bases(reference, city, evaluated_base,
                                                                         year_courses):
    """House rule: a page issues a fixed number of queries whatever the data size (here: bases)."""
    learners = bulk_learners(8)
    for learner in learners[:2]:
        add_enrollments(year_courses(evaluated_base(), n=1)[0], [learner])
    with count_queries(db.engine) as two:
        assert len(evaluation.compute(YEAR, city.id)) == 2
    for learner in learners[2:]:
        add_enrollments(year_courses(evaluated_base(), n=1)[0], [learner])
    with count_queries(db.engine) as eight:
        assert len(evaluation.compute(YEAR, city.id)) == 8

    assert len(eight) == len(two), "\n".join(eight)


def test_counting_reads_enrollments_from_the_covering_index_without_sorting(reference, city, evaluated_base,
                                                                          year_courses):
    """Performance guard (issue 6, R4): both counting queries read the enrollments from
    ix_enrollment_course_status_completed_on alone, never the table, and the trainees' GROUP BY is not sorted:
    the evaluation costs about one plain distinct count of the trainees."""
    spread(year_courses(evaluated_base()), bulk_learners(40))
    executed = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        executed.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        evaluation.figures(YEAR, TrainingBase.region_id == city.id)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)

    plans = [
        " | ".join(row[-1] for row in db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {s}", p))
        for s, p in executed if "enrollment" in s
    ]
    assert len(plans) == 2, plans
    for plan in plans:
        assert "COVERING INDEX ix_enrollment_course_status_completed_on" in plan, plan
        assert "SCAN enrollment" not in plan and "enrollment USING INDEX" not in plan, plan
    assert "TEMP B-TREE FOR GROUP BY" not in plans[0], plans[0]


# --- score and outcome: the rubric is data ----------------------------------------------------------------

def test_score_weighs_each_figure_as_the_rubric_says(reference):
    rubric = rubric_in_force(YEAR)
    target = Target(base_type=BaseType.PROVINCIAL, year=YEAR, min_trainees=2000, min_projects=4)
    figures = {"trainees": 2000, "projects": 4, "completed": 1, "seated": 2, "rating": 4.0, "overdue_plans": 1}

    score, outcome, missed = evaluation.score_and_outcome(figures, target, 100.0, rubric)

    # (30×100 + 20×100 + 20×50 + 15×80 + 15×100) / 100 − 5 × 1 overdue plan
    assert score == 82.0
    assert (outcome, missed) == (Outcome.KEEP, False)


@pytest.mark.parametrize(("keep", "exit_", "expected"), [
    (75, 50, Outcome.KEEP),
    (95, 50, Outcome.RECTIFY),
    (99, 95, Outcome.EXIT),
])
def test_outcome_follows_the_thresholds_of_the_years_rubric_row(reference, evaluated_base, year_courses, keep,
                                                                 exit_, expected):
    base = evaluated_base()
    spread(year_courses(base), bulk_learners(2000))
    db.session.execute(sa.update(Rubric).where(Rubric.year == YEAR).values(keep_threshold=keep, exit_threshold=exit_))
    db.session.commit()

    result = evaluate(base)

    assert result.score == 94.0  # unrated courses count 60 of 100 for the rating share
    assert result.proposed == expected


def test_changing_a_weight_in_the_database_changes_score_and_outcome(reference, evaluated_base, year_courses):
    base = evaluated_base(disclosure=False)  # only the contact phone of seven items is public
    spread(year_courses(base), bulk_learners(2000))
    before = evaluate(base)

    db.session.execute(sa.update(Rubric).where(Rubric.year == YEAR).values(weight_disclosure=300))
    db.session.commit()
    after = evaluate(base)

    assert (before.score, before.proposed) == (81.1, Outcome.KEEP)
    assert after.score < 50
    assert after.proposed == Outcome.EXIT


def test_completion_rate_and_average_rating_come_from_the_enrollments(reference, evaluated_base, year_courses):
    base = evaluated_base()
    courses = year_courses(base)
    learners = bulk_learners(2600)
    for index, course in enumerate(courses):
        add_enrollments(course, learners[:2000][index::4], rating=4)
    add_enrollments(courses[0], learners[2000:2500], status=EnrollmentStatus.CONFIRMED)  # never finished
    add_enrollments(courses[1], learners[2500:], status=EnrollmentStatus.CANCELLED)  # left: not counted

    result = evaluate(base)

    assert (result.completion_rate, result.average_rating, result.disclosure_rate) == (80.0, 4.0, 100.0)
    # (30×100 + 20×100 + 20×80 + 15×80 + 15×100) / 100
    assert result.score == 93.0


def test_missed_target_is_never_keep_even_with_full_marks(reference):
    rubric = rubric_in_force(YEAR)
    target = Target(base_type=BaseType.PROVINCIAL, year=YEAR, min_trainees=2000, min_projects=4)
    figures = {"trainees": 1999, "projects": 4, "completed": 10, "seated": 10, "rating": 5.0, "overdue_plans": 0}

    score, outcome, missed = evaluation.score_and_outcome(figures, target, 100.0, rubric)

    assert score == 100.0
    assert missed
    assert outcome == Outcome.RECTIFY


# --- running, overriding and confirming ------------------------------------------------------------------

@pytest.fixture
def three_bases(reference, evaluated_base, year_courses, city):
    """Bases whose proposals are keep (a rectifying base that now meets its target), rectify (one trainee
    short) and exit (a city-level base that did nothing and disclosed nothing)."""
    learners = bulk_learners(2000)
    kept = evaluated_base(status=BaseStatus.RECTIFYING)
    spread(year_courses(kept), learners)
    short = evaluated_base()
    spread(year_courses(short), learners[:1999])
    idle = evaluated_base(BaseType.CITY, disclosure=False)
    return kept, short, idle


def test_run_proposes_keep_rectify_and_exit(province, three_bases, city):
    kept, short, idle = three_bases

    found = evaluation.run(province, YEAR, city.parent_id)

    results = results_by_base(found.results)
    assert found.status == EvaluationStatus.DRAFT
    assert [results[b.id].proposed for b in three_bases] == [Outcome.KEEP, Outcome.RECTIFY, Outcome.EXIT]
    assert all(r.final is None for r in found.results)


@pytest.mark.parametrize("reason", ["", "   "])
def test_override_without_a_reason_is_refused(regulator, three_bases, city, reason):
    found = evaluation.run(regulator, YEAR, city.id)
    idle = results_by_base(found.results)[three_bases[2].id]

    with pytest.raises(DomainError, match="理由"):
        evaluation.override(regulator, idle.id, Outcome.RECTIFY, reason)

    db.session.expire_all()
    assert db.session.get(EvaluationResult, idle.id).final is None


def test_keep_is_refused_for_a_base_that_missed_its_target(province, three_bases, city):
    found = evaluation.run(province, YEAR, city.parent_id)
    short = results_by_base(found.results)[three_bases[1].id]

    with pytest.raises(DomainError, match="不能评为合格"):
        evaluation.override(province, short.id, Outcome.KEEP, "只差一人，酌情合格")

    db.session.expire_all()
    assert db.session.get(EvaluationResult, short.id).final is None


def test_override_with_reason_is_kept_and_choosing_the_proposal_again_clears_it(regulator, three_bases, city):
    found = evaluation.run(regulator, YEAR, city.id)
    idle = results_by_base(found.results)[three_bases[2].id]

    evaluation.override(regulator, idle.id, Outcome.RECTIFY, "新认定基地，给予一年整改期")
    assert (idle.final, idle.override_reason, idle.outcome) == (Outcome.RECTIFY, "新认定基地，给予一年整改期",
                                                                Outcome.RECTIFY)

    evaluation.override(regulator, idle.id, Outcome.EXIT, "")
    assert (idle.final, idle.override_reason, idle.outcome) == (None, "", Outcome.EXIT)


def test_confirm_applies_outcomes_and_records_each_change_with_the_evaluation(province, three_bases, city,
                                                                              after_the_year):
    kept, short, idle = three_bases
    found = evaluation.run(province, YEAR, city.parent_id)
    idle_result = results_by_base(found.results)[idle.id]
    evaluation.override(province, idle_result.id, Outcome.RECTIFY, "新认定基地，给予整改期")

    evaluation.confirm(province, found.id)

    assert fresh_base(kept.id).status == BaseStatus.ACTIVE  # keep ends a rectification
    assert fresh_base(short.id).status == BaseStatus.RECTIFYING
    assert fresh_base(idle.id).status == BaseStatus.RECTIFYING
    for base, before, after in [(kept, BaseStatus.RECTIFYING, BaseStatus.ACTIVE),
                                (short, BaseStatus.ACTIVE, BaseStatus.RECTIFYING),
                                (idle, BaseStatus.ACTIVE, BaseStatus.RECTIFYING)]:
        (change,) = status_changes(base.id)
        assert (change.from_status, change.to_status) == (before, after)
        assert (change.evaluation_id, change.actor_id) == (found.id, province.id)
        assert change.at is not None
        assert str(YEAR) in change.reason
    assert "新认定基地，给予整改期" in status_changes(idle.id)[0].reason
    confirmed = db.session.get(Evaluation, found.id)
    assert (confirmed.status, confirmed.confirmed_by_id) == (EvaluationStatus.CONFIRMED, province.id)
    assert {r.base_id: r.final for r in confirmed.results} == {
        kept.id: Outcome.KEEP, short.id: Outcome.RECTIFY, idle.id: Outcome.RECTIFY}


def test_confirmed_exit_makes_the_base_exited(regulator, three_bases, city, after_the_year):
    idle = three_bases[2]
    found = evaluation.run(regulator, YEAR, city.id)

    evaluation.confirm(regulator, found.id)

    assert fresh_base(idle.id).status == BaseStatus.EXITED
    (change,) = status_changes(idle.id)
    assert (change.to_status, change.evaluation_id) == (BaseStatus.EXITED, found.id)
    assert "退出" in change.reason


def test_second_confirm_is_refused_and_changes_nothing(regulator, three_bases, city, make_user, after_the_year):
    found = evaluation.run(regulator, YEAR, city.id)
    evaluation.confirm(regulator, found.id)
    changes = db.session.scalar(sa.select(sa.func.count(BaseStatusChange.id)))

    with pytest.raises(DomainError, match="已确认"):
        evaluation.confirm(make_user(Role.REGULATOR, region_id=city.id), found.id)

    assert db.session.scalar(sa.select(sa.func.count(BaseStatusChange.id))) == changes
    assert db.session.get(Evaluation, found.id).confirmed_by_id == regulator.id


def test_override_after_confirmation_is_refused(province, three_bases, city, after_the_year):
    found = evaluation.run(province, YEAR, city.parent_id)
    evaluation.confirm(province, found.id)
    short = results_by_base(found.results)[three_bases[1].id]

    with pytest.raises(DomainError, match="已确认"):
        evaluation.override(province, short.id, Outcome.EXIT, "改判")


def test_rerunning_a_confirmed_year_changes_nothing(province, three_bases, city, year_courses, after_the_year):
    kept, short, idle = three_bases
    found = evaluation.run(province, YEAR, city.parent_id)
    evaluation.confirm(province, found.id)
    before = [(r.id, r.base_id, r.trainees, r.projects, r.score, r.final) for r in found.results]
    changes = db.session.scalar(sa.select(sa.func.count(BaseStatusChange.id)))
    # New completions arrive after the decision: the short base would now reach its target.
    add_enrollments(year_courses(short, n=1)[0], bulk_learners(5))

    again = evaluation.run(province, YEAR, city.parent_id)

    db.session.expire_all()
    again = db.session.get(Evaluation, again.id)
    assert again.id == found.id
    assert again.status == EvaluationStatus.CONFIRMED
    assert [(r.id, r.base_id, r.trainees, r.projects, r.score, r.final) for r in again.results] == before
    assert db.session.scalar(sa.select(sa.func.count(BaseStatusChange.id))) == changes
    assert db.session.scalar(sa.select(sa.func.count(Evaluation.id))) == 1


def test_rerunning_a_draft_recomputes_figures_and_keeps_the_overrides(province, three_bases, city, year_courses):
    kept, short, idle = three_bases
    found = evaluation.run(province, YEAR, city.parent_id)
    evaluation.override(province, results_by_base(found.results)[idle.id].id, Outcome.RECTIFY, "给予整改期")
    add_enrollments(year_courses(short, n=1)[0], bulk_learners(5))

    again = evaluation.run(province, YEAR, city.parent_id)

    results = results_by_base(again.results)
    assert again.id == found.id
    assert (results[short.id].trainees, results[short.id].projects) == (2004, 5)
    assert results[short.id].proposed == Outcome.KEEP
    assert (results[idle.id].final, results[idle.id].override_reason) == (Outcome.RECTIFY, "给予整改期")
    assert results[kept.id].final is None
    assert db.session.scalar(sa.select(sa.func.count(EvaluationResult.id))) == 3


def test_rerun_does_not_keep_a_keep_override_for_a_base_that_now_misses_its_target(
        reference, regulator, city, evaluated_base, year_courses):
    """A missed target can never be keep: not even through an override written before the target was raised."""
    base = evaluated_base(BaseType.CITY, disclosure=False)
    course = year_courses(base, n=1)[0]
    learners = bulk_learners(10)
    add_enrollments(course, learners[:1])
    add_enrollments(course, learners[1:], status=EnrollmentStatus.CONFIRMED)  # nine never finished
    target_edits.save(regulator, BaseType.CITY, YEAR, 1, 1, seen=None)
    found = evaluation.run(regulator, YEAR, city.id)
    (result,) = found.results
    assert (result.missed_target, result.proposed) == (False, Outcome.RECTIFY)
    evaluation.override(regulator, result.id, Outcome.KEEP, "结业率低系疫情所致，酌情合格")
    target_edits.save(regulator, BaseType.CITY, YEAR, 5, 1, seen=target_edits.Figures(1, 1))

    again = evaluation.run(regulator, YEAR, city.id)

    (result,) = again.results
    assert result.missed_target
    assert result.outcome != Outcome.KEEP


def test_confirm_does_not_bring_back_a_base_that_exited_after_the_run(province, three_bases, city, after_the_year):
    kept = three_bases[0]
    found = evaluation.run(province, YEAR, city.parent_id)
    assert results_by_base(found.results)[kept.id].proposed == Outcome.KEEP
    # a province-level base's status is its province's to decide (policies.may_govern)
    registry.change_status(province_regulator(city), kept.id, BaseStatus.EXITED, "违规收费，撤销基地资格")

    evaluation.confirm(province, found.id)

    assert fresh_base(kept.id).status == BaseStatus.EXITED
    assert kept.id not in {b.id for rows in evaluation.published_list(YEAR).values() for b in rows}


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


# --- the published list -------------------------------------------------------------------------------------

def test_published_list_shows_the_bases_kept_and_hides_exited_ones(app, client, province, three_bases, city,
                                                                   evaluated_base, year_courses, after_the_year):
    kept, short, idle = three_bases
    found = evaluation.run(province, YEAR, city.parent_id)
    draft_page = client.get(f"/list/{YEAR}").get_data(as_text=True)
    evaluation.confirm(province, found.id)

    listed = client.get(f"/list/{YEAR}")

    html = listed.get_data(as_text=True)
    assert listed.status_code == 200
    assert kept.name not in draft_page  # a draft publishes nothing
    assert kept.name in html
    assert short.name not in html and idle.name not in html
    registry.change_status(province_regulator(city), kept.id, BaseStatus.EXITED, "违规颁发证书，撤销基地资格")
    assert kept.name not in client.get(f"/list/{YEAR}").get_data(as_text=True)
    assert kept.name not in client.get("/bases").get_data(as_text=True)


# --- flask evaluate ------------------------------------------------------------------------------------------

def test_cli_prints_the_bases_and_writes_a_workbook(app, three_bases, city, tmp_path):
    kept, short, idle = three_bases
    out = tmp_path / "evaluation.xlsx"

    # The province's evaluation: two of the three are province-level bases, which a city's leaves out.
    result = app.test_cli_runner().invoke(args=["evaluate", "--year", str(YEAR), "--region", city.parent.code,
                                                "--out", str(out)])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "3 个基地" in lines[0]
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[2:5]}
    assert rows[kept.name][1:3] == ["2000", "4"] and rows[kept.name][-1] == Outcome.KEEP.label
    assert rows[short.name][1:3] == ["1999", "4"] and rows[short.name][-1] == Outcome.RECTIFY.label
    assert rows[idle.name][-1] == Outcome.EXIT.label
    sheet = openpyxl.load_workbook(out).active
    assert [c.value for c in sheet[2]] == EVALUATION_COLUMNS
    assert [r[1] for r in sheet.iter_rows(min_row=3, values_only=True)] == [kept.name, short.name, idle.name]
    # A trial run: nothing saved, nothing changed.
    assert db.session.scalar(sa.select(sa.func.count(Evaluation.id))) == 0


def test_cli_for_a_city_leaves_out_the_province_level_bases_as_the_page_does(app, three_bases, city, make_base,
                                                                            make_user):
    """A second read of issue 13: the command listed the province-level bases of the city, the page's run
    leaves them to the province (policies.region_decides_type, through evaluation.decided_results)."""
    kept, short, idle = three_bases  # kept and short are province-level, idle is the city's
    rural = make_base(name="乡村振兴基地乙", type=BaseType.RURAL_REVITALIZATION)
    db.session.commit()
    page = evaluation.run(make_user(Role.REGULATOR, region_id=city.id), YEAR, city.id)

    result = app.test_cli_runner().invoke(args=["evaluate", "--year", str(YEAR), "--region", city.code])

    assert result.exit_code == 0, result.output
    listed = {line.split("\t")[0] for line in result.output.splitlines()[2:] if "\t" in line}
    assert listed == {r.base.name for r in page.results} == {idle.name}
    assert "1 个基地" in result.output and "由省级人社部门评估" in result.output
    province = app.test_cli_runner().invoke(args=["evaluate", "--year", str(YEAR), "--region", city.parent.code])
    assert all(base.name in province.output for base in (kept, short, idle, rural))


def test_cli_with_an_unknown_region_code_fails_with_a_message(app, reference):
    result = app.test_cli_runner().invoke(args=["evaluate", "--year", str(YEAR), "--region", "000000"])

    assert result.exit_code != 0
    assert re.search("没有代码为 000000 的地区", result.output)


@pytest.fixture
def app(pg_app):
    """These tests again on PostgreSQL (temporary copy, not committed)."""
    return pg_app
