"""A learner's profile page (/account/profile): name, title, sector and region changed and audited, the region
held while the year has hours or a pending declaration, forged and bad input refused beside its field."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    AuditLog,
    Category,
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    Employer,
    HoursRecord,
    HoursSource,
    Role,
    User,
)
from services import profiles
from services.errors import Invalid
from services.infra import clock

URL = "/account/profile"


@pytest.fixture
def places(make_region, city):
    """Chengdu (the fixture's city) and Mianyang in Sichuan, Yantai in Shandong, and Sichuan itself."""
    sichuan = city.parent
    mianyang = make_region("绵阳市", parent=sichuan)
    yantai = make_region("烟台市", parent=make_region("山东省"))
    return {"chengdu": city, "mianyang": mianyang, "yantai": yantai, "sichuan": sichuan}


@pytest.fixture
def learner(make_user):
    return make_user(name="陈晓", phone="15400000123", sector="卫生", professional_title="中级")


def form(region, **over):
    return {"name": "陈晓", "professional_title": "中级", "sector": "卫生", "region": str(region.id), **over}


def entries(user) -> list[AuditLog]:
    return db.session.execute(sa.select(AuditLog).where(
        AuditLog.action == "account.profile", AuditLog.object_id == user.id)).scalars().all()


def hours_this_year(user) -> None:
    db.session.add(HoursRecord(learner_id=user.id, year=clock.today().year, category=Category.PUBLIC, hours=6,
                               source=HoursSource.IMPORT))
    db.session.commit()


def test_page_shows_masked_contact_rules_year_and_employer_link(client, login_as, learner):
    login_as(learner)
    page = client.get(URL)
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "154****0123" in body and "15400000123" not in body
    assert f"{clock.today().year}年度起按新地区的规则计算" in body
    assert "/me/employer" in body and "验证码" in body
    assert f'href="{URL}"' in body  # the navbar's user name links here


def test_changes_are_saved_and_audited_without_values(client, login_as, learner, places):
    login_as(learner)
    response = client.post(URL, data=form(places["yantai"], name="陈晓明", sector="教育", professional_title="副高级"))
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, learner.id)
    assert (user.name, user.sector, user.professional_title, user.region_id) == (
        "陈晓明", "教育", "副高级", places["yantai"].id)
    [entry] = entries(user)
    assert entry.actor_id == user.id
    assert entry.details["fields"] == ["name", "professional_title", "sector", "region"]
    assert entry.details["region"] == {"from": places["chengdu"].id, "to": places["yantai"].id}
    assert "15400000123" not in str(entry.details) and "陈晓明" not in str(entry.details)


def test_saving_unchanged_profile_writes_no_entry(client, login_as, learner, places):
    login_as(learner)
    assert client.post(URL, data=form(places["chengdu"])).status_code == 302
    assert entries(learner) == []


def test_region_change_refused_with_hours_this_year_and_nothing_half_saved(client, login_as, learner, places):
    hours_this_year(learner)
    login_as(learner)
    response = client.post(URL, data=form(places["mianyang"], name="陈晓明"))
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert profiles.REGION_LOCKED in body and "invalid-feedback" in body
    db.session.expire_all()
    user = db.session.get(User, learner.id)
    assert (user.region_id, user.name) == (places["chengdu"].id, "陈晓")  # the name was not saved either
    assert entries(user) == []
    assert "所在地区请在下一年度再修改" in client.get(URL).get_data(as_text=True)


def test_other_fields_change_while_region_is_held(client, login_as, learner, places):
    hours_this_year(learner)
    login_as(learner)
    assert client.post(URL, data=form(places["chengdu"], sector="教育")).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, learner.id).sector == "教育"


def test_region_change_allowed_with_hours_of_last_year_only(client, login_as, learner, places):
    db.session.add(HoursRecord(learner_id=learner.id, year=clock.today().year - 1, category=Category.PUBLIC,
                               hours=30, source=HoursSource.IMPORT))
    db.session.commit()
    login_as(learner)
    assert client.post(URL, data=form(places["mianyang"])).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, learner.id).region_id == places["mianyang"].id


def test_pending_declaration_this_year_holds_region(learner, places):
    employer = Employer(name="测试医院", region_id=places["chengdu"].id)
    db.session.add(employer)
    db.session.flush()
    today = clock.today()
    db.session.add(Declaration(learner_id=learner.id, employer_id=employer.id, kind=DeclarationKind.SELF_STUDY,
                               category=Category.PROFESSIONAL, title="自学", earned_on=today, year=today.year,
                               hours_claimed=4, status=DeclarationStatus.PENDING,
                               due_on=today + timedelta(days=5)))
    db.session.commit()
    state = profiles.region_state(learner)
    assert state.locked and state.pending == 1
    with pytest.raises(Invalid) as refused:
        profiles.update_profile(learner, {"name": "陈晓", "professional_title": "中级", "sector": "卫生",
                                          "region_id": places["mianyang"].id})
    assert refused.value.fields == {"region": profiles.REGION_LOCKED}


@pytest.mark.parametrize("which", ["sichuan", "missing", "huge"])
def test_forged_region_refused_beside_field(client, login_as, learner, places, which):
    region_id = {"sichuan": str(places["sichuan"].id), "missing": "999999", "huge": str(2**40)}[which]
    login_as(learner)
    response = client.post(URL, data={**form(places["chengdu"]), "region": region_id})
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and "请选择所在的市" in body
    db.session.expire_all()
    assert db.session.get(User, learner.id).region_id == places["chengdu"].id


@pytest.mark.parametrize(("name", "message"), [("   ", "请填写姓名"), ("名" * 65, "姓名不能超过 64 个字")])
def test_bad_name_refused_beside_field(client, login_as, learner, places, name, message):
    login_as(learner)
    response = client.post(URL, data=form(places["chengdu"], name=name))
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, learner.id).name == "陈晓"


def test_service_refuses_bad_input_field_by_field(learner, places):
    with pytest.raises(Invalid) as refused:
        profiles.update_profile(learner, {"name": "", "professional_title": "", "sector": "航天",
                                          "region_id": places["sichuan"].id})
    assert set(refused.value.fields) == {"name", "professional_title", "sector", "region"}


@pytest.mark.parametrize("role", [Role.BASE_ADMIN, Role.REGULATOR, Role.REVIEWER])
def test_other_roles_get_403(client, login_as, make_user, role):
    other = make_user(role=role)
    login_as(other)
    assert client.get(URL).status_code == 403
    assert client.post(URL, data={"name": "x"}).status_code == 403
    assert f'href="{URL}"' not in client.get("/").get_data(as_text=True)


def test_anonymous_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_region_state_counts_this_year_only(learner):
    assert profiles.region_state(learner).locked is False
    hours_this_year(learner)
    assert profiles.region_state(learner).locked is True


def test_a_forged_title_is_refused_beside_its_field(app, make_user):
    """The form offers models.PROFESSIONAL_TITLES; the service holds a forged one to the same list."""
    from models import PROFESSIONAL_TITLES, Role
    from services import profiles
    from services.errors import Invalid

    learner = make_user(Role.LEARNER, sector="卫生", professional_title="中级")
    data = {"name": learner.name, "professional_title": "宇宙级", "sector": "卫生", "region_id": learner.region_id}
    with pytest.raises(Invalid) as refused:
        profiles.update_profile(learner, data)
    assert refused.value.fields == {"professional_title": "请选择职称"}
    assert "宇宙级" not in PROFESSIONAL_TITLES
