"""Sign-in and sign-out views."""

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from blueprints.auth import bp
from blueprints.auth.forms import LoginForm, RegisterForm
from blueprints.common_forms import field_error
from models import Role
from services import accounts
from services import auth as auth_service
from services.errors import DomainError


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: no scheme, no host, not protocol-relative."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _home_for(user) -> str:
    if user.role == Role.BASE_ADMIN:
        return url_for("base_admin.index")
    if user.role == Role.LEARNER:
        return url_for("learner.dashboard")
    if user.role == Role.REVIEWER:
        return url_for("reviewer.index")
    if user.role == Role.REGULATOR:
        return url_for("regulator.index")
    return url_for("catalog.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = auth_service.authenticate(form.login.data, form.password.data)
        if user is None:
            form.password.errors.append(_("手机号/邮箱或密码不正确"))
        else:
            login_user(user, remember=form.remember.data)
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
def register():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = RegisterForm()
    form.region.choices = [(city.id, city.full_name) for city in accounts.cities()]
    if form.validate_on_submit():
        try:
            user = accounts.register_learner(form.registration_data())
        except DomainError as error:
            field_error(form, error, "phone")
        else:
            login_user(user)
            flash(_("注册成功，欢迎您，%(name)s", name=user.name), "success")
            return redirect(_safe_next(request.args.get("next")) or url_for("learner.dashboard"))
    return render_template("auth/register.html", form=form)
