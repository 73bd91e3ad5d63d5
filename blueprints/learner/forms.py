"""Learners' forms: rating a completed course, declaring hours, naming the employer."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from wtforms import DateField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from blueprints.validators import InputForm, bounded
from models import Category, DeclarationKind
from services.infra import evidence_files

# The service judges the amounts (domain messages per kind); the form only keeps absurd numbers out of it.
AMOUNT = (-1_000_000, 1_000_000)


class RatingForm(InputForm):
    rating = RadioField(
        _l("评分"), coerce=int, choices=[(n, str(n)) for n in range(5, 0, -1)],
        validators=[InputRequired(_l("请选择 1 到 5 分"))],
    )
    comment = TextAreaField(_l("评价（选填）"), validators=[Optional(), Length(max=1000)])


class DeclarationForm(InputForm):
    # The view offers what the learner's region accepts this year (services.rules.kinds_in_force); any other
    # value passes the form so that the service refuses it beside the field, saying why.
    kind = SelectField(_l("类型"), choices=DeclarationKind.choices(), validate_choice=False)
    category = SelectField(_l("科目类别"), choices=[(c.value, c.label) for c in Category], validate_choice=False)
    title = StringField(_l("名称"), validators=[DataRequired(_l("请填写名称")), Length(max=200)])
    organiser = StringField(_l("主办单位"), validators=[Optional(), Length(max=200)])
    earned_on = DateField(_l("日期"), validators=[InputRequired(_l("请选择日期"))])
    minutes = IntegerField(_l("时长（分钟）"), validators=[Optional(), bounded(*AMOUNT)],
                           description=_l("不足一天的按实际分钟数填写，每 45 分钟折算 1 学时"))
    days = IntegerField(_l("天数"), validators=[Optional(), bounded(*AMOUNT)],
                        description=_l("按天计算的，每天折算 8 学时"))
    hours = IntegerField(_l("申报学时"), validators=[Optional(), bounded(*AMOUNT)],
                         description=_l("竞赛、成果论文、学历教育、自学等直接填写申报学时"))
    files = MultipleFileField(_l("证明材料"),
                              description=_l("PDF、JPEG 或 PNG，每个不超过 10 MB，一次合计不超过 25 MB，可多选"),
                              render_kw={"accept": ",".join(evidence_files.TYPES.values())})

    def declaration_data(self) -> dict:
        return {name: self[name].data for name in
                ("kind", "category", "title", "organiser", "earned_on", "minutes", "days", "hours")}


class ClaimForm(InputForm):
    # The search result's button carries the employer's id; the service refuses one it would not offer.
    employer = IntegerField(validators=[InputRequired(_l("请在搜索结果中选择您的工作单位")), bounded(1, 2**31 - 1)])
