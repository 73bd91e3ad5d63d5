"""Writing the audit log. Callers add the row to their own transaction; it commits with the change."""

from datetime import date
from decimal import Decimal
from enum import Enum

from sqlalchemy import inspect

from extensions import db
from models import AuditLog


def _plain(value):
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def diff(obj, fields) -> dict:
    """{field: [old, new]} for the fields of obj whose pending values differ from the loaded ones."""
    state = inspect(obj)
    changes = {}
    for name in fields:
        history = state.attrs[name].history
        if history.has_changes():
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if _plain(old) != _plain(new):
                changes[name] = [_plain(old), _plain(new)]
    return changes


def record(actor, action: str, obj, *, base_id: int | None = None, details: dict | None = None) -> AuditLog:
    # Views pass Flask-Login's current_user, a proxy: record the object behind it.
    obj = obj._get_current_object() if hasattr(obj, "_get_current_object") else obj
    entry = AuditLog(
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=type(obj).__tablename__,
        object_id=obj.id,
        base_id=base_id,
        details={
            key: [_plain(x) for x in value] if isinstance(value, list) else _plain(value)
            for key, value in (details or {}).items()
        },
    )
    db.session.add(entry)
    return entry
