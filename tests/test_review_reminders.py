"""The daily reminder of overdue reviews: each reviewer (and employer admin, and sector officer) with overdue
declarations hears how many, once a day however often the job runs; each regulator gets their region's
summary by employer and sector authority; nobody without overdue reviews hears anything."""

from datetime import date, timedelta

import sqlalchemy as sa

from extensions import db
from models import (
    Category,
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    Employer,
    Notice,
    NoticeKind,
    Role,
    SectorAuthority,
)
from services import jobs, review_reminders
from services.infra import clock
from services.infra.queue import run_queued

TODAY = date(2025, 6, 16)


def _declaration(learner, employer, due_on, status=DeclarationStatus.PENDING, authority=None, sector_due_on=None):
    row = Declaration(learner_id=learner.id, employer_id=employer.id, kind=DeclarationKind.CONFERENCE,
                      category=Category.PROFESSIONAL, title="学术会议", earned_on=due_on, year=due_on.year,
                      hours_claimed=2, status=status, due_on=due_on,
                      sector_authority_id=authority.id if authority else None, sector_due_on=sector_due_on)
    db.session.add(row)
    return row


def _notices(user) -> list[Notice]:
    return list(db.session.scalars(sa.select(Notice).where(Notice.user_id == user.id).order_by(Notice.id)))


def _world(make_user, city, other_city):
    hospital = Employer(name="成都市第一人民医院", region_id=city.id)
    clinic = Employer(name="成都市第三人民医院", region_id=city.id)
    far = Employer(name="绵阳市中心医院", region_id=other_city.id)
    db.session.add_all([hospital, clinic, far])
    db.session.commit()
    authority = SectorAuthority(region_id=city.id, sector="卫生", name="成都市卫生健康委员会")
    db.session.add(authority)
    db.session.commit()
    people = {
        "learner": make_user(),
        "reviewer": make_user(Role.REVIEWER, employer_id=hospital.id),
        "employer_admin": make_user(Role.EMPLOYER_ADMIN, employer_id=hospital.id),
        "clinic_reviewer": make_user(Role.REVIEWER, employer_id=clinic.id),
        "far_reviewer": make_user(Role.REVIEWER, employer_id=far.id, region_id=other_city.id),
        "officer": make_user(Role.SECTOR_OFFICER, sector_authority_id=authority.id),
        "regulator": make_user(Role.REGULATOR),
        "province": make_user(Role.REGULATOR, region_id=city.parent_id),
        "other_regulator": make_user(Role.REGULATOR, region_id=other_city.id),
    }
    learner = people["learner"]
    late = TODAY - timedelta(days=3)
    for _ in range(3):
        _declaration(learner, hospital, late)
    _declaration(learner, hospital, TODAY)  # due today: not overdue yet
    _declaration(learner, clinic, TODAY + timedelta(days=2))
    _declaration(learner, far, TODAY + timedelta(days=1))
    for _ in range(2):
        _declaration(learner, clinic, late, DeclarationStatus.SECTOR_PENDING, authority, late)
    db.session.commit()
    return people


def test_each_reviewer_with_overdue_reviews_gets_one_notice_with_the_count(make_user, city, other_city):
    people = _world(make_user, city, other_city)
    done = review_reminders.remind_overdue(TODAY)
    assert (done.reviewers, done.sector_officers) == (2, 1)
    for who in ("reviewer", "employer_admin"):
        [notice] = _notices(people[who])
        assert notice.message == "有 3 份学时申报已超过单位审核期限，请尽快审核。"
        assert (notice.kind, notice.link, notice.dedupe_key) == (NoticeKind.OVERDUE.value, "/review/",
                                                                 "overdue:2025-06-16")
    [officer_notice] = _notices(people["officer"])
    assert officer_notice.message == "有 2 份学时申报已超过行业主管部门审核期限，请尽快审核。"
    assert officer_notice.link == "/sector/"
    # Nothing of theirs is overdue: the clinic's only pending one is not due, the far one neither.
    assert _notices(people["clinic_reviewer"]) == [] and _notices(people["far_reviewer"]) == []
    assert _notices(people["learner"]) == []


def test_regulators_get_their_regions_summary_by_employer_and_sector(make_user, city, other_city):
    people = _world(make_user, city, other_city)
    review_reminders.remind_overdue(TODAY)
    expected = ("辖区内有 5 份学时申报已超过审核期限：单位审核 3 份（成都市第一人民医院 3 份）；"
                "行业主管部门审核 2 份（成都市卫生健康委员会 2 份）。")
    for who in ("regulator", "province"):  # the province's reach takes in its cities
        [notice] = _notices(people[who])
        assert (notice.message, notice.link, notice.kind) == (expected, "/regulator/reviews", "overdue")
    assert _notices(people["other_regulator"]) == []  # nothing overdue in Mianyang


def test_a_rerun_the_same_day_makes_no_second_notice_and_the_next_day_reminds_again(make_user, city, other_city):
    people = _world(make_user, city, other_city)
    review_reminders.remind_overdue(TODAY)
    again = review_reminders.remind_overdue(TODAY)
    assert (again.reviewers, again.sector_officers, again.regulators) == (0, 0, 0)
    assert len(_notices(people["reviewer"])) == 1
    total = db.session.scalar(sa.select(sa.func.count(Notice.id)))
    assert total == 5  # reviewer, employer admin, officer, two regulators
    review_reminders.remind_overdue(TODAY + timedelta(days=1))
    assert [n.dedupe_key for n in _notices(people["reviewer"])] == ["overdue:2025-06-16", "overdue:2025-06-17"]


def test_someone_reminded_already_is_left_out_while_the_others_are_reminded(make_user, city, other_city):
    people = _world(make_user, city, other_city)
    db.session.add(Notice(user_id=people["reviewer"].id, message="x", kind="overdue", dedupe_key="overdue:2025-06-16"))
    db.session.commit()
    done = review_reminders.remind_overdue(TODAY)
    assert done.reviewers == 1
    assert len(_notices(people["reviewer"])) == 1 and len(_notices(people["employer_admin"])) == 1


def test_the_daily_job_reminds_and_mails_the_reviewer(make_user, city, other_city, monkeypatch, mailbox):
    people = _world(make_user, city, other_city)
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    assert jobs.remind_overdue_reviews.call_local() == {"reviewers": 2, "sector_officers": 1, "regulators": 2}
    run_queued()
    [mail] = mailbox.to(people["reviewer"].email)
    assert mail["subject"] == "【继续教育基地平台】审核超期提醒"
    assert "有 3 份学时申报已超过单位审核期限" in mail["body"] and "/review/" in mail["body"]
    assert jobs.remind_overdue_reviews.call_local() == {"reviewers": 0, "sector_officers": 0, "regulators": 0}
    run_queued()
    assert len(mailbox.to(people["reviewer"].email)) == 1
