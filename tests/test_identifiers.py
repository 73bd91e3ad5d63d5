"""One spelling per identifier (issue 13, finding 5): an ID number or a phone written in full-width or
Arabic-Indic digits, in groups or with an invisible character is the same number at registration, in the
lookups, in a roster import and in a certificate code, never a second account."""

from datetime import date

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from extensions import db
from models import Category, Certificate, HoursRecord, Role, User
from services import accounts, certificates, identifiers, resident_ids, roster
from services.errors import DomainError
from services.infra import clock
from tests.conftest import PASSWORD, by_id_number

ID_NUMBER = "11010519491231002X"
OTHER_ID_NUMBER = "51010419900307123" + resident_ids.check_character("51010419900307123")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
EXTENDED_ARABIC_INDIC = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")

SPELLINGS = {
    "arabic-indic": lambda n: n.translate(ARABIC_INDIC),
    "extended arabic-indic": lambda n: n.translate(EXTENDED_ARABIC_INDIC),
    "devanagari": lambda n: n.translate(DEVANAGARI),
    "full-width": lambda n: n.translate(FULL_WIDTH),
    "zero-width space inside": lambda n: n[:6] + "\u200b" + n[6:],
    "byte-order mark and bidi marks": lambda n: "\ufeff\u200e" + n + "\u200f",
    "en dash and ideographic space": lambda n: n[:6] + "\u2013" + n[6:14] + "\u3000" + n[14:],
}


def user_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(User.id)))


def register(city, **overrides):
    data = {"name": "王芳", "phone": "13800000000", "email": "taken@example.com", "password": PASSWORD,
            "id_number": ID_NUMBER, "region_id": city.id, "employer_name": "四川大学华西医院", "sector": "卫生",
            "professional_title": "副高级", "consent": accounts.PRIVACY_NOTICE_VERSION}
    data.update(overrides)
    return accounts.register_learner(data)


def form(city, **overrides) -> dict:
    data = {"name": "陈晓", "phone": "13912345678", "email": "chenxiao@example.com", "password": PASSWORD,
            "confirm": PASSWORD, "id_number": OTHER_ID_NUMBER, "region": str(city.id),
            "employer_name": "成都市第一人民医院", "sector": "卫生", "professional_title": "中级", "consent": "y"}
    data.update(overrides)
    return data


# --- the one function --------------------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_every_spelling_of_an_id_number_normalises_to_ascii(spelling):
    assert identifiers.id_number(spelling(ID_NUMBER)) == ID_NUMBER
    assert resident_ids.normalise(spelling(ID_NUMBER.lower())) == ID_NUMBER


@pytest.mark.parametrize("digits", ["١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "１１０１０５１９４９１２３１００２X", "²" * 17 + "X"])
def test_validation_takes_ascii_digits_only(digits):
    # resident_ids.problem() is given text that skipped normalisation: non-ASCII digits are refused, not read.
    assert resident_ids.problem(digits) == "身份证号前 17 位应为数字，最后一位为数字或 X"


def test_phone_and_code_normalise_the_same_way():
    assert identifiers.phone("１３９ ٠٠٠٠-0001\u200b") == "13900000001"
    assert identifiers.code(" ａｂｃd-2345\u200befgh ") == "ABCD2345EFGH"
    assert identifiers.is_ascii_digits("2026") and not identifiers.is_ascii_digits("２０２６")


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=1))
def test_a_plain_ascii_identifier_takes_the_short_way_to_the_same_spelling(text):
    # A leading space sends the text the long way (NFKC, character by character); the answer is the same.
    assert identifiers.canonical(text) == identifiers.canonical(" " + text) == text
    assert identifiers.compact(text) == identifiers.compact("- " + text) == text


# --- registration: one person, one account ------------------------------------------------------------------

@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_id_number_in_other_digits_cannot_register_a_second_account(client, city, spelling):
    register(city)
    before = user_count()
    response = client.post("/register", data=form(city, id_number=spelling(ID_NUMBER)))
    assert response.status_code == 200
    assert accounts.IDENTIFIER_TAKEN in response.text
    assert user_count() == before


def test_id_number_in_arabic_indic_digits_is_stored_in_ascii(client, city):
    response = client.post("/register", data=form(city, id_number=OTHER_ID_NUMBER.translate(ARABIC_INDIC)))
    assert response.status_code == 302
    user = db.session.execute(sa.select(User).where(User.phone == "13912345678")).scalar_one()
    assert resident_ids.decrypt(user.id_number_ciphertext) == OTHER_ID_NUMBER
    assert user.id_number_hmac == resident_ids.fingerprint(OTHER_ID_NUMBER)
    assert user.id_number_masked == resident_ids.mask(OTHER_ID_NUMBER)


def test_phone_in_full_width_digits_is_stored_in_ascii_and_signs_in(app, client, city):
    response = client.post("/register", data=form(city, phone="１３９ １２３４ ５６７８"))
    assert response.status_code == 302
    assert db.session.scalar(sa.select(User.phone).where(User.email == "chenxiao@example.com")) == "13912345678"
    signed_in = app.test_client().post("/login", data={"login": "13912345678", "password": PASSWORD})
    assert signed_in.status_code == 302


def test_phone_in_other_digits_is_the_same_taken_phone(city):
    register(city)
    with pytest.raises(DomainError) as refused:
        register(city, phone="١٣٨٠٠٠٠٠٠٠٠", email="", id_number=OTHER_ID_NUMBER)
    assert refused.value.message == accounts.IDENTIFIER_TAKEN


def test_numbers_written_in_chinese_numerals_are_refused_beside_the_field(city):
    # 一二三 are letters to Unicode, not digits: there is no number to normalise to, so it is refused.
    with pytest.raises(DomainError) as refused:
        register(city, id_number="一一〇一〇五一九四九一二三一〇〇二X")
    assert (refused.value.field, refused.value.message) == ("id_number", "身份证号前 17 位应为数字，最后一位为数字或 X")
    assert user_count() == 0



# --- lookups --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_learner_lookup_by_id_number_finds_every_spelling(city, spelling):
    learner = register(city)
    assert by_id_number(spelling(ID_NUMBER)) == learner


def test_certificate_code_typed_in_full_width_or_groups_is_found(city):
    learner = register(city)
    db.session.add(Certificate(code="ABCDEFGH2345", learner_id=learner.id, year=2025, summary={}))
    db.session.commit()
    for typed in ("ＡＢＣＤ ＥＦＧＨ ２３４５", "abcd-efgh-2345", "ABCDEFGH2345\u200b"):
        assert certificates.find(typed) is not None, typed


# --- the roster import ------------------------------------------------------------------------------------

@pytest.mark.parametrize("column", ["身份证号", "手机号"])
def test_roster_import_reads_other_digits_as_the_same_learner(monkeypatch, admin_and_base, make_course, make_user,
                                                              column):
    number = "51010419900101777" + resident_ids.check_character("51010419900101777")
    learner = make_user(Role.LEARNER, name="张三", phone="13900000777",
                        id_number_ciphertext=resident_ids.encrypt(number),
                        id_number_hmac=resident_ids.fingerprint(number), id_number_masked=resident_ids.mask(number))
    course = make_course(admin_and_base[1], start_date=date(2025, 12, 1), end_date=date(2025, 12, 2), hours=16,
                         capacity=10, category=Category.PROFESSIONAL)
    monkeypatch.setattr(clock, "today", lambda: date(2025, 12, 5))
    value = (number if column == "身份证号" else learner.phone).translate(ARABIC_INDIC)
    data = f"姓名,{column}\n张三,{value}\n".encode()

    report = roster.import_completions(admin_and_base[0], course, data)

    assert report.ok
    assert db.session.scalar(sa.select(HoursRecord.learner_id).where(HoursRecord.course_id == course.id)) == learner.id


# --- the API: ASCII digits only, said as a problem ----------------------------------------------------------

@pytest.mark.parametrize(("field", "value"), [
    ("id_number", ID_NUMBER.translate(ARABIC_INDIC)), ("id_number", ID_NUMBER.translate(FULL_WIDTH)),
    ("phone", "13800000000".translate(ARABIC_INDIC)), ("external_id", "ext-" + "12".translate(DEVANAGARI)),
])
def test_api_batch_refuses_identifiers_in_other_digits_with_a_problem(api, base_a, token_a, running, field, value):
    # The schema the OpenAPI document publishes says [0-9]; a client is told which item and field, and nothing
    # is recorded (the site's forms normalise instead: a person typed it, a program can send ASCII).
    course = running(base_a, hours=16)
    item = {"external_id": "ext-1", "course_id": course.id, "name": "张三", "phone": "13800000000", field: value}
    response = api.post("/api/v1/base/completions", json={"completions": [item]}, headers=token_a)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert any(error.get("field", "").endswith(field) for error in response.get_json().get("errors", []))
    assert db.session.scalar(sa.select(sa.func.count(HoursRecord.id))) == 0


# --- accounts made by a regulator ----------------------------------------------------------------------------

def test_a_base_admin_designated_by_an_odd_spelling_of_an_email_can_sign_in(app, make_user, city):
    from services import registry

    regulator = make_user(Role.REGULATOR, region_id=city.id)
    typed = ["ｎｅｗ.ａｄｍｉｎ@test.example", "new.admin@test.example\u200b"]
    _base, passwords = registry.designate_base(regulator, {
        "name": "成都市护理继续教育基地", "type": "city", "region_id": city.id, "admin_emails": typed})
    admins = db.session.scalars(sa.select(User).where(User.role == Role.BASE_ADMIN)).all()
    assert [admin.email for admin in admins] == ["new.admin@test.example"]
    (password,) = passwords.values()
    response = app.test_client().post("/login", data={"login": "new.admin@test.example", "password": password})
    assert response.status_code == 302


@pytest.mark.parametrize(("number", "mobile"), [
    ("15400000001", True), ("13900000000", True), ("12000000000", False), ("1540000000", False),
    ("154000000012", False), ("1540000000x", False), ("", False),
])
def test_one_mobile_rule_for_every_service_and_form(number, mobile):
    """services.identifiers.MOBILE is the rule staff accounts, employer logins, base applications and the
    forms' validator all read (it once stood in four places, one of them looser)."""
    from blueprints.validators import MOBILE_PATTERN
    from services import identifiers

    assert identifiers.is_mobile(number) is mobile
    assert MOBILE_PATTERN is identifiers.MOBILE
