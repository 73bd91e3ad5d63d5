"""Yearly hour rules by region (seeded from data/hour-rules.csv): minima, fallback, conversions, credit year."""

from datetime import date

import pytest
import sqlalchemy as sa

from extensions import db
from models import Category, EnrollmentStatus, HoursRecord, HoursSource, Role, RuleSet
from seeding import demo
from services import completions, enrollment, hours
from services.infra import clock
from services.queries import learner_pages
from tests.conftest import count_queries, totals_by_year

P, S, E = Category.PUBLIC, Category.PROFESSIONAL, Category.ELECTIVE
SEEDED_YEARS = (2025, 2026, 2027)



@pytest.fixture
def regions(app):
    return demo.seed_reference()


@pytest.fixture
def credit(make_user):
    """Add one ledger row to a learner (declared hours), as completion or approval would."""

    def add(learner_, year, category, amount):
        db.session.add(HoursRecord(learner_id=learner_.id, year=year, category=category, hours=amount,
                                   source=HoursSource.DECLARATION))
        db.session.commit()

    return add


def at(monkeypatch, day: date) -> None:
    monkeypatch.setattr(clock, "today", lambda: day)


# DOMAIN.md, "Annual hour requirements": (region code, total, public, professional, elective).
HOUR_TABLE = [
    pytest.param("440000", 90, 30, 42, 18, id="guangdong"),
    pytest.param("410000", 90, 30, 60, None, id="henan"),
    pytest.param("370600", 90, 30, 60, None, id="yantai"),
    pytest.param("510100", None, 30, None, None, id="chengdu"),
]


@pytest.mark.parametrize(("code", "total", "public", "professional", "elective"), HOUR_TABLE)
def test_seeded_rules_match_the_domain_table(regions, code, total, public, professional, elective):
    rules = hours.rules_for(regions[code], SEEDED_YEARS)
    assert sorted(rules) == list(SEEDED_YEARS)
    for rule in rules.values():
        assert rule.region_id == regions[code].id
        assert (rule.total_min, rule.public_min, rule.professional_min, rule.elective_min) == (
            total, public, professional, elective)
        assert (rule.hours_per_day, rule.minutes_per_hour) == (8, 45)


@pytest.mark.parametrize(("code", "total", "public", "professional", "elective"), HOUR_TABLE)
def test_progress_is_complete_exactly_at_the_minima(regions, code, total, public, professional, elective):
    rule = hours.rules_for(regions[code], [2026])[2026]
    minima = {P: public, S: professional or 0, E: elective or 0}
    done = hours.progress(2026, rule, dict(minima))
    assert done.complete
    assert all(line.missing == 0 for line in done.lines)
    labels = [line.label for line in done.lines]
    assert labels == [c.label for c in Category if minima[c]] + (["合计"] if total else [])
    if total:
        assert done.lines[-1].earned == total == sum(minima.values())

    # One hour short in any required category is not complete, and says what is missing.
    for category, required in minima.items():
        if not required:
            continue
        short = dict(minima, **{category: required - 1})
        result = hours.progress(2026, rule, short)
        assert not result.complete
        line = next(line for line in result.lines if line.label == category.label)
        assert (line.earned, line.required, line.missing, line.met) == (required - 1, required, 1, False)


def test_chengdu_requires_only_public_hours(regions):
    rule = hours.rules_for(regions["510100"], [2026])[2026]
    result = hours.progress(2026, rule, {P: 30, S: 0, E: 0})
    assert [(line.label, line.earned, line.required) for line in result.lines] == [("公需科目", 30, 30)]
    assert result.complete
    # Professional hours are shown when earned, but never stand in for the public minimum.
    result = hours.progress(2026, rule, {P: 29, S: 200, E: 0})
    assert [(line.label, line.required) for line in result.lines] == [("公需科目", 30), ("专业科目", None)]
    assert not result.complete
    assert result.lines[0].missing == 1


def test_henan_total_of_90_without_60_professional_is_not_complete(regions):
    rule = hours.rules_for(regions["410000"], [2026])[2026]
    result = hours.progress(2026, rule, {P: 30, S: 50, E: 10})
    lines = {line.label: line for line in result.lines}
    assert not result.complete
    assert lines["合计"].earned == 90 and lines["合计"].met
    assert lines["专业科目"].missing == 10
    assert lines["选修科目"].required is None


def test_guangdong_needs_electives_even_with_90_hours(regions):
    rule = hours.rules_for(regions["440000"], [2026])[2026]
    result = hours.progress(2026, rule, {P: 30, S: 60, E: 0})
    assert not result.complete
    assert {line.label: line.missing for line in result.lines} == {"公需科目": 0, "专业科目": 0, "选修科目": 18,
                                                                   "合计": 0}


def test_no_rule_for_the_year_is_never_complete(regions):
    assert hours.rules_for(regions["440000"], [2024]) == {}
    result = hours.progress(2024, None, {P: 500, S: 500, E: 500})
    assert not result.complete


@pytest.mark.parametrize(("city", "province"), [("440100", "440000"), ("410100", "410000")])
def test_city_without_own_rule_falls_back_to_its_province(regions, city, province):
    rules = hours.rules_for(regions[city], SEEDED_YEARS)
    assert sorted(rules) == list(SEEDED_YEARS)
    assert {rule.region_id for rule in rules.values()} == {regions[province].id}


def test_city_with_own_rule_wins_over_its_province(regions):
    db.session.add(RuleSet(region_id=regions["440100"].id, year=2026, total_min=100, public_min=40,
                           professional_min=40, elective_min=20))
    db.session.commit()
    rules = hours.rules_for(regions["440100"], SEEDED_YEARS)
    assert rules[2026].region_id == regions["440100"].id and rules[2026].total_min == 100
    assert rules[2025].region_id == rules[2027].region_id == regions["440000"].id
    # The province itself keeps its own rule.
    assert hours.rules_for(regions["440000"], [2026])[2026].total_min == 90


def test_province_without_any_rule_gives_none(regions):
    assert hours.rules_for(regions["510000"], SEEDED_YEARS) == {}
    assert hours.rules_for(None) == {}


@pytest.mark.parametrize(("minutes", "expected"), [(100, 2), (90, 2), (44, 0), (45, 1), (0, 0), (89, 1), (135, 3)])
def test_minutes_convert_in_whole_45_minute_blocks(regions, minutes, expected):
    rule = hours.rules_for(regions["440100"], [2026])[2026]
    assert hours.hours_from_minutes(minutes, rule) == expected


def test_days_convert_at_eight_hours(regions):
    rule = hours.rules_for(regions["440100"], [2026])[2026]
    assert hours.hours_from_days(3, rule) == 24
    assert hours.hours_from_days(1, rule) == 8


def test_conversions_follow_the_rule_data(regions):
    rule = hours.rules_for(regions["440000"], [2026])[2026]
    rule.minutes_per_hour, rule.hours_per_day = 60, 6
    assert hours.hours_from_minutes(100, rule) == 1
    assert hours.hours_from_days(3, rule) == 18


def test_negative_durations_are_refused(regions):
    rule = hours.rules_for(regions["440000"], [2026])[2026]
    with pytest.raises(ValueError):
        hours.hours_from_minutes(-1, rule)
    with pytest.raises(ValueError):
        hours.hours_from_days(-1, rule)


# --- the year a completion counts in ---------------------------------------------------------------------

@pytest.mark.parametrize(("start", "end", "year"), [
    (date(2025, 12, 30), date(2025, 12, 31), 2025),
    (date(2025, 12, 31), date(2026, 1, 1), 2026),
    (date(2025, 12, 29), date(2026, 1, 2), 2026),
])
def test_a_class_completed_without_a_day_counts_in_the_year_it_ended(
    monkeypatch, regions, make_user, make_course, admin_and_base, start, end, year
):
    admin, base = admin_and_base
    at(monkeypatch, date(2025, 12, 1))
    course = make_course(base, start_date=start, end_date=end, hours=16, category=E)
    student = make_user(region_id=regions["440100"].id)
    enrolled = enrollment.enroll(student, course.id).enrollment
    at(monkeypatch, date(2026, 1, 5))
    assert completions.complete_enrollments(admin, course, [enrolled.id], None) == 1

    record = db.session.execute(sa.select(HoursRecord).where(HoursRecord.learner_id == student.id)).scalar_one()
    assert (record.year, record.category, record.hours, record.course_id) == (year, E, 16, course.id)
    assert db.session.get(type(enrolled), enrolled.id).status == EnrollmentStatus.COMPLETED
    assert totals_by_year(student.id) == {year: {P: 0, S: 0, E: 16}}


def test_hours_never_carry_over_into_the_next_year(monkeypatch, regions, make_user, credit):
    student = make_user(region_id=regions["410100"].id)
    credit(student, 2025, P, 40)
    credit(student, 2025, S, 100)
    credit(student, 2026, P, 30)
    credit(student, 2026, S, 20)
    credit(student, 2026, S, 10)

    totals = totals_by_year(student.id)
    assert totals == {2025: {P: 40, S: 100, E: 0}, 2026: {P: 30, S: 30, E: 0}}
    rules = hours.rules_for(student.region, totals)
    assert hours.progress(2025, rules[2025], totals[2025]).complete
    current = hours.progress(2026, rules[2026], totals[2026])
    assert not current.complete
    assert {line.label: line.missing for line in current.lines}["专业科目"] == 30

    at(monkeypatch, date(2026, 6, 1))
    board = learner_pages.dashboard(student)
    assert board.year == 2026 and not board.current.complete
    assert [(p.year, p.complete) for p in board.history] == [(2025, True)]


def test_december_31_and_january_1_on_the_dashboard(monkeypatch, regions, make_user, credit):
    student = make_user(region_id=regions["370600"].id)
    credit(student, 2025, P, 30)
    at(monkeypatch, date(2025, 12, 31))
    board = learner_pages.dashboard(student)
    assert (board.year, board.days_left, board.current.lines[0].earned) == (2025, 0, 30)
    at(monkeypatch, date(2026, 1, 1))
    board = learner_pages.dashboard(student)
    assert (board.year, board.days_left, board.current.lines[0].earned) == (2026, 364, 0)
    assert [p.year for p in board.history] == [2025]


def test_totals_are_kept_apart_by_learner(regions, make_user, credit):
    one, two = make_user(role=Role.LEARNER), make_user(role=Role.LEARNER)
    credit(one, 2026, P, 12)
    credit(two, 2026, P, 7)
    assert totals_by_year(one.id)[2026][P] == 12
    assert totals_by_year(two.id)[2026][P] == 7


def rule_values(rule) -> dict | None:
    return None if rule is None else {c.key: getattr(rule, c.key) for c in RuleSet.__table__.columns}


def assert_ledger_matches_totals_and_rules(regions, make_user):
    """hours.ledger, one query, gives what totals_by_year and rules_for give: the city's own values before its
    province's, the province's where the city sets none, no rule where none is set, and the year asked for
    even before any hours. (Also run on PostgreSQL by test_postgres.)"""
    db.session.add(RuleSet(region_id=regions["510000"].id, year=2026, total_min=99, public_min=1))
    guangzhou, chengdu = make_user(region_id=regions["440100"].id), make_user(region_id=regions["510100"].id)
    nowhere = make_user(region_id=None)
    credits = ((2024, P, 5), (2025, E, 3), (2026, P, 12), (2026, P, 6), (2026, S, 20), (2030, S, 2))
    db.session.add_all(HoursRecord(learner_id=student.id, year=year, category=category, hours=amount,
                                   source=HoursSource.DECLARATION)
                       for year, category, amount in credits for student in (guangzhou, chengdu))
    db.session.commit()

    for student, region_name in ((guangzhou, "广东省广州市"), (chengdu, "四川省成都市"), (nowhere, None)):
        totals = totals_by_year(student.id)
        rules = hours.rules_for(student.region, set(totals) | {2027})
        with count_queries(db.engine) as statements:
            found = hours.ledger(student, 2027)
            full_name = found.region.full_name if found.region else None
        assert len(statements) == 1 and full_name == region_name
        assert sorted(found.years) == sorted(set(totals) | {2027})
        for year, progress in found.years.items():
            expected = hours.progress(year, rules.get(year), totals.get(year))
            # The rules in force are merged, unsaved rows (a fresh one each time): compared by their values.
            assert (progress.lines, rule_values(progress.rule)) == (expected.lines, rule_values(expected.rule)), (
                region_name, year)
    # Value by value: Chengdu's own public minimum, Sichuan's total where Chengdu sets none (issue 14).
    assert (hours.ledger(chengdu, 2027).years[2026].rule.public_min,
            hours.ledger(chengdu, 2027).years[2026].rule.total_min) == (30, 99)
    assert hours.ledger(guangzhou, 2027).years[2026].rule.total_min == 90  # Guangdong's
    assert hours.ledger(guangzhou, 2027).years[2024].rule is None


def test_ledger_matches_totals_and_rules_in_one_query(regions, make_user):
    assert_ledger_matches_totals_and_rules(regions, make_user)
