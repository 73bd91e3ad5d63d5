"""A calendar entry (.ics, RFC 5545 by hand) for a course the learner holds a place in: escaping, folding at
75 octets without splitting a character, all-day dates, and who may download it. The result is read back
with the small unfolding parser below, not with the ``icalendar`` package, which the site does not need."""

import re
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from extensions import db
from models import Category, EnrollmentStatus
from services import calendar_entries, enrollment
from tests.conftest import login

TRICKY_TITLE = "护理;安全,管理\\专题\n第二期"
LONG_TITLE = "基层医疗卫生机构常见慢性病综合防治与健康管理能力提升专题培训班（第三期）" * 2


def unfold(body: bytes) -> list[str]:
    """The content lines of an iCalendar body: every physical line ends with CRLF, and one that begins with a
    space or a tab continues the line before it (RFC 5545 3.1)."""
    text = body.decode("utf-8")
    assert text.endswith("\r\n")
    physical = text[:-2].split("\r\n")
    assert not any("\n" in line or "\r" in line for line in physical), "a bare line break"
    lines: list[str] = []
    for line in physical:
        if line[:1] in (" ", "\t"):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    return lines


def unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def parse(body: bytes) -> dict[str, str]:
    """``NAME`` (with its parameters, as ``DTSTART;VALUE=DATE``) → raw value, of the one VEVENT and its
    calendar; BEGIN/END checked for their nesting."""
    props: dict[str, str] = {}
    stack: list[str] = []
    for line in unfold(body):
        name, _colon, value = line.partition(":")
        if name == "BEGIN":
            stack.append(value)
        elif name == "END":
            assert stack.pop() == value
        else:
            assert name not in props, f"{name} twice"
            props[name] = value
    assert not stack
    return props


def _course(**kw):
    base = SimpleNamespace(name=kw.pop("base_name", "成都市继续教育学院"))
    return SimpleNamespace(title=kw.pop("title", "护理安全"), place=kw.pop("place", "培训楼 101"), base=base,
                           hours=kw.pop("hours", 16), category=kw.pop("category", Category.PROFESSIONAL),
                           start_date=kw.pop("start_date", date(2025, 7, 30)),
                           end_date=kw.pop("end_date", date(2025, 7, 31)))


def _event(course, status=EnrollmentStatus.CONFIRMED, enrollment_id=42) -> bytes:
    place = SimpleNamespace(id=enrollment_id, status=status, course=course)
    return calendar_entries.enrollment_event(place, host="jidi.example", course_url="https://jidi.example/courses/7",
                                             stamp=datetime(2025, 6, 16, 3, 4, 5))


# --- the building, unit by unit ----------------------------------------------------------------------------------

def test_text_escapes_backslash_semicolon_comma_and_every_line_break():
    assert calendar_entries.escape_text("a\\b;c,d\ne\r\nf\rg\u2028h") == "a\\\\b\\;c\\,d\\ne\\nf\\ng\\nh"
    assert calendar_entries.escape_text("响铃\x07与\x00控制") == "响铃与控制"


def test_a_long_chinese_line_is_folded_at_75_octets_without_splitting_a_character():
    line = "SUMMARY:" + LONG_TITLE
    folded = calendar_entries.fold(line).encode("utf-8")
    physical = folded[:-2].split(b"\r\n")
    assert len(physical) > 3
    for piece in physical:
        assert len(piece) <= 75
        piece.decode("utf-8")  # a character split between two lines would fail here
    assert all(piece.startswith(b" ") for piece in physical[1:])
    assert not physical[0].startswith(b" ")
    # Filled: a piece is cut only when the next character (3 octets) would not fit.
    assert all(len(piece) >= 72 for piece in physical[:-1])
    assert unfold(folded) == [line]


def test_an_ascii_line_of_exactly_75_octets_is_not_folded_and_76_is():
    assert calendar_entries.fold("X" * 75) == "X" * 75 + "\r\n"
    assert calendar_entries.fold("X" * 76) == "X" * 75 + "\r\n X\r\n"


def test_the_event_holds_the_calendar_frame_and_the_escaped_title():
    body = _event(_course(title=TRICKY_TITLE, place="甲楼;3层,东"))
    props = parse(body)
    assert props["VERSION"] == "2.0" and props["CALSCALE"] == "GREGORIAN" and props["METHOD"] == "PUBLISH"
    assert props["PRODID"]
    assert props["UID"] == "enrollment-42@jidi.example"
    assert props["DTSTAMP"] == "20250616T030405Z"
    assert props["SUMMARY"] == "护理\\;安全\\,管理\\\\专题\\n第二期"
    assert unescape(props["SUMMARY"]) == TRICKY_TITLE
    assert unescape(props["LOCATION"]) == "甲楼;3层,东"
    assert props["URL"] == "https://jidi.example/courses/7"
    description = unescape(props["DESCRIPTION"])
    assert "成都市继续教育学院" in description and "16 学时" in description
    assert Category.PROFESSIONAL.label in description and "https://jidi.example/courses/7" in description


def test_all_day_dates_end_the_day_after_the_last_day():
    props = parse(_event(_course(start_date=date(2025, 12, 30), end_date=date(2025, 12, 31))))
    assert props["DTSTART;VALUE=DATE"] == "20251230"
    assert props["DTEND;VALUE=DATE"] == "20260101"  # exclusive, across the year's end
    one_day = parse(_event(_course(start_date=date(2024, 2, 28), end_date=date(2024, 2, 28))))
    assert (one_day["DTSTART;VALUE=DATE"], one_day["DTEND;VALUE=DATE"]) == ("20240228", "20240229")


def test_the_uid_is_stable_for_the_enrollment():
    first, again = parse(_event(_course())), parse(_event(_course(title="改名后")))
    assert first["UID"] == again["UID"]
    assert parse(_event(_course(), enrollment_id=43))["UID"] != first["UID"]


@pytest.mark.parametrize("status", [EnrollmentStatus.WAITLISTED, EnrollmentStatus.CANCELLED])
def test_no_entry_without_a_place(status):
    with pytest.raises(LookupError):
        _event(_course(), status=status)


def test_the_icalendar_package_is_not_a_dependency():
    requirements = (Path(__file__).resolve().parent.parent / "requirements.txt").read_text()
    assert "icalendar" not in requirements.lower()


# --- the download ------------------------------------------------------------------------------------------------

@pytest.fixture
def places(admin_and_base, make_course, make_user):
    """A course with one seat: the first learner holds it, the second waits."""
    course = make_course(admin_and_base[1], capacity=1, title=TRICKY_TITLE, place="甲楼,3层",
                         start_date=date(2031, 3, 9), end_date=date(2031, 3, 11))
    holder, waiting = make_user(), make_user()
    held = enrollment.enroll(holder, course.id).enrollment
    waited = enrollment.enroll(waiting, course.id).enrollment
    assert (held.status, waited.status) == (EnrollmentStatus.CONFIRMED, EnrollmentStatus.WAITLISTED)
    return SimpleNamespace(course=course, holder=holder, waiting=waiting, held=held, waited=waited)


def test_the_learner_downloads_the_entry_of_a_confirmed_place(client, places):
    login(client, places.holder)
    response = client.get(f"/me/enrollments/{places.held.id}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and disposition.endswith(".ics") and "\n" not in disposition
    props = parse(response.data)
    assert props["UID"] == f"enrollment-{places.held.id}@localhost"
    assert (props["DTSTART;VALUE=DATE"], props["DTEND;VALUE=DATE"]) == ("20310309", "20310312")
    assert unescape(props["SUMMARY"]) == TRICKY_TITLE
    assert unescape(props["LOCATION"]) == "甲楼,3层"
    assert props["URL"] == f"http://localhost/courses/{places.course.id}"
    assert places.course.base.name in unescape(props["DESCRIPTION"])


def test_a_completed_place_has_its_entry_too(client, places):
    places.held.status, places.held.completed_on = EnrollmentStatus.COMPLETED, date(2031, 3, 11)
    db.session.commit()
    login(client, places.holder)
    assert client.get(f"/me/enrollments/{places.held.id}/calendar.ics").status_code == 200


def test_another_learners_enrollment_is_404(client, places):
    login(client, places.waiting)
    response = client.get(f"/me/enrollments/{places.held.id}/calendar.ics")
    assert response.status_code == 404
    assert "护理" not in response.get_data(as_text=True)


def test_a_waitlisted_enrollment_has_no_entry(client, places):
    login(client, places.waiting)
    assert client.get(f"/me/enrollments/{places.waited.id}/calendar.ics").status_code == 404


def test_the_dashboard_links_each_upcoming_place_to_its_entry(app, client, places):
    login(client, places.holder)
    page = client.get("/me/").get_data(as_text=True)
    assert f'href="/me/enrollments/{places.held.id}/calendar.ics"' in page and "加入日历" in page
    other = app.test_client()
    login(other, places.waiting)
    waiting_page = other.get("/me/").get_data(as_text=True)
    assert "calendar.ics" not in waiting_page
