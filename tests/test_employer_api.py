"""An employer's API: tokens made and revoked by its admins on /employer/tokens, and GET /api/v1/employer/staff
read with one of them: its confirmed staff's hours against their rules, paginated; a base's token reads none
of it, and an employer's token none of a base's operations."""

import re

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    ApiToken,
    AuditLog,
    Category,
    Employer,
    EmployerStatus,
    Employment,
    EmploymentStatus,
    HoursRecord,
    HoursSource,
    Role,
    RuleSet,
    User,
)
from services import api_tokens
from services.errors import DomainError, NotAllowed
from services.infra import clock
from tests.conftest import count_queries

YEAR = clock.today().year


@pytest.fixture
def employer(app, city, other_city, make_user, learner):
    hospital = Employer(name="成都市第三医院", region_id=city.id)
    clinic = Employer(name="成都市某诊所", region_id=city.id)
    db.session.add_all([hospital, clinic, RuleSet(region_id=city.id, year=YEAR, public_min=30, professional_min=60,
                                                  total_min=90)])
    db.session.commit()
    admin = make_user(Role.EMPLOYER_ADMIN, employer_id=hospital.id, name="医院管理员")
    staff = [_staff(learner, hospital, city, name, hours) for name, hours in
             (("张护士", {Category.PUBLIC: 30, Category.PROFESSIONAL: 60}), ("李医生", {Category.PUBLIC: 10}),
              ("王药师", {}))]
    outsider = _staff(learner, clinic, city, "诊所员工", {Category.PUBLIC: 5})
    _token, secret = api_tokens.create_employer_token(admin, hospital, "人事系统")
    return {"hospital": hospital, "clinic": clinic, "admin": admin, "staff": staff, "outsider": outsider,
            "headers": {"Authorization": f"Bearer {secret}"}, "city": city, "other_city": other_city}


def _staff(learner, employer, region, name: str, hours: dict, year: int = YEAR) -> User:
    person = learner(name=name, region_id=region.id, employer_id=employer.id)
    db.session.add(Employment(learner_id=person.id, employer_id=employer.id, status=EmploymentStatus.CONFIRMED))
    for category, amount in hours.items():
        db.session.add(HoursRecord(learner_id=person.id, year=year, category=category, hours=amount,
                                   source=HoursSource.IMPORT, note="测试"))
    db.session.commit()
    return person


def test_the_staff_are_read_with_their_hours_requirement_and_shortfall(api, employer):
    response = api.get("/api/v1/employer/staff", headers=employer["headers"])

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["employer"] == {"id": employer["hospital"].id, "name": "成都市第三医院"} and body["year"] == YEAR
    items = {item["name"]: item for item in body["items"]}
    assert set(items) == {"张护士", "李医生", "王药师"}  # not the clinic's
    nurse, doctor = items["张护士"], items["李医生"]
    assert nurse["hours"] == {"public": 30, "professional": 60, "elective": 0, "total": 90} and nurse["short"] == 0
    assert doctor["required"] == {"public": 30, "professional": 60, "elective": None, "total": 90}
    assert doctor["short"] == 80
    assert doctor["id_number_masked"] == employer["staff"][1].id_number_masked and "*" in doctor["id_number_masked"]
    assert "phone" not in doctor and "phone_masked" not in doctor
    text = response.get_data(as_text=True)
    assert all(person.phone not in text for person in employer["staff"])


def test_pages_follow_the_cursor_and_a_year_may_be_asked(api, employer, learner):
    _staff(learner, employer["hospital"], employer["city"], "去年的", {Category.ELECTIVE: 12}, year=YEAR - 1)
    first = api.get("/api/v1/employer/staff?per_page=3", headers=employer["headers"]).get_json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    second = api.get(f"/api/v1/employer/staff?per_page=3&cursor={first['next_cursor']}",
                     headers=employer["headers"]).get_json()
    assert [i["name"] for i in second["items"]] == ["去年的"] and second["next_cursor"] is None
    last_year = api.get(f"/api/v1/employer/staff?year={YEAR - 1}", headers=employer["headers"]).get_json()
    assert {i["name"]: i["hours"]["total"] for i in last_year["items"]}["去年的"] == 12
    bad = api.get("/api/v1/employer/staff?year=1900", headers=employer["headers"])
    assert bad.status_code == 400 and bad.mimetype == "application/problem+json"


def test_a_base_s_token_reads_no_employer_s_staff_and_the_reverse(api, employer, token_a):
    refused = api.get("/api/v1/employer/staff", headers=token_a)
    assert refused.status_code == 401 and refused.mimetype == "application/problem+json"
    assert "用人单位" in refused.get_json()["detail"]
    assert api.get("/api/v1/base", headers=employer["headers"]).status_code == 401
    assert api.get("/api/v1/base/courses", headers=employer["headers"]).status_code == 401
    assert api.get("/api/v1/employer/staff").status_code == 401


def test_a_revoked_token_or_one_whose_maker_left_is_refused(api, employer, make_user):
    hospital, admin = employer["hospital"], employer["admin"]
    # made by an admin who then moves to the clinic: refused, although never revoked
    other_admin = make_user(Role.EMPLOYER_ADMIN, employer_id=hospital.id)
    _token, moved = api_tokens.create_employer_token(other_admin, hospital, "离任者的令牌")
    other_admin.employer_id = employer["clinic"].id
    db.session.commit()
    assert api.get("/api/v1/employer/staff", headers={"Authorization": f"Bearer {moved}"}).status_code == 401

    token = db.session.execute(sa.select(ApiToken).where(ApiToken.name == "人事系统")).scalar_one()
    api_tokens.revoke_employer_token(admin, hospital, token.id)
    assert api.get("/api/v1/employer/staff", headers=employer["headers"]).status_code == 401


def test_only_the_employer_s_active_admin_makes_tokens_and_only_once_approved(employer, make_user):
    hospital = employer["hospital"]
    reviewer = make_user(Role.REVIEWER, employer_id=hospital.id)
    with pytest.raises(NotAllowed):
        api_tokens.create_employer_token(reviewer, hospital, "审核员的令牌")
    with pytest.raises(NotAllowed):
        api_tokens.create_employer_token(employer["admin"], employer["clinic"], "别家的令牌")
    with pytest.raises(DomainError) as taken:
        api_tokens.create_employer_token(employer["admin"], hospital, "人事系统")
    assert taken.value.field == "name"
    pending = Employer(name="待审单位", region_id=employer["city"].id, status=EmployerStatus.PENDING)
    db.session.add(pending)
    db.session.commit()
    pending_admin = make_user(Role.EMPLOYER_ADMIN, employer_id=pending.id)
    with pytest.raises(DomainError, match="通过审核后"):
        api_tokens.create_employer_token(pending_admin, pending, "太早了")
    assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 1


def test_the_tokens_page_shows_a_new_secret_once_and_revokes(employer, login_as):
    client = login_as(employer["admin"])
    created = client.post("/employer/tokens", data={"name": "工资系统", "lifetime": "365"})
    assert created.status_code == 200
    secret = re.search(r'id="new-token-secret" value="(jidi_[^"]+)"', created.get_data(as_text=True)).group(1)
    token = db.session.execute(sa.select(ApiToken).where(ApiToken.name == "工资系统")).scalar_one()
    assert token.employer_id == employer["hospital"].id and token.base_id is None
    assert token.token_hash == api_tokens.digest(secret) and token.expires_at is not None
    listing = client.get("/employer/tokens").get_data(as_text=True)
    assert "工资系统" in listing and secret not in listing
    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "api_token.create",
                                                         AuditLog.object_id == token.id)).scalar_one()
    assert entry.details["employer_id"] == employer["hospital"].id and secret not in str(entry.details)

    assert client.post(f"/employer/tokens/{token.id}/revoke").status_code == 302
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).revoked_at is not None


def test_the_tokens_page_refuses_a_blank_name_and_another_s_token(employer, login_as, make_user, make_base):
    client = login_as(employer["admin"])
    blank = client.post("/employer/tokens", data={"name": " ", "lifetime": "365"})
    assert blank.status_code == 400
    admin = make_user(Role.BASE_ADMIN)
    base_token, _secret = api_tokens.create_token(admin, make_base(admin=admin), "基地令牌")
    clinic_admin = make_user(Role.EMPLOYER_ADMIN, employer_id=employer["clinic"].id)
    clinic_token, _secret = api_tokens.create_employer_token(clinic_admin, employer["clinic"], "诊所令牌")
    for token in (base_token, clinic_token):
        assert client.post(f"/employer/tokens/{token.id}/revoke").status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, clinic_token.id).revoked_at is None


@pytest.mark.parametrize("extra", [0, 27])
def test_the_staff_operation_reads_in_a_fixed_number_of_queries(app, employer, learner, extra):
    for n in range(extra):
        region = employer["city"] if n % 2 else employer["other_city"]
        _staff(learner, employer["hospital"], region, f"职工{n}", {Category.PUBLIC: n + 1})
    client = app.test_client()
    assert client.get("/api/v1/employer/staff", headers=employer["headers"]).status_code == 200
    db.session.remove()
    with count_queries(db.engine) as statements:
        response = client.get("/api/v1/employer/staff?per_page=500", headers=employer["headers"])
    assert response.status_code == 200 and len(response.get_json()["items"]) == 3 + extra
    # the token, the staff with their ledger, their regions' rules, the employer's name (expired by the
    # token check's write of its last use, when it writes)
    assert len(statements) == 4, statements
