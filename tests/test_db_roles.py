"""PostgreSQL in production: the application connects as a role that owns nothing (`flask grant-app-role`).
It can do everything the site and the API do, and cannot change the audit log, switch its triggers off,
or alter, truncate or drop a table."""

import secrets

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from app import create_app
from extensions import db
from models import AuditLog, Enrollment, HoursRecord, Role
from services import api_tokens
from services.errors import DomainError
from services.infra import clock
from services.infra.db_roles import grant_app_role
from tests.conftest import PASSWORD, pg_config

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_app):
    return pg_app


@pytest.fixture
def app_role(pg_app):
    role = f"jidi_app_{secrets.token_hex(4)}"
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} NOLOGIN"))
    statements = grant_app_role(role)
    assert any("REVOKE UPDATE, DELETE, TRUNCATE" in s and "audit_log" in s for s in statements)
    yield role
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"DROP OWNED BY {role}"))
        conn.execute(sa.text(f"DROP ROLE {role}"))


def restricted_config(pg_app, tmp_path, role: str) -> dict:
    """The test app's own database and schema, entered as ``role`` (the superuser running the tests takes
    that role for the whole connection, and with it only that role's privileges)."""
    options = pg_app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["options"]
    schema = options.removeprefix("-csearch_path=")
    return pg_config(tmp_path, schema) | {
        "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": f"{options} -crole={role}"}}}


def test_the_app_role_does_the_sites_and_the_apis_work(pg_app, app_role, tmp_path, admin_and_base, make_user,
                                                        make_course):
    from datetime import timedelta

    admin, base = admin_and_base
    learner = make_user(Role.LEARNER, phone="13912340001")
    today = clock.today()
    open_course = make_course(base, capacity=5)
    running = make_course(base, start_date=today - timedelta(days=1), end_date=today + timedelta(days=3))
    _token, secret = api_tokens.create_token(admin, base, "对接")
    bearer = {"Authorization": f"Bearer {secret}"}
    restricted = create_app(restricted_config(pg_app, tmp_path, app_role))

    with restricted.app_context():
        assert db.session.execute(sa.text("SELECT current_user")).scalar_one() == app_role
        db.session.remove()
    site, api = restricted.test_client(), restricted.test_client()
    signed_in = site.post("/login", data={"login": learner.email, "password": PASSWORD})
    enrolled = site.post(f"/me/courses/{open_course.id}/enroll")
    pushed = api.post("/api/v1/base/completions", headers=bearer, json={"completions": [
        {"external_id": "r-1", "course_id": running.id, "name": learner.name, "phone": learner.phone,
         "completed_on": clock.today().isoformat()}]})
    refused = api.post("/api/v1/base/completions", headers=bearer, json={"completions": [
        {"external_id": "r-2", "course_id": running.id, "name": "查无此人", "phone": "13900000000",
         "completed_on": clock.today().isoformat()}]})
    edited = api.patch(f"/api/v1/base/courses/{open_course.id}", headers=bearer, json={"capacity": 8})
    with restricted.app_context():
        db.engine.dispose()

    assert [r.status_code for r in (signed_in, enrolled, pushed, refused, edited)] == [302, 302, 200, 400, 200]
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id))) == 2
    assert db.session.scalar(sa.select(sa.func.count(HoursRecord.id))) == 1
    actions = set(db.session.scalars(sa.select(AuditLog.action)))
    assert {"auth.sign_in", "api.completions", "api.completions_refused", "course.update"} <= actions


@pytest.mark.parametrize(("statement", "refusal"), [
    ("UPDATE audit_log SET action = 'x'", "permission denied"),
    ("DELETE FROM audit_log", "permission denied"),
    ("TRUNCATE audit_log", "permission denied"),
    ("ALTER TABLE audit_log DISABLE TRIGGER USER", "must be owner"),
    ("DROP TABLE course CASCADE", "must be owner"),
    ("ALTER TABLE course ADD COLUMN x int", "must be owner"),
    ("DELETE FROM alembic_version", "permission denied"),
])
def test_the_app_role_cannot_rewrite_the_audit_log_or_the_schema(pg_app, app_role, tmp_path, statement, refusal):
    restricted = create_app(restricted_config(pg_app, tmp_path, app_role))
    with restricted.app_context():
        db.session.execute(sa.insert(AuditLog).values(action="test.append", object_type="test", details={}))
        db.session.commit()  # appending is allowed
        with pytest.raises(DBAPIError, match=refusal):
            db.session.execute(sa.text(statement))
        db.session.rollback()
        db.engine.dispose()


def test_grant_app_role_refuses_a_name_that_is_not_a_plain_role_name(pg_app):
    with pytest.raises(DomainError, match="角色名"):
        grant_app_role('app"; DROP TABLE course; --')
