"""flask normalise-identifiers (a second read of issue 13, finding 3): rows stored before identifiers had one
spelling (an ID number in other digits, an e-mail or phone with full-width or invisible characters) are found,
re-spelt with their HMAC and mask, audited masked; collisions are reported and left; a dry run writes nothing."""

import json

import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, Role, User
from services import accounts, resident_ids, respell
from services.errors import DomainError
from tests.conftest import PASSWORD, by_id_number

ID_NUMBER = "11010519491231002X"
OTHER = "51010419900307123" + resident_ids.check_character("51010419900307123")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))}


def full_width(text: str) -> str:
    return "".join(FULL_WIDTH.get(c, c) for c in text)


def with_old_id_number(user: User, spelt: str) -> User:
    """As registration stored it before f7af603: encrypted, hashed and masked in the spelling typed."""
    user.id_number_ciphertext = resident_ids.encrypt(spelt)
    user.id_number_hmac, user.id_number_masked = resident_ids.fingerprint(spelt), resident_ids.mask(spelt)
    return user


@pytest.fixture
def old_rows(make_user):
    """One account per old spelling, and two pairs that become one identifier once re-spelt."""
    rows = {
        "arabic_id": with_old_id_number(make_user(Role.LEARNER, phone="13900000001"), ID_NUMBER.translate(ARABIC)),
        "wide_email": make_user(Role.LEARNER, email=full_width("Wang.Fang") + "\u200b@example.com",
                                phone="13900000002"),
        "grouped_phone": make_user(Role.LEARNER, phone="139 0000\u20110003"),
        "wide_phone": make_user(Role.LEARNER, phone=full_width("13900000004")),
        "dup_ascii": make_user(Role.LEARNER, email="dup@example.com", phone="13900000005"),
        "dup_wide": make_user(Role.LEARNER, email=full_width("DUP") + "@example.com", phone="13900000006"),
        "id_ascii": with_old_id_number(make_user(Role.LEARNER, phone="13900000007"), OTHER),
        "id_wide": with_old_id_number(make_user(Role.LEARNER, phone="13900000008"), full_width(OTHER)),
        "fine": with_old_id_number(make_user(Role.LEARNER, email="fine@example.com", phone="13900000009"),
                                   "51010419900307" + "456" + resident_ids.check_character("51010419900307456")),
    }
    db.session.commit()
    return {name: user.id for name, user in rows.items()}


def stored(user_id: int) -> User:
    db.session.expire_all()
    return db.session.get(User, user_id)


def sign_in(app, login: str):
    return app.test_client().post("/login", data={"login": login, "password": PASSWORD})


def test_a_dry_run_lists_the_changes_and_collisions_and_writes_nothing(app, old_rows):
    before = {user.id: (user.email, user.phone, user.id_number_hmac) for user in db.session.scalars(sa.select(User))}

    report = respell.normalise_identifiers()

    assert not report.applied
    assert {(c.user_id, c.field) for c in report.changed} == {
        (old_rows["arabic_id"], "id_number"), (old_rows["wide_email"], "email"),
        (old_rows["grouped_phone"], "phone"), (old_rows["wide_phone"], "phone")}
    assert sorted((name, ids) for name, _masked, ids in report.collisions) == [
        ("email", sorted([old_rows["dup_ascii"], old_rows["dup_wide"]])),
        ("id_number", sorted([old_rows["id_ascii"], old_rows["id_wide"]]))]
    assert report.id_numbers_read == 4
    after = {user.id: (user.email, user.phone, user.id_number_hmac) for user in db.session.scalars(sa.select(User))}
    assert after == before
    assert not db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)
                                 .where(AuditLog.action == "identity.respelt"))


def test_applying_respells_so_that_sign_in_finds_them_and_an_id_number_cannot_register_again(app, old_rows, city):
    assert sign_in(app, "wang.fang@example.com").status_code == 200  # the old spelling: nobody found
    assert by_id_number(ID_NUMBER) is None  # the ASCII number's HMAC is another: it would register

    report = respell.normalise_identifiers(apply=True)

    assert report.applied and len(report.changed) == 4
    assert stored(old_rows["wide_email"]).email == "wang.fang@example.com"
    assert stored(old_rows["grouped_phone"]).phone == "13900000003"
    assert stored(old_rows["wide_phone"]).phone == "13900000004"
    learner = stored(old_rows["arabic_id"])
    assert resident_ids.decrypt(learner.id_number_ciphertext) == ID_NUMBER
    assert learner.id_number_hmac == resident_ids.fingerprint(ID_NUMBER)
    assert learner.id_number_masked == resident_ids.mask(ID_NUMBER)
    assert by_id_number(ID_NUMBER).id == learner.id
    for login in ("wang.fang@example.com", "13900000003", "139 0000 0004"):
        assert sign_in(app, login).status_code == 302, login
    with pytest.raises(DomainError):
        accounts.register_learner({"consent": accounts.PRIVACY_NOTICE_VERSION,
                                   "name": "冒名", "phone": "13700000000", "email": "", "password": PASSWORD,
                                   "id_number": ID_NUMBER, "region_id": city.id})
    # Collisions are left exactly as they were: nothing merged, nothing changed.
    assert stored(old_rows["dup_wide"]).email == full_width("DUP") + "@example.com"
    assert resident_ids.decrypt(stored(old_rows["id_wide"]).id_number_ciphertext) == full_width(OTHER)


def test_every_change_is_audited_masked_for_the_regulators_of_the_accounts_region(app, old_rows, make_user):
    respell.normalise_identifiers(apply=True)

    entries = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "identity.respelt")).all()
    assert sorted((e.object_id, e.details["field"]) for e in entries) == sorted(
        (c, f) for c, f in ((old_rows["arabic_id"], "id_number"), (old_rows["wide_email"], "email"),
                            (old_rows["grouped_phone"], "phone"), (old_rows["wide_phone"], "phone")))
    everything = json.dumps([e.details for e in entries], ensure_ascii=False)
    for secret in (ID_NUMBER, ID_NUMBER[6:14], ID_NUMBER.translate(ARABIC), "13900000003", "wang.fang"):
        assert secret not in everything, secret
    learner = stored(old_rows["arabic_id"])
    regulator = make_user(Role.REGULATOR, region_id=learner.region_id)
    page = app.test_client()
    assert page.post("/login", data={"login": regulator.email, "password": PASSWORD}).status_code == 302
    assert page.get("/regulator/audit?action=identity.").text.count("identity.respelt") == 4


def test_running_it_again_changes_nothing(app, old_rows):
    respell.normalise_identifiers(apply=True)

    again = respell.normalise_identifiers(apply=True)

    assert again.changed == [] and len(again.collisions) == 2


def test_the_command_is_a_dry_run_unless_told_to_apply(app, runner, old_rows):
    dry = runner.invoke(args=["normalise-identifiers"])

    assert dry.exit_code == 0, dry.output
    assert "试运行" in dry.output and "4 项" in dry.output and "冲突 2 处" in dry.output
    assert "wang.fang" not in dry.output and ID_NUMBER not in dry.output
    assert stored(old_rows["wide_phone"]).phone == full_width("13900000004")
    applied = runner.invoke(args=["normalise-identifiers", "--apply"])
    assert applied.exit_code == 0 and "已更改 4 项" in applied.output
    assert stored(old_rows["wide_phone"]).phone == "13900000004"


@pytest.mark.postgres
class TestOnPostgreSQL:
    """The query that finds old e-mails and phones is a regular expression there (GLOB on SQLite)."""

    @pytest.fixture
    def app(self, pg_app):
        return pg_app

    def test_a_dry_run_finds_the_same_rows(self, app, old_rows):
        test_a_dry_run_lists_the_changes_and_collisions_and_writes_nothing(app, old_rows)

    def test_applying_respells(self, app, old_rows, city):
        test_applying_respells_so_that_sign_in_finds_them_and_an_id_number_cannot_register_again(app, old_rows, city)
