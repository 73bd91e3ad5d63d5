"""Field validators shared by the forms, with their messages in Chinese."""

import re

from flask_babel import lazy_gettext as _l
from wtforms.validators import Regexp

# A mainland mobile number, or a landline with area code (028-61234567, 0535-6123456, extension allowed).
PHONE_PATTERN = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(-\d{1,6})?)$")


def contact_phone():
    return Regexp(PHONE_PATTERN, message=_l("请填写有效的手机号或带区号的固定电话，如 028-61234567"))


def mobile_phone():
    return Regexp(r"^1[3-9]\d{9}$", message=_l("请填写 11 位手机号"))
