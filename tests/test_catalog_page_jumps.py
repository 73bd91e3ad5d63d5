"""The catalog's pages can be jumped to (首页, 末页, a number) while next and previous stay keyset cursors."""

import re
from html import unescape

import pytest

from extensions import db
from services.infra import paging
from services.queries import catalog_pages
from tests.conftest import count_queries
from tests.test_catalog import _bulk_courses

TITLE = re.compile(r">(护理实务第\d+期)<")


def _titles(html: str) -> list[str]:
    return TITLE.findall(html)


def _href(html: str, text: str) -> str | None:
    """The href of the pagination link whose text (or aria-label) is ``text``, None when absent or disabled."""
    found = re.search(rf'<a class="page-link"[^>]* href="([^"]*)"[^>]*>{re.escape(text)}</a>', html)
    return None if found is None or found.group(1) == "#" else unescape(found.group(1))


@pytest.fixture
def walked(app, client, make_base):
    """23 courses, 5 a page (5 pages, the last of 3), and the titles of every page walked by cursor."""
    app.config["CATALOG_PAGE_SIZE"] = 5
    _bulk_courses(make_base(), 23)
    expected = [c.title for c in catalog_pages.search_courses(
        catalog_pages.CourseFilters(sort="start"), 100).items]
    return [expected[i:i + 5] for i in range(0, 23, 5)]


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_a_page_by_number_shows_what_walking_to_it_shows(client, walked, number):
    html = client.get(f"/courses?sort=start&page={number}").get_data(as_text=True)
    assert _titles(html) == walked[number - 1]
    assert f"第 {number} / 5 页" in html


def test_last_page_link_leads_to_the_last_page(client, walked):
    first = client.get("/courses?sort=start").get_data(as_text=True)
    assert _href(first, "首页") is None  # disabled on the first page
    last = client.get(_href(first, "末页")).get_data(as_text=True)
    assert _titles(last) == walked[-1]
    assert _href(last, "末页") is None
    assert _href(last, "首页") == "/courses?sort=start"


def test_next_and_previous_from_a_jumped_page_are_cursors(client, walked):
    third = client.get("/courses?sort=start&page=3").get_data(as_text=True)
    after, before = _href(third, "下一页"), _href(third, "上一页")
    assert "cursor=" in after and "page=" not in after
    assert "cursor=" in before and "page=" not in before
    assert _titles(client.get(after).get_data(as_text=True)) == walked[3]
    assert _titles(client.get(before).get_data(as_text=True)) == walked[1]


def test_page_numbers_around_the_current_page_are_links(client, walked):
    html = client.get("/courses?sort=start&page=3").get_data(as_text=True)
    assert '<li class="page-item active" aria-current="page"><span class="page-link">3</span></li>' in html
    for n in (1, 2, 4, 5):
        href = _href(html, str(n))
        assert href is not None, n
        assert _titles(client.get(href).get_data(as_text=True)) == walked[n - 1]


def test_a_page_beyond_the_last_shows_the_last(client, walked):
    html = client.get("/courses?sort=start&page=99").get_data(as_text=True)
    assert _titles(html) == walked[-1]
    assert "第 5 / 5 页" in html


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "２", "9" * 30])
def test_a_page_that_is_not_a_positive_number_shows_the_first(client, walked, raw):
    response = client.get(f"/courses?sort=start&page={raw}")
    assert response.status_code == 200
    assert _titles(response.get_data(as_text=True)) == walked[0]


def test_a_valid_cursor_wins_over_a_page_number(client, walked):
    first = client.get("/courses?sort=start").get_data(as_text=True)
    second = _href(first, "下一页") + "&page=5"
    assert _titles(client.get(second).get_data(as_text=True)) == walked[1]


def test_a_jump_deeper_than_the_limit_from_both_ends_is_404_and_not_offered(app, client, walked, monkeypatch):
    monkeypatch.setattr(paging, "JUMP_ROWS", 5)
    assert client.get("/courses?sort=start&page=3").status_code == 404  # 10 rows from either end
    assert client.get("/courses?sort=start&page=2").status_code == 200  # 5 rows from the start
    assert client.get("/courses?sort=start&page=4").status_code == 200  # 3 rows from the end
    html = client.get("/courses?sort=start&page=2").get_data(as_text=True)
    assert _href(html, "4") is not None and _href(html, "3") is not None  # 3 is the next page: a cursor
    assert "page=3" not in html


def test_a_jump_costs_the_same_two_queries(client, walked):
    for url in ("/courses?sort=start&page=3", "/courses?sort=start&page=5"):
        with count_queries(db.engine) as jumped:
            assert client.get(url).status_code == 200
        with count_queries(db.engine) as first:
            assert client.get("/courses?sort=start").status_code == 200
        assert len(jumped) == len(first)
