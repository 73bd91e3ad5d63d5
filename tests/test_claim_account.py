"""Claiming a walk-in account (issue 18, item 4): a base registered the trainee with a phone and no password; the
trainee asks for a code at /claim (or /forgot: the same flow), sets a password and is signed in; the account is
then a normal one."""

import pytest
import sqlalchemy as sa

from extensions import db
from models import AccountCode, AuditLog, CodePurpose, Notice, NoticeKind, Role, User
from tests.test_password_reset import NEW_PASSWORD, reset_by_code, sms_code

PHONE = "13812340001"


@pytest.fixture
def walk_in(make_user, make_base):
    base = make_base()
    user = make_user(Role.LEARNER, phone=PHONE, email=None, name="王芳", registered_by_base_id=base.id)
    user.password_hash = ""
    db.session.commit()
    return user


def test_a_walk_in_trainee_claims_the_account_with_the_phone_code_and_is_signed_in(app, walk_in):
    client = app.test_client()
    assert client.post("/login", data={"login": PHONE, "password": ""}).status_code == 200  # no password yet
    response = client.post("/claim", data={"login": "138 1234 0001"})
    assert response.status_code == 302 and response.location.endswith("/forgot/code")
    assert db.session.scalar(sa.select(AccountCode.purpose)) == CodePurpose.CLAIM

    response = reset_by_code(client, sms_code(PHONE))
    assert response.status_code == 302 and response.location.endswith("/me/")
    assert client.get("/me/").status_code == 200  # signed in
    user = db.session.get(User, walk_in.id)
    assert user.claimed and user.check_password(NEW_PASSWORD)
    assert db.session.scalar(sa.select(AuditLog.details).where(AuditLog.action == "auth.account_claimed")) == {
        "channel": "sms", "target": "138****0001", "result": "ok, every session ended"}
    notice = db.session.scalar(sa.select(Notice).where(Notice.user_id == walk_in.id))
    assert notice.kind == NoticeKind.ACCOUNT.value and "认领" in notice.message

    # Now a normal account: it signs in with its password, and a later reset is a reset.
    assert app.test_client().post("/login", data={"login": PHONE, "password": NEW_PASSWORD}).status_code == 302
    app.test_client().post("/forgot", data={"login": PHONE})
    newest = db.session.scalars(sa.select(AccountCode).order_by(AccountCode.id.desc())).first()
    assert newest.purpose == CodePurpose.RESET


def test_the_reset_page_claims_a_walk_in_account_too(app, walk_in):
    client = app.test_client()
    client.post("/forgot", data={"login": PHONE})
    assert reset_by_code(client, sms_code(PHONE)).location.endswith("/me/")
    assert db.session.get(User, walk_in.id).claimed


def test_the_claim_page_takes_a_mobile_number_only(client, walk_in):
    page = client.post("/claim", data={"login": "someone@example.cn"}).get_data(as_text=True)
    assert "请填写 11 位手机号" in page
    assert db.session.scalar(sa.select(sa.func.count(AccountCode.id))) == 0


def test_an_unknown_phone_at_the_claim_page_gets_the_same_answer(app, walk_in):
    unknown = app.test_client().post("/claim", data={"login": "13700000000"})
    known = app.test_client().post("/claim", data={"login": PHONE})
    assert (unknown.status_code, unknown.location) == (known.status_code, known.location)
    assert db.session.scalar(sa.select(sa.func.count(AccountCode.id))) == 1


def test_a_wrong_code_leaves_the_account_unclaimed(app, walk_in):
    client = app.test_client()
    client.post("/claim", data={"login": PHONE})
    code = sms_code(PHONE)
    page = reset_by_code(client, f"{(int(code) + 1) % 1_000_000:06d}").get_data(as_text=True)
    assert "验证码不正确或已失效" in page
    assert not db.session.get(User, walk_in.id).claimed
    assert client.get("/me/").status_code == 302  # not signed in
