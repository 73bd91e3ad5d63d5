"""Signing in: finding an account by phone or email and checking its password; changing it; signing out."""

import secrets
from functools import cache

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from models import User
from models._common import utcnow
from services import audit, identifiers, resident_ids, text
from services.errors import DomainError
from services.infra.transaction import unit_of_work


@cache
def _dummy_hash() -> str:
    """Checked when no account matches, so that a wrong login costs the time of a wrong password."""
    return generate_password_hash(secrets.token_hex(16))


def normalise_login(login: str | None) -> str:
    """The one spelling of a sign-in name, used by the form, the rate limit and the lookup alike (and by
    registration for the e-mail it stores): full-width letters and digits of any script as ASCII, no invisible
    characters, no spaces around, lower case; a phone typed in groups ("139 0000-0001") without them.
    Were any of them to read the typed text another way, one account would have several attempt budgets."""
    text = identifiers.canonical(login).lower()
    digits = identifiers.compact(text)
    return digits if identifiers.is_ascii_digits(digits) else text


def _account_for(login: str) -> User | None:
    """The account (active or not) whose phone or e-mail is ``login`` (normalised)."""
    return db.session.execute(
        sa.select(User).where(sa.or_(User.phone == login, User.email == login))
    ).scalar_one_or_none()


def attempt_key(login: str | None) -> str:
    """What failed sign-ins are counted against: the account ``login`` reaches, whichever of its phone or
    e-mail and however it was typed; only when it reaches none, the normalised text. The text is kept as a
    keyed hash: the counter's key lands in Redis and in the limiter's log line, and a phone is personal data."""
    login = normalise_login(login)[:255]
    user_id = db.session.execute(
        sa.select(User.id).where(sa.or_(User.phone == login, User.email == login))
    ).scalar_one_or_none()
    if user_id is not None:
        return f"user:{user_id}"
    return "login:" + resident_ids.keyed_digests(b"sign-in attempts", [login])[0][:32]


def authenticate(login: str, password: str) -> User | None:
    """The active account whose phone or email is ``login`` and whose password matches, else None."""
    login = normalise_login(login)
    user = _account_for(login)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        # The login itself is personal data: only its shape is kept.
        audit.record_now(None, "auth.sign_in_failed", None, object_type="user",
                         details={"result": "unknown account", "login": masked(login)})
        return None
    if not user.check_password(password) or not user.active:
        audit.record_now(None, "auth.sign_in_failed", user,
                         details={"result": "wrong password" if user.active else "account disabled"})
        return None
    with unit_of_work():
        user.last_login_at = utcnow()
        # Every sign-in is its own entry, never a count on an earlier one: a stranger's sign-in within the
        # owner's hour must show, in its place before or after auth.password_changed. Their number is bounded by
        # the per-account limit on successful sign-ins (LOGIN_SUCCESS_LIMIT_PER_ACCOUNT, blueprints/auth/routes.py).
        audit.record(user, "auth.sign_in", user, details={"result": "ok"})
    return user


def check_new_password(password: str, field: str = "password") -> None:
    """A new password may not hold a line break (CR, LF, NEL, U+2028/2029): no password box can type one, so a
    pasted one would be a password its owner cannot type again. One set before this rule still signs in
    (sign-in compares the password as typed).

    :raise DomainError: on ``field``.
    """
    if text.has_line_break(password):
        raise DomainError("密码不能包含换行", field=field)


def masked(login: str) -> str:
    """A phone or e-mail as the audit log may keep it: its shape, not the person (139****5678, c***@x.cn)."""
    name, at, domain = login.partition("@")
    if at:
        return f"{name[:1]}***@{domain}"
    return login[:3] + "*" * max(len(login) - 7, 0) + login[-4:] if len(login) > 7 else "***"


def end_sessions(user: User) -> None:
    """Sign the user out everywhere: every session and remember-me cookie issued so far stops working."""
    with unit_of_work():
        user.end_sessions()


def change_password(user: User, current: str, new: str) -> None:
    """Give ``user`` the password ``new`` and end every session and remember-me cookie issued so far; a
    one-time password (``must_change_password``) is thereby replaced and the rest of the site opens again.

    :raise DomainError: ``current`` is not the user's password (field ``current_password``), or ``new``
        is the same password or holds a line break (field ``new_password``).
    """
    if not user.check_password(current):
        raise DomainError("当前密码不正确", field="current_password")
    check_new_password(new, "new_password")
    if user.check_password(new):
        raise DomainError("新密码不能与当前密码相同", field="new_password")
    details = {"result": "ok, every session ended"}
    if user.must_change_password:
        details["one_time_password"] = "replaced"
    with unit_of_work():
        user.set_password(new)
        user.must_change_password = False
        user.end_sessions()
        audit.record(user, "auth.password_changed", user, details=details)
