"""Platform administrators' forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from blueprints.validators import InputForm


class CalendarForm(InputForm):
    schedule = FileField(_l("节假日安排（CSV）"),
                         description=_l("列：date,kind,name；kind 为 holiday（放假）或 workday（调休上班）"),
                         render_kw={"accept": ".csv,text/csv"})


class ConfirmCalendarForm(InputForm):
    """The previewed file travels back signed (``payload``); ``digest`` is the SHA-256 the preview showed."""

    payload = HiddenField(validators=[DataRequired(_l("预览已失效，请重新上传"))])
    digest = HiddenField(validators=[DataRequired(_l("预览已失效，请重新上传")), Length(64, 64)])
