"""The sector officer's forms: the review of a declaration, and the year's study guide."""

import re

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from blueprints.validators import InputForm


class SectorReviewForm(InputForm):
    decision = SelectField(_l("审核结果"), choices=[("approve", _l("通过")), ("reject", _l("驳回"))])
    hours = IntegerField(_l("认定学时"), validators=[Optional(), NumberRange(1, 1000, _l("学时应为正整数"))],
                         description=_l("可核减，核减时须填写理由"))
    reason = TextAreaField(_l("理由"), validators=[Optional(), Length(max=1000)])


class GuideForm(InputForm):
    title = StringField(_l("标题"), validators=[InputRequired(_l("请填写指南标题")), Length(max=200)])
    body = TextAreaField(_l("正文"), validators=[Optional(), Length(max=20_000)])
    course_ids = StringField(_l("按编号添加推荐课程"), validators=[Optional(), Length(max=2000)],
                             description=_l("课程页面地址末尾的数字，多个以逗号或空格分隔"))

    def validate_course_ids(self, field) -> None:
        if field.data and not re.fullmatch(r"[\d\s,，、]*", field.data):
            raise ValidationError(_l("请填写课程编号（数字），以逗号分隔"))
        if any(len(part) > 9 for part in re.split(r"[\s,，、]+", field.data or "")):
            raise ValidationError(_l("没有这样的课程编号"))

    def ids(self) -> list[int]:
        """The course ids typed in, in order."""
        return [int(part) for part in re.split(r"[\s,，、]+", self.course_ids.data or "") if part][:100]

