"""An employer's operations, with one of its tokens: its confirmed staff's hours of a year against their
rules, for its HR system. A base's token reads none of it (blueprints.api.spec)."""

from flask import g, jsonify

from blueprints.api import bp
from blueprints.api import representations as show
from blueprints.api.base import _decode, _encode, _page_query
from blueprints.api.spec import operation
from services import policies
from services.infra import clock
from services.queries import employer_pages

EMPLOYER = "用人单位"
# The years one may ask about: the site's whole history and a little ahead; the schema says so.
FIRST_YEAR, LAST_YEAR = 2000, 2100


@bp.get("/employer/staff")
@operation(summary="本单位职工的年度学时与达标情况", tag=EMPLOYER, employer_token=True, responses={200: "StaffPage"},
           query=_page_query(500, 100, {"year": {"type": "integer", "minimum": FIRST_YEAR, "maximum": LAST_YEAR,
                                                 "description": "年度，默认今年"}}),
           description="已确认在本单位工作的职工，按编号排列；学时要求按职工所在地区当年的规定。"
                       "身份证号为脱敏形式，不含手机号。")
def employer_staff(query):
    principal = g.api_principal
    year = query.get("year", clock.today().year)
    per_page = query.get("per_page", 100)
    lines = employer_pages.staff_lines(policies.staff_token_reaches(principal), year,
                                       after_id=_decode(query.get("cursor")), limit=per_page + 1)
    more = len(lines) > per_page
    lines = lines[:per_page]
    return jsonify(employer={"id": principal.employer.id, "name": principal.employer.name}, year=year,
                   items=[show.staff_member(line) for line in lines],
                   next_cursor=_encode(lines[-1].learner.id) if more else None)
