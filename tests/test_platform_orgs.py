"""The platform administrator creates regions and regulator accounts and disables or enables a regulator;
nobody else may (the service refuses, the pages are 403); bad input answers beside its field with a 400."""

import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, Region, RegionLevel, Role, User
from services import platform_admins
from services.errors import Invalid, NotAllowed
from tests.conftest import login, page_queries

NEW_PASSWORD = "Regulator-pass-1"


@pytest.fixture
def admin(make_user):
    return make_user(Role.PLATFORM_ADMIN, region_id=None, name="平台管理员")


@pytest.fixture
def sichuan(make_region):
    return make_region("四川省", code="510000")


def _regulator_data(region, **overrides) -> dict:
    return {"name": "德阳市人社局 周科长", "email": "zhou@deyang.example", "phone": "", "region_id": region.id,
            "password": NEW_PASSWORD, **overrides}


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


# --- regions -------------------------------------------------------------------------------------------------

def test_admin_creates_a_province_and_a_city_under_it(app, admin):
    province = platform_admins.create_region(admin, {"code": "620000", "name": "甘肃省", "level": "province"})
    city = platform_admins.create_region(admin, {"code": "６２０１００", "name": "兰州市", "level": "city",
                                                 "parent_id": province.id})
    assert (province.level, province.parent_id) == (RegionLevel.PROVINCE, None)
    assert (city.code, city.level, city.parent_id, city.full_name) == ("620100", RegionLevel.CITY, province.id,
                                                                       "甘肃省兰州市")
    actions = db.session.scalars(sa.select(AuditLog.action).where(AuditLog.actor_id == admin.id)).all()
    assert actions == ["region.create", "region.create"]


@pytest.mark.parametrize(("data", "field"), [
    ({"code": "51000", "name": "某省", "level": "province"}, "code"),
    ({"code": "51000x", "name": "某省", "level": "province"}, "code"),
    ({"code": "510100", "name": "某省", "level": "province"}, "code"),  # a province's code ends in 0000
    ({"code": "630000", "name": "", "level": "province"}, "name"),
    ({"code": "630000", "name": "青海省", "level": "county"}, "level"),
    ({"code": "510700", "name": "绵阳市", "level": "city"}, "parent"),  # a city needs its province
    ({"code": "520100", "name": "贵阳市", "level": "city", "parent_id": "SICHUAN"}, "code"),  # not 51…
    ({"code": "510000", "name": "四川省", "level": "province", "parent_id": "SICHUAN"}, "parent"),
])
def test_bad_region_input_is_refused_beside_its_field(app, admin, sichuan, data, field):
    data = {**data, **({"parent_id": sichuan.id} if data.get("parent_id") == "SICHUAN" else {})}
    before = _count(Region)
    with pytest.raises(Invalid) as caught:
        platform_admins.create_region(admin, data)
    assert field in caught.value.fields
    assert _count(Region) == before


def test_a_taken_region_code_is_refused(app, admin, sichuan):
    with pytest.raises(Invalid) as caught:
        platform_admins.create_region(admin, {"code": "510000", "name": "另一个省", "level": "province"})
    assert caught.value.fields == {"code": "代码 510000 已被使用"}


def test_a_city_under_a_city_is_refused(app, admin, sichuan, make_region):
    chengdu = make_region("成都市", parent=sichuan, code="510100")
    with pytest.raises(Invalid) as caught:
        platform_admins.create_region(admin, {"code": "510104", "name": "锦江区", "level": "city",
                                              "parent_id": chengdu.id})
    assert caught.value.fields["parent"] == "请选择市所属的省"


def test_a_regulator_may_not_create_regions_or_regulators(app, regulators, sichuan):
    regulator = regulators["province"]
    with pytest.raises(NotAllowed):
        platform_admins.create_region(regulator, {"code": "620000", "name": "甘肃省", "level": "province"})
    with pytest.raises(NotAllowed):
        platform_admins.create_regulator(regulator, _regulator_data(sichuan))
    with pytest.raises(NotAllowed):
        platform_admins.set_regulator_active(regulator, regulators["city"].id, False)
    assert _count(Region, Region.code == "620000") == 0
    assert _count(User, User.email == "zhou@deyang.example") == 0
    assert db.session.get(User, regulators["city"].id).active


@pytest.mark.parametrize("path", ["/platform/regions", "/platform/regulators"])
def test_a_regulator_is_refused_the_platform_forms(app, client, regulators, sichuan, path):
    login(client, regulators["province"])
    data = {"code": "620000", "name": "甘肃省", "level": "province", **_regulator_data(sichuan)}
    prefix = "region-" if path.endswith("regions") else "regulator-"
    assert client.post(path, data={prefix + key: value for key, value in data.items()}).status_code == 403
    assert _count(Region, Region.code == "620000") == 0
    assert _count(User, User.email == "zhou@deyang.example") == 0


def test_region_form_round_trip(app, client, admin, sichuan):
    login(client, admin)
    response = client.post("/platform/regions", data={"region-code": "510600", "region-name": "德阳市",
                                                      "region-level": "city", "region-parent": str(sichuan.id)})
    assert response.status_code == 302
    page = client.get("/platform/").get_data(as_text=True)
    assert "四川省德阳市" in page and "510600" in page
    refused = client.post("/platform/regions", data={"region-code": "510600", "region-name": "德阳",
                                                     "region-level": "city", "region-parent": str(sichuan.id)})
    assert refused.status_code == 400
    assert "代码 510600 已被使用" in refused.get_data(as_text=True)


# --- regulators ----------------------------------------------------------------------------------------------

def test_new_regulator_signs_in_and_sees_their_region(app, client, admin, sichuan, make_region):
    deyang = make_region("德阳市", parent=sichuan, code="510600")
    login(client, admin)
    response = client.post("/platform/regulators", data={
        "regulator-name": "德阳市人社局 周科长", "regulator-email": " Zhou@Deyang.Example ",
        "regulator-phone": "139 0000 1234", "regulator-region": str(deyang.id), "regulator-password": NEW_PASSWORD})
    assert response.status_code == 302
    user = db.session.scalars(sa.select(User).where(User.email == "zhou@deyang.example")).one()
    assert (user.role, user.region_id, user.phone, user.active) == (Role.REGULATOR, deyang.id, "13900001234", True)
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "regulator.create")).one()
    assert "13900001234" not in str(entry.details) and "zhou@deyang.example" not in str(entry.details)
    theirs = app.test_client()
    assert login(theirs, user, NEW_PASSWORD).status_code == 302
    # The administrator typed the password: it is changed first (issue 18), then the region's pages open.
    assert theirs.get("/regulator/").location == "/account/password"
    own = "Own-regulator-pass-2"
    assert theirs.post("/account/password", data={"current_password": NEW_PASSWORD, "new_password": own,
                                                  "confirm": own}).status_code == 302
    page = theirs.get("/regulator/")
    assert page.status_code == 200
    assert "四川省德阳市" in page.get_data(as_text=True)


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"email": "not-an-email"}, "email", "邮箱格式不正确"),
    ({"email": "TAKEN"}, "email", "已有账号"),
    ({"phone": "12345"}, "phone", "11 位手机号"),
    ({"password": "short"}, "password", "密码至少 8 位"),
    ({"password": "line\nbreak-pass"}, "password", "换行"),
    ({"name": "  "}, "name", "请填写姓名"),
    ({"region_id": 10**12}, "region", "请选择监管的地区"),
])
def test_bad_regulator_input_is_refused_beside_its_field(app, admin, sichuan, regulators, overrides, field,
                                                         message):
    if overrides.get("email") == "TAKEN":
        overrides = {"email": regulators["city"].email.upper()}
    before = _count(User)
    with pytest.raises(Invalid) as caught:
        platform_admins.create_regulator(admin, _regulator_data(sichuan, **overrides))
    assert message in caught.value.fields[field]
    assert _count(User) == before


def test_an_email_in_use_is_shown_beside_the_field_with_a_400(app, client, admin, sichuan, regulators):
    login(client, admin)
    response = client.post("/platform/regulators", data={
        "regulator-name": "重复", "regulator-email": regulators["city"].email, "regulator-region": str(sichuan.id),
        "regulator-password": NEW_PASSWORD})
    assert response.status_code == 400
    assert f"{regulators['city'].email} 已有账号" in response.get_data(as_text=True)


def test_a_disabled_regulator_is_signed_out_and_cannot_sign_in_until_enabled(app, client, admin, regulators):
    regulator = regulators["city"]
    theirs = app.test_client()
    assert login(theirs, regulator).status_code == 302
    login(client, admin)
    assert client.post(f"/platform/regulators/{regulator.id}/active", data={"active": "0"}).status_code == 302
    assert theirs.get("/regulator/").status_code == 302  # their session ended
    assert login(app.test_client(), regulator).status_code != 302
    assert "已停用" in client.get("/platform/").get_data(as_text=True)
    assert client.post(f"/platform/regulators/{regulator.id}/active", data={"active": "1"}).status_code == 302
    assert login(app.test_client(), regulator).status_code == 302
    actions = db.session.scalars(sa.select(AuditLog.action).where(AuditLog.object_id == regulator.id,
                                                                  AuditLog.action.startswith("regulator."))).all()
    assert actions == ["regulator.disable", "regulator.enable"]


def test_only_regulators_are_disabled_here(app, client, admin, make_user):
    learner = make_user(Role.LEARNER)
    login(client, admin)
    assert client.post(f"/platform/regulators/{learner.id}/active", data={"active": "0"}).status_code == 404
    assert client.post("/platform/regulators/99999999999/active", data={"active": "0"}).status_code == 404
    assert db.session.get(User, learner.id).active


def test_platform_page_reads_in_a_fixed_number_of_queries(app, client, admin):
    login(client, admin)
    few = len(page_queries(client, "/platform/"))
    # page_queries empties the session: the fixtures' objects are detached, so these rows are made here
    for n in range(4):
        province = Region(code=f"{61 + n}0000", name=f"省{n}", level=RegionLevel.PROVINCE)
        city = Region(code=f"{61 + n}0100", name=f"市{n}", level=RegionLevel.CITY, parent=province)
        regulator = User(name=f"监管{n}", email=f"reg{n}@q.example", role=Role.REGULATOR, region=city)
        regulator.set_password(NEW_PASSWORD)
        db.session.add_all([province, city, regulator])
    db.session.commit()
    assert len(page_queries(client, "/platform/")) == few


EDGE_VALUES = ("", "A" * 100_000, "sNaN", "99999999999999999999999", "9" * 5000, "\x00", "护理\r\n新进展",
               "护理\u2028新进展", "١٢٣", "２０２６", "²", "9" * 19)


def test_odd_values_in_every_field_are_a_message_never_a_server_error(app, client, admin, sichuan, regulators):
    login(client, admin)
    forms = {
        "/platform/regions": {"code": "510600", "name": "德阳市", "level": "city", "parent": str(sichuan.id)},
        "/platform/regulators": {"name": "周", "email": "zhou@deyang.example", "phone": "",
                                 "region": str(sichuan.id), "password": NEW_PASSWORD},
        f"/platform/regulators/{regulators['city'].id}/active": {"active": "1"},
    }
    tries = iter(range(10, 1000))  # the regions' form takes the first 48: city codes 511000–515700
    for path, valid in forms.items():
        for field in valid:
            for value in EDGE_VALUES:
                n = next(tries)
                fresh = {"code": f"51{n:02d}00", "name": f"德阳{n}"} if path == "/platform/regions" else (
                    {"email": f"zhou{n}@deyang.example"} if path == "/platform/regulators" else {})
                data = {**valid, **fresh, field: value}
                prefix = {"/platform/regions": "region-", "/platform/regulators": "regulator-"}.get(path, "")
                response = client.post(path, data={prefix + key: v for key, v in data.items()})
                assert response.status_code in (302, 400), (path, field, value[:20], response.status_code)
