"""Every kind of notice reaches its people with its kind (so that their choices of channel apply): review
results (inbox and e-mail, with the reason), waitlist promotion, employment, employer registration, class plan
decisions, base application decisions (an e-mail to the applicant, who has no account yet), course changes
(old → new) and cancellations (whose link still answers); no message carries a full ID number."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    BaseType,
    Category,
    Course,
    CourseStatus,
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    Employer,
    Enrollment,
    EnrollmentStatus,
    Notice,
    NoticeKind,
    OutboundMessage,
    Role,
    User,
)
from services import (
    base_applications,
    declarations,
    employers,
    employment,
    enrollment,
    evaluation,
    inbox,
    plans,
    resident_ids,
)
from services import courses as course_service
from services.infra import clock
from services.infra.queue import run_queued
from services.infra.transaction import unit_of_work
from tests.conftest import count_queries, login
from tests.test_base_applications import data_of, upload
from tests.test_declarations import on, regions  # noqa: F401  (fixtures of the employment world)
from tests.test_employers import data as employer_data
from tests.test_employment import w  # noqa: F401  (fixture)
from tests.test_evaluation import YEAR, after_the_year, evaluated_base, province, reference  # noqa: F401
from tests.test_regulator import START, plan_form, signed_in

ID_NUMBER = "51010419900307" + "771"
ID_NUMBER += resident_ids.check_character(ID_NUMBER)


@pytest.fixture
def app_config(tmp_path):
    """Evidence and application files go to the test's own folder."""
    return {"EVIDENCE_FOLDER": str(tmp_path / "evidence")}


def notices_of(user_id: int) -> list[Notice]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Notice).where(Notice.user_id == user_id).order_by(Notice.id)))


# --- review results ------------------------------------------------------------------------------------------

def test_a_rejected_declarations_learner_gets_the_notice_and_an_email_with_the_reason(make_user, mailbox):
    employer = Employer(name="成都市第一人民医院", region_id=make_user().region_id)
    db.session.add(employer)
    db.session.commit()
    learner = make_user(email="chen@test.example", employer_id=employer.id)
    reviewer = make_user(Role.REVIEWER, employer_id=employer.id)
    declaration = Declaration(learner_id=learner.id, employer_id=employer.id, kind=DeclarationKind.CONFERENCE,
                              category=Category.PROFESSIONAL, title="学术年会", earned_on=clock.today(),
                              year=clock.today().year, hours_claimed=2, due_on=clock.today())
    db.session.add(declaration)
    db.session.commit()

    declarations.review(reviewer, declaration.id, False, None, f"证明材料不清晰，身份证号 {ID_NUMBER} 与本人不符")
    run_queued()

    [notice] = notices_of(learner.id)
    assert notice.kind == NoticeKind.REVIEW.value and notice.link == "/me/declarations"
    assert "未通过单位审核，理由：证明材料不清晰" in notice.message
    [mail] = mailbox.to("chen@test.example")
    assert mail["subject"] == "【继续教育基地平台】学时申报审核结果"
    assert "证明材料不清晰" in mail["body"] and "/me/declarations" in mail["body"]
    assert "/account/notifications" in mail["body"]
    # No full ID number, in the inbox or the mail: masked as everywhere else.
    assert ID_NUMBER not in notice.message and ID_NUMBER not in mail["body"]
    assert resident_ids.mask(ID_NUMBER) in notice.message
    assert db.session.get(Declaration, declaration.id).status == DeclarationStatus.REJECTED


# --- waitlist, employment, employer registration, class plans ----------------------------------------------------

def test_waitlist_promotion_is_a_waitlist_notice(make_user, admin_and_base, make_course):
    course = make_course(admin_and_base[1], capacity=1)
    first, second = make_user(), make_user()
    held = enrollment.enroll(first, course.id).enrollment
    enrollment.enroll(second, course.id)

    enrollment.cancel(first, held.id)

    [notice] = notices_of(second.id)
    assert (notice.kind, notice.link) == (NoticeKind.WAITLIST.value, f"/courses/{course.id}")
    assert "候补已转为正式报名" in notice.message


def test_employment_decisions_are_employment_notices(w):  # noqa: F811
    employment.confirm(w.hospital_admin, employment.claim(w.learner, w.hospital.id).id)
    employment.refuse(w.clinic_admin, employment.claim(w.learner, w.clinic.id).id, "查无此人")

    kinds = [(n.kind, n.message[:14]) for n in notices_of(w.learner.id)]
    assert kinds == [("employment", "“成都市第一人民医院”已确认"), ("employment", "“成都市第三人民医院”未确认")]


def test_employer_registration_decisions_are_application_notices(city, regulators):
    admin = employers.register(employer_data(city, name="成都市妇幼保健院"))
    employers.decide(regulators["city"], admin.employer_id, False, "营业执照名称与填写不符")

    [notice] = notices_of(admin.id)
    assert (notice.kind, notice.link) == (NoticeKind.APPLICATION.value, "/employer/")
    assert "营业执照名称与填写不符" in notice.message


def test_class_plan_decisions_are_plan_notices(app, monkeypatch, admin_and_base, make_course, regulators):
    admin, base = admin_and_base
    course = make_course(base, plan_status=None, start_date=START, end_date=START + timedelta(days=1))
    monkeypatch.setattr(clock, "today", lambda: START - timedelta(days=20))
    assert signed_in(app, admin).post(f"/manage/bases/{base.id}/courses/{course.id}/plan",
                                      data=plan_form()).status_code == 302
    plan = plans.pending_plans(regulators["city"])[0]

    plans.decide_plan(regulators["city"], plan.id, False, "场地不符合要求")

    [notice] = notices_of(admin.id)
    assert notice.kind == NoticeKind.PLAN.value and "场地不符合要求" in notice.message


def test_an_evaluation_outcome_is_an_evaluation_notice_to_the_bases_admins(
        province, reference, evaluated_base, make_user, city, after_the_year):  # noqa: F811
    admin = make_user(Role.BASE_ADMIN)
    base = evaluated_base(BaseType.CITY, disclosure=False, admin=admin)
    evaluation.confirm(province, evaluation.run(province, YEAR, city.parent_id).id)

    [notice] = notices_of(admin.id)
    assert (notice.kind, notice.link) == (NoticeKind.EVALUATION.value, f"/manage/bases/{base.id}")
    assert f"{YEAR} 年度评估结论已确认" in notice.message


# --- course changed or cancelled -------------------------------------------------------------------------------

@pytest.fixture
def enrolled(make_user, admin_and_base, make_course):
    """A course with two learners holding a place, one on the waitlist and one who cancelled."""
    admin, base = admin_and_base
    course = make_course(base, capacity=2, place="培训楼 101")
    holders = [make_user(), make_user()]
    for learner in holders:
        enrollment.enroll(learner, course.id)
    waiting, gone = make_user(), make_user()
    enrollment.enroll(waiting, course.id)
    left = enrollment.enroll(gone, course.id).enrollment
    enrollment.cancel(gone, left.id)
    db.session.execute(sa.delete(Notice))
    db.session.commit()
    return admin, course, [*holders, waiting], gone


def test_a_course_change_tells_every_enrolled_and_waitlisted_learner_old_and_new(enrolled):
    admin, course, told, gone = enrolled
    old_start = course.start_date
    new_start = old_start + timedelta(days=7)

    course_service.update_course(admin, db.session.get(Course, course.id), {
        "place": "行政楼 305", "start_date": new_start, "end_date": new_start + timedelta(days=1),
        "description": "新的简介"})

    for learner in told:
        [notice] = notices_of(learner.id)
        assert notice.kind == NoticeKind.COURSE.value and notice.link == f"/courses/{course.id}"
        assert f"您报名的《{course.title}》有变更" in notice.message
        assert "培训地点：培训楼 101 → 行政楼 305" in notice.message
        assert (f"开始日期：{old_start.year}年{old_start.month}月{old_start.day}日 → "
                f"{new_start.year}年{new_start.month}月{new_start.day}日") in notice.message
        assert "简介" not in notice.message  # the description is the page's, not news
    assert notices_of(gone.id) == []


def test_an_edit_nobody_enrolled_cares_about_tells_nobody(enrolled):
    admin, course, told, _gone = enrolled
    course_service.update_course(admin, db.session.get(Course, course.id), {"description": "新的简介"})
    assert all(notices_of(learner.id) == [] for learner in told)


def test_the_recipients_are_one_query_however_many(make_user, admin_and_base, make_course):
    admin, base = admin_and_base

    def statements_for(n: int) -> int:
        course = make_course(base, capacity=None)
        for _ in range(n):
            enrollment.enroll(make_user(), course.id)
        with count_queries(db.engine) as statements:
            course_service.update_course(admin, db.session.get(Course, course.id), {"place": f"教室 {n}"})
        assert db.session.scalar(sa.select(sa.func.count(Notice.id)).where(Notice.link == f"/courses/{course.id}")) == n
        return len(statements)

    assert statements_for(2) == statements_for(7)


def test_a_cancelled_course_tells_everyone_and_its_link_answers_for_them_only(app, enrolled, make_user, mailbox):
    admin, course, told, gone = enrolled
    course_service.change_status(admin, db.session.get(Course, course.id), CourseStatus.CANCELLED, "讲师临时有事")
    run_queued()

    for learner in told:
        [notice] = notices_of(learner.id)
        assert (notice.kind, notice.message) == ("course", f"《{course.title}》已被基地取消：讲师临时有事")
        client = app.test_client()
        login(client, learner)
        page = client.get(notice.link)
        assert page.status_code == 200
        assert "本课程已被基地取消" in page.get_data(as_text=True) and "讲师临时有事" in page.get_data(as_text=True)
        assert len(mailbox.to(learner.email)) == 1  # fanned out, though inserted in bulk
    stranger = app.test_client()
    login(stranger, make_user())
    assert stranger.get(f"/courses/{course.id}").status_code == 404
    assert app.test_client().get(f"/courses/{course.id}").status_code == 404
    assert notices_of(gone.id) == []  # had cancelled before: not told


# --- base application decisions --------------------------------------------------------------------------------

def _application(city, n: int):
    application, token = base_applications.submit(
        data_of(city, n, contact_email=f"apply{n}@school.example"), [upload()])
    return application, token


def _checked() -> list[str]:
    return list(base_applications.CHECKLIST_KEYS)


def test_a_rejected_application_is_mailed_to_its_contact_with_the_reason(city, make_user, mailbox):
    regulator = make_user(Role.REGULATOR)
    application, token = _application(city, 1)
    base_applications.reject(regulator, application.id, "师资证明不全")
    run_queued()

    [mail] = mailbox.to("apply1@school.example")
    assert mail["subject"] == "【继续教育基地平台】基地申报未通过认定"
    assert "师资证明不全" in mail["body"] and "请使用提交申报时获得的查询链接查看详情" in mail["body"]
    assert token not in mail["body"]
    assert db.session.scalar(sa.select(OutboundMessage.kind)) == NoticeKind.APPLICATION


def test_a_withdrawn_application_is_mailed_to_its_contact(city, mailbox):
    _application_row, token = _application(city, 2)
    base_applications.withdraw(token, "不再申报")
    run_queued()
    [mail] = mailbox.to("apply2@school.example")
    assert "已撤回" in mail["body"] and token not in mail["body"]


def test_an_approved_application_tells_the_new_admin_in_the_inbox_and_by_one_email(city, make_user, mailbox):
    regulator = make_user(Role.REGULATOR)
    application, _token = _application(city, 3)
    base = base_applications.approve(regulator, application.id, "", _checked())
    run_queued()

    admin = db.session.scalar(sa.select(User).where(User.email == "apply3@school.example"))
    [notice] = notices_of(admin.id)
    assert (notice.kind, notice.link) == (NoticeKind.APPLICATION.value, f"/manage/bases/{base.id}")
    assert "已通过认定" in notice.message
    [mail] = mailbox.to("apply3@school.example")
    assert mail["subject"] == "【继续教育基地平台】基地申报与单位注册审核" and "已通过认定" in mail["body"]


# --- no full ID number -----------------------------------------------------------------------------------------

def test_notices_made_in_bulk_carry_no_full_id_number(make_user, mailbox):
    people = [make_user(), make_user()]
    with unit_of_work():
        inbox.notify_many(((p.id, f"学员 {ID_NUMBER} 的报名已取消") for p in people), "/me/",
                          kind=NoticeKind.COURSE)
    run_queued()
    for person in people:
        [notice] = notices_of(person.id)
        assert ID_NUMBER not in notice.message and resident_ids.mask(ID_NUMBER) in notice.message
        [mail] = mailbox.to(person.email)
        assert ID_NUMBER not in mail["body"]
    assert all(ID_NUMBER not in body for body in db.session.scalars(sa.select(OutboundMessage.body)))


def test_every_enrollment_state_left_is_as_it_was(enrolled):
    """The fixture's own sanity: two places held, one waiting, one cancelled."""
    _admin, course, _told, _gone = enrolled
    states = sorted(s.value for s in db.session.scalars(
        sa.select(Enrollment.status).where(Enrollment.course_id == course.id)))
    assert states == sorted([EnrollmentStatus.CONFIRMED.value] * 2 + [EnrollmentStatus.WAITLISTED.value,
                                                                       EnrollmentStatus.CANCELLED.value])
