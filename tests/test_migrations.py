"""The schema comes only from migrations: they apply, match the models (no drift) and reverse cleanly."""

import flask_migrate
import pytest
import sqlalchemy as sa

from extensions import db


def _tables():
    return set(sa.inspect(db.engine).get_table_names())


def test_migrated_schema_has_no_drift(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_drift_is_detected_when_a_model_changes(app):
    table = db.metadata.tables["course"]
    column = sa.Column("drift_probe", sa.Integer)
    table.append_column(column)
    try:
        result = app.test_cli_runner().invoke(args=["db", "check"])
        assert result.exit_code != 0
    finally:
        table._columns.remove(column)


def test_downgrade_removes_everything_and_upgrade_restores_it(app):
    expected = set(db.metadata.tables) | {"alembic_version", "course_fts"}
    assert expected <= _tables()
    flask_migrate.downgrade(revision="base")
    assert {t for t in _tables() if not t.startswith("course_fts")} == {"alembic_version"}
    assert not any(t.startswith("course_fts") for t in _tables())
    flask_migrate.upgrade()
    assert expected <= _tables()


@pytest.mark.postgres
def test_postgres_schema_has_no_drift_and_reverses(pg_app):
    result = pg_app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    flask_migrate.downgrade(revision="base")
    assert _tables() == {"alembic_version"}
    flask_migrate.upgrade()
    assert set(db.metadata.tables) <= _tables()
    indexes = {ix["name"] for ix in sa.inspect(db.engine).get_indexes("course")}
    assert "ix_course_search_tokens_fts" in indexes
