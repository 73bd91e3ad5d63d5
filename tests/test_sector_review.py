"""The sector authority's review step (notices 001 and 002): the route a declaration takes by its region's rules
(Henan: the employer, then the sector; Guangdong's 教育 and 卫生: the sector alone), refusals where a step cannot
be taken, the ledger written once at the end, and both steps' deadlines across the 2025 Spring Festival and
National Day holidays with their make-up workdays (the real schedule, data/cn-holidays-2025-2026.csv)."""

import re
from datetime import date
from io import BytesIO

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from extensions import db
from models import (
    AuditLog,
    Declaration,
    DeclarationStatus,
    Employer,
    HoursRecord,
    Role,
    RuleSet,
    SectorAuthority,
)
from seeding.demo import seed_reference
from services import declarations, hours, rule_edits
from services.errors import DomainError
from services.infra import clock
from tests.conftest import login

NATIONAL_DAY_EVE = date(2025, 9, 26)  # a Friday; Sunday 28 September is a make-up workday, 1–8 October off
SPRING_EVE = date(2025, 1, 24)  # a Friday; Sunday 26 January is a make-up workday, 28 January–4 February off
ORDINARY_DAY = date(2025, 6, 16)  # a Monday with no holiday within two weeks


def pdf() -> FileStorage:
    data = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    return FileStorage(BytesIO(data), "证明.pdf", content_type="application/pdf")


def file(learner, earned_on: date | None = None, hours_: int = 12) -> Declaration:
    data = {"kind": "research", "category": "professional", "title": "论文发表", "organiser": "中华医学会",
            "earned_on": earned_on or clock.today(), "minutes": None, "days": None, "hours": hours_}
    return declarations.declare(learner, data, [pdf()])


def reload(declaration_id: int) -> Declaration:
    db.session.expire_all()
    return db.session.get(Declaration, declaration_id)


def ledger_rows(declaration_id: int) -> list[HoursRecord]:
    db.session.expire_all()
    return db.session.execute(
        sa.select(HoursRecord).where(HoursRecord.declaration_id == declaration_id)).scalars().all()


class World:
    pass


@pytest.fixture
def app_config(tmp_path):
    return {"EVIDENCE_FOLDER": str(tmp_path / "evidence")}


@pytest.fixture
def on(monkeypatch):
    """Set the local date (services.infra.clock.today)."""

    def set_day(day: date) -> None:
        monkeypatch.setattr(clock, "today", lambda: day)

    set_day(ORDINARY_DAY)
    return set_day


@pytest.fixture
def world(app, on, make_user):
    return build_world(make_user)


def build_world(make_user) -> World:
    """Zhengzhou (Henan: sector_step) and Guangzhou (Guangdong: 教育 and 卫生 recognised by their sector), each
    with a hospital, its reviewer and nurses; health authorities: Zhengzhou's own and Guangdong's province's."""
    regions = seed_reference()
    w = World()
    w.henan, w.zhengzhou = regions["410000"], regions["410100"]
    w.guangdong, w.guangzhou = regions["440000"], regions["440100"]
    w.zz_hospital = Employer(name="郑州市第一人民医院", region_id=w.zhengzhou.id)
    w.gz_hospital = Employer(name="广州市第一人民医院", region_id=w.guangzhou.id)
    w.zz_health = SectorAuthority(region_id=w.zhengzhou.id, sector="卫生", name="郑州市卫生健康委员会")
    w.henan_health = SectorAuthority(region_id=w.henan.id, sector="卫生", name="河南省卫生健康委员会")
    w.gd_health = SectorAuthority(region_id=w.guangdong.id, sector="卫生", name="广东省卫生健康委员会")
    db.session.add_all([w.zz_hospital, w.gz_hospital, w.zz_health, w.henan_health, w.gd_health])
    db.session.commit()
    w.zz_nurse = make_user(Role.LEARNER, region_id=w.zhengzhou.id, employer_id=w.zz_hospital.id, sector="卫生")
    w.zz_engineer = make_user(Role.LEARNER, region_id=w.zhengzhou.id, employer_id=w.zz_hospital.id, sector="工程")
    w.zz_unknown = make_user(Role.LEARNER, region_id=w.zhengzhou.id, employer_id=w.zz_hospital.id)
    w.gz_nurse = make_user(Role.LEARNER, region_id=w.guangzhou.id, employer_id=w.gz_hospital.id, sector="卫生")
    w.gz_accountant = make_user(Role.LEARNER, region_id=w.guangzhou.id, employer_id=w.gz_hospital.id, sector="会计")
    w.zz_reviewer = make_user(Role.REVIEWER, region_id=w.zhengzhou.id, employer_id=w.zz_hospital.id)
    w.gz_reviewer = make_user(Role.REVIEWER, region_id=w.guangzhou.id, employer_id=w.gz_hospital.id)
    w.zz_officer = make_user(Role.SECTOR_OFFICER, region_id=w.zhengzhou.id, sector_authority_id=w.zz_health.id)
    w.henan_officer = make_user(Role.SECTOR_OFFICER, region_id=w.henan.id, sector_authority_id=w.henan_health.id)
    w.gd_officer = make_user(Role.SECTOR_OFFICER, region_id=w.guangdong.id, sector_authority_id=w.gd_health.id)
    return w


# --- the rules, as data ---------------------------------------------------------------------------------------

def test_the_seeded_rules_give_henan_the_sector_step_and_guangdong_its_recognised_sectors(world):
    henan = hours.rule_for(world.zhengzhou, 2025)  # Zhengzhou sets nothing: Henan's rules apply
    guangdong = hours.rule_for(world.guangzhou, 2025)
    chengdu = hours.rule_for(seed_reference()["510100"], 2025)
    assert henan.sector_step is True and not henan.sector_recognised
    assert set(guangdong.sector_recognised) == {"教育", "卫生"} and not guangdong.sector_step
    assert not chengdu.sector_step and not chengdu.sector_recognised
    henan_row = db.session.execute(sa.select(RuleSet).where(RuleSet.region_id == world.henan.id,
                                                            RuleSet.year == 2025)).scalar_one()
    assert "（002）" in henan_row.source


def test_a_city_of_its_own_overrides_the_provinces_sector_step(world):
    db.session.add(RuleSet(region_id=world.zhengzhou.id, year=2025, sector_step=False, unconfirmed=[]))
    db.session.commit()
    declaration = file(world.zz_nurse)
    assert declaration.status == DeclarationStatus.PENDING and declaration.sector_authority_id is None


# --- routes -------------------------------------------------------------------------------------------------

def test_henan_goes_to_the_employer_then_to_the_citys_authority_and_credits_once_at_the_end(world, on):
    declaration = file(world.zz_nurse, hours_=12)
    assert declaration.status == DeclarationStatus.PENDING
    assert declaration.sector_authority_id == world.zz_health.id  # the city's, not the province's
    assert declaration.sector_due_on is None

    with pytest.raises(DomainError, match="单位尚未审核"):
        declarations.review_as_sector(world.zz_officer, declaration.id, True, None, "")
    assert reload(declaration.id).status == DeclarationStatus.PENDING

    on(date(2025, 6, 17))
    declarations.review(world.zz_reviewer, declaration.id, True, 10, "两篇中一篇不符")
    after_employer = reload(declaration.id)
    assert after_employer.status == DeclarationStatus.SECTOR_PENDING
    assert after_employer.employer_hours == 10 and after_employer.hours_approved is None
    assert after_employer.sector_due_on == date(2025, 6, 24)  # 5 working days from the approval day
    assert ledger_rows(declaration.id) == []

    with pytest.raises(DomainError, match="认定学时应在 1 到 10 之间"):
        declarations.review_as_sector(world.zz_officer, declaration.id, True, 12, "")
    with pytest.raises(DomainError, match="核减学时时必须填写理由"):
        declarations.review_as_sector(world.zz_officer, declaration.id, True, 8, "")
    declarations.review_as_sector(world.zz_officer, declaration.id, True, 8, "会议学时按规定折算")
    done = reload(declaration.id)
    assert done.status == DeclarationStatus.APPROVED and done.hours_approved == done.hours_credited == 8
    assert done.sector_reviewer_id == world.zz_officer.id and done.sector_note == "会议学时按规定折算"
    assert [r.hours for r in ledger_rows(declaration.id)] == [8]

    with pytest.raises(DomainError, match="不能重复审核"):
        declarations.review_as_sector(world.zz_officer, declaration.id, True, None, "")
    assert [r.hours for r in ledger_rows(declaration.id)] == [8]
    actions = db.session.execute(sa.select(AuditLog.action).where(AuditLog.object_id == declaration.id)
                                 .order_by(AuditLog.id)).scalars().all()
    assert actions == ["declaration.file", "declaration.employer_approved", "declaration.sector_approved"]


def test_the_employer_rejecting_ends_it_before_the_sector(world):
    declaration = file(world.zz_nurse)
    declarations.review(world.zz_reviewer, declaration.id, False, None, "证明材料不清晰")
    assert reload(declaration.id).status == DeclarationStatus.REJECTED
    with pytest.raises(DomainError, match="不能重复审核"):
        declarations.review_as_sector(world.zz_officer, declaration.id, True, None, "")
    assert ledger_rows(declaration.id) == []


def test_the_sector_rejects_with_a_reason_and_nothing_is_credited(world):
    declaration = file(world.zz_nurse)
    declarations.review(world.zz_reviewer, declaration.id, True, None, "")
    with pytest.raises(DomainError, match="驳回时必须填写理由"):
        declarations.review_as_sector(world.zz_officer, declaration.id, False, None, " ")
    declarations.review_as_sector(world.zz_officer, declaration.id, False, None, "与本行业无关")
    rejected = reload(declaration.id)
    assert rejected.status == DeclarationStatus.REJECTED and rejected.sector_note == "与本行业无关"
    assert ledger_rows(declaration.id) == []


def test_another_authority_cannot_find_the_declaration(world):
    declaration = file(world.zz_nurse)
    declarations.review(world.zz_reviewer, declaration.id, True, None, "")
    for officer in (world.henan_officer, world.gd_officer):
        with pytest.raises(LookupError):
            declarations.review_as_sector(officer, declaration.id, True, None, "")
    assert reload(declaration.id).status == DeclarationStatus.SECTOR_PENDING


def test_without_a_city_authority_the_provinces_reviews(world, make_user):
    henan_education = SectorAuthority(region_id=world.henan.id, sector="教育", name="河南省教育厅")
    db.session.add(henan_education)
    db.session.commit()
    teacher = make_user(Role.LEARNER, region_id=world.zhengzhou.id, employer_id=world.zz_hospital.id, sector="教育")
    declaration = file(teacher)
    assert declaration.sector_authority_id == henan_education.id


def test_guangdong_health_staff_go_straight_to_the_sector_and_others_to_the_employer(world):
    nurse = file(world.gz_nurse)
    assert nurse.status == DeclarationStatus.SECTOR_PENDING and nurse.sector_authority_id == world.gd_health.id
    assert nurse.sector_due_on == date(2025, 6, 23)
    with pytest.raises(DomainError, match="不能重复审核"):  # the employer has no step here
        declarations.review(world.gz_reviewer, nurse.id, True, None, "")
    declarations.review_as_sector(world.gd_officer, nurse.id, True, None, "")
    assert [r.hours for r in ledger_rows(nurse.id)] == [12]

    accountant = file(world.gz_accountant)
    assert accountant.status == DeclarationStatus.PENDING and accountant.sector_authority_id is None
    declarations.review(world.gz_reviewer, accountant.id, True, None, "")
    assert reload(accountant.id).status == DeclarationStatus.APPROVED
    assert [r.hours for r in ledger_rows(accountant.id)] == [12]


def test_filing_is_refused_without_a_sector_or_without_its_authority(world):
    with pytest.raises(DomainError, match="请先在个人资料中填写您所属的行业"):
        file(world.zz_unknown)
    with pytest.raises(DomainError, match="工程行业主管部门尚未入驻本平台"):
        file(world.zz_engineer)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Declaration)) == 0


def test_the_learner_may_edit_only_until_someone_reviewed(world):
    nurse = file(world.gz_nurse)
    edited = declarations.edit(world.gz_nurse, nurse.id, {"title": "论文发表（修订）", "organiser": "",
                                                          "earned_on": clock.today(), "hours": 6,
                                                          "category": "professional"})
    assert edited.hours_claimed == 6
    declarations.review_as_sector(world.gd_officer, nurse.id, True, None, "")
    with pytest.raises(DomainError, match="不能再修改"):
        declarations.edit(world.gz_nurse, nurse.id, {"title": "再改", "earned_on": clock.today(), "hours": 6})


# --- deadlines across the holidays (调休 workdays count, holidays do not) -----------------------------------

@pytest.mark.parametrize(("filed", "employer_approves", "employer_due", "sector_due"), [
    # National Day 2025: Sun 28 Sep is worked, 1–8 Oct are off, Sat 11 Oct is worked.
    (NATIONAL_DAY_EVE, date(2025, 9, 30), date(2025, 10, 10), date(2025, 10, 14)),
    # Spring Festival 2025: Sun 26 Jan is worked, 28 Jan–4 Feb are off, Sat 8 Feb is worked.
    (SPRING_EVE, date(2025, 1, 27), date(2025, 2, 7), date(2025, 2, 10)),
])
def test_both_steps_deadlines_count_make_up_workdays_and_skip_the_holidays(world, on, filed, employer_approves,
                                                                          employer_due, sector_due):
    on(filed)
    declaration = file(world.zz_nurse, earned_on=filed)
    assert declaration.due_on == employer_due
    on(employer_approves)
    declarations.review(world.zz_reviewer, declaration.id, True, None, "")
    assert reload(declaration.id).sector_due_on == sector_due


@pytest.mark.parametrize(("filed", "due"), [(NATIONAL_DAY_EVE, date(2025, 10, 10)), (SPRING_EVE, date(2025, 2, 7))])
def test_the_sector_alone_has_five_working_days_from_filing_across_the_holidays(world, on, filed, due):
    on(filed)
    declaration = file(world.gz_nurse, earned_on=filed)
    assert declaration.status == DeclarationStatus.SECTOR_PENDING and declaration.sector_due_on == due


def test_overdue_sector_reviews_are_counted_per_authority_for_the_regulator(world, on, make_user):
    on(NATIONAL_DAY_EVE)
    first, second = file(world.zz_nurse), file(world.zz_nurse)
    for declaration in (first, second):
        declarations.review(world.zz_reviewer, declaration.id, True, None, "")
    on(date(2025, 10, 20))
    henan_regulator = make_user(Role.REGULATOR, region_id=world.henan.id)
    guangdong_regulator = make_user(Role.REGULATOR, region_id=world.guangdong.id)
    rows = declarations.overdue_by_sector(henan_regulator)
    assert [(a.name, n, oldest) for a, n, oldest in rows] == [("郑州市卫生健康委员会", 2, date(2025, 10, 10))]
    assert declarations.overdue_by_sector(guangdong_regulator) == []
    assert declarations.is_sector_overdue(reload(first.id))
    assert not declarations.is_overdue(reload(first.id))  # the employer's step was on time


def test_a_refusal_names_the_state_once(world):
    """The labels carry their own 已 (已通过): the refusal of a second review names the state once."""
    declaration = file(world.gz_accountant)  # Guangdong's accountant: the employer alone
    declarations.review(world.gz_reviewer, declaration.id, True, None, "")
    with pytest.raises(DomainError) as refused:
        declarations.review(world.gz_reviewer, declaration.id, True, None, "")
    assert refused.value.message == "该申报当前为“已通过”，不能重复审核"


# --- the regulator sets them --------------------------------------------------------------------------------

def _save(user, year, values):
    preview = rule_edits.preview(user, year, values)
    return rule_edits.save(user, year, values, seen=preview.seen, previewed=preview.digest)


def test_a_regulator_sets_the_sector_rules_on_the_rules_page_and_a_city_inherits_them(world, make_user):
    guangdong = make_user(Role.REGULATOR, region_id=world.guangdong.id)
    values = dict(rule_edits.page(guangdong, 2026).own_values())
    assert values["sector_recognised"] == ["卫生", "教育"] and values["sector_step"] is None
    with pytest.raises(rule_edits.RulesRefused) as refused:
        rule_edits.preview(guangdong, 2026, values | {"sector_recognised": ["卫生", "体育"]})
    assert refused.value.problems == {"sector_recognised": "请选择列表中的行业"}
    changes = _save(guangdong, 2026, values | {"sector_recognised": ["卫生"], "sector_step": "yes"})
    assert {c.key: (c.old, c.new) for c in changes} == {"sector_step": (None, True),
                                                        "sector_recognised": (["卫生", "教育"], ["卫生"])}
    rule = hours.rule_for(world.guangzhou, 2026)  # Guangzhou sets nothing of its own
    assert rule.sector_step is True and rule.sector_recognised == ["卫生"]
    assert _save(guangdong, 2026, dict(rule_edits.page(guangdong, 2026).own_values())) == []  # unchanged: no change


def test_the_rules_page_shows_and_sends_the_sector_rules(app, world, make_user):
    henan = make_user(Role.REGULATOR, region_id=world.henan.id)
    client = app.test_client()
    assert login(client, henan).status_code == 302
    page = client.get("/regulator/rules?year=2025").get_data(as_text=True)
    row = page.split('data-key="sector_step"')[1].split("</tr>")[0]
    assert re.search(r'<option selected value="yes">', row) and "本级设定" in row


def test_the_employer_s_reviewer_sees_a_sector_only_declaration_as_not_theirs_to_review(app, world):
    """Guangdong's nurse: her sector recognises her hours; her hospital's reviewer sees it, with no form and
    without being told the hospital reviewed it."""
    declaration = file(world.gz_nurse)
    client = app.test_client()
    assert login(client, world.gz_reviewer).status_code == 302
    page = client.get(f"/review/{declaration.id}").get_data(as_text=True)
    assert "本项申报由行业主管部门认定，无需单位审核：待行业主管部门审核" in page
    assert "单位已审核" not in page and 'name="decision"' not in page


def test_the_declarations_page_says_who_reviews_by_the_learner_s_rules(app, world):
    """Henan: both steps; Guangdong's nurse: her sector; Guangdong's accountant: the employer; with the
    working days of the rule."""
    said = {who: declarations.who_reviews(getattr(world, who), 2025)
            for who in ("zz_nurse", "gz_nurse", "gz_accountant")}
    assert said == {
        "zz_nurse": "学时申报先由所在单位审核，再由行业主管部门审核，每一步须在 5 个工作日内完成。",
        "gz_nurse": "您所在的卫生行业，学时由行业主管部门认定，须在 5 个工作日内审核。",
        "gz_accountant": "学时申报由所在单位的审核人员在 5 个工作日内审核。",
    }
    client = app.test_client()
    assert login(client, world.zz_nurse).status_code == 302
    assert said["zz_nurse"] in client.get("/me/declarations").get_data(as_text=True)
