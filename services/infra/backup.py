"""Backups of the SQLite database with SQLite's online backup API, and restoring them.

A file copy of a live WAL database can catch the main file and the -wal file at different moments and
give a database that is corrupt or holds half a transaction. The backup API reads the pages inside one
read transaction (all pages in one step), so the copy is the database as it stood at one commit, while
the app goes on writing beside it (WAL readers do not block writers). Restoring uses the same API in the
other direction: it takes the live database's write lock, so no server write interleaves with it, and
every connection sees either the old database or the restored one.

PostgreSQL is backed up with pg_dump and restored with pg_restore (``POSTGRES_HELP``).
"""

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from services.errors import DomainError

BUSY_TIMEOUT_MS = 30_000  # as the app's own connections (services/infra/locking.py)

POSTGRES_HELP = """\
数据库是 PostgreSQL：请用 PostgreSQL 自带的工具备份和恢复（见 docs/SECURITY.md “Durability”）。
  备份：pg_dump --format=custom --file=jidi.dump "$PG_URL"
  恢复：pg_restore --clean --if-exists --no-owner --single-transaction --dbname="$PG_URL" jidi.dump
其中 $PG_URL 是去掉 "+psycopg" 的 DATABASE_URL，如 postgresql://user@host/db。
pg_dump 在一个快照中读取全部数据，应用运行时也能得到一致的备份；恢复前请先停止应用服务器。"""


@dataclass
class Report:
    """What a backup or restore did: the file written and the rows per table it holds."""

    path: Path
    tables: dict[str, int]
    safety_copy: Path | None = None  # restore only: the database as it was before

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def sqlite_path(database_uri: str) -> Path | None:
    """The database file of an SQLite URI, or None for another database (PostgreSQL)."""
    url = make_url(database_uri)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise DomainError("内存数据库无法备份")
    return Path(url.database).resolve()


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return connection


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of a database file: "ok", or SQLite's list of problems."""
    connection = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        return "\n".join(row[0] for row in connection.execute("PRAGMA integrity_check"))
    except sqlite3.DatabaseError as error:  # not a database at all
        return str(error)
    finally:
        connection.close()


def table_counts(path: Path) -> dict[str, int]:
    """Rows per table (SQLite's own and the search index's shadow tables left out), read in one snapshot."""
    connection = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        connection.execute("BEGIN")
        names = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        virtual = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'")}
        shadow = {n for n in names for v in virtual if n.startswith(v + "_")}
        counts = {}
        for name in names:
            if name not in shadow:
                quoted = '"' + name.replace('"', '""') + '"'
                # The name comes from the file's own sqlite_master and is quoted as an identifier.
                counts[name] = connection.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0]  # nosec B608
        return counts
    finally:
        connection.close()


def _copy(source: Path, target: Path) -> None:
    """All pages of ``source`` into ``target`` in one step, i.e. one read transaction on the source."""
    src = _connect(source)
    dst = _connect(target)
    try:
        src.backup(dst, pages=-1)
    finally:
        dst.close()
        src.close()


def backup_sqlite(source: Path, target: Path) -> Report:
    """Write a consistent copy of the live database ``source`` to ``target`` (a new file).

    The copy is made beside the target under a temporary name, checked with ``PRAGMA integrity_check``
    and only then renamed into place, so ``target`` is either a whole, checked backup or absent.
    :raise DomainError: no database at ``source``, ``target`` exists, or the copy fails its check.
    """
    if not source.is_file():
        raise DomainError(f"找不到数据库文件 {source}")
    if target.exists():
        raise DomainError(f"{target} 已存在，不会覆盖；请换一个文件名")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        _copy(source, partial)
        # A backup is one self-contained file: no -wal beside it is needed to read it.
        connection = _connect(partial)
        connection.execute("PRAGMA journal_mode = DELETE")
        connection.close()
        result = integrity(partial)
        if result != "ok":
            raise DomainError(f"备份副本未通过完整性检查：{result}")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return Report(target, table_counts(target))


def restore_sqlite(backup: Path, target: Path) -> Report:
    """Replace the contents of the database ``target`` by those of the backup file ``backup``.

    The backup must pass ``PRAGMA integrity_check`` and hold a migrated Jidi schema. The database as it
    was is first kept beside it (``<name>.before-restore-<UTC time>``, itself a backup-API copy), so a
    mistaken restore can be undone with another restore.
    :raise DomainError: the backup is missing, damaged or not a Jidi database.
    """
    if not backup.is_file():
        raise DomainError(f"找不到备份文件 {backup}")
    if backup.resolve() == target.resolve():
        raise DomainError("备份文件就是当前数据库")
    result = integrity(backup)
    if result != "ok":
        raise DomainError(f"备份文件未通过完整性检查，未做任何改动：{result}")
    tables = table_counts(backup)
    if "alembic_version" not in tables or "user" not in tables:
        raise DomainError("该文件不是本系统的数据库备份，未做任何改动")
    safety = None
    if target.is_file():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        safety = target.with_name(f"{target.name}.before-restore-{stamp}")
        _copy(target, safety)
    _copy(backup, target)
    # The backup file is in rollback-journal mode; the app's connections put the database back in WAL.
    connection = _connect(target)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.close()
    result = integrity(target)
    if result != "ok":  # pragma: no cover - the source passed the same check
        raise DomainError(f"恢复后的数据库未通过完整性检查：{result}；原数据库保存在 {safety}")
    return Report(target, table_counts(target), safety)
