"""Regulators create their regions' sector authorities (行业主管部门) with officer accounts: one per sector and
region, within their reach only (another region's authority is 404), each change audited, bad input beside its
field with a 400, and the list page in a fixed number of queries."""

import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, Role, SectorAuthority, User
from services import policies, sector_authorities
from services.errors import Invalid
from tests.conftest import PASSWORD, login, page_queries

OFFICER_PASSWORD = "Officer-pass-1"


def _officer(n: int = 1, **overrides) -> dict:
    return {"name": f"卫健委 刘{n}", "email": f"liu{n}@wjw.example", "phone": "", "password": OFFICER_PASSWORD,
            **overrides}


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_regulator_creates_an_authority_with_its_first_officer(app, regulators, city):
    found = sector_authorities.create(regulators["city"], city.id, "卫生", " 成都市卫生健康委员会 ", _officer())
    officer = db.session.scalars(sa.select(User).where(User.email == "liu1@wjw.example")).one()
    assert (found.region_id, found.sector, found.name, found.created_by_id) == (
        city.id, "卫生", "成都市卫生健康委员会", regulators["city"].id)
    assert (officer.role, officer.sector_authority_id, officer.region_id) == (Role.SECTOR_OFFICER, found.id, city.id)
    actions = db.session.scalars(sa.select(AuditLog.action).where(AuditLog.object_type == "sector_authority")
                                 .order_by(AuditLog.id)).all()
    assert actions == ["sector_authority.create", "sector_authority.add_officer"]


def test_a_province_regulator_creates_one_for_a_city_below_it(app, regulators, city):
    found = sector_authorities.create(regulators["province"], city.id, "教育", "成都市教育局", _officer())
    assert found.region_id == city.id


def test_a_second_authority_of_the_same_sector_and_region_is_refused(app, regulators, city):
    sector_authorities.create(regulators["city"], city.id, "卫生", "成都市卫生健康委员会", _officer(1))
    with pytest.raises(Invalid) as caught:
        sector_authorities.create(regulators["province"], city.id, "卫生", "另一个卫健委", _officer(2))
    assert caught.value.fields["sector"] == "该地区已有卫生行业主管部门：成都市卫生健康委员会"
    assert _count(SectorAuthority) == 1
    assert _count(User, User.email == "liu2@wjw.example") == 0  # nothing half-saved


def test_the_same_sector_in_another_region_is_allowed(app, regulators, city, other_city):
    sector_authorities.create(regulators["province"], city.id, "卫生", "成都市卫生健康委员会", _officer(1))
    sector_authorities.create(regulators["province"], other_city.id, "卫生", "绵阳市卫生健康委员会", _officer(2))
    assert _count(SectorAuthority, SectorAuthority.sector == "卫生") == 2


@pytest.mark.parametrize(("sector", "name", "officer", "field"), [
    ("航天", "某部门", {}, "sector"),
    ("卫生", "  ", {}, "name"),
    ("卫生", "卫健委", {"email": "nope"}, "officer_email"),
    ("卫生", "卫健委", {"email": "TAKEN"}, "officer_email"),
    ("卫生", "卫健委", {"password": "1234"}, "officer_password"),
    ("卫生", "卫健委", {"phone": "0281234"}, "officer_phone"),
    ("卫生", "卫健委", {"name": ""}, "officer_name"),
])
def test_bad_input_is_refused_beside_its_field(app, regulators, city, sector, name, officer, field):
    if officer.get("email") == "TAKEN":
        officer = {"email": regulators["other"].email}
    users = _count(User)
    with pytest.raises(Invalid) as caught:
        sector_authorities.create(regulators["city"], city.id, sector, name, _officer(**officer))
    assert field in caught.value.fields
    assert (_count(SectorAuthority), _count(User)) == (0, users)


def test_a_region_out_of_reach_is_refused_as_missing(app, regulators, city, other_city, make_user):
    for actor, region in ((regulators["other"], city), (regulators["city"], city.parent),
                          (make_user(Role.PLATFORM_ADMIN, region_id=None), city)):
        with pytest.raises(LookupError):
            sector_authorities.create(actor, region.id, "卫生", "卫健委", _officer())
    assert _count(SectorAuthority) == 0


def test_another_region_s_authority_is_404_and_gets_no_officer(app, client, regulators, city):
    found = sector_authorities.create(regulators["city"], city.id, "卫生", "锦城卫生健康委员会", _officer(1))
    with pytest.raises(LookupError):
        sector_authorities.add_officer(regulators["other"], found.id, _officer(2))
    login(client, regulators["other"])
    assert client.get(f"/regulator/sectors/{found.id}").status_code == 404
    assert client.post(f"/regulator/sectors/{found.id}", data=_officer(3)).status_code == 404
    assert client.get("/regulator/sectors/99999999999").status_code == 404
    assert "锦城卫生健康委员会" not in client.get("/regulator/sectors").get_data(as_text=True)
    assert _count(User, User.sector_authority_id == found.id) == 1


def test_create_and_add_officers_through_the_pages(app, client, regulators, city):
    login(client, regulators["city"])
    page = client.get("/regulator/sectors")
    assert page.status_code == 200 and "行业主管部门" in page.get_data(as_text=True)
    response = client.post("/regulator/sectors", data={
        "region": str(city.id), "sector": "卫生", "name": "成都市卫生健康委员会", "officer_name": "刘一",
        "officer_email": "liu1@wjw.example", "officer_phone": "139 0000 5678", "officer_password": OFFICER_PASSWORD})
    assert response.status_code == 302
    found = db.session.scalars(sa.select(SectorAuthority)).one()
    added = client.post(f"/regulator/sectors/{found.id}", data={"name": "刘二", "email": "liu2@wjw.example",
                                                                "password": OFFICER_PASSWORD})
    assert added.status_code == 302
    detail = client.get(f"/regulator/sectors/{found.id}").get_data(as_text=True)
    assert "刘一" in detail and "刘二" in detail
    assert "139****5678" in detail and "13900005678" not in detail  # the phone masked
    listed = client.get("/regulator/sectors").get_data(as_text=True)
    assert "成都市卫生健康委员会" in listed and "2 人" in listed
    # the new officer signs in
    officer = db.session.scalars(sa.select(User).where(User.email == "liu2@wjw.example")).one()
    assert login(app.test_client(), officer, OFFICER_PASSWORD).status_code == 302


def test_page_errors_are_shown_beside_their_fields_with_a_400(app, client, regulators, city):
    sector_authorities.create(regulators["city"], city.id, "卫生", "成都市卫生健康委员会", _officer(1))
    login(client, regulators["city"])
    response = client.post("/regulator/sectors", data={
        "region": str(city.id), "sector": "卫生", "name": "另一个", "officer_name": "王",
        "officer_email": "liu1@wjw.example", "officer_password": OFFICER_PASSWORD})
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "该地区已有卫生行业主管部门" in body and "liu1@wjw.example 已有账号" in body
    found = db.session.scalars(sa.select(SectorAuthority)).one()
    taken = client.post(f"/regulator/sectors/{found.id}", data={"name": "王", "email": "liu1@wjw.example",
                                                                "password": OFFICER_PASSWORD})
    assert taken.status_code == 400 and "liu1@wjw.example 已有账号" in taken.get_data(as_text=True)


def test_a_forged_region_is_404(app, client, regulators, city, other_city):
    login(client, regulators["city"])
    response = client.post("/regulator/sectors", data={
        "region": str(other_city.id), "sector": "卫生", "name": "绵阳卫健委", "officer_name": "王",
        "officer_email": "wang@wjw.example", "officer_password": OFFICER_PASSWORD})
    assert response.status_code == 404
    assert _count(SectorAuthority) == 0


def test_other_roles_are_refused_the_sector_pages(app, client, make_user):
    login(client, make_user(Role.PLATFORM_ADMIN, region_id=None))
    assert client.get("/regulator/sectors").status_code == 403


def test_of_region_lists_the_reach_with_officer_counts(app, regulators, city, other_city):
    a = sector_authorities.create(regulators["city"], city.id, "卫生", "成都卫健委", _officer(1))
    sector_authorities.add_officer(regulators["city"], a.id, _officer(2))
    b = sector_authorities.create(regulators["other"], other_city.id, "教育", "绵阳教育局", _officer(3))
    db.session.get(User, db.session.scalar(sa.select(User.id).where(User.email == "liu2@wjw.example"))).active = False
    db.session.commit()
    by_city = {row.authority.id: (row.officers, row.active_officers)
               for row in sector_authorities.of_region(regulators["city"])}
    by_province = {row.authority.id for row in sector_authorities.of_region(regulators["province"])}
    assert by_city == {a.id: (2, 1)}
    assert by_province == {a.id, b.id}


def test_sector_authorities_in_reach_agrees_with_the_rule(app, regulators, city, other_city, make_user):
    sector_authorities.create(regulators["province"], city.id, "卫生", "成都卫健委", _officer(1))
    sector_authorities.create(regulators["province"], other_city.id, "卫生", "绵阳卫健委", _officer(2))
    sector_authorities.create(regulators["province"], city.parent_id, "教育", "四川教育厅", _officer(3))
    rows = db.session.scalars(sa.select(SectorAuthority)).all()
    for user in [*regulators.values(), make_user(Role.PLATFORM_ADMIN, region_id=None)]:
        allowed = {r.id for r in rows if policies.may_oversee_sector_authority(user, r)}
        twin = set(db.session.scalars(sa.select(SectorAuthority.id)
                                      .where(policies.sector_authorities_in_reach(user))))
        assert twin == allowed, user


def test_sector_list_reads_in_a_fixed_number_of_queries(app, client, regulators, city):
    regulator_id = regulators["province"].id
    sector_authorities.create(regulators["province"], city.id, "其他", "其他主管部门", _officer(9))
    login(client, regulators["province"])
    few = len(page_queries(client, "/regulator/sectors"))
    # page_queries empties the session: the fixtures' objects are reloaded before use
    regulator = db.session.get(User, regulator_id)
    regions = [r.id for r in policies.regions_in_reach(regulator)]
    for n, sector in enumerate(("卫生", "教育", "工程")):
        for region_id in regions:
            authority = SectorAuthority(region_id=region_id, sector=sector, name=f"{sector}{region_id}")
            db.session.add(authority)
            db.session.flush()
            officer = User(name=f"官{n}", email=f"o{n}-{region_id}@q.example", role=Role.SECTOR_OFFICER,
                           region_id=region_id, sector_authority_id=authority.id)
            officer.set_password(PASSWORD)
            db.session.add(officer)
    db.session.commit()
    assert len(page_queries(client, "/regulator/sectors")) == few


EDGE_VALUES = ("", "A" * 100_000, "sNaN", "99999999999999999999999", "9" * 5000, "\x00", "护理\r\n新进展",
               "护理\u2028新进展", "١٢٣", "２０２６", "²", "9" * 19)


def test_odd_values_in_every_field_are_a_message_never_a_server_error(app, client, regulators, city):
    found = sector_authorities.create(regulators["city"], city.id, "教育", "成都市教育局", _officer(9))
    login(client, regulators["city"])
    forms = {
        "/regulator/sectors": {"region": str(city.id), "sector": "卫生", "name": "卫健委", "officer_name": "刘",
                               "officer_email": "liu1@wjw.example", "officer_password": OFFICER_PASSWORD},
        f"/regulator/sectors/{found.id}": {"name": "刘", "email": "liu2@wjw.example", "password": OFFICER_PASSWORD},
    }
    tries = iter(range(1000))
    for path, valid in forms.items():
        for field in valid:
            for value in EDGE_VALUES:
                n = next(tries)
                fresh = {"officer_email": f"liu{n}@wjw.example"} if path == "/regulator/sectors" else {
                    "email": f"liu{n}@wjw.example"}
                response = client.post(path, data={**valid, **fresh, field: value})
                assert response.status_code in (302, 400, 404), (path, field, value[:20], response.status_code)
                # accepted: the sector is freed again (renamed), so that the next try is judged afresh
                db.session.execute(sa.update(SectorAuthority).where(SectorAuthority.sector == "卫生")
                                   .values(sector=f"旧{n}"))
                db.session.commit()
