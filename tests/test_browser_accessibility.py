"""Issue 19, item 8: the main pages of every role checked by axe-core in Chromium, with zero serious or critical
violations (colour contrast AA among them), and a skip link a keyboard reaches first. axe-core is the copy
shipped inside the axe-playwright-python package (a test dependency), run through page.evaluate: nothing is
fetched from a CDN, and the page's own CSP (script-src 'self') stays in force.

Not yet every page of every role: the forms behind the pages listed here (new course, declaration, review …)
and the pages of objects (a course's edit page, a roster) are the next to add."""

from importlib import resources

import pytest
from playwright.sync_api import expect

from seeding.demo import DEMO_PASSWORD
from tests.browser import LiveServer, sign_in

pytestmark = pytest.mark.browser

AXE = (resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")

PAGES = {
    None: ["/", "/courses", "/bases", "/list", "/verify", "/login", "/register", "/register/employer", "/privacy",
           "/forgot", "/claim", "/apply/"],
    "learner@jidi.demo": ["/me/", "/me/declarations", "/me/declarations/new", "/me/certificates", "/me/employer",
                          "/inbox/", "/account/profile", "/account/notifications", "/account/contact",
                          "/account/password", "/account/close"],
    "admin01@jidi.demo": ["/manage/"],
    "reviewer.cd1@jidi.demo": ["/review/", "/review/staff"],
    "employer.cd1@jidi.demo": ["/employer/", "/employer/reviewers", "/employer/claims", "/employer/staff"],
    "sector.cd@jidi.demo": ["/sector/", "/sector/guides"],
    "regulator.chengdu@jidi.demo": ["/regulator/", "/regulator/targets", "/regulator/rules", "/regulator/reviews",
                                    "/regulator/sectors", "/regulator/audit", "/regulator/applications",
                                    "/regulator/employers"],
    "admin@jidi.demo": ["/platform/", "/platform/jobs"],
}


@pytest.fixture
def app(demo_app):
    """The demo's data, its year of history included (conftest.demo_template)."""
    return demo_app


def _serious_violations(page) -> list[str]:
    result = page.evaluate(AXE + "\n;axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {[node['target'][0] for node in v['nodes']][:4]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("who", list(PAGES), ids=lambda who: who or "visitor")
def test_every_listed_page_has_no_serious_accessibility_violation(app, actors, who):
    found = {}
    with LiveServer(app) as site:
        page = actors.open()
        if who:
            sign_in(page, site, who, DEMO_PASSWORD)
        for path in PAGES[who]:
            response = page.goto(site.url + path)
            assert response.status == 200, path
            if problems := _serious_violations(page):
                found[path] = problems
    assert found == {}


def test_the_first_tab_reaches_the_skip_link_which_moves_focus_to_the_content(app, actors):
    with LiveServer(app) as site:
        page = actors.open()
        page.goto(site.url + "/courses")
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="跳到正文")
        expect(skip).to_be_focused()
        expect(skip).to_be_visible()
        page.keyboard.press("Enter")
        expect(page.locator("main#main")).to_be_focused()
