"""A base's operations, with one of its tokens: its courses, completions pushed in batches, its rosters
and its compliance figures. Another base's objects answer 404, as if they did not exist."""

import base64
import binascii
import re
from datetime import date
from decimal import Decimal

from flask import g, jsonify, url_for

from blueprints.api import bp
from blueprints.api import representations as show
from blueprints.api.problems import ApiProblem, conflict, invalid, not_found
from blueprints.api.schemas import COURSE_INPUT, EXTERNAL_ID, MAX_BATCH
from blueprints.api.spec import operation
from models import Category, Course, CourseStatus, EnrollmentStatus, Mode, ProjectType
from models._common import MAX_ID
from services import completions, evaluation, roster
from services import courses as course_service
from services.errors import DomainError, Invalid, InvalidTransition, NotAllowed
from services.queries import base_pages, catalog_pages

BASE = "基地"
MAX_ROSTER_PAGE = 1000


def _principal():
    return g.api_principal


def _page_query(maximum: int, default: int, extra: dict | None = None) -> dict:
    return {
        **(extra or {}),
        "per_page": {"type": "integer", "minimum": 1, "maximum": maximum, "description": f"每页条数，默认 {default}"},
        "cursor": {"type": "string", "maxLength": 40, "pattern": "^[A-Za-z0-9_-]*$",
                   "description": "上一页结果中的 next_cursor"},
    }


def _encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> int | None:
    """The id a cursor of these lists carries. :raise ApiProblem: 400 for a cursor not made here."""
    if not cursor:
        return None
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = ""
    if not re.fullmatch(r"[1-9][0-9]{0,9}", value) or int(value) > MAX_ID:
        raise invalid([{"field": "cursor", "message": "cursor 无效"}], "查询参数不符合要求")
    return int(value)


def _own_course(course_id: int) -> Course:
    """:raise ApiProblem: 404 for a course the token does not reach (policies.token_reaches)."""
    course = base_pages.course_reached_by(_principal(), course_id)
    if course is None:
        raise not_found("本基地没有该课程")
    return course


# Where the API's name of a field differs from the service's.
API_FIELD_NAMES = {"reason": "cancel_reason"}


def _domain_problem(error: DomainError) -> ApiProblem:
    """A service's refusal: a field's rule is a 400 on that field (every field of an Invalid), a state's
    rule a 409."""
    if isinstance(error, NotAllowed):
        return not_found()
    if isinstance(error, Invalid):
        problems = error.fields
    elif error.field and not isinstance(error, InvalidTransition):
        problems = {error.field: error.message}
    else:
        return conflict(error.message)
    return invalid([{"field": f"/{API_FIELD_NAMES.get(name, name)}", "message": message}
                    for name, message in problems.items()])


# --- who am I ---------------------------------------------------------------------------------------

@bp.get("/base")
@operation(summary="令牌所属的基地", tag=BASE, token=True, responses={200: "TokenInfo"})
def whoami():
    principal = _principal()
    token, base = principal.token, principal.base
    return jsonify(base=show.base(base, catalog_pages.current_course_count(base.id)),
                   token={"name": token.name, "prefix": token.prefix, "created_at": show.timestamp(token.created_at),
                          "expires_at": show.timestamp(token.expires_at)})


# --- courses ----------------------------------------------------------------------------------------

@bp.get("/base/courses")
@operation(summary="本基地的课程（含草稿与已取消）", tag=BASE, token=True, responses={200: "ManagedCoursePage"},
           query=_page_query(100, 20, {"status": {"type": "string", "enum": [s.value for s in CourseStatus],
                                                  "description": "只看该状态的课程"}}),
           description="最新创建的在前。")
def list_own_courses(query):
    status = CourseStatus(query["status"]) if "status" in query else None
    rows, more = base_pages.course_page(_principal().base, query.get("per_page", 20), _decode(query.get("cursor")),
                                        status)
    return jsonify(items=[show.managed_course(c) for c in rows],
                   next_cursor=_encode(rows[-1].id) if more else None)


# JSON carries dates and the fee as strings, and the enums as their values; the schema has checked their
# shape. The domain (services.course_rules) takes Python's types and judges the values.
FROM_JSON = {"category": Category, "mode": Mode, "project_type": ProjectType, "fee": Decimal,
             "start_date": date.fromisoformat, "end_date": date.fromisoformat, "enroll_until": date.fromisoformat}


def _course_data(fields: dict) -> dict:
    """The course fields of a checked body as services.courses takes them."""
    return {name: value if value is None or name not in FROM_JSON else FROM_JSON[name](value)
            for name, value in fields.items() if name in COURSE_INPUT}


COURSE_LINKS = {
    "GetOwnCourse": {"operationId": "get_own_course", "parameters": {"course_id": "$response.body#/id"}},
    "UpdateOwnCourse": {"operationId": "update_own_course", "parameters": {"course_id": "$response.body#/id"}},
    "GetRoster": {"operationId": "get_roster", "parameters": {"course_id": "$response.body#/id"}},
}


@bp.post("/base/courses")
@operation(summary="新建课程（草稿）", tag=BASE, token=True, body="CourseInput", conflicts=True,
           responses={201: "ManagedCourse"}, links={201: COURSE_LINKS},
           response_headers={201: {"Location": {"type": "string"}}},
           description="规则与网站的课程表单相同；新课程为草稿，用 PATCH 的 status 发布。")
def create_own_course(body):
    principal = _principal()
    try:
        course = course_service.create_course(principal.user, principal.base, _course_data(body),
                                              via_token=principal.token_prefix)
    except DomainError as error:
        raise _domain_problem(error) from error
    response = jsonify(show.managed_course(course))
    response.status_code = 201
    response.headers["Location"] = url_for(".get_own_course", course_id=course.id)
    return response


@bp.get("/base/courses/<int:course_id>")
@operation(summary="本基地的一门课程", tag=BASE, token=True, responses={200: "ManagedCourse"},
           path_params={"course_id": "课程编号"})
def get_own_course(course_id: int):
    return jsonify(show.managed_course(_own_course(course_id)))


@bp.patch("/base/courses/<int:course_id>")
@operation(summary="修改课程或改变其状态", tag=BASE, token=True, body="CoursePatch", conflicts=True,
           responses={200: "ManagedCourse"}, path_params={"course_id": "课程编号"},
           description="只给出要修改的字段。修改与状态变化一起检查，任何一项不通过则都不保存。")
def update_own_course(course_id: int, body):
    principal = _principal()
    course = _own_course(course_id)
    status = CourseStatus(body["status"]) if "status" in body else None
    reason = (body.get("cancel_reason") or "").strip()
    if "cancel_reason" in body and status != CourseStatus.CANCELLED:
        raise invalid([{"field": "/cancel_reason", "message": "只在取消课程（status 为 cancelled）时填写"}])
    try:
        course_service.update_course(principal.user, course, _course_data(body) or None, status=status,
                                     reason=reason, via_token=principal.token_prefix)
    except DomainError as error:
        raise _domain_problem(error) from error
    return jsonify(show.managed_course(_own_course(course_id)))


# --- rosters ----------------------------------------------------------------------------------------

@bp.get("/base/courses/<int:course_id>/roster")
@operation(summary="课程名单", tag=BASE, token=True, responses={200: "RosterPage"},
           path_params={"course_id": "课程编号"},
           query=_page_query(MAX_ROSTER_PAGE, 200, {"status": {
               "type": "string", "enum": [s.value for s in EnrollmentStatus], "description": "只看该状态"}}),
           description="按报名先后排列；手机号与身份证号为脱敏形式。")
def get_roster(course_id: int, query):
    course = _own_course(course_id)
    status = EnrollmentStatus(query["status"]) if "status" in query else None
    counts, rows, more = roster.roster_page(course, query.get("per_page", 200), _decode(query.get("cursor")), status)
    return jsonify(
        course_id=course.id, counts={s.value: n for s, n in counts.items()},
        items=[show.roster_entry(e, u, credited) for e, u, credited in rows],
        next_cursor=_encode(rows[-1][0].id) if more else None,
    )


# --- completions ------------------------------------------------------------------------------------

@bp.post("/base/completions")
@operation(summary="批量推送结业学时", tag=BASE, token=True, body="CompletionBatch", conflicts=True,
           responses={200: "BatchResult"},
           description=(f"一次最多 {MAX_BATCH} 条，全部通过才记录，否则一条也不记录（400 列出每个字段的问题，"
                        "409 列出冲突的记录）。external_id 是贵方系统中这条记录的编号：同一批再次提交时，"
                        "已记录的不会重复记录，计入 already_recorded。completed_on 是学员实际完成的日期，"
                        "学时计入其所在年度；未来、早于课程开始或晚于课程结束的日期整批拒绝（400）。"))
def push_completions(body):
    principal = _principal()
    try:
        result = completions.push(principal.user, principal.base, body["completions"], principal.token_id,
                                  via_token=principal.token_prefix)
    except completions.Invalid as error:
        errors = [{"field": f"/completions/{r.ref}/{r.field}", "message": r.message} for r in error.refusals]
        raise invalid(errors, error.message) from error
    except completions.Conflict as error:
        items = body["completions"]
        conflicts = [{"index": r.ref, "external_id": items[r.ref]["external_id"], "message": r.message}
                     for r in error.refusals]
        raise conflict(error.message, conflicts=conflicts) from error
    return jsonify(received=result.received, recorded=result.recorded, already_recorded=result.already_recorded,
                   added_to_roster=result.added_to_roster)


@bp.get("/base/completions/<external_id>")
@operation(summary="按外部编号查询已推送的结业", tag=BASE, token=True, responses={200: "Completion"},
           path_params={"external_id": "推送时给出的 external_id"})
def get_completion(external_id: str):
    found = completions.find(_principal().base, external_id) if re.fullmatch(EXTERNAL_ID, external_id) else None
    if found is None:
        raise not_found("本基地没有以该外部编号推送的结业")
    return jsonify(show.completion(*found))


# --- compliance -------------------------------------------------------------------------------------

@bp.get("/base/compliance")
@operation(summary="本年度达标情况", tag=BASE, token=True, responses={200: "Compliance"},
           description="本年度至今的培训人数与项目数、年度目标，以及按目前进度推算的全年数字。")
def get_compliance():
    return jsonify(show.compliance(evaluation.compliance(_principal().base)))
