"""Capacity under concurrent load: the real app under gunicorn (4 workers) on SQLite and PostgreSQL.

100 learners press "enroll" at the same moment on a 10-seat course, ten times on each database: exactly
10 are confirmed every time, the other 90 are waitlisted in order, no request fails, and the database
never reports "database is locked". 20 simultaneous presses by one learner make one enrollment.
"""

import http.client
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from app import create_app
from extensions import db
from models import Course, Enrollment, EnrollmentStatus, Role, User
from services.infra import clock
from tests.conftest import PG_URL, TEST_ID_NUMBER_KEY

ROOT = Path(__file__).resolve().parent.parent
LEARNERS = 100
SEATS = 10
RUNS = 10
PASSWORD = "concurrency-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """One browser: a session cookie and its CSRF token, speaking HTTP/1.1 to the gunicorn server."""

    def __init__(self, port: int):
        self.port = port
        self.cookie = ""
        self.csrf = ""

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header, value in response.getheaders():
            if header.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        conn.close()
        return response.status, text

    def sign_in(self, login: str) -> None:
        status, page = self.request("GET", "/login")
        assert status == 200
        self.csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        status, _ = self.request("POST", "/login", f"csrf_token={self.csrf}&login={login}&password={PASSWORD}")
        assert status == 302, "sign-in failed"
        # Signing in starts a new session, with a CSRF token of its own (the sign-out form carries it).
        status, page = self.request("GET", "/")
        assert status == 200
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _prepare_database(config: dict) -> tuple[list[str], int]:
    """Migrate, then add a base with RUNS + 1 ten-seat courses and LEARNERS learners. Returns logins."""
    app = create_app(config)
    with app.app_context():
        flask_migrate.upgrade()
        from models import BaseType, Category, Mode, Region, RegionLevel, TrainingBase

        region = Region(code="510199", name="并发市", level=RegionLevel.CITY)
        base = TrainingBase(name="并发测试基地", type=BaseType.CITY, region=region)
        start = clock.today() + timedelta(days=30)
        for n in range(RUNS + 1):
            db.session.add(Course(
                base=base, title=f"并发课程{n}", category=Category.PROFESSIONAL, field="卫生", hours=8,
                start_date=start, end_date=start, mode=Mode.FACE_TO_FACE, place="教室", audience="护士",
                capacity=SEATS, status="published", search_tokens="", plan_status="approved",
            ))
        password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")
        logins = [f"learner{n}@load.example" for n in range(LEARNERS)]
        db.session.add(region)
        db.session.flush()
        db.session.execute(sa.insert(User), [
            {"name": f"学员{n}", "email": login, "phone": f"139{n:08d}", "password_hash": password_hash,
             "role": Role.LEARNER, "region_id": region.id, "active": True, "session_token": secrets.token_hex(16)}
            for n, login in enumerate(logins)
        ])
        db.session.commit()
        first_course = db.session.scalar(sa.select(sa.func.min(Course.id)))
        db.engine.dispose()
    return logins, first_course


class Gunicorn:
    def __init__(self, env: dict, log: Path, app_spec: str = "app:create_app()"):
        self.app_spec = app_spec
        self.port = _free_port()
        self.log = log
        self.env = {**os.environ, **env}
        self.process = None

    def __enter__(self):
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(
            [str(gunicorn), "--workers", "4", "--no-control-socket", "--bind", f"127.0.0.1:{self.port}",
             "--timeout", "60", "--error-logfile", "-", self.app_spec],
            cwd=ROOT, env=self.env, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if Client(self.port).request("GET", "/login")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start:\n" + self.log.read_text())

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)


def _fire(clients, course_id: int, path: str = "/me/courses/{}/enroll") -> list[int]:
    """Every client presses enroll at the same moment."""
    barrier = threading.Barrier(len(clients))

    def press(client):
        barrier.wait()
        return client.request("POST", path.format(course_id), f"csrf_token={client.csrf}")[0]

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        return list(pool.map(press, clients))


def _check_run(config: dict, course_id: int) -> None:
    app = create_app(config)
    with app.app_context():
        rows = db.session.execute(
            sa.select(Enrollment.id, Enrollment.status, Enrollment.created_at)
            .where(Enrollment.course_id == course_id).order_by(Enrollment.id)
        ).all()
        seats = db.session.scalar(sa.select(Course.seats_taken).where(Course.id == course_id))
        db.engine.dispose()
    confirmed = [r for r in rows if r.status == EnrollmentStatus.CONFIRMED]
    waitlisted = [r for r in rows if r.status == EnrollmentStatus.WAITLISTED]
    assert len(rows) == LEARNERS
    assert len(confirmed) == SEATS and seats == SEATS
    assert len(waitlisted) == LEARNERS - SEATS
    # First come, first served: the confirmed seats went to the earliest requests processed, and the
    # waitlist (ordered by id) follows the order in which requests were processed.
    assert max(r.id for r in confirmed) < min(r.id for r in waitlisted)
    stamps = [r.created_at for r in rows]
    assert stamps == sorted(stamps)


def _run_load(config: dict, env: dict, tmp_path: Path) -> None:
    logins, first_course = _prepare_database(config)
    log = tmp_path / "gunicorn.log"
    with Gunicorn(env, log) as server:
        clients = [Client(server.port) for _ in logins]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda pair: pair[0].sign_in(pair[1]), zip(clients, logins, strict=True)))
        for run in range(RUNS):
            statuses = _fire(clients, first_course + run)
            assert all(status == 302 for status in statuses), sorted(set(statuses))
            _check_run(config, first_course + run)
        # One learner pressing twenty times at once gets one enrollment.
        same = [Client(server.port) for _ in range(20)]
        for client in same:
            client.cookie, client.csrf = clients[0].cookie, clients[0].csrf
        statuses = _fire(same, first_course + RUNS)
        assert all(status < 500 for status in statuses)
    output = log.read_text()
    assert "database is locked" not in output
    assert "Traceback" not in output, output
    app = create_app(config)
    with app.app_context():
        held = db.session.scalar(
            sa.select(sa.func.count(Enrollment.id)).where(Enrollment.course_id == first_course + RUNS)
        )
        db.engine.dispose()
    assert held == 1


def _env(database_url: str, tmp_path: Path) -> dict:
    return {
        "DATABASE_URL": database_url, "SECRET_KEY": "load-test-secret", "ID_NUMBER_KEY": TEST_ID_NUMBER_KEY,
        "JIDI_INSTANCE": str(tmp_path / "instance"),
    }


def test_capacity_holds_under_concurrent_enrollment_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'load.sqlite3'}"
    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "load-test-secret", "ID_NUMBER_KEY": TEST_ID_NUMBER_KEY,
              "UPLOAD_FOLDER": str(tmp_path / "uploads")}
    _run_load(config, _env(url, tmp_path), tmp_path)


@pytest.mark.postgres
def test_capacity_holds_under_concurrent_enrollment_on_postgresql(tmp_path):
    schema = f"jidi_load_{secrets.token_hex(4)}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "load-test-secret", "ID_NUMBER_KEY": TEST_ID_NUMBER_KEY,
              "UPLOAD_FOLDER": str(tmp_path / "uploads")}
    try:
        _run_load(config, _env(url, tmp_path), tmp_path)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def test_the_canary_a_naive_check_then_insert_enrollment_overbooks(tmp_path):
    """The harness must be able to see a race: bench/wsgi.py's deliberately naive enrollment (check for a
    seat, pause, insert), pressed by 100 learners at once, overbooks the 10 seats that the real one keeps."""
    url = f"sqlite:///{tmp_path / 'canary.sqlite3'}"
    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "load-test-secret", "ID_NUMBER_KEY": TEST_ID_NUMBER_KEY,
              "UPLOAD_FOLDER": str(tmp_path / "uploads")}
    logins, course_id = _prepare_database(config)
    with Gunicorn(_env(url, tmp_path), tmp_path / "gunicorn.log", app_spec="bench.wsgi:app") as server:
        clients = [Client(server.port) for _ in logins]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda pair: pair[0].sign_in(pair[1]), zip(clients, logins, strict=True)))
        statuses = _fire(clients, course_id, "/__racy__/{}")
    assert set(statuses) == {303}
    app = create_app(config)
    with app.app_context():
        confirmed = db.session.scalar(sa.select(sa.func.count(Enrollment.id)).where(
            Enrollment.course_id == course_id, Enrollment.status == EnrollmentStatus.CONFIRMED))
        db.engine.dispose()
    assert confirmed > SEATS
