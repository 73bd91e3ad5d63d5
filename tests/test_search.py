"""Chinese full-text search: indexed (FTS5), and exactly as precise as a substring match."""

import pytest
import sqlalchemy as sa

from extensions import db
from models import Course
from services import search
from tests.search_cases import QUERIES, make_courses, search_ids, substring_ids


def test_index_tokens_are_bigrams_plus_last_character():
    assert search.index_tokens("人工智能与健康") == "人工 工智 智能 能与 与健 健康 康"
    assert search.index_tokens("5G+智慧城市", "护") == "5g 智慧 慧城 城市 市 护"


def test_query_of_two_or_more_chinese_characters_is_a_phrase_of_bigrams():
    assert search.query_terms("护理") == [(["护理"], False)]
    assert search.query_terms("人工智能") == [(["人工", "工智", "智能"], False)]
    assert search.query_terms("护") == [(["护"], True)]
    assert search.query_terms("《》！") == []


def test_searching_ai_finds_ai_and_health(app, make_base, make_course):
    make_courses(make_base, make_course)
    titles = {db.session.get(Course, i).title for i in search_ids("人工智能")}
    assert "人工智能与健康" in titles
    assert "人工智能应用开发实践" in titles
    assert "人工 智能（分开写）" not in titles


@pytest.mark.parametrize("query", QUERIES)
def test_search_finds_exactly_what_a_substring_match_finds(app, make_base, make_course, query):
    make_courses(make_base, make_course)
    assert search_ids(query) == substring_ids(query)


def test_two_character_query_is_not_empty(app, make_base, make_course):
    make_courses(make_base, make_course)
    assert len(search_ids("护理")) == 4  # 临床护理…, 急危重症护理…, 社区养老护理员…, 健康管理 (描述：护理学基础)


def test_base_name_is_searchable(app, make_base, make_course):
    make_courses(make_base, make_course)
    assert search_ids("国信安") == substring_ids("国信安") != set()


def test_title_change_is_reindexed(app, make_base, make_course):
    base = make_base()
    course = make_course(base, title="旧标题")
    from services.courses import refresh_search_tokens

    course.title = "急救技能"
    refresh_search_tokens(course, base)
    db.session.commit()
    assert search_ids("急救") == {course.id}
    assert search_ids("旧标题") == set()


def test_search_uses_the_fts5_index(app, make_base, make_course):
    make_courses(make_base, make_course)
    clause = search.match_clause(Course.id, Course.search_tokens, "护理", "sqlite")
    compiled = sa.select(Course.id).where(clause).compile(db.engine, compile_kwargs={"literal_binds": True})
    plan = db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    details = " ".join(str(row[-1]) for row in plan)
    assert "VIRTUAL TABLE INDEX" in details and "course_fts" in details, details
