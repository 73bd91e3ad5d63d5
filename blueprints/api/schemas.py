"""The JSON schemas of the API (OpenAPI 3.1, JSON Schema 2020-12): requests are checked against them and
the published document shows them. They check the shape of a request; what a course's values may be is
judged by services.course_rules, whose limits the course's schema shows."""

from models import FIELDS, BaseStatus, BaseType, Category, CourseStatus, EnrollmentStatus, Mode, ProjectType
from models._common import MAX_ID
from models.declaration import CertificateStatus
from services import course_rules, text
from services.course_rules import CAPACITY, HOURS, MAX_LENGTH
from services.enrollment import Availability

# No control characters (PostgreSQL refuses NUL in text), and a one-line field (the site's <input>, not its
# <textarea>) no line break either: the classes the site's forms use (services.text).
_CTRL, _BREAKS = text.CONTROL_CLASS, text.BREAK_CLASS
TEXT = f"^[^{_CTRL}]*$"
LINE = f"^[^{_CTRL}{_BREAKS}]*$"
# Text that must say something: at least one character that is not a space.
SOMETHING = f"^[^{_CTRL}]*[^\\s{_CTRL}][^{_CTRL}]*$"
SOMETHING_ON_ONE_LINE = f"^[^{_CTRL}{_BREAKS}]*[^\\s{_CTRL}{_BREAKS}][^{_CTRL}{_BREAKS}]*$"
PHONE = f"^({text.CONTACT_PHONE})$"
MOBILE = "^1[3-9][0-9]{9}$"
ID_NUMBER = "^[0-9]{17}[0-9Xx]$"
FEE = "^(0|[1-9][0-9]{0,5})(\\.[0-9]{1,2})?$"
EXTERNAL_ID = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
DATE = {"type": "string", "format": "date"}
# A day sent to us: the format, and ASCII digits only (the format check alone is not documented to refuse others).
DAY = {**DATE, "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "x-pattern-message": "应为 YYYY-MM-DD 格式的日期"}
DATETIME = {"type": "string", "format": "date-time", "description": "UTC，ISO 8601"}
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def enum(members, description: str = "") -> dict:
    labels = "；".join(f"{m.value} = {m.label}" for m in members)
    return {"type": "string", "enum": [m.value for m in members],
            "description": f"{description}（{labels}）" if description else labels}


def text(max_length: int, description: str = "", required: bool = False, multiline: bool = False) -> dict:
    """A string of the site's forms: one line (their <input>) unless ``multiline`` (their <textarea>)."""
    if multiline:
        pattern, refused = (SOMETHING if required else TEXT), "控制字符"
    else:
        pattern, refused = (SOMETHING_ON_ONE_LINE if required else LINE), "换行或控制字符"
    schema = {"type": "string", "maxLength": max_length, "pattern": pattern}
    if required:
        schema["minLength"] = 1
        schema["x-pattern-message"] = f"不能为空，且不能包含{refused}"
    else:
        schema["x-pattern-message"] = f"不能包含{refused}"
    if description:
        schema["description"] = description
    return schema


def nullable(schema: dict) -> dict:
    kind = schema.get("type")
    if kind:
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict, required=None, *, closed: bool = True, **extra) -> dict:
    schema = {"type": "object", "properties": properties,
              "required": list(properties) if required is None else list(required), **extra}
    if closed:
        schema["additionalProperties"] = False
    return schema


PROBLEM = {
    "type": {"type": "string", "description": "问题类型（URI）；about:blank 表示只看状态码"},
    "title": {"type": "string"},
    "status": {"type": "integer", "minimum": 400, "maximum": 599},
    "detail": {"type": "string"},
    "instance": {"type": "string"},
}
FIELD_ERROR = obj({"field": {"type": "string", "description": "JSON Pointer（请求体）或参数名（查询参数）"},
                   "message": {"type": "string"}})
CONFLICT_ITEM = obj({"index": {"type": "integer", "minimum": 0}, "external_id": {"type": "string"},
                     "message": {"type": "string"}})

BASE_BRIEF = obj({"id": ID, "name": {"type": "string"}})
REGION = obj({"id": ID, "name": {"type": "string"}})

COURSE_PROPERTIES = {
    "id": ID,
    "base": BASE_BRIEF,
    "title": {"type": "string"},
    "description": {"type": "string"},
    "category": enum(Category, "科目类别"),
    "field": {"type": "string", "enum": list(FIELDS), "description": "领域（知识更新工程统计口径）"},
    "project_type": enum(ProjectType, "项目类型"),
    "hours": {"type": "integer", "minimum": 1},
    "start_date": DATE,
    "end_date": DATE,
    "mode": enum(Mode, "培训方式：面授、线上线下结合和线上直播报名至开课前一天，线上自学报名至 enrollment_deadline"),
    "enroll_until": {**nullable(DATE), "description": "线上自学课程自设的报名截止日期；null 表示至结束日期"},
    "place": {"type": "string"},
    "audience": {"type": "string"},
    "capacity": {"type": ["integer", "null"], "minimum": 1, "description": "名额；null 表示不限"},
    "seats_taken": {"type": "integer", "minimum": 0},
    "seats_left": {"type": ["integer", "null"], "minimum": 0},
    "fee": {"type": "string", "pattern": "^[0-9]+\\.[0-9]{2}$", "description": "费用（元），两位小数的字符串"},
    "fee_standard": {"type": "string"},
    "contact_person": {"type": "string"},
    "contact_phone": {"type": "string"},
    "open_to_city": {"type": "boolean"},
    "status": enum(CourseStatus, "状态"),
    "enrollment_open": {"type": "boolean", "description": "此刻是否可以在网站上报名（有名额或可候补）"},
    "enrollment_status": enum(Availability, "此刻的报名状态，与网站课程卡片所示相同"),
    "enrollment_deadline": {**DATE, "description": "最后可报名的一天：线上自学课程为 enroll_until 或结束日期，"
                            "其他课程为开课前一天"},
    "url": {"type": "string", "description": "网站上的课程页面（相对地址）"},
}
MANAGED_COURSE_PROPERTIES = {
    **COURSE_PROPERTIES,
    "plan_status": {"type": ["string", "null"], "description": "最近一份办班计划的状态；null 表示未提交"},
    "cancel_reason": {"type": "string"},
    "published_at": nullable(DATETIME),
    "created_at": DATETIME,
    "updated_at": DATETIME,
}

# What a base sends to create a course: the fields of services.course_rules, with its limits.
COURSE_INPUT = {
    "title": text(MAX_LENGTH["title"], "课程名称", required=True),
    "description": text(MAX_LENGTH["description"], "课程简介", multiline=True),
    "category": enum(Category, "科目类别"),
    "field": {"type": "string", "enum": list(FIELDS), "description": "领域"},
    "project_type": enum(ProjectType, "项目类型，默认 job_training"),
    "hours": {"type": "integer", "minimum": HOURS.low, "maximum": HOURS.high, "description": "学时"},
    "start_date": DATE,
    "end_date": {**DATE, "description": "不早于 start_date"},
    "mode": enum(Mode, "培训方式"),
    "enroll_until": {**nullable(DATE), "description": "报名截止日期，只用于线上自学（self_paced）课程，须在 "
                     "start_date 与 end_date 之间；不填或 null 表示报名至结束日期。其他课程报名至开课前一天，"
                     "给出则 400"},
    "place": text(MAX_LENGTH["place"], "培训地点；面授和线上线下结合的课程必填"),
    "audience": text(MAX_LENGTH["audience"], "培训对象", required=True),
    "capacity": {"type": ["integer", "null"], "minimum": CAPACITY.low, "maximum": CAPACITY.high,
                 "description": "名额；null 或不填表示不限"},
    "fee": {"type": "string", "pattern": FEE, "x-pattern-message": "应为 0 到 999999.99 之间、最多两位小数的金额",
            "description": f"费用（元），如 \"0\" 或 \"680.00\"；不超过 {course_rules.FEE.high}"},
    "fee_standard": text(MAX_LENGTH["fee_standard"], "收费标准"),
    "contact_person": text(MAX_LENGTH["contact_person"], "联系人", required=True),
    "contact_phone": {"type": "string", "pattern": PHONE, "maxLength": MAX_LENGTH["contact_phone"],
                      "x-pattern-message": "应为手机号或带区号的固定电话，如 028-61234567", "description": "联系电话"},
    "open_to_city": {"type": "boolean", "description": "面向全市，默认 true"},
}
COURSE_REQUIRED = course_rules.REQUIRED

COURSE_STATUS_CHANGE = {
    "status": {"type": "string", "enum": ["draft", "published", "closed", "cancelled"],
               "description": "改变课程状态：发布、撤回为草稿、结束报名或取消（取消须附 cancel_reason）"},
    "cancel_reason": text(255, "取消原因"),
}

ENROLLMENT_COUNTS = obj({s.value: {"type": "integer", "minimum": 0} for s in EnrollmentStatus})

CERTIFICATE_LINE = obj({"label": {"type": "string"}, "earned": {"type": "integer"},
                        "required": {"type": ["integer", "null"]}})
CERTIFICATE_RECORD = obj({"category": enum(Category), "hours": {"type": "integer"}, "title": {"type": "string"}})

COMPLETION_ITEM = obj(
    {
        "external_id": {"type": "string", "pattern": EXTERNAL_ID, "maxLength": 64,
                        "x-pattern-message": "应为 1 到 64 位字母、数字或 . _ : -，以字母或数字开头",
                        "description": "贵方系统中这条结业记录的编号；同一编号重复提交只记录一次"},
        "course_id": {**ID, "description": "本基地的课程"},
        "name": text(64, "学员姓名，须与注册账号一致", required=True),
        "phone": {"type": "string", "pattern": MOBILE, "x-pattern-message": "应为 11 位手机号",
                  "description": "学员注册的手机号；与 id_number 至少给一个，两个都给时须是同一个账号的"},
        "id_number": {"type": "string", "pattern": ID_NUMBER, "x-pattern-message": "应为 18 位身份证号",
                      "description": "学员的身份证号（校验位须正确）"},
        "hours": {"type": "integer", "minimum": 1, "maximum": 500,
                  "description": "实际获得的学时，不超过课程学时；不填表示课程的全部学时"},
        "completed_on": {**DAY, "description": (
            "学员实际完成学习的日期（北京时间），学时、培训人数与项目计入这一天所在的年度。须在课程起止日期之内、"
            "不晚于今天。不填时：已结束的面授、线上线下结合或直播课程取课程结束日期；线上自学课程或尚未结束的"
            "课程必须填写，否则 400")},
    },
    required=("external_id", "course_id", "name"),
    anyOf=[{"required": ["phone"]}, {"required": ["id_number"]}],
)

MAX_BATCH = 10_000

COMPONENTS = {
    "Problem": {"type": "object", "properties": {**PROBLEM, "conflicts": {"type": "array", "items": CONFLICT_ITEM}},
     "required": ["type", "title", "status"], "description": "RFC 9457 问题详情"},
    "ValidationProblem": {"type": "object", "description": "RFC 9457 问题详情，附每个字段的错误",
                          "properties": {**PROBLEM, "errors": {"type": "array", "items": FIELD_ERROR}},
                          "required": ["type", "title", "status", "errors"]},
    "Course": obj(COURSE_PROPERTIES),
    "CoursePage": obj({
        "items": {"type": "array", "items": ref("Course")},
        "total": {"type": "integer", "minimum": 0, "description": "符合条件的课程总数"},
        "per_page": {"type": "integer", "minimum": 1},
        "next_cursor": {"type": ["string", "null"], "description": "下一页的 cursor；null 表示没有下一页"},
        "prev_cursor": {"type": ["string", "null"],
                        "description": "上一页的 cursor；null 表示上一页是第一页或没有上一页"},
    }),
    "Base": obj({
        "id": ID, "name": {"type": "string"}, "type": enum(BaseType, "类型"), "status": enum(BaseStatus, "状态"),
        "region": REGION, "website": {"type": "string"}, "address": {"type": "string"},
        "contact_person": {"type": "string"}, "contact_phone": {"type": "string"},
        "current_courses": {"type": "integer", "minimum": 0, "description": "正在公布的未结束课程数"},
        "url": {"type": "string"},
    }),
    "BaseList": obj({"items": {"type": "array", "items": ref("Base")}}),
    "BaseDetail": obj({
        "base": ref("Base"),
        "disclosure": obj({"scope": {"type": "string"}, "content": {"type": "string"},
                           "fee_items": {"type": "string"}, "training_plan": {"type": "string"},
                           "staff": {"type": "string"}, "rules": {"type": "string"}},
                          description="信息公开：培训范围、内容、收费项目及标准、年度计划、师资、管理制度"),
        "disclosure_missing": {"type": "array", "items": {"type": "string"}, "description": "尚未公开的项目"},
        "courses": {"type": "array", "items": ref("Course")},
    }),
    "PublishedList": obj({
        "year": {"type": "integer"},
        "bases": {"type": "array", "items": obj({"id": ID, "name": {"type": "string"}, "type": enum(BaseType),
                                                 "region": REGION})},
    }),
    "Certificate": obj({
        "code": {"type": "string"}, "status": enum(CertificateStatus, "状态"), "year": {"type": "integer"},
        "masked_name": {"type": "string"}, "masked_id_number": {"type": "string"},
        "total_hours": {"type": "integer", "minimum": 0},
        "requirement": {"type": "array", "items": CERTIFICATE_LINE},
        "records": {"type": "array", "items": CERTIFICATE_RECORD},
        "issued_at": DATETIME, "revoke_reason": {"type": ["string", "null"]},
    }),
    "TokenInfo": obj({
        "base": ref("Base"),
        "token": obj({"name": {"type": "string"}, "prefix": {"type": "string"}, "created_at": DATETIME,
                      "expires_at": {**nullable(DATETIME),
                                     "description": "到期时间（UTC）；null 表示直到吊销一直有效"}}),
    }),
    "ManagedCourse": obj(MANAGED_COURSE_PROPERTIES),
    "ManagedCoursePage": obj({"items": {"type": "array", "items": ref("ManagedCourse")},
                              "next_cursor": {"type": ["string", "null"]}}),
    "CourseInput": obj(COURSE_INPUT, COURSE_REQUIRED),
    "CoursePatch": obj({**COURSE_INPUT, **COURSE_STATUS_CHANGE}, (), minProperties=1,
                       description="只需给出要修改的字段；status 改变课程状态，与其他字段一起给出时先保存字段"),
    "RosterEntry": obj({
        "enrollment_id": ID, "status": enum(EnrollmentStatus), "source": {"type": "string"},
        "name": {"type": "string"}, "phone_masked": {"type": "string"}, "id_number_masked": {"type": "string"},
        "employer": {"type": "string"}, "professional_title": {"type": "string"},
        "enrolled_at": DATETIME, "completed_at": nullable(DATETIME),
        "completed_on": {**nullable(DATE), "description": "结业日期（学员实际完成的日期）；未结业为 null"},
        "hours": {"type": ["integer", "null"], "description": "已记入的学时；未结业为 null"},
    }),
    "RosterPage": obj({
        "course_id": ID, "counts": ENROLLMENT_COUNTS,
        "items": {"type": "array", "items": ref("RosterEntry")},
        "next_cursor": {"type": ["string", "null"]},
    }),
    "CompletionBatch": obj({"completions": {"type": "array", "items": COMPLETION_ITEM, "minItems": 1,
                                            "maxItems": MAX_BATCH}}),
    "BatchResult": obj({
        "received": {"type": "integer", "minimum": 1},
        "recorded": {"type": "integer", "minimum": 0, "description": "本次新记录的结业"},
        "already_recorded": {"type": "integer", "minimum": 0,
                             "description": "此前已用同一外部编号记录、本次未重复记录的"},
        "added_to_roster": {"type": "integer", "minimum": 0, "description": "此前未报名、由本次结业加入名单的学员"},
    }),
    "Completion": obj({
        "external_id": {"type": "string"}, "course_id": ID, "enrollment_id": ID,
        "name": {"type": "string"}, "phone_masked": {"type": "string"}, "id_number_masked": {"type": "string"},
        "hours": {"type": "integer", "minimum": 1}, "category": enum(Category),
        "completed_on": {**nullable(DATE), "description": "结业日期（学员实际完成的日期）"},
        "year": {"type": "integer", "description": "学时计入的年度：结业日期所在的年度"},
        "recorded_at": DATETIME,
    }),
    "Compliance": obj({
        "year": {"type": "integer"}, "trainees": {"type": "integer", "minimum": 0},
        "projects": {"type": "integer", "minimum": 0},
        "target_trainees": {"type": ["integer", "null"]}, "target_projects": {"type": ["integer", "null"]},
        "projected_trainees": {"type": "integer", "minimum": 0},
        "projected_projects": {"type": "integer", "minimum": 0},
        "monthly_trainees": {"type": "array", "items": {"type": "integer"}, "description": "每月末累计培训人数"},
        "monthly_projects": {"type": "array", "items": {"type": "integer"}},
        "warnings": {"type": "array", "items": {"type": "string"}},
    }),
}


# An employer's staff, read with an employer's token: hours per category, what the region's rule asks, what
# is short. No phone: an HR system has its own.
_PER_CATEGORY = {category.value: {"type": "integer", "minimum": 0} for category in Category}
COMPONENTS.update({
    "StaffMember": obj({
        "learner_id": ID, "name": {"type": "string"}, "id_number_masked": {"type": "string"},
        "region": {"type": "string", "description": "职工所在地区（其学时要求按该地区当年的规定）"},
        "hours": obj({**_PER_CATEGORY, "total": {"type": "integer", "minimum": 0}},
                     description="本年度已记入的学时（按科目类别与合计）"),
        "required": obj({**{name: {"type": ["integer", "null"], "minimum": 0} for name in _PER_CATEGORY},
                         "total": {"type": "integer", "minimum": 0}},
                        description="所在地区当年的学时要求；null 表示该类别无单独要求"),
        "short": {"type": "integer", "minimum": 0, "description": "尚缺学时：达到全部要求还需的最少学时；0 表示已达标"},
    }),
    "StaffPage": obj({
        "employer": obj({"id": ID, "name": {"type": "string"}}),
        "year": {"type": "integer"},
        "items": {"type": "array", "items": ref("StaffMember")},
        "next_cursor": {"type": ["string", "null"]},
    }),
})
