"""Errors of the API as RFC 9457 problem details (application/problem+json), in one shape everywhere."""

import time

from flask import current_app, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from extensions import limiter
from services.infra.transaction import give_up

PROBLEM_TYPE = "application/problem+json"

# The problem types this API defines; any other status is "about:blank" with the status's own title.
# They are relative URIs, resolved against the API's address, and described in docs/API.md.
VALIDATION = "/api/v1/problems/validation"
CONFLICT = "/api/v1/problems/conflict"

TITLES = {
    400: "请求无效",
    401: "未提供有效的接口令牌",
    404: "资源不存在",
    405: "不支持该请求方式",
    409: "与当前状态冲突",
    413: "请求体过大",
    415: "请求体应为 JSON",
    429: "请求过于频繁",
    500: "服务器出错了",
    503: "系统繁忙",
}


class ApiProblem(Exception):
    """Raised by API views and helpers; the blueprint's error handler turns it into a problem response.

    ``errors`` lists {"field": JSON pointer or parameter name, "message": Chinese text} for bad input.
    """

    def __init__(self, status: int, detail: str = "", *, type_: str | None = None, errors=None, headers=None,
                 **extra):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_ or "about:blank"
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


def invalid(errors: list[dict], detail: str = "请求中有字段不符合要求") -> ApiProblem:
    return ApiProblem(400, detail, type_=VALIDATION, errors=errors)


def conflict(detail: str, **extra) -> ApiProblem:
    return ApiProblem(409, detail, type_=CONFLICT, **extra)


def not_found(detail: str = "没有找到该资源") -> ApiProblem:
    return ApiProblem(404, detail)


def response_for(problem: ApiProblem):
    body = {"type": problem.type, "title": TITLES.get(problem.status, "错误"), "status": problem.status,
            "detail": problem.detail or TITLES.get(problem.status, ""), "instance": request.path}
    if problem.errors is not None:
        body["errors"] = problem.errors
    body.update(problem.extra)
    response = jsonify(body)
    response.status_code = problem.status
    response.mimetype = PROBLEM_TYPE
    response.headers.update(problem.headers)
    return response


def from_http_exception(error: HTTPException):
    """Werkzeug's errors (no route, wrong method, body too large, rate limit) as problem documents."""
    status = error.code or 500
    headers = {}
    detail = ""
    if isinstance(error, MethodNotAllowed):
        headers["Allow"] = ", ".join(sorted(error.valid_methods or ()))
        detail = f"该地址不支持 {request.method} 请求"
    elif status == 413:
        limit = request.max_content_length or current_app.config["MAX_CONTENT_LENGTH"]
        detail = f"请求体不能超过 {limit // (1024 * 1024)} MB；请把记录分成几批提交"
    elif status == 429:
        headers["Retry-After"] = str(_retry_after())
        detail = "请求过于频繁，请按 Retry-After 所示的秒数稍后再试"
    elif status == 404:
        detail = "没有找到该资源"
    # Every 400 carries its field errors, as the document promises; one werkzeug raised itself (a body it
    # could not read) has none to name.
    return response_for(ApiProblem(status, detail, headers=headers, errors=[] if status == 400 else None))


def _retry_after() -> int:
    limit = getattr(limiter, "current_limit", None)
    if limit is not None:
        return max(int(limit.reset_at - time.time()), 1)
    return 60


def database_busy_problem(error):
    """503 for a transaction the database gave up on (services.infra.transaction.transient_state): rolled back,
    logged as a warning, to be sent again as it was."""
    current_app.logger.warning("database busy (%s) on %s %s: answered 503", give_up(error), request.method,
                               request.path)
    return response_for(ApiProblem(
        503, "系统繁忙，本次请求没有完成；请稍后原样重发（批量推送有外部编号，重发不会重复记录）",
        headers={"Retry-After": "1"}))
