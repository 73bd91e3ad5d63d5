"""Resident ID numbers (GB 11643): validation, normalisation, masking, encryption at rest and the keyed hash."""

import base64
from datetime import date, timedelta

import pytest
from cryptography.fernet import InvalidToken

from services import resident_ids
from services.infra import clock


def valid_number(first17: str) -> str:
    """``first17`` completed with its GB 11643 check character."""
    return first17 + resident_ids.check_character(first17)


# The standard's own example (ends in X) and made-up numbers with correct check characters.
VALID = ("11010519491231002X", valid_number("51010419900307123"), valid_number("44030419850612301"),
         valid_number("37060220001229001"))


# --- validation ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("number", VALID)
def test_valid_numbers_have_no_problem(number):
    assert resident_ids.problem(resident_ids.normalise(number)) is None


def test_check_character_can_be_x():
    assert resident_ids.check_character("11010519491231002") == "X"
    assert resident_ids.check_character("41010219881111234") == "X"
    assert resident_ids.problem("41010219881111234X") is None


def test_lowercase_x_is_normalised_to_uppercase():
    assert resident_ids.normalise("11010519491231002x") == "11010519491231002X"
    assert resident_ids.problem(resident_ids.normalise("11010519491231002x")) is None


@pytest.mark.parametrize("number", VALID)
def test_every_wrong_check_character_is_refused(number):
    for wrong in "0123456789X":
        if wrong != number[-1]:
            assert resident_ids.problem(number[:17] + wrong) == "身份证号校验位不正确，请核对"


@pytest.mark.parametrize("birth", ["19900230", "19901301", "19900000", "20230229", "18991231"])
def test_impossible_birth_date_is_refused(birth):
    number = valid_number(f"510104{birth}123")  # a correct check character: only the date is wrong
    assert resident_ids.problem(number) == "身份证号中的出生日期无效"


def test_leap_day_birth_date_is_accepted():
    assert resident_ids.problem(valid_number("51010420000229123")) is None


def test_future_birth_date_is_refused():
    tomorrow = clock.today() + timedelta(days=1)
    number = valid_number(f"510104{tomorrow:%Y%m%d}123")
    assert resident_ids.problem(number) == "身份证号中的出生日期无效"


def test_birth_date_of_today_is_accepted(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 3, 1))
    assert resident_ids.problem(valid_number("51010420260301123")) is None
    assert resident_ids.problem(valid_number("51010420260302123")) == "身份证号中的出生日期无效"


@pytest.mark.parametrize("number", ["", VALID[1][:17], VALID[1] + "1", VALID[1][:15], "1" * 20])
def test_numbers_not_18_characters_long_are_refused(number):
    assert resident_ids.problem(resident_ids.normalise(number)) == "身份证号应为 18 位"


@pytest.mark.parametrize("number", ["51010419900307A237", "A10104199003071237", "5101041990030712Y7",
                                    "51010419900307123Y", "51010419900307#237", "5101041990.3071237"])
def test_letters_or_symbols_are_refused(number):
    assert resident_ids.problem(resident_ids.normalise(number)) == "身份证号前 17 位应为数字，最后一位为数字或 X"


def test_x_anywhere_but_last_is_refused():
    assert resident_ids.problem("X1010519491231002" + "0") == "身份证号前 17 位应为数字，最后一位为数字或 X"


def test_full_width_digits_and_spaces_are_normalised():
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "11010519491231002") + "ｘ"
    assert resident_ids.normalise(f"\u3000{full_width} ") == "11010519491231002X"
    assert resident_ids.problem(resident_ids.normalise(full_width)) is None


# --- masking ---------------------------------------------------------------------------------------------

def test_mask_keeps_first_four_and_last_four():
    assert resident_ids.mask("510104199003071234") == "5101**********1234"
    assert resident_ids.mask("11010519491231002X") == "1101**********002X"


def test_mask_hides_the_birth_date():
    number = VALID[1]
    masked = resident_ids.mask(number)
    assert len(masked) == 18
    assert number[6:14] not in masked


# --- encryption and fingerprint --------------------------------------------------------------------------

@pytest.mark.parametrize("number", VALID)
def test_encrypt_then_decrypt_gives_the_number_back(app, number):
    assert resident_ids.decrypt(resident_ids.encrypt(number)) == number


def test_ciphertext_differs_each_time_and_hides_the_number(app):
    number = VALID[1]
    tokens = {resident_ids.encrypt(number) for _ in range(5)}
    assert len(tokens) == 5
    for token in tokens:
        assert number not in token
        assert number[6:14] not in token
        assert number not in base64.urlsafe_b64decode(token).decode("latin-1")


def test_ciphertext_cannot_be_read_with_another_key(app):
    token = resident_ids.encrypt(VALID[1])
    app.config["ID_NUMBER_KEY"] = base64.urlsafe_b64encode(b"another key of exactly 32 bytes!").decode()
    with pytest.raises(InvalidToken):
        resident_ids.decrypt(token)


def test_fingerprint_is_stable_and_distinguishes_numbers(app):
    first = resident_ids.fingerprint(VALID[1])
    assert resident_ids.fingerprint(VALID[1]) == first
    assert resident_ids.fingerprint(VALID[2]) != first
    assert len(first) == 64
    assert VALID[1] not in first


def test_fingerprint_depends_on_the_key(app):
    before = resident_ids.fingerprint(VALID[1])
    app.config["ID_NUMBER_KEY"] = base64.urlsafe_b64encode(b"another key of exactly 32 bytes!").decode()
    after = resident_ids.fingerprint(VALID[1])
    assert after != before
    assert resident_ids.fingerprint(VALID[1]) == after


def test_fingerprint_and_encryption_use_different_derived_keys(app):
    # Fingerprint and encryption use keys derived for different purposes from the one secret.
    assert resident_ids._derived_key(b"fingerprint") != resident_ids._derived_key(b"encryption")


def test_spaces_and_hyphens_that_group_the_digits_are_removed():
    number = VALID[1]
    grouped = f" {number[:6]} {number[6:14]}-{number[14:]} "
    assert resident_ids.normalise(grouped) == number
    assert resident_ids.problem(resident_ids.normalise(grouped)) is None
