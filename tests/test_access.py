"""Who may open what: a role × URL matrix for the base admin area, safe sign-in redirects and CSRF."""

import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, BaseMembership, Course, CourseStatus, Role, TrainingBase
from tests.conftest import PASSWORD

# Every page of the base admin area; {base} and {course} are filled in per test.
VALID_COURSE = {
    "title": "越权写入", "category": "public", "field": "信息", "hours": "8", "start_date": "2030-05-10",
    "end_date": "2030-05-11", "mode": "self_paced", "place": "", "audience": "全体", "capacity": "", "fee": "0",
    "contact_person": "某人", "contact_phone": "13800000000",
}
MANAGE_URLS = [
    ("GET", "/manage/", None),
    ("GET", "/manage/bases/{base}", None),
    ("GET", "/manage/bases/{base}/disclosure", None),
    ("POST", "/manage/bases/{base}/disclosure", {"scope": "越权写入", "website": ""}),
    ("GET", "/manage/bases/{base}/courses/new", None),
    ("POST", "/manage/bases/{base}/courses/new", VALID_COURSE),
    ("GET", "/manage/bases/{base}/courses/{course}/edit", None),
    ("POST", "/manage/bases/{base}/courses/{course}/edit", VALID_COURSE),
    ("POST", "/manage/bases/{base}/courses/{course}/status", {"status": "draft"}),
    ("POST", "/manage/bases/{base}/courses/{course}/cancel", {"reason": "越权取消"}),
]
# The same pages minus the admin's own index, which lists only their bases.
BASE_URLS = MANAGE_URLS[1:]


def url_id(case):
    method, url, _ = case
    return f"{method} {url}"


@pytest.fixture
def base_b(make_user, make_base, make_course):
    """Another base with an admin of its own and a published course, plus a snapshot to compare against."""
    admin_b = make_user(Role.BASE_ADMIN)
    base = make_base(admin=admin_b)
    course = make_course(base, title="乙基地的课程")
    return base, course


def snapshot(base: TrainingBase, course: Course) -> dict:
    db.session.expire_all()
    base, course = db.session.get(TrainingBase, base.id), db.session.get(Course, course.id)
    return {
        "scope": base.scope, "title": course.title, "status": course.status, "reason": course.cancel_reason,
        "courses": db.session.scalar(sa.select(sa.func.count(Course.id))),
        # Changes recorded; sign-ins and the refusal itself are audited too, and counted apart (below).
        "audit": db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(~AuditLog.action.startswith("auth."))),
    }


def denials() -> list[AuditLog]:
    return db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "auth.denied")).all()


def request(client, method, url, data):
    return client.get(url) if method == "GET" else client.post(url, data=data)


# --- the role gate -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", MANAGE_URLS, ids=url_id)
def test_anonymous_user_is_sent_to_sign_in(client, base_b, case):
    base, course = base_b
    method, template, data = case
    url = template.format(base=base.id, course=course.id)
    before = snapshot(base, course)

    response = request(client, method, url, data)

    assert response.status_code == 302
    location = urlsplit(response.location)
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [url]
    assert snapshot(base, course) == before


@pytest.mark.parametrize("role", [Role.LEARNER, Role.REVIEWER, Role.REGULATOR])
@pytest.mark.parametrize("case", MANAGE_URLS, ids=url_id)
def test_other_roles_get_403(client, make_user, login_as, base_b, role, case):
    base, course = base_b
    method, template, data = case
    before = snapshot(base, course)
    login_as(make_user(role))

    response = request(client, method, template.format(base=base.id, course=course.id), data)

    assert response.status_code == 403
    assert "没有权限" in response.get_data(as_text=True)
    assert snapshot(base, course) == before
    denial, = denials()
    assert denial.details["path"] == template.format(base=base.id, course=course.id)


def test_role_gate_follows_the_role_not_a_leftover_membership(client, make_user, login_as, base_b):
    base, course = base_b
    former_admin = make_user(Role.LEARNER)
    db.session.add(BaseMembership(user_id=former_admin.id, base_id=base.id))
    db.session.commit()
    login_as(former_admin)

    assert client.get(f"/manage/bases/{base.id}").status_code == 403


# --- one base admin, another base ------------------------------------------------------------------------------

@pytest.mark.parametrize("case", BASE_URLS, ids=url_id)
def test_other_base_pages_are_404_and_change_nothing(client, admin_and_base, login_as, base_b, case):
    admin_a, _ = admin_and_base
    base, course = base_b
    method, template, data = case
    before = snapshot(base, course)
    login_as(admin_a)

    response = request(client, method, template.format(base=base.id, course=course.id), data)

    assert response.status_code == 404
    assert "乙基地" not in response.get_data(as_text=True)
    assert snapshot(base, course) == before


@pytest.mark.parametrize("case", [c for c in BASE_URLS if "{course}" in c[1]], ids=url_id)
def test_other_base_course_under_own_base_is_404_and_changes_nothing(client, admin_and_base, login_as, base_b,
                                                                    case):
    admin_a, base_a = admin_and_base
    base, course = base_b
    method, template, data = case
    before = snapshot(base, course)
    login_as(admin_a)

    response = request(client, method, template.format(base=base_a.id, course=course.id), data)

    assert response.status_code == 404
    assert snapshot(base, course) == before


@pytest.mark.parametrize("case", BASE_URLS, ids=url_id)
def test_own_base_pages_answer_their_admin(client, login_as, base_b, case):
    """The control for the 404s above: the same URLs work for the base's own admin."""
    base, course = base_b
    method, template, data = case
    login_as(base.memberships[0].user)

    response = request(client, method, template.format(base=base.id, course=course.id), data)

    assert response.status_code == (200 if method == "GET" else 302)


def test_admin_index_lists_only_own_bases(client, make_user, make_base, login_as, base_b):
    admin = make_user(Role.BASE_ADMIN)
    mine = [make_base(name="甲一基地", admin=admin), make_base(name="甲二基地", admin=admin)]
    login_as(admin)

    html = client.get("/manage/").get_data(as_text=True)

    assert all(f"/manage/bases/{base.id}" in html for base in mine)
    assert f"/manage/bases/{base_b[0].id}" not in html


def test_unknown_base_and_course_are_404(client, admin_and_base, login_as):
    admin, base = admin_and_base
    login_as(admin)

    assert client.get("/manage/bases/424242").status_code == 404
    assert client.get(f"/manage/bases/{base.id}/courses/424242/edit").status_code == 404


# --- the sign-in redirect ---------------------------------------------------------------------------------------

def where_a_browser_goes(location: str) -> tuple[str, str]:
    """(host, path) that a browser opens for a Location header read on http://localhost/login.

    Browsers follow the WHATWG URL standard: they drop tabs and newlines and read "\\" as "/" in http(s) URLs,
    which urllib does not do by itself.
    """
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    target = urlsplit(urljoin("http://localhost/login", cleaned))
    return target.hostname, target.path


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/", "http:evil.example", "//evil.example/", "///evil.example/", "/\\evil.example/",
        "\\\\evil.example/", "/\t/evil.example/", "javascript:alert(1)", "evil.example",
    ],
    ids=["absolute", "scheme-only", "protocol-relative", "triple-slash", "slash-backslash", "backslashes", "tab",
         "javascript", "bare-host"],
)
def test_login_next_never_leaves_the_site(client, make_user, target):
    user = make_user(Role.LEARNER)

    response = client.post("/login", query_string={"next": target}, data={"login": user.email, "password": PASSWORD})

    assert response.status_code == 302
    host, _ = where_a_browser_goes(response.location)
    assert host == "localhost", response.location


def test_login_next_accepts_a_local_path(client, admin_and_base):
    admin, base = admin_and_base
    target = f"/manage/bases/{base.id}/disclosure?tab=1"

    response = client.post("/login", query_string={"next": target}, data={"login": admin.email, "password": PASSWORD})

    assert response.status_code == 302
    assert response.location == target


def test_redirect_to_sign_in_comes_back_to_the_page(client, admin_and_base):
    admin, base = admin_and_base
    sent = client.get(f"/manage/bases/{base.id}/disclosure")

    response = client.post(sent.location, data={"login": admin.email, "password": PASSWORD})

    assert response.location == f"/manage/bases/{base.id}/disclosure"
    assert client.get(response.location).status_code == 200


# --- CSRF ---------------------------------------------------------------------------------------------------------

CSRF_ON = pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}], ids=["csrf"])


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def sign_in_with_token(client, user):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"login": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, "sign-in with a token failed"


def signed_in(client) -> bool:
    return not urlsplit(client.get("/manage/").location or "").path.startswith("/login")


@CSRF_ON
@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/manage/bases/{base}/courses/new", VALID_COURSE),
        ("/manage/bases/{base}/courses/{course}/status", {"status": "draft"}),
        ("/manage/bases/{base}/courses/{course}/cancel", {"reason": "跨站取消"}),
        ("/manage/bases/{base}/disclosure", {"scope": "跨站写入"}),
    ],
    ids=["course-new", "status", "cancel", "disclosure"],
)
@pytest.mark.parametrize("token", [None, "forged-token"], ids=["no-token", "bad-token"])
def test_post_without_valid_csrf_token_is_refused(app_config, client, base_b, url, data, token):
    base, course = base_b
    sign_in_with_token(client, base.memberships[0].user)
    before = snapshot(base, course)
    form = dict(data) if token is None else {**data, "csrf_token": token}

    response = client.post(url.format(base=base.id, course=course.id), data=form)

    assert response.status_code == 400
    assert "表单已失效" in response.get_data(as_text=True)
    assert snapshot(base, course) == before
    assert signed_in(client)


@CSRF_ON
def test_logout_without_csrf_token_is_refused(app_config, client, admin_and_base):
    admin, _ = admin_and_base
    sign_in_with_token(client, admin)

    response = client.post("/logout")

    assert response.status_code == 400
    assert signed_in(client)


@CSRF_ON
def test_logout_with_csrf_token_signs_out(app_config, client, admin_and_base):
    admin, base = admin_and_base
    sign_in_with_token(client, admin)
    token = csrf_token(client.get(f"/manage/bases/{base.id}").get_data(as_text=True))

    response = client.post("/logout", data={"csrf_token": token})

    assert response.status_code == 302
    assert not signed_in(client)


@CSRF_ON
def test_sign_in_without_csrf_token_is_refused(app_config, client, admin_and_base):
    admin, _ = admin_and_base

    response = client.post("/login", data={"login": admin.email, "password": PASSWORD})

    assert response.status_code == 400
    assert not signed_in(client)


@CSRF_ON
def test_status_change_with_csrf_token_works(app_config, client, base_b):
    """The control for the refusals above: with the page's token the same POST goes through."""
    base, course = base_b
    sign_in_with_token(client, base.memberships[0].user)
    token = csrf_token(client.get(f"/manage/bases/{base.id}/courses/{course.id}/edit").get_data(as_text=True))

    response = client.post(
        f"/manage/bases/{base.id}/courses/{course.id}/status", data={"status": "draft", "csrf_token": token}
    )

    assert response.status_code == 302
    assert snapshot(base, course)["status"] == CourseStatus.DRAFT
