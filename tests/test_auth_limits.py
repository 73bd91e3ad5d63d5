"""Attempt budgets and what refusals reveal (issue 13, findings 1 and 3): failed sign-ins count against the
account whichever of its logins is typed and however, and against the normalised text only when it reaches
none; registration answers a taken phone, e-mail or ID number with one neutral message, after the same
password hash, audited masked, and refused registrations are limited per address (in Redis when set)."""

import json
import logging
import re

import pytest
import redis
import sqlalchemy as sa

from app import create_app
from extensions import db
from models import AuditLog, Role, User
from services import accounts, resident_ids
from tests.conftest import PASSWORD, IsolatedClient, _config

REDIS_URL = "redis://127.0.0.1:6379/14"  # this module's own database: nothing else is touched
LIMITS = {"LOGIN_LIMIT_PER_ACCOUNT": "3 per minute", "LOGIN_LIMIT_PER_ADDRESS": "50 per minute",
          "REGISTER_LIMIT_PER_ADDRESS": "3 per minute"}
ID_NUMBER = "11010519491231002X"
OTHER_ID_NUMBER = "51010419900307123" + resident_ids.check_character("51010419900307123")


@pytest.fixture
def app_config():
    return LIMITS


@pytest.fixture
def learner(make_user):
    return make_user(Role.LEARNER, phone="13800000000", email="taken@example.com")


def sign_in(app, login, password, address):
    return app.test_client().post("/login", data={"login": login, "password": password},
                                  environ_base={"REMOTE_ADDR": address})


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# --- finding 1: one budget per account -------------------------------------------------------------------

SPELLINGS = {
    "control character appended": lambda login: login + "\x01",
    "DEL appended": lambda login: login + "\x7f",
    "zero-width space appended": lambda login: login + "\u200b",
    "byte-order mark in front": lambda login: "\ufeff" + login,
    "soft hyphen inside": lambda login: login[:3] + "\u00ad" + login[3:],
    "full-width": full_width,
    "spaces and capitals": lambda login: f"  {login.upper()}\u3000",
}


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
@pytest.mark.parametrize("login", ["taken@example.com", "13800000000"])
def test_another_spelling_of_the_login_is_no_fresh_budget(app, learner, login, spelling):
    for n in range(3):
        assert sign_in(app, login, "wrong", f"10.20.0.{n}").status_code == 200
    # Even the right password, from yet another address, under a spelling the lookup reads as the same account.
    assert sign_in(app, spelling(login), PASSWORD, "10.20.0.9").status_code == 429


def test_phone_and_email_of_one_account_are_one_budget(app, learner):
    for n in range(3):
        assert sign_in(app, "13800000000", "wrong", f"10.21.0.{n}").status_code == 200
    assert sign_in(app, "taken@example.com", PASSWORD, "10.21.0.9").status_code == 429


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_every_spelling_reaches_the_account(app, learner, spelling):
    # The lookup reads what the limit counts: a spelling that could be a fresh budget could also not sign in.
    assert sign_in(app, spelling("taken@example.com"), PASSWORD, "10.22.0.1").status_code == 302
    assert sign_in(app, spelling("13800000000"), PASSWORD, "10.22.0.2").status_code == 302
    assert sign_in(app, "138 0000-0000", PASSWORD, "10.22.0.3").status_code == 302


def test_unknown_logins_are_counted_by_their_normalised_text(app):
    for n, login in enumerate(["nobody@test.example", "NOBODY@test.example\u200b", full_width("nobody@test.example")]):
        assert sign_in(app, login, "wrong", f"10.23.0.{n}").status_code == 200
    assert sign_in(app, " nobody@test.example\x02", "wrong", "10.23.0.9").status_code == 429
    assert sign_in(app, "somebody@test.example", "wrong", "10.23.0.9").status_code == 200


def test_a_new_spelling_still_gets_the_one_generic_answer(app, learner):
    unknown = sign_in(app, "nobody@test.example\u200b", "whatever", "10.24.0.1")
    wrong = sign_in(app, full_width("taken@example.com"), "whatever", "10.24.0.2")
    assert unknown.status_code == wrong.status_code == 200
    assert "手机号/邮箱或密码不正确" in unknown.text and "手机号/邮箱或密码不正确" in wrong.text
    # The form shows the login as it was read, so the two pages differ only there.
    assert (unknown.text.replace("nobody@test.example", "LOGIN")
            == wrong.text.replace("taken@example.com", "LOGIN"))


def test_the_limit_logs_no_phone_or_email(app, learner, caplog, monkeypatch):
    # Alembic's logging setup (the migrated template) switched the limiter's logger off in this process.
    monkeypatch.setattr(logging.getLogger("flask-limiter"), "disabled", False)
    caplog.set_level(logging.INFO)
    for n in range(4):
        sign_in(app, "13800000000", "wrong", f"10.25.0.{n}")
    for n in range(4):
        sign_in(app, "stranger@test.example", "wrong", f"10.25.1.{n}")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "exceeded" in logged  # the limiter did write its line, with the key in it
    assert "13800000000" not in logged and "stranger@test.example" not in logged and "taken@example" not in logged


@pytest.fixture
def redis_app(sqlite_template, tmp_path):
    """The app counting in Redis db 14, this module's own, emptied before and after (the limiter is one per
    process, so its key prefix cannot be changed per app: the database is what keeps these counters apart)."""
    client = redis.Redis.from_url(REDIS_URL)
    assert client.ping()
    client.flushdb()
    path = tmp_path / "db.sqlite3"
    path.write_bytes(sqlite_template.read_bytes())
    app = create_app(_config(tmp_path, f"sqlite:///{path}", REDIS_URL=REDIS_URL, **LIMITS))
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app, client
        db.session.remove()
        db.engine.dispose()
    client.flushdb()


def test_redis_holds_one_counter_per_account_and_no_phone(redis_app):
    app, client = redis_app
    user = User(name="王芳", phone="13800000000", email="taken@example.com", role=Role.LEARNER)
    user.set_password(PASSWORD)
    db.session.add(user)
    db.session.commit()
    sign_in(app, "13800000000", "wrong", "10.26.0.1")
    sign_in(app, "Taken@Example.com\u200b", "wrong", "10.26.0.2")
    sign_in(app, "nobody@test.example", "wrong", "10.26.0.3")
    keys = [key.decode() for key in client.scan_iter()]
    account_keys = [key for key in keys if "login-account" in key]
    # One counter for the account (its phone and an odd spelling of its e-mail), one for the unknown text.
    assert len(account_keys) == 2
    assert sum(f"user:{user.id}/" in key or key.endswith(f"user:{user.id}") for key in account_keys) == 1
    assert not any(re.search(r"13800000000|taken@|nobody@", key) for key in keys)


# --- finding 3: registration tells nobody who is registered --------------------------------------------------

def form(city, **overrides) -> dict:
    data = {"name": "陈晓", "phone": "13912345678", "email": "chenxiao@example.com", "password": PASSWORD,
            "confirm": PASSWORD, "id_number": OTHER_ID_NUMBER, "region": str(city.id),
            "employer_name": "成都市第一人民医院", "sector": "卫生", "professional_title": "中级",
            "consent": "y"}
    data.update(overrides)
    return data


@pytest.fixture
def registered(city):
    return accounts.register_learner({
        "consent": accounts.PRIVACY_NOTICE_VERSION,
        "name": "王芳", "phone": "13800000000", "email": "taken@example.com", "password": PASSWORD,
        "id_number": ID_NUMBER, "region_id": city.id, "employer_name": "四川大学华西医院", "sector": "卫生",
        "professional_title": "副高级"})


def register(app, data, address="10.30.0.1"):
    return app.test_client().post("/register", data=data, environ_base={"REMOTE_ADDR": address})


TAKEN = {"phone": "13800000000", "email": "taken@example.com", "id_number": ID_NUMBER}


def without_typed_values(html: str) -> str:
    """The page with what the form echoes back blanked out, to compare the answers themselves."""
    return re.sub(r'value="[^"]*"', 'value=""', html)


def test_a_taken_phone_email_or_id_number_gets_one_answer_naming_no_field(app, city, registered):
    pages = {field: register(app, form(city, **{field: value}), f"10.31.0.{n}")
             for n, (field, value) in enumerate(TAKEN.items())}
    assert {page.status_code for page in pages.values()} == {200}
    texts = {without_typed_values(page.text) for page in pages.values()}
    assert len(texts) == 1
    (text,) = texts
    assert accounts.IDENTIFIER_TAKEN in text
    assert "invalid-feedback" not in text  # beside no field
    for word in ("该手机号", "该邮箱", "该身份证号"):
        assert word not in text
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_a_refusal_costs_the_password_hash_a_registration_costs(app, city, registered, monkeypatch):
    hashed = []
    import models.user

    real = models.user.generate_password_hash
    monkeypatch.setattr("models.user.generate_password_hash", lambda password: hashed.append(1) or real(password))
    register(app, form(city, id_number=ID_NUMBER))
    assert len(hashed) == 1
    register(app, form(city))
    assert len(hashed) == 2


def test_a_refusal_is_audited_masked(app, city, registered):
    register(app, form(city, phone="13800000000", id_number=ID_NUMBER))
    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "auth.register_refused")).scalar_one()
    assert entry.details["taken"] == ["phone", "id_number"]
    assert entry.details["phone"] == "138****0000"
    assert entry.details["id_number"] == resident_ids.mask(ID_NUMBER)
    everything = json.dumps([row.details for row in db.session.scalars(sa.select(AuditLog))], ensure_ascii=False)
    assert ID_NUMBER not in everything and ID_NUMBER[6:14] not in everything and "13800000000" not in everything


def test_refused_registrations_are_limited_per_address(app, city, registered):
    for _ in range(3):
        assert register(app, form(city, phone="13800000000", id_number=ID_NUMBER), "10.32.0.1").status_code == 200
    refused = register(app, form(city), "10.32.0.1")  # a free identifier too, until the window ends
    assert refused.status_code == 429 and "尝试次数过多" in refused.text
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1
    assert register(app, form(city), "10.32.0.2").status_code == 302


def test_successful_registrations_are_not_counted(app, city):
    # An office registering its staff from one address: five accounts where three refusals are the limit.
    for n in range(5):
        first17 = f"510104199003071{20 + n}"
        number = first17 + resident_ids.check_character(first17)
        response = register(app, form(city, phone=f"1370000000{n}", email=f"m{n}@example.com", id_number=number),
                            "10.33.0.1")
        assert response.status_code == 302, n


def test_registration_limit_holds_across_workers_through_redis(redis_app, sqlite_template, tmp_path):
    app, _client = redis_app
    for _ in range(3):
        assert register(app, {"name": ""}, "10.34.0.1").status_code == 200
    path = tmp_path / "other.sqlite3"
    path.write_bytes(sqlite_template.read_bytes())
    other_worker = create_app(_config(tmp_path, f"sqlite:///{path}", REDIS_URL=REDIS_URL, **LIMITS))
    assert other_worker.test_client().post("/register", data={"name": ""},
                                           environ_base={"REMOTE_ADDR": "10.34.0.1"}).status_code == 429


# --- passwords and line breaks (a second read of issue 13) ------------------------------------------------------
# The one-line rule reached every StringField, and PasswordField is one: a password holding U+2028, set before
# the rule (or by a client that is not the form), could no longer sign in.

@pytest.mark.parametrize("line_break", ["\u2028", "\n", "\r\n", "\x85", "\u2029"])
def test_a_password_holding_a_line_break_set_before_still_signs_in_and_changes(app, make_user, line_break):
    password = f"old{line_break}password 1"
    user = make_user(Role.LEARNER, phone="13800000001", email="breaks@example.com")
    user.set_password(password)
    db.session.commit()
    client = app.test_client()

    response = client.post("/login", data={"login": "breaks@example.com", "password": password})

    assert response.status_code == 302
    changed = client.post("/account/password", data={
        "current_password": password, "new_password": "new password 1", "confirm": "new password 1"})
    assert changed.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password("new password 1")


@pytest.mark.parametrize("line_break", ["\u2028", "\n", "\r"])
def test_a_new_password_holding_a_line_break_is_refused_beside_its_field(app, make_user, city, line_break):
    """No password box can type one: a pasted line break would make a password its owner cannot type again."""
    new = f"new{line_break}password 1"
    registered = app.test_client().post("/register", data={
        "name": "王芳", "phone": "13900000123", "email": "", "password": new, "confirm": new,
        "id_number": ID_NUMBER, "region": str(city.id), "employer_name": "医院", "sector": "卫生",
        "professional_title": "中级", "consent": "y"})
    assert registered.status_code == 200 and "密码不能包含换行" in registered.get_data(as_text=True)
    assert not db.session.scalar(sa.select(User.id).where(User.phone == "13900000123"))

    user = make_user(Role.LEARNER, phone="13800000002", email="change@example.com")
    client = app.test_client()
    assert client.post("/login", data={"login": "change@example.com", "password": PASSWORD}).status_code == 302
    changed = client.post("/account/password", data={"current_password": PASSWORD, "new_password": new,
                                                     "confirm": new})
    assert changed.status_code == 200 and "密码不能包含换行" in changed.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(PASSWORD)


def test_the_platform_admin_command_refuses_a_password_holding_a_line_break(app):
    from services.errors import DomainError
    from services.platform_admins import create_platform_admin

    with pytest.raises(DomainError, match="密码不能包含换行"):
        create_platform_admin("ops@example.com", "运维", "long enough\u2028password")


# --- refused registrations on the regulators' audit page (a second read of issue 13) ------------------------------
# Written with no actor and no base, auth.register_refused reached nobody's page: audit.entries_for finds entries
# by the base's or the actor's region. The entry now names the city chosen.

def test_a_refused_registration_is_shown_to_the_regulators_of_the_city_chosen_and_its_province(
        app, make_region, make_user):
    from tests.conftest import page_queries

    province = make_region("四川省")
    chengdu, mianyang = make_region("成都市", parent=province), make_region("绵阳市", parent=province)
    make_user(Role.LEARNER, phone="13800000000", email="taken@example.com")
    regulators = {name: make_user(Role.REGULATOR, region_id=region.id)
                  for name, region in (("chengdu", chengdu), ("province", province), ("mianyang", mianyang))}
    clients = {name: app.test_client() for name in regulators}
    for name, client in clients.items():
        assert client.post("/login", data={"login": regulators[name].email, "password": PASSWORD}).status_code == 302
    chosen = form(chengdu, phone="13800000000")
    chengdu_id = chengdu.id
    counted_before = len(page_queries(clients["chengdu"], "/regulator/audit?action=auth."))

    for n in range(3):
        register(app, {**chosen, "email": f"new{n}@example.com"}, f"10.33.0.{n}")

    (entry, *_rest) = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "auth.register_refused"))
    assert entry.details["region_id"] == chengdu_id
    pages = {name: client.get("/regulator/audit?action=auth.").text for name, client in clients.items()}
    assert pages["chengdu"].count("auth.register_refused") == 3
    assert pages["province"].count("auth.register_refused") == 3
    assert "auth.register_refused" not in pages["mianyang"]
    assert "138****0000" in pages["chengdu"] and "13800000000" not in pages["chengdu"]
    assert len(page_queries(clients["chengdu"], "/regulator/audit?action=auth.")) == counted_before


@pytest.mark.postgres
class TestRefusalsOnPostgreSQL:
    """The entry's region is read from its JSON details: json_extract on SQLite, ->> on PostgreSQL."""

    @pytest.fixture
    def app(self, pg_app):
        return pg_app

    def test_a_refused_registration_is_shown_to_the_regulators_of_the_city_chosen(self, app, make_region,
                                                                                  make_user):
        test_a_refused_registration_is_shown_to_the_regulators_of_the_city_chosen_and_its_province(
            app, make_region, make_user)
