"""The regulator's base registry: designating bases, changing their status with a reason, targets."""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from extensions import db
from models import (
    BaseMembership,
    BaseStatus,
    BaseStatusChange,
    BaseType,
    Region,
    RegionLevel,
    Role,
    Target,
    TrainingBase,
    User,
)
from services import audit, auth, policies, rules
from services.actors import Actor
from services.errors import DomainError, NotAllowed
from services.infra.transaction import unit_of_work
from services.queries import regulator_pages


def _admin_for(email: str, base_name: str) -> tuple[User, str | None]:
    """The base-admin account for ``email``; a new one gets a one-time password, returned to show once."""
    # Stored and looked up in the spelling sign-in reads (a full-width or zero-width character would make an
    # account nobody can sign in to, or a second account for the same address).
    email = auth.normalise_login(email)
    user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
    if user is not None:
        if user.role != Role.BASE_ADMIN:
            raise DomainError(f"{email} 已是其他角色的账号，不能指定为基地管理员", field="admin_emails")
        return user, None
    password = secrets.token_urlsafe(9)
    # The password is shown to the regulator, who hands it over: the admin replaces it at first sign-in.
    user = User(email=email, name=f"{base_name}管理员", role=Role.BASE_ADMIN, must_change_password=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user, password


def designate_base(regulator: User, data: dict) -> tuple[TrainingBase, dict[str, str]]:
    """Create a base in the regulator's region with its admins. Returns the base and the one-time
    passwords of admin accounts created for it ({email: password}).

    :raise NotAllowed: the region is outside the regulator's reach (policies.in_reach).
    :raise DomainError: an unknown type or one the regulator may not designate (field ``type``), a city-level
        base outside a city (field ``region``), the name is taken, or an email belongs to an account of another
        role.
    """
    if not policies.in_reach(regulator, data["region_id"]):
        raise NotAllowed("该地区不在您的管辖范围内")
    # The form's choices check the type; a direct call may not have.
    if not isinstance(data["type"], str) or data["type"] not in {t.value for t in BaseType}:
        raise DomainError("请选择列出的基地类型", field="type")
    base_type = BaseType(data["type"])
    problem = designation_problem(regulator, base_type, db.session.get(Region, data["region_id"]))
    if problem:
        raise DomainError(*problem)
    name = data["name"].strip()
    if db.session.scalar(sa.select(TrainingBase.id).where(TrainingBase.name == name)):
        raise DomainError("已有同名基地", field="name")
    try:
        with unit_of_work():
            base = TrainingBase(name=name, type=base_type, region_id=data["region_id"],
                                status=BaseStatus.ACTIVE)
            db.session.add(base)
            db.session.flush()
            passwords = {}
            admins = set()
            for email in data["admin_emails"]:
                user, password = _admin_for(email, name)
                if user.id in admins:  # the same address typed twice, in two spellings
                    continue
                admins.add(user.id)
                db.session.add(BaseMembership(user_id=user.id, base_id=base.id))
                if password:
                    passwords[email] = password
            db.session.add(BaseStatusChange(base_id=base.id, from_status=None, to_status=BaseStatus.ACTIVE,
                                            reason="认定为继续教育基地", actor_id=regulator.id))
            audit.record(regulator, "base.designate", base, base_id=base.id,
                         details={"type": base.type.value, "admins": data["admin_emails"]})
    except IntegrityError:
        raise DomainError("已有同名基地", field="name") from None
    return base, passwords


def apply_status(actor: Actor, base: TrainingBase, status: BaseStatus, reason: str,
                 evaluation_id: int | None = None) -> BaseStatusChange | None:
    """Change the base's status and keep the change; the caller commits. An exited base leaves the public
    directory and the published list, its courses take no new enrollments, and its admins publish nothing
    (the models' can_publish, policies.is_listed_base); its enrollments and records are kept."""
    if base.status == status:
        return None
    change = BaseStatusChange(base_id=base.id, from_status=base.status, to_status=status, reason=reason,
                              actor_id=actor.id, evaluation_id=evaluation_id)
    db.session.add(change)
    old = base.status
    base.status = status
    audit.record(actor, "base.status", base, base_id=base.id,
                 details={"status": [old.value, status.value], "reason": reason})
    return change


def change_status(regulator: User, base_id: int, status: BaseStatus, reason: str) -> TrainingBase:
    """Set a base to active, rectifying or exited, with a written reason.

    :raise LookupError: no such base in the regulator's region.
    :raise DomainError: a province-level base and a city's regulator (field ``status``), no reason, or the
        base already has that status.
    """
    base = regulator_pages.base_in_scope(regulator, base_id)
    if base is None:
        raise LookupError(base_id)
    if not policies.may_govern(regulator, base):
        raise DomainError(f"{base.type.label}的状态由省级人社部门决定", field="status")
    if not reason.strip():
        raise DomainError("请填写变更原因", field="reason")
    if base.status == status:
        raise DomainError(f"基地当前已是“{status.label}”状态", field="status")
    with unit_of_work():
        apply_status(regulator, base, status, reason.strip())
    return base


def history(base: TrainingBase) -> Sequence[BaseStatusChange]:
    """The base's status changes, newest first, with who made them. One query."""
    return db.session.execute(
        sa.select(BaseStatusChange).where(BaseStatusChange.base_id == base.id)
        .options(joinedload(BaseStatusChange.actor))
        .order_by(BaseStatusChange.id.desc())
    ).scalars().all()


def designatable_types(regulator: User) -> list[BaseType]:
    """The base types the designation form offers the regulator (and designate_base accepts)."""
    return [t for t in BaseType if policies.may_decide_type(regulator, t)]


def designation_problem(regulator: User, base_type: BaseType, region: Region | None) -> tuple[str, str] | None:
    """(message, field) when the regulator may not designate a base of ``base_type`` in ``region`` (a region
    in their scope), else None. A city-level base belongs to a city: at the province's own level there is
    no city bureau to oversee it."""
    if not policies.may_decide_type(regulator, base_type):
        return f"{base_type.label}由省级人社部门认定，市级人社部门只能认定市级继续教育基地", "type"
    if base_type == BaseType.CITY and (region is None or region.level != RegionLevel.CITY):
        return "市级继续教育基地应认定在市（请选择所在的市）", "region"
    return None


def status_choices(base: TrainingBase) -> list[BaseStatus]:
    """The statuses a base may be moved to: any but the one it has."""
    return [s for s in BaseStatus if s != base.status]


def targets_of_year(year: int) -> Sequence[Target]:
    """Every target row of the year (a handful): load once, then pick per base with pick_target."""
    return db.session.execute(sa.select(Target).where(Target.year == year)).scalars().all()


def pick_target(targets: Sequence[Target], base_type: BaseType, region: Region | None) -> Target | None:
    """The most specific target for the type: the region's own, else its province's; none applies
    everywhere (Shandong's 2000 / 3000 / 4 are Shandong's). For the province-level types a city's row never
    counts, not even one stored before set_target refused them: the base gets its province's target."""
    chain = rules.chain_ids(region, province_only=base_type in policies.PROVINCE_SET_TYPES)
    matching = [t for t in targets if t.base_type == base_type and t.region_id in chain]
    return min(matching, key=lambda t: chain.index(t.region_id), default=None)


def target_for(base_type: BaseType, year: int, region: Region | None) -> Target | None:
    return pick_target(targets_of_year(year), base_type, region)
