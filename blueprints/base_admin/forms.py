"""Forms of the base admin's area: course, disclosure, cancellation, roster import, API tokens, the year's
statistics."""

import re

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    URL,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
)

from blueprints.validators import InputForm, contact_phone, finite_number
from models import FIELDS, STRATEGIC_FIELD_NAMES, Category, Mode, ProjectType
from services import course_rules

# What the pickers offer (a hint: the services judge the content): services.infra.images takes JPEG, PNG and WebP;
# services.roster an XLSX or a CSV.
IMAGE_ACCEPT = {"accept": "image/jpeg,image/png,image/webp"}
ROSTER_ACCEPT = {"accept": ".xlsx,.csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,text/csv"}


def _required(label):
    return DataRequired(message=_l("请填写%(label)s", label=label))


def _must(name: str, kind=DataRequired):
    """The input ``name`` must be there (the browser is told: required), with the domain's word for one left
    empty. DataRequired for text (blank is empty); InputRequired for a typed field, where an empty input is
    missing rather than a value of the wrong type."""
    return kind(message=course_rules.MISSING[name])


def _longest(name: str) -> dict:
    return {"maxlength": course_rules.MAX_LENGTH[name]}


def _within(bounds: course_rules.Range) -> dict:
    return {"min": bounds.low, "max": bounds.high}


class CourseForm(InputForm):
    """A course as a base admin types it. The form reads each input into its type and says which must be
    there; what the values may be is services.course_rules', whose refusals the views show beside the fields
    (blueprints.common_forms.field_error). The limits below are only the browser's hints, taken from it."""

    title = StringField(_l("课程名称"), validators=[_must("title")], render_kw=_longest("title"))
    description = TextAreaField(_l("课程简介"), render_kw=_longest("description"))
    category = SelectField(_l("科目类别"), choices=Category.choices(), validators=[_must("category", InputRequired)])
    field = SelectField(_l("领域"), choices=[(f, f) for f in FIELDS], validators=[_must("field", InputRequired)])
    project_type = SelectField(_l("项目类型"), choices=ProjectType.choices(), default=ProjectType.JOB_TRAINING.value,
                               description=_l("用于知识更新工程统计表"))
    hours = IntegerField(_l("学时"), validators=[_must("hours", InputRequired)], render_kw=_within(course_rules.HOURS))
    start_date = DateField(_l("开始日期"), validators=[_must("start_date", InputRequired)])
    end_date = DateField(_l("结束日期"), validators=[_must("end_date", InputRequired)])
    mode = SelectField(_l("培训方式"), choices=Mode.choices(), validators=[_must("mode", InputRequired)],
                       description=_l("面授、线上直播：报名至开课前一天；线上自学：开课后仍可报名，至报名截止日期"))
    enroll_until = DateField(
        _l("报名截止日期"), validators=[Optional()],
        description=_l("仅线上自学课程：须在课程起止日期之内，留空则报名至结束日期"),
    )
    # Required unless the course is taught wholly online: the domain decides.
    place = StringField(_l("培训地点"), render_kw=_longest("place"))
    audience = StringField(_l("培训对象"), validators=[_must("audience")], render_kw=_longest("audience"))
    capacity = IntegerField(_l("名额"), description=_l("留空表示不限名额"), validators=[Optional()],
                            render_kw=_within(course_rules.CAPACITY))
    fee = DecimalField(_l("费用（元）"), places=2, default=0, validators=[_must("fee", InputRequired), finite_number()],
                       render_kw=_within(course_rules.FEE))
    fee_standard = StringField(_l("收费标准"), render_kw=_longest("fee_standard"))
    contact_person = StringField(_l("联系人"), validators=[_must("contact_person")],
                                 render_kw=_longest("contact_person"))
    contact_phone = StringField(_l("联系电话"), validators=[_must("contact_phone")])
    open_to_city = BooleanField(_l("面向全市"), default=True)
    cover = FileField(_l("封面图片"), description=_l("JPEG、PNG 或 WebP，不超过 5 MB"), render_kw=IMAGE_ACCEPT)

    def course_data(self) -> dict:
        """The fields as services.course_rules takes them: the select fields' values as their enums. Also read
        from a form its validators refused (blueprints.common_forms.judged_too): a value not offered is None,
        the field's own error saying why."""
        data = {name: self[name].data for name in course_rules.EDITABLE_FIELDS}
        for name, (kind, _label) in course_rules.CHOICES.items():
            try:
                data[name] = kind(data[name]) if data[name] else None
            except ValueError:
                data[name] = None
        return data


WEB_ADDRESS = _l("请填写以 http:// 或 https:// 开头的网址")


def web_address(form, field) -> None:
    """An http(s) address with a host, its fault said once (a scheme check and URL() each said it, twice)."""
    if not re.match(r"^https?://", field.data or "", flags=re.IGNORECASE):
        raise StopValidation(WEB_ADDRESS)
    URL(message=WEB_ADDRESS)(form, field)


class DisclosureForm(InputForm):
    scope = TextAreaField(_l("培训范围"), validators=[Optional(), Length(max=5000)])
    content = TextAreaField(_l("培训内容"), validators=[Optional(), Length(max=5000)])
    fee_items = TextAreaField(_l("收费项目及标准"), validators=[Optional(), Length(max=5000)])
    training_plan = TextAreaField(_l("年度培训计划"), validators=[Optional(), Length(max=5000)])
    staff = TextAreaField(_l("师资队伍"), validators=[Optional(), Length(max=5000)])
    rules = TextAreaField(_l("管理制度"), validators=[Optional(), Length(max=5000)])
    contact_person = StringField(_l("联系人"), validators=[Optional(), Length(max=64)])
    contact_phone = StringField(_l("联系电话"), validators=[Optional(), contact_phone()])
    address = StringField(_l("地址"), validators=[Optional(), Length(max=255)])
    website = StringField(
        _l("网上学习平台网址"),
        validators=[
            Optional(),
            web_address,
            Length(max=255),
        ],
    )
    logo = FileField(_l("基地标志"), description=_l("JPEG、PNG 或 WebP，不超过 5 MB"), render_kw=IMAGE_ACCEPT)


class CancelForm(InputForm):
    reason = StringField(_l("取消原因"), validators=[_required("取消原因"), Length(max=255)])


class StatusForm(InputForm):
    """Publish / unpublish / close: only the CSRF token and the target state."""

    status = SelectField(choices=[("published", ""), ("draft", ""), ("closed", "")])


class RosterImportForm(InputForm):
    roster = FileField(
        _l("名单文件"),
        description=_l("XLSX 或 CSV；表头：姓名、手机号和/或身份证号、学时（可不填，默认全部学时）、结业日期（如 "
                       "2026-12-20；已结束的面授或直播课程可不填，默认结束日期；线上自学或尚未结束的课程必填）"),
        render_kw=ROSTER_ACCEPT,
    )


class WalkInForm(InputForm):
    """The desk's registration of a trainee (services.walk_ins judges the ID number and the phone)."""

    name = StringField(_l("姓名"), validators=[_required(_l("姓名")), Length(max=64)])
    id_number = StringField(_l("身份证号"), validators=[_required(_l("身份证号")), Length(max=40)])
    phone = StringField(_l("手机号"), validators=[_required(_l("手机号")), Length(max=40)],
                        description=_l("认领账号的验证码将发送到这个手机号"))


class CompletionForm(InputForm):
    """The roster page's "mark completed": the ticked enrollment ids come as a list of checkboxes, and the day
    they completed (services.completions judges it: within the course's dates, not after today)."""

    completed_on = DateField(_l("结业日期"), validators=[Optional()],
                             description=_l("学员实际完成学习的日期，学时计入这一天所在的年度"))


class AttendanceForm(InputForm):
    """Attendance for one day: the present enrollment ids come as a list of checkboxes."""


class ClassPlanForm(InputForm):
    start_date = DateField(_l("开班日期"), validators=[InputRequired(_l("请选择开班日期"))])
    end_date = DateField(_l("结束日期"), validators=[InputRequired(_l("请选择结束日期"))])
    place = StringField(_l("培训地点"), validators=[_required("培训地点"), Length(max=255)])
    teachers = TextAreaField(_l("授课教师"), validators=[_required("授课教师"), Length(max=2000)])
    syllabus = TextAreaField(_l("课程安排"), validators=[_required("课程安排"), Length(max=10000)])
    expected_trainees = IntegerField(
        _l("预计培训人数"),
        validators=[InputRequired(_l("请填写预计人数")), NumberRange(1, 100_000, _l("人数应在 1 到 100000 之间"))],
    )

    def plan_data(self) -> dict:
        return {name: self[name].data for name in
                ("start_date", "end_date", "place", "teachers", "syllabus", "expected_trainees")}


class ApiTokenForm(InputForm):
    """A new API token: only its name; the secret is made by the service."""

    name = StringField(
        _l("令牌名称"),
        description=_l("用于区分令牌，如“教务系统对接”"),
        validators=[_required("令牌名称"), Length(max=64, message=_l("令牌名称不能超过 64 个字"))],
    )
    # Choices are the platform's (config API_TOKEN_LIFETIME_DAYS), set by the view; 0 means until revoked.
    lifetime = SelectField(_l("有效期"), coerce=int, validate_choice=True,
                           description=_l("到期后令牌自动失效；对接系统应在到期前换用新令牌"))

    def offer_lifetimes(self, days) -> None:
        self.lifetime.choices = [(d, _l("长期有效（直到吊销）") if d == 0 else
                                  _l("1 年") if d == 365 else _l("%(n)s 天", n=d)) for d in days]
        if self.lifetime.data is None:
            self.lifetime.data = days[0]


class AnnualReportForm(InputForm):
    """What a base reports for a year beside what the site counts (notice 004, attachments 3 and 4). Amounts and
    counts are text here: services.annual_reports parses them and answers a bad one beside its field. The four
    counts of each strategic field are added below, named as the service names them (strategic_<row>_<count>)."""

    year = HiddenField()
    department = StringField(_l("具体推进实施部门、机构"), validators=[Length(max=128)],
                             description=_l("留空则填写基地名称"))
    knowledge_funding = StringField(_l("专项经费（万元）"), validators=[Length(max=20)])
    knowledge_note = StringField(_l("备注（附件3）"), validators=[Length(max=255)])
    strategic_funding = StringField(_l("投入经费（万元）"), validators=[Length(max=20)])
    strategic_note = StringField(_l("备注（附件4）"), validators=[Length(max=255)])


STRATEGIC_COUNT_LABELS = {
    "trained": _l("今年培训总数"), "trained_non_public": _l("今年其中非公有制经济领域培训人数"),
    "planned": _l("明年计划总数"), "planned_non_public": _l("明年计划其中非公有制经济领域培训人数"),
}
for _row in range(len(STRATEGIC_FIELD_NAMES)):
    for _count, _label in STRATEGIC_COUNT_LABELS.items():
        setattr(AnnualReportForm, f"strategic_{_row}_{_count}", StringField(_label, validators=[Length(max=12)]))
