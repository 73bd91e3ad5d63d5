"""Helpers for the browser journeys: the app served in a thread, Debian's Chromium driven by Playwright."""

import os
import threading
from importlib import resources
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
# Chromium's errors for a server that is not there (any longer): not the page's fault (Actors._error).
NO_CONNECTION = ("ERR_SOCKET_NOT_CONNECTED", "ERR_CONNECTION_REFUSED", "ERR_CONNECTION_RESET", "ERR_EMPTY_RESPONSE")


class LiveServer:
    """The Flask app on a free loopback port, served by werkzeug in a background thread."""

    def __init__(self, app):
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._thread.join(timeout=5)


class Shots:
    """Numbered screenshots of one journey, kept under artifacts/screenshots/<journey>/."""

    def __init__(self, journey: str):
        self.folder = ARTIFACTS / journey
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.taken: list[Path] = []

    def __call__(self, page, step: str, full_page: bool = True) -> Path:
        """The whole page, or (``full_page=False``) the window alone: what the eye sees after an action."""
        path = self.folder / f"{len(self.taken) + 1:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=full_page)
        self.taken.append(path)
        return path


class Actors:
    """One browser context per person, desktop (1280 px) or phone (390 px); every page's console error or
    uncaught exception is collected, and the ``actors`` fixture (conftest) fails the test on any."""

    def __init__(self, browser):
        self.browser, self.contexts, self.errors = browser, [], []

    def open(self, phone: bool = False):
        viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
        context = self.browser.new_context(locale="zh-CN", viewport=viewport, is_mobile=phone)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("console", lambda m: self.errors.append(f"{page.url}: {m.text}") if self._error(page, m) else None)
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        return page

    @staticmethod
    def _error(page, message) -> bool:
        """A console error, except two that say nothing of the page:
        - its own 400: a form sent back with its errors beside the fields answers 400 (a status, not a
          failure), and Chromium logs it as a resource that failed to load. Any other status, or a 400 of
          anything the page loads (a script, an image), still counts;
        - a connection to the test's server that failed (net::ERR_SOCKET_NOT_CONNECTED …): the server runs in
          the test's own process while the test runs, so this is a late request (the favicon, a deferred
          script) of a page left open when the test stopped its server (seen once in a CI run)."""
        if message.type != "error":
            return False
        sent_back = message.text.startswith("Failed to load resource: the server responded with a status of 400")
        server_gone = message.text.startswith("Failed to load resource: net::ERR_") and any(
            reason in message.text for reason in NO_CONNECTION)
        return not (sent_back and message.location.get("url") == page.url) and not server_gone

    def close(self):
        for context in self.contexts:
            context.close()


def fits(page):
    """The page does not scroll sideways (a phone's width)."""
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px on a phone"


def in_view(page, locator) -> bool:
    """The element is wholly inside the window, now."""
    box = locator.bounding_box()
    height = page.evaluate("() => window.innerHeight")
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


WITHIN_WINDOW = """(el) => { const box = el.getBoundingClientRect();
    return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight; }"""


def shown_in_view(page, locator, timeout: float = 2_000) -> None:
    """The message ``locator`` (an .alert, a field's .invalid-feedback) is visible and wholly inside the window
    (getBoundingClientRect within window.innerHeight) right after the action: within ``timeout`` ms, the time
    a smooth scroll (Bootstrap's scroll-behavior) takes to arrive."""
    expect(locator).to_be_visible()
    try:
        page.wait_for_function(WITHIN_WINDOW, arg=locator.element_handle(), timeout=timeout)
    except PlaywrightError:
        box = locator.evaluate("(el) => { const b = el.getBoundingClientRect(); return [b.top, b.bottom]; }")
        height = page.evaluate("() => window.innerHeight")
        raise AssertionError(f"{page.url}: “{locator.inner_text()[:40]}” is at {box[0]:.0f}–{box[1]:.0f}px, "
                             f"outside the window of {height}px") from None


def sign_in(page, site, login: str, password: str):
    """Sign in from the sign-in page and see the welcome."""
    page.goto(site.url + "/login")
    page.get_by_label("手机号或邮箱").fill(login)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".alert-success").first).to_contain_text("欢迎回来")


# axe-core as shipped in the axe-playwright-python package (a test dependency): run in the page by page.evaluate,
# so nothing comes from a CDN and the page's own CSP (script-src 'self') stays in force.
AXE = (resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now (colour contrast AA among them)."""
    result = page.evaluate(AXE + "\n;axe.run(document, {resultTypes: ['violations']})")
    return [f"axe {v['id']} ({v['impact']}): {[node['target'][0] for node in v['nodes']][:4]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]
