"""One-time passwords (issue 18): an account whose password someone else typed (a regulator made by the
platform administrator, a sector officer, an employer's reviewer, a designated base's admin) is sent to change
it from every page until it does; people who chose their own password never are; the API is not held."""

import flask_migrate
import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, EmployerStatus, Role, User
from services import employers, platform_admins, registry, sector_authorities
from tests.conftest import PASSWORD
from tests.test_accounts import form as registration_form

INITIAL = "Handed-over-2026"
OWN = "Chosen-by-me-2026"
CHANGE_PAGE = "/account/password"


@pytest.fixture
def regulator(app, make_user, city):
    """A regulator of the city, made by the platform administrator with a password the administrator typed."""
    admin = make_user(Role.PLATFORM_ADMIN, region_id=None, name="平台管理员")
    return platform_admins.create_regulator(admin, {
        "name": "成都市人社局 周科长", "email": "zhou@chengdu.example", "phone": "", "region_id": city.id,
        "password": INITIAL})


def _sign_in(client, login, password):
    response = client.post("/login", data={"login": login, "password": password})
    assert response.status_code == 302, "sign-in failed"
    return response


def _change(client, current, new):
    return client.post(CHANGE_PAGE, data={"current_password": current, "new_password": new, "confirm": new})


def test_a_regulator_made_by_the_platform_admin_changes_the_password_before_anything_else(client, regulator):
    assert regulator.must_change_password is True
    home = _sign_in(client, "zhou@chengdu.example", INITIAL).headers["Location"]
    assert home == "/regulator/"

    response = client.get("/regulator/")
    assert (response.status_code, response.headers["Location"]) == (302, CHANGE_PAGE)
    page = client.get(CHANGE_PAGE)
    assert page.status_code == 200
    assert "首次登录请修改初始密码" in page.text
    # Every other page, a POST included, leads there too; the public catalog as well.
    for path in ("/regulator/", "/regulator/audit", "/", "/login"):
        assert client.get(path).headers.get("Location") == CHANGE_PAGE, path
    assert client.post("/regulator/evaluations", data={}).headers.get("Location") == CHANGE_PAGE
    # Its own styles still load.
    assert client.get("/static/favicon.svg").status_code == 200

    assert _change(client, INITIAL, OWN).status_code == 302
    db.session.expire_all()
    user = db.session.scalar(sa.select(User).where(User.email == "zhou@chengdu.example"))
    assert user.must_change_password is False
    assert user.check_password(OWN)
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "auth.password_changed")).one()
    assert (entry.actor_id, entry.details.get("one_time_password")) == (user.id, "replaced")
    assert client.get("/regulator/").status_code == 200
    assert client.get("/regulator/audit").status_code == 200


def test_a_held_user_may_sign_out(client, regulator):
    _sign_in(client, "zhou@chengdu.example", INITIAL)
    response = client.post("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] != CHANGE_PAGE
    assert client.get("/regulator/").headers["Location"].startswith("/login")


def test_a_wrong_current_password_keeps_the_user_held(client, regulator):
    _sign_in(client, "zhou@chengdu.example", INITIAL)
    assert _change(client, "not-the-password", OWN).status_code == 200
    assert client.get("/regulator/").headers.get("Location") == CHANGE_PAGE


def test_the_api_is_not_held(client, regulator):
    _sign_in(client, "zhou@chengdu.example", INITIAL)
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200


def test_a_learner_who_registered_is_never_sent_to_change(client, city):
    response = client.post("/register", data=registration_form(city))
    assert response.headers["Location"] == "/me/"
    learner = db.session.scalar(sa.select(User).where(User.phone == "13912345678"))
    assert learner.must_change_password is False
    for path in ("/me/", "/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "首次登录请修改初始密码" not in response.text


def test_every_maker_of_a_typed_password_sets_the_flag(app, make_user, city):
    regulator = make_user(Role.REGULATOR, region_id=city.id)
    _base, passwords = registry.designate_base(regulator, {
        "name": "成都市护理继续教育基地", "type": "city", "region_id": city.id,
        "admin_emails": ["new.admin@test.example"]})
    assert passwords
    base_admin = db.session.scalar(sa.select(User).where(User.email == "new.admin@test.example"))
    assert base_admin.must_change_password is True

    authority = sector_authorities.create(regulator, city.id, "卫生", "成都市卫生健康委员会", {
        "name": "王处长", "email": "wang@health.example", "phone": "", "password": INITIAL})
    officer = db.session.scalar(sa.select(User).where(User.sector_authority_id == authority.id))
    assert officer.must_change_password is True


def test_an_employer_admin_chooses_their_own_password_and_a_reviewer_they_add_changes_it(app, city):
    from tests.test_employers import data as employer_data

    admin = employers.register(employer_data(city, name="成都市妇幼保健院"))
    assert admin.must_change_password is False
    admin.employer.status = EmployerStatus.APPROVED
    db.session.commit()
    reviewer = employers.add_reviewer(admin, {"name": "李审核", "login": "li@test.example", "password": PASSWORD})
    assert reviewer.must_change_password is True


def test_migration_0016_adds_the_column_false_for_existing_accounts_and_drops_it(app, make_user):
    make_user(Role.LEARNER, email="old@test.example")

    def columns():
        return {c["name"] for c in sa.inspect(db.engine).get_columns("user")}

    db.session.remove()
    flask_migrate.downgrade(revision="0015")
    assert "must_change_password" not in columns()
    flask_migrate.upgrade(revision="0016")
    assert "must_change_password" in columns()
    with db.engine.connect() as connection:
        flag = connection.execute(sa.text(
            "SELECT must_change_password FROM \"user\" WHERE email = 'old@test.example'")).scalar_one()
    assert not flag
