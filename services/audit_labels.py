"""The audit log in the regulator's words: every recorded action's Chinese label and kind, the details' field
labels, and their values as text (dates in Chinese, booleans 是/否, enums by label, None as —), never a repr.

tests/test_audit_pages.py checks that every action recorded under services/ and blueprints/ has a label here:
a new action cannot be recorded without one."""

import re
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any

from models import Role
from models.course import Category, CourseStatus, Mode, ProjectType
from models.declaration import CalendarDayKind, CertificateStatus, DeclarationKind, DeclarationStatus
from models.enrollment import EnrollmentStatus
from models.messaging import Channel
from models.organisation import ApplicationStatus, EmployerStatus, EmploymentStatus
from models.regulation import EvaluationStatus, Outcome, PlanStatus
from models.training_base import BaseStatus, BaseType

# The kinds a regulator filters by, in the order of the menu.
KINDS = {
    "course": "课程", "enrollment": "报名", "hours": "学时", "review": "审核", "evaluation": "评估",
    "base": "基地", "employer": "用人单位", "account": "账号", "export": "导出", "platform": "平台与规则",
}

# action → (label, kind)
ACTIONS: dict[str, tuple[str, str]] = {
    # 账号
    "auth.sign_in": ("登录", "account"),
    "auth.sign_in_failed": ("登录失败", "account"),
    "auth.denied": ("被拒绝访问", "account"),
    "auth.register": ("注册账号", "account"),
    "auth.register_refused": ("注册被拒绝", "account"),
    "auth.password_changed": ("修改密码", "account"),
    "auth.reset_requested": ("申请找回密码", "account"),
    "auth.reset_code_refused": ("找回密码验证码被拒绝", "account"),
    "auth.reset_link_refused": ("找回密码链接被拒绝", "account"),
    "auth.password_reset": ("重设密码", "account"),
    "auth.account_claimed": ("激活账号", "account"),
    "account.profile": ("修改个人资料", "account"),
    "account.contact_code_sent": ("发送联系方式验证码", "account"),
    "account.contact_code_refused": ("联系方式验证码被拒绝", "account"),
    "account.contact_changed": ("更改联系方式", "account"),
    "account.contact_refused": ("更改联系方式被拒绝", "account"),
    "account.closed": ("注销账号", "account"),
    "identity.reveal": ("查看完整身份证号", "account"),
    "identity.respelt": ("更正身份证号写法", "account"),
    "api_token.create": ("创建接口令牌", "account"),
    "api_token.revoke": ("吊销接口令牌", "account"),
    "regulator.create": ("创建监管账号", "account"),
    "regulator.enable": ("启用监管账号", "account"),
    "regulator.disable": ("停用监管账号", "account"),
    # 课程
    "course.create": ("创建课程", "course"),
    "course.update": ("修改课程", "course"),
    "course.draft": ("课程改回草稿", "course"),
    "course.published": ("发布课程", "course"),
    "course.closed": ("结束课程报名", "course"),
    "course.cancelled": ("取消课程", "course"),
    "class_plan.file": ("报送办班计划", "course"),
    # 报名
    "course.desk_enroll": ("现场报名", "enrollment"),
    "walk_in.register": ("现场注册学员", "enrollment"),
    "walk_in.link": ("关联现场学员账号", "enrollment"),
    "walk_in.reinvite": ("重新邀请现场学员", "enrollment"),
    # 学时
    "course.attendance": ("登记考勤", "hours"),
    "course.complete": ("登记结业", "hours"),
    "course.import": ("导入结业名单", "hours"),
    "api.completions": ("接口上报结业", "hours"),
    "api.completions_refused": ("接口上报结业被拒绝", "hours"),
    "declaration.file": ("提交学时申报", "hours"),
    "declaration.edit": ("修改学时申报", "hours"),
    "certificate.issue": ("出具学时证明", "hours"),
    "certificate.revoke": ("撤销学时证明", "hours"),
    # 审核
    "declaration.approved": ("通过学时申报", "review"),
    "declaration.rejected": ("驳回学时申报", "review"),
    "declaration.employer_approved": ("单位审核通过学时申报", "review"),
    "declaration.sector_approved": ("行业主管部门通过学时申报", "review"),
    "declaration.sector_rejected": ("行业主管部门驳回学时申报", "review"),
    "class_plan.approve": ("批准办班计划", "review"),
    "class_plan.reject": ("退回办班计划", "review"),
    "application.checklist": ("核对基地申报材料", "review"),
    "application.approve": ("批准基地申报", "review"),
    "application.reject": ("驳回基地申报", "review"),
    "employer.approve": ("批准用人单位注册", "review"),
    "employer.reject": ("驳回用人单位注册", "review"),
    # 评估
    "evaluation.run": ("运行年度评估", "evaluation"),
    "evaluation.override": ("调整评估结果", "evaluation"),
    "evaluation.confirm": ("确认评估结论", "evaluation"),
    "target.set": ("设定年度目标", "evaluation"),
    "report.set": ("填报基地统计", "evaluation"),
    # 基地
    "base.designate": ("认定基地", "base"),
    "base.status": ("变更基地状态", "base"),
    "base.disclosure": ("公开基地信息", "base"),
    "application.submit": ("提交基地申报", "base"),
    "application.withdraw": ("撤回基地申报", "base"),
    # 用人单位
    "employer.register": ("用人单位注册", "employer"),
    "employer.resubmit": ("用人单位重新提交注册", "employer"),
    "employer.reviewer_add": ("添加单位审核人员", "employer"),
    "employer.reviewer_enable": ("启用单位审核人员", "employer"),
    "employer.reviewer_disable": ("停用单位审核人员", "employer"),
    "employment.claim": ("申请确认职工身份", "employer"),
    "employment.confirm": ("确认职工身份", "employer"),
    "employment.refuse": ("拒绝确认职工身份", "employer"),
    "employment.withdraw": ("撤回职工身份", "employer"),
    # 导出
    "export.catalog": ("导出基地目录", "export"),
    "export.knowledge_update": ("导出知识更新工程统计表", "export"),
    "export.strategic": ("导出重点领域培训统计表", "export"),
    "export.evaluation": ("导出评估结果", "export"),
    "export.employer_staff": ("导出单位职工名单", "export"),
    "export.audit": ("导出审计日志", "export"),
    "course.export_roster": ("导出课程名单", "export"),
    "learner.export_own_data": ("学员下载本人数据", "export"),
    # 平台与规则
    "rules.set": ("修改地区规则", "platform"),
    "calendar.load": ("导入节假日安排", "platform"),
    "region.create": ("创建地区", "platform"),
    "sector_authority.create": ("设立行业主管部门", "platform"),
    "sector_authority.add_officer": ("添加行业主管部门人员", "platform"),
    "sector_guide.create": ("发布行业培训指南", "platform"),
    "sector_guide.update": ("修改行业培训指南", "platform"),
    "outbox.resend": ("重新发送消息", "platform"),
    "outbox.resend_all": ("重新发送全部失败消息", "platform"),
}

# What an entry is about (audit_log.object_type), in words.
OBJECT_TYPES = {
    "training_base": "基地", "course": "课程", "declaration": "学时申报", "user": "人员", "evaluation": "年度评估",
    "evaluation_result": "评估结果", "employer": "用人单位", "employment": "职工身份",
    "sector_authority": "行业主管部门", "sector_guide": "行业培训指南",
    "base_application": "基地申报", "class_plan": "办班计划", "certificate": "学时证明",
    "enrollment": "报名", "api_token": "接口令牌", "region": "地区", "rule_set": "地区规则", "target": "年度目标",
    "annual_report": "基地统计", "calendar_day": "节假日", "outbound_message": "消息",
    "strategic_training": "重点领域培训",
}

FIELDS = {
    "title": "名称", "name": "名称", "description": "简介", "category": "类别", "field": "领域", "hours": "学时",
    "start_date": "开始日期", "end_date": "结束日期", "mode": "培训方式", "place": "培训地点", "audience": "培训对象",
    "capacity": "人数上限", "fee": "费用", "fee_standard": "收费标准", "contact_person": "联系人",
    "contact_phone": "联系电话", "open_to_city": "向全市开放", "project_type": "项目类型", "enroll_until": "报名截止",
    "status": "状态", "reason": "理由", "result": "结果", "login": "登录名", "channel": "渠道", "year": "年度",
    "region": "地区", "region_id": "地区", "base": "基地", "bases": "基地", "course_id": "课程", "courses": "课程",
    "learner_id": "学员", "employer_id": "用人单位", "officer_id": "主管部门人员", "application_id": "基地申报",
    "count": "数量", "ids": "编号", "added": "新增", "added_to_roster": "补入名单", "already_recorded": "已登记过",
    "recorded": "登记", "received": "收到", "rows": "行数", "changed": "变更", "changes": "变更", "old": "原值",
    "new": "新值", "credited": "计入学时", "final": "最终", "code": "编号", "email": "电子邮箱", "phone": "手机号",
    "id_number": "身份证号", "filename": "文件名", "files": "文件", "sha256": "文件校验值", "kind": "类型",
    "level": "级别", "type": "类型", "via": "途径", "route": "访问地址", "target": "对象", "taken": "已用",
    "present": "出勤", "confirmed": "已确认", "consent": "同意", "context": "情形", "stage": "环节", "met": "已满足",
    "outcomes": "结论", "proposed": "拟定", "replaced": "替换", "preview": "预览", "previous_reason": "原理由",
    "projects": "项目", "trainees": "培训人数", "sector": "行业", "prefix": "令牌前缀",
    "credit_code": "统一社会信用代码",
    "admins": "管理员", "parent_id": "上级地区", "day": "日期", "deadlines_by_region": "各地区截止日期",
    "deadlines_moved": "顺延的截止日期", "ended_employment_id": "结束的职工身份", "only_short": "仅短期",
    "api_token": "接口令牌", "organiser": "主办单位", "earned_on": "取得日期", "minutes": "分钟数", "days": "天数",
    "hours_claimed": "申报学时", "note": "说明", "address": "地址", "scope": "培训范围", "content": "培训内容",
    "fee_items": "收费项目及标准", "training_plan": "年度培训计划", "staff": "师资队伍", "rules": "管理制度",
    "teachers": "师资", "facilities": "场地设施", "management_rules": "管理制度", "contact_name": "联系人",
    "since": "起始日期", "until": "截止日期", "actor": "操作人", "base_id": "基地",
    "expires_at": "有效期至", "format": "格式", "decision": "决定", "error": "错误", "accepted": "接受",
    "refused": "拒绝", "total": "合计", "professional_title": "职称", "department": "部门", "website": "网站",
    "user_id": "用户", "enrollment_id": "报名", "token_id": "接口令牌", "rating": "评分", "plan_status": "办班计划状态",
    "base_type": "基地类型", "role": "角色", "active": "启用", "subject": "事由",
}

# A field's enum, where its value is an enum's: by the entry's object type first, then by the field alone.
ENUMS: dict[tuple[str, str], type[Enum]] = {
    ("course", "status"): CourseStatus, ("declaration", "status"): DeclarationStatus,
    ("training_base", "status"): BaseStatus, ("employer", "status"): EmployerStatus,
    ("employment", "status"): EmploymentStatus, ("base_application", "status"): ApplicationStatus,
    ("class_plan", "status"): PlanStatus, ("evaluation", "status"): EvaluationStatus,
    ("certificate", "status"): CertificateStatus, ("enrollment", "status"): EnrollmentStatus,
    ("declaration", "category"): DeclarationKind, ("course", "category"): Category,
    ("", "mode"): Mode, ("", "project_type"): ProjectType, ("", "channel"): Channel, ("", "base_type"): BaseType,
    ("", "role"): Role, ("", "outcome"): Outcome, ("", "outcomes"): Outcome, ("calendar_day", "kind"): CalendarDayKind,
}

# Keys whose value is an object's id, read by its name (services.queries.audit_pages.names_of): key → object type.
REFERENCES = {
    "course_id": "course", "learner_id": "user", "user_id": "user", "officer_id": "user", "employer_id": "employer",
    "region_id": "region", "parent_id": "region", "application_id": "base_application", "evaluation_id": "evaluation",
}

# Keys whose list is a list (of ids, names…), never an [old, new] pair of a change.
LIST_KEYS = {"ids", "bases", "courses", "files", "admins", "projects", "outcomes", "deadlines_moved", "rows"}

NONE = "—"
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_ISO_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})")


def action_label(action: str) -> str:
    return ACTIONS[action][0] if action in ACTIONS else action


def kind_of(action: str) -> str:
    """The kind's label of an action ("" for one not in the catalogue)."""
    return KINDS[ACTIONS[action][1]] if action in ACTIONS else ""


def actions_of_kind(kind: str) -> list[str]:
    return sorted(action for action, (_, of) in ACTIONS.items() if of == kind)


def field_label(key: str) -> str:
    """A details key in words: FIELDS, else a region's rule as the rules page names it, else the key."""
    from services.rule_edits import LABELS  # imported here: rule_edits writes the log (services.audit)

    return FIELDS.get(key) or LABELS.get(key, key)


def object_type_label(object_type: str) -> str:
    return OBJECT_TYPES.get(object_type, object_type)


def value_text(value: Any, enum: type[Enum] | None = None) -> str:
    """One value as the regulator reads it."""
    if value is None or value == "":
        return NONE
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Enum):
        return getattr(value, "label", str(value.value))
    if isinstance(value, list | tuple):
        return "、".join(value_text(item, enum) for item in value) or NONE
    if isinstance(value, dict):
        return "；".join(f"{field_label(str(k))}：{value_text(v, enum)}" for k, v in value.items()) or NONE
    return _text_of(str(value), enum)


def _text_of(text: str, enum: type[Enum] | None) -> str:
    """A stored text value: an enum's by its label, an ISO date or time in Chinese, anything else as it is."""
    if enum is not None:
        try:
            return getattr(enum(text), "label", text)
        except ValueError:
            return text
    if found := _ISO_DATE.match(text):
        year, month, day = (int(part) for part in found.groups())
        return f"{year}年{month}月{day}日"
    if found := _ISO_DATETIME.match(text):
        year, month, day, hour, minute = (int(part) for part in found.groups())
        return f"{year}年{month}月{day}日 {hour:02d}:{minute:02d}"
    return text


def is_reference(key: str, value: Any) -> bool:
    """Is this detail an object's id, to read by its name?"""
    return key in REFERENCES and isinstance(value, int) and not isinstance(value, bool)


def details_lines(object_type: str, details: dict,
                  name_of: Callable[[str, int], str | None] | None = None) -> list[tuple[str, str]]:
    """(field label, value text) for each key of an entry's details; a change [old, new] reads "old → new"; an
    object's id (REFERENCES) by the name ``name_of(type, id)`` gives, when it gives one."""
    lines = []
    for key, value in (details or {}).items():
        enum = ENUMS.get((object_type, key)) or ENUMS.get(("", key))
        named = name_of(REFERENCES[key], value) if name_of and is_reference(key, value) else None
        if named:
            text = named
        elif isinstance(value, list) and len(value) == 2 and key not in LIST_KEYS:
            text = f"{value_text(value[0], enum)} → {value_text(value[1], enum)}"
        elif isinstance(value, dict):  # the changes of a resubmission, of a region's rules
            text = "；".join(f"{label}：{inner}" for label, inner in details_lines(object_type, value, name_of)) or NONE
        else:
            text = value_text(value, enum)
        lines.append((field_label(key), text))
    return lines


def kinds_menu() -> Iterable[tuple[str, str]]:
    return KINDS.items()
