"""Schemathesis against the OpenAPI document of /api/v1: generated requests, stateless and stateful, checked
with every check schemathesis enables by default (server errors, status codes, content types, response
schemas and headers, negative data rejection, positive data acceptance, ignored auth, unsupported methods,
use after free, resource availability, …).

The app is called in process through WSGI, once on SQLite and once on PostgreSQL. Every test gets its own
migrated database (a fresh SQLite copy, or the emptied PostgreSQL schema), filled with a base that has a
token, courses of it that have started (so completions can be recorded), registered learners, and another
base with a course of its own that the token must never see.
"""

import contextvars
from collections import Counter
from datetime import timedelta

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck

from blueprints.api import spec
from extensions import db
from models import (
    CourseStatus,
    Employer,
    Employment,
    EmploymentStatus,
    Evaluation,
    EvaluationResult,
    EvaluationStatus,
    Outcome,
    Role,
    RuleSet,
)
from services import accounts, api_tokens, certificates, completions, resident_ids
from services.infra import clock

STATELESS_EXAMPLES = 30
STATEFUL_EXAMPLES = 160  # enough scenarios that some follow a new course to its roster whatever the order of a run
SEED = 20240601


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app(request, app_config):
    """Both databases: PostgreSQL refuses what SQLite lets pass (an id beyond its INTEGER, NUL in text)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_app")
    pg_app = request.getfixturevalue("pg_app")
    pg_app.config.update(app_config)
    return pg_app


@pytest.fixture
def app_config():
    # Thousands of requests in a few seconds from one address and one token: no rate limit may trip.
    return {"API_RATE_LIMIT_PER_ADDRESS": "1000000 per minute", "API_RATE_LIMIT_PER_TOKEN": "1000000 per minute"}


def _id_number(n: int) -> str:
    first17 = f"510104{1960 + n}0312{n:03d}"
    return first17 + resident_ids.check_character(first17)


SEEN = Counter()


class World:
    pass


@pytest.fixture
def world(app, city, make_user, make_base, make_course, admin_and_base):
    today = clock.today()
    w = World()
    w.admin, w.base = admin_and_base
    _token, w.secret = api_tokens.create_token(w.admin, w.base, "schemathesis")
    w.courses = [
        make_course(w.base, start_date=today - timedelta(days=3), end_date=today + timedelta(days=4), capacity=None),
        make_course(w.base, start_date=today - timedelta(days=1), end_date=today + timedelta(days=1), capacity=30),
        make_course(w.base, start_date=today + timedelta(days=20), capacity=10),
        make_course(w.base, status=CourseStatus.DRAFT),
    ]
    w.learners = [
        accounts.register_learner({
            "consent": accounts.PRIVACY_NOTICE_VERSION,
            "name": f"学员{n}", "phone": f"1380000{n:04d}", "email": f"st{n}@test.example",
            "password": "correct horse battery", "id_number": _id_number(n), "region_id": city.id,
        })
        for n in range(1, 6)
    ]
    other_admin = make_user(Role.BASE_ADMIN)
    w.other_base = make_base(admin=other_admin)
    w.other_course = make_course(w.other_base, start_date=today - timedelta(days=2),
                                 end_date=today + timedelta(days=2))
    _other_token, w.other_secret = api_tokens.create_token(other_admin, w.other_base, "其他基地")
    # An employer whose HR system reads three of the learners as its staff; the others work elsewhere.
    w.employer = Employer(name="接口测试医院", region_id=city.id)
    db.session.add(w.employer)
    db.session.flush()
    for staff in w.learners[:3]:
        staff.employer_id = w.employer.id
        db.session.add(Employment(learner_id=staff.id, employer_id=w.employer.id, status=EmploymentStatus.CONFIRMED))
    db.session.commit()
    w.staff_ids = {staff.id for staff in w.learners[:3]}
    employer_admin = make_user(Role.EMPLOYER_ADMIN, employer_id=w.employer.id)
    _employer_token, w.employer_secret = api_tokens.create_employer_token(employer_admin, w.employer, "人事系统")
    # Completions already pushed, under the short external ids generated strings start with.
    completions.push(w.admin, w.base, [
        {"external_id": "0", "course_id": w.courses[0].id, "name": w.learners[0].name, "phone": w.learners[0].phone,
         "completed_on": today.isoformat()},
        {"external_id": "00", "course_id": w.courses[1].id, "name": w.learners[1].name,
         "id_number": _id_number(2), "completed_on": today.isoformat()},
    ])
    # A certificate to verify (the region asks for 1 hour in the year of the first completion), and a
    # confirmed evaluation of last year that kept the base, so that those reads reach their 200 too.
    year = today.year
    db.session.add(RuleSet(region_id=city.id, year=year, total_min=1))
    db.session.commit()
    w.certificate_code = certificates.issue(w.learners[0], year).code
    w.published_year = today.year - 1
    evaluation = Evaluation(year=w.published_year, region_id=city.id, status=EvaluationStatus.CONFIRMED)
    db.session.add(evaluation)
    db.session.flush()
    db.session.add(EvaluationResult(
        evaluation_id=evaluation.id, base_id=w.base.id, trainees=2000, projects=4, completion_rate=1.0,
        average_rating=5.0, disclosure_rate=1.0, overdue_plans=0, target_trainees=2000, target_projects=4,
        score=90, proposed=Outcome.KEEP, final=Outcome.KEEP))
    db.session.commit()
    return w


def realistic(world):
    """A hook for two of three schema-valid requests of the operations whose success needs more than the
    schema says: batches then name the world's started courses and registered learners (so pushes reach
    their success path and, repeated, idempotency and conflicts, instead of always "unknown learner"), and
    new courses keep the course form's cross-field rules (so the stateful run has courses to follow links
    from). The other third, and every negative case, is sent as generated."""
    started = [c.id for c in world.courses[:2]]
    people = [(u.name, u.phone, _id_number(n)) for n, u in enumerate(world.learners, start=1)]

    def map_case(context, case):
        meta = case.meta
        if meta is None or not meta.generation.mode.is_positive:
            return case
        operation_id = case.operation.definition.raw.get("operationId")
        if operation_id in EXISTING and case.path_parameters:
            name, value = EXISTING[operation_id]
            if sum(map(ord, str(case.path_parameters[name]))) % 3:
                case.path_parameters[name] = value(world)
            return case
        if not isinstance(case.body, dict):
            return case
        if operation_id == "create_own_course":
            return _keep_form_rules(case)
        if operation_id != "push_completions":
            return case
        items = case.body.get("completions") or []
        if items and sum(map(ord, items[0]["external_id"])) % 3:
            _name_the_world(items, people, started)
        return case

    return map_case


def _name_the_world(items, people, started):
    """Point each generated completion at one of the world's started courses and registered learners."""
    for n, item in enumerate(items):
        pick = sum(map(ord, item["external_id"])) + n
        name, phone, id_number = people[pick % len(people)]
        item["course_id"] = started[pick % len(started)]
        item["name"] = name
        if "phone" in item:
            item["phone"] = phone
        if "id_number" in item:
            item["id_number"] = id_number
        if "hours" in item:
            item["hours"] = min(item["hours"], 16)


# Reads whose 200 needs an existing key that random generation would never hit: two of three positive
# cases ask for the world's certificate code and published year instead.
EXISTING = {
    "verify_certificate": ("code", lambda w: w.certificate_code),
    "published_list": ("year", lambda w: w.published_year),
}


def _keep_form_rules(case):
    body = case.body
    if sum(map(ord, body["title"])) % 3 == 0:
        return case
    body["end_date"] = max(body["start_date"], body["end_date"])
    if body["mode"] in ("face_to_face", "blended") and not (body.get("place") or "").strip():
        body["place"] = "培训楼 101"
    deadline = body.get("enroll_until")
    if deadline is not None and (body["mode"] != "self_paced"
                                 or not body["start_date"] <= deadline <= body["end_date"]):
        del body["enroll_until"]
    return case


def isolated(app):
    """The app as WSGI, each request in its own app context (as in production; the fixture keeps one open)."""

    def wsgi(environ, start_response):
        db.session.commit()

        def recording(status, headers, *args):
            SEEN[(environ["REQUEST_METHOD"], environ["PATH_INFO"], bool(environ.get("HTTP_AUTHORIZATION")),
                  int(status[:3]))] += 1
            return start_response(status, headers, *args)

        return contextvars.Context().run(app.wsgi_app, environ, recording)

    return wsgi


# Operations whose 400 also covers rules a JSON schema cannot state, so that a schema-valid request may
# rightly be refused: an opaque cursor that is not one the API handed out (list_courses, list_own_courses,
# get_roster), the course form's cross-field rules (end date before start date, a place for face-to-face
# courses, a cancellation without a reason: create/update_own_course), and a batch naming a course or
# learner the base does not have, or an ID number whose check digit is wrong (push_completions). For these,
# and only these, positive_data_acceptance also accepts 400, as schemathesis documents for "a rejection the
# schema can't express, such as an unknown id or a cross-field rule" (`st explain ST202`). The
# ``request_schema_agrees`` check below keeps that honest: such a 400 must never come from the request
# schema itself, i.e. the server's validator must accept every request schemathesis generated as valid.
BUSINESS_RULE_400 = ["list_courses", "list_own_courses", "get_roster", "create_own_course", "update_own_course",
                     "push_completions", "employer_staff"]
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]  # schemathesis's default


def load_schema(app, secret, employer_secret):
    config = schemathesis.Config.from_dict({
        "seed": SEED,
        # Each token goes where the document's security scheme says, so schemathesis knows it is real and
        # its ignored_auth check still sends requests without it and with a wrong one (expecting 401).
        "auth": {"openapi": {"baseToken": {"bearer": secret}, "employerToken": {"bearer": employer_secret}}},
        "operations": [{
            "include-operation-id": BUSINESS_RULE_400,
            "checks": {"positive_data_acceptance": {"expected-statuses": [*POSITIVE_STATUSES, "400"]}},
        }],
    })
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", isolated(app), config=config)


@schemathesis.check
def request_schema_agrees(ctx, response, case):
    """A schema-valid request (schemathesis's positive data) passes the server's own request check: any
    400 it gets is a business rule, never the schema the document publishes being checked differently."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    op = spec.OPERATIONS[case.operation.definition.raw["operationId"]]
    errors = []
    if op.query:
        values = {name: spec._coerce(_as_query_string(value), op.query[name])
                  for name, value in (case.query or {}).items() if name in op.query}
        errors += spec.check(spec._query_validator(op.operation_id), values)
    if op.body and isinstance(case.body, dict | list):
        errors += spec.check(spec.validator_for(op.body), case.body)
    assert not errors, f"the API's request check refuses a schema-valid request: {errors}"
    return None


OTHER_BASE = {}  # the other base's and its course's ids, for the test running now


@schemathesis.check
def other_base_invisible(ctx, response, case):
    """Nothing a base's token reads or writes is of another base: no object of its, no course of it."""
    tokens_operation = case.path == "/api/v1/base" or case.path.startswith("/api/v1/base/")
    if not tokens_operation or not 200 <= response.status_code < 300:
        return None
    seen = []

    def walk(value):
        if isinstance(value, dict):
            if isinstance(value.get("base"), dict):
                seen.append(("base", value["base"].get("id")))
            if "course_id" in value:
                seen.append(("course", value["course_id"]))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(response.json())
    leaked = {("base", OTHER_BASE["base"]), ("course", OTHER_BASE["course"])} & set(seen)
    assert not leaked, f"a token of one base sees another base's data: {leaked}"
    return None


STAFF = set()  # the employer's staff, for the test running now


@schemathesis.check
def other_employer_invisible(ctx, response, case):
    """An employer's token reads its own staff and nobody else."""
    if case.path != "/api/v1/employer/staff" or not 200 <= response.status_code < 300:
        return None
    seen = {item["learner_id"] for item in response.json()["items"]}
    assert seen <= STAFF, f"an employer's token sees others than its staff: {seen - STAFF}"
    return None


def _as_query_string(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.fixture
def api_schema(app, world):
    OTHER_BASE.update(base=world.other_base.id, course=world.other_course.id)
    STAFF.clear()
    STAFF.update(world.staff_ids)
    loaded = load_schema(app, world.secret, world.employer_secret)
    loaded.hook("map_case")(realistic(world))
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(max_examples=STATELESS_EXAMPLES, derandomize=True, deadline=None,
                     suppress_health_check=list(HealthCheck))
def test_stateless(case):
    case.call_and_validate()


def test_stateful(api_schema, world):
    """Scenarios chained by the links the document declares on POST /base/courses (201: get_own_course,
    update_own_course, get_roster, with the new course's id); schemathesis also adds links it infers."""
    SEEN.clear()
    known = {c.id for c in [*world.courses, world.other_course]}
    machine = api_schema.as_state_machine()
    machine.run(settings=hypothesis.settings(
        max_examples=STATEFUL_EXAMPLES, stateful_step_count=8, derandomize=True, deadline=None,
        suppress_health_check=list(HealthCheck),
    ))

    # The run did follow the links: courses it created were then read, changed and their rosters read.
    followed = {(method, path.split("/")[-1] if method != "GET" or not path.endswith("roster") else "roster")
                for (method, path, _auth, status), _n in SEEN.items()
                if status == 200 and path.startswith("/api/v1/base/courses/")
                and int(path.split("/")[5]) not in known}
    assert ("POST", "courses") not in followed and {("GET", "roster")} <= followed, followed
    assert any(m == "POST" and s == 201 for m, _p, _a, s in SEEN)

