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
    # CASCADE: a plain TRUNCATE is refused sooner, since audit_repeat refers to the log (migration 0009).
    _refused(sa.text("TRUNCATE audit_log CASCADE"))


def _actions(action: str) -> list[AuditLog]:
    return db.session.scalars(sa.select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).all()


def test_sign_ins_and_failed_sign_ins_are_recorded_without_the_login_in_clear(client, make_user):
    from tests.conftest import PASSWORD

    user = make_user(phone="13912345678")
    client.post("/login", data={"login": "13912345678", "password": "wrong password!"})
    client.post("/login", data={"login": "13800001111", "password": PASSWORD})
    assert client.post("/login", data={"login": "13912345678", "password": PASSWORD}).status_code == 302
    wrong, unknown = _actions("auth.sign_in_failed")
    assert (wrong.object_id, wrong.details["result"]) == (user.id, "wrong password")
    assert unknown.object_id is None and unknown.details["result"] == "unknown account"
    assert "13800001111" not in str(unknown.details) and unknown.details["login"].endswith("1111")
    signed, = _actions("auth.sign_in")
    assert (signed.actor_id, signed.object_id, signed.details["result"]) == (user.id, user.id, "ok")


def test_a_regulator_reads_the_log_of_their_region_only(app, client, login_as, make_user, admin_and_base, city,
                                                          make_base):
    from models import Region, RegionLevel, Role
    from services import audit

    admin, base = admin_and_base
    far = Region(code="650100", name="乌鲁木齐市", level=RegionLevel.CITY)
    db.session.add(far)
    db.session.commit()
    far_base = make_base(region=far)
    audit.record(admin, "base.disclosure", base, base_id=base.id, details={"note": "本地区的记录"})
    audit.record(None, "base.disclosure", far_base, base_id=far_base.id, details={"note": "外地区的记录"})
    db.session.commit()
    login_as(make_user(Role.REGULATOR, region_id=base.region_id))
    page = client.get("/regulator/audit").text
    assert "本地区的记录" in page and "外地区的记录" not in page
    assert "<form method=\"post\"" not in page.split('id="audit-log"')[1]
    assert "本地区的记录" not in client.get("/regulator/audit?action=identity.").text
