"""Yearly targets: a city's regulator sets its city-level bases' targets only; the province-level types'
targets are the province's, and a city's row for them never counts, not even one stored before the rule.
A new target is previewed first (old and new, the bases it reaches, how many meet each on the year's figures
so far), then exactly what was previewed is saved and audited (issue 14, item 3)."""

import re
from datetime import date

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    AuditLog,
    BaseStatus,
    BaseType,
    Enrollment,
    EnrollmentStatus,
    Evaluation,
    EvaluationStatus,
    Role,
    Target,
)
from services import evaluation, registry, target_edits
from services.infra import clock
from services.rule_edits import RulesRefused
from tests.conftest import login

PROVINCE_LEVEL = [BaseType.PROVINCIAL, BaseType.RURAL_REVITALIZATION]


@pytest.fixture
def regulators(make_user, city):
    return {
        "city": make_user(Role.REGULATOR, region_id=city.id, name="成都市人社局 王科长"),
        "province": make_user(Role.REGULATOR, region_id=city.parent_id, name="四川省人社厅 赵处长"),
    }


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def store(base_type, region_id, trainees, projects) -> Target:
    """A target row inserted directly, as one written before set_target refused it would be."""
    target = Target(base_type=base_type, year=this_year(), region_id=region_id, min_trainees=trainees,
                    min_projects=projects)
    db.session.add(target)
    db.session.commit()
    return target


def this_year() -> int:
    """The targets page shows the current year's targets, so every test works in it."""
    return clock.today().year


def figures(target) -> tuple[int, int] | None:
    return (target.min_trainees, target.min_projects) if target else None


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


@pytest.mark.parametrize("base_type", PROVINCE_LEVEL)
def test_city_regulator_setting_a_province_level_target_is_refused_and_nothing_is_kept(regulators, base_type):
    for attempt in (target_edits.preview, lambda *args: target_edits.save(*args, seen=None)):
        with pytest.raises(RulesRefused) as refused:
            attempt(regulators["city"], base_type, this_year(), 0, 0)
        assert "省级人社部门" in refused.value.problems["base_type"]
    db.session.rollback()
    assert count(Target) == 0
    assert count(AuditLog, AuditLog.action == "target.set") == 0


@pytest.mark.parametrize("action", ["preview", "save"])
def test_city_regulator_posting_a_provincial_target_on_the_page_is_refused(app, regulators, action):
    """A forged POST: the city's page offers no province-level type, to preview or to save."""
    response = signed_in(app, regulators["city"]).post(
        "/regulator/targets", data={"base_type": "provincial", "year": str(this_year()), "min_trainees": "0",
                                    "min_projects": "0", "action": action})

    assert response.status_code == 400
    beside = re.search(r'id="base_type".*?</div>\s*</div>', response.text, re.S).group(0)
    assert "由省级人社部门设定" in beside
    assert 'id="targets-preview"' not in response.text
    assert count(Target) == 0
    assert count(AuditLog, AuditLog.action == "target.set") == 0


@pytest.mark.parametrize("base_type", PROVINCE_LEVEL)
def test_a_stored_city_row_for_a_province_level_type_is_ignored(city, make_base, base_type):
    store(base_type, city.id, 0, 0)

    assert registry.target_for(base_type, this_year(), city) is None  # not the city's (and none for everywhere)
    province_row = store(base_type, city.parent_id, 2500, 5)
    assert registry.target_for(base_type, this_year(), city).id == province_row.id
    assert registry.pick_target(registry.targets_of_year(this_year()), base_type, city).id == province_row.id

    # The evaluation of a province-level base in that city measures it against the province's figure.
    base = make_base(type=base_type, region_id=city.id)
    result = {r.base_id: r for r in evaluation.compute(this_year(), city.parent_id)}[base.id]
    assert (result.target_trainees, result.target_projects) == (2500, 5)
    assert result.missed_target


def test_city_own_city_target_wins_over_the_province_default_but_not_for_provincial(regulators, city,
                                                                                    other_city):
    target_edits.save(regulators["province"], BaseType.CITY, this_year(), 10, 3, seen=None)
    target_edits.save(regulators["city"], BaseType.CITY, this_year(), 5, 2, seen=None)
    store(BaseType.PROVINCIAL, city.parent_id, 2000, 4)
    store(BaseType.PROVINCIAL, city.id, 1, 1)
    targets = registry.targets_of_year(this_year())

    assert figures(registry.pick_target(targets, BaseType.CITY, city)) == (5, 2)
    assert figures(registry.pick_target(targets, BaseType.CITY, other_city)) == (10, 3)  # the province's default
    assert figures(registry.pick_target(targets, BaseType.PROVINCIAL, city)) == (2000, 4)


def test_province_regulator_sets_a_provincial_target_that_the_city_page_shows_read_only(app, regulators, city):
    client = signed_in(app, regulators["province"])
    previewed = client.post("/regulator/targets", data={"base_type": "provincial", "year": str(this_year()),
                                                        "min_trainees": "2500", "min_projects": "5"})
    assert previewed.status_code == 200
    assert count(Target) == 0  # a preview writes nothing
    response = client.post("/regulator/targets", data=confirm_form(previewed.text))

    assert response.status_code == 302
    target = db.session.execute(sa.select(Target)).scalar_one()
    assert (target.base_type, target.region_id, target.min_trainees, target.min_projects, target.set_by_id) == (
        BaseType.PROVINCIAL, city.parent_id, 2500, 5, regulators["province"].id)
    assert count(AuditLog, AuditLog.action == "target.set", AuditLog.actor_id == regulators["province"].id) == 1
    assert figures(registry.target_for(BaseType.PROVINCIAL, this_year(), city)) == (2500, 5)

    province_page = signed_in(app, regulators["province"]).get("/regulator/targets")
    options = re.findall(r'<option[^>]*value="(\w+)"', province_page.get_data(as_text=True))
    assert options == [t.value for t in BaseType]

    city_page = signed_in(app, regulators["city"]).get("/regulator/targets").get_data(as_text=True)
    assert re.findall(r'<option[^>]*value="(\w+)"', city_page) == ["city"]
    row = re.search(r"<td>省级继续教育基地 <span[^>]*>省级设定</span></td><td>(\d+)</td><td>(\d+)</td>", city_page)
    assert row and row.groups() == ("2500", "5")


# --- the preview and its confirmation -----------------------------------------------------------------------

TODAY = date(2026, 9, 15)


def confirm_form(page: str) -> dict:
    """The fields of the preview's confirm form, as the browser would post them."""
    form = re.search(r'<form[^>]*id="targets-confirm".*?</form>', page, re.S).group(0)
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form)) | {
        "csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]*)"', form).group(1)
        if "csrf_token" in form else ""}


@pytest.fixture
def on_today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)


@pytest.fixture
def completed(make_course, make_user):
    """``trainees`` learners each completing one of ``projects`` courses of the base, this year so far."""

    def make(base, trainees: int, projects: int):
        courses = [make_course(base, start_date=date(2026, 3, 1 + i), end_date=date(2026, 3, 2 + i), capacity=None)
                   for i in range(projects)]
        for n in range(trainees):
            course = courses[n % projects]
            learner = make_user(Role.LEARNER)
            db.session.add(Enrollment(course_id=course.id, learner_id=learner.id, status=EnrollmentStatus.COMPLETED,
                                      completed_on=course.end_date))
        db.session.commit()

    return make


def test_preview_counts_the_bases_a_province_default_reaches_and_how_many_meet_old_and_new(
        on_today, regulators, city, other_city, make_base, completed):
    """The province's city-level default reaches the city-level bases of cities that set none of their own
    (Mianyang, not Chengdu), counted by the database; a province-level or exited base is not among them."""
    target_edits.save(regulators["province"], BaseType.CITY, 2026, 2, 1, seen=None)
    target_edits.save(regulators["city"], BaseType.CITY, 2026, 1, 1, seen=None)  # Chengdu's own
    busy, idle = make_base(region_id=other_city.id), make_base(region_id=other_city.id)
    completed(busy, trainees=3, projects=2)
    completed(make_base(region_id=city.id), trainees=3, projects=2)  # Chengdu's: its own target applies
    make_base(region_id=other_city.id, type=BaseType.PROVINCIAL)
    make_base(region_id=other_city.id, status=BaseStatus.EXITED)
    assert idle.id

    found = target_edits.preview(regulators["province"], BaseType.CITY, 2026, 4, 1)

    assert found.bases == 2
    assert {c.key: (c.old, c.new, c.direction, c.bases) for c in found.changes} == {
        "min_trainees": (2, 4, "提高", 2)}
    assert (found.meeting_before, found.missing_before) == (1, 1)  # the busy base meets 2 / 1, the idle one not
    assert (found.meeting_after, found.missing_after) == (0, 2)  # 3 trainees miss 4
    assert (found.figures_year, found.figures_until) == (2026, TODAY)
    assert registry.target_for(BaseType.CITY, 2026, other_city).min_trainees == 2  # nothing written


def test_a_citys_preview_counts_its_own_bases_against_the_province_default_it_replaces(
        on_today, regulators, city, other_city, make_base, completed):
    target_edits.save(regulators["province"], BaseType.CITY, 2026, 2, 1, seen=None)
    completed(make_base(region_id=city.id), trainees=3, projects=2)
    make_base(region_id=other_city.id)

    found = target_edits.preview(regulators["city"], BaseType.CITY, 2026, 3, 3)

    assert found.bases == 1 and found.seen is None
    assert {c.key: (c.old_own, c.old, c.new) for c in found.changes} == {
        "min_trainees": (None, 2, 3), "min_projects": (None, 1, 3)}
    assert (found.meeting_before, found.meeting_after) == (1, 0)


def test_the_page_shows_the_preview_and_confirming_saves_it_audits_and_flashes(
        app, on_today, regulators, city, make_base, completed):
    completed(make_base(region_id=city.id), trainees=3, projects=2)
    make_base(region_id=city.id)
    client = signed_in(app, regulators["city"])

    page = client.post("/regulator/targets", data={"base_type": "city", "year": "2026", "min_trainees": "3",
                                                   "min_projects": "2"}).text
    before = re.search(r'<tr data-row="before">(.*?)</tr>', page, re.S).group(1)
    after = re.search(r'<tr data-row="after">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r"<td>(.*?)</td>", after) == ["3", "2", "1", "1"]
    assert "未设定" in before and re.findall(r"<td>(\d+)</td>", before) == ["2", "0"]  # no target: all meet
    assert "涉及 2 个基地" in page
    assert count(Target) == 0

    saved = client.post("/regulator/targets", data=confirm_form(page), follow_redirects=True)

    assert "已保存 2026 年度市级继续教育基地的目标：培训人数 3，培训项目 2" in saved.text
    target = db.session.execute(sa.select(Target)).scalar_one()
    assert (target.region_id, target.min_trainees, target.min_projects, target.set_by_id) == (
        city.id, 3, 2, regulators["city"].id)
    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "target.set")).scalar_one()
    assert (entry.actor_id, entry.details["trainees"], entry.details["projects"]) == (
        regulators["city"].id, [None, 3], [None, 2])


def test_a_stale_preview_is_refused_and_the_newer_value_kept(app, on_today, regulators, make_user, city):
    target_edits.save(regulators["city"], BaseType.CITY, 2026, 5, 2, seen=None)
    client = signed_in(app, regulators["city"])
    page = client.post("/regulator/targets", data={"base_type": "city", "year": "2026", "min_trainees": "3",
                                                   "min_projects": "2"}).text
    colleague = make_user(Role.REGULATOR, region_id=city.id, name="成都市人社局 李科员")
    target_edits.save(colleague, BaseType.CITY, 2026, 8, 2, seen=target_edits.Figures(5, 2))

    refused = client.post("/regulator/targets", data=confirm_form(page))

    assert refused.status_code == 400
    assert "该目标在预览之后已被他人修改" in refused.text
    assert figures(registry.target_for(BaseType.CITY, 2026, city)) == (8, 2)
    assert count(AuditLog, AuditLog.action == "target.set") == 2  # the two real saves, not the refused one
    with pytest.raises(target_edits.StalePreview):
        target_edits.save(regulators["city"], BaseType.CITY, 2026, 3, 2, seen=None)


@pytest.mark.parametrize("action", ["preview", "save"])
def test_a_confirmed_year_is_refused_beside_the_year(app, on_today, regulators, city, action):
    db.session.add(Evaluation(year=2025, region_id=city.id, status=EvaluationStatus.CONFIRMED))
    db.session.commit()

    response = signed_in(app, regulators["province"]).post(
        "/regulator/targets", data={"base_type": "city", "year": "2025", "min_trainees": "1", "min_projects": "1",
                                    "action": action, "seen_trainees": "", "seen_projects": ""})

    assert response.status_code == 400
    beside = re.search(r'id="year".*?</div>\s*</div>', response.text, re.S).group(0)
    assert "2025年度的评估已确认，该年度的目标不能再修改" in beside
    assert 'id="targets-preview"' not in response.text
    assert count(Target) == 0
    assert count(AuditLog, AuditLog.action == "target.set") == 0


@pytest.fixture
def app(pg_app):
    """These tests again on PostgreSQL (temporary copy, not committed)."""
    return pg_app
