"""Completion batches on PostgreSQL: 10,000 in one call, resent, and the same batch sent twice at once."""

import base64
import threading

import pytest
import sqlalchemy as sa

from extensions import db
from models import ApiCompletion, Enrollment, HoursRecord
from tests.api_fixtures import TODAY, learners_with_phones
from tests.api_schema import CheckedClient
from tests.test_api_completions import push_statements

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_app):
    pg_app.test_client_class = CheckedClient
    return pg_app


def counts() -> tuple[int, int, int]:
    return tuple(db.session.scalar(sa.select(sa.func.count(model.id)))
                 for model in (HoursRecord, Enrollment, ApiCompletion))


def test_ten_thousand_completions_on_postgresql(api, base_a, token_a, running):
    courses = [running(base_a, capacity=None) for _ in range(4)]
    batch = {"completions": [
        {"external_id": f"hr-{n:05d}", "course_id": courses[n % 4].id, "name": name, "phone": phone,
         "completed_on": TODAY.isoformat()}
        for n, (_id, name, phone) in enumerate(learners_with_phones(10_000))
    ]}

    first = api.post("/api/v1/base/completions", json=batch, headers=token_a).get_json()
    again = api.post("/api/v1/base/completions", json=batch, headers=token_a).get_json()

    assert first["recorded"] == 10_000 and again["recorded"] == 0 and again["already_recorded"] == 10_000
    assert counts() == (10_000, 10_000, 10_000)


def test_the_same_batch_sent_twice_at_once_records_once(app, base_a, token_a, running):
    course = running(base_a, capacity=None)
    batch = {"completions": [
        {"external_id": f"dup-{n}", "course_id": course.id, "name": name, "phone": phone,
         "completed_on": TODAY.isoformat()}
        for n, (_id, name, phone) in enumerate(learners_with_phones(500))
    ]}
    answers = []
    start = threading.Barrier(2)

    def send():
        client = app.test_client()
        start.wait()
        answers.append(client.post("/api/v1/base/completions", json=batch, headers=token_a).get_json())

    db.session.commit()
    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted((a["recorded"], a["already_recorded"]) for a in answers) == [(0, 500), (500, 0)]
    assert counts() == (500, 500, 500)


def test_ids_beyond_an_integer_column_are_refused_not_errors(api, token_a, base_a, running):
    """PostgreSQL's INTEGER ends at 2**31 - 1 and errors past it: every id a client sends stops before."""
    from services.queries import catalog_pages

    too_big = 2**31
    course = running(base_a)
    catalog_cursor = catalog_pages.encode_cursor(catalog_pages.Position("start", 2, True, (course.start_date, too_big)))
    own_cursor = base64.urlsafe_b64encode(str(too_big).encode()).decode().rstrip("=")

    answers = [
        api.get(f"/api/v1/courses/{too_big}"), api.get(f"/api/v1/courses?base_id={too_big}"),
        api.get(f"/api/v1/courses?cursor={catalog_cursor}"),
        api.get(f"/api/v1/base/courses/{too_big}/roster", headers=token_a),
        api.get(f"/api/v1/base/courses?cursor={own_cursor}", headers=token_a),
        api.post("/api/v1/base/completions", headers=token_a, json={"completions": [
            {"external_id": "x", "course_id": too_big, "name": "某", "phone": "13800000000"}]}),
    ]

    assert [a.status_code for a in answers] == [404, 400, 400, 404, 400, 400]
    assert api.get(f"/courses/{too_big}").status_code == 404  # the site's routes share the converter


def test_a_batch_waits_for_a_site_write_on_its_course_and_neither_deadlocks(app, base_a, token_a, running):
    """The site's writes lock a course (services.infra.locking.locked) and then insert rows naming its base (the
    audit entry). A batch locks the base and then its courses. With FOR UPDATE on the base, the site's
    insert waited for the batch while the batch waited for the course: a deadlock, and a 500 for the client.
    The batch must simply wait its turn."""
    from models import AuditLog

    course = running(base_a, capacity=None)
    (_id, name, phone), = learners_with_phones(1)
    base_id, course_id = base_a.id, course.id
    db.session.commit()
    answers = []

    def send():
        client = app.test_client()
        answers.append(client.post("/api/v1/base/completions", headers=token_a, json={"completions": [
            {"external_id": "while-site-writes", "course_id": course_id, "name": name, "phone": phone,
             "completed_on": TODAY.isoformat()}]}))

    with db.engine.connect() as site:
        # What a site write holds from its start: the course's row, as locked() takes it.
        site.execute(sa.text("SELECT id FROM course WHERE id = :id FOR NO KEY UPDATE"), {"id": course_id})
        batch = threading.Thread(target=send)
        batch.start()
        assert _waits_for_a_lock(), "the batch should be waiting for the course's row"
        # ... and later in the same transaction, its audit entry naming the base.
        site.execute(sa.insert(AuditLog).values(action="course.update", object_type="course",
                                                object_id=course_id, base_id=base_id, details={}))
        site.commit()
    batch.join(timeout=30)

    assert [a.status_code for a in answers] == [200], [a.get_json() for a in answers]
    assert answers[0].get_json()["recorded"] == 1


def _waits_for_a_lock(seconds: float = 10) -> bool:
    """Whether another session waits for a row lock, within ``seconds``. Asked on a connection of its
    own each time: pg_stat_activity is a snapshot taken once per transaction."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with db.engine.connect() as probe:
            if probe.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                     " AND datname = current_database()")).scalar_one():
                return True
        time.sleep(0.05)
    return False


def test_a_batch_runs_a_fixed_number_of_statements_on_postgresql(api, base_a, token_a, running):
    """As on SQLite (tests/test_api_completions.py): the same statements for 10 items as for 1,000; here the
    values go as arrays (``= ANY``, ``unnest``), so that holds for 10,000 too."""
    assert api.get("/api/v1/base", headers=token_a).status_code == 200  # the token's first use noted before
    few_first, few_again = push_statements(api, token_a, base_a, running, 10)
    many_first, many_again = push_statements(api, token_a, base_a, running, 1000)

    assert len(many_first) == len(few_first) == 20, "\n".join(s[:80] for s in many_first)
    assert len(many_again) == len(few_again) == 9, "\n".join(s[:80] for s in many_again)
    bulk = [s for s in many_first if s.startswith(("INSERT INTO enrollment", "INSERT INTO hours_record",
                                                   "INSERT INTO api_completion"))]
    assert len(bulk) == 3 and all("FROM unnest(" in s for s in bulk)
