"""The one writer of every spreadsheet the site hands out (XLSX): no text in a cell can run as a formula.

Whoever typed the text (a learner's name or employer, a course title, a base's name, a regulator's reason),
a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a line break can never run: it is typed as a
string and styled quotePrefix, the flag Excel sets itself when one types an apostrophe first: the cell shows
the text as typed, apostrophe-free, and is never evaluated, even once edited (in XLSX an apostrophe written
into the text is shown as part of it). Numbers, dates and booleans stay what they are: a negative number is a
number, not a formula.
"""

import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# Excel, LibreOffice and Google Sheets read a cell beginning with one of these as a formula; tab and CR (and LF)
# too, since some of them skip those before looking at the next character.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_KEPT_AS_IS = (bool, int, float, Decimal, date, datetime, time)


def cleaned(text: str) -> str:
    """``text`` without the control characters XLSX cannot hold (openpyxl raises on them; text stored before
    the forms dropped them must not make an export fail)."""
    return ILLEGAL_CHARACTERS_RE.sub("", text)


def xlsx(sheet_title: str, rows: Iterable[Sequence]) -> bytes:
    """A workbook of one sheet named ``sheet_title`` holding ``rows``, every text cell a string that cannot run."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_title)
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(sheet: Any, value: object) -> object:
    if value is None or isinstance(value, _KEPT_AS_IS):
        return value
    text = cleaned(str(value))
    cell = WriteOnlyCell(sheet, text)
    # openpyxl takes any text beginning with "=" for a formula; typed as a string it never is one, and
    # quotePrefix keeps Excel from reading it as one when the cell is edited.
    cell.data_type = "s"
    if text.startswith(FORMULA_STARTS):
        cell.quotePrefix = True
    return cell
