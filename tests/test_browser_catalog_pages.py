"""In Chromium, on a phone: the catalog's page jumps fit the screen and lead where they say; the course's
contact phone is a tap-to-call link."""

import pytest
from playwright.sync_api import expect

from extensions import db
from tests.browser import LiveServer, Shots, fits
from tests.test_catalog import _bulk_courses

pytestmark = pytest.mark.browser


def test_jumping_through_the_catalog_on_a_phone(app, actors, make_base, make_course):
    app.config["CATALOG_PAGE_SIZE"] = 5
    base = make_base()
    _bulk_courses(base, 58)  # with the one below, 59: 12 pages, the last of 4
    make_course(base, title="人工智能与健康")
    db.session.remove()
    shot = Shots("catalog-pages")
    with LiveServer(app) as site:
        phone = actors.open(phone=True)
        phone.goto(site.url + "/courses?sort=start&page=6")
        pages = phone.get_by_role("navigation", name="分页")
        expect(pages).to_contain_text("第 6 / 12 页")
        fits(phone)
        shot(phone, "page-6")

        pages.get_by_role("link", name="末页").click()
        expect(pages).to_contain_text("第 12 / 12 页")
        expect(phone.locator(".course-card")).to_have_count(4)
        fits(phone)
        shot(phone, "last")

        pages.get_by_role("link", name="第 10 页").click()
        expect(pages).to_contain_text("第 10 / 12 页")
        pages.get_by_role("link", name="下一页").click()
        expect(pages).to_contain_text("第 11 / 12 页")
        assert "cursor=" in phone.url
        pages.get_by_role("link", name="首页").click()
        expect(pages).to_contain_text("第 1 / 12 页")
        fits(phone)

        phone.goto(site.url + "/courses?q=AI")
        phone.get_by_role("link", name="人工智能与健康").click()
        calls = phone.locator('a[href^="tel:"]')  # the course's contact, and its base's in the disclosure
        expect(calls).to_have_count(2)
        expect(calls.first).to_have_attribute("href", "tel:02861234567")
        fits(phone)
        shot(phone, "course-contact")
