"""Issue 18's two journeys in headless Chromium, from the site's pages, with the real mail and SMS paths:

1. A base admin imports a roster naming two trainees who have no account; the site creates their accounts
   and texts them (through the SMS adapter, to a local stand-in of the provider that checks the signature);
   one of them claims the account on a phone with the code and sees the course's hours on the dashboard.
2. A learner forgets the password and resets it from the e-mail the test SMTP server received, and the
   session left open on a desktop is gone; the employer's reviewer rejects her declaration and she reads why
   in the inbox and in the mail; on a simulated 1 December, short of hours, she gets one reminder, and the
   job run again sends none.

Between steps the test runs what was queued, as the workers would (services.infra.queue.run_queued). Phone
pages are checked for sideways scrolling; any console error (the CSP, for one) fails the test. Screenshots
are kept under artifacts/screenshots/walk-in-claim/ and artifacts/screenshots/reset-review-reminder/.
"""

import io
import re
from datetime import date

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from werkzeug.datastructures import FileStorage

from extensions import db
from models import Employer, Notice, NoticeKind, Role, User
from seeding.demo import seed_reference
from services import accounts, declarations, jobs, resident_ids
from services.infra import clock
from services.infra.queue import run_queued
from tests.browser import LiveServer, Shots, fits, sign_in
from tests.conftest import PASSWORD, employ

pytestmark = pytest.mark.browser

NEW_PASSWORD = "lantern orchard mosaic 47"
COURSE_DAYS = (date(2026, 3, 2), date(2026, 3, 3))
AFTER_COURSE = date(2026, 3, 10)
NOVEMBER, FIRST_OF_DECEMBER = date(2026, 11, 20), date(2026, 12, 1)


def _id_number(first17: str) -> str:
    return first17 + resident_ids.check_character(first17)



def test_a_walk_in_trainee_imported_from_a_roster_claims_the_account_and_sees_the_hours(
        app, admin_and_base, make_course, sms_provider, actors, monkeypatch):
    admin, base = admin_and_base
    monkeypatch.setattr(clock, "today", lambda: COURSE_DAYS[0])
    course = make_course(base, title="基层医疗卫生服务能力提升", start_date=COURSE_DAYS[0], end_date=COURSE_DAYS[1],
                         hours=16, capacity=30)
    monkeypatch.setattr(clock, "today", lambda: AFTER_COURSE)
    trainees = [("王芳", _id_number("51010419880515021"), "13800000418"),
                ("李强", _id_number("51010419790302113"), "13800000419")]
    roster = "姓名,身份证号,手机号\n" + "".join(f"{name},{number},{phone}\n" for name, number, phone in trainees)
    shot = Shots("walk-in-claim")
    with LiveServer(app) as site:
        desk = actors.open()
        sign_in(desk, site, admin.email, PASSWORD)
        desk.goto(f"{site.url}/manage/bases/{base.id}/courses/{course.id}/roster/import")
        desk.get_by_label("名单文件").set_input_files(
            {"name": "结业名单.csv", "mimeType": "text/csv", "buffer": roster.encode("utf-8")})
        desk.get_by_role("button", name="导入").click()
        expect(desk.locator(".alert-success").first).to_contain_text("为 2 名未注册学员新建了账号")
        shot(desk, "roster-imported")

        run_queued()  # the workers text both trainees their invitation
        invited = {r["PhoneNumbers"]: r["TemplateParam"] for r in sms_provider.received}
        assert set(invited) == {"13800000418", "13800000419"}
        assert "认领" in invited["13800000418"]["summary"] or "认领" in invited["13800000418"]["kind"]

        phone = actors.open(phone=True)
        phone.goto(site.url + "/login")
        phone.get_by_role("link", name="认领账号").click()
        phone.get_by_label("登记时留的手机号").fill("138 0000 0418")
        fits(phone)
        shot(phone, "claim")
        phone.get_by_role("button", name="发送验证码").click()
        expect(phone.locator(".alert-info").first).to_contain_text("如果基地用该手机号为您登记过，验证码已发送")
        run_queued()  # the code leaves through the provider
        [code] = sms_provider.codes_to("13800000418")
        assert sms_provider.rejected == []
        phone.get_by_label("验证码").fill(code)
        phone.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
        phone.get_by_label("确认新密码").fill(NEW_PASSWORD)
        fits(phone)
        phone.get_by_role("button", name="确定").click()
        expect(phone.locator(".alert-success").first).to_contain_text("账号认领成功")

        phone.goto(site.url + "/me/")
        expect(phone.locator("body")).to_contain_text("基层医疗卫生服务能力提升")
        expect(phone.locator("body")).to_contain_text("16")
        fits(phone)
        shot(phone, "dashboard")
    db.session.rollback()
    claimed = db.session.scalar(sa.select(User).where(User.phone == "13800000418"))
    other = db.session.scalar(sa.select(User).where(User.phone == "13800000419"))
    assert claimed.claimed and claimed.registered_by_base_id == base.id
    assert not other.claimed  # the other trainee has not claimed theirs
    assert claimed.check_password(NEW_PASSWORD)


@pytest.fixture
def chengdu_learner(app, monkeypatch):
    """Chengdu with its rules (30 public hours a year, notice 003), a hospital with a reviewer, and 冯护士, who
    works there and has no hours this year; today is in November."""
    monkeypatch.setattr(clock, "today", lambda: NOVEMBER)
    regions = seed_reference()
    chengdu = regions["510100"]
    hospital = Employer(name="成都市第一人民医院", region_id=chengdu.id)
    db.session.add(hospital)
    db.session.commit()
    learner = accounts.register_learner({
        "name": "冯护士", "phone": "13800000417", "email": "feng@example.cn", "password": PASSWORD,
        "id_number": _id_number("51010419900307417"), "region_id": chengdu.id,
        "consent": accounts.PRIVACY_NOTICE_VERSION})
    employ(learner, hospital)
    reviewer = User(name="人事科 何审核", email="review@hospital.cn", role=Role.REVIEWER, region_id=chengdu.id,
                    employer_id=hospital.id)
    reviewer.set_password(PASSWORD)
    db.session.add(reviewer)
    db.session.commit()
    return learner, reviewer


def _declared(learner) -> int:
    pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    declaration = declarations.declare(learner, {
        "kind": "conference", "category": None, "title": "四川省护理学术年会", "organiser": "四川省护理学会",
        "earned_on": date(2026, 11, 12), "minutes": None, "days": 1, "hours": None,
    }, [FileStorage(stream=io.BytesIO(pdf), filename="参会证明.pdf", content_type="application/pdf")])
    return declaration.id


def _reset_by_mail(actors, site, mailbox, shot):
    """She forgot the password: the link comes by e-mail; the session she left on a desktop ends with the
    reset. Returns her phone's page, signed in with the new password."""
    desktop = actors.open()
    sign_in(desktop, site, "feng@example.cn", PASSWORD)
    phone = actors.open(phone=True)
    phone.goto(site.url + "/login")
    phone.get_by_role("link", name="忘记密码？").click()
    phone.get_by_label("手机号或邮箱").fill("feng@example.cn")
    phone.get_by_role("button", name="发送").click()
    expect(phone.locator(".alert-info").first).to_contain_text("如果该邮箱已注册")
    run_queued()
    [mail] = mailbox.to("feng@example.cn")
    assert "重置" in mail["subject"] or "密码" in mail["subject"]
    phone.goto(site.url + re.search(r"/reset/[A-Za-z0-9_\-]+", mail["body"]).group(0))
    phone.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
    phone.get_by_label("确认新密码").fill(NEW_PASSWORD)
    fits(phone)
    phone.get_by_role("button", name="确定").click()
    expect(phone.locator(".alert-success").first).to_contain_text("密码已重置")
    sign_in(phone, site, "feng@example.cn", NEW_PASSWORD)
    desktop.goto(site.url + "/me/")
    expect(desktop).to_have_url(re.compile(r"/login"))
    shot(phone, "signed-in-after-reset")
    return phone


def _rejected_by_the_reviewer(actors, site, declaration_id: int, reason: str) -> None:
    review = actors.open()
    sign_in(review, site, "review@hospital.cn", PASSWORD)
    review.goto(f"{site.url}/review/{declaration_id}")
    review.get_by_label("审核结果").select_option("reject")
    review.get_by_label("理由").fill(reason)
    review.get_by_role("button", name="提交审核").click()
    expect(review.locator(".alert-success").first).to_be_visible()
    run_queued()  # the notice is fanned out and mailed


def test_reset_by_mail_a_rejection_in_inbox_and_mail_and_one_december_reminder(
        app, chengdu_learner, mailbox, actors, monkeypatch):
    learner, _reviewer = chengdu_learner
    declaration_id = _declared(learner)
    shot = Shots("reset-review-reminder")
    reason = "参会证明未加盖主办单位公章，请补充后重新申报"
    with LiveServer(app) as site:
        phone = _reset_by_mail(actors, site, mailbox, shot)
        _rejected_by_the_reviewer(actors, site, declaration_id, reason)
        phone.goto(site.url + "/inbox/")
        expect(phone.locator("body")).to_contain_text(reason)
        fits(phone)
        shot(phone, "inbox-rejection")
        rejection = [m for m in mailbox.to("feng@example.cn") if "审核" in m["subject"]]
        assert len(rejection) == 1 and reason in rejection[0]["body"]

        # 1 December: she has none of Chengdu's 30 public hours (notice 003); the job runs, and runs again.
        monkeypatch.setattr(clock, "today", lambda: FIRST_OF_DECEMBER)
        before = len(mailbox.to("feng@example.cn"))
        jobs.remind_deadline.call_local()
        run_queued()
        jobs.remind_deadline.call_local()
        run_queued()
        reminders = mailbox.to("feng@example.cn")[before:]
        assert len(reminders) == 1
        assert "12月31日截止" in reminders[0]["body"] and "还差 30 学时（公需 30）" in reminders[0]["body"]
        phone.goto(site.url + "/inbox/")
        expect(phone.locator("body")).to_contain_text("12月31日截止")
        fits(phone)
        shot(phone, "inbox-reminder")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Notice.id)).where(
        Notice.user_id == learner.id, Notice.kind == NoticeKind.DEADLINE.value)) == 1
