"""Learner accounts: registration with a validated, encrypted resident ID number."""

from collections.abc import Sequence
from typing import NoReturn

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import Region, RegionLevel, Role, User
from services import audit, auth, identifiers, resident_ids
from services.errors import DomainError, Invalid, collect, in_order
from services.infra.transaction import unit_of_work


def cities() -> Sequence[Region]:
    return db.session.execute(
        sa.select(Region).where(Region.level == RegionLevel.CITY).order_by(Region.code)
    ).scalars().all()


# One answer whichever identifier is taken, naming none (OWASP ASVS 5.0 requirement 6.3.8: valid users cannot
# be deduced from error messages, response codes or times, "registration … must also have this protection").
# Without an SMS or e-mail check the registrant proves none of the three is theirs, so the answer says only
# that these details cannot open a new account, and where to go if they already have one.
IDENTIFIER_TAKEN = ("无法使用这些信息注册新账号。如果您以前注册过，请用手机号或邮箱直接登录；"
                    "忘记密码的，请联系所在地人社部门。")


# The version of the privacy notice (templates/auth/privacy.html) a registrant agrees to; its audit entry keeps it
# with the time of agreeing (个人信息保护法 art. 14, 29: consent to process the ID number, a sensitive datum).
PRIVACY_NOTICE_VERSION = "privacy-v1"
CONSENT_REQUIRED = "请阅读并同意《个人信息处理规则》后再注册"


# The registration form's fields, top to bottom: the first field at fault is the one Invalid names.
REGISTRATION_ORDER = ("name", "phone", "email", "password", "id_number", "region", "employer_name", "sector",
                      "professional_title", "consent")


def judge_registration(data: dict) -> tuple[Region, str]:
    """The rules of a registration that ask about no other account, every one of them, so that the form shows
    each fault in one round (blueprints.common_forms.judged_too calls it for a form its own validators
    refused); saves nothing. Returns the region and the ID number in its one spelling.

    :raise Invalid: each of ``consent`` (not the current PRIVACY_NOTICE_VERSION: no account is opened
        without consent to process the ID number, whoever calls: the form, a seed, a script), ``region``
        (not a city), ``id_number`` (invalid) and ``password`` (a line break, easy to guess) at fault.
    """
    problems: dict[str, str] = {}
    if data.get("consent") != PRIVACY_NOTICE_VERSION:
        problems["consent"] = CONSENT_REQUIRED
    # A learner belongs to a city: their hour rules, deadlines and employers are a city's (the form offers
    # cities(); this is the rule, for a forged choice too). An id beyond the column's range is no region.
    region_id = data.get("region_id")
    region = db.session.get(Region, region_id) if isinstance(region_id, int) and 0 < region_id < 2**31 else None
    if region is None or region.level != RegionLevel.CITY:
        problems["region"] = "请选择所在的市"
    id_number = resident_ids.normalise(data.get("id_number"))
    problem = resident_ids.problem(id_number)
    if problem:
        problems["id_number"] = problem
    phone, email = identifiers.phone(data.get("phone")), auth.normalise_login(data.get("email")) or ""
    name = (data.get("name") or "").strip()
    password = data.get("password") or ""
    if not password:  # the form says so first; zxcvbn itself fails on an empty password
        problems["password"] = "请设置密码"
    else:
        collect(problems, lambda: auth.check_new_password(password, user_inputs=[name, phone, email]), "password")
    if problems or region is None:
        raise Invalid(in_order(problems, REGISTRATION_ORDER))
    return region, id_number


def register_learner(data: dict) -> User:
    """Create a learner account.

    ``data``: name, phone, email (optional), password, id_number, employer_name, sector, region_id,
    professional_title, consent (the PRIVACY_NOTICE_VERSION agreed to, recorded in the ``auth.register`` audit
    entry). Phone, e-mail and ID number are stored in their one spelling (services.identifiers), so that a
    number typed in other digits is still the same number.
    :raise Invalid: as judge_registration (consent, a city, the ID number, the password), every field at fault.
    :raise DomainError: without a field, IDENTIFIER_TAKEN, when another account already has the phone, the
        e-mail or the ID number (audited, masked).
    """
    region, id_number = judge_registration(data)
    phone = identifiers.phone(data["phone"])
    email = auth.normalise_login(data.get("email")) or None
    fingerprint = resident_ids.fingerprint(id_number)
    user = User(
        name=data["name"].strip(), phone=phone, email=email, role=Role.LEARNER, region_id=region.id,
        id_number_ciphertext=resident_ids.encrypt(id_number), id_number_hmac=fingerprint,
        id_number_masked=resident_ids.mask(id_number), employer_name=(data.get("employer_name") or "").strip(),
        sector=(data.get("sector") or "").strip(), professional_title=(data.get("professional_title") or "").strip(),
    )
    # Hashed before the duplicate check, so that a taken identifier is answered after the same slow hash as
    # a new account: the time of the answer does not tell the two apart.
    user.set_password(data["password"])
    # Without an e-mail there is no e-mail to compare: "email == None" would be IS NULL, everybody without one.
    same = [User.phone == phone, User.id_number_hmac == fingerprint] + ([User.email == email] if email else [])
    taken = db.session.execute(sa.select(User.phone, User.email, User.id_number_hmac).where(sa.or_(*same))).all()
    if taken:
        hits = {"phone": False, "email": False, "id_number": False}
        for other_phone, other_email, other_hmac in taken:
            hits["phone"] |= other_phone == phone
            hits["email"] |= email is not None and other_email == email
            hits["id_number"] |= other_hmac == fingerprint
        _refused([name for name, hit in hits.items() if hit], phone, email, id_number, region.id)
    try:
        with unit_of_work():
            db.session.add(user)
            db.session.flush()
            # The entry's time is the time of consent; no new column holds it.
            audit.record(user, "auth.register", user, details={"consent": data.get("consent")})
    except IntegrityError:
        # A concurrent registration took the phone, email or ID number between the check and the insert
        # (the unit of work rolled it back).
        _refused(["concurrent"], phone, email, id_number, region.id)
    return user


def _refused(fields: list[str], phone: str, email: str | None, id_number: str, region_id: int) -> NoReturn:
    """Audit a registration refused for a taken identifier (masked: the log is read by regulators and is
    itself personal data) and raise the one neutral answer. The entry has no actor and no base, so it names
    the city chosen (``region_id``), by which the regulators of that city and its province see it
    (services.audit.entries_for)."""
    audit.record_now(None, "auth.register_refused", None, object_type="user", details={
        "taken": fields, "phone": auth.masked(phone), "email": auth.masked(email) if email else None,
        "id_number": resident_ids.mask(id_number), "region_id": region_id})
    raise DomainError(IDENTIFIER_TAKEN)
