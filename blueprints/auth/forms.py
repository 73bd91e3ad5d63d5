"""The sign-in form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    login = StringField(_l("手机号或邮箱"), validators=[DataRequired(_l("请填写手机号或邮箱")), Length(max=255)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请填写密码")), Length(max=128)])
    remember = BooleanField(_l("记住我"))
