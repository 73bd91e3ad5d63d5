"""The daily reminder of overdue reviews: each reviewer whose employer (or sector officer whose authority) has
declarations past their review deadline hears how many, and each regulator gets a summary of their region's,
by employer and by sector authority. Once a day per person, however often the job runs.

The deadlines were counted in working days when the declarations were filed (services.workdays), so "past
due" is a plain comparison with today.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute

from extensions import db
from models import Declaration, DeclarationStatus, Notice, NoticeKind, Role, User
from services import declarations, inbox
from services.infra.transaction import unit_of_work

log = logging.getLogger(__name__)

# How many employers or authorities a regulator's summary names before "等 N 家".
NAMED = 5


@dataclass
class Reminded:
    """How many people were reminded, by who they are."""

    reviewers: int = 0
    sector_officers: int = 0
    regulators: int = 0


def dedupe_key(today: date) -> str:
    return f"overdue:{today.isoformat()}"


def remind_overdue(today: date) -> Reminded:
    """Remind, once for ``today``, every reviewer and employer admin of an employer with overdue reviews, every
    sector officer of an authority with overdue sector reviews, and every regulator with any in their region.
    Those who have today's reminder already are left out; a concurrent run that got there first makes this
    one add nothing (the UNIQUE(user_id, dedupe_key) refuses the insert, and everything is rolled back)."""
    key = dedupe_key(today)
    result = Reminded()
    try:
        with unit_of_work():
            reminded = set(db.session.scalars(sa.select(Notice.user_id).where(Notice.dedupe_key == key)))
            result.reviewers = _remind_reviewers(today, key, reminded)
            result.sector_officers = _remind_sector_officers(today, key, reminded)
            result.regulators = _remind_regulators(today, key, reminded)
    except IntegrityError:
        log.info("overdue reminders for %s were made by another run", today.isoformat())
        return Reminded()
    return result


def _reachable() -> sa.ColumnElement[bool]:
    return sa.and_(User.active.is_(True), User.closed_at.is_(None))


def _message(count: int, who: str) -> str:
    return f"有 {count} 份学时申报已超过{who}审核期限，请尽快审核。"


def _remind_step(  # noqa: PLR0913  one review step's columns, by keyword at the two calls below
        today: date, key: str, reminded: set[int], *, owner: QueryableAttribute[Any],
        staff_of: QueryableAttribute[Any], status: DeclarationStatus, due: QueryableAttribute[Any],
        roles: tuple[Role, ...], who: str, link: str) -> int:
    """One query: each of ``roles`` with the count of the step's declarations past ``due`` that their
    organisation (``owner`` on the declaration, ``staff_of`` on the user) holds in ``status``."""
    overdue = (
        sa.select(owner.label("owner"), sa.func.count(Declaration.id).label("n"))
        .where(Declaration.status == status, due < today).group_by(owner).subquery())
    rows = db.session.execute(
        sa.select(User.id, overdue.c.n).join(overdue, overdue.c.owner == staff_of)
        .where(User.role.in_(roles), _reachable()).order_by(User.id)).all()
    wanted = [(user_id, _message(n, who)) for user_id, n in rows if user_id not in reminded]
    return len(inbox.notify_many(wanted, link, kind=NoticeKind.OVERDUE, dedupe_key=key))


def _remind_reviewers(today: date, key: str, reminded: set[int]) -> int:
    """Each reviewer and employer admin with their employer's overdue count."""
    return _remind_step(today, key, reminded, owner=Declaration.employer_id, staff_of=User.employer_id,
                        status=DeclarationStatus.PENDING, due=Declaration.due_on,
                        roles=(Role.REVIEWER, Role.EMPLOYER_ADMIN), who="单位", link="/review/")


def _remind_sector_officers(today: date, key: str, reminded: set[int]) -> int:
    """Each sector officer with their authority's overdue count."""
    return _remind_step(today, key, reminded, owner=Declaration.sector_authority_id,
                        staff_of=User.sector_authority_id, status=DeclarationStatus.SECTOR_PENDING,
                        due=Declaration.sector_due_on, roles=(Role.SECTOR_OFFICER,), who="行业主管部门",
                        link="/sector/")


def _remind_regulators(today: date, key: str, reminded: set[int]) -> int:
    """Each regulator's summary, counted as their page of reviews counts it (services.declarations): two
    queries per regulator, of whom a province has a few dozen."""
    regulators = db.session.scalars(
        sa.select(User).where(User.role == Role.REGULATOR, _reachable(), User.region_id.is_not(None))
        .order_by(User.id)).all()
    wanted = []
    for regulator in regulators:
        if regulator.id in reminded:
            continue
        summary = regulator_summary(regulator, today)
        if summary:
            wanted.append((regulator.id, summary))
    return len(inbox.notify_many(wanted, "/regulator/reviews", kind=NoticeKind.OVERDUE, dedupe_key=key))


def regulator_summary(regulator: User, today: date) -> str:
    """The regulator's region's overdue reviews on ``today`` in one message ("" when there are none)."""
    by_employer = [(employer.name, n) for employer, n, _oldest in declarations.overdue_by_employer(regulator, today)]
    by_sector = [(authority.name, n) for authority, n, _oldest in declarations.overdue_by_sector(regulator, today)]
    total = sum(n for _name, n in by_employer) + sum(n for _name, n in by_sector)
    if not total:
        return ""
    parts = []
    if by_employer:
        parts.append(f"单位审核 {sum(n for _name, n in by_employer)} 份（{_named(by_employer, '家单位')}）")
    if by_sector:
        parts.append(f"行业主管部门审核 {sum(n for _name, n in by_sector)} 份（{_named(by_sector, '个部门')}）")
    return f"辖区内有 {total} 份学时申报已超过审核期限：" + "；".join(parts) + "。"


def _named(counts: list[tuple[str, int]], unit: str) -> str:
    """The largest few by name with their counts, then how many more ("等 N 家单位")."""
    merged: dict[str, int] = defaultdict(int)
    for name, n in counts:
        merged[name] += n
    shown = "、".join(f"{name} {n} 份" for name, n in list(merged.items())[:NAMED])
    return shown + (f" 等 {len(merged)} {unit}" if len(merged) > NAMED else "")
