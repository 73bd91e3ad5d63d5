"""The rules page's save on PostgreSQL: two regulators confirming previews of the same stored values at once
(two threads, two connections) get one save applied and the other told the rules changed since its preview."""

# ruff: noqa: F811 (tests take the imported fixtures as arguments of the same names)

import threading

import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, User
from services import hours, rule_edits
from tests.test_rules import CAP, NEXT, cap_hours, own_values, regions, regulator  # noqa: F401

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_app):
    assert db.engine.dialect.name == "postgresql"
    return pg_app


def test_two_saves_of_previews_of_the_same_rules_at_once_apply_one(app, regions, regulator, monkeypatch):
    first, second = regulator("370600"), regulator("370600")
    edits = [(first.id, own_values(first, NEXT) | {CAP: 3}),
             (second.id, own_values(second, NEXT) | {"hours_per_day": 7})]
    previews = [rule_edits.preview(db.session.get(User, user_id), NEXT, values) for user_id, values in edits]
    db.session.commit()
    both_loaded = threading.Barrier(2)
    load = rule_edits._load

    def load_then_wait(region, year):
        loaded = load(region, year)
        try:
            both_loaded.wait(timeout=3)
        except threading.BrokenBarrierError:
            pass  # the other save waits for the lock this one holds: it goes on alone
        return loaded

    monkeypatch.setattr(rule_edits, "_load", load_then_wait)
    got = []

    def save(user_id, values, preview):
        with app.app_context():
            try:
                rule_edits.save(db.session.get(User, user_id), NEXT, values, seen=preview.seen,
                                previewed=preview.digest)
                got.append("saved")
            except rule_edits.StalePreview as error:
                got.append(error.message)
            except Exception as error:  # noqa: BLE001 - the test reports whatever happened
                got.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=save, args=(*edit, preview)) for edit, preview in zip(edits, previews,
                                                                                              strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    monkeypatch.setattr(rule_edits, "_load", load)
    db.session.commit()
    db.session.expire_all()

    assert sorted(got) == sorted(["saved", "该年度的规则在预览之后已被他人修改，未保存；请查看现行数值后重新预览"]), got
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "rules.set")) == 1
    applied = (cap_hours(regions["370600"], NEXT), hours.rule_for(regions["370600"], NEXT).hours_per_day)
    assert applied in ((3, 8), (5, 7))  # one regulator's change, not both
