"""The platform administrator's page of background jobs (/platform/jobs): the outbox's counts, failed messages
(recipient masked) and failed job records newest first, paged, in a fixed number of queries; 重新发送 for one
row or all of them sends them for real (a real SMTP server), audited, nothing sent twice; one-time codes are
not sent again; other roles get 403."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    AuditLog,
    Channel,
    JobRecord,
    JobStatus,
    Notice,
    NoticeKind,
    OutboundMessage,
    OutboxStatus,
    Role,
    User,
)
from models._common import utcnow
from services import inbox, messaging, outbox_resending
from services.errors import DomainError
from services.infra.queue import huey, run_queued
from services.infra.transaction import unit_of_work
from services.queries import job_pages
from tests.conftest import login, page_queries


@pytest.fixture
def platform_client(app, make_user):
    client = app.test_client()
    login(client, make_user(Role.PLATFORM_ADMIN))
    return client


def fail_mail(app, *users, message="您申报的学时已通过"):
    """A notice to each of ``users`` that the mail server never takes: retried, then failed."""
    port = app.config["MAIL_PORT"]
    app.config.update(MAIL_PORT=1)  # nothing listens there
    with unit_of_work():
        for user in users:
            inbox.notify(user.id, message, "/me/declarations", kind=NoticeKind.REVIEW)
    run_queued()
    app.config.update(MAIL_PORT=port)


def rows(status: OutboxStatus) -> list[OutboundMessage]:
    db.session.expire_all()
    return db.session.scalars(sa.select(OutboundMessage).where(OutboundMessage.status == status)).all()


def test_the_page_lists_failed_messages_masked_and_failed_jobs_newest_first(app, make_user, mailbox,
                                                                         platform_client):
    learner = make_user(email="wangfang@example.cn")
    fail_mail(app, learner)
    db.session.add(JobRecord(name="services.jobs.fan_out", status=JobStatus.FAILED, error="OperationalError: x",
                             finished_at=utcnow() + timedelta(minutes=1)))
    db.session.commit()

    page = platform_client.get("/platform/jobs").text

    assert 'id="count-failed">1<' in page and 'id="count-failed-jobs">1<' in page
    assert "w***@example.cn" in page and "wangfang@example.cn" not in page
    assert "学时申报审核结果" in page and "电子邮件" in page and "重新发送全部失败" in page
    assert page.index('data-source="job"') < page.index('data-source="message"')  # the newer first
    assert "services.jobs.fan_out" in page


def test_counts_queued_sending_and_sent_today(app, make_user, mailbox):
    learner = make_user(email="li@example.cn")
    with unit_of_work():
        inbox.notify(learner.id, "一", kind=NoticeKind.REVIEW)
    run_queued()  # sent
    with unit_of_work():
        inbox.notify(learner.id, "二", kind=NoticeKind.REVIEW)
    second = db.session.scalar(sa.select(sa.func.max(Notice.id)))
    huey.flush()  # its fan-out job is dropped: the row is made by hand and left queued
    messaging.fan_out([second])
    view = job_pages.jobs_page()
    assert (view.queued, view.sending, view.sent_today, view.failed_messages) == (1, 0, 1, 0)


def test_resend_sends_the_failed_message_once(app, make_user, mailbox, platform_client):
    learner = make_user(email="li@example.cn")
    fail_mail(app, learner)
    [failed] = rows(OutboxStatus.FAILED)

    response = platform_client.post(f"/platform/jobs/messages/{failed.id}/resend")
    assert response.status_code == 302
    run_queued()

    [mail] = mailbox.to("li@example.cn")
    assert mail["subject"] == "【继续教育基地平台】学时申报审核结果"
    assert [row.id for row in rows(OutboxStatus.SENT)] == [failed.id]
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "outbox.resend"))
    assert entry.details["ids"] == [failed.id]
    # Again: the row is no longer failed, nothing more is sent.
    again = platform_client.post(f"/platform/jobs/messages/{failed.id}/resend", follow_redirects=True)
    assert "已不在发送失败的列表中" in again.text
    run_queued()
    assert len(mailbox.to("li@example.cn")) == 1


def test_resend_all_sends_every_failed_message(app, make_user, mailbox, platform_client):
    learners = [make_user(email=f"p{n}@example.cn") for n in range(3)]
    fail_mail(app, *learners)
    assert len(rows(OutboxStatus.FAILED)) == 3

    response = platform_client.post("/platform/jobs/messages/resend", follow_redirects=True)
    assert "已将 3 条发送失败的消息重新加入发送队列" in response.text
    run_queued()

    assert {m["message"]["To"] for m in mailbox.messages} == {f"p{n}@example.cn" for n in range(3)}
    assert rows(OutboxStatus.FAILED) == []
    assert db.session.scalar(sa.select(AuditLog.details).where(AuditLog.action == "outbox.resend_all"))["count"] == 3


def test_a_one_time_code_is_not_sent_again(app, make_user, mailbox):
    user = make_user()
    with unit_of_work():
        code = messaging.send_direct(Channel.EMAIL, "li@example.cn", subject="验证码", body="123456",
                                     user_id=user.id)
    db.session.execute(sa.update(OutboundMessage).where(OutboundMessage.id == code.id)
                       .values(status=OutboxStatus.FAILED, body=""))
    db.session.commit()
    with pytest.raises(DomainError):
        outbox_resending.resend(user, code.id)
    assert outbox_resending.resend_all(user) == 0
    assert [row.id for row in rows(OutboxStatus.FAILED)] == [code.id]


def test_the_page_is_paged(app, make_user, mailbox, platform_client, monkeypatch):
    monkeypatch.setattr(job_pages, "PER_PAGE", 2)
    fail_mail(app, *[make_user(email=f"q{n}@example.cn") for n in range(3)])
    first = platform_client.get("/platform/jobs").text
    second = platform_client.get("/platform/jobs?page=2").text
    assert first.count('data-source="message"') == 2 and second.count('data-source="message"') == 1
    assert "第 2 / 2 页" in second
    assert platform_client.get("/platform/jobs?page=99").status_code == 200  # the last page


def test_the_page_runs_a_fixed_number_of_queries(app, make_user, mailbox, platform_client):
    first, *others = [make_user() for _ in range(13)]
    other_ids = [user.id for user in others]
    fail_mail(app, first)
    few = page_queries(platform_client, "/platform/jobs")
    fail_mail(app, *[db.session.get(User, user_id) for user_id in other_ids])
    for n in range(5):
        db.session.add(JobRecord(name=f"job{n}", status=JobStatus.FAILED, error="x"))
    db.session.commit()
    many = page_queries(platform_client, "/platform/jobs")
    assert len(many) == len(few), many


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.LEARNER, Role.REGULATOR, Role.BASE_ADMIN])
def test_other_roles_get_403(app, make_user, role):
    client = app.test_client()
    login(client, make_user(role))
    assert client.get("/platform/jobs").status_code == 403
    assert client.post("/platform/jobs/messages/resend").status_code == 403
    assert client.post("/platform/jobs/messages/1/resend").status_code == 403


def test_flask_jobs_run_queued_drains_the_queue(make_user, mailbox, runner):
    learner = make_user(email="li@example.cn")
    with unit_of_work():
        inbox.notify(learner.id, "您申报的学时已通过", kind=NoticeKind.REVIEW)
    assert huey.pending_count() == 1

    result = runner.invoke(args=["jobs", "run-queued"])

    assert result.exit_code == 0, result.output
    assert "本次运行 2 个" in result.output  # the fan-out, then the sending it queued
    assert huey.pending_count() == 0 and len(mailbox.to("li@example.cn")) == 1
