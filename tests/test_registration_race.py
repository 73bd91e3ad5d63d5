"""A registration that loses a race for its phone, e-mail or ID number at the insert gets the one neutral answer.

Found by the type checker (issue 15): the refusal after the IntegrityError was called without the city, a
TypeError where the neutral DomainError was meant."""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import AuditLog, User
from services import accounts
from services.errors import DomainError
from tests.conftest import PASSWORD

ID_NUMBER = "11010519491231002X"


def test_registration_losing_the_race_at_insert_is_refused_neutrally_and_audited(city, monkeypatch):
    real_commit = db.session.commit
    calls = []

    def commit_once_taken():
        # Another registration committed the same phone between the duplicate check and this insert.
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("INSERT INTO user …", {}, Exception("UNIQUE constraint failed: user.phone"))
        real_commit()

    monkeypatch.setattr(db.session, "commit", commit_once_taken)
    with pytest.raises(DomainError) as refused:
        accounts.register_learner({
            "consent": accounts.PRIVACY_NOTICE_VERSION,
            "name": "王芳", "phone": "13800000000", "email": "race@example.com", "password": PASSWORD,
            "id_number": ID_NUMBER, "region_id": city.id, "employer_name": "", "sector": "", "professional_title": "",
        })
    monkeypatch.undo()

    assert refused.value.message == accounts.IDENTIFIER_TAKEN
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.phone == "13800000000")) == 0
    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "auth.register_refused")).scalar_one()
    assert entry.details["taken"] == ["concurrent"]
    assert entry.details["region_id"] == city.id
