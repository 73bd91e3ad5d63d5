"""Wording and small errors (issue 19, item 6): each fix with the test that would have caught it."""

from datetime import timedelta
from decimal import Decimal

import pytest

from extensions import db
from models import Category, HoursRecord, HoursSource, Role
from services import enrollment
from services.infra import clock
from services.queries import learner_pages
from tests.conftest import login
from tests.test_base_admin import DISCLOSURE, errors_next_to
from tests.test_declarations import app_config, declare, on, regions, signed_in, world  # noqa: F401 - fixtures
from tests.test_roster import START, admin_client, at, course, make_learner, url  # noqa: F401 - fixtures


def test_a_free_course_says_free_once(client, make_user, make_base, make_course):
    free = make_course(make_base(), fee=Decimal("0"), fee_standard="免费")
    page = client.get(f"/courses/{free.id}").get_data(as_text=True)
    assert "免费，免费" not in page and "免费" in page


def test_a_paid_course_still_shows_its_fee_standard(client, make_base, make_course):
    paid = make_course(make_base(), fee=Decimal("300"), fee_standard="每人 300 元（含资料费）")
    page = client.get(f"/courses/{paid.id}").get_data(as_text=True)
    assert "300 元，每人 300 元（含资料费）" in page


def test_a_declaration_without_an_organiser_has_no_trailing_dot(app, world):  # noqa: F811
    declare(world.learner, minutes=90, title="科室学习", organiser="")
    declare(world.learner, minutes=90, title="学术年会")  # the helper's organiser: 成都市医学会
    page = signed_in(app, world.learner).get("/me/declarations").get_data(as_text=True)
    assert "· </div>" not in page and "·</div>" not in page
    assert " · 成都市医学会</div>" in page


def test_upcoming_courses_read_soonest_first(app, make_base, make_course, make_learner):  # noqa: F811
    base = make_base()
    later = make_course(base, title="下月的课程", start_date=clock.today() + timedelta(days=40))
    sooner = make_course(base, title="下周的课程", start_date=clock.today() + timedelta(days=7))
    learner = make_learner(role=Role.LEARNER)
    for planned in (later, sooner):
        enrollment.enroll(learner, planned.id)
    board = learner_pages.dashboard(learner)
    assert [e.course.title for e, _ in board.upcoming] == ["下周的课程", "下月的课程"]
    client = app.test_client()
    login(client, learner)
    page = client.get("/me/", follow_redirects=True).get_data(as_text=True)
    upcoming = page[page.index('id="upcoming"'):]
    assert upcoming.index("下周的课程") < upcoming.index("下月的课程")


def test_a_list_of_a_year_before_the_platform_is_404(client):
    assert client.get("/list/1900").status_code == 404
    assert client.get(f"/list/{clock.today().year + 1}").status_code == 404
    assert client.get(f"/list/{clock.today().year}").status_code == 200


def test_a_category_with_no_requirement_shows_no_full_green_bar(app, make_learner):  # noqa: F811
    learner = make_learner(role=Role.LEARNER)  # the test region has no rules: nothing is required
    db.session.add(HoursRecord(learner_id=learner.id, year=clock.today().year, category=Category.ELECTIVE,
                               hours=6, source=HoursSource.IMPORT, note="选修课"))
    db.session.commit()
    client = app.test_client()
    login(client, learner)
    page = client.get("/me/", follow_redirects=True).get_data(as_text=True)
    line = page[page.index(f'data-label="{Category.ELECTIVE.label}"'):]
    line = line[:line.index("progress-line") if "progress-line" in line else len(line)]
    assert "本类别不作要求" in line
    assert "bg-success" not in line and 'role="progressbar"' not in line


def test_the_api_token_page_names_no_repository_path(app, make_user, make_base):
    admin = make_user(Role.BASE_ADMIN)
    base = make_base(admin=admin)
    client = app.test_client()
    login(client, admin)
    page = client.get(f"/manage/bases/{base.id}/api-tokens").get_data(as_text=True)
    assert "/api/v1/openapi.json" in page
    assert "docs/" not in page


@pytest.mark.parametrize("website", ["learn.example.cn", "不是网址", "ftp://example.com/", "https://"])
def test_a_bad_website_is_refused_with_one_message_not_two(admin_and_base, login_as, website):
    admin, base = admin_and_base
    response = login_as(admin).post(f"/manage/bases/{base.id}/disclosure", data={**DISCLOSURE, "website": website})
    assert errors_next_to(response.get_data(as_text=True), "website") == ["请填写以 http:// 或 https:// 开头的网址"]


def test_an_unlimited_course_says_unlimited_once_on_its_page_and_on_its_card(client, make_base, make_course):
    unlimited = make_course(make_base(), capacity=None, title="公需课：法治讲座")
    page = client.get(f"/courses/{unlimited.id}").get_data(as_text=True)
    assert page.count("不限") == 1 and "不限名额" not in page  # the 名额 row; the 报名 row adds no second one
    listing = client.get("/courses").get_data(as_text=True)
    assert "不限名额" in listing  # a card has no 名额 row: it says so beside the deadline


def test_attendance_of_a_day_to_come_offers_no_save_button(monkeypatch, admin_client, course, make_learner):  # noqa: F811
    enrollment.enroll(make_learner(role=Role.LEARNER), course.id)
    ahead = admin_client.get(url(course, f"/attendance?day={START.isoformat()}")).get_data(as_text=True)
    assert "保存考勤" not in ahead and 'id="attendance-ahead"' in ahead
    at(monkeypatch, START)
    today = admin_client.get(url(course, f"/attendance?day={START.isoformat()}")).get_data(as_text=True)
    assert "保存考勤" in today and 'id="attendance-ahead"' not in today


def test_wtforms_own_messages_are_chinese_and_their_catalog_is_read_once_per_process(app, monkeypatch):
    """A WTForms message (a number that is not one) is in Chinese; its catalog is read once, not in every request
    that shows one (Flask-WTF's own translations load it per request: issue 20's profile)."""
    from babel import support
    from wtforms import IntegerField

    from blueprints.validators import InputForm, wtforms_catalog

    class Amount(InputForm):
        amount = IntegerField("数量")

    loads = []
    real_load = support.Translations.load
    monkeypatch.setattr(support.Translations, "load",
                        classmethod(lambda cls, *args, **kw: loads.append(args) or real_load(*args, **kw)))
    wtforms_catalog.cache_clear()
    errors = []
    for _request in range(3):
        with app.test_request_context(method="POST", data={"amount": "十二"}):
            form = Amount(meta={"csrf": False})
            assert not form.validate()
            errors.append(form.amount.errors[0])

    assert errors == ["不是有效的整数。"] * 3
    assert len(loads) == 1
