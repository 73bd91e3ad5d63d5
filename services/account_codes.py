"""One-time codes and links: resetting a forgotten password (a code by text message or a link by e-mail),
claiming an account a base registered for a walk-in trainee (the same flow), and changing one's phone or
e-mail (a code sent to the new one).

A code or link is kept only as a keyed hash (account_code.digest): six digits valid ten minutes with at most
five guesses, or a link token valid thirty minutes; single use; a new one voids the older ones of the same
flow. Asking for a reset answers the same whether or not the account exists, and does the same work.
"""

import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import AccountCode, Channel, CodePurpose, NoticeKind, User
from models._common import utcnow
from services import audit, auth, identifiers, inbox, messaging, resident_ids
from services.errors import DomainError
from services.infra.transaction import unit_of_work

CODE_TTL = timedelta(minutes=10)
LINK_TTL = timedelta(minutes=30)
MAX_ATTEMPTS = 5
CODE_DIGITS = 6
# A new code voids the live ones of its flow: a reset and a claim are one flow, so are both contact changes.
RESET_FLOW = (CodePurpose.RESET, CodePurpose.CLAIM)
CONTACT_FLOW = (CodePurpose.PHONE, CodePurpose.EMAIL)

# Where the typed phone may reach no account, every refusal reads the same: a different one for an expired
# or exhausted code would tell that an account stands behind the number.
CODE_REFUSED = "验证码不正确或已失效（10 分钟内有效，最多可试 5 次），请核对或重新获取"
LINK_UNKNOWN = "链接无效，请重新申请找回密码"
LINK_USED = "该链接已使用过，请重新申请找回密码"
LINK_EXPIRED = "链接已过期（30 分钟内有效），请重新申请找回密码"
CONTACT_TAKEN = "该手机号或邮箱无法使用，请换一个"
CODE_WRONG = "验证码不正确，还可再试 {left} 次"
CODE_EXPIRED = "验证码已过期（10 分钟内有效），请重新获取"
CODE_EXHAUSTED = "验证码错误次数过多，已失效，请重新获取"
CODE_NONE = "没有待确认的验证码，请重新获取"


class _ContactTaken(Exception):
    """The new phone or e-mail is another account's (found by the check before the change)."""


def _digest(*parts: str) -> str:
    return resident_ids.keyed_digests(b"account codes", [":".join(parts)])[0]


def _code_digest(user_id: int, purpose: CodePurpose, expires_at: datetime, code: str) -> str:
    # Six digits repeat between people and over time: the row's own user, purpose and expiry make its hash
    # unique (digest is a UNIQUE column) without a salt column.
    return _digest("code", str(user_id), purpose.value, expires_at.isoformat(), code)


def _link_digest(token: str) -> str:
    # A link's token is unguessable and unique alone: it is looked up by its hash.
    return _digest("link", token)


def _new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def _void(user_id: int, purposes: Sequence[CodePurpose], now: datetime) -> None:
    """End the live codes of a flow early (their expiry becomes now): only the newest one works."""
    db.session.execute(
        sa.update(AccountCode)
        .where(AccountCode.user_id == user_id, AccountCode.purpose.in_(purposes), AccountCode.used_at.is_(None),
               AccountCode.expires_at > now)
        .values(expires_at=now).execution_options(synchronize_session=False))


def _issue_code(user: User, purpose: CodePurpose, channel: Channel, target: str, code: str) -> None:
    now = utcnow()
    _void(user.id, RESET_FLOW if purpose in RESET_FLOW else CONTACT_FLOW, now)
    expires_at = now + CODE_TTL
    db.session.add(AccountCode(user_id=user.id, purpose=purpose, channel=channel, target=target,
                               digest=_code_digest(user.id, purpose, expires_at, code), created_at=now,
                               expires_at=expires_at))


def _issue_link(user: User, purpose: CodePurpose, target: str, token: str) -> None:
    now = utcnow()
    _void(user.id, RESET_FLOW, now)
    db.session.add(AccountCode(user_id=user.id, purpose=purpose, channel=Channel.EMAIL, target=target,
                               digest=_link_digest(token), created_at=now, expires_at=now + LINK_TTL))


def _site() -> str:
    return current_app.config["SITE_URL"].rstrip("/")


def _email_code(user: User, target: str, subject: str, lines: list[str]) -> None:
    body = "\n".join([f"{user.name}，您好：", "", *lines, "",
                      "如非本人操作，请忽略本邮件，您的账号不会有任何变化。", "——",
                      "此邮件由继续教育基地平台自动发送，请勿直接回复。"])
    messaging.send_direct(Channel.EMAIL, target, subject=f"【继续教育基地平台】{subject}", body=body, user_id=user.id)


def _sms_code(user: User, target: str, code: str) -> None:
    messaging.send_direct(Channel.SMS, target, sms_template="code", sms_params={"code": code}, user_id=user.id)


# --- password reset and claiming --------------------------------------------------------------------------

def _account(login: str) -> User | None:
    """The account ``login`` (normalised) reaches, if it may receive a code: active and not closed."""
    user = db.session.execute(
        sa.select(User).where(sa.or_(User.phone == login, User.email == login))).scalar_one_or_none()
    if user is None or not user.active or user.closed_at is not None:
        return None
    return user


def channel_for(login: str) -> Channel:
    """How a reset reaches ``login`` (normalised): a code by text message to a phone, else a link by e-mail."""
    return Channel.SMS if identifiers.is_mobile(login) else Channel.EMAIL


def request_reset(login: str) -> Channel:
    """Send a reset code (a phone) or link (an e-mail) to ``login`` if it reaches an active account; an
    unclaimed walk-in account gets the same, to claim it (CodePurpose.CLAIM). Returns the channel, which the
    caller names in its answer whether or not anything was sent: the answer, and the work done (a secret
    made and hashed, one audit entry written), are the same for an unknown login. Raises nothing."""
    login = auth.normalise_login(login)[:255]
    channel = channel_for(login)
    user = _account(login)
    # Made for an unknown login too, and the entry below written either way: no answer comes back sooner.
    secret = _new_code() if channel == Channel.SMS else secrets.token_urlsafe(32)
    with unit_of_work():
        if user is not None:
            purpose = CodePurpose.RESET if user.claimed else CodePurpose.CLAIM
            if channel == Channel.SMS:
                _issue_code(user, purpose, channel, login, secret)
                _sms_code(user, login, secret)
            else:
                _issue_link(user, purpose, login, secret)
                _email_code(user, login, "找回密码", [
                    "您正在找回继续教育基地平台的登录密码。请在 30 分钟内打开下面的链接设置新密码（仅可使用一次）：",
                    f"{_site()}/reset/{secret}"])
        audit.record(None, "auth.reset_requested", user, object_type="user", details={
            "login": auth.masked(login), "channel": channel.value,
            "result": "sent" if user is not None else "no active account"})
    return channel


def _refuse(user: User | None, action: str, reason: str, target: str, message: str, field: str) -> DomainError:
    """Audit a refused code or link in a transaction of its own (the attempt it counted is committed already)
    and return the error to raise."""
    audit.record_now(None, action, user, object_type="user",
                     details={"result": reason, "target": auth.masked(target)})
    return DomainError(message, field=field)


def _live_code(user_id: int, purposes: Sequence[CodePurpose]) -> AccountCode | None:
    """The user's newest unused code of a flow, expired or not."""
    return db.session.scalars(
        sa.select(AccountCode)
        .where(AccountCode.user_id == user_id, AccountCode.purpose.in_(purposes), AccountCode.used_at.is_(None),
               AccountCode.channel != Channel.EMAIL if purposes == RESET_FLOW else sa.true())
        .order_by(AccountCode.id.desc()).limit(1)).first()


def _why_dead(row: AccountCode | None, now: datetime) -> str | None:
    if row is None:
        return "no code"
    if row.expires_at <= now:
        return "expired"
    if row.attempts >= MAX_ATTEMPTS:
        return "too many attempts"
    return None


def _guess(row: AccountCode, code: str) -> bool:
    """Count one attempt at ``row`` (committed, whatever follows) and say whether ``code`` is its code. The
    attempt is taken by one conditional UPDATE, so that guesses sent at once cannot pass the five."""
    now = utcnow()
    with unit_of_work():
        taken = db.session.execute(
            sa.update(AccountCode)
            .where(AccountCode.id == row.id, AccountCode.attempts < MAX_ATTEMPTS, AccountCode.used_at.is_(None),
                   AccountCode.expires_at > now)
            .values(attempts=AccountCode.attempts + 1).returning(AccountCode.id)).scalar_one_or_none()
    if taken is None:
        return False
    expected = _code_digest(row.user_id, row.purpose, row.expires_at, code)
    return hmac.compare_digest(expected, row.digest)


def _use(row_id: int) -> bool:
    """Mark a code used, in the caller's unit of work; False if another request used it first."""
    return db.session.execute(
        sa.update(AccountCode).where(AccountCode.id == row_id, AccountCode.used_at.is_(None))
        .values(used_at=utcnow()).returning(AccountCode.id)).scalar_one_or_none() is not None


def _set_password(user: User, row: AccountCode, password: str) -> CodePurpose:
    """Give ``user`` the password and end every session, the code ``row`` used: one unit of work."""
    auth.check_new_password(password, "password", [user.name, user.phone or "", user.email or ""])
    claiming = not user.claimed
    with unit_of_work():
        if not _use(row.id):  # another request used it first
            if row.channel == Channel.SMS:
                raise DomainError(CODE_REFUSED, field="code")
            raise DomainError(LINK_USED, field="link")
        _void(user.id, RESET_FLOW, utcnow())
        user.set_password(password)
        user.must_change_password = False
        user.end_sessions()
        # The person who proved they hold the phone or mailbox acts: the entry is theirs, like a sign-in.
        audit.record(user, "auth.account_claimed" if claiming else "auth.password_reset", user, details={
            "channel": row.channel.value, "target": auth.masked(row.target), "result": "ok, every session ended"})
        if claiming:
            message = "您已认领账号并设置了登录密码。如非本人操作，请立即联系登记您的基地或平台客服。"
        else:
            message = ("您的密码已重置，所有设备上的登录已退出。如非本人操作，请立即再次找回密码"
                       "并联系平台客服。")
        inbox.notify(user.id, message, "/account/password", kind=NoticeKind.ACCOUNT)
    return CodePurpose.CLAIM if claiming else CodePurpose.RESET


def reset_with_code(login: str, code: str, password: str) -> tuple[User, CodePurpose]:
    """Set a new password with the code sent by text message to ``login``; every session ends. Returns the
    account and whether it was a reset or a claim (CodePurpose).

    :raise DomainError: the password is easy to guess (field ``password``), checked before the code so that a
        refused password tells nothing of the code; the code is wrong, expired, used, voided or out of
        guesses, or ``login`` reaches no account (field ``code``, one message for all, audited).
    """
    login = auth.normalise_login(login)[:255]
    code = identifiers.compact(code)
    auth.check_new_password(password, "password", [login])
    user = _account(login)
    row = _live_code(user.id, RESET_FLOW) if user is not None else None
    reason = _why_dead(row, utcnow())
    if reason is None and row is not None and not _guess(row, code):
        reason = "wrong code"
    if reason is not None or row is None or user is None:
        raise _refuse(user, "auth.reset_code_refused", reason or "no code", login, CODE_REFUSED, "code")
    return user, _set_password(user, row, password)


def _link_row(token: str) -> tuple[AccountCode | None, str | None]:
    row = db.session.scalars(sa.select(AccountCode).where(
        AccountCode.digest == _link_digest(token[:100]), AccountCode.channel == Channel.EMAIL,
        AccountCode.purpose.in_(RESET_FLOW))).first()
    if row is None:
        return None, LINK_UNKNOWN
    if row.used_at is not None:
        return row, LINK_USED
    if row.expires_at <= utcnow():
        return row, LINK_EXPIRED
    return row, None


def check_link(token: str) -> None:
    """Whether the reset link's ``token`` may still be used (read only: opening the page uses nothing).

    :raise DomainError: unknown, used or expired (field ``link``).
    """
    _row, problem = _link_row(token)
    if problem:
        raise DomainError(problem, field="link")


def reset_with_link(token: str, password: str) -> tuple[User, CodePurpose]:
    """Set a new password with the link sent by e-mail; every session ends. Returns as reset_with_code.

    :raise DomainError: the link is unknown, used or expired (field ``link``, audited), or the password is
        refused (field ``password``).
    """
    row, problem = _link_row(token)
    user = db.session.get(User, row.user_id) if row is not None else None
    if user is not None and (not user.active or user.closed_at is not None):
        problem = LINK_UNKNOWN
    if problem or row is None or user is None:
        reason = {LINK_USED: "used", LINK_EXPIRED: "expired"}.get(problem or "", "unknown link")
        raise _refuse(user, "auth.reset_link_refused", reason, row.target if row else "", problem or LINK_UNKNOWN,
                      "link")
    return user, _set_password(user, row, password)


# --- changing the phone or e-mail -------------------------------------------------------------------------

def _new_contact(user: User, value: str) -> tuple[CodePurpose, str]:
    value = auth.normalise_login(value)[:255]
    if identifiers.is_mobile(value):
        purpose, current = CodePurpose.PHONE, user.phone
    else:
        try:
            value = validate_email(value, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            raise DomainError("请填写 11 位手机号或有效的邮箱地址", field="contact") from None
        purpose, current = CodePurpose.EMAIL, user.email
    if value == current:
        raise DomainError("这就是您现在使用的手机号或邮箱", field="contact")
    return purpose, value


def _taken(value: str, user_id: int) -> bool:
    return db.session.scalar(sa.select(sa.func.count(User.id)).where(
        sa.or_(User.phone == value, User.email == value), User.id != user_id)) != 0


def request_contact_change(user: User, value: str) -> CodePurpose:
    """Send a six-digit code to the new phone (text message) or e-mail ``value``; entering it within ten
    minutes makes it the account's (confirm_contact_change). Returns which of the two it is.

    :raise DomainError: (field ``contact``) not a mobile number or an e-mail address, the current one, or one
        another account holds (a neutral message, audited).
    """
    purpose, value = _new_contact(user, value)
    if _taken(value, user.id):
        audit.record_now(user, "account.contact_refused", user,
                         details={"result": "taken", "new": auth.masked(value), "stage": "request"})
        raise DomainError(CONTACT_TAKEN, field="contact")
    code = _new_code()
    with unit_of_work():
        if purpose == CodePurpose.PHONE:
            _issue_code(user, purpose, Channel.SMS, value, code)
            _sms_code(user, value, code)
        else:
            _issue_code(user, purpose, Channel.EMAIL, value, code)
            _email_code(user, value, "更换邮箱验证码", [
                f"您正在将继续教育基地平台账号的邮箱更换为本邮箱。验证码：{code}", "10 分钟内有效，请勿告诉他人。"])
        audit.record(user, "account.contact_code_sent", user,
                     details={"kind": purpose.value, "new": auth.masked(value)})
    return purpose


def pending_contact(user: User) -> str | None:
    """The masked phone or e-mail a live contact-change code was sent to, if any."""
    row = _live_code(user.id, CONTACT_FLOW)
    if row is None or _why_dead(row, utcnow()) is not None:
        return None
    return auth.masked(row.target)


def confirm_contact_change(user: User, code: str) -> CodePurpose:
    """Make the new phone or e-mail the account's with the code sent to it; the old one is told, and so is
    the inbox. Returns which of the two changed.

    :raise DomainError: (field ``code``) no code, or it is wrong, expired or out of guesses, each with its
        reason (audited); the number or address was taken meanwhile (neutral, audited).
    """
    code = identifiers.compact(code)
    row = _live_code(user.id, CONTACT_FLOW)
    reason = _why_dead(row, utcnow())
    if reason is None and row is not None and not _guess(row, code):
        reason = "wrong code"
    if reason is not None or row is None:
        left = MAX_ATTEMPTS - row.attempts if row is not None else 0  # reloaded: this attempt counted
        message = {"no code": CODE_NONE, "expired": CODE_EXPIRED, "too many attempts": CODE_EXHAUSTED}.get(
            reason or "", CODE_WRONG.format(left=left) if left > 0 else CODE_EXHAUSTED)
        audit.record_now(user, "account.contact_code_refused", user,
                         details={"result": reason, "new": auth.masked(row.target) if row else ""})
        raise DomainError(message, field="code")
    try:
        _change_contact(user, row)
    except (_ContactTaken, IntegrityError):  # IntegrityError: taken between the check and the commit
        pass
    else:
        return row.purpose
    audit.record_now(user, "account.contact_refused", user,
                     details={"result": "taken", "new": auth.masked(row.target), "stage": "confirm"})
    raise DomainError(CONTACT_TAKEN, field="code")


def _change_contact(user: User, row: AccountCode) -> None:
    """One unit of work: the contact changed, the code used, the change audited and told.

    :raise _ContactTaken: the new contact is another account's.
    :raise IntegrityError: another account took it meanwhile (the UNIQUE key).
    """
    is_phone = row.purpose == CodePurpose.PHONE
    label = "手机号" if is_phone else "邮箱"
    with unit_of_work():
        if _taken(row.target, user.id):
            raise _ContactTaken
        if not _use(row.id):
            raise DomainError(CODE_NONE, field="code")
        old = user.phone if is_phone else user.email
        if is_phone:
            user.phone = row.target
        else:
            user.email = row.target
        db.session.flush()
        audit.record(user, "account.contact_changed", user, details={
            "kind": row.purpose.value, "old": auth.masked(old) if old else "", "new": auth.masked(row.target)})
        summary = (f"您账号的{label}已更换为 {auth.masked(row.target)}。如非本人操作，请立即找回密码并联系平台客服。")
        inbox.notify(user.id, summary, "/account/contact", kind=NoticeKind.ACCOUNT)
        if old and is_phone:
            messaging.send_direct(Channel.SMS, old, sms_template="notice", user_id=user.id,
                                  sms_params={"kind": NoticeKind.ACCOUNT.label, "summary": summary})
        elif old:
            messaging.send_direct(Channel.EMAIL, old, subject=messaging.subject_for(NoticeKind.ACCOUNT),
                                  body=f"{user.name}，您好：\n\n{summary}\n\n——\n此邮件由继续教育基地平台自动发送，请勿直接回复。",
                                  user_id=user.id)
