"""Pages of a list that follow each other by keyset (cursors) and can also be jumped to by number.

Next and previous seek from the row at the edge of the page (an index lookup, as cheap deep in the list as at
its start). A jump to page N (首页, 末页, a number) has no row to seek from without reading the pages between,
so it skips the rows before it with OFFSET, which the database walks one by one: it reads from whichever end
of the list is nearer (末页 reads the order backwards and skips nothing), and is answered only within
JUMP_ROWS rows of an end. The pagination macro (templates/_macros.html) offers only the jumps answered.
"""

import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute

from extensions import db
from models._common import MAX_ID

JUMP_ROWS = 2000


class PageOutOfReach(LookupError):
    """A jump to a page more than JUMP_ROWS rows from both ends of the list (the view answers 404)."""


@dataclass
class Page:
    """One page of results. Pages are reached by cursors (keyset pagination): ``next_cursor`` and
    ``prev_cursor`` name the neighbouring pages; a previous page without a cursor is the first page."""

    items: list
    total: int
    page: int
    per_page: int
    has_prev: bool = False
    has_next: bool = False
    next_cursor: str | None = None
    prev_cursor: str | None = None
    extra: dict = field(default_factory=dict)
    jump_rows: int = 0  # how far from an end of the list a page may be jumped to by number (0: no jumps)

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)

    def window(self, around: int = 2) -> range:
        """The page numbers shown around this one."""
        return range(max(self.page - around, 1), min(self.page + around, self.pages) + 1)

    def reachable(self, number: int) -> bool:
        """Whether page ``number`` can be jumped to (answered, not PageOutOfReach)."""
        return min(*rows_around(number, self.total, self.per_page)) <= self.jump_rows


def rows_around(number: int, total: int, per_page: int) -> tuple[int, int]:
    """How many rows come before page ``number`` and after it."""
    return (number - 1) * per_page, max(total - number * per_page, 0)


def jump_target(jump: int, total: int, per_page: int) -> int:
    """The page a jump to ``jump`` shows: the last one when the list is shorter (it shrank since the link).

    :raise PageOutOfReach: when that page is more than JUMP_ROWS rows from both ends.
    """
    number = min(jump, max(-(-total // per_page), 1))
    if min(*rows_around(number, total, per_page)) > JUMP_ROWS:
        raise PageOutOfReach(jump)
    return number


# A cursor of a list ordered newest first by id: the page it leads to, b(efore) or a(fter), and the id.
_ID_CURSOR = re.compile(r"(\d{1,7})([ab])(\d{1,18})")


def newest_first(stmt: sa.Select[Any], id_column: QueryableAttribute[int], per_page: int,
                 cursor: str | None = None, jump: int | None = None) -> Page:
    """A page of ``stmt`` newest first (by ``id_column``), by ``cursor`` (a mangled one is the first page) or
    by page number ``jump``: two queries (count, rows).

    :raise PageOutOfReach: for a jump more than JUMP_ROWS rows from both ends.
    """
    total = db.session.execute(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    found = _ID_CURSOR.fullmatch(cursor or "")
    if found and 1 < int(found.group(1)) and int(found.group(3)) <= MAX_ID:
        number, forward, edge = int(found.group(1)), found.group(2) == "b", int(found.group(3))
        stmt = stmt.where(id_column < edge if forward else id_column > edge)
        items = list(db.session.scalars(stmt.order_by(id_column.desc() if forward else id_column.asc())
                                        .limit(per_page + 1)).all())
        more, items = len(items) > per_page, items[:per_page]
        if forward:
            page = Page(items, total, number, per_page, has_prev=True, has_next=more)
        else:
            items.reverse()
            page = Page(items, total, number if more else 1, per_page, has_prev=more, has_next=True)
    elif jump is not None and jump > 1:
        number = jump_target(jump, total, per_page)
        before, after = rows_around(number, total, per_page)
        if before <= after:
            items = list(db.session.scalars(stmt.order_by(id_column.desc()).offset(before or None)
                                            .limit(per_page)).all())
        else:
            items = list(db.session.scalars(stmt.order_by(id_column.asc()).offset(after or None)
                                            .limit(min(per_page, total - before))).all())
            items.reverse()
        page = Page(items, total, number, per_page, has_prev=number > 1, has_next=number * per_page < total)
    else:
        items = list(db.session.scalars(stmt.order_by(id_column.desc()).limit(per_page + 1)).all())
        page = Page(items[:per_page], total, 1, per_page, has_next=len(items) > per_page)
    page.jump_rows = JUMP_ROWS
    if page.has_next and page.items:
        page.next_cursor = f"{page.page + 1}b{page.items[-1].id}"
    if page.has_prev and page.items and page.page > 2:
        page.prev_cursor = f"{page.page - 1}a{page.items[0].id}"
    return page
