"""Roster files that name trainees with no account: their walk-in accounts are created with the completions, all
or none; a row whose ID number has an account is matched as before; the API creates no accounts."""

import io
import json
import re
from datetime import date

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    AuditLog,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    HoursRecord,
    OutboundMessage,
    OutboxStatus,
    Role,
    User,
)
from services import completions, resident_ids, roster
from services.infra import clock
from services.infra.queue import huey, run_queued
from tests.conftest import count_queries, login

START, END, AFTER = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 10)


def id_number(n: int) -> str:
    first17 = f"51010419880515{n % 1000:03d}"
    return first17 + resident_ids.check_character(first17)


@pytest.fixture
def course(monkeypatch, admin_and_base, make_course):
    """A two-day class with 10 seats that has ended; today is a week after it."""
    monkeypatch.setattr(clock, "today", lambda: START)
    made = make_course(admin_and_base[1], start_date=START, end_date=END, hours=16, capacity=10)
    monkeypatch.setattr(clock, "today", lambda: AFTER)
    return made


@pytest.fixture
def admin_client(app, admin_and_base):
    browser = app.test_client()
    assert login(browser, admin_and_base[0]).status_code == 302
    with browser.session_transaction() as session:
        session.pop("_flashes", None)
    return browser


@pytest.fixture
def registered(make_user):
    """赵一, registered with ID number 1 and phone 13900000001."""
    number = id_number(1)
    return make_user(name="赵一", phone="13900000001", id_number_ciphertext=resident_ids.encrypt(number),
                     id_number_hmac=resident_ids.fingerprint(number), id_number_masked=resident_ids.mask(number))


def upload(client, course, text: str):
    return client.post(f"/manage/bases/{course.base_id}/courses/{course.id}/roster/import",
                       data={"roster": (io.BytesIO(text.encode()), "名单.csv")}, content_type="multipart/form-data")


def import_errors(html: str) -> list[tuple[str, str]]:
    if 'id="import-errors"' not in html:
        return []
    table = html[html.index('id="import-errors"'):html.index("</table>", html.index('id="import-errors"'))]
    return re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", table)


def learners() -> dict[str, User]:
    db.session.expire_all()
    return {u.name: u for u in db.session.scalars(sa.select(User).where(User.role == Role.LEARNER))}


def everything() -> dict:
    """What an import may write: to compare before and after a refused one."""
    db.session.expire_all()
    return {table: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in (User.__table__, Enrollment.__table__, HoursRecord.__table__, OutboundMessage.__table__,
                          AuditLog.__table__)}


HEADER = "姓名,身份证号,手机号,学时\n"


def test_two_trainees_without_accounts_get_accounts_and_their_completions(admin_and_base, admin_client, course, city):
    _admin, base = admin_and_base
    data = HEADER + f"钱二,{id_number(2)},13800000002,\n孙三,{id_number(3).lower()},138 0000 0003,8\n"

    response = upload(admin_client, course, data)

    assert response.status_code == 302, import_errors(response.text)
    with admin_client.session_transaction() as session:
        assert session["_flashes"] == [("success", "导入成功：2 名学员记录结业，其中 2 人此前未在线报名；"
                                                   "为 2 名未注册学员新建了账号，已短信通知其认领")]
    people = learners()
    assert set(people) == {"钱二", "孙三"}
    for name, number, phone in (("钱二", id_number(2), "13800000002"), ("孙三", id_number(3), "13800000003")):
        user = people[name]
        assert (user.phone, user.id_number_hmac, user.registered_by_base_id, user.region_id) == (
            phone, resident_ids.fingerprint(number), base.id, city.id)
        assert resident_ids.decrypt(user.id_number_ciphertext) == number and user.id_number_masked
        assert not user.claimed and user.active and user.session_token
    credited = dict(db.session.execute(sa.select(HoursRecord.learner_id, HoursRecord.hours)).tuples().all())
    assert credited == {people["钱二"].id: 16, people["孙三"].id: 8}
    enrollments = db.session.scalars(sa.select(Enrollment)).all()
    assert {(e.learner_id, e.status, e.source, e.completed_on) for e in enrollments} == {
        (people[n].id, EnrollmentStatus.COMPLETED, EnrollmentSource.IMPORT, END) for n in ("钱二", "孙三")}
    sms = db.session.scalars(sa.select(OutboundMessage).order_by(OutboundMessage.id)).all()
    assert [(m.recipient, m.user_id, m.sms_template) for m in sms] == [
        ("13800000002", people["钱二"].id, "notice"), ("13800000003", people["孙三"].id, "notice")]
    assert json.loads(sms[0].body)["summary"] == f"{base.name}已为您登记，请到平台认领账号"
    audited = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "walk_in.register")).all()
    assert sorted(e.object_id for e in audited) == sorted(u.id for u in people.values())
    assert all(e.details["via"] == "roster" and "*" in e.details["id_number"] for e in audited)


def test_a_registered_trainee_is_matched_and_a_stranger_created_in_one_file(admin_client, course, registered):
    data = HEADER + f"赵一,{id_number(1)},13900000001,\n钱二,{id_number(2)},13800000002,\n"

    assert upload(admin_client, course, data).status_code == 302

    people = learners()
    assert set(people) == {"赵一", "钱二"} and people["赵一"].id == registered.id
    assert people["赵一"].registered_by_base_id is None
    assert db.session.scalar(sa.select(sa.func.count(OutboundMessage.id))) == 1


BAD = [
    pytest.param("周四,{n4},13800000004,99", "学时应为 1 到 16 之间的整数", id="hours"),
    pytest.param("周四,{n4x},13800000004,", "身份证号校验位不正确，请核对", id="check-digit"),
    # The ID number is 赵一's: matched as before, under his name only.
    pytest.param("赵二,{n1},13900000001,", "未找到姓名与手机号、身份证号都相符的注册学员", id="name-of-another"),
    # Nobody has the number, but the phone is 赵一's: no account for two people with one phone.
    pytest.param("周四,{n4},13900000001,", "未找到姓名与手机号、身份证号都相符的注册学员", id="phone-taken"),
    # Both are needed to create an account.
    pytest.param("周四,{n4},,", "未找到姓名与身份证号都相符的注册学员", id="no-phone"),
    pytest.param("周四,,13800000004,", "未找到姓名与手机号都相符的注册学员", id="no-id-number"),
    pytest.param("钱二,{n2},13800000002,", "与第 2 行重复", id="same-person-twice"),
    pytest.param("周四,{n4},13800000002,", "与第 2 行的手机号相同，不能为两人创建账号", id="one-phone-two-people"),
]


@pytest.mark.parametrize(("row", "reason"), BAD)
def test_one_bad_row_saves_nothing_and_creates_no_account(admin_client, course, registered, row, reason):
    numbers = {"n1": id_number(1), "n2": id_number(2), "n4": id_number(4),
               "n4x": id_number(4)[:17] + ("0" if id_number(4)[-1] != "0" else "1")}
    before = everything()
    data = HEADER + f"钱二,{id_number(2)},13800000002,\n{row.format(**numbers)}\n孙三,{id_number(3)},13800000003,\n"

    response = upload(admin_client, course, data)

    assert response.status_code == 200
    assert import_errors(response.text) == [("3", reason)]
    assert everything() == before
    assert set(learners()) == {"赵一"}


def test_a_file_refused_for_seats_creates_no_account(admin_client, course):
    course.capacity = 1
    db.session.commit()
    before = everything()
    response = upload(admin_client, course, HEADER + f"钱二,{id_number(2)},13800000002,\n"
                                                     f"孙三,{id_number(3)},13800000003,\n")
    assert response.status_code == 200 and import_errors(response.text)
    assert everything() == before


def test_the_api_creates_no_accounts(admin_and_base, course):
    admin, base = admin_and_base
    with pytest.raises(completions.Invalid) as refused:
        completions.push(admin, base, [{"course_id": course.id, "name": "钱二", "phone": "13800000002",
                                        "id_number": id_number(2), "external_id": "x-1"}])
    assert [r.message for r in refused.value.refusals] == ["未找到姓名与手机号、身份证号都相符的注册学员"]
    assert learners() == {}


def test_the_queries_of_an_import_do_not_grow_with_its_walk_ins(admin_and_base, make_course, monkeypatch):
    admin, base = admin_and_base
    monkeypatch.setattr(clock, "today", lambda: START)
    small, large = (make_course(base, start_date=START, end_date=END, capacity=None) for _ in range(2))
    monkeypatch.setattr(clock, "today", lambda: AFTER)

    def run(target, first: int, n: int) -> int:
        data = HEADER + "".join(f"学员{i},{id_number(i)},138{i:08d},\n" for i in range(first, first + n))
        db.session.expire_all()
        with count_queries(db.engine) as statements:
            report = roster.import_completions(admin, target, data.encode())
        assert report.created == n
        return len(statements)

    assert run(small, 100, 3) == run(large, 200, 60)


def test_the_invitations_are_sent_once_the_import_commits(admin_client, course):
    assert upload(admin_client, course, HEADER + f"钱二,{id_number(2)},13800000002,\n").status_code == 302
    assert huey.pending_count() == 1  # the delivery, queued by the commit
    run_queued()
    db.session.expire_all()
    [sms] = db.session.scalars(sa.select(OutboundMessage)).all()
    assert sms.status == OutboxStatus.SENT and sms.recipient == "13800000002"
