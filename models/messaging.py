"""What the site sends and asks: the kinds of notice and the channels they go by, each person's choices, the
outbound e-mails and text messages (the outbox), one-time codes, and the record of background jobs."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models._common import LabelledEnum, Model, enum_column, utcnow


class NoticeKind(LabelledEnum):
    """What a notice is about; people choose, per kind, the channels it may reach them by."""

    GENERAL = "general", "其他消息"
    REVIEW = "review", "学时申报审核结果"
    WAITLIST = "waitlist", "候补递补"
    COURSE = "course", "课程变更或取消"
    PLAN = "plan", "办班计划审批"
    APPLICATION = "application", "基地申报与单位注册审核"
    EMPLOYMENT = "employment", "单位确认任职"
    DEADLINE = "deadline", "年度学时截止提醒"
    OVERDUE = "overdue", "审核超期提醒"
    EVALUATION = "evaluation", "年度评估结论"
    ACCOUNT = "account", "账号安全"


class Channel(LabelledEnum):
    INBOX = "inbox", "站内消息"
    EMAIL = "email", "电子邮件"
    SMS = "sms", "短信"


class NoticePreference(Model):
    """A person's choice for one kind of notice on one channel, where it differs from the default
    (services.messaging.DEFAULTS); the site's inbox is always on."""

    __tablename__ = "notice_preference"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[NoticeKind] = mapped_column(enum_column(NoticeKind), primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel), primary_key=True)
    enabled: Mapped[bool]


class OutboxStatus(LabelledEnum):
    QUEUED = "queued", "待发送"
    SENDING = "sending", "发送中"
    SENT = "sent", "已发送"
    FAILED = "failed", "发送失败"


class OutboundMessage(Model):
    """One e-mail or text message to send (the transactional outbox): written in the same transaction as
    what caused it, sent by a job after the commit, claimed before sending so that no rerun sends it twice."""

    __tablename__ = "outbound_message"
    __table_args__ = (
        sa.Index("ix_outbound_message_status", "status", "id"),
        # A notice goes once per channel, however often the job that fans it out runs.
        sa.UniqueConstraint("notice_id", "channel", name="notice_channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    kind: Mapped[NoticeKind] = mapped_column(enum_column(NoticeKind))
    notice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notice.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    # The address or phone number, as it was when the message was made.
    recipient: Mapped[str] = mapped_column(sa.String(255))
    subject: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    # E-mail: the text; SMS: the template's parameters as JSON (services.infra.sms). A one-time code's body is
    # blanked once sent: the code is kept only as a hash (account_code).
    body: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    sms_template: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column(OutboxStatus), default=OutboxStatus.QUEUED, server_default=OutboxStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class CodePurpose(LabelledEnum):
    RESET = "reset", "找回密码"
    CLAIM = "claim", "认领账号"
    PHONE = "phone", "更换手机号"
    EMAIL = "email", "更换邮箱"


class AccountCode(Model):
    """A one-time code (six digits by text message) or link token (by e-mail), kept only as a keyed hash:
    single use, short-lived, a few guesses at most."""

    __tablename__ = "account_code"
    __table_args__ = (sa.Index("ix_account_code_user_purpose", "user_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    purpose: Mapped[CodePurpose] = mapped_column(enum_column(CodePurpose))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    # Where it was sent: for a change of phone or e-mail, the new one, which becomes the account's on success.
    target: Mapped[str] = mapped_column(sa.String(255))
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class JobStatus(LabelledEnum):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "进行中"
    DONE = "done", "已完成"
    FAILED = "failed", "失败"


class JobRecord(Model):
    """A background job someone may want to follow or the platform administrator must see fail: long work
    asked for on a page (a province's evaluation, an export) and every job whose retries ran out."""

    __tablename__ = "job_record"
    __table_args__ = (sa.Index("ix_job_record_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[JobStatus] = mapped_column(
        enum_column(JobStatus), default=JobStatus.QUEUED, server_default=JobStatus.QUEUED.value)
    # What it was asked to do and what came of it (JSON text): no personal data.
    params: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    result: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    error: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
