"""Sign-in, sign-out, registration and password change views."""

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from blueprints.access import require_area
from blueprints.auth import bp
from blueprints.auth.forms import (
    ChangePasswordForm,
    ClaimForm,
    CloseAccountForm,
    ContactCodeForm,
    ContactForm,
    EmployerRegisterForm,
    ForgotForm,
    LoginForm,
    NotificationChoicesForm,
    ProfileForm,
    RegisterForm,
    ResetByCodeForm,
    ResetByLinkForm,
)
from blueprints.common_forms import field_error, judged_too
from extensions import limiter
from models import Channel, CodePurpose
from services import account_closing, account_codes, accounts, employers, messaging, policies, profiles
from services import auth as auth_service
from services.errors import DomainError


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: no scheme, no host, not protocol-relative.

    Browsers read a backslash as a slash and drop tabs and newlines inside a URL, so a slash and a backslash,
    or a slash, a tab and a slash, would leave the site: any backslash, control character or space refuses it.
    """
    if not target or "\\" in target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _sign_in(user, remember: bool = False) -> None:
    """Start a new session for ``user``: nothing set before signing in (by the visitor or by someone who
    planted a cookie on them) is carried into the signed-in session."""
    session.clear()
    login_user(user, remember=remember)


def _failed(response) -> bool:
    """A sign-in or password-change attempt that did not succeed (success redirects)."""
    return response.status_code != 302


def _login_limit_per_account() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]


def _succeeded(response) -> bool:
    return not _failed(response)


def _login_success_limit_per_account() -> str:
    return current_app.config["LOGIN_SUCCESS_LIMIT_PER_ACCOUNT"]


def _login_limit_per_address() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ADDRESS"]


def _register_limit_per_address() -> str:
    return current_app.config["REGISTER_LIMIT_PER_ADDRESS"]


def _account_key() -> str:
    # The account the login reaches, not the text typed: a phone and an e-mail, or a login with an invisible
    # character added, would otherwise each be a fresh budget for the same account. The limiter asks once per
    # limit of the decorator, so the lookup is kept in the request's environ (g lives as long as the app
    # context, which a test client or a streamed response may share between requests).
    key = request.environ.get("jidi.login_attempt_key")
    if key is None:
        key = request.environ["jidi.login_attempt_key"] = auth_service.attempt_key(request.form.get("login", ""))
    return key


def _user_key() -> str:
    return f"user:{current_user.id}" if current_user.is_authenticated else "user:-"


# Where each area begins: a user signs in to the area they may enter (policies.may_enter).
# An employer's admin may enter the reviewer area too, but their home is the employer's page: it comes first.
AREA_HOMES = {"base_admin": "base_admin.index", "learner": "learner.dashboard", "employer": "employer.index",
              "reviewer": "reviewer.index", "sector": "sector.index",
              "regulator": "regulator.index", "platform": "platform.index"}


def _home_for(user) -> str:
    endpoint = next((home for area, home in AREA_HOMES.items() if policies.may_enter(user, area)), "catalog.index")
    return url_for(endpoint)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit_per_account, key_func=_account_key, methods=["POST"], deduct_when=_failed,
               scope="login-account")
@limiter.limit(_login_limit_per_address, methods=["POST"], deduct_when=_failed, scope="login-address")
# Each successful sign-in is an audit entry of its own (services.auth.authenticate), so they are bounded here,
# per account as failures are, rather than folded into a count that would hide a stranger's among the owner's.
@limiter.limit(_login_success_limit_per_account, key_func=_account_key, methods=["POST"], deduct_when=_succeeded,
               scope="login-success-account")
def login():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = auth_service.authenticate(form.login.data, form.password.data)
        if user is None:  # no such account, a wrong password or a disabled account: one answer for all
            form.password.errors.append(_("手机号/邮箱或密码不正确"))
        else:
            _sign_in(user, remember=form.remember.data)
            flash(_("欢迎回来，%(name)s", name=user.name), "success")
            return redirect(_safe_next(request.args.get("next")) or _home_for(user))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    auth_service.end_sessions(current_user)
    logout_user()
    flash(_("您已退出登录"), "info")
    return redirect(url_for("catalog.index"))


@bp.route("/register", methods=["GET", "POST"])
# Each refused registration may tell whether an identifier is taken (ASVS 5.0 6.3.8 asks that registration not
# reveal valid users; without an SMS or e-mail check it can only be said neutrally and slowly): refused
# attempts are counted per address, in Redis when configured, like failed sign-ins.
@limiter.limit(_register_limit_per_address, methods=["POST"], deduct_when=_failed, scope="register-address")
def register():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = RegisterForm()
    form.region.choices = [("", _("请选择…")), *((city.id, city.full_name) for city in accounts.cities())]
    if form.validate_on_submit():
        try:
            user = accounts.register_learner(form.registration_data())
        except DomainError as error:
            # An invalid ID number beside its field; a taken identifier as one message above the form that
            # names no field (services.accounts.IDENTIFIER_TAKEN).
            field_error(form, error)
        else:
            _sign_in(user)
            flash(_("注册成功，欢迎您，%(name)s", name=user.name), "success")
            return redirect(_safe_next(request.args.get("next")) or url_for("learner.dashboard"))
    elif form.is_submitted():  # every fault in one round: the service's beside the form's own
        judged_too(form, lambda: accounts.judge_registration(form.registration_data()))
    return render_template("auth/register.html", form=form)


@bp.route("/privacy")
def privacy():
    """The privacy notice a learner agrees to on registering (services.accounts.PRIVACY_NOTICE_VERSION)."""
    return render_template("auth/privacy.html", version=accounts.PRIVACY_NOTICE_VERSION)


@bp.route("/register/employer", methods=["GET", "POST"])
@limiter.limit(_register_limit_per_address, methods=["POST"], deduct_when=_failed, scope="register-address")
def register_employer():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = EmployerRegisterForm()
    form.region.choices = [(city.id, city.full_name) for city in accounts.cities()]
    if form.validate_on_submit():
        try:
            user = employers.register(form.registration_data())
        except DomainError as error:
            field_error(form, error, "name")
        else:
            _sign_in(user)
            flash(_("注册已提交，请等待所在地人社部门审核"), "success")
            return redirect(url_for("employer.index"))
    elif form.is_submitted():  # every fault in one round: the service's beside the form's own
        judged_too(form, lambda: employers.judge_registration(form.registration_data()))
    status = 400 if form.is_submitted() else 200
    return render_template("auth/register_employer.html", form=form), status


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit_per_account, key_func=_user_key, methods=["POST"], deduct_when=_failed,
               scope="password-user")
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            auth_service.change_password(current_user, form.current_password.data, form.new_password.data)
        except DomainError as error:
            field_error(form, error, "current_password")
        else:
            # Every session was ended, this one too; this browser alone gets a new one.
            remember = bool(request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")))
            user = current_user._get_current_object()
            _sign_in(user, remember=remember)
            flash(_("密码已修改，其他设备上的登录已全部退出"), "success")
            return redirect(_home_for(user))
    return render_template("auth/password.html", form=form)


# The learners' gate (403 for other roles, audited), asked by the profile page, which lives under /account.
_learner_gate = require_area("learner")


@bp.route("/account/profile", methods=["GET", "POST"])
def profile():
    """A learner's own profile: name, title, sector and region to edit; e-mail and phone shown masked."""
    refused = _learner_gate()
    if refused is not None:
        return refused
    form = ProfileForm(obj=current_user) if request.method == "GET" else ProfileForm()
    if request.method == "GET":
        form.region.data = current_user.region_id
    form.region.choices = [("", _("请选择…")), *((city.id, city.full_name) for city in accounts.cities())]
    if form.validate_on_submit():
        try:
            changed = profiles.update_profile(current_user, form.profile_data())
        except DomainError as error:
            field_error(form, error)
        else:
            flash(_("个人资料已保存") if changed else _("没有需要保存的修改"), "success")
            return redirect(url_for(".profile"))
    status = 400 if form.is_submitted() else 200
    return render_template("auth/profile.html", form=form, state=profiles.region_state(current_user),
                           phone=auth_service.masked(current_user.phone) if current_user.phone else None,
                           email=auth_service.masked(current_user.email) if current_user.email else None), status


# --- a forgotten password, a walk-in account claimed, a new phone or e-mail ---------------------------------

# The login a code was asked for, kept between the request and the page where the code is entered.
_RESET_LOGIN = "reset_login"


def _reset_limit_per_target() -> str:
    return current_app.config["RESET_LIMIT_PER_TARGET"]


def _reset_limit_per_address() -> str:
    return current_app.config["RESET_LIMIT_PER_ADDRESS"]


def _code_check_limit_per_address() -> str:
    return current_app.config["CODE_CHECK_LIMIT_PER_ADDRESS"]


def _asked(response) -> bool:
    """A code or link was asked for (the form was accepted: it redirects)."""
    return response.status_code == 302


def _code_refused(_response) -> bool:
    """A code or link was refused by the service (not a form returned for an empty field)."""
    return bool(request.environ.get("jidi.code_refused"))


def _refused(form, error: DomainError) -> None:
    request.environ["jidi.code_refused"] = True
    field_error(form, error)


def _ask_for_code(form, template: str, sent: str):
    """``sent``: what the page says once a code went to a phone (or would have: it tells no account apart)."""
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    if form.validate_on_submit():
        channel = account_codes.request_reset(form.login.data)
        if channel == Channel.SMS:
            session[_RESET_LOGIN] = form.login.data
            flash(sent, "info")
            return redirect(url_for(".reset_by_code"))
        flash(_("如果该邮箱已注册，重置密码的链接已发送，30 分钟内有效，请查收邮件"), "info")
        return redirect(url_for(".login"))
    return render_template(template, form=form)


_per_target = limiter.limit(_reset_limit_per_target, key_func=_account_key, methods=["POST"], deduct_when=_asked,
                            scope="reset-target")
_per_address = limiter.limit(_reset_limit_per_address, methods=["POST"], deduct_when=_asked, scope="reset-address")
_checks_per_address = limiter.limit(_code_check_limit_per_address, methods=["POST"], deduct_when=_code_refused,
                                    scope="code-check-address")


@bp.route("/forgot", methods=["GET", "POST"])
@_per_target
@_per_address
def forgot():
    """Ask for a code (a phone) or a link (an e-mail); the answer does not tell whether the account exists."""
    return _ask_for_code(ForgotForm(), "auth/forgot.html", _("如果该手机号已注册，验证码已发送，10 分钟内有效"))


@bp.route("/claim", methods=["GET", "POST"])
@_per_target
@_per_address
def claim():
    """A walk-in trainee a base registered asks for the code to claim the account (the reset flow)."""
    return _ask_for_code(ClaimForm(), "auth/claim.html",
                         _("如果基地用该手机号为您登记过，验证码已发送，10 分钟内有效"))


@bp.route("/forgot/code", methods=["GET", "POST"])
@_checks_per_address
def reset_by_code():
    login = session.get(_RESET_LOGIN)
    if not login:
        return redirect(url_for(".forgot"))
    form = ResetByCodeForm()
    if form.validate_on_submit():
        try:
            user, purpose = account_codes.reset_with_code(login, form.code.data, form.password.data)
        except DomainError as error:
            if error.field == "code":
                _refused(form, error)
            else:
                field_error(form, error)
        else:
            return _after_reset(user, purpose)
    return render_template("auth/reset_code.html", form=form, login=auth_service.masked(login))


@bp.route("/reset/<token>", methods=["GET", "POST"])
@_checks_per_address
def reset_by_link(token: str):
    form = ResetByLinkForm()
    problem = None
    if form.validate_on_submit():
        try:
            user, purpose = account_codes.reset_with_link(token, form.password.data)
        except DomainError as error:
            if error.field == "link":
                request.environ["jidi.code_refused"] = True
                problem = error.message
            else:
                field_error(form, error)
        else:
            return _after_reset(user, purpose)
    elif not form.is_submitted():
        try:
            account_codes.check_link(token)
        except DomainError as error:
            problem = error.message
    return render_template("auth/reset_link.html", form=form, problem=problem)


def _after_reset(user, purpose: CodePurpose):
    """A claimed account is signed in; a reset one signs in again with its new password (every session ended)."""
    session.pop(_RESET_LOGIN, None)
    if purpose == CodePurpose.CLAIM:
        _sign_in(user)
        flash(_("账号认领成功，欢迎您，%(name)s", name=user.name), "success")
        return redirect(_home_for(user))
    logout_user()
    flash(_("密码已重置，所有设备上的登录已退出，请用新密码登录"), "success")
    return redirect(url_for(".login"))


@bp.route("/account/contact", methods=["GET", "POST"])
@login_required
@limiter.limit(_reset_limit_per_target, key_func=_user_key, methods=["POST"], deduct_when=_asked,
               scope="contact-user")
def contact():
    """Any signed-in user's own phone and e-mail: a new one is confirmed with a code sent to it."""
    form = ContactForm()
    if form.validate_on_submit():
        try:
            purpose = account_codes.request_contact_change(current_user, form.contact.data)
        except DomainError as error:
            field_error(form, error, "contact")
        else:
            flash(_("验证码已发送到新手机号，10 分钟内有效") if purpose == CodePurpose.PHONE
                  else _("验证码已发送到新邮箱，10 分钟内有效"), "info")
            return redirect(url_for(".confirm_contact"))
    return render_template("auth/contact.html", form=form,
                           phone=auth_service.masked(current_user.phone) if current_user.phone else None,
                           email=auth_service.masked(current_user.email) if current_user.email else None)


@bp.route("/account/contact/confirm", methods=["GET", "POST"])
@login_required
@_checks_per_address
def confirm_contact():
    pending = account_codes.pending_contact(current_user)
    form = ContactCodeForm()
    if form.validate_on_submit():
        try:
            purpose = account_codes.confirm_contact_change(current_user, form.code.data)
        except DomainError as error:
            _refused(form, error)
        else:
            flash(_("手机号已更换") if purpose == CodePurpose.PHONE else _("邮箱已更换"), "success")
            return redirect(url_for(".contact"))
    elif pending is None and not form.is_submitted():
        flash(_("没有待确认的验证码，请先填写新的手机号或邮箱"), "info")
        return redirect(url_for(".contact"))
    return render_template("auth/contact_confirm.html", form=form, pending=pending)

@bp.route("/account/notifications", methods=["GET", "POST"])
@login_required
def notifications():
    """Every signed-in person's choice, per kind of notice, of e-mail and text message (the inbox always)."""
    kinds = messaging.kinds_for(current_user)
    form = NotificationChoicesForm()
    form.offer(kinds, messaging.CHOOSABLE)
    if form.validate_on_submit():
        messaging.set_choices(current_user, form.picked(), kinds)
        flash(_("通知设置已保存"), "success")
        return redirect(url_for(".notifications"))
    choices = messaging.choices(current_user)
    return render_template(
        "auth/notifications.html", form=form, kinds=kinds, channels=messaging.CHOOSABLE, choices=choices,
        addresses={"email": auth_service.masked(current_user.email) if current_user.email else None,
                   "sms": auth_service.masked(current_user.phone) if current_user.phone else None},
    ), 400 if form.is_submitted() else 200

@bp.route("/account/close", methods=["GET", "POST"])
@limiter.limit(_login_limit_per_account, key_func=_user_key, methods=["POST"], deduct_when=_failed,
               scope="close-user")
def close_account():
    """A learner closes their own account: what is kept and what is erased, then the password to confirm."""
    refused = _learner_gate()
    if refused is not None:
        return refused
    form = CloseAccountForm()
    if form.validate_on_submit():
        try:
            account_closing.close_account(current_user._get_current_object(), form.password.data)
        except DomainError as error:
            field_error(form, error, "password")
        else:
            logout_user()
            session.clear()
            flash(_("您的账号已注销。学时、证书等记录按规定继续保存，其余个人信息已删除。"), "success")
            return redirect(url_for("catalog.index"))
    status = 400 if form.is_submitted() else 200
    return render_template("auth/close.html", form=form), status
