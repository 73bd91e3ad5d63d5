"""Platform administrators' forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import AnyOf, DataRequired, Email, Length, Optional

from blueprints.validators import InputForm, mobile_phone
from models import RegionLevel
from services import identifiers
from services.auth import normalise_login


class CalendarForm(InputForm):
    schedule = FileField(_l("节假日安排（CSV）"),
                         description=_l("列：date,kind,name；kind 为 holiday（放假）或 workday（调休上班）"),
                         render_kw={"accept": ".csv,text/csv"})


class ConfirmCalendarForm(InputForm):
    """The previewed file travels back signed (``payload``); ``digest`` is the SHA-256 the preview showed."""

    payload = HiddenField(validators=[DataRequired(_l("预览已失效，请重新上传"))])
    digest = HiddenField(validators=[DataRequired(_l("预览已失效，请重新上传")), Length(64, 64)])


class RegionForm(InputForm):
    code = StringField(_l("行政区划代码"), description=_l("6 位，如 510000（省）、510100（市）"),
                       filters=[identifiers.compact],
                       validators=[DataRequired(_l("请填写 6 位行政区划代码")), Length(max=12)])
    name = StringField(_l("名称"), validators=[DataRequired(_l("请填写地区名称")), Length(max=64)])
    level = SelectField(_l("级别"), choices=RegionLevel.choices(), validate_choice=False)
    # The view offers the provinces; any number passes here (0: none), and the service judges it.
    parent = SelectField(_l("所属省（市级必选）"), coerce=int, validate_choice=False)

    def region_data(self) -> dict:
        return {"code": self.code.data, "name": self.name.data, "level": self.level.data,
                "parent_id": self.parent.data or None}


class RegulatorForm(InputForm):
    name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名")), Length(max=64)])
    email = EmailField(_l("邮箱（登录用）"), filters=[normalise_login],
                       validators=[DataRequired(_l("请填写邮箱")),
                                   Email(_l("邮箱格式不正确"), check_deliverability=False), Length(max=255)])
    phone = StringField(_l("手机号（选填）"), filters=[identifiers.phone],
                        validators=[Optional(), mobile_phone()])
    # The view offers every region; the service judges the number.
    region = SelectField(_l("监管地区"), coerce=int, validate_choice=False)
    password = PasswordField(_l("初始密码"), description=_l("至少 8 位；请线下转交，并提醒对方登录后修改"),
                             validators=[DataRequired(_l("请设置初始密码")), Length(8, 128, _l("密码至少 8 位"))])

    def regulator_data(self) -> dict:
        return {"name": self.name.data, "email": self.email.data, "phone": self.phone.data,
                "region_id": self.region.data, "password": self.password.data}


class RegulatorActiveForm(InputForm):
    active = HiddenField(validators=[AnyOf(["0", "1"], message=_l("请求无效"))])


class ResendForm(InputForm):
    """The 重新发送 buttons of the page of jobs: nothing but the CSRF token."""
