"""The public catalog: home, courses, bases, disclosure pages, images. No sign-in needed."""

from flask import Blueprint

from services import enrollment

bp = Blueprint("catalog", __name__)
# Every page that shows a course asks the enrollment service whether a learner can enroll now, the rule
# enrolling itself applies: the cards, the home page and the course page cannot disagree with it.
bp.add_app_template_global(enrollment.availability, "availability")

from blueprints.catalog import routes  # noqa: E402,F401
