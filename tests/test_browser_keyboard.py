"""Issue 19, item 8: forms usable by keyboard alone. On the demo's data a learner signs in, changes the
profile and rates a course (radios), and a base admin signs in and creates a course, with page.keyboard only
(Tab and Shift+Tab, typing, arrow keys in the selects and radios, Space and Enter on the buttons), never a
click; each sees the success message. Every element the Tab key reaches on the way, the navigation's links
included, shows a visible focus indicator: its computed outline or box-shadow when focused differs from the
same element's when not, and is something (an outline of some width, or a shadow). Screenshots under
artifacts/screenshots/keyboard/."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from extensions import db
from models import BaseMembership, Course, Enrollment, User
from seeding.demo import DEMO_PASSWORD
from services.infra import clock
from tests.browser import LiveServer, Shots, shown_in_view

pytestmark = pytest.mark.browser

# What the focused element is, how it looks focused, and how the element focused before it looks now that the
# focus has left it (the same element, unfocused: no other state differs, since no mouse hovers anything).
FOCUSED = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const look = (e) => { const s = getComputedStyle(e);
        return {outline: s.outlineStyle === 'none' ? 'none' : `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`,
                shadow: s.boxShadow}; };
    const name = (e) => ((e.labels && e.labels.length ? e.labels[0].textContent : '') || e.getAttribute('aria-label')
        || e.textContent || e.value || e.tagName).trim().replace(/\\s+/g, ' ').slice(0, 40);
    const found = {tag: el.tagName.toLowerCase(), type: el.type || '', value: el.value || '', name: name(el),
                   focused: look(el)};
    const before = window.__keyboardBefore;
    if (before && before.el !== el && before.el.isConnected) {
        found.before = {tag: before.tag, name: before.name, focused: before.focused, unfocused: look(before.el)};
    }
    window.__keyboardBefore = {el, tag: found.tag, name: found.name, focused: found.focused};
    return found;
}"""

SELECTED = "() => { const s = document.activeElement; return [s.selectedIndex, [...s.options].map(o => o.text)]; }"


@pytest.fixture
def app(demo_app):
    """The demo's data, its year of history included (conftest.demo_template)."""
    return demo_app


def _shows_focus(look: dict) -> bool:
    """An outline of some width, or a shadow."""
    outlined = look["outline"] != "none" and float(look["outline"].split()[1].removesuffix("px")) > 0
    return outlined or look["shadow"] != "none"


class Keyboard:
    """A person at a keyboard alone. Each element the Tab key reaches is looked at focused, and again once the
    focus has moved on; those without a visible focus indicator are listed in ``unmarked``."""

    def __init__(self, page):
        self.page, self.reached, self.unmarked = page, 0, []

    def tab(self, back: bool = False) -> dict | None:
        self.page.keyboard.press("Shift+Tab" if back else "Tab")
        found = self.page.evaluate(FOCUSED)
        if found and "before" in found:
            self._judge(found["before"])
        self.reached += 1
        return found

    def _judge(self, before: dict) -> None:
        if before["focused"] == before["unfocused"] or not _shows_focus(before["focused"]):
            self.unmarked.append(f"{self.page.url}: <{before['tag']}> {before['name']}: focused {before['focused']}, "
                                 f"not {before['unfocused']}")

    def tab_to(self, name: str, limit: int = 80) -> dict:
        """Tab forward to the element named ``name`` (its label, aria-label or text)."""
        for _ in range(limit):
            found = self.tab()
            if found and found["name"] == name:
                return found
        raise AssertionError(f"{self.page.url}: Tab never reached “{name}”")

    def tab_to_kind(self, kind: str, limit: int = 80) -> dict:
        """Tab forward to the first input of type ``kind`` (a radio group is one stop: its checked radio)."""
        for _ in range(limit):
            found = self.tab()
            if found and found["type"] == kind:
                return found
        raise AssertionError(f"{self.page.url}: Tab never reached a {kind}")

    def type(self, text: str, replace: bool = False) -> None:
        if replace:
            self.page.keyboard.press("Control+A")
            self.page.keyboard.press("Backspace")
        self.page.keyboard.type(text)

    def choose(self, option: str) -> None:
        """In the focused (closed) select, the arrow keys move to ``option``."""
        index, options = self.page.evaluate(SELECTED)
        target = options.index(option)
        for _ in range(abs(target - index)):
            self.page.keyboard.press("ArrowDown" if target > index else "ArrowUp")
        assert self.page.evaluate(SELECTED)[0] == target

    def date(self, day, order: str) -> None:
        """Type a date into the focused date field, its parts in the order the browser shows them."""
        parts = {"Y": f"{day.year:04d}", "M": f"{day.month:02d}", "D": f"{day.day:02d}"}
        self.page.keyboard.type("".join(parts[p] for p in order))

    def press(self, key: str) -> None:
        """Press ``key`` (Enter or Space) on the focused button, and wait for the page it leads to. Shift+Tab
        after a Tab first: the button is seen unfocused, and focused again."""
        self.tab()
        self.tab(back=True)
        with self.page.expect_navigation():
            self.page.keyboard.press(key)


def _date_order(context) -> str:
    """The order in which this Chromium's date fields take their parts (its own language's: not the page's
    locale): found by typing a date into a scratch field."""
    scratch = context.new_page()
    scratch.set_content("<input id=before><input type=date id=day>")
    scratch.focus("#before")
    found = None
    for order in ("YMD", "MDY", "DMY"):
        scratch.focus("#before")
        scratch.keyboard.press("Tab")
        parts = {"Y": "2027", "M": "12", "D": "31"}
        scratch.keyboard.type("".join(parts[p] for p in order))
        if scratch.eval_on_selector("#day", "el => el.value") == "2027-12-31":
            found = order
            break
        scratch.set_content("<input id=before><input type=date id=day>")
    scratch.close()
    assert found, "this Chromium's date field takes none of the usual orders"
    return found


def _open(actors):
    page = actors.open()
    page.emulate_media(reduced_motion="reduce")  # no transitions: the focused look is read at once, as it ends
    return page, Keyboard(page)


def _sign_in(page, keys: Keyboard, site, login: str) -> None:
    page.goto(site.url + "/login")
    keys.tab_to("手机号或邮箱")
    keys.type(login)
    keys.tab_to("密码")
    keys.type(DEMO_PASSWORD)
    keys.tab_to("登录")
    keys.press("Enter")
    shown_in_view(page, page.locator(".alert-success[role=alert]", has_text="欢迎回来"))


def test_a_learner_signs_in_and_changes_the_profile_by_keyboard_alone(app, actors):
    shot = Shots("keyboard/learner")
    with LiveServer(app) as site:
        page, keys = _open(actors)
        _sign_in(page, keys, site, "learner@jidi.demo")
        shot(page, "signed-in", full_page=False)

        page.goto(site.url + "/account/profile")
        keys.tab_to("职称")
        index, options = page.evaluate(SELECTED)
        title = options[index + 1 if index + 1 < len(options) else index - 1]
        keys.choose(title)
        keys.tab_to("保存")
        keys.press("Space")
        shown_in_view(page, page.locator(".alert-success[role=alert]", has_text="个人资料已保存"))
        expect(page.get_by_label("职称").locator("option:checked")).to_have_text(title)
        shot(page, "profile-saved", full_page=False)

        # A course completed: its rating, five radios the arrow keys move through.
        page.goto(site.url + "/me/")
        found = keys.tab()
        while found is None or found["name"] not in ("评价课程", "修改评价"):
            assert keys.reached < 300, "Tab never reached a course to rate"
            found = keys.tab()
        keys.press("Enter")
        enrollment_id = int(page.url.split("/enrollments/")[1].split("/")[0])
        radio = keys.tab_to_kind("radio")
        keys.page.keyboard.press("ArrowRight")
        stars = page.evaluate("() => document.activeElement.checked && document.activeElement.value")
        assert stars and stars != radio["value"]
        keys.tab_to("提交评价")
        keys.press("Enter")
        shown_in_view(page, page.locator(".alert-success[role=alert]", has_text="感谢您的评价"))
        shot(page, "rated", full_page=False)

    assert db.session.get(Enrollment, enrollment_id).rating == int(stars)
    assert keys.reached > 20
    assert keys.unmarked == []


def test_a_base_admin_creates_a_course_by_keyboard_alone(app, actors):
    admin = db.session.scalar(sa.select(User).where(User.email == "admin01@jidi.demo"))
    base_id = db.session.scalar(sa.select(BaseMembership.base_id).where(BaseMembership.user_id == admin.id))
    db.session.rollback()
    start = clock.today() + timedelta(days=40)
    shot = Shots("keyboard/base-admin")
    with LiveServer(app) as site:
        page, keys = _open(actors)
        order = _date_order(page.context)
        _sign_in(page, keys, site, "admin01@jidi.demo")

        page.goto(f"{site.url}/manage/bases/{base_id}/courses/new")
        keys.tab_to("课程名称")
        keys.type("键盘操作无障碍培训")
        keys.tab_to("科目类别")
        keys.choose("公需科目")
        keys.tab_to("领域")
        keys.choose("卫生")
        keys.tab_to("学时")
        keys.type("6", replace=True)
        keys.tab_to("开始日期")
        keys.date(start, order)
        keys.tab_to("结束日期")
        keys.date(start + timedelta(days=1), order)
        keys.tab_to("培训方式")
        keys.choose("线上直播")
        keys.tab_to("培训对象")
        keys.type("全市医务人员")
        keys.tab_to("联系人")
        keys.type("张老师")
        keys.tab_to("联系电话")
        keys.type("028-84616666")
        keys.tab_to("保存")
        shot(page, "filled")
        keys.press("Enter")
        shown_in_view(page, page.locator(".alert-success[role=alert]", has_text="课程已保存为草稿"))
        shot(page, "saved", full_page=False)

    saved = db.session.scalar(sa.select(Course).where(Course.title == "键盘操作无障碍培训"))
    assert saved is not None and saved.start_date == start and saved.hours == 6
    assert keys.reached > 30
    assert keys.unmarked == []
