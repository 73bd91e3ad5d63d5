"""Issue 19, item 5: the declaration form offers only the categories the chosen kind may be declared as
(static/js/declaration_categories.js reading each kind's data-categories), in Chromium on the demo's data.
Zhengzhou's nurse 张敏 declares under Henan's general list, where kinds differ: 其他 may be any of the three
categories, 学术会议 only 专业科目. Screenshots under artifacts/screenshots/declaration-categories/."""

import pytest
from playwright.sync_api import expect

from seeding.demo import DEMO_PASSWORD
from tests.browser import Shots, sign_in

pytestmark = pytest.mark.browser

SELECTABLE = "(select) => Array.from(select.options).filter(o => !o.disabled && !o.hidden).map(o => o.value)"


@pytest.fixture
def app(demo_app):
    """The demo's data (conftest.demo_template)."""
    return demo_app


def test_choosing_a_kind_leaves_only_its_categories_selectable(site, actors):
    page, shot = actors.open(), Shots("declaration-categories")
    sign_in(page, site, "learner.henan@jidi.demo", DEMO_PASSWORD)
    page.goto(site.url + "/me/declarations/new")
    kind, category = page.get_by_label("类型"), page.get_by_label("科目类别")
    assert category.evaluate("(s) => s.options.length") == 3  # all three are on the page, for any kind

    kind.select_option(label="其他")
    assert category.evaluate(SELECTABLE) == ["public", "professional", "elective"]
    category.select_option(label="公需科目")
    shot(page, "other-any-category")

    kind.select_option(label="学术会议、讲座、研讨班")
    assert category.evaluate(SELECTABLE) == ["professional"]
    expect(category).to_have_value("professional")  # 公需科目 gave way to the one the kind may have
    shot(page, "conference-professional-only")

    kind.select_option(label="技能竞赛、技术比武")
    assert category.evaluate(SELECTABLE) == ["public", "professional"]
    expect(category).to_have_value("professional")  # still allowed: kept
