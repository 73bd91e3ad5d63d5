"""The site's inbox: notices to one user (a review result, a plan decision, an evaluation outcome …), their
unread count and their reading. Callers add notices inside their own unit of work."""

import re
from collections.abc import Iterable, Mapping
from typing import Literal

import sqlalchemy as sa

from extensions import db
from models import BaseMembership, Notice, NoticeKind, Role, User
from models._common import utcnow
from services import jobs
from services.infra import paging
from services.infra.transaction import unit_of_work
from services.resident_ids import mask

PAGE_SIZE = 30
# An 18-character resident ID number (or an old 15-digit one) anywhere in a message, not inside a longer number.
_ID_NUMBER = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9Xx])")


def scrub(message: str) -> str:
    """The message with every full ID number in it masked: a notice never carries one."""
    return _ID_NUMBER.sub(lambda m: mask(m.group(0)), message)


def notify(user_id: int, message: str, link: str = "", kind: NoticeKind = NoticeKind.GENERAL) -> Notice:
    """Add a notice for the user to the session; the caller's unit of work commits it, and once it has
    committed the notice goes out by e-mail and text message as the user chose for its ``kind``
    (services.messaging, services.jobs)."""
    notice = Notice(user_id=user_id, message=scrub(message)[:500], link=link[:255], kind=kind.value)
    db.session.add(notice)
    return notice


def notify_many(messages: Iterable[tuple[int, str]], link: str = "", kind: NoticeKind = NoticeKind.GENERAL,
                dedupe_key: str | None = None) -> list[int]:
    """Notices to many people at once (``(user_id, message)`` pairs), inserted in one statement in the caller's
    unit of work and fanned out once it commits, as ``notify``'s are; returns their ids. With a ``dedupe_key``
    a person may hold one such notice only (UNIQUE(user_id, dedupe_key)): the caller leaves out who has it."""
    now = utcnow()
    rows = [{"user_id": user_id, "message": scrub(message)[:500], "link": link[:255], "kind": kind.value,
             "dedupe_key": dedupe_key, "created_at": now} for user_id, message in messages]
    if not rows:
        return []
    ids = list(db.session.scalars(sa.insert(Notice).returning(Notice.id), rows))
    jobs.fan_out_after_commit(db.session(), ids)
    return ids


def notify_base_admins(messages: Mapping[int, tuple[str, str]], kind: NoticeKind = NoticeKind.GENERAL) -> None:
    """To each active admin of each base, that base's notice (``{base_id: (message, link)}``), added to the
    session: one query for who they are, however many bases."""
    if not messages:
        return
    admins = db.session.execute(
        sa.select(BaseMembership.base_id, User.id).join(User, BaseMembership.user_id == User.id)
        .where(BaseMembership.base_id.in_(messages), User.role == Role.BASE_ADMIN, User.active.is_(True))
        .order_by(BaseMembership.base_id, User.id)
    ).all()
    for base_id, admin_id in admins:
        notify(admin_id, *messages[base_id], kind=kind)


def unread_count_of(user_id: int) -> sa.ScalarSelect[int]:
    """The user's unread count as a scalar subquery, to be folded into another query (the user's load)."""
    return (sa.select(sa.func.count(Notice.id))
            .where(Notice.user_id == user_id, Notice.read_at.is_(None)).scalar_subquery())


def unread_count(user: User) -> int:
    """How many of the user's notices are unread (one COUNT on the user's unread index)."""
    return db.session.scalar(sa.select(unread_count_of(user.id))) or 0


def page(user: User, cursor: str | None = None, jump: int | None = None) -> paging.Page:
    """The user's notices newest first, ``PAGE_SIZE`` a page, by cursor or page number (services.infra.paging):
    two queries (count, rows).

    :raise paging.PageOutOfReach: a page number too deep to jump to (the view answers 404).
    """
    return paging.newest_first(sa.select(Notice).where(Notice.user_id == user.id), Notice.id, PAGE_SIZE,
                               cursor, jump)


def mark_read(user: User, ids: Iterable[int] | Literal["all"]) -> int:
    """Mark the user's notices read: the given ids, or all of them. Returns how many were unread.

    :raise LookupError: an id that is not one of the user's notices (the view answers 404).
    """
    query = sa.update(Notice).where(Notice.user_id == user.id, Notice.read_at.is_(None))
    with unit_of_work():
        if ids != "all":
            wanted = set(ids)
            owned = set(db.session.scalars(
                sa.select(Notice.id).where(Notice.user_id == user.id, Notice.id.in_(wanted))).all())
            if owned != wanted:
                raise LookupError(sorted(wanted - owned))
            if not wanted:
                return 0
            query = query.where(Notice.id.in_(wanted))
        return db.session.execute(  # type: ignore[attr-defined]  # an UPDATE's result counts rows (rowcount)
            query.values(read_at=utcnow()).execution_options(synchronize_session=False)).rowcount
