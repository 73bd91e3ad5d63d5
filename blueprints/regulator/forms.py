"""Regulators' forms."""

from functools import cache

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from blueprints.query import parse_int
from blueprints.validators import InputForm, bounded, mobile_phone
from models import SECTORS, BaseStatus, BaseType, Category, Outcome, Role
from services import audit_labels, base_applications, identifiers
from services.audit import AuditFilter
from services.auth import normalise_login


class DesignateForm(InputForm):
    name = StringField(_l("基地名称"), validators=[DataRequired(_l("请填写基地名称")), Length(max=128)])
    # The view offers the types the regulator may designate (registry.designatable_types); any known type
    # passes here, so that a forged one meets the service's refusal and its message beside this field.
    type = SelectField(_l("基地类型"), choices=BaseType.choices(), validate_choice=False,
                       validators=[AnyOf([t.value for t in BaseType], message=_l("请选择列出的基地类型"))])
    # Any region id is accepted here: the service answers for the scope (outside it is a 404).
    region = SelectField(_l("所在地区"), coerce=int, validate_choice=False)
    admin_emails = TextAreaField(
        _l("管理员邮箱"), description=_l("每行一个；尚无账号的将新建基地管理员账号，初始密码只显示一次"),
        validators=[DataRequired(_l("请至少填写一位管理员的邮箱"))],
    )

    def validate_admin_emails(self, field):
        emails = self.emails()
        if not emails:
            raise ValidationError(_l("请至少填写一位管理员的邮箱"))
        for email in emails:
            try:
                validate_email(email, check_deliverability=False)
            except EmailNotValidError as error:
                raise ValidationError(_l("邮箱格式不正确：%(e)s", e=email)) from error

    def emails(self) -> list[str]:
        raw = (self.admin_emails.data or "").replace(",", "\n").replace("，", "\n").split()
        return list(dict.fromkeys(e.strip().lower() for e in raw if e.strip()))


class StatusChangeForm(InputForm):
    # The view narrows the choices to registry.status_choices(base); the service refuses the current status.
    status = SelectField(_l("新状态"), choices=BaseStatus.choices())
    reason = TextAreaField(_l("原因"), validators=[DataRequired(_l("请填写变更原因")), Length(max=2000)])
    # A base's exit takes it off the directory and the published list and its courses with it: a step asked
    # for on the server (not only a dialog in the browser, which a page without JavaScript never shows).
    confirmed = BooleanField(_l("我已确认：改为“已退出”后，基地及其课程从目录和清单中撤下"))

    def validate_confirmed(self, field):
        if self.status.data == BaseStatus.EXITED.value and not field.data:
            raise ValidationError(_l("改为“已退出”前，请勾选确认"))


class ConfirmEvaluationForm(InputForm):
    # Confirming fixes every base's outcome for the year, for good: a checkbox the server requires, so the
    # step is asked for with or without JavaScript.
    confirmed = BooleanField(_l("我已核对各基地的结论：确认后结论生效，不能再调整"),
                             validators=[DataRequired(_l("请先勾选确认，再确认评估结论"))])


class PlanDecisionForm(InputForm):
    decision = SelectField(choices=[("approve", _l("批准")), ("reject", _l("驳回"))])
    reason = StringField(_l("意见"), validators=[Length(max=1000)])


class TargetForm(InputForm):
    base_type = SelectField(_l("基地类型"), choices=BaseType.choices(), default=BaseType.CITY.value)
    # bounded, not NumberRange: the page shows the targets of form.year.data even when the form is invalid.
    year = IntegerField(_l("年度"), validators=[InputRequired(_l("请填写年度")), bounded(2000, 2100)])
    min_trainees = IntegerField(
        _l("培训人数目标"), validators=[InputRequired(_l("请填写人数")), NumberRange(0, 10_000_000, _l("不能为负数"))]
    )
    min_projects = IntegerField(
        _l("培训项目目标"), validators=[InputRequired(_l("请填写项目数")), NumberRange(0, 100_000, _l("不能为负数"))]
    )
    action = SelectField(choices=[("preview", _l("预览")), ("save", _l("保存"))], default="preview")
    # The region's own target the preview showed (both empty: it had none); the save refuses if it changed.
    seen_trainees = IntegerField(validators=[Optional(), bounded(0, 10_000_000)])
    seen_projects = IntegerField(validators=[Optional(), bounded(0, 100_000)])


class RunEvaluationForm(InputForm):
    year = IntegerField(_l("年度"), validators=[InputRequired(_l("请填写年度")), NumberRange(2000, 2100)])
    region = SelectField(_l("地区"), coerce=int)


class ExportJobForm(InputForm):
    """An official table of a province, made in the background (a province's is the large one)."""
    kind = SelectField(_l("报表"), choices=[
        ("catalog", _l("培训项目目录（附件1）")), ("knowledge", _l("知识更新工程实施情况统计表（附件3）")),
        ("strategic", _l("重大工程、重大战略专业技术人才培训统计表（附件4）"))])
    year = IntegerField(_l("年度"), validators=[InputRequired(_l("请填写年度")), NumberRange(2000, 2100)])
    region = SelectField(_l("地区"), coerce=int)


class OverrideForm(InputForm):
    outcome = SelectField(_l("结论"), choices=Outcome.choices())
    reason = StringField(_l("调整理由"), validators=[Length(max=1000)])


class RevokeForm(InputForm):
    code = StringField(_l("证书验证码"), validators=[DataRequired(_l("请填写验证码")), Length(max=32)])
    reason = TextAreaField(_l("撤销原因"), validators=[DataRequired(_l("请填写撤销原因")), Length(max=1000)])


class OfficerForm(InputForm):
    """A sector authority's officer account; the initial password is typed by the regulator and handed over."""

    name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名")), Length(max=64)])
    email = EmailField(_l("邮箱（登录用）"), filters=[normalise_login],
                       validators=[DataRequired(_l("请填写邮箱")),
                                   Email(_l("邮箱格式不正确"), check_deliverability=False), Length(max=255)])
    phone = StringField(_l("手机号（选填）"), filters=[identifiers.phone], validators=[Optional(), mobile_phone()])
    password = PasswordField(_l("初始密码"), description=_l("至少 8 位；请线下转交，并提醒对方登录后修改"),
                             validators=[DataRequired(_l("请设置初始密码")), Length(8, 128, _l("密码至少 8 位"))])

    def officer_data(self) -> dict:
        return {"name": self.name.data, "email": self.email.data, "phone": self.phone.data,
                "password": self.password.data}


class SectorAuthorityForm(InputForm):
    # The view offers the regions in reach and models.SECTORS; any value passes here, and the service judges.
    region = SelectField(_l("地区"), coerce=int, validate_choice=False)
    sector = SelectField(_l("行业"), choices=[(s, s) for s in SECTORS], validate_choice=False)
    name = StringField(_l("主管部门名称"), description=_l("如：成都市卫生健康委员会"),
                       validators=[DataRequired(_l("请填写主管部门名称")), Length(max=128)])
    officer_name = OfficerForm.name
    officer_email = OfficerForm.email
    officer_phone = OfficerForm.phone
    officer_password = OfficerForm.password

    def officer_data(self) -> dict:
        return {"name": self.officer_name.data, "email": self.officer_email.data, "phone": self.officer_phone.data,
                "password": self.officer_password.data}


def _step(value):
    """The sector step as the page sends it ("yes", "no"; "": not set here) or fills it (True, False, None)."""
    return value if value is None or isinstance(value, bool) else {"yes": True, "no": False}.get(value)


@cache
def rules_form_class():
    """The rules page's form: one field per editable value (services.rule_edits.EDITABLE). A value left empty
    is not set here (the province's applies). The form keeps numbers within sane bounds; the service judges
    them (a negative requirement, a cap above the requirement) and answers beside the field."""
    from services import rule_edits, rules

    class RulesForm(InputForm):
        year = IntegerField(_l("年度"), validators=[InputRequired(_l("请填写年度")), bounded(2000, 2100)])
        # The values whose default (默认值，待确认) the regulator confirms as it stands.
        confirm = SelectMultipleField(choices=[(key, key) for key in rule_edits.EDITABLE], validate_choice=False)
        action = SelectField(choices=[("preview", _l("预览")), ("save", _l("保存"))], default="preview")
        # The preview's digests (services.rule_edits.RulesPreview): the save refuses values other than the
        # previewed ones, or stored values changed since the preview.
        seen = StringField(validators=[Optional(), Length(max=64)])
        previewed = StringField(validators=[Optional(), Length(max=64)])

    for key in rule_edits.EDITABLE:
        label = rule_edits.LABELS[key]
        if key in rules.THEMES:
            field = TextAreaField(label, validators=[Optional(), Length(max=2000)])
        elif key == "missed_target_outcome":
            field = SelectField(label, choices=[("", _l("沿用上级（未设定为整改）"))]
                                + [(o.value, o.label) for o in rule_edits.MISSED_OUTCOMES])
        elif key == "sector_step":
            field = SelectField(label, coerce=_step,
                                choices=[("", _l("沿用上级")), ("yes", _l("是")), ("no", _l("否"))])
        elif key == "sector_recognised":
            # None chosen: not set here (the province's applies). The service refuses a sector not offered.
            field = SelectMultipleField(label, choices=[(name, name) for name in SECTORS], validate_choice=False)
        elif rules.KIND_KEYS.get(key, (None, None))[1] == "accepted":
            # A kind's acceptance as the page sends it and fills it ("yes", "no"; "": not set here).
            field = SelectField(label, coerce=lambda v: rules.Accepted(v) if v else None,
                                choices=[("", _l("沿用上级"))] + rules.Accepted.choices())
        elif rules.KIND_KEYS.get(key, (None, None))[1] == "categories":
            # None chosen: not set here (the province's applies).
            field = SelectMultipleField(label, coerce=Category, choices=[(c.value, c.label) for c in Category])
        else:
            field = IntegerField(label, validators=[Optional(), bounded(-100_000, 100_000)])
        setattr(RulesForm, key, field)
    return RulesForm


class ApplicationDecisionForm(InputForm):
    """A base application's checklist and decision: save the checklist, approve, or reject with a reason."""

    checklist = SelectMultipleField(_l("评审清单"), choices=list(base_applications.CHECKLIST), validate_choice=False)
    decision = SelectField(choices=[("save", _l("保存清单")), ("approve", _l("批准")), ("reject", _l("驳回"))])
    reason = TextAreaField(_l("意见（驳回时必填）"), validators=[Length(max=2000)])


class EmployerDecisionForm(InputForm):
    decision = SelectField(_l("审核结果"), choices=[("approve", _l("通过")), ("reject", _l("不予通过"))])
    # Required for a rejection: the service says so beside this field.
    reason = TextAreaField(_l("原因"), validators=[Length(max=500)])


class AuditFilterForm(InputForm):
    """The audit log's filters (GET, no CSRF: it changes nothing). A field that fails validation filters nothing."""

    class Meta:
        csrf = False

    since = DateField(_l("起始日期"), validators=[Optional()])
    until = DateField(_l("截止日期"), validators=[Optional()])
    actor = StringField(_l("操作人"), validators=[Optional(), Length(max=64)])
    role = SelectField(_l("角色"), choices=[("", _l("全部角色")), *Role.choices()], validators=[Optional()])
    base = SelectField(_l("基地"), coerce=str, validators=[Optional()], validate_choice=False)
    kind = SelectField(_l("类别"), choices=[("", _l("全部类别")), *audit_labels.KINDS.items()], validators=[Optional()])
    # A prefix of the action ("auth."), kept for the links that filter by it.
    action = StringField(validators=[Optional(), Length(max=64)])

    def set_bases(self, bases) -> None:
        self.base.choices = [("", _l("全部基地"))] + [(str(base_id), name) for base_id, name in bases]

    def filters(self) -> AuditFilter:
        """The valid part of the request as filters."""
        def ok(field):
            return field.data if field.data and not field.errors else None

        return AuditFilter(since=ok(self.since), until=ok(self.until), actor=(ok(self.actor) or "").strip(),
                           role=ok(self.role) or "", base_id=parse_int(self.base.data, 1), kind=ok(self.kind) or "",
                           action=ok(self.action) or "")

    def query(self) -> dict:
        """The filters as query-string arguments, for the next page's link and the export."""
        return {name: field.raw_data[0] for name, field in self._fields.items() if field.raw_data and field.raw_data[0]}
