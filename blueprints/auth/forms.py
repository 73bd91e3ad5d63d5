"""Sign-in, learner and employer registration, password change and notification choice forms."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from blueprints.validators import InputForm, mobile_phone
from models import PROFESSIONAL_TITLES, SECTORS, Channel, NoticeKind
from services import identifiers
from services.accounts import PRIVACY_NOTICE_VERSION
from services.auth import normalise_login

TITLES = PROFESSIONAL_TITLES
# The first choice of a select that decides something (the region decides the hour rules): nothing is chosen
# for the registrant, who must pick one (issue 18).
CHOOSE = ("", _l("请选择…"))


def _region_id(value: object) -> int | None:
    """The chosen region's id; None for the empty "请选择…" choice, which DataRequired then refuses."""
    return None if value in ("", None) else int(value)  # type: ignore[call-overload]


class LoginForm(InputForm):
    # The login's one spelling (services.auth.normalise_login), as the rate limit and the lookup read it.
    login = StringField(_l("手机号或邮箱"), filters=[normalise_login],
                        validators=[DataRequired(_l("请填写手机号或邮箱")), Length(max=255)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请填写密码")), Length(max=128)])
    remember = BooleanField(_l("记住我"))


class RegisterForm(InputForm):
    name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名")), Length(max=64)])
    # Identifiers are checked in the spelling they are stored and compared in (services.identifiers): a phone
    # typed in full-width digits or in groups is the same phone, not a refusal or another account.
    phone = StringField(_l("手机号"), filters=[identifiers.phone],
                        validators=[DataRequired(_l("请填写手机号")), mobile_phone()])
    email = EmailField(
        _l("邮箱（选填）"), filters=[normalise_login],
        validators=[Optional(), Email(_l("邮箱格式不正确"), check_deliverability=False), Length(max=255)],
    )
    password = PasswordField(
        _l("密码"), validators=[DataRequired(_l("请设置密码")), Length(8, 128, _l("密码至少 8 位"))]
    )
    confirm = PasswordField(
        _l("确认密码"), validators=[DataRequired(_l("请再次输入密码")), EqualTo("password", _l("两次输入的密码不一致"))]
    )
    id_number = StringField(
        _l("身份证号"), description=_l("仅加密保存，页面上只显示部分号码"), filters=[identifiers.id_number],
        validators=[DataRequired(_l("请填写身份证号")), Length(max=40, message=_l("身份证号应为 18 位"))],
    )
    # The view offers accounts.cities(); any number passes here, so that a forged region meets the service's
    # refusal (services.accounts.register_learner) and its message beside this field.
    region = SelectField(_l("所在地区"), coerce=_region_id, validate_choice=False,
                         validators=[DataRequired(_l("请选择所在地区"))])
    employer_name = StringField(_l("工作单位"), validators=[DataRequired(_l("请填写工作单位")), Length(max=128)])
    sector = SelectField(_l("行业"), choices=[CHOOSE, *((s, s) for s in SECTORS)],
                         validators=[DataRequired(_l("请选择行业"))])
    professional_title = SelectField(_l("职称"), choices=[CHOOSE, *((t, t) for t in TITLES)],
                                     validators=[DataRequired(_l("请选择职称"))])
    # The template renders its label with the link to /privacy; the service records the version agreed to.
    consent = BooleanField(_l("我已阅读并同意《个人信息处理规则》，同意平台为学时登记处理我的身份证号"),
                           validators=[DataRequired(_l("请阅读并同意《个人信息处理规则》后再注册"))])

    def registration_data(self) -> dict:
        return {
            "name": self.name.data, "phone": self.phone.data, "email": self.email.data,
            "password": self.password.data, "id_number": self.id_number.data, "region_id": self.region.data,
            "employer_name": self.employer_name.data, "sector": self.sector.data,
            "professional_title": self.professional_title.data,
            "consent": PRIVACY_NOTICE_VERSION if self.consent.data else None,
        }


class CloseAccountForm(InputForm):
    password = PasswordField(_l("当前密码"), validators=[DataRequired(_l("请输入当前密码以确认注销")), Length(max=128)])
    understood = BooleanField(_l("我已了解注销后账号无法恢复，以上保留的记录仍将按规定保存"),
                              validators=[DataRequired(_l("请确认您已了解注销的后果"))])


class ChangePasswordForm(InputForm):
    current_password = PasswordField(
        _l("当前密码"), validators=[DataRequired(_l("请填写当前密码")), Length(max=128)]
    )
    new_password = PasswordField(
        _l("新密码"), validators=[DataRequired(_l("请设置新密码")), Length(8, 128, _l("密码至少 8 位"))]
    )
    confirm = PasswordField(
        _l("确认新密码"),
        validators=[DataRequired(_l("请再次输入新密码")), EqualTo("new_password", _l("两次输入的密码不一致"))],
    )


class OrganisationFields(InputForm):
    """An employer's registration details, as registration and a resubmission after a rejection ask them."""
    name = StringField(_l("单位名称"), validators=[DataRequired(_l("请填写单位名称")), Length(max=128)])
    # Any spelling passes here: services.credit_codes normalises it and names what is wrong beside the field.
    credit_code = StringField(_l("统一社会信用代码"), description=_l("18 位，含最后一位校验码"),
                              validators=[DataRequired(_l("请填写统一社会信用代码")), Length(max=40)])
    # The view offers accounts.cities(); the service refuses any other region beside this field.
    region = SelectField(_l("所在地区"), coerce=int, validate_choice=False)
    sector = SelectField(_l("行业"), choices=[(s, s) for s in SECTORS], validate_choice=False)
    contact_name = StringField(_l("联系人"), validators=[DataRequired(_l("请填写联系人")), Length(max=64)])
    contact_phone = StringField(_l("联系电话"), validators=[DataRequired(_l("请填写联系电话")), Length(max=20)])

    def organisation_data(self) -> dict:
        return {"name": self.name.data, "credit_code": self.credit_code.data, "region_id": self.region.data,
                "sector": self.sector.data, "contact_name": self.contact_name.data,
                "contact_phone": self.contact_phone.data}


class EmployerRegisterForm(OrganisationFields):
    admin_name = StringField(_l("管理员姓名"), validators=[DataRequired(_l("请填写管理员姓名")), Length(max=64)])
    login = StringField(_l("管理员登录名（手机号或邮箱）"), filters=[normalise_login],
                        validators=[DataRequired(_l("请填写手机号或邮箱")), Length(max=255)])
    password = PasswordField(
        _l("密码"), validators=[DataRequired(_l("请设置密码")), Length(8, 128, _l("密码至少 8 位"))]
    )
    confirm = PasswordField(
        _l("确认密码"), validators=[DataRequired(_l("请再次输入密码")), EqualTo("password", _l("两次输入的密码不一致"))]
    )

    def registration_data(self) -> dict:
        return {**self.organisation_data(), "admin_name": self.admin_name.data, "login": self.login.data,
                "password": self.password.data}


class ProfileForm(InputForm):
    """A learner's own name, title, sector and region (services.profiles judges them, beside each field)."""
    name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名")),
                                             Length(max=64, message=_l("姓名不能超过 64 个字"))])
    professional_title = SelectField(_l("职称"), choices=[CHOOSE, *((t, t) for t in TITLES)],
                                     validators=[DataRequired(_l("请选择职称"))])
    sector = SelectField(_l("行业"), choices=[CHOOSE, *((s, s) for s in SECTORS)],
                         validators=[DataRequired(_l("请选择行业"))])
    # The view offers accounts.cities(); a forged id meets services.profiles' refusal beside this field.
    region = SelectField(_l("所在地区"), coerce=_region_id, validate_choice=False,
                         validators=[DataRequired(_l("请选择所在地区"))])

    def profile_data(self) -> dict:
        return {"name": self.name.data, "professional_title": self.professional_title.data,
                "sector": self.sector.data, "region_id": self.region.data}


class ForgotForm(InputForm):
    """The phone (a code by text message) or e-mail (a link) of an account whose password was forgotten."""
    login = StringField(_l("手机号或邮箱"), filters=[normalise_login],
                        validators=[DataRequired(_l("请填写手机号或邮箱")), Length(max=255)])


class ClaimForm(InputForm):
    """The phone a base registered a walk-in trainee with: the code to claim the account goes there."""
    login = StringField(_l("登记时留的手机号"), filters=[identifiers.phone],
                        validators=[DataRequired(_l("请填写手机号")), mobile_phone()])


class NewPasswordFields(InputForm):
    password = PasswordField(
        _l("新密码"), validators=[DataRequired(_l("请设置新密码")), Length(8, 128, _l("密码至少 8 位"))]
    )
    confirm = PasswordField(
        _l("确认新密码"),
        validators=[DataRequired(_l("请再次输入新密码")), EqualTo("password", _l("两次输入的密码不一致"))],
    )


class CodeField(InputForm):
    # inputmode and autocomplete: a phone offers the digits pad and the code the message just brought.
    code = StringField(_l("验证码"), filters=[identifiers.compact],
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"},
                       validators=[DataRequired(_l("请填写验证码")), Length(max=12)])


class ResetByCodeForm(CodeField, NewPasswordFields):
    """The code sent by text message, and the new password."""


class ResetByLinkForm(NewPasswordFields):
    """The new password, the link's token being in its address."""


class ContactForm(InputForm):
    """A new phone or e-mail: the code goes to it."""
    contact = StringField(_l("新手机号或新邮箱"),
                          validators=[DataRequired(_l("请填写新的手机号或邮箱")), Length(max=255)])


class ContactCodeForm(CodeField):
    """The code sent to the new phone or e-mail."""

class NotificationChoicesForm(InputForm):
    """The (kind, channel) pairs a person wants, as ``kind:channel`` checkboxes; the view gives the choices
    (the kinds the person's role receives, services.messaging.kinds_for)."""

    enabled = SelectMultipleField(coerce=str)

    def offer(self, kinds: tuple[NoticeKind, ...], channels: tuple[Channel, ...]) -> None:
        self.enabled.choices = [(self.value(kind, channel), "") for kind in kinds for channel in channels]

    @staticmethod
    def value(kind: NoticeKind, channel: Channel) -> str:
        return f"{kind.value}:{channel.value}"

    def picked(self) -> list[tuple[NoticeKind, Channel]]:
        pairs = (value.split(":", 1) for value in self.enabled.data or ())
        return [(NoticeKind(kind), Channel(channel)) for kind, channel in pairs]
