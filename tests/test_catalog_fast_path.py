"""The catalog page's fast path (issue 20, R1′): cards from one narrow statement, cards and the filter form kept
rendered (blueprints/catalog/fragments.py), templates' _() translated once. The page is the one the code before
it rendered, and nothing kept goes stale: an edit, a seat taken or a new base shows on the next request."""

import re
from pathlib import Path

import flask_babel
import pytest
import redis
import sqlalchemy as sa
from flask import render_template_string, request
from flask_login import current_user, login_user

import app as app_module
from app import create_app
from blueprints import pagecache
from blueprints.catalog.forms import CatalogSearchForm
from extensions import db
from models import Course, Role, User
from services import enrollment
from services.queries import catalog_pages
from tests.conftest import IsolatedClient, _config

# courses.html as it was before the fast path: cards through the macro, the form inline, ORM courses.
REFERENCE = (Path(__file__).with_name("reference_pages") / "catalog_courses.html").read_text()
CSRF = re.compile(r'name="csrf_token" value="[^"]*"')


def _signed_in(app, user):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
    return client


def _reference_page(app, path: str, user: User | None) -> str:
    """``path`` rendered the old way: the full ORM query and the old template, for ``user`` (None: anonymous)."""
    with app.app_context(), app.test_request_context(path):  # a fresh g: no user left from the last call
        if user is not None:  # loaded as a request loads it (its unread notices for the navbar included)
            login_user(app.login_manager._user_callback(user.get_id()))
            assert current_user.is_authenticated
        form = CatalogSearchForm(request.args)
        options = catalog_pages.filter_options()
        form.set_options(options["regions"], options["bases"])
        form.validate()
        page = catalog_pages.search_courses(form.filters(), app.config["CATALOG_PAGE_SIZE"],
                                            None if form.cursor.errors else form.cursor.data, form.jump())
        assert all(isinstance(course, Course) for course in page.items)
        html = render_template_string(REFERENCE, form=form, page=page)
        db.session.rollback()
        return html


def _next(html: str) -> str:
    return re.search(r'rel="next" href="([^"#]+)"', html).group(1).replace("&amp;", "&")


def test_catalog_page_is_the_page_the_old_path_rendered_for_a_learner_and_a_visitor(demo_app):
    pagecache.clear()
    learner = db.session.scalars(sa.select(User).where(User.role == Role.LEARNER).order_by(User.id)).first()
    anonymous, signed_in = demo_app.test_client(), _signed_in(demo_app, learner)
    second = _next(anonymous.get("/courses?include_past=y").text)
    paths = ["/courses", "/courses?include_past=y", second, "/courses?include_past=y&page=3",
             "/courses?sort=fee&has_seats=y", "/courses?sort=new&enrollable=y", "/courses?q=护理",
             "/courses?region=abc&month=2026-13&base=99999", "/courses?category=professional&sort=hours"]
    compared = 0
    for path in paths:
        for user, client in ((None, anonymous), (learner, signed_in)):
            expected = CSRF.sub("", _reference_page(demo_app, path, user))
            for _time in ("rendered", "from the store"):
                response = client.get(path)
                assert response.status_code == 200
                assert CSRF.sub("", response.text) == expected, (path, user, _time)
                compared += 1
    assert compared == len(paths) * 4
    assert "退出" in signed_in.get("/courses").text and 'class="card course-card' in signed_in.get("/courses").text


@pytest.fixture
def learner_client(app, make_user):
    pagecache.clear()
    learner = make_user(Role.LEARNER)
    return learner, _signed_in(app, learner)


def test_signed_in_learner_sees_a_course_edit_at_once(learner_client, make_base, make_course):
    _learner, client = learner_client
    course = make_course(make_base(), title="护理实务初版", fee=0)
    assert "护理实务初版" in client.get("/courses").text
    course.title, course.fee = "护理实务修订版", 120
    db.session.commit()
    html = client.get("/courses").text
    assert "护理实务修订版" in html and "120 元" in html
    assert "护理实务初版" not in html


def test_a_seat_taken_and_the_learners_own_enrollment_show_at_once(learner_client, make_base, make_course,
                                                                     make_user):
    learner, client = learner_client
    course = make_course(make_base(), capacity=2)
    assert "余 2 个名额" in client.get("/courses").text
    enrollment.enroll(make_user(Role.LEARNER), course.id)
    assert "余 1 个名额" in client.get("/courses").text
    enrollment.enroll(learner, course.id)
    html = client.get("/courses").text
    assert "余 1 个名额" not in html
    assert "已满（可候补" in html  # the last seat gone: the card says so, the waitlist open


def test_a_newly_listed_base_is_in_the_filter_form_at_once(learner_client, make_base):
    _learner, client = learner_client
    make_base(name="先有的基地")
    assert "先有的基地" in client.get("/courses?include_past=y").text
    make_base(name="新列入的基地")
    assert "新列入的基地" in client.get("/courses?include_past=y").text


def test_a_typed_keyword_is_never_kept(learner_client, make_base, make_course, monkeypatch):
    _learner, client = learner_client
    make_course(make_base(), title="护理实务")
    kept = []
    monkeypatch.setattr(pagecache, "_put_pieces", lambda pieces, seconds: kept.extend(pieces))
    assert "护理实务" in client.get("/courses?q=护理").text
    assert kept and not any(key.startswith("jidi:filters:") for key in kept)  # the card is, the form is not
    kept.clear()
    client.get("/courses")
    assert any(key.startswith("jidi:filters:") for key in kept)


def test_cards_are_shared_through_redis_and_follow_an_edit(tmp_path, sqlite_template, app, make_base,
                                                            make_course):
    url = "redis://127.0.0.1:6379/14"
    store = redis.Redis.from_url(url)
    store.flushdb()
    path = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    course = make_course(make_base(), title="共享的课程")
    workers = [create_app(_config(tmp_path, f"sqlite:///{path}", REDIS_URL=url, FRAGMENT_CACHE_SECONDS=300))
               for _ in range(2)]
    for worker in workers:
        worker.test_client_class = IsolatedClient
    first = workers[0].test_client().get("/courses").text
    cards = sorted(store.scan_iter("jidi:card:*"))
    assert len(cards) == 1 and 0 < store.ttl(cards[0]) <= 300
    assert workers[1].test_client().get("/courses").text == first
    assert sorted(store.scan_iter("jidi:card:*")) == cards  # served from the store, not made again
    db.session.execute(sa.update(Course).where(Course.id == course.id).values(title="改过名的课程"))
    db.session.commit()
    assert "改过名的课程" in workers[1].test_client().get("/courses").text
    store.flushdb()


def test_template_translations_follow_the_locale_of_the_moment(app, monkeypatch):
    monkeypatch.setattr(app_module, "_TEMPLATE_MESSAGES", {})

    class Marked:
        def ugettext(self, message):
            return f"{flask_babel.get_locale()}:{message}"

    monkeypatch.setattr(app_module, "get_translations", Marked)
    with app.test_request_context("/"):
        here = str(flask_babel.get_locale())  # zh_Hans_CN
        assert render_template_string("{{ _('课程') }}") == f"{here}:课程"
        with flask_babel.force_locale("en"):
            assert render_template_string("{{ _('课程') }}") == "en:课程"
        both = render_template_string("{{ _('课程') }}|{{ _('共 %(n)s 门课程', n=3) }}")
        assert both == f"{here}:课程|{here}:共 3 门课程"
