"""Batch review on the queue (/review/): the ticked declarations approved with one reason, each through
declarations.review (its cap, its ledger row, its own audit entry), and the page says which were refused."""

from datetime import date

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    AuditLog,
    Category,
    Declaration,
    DeclarationCap,
    DeclarationKind,
    DeclarationStatus,
    Employer,
    HoursRecord,
    Role,
)
from services import declarations
from services.errors import DomainError
from services.infra import clock

TODAY = date(2025, 6, 16)


@pytest.fixture
def queue(app, monkeypatch, city, make_user):
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    hospital, clinic = Employer(name="甲医院", region_id=city.id), Employer(name="乙诊所", region_id=city.id)
    db.session.add_all([hospital, clinic])
    db.session.commit()
    learner = make_user(Role.LEARNER, employer_id=hospital.id, name="甲员工")
    stranger = make_user(Role.LEARNER, employer_id=clinic.id, name="乙员工")
    q = {
        "hospital": hospital, "learner": learner,
        "reviewer": make_user(Role.REVIEWER, employer_id=hospital.id),
        "admin": make_user(Role.EMPLOYER_ADMIN, employer_id=hospital.id),
        "mine": [_declaration(learner, f"学术会议{n}", 8) for n in range(3)],
        "theirs": _declaration(stranger, "乙员工的秘密会议", 8),
    }
    return q


def _declaration(learner, title: str, hours: int, kind=DeclarationKind.CONFERENCE) -> Declaration:
    declaration = Declaration(learner_id=learner.id, employer_id=learner.employer_id, kind=kind,
                              category=Category.PROFESSIONAL, title=title, earned_on=TODAY, year=TODAY.year,
                              hours_claimed=hours, due_on=date(2025, 6, 23), status=DeclarationStatus.PENDING)
    db.session.add(declaration)
    db.session.commit()
    return declaration


def _ledger(learner_id: int) -> list[int]:
    return db.session.scalars(sa.select(HoursRecord.hours).where(HoursRecord.learner_id == learner_id)
                              .order_by(HoursRecord.id)).all()


def test_each_declaration_is_reviewed_one_by_one_with_its_cap_and_its_audit_entry(queue, city):
    db.session.add(DeclarationCap(kind=DeclarationKind.CONFERENCE, category=Category.PROFESSIONAL, region_id=city.id,
                                  year=TODAY.year, max_hours=20))
    db.session.commit()
    ids = [d.id for d in queue["mine"]]

    result = declarations.review_many(queue["admin"], ids, "材料齐全")

    assert result.approved == ids and result.refused == []
    assert _ledger(queue["learner"].id) == [8, 8, 4]  # the cap of 20 applies across the batch as one by one
    rows = db.session.scalars(sa.select(Declaration).where(Declaration.id.in_(ids)).order_by(Declaration.id)).all()
    assert [d.status for d in rows] == [DeclarationStatus.APPROVED] * 3
    assert all(d.review_note.startswith("材料齐全") and d.reviewer_id == queue["admin"].id for d in rows)
    entries = db.session.scalars(sa.select(AuditLog.object_id).where(AuditLog.action == "declaration.approved")).all()
    assert sorted(entries) == ids  # one entry each


def test_another_employer_s_and_reviewed_ones_are_refused_and_the_rest_approved(queue):
    first, second, third = queue["mine"]
    declarations.review(queue["reviewer"], second.id, False, None, "材料不全")
    theirs = queue["theirs"]

    result = declarations.review_many(queue["reviewer"], [first.id, theirs.id, second.id, first.id, 999999], "")

    assert result.approved == [first.id]
    refused = dict(result.refused)
    assert refused.keys() == {theirs.id, second.id, 999999}
    assert refused[theirs.id] == refused[999999] == "未找到该申报"  # the same words: nothing of it is told
    assert "不能重复审核" in refused[second.id]  # review's own message
    db.session.expire_all()
    assert db.session.get(Declaration, theirs.id).status == DeclarationStatus.PENDING
    assert db.session.get(Declaration, third.id).status == DeclarationStatus.PENDING


def test_an_empty_batch_is_refused(queue):
    with pytest.raises(DomainError) as caught:
        declarations.review_many(queue["reviewer"], [], "好")
    assert caught.value.field == "ids"


def test_the_queue_approves_the_ticked_and_reports_the_refused(queue, login_as):
    client = login_as(queue["reviewer"])
    page = client.get("/review/").get_data(as_text=True)
    assert page.count('name="ids"') == 3  # a checkbox for each pending declaration of the employer
    first, second, _third = queue["mine"]
    theirs = queue["theirs"]

    response = client.post("/review/batch", data={"ids": [str(first.id), str(second.id), str(theirs.id), "x"],
                                                  "reason": "同意"})

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "已通过 2 项申报" in body and f"#{theirs.id}：未找到该申报" in body
    assert "乙员工的秘密会议" not in body  # nothing of another employer's declaration
    assert _ledger(queue["learner"].id) == [8, 8]
    assert body.count('name="ids"') == 1  # the one left pending


def test_posting_nothing_ticked_is_a_400_with_the_message(queue, login_as):
    response = login_as(queue["admin"]).post("/review/batch", data={"reason": "同意"})
    assert response.status_code == 400
    assert "请先勾选要通过的申报" in response.get_data(as_text=True)
