"""PostgreSQL: the role the web application connects as, kept apart from the role that owns the tables.

The owner runs the migrations; the application's role may read and write rows and nothing more. It cannot
alter or drop a table, truncate one, or switch off a trigger (only an owner can), so the audit log's
append-only triggers (migration 0006) hold against the application itself; and it holds neither UPDATE nor
DELETE on the audit log, so the log is append-only twice over.
"""

import re

import sqlalchemy as sa

from extensions import db
from services.errors import DomainError
from services.infra.transaction import unit_of_work

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
APPEND_ONLY_TABLES = ("audit_log",)
READ_ONLY_TABLES = ("alembic_version",)


def grant_app_role(role: str) -> list[str]:
    """Give ``role`` (an existing PostgreSQL role) what the application needs on the tables of the current
    schema, and the same on tables the current role creates there later. Run it as the owner, after every
    migration; running it again changes nothing. Returns the statements it ran.

    :raise DomainError: not PostgreSQL, or not a plain role name.
    """
    if db.engine.dialect.name != "postgresql":
        raise DomainError("只有 PostgreSQL 需要单独的应用角色")
    if not ROLE_NAME.fullmatch(role):
        raise DomainError("角色名只能由小写字母、数字和下划线组成，且不以数字开头")
    schema = db.session.execute(sa.text("SELECT current_schema()")).scalar_one()
    quote = db.engine.dialect.identifier_preparer.quote
    s, r = quote(schema), quote(role)
    statements = [
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {r}",
        *(f"REVOKE UPDATE, DELETE, TRUNCATE ON {s}.{quote(t)} FROM {r}" for t in APPEND_ONLY_TABLES),
        *(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {s}.{quote(t)} FROM {r}" for t in READ_ONLY_TABLES),
    ]
    with unit_of_work():
        for statement in statements:
            db.session.execute(sa.text(statement))
    return statements
