"""Issue 19, item 3: the tables people work in on a phone. At 390 px the learner's declarations, the reviewer's
queue, the base admin's course list, a roster and an evaluation turn each row into a card (.table-stack): no
page scrolls sideways, every cell takes the card's width (a name never wraps a character a line), and every
button and link in them is inside the screen. The same pages at 1280 px keep their table. Screenshots of both
sizes are kept under artifacts/screenshots/phone-tables/."""

import pytest
import sqlalchemy as sa

from extensions import db
from models import BaseMembership, Course, Enrollment, Evaluation, EvaluationStatus, Region, User
from seeding.demo import DEMO_PASSWORD
from tests.browser import LiveServer, Shots, fits, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def app(demo_app):
    """The demo's data, its year of history included (conftest.demo_template)."""
    return demo_app


def _pages() -> list[tuple[str, str, str]]:
    """(who signs in, the page, the table's id) for each table, found in the demo's data."""
    admin = db.session.scalar(sa.select(User).where(User.email == "admin01@jidi.demo"))
    base_id = db.session.scalar(sa.select(BaseMembership.base_id).where(BaseMembership.user_id == admin.id))
    # The course of this base with the most learners on its roster.
    course_id = db.session.scalar(
        sa.select(Course.id).join(Enrollment, Enrollment.course_id == Course.id).where(Course.base_id == base_id)
        .group_by(Course.id).order_by(sa.func.count(Enrollment.id).desc()).limit(1))
    shandong = db.session.scalar(sa.select(Region.id).where(Region.name == "山东省"))
    evaluation_id = db.session.scalar(
        sa.select(Evaluation.id)
        .where(Evaluation.region_id == shandong, Evaluation.status == EvaluationStatus.CONFIRMED)
        .order_by(Evaluation.year.desc()).limit(1))
    return [
        ("learner@jidi.demo", "/me/declarations", "declarations"),
        ("reviewer.cd1@jidi.demo", "/review/", "review-queue"),
        ("admin01@jidi.demo", f"/manage/bases/{base_id}", "course-list"),
        ("admin01@jidi.demo", f"/manage/bases/{base_id}/courses/{course_id}/roster", "roster-seated"),
        ("regulator.shandong@jidi.demo", f"/regulator/evaluations/{evaluation_id}", "evaluation-results"),
    ]


def _cells_fill_the_card(page, table_id: str) -> None:
    report = page.evaluate("""(id) => {
        const table = document.getElementById(id);
        const width = window.innerWidth, narrow = [], outside = [];
        for (const cell of table.querySelectorAll('tbody td')) {
            const box = cell.getBoundingClientRect();
            if (cell.textContent.trim() && box.width < width * 0.6) narrow.push(cell.textContent.trim().slice(0, 20));
        }
        for (const control of table.querySelectorAll('a, button, input')) {
            const box = control.getBoundingClientRect();
            if (box.width && (box.right > width + 0.5 || box.left < -0.5)) outside.push(control.textContent.trim());
        }
        return {rows: table.querySelectorAll('tbody tr').length, narrow, outside};
    }""", table_id)
    assert report["rows"] > 0, f"{table_id}: no rows to look at"
    assert report["narrow"] == [], f"{table_id}: cells squeezed on a phone: {report['narrow'][:5]}"
    assert report["outside"] == [], f"{table_id}: controls off the screen: {report['outside'][:5]}"


def test_work_tables_become_cards_on_a_phone_and_stay_tables_on_a_desktop(app, actors):
    pages = _pages()
    shot = Shots("phone-tables")
    with LiveServer(app) as site:
        for who in dict.fromkeys(who for who, _path, _table in pages):
            phone, desktop = actors.open(phone=True), actors.open()
            sign_in(phone, site, who, DEMO_PASSWORD)
            sign_in(desktop, site, who, DEMO_PASSWORD)
            for _who, path, table in (p for p in pages if p[0] == who):
                phone.goto(site.url + path)
                fits(phone)
                _cells_fill_the_card(phone, table)
                shot(phone, f"{table}-390")
                desktop.goto(site.url + path)
                header = desktop.locator(f"#{table} thead")
                assert header.is_visible(), f"{table}: the desktop keeps the table's header"
                shot(desktop, f"{table}-1280")
