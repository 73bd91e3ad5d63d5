"""The December reminders of the year's deadline: every learner still short of their region's rule is told how
many hours are missing, early in December and again a week before 31 December, once per person and stage
however often the job runs.

Set-based, for a province's learners: the hours are summed by the database (GROUP BY), a batch of learners at
a time in id order; each batch's notices are inserted in one statement (a person holding the stage's key
already is skipped, by the same query and by the UNIQUE key) and commit on their own, then fanned out to
e-mail and text messages after that commit (services.jobs).
"""

from collections.abc import Mapping, Sequence
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from extensions import db
from models import Category, HoursRecord, Notice, NoticeKind, Region, Role, RuleSet, User
from models._common import utcnow
from services import hours
from services.infra.transaction import end_reads, unit_of_work

BATCH = 5_000
EARLY, WEEK = "early", "week"
WEEK_BEFORE = 24  # the first day of the "week" stage: a week before 31 December
LINK = "/me/"
# The categories as the message names them, shorter than their labels (公需科目 → 公需).
SHORT_LABELS = {Category.PUBLIC: "公需", Category.PROFESSIONAL: "专业", Category.ELECTIVE: "选修"}


def stage_of(today: date) -> str | None:
    """The reminder's stage on ``today``: "early" from 1 to 23 December, "week" from the 24th; None otherwise."""
    if today.month != 12:
        return None
    return EARLY if today.day < WEEK_BEFORE else WEEK


def dedupe_key(year: int, stage: str) -> str:
    return f"deadline:{year}:{stage}"


def message(year: int, rule: RuleSet, earned: Mapping[Category, int]) -> str:
    """"您2026年度继续教育学时还差 12 学时（公需 4 / 专业 8），12月31日截止": the shortfall in all and, in
    brackets, each category still short of its minimum (no brackets when only the total is short)."""
    parts = [f"{SHORT_LABELS[c]} {hours.missing(rule, earned, c)}"
             for c in Category if hours.missing(rule, earned, c)]
    detail = f"（{' / '.join(parts)}）" if parts else ""
    return f"您{year}年度继续教育学时还差 {hours.short(rule, earned)} 学时{detail}，12月31日截止"


def _learners() -> tuple[sa.ColumnElement[bool], ...]:
    """Who is reminded: learners whose account is active and not closed, claimed or not (a walk-in trainee a
    base registered has a phone to be texted at)."""
    return User.role == Role.LEARNER, User.active.is_(True), User.closed_at.is_(None)


def _rules(year: int) -> dict[int | None, RuleSet]:
    """The rule in force for ``year`` in every region a learner lives in (and for none). Two queries."""
    regions: Sequence[Region | None] = db.session.scalars(sa.select(Region).where(
        Region.id.in_(sa.select(User.region_id).where(*_learners()).distinct()))).all()
    return hours.rules_by_region([*regions, None], year)


def _batch(year: int, key: str, after_id: int) -> Sequence[sa.Row]:
    """The next ``BATCH`` learners after ``after_id`` who do not hold ``key`` yet, with their hours of ``year``
    per category summed by the database. One query."""
    already = sa.exists().where(Notice.user_id == User.id, Notice.dedupe_key == key)
    return db.session.execute(
        sa.select(User.id, User.region_id, *(
            sa.func.coalesce(sa.func.sum(
                sa.case((HoursRecord.category == category, HoursRecord.hours), else_=0)), 0).label(category.value)
            for category in Category))
        .outerjoin(HoursRecord, sa.and_(HoursRecord.learner_id == User.id, HoursRecord.year == year))
        .where(*_learners(), User.id > after_id, ~already)
        .group_by(User.id, User.region_id)
        .order_by(User.id)
        .limit(BATCH)
    ).all()


def _insert_new(values: list[dict]) -> list[int]:
    """Insert the notices, skipping any whose person holds its key already (a run alongside this one); the ids
    of those inserted. One statement."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = (dialect.insert(Notice)
                 .on_conflict_do_nothing(index_elements=[Notice.user_id, Notice.dedupe_key])
                 .returning(Notice.id))
    return list(db.session.scalars(statement, values))


def remind(today: date) -> int:
    """Remind every learner short of their region's rule for ``today``'s year, once per stage of December
    (see ``stage_of``); any other month does nothing. Returns how many notices were made: none on a rerun.
    A fixed number of queries per batch of ``BATCH`` learners."""
    stage = stage_of(today)
    if stage is None:
        return 0
    from services import jobs  # jobs declares the periodic task that calls this module

    year, key = today.year, dedupe_key(today.year, stage)
    in_force = _rules(year)
    end_reads()
    made, after_id = 0, 0
    while rows := _batch(year, key, after_id):
        # The reads end before the insert begins its own transaction: on SQLite one that read first could not
        # wait for the write lock the workers sending the earlier batches hold (the insert skips any notice a
        # run alongside made meanwhile).
        end_reads()
        now = utcnow()
        values = []
        for row in rows:
            rule = in_force.get(row.region_id) or in_force[None]
            earned = {c: int(row._mapping[c.value]) for c in Category}
            if hours.short(rule, earned) > 0:
                values.append({"user_id": row.id, "message": message(year, rule, earned), "link": LINK,
                               "kind": NoticeKind.DEADLINE.value, "dedupe_key": key, "created_at": now})
        if values:
            with unit_of_work():
                ids = _insert_new(values)
                jobs.fan_out_after_commit(db.session(), ids)
            made += len(ids)
        after_id = rows[-1].id
    end_reads()
    return made
