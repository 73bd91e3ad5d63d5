"""Abbreviations and English terms find their Chinese courses (data/search-synonyms.csv), and nothing else."""

import pytest

from extensions import db
from models import Course
from services.infra import search
from tests.conftest import count_queries
from tests.search_cases import search_ids


def _titles(query: str) -> set[str]:
    return {db.session.get(Course, i).title for i in search_ids(query)}


@pytest.fixture
def courses(app, make_base, make_course):
    base = make_base(name="成都市第一人民医院")
    for title in ("人工智能与健康", "5G+智慧城市建设与应用", "演示文稿制作技巧", "临床护理质量与患者安全",
                  "AI 辅助诊断入门", "急救技能", "会计实务"):
        make_course(base, title=title)


@pytest.mark.parametrize("query", ["AI", "ai", "Ai", "ＡＩ"])
def test_ai_in_any_case_finds_the_course_written_as_rengong_zhineng(courses, query):
    assert _titles(query) == {"人工智能与健康", "AI 辅助诊断入门"}


def test_the_chinese_term_finds_the_abbreviation_too(courses):
    assert _titles("人工智能") == {"人工智能与健康", "AI 辅助诊断入门"}


def test_5g_finds_5g_plus(courses):
    assert _titles("5G") == _titles("5g") == {"5G+智慧城市建设与应用"}


def test_english_terms_of_the_fields_find_chinese_courses(courses):
    assert _titles("PPT") == {"演示文稿制作技巧"}
    assert _titles("Nursing") == {"临床护理质量与患者安全"}
    assert _titles("accounting") == {"会计实务"}


def test_every_word_must_still_match(courses):
    assert _titles("AI 健康") == {"人工智能与健康"}
    assert _titles("AI 会计") == set()


def test_an_unrelated_word_finds_nothing_extra(courses):
    assert search.expanded_terms("急救") == [[search.query_terms("急救")]]
    assert _titles("急救") == {"急救技能"}
    assert _titles("blockchain") == set()


def test_every_term_of_the_table_is_searchable():
    table = search.synonyms()
    assert table["ai"] == ("人工智能",)
    assert "5G+" in table["5g"]
    assert all(search.query_terms(term) for others in table.values() for term in others)


def test_the_search_stays_two_queries(courses):
    with count_queries(db.engine) as counted:
        search_ids("AI 健康")
    assert len(counted) == 2
