"""The one writer of every spreadsheet the site hands out (XLSX): no text in a cell can run as a formula.

Whoever typed the text (a learner's name or employer, a course title, a base's name, a regulator's reason),
a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a line break can never run: it is typed as a
string and styled quotePrefix, the flag Excel sets itself when one types an apostrophe first: the cell shows
the text as typed, apostrophe-free, and is never evaluated, even once edited (in XLSX an apostrophe written
into the text is shown as part of it). Numbers, dates and booleans stay what they are: a negative number is a
number, not a formula.

Plain tables (``xlsx``) are rows as they come; official forms (``form_xlsx``) are laid out as the
notices draw them: a title row, the lines to stamp and date, merged header levels, borders, column widths and
print setup, every cell through the same guard.
"""

import io
from collections.abc import Iterable, Sequence
from copy import copy
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

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


# --- official forms: a title, a header with merged cells, borders, the lines to stamp and sign, print setup -----

THIN = Side(style="thin", color="000000")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
_TITLE_FONT = Font(name="宋体", size=16, bold=True)
_HEADER_FONT = Font(name="宋体", size=10, bold=True)
_BODY_FONT = Font(name="宋体", size=10)
_LINE_FONT = Font(name="宋体", size=11)
_ALIGN = {
    side: Alignment(horizontal=side, vertical="center", wrap_text=True) for side in ("left", "center", "right")
}


@dataclass(frozen=True)
class Span:
    """A stretch of a line above or below a form's table: ``text`` over ``cols`` columns; ``box`` draws it
    bordered, a box to be stamped or signed in."""

    text: object = ""
    cols: int = 1
    box: bool = False
    align: str = "left"


@dataclass(frozen=True)
class Line:
    """A line above or below a form's table, its spans laid out from column A; ``height`` in points."""

    spans: Sequence[Span]
    height: float | None = None


@dataclass
class FormSheet:
    """One sheet of an official form: the title row merged across the table, the lines above the table (填报单位
    （盖章）), the header rows, the body, the lines below (填表人, 填报日期). ``merges`` are (row, column, last
    row, last column), counted from 0 at the table's first header row, so header and body merge alike.
    ``bold_rows`` are body rows (counted from 0) set as headers: a group's own column names, as the 登记表 has.
    Printed on A4 (landscape unless told), fitted to the page's width, the header rows repeated on every page."""

    name: str
    title: str
    widths: Sequence[float]
    header: Sequence[Sequence]
    rows: Sequence[Sequence]
    merges: Sequence[tuple[int, int, int, int]] = ()
    above: Sequence[Line] = ()
    below: Sequence[Line] = ()
    align: Sequence[str] = ()
    bold_rows: frozenset[int] = frozenset()
    heights: dict[int, float] = field(default_factory=dict)
    landscape: bool = True


def form_xlsx(sheets: Sequence[FormSheet]) -> bytes:
    """A workbook of official forms, one sheet each, every text cell a string that cannot run."""
    book = Workbook(write_only=True)
    for form in sheets:
        _write_form(book.create_sheet(form.name), form)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _write_form(sheet: Any, form: FormSheet) -> None:  # noqa: C901  a streamed sheet takes every setting before its first row: one ordered list of them
    width = len(form.widths)
    for index, chars in enumerate(form.widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = chars
    first = 2 + len(form.above)  # the table's first header row (1-based): after the title and the lines above
    table_end = first + len(form.header) + len(form.rows) - 1
    # Row heights, merged ranges, views and print setup: set before the rows are streamed.
    sheet.row_dimensions[1].height = 32
    for offset, line in enumerate(form.above, start=2):
        if line.height:
            sheet.row_dimensions[offset].height = line.height
    for offset, line in enumerate(form.below, start=table_end + 1):
        if line.height:
            sheet.row_dimensions[offset].height = line.height
    for row, height in form.heights.items():
        sheet.row_dimensions[first + row].height = height
    _merge(sheet, 1, 1, 1, width)
    for row, col, last_row, last_col in form.merges:
        _merge(sheet, first + row, col + 1, first + last_row, last_col + 1)
    # Sheet properties and views are written ahead of the first row in a streamed sheet: set them now.
    header_rows = f"{first}:{first + len(form.header) - 1}"
    sheet.print_title_rows = header_rows  # 打印标题行: the header on every printed page
    sheet.freeze_panes = f"A{first + len(form.header)}"
    setup = sheet.page_setup
    setup.paperSize = 9  # A4
    setup.orientation = "landscape" if form.landscape else "portrait"
    setup.fitToWidth, setup.fitToHeight = 1, 0  # one page wide, as many pages long as the rows need
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.6
    sheet.oddFooter.center.text = "第 &P 页，共 &N 页"

    styled = _Cells(sheet)
    sheet.append([styled(form.title, _TITLE_FONT, _ALIGN["center"])]
                 + [styled(None, _TITLE_FONT, None) for _ in range(width - 1)])
    for offset, line in enumerate(form.above, start=2):
        sheet.append(_line_cells(styled, line, offset, width))
    aligns = list(form.align) + ["center"] * (width - len(form.align))
    for values in form.header:
        sheet.append([styled(v, _HEADER_FONT, _ALIGN["center"], BOX) for v in _padded(values, width)])
    for index, values in enumerate(form.rows):
        bold = index in form.bold_rows
        sheet.append([
            styled(v, _HEADER_FONT if bold else _BODY_FONT, _ALIGN["center" if bold else aligns[col]], BOX)
            for col, v in enumerate(_padded(values, width))
        ])
    for offset, line in enumerate(form.below, start=table_end + 1):
        sheet.append(_line_cells(styled, line, offset, width))


def _merge(sheet: Any, row: int, col: int, last_row: int, last_col: int) -> None:
    if (row, col) != (last_row, last_col):
        sheet.merged_cells.add(f"{get_column_letter(col)}{row}:{get_column_letter(last_col)}{last_row}")


def _padded(values: Sequence, width: int) -> list:
    return list(values) + [None] * (width - len(values))


def _line_cells(styled: "_Cells", line: Line, row: int, width: int) -> list:
    cells, col = [], 1
    for span in line.spans:
        _merge(styled.sheet, row, col, row, col + span.cols - 1)
        align, border = _ALIGN[span.align], BOX if span.box else None
        cells.append(styled(span.text, _LINE_FONT, align, border))
        cells.extend(styled(None, _LINE_FONT, align, border) for _ in range(span.cols - 1))
        col += span.cols
    return cells + [None] * (width - len(cells))


class _Cells:
    """Makes a form's cells on one sheet. Each combination of styles is registered with the workbook once and its
    style record copied onto every cell that wears it: assigning the style objects cell by cell made a
    catalog of 5,000 courses five times slower to write."""

    def __init__(self, sheet: Any) -> None:
        self.sheet = sheet
        self._styles: dict[tuple, object] = {}

    def __call__(self, value: object, font: Font, alignment: Alignment | None,
                 border: Border | None = None) -> WriteOnlyCell:
        """A cell: text typed as a string (quotePrefix where it would run), numbers and dates as they are."""
        cell: Any  # a WriteOnlyCell (openpyxl is untyped); _xlsx_cell makes one for text
        if value is None or isinstance(value, _KEPT_AS_IS):
            cell, guarded = WriteOnlyCell(self.sheet, value), False
        else:
            cell = _xlsx_cell(self.sheet, value)
            guarded = bool(cell.quotePrefix)
        key = (id(font), id(alignment), id(border), isinstance(value, Decimal))
        if key not in self._styles:
            model = WriteOnlyCell(self.sheet)
            model.font = font
            if alignment is not None:
                model.alignment = alignment
            if border is not None:
                model.border = border
            if key[3]:
                model.number_format = "0.00"
            self._styles[key] = model._style
        cell._style = copy(self._styles[key])
        if guarded:
            cell.quotePrefix = True  # after the copy, which would otherwise take it away
        return cell
