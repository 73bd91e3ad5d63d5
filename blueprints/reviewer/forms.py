"""The review form."""

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from blueprints.validators import InputForm


class ReviewForm(InputForm):
    decision = SelectField(_l("审核结果"), choices=[("approve", _l("通过")), ("reject", _l("驳回"))])
    hours = IntegerField(_l("认定学时"), validators=[Optional(), NumberRange(1, 1000, _l("学时应为正整数"))],
                         description=_l("可核减，核减时须填写理由"))
    reason = TextAreaField(_l("理由"), validators=[Optional(), Length(max=1000)])


class BatchReviewForm(InputForm):
    """Approve the ticked declarations (checkboxes named ``ids``, read by blueprints.query.form_ids) with one
    reason; which ids may be approved is the service's to judge."""

    reason = TextAreaField(_l("审核意见"), validators=[Optional(), Length(max=1000)],
                           description=_l("填写后记入每一项申报的审核意见"))
