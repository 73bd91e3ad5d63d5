"""Each person's choices, per kind of notice, of e-mail and text message (/account/notifications, every role):
the page shows the kinds the role receives with what applies now and which addresses are on file, saves with
services.messaging.set_choices, and the next notice follows it."""

import re

import sqlalchemy as sa

from extensions import db
from models import Channel, NoticeKind, OutboundMessage, Role
from services import inbox, messaging
from services.infra.queue import run_queued
from services.infra.transaction import unit_of_work
from tests.conftest import PASSWORD

PAGE = "/account/notifications"


def _signed_in(app, user):
    client = app.test_client()
    response = client.post("/login", data={"login": user.email or user.phone, "password": PASSWORD})
    assert response.status_code == 302
    return client


def _checked(html: str) -> set[str]:
    return set(re.findall(r'name="enabled" value="([a-z_]+:[a-z]+)"[^>]*\bchecked\b', html, re.S))


def _notify(user, kind=NoticeKind.REVIEW):
    with unit_of_work():
        inbox.notify(user.id, "您申报的“学术年会”已通过单位审核，认定 2 学时", "/me/declarations", kind=kind)
    run_queued()


def _channels_sent(user) -> list[Channel]:
    return sorted(db.session.scalars(sa.select(OutboundMessage.channel).where(OutboundMessage.user_id == user.id)),
                  key=lambda c: c.value)


def test_the_page_shows_the_learners_kinds_with_the_defaults_and_the_inbox_always_on(app, make_user):
    learner = make_user(phone="13900001234")
    page = _signed_in(app, learner).get(PAGE)
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    for kind in (NoticeKind.REVIEW, NoticeKind.WAITLIST, NoticeKind.COURSE, NoticeKind.DEADLINE):
        assert kind.label in html
    assert NoticeKind.PLAN.label not in html and NoticeKind.OVERDUE.label not in html  # not a learner's
    assert html.count("始终开启") == len(messaging.kinds_for(learner))
    # E-mail for everything, SMS for the deadline and the account's safety (messaging.DEFAULTS).
    assert "review:email" in _checked(html) and "review:sms" not in _checked(html)
    assert {"deadline:sms", "account:sms"} <= _checked(html)
    assert "139****1234" in html and "13900001234" not in html  # the addresses on file, masked


def test_a_channel_without_an_address_says_so(app, make_user):
    learner = make_user(email=None, phone="13900005678")
    html = _signed_in(app, learner).get(PAGE).get_data(as_text=True)
    assert "未填写邮箱" in html and "未填写手机号" not in html


def test_a_reviewer_chooses_for_overdue_reminders_not_for_waitlists(app, make_user):
    reviewer = make_user(Role.REVIEWER)
    html = _signed_in(app, reviewer).get(PAGE).get_data(as_text=True)
    assert NoticeKind.OVERDUE.label in html and NoticeKind.WAITLIST.label not in html


def test_saving_turns_sms_on_and_off_and_the_next_notice_follows(app, make_user):
    learner = make_user(email="li@test.example", phone="13900001111")
    client = _signed_in(app, learner)

    response = client.post(PAGE, data={"enabled": ["review:email", "review:sms", "deadline:sms"]})
    assert response.status_code == 302 and response.location.endswith(PAGE)
    assert "review:sms" in _checked(client.get(PAGE).get_data(as_text=True))
    _notify(learner)
    assert _channels_sent(learner) == [Channel.EMAIL, Channel.SMS]

    client.post(PAGE, data={"enabled": ["review:email"]})
    db.session.execute(sa.delete(OutboundMessage))
    db.session.commit()
    _notify(learner)
    assert _channels_sent(learner) == [Channel.EMAIL]  # SMS off: no SMS row

    client.post(PAGE, data={})  # everything off: the inbox only
    db.session.execute(sa.delete(OutboundMessage))
    db.session.commit()
    _notify(learner)
    assert _channels_sent(learner) == []
    assert inbox.page(learner).total == 3  # the inbox has every one


def test_saving_a_roles_kinds_leaves_the_other_kinds_choices_alone(app, make_user):
    reviewer = make_user(Role.REVIEWER, phone="13900002222")
    messaging.set_choices(reviewer, [(NoticeKind.REVIEW, Channel.SMS)])  # a kind not on a reviewer's page
    _signed_in(app, reviewer).post(PAGE, data={"enabled": ["overdue:sms"]})

    choices = messaging.choices(reviewer)
    assert choices[(NoticeKind.OVERDUE, Channel.SMS)] and not choices[(NoticeKind.OVERDUE, Channel.EMAIL)]
    assert choices[(NoticeKind.REVIEW, Channel.SMS)]  # untouched by the reviewer's page


def test_an_unknown_choice_is_refused_and_nothing_saved(app, make_user):
    learner = make_user()
    response = _signed_in(app, learner).post(PAGE, data={"enabled": ["plan:email", "review:fax"]})
    assert response.status_code == 400
    assert messaging.choices(learner)[(NoticeKind.REVIEW, Channel.EMAIL)]  # the default still


def test_the_inbox_and_the_profile_link_to_the_page(app, make_user):
    client = _signed_in(app, make_user())
    for path in ("/inbox/", "/account/profile"):
        assert f'href="{PAGE}"' in client.get(path).get_data(as_text=True), path


def test_a_notices_email_reads_in_chinese_with_its_link_and_how_to_stop_it(app, make_user, mailbox):
    learner = make_user(name="李华", email="li@test.example")
    _notify(learner)
    [mail] = mailbox.to("li@test.example")
    site = app.config["SITE_URL"].rstrip("/")
    body = mail["body"]
    assert body.startswith("李华，您好：")
    assert "您申报的“学术年会”已通过单位审核，认定 2 学时" in body
    assert f"查看详情：{site}/me/declarations" in body
    assert f"如不想再通过邮件接收“学时申报审核结果”，可在“通知设置”中关闭：{site}/account/notifications" in body
