"""Public operations: the catalog, the bases and their disclosure, the published list, certificates."""

from flask import jsonify

from blueprints.api import bp
from blueprints.api import representations as show
from blueprints.api.problems import invalid, not_found
from blueprints.api.schemas import ID, TEXT
from blueprints.api.spec import document, operation
from blueprints.certificate_lookups import lookup_limit
from models import FIELDS, BaseType, Category, Mode
from services import certificates, evaluation
from services.queries import catalog_pages

PUBLIC = "公开"
MAX_PAGE = 100

COURSE_FILTERS = {
    "q": {"type": "string", "maxLength": 100, "pattern": TEXT, "description": "关键词（课程名称、简介、基地名称）"},
    "region_id": {**ID, "description": "地区（含下级地区）"},
    "base_id": {**ID, "description": "基地"},
    "category": {"type": "string", "enum": [c.value for c in Category], "description": "科目类别"},
    "field": {"type": "string", "enum": list(FIELDS), "description": "领域"},
    "mode": {"type": "string", "enum": [m.value for m in Mode], "description": "培训方式"},
    "month": {"type": "string", "pattern": "^[1-9][0-9]{3}-(0[1-9]|1[0-2])$", "x-pattern-message": "应为 YYYY-MM",
              "description": "在该月内有培训的课程，YYYY-MM"},
    "open_to_city": {"type": "boolean", "description": "只看面向全市的课程"},
    "enrollable": {"type": "boolean", "description": "只看此刻可以报名的课程（有名额或可候补）"},
    "has_seats": {"type": "boolean", "description": "只看此刻可以报名且还有名额的课程"},
    "include_past": {"type": "boolean", "description": "包括已结束的课程（默认不包括）"},
    "sort": {"type": "string", "enum": list(catalog_pages.SORTS), "description": "排序：start 开课时间，new 最新发布，"
             "hours 学时从多到少，fee 费用从低到高"},
    "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE,
                 "description": f"每页条数，默认 20，最多 {MAX_PAGE}"},
    "cursor": {"type": "string", "maxLength": 500, "pattern": "^[A-Za-z0-9_-]*$",
               "description": "上一页结果中的 next_cursor 或 prev_cursor"},
}


@bp.get("/openapi.json", provide_automatic_options=False)
def openapi():
    """The OpenAPI 3.1 document (not itself an operation of the API)."""
    response = jsonify(document())
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/courses")
@operation(summary="查询课程目录", tag=PUBLIC, query=COURSE_FILTERS, responses={200: "CoursePage"},
           description="与网站课程目录相同的筛选条件；按 cursor 翻页（键集分页，深页与第一页一样快）。")
def list_courses(query):
    sort = query.get("sort", "start")
    filters = catalog_pages.CourseFilters(
        q=query.get("q", ""), region_id=query.get("region_id"), base_id=query.get("base_id"),
        category=query.get("category"), field=query.get("field"), mode=query.get("mode"),
        month=query.get("month"), open_to_city=query.get("open_to_city", False),
        enrollable=query.get("enrollable", False), has_seats=query.get("has_seats", False),
        include_past=query.get("include_past", False), sort=sort,
    )
    cursor = query.get("cursor")
    if cursor and catalog_pages.decode_cursor(cursor, sort) is None:
        raise invalid([{"field": "cursor", "message": "cursor 无效或已过期（排序方式须与取得它时相同）"}],
                      "查询参数不符合要求")
    page = catalog_pages.search_courses(filters, query.get("per_page", 20), cursor)
    return jsonify(items=[show.course(c) for c in page.items], total=page.total, per_page=page.per_page,
                   next_cursor=page.next_cursor, prev_cursor=page.prev_cursor)


@bp.get("/courses/<int:course_id>")
@operation(summary="查看一门课程", tag=PUBLIC, responses={200: "Course"},
           path_params={"course_id": "课程编号"})
def get_course(course_id: int):
    course = catalog_pages.get_public_course(course_id)
    if course is None:
        raise not_found("没有该课程，或课程尚未公布")
    return jsonify(show.course(course))


@bp.get("/bases")
@operation(summary="基地名录", tag=PUBLIC, responses={200: "BaseList"},
           query={"type": {"type": "string", "enum": [t.value for t in BaseType], "description": "基地类型"}},
           description="所有未退出的基地（正常或整改中），附正在公布的课程数。")
def list_bases(query):
    grouped = catalog_pages.list_bases_by_type()
    types = [BaseType(query["type"])] if "type" in query else list(BaseType)
    return jsonify(items=[show.base(b, n) for t in types for b, n in grouped[t]])


@bp.get("/bases/<int:base_id>")
@operation(summary="基地及其信息公开", tag=PUBLIC, responses={200: "BaseDetail"},
           path_params={"base_id": "基地编号"})
def get_base(base_id: int):
    found = catalog_pages.get_public_base(base_id)
    if found is None:
        raise not_found("没有该基地，或该基地已退出")
    base, courses = found
    return jsonify(base=show.base(base, len(courses)), disclosure=show.disclosure(base),
                   disclosure_missing=base.disclosure_missing, courses=[show.course(c) for c in courses])


@bp.get("/published-lists/<int:year>")
@operation(summary="年度基地名单", tag=PUBLIC, responses={200: "PublishedList"},
           path_params={"year": "年度"},
           description="该年度评估确认后保留的基地（此后退出的不在其中）。年度评估尚未确认时为 404。")
def published_list(year: int):
    if year not in evaluation.published_years():
        raise not_found(f"{year} 年度的基地名单尚未公布")
    grouped = evaluation.published_list(year)
    return jsonify(year=year, bases=[show.listed_base(b) for t in BaseType for b in grouped.get(t, [])])


@bp.get("/certificates/<code>")
# The site's verification page and this operation spend one budget per client (VERIFY_RATE_LIMIT), on top of
# the API's own limits (override_defaults=False keeps them); a refusal is the blueprint's 429 problem.
@lookup_limit(override_defaults=False)
@operation(summary="验证证书", tag=PUBLIC, responses={200: "Certificate"},
           path_params={"code": "证书上的验证码"},
           description="与网站的证书验证页相同：姓名与身份证号只显示脱敏形式。两者共用每个客户端地址的查询次数"
           "（默认每分钟 30 次），超出后为 429，Retry-After 给出需等待的秒数。")
def verify_certificate(code: str):
    certificate = certificates.find(code)
    if certificate is None:
        raise not_found("未找到该验证码对应的证书")
    return jsonify(show.certificate(certificate))


