"""The catalog page's costly pieces, its course cards and its filter form, rendered once for what they show.

Each piece is kept (blueprints.pagecache.fragments) under everything it is rendered from: the templates'
text, the locale, the script root, and the values it shows, so a course edited, a seat taken or a window
closed makes a new entry at once and an entry is never out of date. Nothing on these pieces depends on who
is looking: the navbar and the rest of the page stay rendered per request.
"""

import hashlib
from collections.abc import Sequence
from functools import cache

from flask import current_app, request
from flask_babel import get_locale
from markupsafe import Markup

from blueprints.pagecache import fragment_key, fragments
from services.enrollment import availability

CARD = "catalog/_course_card.html"
FILTERS = "catalog/_filters.html"
MACROS = "_macros.html"  # category_badge on the card, field_errors on the form


@cache
def _version(*names: str) -> str:
    """The templates' text, hashed: an edited template (a deployment) never serves an old piece from Redis."""
    env = current_app.jinja_env
    digest = hashlib.sha256()
    for name in names:
        digest.update(env.loader.get_source(env, name)[0].encode())  # type: ignore[union-attr]
    return digest.hexdigest()[:16]


def _shown(course) -> tuple:
    """Everything _course_card.html shows of ``course``: a new value is a new card."""
    window = availability(course)
    return (course.id, course.title, course.category.value, course.field, course.mode.value,
            course.cover.key if course.cover else None, course.base.name, course.base.region.name, course.hours,
            course.start_date, course.end_date, course.fee, course.capacity, course.seats_left,
            window.state.value, window.deadline)


def course_cards(courses: Sequence, level: int) -> list[Markup]:
    """``course_card(course, level=level)`` of each course, from the store where it is there."""
    card = current_app.jinja_env.get_template(CARD).module.course_card  # type: ignore[attr-defined]
    context = (_version(CARD, MACROS), str(get_locale()), request.script_root, level)
    keys = [fragment_key("card", (context, _shown(course))) for course in courses]
    return fragments(keys, lambda n: card(courses[n], level=level))


def _cacheable(form) -> bool:
    """Only forms of the page's own links and choices are kept: a typed keyword, or a value no option has,
    would let anyone fill the store with forms nobody asks for again."""
    if form.errors or form.q.data:
        return False
    return all(not field.data or field.data in {value for value, _label in field.choices}
               for field in (form.region, form.base, form.category, form.field, form.mode, form.sort))


def filter_form(form) -> Markup:
    """The filter form (_filters.html) as ``form`` holds it: from the store for the usual choices."""
    render = current_app.jinja_env.get_template(FILTERS).module.catalog_filters  # type: ignore[attr-defined]
    if not _cacheable(form):
        return Markup(render(form))
    shown = [(field.name, field.data, field.raw_data) for field in form if field.name not in ("cursor", "page")]
    options = [[(value, str(label)) for value, label in field.choices] for field in (form.region, form.base)]
    key = fragment_key("filters", (_version(FILTERS, MACROS), str(get_locale()), request.script_root, shown,
                                   options))
    return fragments([key], lambda _n: render(form))[0]
