"""The base admin's API token pages: a secret shown once and stored hashed, names checked, revocation,
the audit trail, and another base's admin or a learner kept out."""

import logging
import re

import pytest
import sqlalchemy as sa

from extensions import db
from models import ApiToken, AuditLog, BaseMembership, Role
from services import api_tokens

SECRET = re.compile(r'id="new-token-secret"[^>]*value="(jidi_[A-Za-z0-9_-]+)"')


def tokens_url(base) -> str:
    return f"/manage/bases/{base.id}/api-tokens"


def secret_in(response) -> str:
    match = SECRET.search(response.get_data(as_text=True))
    assert match, "the new token's secret is not on the page"
    return match.group(1)


def tokens_of(base) -> list[ApiToken]:
    db.session.expire_all()
    return db.session.execute(sa.select(ApiToken).where(ApiToken.base_id == base.id)).scalars().all()


def audit_rows(action: str) -> list[AuditLog]:
    return db.session.execute(sa.select(AuditLog).where(AuditLog.action == action)).scalars().all()


@pytest.fixture
def admin_client(admin_and_base, login_as):
    admin, base = admin_and_base
    return login_as(admin), admin, base


def test_creating_a_token_shows_its_secret_once_and_stores_only_its_hash(admin_client, caplog):
    client, admin, base = admin_client
    caplog.set_level(logging.DEBUG)

    created = client.post(tokens_url(base), data={"name": "教务系统"})

    assert created.status_code == 200  # the same page, not a redirect that would lose or carry the secret
    assert "no-store" in created.headers["Cache-Control"]
    body = created.get_data(as_text=True)
    assert "请立即复制保存，此令牌只显示这一次" in body
    secret = secret_in(created)
    assert secret.startswith("jidi_") and len(secret) > 40
    [token] = tokens_of(base)
    assert (token.name, token.created_by_id, token.revoked_at) == ("教务系统", admin.id, None)
    assert token.token_hash == api_tokens.digest(secret) and secret not in token.token_hash
    assert secret.startswith(token.prefix)
    assert secret not in caplog.text

    listed = client.get(tokens_url(base)).get_data(as_text=True)

    assert secret not in listed and 'id="new-token-secret"' not in listed
    assert "教务系统" in listed and f"{token.prefix}…" in listed and admin.name in listed and "有效" in listed


def test_the_secret_is_in_no_flash_and_the_form_is_emptied(admin_client):
    client, _admin, base = admin_client

    created = client.post(tokens_url(base), data={"name": "对接"})
    secret = secret_in(created)

    with client.session_transaction() as session:
        assert secret not in str(session.get("_flashes", []))
    [name_input] = re.findall(r'<input[^>]*name="name"[^>]*>', created.get_data(as_text=True))
    assert 'value=""' in name_input


def test_creation_is_audited_without_the_secret(admin_client):
    client, admin, base = admin_client

    secret = secret_in(client.post(tokens_url(base), data={"name": "审计系统"}))

    [row] = audit_rows("api_token.create")
    [token] = tokens_of(base)
    assert (row.actor_id, row.base_id, row.object_id) == (admin.id, base.id, token.id)
    assert row.details["name"] == "审计系统"
    assert secret not in str(row.details) and secret[len(token.prefix):] not in str(row.details)


@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_name_is_refused_beside_the_field_and_saves_nothing(admin_client, name):
    client, _admin, base = admin_client

    response = client.post(tokens_url(base), data={"name": name})

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'is-invalid[^>]*>\s*<div id="[^"]*-error">'
                     r'<div class="invalid-feedback d-block">请填写令牌名称</div>', body)
    assert 'id="new-token-secret"' not in body
    assert tokens_of(base) == [] and audit_rows("api_token.create") == []


def test_a_name_over_64_characters_is_refused(admin_client):
    client, _admin, base = admin_client

    response = client.post(tokens_url(base), data={"name": "长" * 65})

    assert "令牌名称不能超过 64 个字" in response.get_data(as_text=True)
    assert tokens_of(base) == []


def test_a_live_tokens_name_cannot_be_taken_again_but_a_revoked_ones_can(admin_client):
    client, _admin, base = admin_client
    client.post(tokens_url(base), data={"name": "教务系统"})

    again = client.post(tokens_url(base), data={"name": " 教务系统 "})

    body = again.get_data(as_text=True)
    assert "已有同名的未吊销令牌（过期的也算），请换一个名称或先吊销旧令牌" in body
    assert 'id="new-token-secret"' not in body
    assert len(tokens_of(base)) == 1

    [first] = tokens_of(base)
    client.post(f"{tokens_url(base)}/{first.id}/revoke")
    reused = client.post(tokens_url(base), data={"name": "教务系统"})

    assert secret_in(reused).startswith("jidi_")
    assert len(tokens_of(base)) == 2


def test_an_exited_base_cannot_make_tokens_and_says_why(admin_client, monkeypatch):
    client, _admin, base = admin_client
    monkeypatch.setattr(type(base), "can_publish", property(lambda self: False))

    response = client.post(tokens_url(base), data={"name": "教务系统"})

    assert "本基地已退出，不能再创建接口令牌" in response.get_data(as_text=True)  # a flash: no field of its own
    assert tokens_of(base) == []


def test_revoking_a_token_ends_it_and_is_audited(admin_client):
    client, admin, base = admin_client
    secret = secret_in(client.post(tokens_url(base), data={"name": "教务系统"}))
    [token] = tokens_of(base)

    response = client.post(f"{tokens_url(base)}/{token.id}/revoke")

    assert response.status_code == 302 and response.location.endswith(tokens_url(base))
    [token] = tokens_of(base)
    assert token.revoked_at is not None and token.revoked_by_id == admin.id
    assert api_tokens.authenticate(secret) is None
    [row] = audit_rows("api_token.revoke")
    assert (row.actor_id, row.base_id, row.object_id) == (admin.id, base.id, token.id)
    listed = client.get(tokens_url(base)).get_data(as_text=True)
    assert "令牌已吊销，立即失效" in listed and "已吊销" in listed
    assert f"{tokens_url(base)}/{token.id}/revoke" not in listed  # no button for a revoked token


def test_the_base_home_links_to_the_token_page(admin_client):
    client, _admin, base = admin_client

    body = client.get(f"/manage/bases/{base.id}").get_data(as_text=True)

    assert f'href="{tokens_url(base)}"' in body and "接口令牌" in body


def test_the_page_says_where_the_api_is_documented_and_how_to_send_the_token(admin_client):
    client, _admin, base = admin_client

    body = client.get(tokens_url(base)).get_data(as_text=True)

    assert "/api/v1/openapi.json" in body
    assert "docs/API.md" not in body  # a path in the repository is no help to a base's administrator
    assert "Authorization: Bearer &lt;令牌&gt;" in body


def test_another_bases_admin_gets_404_on_list_create_and_revoke(admin_and_base, make_user, make_base, login_as):
    admin, base = admin_and_base
    token, _secret = api_tokens.create_token(admin, base, "教务系统")
    other = make_user(Role.BASE_ADMIN)
    make_base(admin=other)
    client = login_as(other)

    listed = client.get(tokens_url(base))
    created = client.post(tokens_url(base), data={"name": "越权令牌"})
    revoked = client.post(f"{tokens_url(base)}/{token.id}/revoke")

    assert (listed.status_code, created.status_code, revoked.status_code) == (404, 404, 404)
    assert "教务系统" not in listed.get_data(as_text=True)
    [token] = tokens_of(base)
    assert token.revoked_at is None and token.name == "教务系统"


def test_a_token_of_another_base_is_404_under_ones_own_base(admin_and_base, make_user, make_base, login_as):
    admin, base = admin_and_base
    other = make_user(Role.BASE_ADMIN)
    own = make_base(admin=other)
    token, _secret = api_tokens.create_token(admin, base, "教务系统")

    response = login_as(other).post(f"{tokens_url(own)}/{token.id}/revoke")

    assert response.status_code == 404
    assert tokens_of(base)[0].revoked_at is None and audit_rows("api_token.revoke") == []


def test_a_learner_is_refused_by_the_role_gate(admin_and_base, make_user, login_as):
    admin, base = admin_and_base
    token, _secret = api_tokens.create_token(admin, base, "教务系统")
    client = login_as(make_user(Role.LEARNER))

    answers = [client.get(tokens_url(base)).status_code,
               client.post(tokens_url(base), data={"name": "学员令牌"}).status_code,
               client.post(f"{tokens_url(base)}/{token.id}/revoke").status_code]

    assert answers == [403, 403, 403]
    assert len(tokens_of(base)) == 1 and tokens_of(base)[0].revoked_at is None


def test_a_token_whose_maker_left_the_base_is_shown_as_no_longer_working(admin_and_base, make_user, login_as):
    admin, base = admin_and_base
    api_tokens.create_token(admin, base, "旧管理员的令牌")
    successor = make_user(Role.BASE_ADMIN)
    db.session.add(BaseMembership(user_id=successor.id, base_id=base.id))
    db.session.execute(sa.delete(BaseMembership).where(BaseMembership.user_id == admin.id))
    db.session.commit()

    body = login_as(successor).get(tokens_url(base)).get_data(as_text=True)

    assert "旧管理员的令牌" in body and "创建人已无本基地管理权限" in body
    assert ">有效<" not in body


# --- lifetimes ----------------------------------------------------------------------------------------------

def test_a_token_lives_as_long_as_chosen_one_year_unless_said_otherwise(admin_client):
    from datetime import UTC, timedelta
    from zoneinfo import ZoneInfo

    client, _admin, base = admin_client
    page = client.get(tokens_url(base)).get_data(as_text=True)
    offered = re.findall(r'<option[^>]*value="(\d+)"[^>]*>([^<]*)</option>', page)
    selected = re.search(r'<option[^>]*selected[^>]*value="(\d+)"|<option[^>]*value="(\d+)"[^>]*selected', page)

    client.post(tokens_url(base), data={"name": "一个月", "lifetime": "30"})
    client.post(tokens_url(base), data={"name": "长期", "lifetime": "0"})
    client.post(tokens_url(base), data={"name": "没说"})
    refused = client.post(tokens_url(base), data={"name": "七天", "lifetime": "7"})

    assert offered == [("365", "1 年"), ("180", "180 天"), ("90", "90 天"), ("30", "30 天"),
                       ("0", "长期有效（直到吊销）")]
    assert "365" in selected.groups()
    lifetimes = {t.name: t.expires_at - t.created_at if t.expires_at else None for t in tokens_of(base)}
    assert lifetimes == {"一个月": timedelta(days=30), "长期": None, "没说": timedelta(days=365)}
    assert refused.status_code == 200 and 'id="new-token-secret"' not in refused.get_data(as_text=True)
    assert "不是有效的选择" in refused.get_data(as_text=True)
    listed = client.get(tokens_url(base)).get_data(as_text=True)
    month = [t for t in tokens_of(base) if t.name == "一个月"][0]
    shown = month.expires_at.replace(tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))  # stored naive UTC
    assert "直到吊销" in listed and shown.strftime("%Y-%m-%d %H:%M") in listed


def test_an_expired_token_is_refused_at_once_and_shown_expired(admin_client, app):
    from datetime import timedelta

    from models._common import utcnow

    client, _admin, base = admin_client
    secret = secret_in(client.post(tokens_url(base), data={"name": "到期", "lifetime": "30"}))
    api = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    before = api.get("/api/v1/base", headers=headers)
    [token] = tokens_of(base)
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    after = api.get("/api/v1/base", headers=headers)

    assert before.status_code == 200 and before.get_json()["token"]["expires_at"].endswith("Z")
    assert after.status_code == 401
    listed = client.get(tokens_url(base)).get_data(as_text=True)
    assert "已过期" in listed and "请吊销，另建新令牌" in listed


@pytest.mark.parametrize(("setting", "lifetimes"), [("90,30", (90, 30)), (" 30 , 0 ", (30, 0)), ("", None),
                                                    ("30,-1", None), ("一年", None)])
def test_the_lifetimes_setting_is_whole_days_or_the_app_does_not_start(setting, lifetimes):
    from config import _lifetimes

    if lifetimes is None:
        with pytest.raises(ValueError, match="API_TOKEN_LIFETIME_DAYS"):
            _lifetimes(setting)
    else:
        assert _lifetimes(setting) == lifetimes
