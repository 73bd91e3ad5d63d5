"""What a regulator's pages read of their reach: a base in it, and the bases in it at a glance. Who is in
whose reach is services.policies' to say (in_reach, bases_in_reach)."""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from extensions import db
from models import ClassPlan, Course, PlanStatus, Region, TrainingBase, User
from services import policies


def base_in_scope(user: User, base_id: int) -> TrainingBase | None:
    """The base, with its region, if the regulator oversees it (policies.may_oversee_base), else None (the
    view answers 404)."""
    return db.session.execute(
        sa.select(TrainingBase).where(TrainingBase.id == base_id, policies.bases_in_reach(user))
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
        .where(policies.bases_in_reach(user))
        .order_by(TrainingBase.status, TrainingBase.type, TrainingBase.id)
    ).tuples().all()
