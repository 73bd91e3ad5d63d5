"""The public catalog: home, courses, bases, disclosure pages, images. No sign-in needed."""

from flask import Blueprint

bp = Blueprint("catalog", __name__)

from blueprints.catalog import routes  # noqa: E402,F401
