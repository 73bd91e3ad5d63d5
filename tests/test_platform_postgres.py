"""The holiday calendar's preview → confirm on PostgreSQL, and two confirms racing there (two threads, two
connections): exactly one applies, the other is told the calendar changed since its preview."""

# ruff: noqa: F811 (tests take the imported fixtures as arguments of the same names)

import threading
from datetime import date

import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, CalendarDay
from services import workdays

# The world of test_declarations and the calendar helpers of test_platform, by name.
from tests.test_declarations import app_config, flashed, on, regions, signed_in, world  # noqa: F401
from tests.test_platform import (  # noqa: F401
    CSV_2027,
    TODAY,
    admin,
    confirm_fields,
    count,
    days_of,
    due,
    open_deadlines,
    preview,
    test_a_confirm_after_the_calendar_changed_since_the_preview_is_refused,
    test_a_confirm_replayed_after_an_undo_is_refused_though_the_days_are_as_previewed,
    test_confirming_applies_the_days_moves_open_deadlines_only_and_audits_everything,
    test_control_characters_in_a_day_name_are_dropped_before_anything_is_stored,
    test_the_preview_counts_deadlines_in_a_fixed_number_of_queries_with_each_regions_review_time,
)

pytestmark = pytest.mark.postgres

NEW_YEAR = "date,kind,name\n2027-01-01,holiday,元旦\n"
SPRING = "date,kind,name\n2027-02-05,holiday,春节\n2027-02-06,workday,春节\n"
IN_2027 = CalendarDay.day >= date(2027, 1, 1)  # the reference data holds 2025 and 2026


@pytest.fixture
def app(pg_app):
    """The factories and the world build on ``app``: here it is the PostgreSQL one."""
    assert db.engine.dialect.name == "postgresql"
    return pg_app


def test_preview_then_confirm_applies_moves_deadlines_and_audits(app, world, admin, open_deadlines):
    test_confirming_applies_the_days_moves_open_deadlines_only_and_audits_everything(app, world, admin,
                                                                                     open_deadlines)


def test_a_confirm_after_the_calendar_changed_is_refused(app, world, admin, on):
    test_a_confirm_after_the_calendar_changed_since_the_preview_is_refused(app, world, admin, on)


def test_a_replayed_confirm_is_refused(app, world, admin, on):
    """The one-time id is looked up in the audit entry's JSON: ->> on PostgreSQL, json_extract on SQLite."""
    test_a_confirm_replayed_after_an_undo_is_refused_though_the_days_are_as_previewed(app, world, admin, on)


def test_a_nul_in_a_day_name_is_dropped_before_postgresql_refuses_it(app, world, admin, on):
    test_control_characters_in_a_day_name_are_dropped_before_anything_is_stored(app, world, admin, on)


def test_the_preview_reads_each_regions_review_time_in_its_one_query(app, world, admin, regions, on, make_user):
    test_the_preview_counts_deadlines_in_a_fixed_number_of_queries_with_each_regions_review_time(
        app, world, admin, regions, on, make_user)


def confirm_at_once(app, monkeypatch, admin, previews: list[str]) -> list[tuple[int, list[str], list[str]]]:
    """Each preview confirmed by a client (a session, a connection) of its own, in a thread; each confirm waits,
    after it has compared the calendar with its preview, until the other has too (or 3 s, when the other is
    held back by a lock). What each got: status, success and refusal messages."""
    clients = [signed_in(app, admin) for _ in previews]
    fields = [confirm_fields(preview(client, text).get_data(as_text=True)) for client, text in zip(clients, previews,
                                                                                                 strict=True)]
    db.session.commit()
    both_checked = threading.Barrier(len(previews))
    compare = workdays.preview_schedule

    def compare_then_wait(raw):
        plan = compare(raw)
        try:
            both_checked.wait(timeout=3)
        except threading.BrokenBarrierError:
            pass  # the other confirm is waiting for the lock this one holds: it goes on alone
        return plan

    monkeypatch.setattr(workdays, "preview_schedule", compare_then_wait)
    got = []

    def confirm(client, data):
        try:
            response = client.post("/platform/calendar/confirm", data=data, follow_redirects=True)
            html = response.get_data(as_text=True)
            got.append((response.status_code, flashed(html, "success"), flashed(html, "danger")))
        except Exception as error:  # noqa: BLE001 - the test reports whatever happened
            got.append((500, [], [repr(error)]))

    threads = [threading.Thread(target=confirm, args=pair) for pair in zip(clients, fields, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    monkeypatch.setattr(workdays, "preview_schedule", compare)
    db.session.commit()  # end the test's own transaction: see what the threads wrote
    db.session.expire_all()
    return got


def one_applied(got) -> None:
    assert [status for status, _ok, _refused in got] == [200, 200], got
    assert sum(1 for _status, ok, _refused in got if ok) == 1, got
    (refusal,) = [refused for _status, ok, refused in got if not ok]
    assert len(refusal) == 1 and "预览之后日历已有变动" in refusal[0], got


def test_the_same_preview_confirmed_twice_at_once_is_applied_once(app, world, admin, open_deadlines,
                                                                   monkeypatch):
    got = confirm_at_once(app, monkeypatch, admin, [CSV_2027, CSV_2027])

    one_applied(got)
    assert days_of(2027) == 8
    assert count(AuditLog, AuditLog.action == "calendar.load") == 1
    assert due(open_deadlines["chengdu"].id) == date(2027, 1, 5)  # moved once, by one working day


def test_two_files_changing_one_day_confirmed_at_once_apply_one(app, world, admin, on, monkeypatch):
    on(TODAY)
    new_year, spring = NEW_YEAR, "date,kind,name\n2027-01-01,holiday,新年\n2027-02-05,holiday,春节\n"

    got = confirm_at_once(app, monkeypatch, admin, [new_year, spring])

    one_applied(got)
    loaded = {row.day: row.name for row in db.session.scalars(sa.select(CalendarDay).where(IN_2027))}
    assert loaded in ({date(2027, 1, 1): "元旦"}, {date(2027, 1, 1): "新年", date(2027, 2, 5): "春节"})  # one file's
    (entry,) = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "calendar.load"))
    assert len(entry.details["added"]) == len(loaded)


def test_two_files_of_other_days_confirmed_at_once_both_apply(app, world, admin, on, monkeypatch):
    """The control: a preview holds while the days it changes are as it saw them (SchedulePlan.fingerprint), so
    a file of other days confirmed meanwhile does not make it stale; each waits for the other, both apply."""
    on(TODAY)

    got = confirm_at_once(app, monkeypatch, admin, [NEW_YEAR, SPRING])

    assert sorted(len(ok) for _status, ok, _refused in got) == [1, 1], got
    assert set(db.session.scalars(sa.select(CalendarDay.day).where(IN_2027))) == {
        date(2027, 1, 1), date(2027, 2, 5), date(2027, 2, 6)}
    assert count(AuditLog, AuditLog.action == "calendar.load") == 2


def test_a_declaration_filed_during_a_confirm_is_counted_on_the_new_calendar(app, world, admin, on, monkeypatch):
    """declare counts its deadline holding the calendar lock shared (workdays.review_deadline): filed while a
    confirm holds it, it waits and counts on the new schedule. Before, it counted on the old one, committed
    while the confirm was still writing, and the confirm, which had listed the deadlines to move before it
    existed, left it at the old deadline."""
    from tests.test_declarations import declare

    on(TODAY)
    client = signed_in(app, admin)
    fields = confirm_fields(preview(client, CSV_2027).get_data(as_text=True))
    db.session.commit()
    checked, declared = threading.Event(), threading.Event()
    compare = workdays.preview_schedule

    def compare_then_wait(raw):
        plan = compare(raw)
        checked.set()
        declared.wait(timeout=2)  # the declaration cannot come first while the lock holds it
        return plan

    monkeypatch.setattr(workdays, "preview_schedule", compare_then_wait)
    got = []
    thread = threading.Thread(target=lambda: got.append(
        client.post("/platform/calendar/confirm", data=fields, follow_redirects=True).get_data(as_text=True)))
    thread.start()
    assert checked.wait(timeout=30)
    declaration = declare(world.learner, minutes=100)
    declared.set()
    thread.join(timeout=60)
    monkeypatch.setattr(workdays, "preview_schedule", compare)

    assert flashed(got[0], "success")
    assert days_of(2027) == 8
    assert due(declaration.id) == date(2027, 1, 5)  # 1 January is a holiday in the schedule just loaded
