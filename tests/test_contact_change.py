"""Changing one's phone or e-mail (issue 18, item 2 and "Bad input"): a code goes to the new one and changes it
when entered within ten minutes; a number or address another account holds is refused neutrally, at the
request and again at the confirmation; the change is audited masked and the old contact is told."""

import json

import pytest
import sqlalchemy as sa

from extensions import db
from models import AccountCode, AuditLog, Channel, CodePurpose, Notice, NoticeKind, OutboundMessage, Role, User
from services import account_codes
from services.infra.queue import run_queued
from tests.conftest import login
from tests.test_password_reset import later, sms_code

OLD, NEW = "13911110000", "13922220000"


@pytest.fixture
def learner(make_user):
    return make_user(Role.LEARNER, email="li@example.cn", phone=OLD, name="李华")


@pytest.fixture
def signed_in(app, learner):
    client = app.test_client()
    assert login(client, learner).status_code == 302
    return client


def ask(client, value):
    return client.post("/account/contact", data={"contact": value})


def confirm(client, code):
    return client.post("/account/contact/confirm", data={"code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_new_phone_is_confirmed_with_the_code_sent_to_it_and_the_old_one_is_told(signed_in, learner):
    response = ask(signed_in, "139 2222 0000")
    assert response.status_code == 302 and response.location.endswith("/account/contact/confirm")
    page = signed_in.get("/account/contact/confirm").get_data(as_text=True)
    assert "139****0000" in page and NEW not in page
    code = sms_code(NEW)
    row = db.session.scalar(sa.select(AccountCode))
    assert (row.purpose, row.channel, row.target) == (CodePurpose.PHONE, Channel.SMS, NEW)
    assert code not in row.digest

    assert "验证码不正确，还可再试 4 次" in confirm(signed_in, wrong(code)).get_data(as_text=True)
    response = confirm(signed_in, code)
    assert response.status_code == 302
    assert db.session.get(User, learner.id).phone == NEW
    # Audited with both numbers masked; the inbox and the old number are told.
    [entry] = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "account.contact_changed"))
    assert entry.details == {"kind": "phone", "old": "139****0000", "new": "139****0000"}
    assert OLD not in json.dumps(entry.details) and NEW not in json.dumps(entry.details)
    notice = db.session.scalar(sa.select(Notice).where(Notice.user_id == learner.id))
    assert notice.kind == NoticeKind.ACCOUNT.value and "手机号已更换" in notice.message
    told = db.session.scalar(sa.select(OutboundMessage).where(OutboundMessage.recipient == OLD))
    assert told.sms_template == "notice" and "如非本人操作" in json.loads(told.body)["summary"]
    # The code is spent.
    assert "没有待确认的验证码" in confirm(signed_in, code).get_data(as_text=True)
    assert signed_in.get("/account/contact/confirm").location.endswith("/account/contact")
    assert db.session.scalar(sa.select(AccountCode.used_at)) is not None


def test_a_new_email_is_confirmed_with_a_code_by_email_and_the_old_address_is_told(signed_in, learner, mailbox):
    assert ask(signed_in, "New.Li@Example.cn").status_code == 302
    run_queued()
    [mail] = mailbox.to("new.li@example.cn")
    assert mail["subject"] == "【继续教育基地平台】更换邮箱验证码"
    code = mail["body"].split("验证码：", 1)[1][:6]
    assert confirm(signed_in, code).status_code == 302
    assert db.session.get(User, learner.id).email == "new.li@example.cn"
    run_queued()
    [told] = [m for m in mailbox.to("li@example.cn") if m["subject"] == "【继续教育基地平台】账号安全"]
    assert "邮箱已更换为 n***@example.cn" in told["body"]


def test_a_phone_another_account_holds_is_refused_at_the_request(signed_in, learner, make_user):
    make_user(Role.LEARNER, phone=NEW)
    page = ask(signed_in, NEW).get_data(as_text=True)
    assert "该手机号或邮箱无法使用，请换一个" in page
    assert db.session.scalar(sa.select(sa.func.count(OutboundMessage.id))) == 0
    [entry] = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "account.contact_refused"))
    assert entry.details == {"result": "taken", "new": "139****0000", "stage": "request"}


def test_a_phone_taken_before_the_confirmation_is_refused_then(signed_in, learner, make_user):
    ask(signed_in, NEW)
    code = sms_code(NEW)
    make_user(Role.LEARNER, phone=NEW)  # someone else got the number meanwhile
    assert "该手机号或邮箱无法使用" in confirm(signed_in, code).get_data(as_text=True)
    assert db.session.get(User, learner.id).phone == OLD


def test_a_phone_taken_at_the_same_moment_is_refused_by_the_unique_key(signed_in, learner, make_user, monkeypatch):
    ask(signed_in, NEW)
    code = sms_code(NEW)
    make_user(Role.LEARNER, phone=NEW)
    monkeypatch.setattr(account_codes, "_taken", lambda value, user_id: False)  # the check saw it free
    assert "该手机号或邮箱无法使用" in confirm(signed_in, code).get_data(as_text=True)
    assert db.session.get(User, learner.id).phone == OLD
    stages = [e.details["stage"] for e in db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "account.contact_refused"))]
    assert stages == ["confirm"]


def test_an_expired_code_is_refused_with_its_reason(signed_in, learner, monkeypatch):
    ask(signed_in, NEW)
    code = sms_code(NEW)
    later(monkeypatch, 11)
    assert "验证码已过期" in confirm(signed_in, code).get_data(as_text=True)
    assert db.session.get(User, learner.id).phone == OLD


def test_five_wrong_codes_kill_the_code(signed_in, learner):
    ask(signed_in, NEW)
    code = sms_code(NEW)
    for left in (4, 3, 2, 1):
        assert f"还可再试 {left} 次" in confirm(signed_in, wrong(code)).get_data(as_text=True)
    assert "错误次数过多" in confirm(signed_in, wrong(code)).get_data(as_text=True)
    assert "错误次数过多" in confirm(signed_in, code).get_data(as_text=True)
    assert db.session.get(User, learner.id).phone == OLD


@pytest.mark.parametrize("value, message", [
    ("12345", "请填写 11 位手机号或有效的邮箱地址"), ("not-an-address@", "请填写 11 位手机号或有效的邮箱地址"),
    (OLD, "这就是您现在使用的手机号或邮箱"), ("LI@example.cn", "这就是您现在使用的手机号或邮箱"),
])
def test_bad_input_is_refused_beside_the_field(signed_in, value, message):
    assert message in ask(signed_in, value).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(AccountCode.id))) == 0


def test_any_role_may_change_its_own_contact(app, make_user):
    admin = make_user(Role.BASE_ADMIN, phone=OLD)
    client = app.test_client()
    login(client, admin)
    assert "139****0000" in client.get("/account/contact").get_data(as_text=True)
    ask(client, NEW)
    assert confirm(client, sms_code(NEW)).status_code == 302
    assert db.session.get(User, admin.id).phone == NEW


def test_the_profile_page_links_to_the_contact_change(signed_in):
    assert 'href="/account/contact"' in signed_in.get("/account/profile").get_data(as_text=True)


def test_requests_are_limited_per_user(signed_in):
    for n in range(3):
        assert ask(signed_in, f"1393333000{n}").status_code == 302
    assert ask(signed_in, "13933330009").status_code == 429
