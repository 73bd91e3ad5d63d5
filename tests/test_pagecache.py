"""The page cache: anonymous visitors get a public page rendered once; signed-in users always the live page."""

import pytest
import redis
import sqlalchemy as sa
from flask import session

from app import create_app
from extensions import db
from models import Course
from services import pagecache
from tests.conftest import _config


@pytest.fixture
def app_config():
    return {"PAGE_CACHE_SECONDS": 60}


@pytest.fixture(autouse=True)
def empty_cache():
    pagecache.clear()
    yield
    pagecache.clear()


def _rename(course_id: int, title: str) -> None:
    db.session.execute(sa.update(Course).where(Course.id == course_id).values(title=title))
    db.session.commit()


def test_an_anonymous_visitor_gets_the_kept_page_until_it_expires(client, make_base, make_course):
    course = make_course(make_base(), title="原来的课程名")
    first = client.get("/courses")
    assert "X-Page-Cache" not in first.headers and "原来的课程名" in first.text
    _rename(course.id, "改过的课程名")
    again = client.get("/courses")
    assert again.headers["X-Page-Cache"] == "hit"
    assert again.data == first.data
    assert again.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    pagecache.clear()
    assert "改过的课程名" in client.get("/courses").text


def test_query_strings_are_kept_apart_and_their_order_does_not_matter(client, make_base, make_course):
    base = make_base()
    make_course(base, title="护理课程", hours=8)
    make_course(base, title="数字经济课程", hours=20)
    nursing = client.get("/courses?q=护理&sort=hours")
    assert "护理课程" in nursing.text and "数字经济课程" not in nursing.text
    assert "X-Page-Cache" not in client.get("/courses?q=数字&sort=hours").headers
    swapped = client.get("/courses?sort=hours&q=护理")
    assert swapped.headers["X-Page-Cache"] == "hit" and swapped.data == nursing.data


def test_a_signed_in_user_always_gets_the_live_page(client, login_as, make_base, make_course, make_user):
    course = make_course(make_base(), title="原来的课程名")
    client.get(f"/courses/{course.id}")
    _rename(course.id, "改过的课程名")
    login_as(make_user())
    page = client.get(f"/courses/{course.id}")
    assert "X-Page-Cache" not in page.headers and "改过的课程名" in page.text


def test_a_visitor_with_a_session_cookie_is_not_served_from_the_cache(app, client, make_base, make_course):
    course = make_course(make_base(), title="原来的课程名")
    client.get("/bases")
    client.get("/")
    _rename(course.id, "改过的课程名")
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], "anything")
    assert "改过的课程名" in client.get("/").text


def test_errors_are_not_kept(client, make_base, make_course):
    course = make_course(make_base())
    assert client.get(f"/courses/{course.id + 1}").status_code == 404
    found = make_course(make_base())
    assert found.id == course.id + 1
    assert client.get(f"/courses/{found.id}").status_code == 200


def test_pages_that_touch_the_session_are_not_kept(app, client):
    calls = []

    def flashing():
        calls.append(1)
        session["seen"] = len(calls)
        return "<p>页面</p>"

    app.add_url_rule("/__flashing__", view_func=pagecache.cached_page(flashing))
    client.get("/__flashing__")
    client.delete_cookie(app.config["SESSION_COOKIE_NAME"])
    assert "X-Page-Cache" not in client.get("/__flashing__").headers
    assert len(calls) == 2


def test_workers_share_the_pages_through_redis(tmp_path, sqlite_template, make_base, make_course, app):
    """Two app instances, as two gunicorn workers, with REDIS_URL: what one rendered the other serves."""
    url = "redis://127.0.0.1:6379/15"
    redis.Redis.from_url(url).flushdb()
    course = make_course(make_base(), title="原来的课程名")
    path = db.engine.url.database
    workers = [create_app(_config(tmp_path, f"sqlite:///{path}", PAGE_CACHE_SECONDS=60, REDIS_URL=url))
               for _ in range(2)]
    first = workers[0].test_client().get(f"/courses/{course.id}")
    assert first.status_code == 200
    _rename(course.id, "改过的课程名")
    second = workers[1].test_client().get(f"/courses/{course.id}")
    assert second.headers["X-Page-Cache"] == "hit" and second.data == first.data
    assert redis.Redis.from_url(url).ttl(next(iter(redis.Redis.from_url(url).scan_iter("jidi:page:*")))) <= 60
    redis.Redis.from_url(url).flushdb()
