"""Durability: `flask backup` / `flask restore` of a live SQLite database, and SIGKILL of the real server.

The backup is taken with SQLite's backup API while a thread enrolls learners: every copy passes
``PRAGMA integrity_check`` and is one moment of the database (seat counters match the seats held, and the
enrollments it holds are exactly the first ones written). A restore brings back every row of every table.
The real app runs under gunicorn (4 workers) and is killed with SIGKILL, master and workers, in the middle
of enrollments (several cycles) and of a roster import: after a restart every acknowledged write (a 302
received before the kill) is there, seat counters equal the seats held, the import is all or nothing, and
``PRAGMA integrity_check`` is ok.
"""

import hashlib
import http.client
import os
import re
import secrets
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from app import create_app
from extensions import db
from models import (
    BaseMembership,
    Category,
    Course,
    CourseStatus,
    Enrollment,
    HoursRecord,
    Mode,
    Role,
    TrainingBase,
    User,
)
from models.enrollment import SEAT_HOLDING
from services import enrollment
from services.infra import backup, clock
from tests.conftest import TEST_ID_NUMBER_KEY
from tests.test_concurrency import PASSWORD, Client, Gunicorn, _env, _prepare_database

HOLDING = tuple(status.value for status in SEAT_HOLDING)


# --- helpers ------------------------------------------------------------------------------------------

def _sqlite(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)


def _seat_mismatches(path: Path) -> list[tuple[int, int, int]]:
    """Courses whose seat counter differs from the enrollments holding a seat: (course, counter, held)."""
    marks = ", ".join("?" * len(HOLDING))
    with _sqlite(path) as connection:
        return connection.execute(
            "SELECT c.id, c.seats_taken, count(e.id) FROM course c LEFT JOIN enrollment e"
            f" ON e.course_id = c.id AND e.status IN ({marks}) GROUP BY c.id HAVING c.seats_taken != count(e.id)",
            HOLDING,
        ).fetchall()


def _digests(path: Path) -> dict[str, str]:
    """A digest of every row of every table, per table (rows sorted, so the order of storage is irrelevant)."""
    with _sqlite(path) as connection:
        connection.execute("BEGIN")
        digests = {}
        for table in backup.table_counts(path):
            rows = sorted(repr(row) for row in connection.execute(f'SELECT * FROM "{table}"'))
            digests[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        return digests


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _kill(server: Gunicorn) -> int:
    """SIGKILL the gunicorn master and every worker; the master is stopped first so it cannot respawn any."""
    master = server.process.pid
    os.kill(master, signal.SIGSTOP)
    workers = _children(master)
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    os.kill(master, signal.SIGKILL)
    server.process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid) for pid in workers):
        assert time.monotonic() < deadline, "workers survived SIGKILL"
        time.sleep(0.05)
    return len(workers)


def _state(pid: int) -> str:
    try:
        return (Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0]).lower()
    except (OSError, IndexError):
        return "zombie"


CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def _sign_in(client: Client, login: str) -> Client:
    """Sign in, then take the CSRF token of the signed-in session (sign-in may start a new session)."""
    client.sign_in(login)
    status, page = client.request("GET", "/")
    assert status == 200
    client.csrf = CSRF.search(page).group(1)
    return client


def _config(path: Path, tmp_path: Path) -> dict:
    return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "load-test-secret",
            "ID_NUMBER_KEY": TEST_ID_NUMBER_KEY, "UPLOAD_FOLDER": str(tmp_path / "uploads")}


# --- backup and restore ---------------------------------------------------------------------------------

@pytest.fixture
def database_path(app) -> Path:
    return Path(db.engine.url.database)


def test_backup_while_learners_enroll_is_a_consistent_snapshot(app, tmp_path, database_path, make_base,
                                                                make_course, city):
    base = make_base()
    course_ids = [make_course(base, capacity=40).id for _ in range(3)]
    password_hash = generate_password_hash("x", method="pbkdf2:sha256:1")
    db.session.execute(sa.insert(User), [
        {"name": f"学员{n}", "phone": f"138{n:08d}", "password_hash": password_hash, "role": Role.LEARNER,
         "region_id": city.id, "active": True, "session_token": secrets.token_hex(8)} for n in range(150)
    ])
    db.session.commit()
    learner_ids = db.session.scalars(sa.select(User.id).where(User.role == Role.LEARNER).order_by(User.id)).all()
    done = threading.Event()
    failures = []

    def enroll_everyone():
        try:
            with app.app_context():
                for learner_id in learner_ids:
                    for course_id in course_ids:
                        enrollment.enroll(db.session.get(User, learner_id), course_id)
                db.session.remove()
        except Exception as error:  # reported by the main thread
            failures.append(error)
        finally:
            done.set()

    writer = threading.Thread(target=enroll_everyone)
    runner = app.test_cli_runner()
    copies = []
    writer.start()
    while not done.is_set():
        target = tmp_path / f"backup-{len(copies)}.sqlite3"
        result = runner.invoke(args=["backup", str(target)])
        assert result.exit_code == 0, result.output
        copies.append(target)
        time.sleep(0.02)
    writer.join()
    assert not failures, failures

    with _sqlite(database_path) as connection:
        final = connection.execute("SELECT id FROM enrollment ORDER BY id").fetchall()
    assert len(final) == len(learner_ids) * len(course_ids)
    sizes = []
    for copy in copies:
        assert backup.integrity(copy) == "ok"
        assert not Path(f"{copy}-wal").exists()
        assert _seat_mismatches(copy) == []
        with _sqlite(copy) as connection:
            held = connection.execute("SELECT id FROM enrollment ORDER BY id").fetchall()
        # One moment of the database: the first len(held) enrollments ever written, and nothing after them.
        assert held == final[:len(held)]
        sizes.append(len(held))
    assert any(0 < size < len(final) for size in sizes), f"no backup was taken while enrolling: {sizes}"
    print(f"\n{len(copies)} backups during {len(final)} enrollments: integrity ok, sizes {sizes[0]}…{sizes[-1]}")


def test_restore_brings_back_every_row(app, tmp_path, database_path):
    from seeding.demo import seed_demo

    seed_demo()
    runner = app.test_cli_runner()
    saved = tmp_path / "saved.sqlite3"
    assert runner.invoke(args=["backup", str(saved)]).exit_code == 0
    before_counts, before_digests = backup.table_counts(database_path), _digests(database_path)
    assert backup.table_counts(saved) == before_counts and _digests(saved) == before_digests

    # Life goes on after the backup: rows added, changed and deleted.
    db.session.execute(sa.delete(HoursRecord).where(HoursRecord.enrollment_id.is_not(None)))  # the demo's completions
    db.session.execute(sa.delete(Enrollment))
    db.session.execute(sa.update(Course).values(title="改过的标题"))
    db.session.execute(sa.insert(User), [{"name": "新用户", "email": "new@example.com", "password_hash": "x",
                                          "role": Role.LEARNER, "active": True, "session_token": "t"}])
    db.session.commit()
    assert _digests(database_path) != before_digests

    refused = runner.invoke(args=["restore", str(saved)])
    assert refused.exit_code != 0 and "--yes" in refused.output
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.email == "new@example.com")) == 1

    result = runner.invoke(args=["restore", "--yes", str(saved)])
    assert result.exit_code == 0, result.output
    after_counts, after_digests = backup.table_counts(database_path), _digests(database_path)
    lost = {t: n - after_counts.get(t, 0) for t, n in before_counts.items() if n != after_counts.get(t)}
    assert lost == {} and after_counts == before_counts
    assert after_digests == before_digests
    assert backup.integrity(database_path) == "ok"
    db.session.remove()
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.email == "new@example.com")) == 0
    safety = list(tmp_path.glob(f"{database_path.name}.before-restore-*"))
    assert len(safety) == 1 and backup.table_counts(safety[0])["user"] == before_counts["user"] + 1
    print(f"\nrestore: {len(after_counts)} tables, {sum(after_counts.values())} rows compared, 0 lost")


def test_restore_refuses_a_damaged_backup_and_changes_nothing(app, tmp_path, database_path):
    runner = app.test_cli_runner()
    saved = tmp_path / "saved.sqlite3"
    assert runner.invoke(args=["backup", str(saved)]).exit_code == 0
    data = bytearray(saved.read_bytes())
    data[4096 * 3:4096 * 3 + 512] = b"\xff" * 512  # garble a page of the schema's tables
    saved.write_bytes(bytes(data))
    assert backup.integrity(saved) != "ok"
    before = _digests(database_path)
    result = runner.invoke(args=["restore", "--yes", str(saved)])
    assert result.exit_code != 0 and "完整性检查" in result.output
    assert _digests(database_path) == before
    not_ours = tmp_path / "other.sqlite3"
    sqlite3.connect(not_ours).execute("CREATE TABLE t (x)").connection.close()
    result = runner.invoke(args=["restore", "--yes", str(not_ours)])
    assert result.exit_code != 0 and "不是本系统" in result.output


def test_backup_never_overwrites_a_file(app, tmp_path):
    target = tmp_path / "exists.sqlite3"
    target.write_bytes(b"keep me")
    result = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code != 0 and target.read_bytes() == b"keep me"


@pytest.mark.parametrize("command", [["backup", "x.dump"], ["restore", "--yes", __file__]])
def test_on_postgresql_the_commands_explain_pg_dump(tmp_path, command):
    app = create_app({**_config(tmp_path / "unused.sqlite3", tmp_path),
                      "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    result = app.test_cli_runner().invoke(args=command)
    assert result.exit_code != 0
    assert "pg_dump" in result.output and "pg_restore" in result.output


# --- SIGKILL of the real server -------------------------------------------------------------------------

KILL_CYCLES = 3
ACKS_BEFORE_KILL = 120
THREADS = 16


# noqa below: one story of three kills and restarts, whose pressing threads share its lists and lock.
def test_sigkill_during_enrollments_loses_no_acknowledged_write(tmp_path):  # noqa: C901, PLR0915
    path = tmp_path / "kill.sqlite3"
    config = _config(path, tmp_path)
    logins, first_course = _prepare_database(config)
    app = create_app(config)
    with app.app_context():
        ids = dict(db.session.execute(sa.select(User.email, User.id).where(User.email.in_(logins))).all())
        course_ids = db.session.scalars(sa.select(Course.id).order_by(Course.id)).all()
        db.engine.dispose()
    pending = [(login, course_id) for course_id in course_ids for login in logins]
    pending.reverse()  # pop() takes course by course, so seats fill up and waitlists grow
    lock = threading.Lock()
    acknowledged: list[tuple[int, int]] = []
    unanswered: list[tuple[int, int]] = []
    refused: list[int] = []
    figures = []
    clients = {}
    env = _env(f"sqlite:///{path}", tmp_path)

    for cycle in range(KILL_CYCLES):
        with Gunicorn(env, tmp_path / f"gunicorn-{cycle}.log") as server:
            if not clients:
                signed = [Client(server.port) for _ in logins]
                with ThreadPoolExecutor(max_workers=8) as pool:
                    list(pool.map(lambda pair: _sign_in(*pair), zip(signed, logins, strict=True)))
                clients = dict(zip(logins, signed, strict=True))
            for client in clients.values():
                client.port = server.port  # the session cookie outlives the server
            acked_before = len(acknowledged)
            stop = threading.Event()

            def press(stop, clients):
                while not stop.is_set():
                    with lock:
                        if not pending:
                            return
                        login, course_id = pending.pop()
                    client = clients[login]
                    try:
                        status, _ = client.request("POST", f"/me/courses/{course_id}/enroll",
                                                   f"csrf_token={client.csrf}")
                    except (OSError, http.client.HTTPException):
                        with lock:
                            unanswered.append((ids[login], course_id))
                        return
                    with lock:
                        if status == 302:
                            acknowledged.append((ids[login], course_id))
                        else:
                            refused.append(status)

            threads = [threading.Thread(target=press, args=(stop, clients)) for _ in range(THREADS)]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 60
            while len(acknowledged) - acked_before < ACKS_BEFORE_KILL:
                assert time.monotonic() < deadline and pending, ("stalled", len(acknowledged), refused[:5])
                time.sleep(0.01)
            workers = _kill(server)
            stop.set()
            for thread in threads:
                thread.join(timeout=70)
        assert refused == []
        in_flight = len(unanswered) - sum(f["in_flight"] for f in figures)
        figures.append({"acknowledged": len(acknowledged) - acked_before, "in_flight": in_flight,
                        "workers_killed": workers})

        # Restart on the same file; the server serves again and the database holds every acknowledged write.
        with Gunicorn(env, tmp_path / f"gunicorn-restart-{cycle}.log") as server:
            assert Client(server.port).request("GET", "/login")[0] == 200
            assert backup.integrity(path) == "ok"
            with _sqlite(path) as connection:
                present = set(connection.execute("SELECT learner_id, course_id FROM enrollment").fetchall())
            lost = [pair for pair in acknowledged if pair not in present]
            assert lost == [], f"cycle {cycle}: {len(lost)} acknowledged enrollments lost"
            assert _seat_mismatches(path) == []
            with _sqlite(path) as connection:
                over = connection.execute(
                    "SELECT count(*) FROM course WHERE capacity IS NOT NULL AND seats_taken > capacity").fetchone()[0]
                doubled = connection.execute(
                    "SELECT count(*) FROM (SELECT learner_id, course_id FROM enrollment"
                    " GROUP BY learner_id, course_id HAVING count(*) > 1)").fetchone()[0]
            assert over == 0 and doubled == 0
            figures[-1]["landed_of_in_flight"] = sum(
                1 for pair in unanswered[len(unanswered) - in_flight:] if pair in present)
            figures[-1]["lost"] = 0
    print(f"\nSIGKILL during enrollments, {KILL_CYCLES} cycles: {figures}; "
          f"acknowledged {len(acknowledged)}, lost 0, integrity ok")
    assert len(figures) == KILL_CYCLES


ROSTER_ROWS = 10_000
ROSTER_ATTEMPTS = 3


def _prepare_roster(config: dict) -> tuple[str, list[int], bytes]:
    """A base admin, ROSTER_ATTEMPTS + 1 started courses and ROSTER_ROWS learners; returns the admin's
    login, the courses and the CSV roster naming every learner."""
    _prepare_database(config)
    app = create_app(config)
    with app.app_context():
        base = db.session.scalars(sa.select(TrainingBase)).one()
        password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")
        admin = User(name="基地管理员", email="admin@load.example", role=Role.BASE_ADMIN, active=True,
                     password_hash=password_hash, session_token=secrets.token_hex(16))
        db.session.add(admin)
        db.session.flush()
        db.session.add(BaseMembership(user_id=admin.id, base_id=base.id))
        start = clock.today() - timedelta(days=2)
        courses = [
            Course(base_id=base.id, title=f"面授课程{k}", category=Category.PROFESSIONAL, field="卫生", hours=16,
                   start_date=start, end_date=start + timedelta(days=1), mode=Mode.FACE_TO_FACE, place="教室",
                   audience="护士", capacity=None, status=CourseStatus.PUBLISHED, search_tokens="",
                   plan_status="approved")
            for k in range(ROSTER_ATTEMPTS + 1)
        ]
        db.session.add_all(courses)
        learners = [(f"面授学员{n}", f"136{n:08d}") for n in range(ROSTER_ROWS)]
        db.session.execute(sa.insert(User), [
            {"name": name, "phone": phone, "password_hash": password_hash, "role": Role.LEARNER,
             "region_id": base.region_id, "active": True, "session_token": secrets.token_hex(8)}
            for name, phone in learners
        ])
        db.session.commit()
        course_ids = [c.id for c in courses]
        db.engine.dispose()
    data = "\n".join(["姓名,手机号,学时"] + [f"{name},{phone}," for name, phone in learners]).encode()
    return "admin@load.example", course_ids, data


def _upload(client: Client, base_course: tuple[int, int], data: bytes) -> int:
    """POST the roster as a multipart form, as the browser does; the answer's status."""
    path = "/manage/bases/{}/courses/{}/roster/import".format(*base_course)
    status, page = client.request("GET", path)
    assert status == 200
    token = CSRF.search(page).group(1)
    boundary = secrets.token_hex(16)
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="roster"; filename="roster.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    connection = http.client.HTTPConnection("127.0.0.1", client.port, timeout=120)
    connection.request("POST", path, body=body, headers={
        "Cookie": client.cookie, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def _write_locked(path: Path) -> bool:
    """Whether a transaction holds the database's write lock right now (our own attempt never waits)."""
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as error:
        assert "locked" in str(error) or "busy" in str(error), error
        return True
    finally:
        connection.close()


def _import_state(path: Path, course_id: int) -> tuple[int, int, int]:
    """(completed enrollments, ledger rows, seat counter) of a course."""
    with _sqlite(path) as connection:
        connection.execute("BEGIN")
        completed = connection.execute("SELECT count(*) FROM enrollment WHERE course_id = ? AND status = ?",
                                       (course_id, "completed")).fetchone()[0]
        ledger = connection.execute("SELECT count(*) FROM hours_record WHERE course_id = ?", (course_id,)).fetchone()[0]
        seats = connection.execute("SELECT seats_taken FROM course WHERE id = ?", (course_id,)).fetchone()[0]
    return completed, ledger, seats


def test_sigkill_during_a_roster_import_leaves_all_or_nothing(tmp_path):
    assert HoursRecord.__tablename__ == "hours_record" and Enrollment.__tablename__ == "enrollment"
    path = tmp_path / "import.sqlite3"
    config = _config(path, tmp_path)
    admin_login, course_ids, data = _prepare_roster(config)
    with _sqlite(path) as connection:
        base_id = connection.execute("SELECT base_id FROM course WHERE id = ?", (course_ids[0],)).fetchone()[0]
    env = _env(f"sqlite:///{path}", tmp_path)

    # The last course: an import left alone, timed, to place the kills inside the write transaction.
    with Gunicorn(env, tmp_path / "gunicorn-full.log") as server:
        admin = Client(server.port)
        _sign_in(admin, admin_login)
        began = time.monotonic()
        assert _upload(admin, (base_id, course_ids[-1]), data) == 302
        full_time = time.monotonic() - began
    assert _import_state(path, course_ids[-1]) == (ROSTER_ROWS, ROSTER_ROWS, ROSTER_ROWS)

    outcomes = []
    for attempt, course_id in enumerate(course_ids[:-1]):
        # Kill at 30 %, 50 % and 70 % of the timed import, once the write lock is held. Under load an import
        # may finish first; then it was acknowledged and must be all there.
        kill_after = full_time * (0.30 + 0.20 * attempt)
        with Gunicorn(env, tmp_path / f"gunicorn-import-{attempt}.log") as server:
            admin.port = server.port
            answer = []
            sender = threading.Thread(target=_try_upload, args=(admin, (base_id, course_id), data, answer))
            began = time.monotonic()
            sender.start()
            killed_at = None
            while sender.is_alive():
                assert time.monotonic() - began < 120, "the import hangs"
                if time.monotonic() - began >= kill_after and _write_locked(path):
                    killed_at = time.monotonic() - began
                    _kill(server)
                    break
                time.sleep(0.01)
            sender.join(timeout=130)
        with Gunicorn(env, tmp_path / f"gunicorn-import-restart-{attempt}.log") as server:
            assert Client(server.port).request("GET", "/login")[0] == 200
            assert backup.integrity(path) == "ok"
            completed, ledger, seats = _import_state(path, course_id)
        assert (completed, ledger, seats) in ((0, 0, 0), (ROSTER_ROWS, ROSTER_ROWS, ROSTER_ROWS))
        assert answer in ([None], [200]) or completed == ROSTER_ROWS  # an acknowledged import is all there
        outcomes.append({"killed_in_transaction_at_s": killed_at and round(killed_at, 2),
                         "answer": answer[0], "rows_after_restart": completed})
    assert any(o["killed_in_transaction_at_s"] for o in outcomes), outcomes
    assert _seat_mismatches(path) == []
    print(f"\nSIGKILL during a {ROSTER_ROWS}-row roster import (full import {full_time:.2f} s): {outcomes}; "
          "each all or nothing, integrity ok")


def _try_upload(client: Client, base_course: tuple[int, int], data: bytes, answer: list) -> None:
    """Upload, appending the status to ``answer``, or None when the server died first."""
    try:
        answer.append(_upload(client, base_course, data))
    except (OSError, http.client.HTTPException, AssertionError):
        answer.append(None)
