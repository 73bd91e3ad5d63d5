"""Bad input in uploaded files and the hidden fields that carry them (a second read of issue 13): odd calendar
and roster files, forged hidden fields of the calendar's confirm, on SQLite and PostgreSQL. Split from
tests/test_bad_input.py (issue 15)."""

import re
from datetime import timedelta
from io import BytesIO

import pytest
import sqlalchemy as sa

from blueprints.validators import LINE_BREAKS as LINE_BREAK
from extensions import db
from models import (
    Role,
)
from services.infra import clock
from tests.test_bad_input import (  # noqa: F401  fixtures and helpers shared with test_bad_input
    FIGURES,
    LINE_BREAKS,
    NASTY,
    signed_in,
)

# --- what an uploaded file holds, and the hidden fields that carry it (a second read of issue 13) -------------
# The battery fed every form field but never a file's contents: a CSV whose lines end in CR alone (old Excel
# for Mac) was a 500 in the calendar preview and the roster import, a NUL in a calendar day's name passed the
# preview and failed on PostgreSQL at the confirm, and a forged digest of non-ASCII text was a 500 there.

def file_contents(header: str, row: str, cell: int) -> list[tuple[str, bytes]]:
    """A valid one-row CSV (``header``, ``row``) spelled every odd way: each line ending, a byte-order mark,
    a NUL and other controls, each line break inside a quoted cell (the ``cell``-th), quotes csv cannot
    read, a cell beyond csv's field size limit, and nothing but breaks."""
    cells = row.split(",")

    def with_cell(value: str) -> str:
        return ",".join(cells[:cell] + [value] + cells[cell + 1:])

    variants = [(f"ending {ending!r}", f"{header}{ending}{row}{ending}") for ending in ("\r", "\r\n", "\n", "\x85",
                                                                                       "\u2028")]
    variants += [
        ("bom", f"\ufeff{header}\n{row}\n"), ("mixed endings", f"{header}\r{row}\r\n{row}\n"),
        ("nul", f"{header}\n{with_cell(cells[cell] + chr(0))}\n"),
        ("controls", f"{header}\n{with_cell('a' + chr(27))}\n"),
        ("stray quote", f'{header}\n{with_cell(chr(34) + "a" + chr(34) + "b")}\n'),
        ("open quote", f'{header}\n{with_cell(chr(34) + "a")}\n'),
        ("huge cell", f'{header}\n{with_cell(chr(34) + "中" * 140_000 + chr(34))}\n'),
        ("only breaks", "\r\r\n\n\r"), ("header only, CR", f"{header}\r"),
    ]
    variants += [(f"quoted break {br!r}", f'{header}\n{with_cell(chr(34) + "元" + br + "旦" + chr(34))}\n')
                 for br in LINE_BREAKS]
    return [(name, text.encode()) for name, text in variants]


CALENDAR_FILES = file_contents("date,kind,name", "2031-01-01,holiday,元旦", 2)
ROSTER_FILES = file_contents("姓名,手机号,学时", "陈晓,13900000099,8", 0)
# A hidden field forged: NASTY, and 64 characters (the digest's length) of text that is not a hex digest.
HIDDEN_VALUES = [*NASTY, "é" * 64, "١" * 64, "Ａ" * 64, "\x00" * 64, "0" * 63 + "\n", "F" * 64]


def calendar_confirm_fields(html: str) -> dict | None:
    fields = dict(re.findall(r'<input[^>]*name="(payload|digest)"[^>]*value="([^"]*)"', html))
    return fields if len(fields) == 2 else None


def post_calendar_files(app, admin_user) -> None:
    """Every odd calendar file previewed and, where the preview offers it, confirmed: never a 500, and a
    stored day's name holds no control character or line break."""
    from models import CalendarDay

    client = signed_in(app, admin_user)
    for name, raw in CALENDAR_FILES:
        FIGURES["tried"] += 1
        response = client.post("/platform/calendar", data={"schedule": (BytesIO(raw), "假日.csv")},
                               content_type="multipart/form-data")
        assert response.status_code in (200, 400), (name, response.status_code)
        fields = calendar_confirm_fields(response.get_data(as_text=True))
        if fields:
            FIGURES["tried"] += 1
            confirmed = client.post("/platform/calendar/confirm", data=fields)
            assert confirmed.status_code == 302, (name, confirmed.status_code)
    for day in db.session.scalars(sa.select(CalendarDay)):
        assert not LINE_BREAK.search(day.name) and "\x00" not in day.name and "\x1b" not in day.name, day.name


def test_odd_calendar_files_are_never_a_server_error(app, make_user):
    post_calendar_files(app, make_user(Role.PLATFORM_ADMIN, region_id=None))


@pytest.mark.parametrize(("name", "raw"), ROSTER_FILES, ids=[name for name, _raw in ROSTER_FILES])
def test_odd_roster_files_are_a_message_never_a_server_error(app, make_user, make_base, make_course, name, raw):
    admin_user = make_user(Role.BASE_ADMIN)
    base = make_base(admin=admin_user)
    course = make_course(base, start_date=clock.today() - timedelta(days=5), end_date=clock.today())
    admin = signed_in(app, admin_user)
    FIGURES["tried"] += 1
    response = admin.post(f"/manage/bases/{base.id}/courses/{course.id}/roster/import",
                          data={"roster": (BytesIO(raw), "名单.csv")}, content_type="multipart/form-data")
    assert response.status_code in (200, 302), (name, response.status_code)
    if response.status_code == 200:
        assert re.search(r'class="invalid-feedback|alert-danger|<li', response.get_data(as_text=True)), name


def test_forged_hidden_fields_of_the_calendar_confirm_are_never_a_server_error(app, make_user):
    from models import AuditLog

    client = signed_in(app, make_user(Role.PLATFORM_ADMIN, region_id=None))
    page = client.post("/platform/calendar", data={"schedule": (BytesIO(CALENDAR_FILES[2][1]), "假日.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)
    fields = calendar_confirm_fields(page)
    assert fields
    for field in ("digest", "payload"):
        for value in HIDDEN_VALUES:
            FIGURES["tried"] += 1
            response = client.post("/platform/calendar/confirm", data={**fields, field: value})
            assert response.status_code == 302, (field, value[:20], response.status_code)
    assert not db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)
                                 .where(AuditLog.action == "calendar.load"))


class TestFilesOnPostgreSQL:
    """A NUL in a calendar day's name is refused by PostgreSQL alone: the calendar's files again there."""

    @pytest.fixture
    def app(self, pg_app):
        return pg_app

    def test_odd_calendar_files_are_never_a_server_error_on_postgresql(self, app, make_user):
        post_calendar_files(app, make_user(Role.PLATFORM_ADMIN, region_id=None))
