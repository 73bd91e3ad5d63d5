"""The open API's completion batches: by phone or ID number, all or nothing, idempotent by external id,
audited with the token, limited in size and rate. Split from tests/test_api.py (issue 15)."""

from datetime import timedelta

import sqlalchemy as sa

from extensions import db
from models import (
    ApiCompletion,
    ApiToken,
    AuditLog,
    Enrollment,
    EnrollmentStatus,
    HoursRecord,
    User,
)
from services import resident_ids
from tests.api_fixtures import id_number, learners_with_phones
from tests.conftest import count_queries
from tests.test_api import DAY, TODAY, hours_rows, item  # noqa: F401  fixtures and helpers shared with test_api

# --- completions ---------------------------------------------------------------------------------------

def test_completions_by_phone_or_id_number_and_resent_batch_records_nothing(api, base_a, token_a, running,
                                                                            learner):
    course = running(base_a, hours=16)
    by_phone, by_id = learner(), learner(id_number="11010519491231002X")
    enrolled = learner()
    db.session.add(Enrollment(course_id=course.id, learner_id=enrolled.id, status=EnrollmentStatus.CONFIRMED))
    course.seats_taken = 1
    db.session.commit()
    batch = {"completions": [
        item(1, course, by_phone),
        {"external_id": "ext-2", "course_id": course.id, "name": by_id.name, "id_number": "11010519491231002x",
         "completed_on": DAY,
         "hours": 10},
        item(3, course, enrolled),
    ]}

    first = api.post("/api/v1/base/completions", json=batch, headers=token_a).get_json()
    rows_after_first = hours_rows()
    again = api.post("/api/v1/base/completions", json=batch, headers=token_a).get_json()

    assert first == {"received": 3, "recorded": 3, "already_recorded": 0, "added_to_roster": 2}
    assert again == {"received": 3, "recorded": 0, "already_recorded": 3, "added_to_roster": 0}
    assert hours_rows() == rows_after_first == 3
    credited = dict(db.session.execute(sa.select(HoursRecord.learner_id, HoursRecord.hours)).all())
    assert credited == {by_phone.id: 16, by_id.id: 10, enrolled.id: 16}
    db.session.refresh(course)
    assert course.seats_taken == 3
    shown = api.get("/api/v1/base/completions/ext-2", headers=token_a).get_json()
    assert shown["hours"] == 10 and shown["id_number_masked"] == "1101**********002X"


def test_batch_with_one_wrong_item_records_nothing(api, base_a, token_a, running, learner):
    course = running(base_a, hours=8)
    good, other = learner(), learner()
    stranger = learner()
    batch = {"completions": [
        item(1, course, good),
        item(2, course, other, hours=9),
        {**item(3, course, stranger), "name": "别人"},
        {**item(4, course, good), "phone": "13000000000"},
        {"external_id": "ext-5", "course_id": course.id, "name": "某人", "id_number": "110105194912310021",
         "completed_on": DAY},
        item(1, course, other),
        item(7, course, good),
    ]}

    response = api.post("/api/v1/base/completions", json=batch, headers=token_a)

    assert response.status_code == 400
    assert response.get_json()["errors"] == [
        {"field": "/completions/1/hours", "message": "不能超过课程的 8 学时"},
        {"field": "/completions/2/phone", "message": "未找到姓名与手机号都相符的注册学员"},
        {"field": "/completions/3/phone", "message": "未找到姓名与手机号都相符的注册学员"},
        {"field": "/completions/4/id_number", "message": "身份证号校验位不正确，请核对"},
        {"field": "/completions/5/external_id", "message": "与第 0 项的外部编号重复"},
        {"field": "/completions/6/phone", "message": "与第 0 项是同一学员的同一课程"},
    ]
    assert hours_rows() == 0 and db.session.scalar(sa.select(sa.func.count(ApiCompletion.id))) == 0


def test_an_item_gets_the_same_answer_whether_its_person_is_registered_or_not(api, base_a, token_a, running,
                                                                              make_course, learner):
    """Nothing a refused item says may tell a registered person from a made-up one: the course, its state
    and the hours are judged before anybody is looked for. (A reviewer probed exactly this: too many hours,
    or a course not yet started, were refused differently for a registered person.)"""
    person = learner()
    made_up = {"name": "查无此人", "phone": "13999999999"}
    short, future = running(base_a, hours=4), make_course(base_a)
    cases = [(short, {"hours": 5}), (future, {})]
    for course, extra in cases:
        answers = []
        for who in ({"name": person.name, "phone": person.phone}, made_up):
            response = api.post("/api/v1/base/completions", headers=token_a, json={"completions": [
                {"external_id": "probe", "course_id": course.id, "completed_on": DAY, **who, **extra}]})
            body = response.get_json()
            answers.append((response.status_code, body.get("errors"), body.get("conflicts")))
        assert answers[0] == answers[1], (course.title, answers)
        assert answers[0][0] in (400, 409)
    assert hours_rows() == 0


def test_an_item_with_phone_and_id_number_needs_both_to_be_the_same_learners(api, base_a, token_a, running,
                                                                             learner):
    course = running(base_a)
    person = learner(id_number="11010519491231002X")
    other = learner()
    other_number = resident_ids.decrypt(other.id_number_ciphertext)

    mixed = api.post("/api/v1/base/completions", headers=token_a, json={"completions": [
        {**item(1, course, person), "id_number": other_number}]})
    bad_check_digit = api.post("/api/v1/base/completions", headers=token_a, json={"completions": [
        {**item(1, course, person), "id_number": "110105194912310021"}]})
    both_right = api.post("/api/v1/base/completions", headers=token_a, json={"completions": [
        {**item(1, course, person), "id_number": "11010519491231002x"}]})

    assert mixed.status_code == 400 and mixed.get_json()["errors"] == [
        {"field": "/completions/0/phone", "message": "未找到姓名与手机号、身份证号都相符的注册学员"}]
    assert bad_check_digit.status_code == 400
    assert bad_check_digit.get_json()["errors"][0]["field"] == "/completions/0/id_number"
    assert both_right.get_json()["recorded"] == 1
    assert db.session.scalar(sa.select(HoursRecord.learner_id)) == person.id


def test_a_disabled_account_is_credited_with_nothing(api, base_a, token_a, running, learner):
    course = running(base_a)
    person = learner()
    person.active = False
    db.session.commit()

    response = api.post("/api/v1/base/completions", json={"completions": [item(1, course, person)]},
                        headers=token_a)

    assert response.status_code == 400
    assert response.get_json()["errors"][0]["message"] == "未找到姓名与手机号都相符的注册学员"
    assert hours_rows() == 0


def test_a_refused_batch_leaves_a_trace_in_the_audit_log(api, base_a, token_a, running, learner):
    course = running(base_a, hours=4)
    api.post("/api/v1/base/completions", headers=token_a, json={"completions": [
        {"external_id": "a", "course_id": course.id, "name": "查无此人", "phone": "13999999999", "completed_on": DAY},
        item(2, course, learner(), hours=5)]})
    api.post("/api/v1/base/completions", headers=token_a, json={"completions": [
        item(3, course, learner()), item(4, running(base_a, capacity=0), learner())]})

    entries = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "api.completions_refused")
                                 .order_by(AuditLog.id)).scalars().all()
    token = db.session.execute(sa.select(ApiToken)).scalar_one()
    assert [e.details for e in entries] == [
        {"received": 2, "errors": 2, "unmatched": 1, "api_token": token.prefix},
        {"received": 2, "conflicts": 1, "api_token": token.prefix},
    ]
    assert {e.base_id for e in entries} == {base_a.id} and hours_rows() == 0


def test_a_course_with_credited_hours_keeps_its_category_its_completions_days_and_enough_hours(
        api, base_a, token_a, running, learner):
    """The hours ledger booked the completion under the course's category, on the day the learner completed
    (within the course's dates), for at most its hours: an edit that would make course and ledger disagree is
    refused on its field. Moving the end into another year is not such an edit: the hours stay in the year
    of the completion's day."""
    course = running(base_a, hours=16)
    api.post("/api/v1/base/completions", json={"completions": [item(1, course, learner(), hours=12)]},
             headers=token_a)
    url = f"/api/v1/base/courses/{course.id}"
    next_year = course.end_date.replace(year=course.end_date.year + 1, month=1, day=15)
    other = "public" if course.category.value != "public" else "professional"

    refused = [api.patch(url, json=change, headers=token_a)
               for change in ({"category": other}, {"end_date": (TODAY - timedelta(days=1)).isoformat()},
                              {"hours": 11})]
    allowed = api.patch(url, json={"hours": 12, "end_date": next_year.isoformat()}, headers=token_a)

    assert [(r.status_code, r.get_json()["errors"][0]["field"]) for r in refused] == [
        (400, "/category"), (400, "/end_date"), (400, "/hours")]
    assert refused[0].get_json()["errors"][0]["message"] == "已有 1 人按本课程记了学时，不能再改类别"
    assert allowed.status_code == 200 and allowed.get_json()["hours"] == 12
    shown = api.get("/api/v1/base/completions/ext-1", headers=token_a).get_json()
    record = db.session.execute(sa.select(HoursRecord)).scalar_one()
    assert (shown["year"], shown["category"], shown["hours"]) == (record.year, record.category.value, 12)
    assert record.year == TODAY.year and shown["completed_on"] == DAY


def test_on_sqlite_the_site_can_write_while_a_batch_is_checked(app, api, base_a, token_a, running, learner,
                                                                 monkeypatch):
    """A batch's checks (schema, lookups) only read: they must not hold SQLite's write lock, which every
    other writer of the site waits for. Probed from the checks themselves by taking the lock without
    waiting."""
    import sqlite3

    from blueprints.api import spec
    from services import completions

    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    lock_was_free = {}

    def probed(name, original):
        def call(*args, **kwargs):
            other_writer = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                other_writer.execute("BEGIN IMMEDIATE")
                other_writer.execute("ROLLBACK")
                lock_was_free[name] = True
            except sqlite3.OperationalError:
                lock_was_free[name] = False
            finally:
                other_writer.close()
            return original(*args, **kwargs)
        return call

    # While the body is read and checked against the schema, when the batch is handed over, and during
    # the lookups.
    monkeypatch.setattr(spec, "parse_body", probed("schema check", spec.parse_body))
    monkeypatch.setattr(completions, "push", probed("handed over", completions.push))
    monkeypatch.setattr(completions, "_check", probed("lookups", completions._check))
    course = running(base_a)
    response = api.post("/api/v1/base/completions", json={"completions": [item(1, course, learner())]},
                        headers=token_a)

    assert response.get_json()["recorded"] == 1
    assert lock_was_free == {"schema check": True, "handed over": True, "lookups": True}


def test_schema_errors_point_into_the_batch(api, token_a):
    response = api.post("/api/v1/base/completions", json={"completions": [
        {"external_id": "a b", "course_id": 0, "name": "张三"},
    ]}, headers=token_a)

    fields = {e["field"] for e in response.get_json()["errors"]}
    assert response.status_code == 400
    assert {"/completions/0/external_id", "/completions/0/course_id"} <= fields
    assert "/completions/0" in fields  # neither phone nor ID number


def test_reused_external_id_with_other_content_is_a_conflict(api, base_a, token_a, running, learner):
    course = running(base_a, hours=8)
    first, second = learner(), learner()
    api.post("/api/v1/base/completions", json={"completions": [item(1, course, first)]}, headers=token_a)

    response = api.post("/api/v1/base/completions", json={"completions": [
        item(2, course, second), item(1, course, first, hours=4)]}, headers=token_a)

    assert response.status_code == 409
    assert response.get_json()["conflicts"] == [{
        "index": 1, "external_id": "ext-1",
        "message": "该外部编号已用于另一条结业记录（课程、学员、学时或结业日期不同）"}]
    assert hours_rows() == 1  # the second learner was not recorded either


def test_completion_already_recorded_otherwise_and_course_states_conflict(api, base_a, token_a, running,
                                                                           make_course, learner):
    course = running(base_a)
    future = make_course(base_a)  # starts in ten days
    person = learner()
    api.post("/api/v1/base/completions", json={"completions": [item(1, course, person)]}, headers=token_a)

    response = api.post("/api/v1/base/completions", json={"completions": [
        item(2, course, person), item(3, future, person)]}, headers=token_a)

    messages = [c["message"] for c in response.get_json()["conflicts"]]
    assert response.status_code == 409
    assert messages == ["该学员在本课程的结业已经记录（不是通过这个外部编号）", "课程尚未开始，不能记录结业"]


def test_full_course_refuses_the_batch(api, base_a, token_a, running, learner):
    course = running(base_a, capacity=1)
    response = api.post("/api/v1/base/completions", json={"completions": [
        item(1, course, learner()), item(2, course, learner())]}, headers=token_a)

    assert response.status_code == 409 and len(response.get_json()["conflicts"]) == 2
    assert hours_rows() == 0


def test_completions_are_audited_with_the_token(api, base_a, token_a, running, learner):
    course = running(base_a)
    api.post("/api/v1/base/completions", json={"completions": [item(1, course, learner())]}, headers=token_a)

    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "api.completions")).scalar_one()
    token = db.session.execute(sa.select(ApiToken)).scalar_one()
    assert entry.details["recorded"] == 1 and entry.details["api_token"] == token.prefix
    assert entry.actor_id == token.created_by_id


def test_ten_thousand_completions_in_one_call_and_again_records_nothing(api, base_a, token_a, running):
    courses = [running(base_a, capacity=None) for _ in range(4)]
    people = learners_with_phones(10_000)
    batch = {"completions": [
        {"external_id": f"hr-2026-{n:05d}", "course_id": courses[n % 4].id, "name": name, "phone": phone,
         "completed_on": DAY}
        for n, (_id, name, phone) in enumerate(people)
    ]}

    first = api.post("/api/v1/base/completions", json=batch, headers=token_a)
    rows = hours_rows()
    again = api.post("/api/v1/base/completions", json=batch, headers=token_a)

    assert first.status_code == 200 and first.get_json()["recorded"] == 10_000
    assert again.get_json() == {"received": 10_000, "recorded": 0, "already_recorded": 10_000, "added_to_roster": 0}
    assert rows == hours_rows() == 10_000
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id))) == 10_000


def test_batch_over_the_item_limit_is_refused(api, token_a):
    response = api.post("/api/v1/base/completions", json={"completions": [
        {"external_id": f"x{n}", "course_id": 1, "name": "某", "phone": "13800000000"} for n in range(10_001)
    ]}, headers=token_a)

    assert response.status_code == 400
    assert response.get_json()["errors"] == [{"field": "/completions", "message": "一次最多 10000 项"}]


def test_oversized_body_is_413_problem(app, api, token_a):
    app.config["API_MAX_BODY_BYTES"] = 1024
    response = api.post("/api/v1/base/completions", json={"completions": [
        {"external_id": f"x{n}", "course_id": 1, "name": "某", "phone": "13800000000"} for n in range(100)
    ]}, headers=token_a)

    assert response.status_code == 413 and response.mimetype == "application/problem+json"


def test_rate_limit_answers_429_with_retry_after(app, api):
    app.config["API_RATE_LIMIT_PER_ADDRESS"] = "3 per minute"
    answers = [api.get("/api/v1/bases") for _ in range(4)]

    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["Retry-After"]) > 0 and answers[-1].get_json()["status"] == 429


def test_rate_limit_per_token(app, api, token_a):
    app.config["API_RATE_LIMIT_PER_TOKEN"] = "2 per minute"
    answers = [api.get("/api/v1/base", headers=token_a) for _ in range(3)]

    assert [r.status_code for r in answers] == [200, 200, 429]
    assert api.get("/api/v1/bases").status_code == 200  # the address still has its own budget
    secret = token_a["Authorization"].removeprefix("Bearer ")
    for written in (f"bearer {secret}", f"BEARER  {secret}", f"Bearer {secret} "):
        # The same token written otherwise is still the same budget.
        assert api.get("/api/v1/base", headers={"Authorization": written}).status_code == 429, written


def _learners_named_both_ways(n: int) -> list[dict]:
    """``n`` learners as a batch names them: the even ones by phone, the odd ones by ID number (their keyed
    hash stored as registration stores it)."""
    people = learners_with_phones(n)
    numbers = {learner_id: id_number() for k, (learner_id, _name, _phone) in enumerate(people) if k % 2}
    users = User.__table__
    db.session.execute(sa.update(users).where(users.c.id == sa.bindparam("learner"))
                       .values(id_number_hmac=sa.bindparam("fingerprint")),
                       [{"learner": i, "fingerprint": resident_ids.fingerprint(n)} for i, n in numbers.items()])
    db.session.commit()
    return [{"name": name, **({"id_number": numbers[i]} if i in numbers else {"phone": phone})}
            for i, name, phone in people]


def push_statements(api, token, base, running, n: int) -> tuple[list[str], list[str]]:
    """The SQL statements of a batch of ``n`` completions over two courses (one learner already confirmed in
    the first, so that an enrollment is updated as well as inserted), and of the same batch sent again."""
    courses = [running(base, capacity=None) for _ in range(2)]
    people = _learners_named_both_ways(n)
    db.session.add(Enrollment(course_id=courses[0].id, learner_id=db.session.scalar(
        sa.select(User.id).where(User.name == people[0]["name"]).order_by(User.id.desc()).limit(1)),
        status=EnrollmentStatus.CONFIRMED))
    db.session.commit()
    batch = {"completions": [{"external_id": f"count-{n}-{k}", "course_id": courses[k % 2].id, "completed_on": DAY,
                              **who} for k, who in enumerate(people)]}
    sent = []
    for _ in range(2):
        with count_queries(db.engine) as statements:
            answer = api.post("/api/v1/base/completions", json=batch, headers=token)
        assert answer.status_code == 200, answer.get_json()
        sent.append(statements)
    assert answer.get_json()["already_recorded"] == n
    return sent[0], sent[1]


def test_a_batch_runs_a_fixed_number_of_statements_whatever_its_size(api, base_a, token_a, running):
    """Learners, external ids and enrollments are looked up in one statement each, and each table written in
    one: a batch of 1,000 runs exactly the statements of a batch of 10, and the resend far fewer."""
    assert api.get("/api/v1/base", headers=token_a).status_code == 200  # the token's first use noted before
    few_first, few_again = push_statements(api, token_a, base_a, running, 10)
    many_first, many_again = push_statements(api, token_a, base_a, running, 1000)

    assert len(many_first) == len(few_first) == 20, "\n".join(s[:80] for s in many_first)
    assert len(many_again) == len(few_again) == 9, "\n".join(s[:80] for s in many_again)
    assert db.session.scalar(sa.select(sa.func.count(HoursRecord.id))) == 1010
