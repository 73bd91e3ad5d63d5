"""Employers on the site (services.employers): registration with a checked credit code and its first admin,
the regulator's decision within their reach, a rejection answered by a resubmission, and reviewers added and
disabled by the employer's admin."""

import re
from itertools import count
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, Employer, EmployerStatus, Employment, EmploymentStatus, Notice, Role, User
from services import credit_codes, employers, policies
from services.errors import DomainError, Invalid, NotAllowed
from tests.conftest import PASSWORD, login, page_queries

_serial = count(1)


def code(n: int | None = None) -> str:
    """A valid unified social credit code of its own."""
    body = f"9151010{n if n is not None else next(_serial):010d}"
    return body + credit_codes.check_character(body)


def wrong_check(valid: str) -> str:
    """The same code with another check character."""
    other = next(ch for ch in credit_codes.ALPHABET if ch != valid[17])
    return valid[:17] + other


def form(city, **over) -> dict:
    n = next(_serial)
    return {"name": f"成都市第{n}人民医院", "credit_code": code(), "region": str(city.id), "sector": "卫生",
            "contact_name": "刘主任", "contact_phone": "028-61234567", "admin_name": "张管理",
            "login": f"hr{n}@hospital.example", "password": PASSWORD, "confirm": PASSWORD, **over}


def data(city, **over) -> dict:
    n = next(_serial)
    region_id = over.pop("region_id", None) or city.id
    return {"name": f"成都市第{n}医院", "credit_code": code(), "region_id": region_id, "sector": "卫生",
            "contact_name": "刘主任", "contact_phone": "13800001111", "admin_name": "张管理",
            "login": f"admin{n}@employer.example", "password": PASSWORD, **over}


def rows() -> tuple[int, int]:
    db.session.expire_all()
    return (db.session.scalar(sa.select(sa.func.count(Employer.id))),
            db.session.scalar(sa.select(sa.func.count(User.id))))


@pytest.fixture
def registered(app, city):
    """A pending employer of the city and its admin."""
    admin = employers.register(data(city, name="成都市妇幼保健院"))
    return admin.employer, admin


# --- registration ------------------------------------------------------------------------------------------

def test_registration_files_a_pending_employer_and_signs_its_admin_in(app, client, city):
    response = client.post("/register/employer", data=form(city, name="成都市第七人民医院", login="hr@seventh.example"))

    assert response.status_code == 302 and urlsplit(response.location).path == "/employer/"
    page = client.get("/employer/").get_data(as_text=True)
    assert "等待所在地人社部门审核" in page and "成都市第七人民医院" in page
    employer = db.session.execute(sa.select(Employer).where(Employer.name == "成都市第七人民医院")).scalar_one()
    admin = db.session.execute(sa.select(User).where(User.email == "hr@seventh.example")).scalar_one()
    assert (employer.status, employer.region_id, employer.sector) == (EmployerStatus.PENDING, city.id, "卫生")
    assert (admin.role, admin.employer_id, admin.region_id) == (Role.EMPLOYER_ADMIN, employer.id, city.id)
    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "employer.register")).scalar_one()
    assert (entry.actor_id, entry.object_id) == (admin.id, employer.id)


def test_a_phone_is_a_login_too(app, city):
    admin = employers.register(data(city, login="139 0000 7777"))
    assert (admin.phone, admin.email) == ("13900007777", None)


def test_a_credit_code_with_a_wrong_check_character_is_refused_beside_it_and_nothing_saved(app, client, city):
    before = rows()

    response = client.post("/register/employer", data=form(city, credit_code=wrong_check(code())))

    assert response.status_code == 400
    assert "校验位不对" in response.get_data(as_text=True)
    assert rows() == before


def test_a_code_typed_in_lower_case_with_spaces_is_the_same_code(app, city):
    valid = code()
    admin = employers.register(data(city, credit_code=" ".join([valid[:6].lower(), valid[6:]])))
    assert admin.employer.credit_code == valid


def test_the_same_credit_code_anywhere_is_a_duplicate(app, city, other_city, registered):
    employer, _admin = registered
    before = rows()

    with pytest.raises(Invalid) as refused:
        employers.register(data(other_city, credit_code=employer.credit_code))

    assert "已有单位注册" in refused.value.fields["credit_code"]
    assert rows() == before


def test_the_same_name_in_the_city_is_a_duplicate_but_not_in_another_city(app, client, city, other_city, registered):
    before = rows()

    response = client.post("/register/employer", data=form(city, name="成都市妇幼保健院"))

    assert response.status_code == 400 and "本市已有同名单位注册" in response.get_data(as_text=True)
    assert rows() == before
    elsewhere = employers.register(data(other_city, name="成都市妇幼保健院"))  # the control
    assert elsewhere.employer.region_id == other_city.id


def test_a_login_in_use_is_refused_and_nothing_saved(app, city, make_user):
    taken = make_user(Role.LEARNER, email="taken@test.example")
    before = rows()

    with pytest.raises(DomainError) as refused:
        employers.register(data(city, login=taken.email))

    assert refused.value.field == "login"
    assert rows() == before


def test_every_fault_of_a_registration_is_named_at_once_the_organisations_and_the_admins(app, city, make_user):
    taken = make_user(Role.LEARNER, email="taken-too@test.example")
    before = rows()

    with pytest.raises(Invalid) as refused:
        employers.register(data(city, credit_code=wrong_check(code()), contact_phone="12", admin_name=" ",
                                login=taken.email, password="short"))

    assert list(refused.value.fields) == ["credit_code", "contact_phone", "admin_name", "login", "password"]
    assert "校验位不对" in refused.value.fields["credit_code"] and refused.value.field == "credit_code"
    assert refused.value.fields["password"] == "密码至少 8 位"
    assert rows() == before


def test_the_registration_form_shows_its_own_and_the_services_faults_in_one_round(app, client, city):
    """An admin name left empty is the form's to say; the credit code's check character and a login that is
    neither a phone nor an e-mail are the service's: before, they came back only on the next submit."""
    before = rows()

    response = client.post("/register/employer", data=form(city, credit_code=wrong_check(code()), admin_name="",
                                                              login="not-a-login"))

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    for name, message in (("admin_name", "请填写管理员姓名"), ("credit_code", "校验位不对"),
                          ("login", "请填写 11 位手机号或邮箱")):
        error = re.search(rf'<div id="{name}-error">(.*?)</div>\s*</div>', page, re.S)
        assert error and message in error.group(1), name
    assert page.count("请填写姓名") == 0  # the service's word on the empty name is not said twice
    assert rows() == before


def test_a_province_is_not_an_employer_region(app, city):
    with pytest.raises(Invalid) as refused:
        employers.register(data(city, region_id=city.parent_id))
    assert set(refused.value.fields) == {"region"}


# --- the regulator's decision --------------------------------------------------------------------------------

def test_the_list_shows_pending_first_in_reach_in_a_fixed_number_of_queries(app, city, other_city, regulators):
    approved = Employer(name="甲已通过单位", region_id=city.id, credit_code=code())
    db.session.add(approved)
    db.session.commit()
    late = employers.register(data(city, name="乙待审单位")).employer
    early_other_city = employers.register(data(other_city, name="丙待审单位")).employer
    late.applied_at = early_other_city.applied_at.replace(year=early_other_city.applied_at.year + 1)
    db.session.commit()

    city_list = [e.name for e in employers.for_regulator(regulators["city"])]
    province_list = [e.name for e in employers.for_regulator(regulators["province"])]

    assert city_list == ["乙待审单位", "甲已通过单位"]
    assert province_list == ["丙待审单位", "乙待审单位", "甲已通过单位"]  # pending, the earliest first
    client, city_id = app.test_client(), city.id
    login(client, regulators["province"])
    few = len(page_queries(client, "/regulator/employers"))
    for n in range(5):
        employers.register(data(city, name=f"丁{n}待审单位", region_id=city_id))
    assert len(page_queries(client, "/regulator/employers")) == few


def test_a_regulator_outside_the_region_gets_404_and_changes_nothing(app, regulators, registered):
    employer, _admin = registered
    client = app.test_client()
    login(client, regulators["other"])

    assert client.get(f"/regulator/employers/{employer.id}").status_code == 404
    assert client.post(f"/regulator/employers/{employer.id}", data={"decision": "approve"}).status_code == 404
    with pytest.raises(LookupError):
        employers.decide(regulators["other"], employer.id, True)
    db.session.expire_all()
    assert db.session.get(Employer, employer.id).status == EmployerStatus.PENDING
    assert employer.name not in client.get("/regulator/employers").get_data(as_text=True)


def test_a_rejection_needs_a_reason(app, client, regulators, registered):
    employer, _admin = registered
    login(client, regulators["city"])

    response = client.post(f"/regulator/employers/{employer.id}", data={"decision": "reject", "reason": " "})

    assert response.status_code == 400 and "不予通过时请填写原因" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Employer, employer.id).status == EmployerStatus.PENDING


def test_rejected_then_corrected_and_resubmitted_then_approved(app, regulators, registered):
    employer, admin = registered
    regulator = regulators["province"]  # a province's regulator reaches the city's employers

    employers.decide(regulator, employer.id, False, "营业执照名称与填写不符")
    admin_client = app.test_client()
    login(admin_client, admin)
    page = admin_client.get("/employer/").get_data(as_text=True)
    assert "营业执照名称与填写不符" in page and "修改后重新提交" in page
    notices = db.session.scalars(sa.select(Notice.message).where(Notice.user_id == admin.id)).all()
    assert len(notices) == 1 and "营业执照名称与填写不符" in notices[0]

    shown = admin_client.get("/employer/registration").get_data(as_text=True)
    assert employer.credit_code in shown
    assert f'selected value="{employer.region_id}"' in shown or f'value="{employer.region_id}" selected' in shown
    fixed = {**form(employer.region), "name": "成都市妇女儿童医院", "credit_code": employer.credit_code}
    response = admin_client.post("/employer/registration", data=fixed)

    assert response.status_code == 302
    db.session.expire_all()
    employer = db.session.get(Employer, employer.id)
    assert (employer.status, employer.name) == (EmployerStatus.PENDING, "成都市妇女儿童医院")
    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "employer.resubmit")).scalar_one()
    assert entry.details["changes"]["name"] == ["成都市妇幼保健院", "成都市妇女儿童医院"]

    employers.decide(regulator, employer.id, True)
    db.session.expire_all()
    assert db.session.get(Employer, employer.id).status == EmployerStatus.APPROVED
    actions = db.session.scalars(sa.select(AuditLog.action).where(AuditLog.object_type == "employer",
                                                                  AuditLog.object_id == employer.id)).all()
    assert actions == ["employer.register", "employer.reject", "employer.resubmit", "employer.approve"]
    with pytest.raises(DomainError):
        employers.decide(regulator, employer.id, False, "再改")  # decided already


def test_only_a_rejected_registration_can_be_resubmitted(app, registered):
    employer, admin = registered
    with pytest.raises(DomainError):
        employers.resubmit(admin, {**data(employer.region), "credit_code": employer.credit_code})


# --- reviewers ---------------------------------------------------------------------------------------------

def test_a_pending_employer_adds_no_reviewer(app, registered):
    _employer, admin = registered
    before = rows()
    with pytest.raises(NotAllowed):
        employers.add_reviewer(admin, {"name": "李审核", "login": "li@test.example", "password": PASSWORD})
    assert rows() == before


def test_a_reviewer_added_signs_in_sees_the_queue_and_is_shut_out_once_disabled(app, regulators, registered):
    employer, admin = registered
    employers.decide(regulators["city"], employer.id, True)
    admin_client = app.test_client()
    login(admin_client, admin)

    added = admin_client.post("/employer/reviewers", data={"name": "李审核", "login": "li@hospital.example",
                                                           "password": PASSWORD, "confirm": PASSWORD})

    assert added.status_code == 302
    reviewer = db.session.execute(sa.select(User).where(User.email == "li@hospital.example")).scalar_one()
    assert (reviewer.role, reviewer.employer_id, reviewer.region_id) == (Role.REVIEWER, employer.id,
                                                                         employer.region_id)
    reviewer_client = app.test_client()
    signed = login(reviewer_client, reviewer)
    assert signed.status_code == 302 and urlsplit(signed.location).path == "/review/"
    # The admin typed the password: the reviewer changes it first (issue 18).
    assert reviewer_client.get("/review/").location == "/account/password"
    own = "Own-reviewer-pass-2"
    assert reviewer_client.post("/account/password", data={"current_password": PASSWORD, "new_password": own,
                                                           "confirm": own}).status_code == 302
    assert reviewer_client.get("/review/").status_code == 200
    assert "李审核" in admin_client.get("/employer/reviewers").get_data(as_text=True)

    assert admin_client.post(f"/employer/reviewers/{reviewer.id}/active", data={"active": "0"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, reviewer.id).active is False
    assert reviewer_client.get("/review/").status_code == 302  # the session ended
    assert login(app.test_client(), reviewer, own).status_code != 302


def test_an_admin_cannot_touch_another_employers_reviewer(app, registered, make_user):
    employer, admin = registered
    employer.status = EmployerStatus.APPROVED
    other = Employer(name="别家单位", region_id=employer.region_id, credit_code=code())
    db.session.add(other)
    db.session.commit()
    theirs = make_user(Role.REVIEWER, employer_id=other.id)
    client = app.test_client()
    login(client, admin)

    assert client.post(f"/employer/reviewers/{theirs.id}/active", data={"active": "0"}).status_code == 404
    db.session.expire_all()
    assert db.session.get(User, theirs.id).active is True


def test_an_employer_admin_signs_in_to_the_employers_page(app, registered):
    _employer, admin = registered
    response = login(app.test_client(), admin)
    assert urlsplit(response.location).path == "/employer/"


# --- the rules and their SQL twins --------------------------------------------------------------------------

def test_the_employer_rules_agree_with_their_sql_twins(app, city, other_city, regulators, make_user):
    first, second = (employers.register(data(c)) for c in (city, other_city))
    for admin in (first, second):
        admin.employer.status = EmployerStatus.APPROVED
    learners = [make_user(Role.LEARNER, region_id=city.id) for _ in range(2)]
    db.session.add_all([Employment(learner_id=learners[0].id, employer_id=first.employer_id),
                        Employment(learner_id=learners[1].id, employer_id=second.employer_id,
                                   status=EmploymentStatus.CONFIRMED)])
    for admin in (first, second):
        make_user(Role.REVIEWER, employer_id=admin.employer_id)
    db.session.commit()
    db.session.expire_all()
    users = db.session.scalars(sa.select(User).order_by(User.id)).all()
    pairs = [("may_decide_employer", policies.employers_in_reach, Employer),
             ("may_decide_claim", policies.claims_decided_by, Employment),
             ("may_manage_reviewer", policies.managed_reviewers, User)]
    for predicate, twin, model in pairs:
        every = db.session.scalars(sa.select(model)).all()
        someone = False
        for user in users:
            allowed = {row.id for row in every if getattr(policies, predicate)(user, row)}
            assert set(db.session.scalars(sa.select(model.id).where(twin(user)))) == allowed, (predicate, user)
            someone = someone or bool(allowed)
        assert someone, predicate  # the control


def test_the_employers_page_reads_in_a_fixed_number_of_queries(app, regulators, registered, make_user):
    employer, admin = registered
    employers.decide(regulators["city"], employer.id, True)
    client, employer_id = app.test_client(), employer.id
    learner_ids = [make_user(Role.LEARNER).id for _ in range(3)]
    login(client, admin)
    few = len(page_queries(client, "/employer/"))
    for learner_id in learner_ids:
        db.session.add(Employment(learner_id=learner_id, employer_id=employer_id))
    db.session.commit()
    assert len(page_queries(client, "/employer/")) == few
