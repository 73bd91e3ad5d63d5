"""Sessions and sign-in (issue 7, item 2): a new session on sign-in, every session ended by a password
change, disabled accounts out at once, sign-in rate limits (per account, per address, across workers
through Redis), one answer for every failed sign-in, and only same-site ``next`` redirects."""

import re
import secrets

import pytest
import redis
import sqlalchemy as sa

from app import create_app
from blueprints.auth.routes import _safe_next
from extensions import db, limiter
from models import AuditLog, Role
from tests.conftest import PASSWORD, _config

NEW_PASSWORD = "a new and longer secret"
LIMITS = {"LOGIN_LIMIT_PER_ACCOUNT": "3 per minute", "LOGIN_LIMIT_PER_ADDRESS": "5 per minute"}


@pytest.fixture
def app_config():
    return LIMITS


@pytest.fixture
def learner(make_user):
    return make_user(Role.LEARNER)


def sign_in(client, login, password=PASSWORD, **extra):
    return client.post("/login", data={"login": login, "password": password, **extra})


def cookies_of(client) -> dict:
    return {name: client.get_cookie(name).value for name in ("session", "remember_token") if client.get_cookie(name)}


def with_cookies(app, cookies: dict):
    fresh = app.test_client()
    for name, value in cookies.items():
        fresh.set_cookie(name, value)
    return fresh


def signed_in(client) -> bool:
    response = client.get("/me/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


# --- a new session on sign-in ----------------------------------------------------------------------------

def test_sign_in_starts_a_new_session_without_planted_values(client, learner):
    with client.session_transaction() as planted:
        planted["csrf_token"] = "chosen-by-an-attacker"
        planted["next_step"] = "planted"
    assert sign_in(client, learner.email).status_code == 302
    with client.session_transaction() as fresh:
        assert fresh.get("_user_id", "").startswith(f"{learner.id}:")
        assert "next_step" not in fresh
        assert fresh.get("csrf_token") != "chosen-by-an-attacker"


def test_registration_also_starts_a_new_session(client, city):
    with client.session_transaction() as planted:
        planted["next_step"] = "planted"
    response = client.post("/register", data={
        "name": "新学员", "phone": "13712340000", "password": "Str0ng-pass-2026", "confirm": "Str0ng-pass-2026",
        "id_number": "11010519491231002X", "region": str(city.id), "employer_name": "某医院", "sector": "卫生",
        "professional_title": "中级", "consent": "y",
    })
    assert response.status_code == 302
    with client.session_transaction() as fresh:
        assert "_user_id" in fresh and "next_step" not in fresh


# --- disabled accounts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kept", ["session", "remember_token"])
def test_disabled_account_is_out_on_its_next_request(app, client, learner, kept):
    sign_in(client, learner.email, remember="y")
    cookies = cookies_of(client)
    assert signed_in(with_cookies(app, {kept: cookies[kept]}))

    learner.active = False
    db.session.commit()
    for browser in (client, with_cookies(app, {kept: cookies[kept]})):
        # Out everywhere, not only behind the role gates: pages that merely need a sign-in, public pages.
        assert browser.get("/account/password").status_code == 302
        assert 'href="/account/password"' not in browser.get("/").text
        assert not signed_in(browser)


def test_disabled_account_cannot_sign_in(client, learner):
    learner.active = False
    db.session.commit()
    response = sign_in(client, learner.email)
    assert response.status_code == 200
    assert "手机号/邮箱或密码不正确" in response.text


# --- changing one's password ----------------------------------------------------------------------------

def change(client, current=PASSWORD, new=NEW_PASSWORD, confirm=None):
    return client.post("/account/password", data={
        "current_password": current, "new_password": new, "confirm": new if confirm is None else confirm,
    })


def test_password_page_needs_sign_in(client):
    response = client.get("/account/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_password_page_is_linked_from_every_page_of_a_signed_in_user(client, learner):
    sign_in(client, learner.email)
    assert 'href="/account/password"' in client.get("/").text
    assert client.get("/account/password").status_code == 200


@pytest.mark.parametrize(("current", "new", "confirm", "field", "message"), [
    ("not my password", NEW_PASSWORD, None, "current_password", "当前密码不正确"),
    (PASSWORD, NEW_PASSWORD, "something else", "confirm", "两次输入的密码不一致"),
    (PASSWORD, "short", None, "new_password", "密码至少 8 位"),
    (PASSWORD, PASSWORD, None, "new_password", "新密码不能与当前密码相同"),
    ("", NEW_PASSWORD, None, "current_password", "请填写当前密码"),
])
def test_password_change_refused_with_message_beside_its_field(app, client, learner, current, new, confirm,
                                                                 field, message):
    sign_in(client, learner.email)
    response = change(client, current, new, confirm)
    assert response.status_code == 200
    assert re.search(rf'id="{field}"[^>]*>\s*<div id="{field}-error">'
                     rf'<div class="invalid-feedback d-block">{message}</div>', response.text)
    assert signed_in(client)
    assert sign_in(app.test_client(), learner.email, PASSWORD).status_code == 302  # password unchanged


def test_password_change_ends_every_other_session_and_remember_cookie(app, client, learner):
    other_device = app.test_client()
    sign_in(other_device, learner.email, remember="y")
    sign_in(client, learner.email, remember="y")
    before = cookies_of(client)
    assert set(before) == {"session", "remember_token"}

    response = change(client)
    assert response.status_code == 302
    assert not signed_in(other_device)
    for cookies in (before, {"session": before["session"]}, {"remember_token": before["remember_token"]}):
        assert not signed_in(with_cookies(app, cookies))
    # This browser goes on, on a new session and a new remember-me cookie.
    assert signed_in(client)
    after = cookies_of(client)
    assert after["remember_token"] != before["remember_token"]
    assert signed_in(with_cookies(app, {"remember_token": after["remember_token"]}))


def test_password_change_is_in_the_audit_log(client, learner):
    sign_in(client, learner.email)
    change(client, current="a wrong guess")
    change(client)
    rows = db.session.execute(
        sa.select(AuditLog.action, AuditLog.actor_id, AuditLog.object_id).where(AuditLog.action.like("auth.password%"))
    ).all()
    assert rows == [("auth.password_changed", learner.id, learner.id)]


def test_new_password_signs_in_and_old_one_does_not(app, client, learner):
    sign_in(client, learner.email)
    change(client)
    assert sign_in(app.test_client(), learner.email, PASSWORD).status_code == 200
    assert sign_in(app.test_client(), learner.email, NEW_PASSWORD).status_code == 302


def test_guessing_the_current_password_is_rate_limited(client, learner):
    sign_in(client, learner.email)
    for _ in range(3):
        assert change(client, current="guess").status_code == 200
    response = change(client)  # even the right one, until the window ends
    assert response.status_code == 429
    assert "尝试次数过多" in response.text


# --- one answer for every failed sign-in ------------------------------------------------------------------

def test_unknown_account_and_wrong_password_look_the_same(app, learner):
    unknown = sign_in(app.test_client(), "nobody@test.example", "whatever it is")
    wrong = sign_in(app.test_client(), learner.email, "whatever it is")
    assert unknown.status_code == wrong.status_code == 200
    assert "手机号/邮箱或密码不正确" in wrong.text
    assert unknown.text.replace("nobody@test.example", "LOGIN") == wrong.text.replace(learner.email, "LOGIN")


def test_unknown_account_still_costs_a_password_check(app, monkeypatch):
    checked = []
    monkeypatch.setattr("services.auth.check_password_hash", lambda *a: checked.append(a) or False)
    sign_in(app.test_client(), "nobody@test.example", "whatever it is")
    assert len(checked) == 1


# --- rate limits ----------------------------------------------------------------------------------------

def from_address(client, address, login, password):
    return client.post("/login", data={"login": login, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_sign_in_is_limited_per_account_with_a_chinese_429_page(app, learner):
    # Three wrong passwords, each from another address: the account is counted, not the address.
    for n in range(3):
        assert from_address(app.test_client(), f"10.0.0.{n}", learner.email, "wrong").status_code == 200
    response = from_address(app.test_client(), "10.0.0.9", learner.email, PASSWORD)
    assert response.status_code == 429
    assert "尝试次数过多" in response.text and "请稍等几分钟后再试" in response.text
    assert int(response.headers["Retry-After"]) > 0
    # The same account typed differently is the same account.
    assert from_address(app.test_client(), "10.0.0.8", " " + learner.email.upper(), PASSWORD).status_code == 429


def test_sign_in_is_limited_per_address(app, learner):
    for n in range(5):
        assert from_address(app.test_client(), "10.1.1.1", f"nobody{n}@test.example", "wrong").status_code == 200
    assert from_address(app.test_client(), "10.1.1.1", learner.email, PASSWORD).status_code == 429
    # Another address is not affected.
    assert from_address(app.test_client(), "10.1.1.2", learner.email, PASSWORD).status_code == 302


def test_successful_sign_ins_are_not_counted(app, learner):
    for _ in range(6):
        client = app.test_client()
        assert from_address(client, "10.2.2.2", learner.email, PASSWORD).status_code == 302


def test_showing_the_sign_in_page_is_not_counted(client):
    for _ in range(8):
        assert client.get("/login").status_code == 200


def test_limit_values_come_from_the_configuration(app, learner):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "1 per minute"
    from_address(app.test_client(), "10.3.3.3", learner.email, "wrong")
    assert from_address(app.test_client(), "10.3.3.4", learner.email, PASSWORD).status_code == 429


def test_storage_is_memory_without_redis_url(app):
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert type(limiter.storage).__name__ == "MemoryStorage"


def test_limit_holds_across_workers_through_redis(sqlite_template, tmp_path):
    """Two apps stand for two gunicorn workers: failures counted by one refuse the next attempt at the other.
    Without Redis each app counts in its own memory and the second one would let the attempt through."""
    url = "redis://127.0.0.1:6379/0"
    assert redis.Redis.from_url(url).ping()
    path = tmp_path / "db.sqlite3"
    path.write_bytes(sqlite_template.read_bytes())
    config = _config(tmp_path, f"sqlite:///{path}", REDIS_URL=url, **LIMITS)
    worker_a = create_app(config)
    account = f"redis-{secrets.token_hex(6)}@test.example"
    address = f"10.9.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    for _ in range(3):
        assert from_address(worker_a.test_client(), address, account, "wrong").status_code == 200
    worker_b = create_app(config)
    assert from_address(worker_b.test_client(), address + "1", account, "wrong").status_code == 429
    assert worker_b.config["RATELIMIT_STORAGE_URI"] == url
    assert type(limiter.storage).__name__ == "RedisStorage"


def test_redis_outage_falls_back_to_counting_in_the_process(sqlite_template, tmp_path):
    """Sign-in keeps working when Redis is unreachable, and the limit still holds within the process."""
    path = tmp_path / "db.sqlite3"
    path.write_bytes(sqlite_template.read_bytes())
    # Nothing listens on port 1: every Redis call is refused at once.
    app = create_app(_config(tmp_path, f"sqlite:///{path}", REDIS_URL="redis://127.0.0.1:1/0", **LIMITS))
    try:
        for _ in range(3):
            assert from_address(app.test_client(), "10.5.5.5", "outage@test.example", "wrong").status_code == 200
        assert from_address(app.test_client(), "10.5.5.6", "outage@test.example", "wrong").status_code == 429
    finally:
        limiter._storage_dead = False  # the limiter is one per process: leave it healthy for the next app


# --- only same-site next redirects -----------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "//evil.com", "https://evil.com", "http://evil.com/me/", "/\\evil.com", "\\\\evil.com", "javascript:alert(1)",
    "/\t/evil.com", "/\n/evil.com", " //evil.com", "evil.com", "", None,
])
def test_unsafe_next_is_refused(target):
    assert _safe_next(target) is None


@pytest.mark.parametrize("target", ["/me/", "/courses?q=护理&page=2", "/manage/courses/3/edit"])
def test_same_site_next_is_kept(target):
    assert _safe_next(target) == target


@pytest.mark.parametrize(("target", "expected"), [
    ("//evil.com", "/me/"), ("/\\evil.com", "/me/"), ("https://evil.com", "/me/"), ("javascript:alert(1)", "/me/"),
    ("/me/certificates", "/me/certificates"),
])
def test_sign_in_follows_only_safe_next(client, learner, target, expected):
    response = client.post("/login", query_string={"next": target},
                           data={"login": learner.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == expected
