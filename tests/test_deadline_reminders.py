"""The December reminders of the year's deadline: on a simulated 1 December the learner short of hours gets one
notice, one e-mail on the real SMTP server and a text message; a rerun sends nothing; the learner with all
hours, a closed or disabled account, and a day outside December get none; 24 December sends the "week"
reminder once; the queries are as many for 50 learners as for 10."""

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from extensions import db
from models import Category, Channel, HoursRecord, HoursSource, Notice, NoticeKind, OutboundMessage, RuleSet, User
from services import deadline_reminders
from services.infra.queue import huey, run_queued
from tests.conftest import bulk_learners, count_queries

YEAR = 2026
DEC_1, DEC_24 = date(YEAR, 12, 1), date(YEAR, 12, 24)


@pytest.fixture
def rule(app, city):
    """The province requires 90 hours a year: 30 public, 40 professional; the city leaves them to it."""
    rule = RuleSet(region_id=city.parent_id, year=YEAR, total_min=90, public_min=30, professional_min=40)
    db.session.add(rule)
    db.session.commit()
    return rule


def credit(learner_id: int, hours: int, category: Category = Category.PUBLIC, year: int = YEAR) -> None:
    db.session.add(HoursRecord(learner_id=learner_id, year=year, category=category, hours=hours,
                               source=HoursSource.IMPORT, note="人工智能与健康"))
    db.session.commit()


def deadline_notices(user_id: int | None = None) -> list[Notice]:
    query = sa.select(Notice).where(Notice.kind == NoticeKind.DEADLINE.value).order_by(Notice.id)
    if user_id is not None:
        query = query.where(Notice.user_id == user_id)
    return list(db.session.scalars(query))


def test_on_1_december_the_short_learner_gets_one_notice_one_mail_and_a_text_and_a_rerun_sends_none(
        rule, make_user, mailbox):
    learner = make_user(email="li@example.cn", phone="13912345678")
    credit(learner.id, 26, Category.PUBLIC)
    credit(learner.id, 50, Category.PROFESSIONAL)
    credit(learner.id, 10, Category.PUBLIC, year=YEAR - 1)  # last year's hours do not count

    assert deadline_reminders.remind(DEC_1) == 1
    run_queued()

    [notice] = deadline_notices(learner.id)
    assert notice.message == "您2026年度继续教育学时还差 14 学时（公需 4），12月31日截止"
    assert notice.link == "/me/" and notice.dedupe_key == "deadline:2026:early"
    [mail] = mailbox.to("li@example.cn")
    assert mail["subject"] == "【继续教育基地平台】年度学时截止提醒"
    assert "还差 14 学时" in mail["body"] and "/me/" in mail["body"]
    [text] = db.session.scalars(sa.select(OutboundMessage).where(OutboundMessage.channel == Channel.SMS)).all()
    assert text.recipient == "13912345678" and text.sms_template == "notice" and "还差 14 学时" in text.body

    # The job runs again that day and on the days after: nothing more is made, queued or sent.
    assert deadline_reminders.remind(DEC_1) == 0
    assert deadline_reminders.remind(date(YEAR, 12, 23)) == 0
    assert huey.pending_count() == 0
    run_queued()
    assert len(mailbox.to("li@example.cn")) == 1
    assert len(deadline_notices()) == 1


def test_the_numbers_are_right_by_category(rule, make_user):
    nothing = make_user()
    some = make_user()
    credit(some.id, 10, Category.PUBLIC)
    credit(some.id, 45, Category.PROFESSIONAL)  # 5 beyond its minimum: toward the total, not the public hours
    only_total = make_user()
    credit(only_total.id, 30, Category.PUBLIC)
    credit(only_total.id, 40, Category.PROFESSIONAL)
    credit(only_total.id, 5, Category.ELECTIVE)

    assert deadline_reminders.remind(DEC_1) == 3

    messages = {n.user_id: n.message for n in deadline_notices()}
    assert messages[nothing.id] == "您2026年度继续教育学时还差 90 学时（公需 30 / 专业 40），12月31日截止"
    assert messages[some.id] == "您2026年度继续教育学时还差 35 学时（公需 20），12月31日截止"
    assert messages[only_total.id] == "您2026年度继续教育学时还差 15 学时，12月31日截止"


def test_a_learner_with_all_hours_gets_none(rule, make_user, mailbox):
    learner = make_user()
    credit(learner.id, 50, Category.PUBLIC)
    credit(learner.id, 40, Category.PROFESSIONAL)
    assert deadline_reminders.remind(DEC_1) == 0
    run_queued()
    assert deadline_notices() == [] and mailbox.messages == []


def test_24_december_sends_the_week_reminder_once(rule, make_user, mailbox):
    learner = make_user(email="wang@example.cn")
    assert deadline_reminders.remind(DEC_1) == 1
    assert deadline_reminders.remind(DEC_24) == 1
    assert deadline_reminders.remind(DEC_24) == 0
    assert deadline_reminders.remind(date(YEAR, 12, 31)) == 0
    run_queued()
    assert [n.dedupe_key for n in deadline_notices(learner.id)] == ["deadline:2026:early", "deadline:2026:week"]
    assert len(mailbox.to("wang@example.cn")) == 2


@pytest.mark.parametrize("day", [date(YEAR, 11, 15), date(YEAR, 11, 30), date(YEAR + 1, 1, 1)])
def test_outside_december_nothing_is_sent(rule, make_user, day):
    make_user()
    assert deadline_reminders.remind(day) == 0
    assert deadline_notices() == [] and huey.pending_count() == 0


def test_a_closed_or_disabled_account_and_other_roles_get_none(rule, make_user):
    from models import Role

    make_user(active=False)
    make_user(closed_at=datetime(YEAR, 6, 1))
    make_user(Role.REVIEWER)
    walk_in = make_user(password_hash="", email=None, phone="13800001111")  # a base's walk-in, not claimed yet
    assert deadline_reminders.remind(DEC_1) == 1
    assert [n.user_id for n in deadline_notices()] == [walk_in.id]


def test_a_learner_where_no_rule_sets_a_minimum_gets_none(app, make_user, make_region):
    make_user(region_id=make_region("无规则市", parent=make_region("无规则省")).id)
    make_user(region_id=None)
    assert deadline_reminders.remind(DEC_1) == 0


def test_the_periodic_job_and_the_command_run_the_reminders(rule, make_user, runner, monkeypatch):
    from services import jobs
    from services.infra import clock

    learner = make_user()
    monkeypatch.setattr(clock, "today", lambda: DEC_24)
    assert jobs.remind_deadline.call_local() == 1
    result = runner.invoke(args=["jobs", "remind-deadline", "--date", "2026-12-01"])
    assert result.exit_code == 0 and "发出 1 条截止提醒" in result.output
    result = runner.invoke(args=["jobs", "remind-deadline", "--date", "2026-12-01", "--enqueue"])
    assert result.exit_code == 0
    run_queued()
    assert len(deadline_notices(learner.id)) == 2


def test_the_job_runs_every_december_morning_in_shanghai():
    from services import jobs

    validate = jobs.remind_deadline.s().validate_datetime
    assert validate(datetime(YEAR, 12, 1, 1, 0))  # 9:00 in Shanghai (Huey's clock is UTC)
    assert validate(datetime(YEAR, 12, 31, 1, 0))
    assert not validate(datetime(YEAR, 11, 30, 1, 0))
    assert not validate(datetime(YEAR, 12, 1, 9, 0))


def learners_of(city, n: int) -> list[int]:
    """``n`` learners of ``city`` with no hours, inserted in bulk."""
    ids = bulk_learners(n)
    db.session.execute(sa.update(User).where(User.id.in_(ids)).values(region_id=city.id))
    db.session.commit()
    return ids


def _statements(city, n: int) -> list[str]:
    learners_of(city, n)
    with count_queries(db.engine) as statements:
        made = deadline_reminders.remind(DEC_1)
    assert made == n
    return statements


def test_the_queries_are_as_many_for_50_learners_as_for_10(rule, city):
    few = _statements(city, 10)
    many = _statements(city, 50)
    assert len(many) == len(few) <= 6, many


def test_learners_are_taken_in_batches(rule, city, monkeypatch):
    monkeypatch.setattr(deadline_reminders, "BATCH", 7)
    ids = learners_of(city, 20)
    assert deadline_reminders.remind(DEC_1) == 20
    assert sorted(n.user_id for n in deadline_notices()) == ids
    # The fan-out of each batch was queued after its commit: every notice, in three batches' jobs.
    assert huey.pending_count() == 3


def test_a_run_alongside_another_skips_the_notices_it_made(rule, make_user):
    """Two runs at once may both find a learner without the key: the UNIQUE key and ON CONFLICT DO NOTHING keep
    one notice, and only the inserted one is fanned out."""
    learner = make_user()
    assert deadline_reminders.remind(DEC_1) == 1
    row = {"user_id": learner.id, "message": "x", "link": "/me/", "kind": NoticeKind.DEADLINE.value,
           "dedupe_key": deadline_reminders.dedupe_key(YEAR, "early"), "created_at": datetime(YEAR, 12, 1)}
    assert deadline_reminders._insert_new([row]) == []
    db.session.commit()
    assert len(deadline_notices(learner.id)) == 1
