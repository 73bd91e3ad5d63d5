"""The page cache: anonymous visitors get a public page rendered once; signed-in users always the live page."""

import pytest
import redis
import sqlalchemy as sa
from flask import session

from app import create_app
from blueprints import pagecache
from extensions import db
from models import Course
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
    pagecache.clear()  # the processes' own copies: the two apps of this test share one module
    _rename(course.id, "改过的课程名")
    second = workers[1].test_client().get(f"/courses/{course.id}")
    assert second.headers["X-Page-Cache"] == "hit" and second.data == first.data
    assert redis.Redis.from_url(url).ttl(next(iter(redis.Redis.from_url(url).scan_iter("jidi:page:*")))) <= 60
    redis.Redis.from_url(url).flushdb()


# --- the key: one entry per distinct request (issue 13, finding 11) ---------------------------------------------

@pytest.fixture
def two_courses(make_base, make_course):
    base = make_base()
    make_course(base, title="护理课程", hours=8)
    make_course(base, title="数字经济课程", hours=20)


def test_an_escaped_ampersand_does_not_fill_the_entry_of_two_parameters(client, two_courses):
    # One parameter q = "护理&sort=hours" (nothing matches) against q = "护理" and sort = "hours": joined without
    # escaping, both were "q=护理&sort=hours" and the empty answer was served for the real search.
    poisoned = client.get("/courses?q=%E6%8A%A4%E7%90%86%26sort%3Dhours")
    assert "护理课程" not in poisoned.text
    real = client.get("/courses?q=护理&sort=hours")
    assert "X-Page-Cache" not in real.headers
    assert "护理课程" in real.text


def test_an_escaped_equals_sign_does_not_fill_another_entry(client, two_courses):
    client.get("/courses?q%3D%E6%8A%A4%E7%90%86%26x=")  # one parameter named "q=护理&x", blank
    real = client.get("/courses?q=护理&x=")
    assert "X-Page-Cache" not in real.headers and "护理课程" in real.text


def test_repeated_keys_keep_their_order_since_the_page_reads_the_first(client, two_courses):
    nursing = client.get("/courses?q=护理&q=数字")
    assert "护理课程" in nursing.text and "数字经济课程" not in nursing.text
    digital = client.get("/courses?q=数字&q=护理")
    assert "X-Page-Cache" not in digital.headers
    assert "数字经济课程" in digital.text and "护理课程" not in digital.text
    # Keys in another order are the same request: still one entry.
    assert client.get("/courses?sort=hours&q=护理&q=数字").data == client.get("/courses?q=护理&q=数字&sort=hours").data


@pytest.fixture
def echo(app):
    """A cached page at /__echo__ and /__echo__<rest> that shows what it was asked; the requests it rendered."""
    from flask import request

    seen = []

    def view(rest=""):
        seen.append((request.path, sorted(request.args.items(multi=True))))
        return f"<p>{seen[-1]}</p>"

    app.add_url_rule("/__echo__", view_func=pagecache.cached_page(view))
    app.add_url_rule("/__echo__<rest>", endpoint="echo_rest", view_func=pagecache.cached_page(view))
    return seen


def test_a_question_mark_in_the_path_is_not_the_query(client, echo):
    first = client.get("/__echo__%3Fa?b=1")  # the path "/__echo__?a", b = 1
    second = client.get("/__echo__?a%3Fb=1")  # the path "/__echo__", "a?b" = 1
    assert "X-Page-Cache" not in second.headers and second.data != first.data
    assert len(echo) == 2


def test_blank_and_missing_values_get_entries_of_their_own(client, echo):
    for url in ("/__echo__", "/__echo__?", "/__echo__?a", "/__echo__?a=", "/__echo__?a=&b=", "/__echo__?a%26b=",
                "/__echo__?a=1", "/__echo__?a=1&a=", "/__echo__?a=&a=1"):
        response = client.get(url)
        assert response.data.decode().startswith("<p>"), url
    # "?" is no query and "?a" is a blank a (the same requests as the ones before them); each other one was
    # rendered, none got another's page.
    assert len(echo) == 7


# --- with Redis, each process keeps what it fetched until the Redis entry expires (issue 20, R1p) ---------------

class _Clock:
    """Stands in for the module's ``time``: both clocks moved forward together by ``advance``."""

    def __init__(self):
        self.offset = 0.0

    def monotonic(self):
        import time

        return time.monotonic() + self.offset

    def time(self):
        import time

        return time.time() + self.offset


@pytest.fixture
def two_redis_workers(tmp_path, sqlite_template, make_base, make_course, app):
    url = "redis://127.0.0.1:6379/15"
    store = redis.Redis.from_url(url)
    store.flushdb()
    course = make_course(make_base(), title="原来的课程名")
    path = db.engine.url.database
    workers = [create_app(_config(tmp_path, f"sqlite:///{path}", PAGE_CACHE_SECONDS=60, REDIS_URL=url))
               for _ in range(2)]
    yield workers, course, store
    store.flushdb()


def test_a_page_fetched_from_redis_is_served_again_without_asking_redis(two_redis_workers, monkeypatch):
    workers, course, _store = two_redis_workers
    first = workers[0].test_client().get(f"/courses/{course.id}")
    pagecache.clear()  # as if the second worker were another process
    with workers[1].app_context():
        from extensions import redis_client

        client = redis_client()
    asked = []
    real_get = client.get
    monkeypatch.setattr(client, "get", lambda key: asked.append(key) or real_get(key))
    answers = [workers[1].test_client().get(f"/courses/{course.id}") for _ in range(3)]
    assert all(a.headers["X-Page-Cache"] == "hit" and a.data == first.data for a in answers)
    assert len(asked) == 1  # the first hit fetched it; the next two were this process's copy


def test_no_process_serves_a_page_longer_than_the_entry_lives(two_redis_workers, monkeypatch):
    workers, course, store = two_redis_workers
    clock = _Clock()
    monkeypatch.setattr(pagecache, "time", clock)
    workers[0].test_client().get(f"/courses/{course.id}")
    pagecache.clear()
    clock.offset = 30  # half-way: the second worker fetches it, with 30 s left
    assert workers[1].test_client().get(f"/courses/{course.id}").headers["X-Page-Cache"] == "hit"
    _rename(course.id, "改过的课程名")
    clock.offset = 59
    assert "原来的课程名" in workers[1].test_client().get(f"/courses/{course.id}").text
    clock.offset = 61  # past the entry's life in both processes, whatever Redis itself still holds
    for worker in workers:
        fresh = worker.test_client().get(f"/courses/{course.id}")
        assert "改过的课程名" in fresh.text
    assert store.ttl(next(iter(store.scan_iter("jidi:page:*")))) <= 60
