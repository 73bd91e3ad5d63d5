"""Learner accounts: registration with a validated, encrypted resident ID number."""

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import Employer, Region, RegionLevel, Role, User
from services import identity
from services.errors import DomainError


def cities() -> list[Region]:
    return db.session.execute(
        sa.select(Region).where(Region.level == RegionLevel.CITY).order_by(Region.code)
    ).scalars().all()


def find_by_id_number(id_number: str) -> User | None:
    return db.session.execute(
        sa.select(User).where(User.id_number_hmac == identity.fingerprint(identity.normalise(id_number)))
    ).scalar_one_or_none()


def register_learner(data: dict) -> User:
    """Create a learner account.

    ``data``: name, phone, email (optional), password, id_number, employer_name, sector, region_id,
    professional_title.
    :raise DomainError: with ``field`` set, for an invalid ID number or a phone, email or ID number that
        another account already has.
    """
    id_number = identity.normalise(data["id_number"])
    problem = identity.problem(id_number)
    if problem:
        raise DomainError(problem, field="id_number")
    phone = data["phone"].strip()
    email = (data.get("email") or "").strip().lower() or None
    fingerprint = identity.fingerprint(id_number)
    taken = db.session.execute(
        sa.select(User.phone, User.email, User.id_number_hmac).where(
            sa.or_(User.phone == phone, User.email == email, User.id_number_hmac == fingerprint)
        )
    ).all()
    for other_phone, other_email, other_hmac in taken:
        if other_phone == phone:
            raise DomainError("该手机号已注册，请直接登录", field="phone")
        if email and other_email == email:
            raise DomainError("该邮箱已注册，请直接登录", field="email")
        if other_hmac == fingerprint:
            raise DomainError("该身份证号已注册，请直接登录", field="id_number")
    user = User(
        name=data["name"].strip(), phone=phone, email=email, role=Role.LEARNER, region_id=data["region_id"],
        id_number_ciphertext=identity.encrypt(id_number), id_number_hmac=fingerprint,
        id_number_masked=identity.mask(id_number), employer_name=(data.get("employer_name") or "").strip(),
        sector=(data.get("sector") or "").strip(), professional_title=(data.get("professional_title") or "").strip(),
    )
    user.set_password(data["password"])
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # A concurrent registration took the phone, email or ID number between the check and the insert.
        db.session.rollback()
        raise DomainError("该手机号、邮箱或身份证号已注册，请直接登录", field="phone") from None
    return user


def employers_near(user) -> list[Employer]:
    """Employers of the user's city and province, for choosing one."""
    if user.region_id is None:
        return []
    region = db.session.get(Region, user.region_id)
    ids = [region.id] + ([region.parent_id] if region.parent_id else [])
    return db.session.execute(
        sa.select(Employer).where(Employer.region_id.in_(ids)).order_by(Employer.name)
    ).scalars().all()


def set_employer(user, employer_id: int) -> None:
    """:raise DomainError: an employer not offered to the user."""
    employer = next((e for e in employers_near(user) if e.id == employer_id), None)
    if employer is None:
        raise DomainError("请选择列表中的工作单位", field="employer")
    user.employer_id, user.employer_name = employer.id, employer.name
    db.session.commit()
