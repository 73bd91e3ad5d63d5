"""The platform administrator sends failed e-mails and text messages again: back to the queue, and a sending
job enqueued once that has committed (services.jobs.deliver claims each row, so nothing goes twice)."""

import sqlalchemy as sa

from extensions import db
from models import NoticeKind, OutboundMessage, OutboxStatus
from services import audit, jobs, messaging
from services.actors import Actor
from services.errors import DomainError
from services.infra.queue import enqueue_after_commit
from services.infra.transaction import unit_of_work

# A one-time code or link sent directly (not made from a notice): its text was blanked once it failed, the
# account_code table holding only its hash; its owner asks for a new one instead.
_ONE_TIME = sa.and_(OutboundMessage.kind == NoticeKind.ACCOUNT, OutboundMessage.notice_id.is_(None))
ONE_TIME_REFUSED = "一次性验证码或链接不能重新发送（只保存了其校验值），请用户重新获取"


def _requeue(actor: Actor, where: sa.ColumnElement[bool], action: str) -> list[int]:
    ids = list(db.session.scalars(
        sa.update(OutboundMessage)
        .where(OutboundMessage.status == OutboxStatus.FAILED, sa.not_(_ONE_TIME), where)
        .values(status=OutboxStatus.QUEUED, last_error="", claimed_at=None)
        .returning(OutboundMessage.id)))
    if ids:
        audit.record(actor, action, None, object_type="outbound_message",
                     details={"ids": sorted(ids)[:1000], "count": len(ids)})
        for chunk in messaging.chunked(sorted(ids), messaging.SEND_BATCH):
            enqueue_after_commit(db.session(), jobs.deliver.s(chunk))
    return ids


def resend(actor: Actor, message_id: int) -> None:
    """Queue one failed row again and send it.

    :raise LookupError: no failed row ``message_id`` (sent meanwhile, or never failed): the view answers 404.
    :raise DomainError: the row is a one-time code or link, which cannot be sent again.
    """
    with unit_of_work():
        row = db.session.get(OutboundMessage, message_id)
        if row is None or row.status != OutboxStatus.FAILED:
            raise LookupError(message_id)
        if row.kind == NoticeKind.ACCOUNT and row.notice_id is None:
            raise DomainError(ONE_TIME_REFUSED)
        _requeue(actor, OutboundMessage.id == message_id, "outbox.resend")


def resend_all(actor: Actor) -> int:
    """Queue every failed row again (one-time codes and links excepted) and send them; returns how many."""
    with unit_of_work():
        return len(_requeue(actor, sa.true(), "outbox.resend_all"))
