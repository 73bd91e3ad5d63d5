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
    Region,
    Role,
    RuleSet,
    Target,
    User,
)
from seeding import demo
from services import evaluation, hours, registry, rule_edits, rules, target_edits
from tests.conftest import count_queries, login, page_queries, rubric_in_force

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


def save_previewed(user, year, values, confirm=()):
    """Save as the page does: preview, then save what was previewed."""
    preview = rule_edits.preview(user, year, values, confirm)
    return rule_edits.save(user, year, values, confirm, seen=preview.seen, previewed=preview.digest)


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
    save_previewed(shandong, NEXT, values)

    assert hours.rule_for(qingdao, NEXT).hours_per_day == 6  # the province's, Qingdao sets none
    assert hours.rule_for(regions["370600"], NEXT).hours_per_day == 8  # Yantai's own
    assert (cap_hours(qingdao, NEXT), cap_hours(regions["370600"], NEXT)) == (4, 5)


def test_henan_base_that_misses_its_target_is_proposed_exit_and_a_sichuan_one_rectify(regions, make_region):
    """Notice 002: a base that cannot complete its training task loses its status (取消其基地资格)."""
    target = Target(base_type=BaseType.CITY, year=YEAR, min_trainees=10, min_projects=1)
    figures = {"trainees": 9, "projects": 1, "completed": 9, "seated": 9, "rating": 5.0, "overdue_plans": 0}
    henan = rubric_in_force(YEAR, regions["410100"], BaseType.CITY)
    sichuan = rubric_in_force(YEAR, regions["510100"], BaseType.CITY)

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
        rule_edits.save(yantai, NEXT, values, seen=None, previewed=None)
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

    (change,) = rule_edits.preview(yantai, NEXT, own_values(yantai, NEXT) | {CAP: 3}).changes
    assert (change.key, change.old, change.new, change.direction, change.learners) == (CAP, 5, 3, "降低", 3)
    assert cap_hours(regions["370600"], NEXT) == 5

    # The province's conversion reaches its own learners and its cities' that set none (Yantai sets 8).
    qingdao = make_region("青岛市", parent=regions["370000"])
    learners(make_user, qingdao, 4)
    (change,) = rule_edits.preview(shandong, NEXT, own_values(shandong, NEXT) | {"hours_per_day": 7}).changes
    assert (change.old, change.new, change.learners) == (8, 7, 1 + 4)


def test_saving_audits_old_and_new_values_and_leaves_this_year_unchanged(regions, regulator):
    yantai = regulator("370600")
    save_previewed(yantai, NEXT, own_values(yantai, NEXT) | {CAP: 3, "public_themes": "数字经济\n人工智能"})

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
        rule_edits.save(user, 2025, own_values(user, 2025) | {"public_min": 20}, seen=None, previewed=None)
    assert refused.value.problems == {"year": "2025年度的评估已确认，该年度的规则不能再修改"}
    with pytest.raises(Exception, match="已确认"):
        target_edits.save(user, BaseType.CITY, 2025, 1, 1, seen=None)
    db.session.rollback()
    assert hours.rule_for(regions["370600"], 2025).public_min == 30
    chengdu = regulator("510100")
    assert save_previewed(chengdu, 2025, own_values(chengdu, 2025) | {"public_min": 20})


def test_a_city_regulator_writes_the_citys_values_only(regions, regulator):
    yantai = regulator("370600")
    save_previewed(yantai, NEXT, own_values(yantai, NEXT) | {"keep_threshold": 80})
    shandong_rubric = rules.pick_rubric(rules.rubrics_up_to(NEXT), regions["370000"], NEXT)
    assert shandong_rubric.keep_threshold == 75
    assert rules.pick_rubric(rules.rubrics_up_to(NEXT), regions["370600"], NEXT).keep_threshold == 80
    # A province-level base in Yantai is evaluated by the province's rubric, not the city's.
    assert rubric_in_force(NEXT, regions["370600"], BaseType.PROVINCIAL).keep_threshold == 75


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

    save_previewed(yantai, NEXT, own_values(yantai, NEXT), confirm=["hours_per_day"])
    assert "hours_per_day" not in hours.rule_for(regions["370600"], NEXT).unconfirmed
    assert "minutes_per_hour" in hours.rule_for(regions["370600"], NEXT).unconfirmed


def test_no_cap_or_target_can_be_stored_for_everywhere():
    for model in (DeclarationCap, Target):
        assert model.__table__.c.region_id.nullable is False


# --- the save applies exactly what was previewed -----------------------------------------------------------

def page_form(user, year) -> dict:
    """The rules form as the page posts it, filled with the region's own values (a multiple choice with
    nothing chosen is not posted at all)."""
    return {key: "" if value is None else [c.value for c in value] if isinstance(value, tuple)
            else getattr(value, "value", value) for key, value in own_values(user, year).items()
            if value is not None or rules.KIND_KEYS.get(key, (None, None))[1] != "categories"} | {"year": year}


def previewed(client, form) -> dict:
    """Preview ``form`` on the page and return it with the hidden fields the preview carries to 保存."""
    response = client.post("/regulator/rules", data=form | {"action": "preview"})
    assert response.status_code == 200
    hidden = dict(re.findall(r'<input type="hidden" name="(seen|previewed)" value="([^"]*)"', response.text))
    return form | hidden | {"action": "save"}


def rules_audited() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(AuditLog.action == "rules.set"))


def signed_in_client(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def test_the_page_saves_what_was_previewed(app, regions, regulator):
    yantai = regulator("370600")
    client = signed_in_client(app, yantai)
    response = client.post("/regulator/rules", data=previewed(client, page_form(yantai, NEXT) | {CAP: "3"}))
    assert response.status_code == 302
    assert (cap_hours(regions["370600"], NEXT), rules_audited()) == (3, 1)

    form = page_form(yantai, NEXT) | {"confirm": ["hours_per_day"]}  # a default confirmed as it stands
    shown = client.post("/regulator/rules", data=form | {"action": "preview"}).text
    assert "确认以下默认值：每天折算学时" in shown
    assert client.post("/regulator/rules", data=previewed(client, form)).status_code == 302
    assert "hours_per_day" not in hours.rule_for(regions["370600"], NEXT).unconfirmed


def test_a_value_edited_after_the_preview_is_refused_and_nothing_saved(app, regions, regulator):
    yantai = regulator("370600")
    client = signed_in_client(app, yantai)
    form = previewed(client, page_form(yantai, NEXT) | {CAP: "3"})
    response = client.post("/regulator/rules", data=form | {CAP: "1"})  # changed on the page after the preview
    assert response.status_code == 409
    assert "预览之后又修改了数值" in response.text
    assert 'id="rules-save"' not in response.text  # preview again before 保存 is offered
    assert (cap_hours(regions["370600"], NEXT), rules_audited()) == (5, 0)
    # A default confirmed after the preview changes what is saved too.
    response = client.post("/regulator/rules", data=form | {"confirm": ["hours_per_day"]})
    assert response.status_code == 409
    assert "hours_per_day" in hours.rule_for(regions["370600"], NEXT).unconfirmed


def test_a_preview_made_stale_by_another_regulators_save_is_refused(app, regions, regulator):
    first, second = regulator("370600"), regulator("370600")
    first_client, second_client = signed_in_client(app, first), signed_in_client(app, second)
    first_form = previewed(first_client, page_form(first, NEXT) | {CAP: "3"})
    second_form = previewed(second_client, page_form(second, NEXT) | {"hours_per_day": "7"})
    assert second_client.post("/regulator/rules", data=second_form).status_code == 302

    response = first_client.post("/regulator/rules", data=first_form)
    assert response.status_code == 409
    assert "已被他人修改" in response.text
    # The first regulator's save would have put hours_per_day back to 8 without their having seen the 7.
    assert (cap_hours(regions["370600"], NEXT), hours.rule_for(regions["370600"], NEXT).hours_per_day) == (5, 7)
    assert rules_audited() == 1


def test_the_service_refuses_a_stale_preview_and_values_other_than_previewed(regions, regulator):
    first, second = regulator("370600"), regulator("370600")
    values = own_values(first, NEXT) | {CAP: 3}
    preview = rule_edits.preview(first, NEXT, values)
    with pytest.raises(rule_edits.StalePreview, match="预览之后又修改了数值"):
        rule_edits.save(first, NEXT, values | {CAP: 2}, seen=preview.seen, previewed=preview.digest)
    with pytest.raises(rule_edits.StalePreview, match="请先预览"):
        rule_edits.save(first, NEXT, values, seen=None, previewed=None)
    other = rule_edits.preview(second, NEXT, own_values(second, NEXT) | {CAP: 4})
    rule_edits.save(second, NEXT, own_values(second, NEXT) | {CAP: 4}, seen=other.seen, previewed=other.digest)
    with pytest.raises(rule_edits.StalePreview, match="已被他人修改"):
        rule_edits.save(first, NEXT, values, seen=preview.seen, previewed=preview.digest)
    assert (cap_hours(regions["370600"], NEXT), rules_audited()) == (4, 1)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("missed_target_outcome", "keep", "未完成年度目标任务的基地只能评为整改或退出"),
    ("missed_target_outcome", "bogus", "请选择列表中的评估结论"),
    ("missed_target_outcome", ["exit"], "请选择列表中的评估结论"),
    (rules.kind_key(DeclarationKind.ABROAD, "categories"), 5, "请选择列表中的科目类别"),
    (rules.kind_key(DeclarationKind.ABROAD, "min_days"), "10", "请填写整数"),
    ("hours_per_day", "eight", "请填写整数"),
    ("public_themes", 5, "请填写文字"),
    (rules.kind_key(DeclarationKind.ABROAD, "accepted"), "maybe", "请选择列表中的选项"),
])
def test_a_value_of_the_wrong_kind_from_a_direct_call_is_refused_beside_its_field(regions, regulator, key, value,
                                                                                  message):
    yantai = regulator("370600")
    for call in (rule_edits.preview, lambda *args: rule_edits.save(*args, seen=None, previewed=None)):
        with pytest.raises(rule_edits.RulesRefused) as refused:
            call(yantai, NEXT, own_values(yantai, NEXT) | {key: value})
        assert refused.value.problems == {key: message}
    assert rules_audited() == 0


def test_a_forged_missed_target_outcome_is_refused_beside_the_field(app, regions, regulator):
    """The form's choices refuse it before the service does (the service refuses it too, above)."""
    yantai = regulator("370600")
    client = signed_in_client(app, yantai)
    for action in ("preview", "save"):
        response = client.post("/regulator/rules", data=page_form(yantai, NEXT)
                               | {"missed_target_outcome": "bogus", "action": action})
        assert response.status_code == 400
        row = re.search(r'<tr data-key="missed_target_outcome">.*?</tr>', response.text, re.S).group(0)
        assert "不是有效的选择" in row
    assert rules_audited() == 0


def test_the_rules_page_preview_and_save_run_a_fixed_number_of_queries(app, regions, regulator, make_user,
                                                                        make_region, city):
    """Whatever the learners and the cities: the page, its preview (the digest of the stored values is read
    from the rows the preview loads anyway) and the save (one more: the region's row locked)."""
    shandong_id, province_id = regulator("370000").id, regions["370000"].id
    client = signed_in_client(app, db.session.get(User, shandong_id))

    def counted():
        got = [len(page_queries(client, f"/regulator/rules?year={NEXT}"))]
        for change in ("7", "8"):  # hours_per_day from 8 to 7, then back
            form = page_form(db.session.get(User, shandong_id), NEXT) | {"hours_per_day": change}
            db.session.remove()
            with count_queries(db.engine) as statements:
                response = client.post("/regulator/rules", data=form | {"action": "preview"})
            assert response.status_code == 200
            form = previewed(client, form)
            db.session.remove()
            with count_queries(db.engine) as saved:
                assert client.post("/regulator/rules", data=form).status_code == 302
            got += [len(statements), len(saved)]
        return got

    before = counted()
    db.session.add(city)  # make_user's default region, detached by the counting's emptied sessions
    for n in range(3):
        city = make_region(f"测试市{n}", parent=db.session.get(Region, province_id))
        learners(make_user, city, 5)
        db.session.add(RuleSet(region_id=city.id, year=NEXT, hours_per_day=6, unconfirmed=[]))
    db.session.commit()
    assert counted() == before
