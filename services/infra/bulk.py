"""Reading and writing many rows in a fixed number of statements, whatever their number.

A batch of 10,000 completions looks up its learners, its external ids and its enrollments, and inserts as many
rows into three tables. Sent the obvious ways, that is work per value: 500-value ``IN`` lists (twenty
statements a lookup, each a long text that psycopg parses again, since it caches no query that long, and
that PostgreSQL plans again), and inserts that SQLAlchemy sends row by row (psycopg's ``executemany``) or as
1,000-row ``VALUES`` lists of 11,000 parameters. Here the values travel as one parameter each:

- PostgreSQL: an array, probed with ``= ANY(…)`` and inserted with ``INSERT … SELECT FROM unnest(…)``, one
  array per column (psycopg sends each list as one array value);
- SQLite: a JSON text read by ``json_each`` for a lookup (the column's index is still probed value by value);
  an insert stays SQLAlchemy's ``executemany`` or, with ``RETURNING``, its multi-row ``VALUES``: the sqlite3
  module runs them in C with no round trip, which is as fast as SQLite inserts get.
"""

import json
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from extensions import db


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def among(column: Any, values: Collection[Any]) -> sa.ColumnElement[bool]:
    """``column`` is one of ``values``: one bound parameter, whatever their number (an empty collection
    matches nothing)."""
    if _postgresql():
        return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(sa.select(sa.column("value")).select_from(sa.func.json_each(json.dumps(list(values)))))


def insert_rows(model: type[Any], rows: Sequence[dict[str, Any]], returning: Sequence[Any] = ()) -> list[sa.Row[Any]]:
    """Insert ``rows`` into ``model``'s table (dicts with the same keys: every column to write, defaults
    included, since no Python default is applied here) in one statement on PostgreSQL; the ``returning``
    columns of each inserted row, in no particular order. Through the session, so that the unit of work knows
    it wrote."""
    if not rows:
        return []
    table: sa.Table = model.__table__
    names = list(rows[0])
    if _postgresql():
        columns = {name: [row[name] for row in rows] for name in names}
        # A value every row shares (the time, the actor, a status) goes once, not once a row; the first
        # column goes as an array whatever its values, to carry the number of rows.
        shared = {name for name, values in columns.items() if all(v == values[0] for v in values)} - {names[0]}
        varying = [name for name in names if name not in shared]
        arrays = [sa.bindparam(f"bulk_{name}", columns[name], type_=postgresql.ARRAY(table.c[name].type))
                  for name in varying]
        source = sa.func.unnest(*arrays).table_valued(*varying).render_derived()
        selected = [sa.bindparam(f"bulk_{name}", columns[name][0], type_=table.c[name].type) if name in shared
                    else source.c[name] for name in names]
        statement = sa.insert(table).from_select(names, sa.select(*selected).select_from(source))
        if returning:
            return list(db.session.execute(statement.returning(*returning)))
        db.session.execute(statement)
        return []
    if returning:
        return list(db.session.execute(sa.insert(table).returning(*returning), list(rows)))
    db.session.execute(sa.insert(table), list(rows))
    return []
