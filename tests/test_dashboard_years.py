"""The learner's dashboard of any year (issue 14, item 4): a picker of the years with hours or enrollments,
?year= bounded, each year against its own rules and caps; and the year a course's hours will count in,
stated on the course page and when enrolling."""

import re
from datetime import date

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    Category,
    DeclarationCap,
    DeclarationKind,
    Enrollment,
    EnrollmentStatus,
    HoursRecord,
    HoursSource,
    Mode,
    RuleSet,
)
from seeding import demo
from services.infra import clock
from services.queries import learner_pages
from tests.conftest import login

TODAY = date(2026, 6, 1)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)


@pytest.fixture
def regions(app):
    return demo.seed_reference()


def credit(learner, year: int, hours: int, category=Category.PUBLIC) -> None:
    db.session.add(HoursRecord(learner_id=learner.id, year=year, category=category, hours=hours,
                               source=HoursSource.DECLARATION))
    db.session.commit()


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def hours_card(page: str, year: int) -> str:
    card = page[page.index(f'id="hours-{year}"'):]
    return card[: card.index("</div></div>")]


def picker(page: str) -> list[int]:
    nav = page[page.index('id="year-picker"'): page.index("</nav>", page.index('id="year-picker"'))]
    return [int(y) for y in re.findall(r"year=(\d{4})", nav)]


def caps_of(page: str, year: int) -> list[str]:
    found = re.search(rf'<ul[^>]*id="caps-{year}">(.*?)</ul>', page, re.S)
    return re.findall(r"<li[^>]*>(.*?)</li>", found.group(1)) if found else []


# --- the year shown ----------------------------------------------------------------------------------------

def test_dashboard_defaults_to_this_year_and_offers_the_years_with_hours_or_enrollments(
        app, regions, make_user, make_base, make_course):
    student = make_user(region_id=regions["510100"].id)
    credit(student, 2024, 10)
    credit(student, 2026, 12)
    ahead = make_course(make_base(), start_date=date(2026, 12, 28), end_date=date(2027, 1, 2))
    db.session.add(Enrollment(course_id=ahead.id, learner_id=student.id, status=EnrollmentStatus.CONFIRMED))
    db.session.commit()

    page = signed_in(app, student).get("/me/").text

    assert picker(page) == [2027, 2026, 2024]  # 2025: neither hours nor enrollments
    assert 'aria-current="page">2026 年（本年度）' in page
    card = hours_card(page, 2026)
    assert "距 12 月 31 日还有 213 天" in card and '<span class="earned">12</span> / 30' in card


def test_dashboard_of_a_past_year_shows_its_hours_against_its_rules(app, regions, make_user):
    student = make_user(region_id=regions["510100"].id)
    credit(student, 2025, 30)
    credit(student, 2026, 4)
    db.session.execute(sa.update(RuleSet).where(RuleSet.region_id == regions["510100"].id, RuleSet.year == 2025)
                       .values(public_min=24))
    db.session.commit()

    page = signed_in(app, student).get("/me/?year=2025").text

    card = hours_card(page, 2025)
    assert "2025 年度已结束" in card and "距 12 月 31 日" not in card
    assert '<span class="earned">30</span> / 24' in card and "2025 年度学时已全部达标" in card
    assert 'id="hours-2026"' not in page
    assert "人工智能与健康、5G+" in page  # the year's public-subject themes (notice 003)


def test_dashboard_of_next_year_shows_next_years_rules_and_caps_and_leaves_this_year_alone(
        app, regions, make_user):
    """As the browser journey does: the regulator lowers next year's cap; next year's dashboard shows it,
    this year's does not."""
    yantai = regions["370600"]
    student = make_user(region_id=yantai.id)
    credit(student, 2027, 6)
    db.session.execute(sa.update(DeclarationCap).where(
        DeclarationCap.region_id == yantai.id, DeclarationCap.year == 2027,
        DeclarationCap.kind == DeclarationKind.COMPETITION, DeclarationCap.category == Category.PUBLIC,
    ).values(max_hours=3))
    db.session.execute(sa.update(RuleSet).where(RuleSet.region_id == yantai.id, RuleSet.year == 2027)
                       .values(public_min=36))
    db.session.commit()
    client = signed_in(app, student)

    following = client.get("/me/?year=2027").text
    this_year = client.get("/me/").text

    card = hours_card(following, 2027)
    assert "2027 年度尚未开始" in card and '<span class="earned">6</span> / 36' in card
    competition = DeclarationKind.COMPETITION.label
    assert caps_of(following, 2027) == [f"{competition}：公需科目 3 学时", f"{competition}：专业科目 30 学时"]
    assert '<span class="earned">0</span> / 30' in hours_card(this_year, 2026)
    assert caps_of(this_year, 2026) == [f"{competition}：公需科目 5 学时", f"{competition}：专业科目 30 学时"]
    assert picker(this_year) == [2027, 2026]


@pytest.mark.parametrize("raw", ["abc", "1900", "2032", "٢٠٢٧", "２０２７", "20270", "-1", ""])
def test_a_year_out_of_range_or_malformed_shows_this_year(app, regions, make_user, raw):
    student = make_user(region_id=regions["510100"].id)
    response = signed_in(app, student).get(f"/me/?year={raw}")
    assert response.status_code == 200
    assert 'id="hours-2026"' in response.text


def test_the_year_range_is_around_this_one():
    assert learner_pages.year_range(date(2026, 12, 31)) == (1976, 2031)


# --- the year a course's hours count in ------------------------------------------------------------------

@pytest.mark.parametrize(("mode", "start", "end", "today", "years"), [
    (Mode.FACE_TO_FACE, date(2026, 12, 28), date(2027, 1, 2), date(2026, 12, 6), [2027]),
    (Mode.ONLINE_LIVE, date(2026, 12, 30), date(2026, 12, 31), date(2026, 12, 6), [2026]),
    (Mode.SELF_PACED, date(2026, 11, 1), date(2027, 1, 31), date(2026, 12, 6), [2026, 2027]),
    (Mode.SELF_PACED, date(2026, 11, 1), date(2027, 1, 31), date(2027, 1, 3), [2027]),
    (Mode.SELF_PACED, date(2027, 2, 1), date(2027, 3, 31), date(2026, 12, 6), [2027]),
    (Mode.FACE_TO_FACE, date(2026, 1, 5), date(2026, 1, 6), date(2026, 12, 6), []),
])
def test_credit_years(make_base, make_course, mode, start, end, today, years):
    course = make_course(make_base(), mode=mode, start_date=start, end_date=end, category=Category.PUBLIC)
    assert learner_pages.credit_years(course, today) == years


def credit_year_line(page: str) -> str | None:
    found = re.search(r'<td id="credit-year">(.*?)</td>', page, re.S)
    return found.group(1).strip() if found else None


@pytest.mark.parametrize(("mode", "start", "end", "line"), [
    (Mode.FACE_TO_FACE, date(2026, 12, 28), date(2027, 1, 2), "结业在2027年的，学时计入2027年"),
    (Mode.SELF_PACED, date(2026, 11, 1), date(2027, 1, 31), "在2026年内完成的计入2026年，2027年完成的计入2027年"),
    (Mode.SELF_PACED, date(2027, 1, 1), date(2027, 2, 28), "结业在2027年的，学时计入2027年"),
    (Mode.FACE_TO_FACE, date(2026, 12, 20), date(2026, 12, 21), None),  # counts in this year: nothing to say
])
def test_the_course_page_says_which_year_the_hours_count_in(monkeypatch, client, make_base, make_course,
                                                             mode, start, end, line):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 12, 6))
    course = make_course(make_base(), mode=mode, start_date=start, end_date=end, category=Category.PUBLIC,
                         capacity=None)
    assert credit_year_line(client.get(f"/courses/{course.id}").text) == line


def test_enrolling_says_it_again(monkeypatch, app, regions, make_user, make_base, make_course):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 12, 6))
    course = make_course(make_base(), mode=Mode.SELF_PACED, start_date=date(2026, 11, 1),
                         end_date=date(2027, 1, 31), category=Category.PUBLIC, capacity=None)
    client = signed_in(app, make_user(region_id=regions["510100"].id))
    page = client.post(f"/me/courses/{course.id}/enroll", follow_redirects=True).text
    assert "报名成功，请按时参加培训。在2026年内完成的计入2026年，2027年完成的计入2027年" in page
