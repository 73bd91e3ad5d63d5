"""Notices beyond the site's inbox: each person's choice of channel per kind of notice, the outbox of e-mails
and text messages made from notices (or sent directly: a one-time code, an applicant without an account), and
their delivery.

A notice is written in the transaction of what caused it (services.inbox); once that commits, a job fans it
out to the channels its person chose, as rows of the outbox, and other jobs send those rows (services.jobs).
A row is claimed (queued → sending) before it is sent, so that a job run twice, or two workers, never send
it twice; a notice makes at most one row per channel (a UNIQUE key), however often it is fanned out.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from extensions import db
from models import Channel, Notice, NoticeKind, NoticePreference, OutboundMessage, OutboxStatus, Role, User
from models._common import utcnow
from services.infra import mail, sms
from services.infra.transaction import end_reads, unit_of_work

# The channels a kind goes by unless the person says otherwise (the site's inbox is always on). E-mail is on
# for everything, text messages (which cost the platform money and interrupt) only for what has a deadline
# or concerns the account's safety.
DEFAULTS: dict[NoticeKind, frozenset[Channel]] = {
    kind: frozenset({Channel.EMAIL, Channel.SMS} if kind in (NoticeKind.DEADLINE, NoticeKind.ACCOUNT)
                    else {Channel.EMAIL})
    for kind in NoticeKind
}
# What a person may turn off: e-mail and text messages (the inbox is the record of what the site said).
CHOOSABLE = (Channel.EMAIL, Channel.SMS)
# Rows sent per job: one SMTP connection each.
SEND_BATCH = 100
FAN_OUT_BATCH = 500


# The kinds of notice each role may receive: what its page of choices offers (every kind, in the enum's order,
# for a role not listed). A learner is never told of a class plan, a reviewer never of a waitlist.
_K = NoticeKind
KINDS_FOR_ROLE: dict[Role, tuple[NoticeKind, ...]] = {
    Role.LEARNER: (_K.REVIEW, _K.WAITLIST, _K.COURSE, _K.EMPLOYMENT, _K.DEADLINE, _K.ACCOUNT, _K.GENERAL),
    Role.BASE_ADMIN: (_K.PLAN, _K.APPLICATION, _K.EVALUATION, _K.ACCOUNT, _K.GENERAL),
    Role.REVIEWER: (_K.OVERDUE, _K.ACCOUNT, _K.GENERAL),
    Role.EMPLOYER_ADMIN: (_K.APPLICATION, _K.OVERDUE, _K.ACCOUNT, _K.GENERAL),
    Role.SECTOR_OFFICER: (_K.OVERDUE, _K.ACCOUNT, _K.GENERAL),
    Role.REGULATOR: (_K.OVERDUE, _K.ACCOUNT, _K.GENERAL),
    Role.PLATFORM_ADMIN: (_K.ACCOUNT, _K.GENERAL),
}


def kinds_for(user: User) -> tuple[NoticeKind, ...]:
    return KINDS_FOR_ROLE.get(user.role, tuple(NoticeKind))


def kind_of(value: str) -> NoticeKind:
    try:
        return NoticeKind(value)
    except ValueError:
        return NoticeKind.GENERAL


# --- choices ---------------------------------------------------------------------------------------------

def choices(user: User) -> dict[tuple[NoticeKind, Channel], bool]:
    """Every (kind, channel) a person may choose, with what applies to them now (one query)."""
    saved = {(p.kind, p.channel): p.enabled for p in db.session.scalars(
        sa.select(NoticePreference).where(NoticePreference.user_id == user.id))}
    return {(kind, channel): saved.get((kind, channel), channel in DEFAULTS[kind])
            for kind in NoticeKind for channel in CHOOSABLE}


def set_choices(user: User, enabled: Iterable[tuple[NoticeKind, Channel]],
                kinds: Iterable[NoticeKind] | None = None) -> None:
    """Keep the person's choices for ``kinds`` (default: every kind): ``enabled`` are the (kind, channel) pairs
    they want; every other choosable pair of those kinds is off, and other kinds' choices stay as they were.
    Only what differs from the default is stored."""
    wanted = set(enabled)
    chosen = list(NoticeKind) if kinds is None else list(dict.fromkeys(kinds))
    with unit_of_work():
        db.session.execute(sa.delete(NoticePreference).where(NoticePreference.user_id == user.id,
                                                             NoticePreference.kind.in_(chosen)))
        for kind in chosen:
            for channel in CHOOSABLE:
                on = (kind, channel) in wanted
                if on != (channel in DEFAULTS[kind]):
                    db.session.add(NoticePreference(user_id=user.id, kind=kind, channel=channel, enabled=on))


# --- making the outbox -----------------------------------------------------------------------------------

def _email_body(name: str, message: str, link: str, kind: NoticeKind) -> str:
    """A notice's e-mail: the greeting, the message, the link to it on the site, and how to stop this kind of
    e-mail (the page of choices; the notice stays in the site's inbox)."""
    site = current_app.config["SITE_URL"].rstrip("/")
    lines = [f"{name}，您好：", "", message, ""]
    if link:
        lines += [f"查看详情：{site}{link}", ""]
    lines += ["——", "此邮件由继续教育基地平台自动发送，请勿直接回复。登录平台后，可在“消息”中查看全部通知。",
              f"如不想再通过邮件接收“{kind.label}”，可在“通知设置”中关闭：{site}/account/notifications"]
    return "\n".join(lines)


def subject_for(kind: NoticeKind) -> str:
    return f"【继续教育基地平台】{kind.label}"


def fan_out(notice_ids: Sequence[int]) -> list[int]:
    """Make the outbox rows of these notices, by each person's choices, and commit them; returns the new rows'
    ids (to be sent), and mark the notices fanned out. A notice already fanned out makes nothing again. Three
    queries, one insert and one update."""
    if not notice_ids:
        return []
    rows = db.session.execute(
        sa.select(Notice.id, Notice.user_id, Notice.kind, Notice.message, Notice.link,
                  User.name, User.email, User.phone)
        .join(User, Notice.user_id == User.id)
        .where(Notice.id.in_(notice_ids), User.active.is_(True), User.closed_at.is_(None))).all()
    user_ids = {row.user_id for row in rows}
    saved = {(p.user_id, p.kind, p.channel): p.enabled for p in db.session.scalars(
        sa.select(NoticePreference).where(NoticePreference.user_id.in_(user_ids)))} if user_ids else {}
    done = set(db.session.execute(
        sa.select(OutboundMessage.notice_id, OutboundMessage.channel)
        .where(OutboundMessage.notice_id.in_(notice_ids))).tuples().all())
    values: list[dict] = []
    for row in rows:
        kind = kind_of(row.kind)
        for channel, recipient in ((Channel.EMAIL, row.email), (Channel.SMS, row.phone)):
            wanted = saved.get((row.user_id, kind, channel), channel in DEFAULTS[kind])
            if not wanted or not recipient or (row.id, channel) in done:
                continue
            values.append(_row_for(row, kind, channel, recipient))
    # The reads end before the insert begins a transaction of its own: on SQLite a transaction that read and
    # then writes cannot wait for the write lock (WAL) and fails at once while other workers write.
    end_reads()
    with unit_of_work():
        ids = list(db.session.scalars(sa.insert(OutboundMessage).returning(OutboundMessage.id), values)) \
            if values else []
        db.session.execute(sa.update(Notice).where(Notice.id.in_(notice_ids), Notice.fanned_out_at.is_(None))
                           .values(fanned_out_at=utcnow()))
    return ids


def not_fanned_out(before_seconds: int = 120, limit: int = 5000) -> list[int]:
    """Notices older than ``before_seconds`` whose fan-out never ran (the queue's store was down at their
    commit): the sweep fans them out (a partial index holds only these)."""
    cutoff = utcnow() - _seconds(before_seconds)
    return list(db.session.scalars(
        sa.select(Notice.id).where(Notice.fanned_out_at.is_(None), Notice.created_at < cutoff)
        .order_by(Notice.id).limit(limit)))


def _row_for(row: sa.Row, kind: NoticeKind, channel: Channel, recipient: str) -> dict:
    common = {"channel": channel, "kind": kind, "notice_id": row.id, "user_id": row.user_id,
              "recipient": recipient, "status": OutboxStatus.QUEUED, "attempts": 0, "created_at": utcnow()}
    if channel == Channel.EMAIL:
        return {**common, "subject": subject_for(kind), "body": _email_body(row.name, row.message, row.link, kind),
                "sms_template": ""}
    return {**common, "subject": "", "sms_template": "notice",
            "body": json.dumps({"kind": kind.label, "summary": row.message}, ensure_ascii=False)}


def send_direct(  # noqa: PLR0913  a message's parts, by keyword
        channel: Channel, recipient: str, *, kind: NoticeKind = NoticeKind.ACCOUNT, subject: str = "",
                body: str = "", sms_template: str = "", sms_params: dict[str, str] | None = None,
                user_id: int | None = None) -> OutboundMessage:
    """Add to the session a message not made from a notice (a one-time code, a link, an applicant's answer);
    the caller's unit of work commits it and it is sent after the commit (services.jobs)."""
    message = OutboundMessage(
        channel=channel, kind=kind, user_id=user_id, recipient=recipient, subject=subject[:200],
        body=json.dumps(sms_params or {}, ensure_ascii=False) if channel == Channel.SMS else body,
        sms_template=sms_template if channel == Channel.SMS else "")
    db.session.add(message)
    return message


# --- sending ---------------------------------------------------------------------------------------------

@dataclass
class Delivery:
    sent: int = 0
    refused: int = 0  # final: the server or provider refused the address or the message
    postponed: int = 0  # the server or provider was unavailable: to be tried again (or failed, if final)


def _claim(ids: Sequence[int]) -> list[int]:
    """Mark the queued rows among ``ids`` as being sent, one statement: a row another run claimed is skipped."""
    with unit_of_work():
        return list(db.session.scalars(
            sa.update(OutboundMessage)
            .where(OutboundMessage.id.in_(ids), OutboundMessage.status == OutboxStatus.QUEUED)
            .values(status=OutboxStatus.SENDING, claimed_at=utcnow(), attempts=OutboundMessage.attempts + 1)
            .returning(OutboundMessage.id)))


def deliver(ids: Sequence[int], *, final: bool) -> Delivery:
    """Send the queued rows among ``ids``: e-mails over one SMTP connection, text messages one by one. Each
    is marked sent or refused; those the server or provider could not take are queued again for the next
    attempt, or marked failed when this attempt is the last (``final``)."""
    claimed = _claim(ids)
    if not claimed:
        return Delivery()
    rows = db.session.execute(
        sa.select(OutboundMessage.id, OutboundMessage.channel, OutboundMessage.recipient, OutboundMessage.subject,
                  OutboundMessage.body, OutboundMessage.sms_template)
        .where(OutboundMessage.id.in_(claimed)).order_by(OutboundMessage.id)).all()
    end_reads()  # no transaction is held while the network is waited for
    outcome: dict[int, tuple[OutboxStatus, str]] = {}
    emails = [row for row in rows if row.channel == Channel.EMAIL]
    try:
        results = mail.send_batch([mail.Mail(row.recipient, row.subject, row.body) for row in emails])
        for row, problem in zip(emails, results, strict=True):
            outcome[row.id] = (OutboxStatus.SENT, "") if problem is None else (OutboxStatus.FAILED, problem)
    except mail.MailUnavailable as error:
        for row in emails:
            outcome[row.id] = (OutboxStatus.QUEUED, str(error))
    for row in rows:
        if row.channel != Channel.SMS:
            continue
        try:
            problem = sms.send(row.recipient, row.sms_template, json.loads(row.body or "{}"))
            outcome[row.id] = (OutboxStatus.SENT, "") if problem is None else (OutboxStatus.FAILED, problem)
        except sms.SmsUnavailable as error:
            outcome[row.id] = (OutboxStatus.QUEUED, str(error))
    return _record(outcome, final)


def _record(outcome: dict[int, tuple[OutboxStatus, str]], final: bool) -> Delivery:
    result = Delivery()
    now = utcnow()
    by_state: dict[tuple[OutboxStatus, str], list[int]] = {}
    for row_id, (status, problem) in outcome.items():
        if status == OutboxStatus.QUEUED:
            result.postponed += 1
            status = OutboxStatus.FAILED if final else OutboxStatus.QUEUED
        elif status == OutboxStatus.SENT:
            result.sent += 1
        else:
            result.refused += 1
        by_state.setdefault((status, problem[:500]), []).append(row_id)
    with unit_of_work():
        for (status, problem), ids in by_state.items():
            values: dict = {"status": status, "last_error": problem}
            if status == OutboxStatus.SENT:
                values["sent_at"] = now
            db.session.execute(sa.update(OutboundMessage).where(OutboundMessage.id.in_(ids)).values(**values))
        # A one-time code or link is not kept once it has gone: the account_code table holds its hash.
        db.session.execute(
            sa.update(OutboundMessage)
            .where(OutboundMessage.id.in_(list(outcome)), OutboundMessage.kind == NoticeKind.ACCOUNT,
                   OutboundMessage.notice_id.is_(None), OutboundMessage.status != OutboxStatus.QUEUED)
            .values(body=""))
    return result


def stale(before_seconds: int = 120, limit: int = 5000) -> list[int]:
    """Queued rows older than ``before_seconds`` whose job was lost (the queue's store was down at the commit,
    or a worker died): the sweep sends them again."""
    cutoff = utcnow() - _seconds(before_seconds)
    return list(db.session.scalars(
        sa.select(OutboundMessage.id)
        .where(OutboundMessage.status == OutboxStatus.QUEUED, OutboundMessage.created_at < cutoff)
        .order_by(OutboundMessage.id).limit(limit)))


def abandon_stuck(after_seconds: int = 900) -> int:
    """Rows claimed but neither sent nor refused after ``after_seconds`` (the worker died mid-send): marked
    failed, not sent again, since whether they left cannot be known (at most once); the platform administrator
    sees them and may send them again."""
    cutoff = utcnow() - _seconds(after_seconds)
    with unit_of_work():
        return db.session.execute(  # type: ignore[attr-defined]  # an UPDATE's result counts rows
            sa.update(OutboundMessage)
            .where(OutboundMessage.status == OutboxStatus.SENDING, OutboundMessage.claimed_at < cutoff)
            .values(status=OutboxStatus.FAILED, last_error="发送中断：工作进程在发送时退出，未确认是否送达")
        ).rowcount


def _seconds(n: int) -> timedelta:
    return timedelta(seconds=n)


def chunked(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[i:i + size]) for i in range(0, len(ids), size)]
