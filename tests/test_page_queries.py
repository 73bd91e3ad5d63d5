"""R3 (issue 6): each page of the benchmark issues at most four SQL queries, the same number for small
and large data, the signed-in user's load included.

The catalog, the search, the course page and the compliance charts are here; the learner's dashboard and
a course roster are counted beside their other tests (test_enrollment, test_roster).
"""

from datetime import date, timedelta
from decimal import Decimal
from itertools import count

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    BaseStatus,
    BaseStatusChange,
    BaseType,
    Category,
    Course,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    Mode,
    Role,
    Target,
    User,
)
from services.infra import clock, search
from tests.conftest import count_queries, login, page_queries

MAX_QUERIES = 4
TODAY = date(2026, 9, 15)
_serial = count(1)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)


def add_courses(base, n: int, title: str = "护理实务") -> None:
    base = db.session.merge(base)  # counting a page empties the session
    """``n`` published courses of ``base`` starting over the next two months, inserted in one statement."""
    rows = []
    for _ in range(n):
        name = f"{title}第{next(_serial)}期"
        start = TODAY + timedelta(days=1 + len(rows) % 60)
        rows.append({
            "base_id": base.id, "title": name, "description": "", "category": Category.PROFESSIONAL,
            "field": "卫生", "hours": 8, "start_date": start, "end_date": start + timedelta(days=1),
            "mode": Mode.FACE_TO_FACE, "place": "教室", "audience": "护士", "capacity": 40, "seats_taken": 0,
            "fee": Decimal("0"), "fee_standard": "", "contact_person": "张", "contact_phone": "028-61234567",
            "open_to_city": True, "status": CourseStatus.PUBLISHED, "cancel_reason": "", "plan_status": "approved",
            "search_tokens": search.index_tokens(name, "", base.name),
        })
    db.session.execute(sa.insert(Course), rows)
    db.session.commit()


def add_learners(n: int, region_id: int) -> list[int]:
    """``n`` learner accounts, inserted in one statement; their ids in order."""
    emails = [f"learner{next(_serial)}@test.example" for _ in range(n)]
    db.session.execute(sa.insert(User), [
        {"name": email.split("@")[0], "email": email, "role": Role.LEARNER, "region_id": region_id,
         "password_hash": "-"} for email in emails
    ])
    db.session.commit()
    return db.session.execute(sa.select(User.id).where(User.email.in_(emails)).order_by(User.id)).scalars().all()


def enroll(course_id: int, learner_ids, status: EnrollmentStatus) -> None:
    # A completion is dated (services.completions): here the course's last day.
    day = db.session.get(Course, course_id).end_date if status == EnrollmentStatus.COMPLETED else None
    db.session.execute(sa.insert(Enrollment), [
        {"course_id": course_id, "learner_id": learner_id, "status": status, "completed_on": day}
        for learner_id in learner_ids
    ])
    db.session.commit()


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def counted(client, path: str) -> int:
    return len(page_queries(client, path))


# --- the public catalog ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/courses", "/courses?q=护理"], ids=["catalog", "search"])
def test_catalog_and_search_issue_four_queries_for_12_and_1000_courses(client, make_base, path):
    bases = [make_base() for _ in range(3)]
    for base in bases:
        add_courses(base, 4)
    small = page_queries(client, path)
    for base in bases:
        add_courses(base, 330)

    large = page_queries(client, path)

    assert len(small) == len(large) <= MAX_QUERIES, "\n".join(large)


@pytest.mark.parametrize("as_learner", [False, True], ids=["anonymous", "waitlisted-learner"])
def test_course_page_issues_four_queries_however_long_the_waitlist(app, client, make_base, make_course, make_user,
                                                                   city, as_learner):
    base = make_base()
    learner = make_user()
    short = make_course(base, capacity=1, seats_taken=1)
    long = make_course(base, capacity=1, seats_taken=1)
    for course, waiting in ((short, 0), (long, 150)):
        holder, *ahead = add_learners(1 + waiting, city.id)
        enroll(course.id, [holder], EnrollmentStatus.CONFIRMED)
        enroll(course.id, ahead + [learner.id], EnrollmentStatus.WAITLISTED)
    make_course(base, title="同基地的另一门课")
    add_courses(base, 200)
    browser = signed_in(app, learner) if as_learner else client
    short_url, long_url = f"/courses/{short.id}", f"/courses/{long.id}"

    few, many = counted(browser, short_url), counted(browser, long_url)

    assert few == many <= MAX_QUERIES
    if as_learner:
        assert "候补第 151 位" in browser.get(long_url).text


# --- compliance charts ------------------------------------------------------------------------------------

@pytest.fixture
def two_bases(admin_and_base, make_base, make_course, city):
    """The admin's base with one course and three trainees this year, and a second base of theirs with a
    completed course in every month so far, 300 trainees, its status history and targets."""
    admin, small = admin_and_base
    large = make_base(admin=admin)
    course = make_course(small, start_date=TODAY - timedelta(days=1), end_date=TODAY - timedelta(days=1))
    enroll(course.id, add_learners(3, city.id), EnrollmentStatus.COMPLETED)
    learners = add_learners(300, city.id)
    for month in range(1, TODAY.month + 1):
        ended = date(TODAY.year, month, 10)
        course = make_course(large, start_date=ended - timedelta(days=2), end_date=ended)
        enroll(course.id, learners[(month - 1) * 30:(month - 1) * 30 + 60], EnrollmentStatus.COMPLETED)
    for n, status in enumerate((BaseStatus.RECTIFYING, BaseStatus.ACTIVE, BaseStatus.RECTIFYING)):
        actor = User(name=f"监管{n}", email=f"actor{next(_serial)}@test.example", role=Role.REGULATOR,
                     region_id=city.id, password_hash="-")
        db.session.add(actor)
        db.session.flush()
        db.session.add(BaseStatusChange(base_id=large.id, to_status=status, reason="检查", actor_id=actor.id))
    for region_id in (city.parent_id, city.id):  # the province's and the city's own
        db.session.add(Target(base_type=BaseType.CITY, year=TODAY.year, region_id=region_id, min_trainees=500,
                              min_projects=4))
    db.session.commit()
    return small.id, large.id


def test_base_compliance_page_issues_the_same_four_queries_for_a_small_and_a_large_base(app, admin_and_base,
                                                                                       two_bases):
    """The user, the base, the targets, and the new trainees and projects by month in one statement."""
    small, large = two_bases
    browser = signed_in(app, admin_and_base[0])

    few = counted(browser, f"/manage/bases/{small}/compliance")
    many = page_queries(browser, f"/manage/bases/{large}/compliance")

    assert few == len(many) <= MAX_QUERIES, "\n".join(many)


def test_regulators_base_page_query_count_does_not_grow_with_history_or_trainees(app, make_user, city, two_bases):
    """The same charts, plus the status history with who made each change (one query with its actors)."""
    small, large = two_bases
    browser = signed_in(app, make_user(Role.REGULATOR, region_id=city.id))

    few = counted(browser, f"/regulator/bases/{small}")
    many = page_queries(browser, f"/regulator/bases/{large}")

    assert few == len(many) <= MAX_QUERIES + 2, "\n".join(many)


def test_learners_certificates_page_issues_the_same_queries_for_one_year_and_many(app, make_user, city):
    """The user, the hours ledger with each year's rule (one statement), the valid certificates."""
    from models import HoursRecord, HoursSource

    one, many = make_user(Role.LEARNER), make_user(Role.LEARNER)
    for year in range(TODAY.year - 9, TODAY.year + 1):
        for learner in ([one, many] if year == TODAY.year else [many]):
            db.session.add(HoursRecord(learner_id=learner.id, year=year, category=Category.PUBLIC, hours=30,
                                       source=HoursSource.IMPORT, note="导入"))
    db.session.commit()

    first, second = signed_in(app, one), signed_in(app, many)
    few = counted(first, "/me/certificates")
    ten_years = page_queries(second, "/me/certificates")

    assert few == len(ten_years) == 3, "\n".join(ten_years)


def test_learners_dashboard_issues_the_same_queries_for_any_year_and_any_history(app, make_user, make_base, city):
    """The user, the hours ledger with the year's rule and the region (one statement), the live enrollments
    with their courses and bases, the unread notices with the year's caps (one statement): four, for last
    year, this one, next one or ten years back, with nothing or with ten years of hours and thirty
    enrollments (issue 14)."""
    from models import HoursRecord, HoursSource

    empty, busy = make_user(Role.LEARNER), make_user(Role.LEARNER)
    for year in range(TODAY.year - 9, TODAY.year + 2):
        db.session.add(HoursRecord(learner_id=busy.id, year=year, category=Category.PUBLIC, hours=30,
                                   source=HoursSource.IMPORT, note="导入"))
    add_courses(make_base(), 30)
    courses = db.session.execute(sa.select(Course.id, Course.end_date).order_by(Course.id)).all()
    for n, (course_id, _end) in enumerate(courses):
        status = (EnrollmentStatus.CONFIRMED, EnrollmentStatus.WAITLISTED)[n % 2]
        db.session.add(Enrollment(course_id=course_id, learner_id=busy.id, status=status))
    db.session.commit()

    first, second = signed_in(app, empty), signed_in(app, busy)
    few = counted(first, "/me/")
    counts = {path: page_queries(second, path)
              for path in ("/me/", f"/me/?year={TODAY.year - 1}", f"/me/?year={TODAY.year + 1}",
                           f"/me/?year={TODAY.year - 9}")}

    assert {len(found) for found in counts.values()} == {few} == {MAX_QUERIES}, counts


# --- the targets page's preview -----------------------------------------------------------------------------

def targets_preview_queries(client) -> list[str]:
    """The statements of one preview of the province's city-level default (a POST), the session emptied."""
    data = {"base_type": "city", "year": str(TODAY.year), "min_trainees": "40", "min_projects": "2"}
    assert client.post("/regulator/targets", data=data).status_code == 200
    db.session.remove()
    with count_queries(db.engine) as statements:
        response = client.post("/regulator/targets", data=data)
    assert response.status_code == 200 and 'id="targets-preview"' in response.text
    return statements


def test_targets_preview_issues_the_same_queries_for_one_idle_base_and_thirty_busy_ones(
        app, make_user, make_base, make_region, make_course, city):
    """The user and the region, the confirmed year, the year's targets, the bases reached (one COUNT), their
    figures (the evaluation's two GROUP BY statements) and the table's targets: however many bases and
    completions, and whichever cities set their own target (issue 14, item 3)."""
    make_base(region_id=city.id)
    quiet = signed_in(app, make_user(Role.REGULATOR, region_id=city.parent_id))
    busy_province = make_region("山东省")
    cities = [make_region(parent=busy_province) for _ in range(3)]
    db.session.add(Target(base_type=BaseType.CITY, year=TODAY.year, region_id=cities[1].id, min_trainees=1,
                          min_projects=1))
    db.session.commit()
    learners = add_learners(300, cities[0].id)
    for n in range(30):
        base = make_base(region_id=cities[n % 3].id)
        course = make_course(base, start_date=TODAY - timedelta(days=3), end_date=TODAY - timedelta(days=2))
        enroll(course.id, learners[n * 10:n * 10 + 10], EnrollmentStatus.COMPLETED)
    busy = signed_in(app, make_user(Role.REGULATOR, region_id=busy_province.id))

    few, many = targets_preview_queries(quiet), targets_preview_queries(busy)

    assert len(few) == len(many) <= MAX_QUERIES + 4, "\n".join(many)
