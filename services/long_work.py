"""The regulator's long work, asked for on a page and run as a job (services.background): a province's
evaluation and the official tables of a region as files."""

from typing import Any

from extensions import db
from models import Evaluation, JobRecord, Region, RegionLevel, User
from services import background, evaluation, exports
from services.errors import NotAllowed

EVALUATE = "evaluation.run"
EXPORT = "export.table"


def evaluate(regulator: User, year: int, region_id: int | None) -> Evaluation | JobRecord:
    """Evaluate the region for the year: a city's at once, a province's as a job to follow.

    A city's evaluation covers its own city-level bases (a few dozen at most) and takes well under a second:
    the regulator sees it at once, as before. A province's counts every base of every city below it, which
    may take longer than a request should wait (a worker's timeout, a proxy's), so it runs in the queue.

    :raise NotAllowed: the region is outside the regulator's reach.
    :raise DomainError: the year has not begun (field ``year``).
    """
    region_id = evaluation.check_run(regulator, year, region_id)
    region = db.session.get(Region, region_id)
    if region is None:
        raise NotAllowed("该地区不在您的管辖范围内")
    if region.level != RegionLevel.PROVINCE:
        return evaluation.run(regulator, year, region_id)
    return background.request_job(regulator, EVALUATE, {
        "year": year, "region_id": region_id, "title": f"{year}年度基地评估（{region.full_name}）"})


@background.work(EVALUATE)
def _evaluate(regulator: User, params: dict[str, Any]) -> dict[str, Any]:
    # Checked again as the job runs: the regulator may have been moved to another region since.
    done = evaluation.run(regulator, int(params["year"]), int(params["region_id"]))
    return {"evaluation_id": done.id}


def export(regulator: User, kind: str, year: int, region_id: int | None) -> JobRecord:
    """Ask for an official table (exports.TABLES) of the region as a file made in the background.

    :raise LookupError: a region outside the regulator's reach, or no such table.
    """
    _build, title = exports.TABLES[kind]
    region = exports.region_of(regulator, region_id)
    return background.request_job(regulator, EXPORT, {
        "kind": kind, "year": year, "region_id": region.id, "title": f"{year}年度{title}（{region.full_name}）"})


@background.work(EXPORT)
def _export(regulator: User, params: dict[str, Any]) -> dict[str, Any]:
    # The table audits its export as it is built, in the requester's name, as the direct download does.
    data, name = exports.table(regulator, str(params["kind"]), int(params["year"]), int(params["region_id"]))
    return {"file": background.write_file(data, ".xlsx"), "name": name}
