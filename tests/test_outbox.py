"""The outbox: a notice reaches its person by e-mail (a real SMTP server) as they chose, once, after the commit;
an unreachable server is retried and then recorded as failed, nothing sent twice."""

import sqlalchemy as sa

from extensions import db
from models import Channel, JobRecord, NoticeKind, OutboundMessage, OutboxStatus
from services import inbox, messaging
from services.infra.queue import huey, run_queued
from services.infra.transaction import unit_of_work


def _notify(user, message="您申报的学时已通过", kind=NoticeKind.REVIEW):
    with unit_of_work():
        inbox.notify(user.id, message, "/me/declarations", kind=kind)


def test_a_committed_notice_reaches_the_mailbox_once_with_its_chinese_subject(make_user, mailbox):
    user = make_user(email="li@example.cn")
    _notify(user)
    assert huey.pending_count() == 1  # the fan-out, queued by the commit
    run_queued()
    [mail] = mailbox.to("li@example.cn")
    assert mail["subject"] == "【继续教育基地平台】学时申报审核结果"
    assert "您申报的学时已通过" in mail["body"] and "/me/declarations" in mail["body"]
    row = db.session.scalar(sa.select(OutboundMessage))
    assert row.status == OutboxStatus.SENT and row.sent_at is not None
    # Running everything again (a rerun of both jobs) sends nothing more.
    messaging.fan_out([row.notice_id])
    messaging.deliver([row.id], final=True)
    assert len(mailbox.to("li@example.cn")) == 1


def test_a_rolled_back_notice_queues_nothing(make_user):
    user = make_user(email="li@example.cn")
    try:
        with unit_of_work():
            inbox.notify(user.id, "x")
            raise RuntimeError
    except RuntimeError:
        pass
    assert huey.pending_count() == 0


def test_the_persons_choice_turns_a_channel_off(make_user, mailbox):
    user = make_user(email="li@example.cn")
    messaging.set_choices(user, [])
    _notify(user)
    run_queued()
    assert mailbox.messages == []
    assert messaging.choices(user)[(NoticeKind.REVIEW, Channel.EMAIL)] is False


def test_an_unreachable_server_is_retried_then_recorded_as_failed(make_user, app, mailbox):
    user = make_user(email="li@example.cn")
    app.config.update(MAIL_PORT=1)  # nothing listens there
    _notify(user)
    run_queued()
    row = db.session.scalar(sa.select(OutboundMessage))
    assert row.status == OutboxStatus.FAILED and row.attempts == 4
    assert "ConnectionRefusedError" in row.last_error
    assert mailbox.messages == []
    assert db.session.scalar(sa.select(sa.func.count(JobRecord.id))) == 0  # the row carries the failure


def test_without_a_mail_server_the_log_backend_keeps_only_the_masked_address(make_user, app, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="services.infra.mail")
    user = make_user(email="zhangsan@example.cn")
    app.config.update(MAIL_SERVER="")
    _notify(user)
    run_queued()
    assert "z***@example.cn" in caplog.text and "zhangsan@example.cn" not in caplog.text
    assert db.session.scalar(sa.select(OutboundMessage.status)) == OutboxStatus.SENT


def test_a_long_notice_arrives_whole_with_crlf_line_ends(make_user, mailbox):
    """A message past SMTP's 1,000-octet line limit arrives: its lines end in CRLF, not a bare LF (which the
    server reads as one long line and refuses)."""
    user = make_user(email="li@example.cn")
    text = "您申报的学时未通过单位审核，理由：" + "证明材料不完整，" * 55
    _notify(user, text)
    run_queued()
    [mail] = mailbox.to("li@example.cn")
    assert text[:490] in mail["body"]
    assert db.session.scalar(sa.select(OutboundMessage.status)) == OutboxStatus.SENT


def test_a_notice_committed_while_the_queue_is_down_is_mailed_by_the_sweep(make_user, mailbox, monkeypatch):
    from datetime import timedelta

    from models import Notice
    from services import jobs

    user = make_user(email="li@example.cn")
    with monkeypatch.context() as down:
        down.setattr(huey, "enqueue", lambda task: (_ for _ in ()).throw(ConnectionError("Redis is down")))
        _notify(user)  # the commit stands; the fan-out job could not be queued
    assert huey.pending_count() == 0
    notice = db.session.scalar(sa.select(Notice))
    assert notice.fanned_out_at is None
    jobs.sweep_outbox.call_local()
    run_queued()
    assert mailbox.messages == []  # a fan-out may still be on its way: the sweep waits 15 minutes
    notice.created_at -= timedelta(minutes=20)
    db.session.commit()
    jobs.sweep_outbox.call_local()
    run_queued()
    assert len(mailbox.to("li@example.cn")) == 1
    jobs.sweep_outbox.call_local()  # fanned out now: the next sweep leaves it alone
    run_queued()
    assert len(mailbox.to("li@example.cn")) == 1
    assert db.session.scalar(sa.select(Notice.fanned_out_at)) is not None
