"""Shared data and checks for the search tests, run on SQLite and on PostgreSQL alike."""

import unicodedata

import sqlalchemy as sa

from extensions import db
from models import Course
from services import catalog

TITLES = (
    "人工智能与健康", "人工智能应用开发实践", "临床护理质量与患者安全", "急危重症护理新进展", "护士长管理能力提升",
    "5G+智慧城市建设与应用", "院前急救与心肺复苏规范化培训", "理护不分的标题", "智能制造", "健康管理",
    "网络安全等级保护 2.0 实务", "护", "社区养老护理员实务", "人工 智能（分开写）",
)
QUERIES = ("人工智能", "护理", "护", "理", "急救", "5g", "5G+", "健康", "智能", "2.0", "人工智能与健康", "不存在的词")


def make_courses(make_base, make_course):
    bases = [make_base(name="成都市第一人民医院"), make_base(name="四川国信安职业培训学校")]
    for i, title in enumerate(TITLES):
        make_course(bases[i % 2], title=title, description="护理学基础" if i == 9 else "")
    return bases


def substring_ids(query: str) -> set[int]:
    """What a plain substring match finds, the reference the index must agree with."""
    def norm(text):
        return unicodedata.normalize("NFKC", text).lower()

    wanted = [part for part in norm(query).replace("+", " ").replace(".", " ").split()]
    found = set()
    for course in db.session.execute(sa.select(Course)).scalars():
        haystack = norm(" ".join((course.title, course.description, course.base.name)))
        if all(part in haystack for part in wanted):
            found.add(course.id)
    return found


def search_ids(query: str) -> set[int]:
    page = catalog.search_courses(catalog.CourseFilters(q=query, include_past=True), 1000)
    return {course.id for course in page.items}
