"""The audit log (issue 7, item 6) is append-only: the database refuses to change or remove an entry, on
SQLite and PostgreSQL, whatever the application does."""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from extensions import db
from models import AuditLog


def _entry() -> int:
    entry = AuditLog(actor_id=None, action="test.event", object_type="user", object_id=1, details={"a": 1})
    db.session.add(entry)
    db.session.commit()
    return entry.id


def _refused(statement) -> None:
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(statement)
        db.session.flush()
    db.session.rollback()


def _check_append_only() -> None:
    entry_id = _entry()
    _refused(sa.update(AuditLog).where(AuditLog.id == entry_id).values(action="tampered"))
    _refused(sa.delete(AuditLog).where(AuditLog.id == entry_id))
    assert db.session.get(AuditLog, entry_id).action == "test.event"
    _entry()  # appending still works
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id))) >= 2


def test_sqlite_refuses_to_change_or_delete_an_entry(app):
    _check_append_only()


@pytest.mark.postgres
def test_postgresql_refuses_to_change_delete_or_truncate(pg_app):
    _check_append_only()
    _refused(sa.text("TRUNCATE audit_log"))
