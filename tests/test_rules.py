"""Rules per region and year (issue 14, item 3): nothing applies everywhere, a city inherits its province's
values, the evaluation proposes the region's outcome for a missed target, and a regulator edits their region's
rules with validation beside the field, a preview counted by the database, an audit entry, and no effect on a
year already confirmed."""

import re

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    AuditLog,
    BaseType,
    Category,
    DeclarationCap,
    DeclarationKind,
    Evaluation,
    EvaluationStatus,
    Outcome,
    Role,
    RuleSet,
    Target,
)
from services import demo, evaluation, hours, registry, rule_edits, rules, target_edits
from tests.conftest import login

YEAR, NEXT = 2026, 2027
CAP = rule_edits.cap_key(DeclarationKind.COMPETITION, Category.PUBLIC)


@pytest.fixture
def regions(app):
    return demo.seed_reference()


@pytest.fixture
def regulator(make_user, regions):
    def make(code):
        return make_user(Role.REGULATOR, region_id=regions[code].id, name=f"{regions[code].name}人社部门")

    return make


def own_values(user, year) -> dict:
    """The form as the page fills it: the region's own values, changed by the test before saving."""
    return dict(rule_edits.page(user, year).own_values())


def learners(make_user, region, n) -> None:
    for _ in range(n):
        make_user(Role.LEARNER, region_id=region.id)


def cap_hours(region, year):
    cap = rules.caps_in_force(region, year).get((DeclarationKind.COMPETITION, Category.PUBLIC))
    return cap.max_hours if cap else None


# --- nothing applies everywhere ----------------------------------------------------------------------------

def test_yantai_competition_caps_cap_yantai_learners_and_not_chengdu_ones(regions):
    assert cap_hours(regions["370600"], YEAR) == 5
    assert cap_hours(regions["510100"], YEAR) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DeclarationCap)
                             .where(DeclarationCap.region_id.is_(None))) == 0


def test_shandong_targets_are_shandongs_and_not_sichuans(regions):
    targets = registry.targets_of_year(YEAR)
    assert registry.pick_target(targets, BaseType.PROVINCIAL, regions["370600"]).min_trainees == 2000
    assert registry.pick_target(targets, BaseType.RURAL_REVITALIZATION, regions["370000"]).min_trainees == 3000
    assert registry.pick_target(targets, BaseType.PROVINCIAL, regions["510100"]) is None


def test_guangdong_conversions_are_not_applied_as_stated_rules_elsewhere(regions):
    """Guangdong states 8 hours a day and 45 minutes an hour (000); Chengdu's notice does not: its values are
    defaults awaiting confirmation, and Henan's 5 working days (002) is stated."""
    guangzhou = rules.resolve([db.session.execute(sa.select(RuleSet).filter_by(
        region_id=regions["440000"].id, year=YEAR)).scalar_one()], rules.RULE_FIELDS)
    chengdu = hours.rule_for(regions["510100"], YEAR)
    henan = hours.rule_for(regions["410100"], YEAR)
    assert not guangzhou["hours_per_day"].is_default and guangzhou["review_working_days"].is_default
    assert "hours_per_day" in chengdu.unconfirmed and "minutes_per_hour" in chengdu.unconfirmed
    assert "review_working_days" not in henan.unconfirmed and "hours_per_day" in henan.unconfirmed


def test_yearly_public_themes_are_the_regions_own(regions):
    assert hours.rule_for(regions["510100"], YEAR).public_themes.splitlines() == ["人工智能与健康", "5G+"]
    yantai = hours.rule_for(regions["370600"], YEAR)
    assert "“专业技术人员职业道德和能力建设”专题系列课程" in yantai.public_themes.splitlines()
    assert "知识产权" in yantai.public_electives.splitlines()
    assert hours.rule_for(regions["440100"], YEAR).public_themes is None


# --- inheritance --------------------------------------------------------------------------------------------

def test_a_city_without_its_own_value_gets_its_provinces(regions, regulator, make_region):
    zhengzhou = regions["410100"]
    assert (hours.rule_for(zhengzhou, YEAR).professional_min, hours.rule_for(zhengzhou, YEAR).review_working_days) \
        == (60, 5)  # Henan's (002): Zhengzhou sets nothing
    qingdao = make_region("青岛市", parent=regions["370000"])
    shandong = regulator("370000")
    values = own_values(shandong, NEXT) | {"hours_per_day": 6, CAP: 4}
    rule_edits.save(shandong, NEXT, values)

    assert hours.rule_for(qingdao, NEXT).hours_per_day == 6  # the province's, Qingdao sets none
    assert hours.rule_for(regions["370600"], NEXT).hours_per_day == 8  # Yantai's own
    assert (cap_hours(qingdao, NEXT), cap_hours(regions["370600"], NEXT)) == (4, 5)


def test_henan_base_that_misses_its_target_is_proposed_exit_and_a_sichuan_one_rectify(regions, make_region):
    """Notice 002: a base that cannot complete its training task loses its status (取消其基地资格)."""
    target = Target(base_type=BaseType.CITY, year=YEAR, min_trainees=10, min_projects=1)
    figures = {"trainees": 9, "projects": 1, "completed": 9, "seated": 9, "rating": 5.0, "overdue_plans": 0}
    henan = evaluation.rubric_for(YEAR, regions["410100"], BaseType.CITY)
    sichuan = evaluation.rubric_for(YEAR, regions["510100"], BaseType.CITY)

    score, henan_outcome, missed = evaluation.score_and_outcome(figures, target, 100.0, henan)
    assert missed and score >= henan.keep_threshold
    assert henan_outcome == Outcome.EXIT
    assert evaluation.score_and_outcome(figures, target, 100.0, sichuan)[1] == Outcome.RECTIFY
    assert "missed_target_outcome" not in henan.unconfirmed and "missed_target_outcome" in sichuan.unconfirmed


# --- editing: validation, preview, audit, confirmed years ------------------------------------------------

def test_a_negative_requirement_and_a_cap_above_the_requirement_are_refused_beside_the_field(regions, regulator):
    yantai = regulator("370600")
    values = own_values(yantai, NEXT) | {"public_min": -1, rule_edits.cap_key(
        DeclarationKind.COMPETITION, Category.PROFESSIONAL): 61}
    with pytest.raises(rule_edits.RulesRefused) as refused:
        rule_edits.save(yantai, NEXT, values)
    problems = refused.value.problems
    assert problems["public_min"] == "学时要求不能为负数"
    assert problems["cap_competition_professional"] == "上限不能高于专业科目的年度学时要求（60 学时）"
    db.session.rollback()
    assert hours.rule_for(regions["370600"], NEXT).public_min == 30
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "rules.set")) == 0


def test_the_page_shows_the_refusal_beside_the_field_and_saves_nothing(app, regions, regulator):
    yantai = regulator("370600")
    client = app.test_client()
    assert login(client, yantai).status_code == 302
    form = {key: "" if value is None else [c.value for c in value] if isinstance(value, tuple)
            else getattr(value, "value", value) for key, value in own_values(yantai, NEXT).items()}
    response = client.post("/regulator/rules", data=form | {"year": NEXT, CAP: "31", "action": "save"})
    assert response.status_code == 400
    row = re.search(rf'<tr data-key="{CAP}">.*?</tr>', response.text, re.S).group(0)
    assert "上限不能高于公需科目的年度学时要求（30 学时）" in row
    assert cap_hours(regions["370600"], NEXT) == 5


def test_preview_counts_the_learners_a_change_touches_and_writes_nothing(regions, regulator, make_user,
                                                                         make_region):
    learners(make_user, regions["370600"], 3)
    learners(make_user, regions["510100"], 2)
    learners(make_user, regions["370000"], 1)
    yantai, shandong = regulator("370600"), regulator("370000")

    (change,) = rule_edits.preview(yantai, NEXT, own_values(yantai, NEXT) | {CAP: 3})
    assert (change.key, change.old, change.new, change.direction, change.learners) == (CAP, 5, 3, "降低", 3)
    assert cap_hours(regions["370600"], NEXT) == 5

    # The province's conversion reaches its own learners and its cities' that set none (Yantai sets 8).
    qingdao = make_region("青岛市", parent=regions["370000"])
    learners(make_user, qingdao, 4)
    (change,) = rule_edits.preview(shandong, NEXT, own_values(shandong, NEXT) | {"hours_per_day": 7})
    assert (change.old, change.new, change.learners) == (8, 7, 1 + 4)


def test_saving_audits_old_and_new_values_and_leaves_this_year_unchanged(regions, regulator):
    yantai = regulator("370600")
    rule_edits.save(yantai, NEXT, own_values(yantai, NEXT) | {CAP: 3, "public_themes": "数字经济\n人工智能"})

    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "rules.set")).scalar_one()
    assert (entry.actor_id, entry.object_type, entry.object_id) == (yantai.id, "region", regions["370600"].id)
    assert entry.details["year"] == NEXT
    assert entry.details["changes"][CAP] == [5, 3]
    assert entry.details["changes"]["public_themes"][1] == "数字经济\n人工智能"
    assert (cap_hours(regions["370600"], NEXT), cap_hours(regions["370600"], YEAR)) == (3, 5)


@pytest.mark.parametrize("code", ["370600", "370000"])
def test_a_year_whose_evaluation_is_confirmed_is_refused(regions, regulator, code):
    """Yantai's 2025 evaluation is confirmed: neither Yantai nor Shandong (whose values Yantai inherits) may
    change 2025; Chengdu may."""
    db.session.add(Evaluation(year=2025, region_id=regions["370600"].id, status=EvaluationStatus.CONFIRMED))
    db.session.commit()
    user = regulator(code)
    with pytest.raises(rule_edits.RulesRefused) as refused:
        rule_edits.save(user, 2025, own_values(user, 2025) | {"public_min": 20})
    assert refused.value.problems == {"year": "2025年度的评估已确认，该年度的规则不能再修改"}
    with pytest.raises(Exception, match="已确认"):
        target_edits.save(user, BaseType.CITY, 2025, 1, 1, seen=None)
    db.session.rollback()
    assert hours.rule_for(regions["370600"], 2025).public_min == 30
    chengdu = regulator("510100")
    assert rule_edits.save(chengdu, 2025, own_values(chengdu, 2025) | {"public_min": 20})


def test_a_city_regulator_writes_the_citys_values_only(regions, regulator):
    yantai = regulator("370600")
    rule_edits.save(yantai, NEXT, own_values(yantai, NEXT) | {"keep_threshold": 80})
    shandong_rubric = rules.pick_rubric(rules.rubrics_up_to(NEXT), regions["370000"], NEXT)
    assert shandong_rubric.keep_threshold == 75
    assert rules.pick_rubric(rules.rubrics_up_to(NEXT), regions["370600"], NEXT).keep_threshold == 80
    # A province-level base in Yantai is evaluated by the province's rubric, not the city's.
    assert evaluation.rubric_for(NEXT, regions["370600"], BaseType.PROVINCIAL).keep_threshold == 75


def test_defaults_are_flagged_on_the_page_until_confirmed(app, regions, regulator):
    yantai, guangdong = regulator("370600"), regulator("440000")
    client = app.test_client()
    assert login(client, yantai).status_code == 302
    page = client.get(f"/regulator/rules?year={NEXT}").text
    row = re.search(r'<tr data-key="hours_per_day">.*?</tr>', page, re.S).group(0)
    assert "默认值，待确认" in row
    guangdong_client = app.test_client()
    assert login(guangdong_client, guangdong).status_code == 302
    row = re.search(r'<tr data-key="hours_per_day">.*?</tr>',
                    guangdong_client.get(f"/regulator/rules?year={NEXT}").text, re.S).group(0)
    assert "默认值，待确认" not in row

    rule_edits.save(yantai, NEXT, own_values(yantai, NEXT), confirm=["hours_per_day"])
    assert "hours_per_day" not in hours.rule_for(regions["370600"], NEXT).unconfirmed
    assert "minutes_per_hour" in hours.rule_for(regions["370600"], NEXT).unconfirmed


def test_no_cap_or_target_can_be_stored_for_everywhere():
    for model in (DeclarationCap, Target):
        assert model.__table__.c.region_id.nullable is False
