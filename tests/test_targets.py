"""Yearly targets: a city's regulator sets its city-level bases' targets only; the province-level types'
targets are the province's, and a city's row for them never counts, not even one stored before the rule."""

import re

import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, BaseType, Role, Target
from services import clock, evaluation, registry
from services.errors import DomainError
from tests.conftest import login

PROVINCE_LEVEL = [BaseType.PROVINCIAL, BaseType.RURAL_REVITALIZATION]


@pytest.fixture
def other_city(make_region, city):
    return make_region("绵阳市", parent=city.parent)


@pytest.fixture
def regulators(make_user, city):
    return {
        "city": make_user(Role.REGULATOR, region_id=city.id, name="成都市人社局 王科长"),
        "province": make_user(Role.REGULATOR, region_id=city.parent_id, name="四川省人社厅 赵处长"),
    }


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def store(base_type, region_id, trainees, projects) -> Target:
    """A target row inserted directly, as one written before set_target refused it would be."""
    target = Target(base_type=base_type, year=this_year(), region_id=region_id, min_trainees=trainees,
                    min_projects=projects)
    db.session.add(target)
    db.session.commit()
    return target


def this_year() -> int:
    """The targets page shows the current year's targets, so every test works in it."""
    return clock.today().year


def figures(target) -> tuple[int, int] | None:
    return (target.min_trainees, target.min_projects) if target else None


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


@pytest.mark.parametrize("base_type", PROVINCE_LEVEL)
def test_city_regulator_setting_a_province_level_target_is_refused_and_nothing_is_kept(regulators, base_type):
    with pytest.raises(DomainError) as refused:
        registry.set_target(regulators["city"], base_type, this_year(), 0, 0)

    assert refused.value.field == "base_type"
    assert "省级人社部门" in refused.value.message
    db.session.rollback()
    assert count(Target) == 0
    assert count(AuditLog, AuditLog.action == "target.set") == 0


def test_city_regulator_posting_a_provincial_target_on_the_page_is_refused(app, regulators):
    response = signed_in(app, regulators["city"]).post(
        "/regulator/targets", data={"base_type": "provincial", "year": str(this_year()), "min_trainees": "0",
                                    "min_projects": "0"})

    assert response.status_code == 200
    assert "由省级人社部门设定" in response.get_data(as_text=True)
    assert count(Target) == 0
    assert count(AuditLog, AuditLog.action == "target.set") == 0


@pytest.mark.parametrize("base_type", PROVINCE_LEVEL)
def test_a_stored_city_row_for_a_province_level_type_is_ignored(city, make_base, base_type):
    store(base_type, city.id, 0, 0)

    assert registry.target_for(base_type, this_year(), city) is None  # not the city's (and none for everywhere)
    province_row = store(base_type, city.parent_id, 2500, 5)
    assert registry.target_for(base_type, this_year(), city).id == province_row.id
    assert registry.pick_target(registry.targets_of_year(this_year()), base_type, city).id == province_row.id

    # The evaluation of a province-level base in that city measures it against the province's figure.
    base = make_base(type=base_type, region_id=city.id)
    result = {r.base_id: r for r in evaluation.compute(this_year(), city.parent_id)}[base.id]
    assert (result.target_trainees, result.target_projects) == (2500, 5)
    assert result.missed_target


def test_city_own_city_target_wins_over_the_province_default_but_not_for_provincial(regulators, city,
                                                                                    other_city):
    registry.set_target(regulators["province"], BaseType.CITY, this_year(), 10, 3)
    registry.set_target(regulators["city"], BaseType.CITY, this_year(), 5, 2)
    store(BaseType.PROVINCIAL, city.parent_id, 2000, 4)
    store(BaseType.PROVINCIAL, city.id, 1, 1)
    targets = registry.targets_of_year(this_year())

    assert figures(registry.pick_target(targets, BaseType.CITY, city)) == (5, 2)
    assert figures(registry.pick_target(targets, BaseType.CITY, other_city)) == (10, 3)  # the province's default
    assert figures(registry.pick_target(targets, BaseType.PROVINCIAL, city)) == (2000, 4)


def test_province_regulator_sets_a_provincial_target_that_the_city_page_shows_read_only(app, regulators, city):
    response = signed_in(app, regulators["province"]).post(
        "/regulator/targets", data={"base_type": "provincial", "year": str(this_year()), "min_trainees": "2500",
                                    "min_projects": "5"})

    assert response.status_code == 302
    target = db.session.execute(sa.select(Target)).scalar_one()
    assert (target.base_type, target.region_id, target.min_trainees, target.min_projects, target.set_by_id) == (
        BaseType.PROVINCIAL, city.parent_id, 2500, 5, regulators["province"].id)
    assert count(AuditLog, AuditLog.action == "target.set", AuditLog.actor_id == regulators["province"].id) == 1
    assert figures(registry.target_for(BaseType.PROVINCIAL, this_year(), city)) == (2500, 5)

    province_page = signed_in(app, regulators["province"]).get("/regulator/targets")
    options = re.findall(r'<option[^>]*value="(\w+)"', province_page.get_data(as_text=True))
    assert options == [t.value for t in BaseType]

    city_page = signed_in(app, regulators["city"]).get("/regulator/targets").get_data(as_text=True)
    assert re.findall(r'<option[^>]*value="(\w+)"', city_page) == ["city"]
    row = re.search(r"<td>省级继续教育基地 <span[^>]*>省级设定</span></td><td>(\d+)</td><td>(\d+)</td>", city_page)
    assert row and row.groups() == ("2500", "5")
