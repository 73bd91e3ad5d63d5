"""Learners' forms: rating a completed course."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional


class RatingForm(FlaskForm):
    rating = RadioField(
        _l("评分"), coerce=int, choices=[(n, str(n)) for n in range(5, 0, -1)],
        validators=[InputRequired(_l("请选择 1 到 5 分"))],
    )
    comment = TextAreaField(_l("评价（选填）"), validators=[Optional(), Length(max=1000)])
