"""The open API (/api/v1): public reads, base tokens, course writes, completion batches, problem details.

Every response these tests receive is checked against the OpenAPI document (tests.api_schema)."""

import base64
import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    ApiToken,
    AuditLog,
    BaseMembership,
    BaseStatus,
    Course,
    CourseStatus,
    Evaluation,
    EvaluationResult,
    EvaluationStatus,
    HoursRecord,
    Outcome,
    Role,
    RuleSet,
    TrainingBase,
    User,
)
from services import api_tokens, resident_ids
from services.infra import clock
from tests.conftest import count_queries

TODAY = clock.today()


# The day pushed completions are dated: the running courses' (started two days ago, ending in five) today.
DAY = TODAY.isoformat()


def item(n, course, user, **kw):
    return {"external_id": f"ext-{n}", "course_id": course.id, "name": user.name, "phone": user.phone,
            "completed_on": DAY, **kw}


def hours_rows() -> int:
    return db.session.scalar(sa.select(sa.func.count(HoursRecord.id)))


COURSE = {
    "title": "医疗质量管理专题", "category": "professional", "field": "卫生", "hours": 12,
    "start_date": (TODAY + timedelta(days=10)).isoformat(), "end_date": (TODAY + timedelta(days=12)).isoformat(),
    "mode": "face_to_face", "place": "培训楼 201", "audience": "医务人员", "contact_person": "李老师",
    "contact_phone": "028-61234567", "capacity": 40, "fee": "680.00",
}


# --- the document ------------------------------------------------------------------------------------

def test_document_is_openapi_31_and_covers_every_api_route(app, api):
    document = api.get("/api/v1/openapi.json").get_json()
    documented = {(path, verb) for path, item in document["paths"].items() for verb in item}
    routes = {
        (rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert document["openapi"] == "3.1.0"
    assert routes == documented
    assert len(documented) == 16  # with the employer's staff (issue 17)


def test_problem_for_unknown_address_and_wrong_method(api):
    missing = api.get("/api/v1/nothing-here")
    wrong = api.delete("/api/v1/courses")

    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"]
    assert wrong.get_json()["status"] == 405


# --- public reads ------------------------------------------------------------------------------------

def test_course_list_filters_and_walks_every_page_by_cursor(api, base_a, make_course):
    made = [make_course(base_a, category="public" if n % 2 else "professional", mode="self_paced", place="线上")
            for n in range(7)]
    make_course(base_a, status=CourseStatus.DRAFT)

    seen, cursor = [], None
    while True:
        page = api.get("/api/v1/courses", query_string={"per_page": 3, **({"cursor": cursor} if cursor else {})})
        body = page.get_json()
        seen += [c["id"] for c in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    public_only = api.get("/api/v1/courses?category=public&per_page=100").get_json()

    assert sorted(seen) == sorted(c.id for c in made)  # every published course once, no draft
    assert body["total"] == 7
    assert {c["category"] for c in public_only["items"]} == {"public"} and public_only["total"] == 3


def test_course_list_refuses_bad_parameters_field_by_field(api):
    response = api.get("/api/v1/courses?per_page=0&category=art&month=2026-13&has_seats=yes&cursor=%21")

    fields = {e["field"]: e["message"] for e in response.get_json()["errors"]}
    assert response.status_code == 400
    assert set(fields) == {"per_page", "category", "month", "has_seats", "cursor"}
    assert fields["per_page"] == "不能小于 1"
    # Year 0 has no calendar: it was once accepted and the filter silently dropped.
    year_zero = api.get("/api/v1/courses?month=0000-01")
    assert year_zero.status_code == 400 and year_zero.get_json()["errors"][0]["field"] == "month"


def test_a_cursor_of_another_sort_is_refused(api, base_a, make_course):
    for _ in range(3):
        make_course(base_a)
    cursor = api.get("/api/v1/courses?per_page=1&sort=hours").get_json()["next_cursor"]

    response = api.get(f"/api/v1/courses?per_page=1&sort=fee&cursor={cursor}")

    assert response.status_code == 400 and response.get_json()["errors"][0]["field"] == "cursor"


def test_one_course_and_drafts_are_not_found(api, base_a, make_course):
    course = make_course(base_a, capacity=30)
    draft = make_course(base_a, status=CourseStatus.DRAFT)

    shown = api.get(f"/api/v1/courses/{course.id}").get_json()

    assert shown["seats_left"] == 30 and shown["base"] == {"id": base_a.id, "name": base_a.name}
    assert shown["fee"] == "0.00" and shown["enrollment_open"] is True
    assert api.get(f"/api/v1/courses/{draft.id}").status_code == 404
    assert api.get("/api/v1/courses/999999999999999999").status_code == 404


def test_catalog_page_runs_a_fixed_number_of_queries(api, base_a, make_course):
    def queries():
        db.session.remove()
        with count_queries(db.engine) as statements:
            assert api.get("/api/v1/courses?per_page=50").status_code == 200
        return len(statements)

    base_id = base_a.id
    make_course(base_a)
    few = queries()
    base = db.session.get(TrainingBase, base_id)
    for _ in range(20):
        make_course(base)
    assert queries() == few == 2


def test_bases_with_type_status_and_disclosure(api, base_a, make_base, make_course):
    base_a.scope = "医疗卫生专业技术人员继续教育"
    db.session.commit()
    exited = make_base(status=BaseStatus.EXITED)
    make_course(base_a)

    listed = api.get("/api/v1/bases").get_json()["items"]
    cities = api.get("/api/v1/bases?type=provincial").get_json()["items"]
    detail = api.get(f"/api/v1/bases/{base_a.id}").get_json()

    assert base_a.id in {b["id"] for b in listed} and exited.id not in {b["id"] for b in listed}
    assert cities == []
    assert detail["base"]["status"] == "active" and detail["base"]["current_courses"] == 1
    assert detail["disclosure"]["scope"] == "医疗卫生专业技术人员继续教育"
    assert "培训内容" in detail["disclosure_missing"]
    assert api.get(f"/api/v1/bases/{exited.id}").status_code == 404


def test_published_list_only_for_confirmed_years(api, base_a, city):
    evaluation = Evaluation(year=TODAY.year - 1, region_id=city.id, status=EvaluationStatus.CONFIRMED)
    db.session.add(evaluation)
    db.session.flush()
    db.session.add(EvaluationResult(
        evaluation_id=evaluation.id, base_id=base_a.id, trainees=2100, projects=5, completion_rate=0.9,
        average_rating=4.5, disclosure_rate=1.0, overdue_plans=0, target_trainees=2000, target_projects=4,
        score=88, proposed=Outcome.KEEP, final=Outcome.KEEP))
    db.session.commit()

    listed = api.get(f"/api/v1/published-lists/{TODAY.year - 1}")

    assert listed.get_json()["bases"] == [{"id": base_a.id, "name": base_a.name, "type": "city",
                                           "region": {"id": city.id, "name": city.name}}]
    assert api.get(f"/api/v1/published-lists/{TODAY.year}").status_code == 404


def test_certificate_verification_shows_masked_details_only(api, learner, base_a, running, token_a):
    from services import certificates

    person = learner(name="王小明")
    course = running(base_a, end_date=TODAY)
    db.session.add(RuleSet(region_id=person.region_id, year=TODAY.year, total_min=course.hours))
    db.session.commit()
    api.post("/api/v1/base/completions", json={"completions": [item(1, course, person)]}, headers=token_a)
    certificate = certificates.issue(person, TODAY.year)
    db.session.commit()

    shown = api.get(f"/api/v1/certificates/{certificate.code.lower()}").get_json()

    assert shown["status"] == "valid" and shown["total_hours"] == course.hours
    assert shown["masked_name"] != "王小明" and "*" in shown["masked_id_number"]
    assert api.get("/api/v1/certificates/ZZZZZZZZZZZZ").status_code == 404


# --- tokens --------------------------------------------------------------------------------------------

def test_a_base_operation_needs_a_token(api):
    missing = api.get("/api/v1/base")
    wrong = api.get("/api/v1/base", headers={"Authorization": "Bearer jidi_not-a-real-token"})
    basic = api.get("/api/v1/base", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert [r.status_code for r in (missing, wrong, basic)] == [401, 401, 401]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_is_stored_only_as_its_hash(admin_and_base):
    admin, base = admin_and_base
    token, secret = api_tokens.create_token(admin, base, "人事系统")

    stored = db.session.execute(sa.select(ApiToken.token_hash, ApiToken.prefix)).one()
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(db.session.execute(sa.select(ApiToken.__table__)).all())
    assert secret.startswith(stored.prefix) and len(secret) > 40


def test_revoked_token_is_refused_at_once(api, admin_and_base, token_a):
    admin, base = admin_and_base
    assert api.get("/api/v1/base", headers=token_a).status_code == 200
    token = db.session.execute(sa.select(ApiToken)).scalar_one()

    api_tokens.revoke_token(admin, base, token.id)

    assert api.get("/api/v1/base", headers=token_a).status_code == 401
    assert api.post("/api/v1/base/courses", json=COURSE, headers=token_a).status_code == 401


def test_token_dies_with_its_makers_right(api, admin_and_base, token_a):
    admin, base = admin_and_base
    db.session.execute(sa.delete(BaseMembership).where(BaseMembership.user_id == admin.id))
    db.session.commit()
    assert api.get("/api/v1/base", headers=token_a).status_code == 401


def test_token_of_a_disabled_admin_is_refused(api, admin_and_base, token_a):
    admin, _base = admin_and_base
    admin.active = False
    db.session.commit()
    assert api.get("/api/v1/base", headers=token_a).status_code == 401


def test_whoami_names_the_base_and_the_token(api, base_a, token_a):
    shown = api.get("/api/v1/base", headers=token_a)

    assert shown.get_json()["base"]["id"] == base_a.id and shown.get_json()["token"]["name"] == "省平台"
    assert shown.headers["Cache-Control"] == "no-store"


def test_token_of_base_a_cannot_read_or_write_base_b(api, token_a, base_b, running, learner):
    course_b = running(base_b)
    person = learner()
    before = hours_rows()

    reads = [api.get(f"/api/v1/base/courses/{course_b.id}", headers=token_a),
             api.get(f"/api/v1/base/courses/{course_b.id}/roster", headers=token_a)]
    patch = api.patch(f"/api/v1/base/courses/{course_b.id}", json={"title": "改名"}, headers=token_a)
    push = api.post("/api/v1/base/completions", json={"completions": [item(1, course_b, person)]}, headers=token_a)
    own_list = api.get("/api/v1/base/courses", headers=token_a).get_json()["items"]

    assert [r.status_code for r in reads] == [404, 404] and patch.status_code == 404
    assert push.status_code == 400 and push.get_json()["errors"] == [
        {"field": "/completions/0/course_id", "message": "本基地没有该课程"}]
    assert course_b.id not in {c["id"] for c in own_list}
    db.session.refresh(course_b)
    assert course_b.title != "改名" and hours_rows() == before


def test_completion_of_base_b_is_not_found_by_base_a(api, token_a, base_b, running, learner, make_user):
    course_b = running(base_b)
    admin_b = db.session.get(User, base_b.memberships[0].user_id)
    _token, secret_b = api_tokens.create_token(admin_b, base_b, "B")
    person = learner()
    pushed = api.post("/api/v1/base/completions", json={"completions": [item(7, course_b, person)]},
                      headers={"Authorization": f"Bearer {secret_b}"})

    assert pushed.status_code == 200
    assert api.get("/api/v1/base/completions/ext-7", headers={"Authorization": f"Bearer {secret_b}"}).status_code == 200
    assert api.get("/api/v1/base/completions/ext-7", headers=token_a).status_code == 404


# --- courses -------------------------------------------------------------------------------------------

def test_create_course_as_draft_with_location(api, base_a, token_a):
    created = api.post("/api/v1/base/courses", json=COURSE, headers=token_a)

    body = created.get_json()
    assert created.status_code == 201 and body["status"] == "draft" and body["fee"] == "680.00"
    assert created.headers["Location"] == f"/api/v1/base/courses/{body['id']}"
    assert api.get(created.headers["Location"], headers=token_a).get_json()["title"] == COURSE["title"]
    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "course.create")).scalar_one()
    token = db.session.execute(sa.select(ApiToken)).scalar_one()
    assert entry.base_id == base_a.id and entry.details["api_token"] == token.prefix


def test_create_course_refuses_bad_fields_in_chinese_and_saves_nothing(api, token_a):
    bad = {**COURSE, "hours": 0, "end_date": (TODAY + timedelta(days=1)).isoformat(), "colour": "red"}
    del bad["title"]

    response = api.post("/api/v1/base/courses", json=bad, headers=token_a)
    rule = api.post("/api/v1/base/courses", json={**COURSE, "end_date": TODAY.isoformat()}, headers=token_a)
    offline_without_place = api.post("/api/v1/base/courses", json={**COURSE, "place": ""}, headers=token_a)

    fields = {e["field"]: e["message"] for e in response.get_json()["errors"]}
    assert response.status_code == 400 and fields == {"/colour": "不支持此字段", "/hours": "不能小于 1",
                                                       "/title": "缺少此字段"}
    assert rule.get_json()["errors"] == [{"field": "/end_date", "message": "结束日期不能早于开始日期"}]
    assert offline_without_place.get_json()["errors"][0]["field"] == "/place"
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 0


def test_non_json_body_is_415_and_broken_json_400(api, token_a):
    form = api.post("/api/v1/base/courses", data={"title": "x"}, headers=token_a)
    broken = api.post("/api/v1/base/courses", data="{", content_type="application/json", headers=token_a)

    assert form.status_code == 415 and broken.status_code == 400


def test_exited_base_cannot_create_courses(api, base_a, token_a):
    base_a.status = BaseStatus.EXITED
    db.session.commit()

    response = api.post("/api/v1/base/courses", json=COURSE, headers=token_a)

    assert response.status_code == 409 and "退出" in response.get_json()["detail"]


def test_patch_updates_publishes_and_cancels(api, token_a):
    course_id = api.post("/api/v1/base/courses", json=COURSE, headers=token_a).get_json()["id"]
    url = f"/api/v1/base/courses/{course_id}"

    renamed = api.patch(url, json={"title": "医疗质量管理（第二期）", "capacity": None}, headers=token_a)
    published = api.patch(url, json={"status": "published"}, headers=token_a)
    no_reason = api.patch(url, json={"status": "cancelled"}, headers=token_a)
    cancelled = api.patch(url, json={"status": "cancelled", "cancel_reason": "报名人数不足"}, headers=token_a)
    after = api.patch(url, json={"title": "再改"}, headers=token_a)
    back = api.patch(url, json={"status": "published"}, headers=token_a)

    assert renamed.get_json()["title"] == "医疗质量管理（第二期）" and renamed.get_json()["capacity"] is None
    assert published.get_json()["status"] == "published" and published.get_json()["published_at"]
    assert no_reason.status_code == 400
    assert cancelled.get_json()["status"] == "cancelled" and cancelled.get_json()["cancel_reason"] == "报名人数不足"
    assert after.status_code == 409 and back.status_code == 409


def test_patch_with_a_bad_transition_saves_no_field(api, token_a):
    course_id = api.post("/api/v1/base/courses", json=COURSE, headers=token_a).get_json()["id"]

    response = api.patch(f"/api/v1/base/courses/{course_id}", json={"title": "新名称", "status": "closed"},
                         headers=token_a)

    assert response.status_code == 409
    assert db.session.get(Course, course_id).title == COURSE["title"]


def test_own_course_list_pages_by_cursor(api, base_a, token_a, make_course):
    made = {make_course(base_a, status=CourseStatus.DRAFT).id for _ in range(5)}
    first = api.get("/api/v1/base/courses?per_page=3", headers=token_a).get_json()
    second = api.get(f"/api/v1/base/courses?per_page=3&cursor={first['next_cursor']}", headers=token_a).get_json()

    assert {c["id"] for c in first["items"] + second["items"]} == made and second["next_cursor"] is None
    assert api.get("/api/v1/base/courses?cursor=bm9wZQ", headers=token_a).status_code == 400


# --- rosters and compliance ------------------------------------------------------------------------------

def test_roster_masks_personal_numbers_and_pages(api, base_a, token_a, running, learner):
    course = running(base_a)
    people = [learner() for _ in range(5)]
    api.post("/api/v1/base/completions", json={"completions": [item(n, course, p) for n, p in enumerate(people)]},
             headers=token_a)

    first = api.get(f"/api/v1/base/courses/{course.id}/roster?per_page=3", headers=token_a)
    rest = api.get(f"/api/v1/base/courses/{course.id}/roster?per_page=3&cursor={first.get_json()['next_cursor']}",
                   headers=token_a).get_json()

    body = first.get_json()
    assert body["counts"]["completed"] == 5 and len(body["items"]) == 3 and len(rest["items"]) == 2
    assert all(e["hours"] == course.hours and e["source"] == "api" for e in body["items"] + rest["items"])
    text = first.get_data(as_text=True) + str(rest)
    assert all(p.phone not in text for p in people)
    assert all(resident_ids.decrypt(p.id_number_ciphertext) not in text for p in people)
    assert first.headers["Cache-Control"] == "no-store"


def test_roster_runs_a_fixed_number_of_queries(api, base_a, token_a, running, learner):
    course = running(base_a)
    url = f"/api/v1/base/courses/{course.id}/roster"
    people = [learner() for _ in range(30)]
    api.post("/api/v1/base/completions", json={"completions": [item(0, course, people[0])]}, headers=token_a)
    batch = {"completions": [item(n, course, p) for n, p in enumerate(people[1:], start=1)]}

    def queries():
        db.session.remove()
        with count_queries(db.engine) as statements:
            assert api.get(url, headers=token_a).status_code == 200
        return len(statements)

    few = queries()
    assert api.post("/api/v1/base/completions", json=batch, headers=token_a).get_json()["recorded"] == 29
    assert queries() == few == 4  # token, course, counts, rows


def test_compliance_counts_the_year(api, base_a, token_a, running, learner):
    course = running(base_a, start_date=TODAY - timedelta(days=3), end_date=TODAY)
    api.post("/api/v1/base/completions", json={"completions": [item(n, course, learner()) for n in range(3)]},
             headers=token_a)

    shown = api.get("/api/v1/base/compliance", headers=token_a).get_json()

    assert shown["year"] == TODAY.year and shown["trainees"] == 3 and shown["projects"] == 1
    assert len(shown["monthly_trainees"]) == TODAY.month


def test_token_of_an_admin_moved_to_another_role_is_refused(api, admin_and_base, token_a):
    admin, _base = admin_and_base
    admin.role = Role.REVIEWER
    db.session.commit()
    assert api.get("/api/v1/base", headers=token_a).status_code == 401


def test_two_live_tokens_of_a_base_cannot_share_a_name(admin_and_base):
    admin, base = admin_and_base
    api_tokens.create_token(admin, base, "人事系统")
    db.session.add(ApiToken(base_id=base.id, name="人事系统", token_hash="0" * 64, prefix="jidi_x",
                            created_by_id=admin.id))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()
    token = db.session.execute(sa.select(ApiToken)).scalar_one()
    api_tokens.revoke_token(admin, base, token.id)
    assert api_tokens.create_token(admin, base, "人事系统")[0].name == "人事系统"  # free again once revoked


def test_whole_numbers_written_as_decimals_are_integers(api, token_a):
    created = api.post("/api/v1/base/courses", json={**COURSE, "hours": 12.0, "capacity": 40.0}, headers=token_a)
    fractional = api.post("/api/v1/base/courses", json={**COURSE, "hours": 12.5}, headers=token_a)

    assert created.status_code == 201 and created.get_json()["hours"] == 12
    assert fractional.status_code == 400 and fractional.get_json()["errors"] == [
        {"field": "/hours", "message": "应为整数"}]


def test_every_missing_field_is_named(api, token_a):
    response = api.post("/api/v1/base/courses", json={"title": "只有名称", "x~y/z": 1}, headers=token_a)

    fields = sorted(e["field"] for e in response.get_json()["errors"])
    assert fields == sorted(["/audience", "/category", "/contact_person", "/contact_phone", "/end_date", "/field",
                             "/hours", "/mode", "/start_date", "/x~0y~1z"])


def test_bodies_that_cannot_be_read_are_400_not_500(api, token_a):
    nested = "[" * 50_000 + "]" * 50_000
    deep = api.post("/api/v1/base/completions", data='{"completions": ' + nested + "}",
                    content_type="application/json", headers=token_a)
    surrogate = api.post("/api/v1/base/courses", data='{"title": "ab\\ud800c"}', content_type="application/json",
                         headers=token_a)
    surrogate_key = api.post("/api/v1/base/courses", data='{"\\udfff": 1}', content_type="application/json",
                             headers=token_a)

    assert [deep.status_code, surrogate.status_code, surrogate_key.status_code] == [400, 400, 400]


def test_patterns_end_where_the_string_ends(api, token_a, base_a, running, learner):
    course = running(base_a)
    person = learner()
    response = api.post("/api/v1/base/completions", json={"completions": [
        {**item(1, course, person), "phone": person.phone + "\n"},
        {**item(2, course, learner()), "external_id": "ok\n"},
        {**item(3, course, learner()), "external_id": "HR/2026/1"},
    ]}, headers=token_a)

    assert response.status_code == 400
    assert [e["field"] for e in response.get_json()["errors"]] == [
        "/completions/0/phone", "/completions/1/external_id", "/completions/2/external_id"]


def test_ids_beyond_the_column_are_not_found_or_refused(api, token_a):
    too_big = 2**31
    assert api.get(f"/api/v1/courses/{too_big}").status_code == 404
    assert api.get(f"/api/v1/base/courses/{too_big}", headers=token_a).status_code == 404
    assert api.get(f"/api/v1/courses?region_id={too_big}").status_code == 400
    assert api.get("/api/v1/courses/١").status_code == 404  # ASCII digits only
    cursor = base64.urlsafe_b64encode(str(too_big).encode()).decode().rstrip("=")
    assert api.get(f"/api/v1/base/courses?cursor={cursor}", headers=token_a).status_code == 400


def test_noting_a_tokens_use_waits_for_a_writer_instead_of_failing(app, api, token_a):
    """SQLite: a GET whose token is due a last-used note writes; while another connection holds the write
    lock it must wait its turn (busy timeout), not answer 500 "database is locked"."""
    import sqlite3
    import threading
    import time

    db.session.execute(sa.update(ApiToken).values(last_used_at=None))
    db.session.commit()
    other = sqlite3.connect(db.engine.url.database, isolation_level=None, timeout=30, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE training_base SET name = name")
    release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    release.start()
    began = time.monotonic()

    response = api.get("/api/v1/base", headers=token_a)

    release.join()
    other.close()
    assert response.status_code == 200 and time.monotonic() - began >= 0.4
    assert db.session.execute(sa.select(ApiToken.last_used_at)).scalar_one() is not None


def test_a_resent_batch_is_recognised_as_sent_whatever_changed_since(api, base_a, token_a, running, learner):
    course = running(base_a, hours=16)
    person = learner()
    batch = {"completions": [item(1, course, person)]}  # no hours: all the course's
    assert api.post("/api/v1/base/completions", json=batch, headers=token_a).get_json()["recorded"] == 1
    assert api.patch(f"/api/v1/base/courses/{course.id}", json={"hours": 20}, headers=token_a).status_code == 200
    person.phone = "13911112222"  # the learner changed their phone since
    db.session.commit()

    again = api.post("/api/v1/base/completions", json=batch, headers=token_a)

    assert again.status_code == 200 and again.get_json()["already_recorded"] == 1
    assert db.session.execute(sa.select(HoursRecord.hours)).scalar_one() == 16


def test_patch_saves_fields_and_status_together_or_not_at_all(api, token_a):
    course_id = api.post("/api/v1/base/courses", json=COURSE, headers=token_a).get_json()["id"]
    url = f"/api/v1/base/courses/{course_id}"
    past = {"start_date": (TODAY - timedelta(days=9)).isoformat(), "end_date": (TODAY - timedelta(days=8)).isoformat()}

    ended = api.patch(url, json={**past, "title": "已结束的课程", "status": "published"}, headers=token_a)
    reason_alone = api.patch(url, json={"cancel_reason": "无"}, headers=token_a)

    assert ended.status_code == 409 and ended.get_json()["detail"] == "课程已结束，不能发布"
    assert reason_alone.status_code == 400 and reason_alone.get_json()["errors"][0]["field"] == "/cancel_reason"
    course = db.session.get(Course, course_id)
    assert course.title == COURSE["title"] and course.status == CourseStatus.DRAFT
    assert course.end_date.isoformat() == COURSE["end_date"]


def test_a_400_werkzeug_raised_itself_still_has_its_errors_list(app):
    """The document promises ``errors`` on every 400; a body werkzeug could not read names no field."""
    from werkzeug.exceptions import BadRequest

    from blueprints.api.problems import from_http_exception

    with app.test_request_context("/api/v1/base/completions", method="POST"):
        response = from_http_exception(BadRequest())

    assert response.status_code == 400 and response.get_json()["errors"] == []


def test_a_database_that_gives_up_is_a_503_to_send_again_and_other_errors_stay_500(app, api, base_a, token_a,
                                                                                  running, learner, monkeypatch):
    """A deadlock is the server's moment: 503, Retry-After, a problem document the OpenAPI document lists.
    (The blueprint's catch-all once took it first and answered 500.)"""
    import psycopg.errors
    from flask.testing import FlaskClient
    from sqlalchemy.exc import OperationalError

    from services import completions

    def failing(original):
        def push(*_args, **_kwargs):
            raise OperationalError("INSERT INTO enrollment …", None, original)
        return push

    batch = {"completions": [item(1, running(base_a), learner())]}
    monkeypatch.setattr(completions, "push", failing(psycopg.errors.DeadlockDetected("deadlock detected")))
    busy = api.post("/api/v1/base/completions", json=batch, headers=token_a)  # checked against the document
    monkeypatch.setattr(completions, "push", failing(Exception("no such table: enrollment")))
    broken = FlaskClient(app).post("/api/v1/base/completions", json=batch, headers=token_a)

    # Flask-Limiter raises Retry-After to the end of the rate window it counts in (at most a minute).
    assert busy.status_code == 503 and 1 <= int(busy.headers["Retry-After"]) <= 60
    assert busy.mimetype == "application/problem+json" and busy.get_json()["status"] == 503
    assert broken.status_code == 500 and broken.get_json()["status"] == 500
