"""The same catalog on PostgreSQL: search semantics, index use, constraints and query counts; the hours
ledger's one query."""

import re

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import Course
from seeding import demo
from services.infra import search
from services.queries import catalog_pages
from tests.conftest import count_queries
from tests.search_cases import QUERIES, make_courses, make_generated_courses, mismatches, search_ids, substring_ids
from tests.test_hours_rules import assert_ledger_matches_totals_and_rules

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_app):
    """Every fixture built on ``app`` (factories, client) uses PostgreSQL in this module."""
    return pg_app


def test_running_on_postgresql(app):
    assert db.engine.dialect.name == "postgresql"


@pytest.mark.parametrize("query", QUERIES)
def test_search_finds_exactly_what_a_substring_match_finds(app, make_base, make_course, query):
    make_courses(make_base, make_course)
    assert search_ids(query) == substring_ids(query)


def test_generated_chinese_finds_exactly_what_a_substring_match_finds(app, make_base, make_course):
    """〇, extensions A–G and compatibility ideographs: PostgreSQL's parser keeps them in its words too."""
    assert mismatches(make_generated_courses(make_base, make_course)) == {}


def test_two_character_query_finds_matches(app, make_base, make_course):
    make_courses(make_base, make_course)
    assert len(search_ids("护理")) == 4
    titles = {db.session.get(Course, i).title for i in search_ids("人工智能")}
    assert "人工智能与健康" in titles


def test_search_uses_the_gin_index(app, make_base, make_course):
    make_courses(make_base, make_course)
    clause = search.match_clause(Course.id, Course.search_tokens, "护理", "postgresql")
    compiled = sa.select(Course.id).where(clause).compile(db.engine, compile_kwargs={"literal_binds": True})
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(row[0] for row in db.session.execute(sa.text(f"EXPLAIN {compiled}")))
    db.session.rollback()
    assert "ix_course_search_tokens_fts" in plan, plan


def test_seat_counter_cannot_pass_capacity(app, make_base, make_course):
    course = make_course(make_base(), capacity=2)
    with pytest.raises(IntegrityError):
        db.session.execute(sa.update(Course).where(Course.id == course.id).values(seats_taken=3))
        db.session.flush()
    db.session.rollback()


def test_catalog_query_count_does_not_grow_with_data(app, client, make_base, make_course):
    base = make_base()
    for i in range(10):
        make_course(base, title=f"护理课程{i}")
    with count_queries(db.engine) as small:
        assert client.get("/courses?q=护理").status_code == 200
    for i in range(10, 200):
        make_course(base, title=f"护理课程{i}")
    with count_queries(db.engine) as large:
        assert client.get("/courses?q=护理").status_code == 200
    assert len(small) == len(large)


def test_synonyms_find_their_courses_on_postgresql(app, make_base, make_course):
    base = make_base()
    for title in ("人工智能与健康", "5G+智慧城市", "急救技能", "AI 辅助诊断"):
        make_course(base, title=title)

    def titles(query):
        return {db.session.get(Course, i).title for i in search_ids(query)}

    assert titles("ai") == titles("人工智能") == {"人工智能与健康", "AI 辅助诊断"}
    assert titles("5G") == {"5G+智慧城市"}
    assert titles("AI 健康") == {"人工智能与健康"}


def test_catalog_page_jumps_on_postgresql(app, client, make_base, make_course):
    app.config["CATALOG_PAGE_SIZE"] = 2
    base = make_base()
    for i in range(7):
        make_course(base, title=f"护理课程{i}号")
    order = [c.title for c in catalog_pages.search_courses(catalog_pages.CourseFilters(), 100).items]
    for number in (1, 2, 3, 4, 9):  # 2 and 3 by OFFSET from either end, 4 and 9 (the last) backwards
        html = client.get(f"/courses?page={number}").get_data(as_text=True)
        start = (min(number, 4) - 1) * 2
        assert re.findall(r">(护理课程\d号)<", html) == order[start:start + 2], number


def test_hours_ledger_matches_totals_and_rules(app, make_user):
    assert_ledger_matches_totals_and_rules(demo.seed_reference(), make_user)
