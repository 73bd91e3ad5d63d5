"""Who works where (services.employment): a learner finds their employer by search and names it, the employer's
admin confirms or refuses, the learner may declare only once confirmed, and the history is kept across a change
of employer (a declaration stays with the employer it was filed with)."""

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    AuditLog,
    Declaration,
    Employer,
    EmployerStatus,
    Employment,
    EmploymentStatus,
    Notice,
    Role,
    User,
)
from services import accounts, credit_codes, declarations, employment, resident_ids
from services.errors import DomainError
from tests.conftest import PASSWORD, login, page_queries
from tests.test_declarations import app_config, declare, on, regions  # noqa: F401  (fixtures)


def code(n: int) -> str:
    body = f"9151010{n:010d}"
    return body + credit_codes.check_character(body)


class World:
    pass


@pytest.fixture
def w(regions, make_user):  # noqa: F811
    """Chengdu's approved hospital and clinic, a pending and a rejected employer, one in Yantai; an admin of the
    hospital and of the clinic; a Chengdu learner confirmed by nobody yet."""
    w = World()
    w.chengdu, w.sichuan, w.yantai = regions["510100"], regions["510000"], regions["370600"]
    w.hospital = Employer(name="成都市第一人民医院", region_id=w.chengdu.id, credit_code=code(1))
    w.clinic = Employer(name="成都市第三人民医院", region_id=w.chengdu.id, credit_code=code(2))
    w.provincial = Employer(name="四川省人民医院", region_id=w.sichuan.id, credit_code=code(3))
    w.pending = Employer(name="成都市待审医院", region_id=w.chengdu.id, credit_code=code(4),
                         status=EmployerStatus.PENDING)
    w.rejected = Employer(name="成都市未通过医院", region_id=w.chengdu.id, credit_code=code(5),
                          status=EmployerStatus.REJECTED)
    w.port = Employer(name="烟台市人民医院", region_id=w.yantai.id, credit_code=code(6))
    db.session.add_all([w.hospital, w.clinic, w.provincial, w.pending, w.rejected, w.port])
    db.session.commit()
    w.hospital_admin = make_user(Role.EMPLOYER_ADMIN, employer_id=w.hospital.id, region_id=w.chengdu.id)
    w.clinic_admin = make_user(Role.EMPLOYER_ADMIN, employer_id=w.clinic.id, region_id=w.chengdu.id)
    first17 = "51010419900307771"
    w.learner = accounts.register_learner({
        "consent": accounts.PRIVACY_NOTICE_VERSION,
        "name": "陈晓", "phone": "13900007771", "email": "chen@test.example", "password": PASSWORD,
        "id_number": first17 + resident_ids.check_character(first17), "region_id": w.chengdu.id,
        "sector": "卫生", "professional_title": "中级"})
    return w


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def rows_of(learner) -> list[tuple[str, EmploymentStatus]]:
    db.session.expire_all()
    return [(e.employer.name, e.status) for e in db.session.execute(
        sa.select(Employment).where(Employment.learner_id == learner.id).order_by(Employment.id)).scalars()]


# --- search and claims ----------------------------------------------------------------------------------------

def test_search_finds_approved_employers_of_the_city_and_province_by_name_or_code(w):
    assert [e.name for e in employment.search(w.learner, "医院")] == sorted(
        ["成都市第一人民医院", "成都市第三人民医院", "四川省人民医院"])
    assert [e.name for e in employment.search(w.learner, code(2).lower())] == ["成都市第三人民医院"]
    assert employment.search(w.learner, "烟台") == []  # another province
    assert employment.search(w.learner, "待审") == [] and employment.search(w.learner, "未通过") == []
    assert employment.search(w.learner, "") == []
    assert employment.search(w.learner, "%") == []  # a wildcard is a character


@pytest.mark.parametrize("which", ["pending", "rejected", "port"])
def test_a_claim_on_an_employer_not_offered_is_refused_and_nothing_saved(w, which):
    with pytest.raises(DomainError) as refused:
        employment.claim(w.learner, getattr(w, which).id)
    assert refused.value.field == "employer"
    assert rows_of(w.learner) == []


def test_the_page_refuses_a_pending_employer_with_its_reason(app, w):
    client = signed_in(app, w.learner)
    response = client.post("/me/employer", data={"employer": str(w.pending.id)})
    assert response.status_code == 400
    assert "该单位尚未通过人社部门审核" in response.get_data(as_text=True)
    assert rows_of(w.learner) == []


def test_a_second_claim_withdraws_the_first(w):
    employment.claim(w.learner, w.hospital.id)
    with pytest.raises(DomainError):
        employment.claim(w.learner, w.hospital.id)  # asked already
    employment.claim(w.learner, w.clinic.id)
    assert rows_of(w.learner) == [("成都市第一人民医院", EmploymentStatus.WITHDRAWN),
                                  ("成都市第三人民医院", EmploymentStatus.PENDING)]


def test_a_learner_whose_employer_has_not_confirmed_them_cannot_declare(app, w):
    employment.claim(w.learner, w.hospital.id)

    with pytest.raises(DomainError) as refused:
        declare(w.learner, minutes=100)

    assert "确认" in refused.value.message
    assert db.session.scalar(sa.select(sa.func.count(Declaration.id))) == 0
    page = signed_in(app, w.learner).post("/me/declarations/new", data={
        "kind": "conference", "category": "professional", "title": "学术会议", "earned_on": "2025-06-16",
        "minutes": "100"}).get_data(as_text=True)
    assert "工作单位确认您是本单位职工后才能申报学时" in page


# --- the employer's answer --------------------------------------------------------------------------------------

def test_confirmed_the_learner_declares_to_the_employer_and_is_told(app, w):
    claim = employment.claim(w.learner, w.hospital.id)

    employment.confirm(w.hospital_admin, claim.id)

    db.session.expire_all()
    learner = db.session.get(User, w.learner.id)
    assert (learner.employer_id, learner.employer_name) == (w.hospital.id, "成都市第一人民医院")
    assert declare(learner, minutes=100).employer_id == w.hospital.id
    assert db.session.scalars(sa.select(Notice.message).where(Notice.user_id == learner.id)).one().startswith(
        "“成都市第一人民医院”已确认")
    assert db.session.scalar(sa.select(AuditLog.actor_id).where(AuditLog.action == "employment.confirm")) \
        == w.hospital_admin.id


def test_refusing_needs_a_reason_and_leaves_the_current_employer(app, w):
    employment.confirm(w.hospital_admin, employment.claim(w.learner, w.hospital.id).id)
    claim = employment.claim(w.learner, w.clinic.id)
    client = signed_in(app, w.clinic_admin)

    client.post(f"/employer/claims/{claim.id}/refuse", data={"reason": ""})
    assert rows_of(w.learner)[-1] == ("成都市第三人民医院", EmploymentStatus.PENDING)
    client.post(f"/employer/claims/{claim.id}/refuse", data={"reason": "查无此人"})

    assert rows_of(w.learner) == [("成都市第一人民医院", EmploymentStatus.CONFIRMED),
                                  ("成都市第三人民医院", EmploymentStatus.REFUSED)]
    assert db.session.get(User, w.learner.id).employer_id == w.hospital.id
    assert "查无此人" in signed_in(app, w.learner).get("/me/employer").get_data(as_text=True)


def test_another_employers_admin_gets_404_on_a_claim_and_changes_nothing(app, w):
    claim = employment.claim(w.learner, w.hospital.id)
    client = signed_in(app, w.clinic_admin)

    confirmed = client.post(f"/employer/claims/{claim.id}/confirm")
    refused = client.post(f"/employer/claims/{claim.id}/refuse", data={"reason": "越权"})

    assert (confirmed.status_code, refused.status_code) == (404, 404)
    assert "陈晓" not in client.get("/employer/claims").get_data(as_text=True)
    assert rows_of(w.learner) == [("成都市第一人民医院", EmploymentStatus.PENDING)]
    assert db.session.get(User, w.learner.id).employer_id is None
    # the control: the hospital's own admin sees and confirms it
    own = signed_in(app, w.hospital_admin)
    assert "陈晓" in own.get("/employer/claims").get_data(as_text=True)
    assert own.post(f"/employer/claims/{claim.id}/confirm").status_code == 302
    assert rows_of(w.learner) == [("成都市第一人民医院", EmploymentStatus.CONFIRMED)]


def test_a_change_of_employer_keeps_the_history_and_the_filed_declaration_stays(app, w):
    employment.confirm(w.hospital_admin, employment.claim(w.learner, w.hospital.id).id)
    filed = declare(db.session.get(User, w.learner.id), minutes=100)

    employment.confirm(w.clinic_admin, employment.claim(w.learner, w.clinic.id).id)

    assert rows_of(w.learner) == [("成都市第一人民医院", EmploymentStatus.ENDED),
                                  ("成都市第三人民医院", EmploymentStatus.CONFIRMED)]
    ended = db.session.execute(sa.select(Employment).where(Employment.status == EmploymentStatus.ENDED)).scalar_one()
    assert ended.ended_at is not None
    assert db.session.get(Declaration, filed.id).employer_id == w.hospital.id  # stays with its employer
    learner = db.session.get(User, w.learner.id)
    assert learner.employer_id == w.clinic.id
    assert declare(learner, minutes=100, title="新单位的会议").employer_id == w.clinic.id
    # the hospital's reviewers still have the first, the clinic's the second
    assert [d.title for d in declarations.queue(w.hospital_admin)] == ["学术会议"]
    page = signed_in(app, w.learner).get("/me/employer").get_data(as_text=True)
    assert "已离职" in page and "成都市第三人民医院" in page


def test_the_learner_withdraws_a_pending_claim(app, w):
    employment.claim(w.learner, w.hospital.id)
    client = signed_in(app, w.learner)
    assert "待确认" in client.get("/me/employer").get_data(as_text=True)

    assert client.post("/me/employer/withdraw").status_code == 302

    assert rows_of(w.learner) == [("成都市第一人民医院", EmploymentStatus.WITHDRAWN)]


def test_the_learner_finds_and_names_an_employer_on_the_page(app, w):
    client = signed_in(app, w.learner)
    found = client.get("/me/employer?q=第三").get_data(as_text=True)
    assert "成都市第三人民医院" in found and "成都市第一人民医院" not in found

    assert client.post("/me/employer", data={"employer": str(w.clinic.id)}).status_code == 302

    assert rows_of(w.learner) == [("成都市第三人民医院", EmploymentStatus.PENDING)]


def test_staff_and_claims_pages_show_masked_ids_in_a_fixed_number_of_queries(app, w, make_user):
    employment.confirm(w.hospital_admin, employment.claim(w.learner, w.hospital.id).id)
    others = [make_user(Role.LEARNER, region_id=w.chengdu.id, id_number_masked=f"5101**********{n:04d}")
              for n in range(3)]
    other_ids, hospital_id, learner_id = [o.id for o in others], w.hospital.id, w.learner.id
    client = signed_in(app, w.hospital_admin)
    staff_few, claims_few = len(page_queries(client, "/employer/staff")), len(page_queries(client, "/employer/claims"))
    for other_id in other_ids:
        employment.claim(db.session.get(User, other_id), hospital_id)

    assert len(page_queries(client, "/employer/claims")) == claims_few
    assert len(page_queries(client, "/employer/staff")) == staff_few
    staff = client.get("/employer/staff").get_data(as_text=True)
    full = resident_ids.decrypt(db.session.get(User, learner_id).id_number_ciphertext)
    assert "陈晓" in staff and full not in staff and full[:4] + "**********" + full[-4:] in staff
