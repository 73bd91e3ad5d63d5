"""A new holiday schedule moves the open deadline of each review step: the employer's (counted from the filing)
and the sector authority's (counted from the employer's approval, or from the filing where the sector alone
recognises), as the platform administrator's preview lists them."""

from datetime import date, datetime

import pytest

from extensions import db
from models import DeclarationStatus, Role
from services import declarations, workdays
from tests.test_sector_review import build_world, file, reload

FILED = date(2025, 6, 16)  # a Monday, no holiday within two weeks
APPROVED = date(2025, 6, 17)
# A Thursday made a day off by the new schedule: inside every step's five working days below.
NEW_HOLIDAY = "date,kind,name\n2025-06-19,holiday,测试假日\n"


@pytest.fixture
def app_config(tmp_path):
    return {"EVIDENCE_FOLDER": str(tmp_path / "evidence")}


@pytest.fixture
def world(app, monkeypatch, make_user):
    from services.infra import clock

    day = {"today": FILED}
    monkeypatch.setattr(clock, "today", lambda: day["today"])
    w = build_world(make_user)
    w.set_day = lambda d: day.update(today=d)
    w.admin = make_user(Role.PLATFORM_ADMIN, region_id=None)
    return w


def back_date(*filed, approved=()) -> None:
    """The rows' timestamps on the patched days (models stamp the real now): filed at 10:00 on FILED and
    approved at 10:00 on APPROVED, local time (UTC+8)."""
    for declaration in filed:
        reload(declaration.id).submitted_at = datetime(2025, 6, 16, 2)
    for declaration in approved:
        reload(declaration.id).reviewed_at = datetime(2025, 6, 17, 2)
    db.session.commit()


def load(admin, csv: str) -> workdays.SchedulePlan:
    raw = csv.encode()
    plan = workdays.preview_schedule(raw)
    return workdays.apply_schedule(admin, raw, plan.digest, plan.fingerprint, preview_id=workdays.new_preview_id())


def test_a_new_holiday_moves_both_steps_deadlines_and_each_in_its_own_column(world):
    at_employer = file(world.zz_nurse)
    at_sector = file(world.zz_nurse)
    sector_only = file(world.gz_nurse)
    world.set_day(APPROVED)
    declarations.review(world.zz_reviewer, at_sector.id, True, None, "")
    back_date(at_employer, at_sector, sector_only, approved=[at_sector])
    before = {d.id: (reload(d.id).due_on, reload(d.id).sector_due_on) for d in (at_employer, at_sector, sector_only)}
    assert reload(at_sector.id).status == DeclarationStatus.SECTOR_PENDING
    assert before[at_employer.id] == (date(2025, 6, 23), None)
    assert before[at_sector.id][1] == date(2025, 6, 24)  # five working days from the employer's approval
    assert before[sector_only.id][1] == date(2025, 6, 23)  # from the filing: the sector alone

    plan = load(world.admin, NEW_HOLIDAY)

    steps = {(m.declaration_id, m.step): (m.old_due, m.new_due) for m in plan.moved}
    assert steps == {
        (at_employer.id, "employer"): (date(2025, 6, 23), date(2025, 6, 24)),
        (at_sector.id, "sector"): (date(2025, 6, 24), date(2025, 6, 25)),
        (sector_only.id, "sector"): (date(2025, 6, 23), date(2025, 6, 24)),
    }
    assert reload(at_employer.id).due_on == date(2025, 6, 24)
    assert reload(at_employer.id).sector_due_on is None
    # the employer's deadline of a declaration already at the sector's step is history: it stays
    assert reload(at_sector.id).due_on == before[at_sector.id][0]
    assert reload(at_sector.id).sector_due_on == date(2025, 6, 25)
    assert reload(sector_only.id).sector_due_on == date(2025, 6, 24)


def test_a_step_decided_before_the_schedule_keeps_its_deadline(world):
    decided = file(world.zz_nurse)
    world.set_day(APPROVED)
    declarations.review(world.zz_reviewer, decided.id, True, None, "")
    declarations.review_as_sector(world.zz_officer, decided.id, True, None, "")
    back_date(decided, approved=[decided])
    kept = reload(decided.id)
    assert kept.status == DeclarationStatus.APPROVED

    plan = load(world.admin, NEW_HOLIDAY)

    assert decided.id not in {m.declaration_id for m in plan.moved}
    assert reload(decided.id).sector_due_on == kept.sector_due_on
    assert isinstance(reload(decided.id).sector_reviewed_at, datetime)
