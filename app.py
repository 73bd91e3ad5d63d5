"""The application factory: `flask --app app` finds create_app()."""

import re
import secrets
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, g, has_app_context, jsonify, render_template, request, session
from flask_babel import format_date, format_datetime, get_translations
from flask_wtf.csrf import CSRFError
from markupsafe import Markup, escape
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

import models
from blueprints.transactions import request_may_write
from config import config_from_environment
from extensions import babel, csrf, db, limiter, login_manager, migrate
from models._common import MAX_ID

VENDOR_DIR = Path(__import__("flask_bootstrap").__file__).parent / "static" / "bootstrap5"


class DatabaseId(IntegerConverter):
    """``<int:…>`` in routes: ASCII digits up to the largest id a column holds (models._common.MAX_ID), so
    that a larger id is a 404, not an out-of-range error from PostgreSQL."""

    regex = r"[0-9]{1,10}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            # NotFound at once rather than "this rule does not match", which would make werkzeug answer 405
            # for a PATCH whose path also has a GET rule.
            raise NotFound()
        return number


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    app.url_map.converters["int"] = DatabaseId
    app.config.from_object(config_from_environment())
    app.json.ensure_ascii = False  # the API and the data download: Chinese as UTF-8 text, not \u escapes
    if config:
        app.config.update(config)
    Path(app.config["UPLOAD_FOLDER"]).mkdir(parents=True, exist_ok=True)
    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_COUNT"], x_proto=app.config["PROXY_COUNT"])
    register_extensions(app)
    register_blueprints(app)
    register_first_sign_in(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_security_headers(app)
    register_commands(app)
    register_jobs()
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    babel.init_app(app)
    install_template_gettext(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"
    # Rate-limit counters live in Redis when there is one, so that every gunicorn worker and every app
    # server counts the same sign-in attempts; otherwise in this process's memory.
    if app.config.get("REDIS_URL"):
        app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": 0.5})
    else:
        app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)

    from services import inbox

    @login_manager.user_loader
    def load_user(session_id: str):
        # The session holds "id:token"; a token rotated by sign-out or a password change no longer
        # matches (see User.get_id). A disabled account is out on its next request, whatever it holds.
        user_id, _sep, token = session_id.partition(":")
        if not user_id.isdigit() or not token:
            return None
        # The unread count of the navbar's 消息 badge comes with the user, in the same query.
        row = db.session.execute(
            sa.select(models.User, inbox.unread_count_of(int(user_id))).where(models.User.id == int(user_id))
        ).first()
        if row is None:
            return None
        user, unread = row
        if not user.active or not secrets.compare_digest(user.session_token, token):
            return None
        g.unread_notices = unread
        return user

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from services.infra.locking import install_sqlite_transactions

        with app.app_context():
            install_sqlite_transactions(db.engine, request_may_write)


def register_blueprints(app: Flask) -> None:
    from flask import Blueprint

    from blueprints.api import bp as api_bp
    from blueprints.applications import bp as applications_bp
    from blueprints.auth import bp as auth_bp
    from blueprints.base_admin import bp as base_admin_bp
    from blueprints.catalog import bp as catalog_bp
    from blueprints.employer import bp as employer_bp
    from blueprints.files import bp as files_bp
    from blueprints.inbox import bp as inbox_bp
    from blueprints.learner import bp as learner_bp
    from blueprints.platform import bp as platform_bp
    from blueprints.regulator import bp as regulator_bp
    from blueprints.reviewer import bp as reviewer_bp
    from blueprints.sector import bp as sector_bp

    @app.route("/favicon.ico")
    def favicon():
        return app.send_static_file("favicon.svg")

    @app.route("/healthz")
    def healthz():
        """For the proxy and the process supervisor: 200 when the database answers, 503 otherwise."""
        try:
            db.session.execute(sa.text("SELECT 1"))
        except SQLAlchemyError:
            db.session.rollback()
            app.logger.exception("health check: the database does not answer")
            response = jsonify(status="unavailable")
            response.status_code = 503
        else:
            response = jsonify(status="ok")
        response.headers["Cache-Control"] = "no-store"
        return response

    # Bootstrap 5 is served from the installed package: no CDN, the site works offline.
    vendor = Blueprint("vendor", __name__, static_folder=str(VENDOR_DIR), static_url_path="/vendor/bootstrap")
    app.register_blueprint(vendor)
    app.register_blueprint(catalog_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(base_admin_bp)
    app.register_blueprint(learner_bp)
    app.register_blueprint(regulator_bp)
    app.register_blueprint(reviewer_bp)
    app.register_blueprint(employer_bp)
    app.register_blueprint(sector_bp)
    app.register_blueprint(applications_bp)
    app.register_blueprint(platform_bp)
    app.register_blueprint(files_bp)
    app.register_blueprint(inbox_bp)
    app.register_blueprint(api_bp)


def register_first_sign_in(app: Flask) -> None:
    """One-time passwords (issue 18): an account whose password its maker typed changes it before anything else."""
    from blueprints.access import require_own_password

    app.before_request(require_own_password)


# One small handler per kind of error, nested: complexity 14 over all of them. Left as it is while the 503
# handler moves (see issue 15).
def register_errorhandlers(app: Flask) -> None:  # noqa: C901  handlers nested; see issue 15
    titles = {400: "请求无效", 403: "没有权限", 404: "页面不存在", 405: "请求方式不允许", 413: "上传的内容过大",
              429: "尝试次数过多"}
    messages = {429: "操作过于频繁，请稍等几分钟后再试。"}

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template("errors/error.html", code=400, title="页面已过期",
                               message="表单已失效，请返回刷新页面后再提交。"), 400

    from blueprints.api.problems import ApiProblem, database_busy_problem, from_http_exception, response_for

    def for_api() -> bool:
        # The API answers in problem documents, also where routing failed before its blueprint was known.
        return request.path.startswith("/api/")

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error):
        if for_api():
            return from_http_exception(error)
        # The body is refused unread, before any view runs, so the form cannot be shown again with the
        # error beside the field: a 413 page says why and leads back to the same form.
        limit = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        message = f"上传的文件过大（一次最多 {limit} MB），未保存任何内容。请压缩或拆分后重试。"
        back = request.path if request.method == "POST" and request.endpoint else None
        return render_template("errors/error.html", code=413, title=titles[413], message=message, back=back), 413

    @app.errorhandler(HTTPException)
    def http_error(error):
        if for_api():
            return from_http_exception(error)
        if error.response is not None:  # an answer made for this case (a limit's on_breach page)
            return error.response
        code = error.code or 500
        response = app.make_response((
            render_template("errors/error.html", code=code, title=titles.get(code, error.name),
                            message=messages.get(code)), code))
        if code == 429 and getattr(error, "retry_after", None) is None:
            response.headers.setdefault("Retry-After", "60")
        return response

    from services.infra.transaction import give_up, transient_state

    @app.errorhandler(OperationalError)
    def database_busy(error):
        """A transaction the database gave up on for another's sake (a deadlock, a serialization failure,
        a lock it would not wait for, SQLite's lock held past busy_timeout) is nothing the client did wrong
        and will likely pass: 503 with Retry-After, nothing saved. Any other database error stays a 500."""
        if transient_state(error) is None:
            raise error
        if for_api():
            return database_busy_problem(error)
        app.logger.warning("database busy (%s) on %s %s: answered 503", give_up(error), request.method,
                           request.path)
        response = app.make_response((render_template(
            "errors/error.html", code=503, title="系统繁忙",
            message="系统繁忙，本次操作可能没有完成。请稍后刷新页面查看，需要时再试一次。"), 503))
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        if for_api():
            return response_for(ApiProblem(500, "服务器出错了，请稍后再试"))
        return render_template("errors/error.html", code=500, title="服务器出错了",
                               message="请稍后再试；如果问题持续存在，请联系管理员。"), 500


# Translations of templates' fixed strings: {locale identifier: {message: translation}}.
_TEMPLATE_MESSAGES: dict[str, dict[str, str]] = {}


def template_gettext(message: str) -> str:
    """``_()`` in templates: Flask-Babel's gettext looks the locale and its catalog up again on every call
    (~13 µs; a page has a hundred), so each message is translated once per process and locale. The locale
    is the one Flask-Babel chose for this context, remembered beside it with the locale object it was read
    from (force_locale and refresh() replace that object, so they are obeyed); outside a context, Flask-Babel's
    own lookup."""
    babel_context = g.get("_flask_babel") if has_app_context() else None
    locale = getattr(babel_context, "babel_locale", None)
    if locale is None:
        return get_translations().ugettext(message)
    mine = getattr(babel_context, "jidi_messages", None)
    if mine is None or mine[0] is not locale:
        mine = babel_context.jidi_messages = (locale, _TEMPLATE_MESSAGES.setdefault(str(locale), {}))
    found = mine[1].get(message)
    if found is None:
        found = mine[1][message] = get_translations().ugettext(message)
    return found


def install_template_gettext(app: Flask) -> None:
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]  # the i18n extension's method
        gettext=template_gettext,
        ngettext=lambda s, p, n: get_translations().ungettext(s, p, n),
        pgettext=lambda c, s: get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: get_translations().unpgettext(c, s, p, n),
        newstyle=True,
    )


def register_template_helpers(app: Flask) -> None:
    from flask_login import current_user

    from blueprints.access import register_template_rules
    from services.infra import clock

    register_template_rules(app)

    @app.context_processor
    def local_today():
        return {"today": clock.today()}

    @app.context_processor
    def unread_notices():
        # Counted with the user's load (load_user), which every page's navbar asks for anyway: no query of
        # its own. 0 for the signed-out.
        if not current_user.is_authenticated:
            return {"unread_notices": 0}
        return {"unread_notices": g.get("unread_notices", 0)}

    @app.template_filter("cn_date")
    def cn_date(value):
        return format_date(value, "yyyy年M月d日") if value else ""

    @app.template_filter("local_datetime")
    def local_datetime(value):
        return format_datetime(value, "yyyy-MM-dd HH:mm") if value else ""

    @app.template_filter("yuan")
    def yuan(value):
        return "免费" if not value else f"{value:,.0f} 元" if value == int(value) else f"{value:,.2f} 元"

    app.add_template_filter(tel_links)
    app.add_template_global(invalid_field, "invalid")


def invalid_field(field, **attributes: str) -> dict[str, str]:
    """The attributes of a form field written by hand (not by _macros.field), ``attributes`` and, when it holds
    errors, aria-invalid and the id of its errors (rendered by _macros.field_errors), for screen readers: used as
    ``form.x(class_=…, **invalid(form.x))`` (a Jinja call takes one ``**``: other attributes go in here)."""
    if field.errors:
        attributes.update(aria_invalid="true", aria_describedby=f"{field.id}-error")
    return attributes


# A phone number inside a contact text: seven or more digits, maybe after a + or an area code's bracket,
# with dashes, spaces or brackets between them. A masked number (138****5678) breaks at the stars and is too
# short to match.
PHONE_NUMBER = re.compile(r"[+(（]?\d[\d\- ()（）]{5,}\d")


def tel_links(text: str | None) -> Markup:
    """The contact text escaped, each phone number in it a tel: link (digits only, and a leading + kept:
    it is what makes a number international), so that a phone dials it with a tap."""
    text = text or ""
    parts, last = [], 0
    for match in PHONE_NUMBER.finditer(text):
        number = match.group().strip()
        href = ("+" if number.startswith("+") else "") + re.sub(r"\D", "", number)
        parts += [escape(text[last:match.start()]), Markup('<a href="tel:%s">%s</a>') % (href, number)]
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


# Everything the pages load is served by the site itself, so the policy can be strict. Bootstrap's form
# controls draw their arrows and checkmarks with data: SVG images.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


# Areas whose every page shows somebody's personal data.
PRIVATE_BLUEPRINTS = frozenset({"learner", "reviewer", "base_admin", "regulator", "files"})
STATIC_ENDPOINTS = frozenset({"static", "vendor.static"})


def register_security_headers(app: Flask) -> None:
    remember_cookie = app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    hsts_max_age = app.config.get("HSTS_MAX_AGE", 0)

    @app.after_request
    def security_headers(response):
        if hsts_max_age:
            # On every answer, HTTP ones included: browsers ignore it there, and the proxy redirects HTTP anyway.
            response.headers.setdefault("Strict-Transport-Security", f"max-age={hsts_max_age}; includeSubDomains")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # No browser, proxy or back button keeps a copy of a private page. "Signed in" is judged from the
        # session and the remember-me cookie, not by loading the user, so this costs no query.
        if request.blueprint in PRIVATE_BLUEPRINTS or (
            request.endpoint not in STATIC_ENDPOINTS
            and (session.get("_user_id") or request.cookies.get(remember_cookie))
        ):
            response.headers["Cache-Control"] = "no-store"
        return response


def register_jobs() -> None:
    """The task queue's jobs and the hooks that enqueue them after a commit (services.jobs)."""
    import services.jobs  # noqa: F401  (registers on import)


def register_commands(app: Flask) -> None:
    from cli import register

    register(app)


