"""Issue 19, "Done when": every page of every role, on a 390 px phone and a 1280 px desktop, in headless Chromium
on the demo's data (a year of history behind it). Each page answers 200 and is checked for

- no sideways scrolling (the document is no wider than the window, at both sizes), nor any table scrolling
  sideways inside its box (its last columns, often the buttons, would be off the screen), nor a cell squeezed to
  a few characters a line, nor a button's words broken over lines;
- zero serious or critical axe-core violations (colour contrast AA, names of controls and links, labels …);
- headings in order: one h1, and no level skipped on the way down;

and its screenshot is kept under artifacts/screenshots/every-page/<390|1280>/<who>/<endpoint>.png.

"Every page" is held to the application's URL map: a GET route is either walked here or listed in NOT_PAGES with
the reason it is not a page (a download, the API, a redirect …), so a page added later fails
test_every_get_route_is_walked_or_said_not_to_be_a_page until someone walks it. axe-core is the copy shipped in
the axe-playwright-python package, run by page.evaluate (nothing from a CDN; the page's CSP stays in force).
Also here: a keyboard's first Tab reaches the skip link, which moves focus to the content."""

from datetime import date

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from extensions import db
from models import (
    BaseApplication,
    BaseMembership,
    Certificate,
    ClassPlan,
    Course,
    Declaration,
    DeclarationStatus,
    Employer,
    Enrollment,
    EnrollmentStatus,
    Evaluation,
    EvaluationStatus,
    Region,
    SectorAuthority,
    TrainingBase,
    User,
)
from seeding.demo import DEMO_PASSWORD
from services import account_codes, base_applications, long_work
from services.infra.queue import run_queued
from tests.browser import ARTIFACTS, LiveServer, serious_violations, sign_in

pytestmark = pytest.mark.browser

# GET routes that are not pages a person reads: files, data, the API, and routes that only redirect.
NOT_PAGES = {
    "static": "files", "vendor.static": "files", "favicon": "a file", "healthz": "a probe's plain text",
    "catalog.media": "images", "files.evidence_file": "evidence files", "applications.file": "an application's file",
    "regulator.application_file": "an application's file", "regulator.job_file": "a job's result file",
    "learner.certificate_pdf": "a PDF", "learner.registration_form": "a PDF or DOCX", "learner.own_data": "JSON",
    "learner.calendar_entry": "an iCalendar file",
    "base_admin.roster_export": "XLSX", "base_admin.roster_template": "XLSX", "reviewer.staff_export": "XLSX",
    "regulator.audit_export": "XLSX", "regulator.evaluation_export": "XLSX", "regulator.export_catalog": "XLSX",
    "regulator.export_knowledge": "XLSX", "regulator.export_strategic": "XLSX", "platform.calendar_template": "CSV",
}
NOT_PAGE_PREFIXES = ("api.",)  # JSON problem documents and resources, tested in tests/test_api*.py


def _one(statement):
    value = db.session.scalar(statement)
    assert value is not None, f"the demo has nothing for {statement}"
    return value


def _user(email: str) -> User:
    return _one(sa.select(User).where(User.email == email))


def _walk() -> dict[str, list[tuple[str, str]]]:
    """Who signs in (None: a visitor) → [(endpoint, path)], every page found in the demo's data."""
    learner = _user("learner@jidi.demo")
    admin = _user("admin01@jidi.demo")
    base_id = _one(sa.select(BaseMembership.base_id).where(BaseMembership.user_id == admin.id))
    course_id = _one(
        sa.select(Course.id).join(Enrollment, Enrollment.course_id == Course.id).where(Course.base_id == base_id)
        .group_by(Course.id).order_by(sa.func.count(Enrollment.id).desc()).limit(1))
    planned = _one(sa.select(ClassPlan.course_id).join(Course, Course.id == ClassPlan.course_id)
                   .where(Course.base_id == base_id).limit(1))
    public_course = _one(sa.select(Enrollment.course_id).where(Enrollment.learner_id == learner.id).limit(1))
    to_rate = _one(sa.select(Enrollment.id).where(Enrollment.learner_id == learner.id,
                                                  Enrollment.status == EnrollmentStatus.COMPLETED).limit(1))
    own_declaration = _one(sa.select(Declaration.id).where(Declaration.learner_id == learner.id)
                           .order_by(Declaration.id.desc()).limit(1))
    reviewer = _user("reviewer.cd1@jidi.demo")
    pending = _one(sa.select(Declaration.id).where(Declaration.employer_id == reviewer.employer_id,
                                                   Declaration.status == DeclarationStatus.PENDING).limit(1))
    sector_officer = _user("sector.zz@jidi.demo")
    at_sector = _one(sa.select(Declaration.id).where(
        Declaration.status == DeclarationStatus.SECTOR_PENDING,
        Declaration.sector_authority_id == sector_officer.sector_authority_id).limit(1))
    certificate = _one(sa.select(Certificate.code).limit(1))
    shandong = _one(sa.select(Region.id).where(Region.name == "山东省"))
    evaluation = _one(sa.select(Evaluation.id).where(Evaluation.region_id == shandong,
                                                     Evaluation.status == EvaluationStatus.CONFIRMED).limit(1))
    chengdu = _one(sa.select(Region.id).where(Region.name == "成都市"))
    chengdu_base = _one(sa.select(TrainingBase.id).where(TrainingBase.region_id == chengdu).limit(1))
    application = _one(sa.select(BaseApplication.id).where(BaseApplication.region_id == chengdu).limit(1))
    employer = _one(sa.select(Employer.id).where(Employer.region_id == chengdu).limit(1))
    authority = _one(sa.select(SectorAuthority.id).where(SectorAuthority.region_id == chengdu).limit(1))
    year = date.today().year
    manage = f"/manage/bases/{base_id}"
    return {
        None: [
            ("catalog.index", "/"), ("catalog.courses", "/courses"), ("catalog.courses", "/courses?q=AI"),
            ("catalog.course_detail", f"/courses/{public_course}"), ("catalog.bases", "/bases"),
            ("catalog.base_detail", f"/bases/{base_id}"), ("catalog.published_list", "/list"),
            ("catalog.published_list", f"/list/{year - 1}"), ("catalog.verify", "/verify"),
            ("catalog.verify", f"/verify/{certificate}"), ("auth.login", "/login"), ("auth.register", "/register"),
            ("auth.register_employer", "/register/employer"), ("auth.privacy", "/privacy"),
            ("auth.forgot", "/forgot"), ("auth.claim", "/claim"), ("applications.apply", "/apply/"),
            ("applications.follow", "/apply/{application_token}"), ("auth.reset_by_link", "/reset/{reset_token}"),
        ],
        "learner@jidi.demo": [
            ("learner.dashboard", "/me/"), ("learner.declarations", "/me/declarations"),
            ("learner.declaration_new", "/me/declarations/new"),
            ("learner.declaration_edit", f"/me/declarations/{own_declaration}/edit"),
            ("learner.certificates", "/me/certificates"), ("learner.employer", "/me/employer"),
            ("learner.rate", f"/me/enrollments/{to_rate}/rate"),
            ("learner.registration_form_page", "/me/registration-form"), ("inbox.index", "/inbox/"),
            ("auth.profile", "/account/profile"), ("auth.notifications", "/account/notifications"),
            ("auth.contact", "/account/contact"), ("auth.confirm_contact", "/account/contact/confirm"),
            ("auth.change_password", "/account/password"), ("auth.close_account", "/account/close"),
        ],
        "15400000004": [("auth.reset_by_code", "/forgot/code")],  # a walk-in trainee claiming the account
        "admin01@jidi.demo": [
            ("base_admin.index", "/manage/"), ("base_admin.base_home", manage),
            ("base_admin.course_new", f"{manage}/courses/new"),
            ("base_admin.course_edit", f"{manage}/courses/{course_id}/edit"),
            ("base_admin.class_plan", f"{manage}/courses/{planned}/plan"),
            ("base_admin.roster", f"{manage}/courses/{course_id}/roster"),
            ("base_admin.attendance", f"{manage}/courses/{course_id}/roster/attendance"),
            ("base_admin.roster_import", f"{manage}/courses/{course_id}/roster/import"),
            ("base_admin.walk_ins", f"{manage}/walk-ins"), ("base_admin.api_tokens", f"{manage}/api-tokens"),
            ("base_admin.compliance", f"{manage}/compliance"), ("base_admin.disclosure", f"{manage}/disclosure"),
            ("base_admin.statistics", f"{manage}/statistics"),
        ],
        "reviewer.cd1@jidi.demo": [("reviewer.index", "/review/"), ("reviewer.review", f"/review/{pending}"),
                                   ("reviewer.staff", "/review/staff")],
        "employer.cd1@jidi.demo": [("employer.index", "/employer/"), ("employer.reviewers", "/employer/reviewers"),
                                   ("employer.claims", "/employer/claims"), ("employer.staff", "/employer/staff"),
                                   ("employer.tokens", "/employer/tokens")],
        "employer.rejected@jidi.demo": [("employer.registration", "/employer/registration")],
        "sector.zz@jidi.demo": [("sector.index", "/sector/"), ("sector.review", f"/sector/{at_sector}")],
        "sector.cd@jidi.demo": [("sector.guides", "/sector/guides"), ("sector.guide", f"/sector/guides/{year}")],
        "regulator.chengdu@jidi.demo": [
            ("regulator.index", "/regulator/"), ("regulator.targets", "/regulator/targets"),
            ("regulator.rules", "/regulator/rules"), ("regulator.reviews", "/regulator/reviews"),
            ("regulator.sectors", "/regulator/sectors"),
            ("regulator.sector_authority", f"/regulator/sectors/{authority}"),
            ("regulator.audit_log", "/regulator/audit"), ("regulator.applications", "/regulator/applications"),
            ("regulator.application", f"/regulator/applications/{application}"),
            ("regulator.employers_list", "/regulator/employers"),
            ("regulator.employer", f"/regulator/employers/{employer}"),
            ("regulator.base", f"/regulator/bases/{chengdu_base}"), ("regulator.designate", "/regulator/bases/new"),
        ],
        "regulator.shandong@jidi.demo": [("regulator.evaluation_page", f"/regulator/evaluations/{evaluation}"),
                                         ("regulator.job", "/regulator/jobs/{job}")],
        "admin@jidi.demo": [("platform.index", "/platform/"), ("platform.jobs", "/platform/jobs")],
    }


def _prepare(learner_email: str) -> dict[str, str | int]:
    """What some pages' addresses hold: a secret the person was sent (a base application's follow-up token, a
    password-reset link), made here as the services make them (only their hashes are stored); and the job that
    made an official table the Shandong regulator asked for."""
    application = _one(sa.select(BaseApplication).limit(1))
    token = "walk-every-page-application-token"
    application.access_hash = base_applications.hash_token(token)
    learner = _user(learner_email)
    reset = "walk-every-page-reset-link-secret"
    account_codes._issue_link(learner, account_codes.CodePurpose.RESET, learner.email, reset)  # noqa: SLF001
    db.session.commit()
    job = long_work.export(_user("regulator.shandong@jidi.demo"), "catalog", date.today().year - 1, None)
    run_queued()
    return {"application_token": token, "reset_token": reset, "job": job.id}


def _sign_in(page, site, who: str) -> None:
    """Sign in, or, for a walk-in trainee's phone, start the claim (the code page needs the session it sets)."""
    if who.isdigit():
        page.goto(site.url + "/claim")
        page.get_by_label("登记时留的手机号").fill(who)
        page.get_by_role("button", name="发送验证码").click()
        return
    sign_in(page, site, who, DEMO_PASSWORD)
    if who == "learner@jidi.demo":  # the confirmation page follows a request for a new address
        page.goto(site.url + "/account/contact")
        page.get_by_label("新手机号或新邮箱").fill("walk-every-page@example.com")
        page.get_by_role("button", name="发送验证码").click()


HEADINGS = """() => {
    const levels = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')]
        .filter(h => h.offsetParent !== null || h.getClientRects().length)
        .map(h => [Number(h.tagName[1]), h.textContent.trim().slice(0, 30)]);
    const problems = [];
    const tops = levels.filter(([level]) => level === 1).length;
    if (tops !== 1) problems.push('h1 ×' + tops);
    let previous = 0;
    for (const [level, text] of levels) {
        if (level > previous + 1) problems.push('h' + level + ' after h' + previous + ': ' + text);
        previous = level;
    }
    return problems;
}"""


def _problems(page) -> list[str]:
    """What is wrong with the page on screen: sideways scrolling, serious axe violations, headings out of order."""
    problems = []
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
            .slice(0, 3).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className)""")
        problems.append(f"scrolls sideways by {overflow}px: {wide}")
    # A table that scrolls inside its box hides its right-hand columns (often the buttons) off the screen.
    scrolling = page.evaluate("""() => [...document.querySelectorAll('.table-responsive')]
        .filter(box => box.scrollWidth > box.clientWidth + 1)
        .map(box => (box.querySelector('table') || box).id || box.className)""")
    if scrolling:
        problems.append(f"tables scroll sideways inside their box: {scrolling}")
    # A cell squeezed to a character or two a line ("王/小/明"): its table should become cards on a phone. Lines are
    # counted from the boxes of the cell's text. A paper form's replica (.official-scroll) keeps the paper's
    # proportions and scrolls instead.
    squeezed = page.evaluate("""() => [...document.querySelectorAll('main td, main th')]
        .filter(cell => !cell.closest('.official-scroll'))
        .filter(cell => {
            const text = cell.textContent.replace(/\\s+/g, '');
            if (text.length < 3) return false;
            const boxes = [], walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
            while (walker.nextNode()) {
                const range = document.createRange();
                range.selectNodeContents(walker.currentNode);
                boxes.push(...[...range.getClientRects()].filter(r => r.width > 0));
            }
            boxes.sort((a, b) => a.top - b.top);
            let lines = 0, bottom = -Infinity;  // boxes overlapping in height share a line (a badge beside text)
            for (const box of boxes) {
                if (box.top >= bottom - 2) lines += 1;
                bottom = box.top >= bottom - 2 ? box.bottom : Math.max(bottom, box.bottom);
            }
            // One character a line, or three lines and more of two: "学时/要求" reads, "成/都/市" does not.
            return lines >= 2 && (text.length / lines < 2 || (lines >= 3 && text.length / lines < 2.5));
        })
        .slice(0, 3)
        .map(cell => (cell.closest('table').id || 'table') + ': ' + cell.textContent.trim().slice(0, 12))""")
    if squeezed:
        problems.append(f"table cells squeezed to a character or two a line: {squeezed}")
    # A button whose few words break over lines ("停/用") is squeezed too.
    broken = page.evaluate("""() => [...document.querySelectorAll('main .btn')]
        .filter(button => { const box = button.getBoundingClientRect(), text = button.textContent.trim();
                            return box.width > 0 && text.length <= 8
                                   && box.height > 2 * parseFloat(getComputedStyle(button).lineHeight); })
        .slice(0, 3).map(button => button.textContent.trim())""")
    if broken:
        problems.append(f"buttons broken over lines: {broken}")
    problems += serious_violations(page)
    problems += [f"headings: {p}" for p in page.evaluate(HEADINGS)]
    return problems


@pytest.fixture
def app(demo_app):
    """The demo's data, its year of history included (conftest.demo_template)."""
    return demo_app


def test_every_get_route_is_walked_or_said_not_to_be_a_page(app):
    walked = {endpoint for pages in _walk().values() for endpoint, _path in pages}
    routes = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    not_pages = {e for e in routes if e in NOT_PAGES or e.startswith(NOT_PAGE_PREFIXES)}

    assert routes - walked - not_pages == set()
    assert walked - routes == set() and set(NOT_PAGES) - routes == set()


@pytest.mark.parametrize("width", [390, 1280])
def test_every_page_of_every_role_fits_reads_in_order_and_has_no_serious_accessibility_violation(app, actors,
                                                                                                 width):
    walk, found = _walk(), {}
    secrets = _prepare("learner@jidi.demo")
    folder = ARTIFACTS / "every-page" / str(width)
    with LiveServer(app) as site:
        for who, pages in walk.items():
            page = actors.open(phone=width == 390)
            # No transition half-way when axe measures colours (Bootstrap turns them off for reduced motion).
            page.emulate_media(reduced_motion="reduce")
            if who:
                _sign_in(page, site, who)
            shots = folder / (who or "visitor").split("@")[0]
            shots.mkdir(parents=True, exist_ok=True)
            for endpoint, path in pages:
                response = page.goto(site.url + path.format(**secrets))
                page.mouse.move(0, 0)  # the pointer left where the sign-in button was hovers over nothing
                if response.status != 200:
                    found[f"{who} {path}"] = [f"answered {response.status}"]
                    continue
                if problems := _problems(page):
                    found[f"{who} {path}"] = problems
                page.screenshot(path=str(shots / f"{endpoint}{'-' + path.split('?')[1] if '?' in path else ''}.png"),
                                full_page=True)
    assert found == {}, "\n".join(f"{where}: {problems}" for where, problems in found.items())


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
