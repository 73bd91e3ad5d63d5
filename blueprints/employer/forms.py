"""Employer admins' forms: a reviewer account, a refusal's reason (the registration's own fields are the
sign-up's, blueprints.auth.forms.OrganisationFields)."""

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, PasswordField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, EqualTo, Length

from blueprints.validators import InputForm
from services.auth import normalise_login


class ReviewerForm(InputForm):
    name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名")), Length(max=64)])
    login = StringField(_l("登录名（手机号或邮箱）"), filters=[normalise_login],
                        validators=[DataRequired(_l("请填写手机号或邮箱")), Length(max=255)])
    password = PasswordField(_l("初始密码"),
                             validators=[DataRequired(_l("请设置密码")), Length(8, 128, _l("密码至少 8 位"))])
    confirm = PasswordField(_l("确认密码"), validators=[DataRequired(_l("请再次输入密码")),
                                                       EqualTo("password", _l("两次输入的密码不一致"))])

    def reviewer_data(self) -> dict:
        return {"name": self.name.data, "login": self.login.data, "password": self.password.data}


class RefuseForm(InputForm):
    reason = TextAreaField(_l("不予确认的原因"), validators=[DataRequired(_l("请填写不予确认的原因")), Length(max=500)])


class ActiveForm(InputForm):
    """Disable ("0") or enable ("1") a reviewer account: the button's own value."""
    active = HiddenField(validators=[AnyOf(["0", "1"])])
