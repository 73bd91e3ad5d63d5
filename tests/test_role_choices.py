"""Choices offered by role: a form offers a regulator only the base types, regions and decisions their role
may choose, and the server refuses the others when the POST is forged (nothing stored, nothing audited as
done). Each rule lives once in services/registry.py and serves the form and the service alike."""

import re
from datetime import datetime

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    AuditLog,
    BaseMembership,
    BaseStatus,
    BaseStatusChange,
    BaseType,
    Evaluation,
    EvaluationResult,
    Outcome,
    Role,
    TrainingBase,
    User,
)
from services import accounts, evaluation, policies, registry
from services.errors import DomainError, NotAllowed
from tests.conftest import PASSWORD, after_the_year, login

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
        assert [t for t in BaseType if policies.may_set_target(regulator, t)] == registry.designatable_types(regulator)


def test_an_out_of_scope_region_is_not_allowed_by_the_service(app, regulators, other_city):
    data = {"name": "越界基地", "type": "city", "region_id": other_city.id, "admin_emails": ["x@test.example"]}

    with pytest.raises(NotAllowed):
        registry.designate_base(regulators["city"], data)

    db.session.rollback()
    nothing_designated("x@test.example")


# --- annual evaluations --------------------------------------------------------------------------------------

YEAR = 2026
EFFECTS = {Outcome.EXIT: BaseStatus.EXITED, Outcome.RECTIFY: BaseStatus.RECTIFYING, Outcome.KEEP: BaseStatus.ACTIVE}


@pytest.fixture
def evaluated(make_base, city, monkeypatch):
    """A city-level base and the two province-level types located in the city, designated at the start of
    YEAR and idle all year (each proposed for a decision that changes its status); today is after YEAR."""
    after_the_year(monkeypatch, YEAR)
    made = {t: make_base(name=f"评估{t.label}", type=t, created_at=datetime(YEAR, 1, 1)) for t in BaseType}
    return made[BaseType.CITY], [made[BaseType.PROVINCIAL], made[BaseType.RURAL_REVITALIZATION]]


def changes_of(base) -> list[BaseStatusChange]:
    return db.session.execute(sa.select(BaseStatusChange).where(BaseStatusChange.base_id == base.id)).scalars().all()


def old_city_draft(regulators, city, base) -> EvaluationResult:
    """The city's draft holding a result for ``base`` as drafts did before province-level bases were left out
    (stored before the rule, so still in the database)."""
    draft = evaluation.run(regulators["city"], YEAR, city.id)
    held = {r.base_id: r for r in draft.results}
    if base.id not in held:
        (computed,) = [r for r in evaluation.compute(YEAR, city.id) if r.base_id == base.id]
        draft.results.append(computed)
        db.session.commit()
        held[base.id] = computed
    return held[base.id]


@pytest.mark.parametrize("who", ["city", "province"])
def test_a_citys_evaluation_decides_only_its_city_level_bases_whoever_runs_it(app, regulators, city, evaluated,
                                                                              who):
    city_base, province_level = evaluated

    draft = evaluation.run(regulators[who], YEAR, city.id)

    assert [r.base_id for r in draft.results] == [city_base.id]
    listed = evaluation.decided_by_province(draft)
    assert [(base.id, result) for base, result in listed] == [(base.id, None) for base in province_level]


def test_confirming_a_citys_evaluation_leaves_the_province_level_bases_to_the_provinces(app, regulators, city,
                                                                                       evaluated):
    city_base, province_level = evaluated
    city_draft = evaluation.run(regulators["city"], YEAR, city.id)

    evaluation.confirm(regulators["city"], city_draft.id)

    db.session.expire_all()
    assert db.session.get(TrainingBase, city_base.id).status != BaseStatus.ACTIVE  # the city decided its own
    for base in province_level:
        assert db.session.get(TrainingBase, base.id).status == BaseStatus.ACTIVE
        assert changes_of(base) == []
        assert count(AuditLog, AuditLog.action == "base.status", AuditLog.base_id == base.id) == 0
    # the province's evaluation decides them
    province_draft = evaluation.run(regulators["province"], YEAR, city.parent_id)
    proposed = {r.base_id: r.proposed for r in province_draft.results}
    assert sorted(proposed) == sorted(base.id for base in province_level)

    evaluation.confirm(regulators["province"], province_draft.id)

    db.session.expire_all()
    for base in province_level:
        assert db.session.get(TrainingBase, base.id).status == EFFECTS[proposed[base.id]] != BaseStatus.ACTIVE
        (change,) = changes_of(base)
        assert (change.evaluation_id, change.actor_id) == (province_draft.id, regulators["province"].id)


def test_the_citys_evaluation_page_shows_province_level_bases_as_information(app, regulators, city, evaluated):
    city_base, province_level = evaluated
    draft = evaluation.run(regulators["city"], YEAR, city.id)
    province_draft = evaluation.run(regulators["province"], YEAR, city.parent_id)
    scores = {r.base_id: r.score for r in province_draft.results}

    page = signed_in(app, regulators["city"]).get(f"/regulator/evaluations/{draft.id}").get_data(as_text=True)

    section = re.search(r'<section[^>]*id="decided-by-province".*?</section>', page, re.S).group(0)
    for base in province_level:
        row = re.search(rf'<tr data-base="{re.escape(base.name)}">.*?</tr>', section, re.S).group(0)
        assert "由省级人社部门决定" in row and str(scores[base.id]) in row and "待确认" in row
        assert f'aria-label="结论 {base.name}"' not in page  # no override form for it
    assert f'aria-label="结论 {city_base.name}"' in page


@pytest.mark.parametrize("held_by", ["old_city_draft", "province_draft"])
def test_a_city_regulator_forging_an_override_of_a_province_level_base_is_refused(app, regulators, city,
                                                                                evaluated, held_by):
    _city_base, (base, _rural) = evaluated
    if held_by == "old_city_draft":
        result = old_city_draft(regulators, city, base)
    else:
        (result,) = [r for r in evaluation.run(regulators["province"], YEAR, city.parent_id).results
                     if r.base_id == base.id]
    result_id = result.id

    response = signed_in(app, regulators["city"]).post(f"/regulator/evaluations/results/{result_id}/override",
                                                       data={"outcome": "keep", "reason": "越级改判"})

    if held_by == "old_city_draft":
        assert response.status_code == 400
        assert "年度评估结论由省级人社部门决定" in response.get_data(as_text=True)
    else:
        assert response.status_code == 404  # the province's evaluation is not the city's to see
    db.session.expire_all()
    stored = db.session.get(EvaluationResult, result_id)
    assert (stored.final, stored.override_reason) == (None, "")
    assert count(AuditLog, AuditLog.action == "evaluation.override") == 0


def test_the_service_refuses_an_override_of_a_province_level_base_in_a_citys_draft(app, regulators, city,
                                                                                  evaluated):
    _city_base, (base, _rural) = evaluated
    result = old_city_draft(regulators, city, base)

    for who in ("city", "province"):  # the city's evaluation does not decide it, whoever overrides
        with pytest.raises(DomainError, match="由省级人社部门决定") as refused:
            evaluation.override(regulators[who], result.id, Outcome.RECTIFY, "越级改判")
        assert refused.value.field == "outcome"
    db.session.expire_all()
    assert db.session.get(EvaluationResult, result.id).final is None


def test_confirming_an_old_city_draft_holding_a_province_level_base_leaves_it_alone(app, regulators, city,
                                                                                   evaluated):
    city_base, (base, _rural) = evaluated
    result = old_city_draft(regulators, city, base)
    evaluation_id = result.evaluation_id

    evaluation.confirm(regulators["city"], evaluation_id)

    db.session.expire_all()
    assert db.session.get(TrainingBase, base.id).status == BaseStatus.ACTIVE
    assert changes_of(base) == []
    confirmed = db.session.get(Evaluation, evaluation_id)
    assert [r.base_id for r in confirmed.results] == [city_base.id]  # what it shows is what took effect
    assert db.session.get(TrainingBase, city_base.id).status != BaseStatus.ACTIVE


# --- registration: the region --------------------------------------------------------------------------------

REGISTRATION = {"name": "陈晓", "phone": "13912345678", "email": "chenxiao@example.com", "password": PASSWORD,
                "confirm": PASSWORD, "id_number": "11010519491231002X", "employer_name": "成都市第一人民医院",
                "sector": "卫生", "professional_title": "中级", "consent": "y"}


def nobody_registered() -> None:
    db.session.expire_all()
    assert count(User, User.role == Role.LEARNER) == 0
    assert count(AuditLog, AuditLog.action.like("auth.%")) == 0


@pytest.mark.parametrize("where", ["province", "unknown", "beyond 64 bits"])
def test_a_forged_registration_region_that_is_not_a_city_is_refused_beside_the_region(app, client, city, where):
    region = {"province": str(city.parent_id), "unknown": "99999", "beyond 64 bits": str(2**70)}[where]
    page = client.get("/register").get_data(as_text=True)
    assert options(page, "region") == ["", str(city.id)]  # the form offers cities alone, after "请选择…"

    response = client.post("/register", data={**REGISTRATION, "region": region})

    assert response.status_code == 200
    assert "请选择所在的市" in field_errors(response.get_data(as_text=True))
    nobody_registered()


def test_the_service_refuses_a_learner_region_that_is_not_a_city(app, city):
    data = {**REGISTRATION, "region_id": city.parent_id, "consent": accounts.PRIVACY_NOTICE_VERSION}

    with pytest.raises(DomainError) as refused:
        accounts.register_learner(data)

    assert (refused.value.field, refused.value.message) == ("region", "请选择所在的市")
    nobody_registered()
    assert accounts.register_learner({**data, "region_id": city.id}).region_id == city.id  # the control
