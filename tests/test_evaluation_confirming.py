"""Confirming the annual evaluation: only a year that has ended, a base decided once a year, two regulators
confirming at once, and the evaluation page and its export when there is no data. Split from
tests/test_evaluation.py (issue 15)."""

import re
import threading
from datetime import date, datetime
from io import BytesIO

import openpyxl
import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    AuditLog,
    BaseStatus,
    BaseStatusChange,
    BaseType,
    Evaluation,
    EvaluationResult,
    EvaluationStatus,
    Outcome,
    Role,
    TrainingBase,
    User,
)
from services import evaluation
from services.errors import DomainError
from services.exports import EVALUATION_COLUMNS
from services.infra import clock
from tests.conftest import bulk_learners
from tests.test_evaluation import (  # noqa: F401  fixtures and helpers shared with test_evaluation
    DESIGNATED,
    YEAR,
    add_enrollments,
    after_the_year,
    during_the_year,
    evaluate,
    evaluated_base,
    fresh_base,
    province,
    province_regulator,
    reference,
    regulator,
    results_by_base,
    signed_in,
    spread,
    status_changes,
    three_bases,
    year_courses,
)

# --- only a year that has ended is confirmed ------------------------------------------------------------------

def snapshot_of(bases) -> list:
    """The bases' statuses and the status changes recorded, read fresh."""
    db.session.expire_all()
    return [fresh_base(base.id).status for base in bases] + [db.session.scalar(sa.select(sa.func.count(
        BaseStatusChange.id)))]


def test_confirming_the_running_year_is_refused_and_changes_no_base(province, three_bases, city, during_the_year):
    found = evaluation.run(province, YEAR, city.parent_id)
    before = snapshot_of(three_bases)

    with pytest.raises(DomainError, match=f"{YEAR}年度尚未结束，不能确认评估结果"):
        evaluation.confirm(province, found.id)

    assert snapshot_of(three_bases) == before
    assert db.session.get(Evaluation, found.id).status == EvaluationStatus.DRAFT
    assert all(r.final is None for r in db.session.get(Evaluation, found.id).results)


def test_running_a_later_year_is_refused(app, regulator, three_bases, city, during_the_year):
    with pytest.raises(DomainError, match=f"{YEAR + 1}年度尚未开始") as refused:
        evaluation.run(regulator, YEAR + 1, city.id)
    client = signed_in(app, regulator)

    response = client.post("/regulator/evaluations", data={"year": str(YEAR + 1), "region": str(city.id)},
                           follow_redirects=True)

    assert refused.value.field == "year"
    assert response.status_code == 200
    assert any(f"{YEAR + 1}年度尚未开始" in m for m in flashed(response.get_data(as_text=True)))
    assert db.session.scalar(sa.select(sa.func.count(Evaluation.id))) == 0


def test_a_trial_of_the_running_year_says_so_and_cannot_be_confirmed_on_the_page(app, regulator, three_bases, city,
                                                                                during_the_year):
    client = signed_in(app, regulator)
    form = client.get("/regulator/").get_data(as_text=True)
    ran = client.post("/regulator/evaluations", data={"year": str(YEAR), "region": str(city.id)})
    found = db.session.execute(sa.select(Evaluation).where(Evaluation.year == YEAR)).scalar_one()

    page = client.get(ran.location).get_data(as_text=True)
    refused = client.post(f"/regulator/evaluations/{found.id}/confirm", data={"confirmed": "y"}, follow_redirects=True)

    assert re.search(rf'name="year"[^>]*value="{YEAR - 1}"', form)  # the form proposes last year
    assert 'id="evaluation-trial"' in page and "试算" in page
    assert 'id="evaluation-status">试算</span>' in page  # the badge too, not 待确认 (issue 19, item 6)
    assert 'id="confirm-evaluation"' not in page
    listed = client.get("/regulator/").get_data(as_text=True)
    assert re.search(rf'{YEAR} 年度 · [^<]*</a><span class="badge[^"]*">试算</span>', listed)  # not "草稿"
    assert refused.status_code == 200
    assert any("尚未结束" in m for m in flashed(refused.get_data(as_text=True)))
    assert db.session.get(Evaluation, found.id).status == EvaluationStatus.DRAFT
    assert db.session.scalar(sa.select(sa.func.count(BaseStatusChange.id))) == 0


def test_a_trial_run_during_the_year_must_be_run_again_before_it_is_confirmed(monkeypatch, province, three_bases,
                                                                               city, during_the_year):
    """The trial's figures stop in December; confirmed in January as it stands, it would decide on them."""
    kept, short, idle = three_bases
    trial = evaluation.run(province, YEAR, city.parent_id)
    evaluation.override(province, results_by_base(trial.results)[idle.id].id, Outcome.RECTIFY, "给予整改期")
    monkeypatch.setattr(clock, "today", lambda: date(YEAR + 1, 1, 15))
    monkeypatch.setattr(evaluation, "utcnow", lambda: datetime(YEAR + 1, 1, 15, 2, 0))
    assert evaluation.is_trial(db.session.get(Evaluation, trial.id))

    with pytest.raises(DomainError, match="试算.*重新运行"):
        evaluation.confirm(province, trial.id)
    assert db.session.scalar(sa.select(sa.func.count(BaseStatusChange.id))) == 0

    again = evaluation.run(province, YEAR, city.parent_id)
    assert again.id == trial.id and not evaluation.is_trial(again)
    evaluation.confirm(province, again.id)

    assert [fresh_base(b.id).status for b in three_bases] == [BaseStatus.ACTIVE, BaseStatus.RECTIFYING,
                                                              BaseStatus.RECTIFYING]


# --- a base is decided once a year ----------------------------------------------------------------------------

@pytest.fixture
def province_and_city_drafts(make_user, make_base, city, after_the_year):
    """Base X of the city and base Z of the province itself, both proposed for exit; the province regulator's
    province-wide draft, run first; then the city regulator's draft, with X overridden to rectify, confirmed."""
    province = city.parent
    x = make_base(name="基地X", created_at=DESIGNATED)
    z = make_base(name="基地Z", created_at=DESIGNATED, region_id=province.id)
    province_regulator = make_user(Role.REGULATOR, region_id=province.id)
    city_regulator = make_user(Role.REGULATOR, region_id=city.id)
    province_draft = evaluation.run(province_regulator, YEAR, province.id)
    assert set(results_by_base(province_draft.results)) == {x.id, z.id}
    city_draft = evaluation.run(city_regulator, YEAR, city.id)
    evaluation.override(city_regulator, results_by_base(city_draft.results)[x.id].id, Outcome.RECTIFY, "给予整改期")
    evaluation.confirm(city_regulator, city_draft.id)
    return x, z, province_regulator, province_draft.id, city_draft.id


def test_confirming_a_draft_with_a_base_decided_since_by_another_evaluation_is_refused(province_and_city_drafts):
    x, z, province_regulator, province_draft_id, city_draft_id = province_and_city_drafts

    with pytest.raises(DomainError, match=f"基地X的{YEAR}年度评估结论已由其他评估确认.*重新运行"):
        evaluation.confirm(province_regulator, province_draft_id)

    db.session.expire_all()
    assert db.session.get(Evaluation, province_draft_id).status == EvaluationStatus.DRAFT
    assert (fresh_base(x.id).status, fresh_base(z.id).status) == (BaseStatus.RECTIFYING, BaseStatus.ACTIVE)
    (change,) = status_changes(x.id)
    assert (change.to_status, change.evaluation_id) == (BaseStatus.RECTIFYING, city_draft_id)
    assert status_changes(z.id) == []
    confirmed_of_x = sa.select(sa.func.count(EvaluationResult.id)).join(Evaluation).where(
        EvaluationResult.base_id == x.id, Evaluation.status == EvaluationStatus.CONFIRMED)
    assert db.session.scalar(confirmed_of_x) == 1


def test_the_draft_run_again_leaves_out_the_decided_base_and_confirms(province_and_city_drafts):
    x, z, province_regulator, province_draft_id, city_draft_id = province_and_city_drafts

    again = evaluation.run(province_regulator, YEAR, x.region.parent_id)
    evaluation.confirm(province_regulator, again.id)

    assert again.id == province_draft_id
    assert set(results_by_base(again.results)) == {z.id}
    assert (fresh_base(x.id).status, fresh_base(z.id).status) == (BaseStatus.RECTIFYING, BaseStatus.EXITED)
    assert [c.evaluation_id for c in status_changes(x.id)] == [city_draft_id]


def test_confirm_of_a_draft_with_a_base_decided_elsewhere_is_refused_on_the_page(app, province_and_city_drafts):
    x, z, province_regulator, province_draft_id, _city_draft_id = province_and_city_drafts
    client = signed_in(app, province_regulator)

    response = client.post(f"/regulator/evaluations/{province_draft_id}/confirm", data={"confirmed": "y"},
                           follow_redirects=True)

    assert response.status_code == 200
    assert any("基地X" in m and "重新运行" in m for m in flashed(response.get_data(as_text=True)))
    assert fresh_base(x.id).status == BaseStatus.RECTIFYING


def flashed(html: str, category: str = "danger") -> list[str]:
    return re.findall(rf'<div class="alert alert-{category}" role="alert">(.*?)</div>', html, re.S)


# --- two regulators confirming at once ----------------------------------------------------------------------

def two_idle_bases_with_a_draft(make_user, make_base, city):
    """Two bases proposed for exit (nothing done, nothing disclosed) and the draft evaluation of their city."""
    first = make_base(created_at=DESIGNATED)
    second = make_base(created_at=DESIGNATED)
    regulators = [make_user(Role.REGULATOR, region_id=city.id) for _ in range(2)]
    found = evaluation.run(regulators[0], YEAR, city.id)
    evaluation.override(regulators[0], results_by_base(found.results)[second.id].id, Outcome.RECTIFY, "整改")
    return (first, second), regulators, found.id


def confirm_at_once(app, monkeypatch, regulator_ids, evaluation_id) -> list[str]:
    """Each regulator confirms in a thread of their own; both have read the draft before either writes.
    What each got, sorted."""
    db.session.commit()
    both_loaded = threading.Barrier(len(regulator_ids))
    load = evaluation.get

    def load_then_wait(regulator, wanted_id):
        found = load(regulator, wanted_id)
        both_loaded.wait(timeout=10)
        return found

    monkeypatch.setattr(evaluation, "get", load_then_wait)
    outcomes = []

    def confirm(user_id):
        with app.app_context():
            try:
                evaluation.confirm(db.session.get(User, user_id), evaluation_id)
                outcomes.append("confirmed")
            except DomainError as error:
                outcomes.append(f"refused: {error.message}")
            except Exception as error:  # noqa: BLE001 - the test reports whatever happened
                outcomes.append(f"error: {error!r}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=confirm, args=(user_id,)) for user_id in regulator_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    monkeypatch.setattr(evaluation, "get", load)
    return sorted(outcomes)


def assert_one_decision(bases, evaluation_id):
    """The evaluation is confirmed once: each base changed status once, by it; one confirmation audited."""
    db.session.commit()  # end the test's own read transaction: see what the threads wrote
    db.session.expire_all()
    for base, status in zip(bases, (BaseStatus.EXITED, BaseStatus.RECTIFYING), strict=True):
        assert db.session.get(TrainingBase, base.id).status == status
        (change,) = status_changes(base.id)
        assert (change.to_status, change.evaluation_id) == (status, evaluation_id)
    assert db.session.get(Evaluation, evaluation_id).status == EvaluationStatus.CONFIRMED
    confirmations = sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action == "evaluation.confirm")
    assert db.session.scalar(confirmations) == 1


def test_two_regulators_confirming_at_once_record_one_decision(app, monkeypatch, make_user, make_base, city,
                                                                after_the_year):
    assert db.engine.dialect.name == "sqlite" and db.engine.url.database  # a file, shared by the threads
    bases, regulators, evaluation_id = two_idle_bases_with_a_draft(make_user, make_base, city)

    outcomes = confirm_at_once(app, monkeypatch, [r.id for r in regulators], evaluation_id)

    assert len(outcomes) == 2 and outcomes.count("confirmed") == 1, outcomes
    assert_one_decision(bases, evaluation_id)


def test_the_slower_of_two_regulators_confirming_at_once_is_told_it_is_already_confirmed(app, monkeypatch,
                                                                                          make_user, make_base, city,
                                                                                          after_the_year):
    """confirm() promises DomainError("已确认") to the loser, whoever calls it (a view, the CLI, a job)."""
    bases, regulators, evaluation_id = two_idle_bases_with_a_draft(make_user, make_base, city)

    outcomes = confirm_at_once(app, monkeypatch, [r.id for r in regulators], evaluation_id)

    assert outcomes[0] == "confirmed", outcomes
    assert outcomes[1].startswith("refused: ") and "已确认" in outcomes[1], outcomes


def test_two_regulators_posting_confirm_at_once_record_one_decision(app, make_user, make_base, city, after_the_year):
    bases, regulators, evaluation_id = two_idle_bases_with_a_draft(make_user, make_base, city)
    clients = [signed_in(app, regulator) for regulator in regulators]
    barrier = threading.Barrier(2)
    statuses = []

    def post(client):
        barrier.wait(timeout=10)
        response = client.post(f"/regulator/evaluations/{evaluation_id}/confirm", data={"confirmed": "y"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=post, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses == [302, 302]
    assert_one_decision(bases, evaluation_id)


@pytest.mark.postgres
class TestOnPostgres:
    @pytest.fixture
    def app(self, pg_app):
        """The factories build on ``app``: here it is the PostgreSQL one."""
        return pg_app

    def test_two_regulators_confirming_at_once_record_one_decision(self, app, monkeypatch, make_user, make_base,
                                                                    city, after_the_year):
        assert db.engine.dialect.name == "postgresql"
        bases, regulators, evaluation_id = two_idle_bases_with_a_draft(make_user, make_base, city)

        outcomes = confirm_at_once(app, monkeypatch, [r.id for r in regulators], evaluation_id)

        assert outcomes[0] == "confirmed", outcomes
        assert outcomes[1].startswith("refused: ") and "已确认" in outcomes[1], outcomes
        assert_one_decision(bases, evaluation_id)

    def test_confirming_a_draft_with_a_base_decided_since_elsewhere_is_refused(self, province_and_city_drafts):
        assert db.engine.dialect.name == "postgresql"
        test_confirming_a_draft_with_a_base_decided_since_by_another_evaluation_is_refused(province_and_city_drafts)

    def test_counting_matches_sqlite_on_postgresql(self, reference, evaluated_base, year_courses):
        base = evaluated_base()
        courses = year_courses(base)
        learners = bulk_learners(2000)
        spread(courses, learners)
        for course in courses[1:]:  # the first learner completes every course: still one trainee
            add_enrollments(course, learners[:1])

        result = evaluate(base)

        assert (result.trainees, result.projects, result.proposed) == (2000, 4, Outcome.KEEP)


# --- no data, the evaluation page and its export ------------------------------------------------------------

def test_year_without_data_gives_an_empty_table_and_the_page_renders(app, reference, regulator, city,
                                                                     evaluated_base):
    evaluated_base()  # designated in YEAR: not evaluated for 2001
    assert evaluation.compute(2001, city.id) == []
    client = signed_in(app, regulator)

    response = client.post("/regulator/evaluations", data={"year": "2001", "region": str(city.id)})

    assert response.status_code == 302
    page = client.get(response.location)
    assert page.status_code == 200
    assert "该年度该地区没有需要评估的基地" in page.get_data(as_text=True)
    found = db.session.execute(sa.select(Evaluation).where(Evaluation.year == 2001)).scalar_one()
    assert found.results == []
    assert client.get(f"/regulator/evaluations/{found.id}.xlsx").status_code == 200


def test_base_with_no_activity_in_the_year_gets_zeros_not_an_error(reference, evaluated_base):
    base = evaluated_base(BaseType.CITY)

    result = evaluate(base)

    assert (result.trainees, result.projects, result.completion_rate, result.average_rating) == (0, 0, None, None)
    assert result.overdue_plans == 0


def test_evaluation_page_and_export_show_the_results(app, province, three_bases, city):
    kept, short, idle = three_bases
    found = evaluation.run(province, YEAR, city.parent_id)
    evaluation.override(province, results_by_base(found.results)[idle.id].id, Outcome.RECTIFY, "=HYPERLINK(\"x\")")
    client = signed_in(app, province)

    page = client.get(f"/regulator/evaluations/{found.id}")
    export = client.get(f"/regulator/evaluations/{found.id}.xlsx")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for base in three_bases:
        assert f'data-base="{base.name}"' in html
    sheet = openpyxl.load_workbook(BytesIO(export.data)).active
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert [c.value for c in sheet[2]] == EVALUATION_COLUMNS
    assert [(r[1], r[3], r[5]) for r in rows] == [(kept.name, 2000, 4), (short.name, 1999, 4), (idle.name, 0, 0)]
    reason_cell = sheet.cell(row=5, column=len(EVALUATION_COLUMNS))
    assert reason_cell.value == "=HYPERLINK(\"x\")"
    assert reason_cell.data_type == "s" and reason_cell.quotePrefix
