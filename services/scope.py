"""A regulator's reach: their region and, for a province, every city below it."""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from extensions import db
from models import ClassPlan, Course, PlanStatus, Region, Role, TrainingBase, User


def region_ids(region_id: int | None) -> sa.Select[tuple[int]]:
    """A subquery of the region and its children."""
    return sa.select(Region.id).where(sa.or_(Region.id == region_id, Region.parent_id == region_id))


def bases_clause(user: User) -> sa.ColumnElement[bool]:
    """WHERE clause for the bases ``user`` (a regulator) oversees."""
    if user.role != Role.REGULATOR or user.region_id is None:
        return sa.false()
    return TrainingBase.region_id.in_(region_ids(user.region_id))


def regions_in_scope(user: User) -> Sequence[Region]:
    if user.role != Role.REGULATOR or user.region_id is None:
        return []
    return db.session.execute(
        sa.select(Region).where(Region.id.in_(region_ids(user.region_id))).order_by(Region.level, Region.code)
    ).scalars().all()


def oversees_region(user: User, region_id: int | None) -> bool:
    return region_id is not None and any(r.id == region_id for r in regions_in_scope(user))


def base_in_scope(user: User, base_id: int) -> TrainingBase | None:
    """The base, with its region, if the regulator oversees it, else None (the view answers 404)."""
    return db.session.execute(
        sa.select(TrainingBase).where(TrainingBase.id == base_id, bases_clause(user))
        .options(joinedload(TrainingBase.region))
    ).scalar_one_or_none()


def bases_overview(user: User) -> Sequence[tuple]:
    """The bases in scope with their region and the number of class plans awaiting a decision. One query."""
    pending = (
        sa.select(Course.base_id, sa.func.count(ClassPlan.id).label("n"))
        .join(ClassPlan, ClassPlan.course_id == Course.id)
        .where(ClassPlan.status == PlanStatus.PENDING)
        .group_by(Course.base_id)
        .subquery()
    )
    return db.session.execute(
        sa.select(TrainingBase, Region, sa.func.coalesce(pending.c.n, 0))
        .join(Region, Region.id == TrainingBase.region_id)
        .outerjoin(pending, pending.c.base_id == TrainingBase.id)
        .where(bases_clause(user))
        .order_by(TrainingBase.status, TrainingBase.type, TrainingBase.id)
    ).tuples().all()
