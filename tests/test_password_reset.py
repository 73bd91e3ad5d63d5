"""A forgotten password (issue 18, item 3 and "Bad input"): a link by e-mail (through a real SMTP server) or a
code by text message, single use, short-lived, five guesses at most, rate-limited, audited, the same answer
for an account that does not exist; a reset ends every session and tells the account's owner."""

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from models import AccountCode, AuditLog, Channel, CodePurpose, Notice, NoticeKind, OutboundMessage, Role, User
from models._common import utcnow
from services import account_codes
from services.infra.queue import huey, run_queued
from tests.conftest import PASSWORD, login

NEW_PASSWORD = "violet tractor harbour 58"
PHONE = "13912345678"


@pytest.fixture
def learner(make_user):
    return make_user(Role.LEARNER, email="li@example.cn", phone=PHONE, name="李华")


def later(monkeypatch, minutes: int) -> None:
    """Move the codes' clock ``minutes`` ahead."""
    moved = utcnow() + timedelta(minutes=minutes)
    monkeypatch.setattr(account_codes, "utcnow", lambda: moved)


def link_from(mail: dict) -> str:
    match = re.search(r"http://[^/\s]+(/reset/[A-Za-z0-9_\-]+)", mail["body"])
    assert match, mail["body"]
    return match.group(1)


def sms_code(recipient: str = PHONE) -> str:
    """The code of the newest text message to ``recipient``, read from its outbox row before it is sent."""
    row = db.session.scalars(sa.select(OutboundMessage).where(OutboundMessage.recipient == recipient)
                             .order_by(OutboundMessage.id.desc())).first()
    assert row is not None and row.sms_template == "code"
    return json.loads(row.body)["code"]


def audits(action: str) -> list[AuditLog]:
    return list(db.session.scalars(sa.select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def ask_by_code(client, login_text=PHONE):
    return client.post("/forgot", data={"login": login_text})


def reset_by_code(client, code, password=NEW_PASSWORD):
    return client.post("/forgot/code", data={"code": code, "password": password, "confirm": password})


# --- the link by e-mail ---------------------------------------------------------------------------------------

def test_a_reset_link_by_email_works_once_and_ends_every_session(app, learner, mailbox):
    elsewhere = app.test_client()
    assert login(elsewhere, learner).status_code == 302
    assert elsewhere.get("/me/").status_code == 200

    client = app.test_client()
    response = client.post("/forgot", data={"login": " LI@example.cn "})
    assert response.status_code == 302 and response.location.endswith("/login")
    assert "如果该邮箱已注册，重置密码的链接已发送" in client.get("/login").get_data(as_text=True)
    run_queued()
    [mail] = mailbox.to("li@example.cn")
    assert mail["subject"] == "【继续教育基地平台】找回密码"
    assert "李华，您好" in mail["body"] and "30 分钟内" in mail["body"]
    link = link_from(mail)
    # Only the hash is kept: not the token, not in the outbox once sent.
    token = link.rsplit("/", 1)[1]
    row = db.session.scalar(sa.select(AccountCode))
    assert row.purpose == CodePurpose.RESET and row.channel == Channel.EMAIL and token not in row.digest
    assert db.session.scalar(sa.select(OutboundMessage.body).where(OutboundMessage.recipient == "li@example.cn")) == ""

    assert "新密码" in client.get(link).get_data(as_text=True)
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.location.endswith("/login")

    # The other browser's session is gone; the old password no longer signs in, the new one does.
    gone = elsewhere.get("/me/")
    assert gone.status_code == 302 and "/login" in gone.location
    assert login(app.test_client(), learner).status_code == 200
    assert login(app.test_client(), learner, NEW_PASSWORD).status_code == 302
    # Told, by the inbox (and the channels it fans out to), and audited with the address masked.
    notice = db.session.scalar(sa.select(Notice).where(Notice.user_id == learner.id))
    assert notice.kind == NoticeKind.ACCOUNT.value and "您的密码已重置" in notice.message
    assert "如非本人操作" in notice.message
    [entry] = audits("auth.password_reset")
    assert entry.details["target"] == "l***@example.cn" and entry.actor_id == learner.id

    # The link works once.
    other = "another quite long phrase 77"
    again = client.post(link, data={"password": other, "confirm": other})
    assert "该链接已使用过" in again.get_data(as_text=True)
    assert login(app.test_client(), learner, NEW_PASSWORD).status_code == 302
    assert audits("auth.reset_link_refused")[0].details["result"] == "used"


def test_a_reset_link_expires_after_thirty_minutes(app, learner, mailbox, monkeypatch):
    client = app.test_client()
    client.post("/forgot", data={"login": "li@example.cn"})
    run_queued()
    link = link_from(mailbox.to("li@example.cn")[0])
    later(monkeypatch, 31)
    assert "链接已过期" in client.get(link).get_data(as_text=True)
    refused = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert "链接已过期" in refused.get_data(as_text=True)
    assert audits("auth.reset_link_refused")[0].details["result"] == "expired"
    assert login(app.test_client(), learner).status_code == 302  # the password is unchanged


def test_an_unknown_link_is_refused(client, learner):
    assert "链接无效" in client.get("/reset/made-up-token").get_data(as_text=True)


# --- the same answer, whoever asks -----------------------------------------------------------------------------

@pytest.mark.parametrize("known, unknown", [("li@example.cn", "nobody@example.cn"), (PHONE, "13700000000")])
def test_an_unknown_account_gets_the_same_answer_and_nothing_is_sent(app, learner, known, unknown):
    def ask(login_text):
        client = app.test_client()
        response = client.post("/forgot", data={"login": login_text})
        page = client.get(response.location).get_data(as_text=True)
        return response.status_code, response.location, re.sub(r"1[0-9]{2}\*+[0-9]{4}|csrf[^>]*", "", page)

    assert ask(unknown) == ask(known)
    assert db.session.scalar(sa.select(sa.func.count(AccountCode.id))) == 1  # the known account's only
    assert db.session.scalar(sa.select(sa.func.count(OutboundMessage.id))) == 1
    entries = audits("auth.reset_requested")
    assert [e.details["result"] for e in entries] == ["no active account", "sent"]
    assert unknown not in json.dumps([e.details for e in entries])  # masked


@pytest.mark.parametrize("state", ["disabled", "closed"])
def test_a_disabled_or_closed_account_gets_no_code(app, learner, state):
    if state == "disabled":
        learner.active = False
    else:
        learner.closed_at = utcnow()
    db.session.commit()
    response = ask_by_code(app.test_client())
    assert response.status_code == 302 and response.location.endswith("/forgot/code")
    assert db.session.scalar(sa.select(sa.func.count(OutboundMessage.id))) == 0
    assert huey.pending_count() == 0


# --- the code by text message ----------------------------------------------------------------------------------

def test_a_code_by_text_message_resets_the_password_once(app, learner):
    learner.must_change_password = True
    db.session.commit()
    client = app.test_client()
    assert ask_by_code(client, "139 1234 5678").location.endswith("/forgot/code")
    page = client.get("/forgot/code").get_data(as_text=True)
    assert "139****5678" in page and PHONE not in page
    code = sms_code()
    row = db.session.scalar(sa.select(AccountCode))
    assert row.channel == Channel.SMS and code not in row.digest and row.target == PHONE
    assert row.expires_at - row.created_at == timedelta(minutes=10)

    response = reset_by_code(client, code)
    assert response.status_code == 302 and response.location.endswith("/login")
    user = db.session.get(User, learner.id)
    assert user.check_password(NEW_PASSWORD) and not user.must_change_password
    # The code is spent: asked again (a second request with the login still known) it is refused.
    client2 = app.test_client()
    with client2.session_transaction() as session:
        session["reset_login"] = PHONE
    refused = reset_by_code(client2, code, "yet another long phrase 12")
    assert "验证码不正确或已失效" in refused.get_data(as_text=True)
    assert db.session.get(User, learner.id).check_password(NEW_PASSWORD)


def test_five_wrong_codes_kill_the_code(app, learner):
    client = app.test_client()
    ask_by_code(client)
    code = sms_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        page = reset_by_code(client, wrong).get_data(as_text=True)
        assert "验证码不正确或已失效" in page
    # The right code, sixth, is refused too.
    assert "验证码不正确或已失效" in reset_by_code(client, code).get_data(as_text=True)
    assert db.session.scalar(sa.select(AccountCode.attempts)) == 5
    assert db.session.get(User, learner.id).check_password(PASSWORD)
    results = [e.details["result"] for e in audits("auth.reset_code_refused")]
    assert results == ["wrong code"] * 5 + ["too many attempts"]
    assert all(e.details["target"] == "139****5678" for e in audits("auth.reset_code_refused"))


def test_an_expired_code_is_refused(app, learner, monkeypatch):
    client = app.test_client()
    ask_by_code(client)
    code = sms_code()
    later(monkeypatch, 11)
    assert "验证码不正确或已失效" in reset_by_code(client, code).get_data(as_text=True)
    assert audits("auth.reset_code_refused")[0].details["result"] == "expired"


def test_a_new_code_voids_the_older_one(app, learner):
    client = app.test_client()
    ask_by_code(client)
    first = sms_code()
    ask_by_code(client)
    second = sms_code()
    if first != second:
        assert "验证码不正确或已失效" in reset_by_code(client, first).get_data(as_text=True)
    assert reset_by_code(client, second).status_code == 302


def test_a_guessable_password_is_refused_without_spending_the_code(app, learner):
    client = app.test_client()
    ask_by_code(client)
    code = sms_code()
    page = reset_by_code(client, code, "12345678").get_data(as_text=True)
    assert "密码太容易被猜到" in page
    assert db.session.scalar(sa.select(AccountCode.attempts)) == 0
    assert reset_by_code(client, code).status_code == 302


def test_the_code_page_without_a_request_goes_back_to_the_request(client):
    response = client.get("/forgot/code")
    assert response.status_code == 302 and response.location.endswith("/forgot")


def test_the_login_page_links_to_the_reset_and_the_claim(client):
    page = client.get("/login").get_data(as_text=True)
    assert "忘记密码？" in page and 'href="/forgot"' in page
    assert "基地为您登记过？" in page and 'href="/claim"' in page


# --- limits --------------------------------------------------------------------------------------------------

def test_requests_are_limited_per_account_whichever_login_is_typed(app, learner):
    client = app.test_client()
    assert ask_by_code(client).status_code == 302
    assert client.post("/forgot", data={"login": "li@example.cn"}).status_code == 302
    assert ask_by_code(client, "139-1234-5678").status_code == 302
    assert ask_by_code(client).status_code == 429
    assert client.post("/forgot", data={"login": "LI@example.cn"}).status_code == 429
    assert db.session.scalar(sa.select(sa.func.count(OutboundMessage.id))) == 3


def test_requests_are_limited_per_address(app, learner):
    client = app.test_client()
    for n in range(10):
        assert client.post("/forgot", data={"login": f"nobody{n}@example.cn"}).status_code == 302
    assert client.post("/forgot", data={"login": "li@example.cn"}).status_code == 429
    # Another address is not held.
    other = app.test_client().post("/forgot", data={"login": "li@example.cn"}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 302


def test_refused_codes_are_limited_per_address(app, learner):
    app.config["CODE_CHECK_LIMIT_PER_ADDRESS"] = "3 per hour"
    client = app.test_client()
    ask_by_code(client)
    code = sms_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(3):
        assert reset_by_code(client, wrong).status_code == 200
    assert reset_by_code(client, code).status_code == 429
