"""The API's operations as data: each view declares its OpenAPI operation here, and the same declaration
checks the request (query and body, against the schemas the document publishes) and builds the document.

So the document at /api/v1/openapi.json cannot drift from the code: it is made from the declarations of
the routes the app serves (tests/test_api.py asserts that every API route has one), and a request is
refused by exactly the schema the document shows.
"""

import json
import re
from dataclasses import dataclass, field
from functools import cache, wraps

from flask import current_app, g, request
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

from blueprints.api.problems import PROBLEM_TYPE, ApiProblem, invalid
from blueprints.api.quickcheck import ecma, plainly_fits
from blueprints.api.schemas import COMPONENTS
from models._common import MAX_ID
from services.api_tokens import authenticate
from services.infra.transaction import end_reads

OPENAPI_VERSION = "3.1.0"


@dataclass
class Operation:
    operation_id: str
    summary: str
    tag: str
    responses: dict  # status -> component schema name, or None for no body
    description: str = ""
    query: dict = field(default_factory=dict)  # parameter name -> schema (with its description)
    required_query: tuple = ()
    body: str | None = None  # component schema name of the JSON request body
    token: bool = False  # needs a base's API token
    employer_token: bool = False  # needs an employer's API token (and no base's reads it)
    conflicts: bool = False  # may answer 409
    path_params: dict = field(default_factory=dict)  # name -> description
    links: dict = field(default_factory=dict)  # status -> {link name: OpenAPI link object}
    response_headers: dict = field(default_factory=dict)  # status -> {header: schema}


OPERATIONS: dict[str, Operation] = {}


def operation(**spec):
    """Declare the view's operation; the view receives ``query`` and ``body`` when it declares them, checked."""

    def decorate(view):
        op = Operation(operation_id=view.__name__, **spec)
        OPERATIONS[view.__name__] = op

        @wraps(view)
        def checked(**path):
            if op.token or op.employer_token:
                g.api_principal = _authenticated(employer=op.employer_token)
                if op.body:
                    # A write's transaction holds SQLite's write lock from its start: end the token check's
                    # (it only read) before reading and checking a body of up to 8 MB.
                    end_reads()
            if op.query:
                path["query"] = parse_query(op)
            if op.body:
                path["body"] = parse_body(op)
            return view(**path)

        # Flask reads this when the route is added: no automatic OPTIONS answer, since the document does not
        # list OPTIONS (an undocumented method is a 405 with Allow, as for any other).
        checked.provide_automatic_options = False
        return checked

    return decorate


def _authenticated(employer: bool = False):
    """The principal of the request's bearer token, of the kind the operation takes: a base's, or with
    ``employer`` an employer's. :raise ApiProblem: 401 without a live token of that kind (a token of the
    other kind is no credential here, as if there were none)."""
    scheme, _sep, secret = request.headers.get("Authorization", "").partition(" ")
    principal = authenticate(secret.strip()) if scheme.lower() == "bearer" else None
    if principal is not None and (principal.employer is not None) != employer:
        principal = None
    if principal is None:
        kind = "用人单位" if employer else "基地"
        raise ApiProblem(401, f"请在 Authorization 头中提供{kind}的有效接口令牌：Bearer jidi_…",
                         headers={"WWW-Authenticate": 'Bearer realm="jidi"'})
    return principal


# --- checking requests ------------------------------------------------------------------------------

TYPE_NAMES = {"integer": "整数", "string": "字符串", "boolean": "布尔值（true 或 false）", "object": "对象",
              "array": "数组", "null": "null", "number": "数字"}


def _ecma_pattern(validator, pattern: str, instance, schema):
    """``pattern`` as JSON Schema means it (ECMA-262): ``$`` is the end of the string. Python's ``$`` also
    matches before a final newline, so "13800000000\n" would pass a phone pattern the document shows."""
    if not isinstance(instance, str):
        return
    if not ecma(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


SchemaValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


def _validator(schema: dict):
    return SchemaValidator({**schema, "components": {"schemas": COMPONENTS}}, format_checker=FormatChecker())


@cache
def validator_for(name: str):
    """The validator of a component schema (made once: it compiles the schema)."""
    return _validator({"$ref": f"#/components/schemas/{name}"})


@cache
def _query_validator(operation_id: str):
    op = OPERATIONS[operation_id]
    return _validator({"type": "object", "properties": op.query, "required": list(op.required_query)})


def _pointer(parts) -> str:
    """An RFC 6901 JSON Pointer: "~" and "/" inside a key are escaped."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _messages(error) -> list[tuple[str, str]]:
    """(where, what) in Chinese for one jsonschema error; ``where`` is a JSON pointer into the body."""
    path = list(error.absolute_path)
    where = _pointer(path) or "/"
    kind, value = error.validator, error.validator_value
    if kind == "required":
        # jsonschema reports each missing property as its own error, naming it in the message.
        missing = [name for name in value if name not in error.instance]
        named = [name for name in missing if error.message.startswith(repr(name))]
        return [(_pointer([*path, (named or missing)[0]]), "缺少此字段")]
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return [(_pointer([*path, name]), "不支持此字段") for name in extra]
    if kind == "anyOf" and all(set(option) == {"required"} for option in value):
        names = "、".join(name for option in value for name in option["required"])
        return [(where, f"缺少以下字段之一：{names}")]
    return [(where, _message(kind, value, error))]


# One answer per JSON Schema keyword. blueprints/api is being reworked (issue 15); split it there if it grows.
def _message(kind: str, value, error) -> str:  # noqa: C901, PLR0911  see issue 15
    if kind == "type":
        names = value if isinstance(value, list) else [value]
        return "应为" + "或".join(TYPE_NAMES.get(n, n) for n in names)
    if kind == "enum":
        return "应为以下之一：" + "、".join(str(v) for v in value)
    if kind == "minimum":
        return f"不能小于 {value}"
    if kind == "maximum":
        return f"不能大于 {value}"
    if kind == "minLength":
        return "不能为空" if value == 1 else f"至少 {value} 个字符"
    if kind == "maxLength":
        return f"不能超过 {value} 个字符"
    if kind == "minItems":
        return f"至少 {value} 项"
    if kind == "maxItems":
        return f"一次最多 {value} 项"
    if kind == "format" and value == "date":
        return "应为 YYYY-MM-DD 格式的日期"
    if kind == "pattern":
        return error.schema.get("x-pattern-message", "格式不正确")
    if kind == "minProperties":
        return "至少包含一个字段"
    return "格式不正确"


def check(validator, instance, *, limit: int = 50) -> list[dict]:
    """Field errors of ``instance``, at most ``limit`` of them, in document order."""
    errors = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]):
        errors += [{"field": where, "message": message} for where, message in _messages(error)]
        if len(errors) >= limit:
            break
    return errors[:limit]


INTEGER = re.compile(r"[+-]?[0-9]{1,20}")


def _coerce(raw: str, schema: dict):
    """A query string value as its schema's type, or the raw string (which then fails the type check)."""
    kind = schema.get("type")
    if kind == "integer" and INTEGER.fullmatch(raw):
        return int(raw)
    if kind == "boolean" and raw in ("true", "false"):
        return raw == "true"
    return raw


def parse_query(op: Operation) -> dict:
    """The declared query parameters, typed and checked; undeclared ones are ignored.

    :raise ApiProblem: 400 with a message per bad parameter.
    """
    values = {name: _coerce(request.args[name], schema) for name, schema in op.query.items() if name in request.args}
    errors = check(_query_validator(op.operation_id), values)
    for error in errors:
        error["field"] = error["field"].lstrip("/")
    if errors:
        raise invalid(errors, "查询参数不符合要求")
    return values


def parse_body(op: Operation):
    """The JSON body, checked against the operation's schema.

    :raise ApiProblem: 415 when the body is not declared as JSON, 400 when it does not parse or fit.
    """
    if not request.is_json:
        raise ApiProblem(415, "请以 Content-Type: application/json 提交 JSON 请求体")
    try:
        body = request.get_json(silent=True)
        # A lone surrogate ("\ud800") is valid JSON but no UTF-8 text: it could be neither stored nor echoed.
        json.dumps(body, ensure_ascii=False).encode()
    except (RecursionError, UnicodeEncodeError):  # nesting deeper than the parser goes; unencodable text
        body = None
    if body is None:
        raise invalid([{"field": "/", "message": "请求体不是有效的 JSON"}], "请求体不是有效的 JSON")
    # Most bodies fit: the quick check says so without jsonschema, which runs for the others (and words
    # every error, as the document's schema judges it).
    errors = [] if plainly_fits(op.body, body) else check(validator_for(op.body), body)
    if errors:
        raise invalid(errors)
    return _whole_numbers(body)


def _whole_numbers(value):
    """JSON Schema counts 12.0 as an integer; the API has no fractional fields, so it becomes 12 here and
    the views see the int the schema promised."""
    if isinstance(value, float):
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


# --- the document ------------------------------------------------------------------------------------

COMMON_ERRORS = {
    400: "请求参数或请求体不符合要求；errors 列出每个字段的问题",
    401: "缺少接口令牌，或令牌无效、已吊销，或不是本接口所需的那种令牌（基地的或用人单位的）",
    404: "资源不存在，或不属于令牌所属的基地",
    409: "请求与当前状态冲突（如课程已取消、名额不足、外部编号已用于其他内容）",
    413: "请求体超过上限",
    415: "请求体不是 JSON",
    429: "请求过于频繁；Retry-After 给出需等待的秒数",
    503: "系统繁忙（数据库暂时让本次请求让路），未保存任何内容；按 Retry-After 稍后原样重发",
}


def _path_of(rule) -> tuple[str, list[dict]]:
    params = []

    def replace(match):
        converter, name = match.group(1), match.group(2)
        schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID} if converter == "int" else \
            {"type": "string", "minLength": 1, "maxLength": 64}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    return re.sub(r"<(?:(\w+):)?(\w+)>", replace, rule.rule), params


def _problem_response(status: int) -> dict:
    schema = "ValidationProblem" if status == 400 else "Problem"
    response = {"description": COMMON_ERRORS[status],
                "content": {PROBLEM_TYPE: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}
    if status in (429, 503):
        response["headers"] = {"Retry-After": {"schema": {"type": "string"}, "description": "需等待的秒数"}}
    return response


def _operation_document(op: Operation, path_params: list[dict]) -> dict:  # noqa: C901, PLR0912  see issue 15
    responses = {}
    for status, schema in op.responses.items():
        response = {"description": "成功" if status < 300 else ""}
        if schema:
            response["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
        if status in op.links:
            response["links"] = op.links[status]
        if status in op.response_headers:
            response["headers"] = {name: {"schema": s} for name, s in op.response_headers[status].items()}
        responses[str(status)] = response
    errors = {429, 503}
    if op.query or op.body:
        errors.add(400)
    if op.token:
        errors |= {401, 404}
    if op.employer_token:
        errors.add(401)
    if path_params:
        errors.add(404)
    if op.conflicts:
        errors.add(409)
    if op.body:
        errors |= {413, 415}
    for status in sorted(errors):
        responses[str(status)] = _problem_response(status)
    for param in path_params:
        param["description"] = op.path_params.get(param["name"], "")
    document = {
        "operationId": op.operation_id, "summary": op.summary, "tags": [op.tag], "responses": responses,
        "parameters": path_params + [
            {"name": name, "in": "query", "required": name in op.required_query,
             "description": schema.get("description", ""),
             "schema": {k: v for k, v in schema.items() if k != "description"}}
            for name, schema in op.query.items()
        ],
        "security": [{"baseToken": []}] if op.token else [{"employerToken": []}] if op.employer_token else [],
    }
    if op.description:
        document["description"] = op.description
    if op.body:
        document["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{op.body}"}}}}
    return document


def document() -> dict:
    """The OpenAPI 3.1 document of every route of the API blueprint."""
    paths: dict[str, dict] = {}
    for rule in sorted(current_app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("api."):
            continue
        op = OPERATIONS.get(rule.endpoint.removeprefix("api."))
        if op is None:
            continue
        path, params = _path_of(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation_document(op, [dict(p) for p in params])
    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "基地 Jidi 开放接口",
            "version": "1.0.0",
            "description": (
                "继续教育基地平台的开放接口：公开的课程目录、基地信息公开、年度基地名单与证书验证，"
                "以及基地凭接口令牌管理课程、批量推送结业学时、读取名单与达标情况，"
                "用人单位凭接口令牌读取本单位职工的年度学时与达标情况。"
                "错误一律为 RFC 9457 问题详情（application/problem+json）。使用说明见 docs/API.md。"
            ),
        },
        "tags": [{"name": "公开", "description": "无需令牌"},
                 {"name": "基地", "description": "需要基地的接口令牌（Authorization: Bearer jidi_…）"},
                 {"name": "用人单位", "description": "需要用人单位的接口令牌（Authorization: Bearer jidi_…）"}],
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {"baseToken": {
                "type": "http", "scheme": "bearer",
                "description": "基地管理员在“接口令牌”页面创建的令牌；只在创建时显示一次，只代表该基地。"},
                "employerToken": {
                    "type": "http", "scheme": "bearer",
                    "description": ("用人单位管理员在“接口令牌”页面创建的令牌；只在创建时显示一次，"
                                    "只能读取该单位职工的学时。")}},
        },
    }
