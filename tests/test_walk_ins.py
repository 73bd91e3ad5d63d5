"""Walk-in trainees registered at the desk: an unclaimed account and its invitation, a link to the account an ID
number already has (never a second one), neutral refusals, the base's list of them and the invitation again."""

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    AuditLog,
    Channel,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    Notice,
    NoticeKind,
    OutboundMessage,
    Role,
    User,
)
from services import resident_ids, walk_ins
from services.errors import DomainError, Invalid, NotAllowed
from tests.conftest import login, page_queries


def id_number(n: int) -> str:
    first17 = f"51010419850312{n % 1000:03d}"
    return first17 + resident_ids.check_character(first17)


NUMBER, PHONE = id_number(41), "13812345641"


@pytest.fixture
def desk(app, admin_and_base, make_course):
    admin, base = admin_and_base
    course = make_course(base, capacity=2)
    browser = app.test_client()
    assert login(browser, admin).status_code == 302
    return admin, base, course, browser


@pytest.fixture
def make_learner(make_user):
    def make(name, number, phone, **kw):
        return make_user(name=name, phone=phone, id_number_ciphertext=resident_ids.encrypt(number),
                         id_number_hmac=resident_ids.fingerprint(number), id_number_masked=resident_ids.mask(number),
                         **kw)
    return make


def post_desk(browser, course, name="王小明", number=NUMBER, phone=PHONE):
    return browser.post(f"/manage/bases/{course.base_id}/courses/{course.id}/roster/walk-in",
                        data={"name": name, "id_number": number, "phone": phone})


def field_errors(html: str) -> list[str]:
    return re.findall(r'<div class="invalid-feedback d-block">(.*?)</div>', html)


def accounts() -> list[User]:
    db.session.expire_all()
    return db.session.scalars(sa.select(User).where(User.role == Role.LEARNER).order_by(User.id)).all()


def invitations() -> list[OutboundMessage]:
    return db.session.scalars(sa.select(OutboundMessage).where(OutboundMessage.sms_template == "notice")
                              .order_by(OutboundMessage.id)).all()


def test_desk_registration_creates_an_unclaimed_account_on_the_roster_and_queues_the_invitation(desk, city):
    admin, base, course, browser = desk

    response = post_desk(browser, course, number=f" {NUMBER[:6]} {NUMBER[6:].lower()} ", phone="138 1234 5641")

    assert response.status_code == 302 and response.location.endswith(f"/courses/{course.id}/roster")
    [user] = accounts()
    assert (user.name, user.phone, user.id_number_masked) == ("王小明", PHONE, resident_ids.mask(NUMBER))
    assert resident_ids.decrypt(user.id_number_ciphertext) == NUMBER
    assert user.password_hash == "" and not user.claimed and not user.check_password("")
    assert user.registered_by_base_id == base.id and user.region_id == city.id and user.email is None
    enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.learner_id == user.id))
    assert (enrollment.course_id, enrollment.status, enrollment.source) == (
        course.id, EnrollmentStatus.CONFIRMED, EnrollmentSource.DESK)
    assert db.session.get(type(course), course.id).seats_taken == 1
    [sms] = invitations()
    assert (sms.channel, sms.kind, sms.recipient, sms.user_id) == (Channel.SMS, NoticeKind.ACCOUNT, PHONE, user.id)
    assert json.loads(sms.body) == {"kind": "账号认领", "summary": f"{base.name}已为您登记，请到平台认领账号"}
    # The audit log keeps the numbers masked only.
    entries = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "walk_in.register")).all()
    assert [(e.object_type, e.object_id, e.base_id, e.actor_id) for e in entries] == [
        ("user", user.id, base.id, admin.id)]
    logged = json.dumps([e.details for e in db.session.scalars(sa.select(AuditLog))], ensure_ascii=False)
    assert NUMBER not in logged and PHONE not in logged
    # The roster shows the trainee, masked.
    page = browser.get(f"/manage/bases/{base.id}/courses/{course.id}/roster").text
    assert "王小明" in page and resident_ids.mask(NUMBER) in page and NUMBER not in page


def test_an_id_number_with_an_account_is_linked_never_given_a_second(desk, make_learner):
    admin, base, course, browser = desk
    learner = make_learner("王小明", NUMBER, "13900000041")

    response = post_desk(browser, course, phone="13700000041")  # another phone: the account's stays

    assert response.status_code == 302
    assert [u.id for u in accounts()] == [learner.id]
    assert db.session.get(User, learner.id).phone == "13900000041"
    assert db.session.scalar(sa.select(Enrollment.learner_id).where(Enrollment.course_id == course.id)) == learner.id
    assert invitations() == []
    # The person hears of it in their inbox (and by e-mail or text message as they chose).
    assert db.session.scalars(sa.select(Notice.message).where(Notice.user_id == learner.id)).all() == [
        f"{base.name}已在现场为您报名课程“{course.title}”"]
    # The service answers the same: the account, not created.
    user, created = walk_ins.register_walk_in(admin, base, "王小明", NUMBER, "13700000041")
    assert (user.id, created) == (learner.id, False)
    assert len(accounts()) == 1


def test_a_name_that_is_not_the_accounts_is_refused_without_naming_it(desk, make_learner):
    admin, base, course, browser = desk
    make_learner("王小明", NUMBER, "13900000041", employer_name="某某医院")

    response = post_desk(browser, course, name="王晓明")

    assert response.status_code == 200
    assert field_errors(response.text) == [walk_ins.NAME_MISMATCH]
    assert "王小明" not in response.text and "某某医院" not in response.text and "13900000041" not in response.text
    assert len(accounts()) == 1
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id))) == 0


def test_a_phone_another_account_holds_is_refused(desk, make_learner):
    admin, base, course, browser = desk
    make_learner("李四", id_number(42), PHONE)

    response = post_desk(browser, course)

    assert field_errors(response.text) == [walk_ins.PHONE_TAKEN]
    assert "李四" not in response.text
    assert len(accounts()) == 1 and invitations() == []


@pytest.mark.parametrize(("field", "value", "message"), [
    ("id_number", NUMBER[:17] + ("0" if NUMBER[-1] != "0" else "1"), "身份证号校验位不正确，请核对"),
    ("id_number", "12345", "身份证号应为 18 位"),
    ("phone", "1381234564", "请填写 11 位手机号"),
    ("phone", "02861234567", "请填写 11 位手机号"),
    ("name", "", "请填写姓名"),
])
def test_invalid_details_are_refused_beside_their_field(desk, field, value, message):
    _admin, _base, course, browser = desk
    response = post_desk(browser, course, **{"name": "王小明", "number": NUMBER, "phone": PHONE,
                                            **{("number" if field == "id_number" else field): value}})
    assert response.status_code == 200
    assert field_errors(response.text) == [message]
    assert accounts() == []


def test_every_fault_of_a_walk_in_is_named_at_once():
    with pytest.raises(Invalid) as refused:
        walk_ins.person(" ", "12345", "1381234564")
    assert refused.value.fields == {
        "name": "请填写姓名", "id_number": "身份证号应为 18 位", "phone": "请填写 11 位手机号"}


@pytest.mark.parametrize("name", ["王小明", ""], ids=["name-given", "name-left-empty"])
def test_the_desk_shows_every_fault_beside_its_field_in_one_round(desk, name):
    """A wrong ID number and a wrong phone together; with the name left empty too, the form's own refusal
    (before, the service was not asked, and the number and the phone came back only on the next submit)."""
    _admin, _base, course, browser = desk
    response = post_desk(browser, course, name=name, number=NUMBER[:17] + ("0" if NUMBER[-1] != "0" else "1"),
                         phone="02861234567")
    assert response.status_code == 200
    shown = {field: re.findall(r'<div class="invalid-feedback d-block">(.*?)</div>', error)
             for field, error in re.findall(r'<div id="([a-z_]+)-error">(.*?</div>)</div>', response.text)}
    assert shown == {**({"name": ["请填写姓名"]} if not name else {}),
                     "id_number": ["身份证号校验位不正确，请核对"], "phone": ["请填写 11 位手机号"]}
    assert accounts() == [] and invitations() == []


def test_a_full_course_registers_nobody(desk, make_learner):
    admin, base, course, browser = desk
    for n in (51, 52):
        walk_ins.register_at_desk(admin, course, f"学员{n}", id_number(n), f"136000000{n}")

    response = post_desk(browser, course)

    assert response.status_code == 302
    assert len(accounts()) == 2  # the third, refused for want of a seat, has no account either
    with browser.session_transaction() as session:
        assert ("danger", "课程名额已满，不能再登记学员") in session["_flashes"]


def test_someone_already_on_the_roster_is_refused(desk):
    admin, base, course, browser = desk
    walk_ins.register_at_desk(admin, course, "王小明", NUMBER, PHONE)
    with pytest.raises(DomainError, match="已在本课程名单中"):
        walk_ins.register_at_desk(admin, course, "王小明", NUMBER, PHONE)
    assert len(accounts()) == 1


def test_only_the_bases_admin_may_register(desk, make_user, make_base):
    _admin, base, course, _browser = desk
    stranger = make_user(Role.BASE_ADMIN)
    make_base(admin=stranger)
    with pytest.raises(NotAllowed):
        walk_ins.register_walk_in(stranger, base, "王小明", NUMBER, PHONE)
    assert accounts() == []


def test_another_bases_admin_gets_404_and_learns_nothing(app, desk, make_user, make_base):
    admin, base, course, _browser = desk
    user, _created = walk_ins.register_walk_in(admin, base, "王小明", NUMBER, PHONE)
    other = make_user(Role.BASE_ADMIN)
    own = make_base(admin=other)
    browser = app.test_client()
    assert login(browser, other).status_code == 302

    assert browser.get(f"/manage/bases/{base.id}/walk-ins").status_code == 404
    assert browser.post(f"/manage/bases/{base.id}/walk-ins/{user.id}/invite").status_code == 404
    assert post_desk(browser, course, number=id_number(43), phone="13812345643").status_code == 404
    # Their own base's pages do not reach another base's walk-in.
    assert browser.post(f"/manage/bases/{own.id}/walk-ins/{user.id}/invite").status_code == 404
    own_page = browser.get(f"/manage/bases/{own.id}/walk-ins").text
    assert "王小明" not in own_page
    assert len(accounts()) == 1 and len(invitations()) == 1


def test_the_walk_ins_page_lists_claimed_and_unclaimed_masked(desk):
    admin, base, _course, browser = desk
    waiting, _ = walk_ins.register_walk_in(admin, base, "王小明", NUMBER, PHONE)
    claimed, _ = walk_ins.register_walk_in(admin, base, "李小红", id_number(44), "13812345644")
    claimed.set_password("另一个很长的密码 correct horse")
    db.session.commit()

    page = browser.get(f"/manage/bases/{base.id}/walk-ins").text

    rows = dict(re.findall(r'<tr data-user="(\d+)">(.*?)</tr>', page, re.S))
    assert "未认领" in rows[str(waiting.id)] and "重新发送认领短信" in rows[str(waiting.id)]
    assert "已认领" in rows[str(claimed.id)] and "重新发送认领短信" not in rows[str(claimed.id)]
    assert "138****5641" in page and resident_ids.mask(NUMBER) in page
    assert PHONE not in page and NUMBER not in page
    assert 'href="/claim"' in page


def test_the_invitation_is_sent_again_at_most_once_in_ten_minutes(desk):
    admin, base, _course, browser = desk
    user, _ = walk_ins.register_walk_in(admin, base, "王小明", NUMBER, PHONE)
    url = f"/manage/bases/{base.id}/walk-ins/{user.id}/invite"

    browser.post(url)  # within ten minutes of the first
    assert len(invitations()) == 1
    for row in invitations():
        row.created_at -= timedelta(minutes=11)
    db.session.commit()
    assert browser.post(url).status_code == 302
    assert len(invitations()) == 2
    browser.post(url)
    assert len(invitations()) == 2
    with browser.session_transaction() as session:
        assert ("danger", "每个账号 10 分钟内只能发送一次认领短信，请稍后再试") in session["_flashes"]


def test_a_claimed_account_gets_no_invitation(desk):
    admin, base, _course, _browser = desk
    user, _ = walk_ins.register_walk_in(admin, base, "王小明", NUMBER, PHONE)
    user.set_password("另一个很长的密码 correct horse")
    db.session.commit()
    with pytest.raises(DomainError, match="已认领"):
        walk_ins.resend_invitation(admin, base, user.id)


def test_a_provincial_base_leaves_the_city_to_the_person(admin_and_base, make_user, make_base, city):
    admin = make_user(Role.BASE_ADMIN)
    base = make_base(admin=admin, region_id=city.parent_id)
    user, _ = walk_ins.register_walk_in(admin, base, "王小明", NUMBER, PHONE)
    assert user.region_id is None
    other, _ = walk_ins.register_walk_in(admin, base, "李小红", id_number(44), "13812345644", region_id=city.id)
    assert other.region_id == city.id
    with pytest.raises(DomainError, match="请选择所在的市"):
        walk_ins.register_walk_in(admin, base, "张三", id_number(45), "13812345645", region_id=city.parent_id)


def test_the_walk_ins_page_queries_do_not_grow_with_its_rows(desk):
    admin, base, _course, browser = desk
    walk_ins.register_walk_in(admin, base, "王小明", NUMBER, PHONE)
    admin_id, base_id = admin.id, base.id
    few = page_queries(browser, f"/manage/bases/{base.id}/walk-ins")
    admin, base = db.session.get(User, admin_id), db.session.get(type(base), base_id)
    for n in range(60, 70):
        walk_ins.register_walk_in(admin, base, f"学员{n}", id_number(n), f"137000000{n}")
    assert len(page_queries(browser, f"/manage/bases/{base.id}/walk-ins")) == len(few)
