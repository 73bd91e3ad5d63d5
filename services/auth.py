"""Signing in: finding an account by phone or email and checking its password; changing it; signing out."""

import secrets
from collections.abc import Iterable
from functools import cache

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

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


# zxcvbn's score (0–4) a new password must reach: 3 is "safely unguessable", about 10^8 guesses or more, the
# level its authors recommend against online and throttled offline guessing (OWASP ASVS 5.0 V6.2.11/6.2.12).
MIN_PASSWORD_SCORE = 3
# zxcvbn's time grows with the length; what follows the first 100 characters only makes a password stronger.
_SCORED_LENGTH = 100
# zxcvbn's warnings, in the reader's language (zxcvbn/feedback.py); any other reads as the general reason.
_WARNINGS = {
    "This is a top-10 common password.": "这是最常用的密码之一",
    "This is a top-100 common password.": "这是最常用的密码之一",
    "This is a very common password.": "这是很常见的密码",
    "This is similar to a commonly used password.": "与常见密码过于相似",
    "A word by itself is easy to guess.": "单个英文单词很容易被猜到",
    "Names and surnames by themselves are easy to guess.": "单独的姓名很容易被猜到",
    "Common names and surnames are easy to guess.": "常见的姓名很容易被猜到",
    "Straight rows of keys are easy to guess.": "键盘上连成一排的按键很容易被猜到",
    "Short keyboard patterns are easy to guess.": "简短的键盘图案很容易被猜到",
    'Repeats like "aaa" are easy to guess.': "重复的字符（如 aaa）很容易被猜到",
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".': "重复的片段（如 abcabc）很容易被猜到",
    'Sequences like "abc" or "6543" are easy to guess.': "连续的字母或数字（如 abc、6543）很容易被猜到",
    "Recent years are easy to guess.": "近年的年份很容易被猜到",
    "Dates are often easy to guess.": "日期很容易被猜到",
}


def _guessable_reason(password: str, user_inputs: Iterable[str]) -> str | None:
    """Why ``password`` is too easy to guess (zxcvbn scores it below MIN_PASSWORD_SCORE), in Chinese; else None.
    ``user_inputs`` (the account's name, phone, e-mail) count as words anyone who knows the person would try."""
    inputs = [value for value in user_inputs if value]
    # The e-mail's local part is what a person reuses ("zhangsan" of zhangsan@example.com).
    inputs += [value.partition("@")[0] for value in inputs if "@" in value]
    result = zxcvbn(password[:_SCORED_LENGTH], user_inputs=inputs)
    if result["score"] >= MIN_PASSWORD_SCORE:
        return None
    if any(match.get("dictionary_name") == "user_inputs" for match in result["sequence"]):
        reason = "包含了您的姓名、手机号或邮箱"
    else:
        reason = _WARNINGS.get(result["feedback"]["warning"], "太短或太有规律")
    return f"密码太容易被猜到：{reason}，请换一个更长、更不常见的密码（例如几个不相关的词连在一起）"


def check_new_password(password: str, field: str = "password", user_inputs: Iterable[str] = ()) -> None:
    """A new password may not hold a line break (CR, LF, NEL, U+2028/2029): no password box can type one, so a
    pasted one would be a password its owner cannot type again. Nor may it be easy to guess: a common password,
    a keyboard row, a sequence, a date, or the account's own name, phone or e-mail (``user_inputs``, those the
    caller has) — zxcvbn's score below MIN_PASSWORD_SCORE (OWASP ASVS 5.0 V6). One set before these rules still
    signs in (sign-in compares the password as typed).

    :raise DomainError: on ``field``, with the reason in Chinese.
    """
    if text.has_line_break(password):
        raise DomainError("密码不能包含换行", field=field)
    reason = _guessable_reason(password, user_inputs)
    if reason:
        raise DomainError(reason, field=field)


def masked(login: str) -> str:
    """A phone or e-mail as the audit log may keep it: its shape, not the person (139****5678, c***@x.cn)."""
    return text.masked_contact(login)


def end_sessions(user: User) -> None:
    """Sign the user out everywhere: every session and remember-me cookie issued so far stops working."""
    with unit_of_work():
        user.end_sessions()


def change_password(user: User, current: str, new: str) -> None:
    """Give ``user`` the password ``new`` and end every session and remember-me cookie issued so far; a
    one-time password (``must_change_password``) is thereby replaced and the rest of the site opens again.

    :raise DomainError: ``current`` is not the user's password (field ``current_password``), or ``new``
        is the same password, holds a line break or is easy to guess (field ``new_password``).
    """
    if not user.check_password(current):
        raise DomainError("当前密码不正确", field="current_password")
    check_new_password(new, "new_password", [user.name, user.phone or "", user.email or ""])
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
