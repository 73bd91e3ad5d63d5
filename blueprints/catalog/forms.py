"""The catalog's search and filter form (GET, no CSRF: it changes nothing)."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, Optional, Regexp

from blueprints.query import parse_int
from blueprints.validators import InputForm
from models import FIELDS, Category, Mode
from services.queries.catalog_pages import SORTS, CourseFilters


class CatalogSearchForm(InputForm):
    class Meta:
        csrf = False

    q = StringField(_l("关键词"), validators=[Optional(), Length(max=100, message=_l("关键词不能超过 100 个字"))])
    region = SelectField(_l("地区"), coerce=str, validators=[Optional()], validate_choice=False)
    base = SelectField(_l("基地"), coerce=str, validators=[Optional()], validate_choice=False)
    category = SelectField(_l("科目类别"), choices=[("", _l("全部类别")), *Category.choices()], validators=[Optional()])
    field = SelectField(_l("领域"), choices=[("", _l("全部领域")), *[(f, f) for f in FIELDS]], validators=[Optional()])
    mode = SelectField(_l("培训方式"), choices=[("", _l("全部方式")), *Mode.choices()], validators=[Optional()])
    month = StringField(
        _l("月份"), validators=[Optional(), Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", message=_l("月份格式应为 2026-12"))]
    )
    open_to_city = BooleanField(_l("面向全市"))
    enrollable = BooleanField(_l("可报名（含候补）"))
    has_seats = BooleanField(_l("可报名且尚有名额"))
    include_past = BooleanField(_l("包括已结束的课程"))
    sort = SelectField(
        _l("排序"), choices=[(key, label) for key, (label, _order) in SORTS.items()], validators=[Optional()]
    )
    # Where the page starts (services.queries.catalog_pages cursors); a stale or mangled cursor shows the first page.
    cursor = StringField(validators=[Optional(), Length(max=300)])
    # A page to jump to by number (首页 / 末页 / the numbers); anything but a positive number is page 1.
    page = StringField(validators=[Optional()])

    def set_options(self, regions, bases) -> None:
        """``regions`` and ``bases``: (id, name) pairs (catalog_pages.filter_options)."""
        self.region.choices = [("", _l("全部地区"))] + [(str(id_), name) for id_, name in regions]
        self.base.choices = [("", _l("全部基地"))] + [(str(id_), name) for id_, name in bases]

    def _int_or_none(self, field) -> int | None:
        # An id the database can hold, in ASCII digits (blueprints.query); anything else filters nothing.
        return parse_int(field.data)

    def jump(self) -> int | None:
        return parse_int(self.page.data, 1)

    def filters(self) -> CourseFilters:
        """The valid part of the request as filters: a field that failed validation is left out."""
        def ok(field):
            return field.data if field.data and not field.errors else None

        return CourseFilters(
            q=(self.q.data or "").strip() if not self.q.errors else "",
            region_id=self._int_or_none(self.region),
            base_id=self._int_or_none(self.base),
            category=ok(self.category),
            field=ok(self.field),
            mode=ok(self.mode),
            month=ok(self.month),
            open_to_city=bool(self.open_to_city.data),
            enrollable=bool(self.enrollable.data),
            has_seats=bool(self.has_seats.data),
            include_past=bool(self.include_past.data),
            sort=ok(self.sort) or "start",
        )
