"""Writing the audit log. Callers add the row to their own transaction; it commits with the change."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased, joinedload

from extensions import db
from models import AuditLog, AuditRepeat, TrainingBase, User
from models._common import utcnow
from services import audit_labels
from services.actors import Actor
from services.infra.clock import LOCAL_TZ
from services.infra.locking import writing
from services.infra.transaction import unit_of_work
from services.policies import region_ids


def plain(value: Any) -> Any:
    """A value as JSON can hold it: enums by value, decimals as text, dates in ISO form."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def diff(obj: Any, fields: Iterable[str]) -> dict:
    """{field: [old, new]} for the fields of obj whose pending values differ from the loaded ones."""
    state = inspect(obj)
    changes = {}
    for name in fields:
        history = state.attrs[name].history
        if history.has_changes():
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if plain(old) != plain(new):
                changes[name] = [plain(old), plain(new)]
    return changes


def record(actor: Actor | None, action: str, obj: Any, *, base_id: int | None = None, details: dict | None = None,
           object_type: str | None = None, via_token: str | None = None) -> AuditLog:
    """Add an entry to the session. ``obj`` may be None for an event about no stored object (a sign-in
    with an unknown login), with ``object_type`` naming what it was about. ``actor`` is the user who acts
    (None: nobody signed in); a change made through the API also names the token it came with,
    ``via_token`` (its displayed prefix, services.api_tokens.Principal.token_prefix), kept in ``details`` as
    ``api_token`` beside the admin whose right the token carries."""
    # Views pass Flask-Login's current_user, a proxy: record the object behind it.
    obj = obj._get_current_object() if hasattr(obj, "_get_current_object") else obj
    actor = actor._get_current_object() if hasattr(actor, "_get_current_object") else actor  # type: ignore[union-attr]  # None has no proxy: hasattr is False
    details = dict(details or {})
    if via_token is not None:
        details.setdefault("api_token", via_token)
    entry = AuditLog(
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=object_type or type(obj).__tablename__,
        object_id=obj.id if obj is not None else None,
        base_id=base_id,
        details={
            key: [plain(x) for x in value] if isinstance(value, list) else plain(value)
            for key, value in details.items()
        },
    )
    db.session.add(entry)
    return entry


def record_each(actor: Actor, action: str, object_type: str, entries: Sequence[tuple[int, dict]], *,
                base_id: int | None = None) -> None:
    """One entry per (object id, details), like ``record``'s, inserted in one statement per 500: for a use case
    that creates many objects at once (a roster's walk-in accounts), in the caller's unit of work."""
    now = utcnow()
    rows = [{"at": now, "actor_id": actor.id, "action": action, "object_type": object_type, "object_id": object_id,
             "base_id": base_id, "details": {key: plain(value) for key, value in details.items()}}
            for object_id, details in entries]
    for start in range(0, len(rows), 500):
        db.session.execute(sa.insert(AuditLog), rows[start:start + 500])


PAGE_SIZE = 100
# Entries of nobody signed in and about no base that name their region in details["region_id"].
REGION_NAMED = ("auth.register_refused", "identity.respelt", "application.submit", "application.withdraw")


@dataclass(frozen=True)
class AuditFilter:
    """What a regulator narrows the log to (each empty: no narrowing). ``since``/``until`` are local dates
    (Asia/Shanghai), both included; ``actor`` is part of a name; ``kind`` one of audit_labels.KINDS;
    ``action`` a prefix of the action ("auth.")."""

    since: date | None = None
    until: date | None = None
    actor: str = ""
    role: str = ""
    base_id: int | None = None
    kind: str = ""
    action: str = ""


def _local_midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(), LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)


def _narrowed(stmt: sa.Select, actor: Any, wanted: AuditFilter) -> sa.Select:
    if wanted.action:
        stmt = stmt.where(AuditLog.action.startswith(wanted.action, autoescape=True))
    if wanted.kind:
        stmt = stmt.where(AuditLog.action.in_(audit_labels.actions_of_kind(wanted.kind)))
    if wanted.since:
        stmt = stmt.where(AuditLog.at >= _local_midnight_utc(wanted.since))
    if wanted.until:
        stmt = stmt.where(AuditLog.at < _local_midnight_utc(wanted.until + timedelta(days=1)))
    if wanted.actor:
        stmt = stmt.where(actor.name.contains(wanted.actor, autoescape=True))
    if wanted.role:
        stmt = stmt.where(actor.role == wanted.role)
    if wanted.base_id:
        stmt = stmt.where(AuditLog.base_id == wanted.base_id)
    return stmt


def entries_for(regulator: User, action: str = "", before: int | None = None, *,
                wanted: AuditFilter | None = None, limit: int = PAGE_SIZE) -> Sequence[AuditLog]:
    """The newest entries a regulator may read (read-only: the log is append-only in the database), one
    page of ``limit`` before the entry ``before`` (keyset paging on the id, newest first): those about a
    base in their region, made by someone of their region, or, for an event of nobody signed in that names
    a region (REGION_NAMED: a registration refused, by the city chosen), naming one of theirs; each with its
    count of repeats (AuditRepeat). ``action`` filters by prefix ("identity.", "auth."), ``wanted`` by
    date, actor, base and kind. One query."""
    if regulator.region_id is None:
        return []
    regions = region_ids(regulator.region_id)
    actor, base = aliased(User), aliased(TrainingBase)
    stmt = (
        sa.select(AuditLog)
        .outerjoin(actor, actor.id == AuditLog.actor_id)
        .outerjoin(base, base.id == AuditLog.base_id)
        .where(sa.or_(base.region_id.in_(regions), actor.region_id.in_(regions),
                      sa.and_(AuditLog.action.in_(REGION_NAMED),
                              AuditLog.details["region_id"].as_integer().in_(regions))))
        .options(joinedload(AuditLog.actor), joinedload(AuditLog.base), joinedload(AuditLog.repeat))
        .order_by(AuditLog.id.desc())
        .limit(limit)
    )
    stmt = _narrowed(stmt, actor, replace(wanted or AuditFilter(), action=action or (wanted.action if wanted else "")))
    if before:
        stmt = stmt.where(AuditLog.id < before)
    return db.session.scalars(stmt).unique().all()


def record_now(actor: Actor | None, action: str, obj: Any, **kw: Any) -> None:
    """Record an event that is not part of a change (a sign-in, a refusal) in a transaction of its own:
    whatever the session held is rolled back first (a refused use case keeps none of its changes)."""
    db.session.rollback()
    with unit_of_work():
        record(actor, action, obj, **kw)


EPOCH = datetime(1970, 1, 1)


def window_of(at: datetime, seconds: int) -> datetime:
    """The start of the window holding ``at``: windows are whole multiples of ``seconds`` from the epoch, so
    that every worker of every server puts an event in the same one."""
    elapsed = int((at - EPOCH).total_seconds())
    return EPOCH + timedelta(seconds=elapsed - elapsed % seconds)


class _CameSecond(Exception):
    """Another worker wrote the entry of the window first (record_repeatable)."""


def record_repeatable(actor: Actor, action: str, obj: Any, *, subject: str, **kw: Any) -> AuditLog | None:
    """Record, in a transaction of its own, an event a signed-in user can repeat at will (a refused page, an
    ID number shown again, an export): an entry the first time in a window of AUDIT_REPEAT_WINDOW_SECONDS
    for this actor, action and ``subject`` (what it was about), one more on that entry's count (AuditRepeat)
    each time after, so that repeating it cannot bury the log. Returns the new entry, or None for a repeat.

    Two workers may both find no entry and both write one: the counter's unique key lets one stay, and the
    other rolls its entry back and counts instead (on SQLite the write lock, taken first, serialises them).
    """
    seconds = current_app.config["AUDIT_REPEAT_WINDOW_SECONDS"]
    if seconds <= 0:  # counting turned off: every event is an entry
        record_now(actor, action, obj, **kw)
        return None
    actor = actor._get_current_object() if hasattr(actor, "_get_current_object") else actor
    now = utcnow()
    key = {"actor_id": actor.id, "action": action, "subject": subject[:255], "window_start": window_of(now, seconds)}
    db.session.rollback()
    with writing():
        try:
            with unit_of_work():
                if _count_repeat(key, now):
                    return None
                entry = record(actor, action, obj, **kw)
                db.session.flush()
                if _insert_counter(entry.id, key, now):
                    return entry
                raise _CameSecond  # rolls our entry back: it was never committed
        except _CameSecond:
            pass
        with unit_of_work():  # another worker's entry came first: count on it
            _count_repeat(key, now)
        return None


def _count_repeat(key: dict, now: datetime) -> bool:
    """One more repeat on the counter of ``key``, if there is one."""
    found = db.session.execute(
        sa.update(AuditRepeat).where(*(getattr(AuditRepeat, name) == value for name, value in key.items()))
        .values(repeats=AuditRepeat.repeats + 1, last_at=now)
        .execution_options(synchronize_session=False))
    return found.rowcount == 1  # type: ignore[attr-defined]  # an UPDATE's result (a CursorResult) counts rows


def _insert_counter(entry_id: int, key: dict, now: datetime) -> bool:
    """The counter of a new entry, unless one of ``key`` exists already (INSERT … ON CONFLICT DO NOTHING)."""
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(AuditRepeat).values(entry_id=entry_id, repeats=0, last_at=now, **key) \
        .on_conflict_do_nothing(index_elements=list(key)).returning(AuditRepeat.entry_id)
    # RETURNING, not rowcount: run through the session, the INSERT reported no rowcount of 1 on PostgreSQL.
    return db.session.execute(statement).scalar_one_or_none() is not None
