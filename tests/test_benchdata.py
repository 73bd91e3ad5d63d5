"""The benchmark data generator: deterministic, consistent, and its boundary bases evaluate as planted."""

import shutil

import pytest
import sqlalchemy as sa

from app import create_app
from extensions import db
from models import Course, Enrollment, EnrollmentStatus, HoursRecord, Region
from services import benchdata, clock, evaluation
from services.demo import seed_reference
from services.errors import DomainError
from tests.conftest import _config


def _fingerprint() -> tuple:
    courses = db.session.execute(sa.select(Course.title, Course.start_date, Course.seats_taken).order_by(Course.id))
    enrollments = db.session.execute(
        sa.select(sa.func.count(Enrollment.id), sa.func.sum(Enrollment.learner_id), sa.func.sum(Enrollment.course_id))
    ).one()
    return tuple(courses.all()), tuple(enrollments)


def _generate_in_fresh_database(sqlite_template, folder, seed):
    folder.mkdir()
    path = folder / "bench.sqlite3"
    shutil.copy(sqlite_template, path)
    app = create_app(_config(folder, f"sqlite:///{path}"))
    with app.app_context():
        seed_reference()
        benchdata.generate("test", seed)
        fingerprint = _fingerprint()
        db.session.remove()
        db.engine.dispose()
    return fingerprint


def test_the_same_seed_generates_the_same_data(sqlite_template, tmp_path):
    first = _generate_in_fresh_database(sqlite_template, tmp_path / "a", 7)
    second = _generate_in_fresh_database(sqlite_template, tmp_path / "b", 7)
    other = _generate_in_fresh_database(sqlite_template, tmp_path / "c", 8)
    assert first == second
    assert first != other


@pytest.fixture
def generated(app):
    seed_reference()
    return benchdata.generate("test")


def test_seat_counters_match_rows_and_completions_are_in_the_ledger(generated):
    held = (
        sa.select(Enrollment.course_id, sa.func.count(Enrollment.id).label("n"))
        .where(Enrollment.status.in_((EnrollmentStatus.CONFIRMED, EnrollmentStatus.COMPLETED)))
        .group_by(Enrollment.course_id).subquery()
    )
    mismatched = db.session.scalar(
        sa.select(sa.func.count()).select_from(Course).outerjoin(held, held.c.course_id == Course.id)
        .where(Course.seats_taken != sa.func.coalesce(held.c.n, 0))
    )
    assert mismatched == 0
    completed = db.session.scalar(
        sa.select(sa.func.count(Enrollment.id)).where(Enrollment.status == EnrollmentStatus.COMPLETED))
    assert db.session.scalar(sa.select(sa.func.count(HoursRecord.id))) == completed > 0


def test_boundary_bases_evaluate_as_planted(generated):
    province = db.session.execute(sa.select(Region).filter_by(code=benchdata.PROVINCE_CODE)).scalar_one()
    results = {r.base.name: r for r in evaluation.compute(clock.today().year, province.id)}
    for n, (_kind, trainees, projects, meets) in enumerate(benchdata.BOUNDARY_BASES):
        result = results[f"{benchdata.BOUNDARY_PREFIX}{n}"]
        assert (result.trainees, result.projects) == (trainees, projects)
        assert result.missed_target is not meets


def test_generating_twice_is_refused(generated):
    with pytest.raises(DomainError):
        benchdata.generate("test")


def test_the_cli_generates_a_tier(app):
    result = app.test_cli_runner().invoke(args=["bench-data", "--tier", "test"])
    assert result.exit_code == 0, result.output
    assert "learners 4000" in result.output


@pytest.mark.postgres
def test_generator_runs_on_postgresql_and_the_app_can_insert_afterwards(pg_app, make_base, make_course):
    seed_reference()
    written = benchdata.generate("test")
    province = db.session.execute(sa.select(Region).filter_by(code=benchdata.PROVINCE_CODE)).scalar_one()
    results = {r.base.name: r for r in evaluation.compute(clock.today().year, province.id)}
    assert results[f"{benchdata.BOUNDARY_PREFIX}1"].trainees == 2000
    assert written["learners"] == 4000
    # The id sequences moved past the explicit ids: ordinary inserts still work and follow them.
    highest = db.session.scalar(sa.select(sa.func.max(Course.id)))
    course = make_course(make_base())
    assert course.id > highest
