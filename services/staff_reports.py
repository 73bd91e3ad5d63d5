"""An employer's staff report as a spreadsheet: each confirmed staff member's hours of the year against their
rule, what is short, shortest first. Personal data leaves the site with it (masked): the export is audited."""

from collections.abc import Sequence

from extensions import db
from models import Category, Employer, User
from services import audit, policies
from services.errors import NotAllowed
from services.infra import clock, spreadsheets
from services.queries import employer_pages

HEADER = ["序号", "姓名", "身份证号", "手机号", *(f"{c.label}学时" for c in Category), "合计学时",
          *(f"{c.label}要求" for c in Category), "要求合计", "尚缺学时"]


def export_xlsx(actor: User, only_short: bool = False) -> tuple[bytes, int]:
    """The staff page of the actor's employer (policies.staff_of) as an XLSX workbook, with the year it is of.
    ID numbers and phones masked. Audited, once per window however often repeated.

    :raise NotAllowed: the actor reviews for no employer.
    """
    employer_id = policies.employer_reviewed_by(actor)
    employer = db.session.get(Employer, employer_id) if employer_id is not None else None
    if employer is None:
        raise NotAllowed("您不属于任何用人单位")
    year = clock.today().year
    # First: the audit's own transaction begins with a rollback, which would expire the rows read before it.
    audit.record_repeatable(actor, "export.employer_staff", employer, subject=f"employer {employer.id} {year}",
                            details={"year": year, "only_short": only_short})
    page = employer_pages.staff_page(actor, year, only_short=only_short, page=None)
    rows: list[Sequence[object]] = [[f"{employer.name} {page.year} 年度职工继续教育学时"], HEADER]
    for number, line in enumerate(page.lines, start=1):
        learner = line.learner
        rows.append([
            number, learner.name, learner.id_number_masked, line.phone_masked,
            *(line.earned[c] for c in Category), line.total,
            *(line.required(c) for c in Category), line.required_total, line.short,
        ])
    # Names are what learners typed: the writer keeps them from running as formulas.
    return spreadsheets.xlsx("职工学时", rows), page.year
