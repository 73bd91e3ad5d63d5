"""The roster and the dashboard, made cheaper to render (issue 20, R10), still write the very bytes they
wrote before: each page is compared with its previous template (tests/reference_pages, kept as it was)
rendered in the same request from the data the previous code read. The roster, now paged, is checked
page by page as well."""

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import template_rendered

from extensions import db
from models import Category, Enrollment, EnrollmentSource, EnrollmentStatus, Mode, Notice
from services import roster
from services.infra import clock
from tests.conftest import login

REFERENCE = Path(__file__).with_name("reference_pages")
CONFIRMED, WAITLISTED = EnrollmentStatus.CONFIRMED, EnrollmentStatus.WAITLISTED
COMPLETED, CANCELLED = EnrollmentStatus.COMPLETED, EnrollmentStatus.CANCELLED
TODAY = date(2026, 6, 15)


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    return TODAY


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    with client.session_transaction() as session:
        session.pop("_flashes", None)
    return client


def page_and_reference(app, client, path: str, template: str, swap=None) -> tuple[str, str]:
    """The page as served, and the reference template rendered with the context of that very render
    (``swap`` replaces what the previous code read differently): the same request, the same CSRF token."""
    source = (REFERENCE / Path(template).name).read_text()
    rendered: list[str] = []

    def render_reference(sender, template, context, **extra):
        if template.name == template_name:
            values = dict(context, **(swap(context) if swap else {}))
            rendered.append(sender.jinja_env.from_string(source).render(values))

    template_name = template
    with template_rendered.connected_to(render_reference, app):
        response = client.get(path)
    assert response.status_code == 200
    assert len(rendered) == 1
    return response.text, rendered[0]


def enroll(course, learner, status, **columns) -> Enrollment:
    enrollment = Enrollment(course_id=course.id, learner_id=learner.id, status=status, **columns)
    db.session.add(enrollment)
    db.session.commit()
    return enrollment


@pytest.fixture
def busy_course(today, admin_and_base, make_course, make_user):
    """A course that ended last week with seated learners of every kind (confirmed, completed on a day,
    with and without an ID number or employer), two on the waitlist and one who cancelled."""
    _admin, base = admin_and_base
    course = make_course(base, start_date=today - timedelta(days=9), end_date=today - timedelta(days=8),
                         capacity=None)
    people = [make_user(name=f"学员<{n}>", id_number_masked="510104********123X" if n % 2 else "",
                        employer_name="成都市第一人民医院" if n % 3 else "") for n in range(8)]
    for n, person in enumerate(people[:5]):
        if n % 2:
            enroll(course, person, COMPLETED, completed_on=today - timedelta(days=8 - n), rating=n,
                   source=EnrollmentSource.IMPORT)
        else:
            enroll(course, person, CONFIRMED)
    enroll(course, people[5], WAITLISTED)
    enroll(course, people[6], CANCELLED)
    enroll(course, people[7], WAITLISTED)
    course.seats_taken = 5
    db.session.commit()
    return course


def roster_url(course, query="") -> str:
    return f"/manage/bases/{course.base_id}/courses/{course.id}/roster{query}"


def previous_roster(context) -> dict:
    # What the page read before: every live enrollment with its learner (services.roster.roster, still the
    # export's and the attendance page's).
    return {"roster": roster.roster(context["course"])}


def test_roster_page_writes_the_bytes_the_previous_roster_wrote(app, admin_and_base, busy_course):
    page, reference = page_and_reference(app, signed_in(app, admin_and_base[0]), roster_url(busy_course),
                                         "base_admin/roster.html", previous_roster)

    assert page == reference
    assert page.count('name="enrollment"') == 3  # the confirmed ones can be ticked
    assert page.count("/id-number") == 2  # the reveal button of each masked ID number
    assert 'aria-label="分页"' not in page


def test_empty_roster_writes_the_bytes_the_previous_roster_wrote(app, today, admin_and_base, make_course):
    course = make_course(admin_and_base[1], start_date=today + timedelta(days=3))
    page, reference = page_and_reference(app, signed_in(app, admin_and_base[0]), roster_url(course),
                                         "base_admin/roster.html", previous_roster)

    assert page == reference
    assert "暂无报名学员" in page


def test_long_roster_is_paged_and_each_learner_is_on_one_page(app, monkeypatch, admin_and_base, busy_course,
                                                              make_user):
    monkeypatch.setattr(roster, "ROSTER_PAGE_ROWS", 2)
    client = signed_in(app, admin_and_base[0])
    seated = db.session.scalars(sa.select(Enrollment.id).where(
        Enrollment.course_id == busy_course.id, Enrollment.status.in_((CONFIRMED, COMPLETED)))
        .order_by(Enrollment.id)).all()

    pages = [client.get(roster_url(busy_course, f"?page={n}")).text for n in (1, 2, 3)]

    ticked_or_named = [re.findall(r'formaction="[^"]*/roster/(\d+)/id-number"|value="(\d+)" aria-label', page)
                       for page in pages]
    found = [int(a or b) for page in ticked_or_named for a, b in page]
    assert sorted(found) == sorted(set(found))  # no learner twice
    assert [len(re.findall(r"<tr>", page)) for page in pages] == [2 + 1, 2 + 1, 1 + 1]  # rows and the header
    assert set(found) <= set(seated)
    for page in pages:  # the counts and the waitlist are the whole course's on every page
        assert 'data-status="completed">2</div>' in page and 'data-status="confirmed">3</div>' in page
        assert page.count('class="list-group-item"') == 2
        assert "第" in page and 'aria-label="分页"' in page
    assert "第 2 / 3 页" in pages[1]


@pytest.mark.parametrize("query", ["?page=99", "?page=0", "?page=abc", "?page=-1", "?page=" + "9" * 40])
def test_roster_page_out_of_range_is_the_nearest_page(app, monkeypatch, admin_and_base, busy_course, query):
    monkeypatch.setattr(roster, "ROSTER_PAGE_ROWS", 2)
    response = signed_in(app, admin_and_base[0]).get(roster_url(busy_course, query))

    assert response.status_code == 200
    assert re.search(r"第 [13] / 3 页", response.text)


@pytest.fixture
def busy_learner(today, make_user, make_base, make_course):
    """A learner with an upcoming course (one still open to cancelling, one past its window), a place on a
    waitlist, two completed courses (one rated), a cancelled one and unread notices."""
    learner = make_user(name="王<小>明", id_number_masked="510104********1234")
    base = make_base(name="成都&培训")
    soon = make_course(base, title="即将开始", start_date=today + timedelta(days=5))
    running = make_course(base, title="自学<课程>", mode=Mode.SELF_PACED, start_date=today - timedelta(days=30),
                          end_date=today + timedelta(days=30), category=Category.PUBLIC)
    full = make_course(base, title="已满课程", start_date=today + timedelta(days=20), capacity=1)
    done = make_course(base, title="已结业一", start_date=today - timedelta(days=60))
    rated = make_course(base, title="已结业二", start_date=date(2025, 12, 30), end_date=date(2026, 1, 2))
    dropped = make_course(base, title="已取消", start_date=today + timedelta(days=8))
    for course, status, extra in ((soon, CONFIRMED, {}), (running, CONFIRMED, {}), (full, WAITLISTED, {}),
                                  (done, COMPLETED, {"completed_on": today - timedelta(days=59)}),
                                  (rated, COMPLETED, {"completed_on": date(2026, 1, 2), "rating": 4}),
                                  (dropped, CANCELLED, {})):
        enroll(course, learner, status, **extra)
    other = make_user()
    enroll(full, other, WAITLISTED)  # behind the learner
    db.session.add_all([Notice(user_id=learner.id, message=f"通知 <{n}>", link="/me/" if n % 2 else "")
                        for n in range(7)])
    db.session.commit()
    return learner


@pytest.mark.parametrize("query", ["", "?year=2025", "?year=2027"])
def test_dashboard_writes_the_bytes_the_previous_dashboard_wrote(app, busy_learner, query):
    page, reference = page_and_reference(app, signed_in(app, busy_learner), "/me/" + query, "learner/dashboard.html")

    assert page == reference
    assert "自学&lt;课程&gt;" in page and "学时" in page


def test_dashboard_lists_each_kind_of_enrollment(app, busy_learner):
    page = signed_in(app, busy_learner).get("/me/").text

    upcoming, waitlisted, completed = (re.search(rf'<ul class="list-group[^"]*" id="{name}">(.*?)</ul>', page,
                                                 re.S).group(1) for name in ("upcoming", "waitlisted", "completed"))
    assert upcoming.count("加入日历") == 2 and upcoming.count(">取消报名</button>") == 2
    assert "候补第 1 位" in waitlisted and "放弃候补" in waitlisted
    assert completed.count("评价课程") == 1 and completed.count("修改评价") == 1
