"""The demo's accounts and messages of issue 18: walk-in trainees a base registered (one claimed, one not yet),
the December reminder where the demo's today is in December, a learner's choices of channel, and a failed text
message and e-mail on the platform administrator's page. Run again, it adds nothing twice."""

from datetime import timedelta

import sqlalchemy as sa

from extensions import db
from models import (
    BaseMembership,
    Channel,
    NoticeKind,
    NoticePreference,
    OutboundMessage,
    OutboxStatus,
    Role,
    TrainingBase,
    User,
)
from models._common import utcnow
from services import deadline_reminders, resident_ids, walk_ins
from services.infra import clock

# 现场登记的学员: made-up names, numbers with a valid check character that belong to nobody, and phones of
# the demo's 154 prefix. The first has claimed the account (demo password); the second has not: claim it at
# /claim with the code the development SMS backend writes to the log.
WALK_INS = (("周桂兰", "51010419750812046", "15400000003", True), ("刘建军", "51010419820403171", "15400000004", False))
DEMO_LEARNER = "learner@jidi.demo"


def seed_messaging(password_hash: str) -> None:
    """``password_hash``: the demo password's, for the walk-in who has claimed the account."""
    _walk_ins(password_hash)
    _choices()
    _failures()
    db.session.commit()
    # December: the learners short of the year's hours hear of the deadline (once per stage, however often the
    # demo is seeded); the rest of the year this does nothing.
    deadline_reminders.remind(clock.today())


def _walk_ins(password_hash: str) -> None:
    admin = db.session.scalar(sa.select(User).where(User.email == "admin01@jidi.demo"))
    base = db.session.scalar(sa.select(TrainingBase).join(BaseMembership, BaseMembership.base_id == TrainingBase.id)
                             .where(BaseMembership.user_id == admin.id).limit(1)) if admin else None
    if base is None:
        return
    for name, first17, phone, claimed in WALK_INS:
        if db.session.scalar(sa.select(User.id).where(User.phone == phone)) is not None:
            continue
        id_number = first17 + resident_ids.check_character(first17)
        trainee, _created = walk_ins.register_walk_in(admin, base, name, id_number, phone)
        if claimed:
            trainee.password_hash = password_hash
            db.session.commit()


def _choices() -> None:
    """The demo learner wants review results by text message too."""
    learner = db.session.scalar(sa.select(User).where(User.email == DEMO_LEARNER))
    if learner is None or db.session.get(NoticePreference, (learner.id, NoticeKind.REVIEW, Channel.SMS)):
        return
    db.session.add(NoticePreference(user_id=learner.id, kind=NoticeKind.REVIEW, channel=Channel.SMS, enabled=True))


def _failures() -> None:
    """What the platform administrator's page of failures shows: a text message the provider refused (a number
    no longer in service) and an e-mail whose server could not be reached through all its retries."""
    if db.session.scalar(sa.select(OutboundMessage.id).where(OutboundMessage.status == OutboxStatus.FAILED).limit(1)):
        return
    learner = db.session.scalar(sa.select(User).where(User.role == Role.LEARNER, User.email.is_not(None))
                                .order_by(User.id).limit(1))
    if learner is None:
        return
    when = utcnow() - timedelta(days=2)
    db.session.add_all([
        OutboundMessage(channel=Channel.SMS, kind=NoticeKind.REVIEW, user_id=learner.id, recipient="15400009999",
                        sms_template="notice", body='{"kind": "学时申报审核结果", "summary": "您申报的学时已通过"}',
                        status=OutboxStatus.FAILED, attempts=1, created_at=when, claimed_at=when,
                        last_error="isv.MOBILE_NUMBER_ILLEGAL: 非法手机号"),
        OutboundMessage(channel=Channel.EMAIL, kind=NoticeKind.GENERAL, user_id=learner.id,
                        recipient=learner.email or "", subject="【继续教育基地平台】其他消息",
                        body=f"{learner.name}，您好：\n\n您的报名已确认。", status=OutboxStatus.FAILED, attempts=4,
                        created_at=when, claimed_at=when,
                        last_error="MailUnavailable: ConnectionRefusedError: [Errno 111] Connection refused"),
    ])
