"""Shared data and checks for the search tests, run on SQLite and on PostgreSQL alike."""

import random
import unicodedata

import sqlalchemy as sa

from extensions import db
from models import Course
from services.queries import catalog_pages

TITLES = (
    "人工智能与健康", "人工智能应用开发实践", "临床护理质量与患者安全", "急危重症护理新进展", "护士长管理能力提升",
    "5G+智慧城市建设与应用", "院前急救与心肺复苏规范化培训", "理护不分的标题", "智能制造", "健康管理",
    "网络安全等级保护 2.0 实务", "护", "社区养老护理员实务", "人工 智能（分开写）",
    # Chinese beyond the common block (issue 14): 〇, extensions A and B (𠮷 of names), G, a compatibility
    # ideograph (NFKC folds 豈 into 豈), and 𠮷 inside a run that would otherwise read 护理.
    "二〇二六年度急救培训", "𠮷祥养老", "㐀㑇研究", "𰀀𱍊古籍", "豈止于此", "护𠮷理",
)
QUERIES = ("人工智能", "护理", "护", "理", "急救", "5g", "5G+", "健康", "智能", "2.0", "人工智能与健康", "不存在的词",
           "〇", "二〇", "二〇二六", "𠮷", "𠮷祥", "㐀", "㐀㑇", "𰀀𱍊", "𱍊", "豈", "豈止", "护𠮷")

# The characters a generated title or query is made of: a few common ones, so that texts share bigrams, and
# one or more of every kind the common block (U+4E00–9FFF) leaves out: 〇 (U+3007), extension A
# (U+3400–4DBF), B to G in the supplementary planes (U+20000–3134F), the compatibility ideographs
# (U+F900–FAFF, folded by NFKC except the twelve unified ones such as U+FA0E, and U+2F800–2FA1F).
RARE = (
    "\u3007", "\u3400", "\u4dbf", "\U00020000", "\U00020bb7", "\U0002a6df", "\U0002a700", "\U0002b740",
    "\U0002b820", "\U0002ceb0", "\U0002ebe0", "\U00030000", "\U0003134a", "\uf900", "\ufa0e", "\ufa29",
    "\U0002f800",
)
ALPHABET = tuple("护理人工智能二年") + RARE


def generated_titles(seed: int = 14, count: int = 40) -> list[str]:
    """Random titles over ALPHABET, some with a space or a 、 between runs (deterministic for a seed)."""
    rng = random.Random(seed)
    titles = []
    for _ in range(count):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 9)))
        if rng.random() < 0.3:
            cut = rng.randint(0, len(text))
            text = text[:cut] + rng.choice(" 、") + text[cut:]
        titles.append(text)
    return titles


def generated_queries(titles: list[str], seed: int = 14, count: int = 150) -> list[str]:
    """Queries of one to four characters: mostly pieces of the titles (found), some random (found or not)."""
    rng = random.Random(seed + 1)
    queries = []
    for _ in range(count):
        title = rng.choice(titles).replace("、", "")
        if rng.random() < 0.7 and title.strip():
            start = rng.randrange(len(title))
            piece = title[start:start + rng.randint(1, 4)].strip()
        else:
            piece = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 4)))
        queries.append(piece or rng.choice(RARE))
    return queries


def make_generated_courses(make_base, make_course) -> list[str]:
    """Courses titled by generated_titles (the oracle's data), on two bases; returns the queries to try."""
    bases = [make_base(name="成都市第一人民医院"), make_base(name="四川国信安职业培训学校")]
    titles = generated_titles()
    for i, title in enumerate(titles):
        make_course(bases[i % 2], title=title, description=titles[-1 - i] if i % 5 == 0 else "")
    return generated_queries(titles)


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


def mismatches(queries) -> dict[str, tuple[set[int], set[int]]]:
    """The queries the index answers differently from a substring scan: {query: (index, scan)}."""
    found = {query: (search_ids(query), substring_ids(query)) for query in queries}
    return {query: pair for query, pair in found.items() if pair[0] != pair[1]}


def search_ids(query: str) -> set[int]:
    page = catalog_pages.search_courses(catalog_pages.CourseFilters(q=query, include_past=True), 1000)
    return {course.id for course in page.items}
