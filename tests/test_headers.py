"""Headers, cookies and production settings (issue 7, items 3 and 8): the Content-Security-Policy holds
because no template has inline script; private pages are never stored; production refuses weak keys and
sends only Secure cookies; /healthz; `make serve` runs several gunicorn workers."""

import base64
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from extensions import db
from models import Role
from tests.conftest import PASSWORD, PG_URL, TEST_ID_NUMBER_KEY

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"


# --- Content-Security-Policy and the other headers --------------------------------------------------------

def test_every_page_sends_the_security_headers(client):
    response = client.get("/")
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval', no other host
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
SCRIPT_URL = re.compile(r"""(?:href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def inline_script(html: str) -> list[str]:
    """What in ``html`` the policy would block: inline <script> blocks, on*= handlers, javascript: URLs."""
    return [m.group(0) for pattern in (INLINE_SCRIPT, EVENT_HANDLER, SCRIPT_URL) for m in pattern.finditer(html)]


@pytest.mark.parametrize("html", [
    "<script>alert(1)</script>", '<SCRIPT type="module">x()</SCRIPT>', '<button onclick="go()">',
    "<body onload='x()'>", '<a href="javascript:void(0)">', '<img src=x onerror=alert(1)>',
])
def test_the_scanner_finds_inline_script(html):
    assert inline_script(html)


@pytest.mark.parametrize("html", [
    '<script src="/static/js/site.js"></script>', '<a href="/courses?online=1">', '<p>online 课程</p>',
])
def test_the_scanner_passes_script_files_and_plain_markup(html):
    assert not inline_script(html)


def test_no_template_has_inline_script():
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) > 20
    found = {str(path.relative_to(ROOT)): hits for path in templates if (hits := inline_script(path.read_text()))}
    assert found == {}


def test_rendered_pages_have_no_inline_script(client, login_as, make_user):
    pages = [client.get(path).text for path in ("/", "/courses", "/login", "/register")]
    login_as(make_user(Role.LEARNER))
    pages += [client.get(path).text for path in ("/me/", "/account/password")]
    assert [hits for html in pages if (hits := inline_script(html))] == []


# --- Cache-Control: no-store ------------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "path"), [
    (Role.LEARNER, "/me/"), (Role.LEARNER, "/courses"), (Role.LEARNER, "/"), (Role.LEARNER, "/account/password"),
    (Role.REVIEWER, "/review/"), (Role.REGULATOR, "/regulator/"), (Role.BASE_ADMIN, "/manage/"),
    (Role.LEARNER, "/files/evidence/no-such-key"),
])
def test_pages_of_a_signed_in_user_are_never_stored(client, login_as, make_user, admin_and_base, role, path):
    user = admin_and_base[0] if role == Role.BASE_ADMIN else make_user(role)
    login_as(user)
    response = client.get(path)
    assert response.status_code < 500
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/me/", "/review/", "/regulator/", "/manage/", "/files/evidence/x"])
def test_private_areas_are_not_stored_even_when_refused(client, path):
    response = client.get(path)
    assert response.status_code in (302, 404)
    assert response.headers["Cache-Control"] == "no-store"


def test_public_pages_and_static_files_for_visitors_may_be_stored(client, login_as, make_user):
    assert "no-store" not in client.get("/courses").headers.get("Cache-Control", "")
    login_as(make_user(Role.LEARNER))
    stylesheet = client.get("/static/css/site.css")
    assert stylesheet.status_code == 200
    assert "no-store" not in stylesheet.headers.get("Cache-Control", "")


def test_remember_me_cookie_alone_makes_pages_private(app, client, make_user):
    user = make_user(Role.LEARNER)
    client.post("/login", data={"login": user.email, "password": PASSWORD, "remember": "y"})
    fresh = app.test_client()
    fresh.set_cookie("remember_token", client.get_cookie("remember_token").value)
    assert fresh.get("/courses").headers["Cache-Control"] == "no-store"


# --- production settings ----------------------------------------------------------------------------------

def good_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def production(monkeypatch, tmp_path):
    """The environment of a production server, with real keys; tests take pieces away."""
    for name in ("REDIS_URL", "FLASK_DEBUG", "PROXY_COUNT", "DB_POOL_SIZE", "DB_MAX_OVERFLOW", "DB_POOL_TIMEOUT",
                 "DB_PGBOUNCER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JIDI_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", good_key())
    monkeypatch.setenv("ID_NUMBER_KEY", good_key())
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    return monkeypatch


def production_app(tmp_path):
    return create_app({"UPLOAD_FOLDER": str(tmp_path / "uploads"), "EVIDENCE_FOLDER": str(tmp_path / "evidence")})


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("SECRET_KEY", None, "SECRET_KEY must be set"),
    ("SECRET_KEY", "", "SECRET_KEY must be set"),
    ("SECRET_KEY", "dev", "SECRET_KEY is a published"),
    ("SECRET_KEY", "test-secret", "SECRET_KEY is a published"),
    ("SECRET_KEY", "s3cr3t-but-short", "SECRET_KEY is shorter"),
    ("SECRET_KEY", "a" * 64, "SECRET_KEY repeats"),
    ("ID_NUMBER_KEY", None, "ID_NUMBER_KEY must be set"),
    ("ID_NUMBER_KEY", TEST_ID_NUMBER_KEY, "ID_NUMBER_KEY is a published"),
    ("ID_NUMBER_KEY", base64.urlsafe_b64encode(secrets.token_bytes(16)).decode(), "ID_NUMBER_KEY does not decode"),
    ("ID_NUMBER_KEY", base64.urlsafe_b64encode(bytes(32)).decode(), "ID_NUMBER_KEY repeats"),
    ("ID_NUMBER_KEY", "not base64 at all!", "ID_NUMBER_KEY"),
    ("DATABASE_URL", None, "DATABASE_URL must be set"),
    ("FLASK_DEBUG", "1", "FLASK_DEBUG must be off"),
])
def test_production_refuses_to_start_without_real_keys(production, tmp_path, name, value, reason):
    if value is None:
        production.delenv(name)
    else:
        production.setenv(name, value)
    with pytest.raises(RuntimeError, match=reason):
        production_app(tmp_path)


def test_production_refuses_the_same_key_twice(production, tmp_path):
    production.setenv("SECRET_KEY", os.environ["ID_NUMBER_KEY"])
    with pytest.raises(RuntimeError, match="different"):
        production_app(tmp_path)


def test_production_starts_with_real_keys_debug_off_and_strict_cookies(production, tmp_path):
    app = production_app(tmp_path)
    assert app.debug is False and app.testing is False
    assert app.config["SQLALCHEMY_DATABASE_URI"] == os.environ["DATABASE_URL"]
    for prefix in ("SESSION", "REMEMBER"):
        assert app.config[f"{prefix}_COOKIE_SECURE"] is True
        assert app.config[f"{prefix}_COOKIE_HTTPONLY"] is True
        assert app.config[f"{prefix}_COOKIE_SAMESITE"] == "Lax"


def test_production_sends_hsts_for_a_year_with_subdomains(app, production, tmp_path):
    production.setenv("DATABASE_URL", app.config["SQLALCHEMY_DATABASE_URI"])  # the fixture's database
    client = production_app(tmp_path).test_client()
    for path in ("/", "/login", "/healthz", "/static/css/site.css", "/no-such-page", "/api/v1/courses"):
        header = client.get(path, base_url="https://jidi.example").headers.get("Strict-Transport-Security", "")
        directives = {part.strip().split("=")[0].lower(): part.strip() for part in header.split(";")}
        assert "includesubdomains" in directives, (path, header)
        assert int(directives["max-age"].split("=")[1]) >= 365 * 24 * 3600, (path, header)


def test_development_sends_no_hsts_which_would_pin_localhost(client):
    for path in ("/", "/login", "/api/v1/courses"):
        assert "Strict-Transport-Security" not in client.get(path).headers


def test_deploy_guide_has_nginx_send_hsts_once():
    guide = (ROOT / "docs" / "DEPLOY.md").read_text()
    nginx = re.search(r"```nginx\n(.*?)```", guide, re.DOTALL).group(1)
    assert re.search(r'add_header Strict-Transport-Security "max-age=(\d+); includeSubDomains" always;', nginx)
    assert int(re.search(r"max-age=(\d+)", nginx).group(1)) >= 365 * 24 * 3600
    assert "proxy_hide_header Strict-Transport-Security;" in nginx  # the app's copy is not sent twice


def test_production_cookies_are_secure_httponly_samesite(app, make_user, production, tmp_path):
    user = make_user(Role.LEARNER)
    production.setenv("DATABASE_URL", app.config["SQLALCHEMY_DATABASE_URI"])  # the fixture's database
    prod = production_app(tmp_path)
    client = prod.test_client()
    page = client.get("/login", base_url="https://jidi.example")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", base_url="https://jidi.example",
                           headers={"Referer": "https://jidi.example/login"},
                           data={"csrf_token": token, "login": user.email, "password": PASSWORD, "remember": "y"})
    assert response.status_code == 302
    cookies = {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}
    assert set(cookies) >= {"session", "remember_token"}
    for header in cookies.values():
        attributes = {part.strip().lower() for part in header.split(";")[1:]}
        assert {"secure", "httponly", "samesite=lax"} <= attributes, header


# --- /healthz ---------------------------------------------------------------------------------------------

def test_healthz_answers_ok_without_sign_in_and_is_not_cached(app, client):
    app.config["PAGE_CACHE_SECONDS"] = 60  # on, as in production: /healthz must not come from it
    for _ in range(2):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.get_json() == {"status": "ok"}
        assert response.headers["Cache-Control"] == "no-store"
        assert "X-Page-Cache" not in response.headers


def test_healthz_answers_503_when_the_database_is_down(tmp_path):
    app = create_app({
        "TESTING": True, "SECRET_KEY": "x", "ID_NUMBER_KEY": TEST_ID_NUMBER_KEY,
        "UPLOAD_FOLDER": str(tmp_path / "uploads"), "EVIDENCE_FOLDER": str(tmp_path / "evidence"),
        # Nothing listens on port 1: the connection is refused at once.
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
    })
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable"}
    assert response.headers["Cache-Control"] == "no-store"


# --- make serve -------------------------------------------------------------------------------------------

def test_make_serve_runs_gunicorn_with_several_workers_and_no_control_socket():
    command = subprocess.run(["make", "-s", "-n", "serve"], cwd=ROOT, capture_output=True, text=True, check=True)
    line = command.stdout.replace("\\\n", " ")
    assert "gunicorn" in line and "--no-control-socket" in line and '"app:create_app()"' in line
    assert int(re.search(r"--workers (\d+)", line).group(1)) > 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _log(server) -> str:
    os.set_blocking(server.stderr.fileno(), False)
    return (server.stderr.read() or b"").decode()


def _gunicorn_masters(pid: int) -> list[int]:
    """The gunicorn processes below ``pid`` (make, then a shell) whose parent is not gunicorn."""
    def is_gunicorn(p):  # the program itself, not the shell whose command line names it
        return any(arg.endswith("/gunicorn") for arg in Path(f"/proc/{p}/cmdline").read_text().split("\0")[:2])

    if is_gunicorn(pid):
        return [pid]
    return [master for child in _children(pid) for master in _gunicorn_masters(child)]


def test_make_serve_answers_healthz_from_several_workers(sqlite_template, tmp_path):
    database = tmp_path / "serve.sqlite3"
    database.write_bytes(sqlite_template.read_bytes())
    port = _free_port()
    env = {
        **os.environ, "JIDI_ENV": "production", "SECRET_KEY": good_key(), "ID_NUMBER_KEY": good_key(),
        "DATABASE_URL": f"sqlite:///{database}", "REDIS_URL": "redis://127.0.0.1:6379/0",
        "JIDI_INSTANCE": str(tmp_path), "WORKERS": "2", "BIND": f"127.0.0.1:{port}",
    }
    env.pop("FLASK_DEBUG", None)
    server = subprocess.Popen(["make", "-s", "serve"], cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    answer = response.status, json.loads(response.read()), response.headers["Cache-Control"]
                    break
            except (urllib.error.URLError, OSError):  # not listening yet, or its workers still booting
                time.sleep(0.3)
        assert answer == (200, {"status": "ok"}, "no-store"), server.stderr.read1().decode() if server.poll() else ""
        (master,) = _gunicorn_masters(server.pid)
        deadline = time.monotonic() + 20
        while len(_children(master)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_children(master)) == 2, _log(server)  # the workers
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_production_sets_postgresql_s_pool_and_can_stand_behind_pgbouncer(production, tmp_path):
    """The pool is set for sync workers (2 kept, 2 more, 10 s wait; docs/DEPLOY.md's connection budget), not left
    at SQLAlchemy's 15 a process; DB_PGBOUNCER=1 turns psycopg's server-side prepared statements off."""
    production.setenv("DATABASE_URL", PG_URL)
    app = production_app(tmp_path)
    with app.app_context():
        pool = db.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout) == (2, 2, 10)  # noqa: SLF001  (no public getter)
        with db.engine.connect() as connection:
            assert connection.connection.driver_connection.prepare_threshold == 5  # psycopg's default

    production.setenv("DB_PGBOUNCER", "1")
    production.setenv("DB_POOL_SIZE", "4")
    app = production_app(tmp_path)
    with app.app_context():
        assert db.engine.pool.size() == 4
        with db.engine.connect() as connection:
            assert connection.connection.driver_connection.prepare_threshold is None
            assert connection.execute(sa.text("select 1")).scalar() == 1


def test_production_refuses_a_pool_size_that_is_not_a_number(production, tmp_path):
    production.setenv("DATABASE_URL", PG_URL)
    production.setenv("DB_POOL_SIZE", "many")
    with pytest.raises(ValueError, match="DB_POOL_SIZE"):
        production_app(tmp_path)
