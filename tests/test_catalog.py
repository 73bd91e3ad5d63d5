"""The public catalog: filters, sorting, pagination, visibility, and a fixed number of queries."""

import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest
import sqlalchemy as sa

from extensions import db
from models import BaseStatus, Category, Course, CourseStatus, Mode
from services.infra import clock, search
from services.queries import catalog_pages
from tests.conftest import count_queries


def _bulk_courses(base, n, start_index=0):
    today = clock.today()
    rows = []
    for i in range(start_index, start_index + n):
        title = f"护理实务第{i}期"
        rows.append({
            "base_id": base.id, "title": title, "description": "", "category": Category.PROFESSIONAL,
            "field": "卫生", "hours": 8, "start_date": today + timedelta(days=i % 60),
            "end_date": today + timedelta(days=i % 60 + 1), "mode": Mode.FACE_TO_FACE, "place": "教室",
            "audience": "护士", "capacity": 40, "seats_taken": 0, "fee": Decimal("0"), "fee_standard": "",
            "contact_person": "张", "contact_phone": "028-61234567", "open_to_city": True,
            "status": CourseStatus.PUBLISHED, "cancel_reason": "",
            "search_tokens": search.index_tokens(title, "", base.name),
        })
    db.session.execute(sa.insert(Course), rows)
    db.session.commit()


DEEP = "deep"  # a page reached by a cursor, as the 50th page is


@pytest.mark.parametrize("url", ["/courses", "/courses?q=护理&sort=hours", DEEP, "/", "/bases"])
def test_catalog_pages_issue_the_same_number_of_queries_for_10_and_1000_courses(client, make_base, url):
    if url == DEEP:
        cursor = catalog_pages.encode_cursor(catalog_pages.Position("hours", 50, True, (8, clock.today(), 5)))
        url = f"/courses?q=护理&sort=hours&cursor={cursor}"
    bases = [make_base() for _ in range(3)]
    for base in bases:
        _bulk_courses(base, 4)
    with count_queries(db.engine) as small:
        assert client.get(url).status_code == 200
    for base in bases:
        _bulk_courses(base, 330, start_index=4)
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) > 1000
    with count_queries(db.engine) as large:
        assert client.get(url).status_code == 200
    assert len(small) == len(large), (small, large)
    assert len(large) <= 4


def test_catalog_result_shows_base_category_hours_dates_seats_and_fee(client, make_base, make_course):
    base = make_base(name="成都东软学院")
    make_course(base, title="大数据分析与 Python 实践", hours=30, capacity=40, seats_taken=38, fee=Decimal("800"))
    html = client.get("/courses").get_data(as_text=True)
    for text in ("大数据分析与 Python 实践", "成都东软学院", "专业科目", "学时：30", "余 2 个名额", "800 元"):
        assert text in html, text


def _titles(client, query):
    html = client.get(f"/courses?{query}").get_data(as_text=True)
    return {t for t in ("甲", "乙", "丙", "丁") if f">课程{t}<" in html}


def test_filters_narrow_the_results(client, make_region, make_base, make_course):
    province = make_region("山东省")
    yantai = make_region("烟台市", parent=province)
    chengdu_base = make_base()
    yantai_base = make_base(region_id=yantai.id)
    today = clock.today()
    month_later = today + timedelta(days=40)
    make_course(chengdu_base, title="课程甲", category=Category.PUBLIC, mode=Mode.SELF_PACED, capacity=None,
                field="信息")
    make_course(chengdu_base, title="课程乙", capacity=10, seats_taken=10, open_to_city=False)
    make_course(yantai_base, title="课程丙", start_date=month_later, end_date=month_later, field="现代农业")
    make_course(yantai_base, title="课程丁", status=CourseStatus.CLOSED)

    assert _titles(client, "") == {"甲", "乙", "丙", "丁"}
    assert _titles(client, f"region={yantai.id}") == {"丙", "丁"}
    assert _titles(client, f"region={province.id}") == {"丙", "丁"}
    assert _titles(client, f"base={chengdu_base.id}") == {"甲", "乙"}
    assert _titles(client, "category=public") == {"甲"}
    assert _titles(client, "field=现代农业") == {"丙"}
    assert _titles(client, "mode=self_paced") == {"甲"}
    assert _titles(client, "has_seats=y") == {"甲", "丙"}
    assert _titles(client, "open_to_city=y") == {"甲", "丙", "丁"}
    assert _titles(client, f"month={month_later:%Y-%m}") >= {"丙"}
    assert "甲" not in _titles(client, f"month={(today + timedelta(days=400)):%Y-%m}")


def test_bad_filter_values_are_ignored_with_a_message_not_a_500(client, make_base, make_course):
    make_course(make_base(), title="课程甲")
    response = client.get("/courses?month=2026-13&page=-4&region=abc&sort=nope&category=zzz")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "月份格式应为" in html
    assert ">课程甲<" in html


def test_pagination_splits_results(app, client, make_base):
    app.config["CATALOG_PAGE_SIZE"] = 5
    _bulk_courses(make_base(), 12)
    first = client.get("/courses?sort=start").get_data(as_text=True)
    second = client.get(_link(first, "next")).get_data(as_text=True)
    third = client.get(_link(second, "next")).get_data(as_text=True)
    assert "共 12 门课程" in first
    assert first.count('class="card course-card') == 5
    assert "第 2 / 3 页" in second
    assert third.count('class="card course-card') == 2
    assert _link(third, "next") is None


def _link(html: str, rel: str) -> str | None:
    """The href of the page's rel=next/prev link, or None when it is disabled."""
    found = re.search(rf'rel="{rel}" href="([^"]+)"', html)
    return None if found is None or found.group(1) == "#" else unescape(found.group(1))


@pytest.mark.parametrize("sort", list(catalog_pages.SORTS))
def test_walking_the_pages_forward_and_back_shows_every_course_once_in_order(app, client, make_base, make_course,
                                                                              sort):
    """Ties on every sort column (same dates, hours and fees) must neither repeat nor lose a course."""
    app.config["CATALOG_PAGE_SIZE"] = 4
    base = make_base()
    today = clock.today()
    for n in range(11):
        make_course(base, title=f"课程{n:02d}号", start_date=today + timedelta(days=n % 3),
                    end_date=today + timedelta(days=5), hours=4 + n % 2, fee=Decimal(n % 3 * 100))
    expected = [c.title for c in catalog_pages.search_courses(catalog_pages.CourseFilters(sort=sort), 100).items]
    assert len(expected) == 11
    pages, url = [], f"/courses?sort={sort}"
    while url:
        html = client.get(url).get_data(as_text=True)
        pages.append(re.findall(r">(课程\d+号)<", html))
        url = _link(html, "next")
    assert [t for page in pages for t in page] == expected
    assert [len(p) for p in pages] == [4, 4, 3]
    back, url = [], _link(html, "prev")
    while url:
        html = client.get(url).get_data(as_text=True)
        back.append(re.findall(r">(课程\d+号)<", html))
        url = _link(html, "prev")
    assert back == pages[-2::-1]


def test_a_mangled_or_foreign_cursor_shows_the_first_page(app, client, make_base):
    app.config["CATALOG_PAGE_SIZE"] = 5
    _bulk_courses(make_base(), 12)
    first = client.get("/courses?sort=start").get_data(as_text=True)
    foreign = catalog_pages.encode_cursor(catalog_pages.Position("hours", 2, True, (8, clock.today(), 1)))
    for cursor in ("nonsense", "e30", "W10", "!!!", "x" * 400, foreign):
        response = client.get(f"/courses?sort=start&cursor={cursor}")
        assert response.status_code == 200
        assert re.findall(r">(护理实务第\d+期)<", response.get_data(as_text=True)) == \
            re.findall(r">(护理实务第\d+期)<", first)


def test_sorting_by_fee_puts_cheapest_first(client, make_base, make_course):
    base = make_base()
    make_course(base, title="贵的课程", fee=Decimal("900"))
    make_course(base, title="免费课程", fee=Decimal("0"))
    html = client.get("/courses?sort=fee").get_data(as_text=True)
    assert html.index("免费课程") < html.index("贵的课程")


def test_drafts_cancelled_past_and_exited_bases_are_not_public(client, make_base, make_course):
    base = make_base()
    exited = make_base(status=BaseStatus.EXITED)
    yesterday = clock.today() - timedelta(days=1)
    hidden = [
        make_course(base, title="草稿课程", status=CourseStatus.DRAFT),
        make_course(base, title="取消课程", status=CourseStatus.CANCELLED),
        make_course(exited, title="退出基地课程"),
    ]
    past = make_course(base, title="已结束课程", start_date=yesterday - timedelta(days=3), end_date=yesterday)
    html = client.get("/courses").get_data(as_text=True)
    for course in hidden:
        assert course.title not in html
        assert client.get(f"/courses/{course.id}").status_code == 404
    assert "已结束课程" not in html
    assert "已结束课程" in client.get("/courses?include_past=y").get_data(as_text=True)
    assert client.get(f"/courses/{past.id}").status_code == 200


def test_directory_groups_bases_by_type_and_hides_exited_ones(client, make_base):
    from models import BaseType

    make_base(name="鲁东大学", type=BaseType.PROVINCIAL)
    make_base(name="烟台市农业科学研究院", type=BaseType.RURAL_REVITALIZATION)
    gone = make_base(name="已退出的基地", status=BaseStatus.EXITED)
    html = client.get("/bases").get_data(as_text=True)
    assert "省级继续教育基地" in html and "省级乡村振兴继续教育基地" in html
    assert html.index("鲁东大学") < html.index("烟台市农业科学研究院")
    assert "已退出的基地" not in html
    assert client.get(f"/bases/{gone.id}").status_code == 404


def test_base_page_shows_disclosure_and_current_courses(client, make_base, make_course):
    base = make_base(scope="面向全市卫生专业技术人员", fee_items="每人 300 元")
    make_course(base, title="急救技能培训")
    html = client.get(f"/bases/{base.id}").get_data(as_text=True)
    for text in ("面向全市卫生专业技术人员", "每人 300 元", "急救技能培训", "028-61234567"):
        assert text in html
