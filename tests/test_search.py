"""Chinese full-text search: indexed (FTS5), and exactly as precise as a substring match."""

import unicodedata

import pytest
import sqlalchemy as sa

from extensions import db
from models import Course
from services.infra import search
from tests.search_cases import (
    QUERIES,
    RARE,
    make_courses,
    make_generated_courses,
    mismatches,
    search_ids,
    substring_ids,
)


def test_index_tokens_are_bigrams_plus_last_character():
    assert search.index_tokens("人工智能与健康") == "人工 工智 智能 能与 与健 健康 康"
    assert search.index_tokens("5G+智慧城市", "护") == "5g 智慧 慧城 城市 市 护"


def test_query_of_two_or_more_chinese_characters_is_a_phrase_of_bigrams():
    assert search.query_terms("护理") == [(["护理"], False)]
    assert search.query_terms("人工智能") == [(["人工", "工智", "智能"], False)]
    assert search.query_terms("护") == [(["护"], True)]
    assert search.query_terms("《》！") == []


@pytest.mark.parametrize("char", RARE, ids=lambda c: f"U+{ord(c):04X}")
def test_a_query_of_any_chinese_character_is_never_ignored(char):
    assert search.query_terms(char) != []
    assert search.query_terms(char * 2) == [([unicodedata.normalize("NFKC", char) * 2], False)]


def test_extension_characters_are_indexed_inside_their_run():
    # 𠮷 (U+20BB7, extension B) is one character of the run: the text does not read 护理 across it.
    assert search.index_tokens("护𠮷理") == "护𠮷 𠮷理 理"
    assert search.index_tokens("二〇二六年") == "二〇 〇二 二六 六年 年"
    assert search.index_tokens("𰀀", "㐀") == "𰀀 㐀"


def test_other_scripts_are_words_not_dropped():
    assert search.index_tokens("Café ナース 간호") == "café ナー ース ス 간호 호"
    assert search.query_terms("ナース") == [(["ナー", "ース"], False)]


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


def test_generated_chinese_finds_exactly_what_a_substring_match_finds(app, make_base, make_course):
    """Random titles and queries over 〇, extensions A–G and compatibility ideographs (issue 14)."""
    queries = make_generated_courses(make_base, make_course)
    assert mismatches(queries) == {}


def test_reindex_cuts_courses_stored_before_again(app, make_base, make_course):
    from services.courses import reindex_search

    course = make_course(make_base(), title="二〇二六年度𠮷祥护理")
    other = make_course(make_base(), title="急救技能")
    db.session.execute(sa.update(Course).where(Course.id == course.id)  # as the old cut stored it
                       .values(search_tokens="二 二六 六年 年度 度 祥护 护理 理"))
    db.session.commit()
    assert search_ids("〇") != {course.id}

    assert reindex_search(batch=1) == 1
    assert search_ids("〇") == search_ids("𠮷祥") == {course.id}
    assert search_ids("急救") == {other.id}
    assert reindex_search() == 0


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
