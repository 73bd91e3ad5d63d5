"""Resident ID numbers (GB 11643-1999): validation, encryption at rest, a keyed hash, masking.

The number itself is only ever stored encrypted (Fernet, with a key from the environment); uniqueness is
enforced on an HMAC of it, and pages show the masked form (5101**********1234).
"""

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import date

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from services import identifiers
from services.infra import clock

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"


# The one spelling of an ID number (services.identifiers): ASCII digits of any script's, upper-case X, without
# grouping spaces, dashes or invisible characters. The same function, under the name this module's callers use.
normalise = identifiers.id_number


def check_character(first17: str) -> str:
    return CHECK_CHARACTERS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def problem(id_number: str) -> str | None:
    """Why ``id_number`` (normalised) is not a valid resident ID number, or None if it is."""
    if len(id_number) != 18:
        return "身份证号应为 18 位"
    # ASCII only: isdigit() alone takes "١" or "²", which would be stored (and hashed) as another number.
    if not identifiers.is_ascii_digits(id_number[:17]) or not (
        identifiers.is_ascii_digits(id_number[17]) or id_number[17] == "X"
    ):
        return "身份证号前 17 位应为数字，最后一位为数字或 X"
    try:
        born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return "身份证号中的出生日期无效"
    if born > clock.today() or born.year < 1900:
        return "身份证号中的出生日期无效"
    if check_character(id_number[:17]) != id_number[17]:
        return "身份证号校验位不正确，请核对"
    return None


def mask(id_number: str) -> str:
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def _derived_key(purpose: bytes) -> bytes:
    secret = base64.urlsafe_b64decode(current_app.config["ID_NUMBER_KEY"])
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"jidi id-number " + purpose).derive(secret)


def encrypt(id_number: str) -> str:
    return Fernet(base64.urlsafe_b64encode(_derived_key(b"encryption"))).encrypt(id_number.encode()).decode()


def decrypt(token: str) -> str:
    return Fernet(base64.urlsafe_b64encode(_derived_key(b"encryption"))).decrypt(token.encode()).decode()


def fingerprint(id_number: str) -> str:
    """A keyed hash of the number: equal numbers match, and the hash alone reveals nothing."""
    return hmac.new(_derived_key(b"fingerprint"), id_number.encode(), hashlib.sha256).hexdigest()


def keyed_digests(purpose: bytes, texts: Iterable[str]) -> list[str]:
    """Keyed hashes of texts that hold personal data, under a key of their own ``purpose``: equal texts
    match, and nobody without the key can test a guess (an ID number has few enough values to try)."""
    key = _derived_key(purpose)
    return [hmac.new(key, text.encode(), hashlib.sha256).hexdigest() for text in texts]
