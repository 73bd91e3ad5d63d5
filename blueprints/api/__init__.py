"""The open API, /api/v1: JSON for provincial platforms, employers' HR systems and bases' own platforms.

Public operations need nothing; a base's operations need one of its tokens (services.api_tokens) as
``Authorization: Bearer jidi_…``. Errors are problem documents (blueprints.api.problems). The API never
reads the session cookie, so CSRF does not apply to it.
"""

import hashlib

from flask import Blueprint, current_app, g, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from blueprints.api.problems import ApiProblem, database_busy_problem, from_http_exception, response_for
from extensions import csrf, db, limiter
from services.infra.transaction import transient_state

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def _address() -> str:
    return f"api-addr:{request.remote_addr}"


def _token_key() -> str:
    # Keyed on a hash of the secret as the token check reads it (any case of "Bearer", spaces around), so
    # that one token written several ways still has one budget; random ones also share the address's budget.
    scheme, _sep, secret = request.headers.get("Authorization", "").partition(" ")
    presented = secret.strip() if scheme.lower() == "bearer" else request.headers.get("Authorization", "")
    return "api-token:" + hashlib.sha256(presented.encode()).hexdigest()[:32]


limiter.limit(lambda: current_app.config["API_RATE_LIMIT_PER_ADDRESS"], key_func=_address,
              per_method=False)(bp)
limiter.limit(lambda: current_app.config["API_RATE_LIMIT_PER_TOKEN"], key_func=_token_key,
              exempt_when=lambda: not request.headers.get("Authorization"))(bp)


@bp.before_request
def body_limit():
    # A batch of completions is large, but nothing here needs the site's 25 MB of uploads.
    request.max_content_length = current_app.config["API_MAX_BODY_BYTES"]


@bp.after_request
def private_answers(response):
    # What a token reads is a base's own data (rosters with personal details): no cache may keep it.
    if getattr(g, "api_principal", None) is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(ApiProblem)
def api_problem(problem: ApiProblem):
    return response_for(problem)


@bp.errorhandler(HTTPException)
def api_http_error(error: HTTPException):
    # Needed beside app.py's handler (which sees the routing errors): without it, an HTTP error raised here
    # (a rate limit) would be taken by the catch-all below as a 500.
    return from_http_exception(error)


@bp.errorhandler(OperationalError)
def api_database_busy(error: OperationalError):
    # Here as well as in app.py: the blueprint's catch-all below would otherwise take it first.
    if transient_state(error) is None:
        return api_server_error(error)
    return database_busy_problem(error)


@bp.errorhandler(Exception)
def api_server_error(error: Exception):
    # Should never happen: a client cannot cause it. Logged with the traceback, answered as a problem.
    db.session.rollback()
    current_app.logger.exception("API request failed: %s %s", request.method, request.path)
    return response_for(ApiProblem(500, "服务器出错了，请稍后再试"))


from blueprints.api import base, employer, public  # noqa: E402,F401
