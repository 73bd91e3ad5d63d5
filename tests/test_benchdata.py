"""The benchmark data generator: deterministic, consistent, and its boundary bases evaluate as planted."""

import shutil
import sqlite3

import pytest
import sqlalchemy as sa

from app import create_app
from extensions import db
from models import Course, Enrollment, EnrollmentStatus, HoursRecord, Region
from seeding import benchdata
from seeding.demo import seed_reference
from services import evaluation
from services.errors import DomainError
from services.infra import clock
from services.queries import catalog_pages
from tests.conftest import _config


def _fingerprint() -> tuple:
    courses = db.session.execute(sa.select(Course.title, Course.start_date, Course.seats_taken).order_by(Course.id))
    enrollments = db.session.execute(
        sa.select(sa.func.count(Enrollment.id), sa.func.sum(Enrollment.learner_id), sa.func.sum(Enrollment.course_id))
    ).one()
    return tuple(courses.all()), tuple(enrollments)


def _schema() -> set:
    """Every index, constraint and trigger as the database itself defines it."""
    if db.engine.dialect.name == "postgresql":
        rows = db.session.execute(sa.text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            " UNION ALL SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE connamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"))
    else:
        rows = db.session.execute(sa.text("SELECT type, name, sql FROM sqlite_master"))
    return set(rows.all())


def _search_finds_every_matching_course() -> bool:
    matching = db.session.scalar(sa.select(sa.func.count(Course.id)).where(Course.title.contains("护理")))
    page = catalog_pages.search_courses(catalog_pages.CourseFilters(q="护理", include_past=True), per_page=5)
    return page.total == matching > 0


def _journal_mode() -> str:
    """As the database file records it (the app's own connections switch to WAL when they connect)."""
    with sqlite3.connect(db.engine.url.database) as raw:
        return raw.execute("PRAGMA journal_mode").fetchone()[0]


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


def test_generated_rows_satisfy_every_foreign_key(generated):
    # SQLite checks no foreign key during the load: the rows must hold them all the same.
    assert db.session.execute(sa.text("PRAGMA foreign_key_check")).all() == []


def test_catalog_search_finds_the_generated_courses(generated):
    assert _search_finds_every_matching_course()


def test_the_load_leaves_the_schema_and_the_connection_settings_as_they_were(app):
    seed_reference()
    before = _schema()
    benchdata.generate("test")
    assert _journal_mode() == "wal"  # before any connection of the app's puts it back
    assert _schema() == before
    assert app.test_cli_runner().invoke(args=["db", "check"]).exit_code == 0
    # The load's own settings stay with its connection, which is gone.
    settings = {name: db.session.execute(sa.text(f"PRAGMA {name}")).scalar() for name in ("foreign_keys", "cache_size")}
    assert settings == {"foreign_keys": 1, "cache_size": -2000}


def test_the_load_runs_in_wal_mode_when_another_connection_has_the_database_open(app):
    seed_reference()
    other = sqlite3.connect(db.engine.url.database)
    try:
        other.execute("SELECT count(*) FROM region").fetchall()
        written = benchdata.generate("test")
    finally:
        other.close()
    assert written["learners"] == 4000
    assert _journal_mode() == "wal"


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
    before = _schema()
    written = benchdata.generate("test")
    # Indexes, unique and foreign keys were dropped for the load and made again, as they were.
    assert _schema() == before
    assert pg_app.test_cli_runner().invoke(args=["db", "check"]).exit_code == 0
    assert _search_finds_every_matching_course()
    province = db.session.execute(sa.select(Region).filter_by(code=benchdata.PROVINCE_CODE)).scalar_one()
    results = {r.base.name: r for r in evaluation.compute(clock.today().year, province.id)}
    assert results[f"{benchdata.BOUNDARY_PREFIX}1"].trainees == 2000
    assert written["learners"] == 4000
    # The id sequences moved past the explicit ids: ordinary inserts still work and follow them.
    highest = db.session.scalar(sa.select(sa.func.max(Course.id)))
    course = make_course(make_base())
    assert course.id > highest
