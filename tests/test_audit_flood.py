"""The audit log cannot be flooded at will (issue 13, finding 4): an event a signed-in user can repeat (a
refused page, an ID number shown again, an export, their data downloaded) is an entry the first time in a
window and a count on it after, correct when workers race, shown to the regulator in a fixed number of
queries. A sign-in is not such an event: each is an entry, bounded by a per-account limit instead."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, AuditRepeat, Employer, Role
from models._common import utcnow
from services import audit
from tests.conftest import login, page_queries


def entries(action: str) -> list[AuditLog]:
    db.session.commit()  # a fresh read: what the requests and the other threads wrote
    db.session.expire_all()
    return db.session.scalars(sa.select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).all()


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


# --- refusals -------------------------------------------------------------------------------------------------

def test_a_hundred_refusals_of_one_page_are_one_entry_and_a_count(app, make_user, admin_and_base):
    base = admin_and_base[1]
    client = signed_in(app, make_user(Role.LEARNER))
    answers = {client.get(f"/manage/bases/{base.id}").status_code for _ in range(100)}
    assert answers == {403}
    entry, = entries("auth.denied")
    assert entry.details["path"] == f"/manage/bases/{base.id}"
    assert entry.repeat.repeats == 99
    assert entry.at <= entry.repeat.last_at <= utcnow()


def test_ids_varied_in_the_path_do_not_make_new_entries_but_other_pages_do(app, make_user, city):
    learner = make_user(Role.LEARNER)
    client = signed_in(app, learner)
    for base_id in range(1, 51):
        assert client.get(f"/manage/bases/{base_id}").status_code == 403
    assert client.get("/regulator/").status_code == 403
    assert client.post("/manage/bases/1/courses/new").status_code == 403
    denied = entries("auth.denied")
    assert [e.details["path"] for e in denied] == ["/manage/bases/1", "/regulator/", "/manage/bases/1/courses/new"]
    assert [e.repeat.repeats for e in denied] == [49, 0, 0]
    # Another user refused the same page has an entry of their own.
    signed_in(app, make_user(Role.REVIEWER)).get("/manage/bases/1")
    assert len(entries("auth.denied")) == 4


def test_a_new_window_starts_a_new_entry(app, make_user, monkeypatch):
    client = signed_in(app, make_user(Role.LEARNER))
    client.get("/regulator/")
    client.get("/regulator/")
    later = utcnow() + timedelta(seconds=app.config["AUDIT_REPEAT_WINDOW_SECONDS"])
    monkeypatch.setattr(audit, "utcnow", lambda: later)
    client.get("/regulator/")
    assert [e.repeat.repeats for e in entries("auth.denied")] == [1, 0]


def test_the_window_is_a_setting_and_zero_writes_every_event(app, make_user):
    assert app.config["AUDIT_REPEAT_WINDOW_SECONDS"] == 3600  # the default
    app.config["AUDIT_REPEAT_WINDOW_SECONDS"] = 0
    client = signed_in(app, make_user(Role.LEARNER))
    for _ in range(3):
        client.get("/regulator/")
    assert len(entries("auth.denied")) == 3


def test_windows_are_the_same_for_every_worker():
    at = utcnow()
    start = audit.window_of(at, 3600)
    assert start <= at < start + timedelta(hours=1)
    assert start.minute == start.second == start.microsecond == 0
    assert audit.window_of(start + timedelta(minutes=59, seconds=59), 3600) == start


# --- the same class elsewhere: ID numbers, exports, data downloads, sign-ins -------------------------------------

def test_revealing_the_same_number_again_is_a_count_another_learner_an_entry(app, make_user):
    from services import personal_data

    admin = make_user(Role.BASE_ADMIN)
    first, second = (make_user(Role.LEARNER, id_number_ciphertext=b"x") for _ in range(2))
    monkeypatched = personal_data.resident_ids.decrypt
    personal_data.resident_ids.decrypt = lambda _ciphertext: "510104199003070011"
    try:
        for _ in range(5):
            personal_data.reveal_id_number(admin, first, context="roster of course 1")
        personal_data.reveal_id_number(admin, second, context="roster of course 1")
        personal_data.reveal_id_number(admin, first, context="roster of course 2")
    finally:
        personal_data.resident_ids.decrypt = monkeypatched
    reveals = entries("identity.reveal")
    assert [(e.object_id, e.details["context"], e.repeat.repeats) for e in reveals] == [
        (first.id, "roster of course 1", 4), (second.id, "roster of course 1", 0), (first.id, "roster of course 2", 0)]


def test_downloading_ones_own_data_again_is_a_count(app, make_user):
    client = signed_in(app, make_user(Role.LEARNER))
    for _ in range(4):
        assert client.get("/me/data.json").status_code == 200
    entry, = entries("learner.export_own_data")
    assert entry.repeat.repeats == 3


def test_the_same_export_again_is_a_count_another_year_an_entry(app, make_user):
    client = signed_in(app, make_user(Role.REGULATOR))
    for year in (2030, 2030, 2030, 2031):
        assert client.get(f"/regulator/exports/catalog.xlsx?year={year}").status_code == 200
    assert [(e.details["year"], e.repeat.repeats) for e in entries("export.catalog")] == [(2030, 2), (2031, 0)]


def test_every_sign_in_is_its_own_entry_in_order_with_a_password_change(app, make_user):
    """A second read of issue 13: folded into an hourly count, a stranger's sign-in within the owner's hour was
    a counter bump, and whether it came before or after the password change was lost."""
    from tests.conftest import PASSWORD

    user = make_user(Role.LEARNER)
    owner = signed_in(app, user)
    signed_in(app, user)  # someone else, with the same password
    assert owner.post("/account/password", data={"current_password": PASSWORD, "new_password": "a new secret 1",
                                                 "confirm": "a new secret 1"}).status_code == 302
    assert app.test_client().post("/login", data={"login": user.email, "password": "a new secret 1"}).status_code == 302

    db.session.commit()
    ordered = db.session.scalars(sa.select(AuditLog.action).where(AuditLog.action.startswith("auth."))
                                 .order_by(AuditLog.id)).all()
    assert ordered == ["auth.sign_in", "auth.sign_in", "auth.password_changed", "auth.sign_in"]
    assert not db.session.scalar(sa.select(sa.func.count()).select_from(AuditRepeat)
                                 .where(AuditRepeat.action == "auth.sign_in"))


def test_successful_sign_ins_are_limited_per_account_whichever_login_is_typed(app, make_user):
    """What bounds the entries instead: LOGIN_SUCCESS_LIMIT_PER_ACCOUNT, counted against the account."""
    from tests.conftest import PASSWORD

    app.config["LOGIN_SUCCESS_LIMIT_PER_ACCOUNT"] = "3 per hour"
    user = make_user(Role.LEARNER, phone="13700000003")
    other = make_user(Role.LEARNER)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "13700000003")
    answers = [app.test_client().post("/login", data={"login": login, "password": PASSWORD}).status_code
               for login in (user.email, "13700000003", user.email.upper(), full_width, user.email)]

    assert answers == [302, 302, 302, 429, 429]
    refused = app.test_client().post("/login", data={"login": user.email, "password": PASSWORD})
    assert refused.status_code == 429 and "尝试次数过多" in refused.get_data(as_text=True)
    assert len(entries("auth.sign_in")) == 3
    assert app.test_client().post("/login", data={"login": other.email, "password": PASSWORD}).status_code == 302


# --- the regulator's page ---------------------------------------------------------------------------------------

def test_the_regulator_sees_the_count_and_the_last_time(app, make_user):
    client = signed_in(app, make_user(Role.LEARNER, name="试探者"))
    for _ in range(12):
        client.get("/regulator/")
    page = signed_in(app, make_user(Role.REGULATOR)).get("/regulator/audit?action=auth.").text
    assert page.count("auth.denied") == 1
    assert "此后重复 11 次，最近一次 " in page


def test_the_audit_page_issues_the_same_queries_for_few_and_many_counted_entries(app, make_user):
    reader = signed_in(app, make_user(Role.REGULATOR))
    first, *others = [signed_in(app, make_user(Role.LEARNER)) for _ in range(31)]  # page_queries empties the session
    first.get("/regulator/")
    few = len(page_queries(reader, "/regulator/audit"))
    for client in others:
        client.get("/regulator/")
        client.get("/regulator/")
    many = page_queries(reader, "/regulator/audit")
    assert sum(1 for e in entries("auth.denied") if e.repeat and e.repeat.repeats) == 30
    assert few == len(many), "\n".join(many)


# --- racing workers ---------------------------------------------------------------------------------------------

def race(app, actor_id: int, threads: int, each: int) -> None:
    """``threads`` workers, each with its own connection, record the same refusal ``each`` times at once."""
    from models import User

    start = threading.Barrier(threads)
    failures = []

    def work():
        try:
            with app.app_context():
                actor = db.session.get(User, actor_id)
                start.wait()
                for _ in range(each):
                    audit.record_repeatable(actor, "auth.denied", actor, subject="GET /race",
                                            details={"path": "/race"})
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []


def check_race(app, make_user) -> None:
    actor = make_user(Role.LEARNER)
    race(app, actor.id, threads=8, each=25)
    entry, = entries("auth.denied")
    assert entry.repeat.repeats == 8 * 25 - 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRepeat)) == 1


def check_lost_race(app, make_user, monkeypatch) -> None:
    """Another worker's first entry lands between our look for a counter and our insert: ours is rolled back
    (never committed, so the append-only log is not touched) and counted on theirs."""
    actor = make_user(Role.LEARNER)
    audit.record_repeatable(actor, "auth.denied", actor, subject="GET /race", details={"path": "/race"})
    real = audit._count_repeat
    calls = []

    def first_misses(key, now):
        calls.append(key)
        return False if len(calls) == 1 else real(key, now)

    monkeypatch.setattr(audit, "_count_repeat", first_misses)
    assert audit.record_repeatable(actor, "auth.denied", actor, subject="GET /race", details={"path": "/race"}) is None
    assert len(calls) == 2
    entry, = entries("auth.denied")
    assert entry.repeat.repeats == 1


def test_racing_workers_write_one_entry_on_sqlite(app, make_user):
    check_race(app, make_user)


def test_a_lost_race_counts_on_the_winners_entry_on_sqlite(app, make_user, monkeypatch):
    check_lost_race(app, make_user, monkeypatch)


@pytest.fixture
def pg_user(pg_app):
    from models import Region, RegionLevel, User

    def make(role=Role.LEARNER):
        region = db.session.scalar(sa.select(Region).limit(1))
        if region is None:
            region = Region(code="990001", name="测试省", level=RegionLevel.PROVINCE)
            db.session.add(region)
            db.session.flush()
        n = db.session.scalar(sa.select(sa.func.count()).select_from(User)) + 1
        user = User(name=f"用户{n}", email=f"race{n}@test.example", role=role, region_id=region.id)
        user.set_password("correct horse battery")
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.mark.postgres
def test_racing_workers_write_one_entry_on_postgresql(pg_app, pg_user):
    check_race(pg_app, pg_user)


@pytest.mark.postgres
def test_a_lost_race_counts_on_the_winners_entry_on_postgresql(pg_app, pg_user, monkeypatch):
    check_lost_race(pg_app, pg_user, monkeypatch)


# --- a form sent again unchanged is no event ---------------------------------------------------------------------

def test_saving_a_course_or_a_disclosure_unchanged_writes_no_entry(admin_and_base, make_course):
    from services import bases, courses

    admin, base = admin_and_base
    course = make_course(base, title="原来的课程名")
    for _ in range(3):
        courses.update_course(admin, course, {"title": "改过的课程名"})
        bases.update_disclosure(admin, base, {"scope": "护理、公共卫生"})
    course_updates, disclosures = entries("course.update"), entries("base.disclosure")
    assert [e.details["title"] for e in course_updates] == [["原来的课程名", "改过的课程名"]]
    assert [e.details["scope"][1] for e in disclosures] == ["护理、公共卫生"]


def test_saving_a_declaration_unchanged_writes_no_entry(app, make_user):
    from services import declarations
    from services.infra import clock
    from tests.test_declarations import pdf_bytes, upload

    learner = make_user(Role.LEARNER)
    employer = Employer(name="成都市第一人民医院", region_id=learner.region_id)
    db.session.add(employer)
    db.session.flush()
    learner.employer_id = employer.id
    db.session.commit()
    today = clock.today()
    data = {"kind": "conference", "category": None, "title": "学术会议", "organiser": "成都市医学会",
            "earned_on": today, "minutes": None, "days": 1, "hours": None}
    declaration = declarations.declare(learner, data, [upload(pdf_bytes(), "证明.pdf")])
    for title in ("学术会议（修订）", "学术会议（修订）", "学术会议（修订）"):
        declarations.edit(learner, declaration.id, {**data, "title": title, "earned_on": today})
    assert len(entries("declaration.edit")) == 1


def test_the_audit_page_names_exactly_the_events_that_are_counted(app, make_user):
    """The note beside the log says which events are one entry and a count: those record_repeatable is called
    for in the code, each with its words in the note, and sign-ins no longer among them."""
    import re
    from pathlib import Path

    words = {"auth.denied": "被拒绝访问", "identity.reveal": "查看身份证号", "export.": "导出报表或名单",
             "course.export_roster": "导出报表或名单", "learner.export_own_data": "学员下载本人数据"}
    root = Path(__file__).resolve().parent.parent
    called = set()
    for path in [*root.glob("services/*.py"), *root.glob("blueprints/**/*.py")]:
        for call in re.findall(r"record_repeatable\(\s*\w+,\s*(f?\"[^\"]+\"|action)", path.read_text()):
            action = call.strip('f"')
            called.add("export." if call == "action" or action.startswith("export.") else action)
    assert called == set(words), called
    note = signed_in(app, make_user(Role.REGULATOR)).get("/regulator/audit").text
    counted = re.search(r"重复的同一操作（(.*?)）", note).group(1)
    assert set(counted.split("、")) == set(words.values())


@pytest.mark.parametrize("on_postgresql", [False, pytest.param(True, marks=pytest.mark.postgres)])
def test_the_counter_names_its_actor_as_the_entry_does_set_null_on_delete(request, on_postgresql):
    """audit_repeat.actor_id, as migrated, is SET NULL on delete like audit_log.actor_id and every other
    foreign key naming who acted (it had none). Deleting an account that acted is refused anyway while the
    log is append-only; should that change, the counter must not be what holds it."""
    request.getfixturevalue("pg_app" if on_postgresql else "app")
    inspector = sa.inspect(db.engine)

    def on_delete(table: str) -> str | None:
        (fk,) = [fk for fk in inspector.get_foreign_keys(table) if fk["constrained_columns"] == ["actor_id"]]
        return (fk.get("options") or {}).get("ondelete")

    assert on_delete("audit_repeat") == on_delete("audit_log") == "SET NULL"
    assert next(c for c in inspector.get_columns("audit_repeat") if c["name"] == "actor_id")["nullable"]
