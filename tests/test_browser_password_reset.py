"""A forgotten password and a claimed walk-in account in headless Chromium on a phone (390 px): the learner
follows 忘记密码？ from the sign-in page, receives the link on the test SMTP server, sets a new password and
signs in with it, while the session they had left open on a desktop is gone; a walk-in trainee claims their
account with the code sent to their phone. Every page fits the phone's width and logs no error (CSP).
Screenshots are kept under artifacts/screenshots/password-reset/."""

import json
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from extensions import db
from models import OutboundMessage, Role, User
from services.infra.queue import run_queued
from tests.browser import LiveServer, Shots, fits, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

NEW_PASSWORD = "violet tractor harbour 58"


def test_a_learner_resets_a_forgotten_password_by_email_on_a_phone(app, make_user, mailbox, actors):
    learner = make_user(Role.LEARNER, email="feng@example.cn", phone="13800000417", name="冯护士")
    shot = Shots("password-reset")
    with LiveServer(app) as site:
        desktop = actors.open()
        sign_in(desktop, site, learner.email, PASSWORD)
        expect(desktop.locator(".alert-success").first).to_contain_text("欢迎回来")

        phone = actors.open(phone=True)
        phone.goto(site.url + "/login")
        fits(phone)
        phone.get_by_role("link", name="忘记密码？").click()
        phone.get_by_label("手机号或邮箱").fill("feng@example.cn")
        fits(phone)
        shot(phone, "forgot")
        phone.get_by_role("button", name="发送").click()
        expect(phone.locator(".alert-info").first).to_contain_text("如果该邮箱已注册")

        run_queued()  # the workers send the e-mail
        [mail] = mailbox.to("feng@example.cn")
        link = re.search(r"/reset/[A-Za-z0-9_\-]+", mail["body"]).group(0)
        phone.goto(site.url + link)
        phone.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
        phone.get_by_label("确认新密码").fill(NEW_PASSWORD)
        fits(phone)
        shot(phone, "new-password")
        phone.get_by_role("button", name="确定").click()
        expect(phone.locator(".alert-success").first).to_contain_text("密码已重置")

        sign_in(phone, site, "feng@example.cn", NEW_PASSWORD)
        expect(phone.locator(".alert-success").first).to_contain_text("欢迎回来")
        # The desktop's session, opened before the reset, is gone.
        desktop.goto(site.url + "/me/")
        expect(desktop).to_have_url(re.compile(r"/login"))


def test_a_walk_in_trainee_claims_the_account_on_a_phone(app, make_user, make_base, actors):
    base = make_base()
    walk_in = make_user(Role.LEARNER, email=None, phone="13800000418", name="王芳", registered_by_base_id=base.id)
    walk_in.password_hash = ""
    db.session.commit()
    shot = Shots("claim-account")
    with LiveServer(app) as site:
        phone = actors.open(phone=True)
        phone.goto(site.url + "/login")
        phone.get_by_role("link", name="认领账号").click()
        phone.get_by_label("登记时留的手机号").fill("13800000418")
        fits(phone)
        shot(phone, "claim")
        phone.get_by_role("button", name="发送验证码").click()
        expect(phone.locator(".alert-info").first).to_contain_text("验证码已发送")

        row = db.session.scalars(sa.select(OutboundMessage).order_by(OutboundMessage.id.desc())).first()
        phone.get_by_label("验证码").fill(json.loads(row.body)["code"])
        phone.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
        phone.get_by_label("确认新密码").fill(NEW_PASSWORD)
        fits(phone)
        shot(phone, "code-and-password")
        phone.get_by_role("button", name="确定").click()
        expect(phone.locator(".alert-success").first).to_contain_text("账号认领成功")
        fits(phone)
    db.session.rollback()
    assert db.session.get(User, walk_in.id).claimed
