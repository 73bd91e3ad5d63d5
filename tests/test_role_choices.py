"""Choices offered by role: a form offers a regulator only the base types, regions and decisions their role
may choose, and the server refuses the others when the POST is forged (nothing stored, nothing audited as
done). Each rule lives once in services/registry.py and serves the form and the service alike."""

import re

import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, BaseMembership, BaseStatus, BaseStatusChange, BaseType, Role, TrainingBase, User
from services import registry
from services.errors import DomainError, NotAllowed
from tests.conftest import login

PROVINCE_LEVEL = [BaseType.PROVINCIAL.value, BaseType.RURAL_REVITALIZATION.value]


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def designate_form(region, type_="city", name="新认定基地", email="new-admin@test.example") -> dict:
    return {"name": name, "type": type_, "region": str(region.id), "admin_emails": email}


def options(html: str, select: str) -> list[str]:
    found = re.search(rf'<select[^>]*name="{select}"[^>]*>(.*?)</select>', html, re.S)
    assert found, f"no select {select}"
    return re.findall(r'<option[^>]*value="([^"]*)"', found.group(1))


def field_errors(html: str) -> str:
    return " ".join(re.findall(r'<div class="invalid-feedback[^"]*"[^>]*>(.*?)</div>', html, re.S))


def nothing_designated(email="new-admin@test.example") -> None:
    db.session.expire_all()
    assert count(TrainingBase) == 0
    assert count(BaseMembership) == 0
    assert count(BaseStatusChange) == 0
    assert count(User, User.email == email) == 0
    assert count(AuditLog, AuditLog.action == "base.designate") == 0


@pytest.fixture
def other_city(make_region, city):
    return make_region("绵阳市", parent=city.parent)


@pytest.fixture
def regulators(make_user, city, other_city):
    return {
        "city": make_user(Role.REGULATOR, region_id=city.id, name="成都市人社局 王科长"),
        "province": make_user(Role.REGULATOR, region_id=city.parent_id, name="四川省人社厅 赵处长"),
    }


# --- designation: the base type -----------------------------------------------------------------------------

def test_the_designation_form_offers_a_city_regulator_only_the_city_level_type(app, regulators):
    city_page = signed_in(app, regulators["city"]).get("/regulator/bases/new").get_data(as_text=True)
    province_page = signed_in(app, regulators["province"]).get("/regulator/bases/new").get_data(as_text=True)

    assert options(city_page, "type") == [BaseType.CITY.value]
    assert sorted(options(province_page, "type")) == sorted(t.value for t in BaseType)


@pytest.mark.parametrize("type_", PROVINCE_LEVEL)
def test_a_city_regulator_forging_a_province_level_designation_is_refused_beside_the_type(app, regulators, city,
                                                                                          type_):
    response = signed_in(app, regulators["city"]).post("/regulator/bases/new", data=designate_form(city, type_))

    assert response.status_code == 200
    assert "由省级人社部门认定" in field_errors(response.get_data(as_text=True))
    nothing_designated()


@pytest.mark.parametrize("type_", PROVINCE_LEVEL)
def test_the_service_refuses_a_city_regulator_a_province_level_type(app, regulators, city, type_):
    data = {"name": "服务层基地", "type": type_, "region_id": city.id, "admin_emails": ["new-admin@test.example"]}

    with pytest.raises(DomainError) as refused:
        registry.designate_base(regulators["city"], data)

    assert refused.value.field == "type"
    db.session.rollback()
    nothing_designated()


@pytest.mark.parametrize("type_", PROVINCE_LEVEL)
def test_a_province_regulator_still_designates_province_level_bases_in_its_cities(app, regulators, city, type_):
    response = signed_in(app, regulators["province"]).post("/regulator/bases/new", data=designate_form(city, type_))

    assert response.status_code == 302
    base = db.session.execute(sa.select(TrainingBase)).scalar_one()
    assert (base.type.value, base.region_id) == (type_, city.id)


def test_an_unknown_type_is_refused_by_the_form_without_a_server_error(app, regulators, city):
    response = signed_in(app, regulators["province"]).post("/regulator/bases/new",
                                                           data=designate_form(city, "national"))

    assert response.status_code == 200
    assert field_errors(response.get_data(as_text=True))
    nothing_designated()


# --- designation: the region ---------------------------------------------------------------------------------

def test_the_designation_form_offers_a_city_regulator_only_its_own_city(app, regulators, city, other_city):
    page = signed_in(app, regulators["city"]).get("/regulator/bases/new").get_data(as_text=True)

    assert options(page, "region") == [str(city.id)]


@pytest.mark.parametrize("where", ["sibling", "province"])
def test_a_city_regulator_forging_a_sibling_city_or_the_province_is_404(app, regulators, city, other_city, where):
    region = other_city if where == "sibling" else city.parent

    response = signed_in(app, regulators["city"]).post("/regulator/bases/new", data=designate_form(region))

    assert response.status_code == 404
    nothing_designated()


def test_a_city_level_base_is_designated_in_a_city_not_at_the_province(app, regulators, city):
    client = signed_in(app, regulators["province"])

    refused = client.post("/regulator/bases/new", data=designate_form(city.parent, "city"))

    assert refused.status_code == 200
    assert "市级继续教育基地应认定在市" in field_errors(refused.get_data(as_text=True))
    nothing_designated()
    # the control: the province designates a city-level base in one of its cities
    assert client.post("/regulator/bases/new", data=designate_form(city, "city")).status_code == 302


# --- status decisions ----------------------------------------------------------------------------------------

@pytest.fixture
def province_level_base(make_base, city):
    return make_base(name="省级基地（在成都）", type=BaseType.PROVINCIAL, region_id=city.id)


def test_a_city_regulator_is_not_offered_the_status_of_a_province_level_base(app, regulators,
                                                                            province_level_base, make_base):
    city_client = signed_in(app, regulators["city"])
    own = make_base(name="市级基地")

    page = city_client.get(f"/regulator/bases/{province_level_base.id}").get_data(as_text=True)

    assert 'name="status"' not in page
    assert "由省级人社部门决定" in page
    assert 'name="status"' in city_client.get(f"/regulator/bases/{own.id}").get_data(as_text=True)
    province_page = signed_in(app, regulators["province"]).get(f"/regulator/bases/{province_level_base.id}")
    assert 'name="status"' in province_page.get_data(as_text=True)


@pytest.mark.parametrize("status", ["rectifying", "exited"])
def test_a_city_regulator_forging_a_status_change_of_a_province_level_base_is_refused(app, regulators,
                                                                                     province_level_base, status):
    response = signed_in(app, regulators["city"]).post(f"/regulator/bases/{province_level_base.id}/status",
                                                       data={"status": status, "reason": "越级决定"})

    assert response.status_code == 400
    assert "由省级人社部门决定" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(TrainingBase, province_level_base.id).status == BaseStatus.ACTIVE
    assert count(BaseStatusChange) == 0
    assert count(AuditLog, AuditLog.action == "base.status") == 0


def test_the_province_changes_the_status_of_its_province_level_base(app, regulators, province_level_base):
    response = signed_in(app, regulators["province"]).post(f"/regulator/bases/{province_level_base.id}/status",
                                                           data={"status": "rectifying", "reason": "限期整改"})

    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(TrainingBase, province_level_base.id).status == BaseStatus.RECTIFYING


def test_the_status_form_does_not_offer_the_status_the_base_already_has(app, regulators, make_base):
    base = make_base(name="市级基地")

    page = signed_in(app, regulators["city"]).get(f"/regulator/bases/{base.id}").get_data(as_text=True)

    assert options(page, "status") == [BaseStatus.RECTIFYING.value, BaseStatus.EXITED.value]


# --- one rule, several uses ----------------------------------------------------------------------------------

def test_targets_and_designation_follow_the_same_rule(app, regulators):
    for who in ("city", "province"):
        regulator = regulators[who]
        assert [t for t in BaseType if registry.may_set_target(regulator, t)] == registry.designatable_types(regulator)


def test_an_out_of_scope_region_is_not_allowed_by_the_service(app, regulators, other_city):
    data = {"name": "越界基地", "type": "city", "region_id": other_city.id, "admin_emails": ["x@test.example"]}

    with pytest.raises(NotAllowed):
        registry.designate_base(regulators["city"], data)

    db.session.rollback()
    nothing_designated("x@test.example")
