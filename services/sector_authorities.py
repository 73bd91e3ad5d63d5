"""Sector authorities (行业主管部门) of a region, created by its regulators with their officer accounts."""

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from extensions import db
from models import SECTORS, Region, Role, SectorAuthority, User
from services import audit, auth, policies, staff_accounts
from services.actors import Actor
from services.errors import DomainError, Invalid
from services.infra.transaction import unit_of_work


@dataclass(frozen=True)
class AuthorityRow:
    authority: SectorAuthority
    officers: int
    active_officers: int


def _row_id(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31 else None


def of_region(actor: Actor) -> list[AuthorityRow]:
    """The sector authorities in the regulator's reach (policies.sector_authorities_in_reach), by region then
    sector, each with its officer counts. Two queries (the authorities with their counts, their regions)."""
    active = sa.func.count(User.id).filter(User.active.is_(True))
    rows = db.session.execute(
        sa.select(SectorAuthority, sa.func.count(User.id), active)
        .outerjoin(User, sa.and_(User.sector_authority_id == SectorAuthority.id, User.role == Role.SECTOR_OFFICER))
        .where(policies.sector_authorities_in_reach(actor))
        .options(selectinload(SectorAuthority.region).joinedload(Region.parent))
        .group_by(SectorAuthority.id)
        .order_by(SectorAuthority.region_id, SectorAuthority.sector)
    ).all()
    return [AuthorityRow(authority, count, active_count) for authority, count, active_count in rows]


def authority(actor: Actor, authority_id: int) -> SectorAuthority:
    """One sector authority in the regulator's reach, with its region.

    :raise LookupError: no such authority, or another region's (policies.may_oversee_sector_authority).
    """
    found = db.session.execute(
        sa.select(SectorAuthority).where(SectorAuthority.id == _row_id(authority_id))
        .options(joinedload(SectorAuthority.region).joinedload(Region.parent))
    ).scalar_one_or_none()
    if found is None or not policies.may_oversee_sector_authority(actor, found):
        raise LookupError(authority_id)
    return found


def officers(actor: Actor, found: SectorAuthority) -> Sequence[User]:
    """The authority's officer accounts, oldest first. One query.

    :raise LookupError: another region's authority.
    """
    if not policies.may_oversee_sector_authority(actor, found):
        raise LookupError(found.id)
    return db.session.execute(
        sa.select(User).where(User.sector_authority_id == found.id, User.role == Role.SECTOR_OFFICER)
        .order_by(User.id)
    ).scalars().all()


def create(actor: Actor, region_id: int, sector: str, name: str, officer_data: dict) -> SectorAuthority:
    """Create the sector authority of ``sector`` in a region in the regulator's reach, with its first officer
    account (``officer_data``: name, email, phone optional, password; fields ``officer_…`` on a refusal).

    :raise LookupError: the region is not in the actor's reach (policies.in_reach; anyone but a regulator).
    :raise Invalid: each field at fault: a sector not in models.SECTORS or one the region already has an
        authority for, an empty or long name, the officer's account (services.staff_accounts.build).
    """
    checked = _row_id(region_id)  # a forged id (beyond the column's range) is no region
    if checked is None or not policies.in_reach(actor, checked):
        raise LookupError(region_id)
    region_id = checked
    problems: dict[str, str] = {}
    name = (name or "").strip()
    if sector not in SECTORS:
        problems["sector"] = "请选择列出的行业"
    else:
        existing = db.session.scalar(sa.select(SectorAuthority.name).where(
            SectorAuthority.region_id == region_id, SectorAuthority.sector == sector))
        if existing is not None:
            problems["sector"] = f"该地区已有{sector}行业主管部门：{existing}"
    if not name:
        problems["name"] = "请填写主管部门名称"
    elif len(name) > 128:
        problems["name"] = "主管部门名称最多 128 个字"
    officer = None
    try:
        officer = staff_accounts.build(Role.SECTOR_OFFICER, officer_data, region_id=region_id, prefix="officer_")
    except Invalid as error:
        problems.update(error.fields)
    if problems or officer is None:
        raise Invalid(problems)
    found = SectorAuthority(region_id=region_id, sector=sector, name=name, created_by_id=actor.id)
    try:
        with unit_of_work():
            db.session.add(found)
            db.session.flush()
            officer.sector_authority_id = found.id
            db.session.add(officer)
            db.session.flush()
            audit.record(actor, "sector_authority.create", found,
                         details={"region_id": region_id, "sector": sector, "name": name})
            _record_officer(actor, found, officer)
    except IntegrityError:
        # A concurrent request made the same region's sector, or took the e-mail, between check and insert.
        raise DomainError("该地区的这个行业已有主管部门，或该邮箱已有账号，请刷新后重试", field="sector") from None
    return found


def add_officer(actor: Actor, authority_id: int, data: dict) -> User:
    """Add an officer account to a sector authority in the regulator's reach (``data``: name, email, phone
    optional, password).

    :raise LookupError: no such authority, or another region's.
    :raise Invalid: the account's fields at fault (services.staff_accounts.build).
    """
    found = authority(actor, authority_id)
    officer = staff_accounts.build(Role.SECTOR_OFFICER, data, region_id=found.region_id,
                                   sector_authority_id=found.id)
    try:
        with unit_of_work():
            db.session.add(officer)
            db.session.flush()
            _record_officer(actor, found, officer)
    except IntegrityError:
        raise DomainError("该邮箱或手机号已有账号", field="email") from None
    return officer


def _record_officer(actor: Actor, found: SectorAuthority, officer: User) -> None:
    # The e-mail masked, the phone not at all: the log is no address book.
    audit.record(actor, "sector_authority.add_officer", found,
                 details={"officer_id": officer.id, "email": auth.masked(officer.email or "")})
