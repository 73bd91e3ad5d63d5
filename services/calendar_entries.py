"""A calendar entry (RFC 5545 iCalendar, written by hand) for a course the learner holds a place in."""

import unicodedata
from datetime import date, datetime, timedelta

from models import Enrollment
from models._common import utcnow
from models.enrollment import SEAT_HOLDING

PRODID = "-//Jidi//Continuing Education Calendar//ZH"
MAX_LINE_OCTETS = 75  # RFC 5545 3.1: lines longer than this are folded, the CRLF not counted
CRLF = "\r\n"


def escape_text(text: str) -> str:
    """``text`` as an RFC 5545 TEXT value (3.3.11): backslash, semicolon and comma escaped, every line break
    (CRLF, CR, LF, U+2028/2029) written ``\\n``; other control characters, which TEXT may not hold, dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    kept = []
    for char in text:
        if char == "\n":
            kept.append("\\n")
        elif char == "\t" or not unicodedata.category(char).startswith("C"):
            kept.append(char)
    return "".join(kept)


def fold(line: str) -> str:
    """One content line folded at 75 octets of UTF-8 (3.1): each continuation begins with a space, which
    counts in its 75, and a multi-byte character is never split between two lines. Ends with CRLF."""
    pieces: list[str] = []
    current: list[str] = []
    size, limit = 0, MAX_LINE_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            pieces.append("".join(current))
            current, size, limit = [], 0, MAX_LINE_OCTETS - 1
        current.append(char)
        size += width
    pieces.append("".join(current))
    return (CRLF + " ").join(pieces) + CRLF


def _utc_stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _day(day: date) -> str:
    return day.strftime("%Y%m%d")


def may_have_entry(enrollment: Enrollment) -> bool:
    """Only a place held (confirmed or completed) has a date to keep: not a waitlist, not a cancellation."""
    return enrollment.status in SEAT_HOLDING


def enrollment_event(enrollment: Enrollment, *, host: str, course_url: str,
                     stamp: datetime | None = None) -> bytes:
    """The VCALENDAR of one all-day VEVENT over the course's dates, as UTF-8 bytes with CRLF line ends.

    ``host`` names the site in the UID (stable for the enrollment whenever it is downloaded), ``course_url``
    is the course's public page, ``stamp`` the naive UTC moment of the DTSTAMP (now when not given).

    :raise LookupError: the enrollment holds no place (waitlisted or cancelled).
    """
    if not may_have_entry(enrollment):
        raise LookupError(enrollment.id)
    course = enrollment.course
    description = "\n".join([
        f"培训基地：{course.base.name}",
        f"学时：{course.hours} 学时（{course.category.label}）",
        f"课程详情：{course_url}",
    ])
    lines = [
        "BEGIN:VCALENDAR",
        f"PRODID:{PRODID}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:enrollment-{enrollment.id}@{host}",
        f"DTSTAMP:{_utc_stamp(stamp or utcnow())}",
        f"DTSTART;VALUE=DATE:{_day(course.start_date)}",
        # DTEND of an all-day event is exclusive: the day after the course's last day.
        f"DTEND;VALUE=DATE:{_day(course.end_date + timedelta(days=1))}",
        f"SUMMARY:{escape_text(course.title)}",
    ]
    if course.place:
        lines.append(f"LOCATION:{escape_text(course.place)}")
    lines += [
        f"DESCRIPTION:{escape_text(description)}",
        f"URL:{course_url}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(fold(line) for line in lines).encode("utf-8")
