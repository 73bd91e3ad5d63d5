"""A learner's own profile: name, professional title, sector and region, and when the region may change."""

from dataclasses import dataclass

import sqlalchemy as sa

from extensions import db
from models import PROFESSIONAL_TITLES, SECTORS, Declaration, DeclarationStatus, HoursRecord, Region, RegionLevel, User
from services import audit, policies
from services.errors import Invalid, NotAllowed
from services.infra import clock
from services.infra.transaction import unit_of_work

NAME_MAX = 64
# The fields a learner edits here, in the order they are judged and listed in the audit entry.
FIELDS = ("name", "professional_title", "sector", "region")
REGION_LOCKED = ("本年度已有学时记录或待审核的学时申报，本年度的学时要求已按现所在地区确定；"
                 "所在地区请在下一年度再修改")
PENDING = (DeclarationStatus.PENDING, DeclarationStatus.SECTOR_PENDING)


@dataclass(frozen=True)
class RegionState:
    """Whether the learner's region may change now, and the year whose hour rules follow from it."""

    year: int
    locked: bool  # hours or a pending declaration this year: the region stays until next year
    pending: int  # declarations waiting for a review (each keeps the authority it was filed with)


def region_state(learner: User) -> RegionState:
    """The current year's state of the learner's region. Two counting queries."""
    year = clock.today().year
    hours = db.session.execute(sa.select(sa.func.count()).select_from(HoursRecord).where(
        HoursRecord.learner_id == learner.id, HoursRecord.year == year)).scalar_one()
    pending, this_year = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.case((Declaration.year == year, 1))))
        .where(Declaration.learner_id == learner.id, Declaration.status.in_(PENDING))).one()
    return RegionState(year=year, locked=bool(hours or this_year), pending=pending)


def update_profile(learner: User, data: dict) -> list[str]:
    """Change the learner's own name, professional title, sector and region (``data``: name,
    professional_title, sector, region_id); returns the fields that changed (none: nothing is written).

    All or nothing: every field is judged before any is changed. The region decides the year's hour rules, so it
    changes only while the learner has no hours and no pending declaration this year (region_state). The
    sector decides which authority reviews a new declaration; a pending one keeps the authority stored on it.
    :raise NotAllowed: the user is not a learner.
    :raise Invalid: beside each field at fault: an empty or too long name or title, a sector not of SECTORS, a
        region that is no city (a province, an unknown id), a region change in a year with hours.
    """
    if not policies.may_enter(learner, "learner"):
        raise NotAllowed("仅学员可修改个人资料")
    name, title, sector, region = _judged(learner, data)
    new = {"name": name, "professional_title": title, "sector": sector, "region": region.id}
    old = {"name": learner.name, "professional_title": learner.professional_title, "sector": learner.sector,
           "region": learner.region_id}
    changed = [field for field in FIELDS if new[field] != old[field]]
    if not changed:
        return []
    with unit_of_work():
        learner.name, learner.professional_title, learner.sector = name, title, sector
        learner.region_id = region.id
        # Which fields changed, and the region's ids (not personal data); never a phone or an ID number.
        details: dict = {"fields": changed}
        if "region" in changed:
            details["region"] = {"from": old["region"], "to": region.id}
        audit.record(learner, "account.profile", learner, details=details)
    return changed


def _judged(learner: User, data: dict) -> tuple[str, str, str, Region]:
    """The profile's new values, every field judged before any is used.
    :raise Invalid: beside each field at fault (update_profile)."""
    name = (data.get("name") or "").strip()
    title = (data.get("professional_title") or "").strip()
    sector = (data.get("sector") or "").strip()
    region_id = data.get("region_id")
    problems: dict[str, str] = {}
    if not name:
        problems["name"] = "请填写姓名"
    elif len(name) > NAME_MAX:
        problems["name"] = f"姓名不能超过 {NAME_MAX} 个字"
    # A title kept from before the list (or by an import) may stay as it is; a new one is of the list.
    if title not in PROFESSIONAL_TITLES and title != learner.professional_title:
        problems["professional_title"] = "请选择职称"
    if sector not in SECTORS:
        problems["sector"] = "请选择行业"
    # An id beyond the column's range is no region (as at registration).
    region = db.session.get(Region, region_id) if isinstance(region_id, int) and 0 < region_id < 2**31 else None
    if region is None or region.level != RegionLevel.CITY:
        problems["region"] = "请选择所在的市"
    elif region.id != learner.region_id and region_state(learner).locked:
        problems["region"] = REGION_LOCKED
    if problems or region is None:
        raise Invalid(problems)
    return name, title, sector, region
