"""Closing a learner's account (services.account_closing, /account/close): what SECURITY.md says is kept stays
(hours, enrollments, reviewed declarations and their evidence, certificates, employment history, the audit log,
the name and the ID number's keyed hash and mask), the rest is erased; the phone and e-mail are free for a new
account, a certificate still verifies, the account can no longer sign in. And registration without consent is
refused by the service itself."""

from datetime import date, timedelta
from io import BytesIO
from itertools import count

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from extensions import db
from models import (
    AccountCode,
    AuditLog,
    Category,
    Certificate,
    Channel,
    CodePurpose,
    Declaration,
    DeclarationStatus,
    Employer,
    Employment,
    EmploymentStatus,
    HoursRecord,
    HoursSource,
    Notice,
    NoticeKind,
    NoticePreference,
    OutboundMessage,
    Role,
    User,
)
from models._common import utcnow
from seeding.demo import seed_reference
from services import (
    account_closing,
    accounts,
    certificates,
    declarations,
    inbox,
    messaging,
    personal_data,
    resident_ids,
)
from services.errors import DomainError
from services.infra import clock, evidence_files
from services.infra.queue import run_queued
from services.infra.transaction import unit_of_work
from tests.conftest import PASSWORD, employ, login

_people = count(1)
TODAY = date(2025, 6, 16)
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def app_config(tmp_path):
    return {"EVIDENCE_FOLDER": str(tmp_path / "evidence")}


@pytest.fixture
def chengdu(app, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    return seed_reference()["510100"]


def id_number(n: int) -> str:
    first17 = f"51010419880101{n:03d}"
    return first17 + resident_ids.check_character(first17)


def register(region, n: int | None = None, **overrides) -> User:
    n = n if n is not None else next(_people)
    return accounts.register_learner({
        "consent": accounts.PRIVACY_NOTICE_VERSION, "name": "张晓明", "phone": f"1360000{n:04d}",
        "email": f"closing{n}@test.example", "password": PASSWORD, "id_number": id_number(n), "region_id": region.id,
        "employer_name": "成都市第一人民医院", "sector": "卫生", "professional_title": "中级", **overrides})


def declare(learner, title: str) -> Declaration:
    data = {"kind": "conference", "category": None, "title": title, "organiser": "成都市医学会",
            "earned_on": clock.today(), "minutes": 100, "days": None, "hours": None}
    return declarations.declare(learner, data, [FileStorage(BytesIO(PDF), "证明.pdf", content_type="application/pdf")])


class World:
    pass


@pytest.fixture
def world(chengdu, make_user):
    """A learner with a bit of everything: hours and a certificate, an approved and a pending declaration with
    evidence, notices, a notice choice, a one-time code, outbox rows and a pending claim to a second employer."""
    w = World()
    w.hospital = Employer(name="成都市第一人民医院", region_id=chengdu.id)
    w.clinic = Employer(name="成都市第三人民医院", region_id=chengdu.id)
    db.session.add_all([w.hospital, w.clinic])
    db.session.commit()
    w.learner = register(chengdu)
    w.phone, w.email, w.id_number = w.learner.phone, w.learner.email, id_number_of(w.learner)
    employ(w.learner, w.hospital)
    w.reviewer = make_user(Role.REVIEWER, employer_id=w.hospital.id, region_id=chengdu.id)
    db.session.add(HoursRecord(learner_id=w.learner.id, year=clock.today().year, category=Category.PUBLIC,
                               hours=30, source=HoursSource.IMPORT, note="人工智能与健康"))
    db.session.commit()
    w.certificate = certificates.issue(w.learner, clock.today().year)
    w.reviewed = declare(w.learner, "已审核的会议")
    declarations.review(w.reviewer, w.reviewed.id, True, None, "")
    w.pending = declare(w.learner, "待审核的会议")
    w.pending_file = evidence_files.path_of(w.pending.evidence[0])
    w.reviewed_file = evidence_files.path_of(w.reviewed.evidence[0])
    messaging.set_choices(w.learner, [(NoticeKind.REVIEW, Channel.SMS)])
    with unit_of_work():
        inbox.notify(w.learner.id, "欢迎使用", "/me/", kind=NoticeKind.GENERAL)
        messaging.send_direct(Channel.SMS, w.phone, sms_template="code", sms_params={"code": "123456"},
                              user_id=w.learner.id)
        db.session.add(AccountCode(user_id=w.learner.id, purpose=CodePurpose.RESET, channel=Channel.SMS,
                                   target=w.phone, digest="d" * 64, expires_at=utcnow() + timedelta(minutes=10)))
        db.session.add(Employment(learner_id=w.learner.id, employer_id=w.clinic.id, status=EmploymentStatus.PENDING))
    return w


def id_number_of(user: User) -> str:
    return resident_ids.decrypt(user.id_number_ciphertext)


def count_of(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


# --- the service -----------------------------------------------------------------------------------------

def test_closing_erases_what_security_md_lists_and_keeps_the_records_the_law_needs(world):
    learner = world.learner
    hmac, masked, token = learner.id_number_hmac, learner.id_number_masked, learner.session_token

    account_closing.close_account(learner, PASSWORD)

    db.session.expire_all()
    learner = db.session.get(User, learner.id)
    # erased
    assert (learner.phone, learner.email, learner.password_hash, learner.id_number_ciphertext) == (None, None, "", None)
    assert (learner.professional_title, learner.sector, learner.employer_name) == ("", "", "")
    assert learner.active is False and learner.closed_at is not None and learner.session_token != token
    for model, column in ((Notice, Notice.user_id), (NoticePreference, NoticePreference.user_id),
                          (AccountCode, AccountCode.user_id), (OutboundMessage, OutboundMessage.user_id)):
        assert count_of(model, column == learner.id) == 0, model.__name__
    pending = db.session.get(Declaration, world.pending.id)
    assert pending.status == DeclarationStatus.WITHDRAWN and pending.evidence == []
    assert not world.pending_file.exists()
    assert count_of(Employment, Employment.learner_id == learner.id,
                    Employment.status == EmploymentStatus.PENDING) == 0
    # kept
    assert learner.name == "张晓明" and learner.id_number_hmac == hmac and learner.id_number_masked == masked
    assert learner.id_number_hmac == resident_ids.fingerprint(world.id_number)
    assert count_of(HoursRecord, HoursRecord.learner_id == learner.id) == 2  # the import and the approved declaration
    reviewed = db.session.get(Declaration, world.reviewed.id)
    assert reviewed.status == DeclarationStatus.APPROVED and reviewed.reviewer_id == world.reviewer.id
    assert len(reviewed.evidence) == 1 and world.reviewed_file.exists()
    assert count_of(Certificate, Certificate.learner_id == learner.id) == 1
    assert count_of(Employment, Employment.learner_id == learner.id,
                    Employment.status == EmploymentStatus.CONFIRMED) == 1
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "account.closed"))
    assert entry.actor_id == learner.id
    assert world.phone not in str(entry.details) and world.email not in str(entry.details)
    assert count_of(AuditLog, AuditLog.actor_id == learner.id) > 1  # the earlier entries stay too


def test_a_withdrawn_declaration_can_no_longer_be_reviewed(world):
    account_closing.close_account(world.learner, PASSWORD)
    with pytest.raises(DomainError):
        declarations.review(world.reviewer, world.pending.id, True, None, "")
    db.session.expire_all()
    assert db.session.get(Declaration, world.pending.id).status == DeclarationStatus.WITHDRAWN
    assert count_of(HoursRecord, HoursRecord.declaration_id == world.pending.id) == 0


def test_a_wrong_password_closes_nothing(world):
    notices = count_of(Notice, Notice.user_id == world.learner.id)
    with pytest.raises(DomainError) as refused:
        account_closing.close_account(world.learner, "not the password")
    assert refused.value.field == "password"
    db.session.expire_all()
    assert world.learner.closed_at is None and world.learner.phone == world.phone
    assert count_of(Notice, Notice.user_id == world.learner.id) == notices > 0


def test_staff_accounts_and_closed_accounts_cannot_be_closed_here(world):
    with pytest.raises(DomainError):
        account_closing.close_account(world.reviewer, PASSWORD)
    account_closing.close_account(world.learner, PASSWORD)
    with pytest.raises(DomainError):
        account_closing.close_account(world.learner, PASSWORD)


def test_the_phone_and_email_are_free_for_a_new_account_but_the_id_number_is_not(world, chengdu):
    account_closing.close_account(world.learner, PASSWORD)

    newcomer = register(chengdu, n=900, phone=world.phone, email=world.email)
    assert newcomer.phone == world.phone and newcomer.email == world.email
    # The keyed hash stays (the records remain the person's): the same ID number opens no second account.
    with pytest.raises(DomainError) as refused:
        register(chengdu, n=901, id_number=world.id_number)
    assert refused.value.message == accounts.IDENTIFIER_TAKEN


def test_the_certificate_still_verifies_after_closing(app, world):
    account_closing.close_account(world.learner, PASSWORD)

    response = app.test_client().get(f"/verify/{world.certificate.code}")
    assert response.status_code == 200 and "证书有效" in response.text
    assert "张**" in response.text and world.learner.id_number_masked in response.text


def test_a_closed_account_cannot_sign_in_and_its_sessions_are_over(app, world):
    client = app.test_client()
    assert login(client, world.learner).status_code == 302
    account_closing.close_account(world.learner, PASSWORD)

    assert client.get("/me/").status_code == 302  # the old session no longer signs anyone in
    for login_name in (world.phone, world.email):
        response = app.test_client().post("/login", data={"login": login_name, "password": PASSWORD})
        assert response.status_code != 302


def test_no_messages_reach_a_closed_account(world, mailbox):
    account_closing.close_account(world.learner, PASSWORD)
    with unit_of_work():
        inbox.notify(world.learner.id, "迟到的通知", "/me/")
    run_queued()
    assert mailbox.messages == []


# --- the page --------------------------------------------------------------------------------------------

def test_the_page_says_what_is_kept_and_closing_signs_out(app, world):
    client = app.test_client()
    login(client, world.learner)
    page = client.get("/account/close")
    assert page.status_code == 200
    assert 'id="kept"' in page.text and "证书" in page.text and 'id="erased"' in page.text

    wrong = client.post("/account/close", data={"password": "wrong one", "understood": "y"})
    assert wrong.status_code == 400 and "密码不正确" in wrong.text
    unconfirmed = client.post("/account/close", data={"password": PASSWORD})
    assert unconfirmed.status_code == 400
    db.session.expire_all()
    assert world.learner.closed_at is None

    done = client.post("/account/close", data={"password": PASSWORD, "understood": "y"})
    assert done.status_code == 302
    db.session.expire_all()
    assert world.learner.closed_at is not None
    assert client.get("/me/").status_code == 302


# --- /me/data.json ---------------------------------------------------------------------------------------

def test_own_data_includes_employment_history_and_notice_choices(world):
    data = personal_data.own_data(world.learner)
    employers = {(row["employer"], row["status"]) for row in data["employment"]}
    assert employers == {("成都市第一人民医院", "confirmed"), ("成都市第三人民医院", "pending")}
    choices = {(row["kind"], row["channel"]): row["enabled"] for row in data["notice_choices"]}
    assert choices[(NoticeKind.REVIEW.label, Channel.SMS.label)] is True
    assert choices[(NoticeKind.REVIEW.label, Channel.EMAIL.label)] is False


# --- consent ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("consent", [None, "", "y", "privacy-v0", True])
def test_the_service_refuses_a_registration_without_consent(chengdu, consent):
    with pytest.raises(DomainError) as refused:
        register(chengdu, n=950, consent=consent)
    assert refused.value.field == "consent"
    assert count_of(User, User.phone == "13600000950") == 0
