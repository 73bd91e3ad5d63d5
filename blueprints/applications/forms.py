"""Applicants' forms: input only; services.base_applications judges every value."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from wtforms import EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import EqualTo, Length

from blueprints.validators import InputForm
from models import BaseType
from services.infra import evidence_files


class ApplyForm(InputForm):
    # The view offers base_applications.region_choices(); any number passes here, so that a forged region meets
    # the service's refusal beside this field. The same for the type.
    region_id = SelectField(_l("申报地区"), coerce=int, validate_choice=False)
    base_type = SelectField(_l("申报基地类型"), choices=BaseType.choices(), validate_choice=False,
                            description=_l("市级继续教育基地由所在市人社局评审；省级基地由省人社厅评审"))
    name = StringField(_l("申报单位名称"), validators=[Length(max=200)])
    credit_code = StringField(_l("统一社会信用代码"), validators=[Length(max=40)])
    address = StringField(_l("地址"), validators=[Length(max=300)])
    scope = TextAreaField(_l("培训范围"), validators=[Length(max=6000)],
                          description=_l("面向的行业、专业和培训内容，收费项目及标准"))
    teachers = TextAreaField(_l("师资"), validators=[Length(max=6000)],
                             description=_l("专兼职教师人数、职称结构和主要课程"))
    facilities = TextAreaField(_l("场地设施"), validators=[Length(max=6000)],
                               description=_l("教室、实训场地、网络学习平台等"))
    management_rules = TextAreaField(_l("管理制度"), validators=[Length(max=6000)],
                                     description=_l("教学管理、学员组织、经费保障、后勤服务、考核评估、跟踪问效等制度"))
    contact_name = StringField(_l("联系人"), validators=[Length(max=80)])
    contact_phone = StringField(_l("联系人手机号"), validators=[Length(max=40)],
                                description=_l("批准后作为基地管理员账号的登录手机号，不对外公开"))
    contact_email = EmailField(_l("联系人邮箱"), validators=[Length(max=300)],
                               description=_l("批准后作为基地管理员账号的登录邮箱"))
    password = PasswordField(_l("基地管理员密码"), validators=[Length(max=128)],
                             description=_l("至少 8 位；批准后用邮箱或手机号和此密码登录"))
    confirm = PasswordField(_l("确认密码"), validators=[EqualTo("password", _l("两次输入的密码不一致"))])
    files = MultipleFileField(_l("申报材料"),
                              description=_l("法人证书或营业执照、申报书等；PDF、JPEG 或 PNG，"
                                             "每个不超过 10 MB，最多 10 个"),
                              render_kw={"accept": ",".join(evidence_files.TYPES.values())})

    def application_data(self) -> dict:
        return {name: self[name].data for name in (
            "region_id", "base_type", "name", "credit_code", "address", "scope", "teachers", "facilities",
            "management_rules", "contact_name", "contact_phone", "contact_email", "password")}


class WithdrawForm(InputForm):
    note = TextAreaField(_l("撤回说明（选填）"), validators=[Length(max=1000)])
