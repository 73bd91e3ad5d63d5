"""Fixtures: an app on a fresh migrated database per test, factories, sign-in and query counting.

The schema is only ever made by the migrations: a session-wide template database is migrated once and
copied for every test (SQLite), or migrated once into a private schema and emptied after every test
(PostgreSQL, see the ``pg_app`` fixture).
"""

import contextvars
import os
import secrets
import shutil
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from app import create_app
from extensions import db
from models import (
    BaseMembership,
    BaseStatus,
    BaseType,
    Category,
    Course,
    CourseStatus,
    Employment,
    EmploymentStatus,
    HoursRecord,
    Mode,
    Region,
    RegionLevel,
    Role,
    Rubric,
    TrainingBase,
    User,
)
from services import policies, resident_ids, rules
from services.courses import refresh_search_tokens
from services.infra import clock

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "correct horse battery"
TEST_ID_NUMBER_KEY = "dGVzdC1vbmx5LWlkLW51bWJlci1rZXktMzItYnl0ZXM="


def _config(tmp_path, uri, **extra):
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": uri,
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "EVIDENCE_FOLDER": str(tmp_path / "evidence"),
        "WTF_CSRF_ENABLED": False,
        "ID_NUMBER_KEY": TEST_ID_NUMBER_KEY,
        "PAGE_CACHE_SECONDS": 0,  # tests of the page cache turn it on
        **extra,
    }


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "jidi.sqlite3"
    app = create_app(_config(path.parent, f"sqlite:///{path}"))
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    return path


@pytest.fixture
def app_config():
    """Extra configuration for the ``app`` fixture; override in a module to change it."""
    return {}


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The fixtures keep an app context open for the test body; without this, requests would share its
    ``g`` (Flask-Login's cached user) and its database session. The test's own transaction is ended
    first, so that the request sees what the test wrote and the test then sees what the request wrote.
    """

    def open(self, *args, **kwargs):
        if not has_app_context():  # already isolated (a redirect being followed)
            return super().open(*args, **kwargs)
        db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def app(sqlite_app):
    """The app on a fresh copy of the migrated SQLite database; modules on PostgreSQL override it with pg_app."""
    return sqlite_app


@pytest.fixture
def sqlite_app(sqlite_template, tmp_path, app_config):
    path = tmp_path / "jidi.sqlite3"
    shutil.copy(sqlite_template, path)
    app = create_app(_config(tmp_path, f"sqlite:///{path}", **app_config))
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def demo_template(sqlite_template, tmp_path_factory):
    """A folder holding a migrated database with `flask seed-demo`'s data, its year of history included,
    and the evidence files it stored: seeded once per session (several seconds), copied by ``demo_app``."""
    folder = tmp_path_factory.mktemp("demo")
    path = folder / "jidi.sqlite3"
    shutil.copy(sqlite_template, path)
    app = create_app(_config(folder, f"sqlite:///{path}"))
    with app.app_context():
        from seeding.demo import seed_demo

        seed_demo()
        db.session.remove()
        db.engine.dispose()
    return folder


@pytest.fixture
def demo_app(demo_template, tmp_path, app_config):
    """The app on a fresh copy of the demo database (see demo_template), like ``sqlite_app``."""
    shutil.copy(demo_template / "jidi.sqlite3", tmp_path / "jidi.sqlite3")
    if (demo_template / "evidence").exists():
        shutil.copytree(demo_template / "evidence", tmp_path / "evidence")
    app = create_app(_config(tmp_path, f"sqlite:///{tmp_path / 'jidi.sqlite3'}", **app_config))
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def pg_schema():
    """A private schema in the PostgreSQL test database, migrated once, dropped at the end."""
    schema = f"jidi_test_{secrets.token_hex(4)}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    yield schema
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def pg_config(tmp_path, schema):
    return _config(
        tmp_path, PG_URL,
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": f"-csearch_path={schema}"}},
    )


@pytest.fixture
def pg_app(pg_schema, tmp_path):
    app = create_app(pg_config(tmp_path, pg_schema))
    app.test_client_class = IsolatedClient
    with app.app_context():
        flask_migrate.upgrade()
        yield app
        db.session.remove()
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            # The audit log refuses changes (migration 0006); its owner may lift that for a clean slate.
            conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        db.engine.dispose()


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    """Accounts made by the tests get a cheap hash: the default scrypt costs ~0.15 s per account.
    (Demo accounts and the sign-in check itself still use werkzeug's real functions.)"""
    monkeypatch.setattr(
        "models.user.generate_password_hash", lambda password: generate_password_hash(password, "pbkdf2:sha256:1")
    )


@pytest.fixture(autouse=True)
def empty_job_queue():
    """Each test starts with an empty task queue (in memory: tests/__init__.py)."""
    from services.infra.queue import huey

    huey.flush()
    yield
    huey.flush()


class Mailbox:
    """What a real SMTP server (aiosmtpd, on localhost) received: each message parsed, newest last."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's hook name)
        import email
        from email import policy

        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": message,
                              "subject": str(message["Subject"]), "body": message.get_body().get_content()})
        return "250 Message accepted for delivery"

    def to(self, address):
        return [m for m in self.messages if address in m["to"]]


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server on localhost for the session: (host, port, mailbox)."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield "127.0.0.1", port, mailbox
    controller.stop()


@pytest.fixture
def mailbox(smtp_server, app):
    """The app sends e-mail to the test SMTP server; the mailbox starts empty."""
    host, port, box = smtp_server
    box.messages.clear()
    app.config.update(MAIL_SERVER=host, MAIL_PORT=port)
    return box


@pytest.fixture(scope="session")
def sms_provider_server():
    from tests.sms_provider import FakeSmsProvider

    provider = FakeSmsProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def sms_provider(sms_provider_server, app):
    """The app sends text messages through the Alibaba Cloud adapter to a local stand-in that checks the
    signature (tests/sms_provider.py); what it accepted starts empty."""
    from tests import sms_provider as fake

    sms_provider_server.received.clear()
    sms_provider_server.rejected.clear()
    sms_provider_server.answer, sms_provider_server.status = None, 200
    app.config.update(SMS_BACKEND="aliyun", SMS_ENDPOINT=sms_provider_server.url,
                      SMS_ACCESS_KEY_ID=fake.ACCESS_KEY_ID, SMS_ACCESS_KEY_SECRET=fake.ACCESS_KEY_SECRET)
    return sms_provider_server


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright (tests/browser.py), one per test module."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    assert shutil.which(CHROMIUM) or CHROMIUM.startswith("/"), "Chromium is required: make test installs it"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def site(app):
    """The module's ``app`` served on a loopback port (tests.browser.LiveServer) for the test's browsers; the
    test's own session is closed first, so that its open read does not hide the server's writes."""
    from tests.browser import LiveServer

    db.session.remove()
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def actors(browser):
    """People at their browsers (tests.browser.Actors); any console error on their pages fails the test."""
    from tests.browser import Actors

    found = Actors(browser)
    yield found
    found.close()
    assert found.errors == [], "\n".join(found.errors)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- factories -------------------------------------------------------------------------------------

_serial = count(1)


@pytest.fixture
def make_region(app):
    def make(name=None, parent=None, **kw):
        n = next(_serial)
        region = Region(
            code=kw.pop("code", f"9{n:05d}"), name=name or f"测试市{n}",
            level=RegionLevel.CITY if parent else RegionLevel.PROVINCE, parent=parent, **kw,
        )
        db.session.add(region)
        db.session.commit()
        return region

    return make


@pytest.fixture
def city(make_region):
    return make_region("成都市", parent=make_region("四川省"))


@pytest.fixture
def make_user(city):
    def make(role=Role.LEARNER, **kw):
        n = next(_serial)
        user = User(
            name=kw.pop("name", f"用户{n}"), email=kw.pop("email", f"user{n}@test.example"), role=role,
            region_id=kw.pop("region_id", city.id), **kw,
        )
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def make_base(city, make_user):
    def make(name=None, admin=None, **kw):
        n = next(_serial)
        base = TrainingBase(
            name=name or f"测试基地{n}", type=kw.pop("type", BaseType.CITY), region_id=kw.pop("region_id", city.id),
            status=kw.pop("status", BaseStatus.ACTIVE), contact_person="张老师", contact_phone="028-61234567", **kw,
        )
        db.session.add(base)
        db.session.flush()
        if admin is not None:
            db.session.add(BaseMembership(user_id=admin.id, base_id=base.id))
        db.session.commit()
        return base

    return make


@pytest.fixture
def make_course(app):
    def make(base, **kw):
        start = kw.pop("start_date", clock.today() + timedelta(days=10))
        course = Course(
            base=base, title=kw.pop("title", f"课程{next(_serial)}"), description=kw.pop("description", ""),
            category=kw.pop("category", Category.PROFESSIONAL), field=kw.pop("field", "卫生"),
            hours=kw.pop("hours", 16), start_date=start, end_date=kw.pop("end_date", start + timedelta(days=1)),
            mode=kw.pop("mode", Mode.FACE_TO_FACE), place=kw.pop("place", "培训楼 101"), audience="专业技术人员",
            capacity=kw.pop("capacity", 50), fee=kw.pop("fee", Decimal("0")), contact_person="张老师",
            contact_phone="028-61234567", status=kw.pop("status", CourseStatus.PUBLISHED), **kw,
        )
        if "plan_status" not in kw and course.needs_class_plan:
            course.plan_status = "approved"  # as if its class plan had been approved (see test_plans)
        refresh_search_tokens(course, base)
        db.session.add(course)
        db.session.commit()
        return course

    return make


def after_the_year(patch, year: int) -> None:
    """Mid-January after ``year``, in Shanghai (clock.today) and in stored UTC (an evaluation's run_at): the
    year has ended, so its evaluation, run now, may be confirmed. ``patch``: a MonkeyPatch or its context."""
    from services import evaluation

    patch.setattr(clock, "today", lambda: date(year + 1, 1, 15))
    patch.setattr(evaluation, "utcnow", lambda: datetime(year + 1, 1, 15, 2, 0))


_bulk = count(1)
_phones = count(1)
CHEAP_HASH = generate_password_hash(PASSWORD, "pbkdf2:sha256:1")


def rubric_in_force(year: int, region: Region | None = None, base_type: BaseType | None = None) -> Rubric:
    """The rubric in force for a base of ``base_type`` in ``region``, as the evaluation picks it: per region its
    latest row not after the year, the city's values before the province's, else the defaults; a
    province-level base's is its province's."""
    return rules.pick_rubric(rules.rubrics_up_to(year), region, year,
                             province_only=base_type in policies.PROVINCE_SET_TYPES)


def totals_by_year(learner_id: int) -> dict[int, dict[Category, int]]:
    """The learner's credited hours by year and category, summed by the database: what the ledger (services.hours)
    must agree with."""
    rows = db.session.execute(
        sa.select(HoursRecord.year, HoursRecord.category, sa.func.sum(HoursRecord.hours))
        .where(HoursRecord.learner_id == learner_id)
        .group_by(HoursRecord.year, HoursRecord.category)
    ).all()
    totals: dict[int, dict[Category, int]] = {}
    for year, category, credited in rows:
        totals.setdefault(year, {c: 0 for c in Category})[Category(category)] = int(credited)
    return totals


def by_id_number(id_number: str) -> User | None:
    """The account whose stored ID number is ``id_number`` in any spelling: the registration's duplicate check."""
    return db.session.execute(
        sa.select(User).where(User.id_number_hmac == resident_ids.fingerprint(resident_ids.normalise(id_number)))
    ).scalar_one_or_none()


def bulk_learners(n: int) -> list[int]:
    """``n`` learner accounts inserted in one statement (unique email and mobile number each); their ids in
    order."""
    tag = f"b{next(_bulk)}x{secrets.token_hex(3)}"
    db.session.execute(sa.insert(User), [
        {"name": f"学员{i}", "email": f"{tag}-{i}@bulk.example", "phone": f"13{next(_phones):09d}",
         "password_hash": CHEAP_HASH, "role": Role.LEARNER, "session_token": secrets.token_urlsafe(16)}
        for i in range(n)
    ])
    db.session.commit()
    return db.session.scalars(
        sa.select(User.id).where(User.email.like(f"{tag}-%@bulk.example")).order_by(User.id)
    ).all()


@pytest.fixture
def admin_and_base(make_user, make_base):
    admin = make_user(Role.BASE_ADMIN)
    return admin, make_base(admin=admin)


def employ(person, employer) -> None:
    """Test data: the learner works for ``employer``, confirmed (as services.employment.confirm leaves it),
    without an employer admin to confirm it."""
    db.session.add(Employment(learner_id=person.id, employer_id=employer.id, status=EmploymentStatus.CONFIRMED,
                              decided_at=datetime.now()))
    person.employer_id, person.employer_name = employer.id, employer.name
    db.session.commit()


def login(client, user, password=PASSWORD):
    return client.post("/login", data={"login": user.email, "password": password})


@pytest.fixture
def login_as(client):
    def do(user):
        response = login(client, user)
        assert response.status_code == 302, "sign-in failed"
        return client

    return do


@contextmanager
def count_queries(engine):
    """Collect the SQL statements run on ``engine`` inside the block (transaction control left out)."""
    statements = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def page_queries(client, path: str) -> list[str]:
    """The SQL statements one GET of ``path`` runs, counted as production would see them: the page is
    fetched once first, then again with the test's session emptied, so that nothing comes from its
    identity map. ``client`` may be signed in (its user load is counted). Both answers must be 200."""
    assert client.get(path).status_code == 200, path
    db.session.remove()
    with count_queries(db.engine) as statements:
        response = client.get(path)
    assert response.status_code == 200, path
    return statements


# The API tests' fixtures (a base with a token, started courses, learners), for every module that asks.
from tests.api_fixtures import api, base_a, base_b, learner, running, token_a  # noqa: E402,F401

# --- regulators of a city, its province and a neighbouring city (the regulator's, documents' and targets' tests) ---

@pytest.fixture
def other_city(make_region, city):
    """Another city of the same province."""
    return make_region("绵阳市", parent=city.parent)


@pytest.fixture
def regulators(make_user, city, other_city):
    return {
        "city": make_user(Role.REGULATOR, region_id=city.id, name="成都市人社局 王科长"),
        "province": make_user(Role.REGULATOR, region_id=city.parent_id, name="四川省人社厅 赵处长"),
        "other": make_user(Role.REGULATOR, region_id=other_city.id, name="绵阳市人社局 李科长"),
    }
