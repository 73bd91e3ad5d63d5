"""Accounts that someone above makes for staff (a regulator, a sector authority's officer): one check of the
typed name, e-mail, phone and initial password, and one way to build the account."""

from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from extensions import db
from models import Role, User
from services import auth, identifiers
from services.errors import DomainError, Invalid

MIN_PASSWORD_LENGTH = 8  # as the sign-up and password-change forms ask
# A phone is a sign-in name: a mainland mobile number, as registration asks (blueprints.validators.mobile_phone).


def build(role: Role, data: dict, *, region_id: int | None, prefix: str = "", **fields: Any) -> User:
    """A new, unsaved account of ``role`` from ``data`` (name, email, phone optional, password), the e-mail
    and phone in the spelling sign-in reads (services.auth.normalise_login, services.identifiers.phone).
    ``prefix`` names the form's fields (``officer_`` → ``officer_email``); ``fields`` are set on the account.
    The account must change its password at first sign-in (``User.must_change_password``).

    :raise Invalid: each field at fault: an empty or long name, an invalid e-mail or one already in use, a
        phone that is no mobile number or is in use, a short password or one holding a line break.
    """
    problems: dict[str, str] = {}
    name = (data.get("name") or "").strip()
    if not name:
        problems[f"{prefix}name"] = "请填写姓名"
    elif len(name) > 64:
        problems[f"{prefix}name"] = "姓名最多 64 个字"
    email = auth.normalise_login(data.get("email"))
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        problems[f"{prefix}email"] = "邮箱格式不正确" if email else "请填写邮箱（用于登录）"
    phone = identifiers.phone(data.get("phone")) or None
    if phone is not None and not identifiers.is_mobile(phone):
        problems[f"{prefix}phone"] = "请填写 11 位手机号，或留空"
    password = data.get("password") or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        problems[f"{prefix}password"] = f"密码至少 {MIN_PASSWORD_LENGTH} 位"
    else:
        try:
            auth.check_new_password(password, field=f"{prefix}password",
                                    user_inputs=[name, email, phone or ""])
        except DomainError as error:
            problems[f"{prefix}password"] = error.message
    taken = db.session.execute(
        sa.select(User.email, User.phone).where(sa.or_(User.email == email, User.phone == phone)
                                                if phone else User.email == email)
    ).all()
    if any(row.email == email for row in taken):
        problems.setdefault(f"{prefix}email", f"{email} 已有账号")
    if phone and any(row.phone == phone for row in taken):
        problems.setdefault(f"{prefix}phone", "该手机号已有账号")
    if problems:
        raise Invalid(problems)
    # The maker typed the password and hands it over: the owner must replace it at first sign-in.
    user = User(name=name, email=email, phone=phone, role=role, region_id=region_id, must_change_password=True,
                **fields)
    user.set_password(password)
    return user
