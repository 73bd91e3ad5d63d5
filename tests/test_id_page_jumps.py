"""Lists paged newest first by id (the inbox, a base's walk-ins) offer 首页, 末页 and page numbers, while next
and previous stay keyset cursors (services.infra.paging)."""

import re
from html import unescape

import pytest
import sqlalchemy as sa

from extensions import db
from models import Notice
from services import inbox
from services.infra import paging
from tests.conftest import count_queries, login


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def _href(html: str, text: str) -> str | None:
    found = re.search(rf'<a class="page-link"[^>]* href="([^"]*)"[^>]*>{re.escape(text)}</a>', html)
    return None if found is None or found.group(1) == "#" else unescape(found.group(1))


def _messages(html: str) -> list[int]:
    return [int(n) for n in re.findall(r"通知(\d+)号", html)]


@pytest.fixture
def reader(app, make_user):
    """A user with 70 notices (通知0号 oldest … 通知69号 newest): three pages of 30, the last of 10."""
    user = make_user()
    db.session.execute(sa.insert(Notice), [{"user_id": user.id, "message": f"通知{n}号", "link": ""}
                                           for n in range(70)])
    db.session.commit()
    return signed_in(app, user)


def test_inbox_pages_by_number_and_by_cursor_agree(reader):
    first = reader.get("/inbox/").get_data(as_text=True)
    assert _messages(first) == list(range(69, 39, -1))
    assert _href(first, "首页") is None
    second = reader.get(_href(first, "下一页")).get_data(as_text=True)
    assert _messages(second) == list(range(39, 9, -1))
    assert _messages(reader.get("/inbox/?page=2").get_data(as_text=True)) == _messages(second)
    last = reader.get(_href(first, "末页")).get_data(as_text=True)
    assert _messages(last) == list(range(9, -1, -1))
    assert "第 3 / 3 页" in last and _href(last, "末页") is None
    back = reader.get(_href(last, "上一页")).get_data(as_text=True)
    assert _messages(back) == _messages(second)
    assert "cursor=" in _href(last, "上一页")


def test_inbox_page_numbers_link_and_clamp(reader):
    html = reader.get("/inbox/?page=2").get_data(as_text=True)
    assert _messages(reader.get(_href(html, "1")).get_data(as_text=True))[0] == 69
    assert _messages(reader.get(_href(html, "3")).get_data(as_text=True))[0] == 9
    assert _messages(reader.get("/inbox/?page=40").get_data(as_text=True))[0] == 9  # past the end: the last
    for raw in ("0", "x", "-2"):
        assert _messages(reader.get(f"/inbox/?page={raw}").get_data(as_text=True))[0] == 69
    for cursor in ("nonsense", "1b5", "3b" + "9" * 20, "2a"):
        assert _messages(reader.get(f"/inbox/?cursor={cursor}").get_data(as_text=True))[0] == 69


def test_a_jump_too_deep_is_404(reader, monkeypatch):
    monkeypatch.setattr(paging, "JUMP_ROWS", 5)
    assert reader.get("/inbox/?page=2").status_code == 404  # 30 rows from the start, 10 from the end
    assert reader.get("/inbox/?page=3").status_code == 200
    html = reader.get("/inbox/").get_data(as_text=True)
    assert _href(html, "2") is not None  # the next page: a cursor
    assert "page=2" not in html


def test_a_jumped_inbox_page_costs_what_the_first_does(reader):
    with count_queries(db.engine) as first:
        reader.get("/inbox/")
    with count_queries(db.engine) as jumped:
        reader.get("/inbox/?page=2")
    assert len(first) == len(jumped)


def test_walk_ins_are_paged_with_numbers(app, admin_and_base, make_user, monkeypatch):
    admin, base = admin_and_base
    people = [make_user(registered_by_base_id=base.id) for _ in range(7)]
    monkeypatch.setattr("services.walk_ins.PAGE", 3)
    client = signed_in(app, admin)
    html = client.get(f"/manage/bases/{base.id}/walk-ins").get_data(as_text=True)
    assert "第 1 / 3 页" in html
    last = client.get(_href(html, "末页")).get_data(as_text=True)
    assert re.findall(r'data-user="(\d+)"', last) == [str(people[0].id)]
    second = client.get(_href(html, "下一页")).get_data(as_text=True)
    assert re.findall(r'data-user="(\d+)"', second) == [str(p.id) for p in people[3:0:-1]]
    assert inbox.PAGE_SIZE == 30
